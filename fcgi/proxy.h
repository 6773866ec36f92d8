/*
 * proxy.h - what the proxy handlers (h_proxy.c) check and account around
 * the upstream call: the model policy, key admission and settlement, and
 * the request's budget of new mappings (proxy_admit.c).
 */
#ifndef MG_PROXY_H
#define MG_PROXY_H

#include "http.h"
#include "keys.h"

struct json_object;
struct jwalk_usage;

/*
 * The request's budget of new mappings: MASKGATE_MAX_NEW_MAPPINGS, or less
 * when the tenant's hour (MASKGATE_MAX_NEW_MAPPINGS_PER_HOUR) has less
 * left. Without it one request of 300k distinct IDs grew the database by
 * hundreds of MB (count_tokens costs nothing and was never limited).
 */
struct proxy_mint {
	int active;
	int hourly_bound;	/* the tenant's hour, not the request cap, set the quota */
	long hour;
	long quota;
};

/*
 * Checks the model name (a model id, nothing the rules find), applies the
 * alias, the allow-list and the max_tokens clamp. The model is the body's
 * or, on a Bedrock or Vertex route, in_path (the body has none then, and
 * the alias changes the upstream URL instead of the body). Sets *model to
 * the target (arena or model-table lifetime). 0 when refused (answered).
 */
int proxy_model_policy(struct request *req, struct json_object *root, const char *in_path,
    const char **model);

/* Key limits before anything goes upstream; 0 when refused (answered). */
int proxy_admit(struct request *req, const struct principal *p, const char *model,
    struct keys_ticket **ticket);
/* Spend, spend log and the parallel slot, once per admitted request. */
void proxy_settle(struct request *req, struct keys_ticket *ticket, const char *model,
    const struct jwalk_usage *u, int count_spend);

/* Opens the request's budget of new mappings; 0 when refused (answered). */
int proxy_mint_begin(struct request *req, const char *tenant, struct proxy_mint *mb);
/* After a masking error: 1 (answered 413 or 429) when the budget refused it. */
int proxy_mint_refused(struct request *req, const struct proxy_mint *mb);
/* Counts what the request minted against its tenant's hour; lifts the cap. */
void proxy_mint_end(struct request *req, const char *tenant, struct proxy_mint *mb);

#endif
