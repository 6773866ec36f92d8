/*
 * exchange_upstream.c - what goes upstream: the client's headers a
 * gateway may forward (each scanned like body text), the API's query
 * parameters with masked values, our credential or the caller's own
 * (BYOK), the loop mark, the cloud route's URL and signature, and the
 * call itself. The response goes to exchange_restore.c.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "crypto.h"
#include "exchange_int.h"
#include "log.h"
#include "mask.h"
#include "upstream.h"
#include "wire.h"

#define HOP_HEADER "x-maskgate-hop"
/* gateways a request may pass before it is taken for a loop (508) */
#define MAX_HOPS 4

/* Client headers that never go upstream: hop-by-hop, credentials, ours. */
static const char *const drop_request_headers[] = {
	"host", "connection", "keep-alive", "proxy-connection", "te", "trailer",
	"transfer-encoding", "upgrade", "content-length", "expect", "accept-encoding",
	"x-api-key", "authorization", "proxy-authorization", "cookie", "proxy",
	"x-maskgate-key", HOP_HEADER, "x-forwarded-for", "x-forwarded-host",
	"x-forwarded-proto", "x-real-ip", "forwarded", "via",
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
 * If it cannot be computed the mark is empty, which never matches. The
 * last one computed is kept (every request needs it), with its data key.
 */
static void
hop_mark(const struct cfg *c, char out[33])
{
	static unsigned char key[sizeof(c->data_key)];
	static char mark[33];
	unsigned char h[CRYPTO_HASH_LEN];

	if (mark[0] != '\0' && memcmp(key, c->data_key, sizeof(key)) == 0) {
		memcpy(out, mark, sizeof(mark));
		return;
	}
	if (CRYPTO_DERIVE(c->data_key, sizeof(c->data_key), "maskgate hop v1", h) != MG_OK) {
		out[0] = '\0';
		return;
	}
	crypto_hex(out, h, 16);
	memcpy(key, c->data_key, sizeof(key));
	memcpy(mark, out, sizeof(mark));
}

static void
add_request_header(void *ctx, const char *name, const char *value)
{
	struct exchange_call *xc = ctx;
	struct arena *a = xc->ex->arena;
	struct curl_slist *n;
	struct buf scan;
	char *line;
	size_t len;
	enum mg_err rc;

	if (xc->header_refused != NULL ||
	    listed(drop_request_headers, MG_NELEM(drop_request_headers), name))
		return;
	if (wire_drop_header(xc->wire, name))
		return;	/* the client's own cloud credentials; ours are added */
	line = arena_printf(a, "%s: %s", name, value);
	if (line == NULL) {
		xc->header_refused = "-";
		xc->header_rc = MG_ENOMEM;
		return;
	}
	/*
	 * Every forwarded header is scanned like body text, its name giving
	 * context to its value ("x-aws-secret-access-key: ..."). A header goes
	 * up byte for byte only when clean: one the rules find anything in is
	 * refused, since a value half recognised would half leak.
	 */
	len = strlen(line);
	buf_init(&scan, a);
	rc = mask_text(xc->ms, line, len, &scan);
	if (rc != MG_OK || scan.len != len || memcmp(scan.data, line, len) != 0) {
		xc->header_refused = arena_strdup(a, name);
		xc->header_rc = rc;
		if (xc->header_refused == NULL)
			xc->header_refused = "-";
		return;
	}
	n = curl_slist_append(xc->headers, line);
	if (n == NULL) {
		xc->header_refused = "-";
		xc->header_rc = MG_ENOMEM;
		return;
	}
	xc->headers = n;
}

static enum mg_err
append_header(struct exchange_call *xc, const char *line)
{
	struct curl_slist *n = curl_slist_append(xc->headers, line);

	if (n == NULL)
		return MG_ENOMEM;
	xc->headers = n;
	return MG_OK;
}

int
exchange_plain_value(const char *v, size_t len)
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
filter_query(struct exchange_call *xc)
{
	struct buf out;
	const char *p = xc->ex->query;

	buf_init(&out, xc->ex->arena);
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
			    (eq == NULL || exchange_plain_value(eq + 1, len - nlen - 1))) {
				buf_appendc(&out, out.len == 0 ? '?' : '&');
				buf_append(&out, p, nlen + (eq != NULL));
				if (eq != NULL && mask_text(xc->ms, eq + 1, len - nlen - 1, &out) != MG_OK)
					return NULL;
			}
		}
		p += len + (amp != NULL);
	}
	return out.data != NULL ? out.data : "";
}

static enum mg_err
add_signed_header(void *ctx, const char *line)
{
	return append_header(ctx, line);
}

/*
 * A cloud route's upstream URL (the policy's target model) and credentials
 * for exactly this body. 0 when refused (answered).
 */
