/*
 * spend.c - the price of a request and the write that settles it after
 * the response (spend.h).
 */
#include <string.h>

#include "keys.h"
#include "mg_limits.h"
#include "log.h"
#include "metrics.h"
#include "models.h"
#include "spend.h"
#include "store.h"
#include "store_keys.h"

double
spend_cost(const struct models *mt, const char *model, const struct jwalk_usage *u)
{
	return models_cost(models_find(mt, model), u->input_tokens, u->output_tokens,
	    u->cache_creation_input_tokens, u->cache_read_input_tokens);
}

/* The spend-log row and key settlement of an admitted request. */
static enum mg_err
settle_ticket(struct store *s, const char *request_id, const struct outcome *o)
{
	const struct principal *p = o->ticket->principal;
	struct store_spend sp;

	memset(&sp, 0, sizeof(sp));
	sp.key_hash = p->key_hash != NULL ? p->key_hash : "-";
	sp.key_alias = p->key_alias;
	sp.user_id = p->user_id;
	sp.team_id = p->team_id;
	sp.tenant = p->tenant;
	sp.request_id = request_id;
	sp.model = o->model;
	if (o->priced) {
		sp.input_tokens = o->usage.input_tokens;
		sp.output_tokens = o->usage.output_tokens;
		sp.cache_write_tokens = o->usage.cache_creation_input_tokens;
		sp.cache_read_tokens = o->usage.cache_read_input_tokens;
		sp.cost = o->cost;
	}
	sp.status = o->status;
	sp.duration_ms = o->duration_ms;
	sp.is_virtual = p->kind == PRINCIPAL_VIRTUAL && p->key != NULL;
	if (sp.is_virtual)
		sp.key_hash = p->key->hash;
	sp.slot = o->ticket->slot;
	return store_keys_settle(s, &sp);
}

/*
 * Settlements this process could not write, not yet counted: added to
 * maskgate_settle_failures_total by the next one that commits.
 */
static long unsettled;

struct settle_tx {
	const char *request_id;
	const struct outcome *o;
	long write_tx;
};

/* One attempt: everything the request leaves behind, in one transaction. */
static enum mg_err
settle_once(struct store *s, void *arg)
{
	struct settle_tx *t = arg;
	const struct outcome *o = t->o;
	enum mg_err rc;

	rc = store_begin(s);
	if (rc != MG_OK)
		return rc;
	/* the write transactions begun before this one, this one's first attempt included */
	t->write_tx += store_write_tx_take(s);
	if (o->ticket != NULL)
		rc = settle_ticket(s, t->request_id, o);
	if (rc == MG_OK)
		rc = metrics_add_request(s, o, t->write_tx);
	if (rc == MG_OK && unsettled > 0)
		rc = store_metric_add(s, "maskgate_settle_failures_total", "", (double)unsettled);
	if (rc == MG_OK)
		rc = store_commit(s);
	if (rc != MG_OK)
		store_rollback(s);
	return rc;
}

void
spend_settle(struct store *s, const char *request_id, struct outcome *o)
{
	struct settle_tx t = { request_id, o, 0 };
	enum mg_err rc;

	if (s == NULL)
		return;
	/* a serialisation failure or deadlock (PostgreSQL) runs it again, boundedly */
	rc = store_tx_retry(s, settle_once, &t);
	if (rc == MG_OK) {
		unsettled = 0;
	} else {
		unsettled++;
		log_error("rid=%s SETTLEMENT LOST: recording the request (spend, usage, metrics) "
		    "failed (%s); its parallel slot, if any, is reclaimed when it goes stale; "
		    "%ld unrecorded in this process, counted in maskgate_settle_failures_total",
		    request_id, mg_strerror(rc), unsettled);
	}
	if (o->ticket != NULL)
		o->ticket->slot = 0;
	o->ticket = NULL;
}
