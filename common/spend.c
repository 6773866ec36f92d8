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
#include "store_map.h"

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

void
spend_settle(struct store *s, const char *request_id, struct outcome *o)
{
	enum mg_err rc;

	if (s == NULL)
		return;
	/* one write transaction for everything the request leaves behind */
	rc = store_begin(s);
	if (rc == MG_OK && o->ticket != NULL)
		rc = settle_ticket(s, request_id, o);
	if (rc == MG_OK && o->mint.hourly && o->mint.minted > 0)
		rc = store_mint_add(s, o->tenant, o->mint.hour, o->mint.minted);
	if (rc == MG_OK)
		rc = metrics_add_request(s, o, store_write_tx_take(s));
	if (rc == MG_OK)
		rc = store_commit(s);
	if (rc != MG_OK) {
		store_rollback(s);
		log_error("rid=%s recording the request failed (%s); its parallel slot, if any, "
		    "is reclaimed when it goes stale", request_id, mg_strerror(rc));
	}
	if (o->ticket != NULL)
		o->ticket->slot = 0;
	o->ticket = NULL;
	o->mint.minted = 0;
}
