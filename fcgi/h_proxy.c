/*
 * h_proxy.c - /v1/messages, /v1/messages/count_tokens and /v1/models, and
 * the same Messages exchange on the Bedrock (/model/...) and Vertex
 * (/v1/projects/...) routes: mask the request, forward it with libcurl,
 * restore the response (JSON, SSE or AWS event-stream, event by event) and
 * pass everything else through unchanged. A cloud route differs only in
 * what wire.h decides: model from the path, upstream URL, signing.
 *
 * Fail closed: if masking fails for any reason the request is refused with
 * 503 and nothing is sent upstream.
 */
#include <ctype.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "bedrock_stream.h"
#include "crypto.h"
#include "jwalk.h"
#include "log.h"
#include "mask.h"
#include "metrics.h"
#include "peer.h"
#include "proxy.h"
#include "route.h"
#include "sse.h"
#include "upstream.h"
#include "wire.h"
#include "worker.h"

#define PROXY_MAX_RESPONSE (64u * 1024 * 1024)
#define HOP_HEADER "x-maskgate-hop"
/* gateways a request may pass before it is taken for a loop (508) */
#define PROXY_MAX_HOPS 4

struct proxy {
	struct request *req;
	struct proxy_mint mint;
	struct mask_session *ms;	/* NULL: nothing to unmask (models) */
	int unmask_json;		/* restore a Messages JSON response */
	const char *content_type;
	struct buf body;		/* buffered non-streaming response */
	struct sse *sse;		/* set once a 200 event stream starts */
	struct bedrock_stream *bs;	/* or a 200 Bedrock event stream */
	const struct wire_route *wire;	/* Bedrock/Vertex route; NULL: Anthropic */
	enum mg_err body_error;
	struct curl_slist *headers;
	struct up_call *call;
	const struct principal *principal;
	struct jwalk_usage usage;	/* from the response, for spend */
	const char *model;		/* the target model (cloud routes: for the URL) */
	const char *header_refused;	/* a request header not forwarded, or NULL */
	enum mg_err header_rc;		/* why: MG_OK/MG_EBLOCKED = it held a value */
	double peer_checked_ms;		/* last client connection check (client_gone) */
	struct sse_unmasker um;		/* the rewriter keeps a pointer to it */
};

/* Client headers that never go upstream: hop-by-hop, credentials, ours. */
static const char *const drop_request_headers[] = {
	"host", "connection", "keep-alive", "proxy-connection", "te", "trailer",
	"transfer-encoding", "upgrade", "content-length", "expect", "accept-encoding",
	"x-api-key", "authorization", "proxy-authorization", "cookie", "proxy",
	"x-maskgate-key", HOP_HEADER, "x-forwarded-for", "x-forwarded-host",
	"x-forwarded-proto", "x-real-ip", "forwarded", "via",
};

/* Upstream headers the web server or we ourselves set. */
static const char *const drop_response_headers[] = {
	"connection", "keep-alive", "transfer-encoding", "content-length",
	"content-encoding", "upgrade", "trailer", "status", "set-cookie",
};

/* Query parameters the Anthropic API defines; others are not forwarded. */
static const char *const query_params[] = { "beta", "limit", "before_id", "after_id" };

static int
listed(const char *const *list, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcasecmp(list[i], name) == 0)
			return 1;
	return 0;
}

/*
 * This instance's loop mark: stable per data key, meaningless outside.
 * If it cannot be computed the mark is empty, which never matches.
 */
static void
hop_mark(const struct cfg *c, char out[33])
{
	unsigned char h[CRYPTO_HASH_LEN];

	if (CRYPTO_DERIVE(c->data_key, sizeof(c->data_key), "maskgate hop v1", h) != MG_OK) {
		out[0] = '\0';
		return;
	}
	crypto_hex(out, h, 16);
}

