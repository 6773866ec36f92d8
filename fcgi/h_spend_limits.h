/*
 * h_spend_limits.h - per-developer spend caps over HTTP: the Admin-API
 * shaped /v1/organizations/spend_limits.
 */
#ifndef MG_H_SPEND_LIMITS_H
#define MG_H_SPEND_LIMITS_H

#include "http.h"
#include "keys.h"

/* GET/POST /v1/organizations/spend_limits[/{id}] (admin credential). */
void h_spend_limits(struct request *req, const struct principal *p);

#endif
