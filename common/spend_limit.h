/*
 * spend_limit.h - per-developer spend caps by day, week or month and the
 * 429 that Claude Code shows with the cap's period, its reset time and the
 * operator's message (the Claude apps gateway contract).
 */
#ifndef MG_SPEND_LIMIT_H
#define MG_SPEND_LIMIT_H

#include "arena.h"
#include "mg.h"

struct store;

enum spend_period { SP_DAILY, SP_WEEKLY, SP_MONTHLY, SP__MAX };

/* "daily", "weekly", "monthly". */
const char *spend_period_name(enum spend_period p);
/* 0 with *out set when s names a period, -1 otherwise. */
int spend_period_parse(const char *s, enum spend_period *out);
/* Start of the UTC calendar period holding now: 00:00, Monday, the 1st. */
long spend_period_start(enum spend_period p, long now);
/* Start of the next one: when a cap of this period resets. */
long spend_period_reset(enum spend_period p, long now);

/* Why a request is over a cap. */
struct spend_block {
	const char *period;	/* "daily", ..., or a key budget's label */
	long reset_at;		/* Unix seconds; 0: the cap never resets */
	double cap_usd, spent_usd;
};

/*
 * Checks the developer (user_id, else key_hash) against the caps that
 * apply per period: the user's own, else the team's, else the
 * organisation's. *blocked = 1 with *out naming the cap that resets last
 * when over any. Errors: the store failed.
 */
enum mg_err spend_limit_check(struct store *s, const char *user_id, const char *team_id,
    const char *key_hash, long now, struct spend_block *out, int *blocked);

/*
 * "spend limit reached (daily; resets 2026-08-09 00:00 UTC)", then the
 * operator's message when given. In the arena.
 */
const char *spend_limit_message(struct arena *a, const struct spend_block *b,
    const char *operator_message);

/*
 * The 429 body: {"type":"error","error":{"type":"billing_error",
 * "message":...},"request_id":...}. In the arena; NULL when out of memory.
 */
const char *spend_limit_body(struct arena *a, const char *message, const char *request_id);

#endif
