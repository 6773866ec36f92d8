/*
 * fuzz_bedrock_stream.c - libFuzzer harness for the Bedrock event-stream
 * rewriter.
 *
 * Input: the first 8 bytes choose network chunk sizes (cycled); the rest is
 * split at newlines, each line one Messages event JSON that is framed as a
 * Bedrock chunk (base64 inside {"bytes": ...}); a line starting with '!'
 * goes on the wire as raw bytes instead (corrupt or partial frames).
 * Properties:
 *  1. chunking never changes anything: same return code, same output bytes;
 *  2. the output is always whole frames with valid CRCs (it decodes to the
 *     end with nothing left over), whatever the upstream sent.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bedrock_stream.h"
#include "eventstream.h"

static const struct {
	const char *placeholder;
	const char *original;
} table[] = {
	{ "AWS_X_1", "one" },
	{ "AWS_X_10", "ten" },
	{ "AWS_Q_2", "q\"uo\\te\n" },
	{ "AWS_EC_7", "i-0abc7" },
};

#include "../unit/sse_tokens.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
any_frame(void *ctx, const struct es_message *m)
{
	(void)ctx;
	(void)m;
	return MG_OK;
}

/* The upstream wire bytes for the input lines. */
static void
build_wire(const char *in, size_t len, struct buf *wire)
{
	static const struct es_header h[3] = {
		{ ":event-type", 11, ES_STRING, "chunk", 5 },
		{ ":content-type", 13, ES_STRING, "application/json", 16 },
		{ ":message-type", 13, ES_STRING, "event", 5 },
	};
	struct buf payload;
	size_t i = 0, n;

	buf_init(&payload, wire->arena);
	while (i < len) {
		const char *nl = memchr(in + i, '\n', len - i);

		n = nl != NULL ? (size_t)(nl - (in + i)) : len - i;
		if (n > 0 && in[i] == '!') {
			buf_append(wire, in + i + 1, n - 1);
		} else {
			buf_clear(&payload);
			buf_appends(&payload, "{\"bytes\":\"");
			bedrock_b64_encode(in + i, n, &payload);
			buf_appends(&payload, "\"}");
			es_encode(wire, h, 3, payload.data, payload.len);
		}
		i += n + 1;
	}
}

static enum mg_err
run(struct arena *a, const struct buf *wire, const uint8_t *sizes, struct buf *out)
{
	struct bedrock_stream *b = bedrock_stream_new(a, &um, t_emit, out);
	enum mg_err rc = MG_OK;
	size_t i = 0, k = 0, n;

	if (b == NULL)
		abort();
	while (i < wire->len && rc == MG_OK) {
		n = sizes != NULL ? (size_t)sizes[k++ % 8] + 1 : wire->len;
		if (n > wire->len - i)
			n = wire->len - i;
		rc = bedrock_stream_feed(b, wire->data + i, n);
		i += n;
	}
	if (rc == MG_OK)
		rc = bedrock_stream_finish(b);
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena a;
	struct buf wire, one, chunked;
	struct es_decoder d;
	enum mg_err r1, r2;

	if (size < 8 || size > 1 << 18)
		return 0;
	arena_init(&a);
	buf_init(&wire, &a);
	buf_init(&one, &a);
	buf_init(&chunked, &a);
	build_wire((const char *)data + 8, size - 8, &wire);
	r1 = run(&a, &wire, NULL, &one);
	r2 = run(&a, &wire, data, &chunked);
	if (r1 != r2 || one.len != chunked.len ||
	    (one.len > 0 && memcmp(one.data, chunked.data, one.len) != 0))
		abort();
	es_decoder_init(&d, &a, 0);
	if (es_feed(&d, one.data != NULL ? one.data : "", one.len, any_frame, NULL) != MG_OK ||
	    !es_idle(&d))
		abort();
	arena_free(&a);
	return 0;
}
