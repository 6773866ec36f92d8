/*
 * fuzz_sse.c - libFuzzer harness for the SSE rewriter.
 *
 * Input: the first 8 bytes choose network chunk sizes (cycled), the rest is
 * the upstream stream. Properties:
 *  1. chunking never changes anything: the chunked run gives the same
 *     return code and the same output bytes as one single feed;
 *  2. for a stream that ends cleanly, the restored text is exactly the
 *     unmasker applied to the upstream text: per content block, between
 *     flush points (kind change, content_block_start/stop, message_delta,
 *     message_stop, error), the output deltas concatenated equal
 *     unmask(input deltas concatenated).
 * The unmasker is a small table over tokens AWS_<A-Z>+_<0-9>+[_<TAG>], the
 * same as in tests/unit/test_sse.c; the tagged credential AWS_SK_3_K7Q2 is
 * not restored in tool input (its restore policy), so the rewriter must
 * pass the tool-input flag for input_json_delta and only there.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "arena.h"
#include "sse.h"

static const struct {
	const char *placeholder;
	const char *original;
} table[] = {
	{ "AWS_X_1", "one" },
	{ "AWS_X_10", "ten" },
	{ "AWS_Q_2", "q\"uo\\te\n" },
	{ "AWS_EC_7", "i-0abc7" },
	{ "AWS_E_0", "" },
	{ "AWS_SK_3_K7Q2", "wJalr/sec\"ret" },
};

#include "../unit/sse_tokens.h"

static enum mg_err
t_unmask(void *ctx, const char *in, size_t len, int flags, struct buf *out)
{
	int json_escape = (flags & SSE_UNMASK_JSON) != 0;
	/* in[0..ctx) was released before: context only, not written again */
	size_t ctxlen = SSE_UNMASK_CTX_LEN(flags);
	size_t i = ctxlen, k, n;

	(void)ctx;
	while (i < len) {
		n = token_at(in + i, len - i);
		for (k = 0; n > 0 && k < MG_NELEM(table); k++)
			if (strlen(table[k].placeholder) == n &&
			    memcmp(table[k].placeholder, in + i, n) == 0)
				break;
		if (n > 0 && k < MG_NELEM(table) && (flags & SSE_UNMASK_TOOL_INPUT) &&
		    memcmp(in + i, "AWS_SK_", 7) == 0)
			k = MG_NELEM(table);	/* credentials stay placeholders in tool input */
		if (n > 0 && k < MG_NELEM(table)) {
			if ((json_escape ? buf_append_json_escaped(out, table[k].original,
			    strlen(table[k].original)) : buf_appends(out, table[k].original)) != MG_OK)
				return MG_ENOMEM;
			i += n;
			continue;
		}
		if (buf_appendc(out, in[i]) != MG_OK)
			return MG_ENOMEM;
		i++;
	}
	return MG_OK;
}

static const struct sse_unmasker um = { t_unmask, t_holdback, NULL };

static enum mg_err
t_emit(void *ctx, const char *bytes, size_t len)
{
	return buf_append(ctx, bytes, len);
}

static enum mg_err
run(struct arena *a, const char *in, size_t len, const uint8_t *sizes, struct buf *out)
{
	struct sse *r = sse_new(a, &um, t_emit, out);
	enum mg_err rc = MG_OK;
	size_t i = 0, k = 0, n;

	if (r == NULL)
		abort();
	sse_set_max_event(r, 1 << 16);
	while (i < len && rc == MG_OK) {
		n = sizes == NULL ? len : (size_t)(sizes[k++ % 8] % 64) + 1;
		if (n > len - i)
			n = len - i;
		rc = sse_feed(r, in + i, n);
		i += n;
	}
	if (rc == MG_OK)
		rc = sse_finish(r);
	return rc;
}

/* ---- reference segmentation of a stream (mirrors sse.c's rules) ---- */

#define MAX_INDEX 4096
#define MAX_SEGS 4096

enum { K_NONE, K_TEXT, K_THINK, K_JSON };

