/*
 * test_bedrock_stream.c - the Bedrock event-stream rewriter with the
 * table-based test unmasker: a placeholder split across chunk events and
 * across network chunks is restored, untouched frames pass byte for byte,
 * every output frame decodes with valid CRCs, a corrupt upstream frame ends
 * the stream with an exception frame after the held text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "th.h"
#include "bedrock_stream.h"
#include "eventstream.h"

static const struct {
	const char *placeholder;
	const char *original;
} table[] = {
	{ "AWS_EC_7", "i-0abc7" },
	{ "AWS_Q_2", "q\"uo\\te" },
};

#include "sse_tokens.h"

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
			if (json_escape)
				buf_append_json_escaped(out, table[k].original, strlen(table[k].original));
			else
				buf_appends(out, table[k].original);
			i += n;
			continue;
		}
		buf_appendc(out, in[i++]);
	}
	return MG_OK;
}

static const struct sse_unmasker um = { t_unmask, t_holdback, NULL };

static const struct es_header chunk_h[3] = {
	{ ":event-type", 11, ES_STRING, "chunk", 5 },
	{ ":content-type", 13, ES_STRING, "application/json", 16 },
	{ ":message-type", 13, ES_STRING, "event", 5 },
};

static void
add_chunk(struct buf *wire, const char *event_json)
{
	struct buf p;

	buf_init(&p, wire->arena);
	buf_appends(&p, "{\"bytes\":\"");
	bedrock_b64_encode(event_json, strlen(event_json), &p);
	buf_appends(&p, "\",\"p\":\"abcdef\"}");
	es_encode(wire, chunk_h, 3, p.data, p.len);
}

static enum mg_err
sink_emit(void *ctx, const char *bytes, size_t len)
{
	return buf_append(ctx, bytes, len);
}

/* What a client sees: text of text_deltas, event types, exception messages. */
struct seen {
	struct arena *arena;
	struct buf text;
	struct buf types;
	struct buf exception;
	int frames;
};

static enum mg_err
on_out(void *ctx, const struct es_message *m)
{
	struct seen *s = ctx;
	size_t ml = 0;
	const char *mt = es_header_string(m, ":message-type", &ml);
	struct json_object *root, *b, *ev, *d, *t;
	struct buf dec;

	s->frames++;
	if (mt != NULL && ml == 9 && memcmp(mt, "exception", 9) == 0) {
		buf_append(&s->exception, m->payload, m->payload_len);
		return MG_OK;
	}
	root = json_tokener_parse(arena_strndup(s->arena, m->payload, m->payload_len));
	buf_init(&dec, s->arena);
	if (!json_object_object_get_ex(root, "bytes", &b) ||
	    bedrock_b64_decode(json_object_get_string(b), (size_t)json_object_get_string_len(b),
	    &dec) != MG_OK) {
		json_object_put(root);
		return MG_EINVAL;
	}
	json_object_put(root);
	ev = json_tokener_parse(dec.data);
	if (json_object_object_get_ex(ev, "type", &t)) {
		buf_appends(&s->types, json_object_get_string(t));
		buf_appendc(&s->types, ' ');
	}
	if (json_object_object_get_ex(ev, "delta", &d) && json_object_object_get_ex(d, "text", &t))
		buf_appends(&s->text, json_object_get_string(t));
	json_object_put(ev);
	return MG_OK;
}

static enum mg_err
run(struct arena *a, const struct buf *wire, size_t step, int finish, struct buf *out)
{
	struct bedrock_stream *bs = bedrock_stream_new(a, &um, sink_emit, out);
	enum mg_err rc = MG_OK;
	size_t i;

	for (i = 0; i < wire->len && rc == MG_OK; i += step)
		rc = bedrock_stream_feed(bs, wire->data + i, wire->len - i < step ? wire->len - i : step);
	if (rc == MG_OK && finish)
		rc = bedrock_stream_finish(bs);
	return rc;
}

