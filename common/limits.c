/*
 * limits.c - the policy that admits a request before anything goes
 * upstream (limits.h): allow-lists, the key's budget and rates through
 * the admission transaction, and the request's budget of new mappings.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "log.h"
#include "mg_limits.h"
#include "models.h"
#include "spend_limit.h"
#include "store.h"
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

static void
refuse(struct keys_refusal *r, enum outcome_reason reason, long retry_after, const char *msg)
{
	r->reason = reason;
	r->retry_after = retry_after;
	snprintf(r->message, sizeof(r->message), "%s", msg);
}

/* Counts live parallel slots, freeing those whose worker died. */
static enum mg_err
live_slots(struct store *s, struct arena *a, const char *hash, long now, long slot_stale,
    long *count)
{
	struct store_slot *slots;
	size_t i, n;
	enum mg_err rc;

	*count = 0;
	rc = store_keys_slots(s, a, hash, now - slot_stale, &slots, &n);
	for (i = 0; rc == MG_OK && i < n; i++) {
		pid_t pid = (pid_t)slots[i].pid;
		/* EPERM means alive under another user (Apache's www-data) */
		if (pid > 0 && kill(pid, 0) != 0 && errno == ESRCH) {
			log_warn("keys: reclaimed the parallel slot of dead worker %ld", (long)pid);
			rc = store_keys_slot_delete(s, slots[i].id);
			continue;
		}
		(*count)++;
	}
	return rc;
}

/*
 * The budget period: once it is over, spend starts again from 0 and the
 * next period ends a whole number of periods later.
 */
static enum mg_err
budget_period(struct store *s, struct keys_record *k, long now)
{
	long next;

	if (k->budget_duration <= 0 || (k->budget_reset_at != 0 && now < k->budget_reset_at))
		return MG_OK;
	next = k->budget_reset_at > 0 ? k->budget_reset_at : now + k->budget_duration;
	while (next <= now)
		next += k->budget_duration;
	if (k->budget_reset_at > 0)
		k->spend = 0;
	k->budget_reset_at = next;
	return store_keys_set_budget(s, k->hash, k->spend, k->budget_reset_at);
}

/*
 * Budget, rpm/tpm and parallel checks inside the admission transaction;
 * the reservations (a request in the rate window, a slot) when admitted.
 * A usage that cannot be read is an error, never zero usage: the limit
 * fails closed.
 */
static enum mg_err
admit_checks(struct store *s, struct arena *a, struct keys_record *k, long now,
    long slot_stale, long *slot, struct keys_refusal *r)
{
	long requests = 0, tokens = 0, oldest_request = -1, oldest_tokens = -1, live, free_at;
	enum mg_err rc;

	rc = budget_period(s, k, now);
	if (rc != MG_OK)
		return rc;
	if (k->max_budget >= 0 && k->spend >= k->max_budget) {
		char msg[160];
		snprintf(msg, sizeof(msg), "budget exceeded: spend %.6f USD of max_budget %.6f USD",
		    k->spend, k->max_budget);
		refuse(r, OUT_BUDGET, k->budget_duration > 0 ? k->budget_reset_at - now : 86400,
		    msg);
		return MG_EINVAL;
	}
	if (k->rpm_limit >= 0 || k->tpm_limit >= 0) {
		rc = store_keys_usage(s, k->hash, now - LIMITS_RATE_WINDOW, &requests, &tokens,
		    &oldest_request, &oldest_tokens);
		if (rc != MG_OK)
			return rc;
		if (k->rpm_limit >= 0 && requests >= k->rpm_limit) {
			free_at = (oldest_request >= 0 ? oldest_request : now) + LIMITS_RATE_WINDOW;
			refuse(r, OUT_RATE, free_at > now ? free_at - now : 1,
			    "rate limit: rpm_limit reached for this key");
			return MG_EINVAL;
		}
		if (k->tpm_limit >= 0 && tokens >= k->tpm_limit) {
			free_at = (oldest_tokens >= 0 ? oldest_tokens : now) + LIMITS_RATE_WINDOW;
			refuse(r, OUT_RATE, free_at > now ? free_at - now : 1,
			    "rate limit: tpm_limit reached for this key");
			return MG_EINVAL;
		}
	}
	*slot = 0;
	if (k->max_parallel_requests >= 0) {
		rc = live_slots(s, a, k->hash, now, slot_stale, &live);
		if (rc != MG_OK)
			return rc;
		if (live >= k->max_parallel_requests) {
			refuse(r, OUT_PARALLEL, 1,
			    "rate limit: max_parallel_requests reached for this key");
			return MG_EINVAL;
		}
		rc = store_keys_slot_take(s, k->hash, (long)getpid(), now, slot);
		if (rc != MG_OK)
			return rc;
	}
	if (k->rpm_limit >= 0 || k->tpm_limit >= 0)
		return store_keys_use_request(s, k->hash, now - LIMITS_RATE_WINDOW, now);
	return MG_OK;
}

/* What one attempt of the admission transaction works on. */
struct admit_tx {
	struct arena *a;
	const char *hash;
	long now, slot_stale;
	struct keys_record *k;
	long *slot;
	struct keys_refusal *r;
};

