/*
 * store_keys.h - SQL for virtual keys, the rows their limits use, spend,
 * master keys, the audit log, the spend log and the shared metrics
 * counters. SQL only: no policy, no metrics logic. Nothing here ever sees
 * a raw key: only hex SHA-256 hashes.
 */
#ifndef MG_STORE_KEYS_H
#define MG_STORE_KEYS_H

#include <json-c/json.h>

#include "arena.h"
#include "keys.h"
#include "mg.h"

struct store;

/*
 * Loads the key stored under hash, or under a regenerated key's previous
 * hash while its grace period runs. MG_ENOTFOUND when there is none.
 * Strings are allocated in a.
 */
enum mg_err store_keys_get(struct store *s, struct arena *a, const char *hash, long now,
    struct keys_record *out);
/* Inserts a new key; MG_EINVAL when the hash exists. */
enum mg_err store_keys_insert(struct store *s, const struct keys_record *k);
/* Writes every field of k over the row with k->hash; MG_ENOTFOUND when none. */
enum mg_err store_keys_update(struct store *s, const struct keys_record *k);
/* Deletes the key and its grace, rate and slot rows; MG_ENOTFOUND when none. */
enum mg_err store_keys_delete(struct store *s, const char *hash);
/*
 * Moves the key from old_hash to new_hash (new key_name too); the old
 * hash keeps working until grace_until (0: stops at once).
 */
enum mg_err store_keys_rehash(struct store *s, const char *old_hash, const char *new_hash,
    const char *new_name, long grace_until);

/* Filters for store_keys_list; NULL fields do not filter. */
struct store_keys_filter {
	const char *user_id, *team_id, *key_alias;
	long offset, limit;
};

/* Fills *out (arena array of *n records) and *total (all matches). */
enum mg_err store_keys_list(struct store *s, struct arena *a, const struct store_keys_filter *f,
    struct keys_record **out, size_t *n, long *total);

/*
 * The rows admission (limits.c) reads and reserves, inside its
 * transaction. store_keys_set_budget: the key's spend and the end of its
 * budget period.
 */
enum mg_err store_keys_set_budget(struct store *s, const char *hash, double spend,
    long reset_at);

/* A parallel-request slot: who holds it. */
struct store_slot {
	long id;
	long pid;	/* the worker process that took it */
};

/*
 * Deletes the key's slots started before started_before, then lists the
 * others (*out: arena array of *n).
 */
enum mg_err store_keys_slots(struct store *s, struct arena *a, const char *hash,
    long started_before, struct store_slot **out, size_t *n);
/* Frees one slot. */
enum mg_err store_keys_slot_delete(struct store *s, long id);
/* Takes a slot for pid; *id names it for store_keys_settle. */
enum mg_err store_keys_slot_take(struct store *s, const char *hash, long pid, long now,
    long *id);

/*
 * Requests and tokens recorded for the key at times after 'after', and the
 * oldest time of each (-1 when none).
 */
enum mg_err store_keys_usage(struct store *s, const char *hash, long after, long *requests,
    long *tokens, long *oldest_request, long *oldest_tokens);
/* Drops usage rows at or before drop_until and records one request at now. */
enum mg_err store_keys_use_request(struct store *s, const char *hash, long drop_until,
    long now);

/*
 * Seconds a parallel-request slot lives on PostgreSQL without renewal: a
 * worker killed mid-request frees its slot after this long (SQLite, one
 * host, also frees it as soon as the worker's PID is gone).
 */
#define STORE_LEASE_SECONDS 15

/*
 * Renews the slot this worker holds, at most every STORE_LEASE_SECONDS/3;
 * called while a request waits on upstream. A no-op without a slot.
 */
enum mg_err store_keys_lease_tick(struct store *s, long now);

/* One request's spend, for store_keys_settle. */
struct store_spend {
	const char *request_id;
	const char *key_hash, *key_alias, *user_id, *team_id, *tenant, *model;
	long input_tokens, output_tokens, cache_write_tokens, cache_read_tokens;
	double cost;
	int status;
	long duration_ms;
	int is_virtual;		/* add to vkey.spend and the tpm window */
	long slot;		/* parallel slot to free, 0 = none */
};

/*
 * Frees the slot, adds spend and tokens to the key and writes the
 * spend-log row; runs in the caller's transaction (spend_settle()).
 */
enum mg_err store_keys_settle(struct store *s, const struct store_spend *sp);

/* Appends an audit row (its own statement; joins an open transaction). */
enum mg_err store_audit_add(struct store *s, const char *actor, const char *action,
    const char *target, const char *outcome, const char *detail);
/* The newest rows first, as a new JSON array (caller puts). */
enum mg_err store_audit_list(struct store *s, long limit, const char *action,
    struct json_object **out);

/* Spend-log rows matching the filters (NULL = any), newest first. */
struct store_spend_filter {
	const char *key_hash, *user_id, *team_id;
	long long from_ms, to_ms;	/* 0 = open */
	long limit;
};
enum mg_err store_spend_list(struct store *s, const struct store_spend_filter *f,
    struct json_object **out);

/*
 * Master keys. store_master_state says whether hash is a valid master key:
 * 1 valid, 0 retired (its grace is over), -1 unknown to the table.
 */
int store_master_state(struct store *s, const char *hash, long now);
/*
 * Records new_hash as the primary master key and gives every other valid
 * master key (including configured_hash, the key in the configuration)
 * grace_until. Runs in the caller's transaction.
 */
enum mg_err store_master_rotate(struct store *s, const char *new_hash,
    const char *configured_hash, long now, long grace_until, const char *actor);

/* Adds delta to the counter (name, labels); joins an open transaction. */
enum mg_err store_metric_add(struct store *s, const char *name, const char *labels,
    double delta);
/* One counter's addition, for store_metric_add_batch(). */
struct store_metric {
	const char *name, *labels;
	double delta;
};
/* Counters per statement in store_metric_add_batch(). */
#define STORE_METRIC_ROWS 16
/*
 * Adds every row's delta to its counter, STORE_METRIC_ROWS to a statement;
 * joins an open transaction. The rows' (name, labels) must be distinct.
 */
enum mg_err store_metric_add_batch(struct store *s, const struct store_metric *rows, size_t n);
/* Calls fn for every counter, ordered by name then labels. */
enum mg_err store_metric_each(struct store *s,
    void (*fn)(void *ctx, const char *name, const char *labels, double value), void *ctx);

#endif