static void
add_request_header(void *ctx, const char *name, const char *value)
{
	struct proxy *px = ctx;
	struct curl_slist *n;
	struct buf scan;
	char *line;
	size_t len;
	enum mg_err rc;

	if (px->header_refused != NULL ||
	    listed(drop_request_headers, MG_NELEM(drop_request_headers), name))
		return;
	if (wire_drop_header(px->wire, name))
		return;	/* the client's own cloud credentials; ours are added */
	line = arena_printf(px->req->arena, "%s: %s", name, value);
	if (line == NULL) {
		px->header_refused = "-";
		px->header_rc = MG_ENOMEM;
		return;
	}
	/*
	 * Every forwarded header is scanned like body text, its name giving
	 * context to its value ("x-aws-secret-access-key: ..."). A header goes
	 * up byte for byte only when clean: one the rules find anything in is
	 * refused, since a value half recognised would half leak.
	 */
	len = strlen(line);
	buf_init(&scan, px->req->arena);
	rc = mask_text(px->ms, line, len, &scan);
	if (rc != MG_OK || scan.len != len || memcmp(scan.data, line, len) != 0) {
		px->header_refused = arena_strdup(px->req->arena, name);
		px->header_rc = rc;
		if (px->header_refused == NULL)
			px->header_refused = "-";
		return;
	}
	n = curl_slist_append(px->headers, line);
	if (n == NULL) {
		px->header_refused = "-";
		px->header_rc = MG_ENOMEM;
		return;
	}
	px->headers = n;
}

static enum mg_err
append_header(struct proxy *px, const char *line)
{
	struct curl_slist *n = curl_slist_append(px->headers, line);

	if (n == NULL)
		return MG_ENOMEM;
	px->headers = n;
	return MG_OK;
}

/* A query value made only of characters that need no URL encoding. */
static int
plain_value(const char *v, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)v[i]) && v[i] != '-' && v[i] != '_' && v[i] != '.')
			return 0;
	return 1;
}

/*
 * Keeps only the query parameters the API defines, with their values
 * masked like any other text; a value that would need URL decoding is
 * dropped rather than forwarded unread. Returns NULL if masking failed.
 */
static const char *
filter_query(struct proxy *px)
{
	struct request *req = px->req;
	struct buf out;
	const char *p = req->query;

	buf_init(&out, req->arena);
	while (*p != '\0') {
		const char *amp = strchr(p, '&'), *eq;
		size_t len = amp != NULL ? (size_t)(amp - p) : strlen(p);
		char name[32];
		size_t nlen;

		eq = memchr(p, '=', len);
		nlen = eq != NULL ? (size_t)(eq - p) : len;
		if (nlen < sizeof(name)) {
			memcpy(name, p, nlen);
			name[nlen] = '\0';
			if (listed(query_params, MG_NELEM(query_params), name) &&
			    (eq == NULL || plain_value(eq + 1, len - nlen - 1))) {
				buf_appendc(&out, out.len == 0 ? '?' : '&');
				buf_append(&out, p, nlen + (eq != NULL));
				if (eq != NULL && mask_text(px->ms, eq + 1, len - nlen - 1, &out) != MG_OK)
					return NULL;
			}
		}
		p += len + (amp != NULL);
	}
	return out.data != NULL ? out.data : "";
}

