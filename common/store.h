/*
 * store.h - the SQLite store shared by all workers: mask mapping, keys,
 * spend, audit. All SQL lives behind store_* functions.
 */
#ifndef MG_STORE_H
#define MG_STORE_H

#include <stddef.h>
#include "mg.h"
#include "cfg.h"

struct store;

/*
 * Opens (creating with 0600 in a 0700 directory if needed) and migrates the
 * database. Call after fork(): a connection is never shared across
 * processes. Returns a new store, caller closes.
 */
enum mg_err store_open(const struct cfg *c, struct store **out, char *err, size_t errlen);
/*
 * The same for a worker: a PostgreSQL server that does not answer yet is
 * logged once (err) and connected to, and migrated, at the first request
 * that finds it back; until then every store call fails (503, fail closed).
 */
enum mg_err store_open_lazy(const struct cfg *c, struct store **out, char *err, size_t errlen);
void store_close(struct store *s);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. */
enum mg_err store_begin(struct store *s);
/*
 * Write transactions this connection began since the last call (counted
 * in the request's own write, for maskgate_store_write_transactions_total).
 */
long store_write_tx_take(struct store *s);
enum mg_err store_commit(struct store *s);
void store_rollback(struct store *s);

/*
 * Runs fn(s, arg), one whole transaction (fn begins it and commits or
 * rolls it back), again while it ends in a PostgreSQL serialisation
 * failure or deadlock: at most STORE_RETRIES attempts with a short random
 * pause between them, then its last error (MG_EBUSY), so that the caller
 * fails closed. fn must leave nothing behind that a rerun would double.
 */
enum mg_err store_tx_retry(struct store *s, enum mg_err (*fn)(struct store *s, void *arg),
    void *arg);

/* Readiness: the database answers and accepts a write. */
enum mg_err store_check_writable(struct store *s, char *err, size_t errlen);

/* Schema version after migrations. */
int store_schema_version(struct store *s);

#endif
