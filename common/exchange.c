/*
 * exchange.c - one request's life (exchange.h), read top to bottom in
 * messages_exchange(): authenticate, admit, mask, forward, restore,
 * settle. What goes upstream is exchange_upstream.c, what comes back
 * exchange_restore.c, the model policy exchange_model.c; the limits are
 * limits.c and the write after the response spend.c.
 *
 * Fail closed: if masking fails for any reason the request is refused with
 * 503 and nothing is sent upstream.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <json-c/json.h>

#include "auth.h"
#include "exchange_int.h"
#include "mg_limits.h"
#include "log.h"
#include "mask.h"
#include "spend.h"
#include "spend_limit.h"
#include "wire.h"

void
exchange_init(struct exchange *ex, const struct exchange_io *io, void *io_ctx,
    const struct exchange_env *env, struct arena *a, const char *request_id,
    const char *method, const char *path, const char *query)
{
	memset(ex, 0, sizeof(*ex));
	ex->io = io;
	ex->io_ctx = io_ctx;
	ex->env = env;
	ex->arena = a;
	ex->request_id = request_id;
	ex->method = method;
	ex->path = path;
	ex->query = query;
	ex->t_start = mg_now_ms();
	outcome_init(&ex->out);
}

void
exchange_add_header(struct exchange *ex, const char *name, const char *value)
{
	if (!ex->started)
		ex->io->add_header(ex->io_ctx, name, value);
}

void
exchange_start(struct exchange *ex, int status, const char *content_type)
{
	if (ex->started)
		return;
	ex->started = 1;
	ex->out.status = status;
	ex->io->start(ex->io_ctx, status, content_type);
}

enum mg_err
exchange_write(struct exchange *ex, const void *data, size_t len, int flush)
{
	return ex->io->write(ex->io_ctx, data, len, flush);
}

void
exchange_refuse(struct exchange *ex, enum outcome_reason reason, int status,
    enum api_etype type, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	outcome_set(&ex->out, reason);
	if (ex->started) {
		/* too late for a status: the stream rewriter sends an error event */
		log_warn("rid=%s error after response start: %s", ex->request_id, msg);
		return;
	}
	ex->started = 1;
	ex->out.status = status;
	ex->io->error(ex->io_ctx, status, type, msg);
}

/*
 * The spend-limit 429 Claude Code shows with the cap's period and reset
 * (the Claude apps gateway contract): billing_error, x-should-retry:
 * false, retry-after to the reset; on a Bedrock route the AWS error shape
 * with the same words.
 */
static void
refuse_spend(struct exchange *ex, const struct spend_block *b)
{
	const char *msg = spend_limit_message(ex->arena, b, ex->env->cfg->spend_limit_message);
	const char *body = msg != NULL ? spend_limit_body(ex->arena, msg, ex->request_id) : NULL;
	long now = (long)time(NULL);

	if (body == NULL) {
		exchange_refuse(ex, OUT_BUDGET, 500, ET_API, "out of memory");
		return;
	}
	exchange_add_header(ex, "x-should-retry", "false");
	if (b->reset_at > now)
		exchange_add_header(ex, "retry-after", arena_printf(ex->arena, "%ld",
		    b->reset_at - now));
	if (ex->aws_errors) {
		exchange_refuse(ex, OUT_BUDGET, 429, ET_RATE_LIMIT, "%s", msg);
		return;
	}
	outcome_set(&ex->out, OUT_BUDGET);
	exchange_start(ex, 429, "application/json");
	exchange_write(ex, body, strlen(body), 0);
}

/* A key whose own max_budget is spent gets the same 429, named by its period. */
static void
refuse_budget(struct exchange *ex, long retry_after)
{
	const struct keys_record *k = ex->principal.key;
	long d = k != NULL ? k->budget_duration : -1;
	struct spend_block b;

	memset(&b, 0, sizeof(b));
	/* a key's budget_duration is any length; name the usual ones */
	b.period = d == 86400 ? "daily" : d == 7 * 86400 ? "weekly" :
	    d >= 28 * 86400 && d <= 31 * 86400 ? "monthly" : "key budget";
	b.reset_at = d > 0 && retry_after > 0 ? (long)time(NULL) + retry_after : 0;
	refuse_spend(ex, &b);
}