static enum mg_err
on_header(void *ctx, const char *name, const char *value)
{
	struct proxy *px = ctx;

	if (strcmp(name, "content-type") == 0) {
		px->content_type = arena_strdup(px->req->arena, value);
		return MG_OK;
	}
	if (strcmp(name, "request-id") == 0) {
		const char *p;
		for (p = value; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				return MG_OK;	/* never split our own header block */
		px->req->upstream_request_id = arena_strdup(px->req->arena, value);
		return MG_OK;
	}
	if (listed(drop_response_headers, MG_NELEM(drop_response_headers), name))
		return MG_OK;
	if (!px->req->started)
		http_add_header(px->req, name, value);
	return MG_OK;
}

static enum mg_err
sse_emit(void *ctx, const char *bytes, size_t len)
{
	struct request *req = ctx;
	enum mg_err rc = http_write(req, bytes, len);

	return rc == MG_OK ? http_flush(req) : rc;
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
mask_cb(void *ctx, const char *in, size_t len, struct buf *out)
{
	return mask_text(ctx, in, len, out);
}

static enum mg_err
mask_keyed_cb(void *ctx, const char *key, size_t keylen, const char *in, size_t len,
    struct buf *out)
{
	return mask_text_keyed(ctx, key, keylen, in, len, out);
}

static unsigned long
provisional_cb(void *ctx)
{
	return mask_provisional(ctx);
}

static enum mg_err
resolve_cb(void *ctx, int *again)
{
	return mask_resolve(ctx, again);
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

static enum mg_err
on_body(void *ctx, const char *data, size_t len)
{
	struct proxy *px = ctx;
	struct request *req = px->req;

	if (px->sse == NULL && !req->started && px->ms != NULL && px->body.len == 0 &&
	    px->call->status == 200 && px->content_type != NULL &&
	    strncasecmp(px->content_type, "text/event-stream", 17) == 0) {
		px->um.unmask = unmask_cb;
		px->um.holdback = holdback_cb;
		px->um.ctx = px->ms;
		px->sse = sse_new(req->arena, &px->um, sse_emit, req);
		if (px->sse == NULL)
			return MG_ENOMEM;
		http_add_header(req, "Cache-Control", "no-cache");
		http_add_header(req, "X-Accel-Buffering", "no");
		http_start(req, 200, px->content_type);
		http_flush(req);
	}
	if (px->sse == NULL && px->bs == NULL && !req->started && px->ms != NULL &&
	    px->body.len == 0 && px->call->status == 200 && px->content_type != NULL &&
	    px->wire != NULL && px->wire->kind == WIRE_BEDROCK &&
	    strncasecmp(px->content_type, WIRE_EVENTSTREAM, strlen(WIRE_EVENTSTREAM)) == 0) {
		px->um.unmask = unmask_cb;
		px->um.holdback = holdback_cb;
		px->um.ctx = px->ms;
		px->bs = bedrock_stream_new(req->arena, &px->um, sse_emit, req);
		if (px->bs == NULL)
			return MG_ENOMEM;
		if (px->wire->translate) {
			/* a /v1/messages client: the same events as SSE */
			bedrock_stream_sse_out(px->bs);
			http_add_header(req, "Cache-Control", "no-cache");
			http_add_header(req, "X-Accel-Buffering", "no");
			http_start(req, 200, "text/event-stream; charset=utf-8");
		} else
			http_start(req, 200, px->content_type);	/* exactly as Bedrock sent it */
		http_flush(req);
	}
	if (px->sse != NULL)
		return sse_feed(px->sse, data, len);
	if (px->bs != NULL)
		return bedrock_stream_feed(px->bs, data, len);
	if (px->body.len + len > PROXY_MAX_RESPONSE) {
		px->body_error = MG_ETOOBIG;
		return MG_ETOOBIG;
	}
	return buf_append(&px->body, data, len);
}

/*
 * The web server closes or aborts the FastCGI connection when its client
 * goes away; nothing else arrives on it after the request body.
 */
static int
client_gone(void *ctx)
{
	struct proxy *px = ctx;
	struct pollfd pfd;
	double now;

	if (px->req->client_gone)
		return 1;
	if (px->req->fcgx == NULL)
		return 0;
	pfd.fd = px->req->fcgx->ipcFd;
	pfd.events = POLLIN | POLLRDHUP;
	pfd.revents = 0;
	if (poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLIN | POLLRDHUP | POLLHUP | POLLERR))) {
		px->req->client_gone = 1;
		return 1;
	}
	/*
	 * lighttpd does not drop us when its client closes: it cannot tell a
	 * close from a half-close until it writes, and a non-streaming
	 * request writes nothing until the end. Ask the kernel, once a second.
	 */
	now = mg_now_ms();
	if (now - px->peer_checked_ms < 1000)
		return 0;
	px->peer_checked_ms = now;
	if (peer_closed(http_param(px->req, "SERVER_ADDR"), http_param(px->req, "SERVER_PORT"),
	    http_param(px->req, "REMOTE_ADDR"), http_param(px->req, "REMOTE_PORT"))) {
		px->req->client_gone = 1;
		return 1;
	}
	return 0;
}

static int
is_json_content_type(const char *ct)
{
	return ct == NULL || *ct == '\0' || strncasecmp(ct, "application/json", 16) == 0;
}

static void
send_buffered(struct proxy *px)
{
	struct request *req = px->req;
	long status = req->status;
	struct json_object *root = NULL;
	const char *ct = px->content_type != NULL ? px->content_type : "application/json";
	char err[256];

	if (px->unmask_json && status >= 200 && status < 300) {
		struct jwalk_xform xf = { unmask_plain_cb, px->ms, NULL };
		struct jwalk_xform xf_tool = { unmask_tool_cb, px->ms, NULL };
		size_t len;
		char *out;
		enum mg_err rc;

		if (jwalk_parse(px->body.data != NULL ? px->body.data : "", px->body.len, &root,
		    err, sizeof(err)) != MG_OK) {
			http_error(req, 502, ET_API, "upstream sent a response that is not JSON");
			return;
		}
		jwalk_response_usage(root, &px->usage);
		rc = jwalk_unmask_response(root, req->arena, &xf, &xf_tool);
		out = rc == MG_OK ? jwalk_serialize(root, req->arena, &len) : NULL;
		jwalk_free(root);
		if (out == NULL) {
			http_error(req, 503, ET_API, "restoring the response failed (%s)",
			    mg_strerror(rc == MG_OK ? MG_ENOMEM : rc));
			return;
		}
		if (req->worker->cfg->spend_headers) {
			/* our own time: masking the request and restoring the answer */
			char ms[32];
			snprintf(ms, sizeof(ms), "%ld",
			    (long)(mg_now_ms() - req->t_start) - req->upstream_ms);
			http_add_header(req, "x-maskgate-overhead-ms", ms);
		}
		http_start(req, (int)status, ct);
		http_write(req, out, len);
		return;
	}
	/* errors and non-Messages bodies go back exactly as received */
	http_start(req, (int)status, ct);
	http_write(req, px->body.data, px->body.len);
}

static enum mg_err
add_signed_header(void *ctx, const char *line)
{
	return append_header(ctx, line);
}

/*
 * A cloud route's upstream URL (the policy's target model) and credentials
 * for exactly this body. 0 when refused (answered, headers freed).
 */
static int
wire_target(struct proxy *px, struct up_call *call, const char *body, size_t body_len)
{
	struct request *req = px->req;
	const char *ct = http_header(req, "content-type");
	char err[256];
	enum mg_err rc;

	err[0] = '\0';
	call->url = wire_upstream_url(req->worker->cfg, req->arena, px->wire, px->model, err,
	    sizeof(err));
	/* as for the Anthropic API: the client's label only when it is plain */
	if (ct == NULL || (strcasecmp(ct, "application/json") != 0 &&
	    strcasecmp(ct, "application/json; charset=utf-8") != 0))
		ct = "application/json";
	rc = call->url != NULL ? wire_sign(req->worker->cfg, req->arena, px->wire, call->url,
	    ct, body, body_len,
	    add_signed_header, px, err, sizeof(err)) : MG_EINVAL;
	if (rc == MG_OK)
		return 1;
	curl_slist_free_all(px->headers);
	px->headers = NULL;
	log_error("rid=%s %s upstream not called: %s", req->request_id,
	    px->wire->kind == WIRE_BEDROCK ? "Bedrock" : "Vertex", err);
	if (rc == MG_EUPSTREAM)
		http_error(req, 502, ET_API, "%s", err);
	else
		http_error(req, 503, ET_API, "%s", err);
	return 0;
}

/* Forwards the (already masked) body and writes the response. */
static void
forward(struct proxy *px, const char *method, const char *body, size_t body_len)
{
	struct request *req = px->req;
	const struct cfg *c = req->worker->cfg;
	struct up_call call;
	const char *query, *hops;
	char mark[33], *line;
	enum mg_err rc;
	double t0;

	memset(&call, 0, sizeof(call));
	/* cppcheck-suppress autoVariables ; read only by the curl callbacks inside up_perform() below */
	px->call = &call;
	http_each_header(req, add_request_header, px);
	if (px->header_refused != NULL) {
		curl_slist_free_all(px->headers);
		px->headers = NULL;
		if (px->header_rc != MG_OK && proxy_mint_refused(req, &px->mint))
			return;
		if (px->header_rc == MG_OK || px->header_rc == MG_EBLOCKED) {
			req->reject_reason = MR_BLOCK_RULE;
			http_error(req, 400, ET_INVALID_REQUEST, "request header %s carries a value "
			    "this gateway masks, so it is not forwarded; remove it and retry",
			    px->header_refused);
		} else {
			http_error(req, 503, ET_API, "masking a request header failed (%s); request "
			    "not forwarded", mg_strerror(px->header_rc));
		}
		return;
	}
	hop_mark(c, mark);
	if (mark[0] == '\0')
		goto oom;
	/* earlier gateways' marks stay: a loop through several instances stops */
	hops = http_header(req, HOP_HEADER);
	line = hops != NULL && *hops != '\0' ?
	    arena_printf(req->arena, "%s: %s, %s", HOP_HEADER, hops, mark) :
	    arena_printf(req->arena, "%s: %s", HOP_HEADER, mark);
	if (line == NULL || append_header(px, line) != MG_OK || append_header(px, "Expect:") != MG_OK)
		goto oom;
	if (body != NULL && px->wire == NULL) {
		/*
		 * CONTENT_TYPE is no HTTP_* parameter, so it is not among the
		 * forwarded headers, and libcurl would label the POST
		 * x-www-form-urlencoded. The body is JSON maskgate serialised.
		 */
		const char *ct = http_header(req, "content-type");
		/* the client's label as sent when it is plain; parameters could carry anything */
		line = arena_printf(req->arena, "Content-Type: %s", ct != NULL &&
		    (strcasecmp(ct, "application/json") == 0 ||
		    strcasecmp(ct, "application/json; charset=utf-8") == 0) ? ct :
		    "application/json");
		if (line == NULL || append_header(px, line) != MG_OK)
			goto oom;
	}
	if (px->wire != NULL) {
		/* a cloud route: Content-Type and credentials come from wire_sign() */
	} else if (px->principal != NULL && px->principal->byok) {
		/* only the caller's own credential, as keys_authenticate_ex() chose it */
		if (px->principal->byok_api_key != NULL) {
			line = arena_printf(req->arena, "x-api-key: %s", px->principal->byok_api_key);
			if (line == NULL || append_header(px, line) != MG_OK)
				goto oom;
		}
		if (px->principal->byok_authorization != NULL) {
			line = arena_printf(req->arena, "authorization: %s",
			    px->principal->byok_authorization);
			if (line == NULL || append_header(px, line) != MG_OK)
				goto oom;
		}
	} else if (c->upstream_api_key != NULL) {
		line = arena_printf(req->arena, "x-api-key: %s", c->upstream_api_key);
		if (line == NULL || append_header(px, line) != MG_OK)
			goto oom;
	}
	call.method = method;
	if (px->wire != NULL) {
		if (!wire_target(px, &call, body, body_len))
			return;
	} else {
		query = filter_query(px);
		if (query == NULL) {
			curl_slist_free_all(px->headers);
			px->headers = NULL;
			http_error(req, 503, ET_API, "masking failed; request not forwarded");
			return;
		}
		call.url = arena_printf(req->arena, "%s%s%s", c->upstream_url, req->path, query);
		if (call.url == NULL)
			goto oom;
	}
	call.headers = px->headers;
	call.body = body;
	call.body_len = body_len;
	call.on_header = on_header;
	call.on_body = on_body;
	call.client_gone = client_gone;
	call.ctx = px;

	t0 = mg_now_ms();
	rc = up_perform(c, &call);
	req->upstream_ms = (long)(mg_now_ms() - t0);
	if (call.ttfb_ms > 0)
		req->upstream_ttfb_ms = (long)call.ttfb_ms;
	req->status = (int)call.status;
	curl_slist_free_all(px->headers);
	px->headers = NULL;

	if (px->sse != NULL) {
		/* on a broken stream sse_finish sends the client an error event */
		if (rc == MG_OK || rc == MG_EUPSTREAM || rc == MG_ETIMEOUT)
			sse_finish(px->sse);
		px->usage = *sse_usage(px->sse);
		if (rc != MG_OK)
			log_warn("rid=%s stream ended early: %s%s%s", req->request_id,
			    mg_strerror(rc), call.error[0] ? ": " : "", call.error);
		req->status = 200;
		return;
	}
	if (px->bs != NULL) {
		/* a broken stream ends with an exception frame from bedrock_stream */
		if (rc == MG_OK || rc == MG_EUPSTREAM || rc == MG_ETIMEOUT)
			bedrock_stream_finish(px->bs);
		px->usage = *bedrock_stream_usage(px->bs);
		if (rc != MG_OK)
			log_warn("rid=%s stream ended early: %s%s%s", req->request_id,
			    mg_strerror(rc), call.error[0] ? ": " : "", call.error);
		req->status = 200;
		return;
	}
	switch (rc) {
	case MG_OK:
		send_buffered(px);
		return;
	case MG_ETIMEOUT:
		http_error(req, 504, ET_TIMEOUT, "upstream timed out");
		return;
	case MG_EUPSTREAM:
		log_warn("rid=%s upstream failed: %s", req->request_id, call.error);
		http_error(req, 502, ET_API, "upstream unreachable or broke the connection");
		return;
	case MG_ETOOBIG:
		http_error(req, 502, ET_API, "upstream response too large");
		return;
	case MG_EIO:
		log_info("rid=%s client went away; upstream transfer aborted", req->request_id);
		req->status = 499;
		return;
	default:
		http_error(req, 503, ET_API, "restoring the response failed (%s)", mg_strerror(rc));
		return;
	}
oom:
	curl_slist_free_all(px->headers);
	px->headers = NULL;
	http_error(req, 500, ET_API, "out of memory");
}

/*
 * Refuses a request that carries this instance's own loop mark, or that
 * already passed PROXY_MAX_HOPS gateways. Every mark is kept on the way up
 * (forward() appends ours), so two instances with different data keys
 * pointing at each other stop at the second pass instead of looping until
 * the upstream timeout. Runs before authentication: a looped request
 * carries the upstream key, not a caller's.
 */
int
proxy_loop_detected(struct request *req)
{
	const char *hop = http_header(req, HOP_HEADER), *p;
	char mark[33];
	int hops = 0, own = 0;

	if (hop == NULL)
		return 0;
	hop_mark(req->worker->cfg, mark);
	/* the web server joins repeated headers with ", " */
	for (p = hop; *p != '\0';) {
		size_t n;
		while (*p == ' ' || *p == ',' || *p == '\t')
			p++;
		n = strcspn(p, ", \t");
		if (n == 0)
			break;
		/* marks are forwarded as they came: nothing else may ride on them */
		if (n != 32 || strspn(p, "0123456789abcdef") < n) {
			http_error(req, 400, ET_INVALID_REQUEST, "%s: malformed loop mark", HOP_HEADER);
			return 1;
		}
		hops++;
		if (mark[0] != '\0' && n == strlen(mark) && memcmp(p, mark, n) == 0)
			own = 1;
		p += n;
	}
	if (own) {
		http_error(req, 508, ET_INVALID_REQUEST, "request loop: this request already passed "
		    "this maskgate; MASKGATE_UPSTREAM_URL points (directly or through other "
		    "gateways) at maskgate instead of the Anthropic API");
		return 1;
	}
	if (hops >= PROXY_MAX_HOPS) {
		http_error(req, 508, ET_INVALID_REQUEST, "request loop: this request already passed "
		    "%d maskgate instances; check MASKGATE_UPSTREAM_URL of each", hops);
		return 1;
	}
	return 0;
}

static void
init_proxy(struct proxy *px, struct request *req, const struct principal *p)
{
	memset(px, 0, sizeof(*px));
	px->req = req;
	px->principal = p;
	buf_init(&px->body, req->arena);
}

/*
 * One Messages exchange: on /v1/messages (wire NULL) or a Bedrock or
 * Vertex route (wire: model from the path, URL and signing from wire.c).
 */
static void
exchange(struct request *req, const struct principal *p, const struct wire_route *wire)
{
	struct worker *w = req->worker;
	struct json_object *root = NULL;
	struct keys_ticket *ticket = NULL;
	struct jwalk_xform xf;
	struct jwalk_phases phases;
	struct wire_route translated;
	struct json_object *stream;
	struct proxy px;
	const char *model = NULL;
	char err[256];
	char *body;
	size_t body_len;
	enum mg_err rc;

	init_proxy(&px, req, p);
	px.wire = wire;
	if (!is_json_content_type(http_header(req, "content-type"))) {
		http_error(req, 400, ET_INVALID_REQUEST, "content-type must be application/json");
		return;
	}
	rc = http_read_body(req, w->cfg->max_body);
	if (rc == MG_ETOOBIG) {
		http_error(req, 413, ET_REQUEST_TOO_LARGE, "request body is larger than %zu bytes",
		    w->cfg->max_body);
		return;
	}
	if (rc != MG_OK) {
		http_error(req, 400, ET_INVALID_REQUEST, "could not read the request body");
		return;
	}
	if (req->body_len == 0) {
		http_error(req, 400, ET_INVALID_REQUEST, "request body is empty; expected JSON");
		return;
	}
	if (jwalk_parse(req->body, req->body_len, &root, err, sizeof(err)) != MG_OK) {
		http_error(req, 400, ET_INVALID_REQUEST, "%s", err);
		return;
	}
	if (!proxy_model_policy(req, root, wire != NULL && !wire->count_tokens ? wire->model : NULL,
	    &model))
		goto out;
	px.model = model;
	if (wire == NULL) {
		/* MASKGATE_UPSTREAM_FORMAT: the operator's upstream is Bedrock or Vertex */
		rc = wire_translated_route(w->cfg, strcmp(req->path, "/v1/messages") != 0,
		    json_object_object_get_ex(root, "stream", &stream) &&
		    json_object_get_boolean(stream), model, &translated);
		if (rc == MG_EINVAL) {
			http_error(req, 404, ET_NOT_FOUND, "count_tokens is not available on this "
			    "gateway: its upstream is Amazon Bedrock");
			goto out;
		}
		if (rc == MG_OK) {
			wire = &translated;
			px.wire = wire;
		}
	}
	if (!proxy_admit(req, p, model, &ticket))
		goto out;
	px.ms = mask_session_new(req->arena, w->rules, w->store, p->tenant);
	if (px.ms == NULL) {
		http_error(req, 503, ET_API, "masking unavailable; request not forwarded");
		goto out;
	}
	req->mask = px.ms;
	if (!proxy_mint_begin(req, p->tenant, &px.mint))
		goto out;
	xf.fn = mask_cb;
	xf.ctx = px.ms;
	xf.keyed = mask_keyed_cb;
	/* two phases: find every span, one store read and one write, then substitute */
	phases.provisional = provisional_cb;
	phases.resolve = resolve_cb;
	phases.ctx = px.ms;
	mask_defer(px.ms);
	rc = jwalk_mask_request_phased(root, req->arena, &xf, &phases, err, sizeof(err));
	if (rc != MG_OK && proxy_mint_refused(req, &px.mint))
		goto out;
	if (rc == MG_EINVAL) {
		http_error(req, 400, ET_INVALID_REQUEST, "%s", err);
		goto out;
	}
	if (rc == MG_EBLOCKED) {
		req->reject_reason = MR_BLOCK_RULE;
		http_error(req, 400, ET_INVALID_REQUEST, "request contains a %s, which this gateway "
		    "refuses to forward; remove it and retry", mask_blocked_type(px.ms));
		goto out;
	}
	if (rc != MG_OK) {
		log_error("rid=%s masking failed (%s); request refused", req->request_id,
		    mg_strerror(rc));
		http_error(req, 503, ET_API, "masking failed (%s); request not forwarded",
		    mg_strerror(rc));
		goto out;
	}
	if (wire != NULL && wire->translate &&
	    wire_translate_body(root, wire, http_header(req, "anthropic-beta")) != MG_OK) {
		http_error(req, 500, ET_API, "out of memory");
		goto out;
	}
	/* the client's bytes, with only what masking and policy changed spliced in */
	body = jwalk_splice(root, req->body, req->body_len, req->arena, &body_len);
	if (body == NULL) {
		http_error(req, 500, ET_API, "out of memory");
		goto out;
	}
	jwalk_free(root);
	root = NULL;
	px.unmask_json = wire != NULL ? !wire->count_tokens : strcmp(req->path, "/v1/messages") == 0;
	forward(&px, "POST", body, body_len);
out:
	proxy_mint_end(req, p->tenant, &px.mint);
	jwalk_free(root);
	if (ticket != NULL) {
		if (!req->started)
			req->status = 503;	/* refused after admission */
		proxy_settle(req, ticket, model, &px.usage, px.unmask_json);
	}
}

void
h_messages(struct request *req, const struct principal *p)
{
	exchange(req, p, NULL);
}

/* Bedrock InvokeModel(WithResponseStream) and Vertex (stream)rawPredict. */
void
h_cloud(struct request *req, const struct principal *p)
{
	struct wire_route *wire = arena_alloc(req->arena, sizeof(*wire));
	enum mg_err rc;

	if (wire == NULL) {
		http_error(req, 500, ET_API, "out of memory");
		return;
	}
	rc = wire_parse_path(req->arena, req->path, wire);
	req->aws_errors = wire->kind == WIRE_BEDROCK;
	if (rc == MG_ENOTFOUND) {
		http_error(req, 404, ET_NOT_FOUND, "no route for this path");
		return;
	}
	if (rc != MG_OK) {
		http_error(req, 400, ET_INVALID_REQUEST, "malformed model id in the path");
		return;
	}
	exchange(req, p, wire);
}

/*
 * Claude Code lists Bedrock inference profiles at startup to pick model
 * ids; an empty list makes it use its defaults, which the gateway's model
 * table and allow-list then govern like any other.
 */
void
h_inference_profiles(struct request *req, const struct principal *p)
{
	(void)p;
	req->aws_errors = 1;
	http_json(req, 200, "{\"inferenceProfileSummaries\":[]}");
}

void
h_models(struct request *req, const struct principal *p)
{
	struct proxy px;

	init_proxy(&px, req, p);
	/*
	 * The only extension is one model id: dot segments (libcurl squashes
	 * them) or escapes would make this a GET of any other upstream
	 * endpoint under the server's API key.
	 */
	if (strcmp(req->path, "/v1/models") != 0) {
		const char *id = req->path + strlen("/v1/models/");
		if (!plain_value(id, strlen(id)) || strspn(id, ".") == strlen(id)) {
			http_error(req, 404, ET_NOT_FOUND, "no route for %s", req->path);
			return;
		}
	}
	/* for the query values and the model id; the model list carries nothing to restore */
	px.ms = mask_session_new(req->arena, req->worker->rules, req->worker->store, p->tenant);
	if (px.ms == NULL) {
		http_error(req, 503, ET_API, "masking unavailable; request not forwarded");
		return;
	}
	if (!proxy_mint_begin(req, p->tenant, &px.mint))
		return;
	if (strcmp(req->path, "/v1/models") != 0) {
		/* the id is forwarded like any other text: masked */
		struct buf path;
		buf_init(&path, req->arena);
		if (buf_appends(&path, "/v1/models/") != MG_OK ||
		    mask_text(px.ms, req->path + strlen("/v1/models/"),
		    strlen(req->path + strlen("/v1/models/")), &path) != MG_OK) {
			if (!proxy_mint_refused(req, &px.mint))
				http_error(req, 503, ET_API, "masking failed; request not forwarded");
			goto out;
		}
		req->path = path.data;
	}
	forward(&px, "GET", NULL, 0);
out:
	proxy_mint_end(req, p->tenant, &px.mint);
}