static int
wire_target(struct exchange_call *xc, struct up_call *call, const char *body, size_t body_len)
{
	struct exchange *ex = xc->ex;
	const struct cfg *c = ex->env->cfg;
	const char *ct = ex->io->header(ex->io_ctx, "content-type");
	char err[256];
	enum mg_err rc;

	err[0] = '\0';
	call->url = wire_upstream_url(c, ex->arena, xc->wire, xc->model, err, sizeof(err));
	/* as for the Anthropic API: the client's label only when it is plain */
	if (ct == NULL || (strcasecmp(ct, "application/json") != 0 &&
	    strcasecmp(ct, "application/json; charset=utf-8") != 0))
		ct = "application/json";
	rc = call->url != NULL ? wire_sign(c, ex->arena, xc->wire, call->url, ct, body, body_len,
	    add_signed_header, xc, err, sizeof(err)) : MG_EINVAL;
	if (rc == MG_OK)
		return 1;
	log_error("rid=%s %s upstream not called: %s", ex->request_id,
	    xc->wire->kind == WIRE_BEDROCK ? "Bedrock" : "Vertex", err);
	if (rc == MG_EUPSTREAM)
		exchange_refuse(ex, OUT_UPSTREAM, 502, ET_API, "%s", err);
	else
		exchange_refuse(ex, OUT_FAIL_CLOSED, 503, ET_API, "%s", err);
	return 0;
}

/* Refuses the request for the header add_request_header() would not forward. */
static void
refuse_header(struct exchange_call *xc)
{
	struct exchange *ex = xc->ex;

	if (xc->header_rc != MG_OK && exchange_mint_refused(ex))
		return;
	if (xc->header_rc == MG_OK || xc->header_rc == MG_EBLOCKED)
		exchange_refuse(ex, OUT_BLOCK_RULE, 400, ET_INVALID_REQUEST, "request header %s "
		    "carries a value this gateway masks, so it is not forwarded; remove it and "
		    "retry", xc->header_refused);
	else
		exchange_refuse(ex, OUT_FAIL_CLOSED, 503, ET_API, "masking a request header "
		    "failed (%s); request not forwarded", mg_strerror(xc->header_rc));
}

/* Our credential, or on BYOK only the caller's own. */
static enum mg_err
add_credentials(struct exchange_call *xc)
{
	struct exchange *ex = xc->ex;
	const struct principal *p = &ex->principal;
	const struct cfg *c = ex->env->cfg;
	char *line;

	if (xc->wire != NULL)
		return MG_OK;	/* a cloud route: Content-Type and credentials from wire_sign() */
	if (p->byok) {
		/* only the caller's own credential, as auth_authenticate() chose it */
		if (p->byok_api_key != NULL) {
			line = arena_printf(ex->arena, "x-api-key: %s", p->byok_api_key);
			if (line == NULL || append_header(xc, line) != MG_OK)
				return MG_ENOMEM;
		}
		if (p->byok_authorization != NULL) {
			line = arena_printf(ex->arena, "authorization: %s", p->byok_authorization);
			if (line == NULL || append_header(xc, line) != MG_OK)
				return MG_ENOMEM;
		}
		return MG_OK;
	}
	if (c->upstream_api_key != NULL) {
		line = arena_printf(ex->arena, "x-api-key: %s", c->upstream_api_key);
		if (line == NULL || append_header(xc, line) != MG_OK)
			return MG_ENOMEM;
	}
	return MG_OK;
}

/* The loop mark, Expect and Content-Type lines. */
static enum mg_err
add_own_headers(struct exchange_call *xc, int has_body)
{
	struct exchange *ex = xc->ex;
	const char *hops, *ct;
	char mark[33], *line;

	hop_mark(ex->env->cfg, mark);
	if (mark[0] == '\0')
		return MG_ENOMEM;
	/* earlier gateways' marks stay: a loop through several instances stops */
	hops = ex->io->header(ex->io_ctx, HOP_HEADER);
	line = hops != NULL && *hops != '\0' ?
	    arena_printf(ex->arena, "%s: %s, %s", HOP_HEADER, hops, mark) :
	    arena_printf(ex->arena, "%s: %s", HOP_HEADER, mark);
	if (line == NULL || append_header(xc, line) != MG_OK || append_header(xc, "Expect:") != MG_OK)
		return MG_ENOMEM;
	if (!has_body || xc->wire != NULL)
		return MG_OK;
	/*
	 * CONTENT_TYPE is no HTTP_* parameter, so it is not among the
	 * forwarded headers, and libcurl would label the POST
	 * x-www-form-urlencoded. The client's label as sent when it is plain;
	 * parameters could carry anything.
	 */
	ct = ex->io->header(ex->io_ctx, "content-type");
	line = arena_printf(ex->arena, "Content-Type: %s", ct != NULL &&
	    (strcasecmp(ct, "application/json") == 0 ||
	    strcasecmp(ct, "application/json; charset=utf-8") == 0) ? ct : "application/json");
	return line != NULL ? append_header(xc, line) : MG_ENOMEM;
}

