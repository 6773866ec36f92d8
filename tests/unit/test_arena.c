/*
 * test_arena.c - request memory is reused across requests: after a reset
 * the next request's allocations come from the chunks the last one used
 * (up to the keep budget), not from new memory; chunks no request uses
 * any more are freed.
 */
#include <stdint.h>
#include <string.h>

#include "th.h"
#include "arena.h"

/* Is p inside one of the n blocks [lo[i], hi[i])? */
static int
inside(const void *p, unsigned char **lo, unsigned char **hi, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((const unsigned char *)p >= lo[i] && (const unsigned char *)p < hi[i])
			return 1;
	return 0;
}

int
main(void)
{
	unsigned char *lo[256], *hi[256];
	struct arena a;
	size_t i, n = 0, reused = 0, total = 0, dirty = 0;

	arena_init(&a);
	/* one request: 1.5 MB in pieces of 10 KB */
	for (i = 0; i < 150; i++) {
		unsigned char *p = arena_alloc(&a, 10000);
		if (p == NULL)
			break;
		memset(p, 0xab, 10000);
		lo[n] = p;
		hi[n++] = p + 10000;
		total += 10000;
	}
	TH_OK(n == 150, "1.5 MB allocated");
	arena_reset(&a);
	TH_OK(a.total == 0 && a.head == NULL && a.spare != NULL && a.spare_bytes >= total / 2,
	    "reset keeps the chunks (%zu bytes kept for %zu used)", a.spare_bytes, total);
	/* the next request of the same size */
	for (i = 0; i < 150; i++) {
		unsigned char *p = arena_alloc(&a, 10000);
		if (p == NULL)
			break;
		reused += inside(p, lo, hi, n);
		dirty += p[0] != 0 || p[9999] != 0;
	}
	TH_OK(dirty == 0, "reused memory comes zeroed");
	TH_OK(reused >= 140, "the next request reuses the memory (%zu of 150 pieces)", reused);
	/* then only small requests: the chunks they leave unused are let go */
	for (i = 0; i < 200; i++) {
		arena_reset(&a);
		if (arena_alloc(&a, 1000) == NULL)
			break;
	}
	arena_reset(&a);
	TH_OK(i == 200 && a.spare != NULL && a.spare_bytes <= 256 * 1024,
	    "after 200 small requests the outsized one's chunks are freed (%zu bytes kept)",
	    a.spare_bytes);
	arena_free(&a);
	TH_OK(a.spare == NULL && a.spare_bytes == 0, "arena_free frees the kept chunks too");
	return th_done();
}