static int
decode_out(struct arena *a, const struct buf *out, struct seen *s)
{
	struct es_decoder d;

	memset(s, 0, sizeof(*s));
	s->arena = a;
	buf_init(&s->text, a);
	buf_init(&s->types, a);
	buf_init(&s->exception, a);
	es_decoder_init(&d, a, 0);
	return es_feed(&d, out->data, out->len, on_out, s) == MG_OK && es_idle(&d);
}

int
main(void)
{
	static const char ping[] = "{\"type\":\"ping\"}";
	struct arena a;
	struct buf wire, out, pingframe;
	struct seen s;
	size_t step;
	int ok = 1;
	enum mg_err rc;

	arena_init(&a);
	buf_init(&wire, &a);
	add_chunk(&wire, "{\"type\":\"message_start\",\"message\":{\"model\":\"claude-x\","
	    "\"usage\":{\"input_tokens\":11,\"output_tokens\":1}}}");
	add_chunk(&wire, "{\"type\":\"content_block_start\",\"index\":0,"
	    "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}");
	add_chunk(&wire, "{\"type\":\"content_block_delta\",\"index\":0,"
	    "\"delta\":{\"type\":\"text_delta\",\"text\":\"see AWS_E\"}}");
	add_chunk(&wire, ping);
	add_chunk(&wire, "{\"type\":\"content_block_delta\",\"index\":0,"
	    "\"delta\":{\"type\":\"text_delta\",\"text\":\"C_7 and AWS_Q_2 end AWS_\"}}");
	add_chunk(&wire, "{\"type\":\"content_block_stop\",\"index\":0}");
	add_chunk(&wire, "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},"
	    "\"usage\":{\"output_tokens\":42}}");
	add_chunk(&wire, "{\"type\":\"message_stop\"}");

	for (step = 1; step <= wire.len; step += (step < 40 ? 1 : 97)) {
		buf_init(&out, &a);
		rc = run(&a, &wire, step, 1, &out);
		if (rc != MG_OK || !decode_out(&a, &out, &s) ||
		    strcmp(s.text.data, "see i-0abc7 and q\"uo\\te end AWS_") != 0 ||
		    strstr(s.types.data, "ping") == NULL || s.exception.len != 0) {
			ok = 0;
			printf("# step %zu rc %d text %s\n", step, rc, s.text.data ? s.text.data : "");
		}
	}
	TH_OK(ok, "placeholders split across chunk events and network chunks restored");

	buf_init(&out, &a);
	run(&a, &wire, wire.len, 1, &out);
	buf_init(&pingframe, &a);
	add_chunk(&pingframe, ping);
	TH_OK(memmem(out.data, out.len, pingframe.data, pingframe.len) != NULL,
	    "a ping frame passes byte for byte");
	TH_OK(decode_out(&a, &out, &s) && strcmp(s.types.data, "message_start content_block_start "
	    "content_block_delta ping content_block_delta content_block_delta content_block_stop "
	    "message_delta message_stop ") == 0, "event order kept, held text before the stop: %s",
	    s.types.data);
	{
		struct bedrock_stream *bs = bedrock_stream_new(&a, &um, sink_emit, &out);

		bedrock_stream_feed(bs, wire.data, wire.len);
		bedrock_stream_finish(bs);
		TH_OK(bedrock_stream_usage(bs)->input_tokens == 11 &&
		    bedrock_stream_usage(bs)->output_tokens == 42, "usage read from the events");
	}

	/* corrupt the 5th frame (the second delta): the stream stops there */
	{
		struct buf bad;
		size_t off = 0, k;

		buf_init(&bad, &a);
		buf_append(&bad, wire.data, wire.len);
		for (k = 0; k < 4; k++)
			off += (size_t)((unsigned char)bad.data[off] << 24 |
			    (unsigned char)bad.data[off + 1] << 16 |
			    (unsigned char)bad.data[off + 2] << 8 | (unsigned char)bad.data[off + 3]);
		bad.data[off + 40] ^= 0x20;
		buf_init(&out, &a);
		rc = run(&a, &bad, 7, 0, &out);
		TH_OK(rc == MG_EUPSTREAM, "bad CRC is an upstream error");
		TH_OK(decode_out(&a, &out, &s), "the output up to the error decodes, CRCs valid");
		TH_OK(strstr(s.exception.data ? s.exception.data : "", "CRC") != NULL,
		    "the client gets an exception frame naming the CRC: %s",
		    s.exception.data ? s.exception.data : "");
		TH_OK(strcmp(s.text.data, "see ") == 0 || strcmp(s.text.data, "see AWS_E") == 0,
		    "held text released, no partial restore: '%s'", s.text.data);
	}

	/* an upstream exception frame passes through and ends the stream */
	{
		struct buf ex;

		buf_init(&ex, &a);
		add_chunk(&ex, "{\"type\":\"message_start\",\"message\":{}}");
		bedrock_exception_frame(&ex, "throttlingException", "slow down");
		buf_init(&out, &a);
		rc = run(&a, &ex, 5, 1, &out);
		TH_OK(rc == MG_EUPSTREAM && decode_out(&a, &out, &s) &&
		    strstr(s.exception.data, "slow down") != NULL, "upstream exception passed on");
	}

	/* a stream that stops before message_stop ends with an exception */
	{
		struct buf cut;

		buf_init(&cut, &a);
		add_chunk(&cut, "{\"type\":\"message_start\",\"message\":{}}");
		buf_init(&out, &a);
		rc = run(&a, &cut, cut.len, 1, &out);
		TH_OK(rc == MG_EUPSTREAM && decode_out(&a, &out, &s) && s.exception.len > 0,
		    "early end: exception frame");
		buf_init(&out, &a);
		cut.len -= 3;
		rc = run(&a, &cut, cut.len, 1, &out);
		TH_OK(rc == MG_EUPSTREAM && decode_out(&a, &out, &s) &&
		    strstr(s.exception.data, "mid-frame") != NULL, "end mid-frame: exception frame");
	}
	/* SSE out (a /v1/messages client on a Bedrock upstream) */
	{
		struct bedrock_stream *bs;
		struct buf ex;

		buf_init(&out, &a);
		bs = bedrock_stream_new(&a, &um, sink_emit, &out);
		bedrock_stream_sse_out(bs);
		for (step = 0; step < wire.len; step += 13)
			bedrock_stream_feed(bs, wire.data + step, wire.len - step < 13 ? wire.len - step : 13);
		TH_OK(bedrock_stream_finish(bs) == MG_OK, "SSE out: clean end");
		TH_OK(strncmp(out.data, "event: message_start\ndata: {", 28) == 0 &&
		    strstr(out.data, "event: ping\ndata: {\"type\":\"ping\"}\n\n") != NULL &&
		    strstr(out.data, "i-0abc7") != NULL && strstr(out.data, "AWS_EC") == NULL &&
		    strstr(out.data, "event: message_stop\n") != NULL, "SSE out: named events, restored");

		buf_init(&ex, &a);
		add_chunk(&ex, "{\"type\":\"message_start\",\"message\":{}}");
		add_chunk(&ex, "{\"type\":\"content_block_delta\",\"index\":0,"
		    "\"delta\":{\"type\":\"text_delta\",\"text\":\"held AWS_E\"}}");
		bedrock_exception_frame(&ex, "throttlingException", "slow down");
		buf_init(&out, &a);
		bs = bedrock_stream_new(&a, &um, sink_emit, &out);
		bedrock_stream_sse_out(bs);
		rc = bedrock_stream_feed(bs, ex.data, ex.len);
		if (rc == MG_OK)
			rc = bedrock_stream_finish(bs);
		TH_OK(rc != MG_OK && strstr(out.data, "event: error\ndata: {\"type\":\"error\","
		    "\"error\":{\"type\":\"api_error\",\"message\":\"throttlingException: slow down"
		    "\"}}\n\n") != NULL && strstr(out.data, "held ") != NULL,
		    "SSE out: an upstream exception is an error event after the held text: %s",
		    out.data);
	}
	arena_free(&a);
	return th_done();
}
