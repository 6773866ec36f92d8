/*
 * limits.c - the policy that admits a request before anything goes
 * upstream (limits.h): allow-lists, the key's budget and rates through
 * the admission transaction, and the request's budget of new mappings.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "mg_limits.h"
#include "models.h"
#include "store_keys.h"
#include "store_map.h"

double
limits_ticket_spend(const struct keys_ticket *t)
{
	return t != NULL ? t->spend : -1;
}

/*
 * 1 when model is on the JSON allow-list (an empty list, or none, allows
 * everything). Entries match exactly, or as a prefix when they end in '*'.
 */
static int
model_allowed(const char *models_json, const char *model)
{
	struct json_object *arr;
	size_t i, n;
	int ok = 0;

	if (models_json == NULL)
		return 1;
	arr = json_tokener_parse(models_json);
	if (arr == NULL || !json_object_is_type(arr, json_type_array)) {
		json_object_put(arr);
		return 0;	/* a corrupt list allows nothing */
	}
	n = json_object_array_length(arr);
	if (n == 0)
		ok = 1;
	for (i = 0; i < n && !ok; i++) {
		const char *m = json_object_get_string(json_object_array_get_idx(arr, i));
		size_t len = m != NULL ? strlen(m) : 0;
		if (m == NULL)
			continue;
		if (strcmp(m, "*") == 0 || strcmp(m, "all-proxy-models") == 0 ||
		    strcmp(m, model) == 0 ||
		    (len > 0 && m[len - 1] == '*' && strncmp(m, model, len - 1) == 0))
			ok = 1;
	}
	json_object_put(arr);
	return ok;
}

enum mg_err
limits_admit(const struct models *mt, struct store *s, struct arena *a,
    const struct principal *p, const char *model, struct keys_ticket **ticket,
    struct keys_refusal *r)
{
	struct keys_ticket *t = arena_alloc(a, sizeof(*t));
	struct keys_record *k;
	long stale;
	enum mg_err rc;

	memset(r, 0, sizeof(*r));
	*ticket = NULL;
	if (t == NULL)
		return MG_ENOMEM;
	t->principal = p;
	t->spend = -1;
	/*
	 * An unpriced model costs 0, so a budget would never run out on it: a
	 * key with max_budget may only use models the table prices.
	 */
	if (p->kind == PRINCIPAL_VIRTUAL && p->key != NULL && p->key->max_budget >= 0 &&
	    models_find(mt, model) == NULL) {
		r->status = 403;
		r->reason = OUT_MODEL;
		snprintf(r->message, sizeof(r->message), "model %s has no price in the model "
		    "table; a key with max_budget can only use priced models (add it to "
		    "MASKGATE_MODELS)", model != NULL ? model : "?");
		return MG_EINVAL;
	}
	if (!model_allowed(p->models_json, model != NULL ? model : "")) {
		r->status = 403;
		r->reason = OUT_MODEL;
		snprintf(r->message, sizeof(r->message), "model %s is not allowed for this key",
		    model != NULL ? model : "?");
		return MG_EINVAL;
	}
	if (p->kind == PRINCIPAL_VIRTUAL && p->key != NULL) {
		k = arena_alloc(a, sizeof(*k));
		if (k == NULL)
			return MG_ENOMEM;
		/* a slot older than the longest upstream call belongs to nobody */
		stale = (p->cfg != NULL ? p->cfg->upstream_timeout : 600) + 60;
		rc = store_keys_admit(s, a, p->key->hash,
		    (long)time(NULL), stale, k, &t->slot, r);
		if (rc != MG_OK)
			return rc;
		t->spend = k->spend;
	}
	*ticket = t;
	return MG_OK;
}

enum mg_err
limits_mint_begin(const struct cfg *c, struct store *s, const char *tenant,
    struct outcome_mint *mb, struct keys_refusal *r)
{
	long now = (long)time(NULL), used = 0;
	enum mg_err rc;

	memset(mb, 0, sizeof(*mb));
	memset(r, 0, sizeof(*r));
	mb->hour = now / 3600;
	mb->quota = c->max_new_mappings;
	mb->hourly = c->max_new_mappings_hour > 0;
	if (mb->hourly) {
		rc = store_mint_used(s, tenant, mb->hour, &used);
		if (rc != MG_OK)
			return rc;
		if (used >= c->max_new_mappings_hour) {
			r->status = 429;
			r->reason = OUT_RATE;
			r->retry_after = 3600 - now % 3600;
			snprintf(r->message, sizeof(r->message), "this tenant added %ld new values "
			    "to its mapping this hour, the most MASKGATE_MAX_NEW_MAPPINGS_PER_HOUR "
			    "allows", used);
			return MG_EINVAL;
		}
		if (mb->quota == 0 || c->max_new_mappings_hour - used < mb->quota) {
			mb->quota = c->max_new_mappings_hour - used;
			mb->hourly_bound = 1;
		}
	}
	store_map_set_quota(s, mb->quota);
	mb->active = 1;
	return MG_OK;
}

int
limits_mint_refused(struct store *s, const struct outcome_mint *mb, struct keys_refusal *r)
{
	int hit = 0;

	store_map_minted(s, &hit);
	if (!mb->active || !hit)
		return 0;
	memset(r, 0, sizeof(*r));
	r->reason = OUT_RATE;
	if (mb->hourly_bound) {
		r->status = 429;
		r->retry_after = 3600 - (long)time(NULL) % 3600;
		snprintf(r->message, sizeof(r->message), "this request would take the tenant past "
		    "MASKGATE_MAX_NEW_MAPPINGS_PER_HOUR new values to mask this hour");
	} else {
		r->status = 413;
		snprintf(r->message, sizeof(r->message), "this request holds more than %ld values "
		    "this gateway has not masked before (MASKGATE_MAX_NEW_MAPPINGS)", mb->quota);
	}
	return 1;
}

void
limits_mint_end(struct store *s, struct outcome_mint *mb)
{
	if (!mb->active)
		return;
	mb->minted = store_map_minted(s, NULL);
	mb->active = 0;
	store_map_set_quota(s, 0);
}
