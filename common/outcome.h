/*
 * outcome.h - what happened to one request, decided once where it
 * happened. The exchange (exchange.c) and the credential check (auth.c)
 * set the reason at the point of decision; metrics, the spend log, the
 * audit trail and the access log read this record after the response and
 * never reconstruct it from messages, statuses or routes.
 */
#ifndef MG_OUTCOME_H
#define MG_OUTCOME_H

#include "jwalk.h"

struct mask_session;
struct keys_ticket;

enum outcome_reason {
	OUT_OK,			/* answered; not refused by any check below */
	/* refusals counted in maskgate_rejections_total */
	OUT_AUTH,		/* no valid credential */
	OUT_BLOCKED_KEY,	/* the virtual key is blocked */
	OUT_EXPIRED,		/* the virtual key expired */
	OUT_MODEL,		/* the model is not on the key's or token's allow-list */
	OUT_BUDGET,		/* the key's max_budget is spent */
	OUT_RATE,		/* rpm/tpm, or the tenant's new mappings per hour */
	OUT_PARALLEL,		/* max_parallel_requests */
	OUT_FAIL_CLOSED,	/* masking or the store failed: nothing went upstream */
	OUT_BLOCK_RULE,		/* a block rule matched */
	/* not refusals */
	OUT_UPSTREAM,		/* the upstream failed, timed out or sent garbage */
	OUT_CLIENT_GONE,	/* the client went away mid-exchange */
	OUT__MAX
};

/* 1 for the reasons that count as a rejection in the metrics. */
#define OUTCOME_IS_REJECTION(r) ((r) > OUT_OK && (r) <= OUT_BLOCK_RULE)

/* An admitted request's budget of new mappings (limits.c). */
struct outcome_mint {
	int active;
	long quota;		/* MASKGATE_MAX_NEW_MAPPINGS, 0 = none */
	long hour_cap;		/* MASKGATE_MAX_NEW_MAPPINGS_PER_HOUR, 0 = none */
	long hour;		/* the clock hour it counts in (Unix seconds / 3600) */
};

struct outcome {
	enum outcome_reason reason;
	int status;		/* HTTP status sent (set once the response starts) */
	const char *route;	/* routing-table path, never the raw path */
	const char *tenant;	/* "-" until authenticated */
	const char *model;	/* target model, NULL when none */
	const char *upstream_request_id;	/* the upstream's request-id, or NULL */
	long upstream_ms;	/* < 0: the upstream was not called */
	long ttfb_ms;		/* < 0: no first byte */
	long duration_ms;	/* set at settlement */
	struct jwalk_usage usage;	/* tokens the response reported */
	int priced;		/* usage is spend (Messages, not count_tokens) */
	double cost;		/* USD, from usage and the model table */
	const struct mask_session *mask;	/* per-type mask counts, or NULL */
	struct keys_ticket *ticket;	/* admitted by the key limits: settle once */
	const char *key_alias;	/* spend label: the key's alias, else the tenant */
	struct outcome_mint mint;
};

/* A fresh record: OUT_OK, no upstream call, tenant "-". */
void outcome_init(struct outcome *o);

/* The reason's name, for the access log ("ok", "budget", ...). */
const char *outcome_reason_name(enum outcome_reason r);

/* The metric label of a rejection reason, or NULL for the others. */
const char *outcome_rejection_name(enum outcome_reason r);

/*
 * Sets the reason unless one is already set: the first decision is the
 * one that explains the request.
 */
void outcome_set(struct outcome *o, enum outcome_reason r);

#endif
