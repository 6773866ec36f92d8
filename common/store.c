/*
 * store.c - opening the database, migrations, transactions, readiness.
 *
 * Migrations are the numbered files in sql/, embedded at build time, and
 * applied under BEGIN IMMEDIATE with PRAGMA user_version as the marker, so
 * many workers starting together apply each exactly once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

int
store_schema_version(struct store *s)
{
	struct db_stmt *st = db_prepare(s->db, "PRAGMA user_version");
	int v = -1;

	if (st != NULL && db_step(st) == DB_ROW)
		v = (int)db_column_int64(st, 0);
	db_done(st);
	return v;
}

static enum mg_err
migrate(struct store *s, char *err, size_t errlen)
{
	enum mg_err rc;
	size_t i;
	int version;

	rc = store_begin(s);
	if (rc != MG_OK) {
		snprintf(err, errlen, "MASKGATE_DB: cannot lock the database for migration (%s)",
		    mg_strerror(rc));
		return rc;
	}
	version = store_schema_version(s);
	for (i = 0; i < embed_sql_count; i++) {
		int n = (int)(i + 1);
		char pragma[64];
		if (n <= version)
			continue;
		rc = exec(s, embed_sql[i].data);
		if (rc != MG_OK) {
			snprintf(err, errlen, "MASKGATE_DB: migration %s failed: %s",
			    embed_sql[i].name, db_errmsg(s->db));
			goto out;
		}
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", n);
		rc = exec(s, pragma);
		if (rc != MG_OK)
			goto out;
		log_info("store: applied migration %s", embed_sql[i].name);
	}
	if (version > (int)embed_sql_count) {
		snprintf(err, errlen, "MASKGATE_DB: schema version %d is newer than this "
		    "maskgate (%zu); upgrade maskgate", version, embed_sql_count);
		rc = MG_ESTORE;
		goto out;
	}
	rc = store_commit(s);
out:
	if (rc != MG_OK)
		store_rollback(s);
	return rc;
}

enum mg_err
store_open(const struct cfg *c, struct store **out, char *err, size_t errlen)
{
	struct store *s;
	enum mg_err rc = MG_ESTORE;

	*out = NULL;
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
	rc = db_open(c->db_path, c->busy_timeout_ms, &s->db, err, errlen);
	if (rc != MG_OK)
		goto fail;
	rc = migrate(s, err, errlen);
	if (rc != MG_OK)
		goto fail;
	rc = store_map_backfill(s);
	if (rc != MG_OK) {
		snprintf(err, errlen, "MASKGATE_DB: preparing mappings for recall failed (%s)",
		    mg_strerror(rc));
		goto fail;
	}
	*out = s;
	return MG_OK;
fail:
	store_close(s);
	return rc == MG_OK ? MG_ESTORE : rc;
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