struct seg {
	int index, kind;
	struct buf text;
};

struct segs {
	struct seg seg[MAX_SEGS];
	size_t n;
	int open[MAX_INDEX];	/* segment number + 1 of the open segment per index */
	int overflow;
};

static void
close_index(struct segs *s, int index)
{
	s->open[index] = 0;
}

static void
close_all(struct segs *s)
{
	memset(s->open, 0, sizeof(s->open));
}

static void
add_text(struct segs *s, struct arena *a, int index, int kind, const char *t, size_t len)
{
	struct seg *g;

	if (s->open[index] != 0 && s->seg[s->open[index] - 1].kind != kind)
		close_index(s, index);
	if (s->open[index] == 0) {
		if (s->n == MAX_SEGS) {
			s->overflow = 1;
			return;
		}
		g = &s->seg[s->n++];
		g->index = index;
		g->kind = kind;
		buf_init(&g->text, a);
		buf_appends(&g->text, "");
		s->open[index] = (int)s->n;
	}
	buf_append(&s->seg[s->open[index] - 1].text, t, len);
}

static void
ref_event(struct segs *s, struct arena *a, const char *name, int has_name,
    const char *data, size_t dlen, int has_data)
{
	static const char *const dtypes[] = { NULL, "text_delta", "thinking_delta", "input_json_delta" };
	static const char *const fields[] = { NULL, "text", "thinking", "partial_json" };
	struct json_tokener *tok;
	struct json_object *ev = NULL, *v, *d, *f;
	const char *type = NULL;
	int index = -1, kind = K_NONE, k;

	if (!has_data || dlen == 0)
		return;
	tok = json_tokener_new_ex(64);
	ev = json_tokener_parse_ex(tok, data, (int)dlen);
	if (ev != NULL && (json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != dlen)) {
		json_object_put(ev);
		ev = NULL;
	}
	json_tokener_free(tok);
	if (!json_object_is_type(ev, json_type_object))
		goto out;
	if (json_object_object_get_ex(ev, "type", &v) && json_object_is_type(v, json_type_string))
		type = json_object_get_string(v);
	else if (has_name)
		type = name;
	if (type == NULL)
		goto out;
	if (json_object_object_get_ex(ev, "index", &v) && json_object_is_type(v, json_type_int) &&
	    json_object_get_int64(v) >= 0 && json_object_get_int64(v) < MAX_INDEX)
		index = (int)json_object_get_int64(v);
	if (strcmp(type, "content_block_delta") == 0 && index >= 0 &&
	    json_object_object_get_ex(ev, "delta", &d) && json_object_is_type(d, json_type_object) &&
	    json_object_object_get_ex(d, "type", &v) && json_object_is_type(v, json_type_string)) {
		for (k = 1; k <= K_JSON; k++)
			if (strcmp(json_object_get_string(v), dtypes[k]) == 0)
				kind = k;
		if (kind != K_NONE && json_object_object_get_ex(d, fields[kind], &f) &&
		    json_object_is_type(f, json_type_string))
			add_text(s, a, index, kind, json_object_get_string(f),
			    (size_t)json_object_get_string_len(f));
	} else if ((strcmp(type, "content_block_start") == 0 ||
	    strcmp(type, "content_block_stop") == 0) && index >= 0)
		close_index(s, index);
	else if (strcmp(type, "message_delta") == 0 || strcmp(type, "message_stop") == 0 ||
	    strcmp(type, "error") == 0)
		close_all(s);
out:
	json_object_put(ev);
}

