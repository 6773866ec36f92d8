/*
 * exchange_restore.c - what comes back from the upstream: response
 * headers filtered, and the body restored for the client: a Messages JSON
 * answer as a whole, an SSE or Bedrock event stream event by event (with
 * the holdback of a possible placeholder tail), anything else byte for
 * byte.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "bedrock_stream.h"
#include "exchange_int.h"
#include "log.h"
#include "mask.h"
#include "upstream.h"
#include "wire.h"

/* Upstream headers the web server or we ourselves set. */
static const char *const drop_response_headers[] = {
	"connection", "keep-alive", "transfer-encoding", "content-length",
	"content-encoding", "upgrade", "trailer", "status", "set-cookie",
};

enum mg_err
exchange_on_header(void *ctx, const char *name, const char *value)
{
	struct exchange_call *xc = ctx;
	struct exchange *ex = xc->ex;
	size_t i;

	if (strcmp(name, "content-type") == 0) {
		xc->content_type = arena_strdup(ex->arena, value);
		return MG_OK;
	}
	if (strcmp(name, "request-id") == 0) {
		const char *p;
		for (p = value; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				return MG_OK;	/* never split our own header block */
		ex->out.upstream_request_id = arena_strdup(ex->arena, value);
		return MG_OK;
	}
	for (i = 0; i < MG_NELEM(drop_response_headers); i++)
		if (strcasecmp(drop_response_headers[i], name) == 0)
			return MG_OK;
	if (!ex->started)
		exchange_add_header(ex, name, value);
	return MG_OK;
}

static enum mg_err
emit(void *ctx, const char *bytes, size_t len)
{
	return exchange_write(ctx, bytes, len, 1);
}

_Static_assert(SSE_UNMASK_JSON == MASK_UNMASK_JSON &&
    SSE_UNMASK_TOOL_INPUT == MASK_UNMASK_TOOL_INPUT, "one set of unmask flags");

static enum mg_err
unmask_cb(void *ctx, const char *in, size_t len, int flags, struct buf *out)
{
	return mask_unmask(ctx, in, len, flags, out);
}

static size_t
holdback_cb(void *ctx, const char *in, size_t len)
{
	return mask_holdback(ctx, in, len);
}

static enum mg_err
unmask_plain_cb(void *ctx, const char *in, size_t len, struct buf *out)
{
	return mask_unmask(ctx, in, len, 0, out);
}

/* tool_use.input of a JSON response: decoded strings, tool-input policies */
static enum mg_err
unmask_tool_cb(void *ctx, const char *in, size_t len, struct buf *out)
{
	return mask_unmask(ctx, in, len, MASK_UNMASK_TOOL_INPUT, out);
}

/* A 200 event stream begins: the rewriter that restores it event by event. */
static enum mg_err
start_stream(struct exchange_call *xc)
{
	struct exchange *ex = xc->ex;
	int bedrock = xc->wire != NULL && xc->wire->kind == WIRE_BEDROCK &&
	    strncasecmp(xc->content_type, WIRE_EVENTSTREAM, strlen(WIRE_EVENTSTREAM)) == 0;

	if (!bedrock && strncasecmp(xc->content_type, "text/event-stream", 17) != 0)
		return MG_OK;
	xc->um.unmask = unmask_cb;
	xc->um.holdback = holdback_cb;
	xc->um.ctx = xc->ms;
	if (!bedrock) {
		xc->sse = sse_new(ex->arena, &xc->um, emit, ex);
		if (xc->sse == NULL)
			return MG_ENOMEM;
		exchange_add_header(ex, "Cache-Control", "no-cache");
		exchange_add_header(ex, "X-Accel-Buffering", "no");
		exchange_start(ex, 200, xc->content_type);
		exchange_write(ex, NULL, 0, 1);
		return MG_OK;
	}
	xc->bs = bedrock_stream_new(ex->arena, &xc->um, emit, ex);
	if (xc->bs == NULL)
		return MG_ENOMEM;
	if (xc->wire->translate) {
		/* a /v1/messages client: the same events as SSE */
		bedrock_stream_sse_out(xc->bs);
		exchange_add_header(ex, "Cache-Control", "no-cache");
		exchange_add_header(ex, "X-Accel-Buffering", "no");
		exchange_start(ex, 200, "text/event-stream; charset=utf-8");
	} else {
		exchange_start(ex, 200, xc->content_type);	/* exactly as Bedrock sent it */
	}
	exchange_write(ex, NULL, 0, 1);
	return MG_OK;
}

enum mg_err
exchange_on_body(void *ctx, const char *data, size_t len)
{
	struct exchange_call *xc = ctx;
	enum mg_err rc;

	if (xc->sse == NULL && xc->bs == NULL && !xc->ex->started && xc->ms != NULL &&
	    xc->body.len == 0 && xc->call->status == 200 && xc->content_type != NULL) {
		rc = start_stream(xc);
		if (rc != MG_OK)
			return rc;
	}
	if (xc->sse != NULL)
		return sse_feed(xc->sse, data, len);
	if (xc->bs != NULL)
		return bedrock_stream_feed(xc->bs, data, len);
	if (xc->body.len + len > EXCHANGE_MAX_RESPONSE)
		return MG_ETOOBIG;
	return buf_append(&xc->body, data, len);
}

int
exchange_finish_stream(struct exchange_call *xc, enum mg_err rc, const char *error)
{
	struct exchange *ex = xc->ex;

	if (xc->sse == NULL && xc->bs == NULL)
		return 0;
	/* on a broken stream the rewriter sends the client an error event or frame */
	if (xc->sse != NULL) {
		if (rc == MG_OK || rc == MG_EUPSTREAM || rc == MG_ETIMEOUT)
			sse_finish(xc->sse);
		ex->out.usage = *sse_usage(xc->sse);
	} else {
		if (rc == MG_OK || rc == MG_EUPSTREAM || rc == MG_ETIMEOUT)
			bedrock_stream_finish(xc->bs);
		ex->out.usage = *bedrock_stream_usage(xc->bs);
	}
	if (rc != MG_OK) {
		outcome_set(&ex->out, rc == MG_EIO ? OUT_CLIENT_GONE : OUT_UPSTREAM);
		log_warn("rid=%s stream ended early: %s%s%s", ex->request_id, mg_strerror(rc),
		    error[0] ? ": " : "", error);
	}
	return 1;
}

void
exchange_send_buffered(struct exchange_call *xc, int status)
{
	struct exchange *ex = xc->ex;
	struct json_object *root = NULL;
	const char *ct = xc->content_type != NULL ? xc->content_type : "application/json";
	char err[256];

	if (xc->unmask_json && status >= 200 && status < 300) {
		struct jwalk_xform xf = { unmask_plain_cb, xc->ms, NULL };
		struct jwalk_xform xf_tool = { unmask_tool_cb, xc->ms, NULL };
		size_t len;
		char *out;
		enum mg_err rc;

		if (jwalk_parse(xc->body.data != NULL ? xc->body.data : "", xc->body.len, &root,
		    err, sizeof(err)) != MG_OK) {
			exchange_refuse(ex, OUT_UPSTREAM, 502, ET_API,
			    "upstream sent a response that is not JSON");
			return;
		}
		jwalk_response_usage(root, &ex->out.usage);
		rc = jwalk_unmask_response(root, ex->arena, &xf, &xf_tool);
		out = rc == MG_OK ? jwalk_serialize(root, ex->arena, &len) : NULL;
		jwalk_free(root);
		if (out == NULL) {
			/* the upstream answered: no refusal, a failure of ours */
			exchange_refuse(ex, OUT_OK, 503, ET_API, "restoring the response failed (%s)",
			    mg_strerror(rc == MG_OK ? MG_ENOMEM : rc));
			return;
		}
		if (ex->env->cfg->spend_headers) {
			/* our own time: masking the request and restoring the answer */
			char ms[32];
			snprintf(ms, sizeof(ms), "%ld",
			    (long)(mg_now_ms() - ex->t_start) - ex->out.upstream_ms);
			exchange_add_header(ex, "x-maskgate-overhead-ms", ms);
		}
		exchange_start(ex, status, ct);
		exchange_write(ex, out, len, 0);
		return;
	}
	/* errors and non-Messages bodies go back exactly as received */
	if (status >= 500)
		outcome_set(&ex->out, OUT_UPSTREAM);
	exchange_start(ex, status, ct);
	exchange_write(ex, xc->body.data, xc->body.len, 0);
}
