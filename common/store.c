/*
 * store.c - opening the database, migrations, transactions, readiness.
 *
 * Migrations are the numbered files in sql/ (sql/pg/ for PostgreSQL),
 * embedded at build time and applied in one transaction that holds the
 * write lock (SQLite BEGIN IMMEDIATE, PRAGMA user_version as the marker) or
 * an advisory lock (PostgreSQL, table schema_version as the marker), so
 * many workers on many hosts starting together apply each exactly once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "embed.h"
#include "log.h"
#include "store_int.h"
#include "store_map.h"

/* Runs sql, which returns no rows. */
static enum mg_err
exec(struct store *s, const char *sql)
{
	return db_rc(db_exec(s->db, sql));
}

enum mg_err
store_begin(struct store *s)
{
	enum mg_err rc = db_rc(db_begin(s->db));

	if (rc == MG_OK)
		s->write_tx++;
	return rc;
}

long
store_write_tx_take(struct store *s)
{
	long n = s->write_tx;

	s->write_tx = 0;
	return n;
}

enum mg_err
store_commit(struct store *s)
{
	return db_rc(db_commit(s->db));
}

void
store_rollback(struct store *s)
{
	db_rollback(s->db);
}

/* Any number, the same on every host: the key of the migration lock. */
#define PG_MIGRATION_LOCK "4d61736b67617465"

int
store_retry(struct store *s, enum mg_err rc, int attempt)
{
	unsigned int r = 0;

	if (rc != MG_EBUSY || !db_retryable(s->db))
		return 0;
	if (attempt + 1 >= STORE_RETRIES) {
		log_warn("store: transaction still conflicting after %d attempts; failing closed",
		    attempt + 1);
		return 0;
	}
	/* random, growing pause: the transactions that collided do not collide again */
	if (crypto_random(&r, sizeof(r)) != MG_OK)
		r = (unsigned int)attempt * 7919u;
	usleep((useconds_t)(500 + r % (1000u << attempt)));
	return 1;
}

enum mg_err
store_tx_retry(struct store *s, enum mg_err (*fn)(struct store *s, void *arg), void *arg)
{
	enum mg_err rc;
	int attempt;

	for (attempt = 0;; attempt++) {
		rc = fn(s, arg);
		if (!store_retry(s, rc, attempt))
			return rc;
	}
}

int
store_schema_version(struct store *s)
{
	struct db_stmt *st = db_prepare(s->db, db_backend(s->db) == DB_PG ?
	    "SELECT coalesce(max(version), 0) FROM schema_version" : "PRAGMA user_version");
	int v = -1;

	if (st != NULL && db_step(st) == DB_ROW)
		v = (int)db_column_int64(st, 0);
	db_done(st);
	return v;
}

/* Records version n as applied, in the migration's transaction. */
static enum mg_err
set_version(struct store *s, int n)
{
	char sql[96];

	if (db_backend(s->db) == DB_PG)
		snprintf(sql, sizeof(sql), "DELETE FROM schema_version; "
		    "INSERT INTO schema_version(version) VALUES (%d)", n);
	else
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", n);
	return exec(s, sql);
}

