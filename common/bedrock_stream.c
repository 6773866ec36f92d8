/*
 * bedrock_stream.c - Bedrock event-stream response rewriter. See
 * bedrock_stream.h.
 *
 * The seam with the SSE rewriter is its input and output text: a chunk's
 * Messages event is handed to sse_feed() as one `data:` event, and each
 * event sse emits is read back (its data lines) and framed. Nothing in
 * sse.c knows about Bedrock, and the restore logic exists once.
 */
#include <stdint.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "bedrock_stream.h"
#include "eventstream.h"
#include "log.h"

struct bedrock_stream {
	struct arena *arena;
	struct es_decoder dec;
	struct sse *sse;
	enum mg_err (*emit)(void *ctx, const char *bytes, size_t len);
	void *emit_ctx;

	struct buf event;	/* the decoded Messages event JSON */
	struct buf synth;	/* that event as SSE text, fed to sse */
	struct buf data;	/* data of an event sse emitted */
	struct buf b64;		/* its base64, then the chunk payload */
	struct buf frame;	/* the frame being written */
	const struct es_message *current;	/* frame being rewritten, or NULL */
	const char *why;	/* our own failure, named in the exception frame */
	int saw_exception;
	int sse_out;		/* write SSE, not frames */
	enum mg_err failed;
};

void
bedrock_stream_sse_out(struct bedrock_stream *b)
{
	b->sse_out = 1;
}

enum mg_err
bedrock_b64_decode(const char *in, size_t len, struct buf *out)
{
	size_t pad = 0, n;
	int got;

	if (len % 4 != 0 || len > INT32_MAX)
		return MG_EINVAL;
	if (len > 0 && in[len - 1] == '=')
		pad++;
	if (len > 1 && in[len - 2] == '=')
		pad++;
	n = len / 4 * 3;
	buf_clear(out);
	if (buf_reserve(out, n) != MG_OK)
		return MG_ENOMEM;
	got = EVP_DecodeBlock((unsigned char *)out->data, (const unsigned char *)in, (int)len);
	if (got < 0 || (size_t)got != n)
		return MG_EINVAL;
	out->len = n - pad;
	out->data[out->len] = '\0';
	return MG_OK;
}

enum mg_err
bedrock_b64_encode(const char *in, size_t len, struct buf *out)
{
	size_t n = (len + 2) / 3 * 4;

	if (len > INT32_MAX / 2)
		return MG_ETOOBIG;
	if (buf_reserve(out, n) != MG_OK)
		return MG_ENOMEM;
	EVP_EncodeBlock((unsigned char *)out->data + out->len, (const unsigned char *)in, (int)len);
	out->len += n;
	out->data[out->len] = '\0';
	return MG_OK;
}

static enum mg_err
emit_frame(struct bedrock_stream *b)
{
	enum mg_err rc = b->emit(b->emit_ctx, b->frame.data, b->frame.len);

	if (rc != MG_OK && b->failed == MG_OK)
		b->failed = rc;
	return rc;
}

enum mg_err
bedrock_exception_frame(struct buf *out, const char *exception_type, const char *message)
{
	struct es_header h[3] = {
		{ ":exception-type", 15, ES_STRING, exception_type, strlen(exception_type) },
		{ ":content-type", 13, ES_STRING, "application/json", 16 },
		{ ":message-type", 13, ES_STRING, "exception", 9 },
	};
	struct buf payload;

	buf_init(&payload, out->arena);
	if (buf_appends(&payload, "{\"message\":\"") != MG_OK ||
	    buf_append_json_escaped(&payload, message, strlen(message)) != MG_OK ||
	    buf_appends(&payload, "\"}") != MG_OK)
		return MG_ENOMEM;
	return es_encode(out, h, 3, payload.data, payload.len);
}

/* The message of an Anthropic error event's JSON, or a fallback. */
static const char *
error_message(struct bedrock_stream *b, const char *json, size_t len)
{
	struct json_object *root = json_tokener_parse(json), *err = NULL, *msg = NULL;
	const char *m = "stream failed";

	(void)len;
	if (json_object_object_get_ex(root, "error", &err) &&
	    json_object_object_get_ex(err, "message", &msg) &&
	    json_object_is_type(msg, json_type_string))
		m = arena_strdup(b->arena, json_object_get_string(msg));
	json_object_put(root);
	return m != NULL ? m : "stream failed";
}

/* An Anthropic error event for an SSE client. */
static enum mg_err
emit_sse_error(struct bedrock_stream *b, const char *message)
{
	buf_clear(&b->frame);
	if (buf_appends(&b->frame, "event: error\ndata: {\"type\":\"error\",\"error\":"
	    "{\"type\":\"api_error\",\"message\":\"") != MG_OK ||
	    buf_append_json_escaped(&b->frame, message, strlen(message)) != MG_OK ||
	    buf_appends(&b->frame, "\"}}\n\n") != MG_OK)
		return MG_ENOMEM;
	return emit_frame(b);
}