/* A limit's refusal, in the status and error type its reason calls for. */
static void
refuse_limit(struct exchange *ex, const struct keys_refusal *r)
{
	char retry[32];

	if (r->reason == OUT_BUDGET) {
		refuse_budget(ex, r->retry_after);
		return;
	}
	if (r->retry_after > 0) {
		snprintf(retry, sizeof(retry), "%ld", r->retry_after);
		exchange_add_header(ex, "retry-after", retry);
	}
	if (r->reason == OUT_AUTH)
		exchange_refuse(ex, r->reason, 401, ET_AUTHENTICATION, "%s", r->message);
	else if (r->reason == OUT_MODEL)
		exchange_refuse(ex, r->reason, 403, ET_PERMISSION, "%s", r->message);
	else if (r->request_cap)
		exchange_refuse(ex, r->reason, 413, ET_REQUEST_TOO_LARGE, "%s", r->message);
	else
		exchange_refuse(ex, r->reason, 429, ET_RATE_LIMIT, "%s", r->message);
}

static void
refuse_store(struct exchange *ex, enum mg_err rc)
{
	exchange_refuse(ex, OUT_FAIL_CLOSED, 503, ET_API, "key store unavailable (%s); request "
	    "not forwarded", mg_strerror(rc));
}

int
exchange_authenticate(struct exchange *ex, int proxied, int admin)
{
	const struct exchange_io *io = ex->io;
	enum outcome_reason reason = OUT_AUTH;
	const char *why = "";
	enum mg_err rc;

	if (proxied && exchange_loop_detected(ex))
		return 0;
	rc = auth_authenticate(ex->env->cfg, ex->env->store, ex->arena,
	    io->header(ex->io_ctx, "x-api-key"), io->header(ex->io_ctx, "authorization"),
	    io->header(ex->io_ctx, "x-maskgate-key"), &ex->principal, &why, &reason);
	if (rc == MG_ENOTFOUND) {
		exchange_refuse(ex, reason, 401, ET_AUTHENTICATION, "%s", why);
		return 0;
	}
	if (rc != MG_OK) {
		/* a proxied request is refused rather than forwarded unchecked */
		exchange_refuse(ex, proxied ? OUT_FAIL_CLOSED : OUT_OK, 503, ET_API,
		    "credential check failed: %s", mg_strerror(rc));
		return 0;
	}
	ex->authenticated = 1;
	ex->out.tenant = ex->principal.tenant;
	if (admin && !ex->principal.admin) {
		exchange_refuse(ex, OUT_OK, 403, ET_PERMISSION,
		    "this route needs the master key or an admin key");
		return 0;
	}
	return 1;
}

int
exchange_mint_refused(struct exchange *ex)
{
	struct keys_refusal r;

	if (!limits_mint_refused(ex->env->store, &ex->out.mint, &r))
		return 0;
	refuse_limit(ex, &r);
	return 1;
}

/*
 * A masking session for the caller's tenant (ms, when the body's reading
 * began one) and its budget of new mappings.
 */
static struct mask_session *
open_masking(struct exchange *ex, struct mask_session *ms)
{
	if (ms == NULL)
		ms = mask_session_new(ex->arena, ex->env->rules, ex->env->store,
		    ex->principal.tenant);
	if (ms == NULL) {
		exchange_refuse(ex, OUT_FAIL_CLOSED, 503, ET_API,
		    "masking unavailable; request not forwarded");
		return NULL;
	}
	ex->out.mask = ms;
	limits_mint_begin(ex->env->cfg, ex->env->store, &ex->out.mint);
	return ms;
}

/*
 * The developer's spend caps, then the key's limits for model; free: the
 * request costs nothing (count_tokens). 0 when refused (answered).
 */
