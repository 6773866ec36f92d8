/*
 * h_spend_limits.h - per-developer spend caps over HTTP: the Admin-API
 * shaped /v1/organizations/spend_limits, and the 429 a capped request gets.
 */
#ifndef MG_H_SPEND_LIMITS_H
#define MG_H_SPEND_LIMITS_H

#include "http.h"
#include "keys.h"

/* GET/POST /v1/organizations/spend_limits[/{id}] (admin credential). */
void h_spend_limits(struct request *req, const struct principal *p);

/*
 * Before anything goes upstream: 1 when p is under every cap that applies
 * to it (or is the master key, or the request only counts tokens); 0 when
 * answered with the spend-limit 429 (or 503 when the store failed).
 */
int spend_limits_admit(struct request *req, const struct principal *p);

/*
 * Answers a key whose own max_budget is spent with the same 429:
 * retry_after seconds to its budget reset (0: it never resets).
 */
void spend_limits_refuse_budget(struct request *req, const struct principal *p,
    long retry_after);

#endif