/* The answer once up_perform() returned rc. */
static void
answer(struct exchange_call *xc, const struct up_call *call, enum mg_err rc)
{
	struct exchange *ex = xc->ex;

	if (exchange_finish_stream(xc, rc, call->error)) {
		ex->out.status = 200;
		return;
	}
	switch (rc) {
	case MG_OK:
		exchange_send_buffered(xc, (int)call->status);
		return;
	case MG_ETIMEOUT:
		exchange_refuse(ex, OUT_UPSTREAM, 504, ET_TIMEOUT, "upstream timed out");
		return;
	case MG_EUPSTREAM:
		log_warn("rid=%s upstream failed: %s", ex->request_id, call->error);
		exchange_refuse(ex, OUT_UPSTREAM, 502, ET_API,
		    "upstream unreachable or broke the connection");
		return;
	case MG_ETOOBIG:
		exchange_refuse(ex, OUT_UPSTREAM, 502, ET_API, "upstream response too large");
		return;
	case MG_EIO:
		log_info("rid=%s client went away; upstream transfer aborted", ex->request_id);
		outcome_set(&ex->out, OUT_CLIENT_GONE);
		ex->out.status = 499;
		return;
	default:
		exchange_refuse(ex, OUT_OK, 503, ET_API, "restoring the response failed (%s)",
		    mg_strerror(rc));
		return;
	}
}

static int
client_gone(void *ctx)
{
	struct exchange *ex = ((struct exchange_call *)ctx)->ex;

	return ex->io->client_gone(ex->io_ctx);
}

void
exchange_forward(struct exchange_call *xc, const char *method, const char *body,
    size_t body_len)
{
	struct exchange *ex = xc->ex;
	const struct cfg *c = ex->env->cfg;
	struct up_call call;
	const char *query;
	enum mg_err rc;
	double t0;

	memset(&call, 0, sizeof(call));
	/* cppcheck-suppress autoVariables ; read only by the curl callbacks inside up_perform() below */
	xc->call = &call;
	ex->io->each_header(ex->io_ctx, add_request_header, xc);
	if (xc->header_refused != NULL) {
		refuse_header(xc);
		goto out;
	}
	if (add_own_headers(xc, body != NULL) != MG_OK || add_credentials(xc) != MG_OK)
		goto oom;
	call.method = method;
	if (xc->wire != NULL) {
		if (!wire_target(xc, &call, body, body_len))
			goto out;
	} else {
		query = filter_query(xc);
		if (query == NULL) {
			exchange_refuse(ex, OUT_FAIL_CLOSED, 503, ET_API,
			    "masking failed; request not forwarded");
			goto out;
		}
		call.url = arena_printf(ex->arena, "%s%s%s", c->upstream_url, ex->path, query);
		if (call.url == NULL)
			goto oom;
	}
	call.headers = xc->headers;
	call.body = body;
	call.body_len = body_len;
	call.on_header = exchange_on_header;
	call.on_body = exchange_on_body;
	call.client_gone = client_gone;
	call.ctx = xc;

	t0 = mg_now_ms();
	rc = up_perform(c, &call);
	ex->out.upstream_ms = (long)(mg_now_ms() - t0);
	if (call.ttfb_ms > 0)
		ex->out.ttfb_ms = (long)call.ttfb_ms;
	answer(xc, &call, rc);
	goto out;
oom:
	exchange_refuse(ex, OUT_OK, 500, ET_API, "out of memory");
out:
	curl_slist_free_all(xc->headers);
	xc->headers = NULL;
	xc->call = NULL;
}

/*
 * Refuses a request that carries this instance's own loop mark, or that
 * already passed MAX_HOPS gateways. Every mark is kept on the way up
 * (add_own_headers() appends ours), so two instances with different data
 * keys pointing at each other stop at the second pass instead of looping
 * until the upstream timeout. Runs before authentication: a looped request
 * carries the upstream key, not a caller's.
 */
int
exchange_loop_detected(struct exchange *ex)
{
	const char *hop = ex->io->header(ex->io_ctx, HOP_HEADER), *p;
	char mark[33];
	int hops = 0, own = 0;

	if (hop == NULL)
		return 0;
	hop_mark(ex->env->cfg, mark);
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
			exchange_refuse(ex, OUT_OK, 400, ET_INVALID_REQUEST,
			    "%s: malformed loop mark", HOP_HEADER);
			return 1;
		}
		hops++;
		if (mark[0] != '\0' && n == strlen(mark) && memcmp(p, mark, n) == 0)
			own = 1;
		p += n;
	}
	if (own) {
		exchange_refuse(ex, OUT_OK, 508, ET_INVALID_REQUEST, "request loop: this request "
		    "already passed this maskgate; MASKGATE_UPSTREAM_URL points (directly or "
		    "through other gateways) at maskgate instead of the Anthropic API");
		return 1;
	}
	if (hops >= MAX_HOPS) {
		exchange_refuse(ex, OUT_OK, 508, ET_INVALID_REQUEST, "request loop: this request "
		    "already passed %d maskgate instances; check MASKGATE_UPSTREAM_URL of each",
		    hops);
		return 1;
	}
	return 0;
}