static int
admit(struct exchange *ex, const char *model, int free)
{
	struct spend_block b;
	struct keys_refusal r;
	char spend[32];
	enum mg_err rc;

	rc = limits_spend_caps(ex->env->store, &ex->principal, free, &b);
	if (rc == MG_EINVAL) {
		refuse_spend(ex, &b);
		return 0;
	}
	if (rc != MG_OK) {
		exchange_refuse(ex, OUT_FAIL_CLOSED, 503, ET_API, "spend limits unavailable (%s); "
		    "request not forwarded", mg_strerror(rc));
		return 0;
	}
	rc = limits_admit(ex->env->models, ex->env->store, ex->arena, &ex->principal, model,
	    &ex->out.ticket, &r);
	if (rc == MG_EINVAL) {
		refuse_limit(ex, &r);
		return 0;
	}
	if (rc != MG_OK) {
		refuse_store(ex, rc);
		return 0;
	}
	ex->out.key_alias = ex->principal.key_alias;
	/* only when the admin enabled it: callers then see their spend */
	if (ex->env->cfg->spend_headers && limits_ticket_spend(ex->out.ticket) >= 0) {
		snprintf(spend, sizeof(spend), "%.6f", limits_ticket_spend(ex->out.ticket));
		exchange_add_header(ex, "x-maskgate-key-spend", spend);
	}
	return 1;
}

/*
 * One Messages exchange: on /v1/messages (wire NULL) or a Bedrock or
 * Vertex route (wire: model from the path, URL and signing from wire.c).
 */
static void
messages_exchange(struct exchange *ex, const struct wire_route *wire)
{
	const struct cfg *c = ex->env->cfg;
	struct exchange_call xc;
	struct exchange_body b;
	struct json_object *stream;
	struct wire_route translated;
	const char *model = NULL;
	char *body;
	size_t body_len;
	enum mg_err rc;
	int anthropic = c->upstream_format == NULL || strcmp(c->upstream_format, "anthropic") == 0;

	memset(&xc, 0, sizeof(xc));
	xc.ex = ex;
	xc.wire = wire;
	buf_init(&xc.body, ex->arena);
	/* the cache of masked elements only where the body is sent on as it is */
	if (!exchange_body_read(ex, &b, wire != NULL ? !wire->translate : anthropic))
		return;
	b.in_path = wire != NULL && !wire->count_tokens ? wire->model : NULL;
	if (!exchange_model_policy(ex, b.root, b.in_path, &model))
		goto out;
	xc.model = model;
	ex->out.model = model;
	if (wire == NULL) {
		/* MASKGATE_UPSTREAM_FORMAT: the operator's upstream is Bedrock or Vertex */
		rc = wire_translated_route(c, strcmp(ex->path, "/v1/messages") != 0,
		    json_object_object_get_ex(b.root, "stream", &stream) &&
		    json_object_get_boolean(stream), model, &translated);
		if (rc == MG_EINVAL) {
			exchange_refuse(ex, OUT_OK, 404, ET_NOT_FOUND, "count_tokens is not "
			    "available on this gateway: its upstream is Amazon Bedrock");
			goto out;
		}
		if (rc == MG_OK) {
			wire = &translated;
			xc.wire = wire;
		}
	}
	xc.unmask_json = wire != NULL ? !wire->count_tokens :
	    strcmp(ex->path, "/v1/messages") == 0;
	/* admit: spend caps and the key's limits, a reservation settled after the response */
	if (!admit(ex, model, !xc.unmask_json))
		goto out;
	/* mask: every string of the request, within the budget of new mappings */
	xc.ms = open_masking(ex, b.ms);
	if (xc.ms == NULL || !exchange_body_mask(ex, &b, xc.ms))
		goto out;
	xc.ms = b.ms;
	if (wire != NULL && wire->translate && wire_translate_body(b.root, wire,
	    ex->io->header(ex->io_ctx, "anthropic-beta")) != MG_OK) {
		exchange_refuse(ex, OUT_OK, 500, ET_API, "out of memory");
		goto out;
	}
	/* the client's bytes, with only what masking and policy changed spliced in */
	body = exchange_body_splice(ex, &b, &body_len);
	if (body == NULL)
		goto out;
	xc.ms = b.ms;
	exchange_body_free(&b);
	/* forward and restore: the answer is written as it comes back */
	ex->out.priced = xc.unmask_json;
	exchange_forward(&xc, "POST", body, body_len);
out:
	/* settle happens in exchange_settle(), after the response */
	limits_mint_end(ex->env->store, &ex->out.mint);
	exchange_body_free(&b);
}

