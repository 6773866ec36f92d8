/*
 * store_spend_limits.h - SQL behind per-developer spend caps: the caps as
 * the Admin API sets them, and a developer's period-to-date spend read from
 * the spend log. Policy (which cap applies, when a period resets) lives in
 * spend_limit.c, above this.
 */
#ifndef MG_STORE_SPEND_LIMITS_H
#define MG_STORE_SPEND_LIMITS_H

#include "arena.h"
#include "mg.h"

struct store;

/* One cap as stored; strings in the arena it was read into. */
struct store_spend_limit {
	const char *id;		/* "spl_..." */
	const char *scope_type;	/* organization, rbac_group or user */
	const char *scope_id;	/* "" for the organisation */
	const char *period;	/* daily, weekly or monthly */
	long long amount_cents;	/* -1: unlimited (null) */
	long created_at, updated_at;
};

/*
 * Creates or replaces the cap of (scope_type, scope_id, period); an
 * existing one keeps its id and created_at. *out is the stored row.
 */
enum mg_err store_spend_limit_put(struct store *s, struct arena *a, const char *scope_type,
    const char *scope_id, const char *period, long long amount_cents, long now,
    struct store_spend_limit *out);

/* The cap with id; MG_ENOTFOUND when none. */
enum mg_err store_spend_limit_get(struct store *s, struct arena *a, const char *id,
    struct store_spend_limit *out);

/*
 * Calls fn for caps in creation order after after_id (NULL: from the
 * start), of scope_type only when not NULL, at most limit of them;
 * *has_more tells whether more follow.
 */
enum mg_err store_spend_limit_each(struct store *s, struct arena *a, const char *scope_type,
    const char *after_id, long limit, void (*fn)(void *ctx, const struct store_spend_limit *l),
    void *ctx, int *has_more);

/*
 * The caps that may apply to a developer for one period: the user's own,
 * the team's (rbac_group) and the organisation's, each -2 when not set
 * (-1 when set to unlimited). user_id and team_id may be NULL.
 */
struct store_spend_caps {
	long long user, team, org;
};
enum mg_err store_spend_limit_caps(struct store *s, const char *user_id, const char *team_id,
    const char *period, struct store_spend_caps *out);

/* 1 when any cap is configured at all (the common case is none: no query). */
enum mg_err store_spend_limit_any(struct store *s, int *any);

/*
 * A developer's spend in USD from from_ms on: by user_id when given, else
 * by the key hash that made the requests.
 */
enum mg_err store_spend_since(struct store *s, const char *user_id, const char *key_hash,
    long long from_ms, double *usd);

#endif
