/*
 * proxy_admit.c - everything decided about a proxied request before it
 * goes upstream and settled after: the model name and policy, the key's
 * limits, the budget of new mappings, the spend.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "h_spend_limits.h"
#include "jwalk.h"
#include "log.h"
#include "metrics.h"
#include "models.h"
#include "proxy.h"
#include "rules.h"
#include "store_map.h"
#include "worker.h"

/* longest model id accepted (the API's are under 64 characters) */
#define PROXY_MODEL_MAX 100

/*
 * 1 when name has the shape of a model id ("claude-sonnet-4-5-20250929",
 * "anthropic.claude-3-5-sonnet-20240620-v1:0", "claude-3-5-sonnet-v2@20241022")
 * and no rule finds anything in it. The name goes upstream, into the spend
 * log and into a metric label: "AKIA..." there would leak, and free-form
 * names would let a caller grow the metric series without bound.
 */
static int
model_name_ok(struct request *req, const char *name)
{
	struct rules_match *ms;
	size_t i, n, len = strlen(name);

	if (len == 0 || len > PROXY_MODEL_MAX || !islower((unsigned char)name[0]))
		return 0;
	for (i = 0; i < len; i++)
		if (!islower((unsigned char)name[i]) && !isdigit((unsigned char)name[i]) &&
		    strchr("-._:@", name[i]) == NULL)
			return 0;
	if (rules_scan(req->worker->rules, req->arena, name, len, &ms, &n) != MG_OK)
		return 0;	/* cannot tell: refuse */
	for (i = 0; i < n; i++)
		if (ms[i].action != RULES_ALLOW)
			return 0;
	return 1;
}

/* Applies alias, allow-list and the max_tokens clamp. 0 when refused. */
int
proxy_model_policy(struct request *req, struct json_object *root, const char *in_path,
    const char **model)
{
	const struct models *mt = req->worker->models;
	const char *asked = in_path != NULL ? in_path : jwalk_get_model(root), *target;
	const struct model *md;
	long max_tokens;

	if (asked == NULL) {
		http_error(req, 400, ET_INVALID_REQUEST, "model: field required (a string)");
		return 0;
	}
	if (!model_name_ok(req, asked)) {
		/* never echo it: it may be exactly what must not be written anywhere */
		http_error(req, 400, ET_INVALID_REQUEST, "model: not a model name (lower-case "
		    "letters, digits and - . _ : @, at most %d characters)", PROXY_MODEL_MAX);
		return 0;
	}
	asked = arena_strdup(req->arena, asked);
	target = models_alias(mt, asked);
	if (target == NULL)
		target = asked;
	if (!models_allowed(mt, asked) && !models_allowed(mt, target)) {
		http_error(req, 403, ET_PERMISSION, "model %s is not allowed on this gateway", asked);
		return 0;
	}
	*model = target;
	if (target != asked && in_path == NULL && jwalk_set_model(root, target) != MG_OK) {
		http_error(req, 500, ET_API, "out of memory");
		return 0;
	}
	md = models_find(mt, target);
	if (md != NULL && jwalk_get_max_tokens(root, &max_tokens) == MG_OK &&
	    max_tokens > md->max_output) {
		struct json_object *thinking, *budget;
		jwalk_set_max_tokens(root, md->max_output);
		/* the API requires budget_tokens < max_tokens */
		if (json_object_object_get_ex(root, "thinking", &thinking) &&
		    json_object_object_get_ex(thinking, "budget_tokens", &budget) &&
		    json_object_is_type(budget, json_type_int) &&
		    json_object_get_int64(budget) >= md->max_output)
			json_object_set_int64(budget, md->max_output - 1);
		log_info("rid=%s max_tokens %ld clamped to %ld for %s", req->request_id,
		    max_tokens, md->max_output, target);
	}
	return 1;
}

/* Opens the request's budget of new mappings; 0 when refused (answered). */
int
proxy_mint_begin(struct request *req, const char *tenant, struct proxy_mint *mb)
{
	const struct cfg *c = req->worker->cfg;
	long now = (long)time(NULL), used = 0;
	char retry[32];
	enum mg_err rc;

	memset(mb, 0, sizeof(*mb));
	mb->hour = now / 3600;
	mb->quota = c->max_new_mappings;
	if (c->max_new_mappings_hour > 0) {
		rc = store_mint_used(req->worker->store, tenant, mb->hour, &used);
		if (rc != MG_OK) {
			http_error(req, 503, ET_API, "key store unavailable (%s); request not "
			    "forwarded", mg_strerror(rc));
			return 0;
		}
		if (used >= c->max_new_mappings_hour) {
			snprintf(retry, sizeof(retry), "%ld", 3600 - now % 3600);
			http_add_header(req, "retry-after", retry);
			req->reject_reason = MR_RATE;
			http_error(req, 429, ET_RATE_LIMIT, "this tenant added %ld new values to its "
			    "mapping this hour, the most MASKGATE_MAX_NEW_MAPPINGS_PER_HOUR allows",
			    used);
			return 0;
		}
		if (mb->quota == 0 || c->max_new_mappings_hour - used < mb->quota) {
			mb->quota = c->max_new_mappings_hour - used;
			mb->hourly_bound = 1;
		}
	}
	store_map_set_quota(req->worker->store, mb->quota);
	mb->active = 1;
	return 1;
}