void
exchange_messages(struct exchange *ex)
{
	messages_exchange(ex, NULL);
}

void
exchange_cloud(struct exchange *ex)
{
	struct wire_route *wire = arena_alloc(ex->arena, sizeof(*wire));
	enum mg_err rc;

	if (wire == NULL) {
		exchange_refuse(ex, OUT_OK, 500, ET_API, "out of memory");
		return;
	}
	rc = wire_parse_path(ex->arena, ex->path, wire);
	if (rc == MG_ENOTFOUND) {
		exchange_refuse(ex, OUT_OK, 404, ET_NOT_FOUND, "no route for this path");
		return;
	}
	if (rc != MG_OK) {
		exchange_refuse(ex, OUT_OK, 400, ET_INVALID_REQUEST,
		    "malformed model id in the path");
		return;
	}
	messages_exchange(ex, wire);
}

void
exchange_models(struct exchange *ex)
{
	static const char prefix[] = "/v1/models/";
	struct exchange_call xc;

	memset(&xc, 0, sizeof(xc));
	xc.ex = ex;
	buf_init(&xc.body, ex->arena);
	/*
	 * The only extension is one model id: dot segments (libcurl squashes
	 * them) or escapes would make this a GET of any other upstream
	 * endpoint under the server's API key.
	 */
	if (strcmp(ex->path, "/v1/models") != 0) {
		const char *id = ex->path + strlen(prefix);
		if (!exchange_plain_value(id, strlen(id)) || strspn(id, ".") == strlen(id)) {
			exchange_refuse(ex, OUT_OK, 404, ET_NOT_FOUND, "no route for %s", ex->path);
			return;
		}
	}
	/* for the query values and the model id; the model list carries nothing to restore */
	xc.ms = open_masking(ex, NULL);
	if (xc.ms == NULL)
		goto out;
	if (strcmp(ex->path, "/v1/models") != 0) {
		/* the id is forwarded like any other text: masked */
		struct buf path;
		buf_init(&path, ex->arena);
		if (buf_appends(&path, prefix) != MG_OK ||
		    mask_text(xc.ms, ex->path + strlen(prefix), strlen(ex->path + strlen(prefix)),
		    &path) != MG_OK) {
			if (!exchange_mint_refused(ex))
				exchange_refuse(ex, OUT_FAIL_CLOSED, 503, ET_API,
				    "masking failed; request not forwarded");
			goto out;
		}
		ex->path = path.data;
	}
	exchange_forward(&xc, "GET", NULL, 0);
out:
	limits_mint_end(ex->env->store, &ex->out.mint);
}

enum mg_err
exchange_restore_text(struct exchange *ex, const char *text, size_t len, struct buf *out)
{
	struct mask_session *ms;

	ms = mask_session_new(ex->arena, ex->env->rules, ex->env->store, ex->principal.tenant);
	if (ms == NULL)
		return MG_ENOMEM;
	ex->out.mask = ms;
	return mask_unmask(ms, text, len, 0, out);
}

void
exchange_settle(struct exchange *ex, int status)
{
	struct outcome *o = &ex->out;

	o->status = status;
	o->duration_ms = (long)(mg_now_ms() - ex->t_start);
	if (o->priced)
		o->cost = spend_cost(ex->env->models, o->model, &o->usage);
	spend_settle(ex->env->store, ex->request_id, o);
}