/*
 * sse's emit: one complete SSE event. The exact text we fed it means
 * "pass through": the received frame goes out as it was. An `event: error`
 * is sse's own failure: an exception frame. Anything else is a rewritten
 * Messages event: a new chunk frame.
 */
static enum mg_err
on_sse_event(void *ctx, const char *bytes, size_t len)
{
	static const struct es_header chunk_headers[3] = {
		{ ":event-type", 11, ES_STRING, "chunk", 5 },
		{ ":content-type", 13, ES_STRING, "application/json", 16 },
		{ ":message-type", 13, ES_STRING, "event", 5 },
	};
	struct bedrock_stream *b = ctx;
	const char *p = bytes, *end = bytes + len, *nl;
	int is_error = 0;

	if (b->sse_out) {
		/* sse's own error event names our reason when we have one */
		if (b->why != NULL && len >= 13 && memcmp(bytes, "event: error\n", 13) == 0)
			return emit_sse_error(b, b->why);
		return b->emit(b->emit_ctx, bytes, len);
	}
	if (b->current != NULL && len == b->synth.len && memcmp(bytes, b->synth.data, len) == 0)
		return b->emit(b->emit_ctx, b->current->raw, b->current->raw_len);
	buf_clear(&b->data);
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		if ((size_t)(nl - p) >= 6 && memcmp(p, "data: ", 6) == 0) {
			if (b->data.len > 0 && buf_appendc(&b->data, '\n') != MG_OK)
				return MG_ENOMEM;
			if (buf_append(&b->data, p + 6, (size_t)(nl - p) - 6) != MG_OK)
				return MG_ENOMEM;
		} else if ((size_t)(nl - p) == 12 && memcmp(p, "event: error", 12) == 0)
			is_error = 1;
		p = nl + 1;
	}
	buf_clear(&b->frame);
	if (is_error) {
		const char *m = b->why != NULL ? b->why :
		    error_message(b, b->data.data ? b->data.data : "", b->data.len);
		if (bedrock_exception_frame(&b->frame, "internalServerException", m) != MG_OK)
			return MG_ENOMEM;
		return emit_frame(b);
	}
	buf_clear(&b->b64);
	if (buf_appends(&b->b64, "{\"bytes\":\"") != MG_OK ||
	    bedrock_b64_encode(b->data.data ? b->data.data : "", b->data.len, &b->b64) != MG_OK ||
	    buf_appends(&b->b64, "\"}") != MG_OK)
		return MG_ENOMEM;
	if (es_encode(&b->frame, chunk_headers, 3, b->b64.data, b->b64.len) != MG_OK)
		return MG_ENOMEM;
	return emit_frame(b);
}

struct bedrock_stream *
bedrock_stream_new(struct arena *a, const struct sse_unmasker *um,
    enum mg_err (*emit)(void *emit_ctx, const char *bytes, size_t len), void *emit_ctx)
{
	struct bedrock_stream *b = arena_alloc(a, sizeof(*b));

	if (b == NULL)
		return NULL;
	b->arena = a;
	b->emit = emit;
	b->emit_ctx = emit_ctx;
	es_decoder_init(&b->dec, a, 0);
	buf_init(&b->event, a);
	buf_init(&b->synth, a);
	buf_init(&b->data, a);
	buf_init(&b->b64, a);
	buf_init(&b->frame, a);
	b->sse = sse_new(a, um, on_sse_event, b);
	return b->sse != NULL ? b : NULL;
}

/*
 * The decoded event as one SSE event: `event: <its type>`, then a data line
 * per line of JSON. The name matters: sse refuses a content block event it
 * cannot parse only when the name says what it is, so an unnamed event
 * whose parse failed (out of memory) would pass through unrestored.
 * MG_EUPSTREAM (b->why set) when the event is no JSON object with a type.
 */
static enum mg_err
synthesize(struct bedrock_stream *b)
{
	const char *p = b->event.data, *end = b->event.data + b->event.len, *type;
	struct json_object *root, *t;
	enum mg_err rc = MG_OK;

	buf_clear(&b->synth);
	root = json_tokener_parse(b->event.data);
	type = json_object_object_get_ex(root, "type", &t) &&
	    json_object_is_type(t, json_type_string) ? json_object_get_string(t) : NULL;
	if (type == NULL || strcspn(type, "\r\n") != strlen(type)) {
		b->why = "malformed chunk from upstream";
		rc = MG_EUPSTREAM;
	} else
		rc = buf_printf(&b->synth, "event: %s\n", type);
	json_object_put(root);
	if (rc != MG_OK)
		return rc;
	while (p < end) {
		size_t n = strcspn(p, "\r\n");

		if (p + n > end)
			n = (size_t)(end - p);
		if (buf_append(&b->synth, "data: ", 6) != MG_OK ||
		    buf_append(&b->synth, p, n) != MG_OK || buf_appendc(&b->synth, '\n') != MG_OK)
			return MG_ENOMEM;
		p += n + 1;
	}
	return buf_append(&b->synth, "\n", 1);
}

/*
 * An upstream exception frame for an SSE client: an Anthropic error event
 * (throttling as overloaded_error, the rest as api_error) with Bedrock's
 * message, after the text held back so far.
 */
