/*
 * store_console.h - SQL behind the admin console: sign-in sessions, login
 * throttling, per-day masking counters, spend and audit reports, and the
 * usage anomalies already flagged. Only hashes of keys and cookies.
 */
#ifndef MG_STORE_CONSOLE_H
#define MG_STORE_CONSOLE_H

#include "arena.h"
#include "mg.h"

struct store;

/* A signed-in console session as stored. */
struct store_session {
	char kind[16];			/* "master" or "virtual" */
	char key_hash[2 * 32 + 1];	/* the credential that signed in */
	const char *actor;		/* who, for the audit log (arena) */
	long created_at, expires_at;
};

/* Records a session under the hash of its cookie value. */
enum mg_err store_session_add(struct store *s, const char *hash, const struct store_session *ss);
/* The live session under hash; MG_ENOTFOUND when none or expired. */
enum mg_err store_session_get(struct store *s, struct arena *a, const char *hash, long now,
    struct store_session *out);
/* Ends one session (sign-out); ending an unknown one is not an error. */
enum mg_err store_session_delete(struct store *s, const char *hash);
/* Deletes expired sessions and login windows older than before. */
enum mg_err store_session_purge(struct store *s, long now, long before);

/* Failed sign-ins from addr in the window starting at window. */
enum mg_err store_login_failures(struct store *s, const char *addr, long window, long *out);
/* Counts one more failed sign-in. */
enum mg_err store_login_fail(struct store *s, const char *addr, long window);

/* Adds one request's masking counts for (day, tenant, type); joins a transaction. */
enum mg_err store_mask_daily_add(struct store *s, long day, const char *tenant,
    const char *type, unsigned long masked, unsigned long minted, unsigned long restored);
/* One type's masking counts, for store_mask_daily_add_batch(). */
struct store_mask_count {
	const char *type;
	unsigned long masked, minted, restored;
};
/* Types per statement in store_mask_daily_add_batch(). */
#define STORE_MASK_DAILY_ROWS 16
/*
 * store_mask_daily_add() for n distinct types at once, in multi-row
 * upserts of STORE_MASK_DAILY_ROWS; joins a transaction.
 */
enum mg_err store_mask_daily_add_batch(struct store *s, long day, const char *tenant,
    const struct store_mask_count *rows, size_t n);
/* Calls fn for every row from from_day on, ordered by day, tenant, type. */
enum mg_err store_mask_daily_each(struct store *s, long from_day,
    void (*fn)(void *ctx, long day, const char *tenant, const char *type, long masked,
    long minted, long restored), void *ctx);

/* What store_spend_each groups by. */
enum store_group { SG_KEY, SG_USER, SG_TEAM, SG_MODEL, SG__MAX };

/* One group in one time bucket of the spend log. */
struct store_spend_row {
	long bucket;		/* Unix seconds of the bucket's start */
	const char *group;	/* key hash, user, team or model; "" when unset */
	const char *label;	/* key alias for keys, else the group */
	long requests, input_tokens, output_tokens;
	double cost;
};

/*
 * Sums the spend log from from_ms on by time bucket (bucket_secs wide,
 * aligned to UTC) and group, ordered by bucket then group.
 */
enum mg_err store_spend_each(struct store *s, enum store_group g, long long from_ms,
    long bucket_secs, void (*fn)(void *ctx, const struct store_spend_row *r), void *ctx);

/* Audit-log filters; NULL/0 fields do not filter. actor matches a substring. */
struct store_audit_filter {
	const char *actor, *action;
	long from, to;		/* Unix seconds, [from, to) */
	long offset, limit;
};

/* One audit row, strings valid during the callback only. */
struct store_audit_row {
	long long id;
	long at;
	const char *actor, *action, *target, *outcome, *detail;	/* target, detail may be NULL */
};

/* Matching rows newest first, one page; *total counts every match. */
enum mg_err store_audit_page(struct store *s, const struct store_audit_filter *f,
    void (*fn)(void *ctx, const struct store_audit_row *r), void *ctx, long *total);

/*
 * Keys with at least min_requests in [from_ms, to_ms): fn gets the key
 * hash, its alias (may be NULL), requests and spend.
 */
enum mg_err store_spend_active_keys(struct store *s, long long from_ms, long long to_ms,
    long min_requests, void (*fn)(void *ctx, const char *key_hash, const char *alias,
    long requests, double cost), void *ctx);
/* Per hour of [from_ms, to_ms) that has rows: fn(ctx, hour index from from_ms, requests, spend). */
enum mg_err store_spend_hourly(struct store *s, const char *key_hash, long long from_ms,
    long long to_ms, void (*fn)(void *ctx, long hour, long requests, double cost), void *ctx);

/* Records a flagged anomaly once; *inserted is 1 when it was new. */
enum mg_err store_anomaly_mark(struct store *s, const char *key_hash, long hour,
    const char *kind, double observed, double baseline, long now, int *inserted);

#endif