/* After a masking error: 1 (answered 413 or 429) when the budget refused it. */
int
proxy_mint_refused(struct request *req, const struct proxy_mint *mb)
{
	char retry[32];
	int hit = 0;

	store_map_minted(req->worker->store, &hit);
	if (!mb->active || !hit)
		return 0;
	req->reject_reason = MR_RATE;
	if (mb->hourly_bound) {
		snprintf(retry, sizeof(retry), "%ld", 3600 - (long)time(NULL) % 3600);
		http_add_header(req, "retry-after", retry);
		http_error(req, 429, ET_RATE_LIMIT, "this request would take the tenant past "
		    "MASKGATE_MAX_NEW_MAPPINGS_PER_HOUR new values to mask this hour");
	} else {
		http_error(req, 413, ET_REQUEST_TOO_LARGE, "this request holds more than %ld "
		    "values this gateway has not masked before (MASKGATE_MAX_NEW_MAPPINGS)",
		    mb->quota);
	}
	return 1;
}

/* Counts what the request minted against its tenant's hour; lifts the cap. */
void
proxy_mint_end(struct request *req, const char *tenant, struct proxy_mint *mb)
{
	long n = store_map_minted(req->worker->store, NULL);

	if (!mb->active)
		return;
	mb->active = 0;
	store_map_set_quota(req->worker->store, 0);
	if (n > 0 && req->worker->cfg->max_new_mappings_hour > 0 &&
	    store_mint_add(req->worker->store, tenant, mb->hour, n) != MG_OK)
		log_warn("rid=%s could not count %ld new mappings against tenant %s",
		    req->request_id, n, tenant);
}

/* Key limits before anything goes upstream; 0 when refused (answered). */
int
proxy_admit(struct request *req, const struct principal *p, const char *model,
    struct keys_ticket **ticket)
{
	struct keys_refusal r;
	enum mg_err rc;
	char retry[32];

	/*
	 * An unpriced model costs 0, so a budget would never run out on it: a
	 * key with max_budget may only use models the table prices.
	 */
	if (p->kind == PRINCIPAL_VIRTUAL && p->key != NULL &&
	    p->key->max_budget >= 0 &&
	    models_find(req->worker->models, model) == NULL) {
		*ticket = NULL;
		http_error(req, 403, ET_PERMISSION, "model %s has no price in the model table; a key "
		    "with max_budget can only use priced models (add it to MASKGATE_MODELS)", model);
		return 0;
	}
	*ticket = NULL;
	if (!spend_limits_admit(req, p))	/* per-developer caps (h_spend_limits.c) */
		return 0;
	rc = keys_admit(req->worker->store, req->arena, p, model, ticket, &r);

	if (rc == MG_OK) {
		/* only when the admin enabled it: callers then see their spend */
		if (req->worker->cfg->spend_headers && keys_ticket_spend(*ticket) >= 0) {
			snprintf(retry, sizeof(retry), "%.6f", keys_ticket_spend(*ticket));
			http_add_header(req, "x-maskgate-key-spend", retry);
		}
		return 1;
	}
	*ticket = NULL;
	if (rc != MG_EINVAL) {
		http_error(req, 503, ET_API, "key store unavailable (%s); request not forwarded",
		    mg_strerror(rc));
		return 0;
	}
	if (r.status == 429 && strncmp(r.message, "budget exceeded", 15) == 0) {
		spend_limits_refuse_budget(req, p, r.retry_after);	/* Claude Code's 429 */
		return 0;
	}
	if (r.retry_after > 0) {
		snprintf(retry, sizeof(retry), "%ld", r.retry_after);
		http_add_header(req, "retry-after", retry);
	}
	http_error(req, r.status, r.status == 401 ? ET_AUTHENTICATION :
	    r.status == 403 ? ET_PERMISSION : r.status == 429 ? ET_RATE_LIMIT : ET_API,
	    "%s", r.message);
	return 0;
}

/* Spend, spend log and the parallel slot, once per admitted request. */
void
proxy_settle(struct request *req, struct keys_ticket *ticket, const char *model,
    const struct jwalk_usage *u, int count_spend)
{
	struct keys_outcome o;

	memset(&o, 0, sizeof(o));
	o.request_id = req->request_id;
	o.model = model;
	if (count_spend) {
		o.input_tokens = u->input_tokens;
		o.output_tokens = u->output_tokens;
		o.cache_write_tokens = u->cache_creation_input_tokens;
		o.cache_read_tokens = u->cache_read_input_tokens;
		o.cost = models_cost(models_find(req->worker->models, model), o.input_tokens,
		    o.output_tokens, o.cache_write_tokens, o.cache_read_tokens);
	}
	o.status = req->status;
	o.duration_ms = (long)(mg_now_ms() - req->t_start);
	keys_settle(req->worker->store, ticket, &o);
}

