/*
 * spend.h - what a finished request costs and records: its price from the
 * model table, and the one write after the response that settles the
 * key's reservations and records spend, usage, the spend log, the
 * tenant's new mappings and the metrics, all read from the outcome.
 */
#ifndef MG_SPEND_H
#define MG_SPEND_H

#include "jwalk.h"
#include "mg.h"
#include "outcome.h"

struct store;
struct models;

/* USD for usage on model (0 for a model the table does not price). */
double spend_cost(const struct models *mt, const char *model, const struct jwalk_usage *u);

/*
 * Records everything request request_id leaves behind, from o: frees the
 * key's parallel slot, adds its spend and tokens, writes the spend-log row
 * (admitted requests: o->ticket), counts new mappings against the tenant's
 * hour, and adds the metrics. Runs after the client has the whole
 * response; called once per request. Errors are logged, never fatal: a
 * slot left behind is reclaimed when it goes stale.
 */
void spend_settle(struct store *s, const char *request_id, struct outcome *o);

#endif