static enum mg_err
migrate(struct store *s, char *err, size_t errlen)
{
	const struct embed_file *files = embed_sql;
	size_t i, count = embed_sql_count;
	enum mg_err rc;
	int version;

	rc = store_begin(s);
	if (rc == MG_OK && db_backend(s->db) == DB_PG) {
		files = embed_pgsql;
		count = embed_pgsql_count;
		/* held until COMMIT: the other workers wait, then find nothing to do */
		rc = exec(s, "SELECT pg_advisory_xact_lock(x'" PG_MIGRATION_LOCK "'::bigint); "
		    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
	}
	if (rc != MG_OK) {
		snprintf(err, errlen, "MASKGATE_DB: cannot lock the database for migration (%s: %s)",
		    mg_strerror(rc), db_errmsg(s->db));
		store_rollback(s);
		return rc;
	}
	version = store_schema_version(s);
	for (i = 0; i < count; i++) {
		int n = (int)(i + 1);
		if (n <= version)
			continue;
		rc = exec(s, files[i].data);
		if (rc != MG_OK) {
			snprintf(err, errlen, "MASKGATE_DB: migration %s failed: %s",
			    files[i].name, db_errmsg(s->db));
			goto out;
		}
		rc = set_version(s, n);
		if (rc != MG_OK)
			goto out;
		log_info("store: applied migration %s", files[i].name);
	}
	if (version > (int)count) {
		snprintf(err, errlen, "MASKGATE_DB: schema version %d is newer than this "
		    "maskgate (%zu); upgrade maskgate", version, count);
		rc = MG_ESTORE;
		goto out;
	}
	rc = store_commit(s);
out:
	if (rc != MG_OK)
		store_rollback(s);
	return rc;
}

/* Migrates and backfills after a late (re)connection; 0 when ready. */
static int
on_connect(void *arg)
{
	struct store *s = arg;
	char err[512];
	enum mg_err rc;

	if (s->ready)
		return 0;
	rc = migrate(s, err, sizeof(err));
	if (rc == MG_OK)
		rc = store_map_backfill(s);
	if (rc != MG_OK) {
		log_error("store: the database answers but is not usable (%s)",
		    err[0] != '\0' ? err : mg_strerror(rc));
		return -1;
	}
	s->ready = 1;
	log_info("store: database ready");
	return 0;
}

static enum mg_err
open_store(const struct cfg *c, int lazy, struct store **out, char *err, size_t errlen)
{
	struct store *s;
	enum mg_err rc = MG_ESTORE;

	*out = NULL;
	err[0] = '\0';
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return MG_ENOMEM;
	s->map_ttl = c->map_ttl;
	if (c->have_data_key) {
		if (CRYPTO_DERIVE(c->data_key, sizeof(c->data_key), "maskgate lookup key v1",
		    s->hmac_key) != MG_OK ||
		    CRYPTO_DERIVE(c->data_key, sizeof(c->data_key), "maskgate value key v1",
		    s->aead_key) != MG_OK) {
			free(s);
			return MG_ENOMEM;
		}
		s->have_keys = 1;
	}
	rc = lazy ? db_open_lazy(c->db_path, c->busy_timeout_ms, &s->db, err, errlen) :
	    db_open(c->db_path, c->busy_timeout_ms, &s->db, err, errlen);
	if (rc != MG_OK)
		goto fail;
	db_set_prepared(s->db, c->db_prepared != 0);
	db_on_connect(s->db, on_connect, s);
	if (!db_connected(s->db)) {
		*out = s;	/* lazy, and err says why */
		return MG_OK;
	}
	err[0] = '\0';
	rc = migrate(s, err, errlen);
	if (rc != MG_OK)
		goto fail;
	rc = store_map_backfill(s);
	if (rc != MG_OK) {
		snprintf(err, errlen, "MASKGATE_DB: preparing mappings for recall failed (%s)",
		    mg_strerror(rc));
		goto fail;
	}
	s->ready = 1;
	*out = s;
	return MG_OK;
fail:
	store_close(s);
	return rc == MG_OK ? MG_ESTORE : rc;
}

enum mg_err
store_open(const struct cfg *c, struct store **out, char *err, size_t errlen)
{
	return open_store(c, 0, out, err, errlen);
}

enum mg_err
store_open_lazy(const struct cfg *c, struct store **out, char *err, size_t errlen)
{
	return open_store(c, 1, out, err, errlen);
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	db_close(s->db);
	explicit_bzero(s, sizeof(*s));
	free(s);
}

enum mg_err
store_check_writable(struct store *s, char *err, size_t errlen)
{
	struct db_stmt *st;
	enum mg_err rc;

	rc = store_begin(s);
	if (rc != MG_OK) {
		snprintf(err, errlen, "database not writable: %s", db_errmsg(s->db));
		return rc;
	}
	st = db_prepare(s->db, "INSERT INTO meta(name, value) VALUES('readiness_probe', ?1) "
	    "ON CONFLICT(name) DO UPDATE SET value = excluded.value");
	if (st == NULL) {
		rc = MG_ESTORE;
	} else {
		char now[32];
		snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
		db_bind_text(st, 1, now);
		rc = db_rc(db_step(st));
		db_done(st);
	}
	if (rc == MG_OK)
		rc = store_commit(s);
	if (rc != MG_OK) {
		snprintf(err, errlen, "database not writable: %s", db_errmsg(s->db));
		store_rollback(s);
	}
	return rc;
}
