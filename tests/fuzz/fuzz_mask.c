/*
 * fuzz_mask.c - libFuzzer harness for the masking engine. Properties:
 *  - mask never fails on any input (only blocks, which the defaults lack);
 *  - masked output contains no span any rule would mask again (idempotent);
 *  - unmask(mask(x)) == x when x holds no placeholder-shaped text already,
 *    no masked span is glued to a letter or digit (then its placeholder
 *    is no token: the value is still masked, fail safe, but not restored)
 *    and no escape or base64 field (a value masked in its encoded spelling
 *    is restored decoded);
 *  - unmasking in arbitrary chunks with mask_holdback equals one pass;
 *  - under the same conditions, a later request (a new session of the
 *    same tenant) masks the restored text, and the text restored as tool
 *    input (credentials stay placeholders), back to exactly the masked
 *    text: recall finds every known value without its context.
 * Each input uses a fresh tenant of one temporary database. Placeholders
 * follow the grammar of rules_placeholder.c (credentials carry a tag, '_'
 * is a boundary).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "cfg.h"
#include "decode.h"
#include "log.h"
#include "mask.h"
#include "rules.h"
#include "store.h"

static struct rules *rules;
static struct store *store;
static struct arena arena;
static unsigned long inputs;
static char dbdir[] = "/tmp/mg_fuzz_mask_XXXXXX";
static char dbpath[300];

/* what glues a value to its neighbour: a placeholder needs a boundary ('_' is one) */
static int
is_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* mask in a new session of tenant; aborts on error */
static void
mask_again(const char *tenant, const char *text, size_t len, struct buf *out)
{
	struct mask_session *m = mask_session_new(&arena, rules, store, tenant);

	if (m == NULL || mask_text(m, text, len, out) != MG_OK)
		abort();
}

static void
cleanup(void)
{
	static const char *const sfx[] = { "", "-wal", "-shm" };
	char p[320];
	size_t i;

	store_close(store);
	store = NULL;
	for (i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s%s", dbpath, sfx[i]);
		unlink(p);
	}
}

static void
cleanup_all(void)
{
	cleanup();
	rmdir(dbdir);
}

static void
setup(void)
{
	char err[512];
	struct cfg c;

	if (rules == NULL) {
		log_set_level(LOG_ERROR);
		/* every pack, so that every rule and family is fuzzed */
		if (rules_load_packs("aws,secrets,gcp,azure,pii", NULL, &rules, err, sizeof(err)) != MG_OK ||
		    mkdtemp(dbdir) == NULL) {
			fprintf(stderr, "fuzz_mask: %s\n", err);
			abort();
		}
		snprintf(dbpath, sizeof(dbpath), "%s/fuzz.db", dbdir);
		arena_init(&arena);
		atexit(cleanup_all);
	}
	if (store != NULL && inputs % 5000 == 0)
		cleanup();	/* keep the database small in long runs */
	if (store == NULL) {
		memset(&c, 0, sizeof(c));
		c.db_path = dbpath;
		memset(c.data_key, 3, sizeof(c.data_key));
		c.have_data_key = 1;
		c.map_ttl = 86400;
		c.busy_timeout_ms = 5000;
		if (store_open(&c, &store, err, sizeof(err)) != MG_OK) {
			fprintf(stderr, "fuzz_mask: %s\n", err);
			abort();
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	char tenant[32];
	struct mask_session *m;
	struct buf masked, back, chunked, pend;
	struct rules_match *spans;
	size_t n, i, pos;
	int glued = 0;
	enum mg_err rc;

	setup();
	inputs++;
	snprintf(tenant, sizeof(tenant), "fz%lu", inputs);
	m = mask_session_new(&arena, rules, store, tenant);
	if (m == NULL)
		abort();
	buf_init(&masked, &arena);
	rc = mask_text(m, in, size, &masked);
	if (rc != MG_OK)
		abort();
	/* nothing left that a rule would mask */
	if (rules_scan(rules, &arena, masked.data ? masked.data : "", masked.len, &spans, &n) != MG_OK)
		abort();
	for (i = 0; i < n; i++)
		if (spans[i].action == RULES_MASK)
			abort();
	/* round trip, unless the input already carried placeholder-like text */
	buf_init(&back, &arena);
	if (mask_unmask(m, masked.data ? masked.data : "", masked.len, 0, &back) != MG_OK)
		abort();
	if (rules_scan(rules, &arena, in, size, &spans, &n) != MG_OK)
		abort();
	for (i = 0; i < n; i++)
		if (spans[i].action == RULES_MASK &&
		    ((spans[i].start > 0 && is_alnum(in[spans[i].start - 1])) ||
		    (spans[i].end < size && is_alnum(in[spans[i].end]))))
			glued = 1;
	{
		struct decode_view v;
		struct decode_field f;
		size_t at = 0;
		if (decode_view_deep(&arena, in, size, 1, &v) != 0 ||
		    decode_next_b64_field(in, size, &at, &f))
			glued = 1;
	}
	if (!glued && memmem(in, size, "AWS_", 4) == NULL &&
	    (back.len != size || (size > 0 && memcmp(back.data, in, size) != 0)))
		abort();
	/* streaming: chunks of a size derived from the input, with holdback */
	buf_init(&chunked, &arena);
	buf_init(&pend, &arena);
	for (pos = 0; pos < masked.len;) {
		size_t step = 1 + (size > 0 ? data[pos % size] % 13 : 3), h;
		if (step > masked.len - pos)
			step = masked.len - pos;
		buf_append(&pend, masked.data + pos, step);
		pos += step;
		h = pos < masked.len ? mask_holdback(m, pend.data, pend.len) : 0;
		if (mask_unmask(m, pend.data, pend.len - h, 0, &chunked) != MG_OK)
			abort();
		buf_consume(&pend, pend.len - h);
	}
	if (chunked.len != back.len || (back.len > 0 && memcmp(chunked.data, back.data, back.len) != 0))
		abort();
	if (!glued && memmem(in, size, "AWS_", 4) == NULL) {
		struct buf again, tool;
		buf_init(&again, &arena);
		mask_again(tenant, back.data ? back.data : "", back.len, &again);
		if (again.len != masked.len || (masked.len > 0 &&
		    memcmp(again.data, masked.data, masked.len) != 0))
			abort();
		buf_init(&tool, &arena);
		m = mask_session_new(&arena, rules, store, tenant);
		if (m == NULL || mask_unmask(m, masked.data ? masked.data : "", masked.len,
		    MASK_UNMASK_TOOL_INPUT, &tool) != MG_OK)
			abort();
		buf_init(&again, &arena);
		mask_again(tenant, tool.data ? tool.data : "", tool.len, &again);
		if (again.len != masked.len || (masked.len > 0 &&
		    memcmp(again.data, masked.data, masked.len) != 0))
			abort();
	}
	arena_reset(&arena);
	return 0;
}