static enum mg_err
exception_as_sse(struct bedrock_stream *b, const struct es_message *m)
{
	struct json_object *root = json_tokener_parse(m->payload_len > 0 ?
	    arena_strndup(b->arena, m->payload, m->payload_len) : ""), *msg;
	const char *kind, *message = "upstream error";
	size_t klen = 0;
	enum mg_err rc;

	kind = es_header_string(m, ":exception-type", &klen);
	if (kind != NULL && strcspn(kind, "\"\\") < klen)
		kind = NULL;
	if (json_object_object_get_ex(root, "message", &msg) &&
	    json_object_is_type(msg, json_type_string))
		message = arena_strdup(b->arena, json_object_get_string(msg));
	json_object_put(root);
	b->why = message != NULL ? message : "upstream error";
	if (kind != NULL)
		b->why = arena_printf(b->arena, "%.*s: %s", (int)klen, kind, b->why);
	if (b->why == NULL)
		b->why = "upstream error";
	rc = sse_finish(b->sse);	/* held text, then the error event */
	if (rc == MG_OK)
		return emit_sse_error(b, b->why);
	return MG_OK;
}

/* es_decoder callback: one CRC-checked frame from upstream. */
static enum mg_err
on_frame(void *ctx, const struct es_message *m)
{
	struct bedrock_stream *b = ctx;
	const char *mtype, *etype;
	size_t mlen = 0, elen = 0;
	struct json_object *root, *bytes;
	enum mg_err rc;

	mtype = es_header_string(m, ":message-type", &mlen);
	etype = es_header_string(m, ":event-type", &elen);
	if (b->saw_exception)
		return MG_OK;	/* nothing follows an exception */
	if (mtype == NULL || mlen != 5 || memcmp(mtype, "event", 5) != 0) {
		b->saw_exception = 1;	/* exception or error: the client reads it as sent */
		if (b->sse_out)
			return exception_as_sse(b, m);
		return b->emit(b->emit_ctx, m->raw, m->raw_len);
	}
	if (etype == NULL || elen != 5 || memcmp(etype, "chunk", 5) != 0)
		return b->emit(b->emit_ctx, m->raw, m->raw_len);
	root = json_tokener_parse(m->payload_len > 0 ? arena_strndup(b->arena, m->payload,
	    m->payload_len) : "");
	if (!json_object_object_get_ex(root, "bytes", &bytes) ||
	    !json_object_is_type(bytes, json_type_string) ||
	    bedrock_b64_decode(json_object_get_string(bytes),
	    (size_t)json_object_get_string_len(bytes), &b->event) != MG_OK ||
	    memchr(b->event.data, '\0', b->event.len) != NULL) {
		json_object_put(root);
		b->why = "malformed chunk from upstream";
		return MG_EUPSTREAM;
	}
	json_object_put(root);
	rc = synthesize(b);
	if (rc != MG_OK)
		return rc;
	b->current = m;
	rc = sse_feed(b->sse, b->synth.data, b->synth.len);
	b->current = NULL;
	return rc;
}

/*
 * The stream broke on our side of sse (framing, CRC, a bad chunk): release
 * held text and end with an exception naming why. sse_finish() does both
 * unless the message had already stopped; then the exception is ours.
 */
static enum mg_err
broken(struct bedrock_stream *b, const char *why)
{
	enum mg_err rc;

	b->why = why;
	log_warn("bedrock stream from upstream: %s", why);
	rc = sse_finish(b->sse);
	if (rc == MG_OK && b->sse_out)
		emit_sse_error(b, why);
	else if (rc == MG_OK) {
		buf_clear(&b->frame);
		if (bedrock_exception_frame(&b->frame, "internalServerException", why) == MG_OK)
			emit_frame(b);
	}
	if (b->failed == MG_OK)
		b->failed = MG_EUPSTREAM;
	return b->failed;
}

enum mg_err
bedrock_stream_feed(struct bedrock_stream *b, const char *chunk, size_t len)
{
	enum mg_err rc;

	if (b->failed != MG_OK)
		return b->failed;
	rc = es_feed(&b->dec, chunk, len, on_frame, b);
	if (rc == MG_OK)
		return MG_OK;
	if (b->dec.why[0] != '\0')
		return broken(b, b->dec.why);
	if (b->why != NULL)
		return broken(b, b->why);
	/* sse failed (it has told the client) or the client is gone */
	if (b->failed == MG_OK)
		b->failed = rc;
	return b->failed;
}

enum mg_err
bedrock_stream_finish(struct bedrock_stream *b)
{
	if (b->failed != MG_OK)
		return b->failed;
	if (b->saw_exception)
		return MG_EUPSTREAM;	/* upstream's own error reached the client */
	if (!es_idle(&b->dec))
		return broken(b, "upstream stream ended mid-frame");
	return sse_finish(b->sse);
}

const struct jwalk_usage *
bedrock_stream_usage(const struct bedrock_stream *b)
{
	return sse_usage(b->sse);
}