/* Splits a whole stream into events (LF, CRLF or CR lines). */
static void
ref_parse(struct segs *s, struct arena *a, const char *in, size_t len)
{
	struct buf name, data;
	int has_name = 0, has_data = 0;
	size_t i = 0, j, vstart, flen;

	buf_init(&name, a);
	buf_init(&data, a);
	buf_appends(&name, "");
	buf_appends(&data, "");
	while (i < len) {
		for (j = i; j < len && in[j] != '\n' && in[j] != '\r'; j++)
			;
		if (j == len)
			break;	/* unterminated line: the stream failed anyway */
		if (j == i) {
			ref_event(s, a, name.data, has_name, data.data, data.len, has_data);
			buf_clear(&name);
			buf_clear(&data);
			has_name = has_data = 0;
		} else if (in[i] != ':') {
			const char *c = memchr(in + i, ':', j - i);
			flen = c != NULL ? (size_t)(c - (in + i)) : j - i;
			vstart = c != NULL ? (size_t)(c - in) + 1 : j;
			if (vstart < j && in[vstart] == ' ')
				vstart++;
			if (flen == 5 && memcmp(in + i, "event", 5) == 0) {
				buf_clear(&name);
				buf_append(&name, in + vstart, j - vstart);
				has_name = 1;
			} else if (flen == 4 && memcmp(in + i, "data", 4) == 0) {
				if (has_data)
					buf_appendc(&data, '\n');
				buf_append(&data, in + vstart, j - vstart);
				has_data = 1;
			}
		}
		i = j + 1;
		if (in[j] == '\r' && i < len && in[i] == '\n')
			i++;
	}
}

/*
 * Blocks interleave, and a block's held text shows up only at its flush, so
 * segments are matched per block index, in order within each index.
 */
static void
check_semantics(struct arena *a, const char *in, size_t len, const struct buf *out)
{
	static struct segs sin, sout;
	static size_t cursor[MAX_INDEX];	/* next output segment to look at, per index */
	struct buf want;
	size_t i, o;

	memset(&sin, 0, sizeof(sin));
	memset(&sout, 0, sizeof(sout));
	memset(cursor, 0, sizeof(cursor));
	ref_parse(&sin, a, in, len);
	ref_parse(&sout, a, out->data, out->len);
	if (sin.overflow || sout.overflow)
		return;
	buf_init(&want, a);
	for (i = 0; i < sin.n; i++) {
		struct seg *g = &sin.seg[i];

		buf_clear(&want);
		buf_appends(&want, "");
		t_unmask(NULL, g->text.data, g->text.len,
		    g->kind == K_JSON ? SSE_UNMASK_JSON | SSE_UNMASK_TOOL_INPUT : 0, &want);
		if (want.len == 0)
			continue;	/* restores to nothing: no output segment */
		for (o = cursor[g->index]; o < sout.n; o++)
			if (sout.seg[o].index == g->index && sout.seg[o].text.len > 0)
				break;
		if (o == sout.n || sout.seg[o].kind != g->kind || want.len != sout.seg[o].text.len ||
		    memcmp(want.data, sout.seg[o].text.data, want.len) != 0) {
			fprintf(stderr, "segment mismatch: index %d kind %d\n", g->index, g->kind);
			abort();
		}
		cursor[g->index] = o + 1;
	}
	for (o = 0; o < sout.n; o++)
		if (sout.seg[o].text.len > 0 && o >= cursor[sout.seg[o].index]) {
			fprintf(stderr, "output segment without input: index %d\n", sout.seg[o].index);
			abort();
		}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena a;
	struct buf one, chunked;
	enum mg_err rc1, rc2;
	const char *in;
	size_t len;

	if (size < 8)
		return 0;
	in = (const char *)data + 8;
	len = size - 8;
	arena_init(&a);
	buf_init(&one, &a);
	buf_init(&chunked, &a);
	buf_appends(&one, "");
	buf_appends(&chunked, "");
	rc1 = run(&a, in, len, NULL, &one);
	rc2 = run(&a, in, len, data, &chunked);
	if (rc1 != rc2 || one.len != chunked.len || memcmp(one.data, chunked.data, one.len) != 0) {
		fprintf(stderr, "chunking changed the output (rc %d vs %d)\n", rc1, rc2);
		abort();
	}
	if (rc1 == MG_OK)
		check_semantics(&a, in, len, &one);
	arena_free(&a);
	return 0;
}