static enum mg_err
admit_key_once(struct store *s, void *arg)
{
	struct admit_tx *t = arg;
	enum mg_err rc;

	*t->slot = 0;
	rc = store_begin(s);
	if (rc != MG_OK)
		return rc;
	rc = store_keys_get(s, t->a, t->hash, t->now, t->k);
	if (rc == MG_ENOTFOUND) {
		refuse(t->r, OUT_AUTH, 0, "invalid API key");
		rc = MG_EINVAL;
	}
	if (rc == MG_OK)
		rc = admit_checks(s, t->a, t->k, t->now, t->slot_stale, t->slot, t->r);
	if (rc == MG_OK)
		rc = store_commit(s);
	if (rc != MG_OK) {
		*t->slot = 0;
		/* a refusal changes nothing but the budget reset, which keeps */
		if (rc == MG_EINVAL) {
			rc = store_commit(s);
			if (rc == MG_OK)
				return MG_EINVAL;
		}
		store_rollback(s);
	}
	return rc;
}

enum mg_err
limits_admit_key(struct store *s, struct arena *a, const char *hash, long now,
    long slot_stale, struct keys_record *k, long *slot, struct keys_refusal *r)
{
	struct admit_tx t = { a, hash, now, slot_stale, k, slot, r };

	/* a serialisation failure or deadlock (PostgreSQL) runs it again, boundedly */
	return store_tx_retry(s, admit_key_once, &t);
}

enum mg_err
limits_admit(const struct models *mt, struct store *s, struct arena *a,
    const struct principal *p, const char *model, struct keys_ticket **ticket,
    struct keys_refusal *r)
{
	struct keys_ticket *t = arena_alloc(a, sizeof(*t));
	struct keys_record *k;
	long stale, waited;
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
		r->reason = OUT_MODEL;
		snprintf(r->message, sizeof(r->message), "model %s has no price in the model "
		    "table; a key with max_budget can only use priced models (add it to "
		    "MASKGATE_MODELS)", model != NULL ? model : "?");
		return MG_EINVAL;
	}
	if (!model_allowed(p->models_json, model != NULL ? model : "")) {
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
		/*
		 * A slot is freed after its response has gone out (spend_settle),
		 * so a client that sends its next request at once can find its
		 * own previous slot still held for a moment: wait that out.
		 */
		for (waited = 0;; waited += LIMITS_SLOT_POLL_MS) {
			rc = limits_admit_key(s, a, p->key->hash, (long)time(NULL), stale, k,
			    &t->slot, r);
			if (rc != MG_EINVAL || r->reason != OUT_PARALLEL ||
			    waited >= LIMITS_SLOT_WAIT_MS)
				break;
			usleep(LIMITS_SLOT_POLL_MS * 1000);
		}
		if (rc != MG_OK)
			return rc;
		t->spend = k->spend;
	}
	*ticket = t;
	return MG_OK;
}

enum mg_err
limits_spend_caps(struct store *s, const struct principal *p, int free, struct spend_block *b)
{
	enum mg_err rc;
	int blocked = 0;

	memset(b, 0, sizeof(*b));
	/* token counting is free: never blocked (as the gateway contract has it) */
	if (p->kind == PRINCIPAL_MASTER || free)
		return MG_OK;
	rc = spend_limit_check(s, p->user_id, p->team_id,
	    p->key != NULL ? p->key->hash : p->key_hash, (long)time(NULL), b, &blocked);
	if (rc != MG_OK)
		return rc;
	return blocked ? MG_EINVAL : MG_OK;
}

void
limits_mint_begin(const struct cfg *c, struct store *s, struct outcome_mint *mb)
{
	struct store_mint_caps caps;

	memset(mb, 0, sizeof(*mb));
	mb->quota = c->max_new_mappings > 0 ? c->max_new_mappings : 0;
	mb->hour_cap = c->max_new_mappings_hour > 0 ? c->max_new_mappings_hour : 0;
	mb->hour = (long)time(NULL) / 3600;
	/* checked and counted where the values are minted, nothing read before */
	caps.quota = mb->quota;
	caps.hour_cap = mb->hour_cap;
	caps.hour = mb->hour;
	store_map_set_caps(s, &caps);
	mb->active = 1;
}

int
limits_mint_refused(struct store *s, const struct outcome_mint *mb, struct keys_refusal *r)
{
	struct store_mint_report m;

	store_map_mint_report(s, &m);
	if (!mb->active || m.hit == STORE_MINT_NONE)
		return 0;
	memset(r, 0, sizeof(*r));
	r->reason = OUT_RATE;
	if (m.hit == STORE_MINT_QUOTA) {
		r->request_cap = 1;
		snprintf(r->message, sizeof(r->message), "this request holds more than %ld values "
		    "this gateway has not masked before (MASKGATE_MAX_NEW_MAPPINGS)", mb->quota);
		return 1;
	}
	/* until the end of the hour the count is in */
	r->retry_after = (mb->hour + 1) * 3600 - (long)time(NULL);
	if (r->retry_after < 1)
		r->retry_after = 1;
	if (m.hour_used >= 0)
		snprintf(r->message, sizeof(r->message), "this tenant added %ld new values to its "
		    "mapping this hour; the %ld more of this request would pass the %ld "
		    "MASKGATE_MAX_NEW_MAPPINGS_PER_HOUR allows", m.hour_used, m.refused,
		    mb->hour_cap);
	else
		snprintf(r->message, sizeof(r->message), "this request holds more new values to "
		    "mask than the %ld MASKGATE_MAX_NEW_MAPPINGS_PER_HOUR allows a tenant in an "
		    "hour", mb->hour_cap);
	return 1;
}

void
limits_mint_end(struct store *s, struct outcome_mint *mb)
{
	if (!mb->active)
		return;
	mb->active = 0;
	store_map_set_caps(s, NULL);
}
