/*
 * arena.c - bump allocator with chunk list, and arena-backed buffers.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

#define ARENA_CHUNK_MIN (64 * 1024)
#define ARENA_KEEP (4 * 1024 * 1024)	/* bytes of chunks a reset keeps */
#define ARENA_IDLE_RESETS 64	/* a kept chunk no request used in this many resets is freed */
#define ARENA_ALIGN 16

struct arena_chunk {
	struct arena_chunk *next;
	size_t size;	/* usable bytes in mem[] */
	size_t used;
	size_t last;	/* offset of the most recent allocation */
	unsigned idle;	/* resets in a row this chunk sat unused on the spare list */
	_Alignas(16) unsigned char mem[];
};

static size_t
align_up(size_t n)
{
	return (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
}

void
arena_init(struct arena *a)
{
	memset(a, 0, sizeof(*a));
}

size_t
arena_reset(struct arena *a)
{
	struct arena_chunk *c, *next, **p;
	size_t freed = 0;

	/*
	 * Chunks the requests have stopped using are let go: after one
	 * outsized request the worker comes back to what its usual ones need.
	 */
	for (p = &a->spare; *p != NULL;) {
		c = *p;
		if (++c->idle < ARENA_IDLE_RESETS) {
			p = &c->next;
			continue;
		}
		*p = c->next;
		a->spare_bytes -= c->size;
		freed += c->size;
		free(c);
	}
	/* the chunks go to the spare list while they fit the budget */
	for (c = a->head; c != NULL; c = next) {
		next = c->next;
		if (a->spare_bytes + c->size > ARENA_KEEP) {
			freed += c->size;
			free(c);
			continue;
		}
		c->used = 0;
		c->last = 0;
		c->idle = 0;
		c->next = a->spare;
		a->spare = c;
		a->spare_bytes += c->size;
	}
	a->head = NULL;
	a->total = 0;
	return freed;
}

static void
free_list(struct arena_chunk *c)
{
	struct arena_chunk *next;

	for (; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
}

void
arena_free(struct arena *a)
{
	free_list(a->head);
	free_list(a->spare);
	a->head = NULL;
	a->spare = NULL;
	a->spare_bytes = 0;
	a->total = 0;
}

/* A kept chunk of at least need bytes, taken off the spare list, or NULL. */
static struct arena_chunk *
take_spare(struct arena *a, size_t need)
{
	struct arena_chunk **p, *c;

	for (p = &a->spare; *p != NULL; p = &(*p)->next) {
		if ((*p)->size < need)
			continue;
		c = *p;
		*p = c->next;
		a->spare_bytes -= c->size;
		return c;
	}
	return NULL;
}

/* size bytes from the arena; zero: cleared (buffers that track their length need not be) */
static void *
take(struct arena *a, size_t size, int zero)
{
	struct arena_chunk *c = a->head;
	size_t need = align_up(size ? size : 1), csize;

	if (need < size)
		return NULL;
	if (a->limit != 0 && (a->total + need > a->limit || a->total + need < a->total))
		return NULL;
	if (c == NULL || c->size - c->used < need) {
		/* chunks grow with the request, so a big one takes a few, not hundreds */
		csize = need > ARENA_CHUNK_MIN ? need : ARENA_CHUNK_MIN;
		if (a->total / 2 > csize && a->total / 2 <= ARENA_KEEP / 4)
			csize = a->total / 2;
		c = take_spare(a, need);
		if (c == NULL) {
			if (csize > SIZE_MAX - sizeof(*c))
				return NULL;
			c = malloc(sizeof(*c) + csize);
			if (c == NULL)
				return NULL;
			c->size = csize;
			c->idle = 0;
		}
		c->used = 0;
		c->next = a->head;
		a->head = c;
	}
	c->last = c->used;
	c->used += need;
	a->total += need;
	if (zero)
		memset(c->mem + c->last, 0, need);
	return c->mem + c->last;
}

void *
arena_alloc(struct arena *a, size_t size)
{
	return take(a, size, 1);
}

/*
 * Grows the allocation at p from oldsize to newsize. Extends in place when p
 * is the most recent allocation of the current chunk; otherwise copies.
 * The bytes past oldsize are not cleared either way.
 */
static void *
arena_grow(struct arena *a, void *p, size_t oldsize, size_t newsize)
{
	struct arena_chunk *c = a->head;
	void *n;

	if (p != NULL && c != NULL && (unsigned char *)p == c->mem + c->last) {
		size_t need = align_up(newsize);
		if (need >= newsize && c->size - c->last >= need &&
		    (a->limit == 0 || a->total - (c->used - c->last) + need <= a->limit)) {
			a->total = a->total - (c->used - c->last) + need;
			c->used = c->last + need;
			return p;
		}
	}
	n = take(a, newsize, 0);
	if (n != NULL && p != NULL && oldsize > 0)
		memcpy(n, p, oldsize);
	return n;
}

char *
arena_strndup(struct arena *a, const char *s, size_t len)
{
	char *p;

	if (len == SIZE_MAX)
		return NULL;
	p = arena_alloc(a, len + 1);
	if (p == NULL)
		return NULL;
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *
arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

char *
arena_printf(struct arena *a, const char *fmt, ...)
{
	struct buf b;
	va_list ap;
	int n;

	buf_init(&b, a);
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || buf_reserve(&b, (size_t)n + 1) != MG_OK)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(b.data, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return b.data;
}

void
buf_init(struct buf *b, struct arena *a)
{
	b->arena = a;
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

enum mg_err
buf_reserve(struct buf *b, size_t extra)
{
	size_t want, ncap;
	char *n;

	if (b->len + extra + 1 < b->len)
		return MG_ENOMEM;
	want = b->len + extra + 1;
	if (want <= b->cap)
		return MG_OK;
	ncap = b->cap ? b->cap : 256;
	while (ncap < want) {
		if (ncap > SIZE_MAX / 2)
			return MG_ENOMEM;
		ncap *= 2;
	}
	n = arena_grow(b->arena, b->data, b->cap, ncap);
	if (n == NULL)
		return MG_ENOMEM;
	b->data = n;
	b->cap = ncap;
	b->data[b->len] = '\0';
	return MG_OK;
}

enum mg_err
buf_append(struct buf *b, const void *data, size_t len)
{
	if (buf_reserve(b, len) != MG_OK)
		return MG_ENOMEM;
	if (len > 0)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return MG_OK;
}

enum mg_err
buf_appends(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

enum mg_err
buf_appendc(struct buf *b, char c)
{
	return buf_append(b, &c, 1);
}

enum mg_err
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || buf_reserve(b, (size_t)n) != MG_OK)
		return MG_ENOMEM;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return MG_OK;
}

enum mg_err
buf_append_json_escaped(struct buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, start = 0;
	char esc[7];

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *rep = NULL;
		size_t replen = 2;

		switch (c) {
		case '"': rep = "\\\""; break;
		case '\\': rep = "\\\\"; break;
		case '\n': rep = "\\n"; break;
		case '\r': rep = "\\r"; break;
		case '\t': rep = "\\t"; break;
		case '\b': rep = "\\b"; break;
		case '\f': rep = "\\f"; break;
		default:
			if (c < 0x20) {
				esc[0] = '\\'; esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
				esc[4] = hex[c >> 4]; esc[5] = hex[c & 15]; esc[6] = '\0';
				rep = esc;
				replen = 6;
			}
		}
		if (rep == NULL)
			continue;
		if (buf_append(b, s + start, i - start) != MG_OK ||
		    buf_append(b, rep, replen) != MG_OK)
			return MG_ENOMEM;
		start = i + 1;
	}
	return buf_append(b, s + start, len - start);
}

void
buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		buf_clear(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

void
buf_clear(struct buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}
