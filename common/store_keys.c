/*
 * store_keys.c - the SQL of virtual keys: records, regeneration with
 * grace, listing, the rows the limits read and reserve (usage window,
 * parallel slots, budget period) and the settlement rows. The policy that
 * decides with them is limits.c; it runs these inside its transactions.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "store_int.h"
#include "store_keys.h"

#define KEY_COLUMNS "hash, key_name, key_alias, user_id, team_id, models, metadata, " \
	"max_budget, budget_duration, budget_reset_at, spend, rpm_limit, tpm_limit, " \
	"max_parallel_requests, expires, blocked, admin, created_at, updated_at, created_by, " \
	"key_tenant"

static const char *
col_str(struct arena *a, struct db_stmt *st, int i)
{
	const char *v = db_column_text(st, i);

	return v != NULL ? arena_strdup(a, v) : NULL;
}

static long
col_long(struct db_stmt *st, int i, long none)
{
	return db_column_type(st, i) == DB_NULL ? none : (long)db_column_int64(st, i);
}

/* Fills k from a row selected with KEY_COLUMNS. */
static void
row_to_record(struct arena *a, struct db_stmt *st, struct keys_record *k)
{
	const char *h = db_column_text(st, 0);

	memset(k, 0, sizeof(*k));
	snprintf(k->hash, sizeof(k->hash), "%s", h != NULL ? h : "");
	k->key_name = col_str(a, st, 1);
	k->key_alias = col_str(a, st, 2);
	k->user_id = col_str(a, st, 3);
	k->team_id = col_str(a, st, 4);
	k->models = col_str(a, st, 5);
	k->metadata = col_str(a, st, 6);
	k->max_budget = db_column_type(st, 7) == DB_NULL ? -1 :
	    db_column_double(st, 7);
	k->budget_duration = col_long(st, 8, -1);
	k->budget_reset_at = col_long(st, 9, 0);
	k->spend = db_column_double(st, 10);
	k->rpm_limit = col_long(st, 11, -1);
	k->tpm_limit = col_long(st, 12, -1);
	k->max_parallel_requests = col_long(st, 13, -1);
	k->expires = col_long(st, 14, 0);
	k->blocked = (int)col_long(st, 15, 0);
	k->admin = (int)col_long(st, 16, 0);
	k->created_at = col_long(st, 17, 0);
	k->updated_at = col_long(st, 18, 0);
	k->created_by = col_str(a, st, 19);
	k->key_tenant = col_str(a, st, 20);
}

static void
bind_text_or_null(struct db_stmt *st, int i, const char *v)
{
	if (v != NULL)
		db_bind_text(st, i, v);
	else
		db_bind_null(st, i);
}

static void
bind_long_or_null(struct db_stmt *st, int i, long v, long none)
{
	if (v == none)
		db_bind_null(st, i);
	else
		db_bind_int64(st, i, v);
}

/* Binds hash and the 20 columns after it, parameters 1 to 21. */
static void
bind_record(struct db_stmt *st, const struct keys_record *k)
{
	db_bind_text(st, 1, k->hash);
	bind_text_or_null(st, 2, k->key_name != NULL ? k->key_name : "sk-...");
	bind_text_or_null(st, 3, k->key_alias);
	bind_text_or_null(st, 4, k->user_id);
	bind_text_or_null(st, 5, k->team_id);
	bind_text_or_null(st, 6, k->models != NULL ? k->models : "[]");
	bind_text_or_null(st, 7, k->metadata != NULL ? k->metadata : "{}");
	if (k->max_budget < 0)
		db_bind_null(st, 8);
	else
		db_bind_double(st, 8, k->max_budget);
	bind_long_or_null(st, 9, k->budget_duration, -1);
	bind_long_or_null(st, 10, k->budget_reset_at, 0);
	db_bind_double(st, 11, k->spend);
	bind_long_or_null(st, 12, k->rpm_limit, -1);
	bind_long_or_null(st, 13, k->tpm_limit, -1);
	bind_long_or_null(st, 14, k->max_parallel_requests, -1);
	bind_long_or_null(st, 15, k->expires, 0);
	db_bind_int64(st, 16, k->blocked != 0);
	db_bind_int64(st, 17, k->admin != 0);
	db_bind_int64(st, 18, k->created_at);
	db_bind_int64(st, 19, k->updated_at);
	bind_text_or_null(st, 20, k->created_by);
	/* a key's own tenant is pinned at its first write: regeneration keeps it */
	if (k->key_tenant != NULL)
		db_bind_text(st, 21, k->key_tenant);
	else
		db_bind_textn(st, 21, k->hash, KEYS_TENANT_ANCHOR_LEN);
}

/*
 * PostgreSQL runs read committed: a transaction that reads a key to decide
 * a write (admission: spend, window, slots; key management) must not
 * interleave with another host's, so it locks the key's row first
 * (SQLite's BEGIN IMMEDIATE already excludes every other writer).
 */
static enum mg_err
lock_key(struct store *s, const char *hash, long now)
{
	struct db_stmt *st;
	enum db_step step;

	if (db_backend(s->db) != DB_PG || !db_in_transaction(s->db))
		return MG_OK;
	st = db_prepare(s->db, "SELECT 1 FROM vkey WHERE hash = ?1 OR hash = (SELECT hash FROM "
	    "vkey_grace WHERE old_hash = ?1 AND grace_until > ?2) FOR UPDATE");
	if (st == NULL)
		return MG_ESTORE;
	db_bind_text(st, 1, hash);
	db_bind_int64(st, 2, now);
	do
		step = db_step(st);
	while (step == DB_ROW);
	db_done(st);
	return db_rc(step);
}

enum mg_err
store_keys_get(struct store *s, struct arena *a, const char *hash, long now,
    struct keys_record *out)
{
	struct db_stmt *st;
	enum mg_err rc = MG_ENOTFOUND;
	enum db_step step;

	rc = lock_key(s, hash, now);
	if (rc != MG_OK)
		return rc;
	rc = MG_ENOTFOUND;
	st = db_prepare(s->db, "SELECT " KEY_COLUMNS " FROM vkey WHERE hash = ?1 UNION ALL "
	    "SELECT " KEY_COLUMNS " FROM vkey WHERE hash = (SELECT hash FROM vkey_grace "
	    "WHERE old_hash = ?1 AND grace_until > ?2) LIMIT 1");
	if (st == NULL)
		return MG_ESTORE;
	db_bind_text(st, 1, hash);
	db_bind_int64(st, 2, now);
	step = db_step(st);
	if (step == DB_ROW) {
		row_to_record(a, st, out);
		rc = MG_OK;
	} else if (step != DB_DONE) {
		rc = db_rc(step);
	}
	db_done(st);
	return rc;
}

/* Runs one prepared write; returns the number of changed rows in *changes. */
static enum mg_err
run_write(struct store *s, struct db_stmt *st, int *changes)
{
	enum db_step step = db_step(st);
	enum mg_err rc = db_rc_want(step, DB_DONE);

	if (step == DB_ECONSTRAINT)
		rc = MG_EINVAL;
	if (changes != NULL)
		*changes = (int)db_changes(s->db);
	db_done(st);
	return rc;
}

enum mg_err
store_keys_insert(struct store *s, const struct keys_record *k)
{
	struct db_stmt *st = db_prepare(s->db, "INSERT INTO vkey(" KEY_COLUMNS ") VALUES "
	    "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, "
	    "?19, ?20, ?21)");

	if (st == NULL)
		return MG_ESTORE;
	bind_record(st, k);
	return run_write(s, st, NULL);
}

enum mg_err
store_keys_update(struct store *s, const struct keys_record *k)
{
	struct db_stmt *st = db_prepare(s->db, "UPDATE vkey SET key_name = ?2, key_alias = ?3, "
	    "user_id = ?4, team_id = ?5, models = ?6, metadata = ?7, max_budget = ?8, "
	    "budget_duration = ?9, budget_reset_at = ?10, spend = ?11, rpm_limit = ?12, "
	    "tpm_limit = ?13, max_parallel_requests = ?14, expires = ?15, blocked = ?16, "
	    "admin = ?17, created_at = ?18, updated_at = ?19, created_by = ?20, key_tenant = ?21 "
	    "WHERE hash = ?1");
	enum mg_err rc;
	int changes = 0;

	if (st == NULL)
		return MG_ESTORE;
	bind_record(st, k);
	rc = run_write(s, st, &changes);
	return rc == MG_OK && changes == 0 ? MG_ENOTFOUND : rc;
}

/* Runs sql with ?1 = a and ?2 = b (either may be NULL: unbound). */
static enum mg_err
exec2(struct store *s, const char *sql, const char *a, const char *b, int *changes)
{
	struct db_stmt *st = db_prepare(s->db, sql);

	if (st == NULL)
		return MG_ESTORE;
	if (a != NULL)
		db_bind_text(st, 1, a);
	if (b != NULL)
		db_bind_text(st, 2, b);
	return run_write(s, st, changes);
}

enum mg_err
store_keys_delete(struct store *s, const char *hash)
{
	enum mg_err rc;
	int changes = 0;

	rc = exec2(s, "DELETE FROM vkey_grace WHERE hash = ?1", hash, NULL, NULL);
	if (rc == MG_OK)
		rc = exec2(s, "DELETE FROM vkey_use WHERE hash = ?1", hash, NULL, NULL);
	if (rc == MG_OK)
		rc = exec2(s, "DELETE FROM vkey_slot WHERE hash = ?1", hash, NULL, NULL);
	if (rc == MG_OK)
		rc = exec2(s, "DELETE FROM vkey WHERE hash = ?1", hash, NULL, &changes);
	return rc == MG_OK && changes == 0 ? MG_ENOTFOUND : rc;
}

enum mg_err
store_keys_rehash(struct store *s, const char *old_hash, const char *new_hash,
    const char *new_name, long grace_until)
{
	struct db_stmt *st;
	enum mg_err rc;
	int changes = 0;

	st = db_prepare(s->db, "UPDATE vkey SET hash = ?2, key_name = ?3, updated_at = ?4 "
	    "WHERE hash = ?1");
	if (st == NULL)
		return MG_ESTORE;
	db_bind_text(st, 1, old_hash);
	db_bind_text(st, 2, new_hash);
	db_bind_text(st, 3, new_name);
	db_bind_int64(st, 4, (int64_t)time(NULL));
	rc = run_write(s, st, &changes);
	if (rc != MG_OK)
		return rc;
	if (changes == 0)
		return MG_ENOTFOUND;
	rc = exec2(s, "UPDATE vkey_use SET hash = ?2 WHERE hash = ?1", old_hash, new_hash, NULL);
	if (rc == MG_OK)
		rc = exec2(s, "UPDATE vkey_slot SET hash = ?2 WHERE hash = ?1", old_hash, new_hash,
		    NULL);
	/*
	 * Without grace every earlier secret stops now: the graces of earlier
	 * regenerations followed the record (ON UPDATE CASCADE) and would
	 * otherwise keep a possibly leaked key alive until they ran out.
	 */
	if (rc == MG_OK && grace_until <= 0)
		rc = exec2(s, "DELETE FROM vkey_grace WHERE hash = ?1 OR hash = ?2", old_hash,
		    new_hash, NULL);
	if (rc != MG_OK || grace_until <= 0)
		return rc;
	st = db_prepare(s->db, "INSERT INTO vkey_grace(old_hash, hash, grace_until) "
	    "VALUES (?1, ?2, ?3) ON CONFLICT(old_hash) DO UPDATE SET hash = excluded.hash, "
	    "grace_until = excluded.grace_until");
	if (st == NULL)
		return MG_ESTORE;
	db_bind_text(st, 1, old_hash);
	db_bind_text(st, 2, new_hash);
	db_bind_int64(st, 3, grace_until);
	return run_write(s, st, NULL);
}

enum mg_err
store_keys_list(struct store *s, struct arena *a, const struct store_keys_filter *f,
    struct keys_record **out, size_t *n, long *total)
{
	/* CAST: PostgreSQL must know a NULL parameter's type */
	static const char where[] = " WHERE (CAST(?1 AS TEXT) IS NULL OR user_id = ?1) AND "
	    "(CAST(?2 AS TEXT) IS NULL OR team_id = ?2) AND "
	    "(CAST(?3 AS TEXT) IS NULL OR key_alias = ?3)";
	char sql[1024];
	struct db_stmt *st;
	size_t cap = (size_t)(f->limit > 0 ? f->limit : 1);
	enum db_step step;

	*out = NULL;
	*n = 0;
	*total = 0;
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM vkey%s", where);
	st = db_prepare(s->db, sql);
	if (st == NULL)
		return MG_ESTORE;
	bind_text_or_null(st, 1, f->user_id);
	bind_text_or_null(st, 2, f->team_id);
	bind_text_or_null(st, 3, f->key_alias);
	if (db_step(st) == DB_ROW)
		*total = (long)db_column_int64(st, 0);
	db_done(st);

	snprintf(sql, sizeof(sql), "SELECT " KEY_COLUMNS " FROM vkey%s "
	    "ORDER BY created_at, hash LIMIT ?4 OFFSET ?5", where);
	st = db_prepare(s->db, sql);
	if (st == NULL)
		return MG_ESTORE;
	bind_text_or_null(st, 1, f->user_id);
	bind_text_or_null(st, 2, f->team_id);
	bind_text_or_null(st, 3, f->key_alias);
	db_bind_int64(st, 4, f->limit);
	db_bind_int64(st, 5, f->offset);
	*out = arena_alloc(a, cap * sizeof(**out));
	if (*out == NULL) {
		db_done(st);
		return MG_ENOMEM;
	}
	for (step = db_step(st); step == DB_ROW && *n < cap; step = db_step(st))
		row_to_record(a, st, &(*out)[(*n)++]);
	db_done(st);
	return step == DB_ROW || step == DB_DONE ? MG_OK : db_rc(step);
}

enum mg_err
store_keys_set_budget(struct store *s, const char *hash, double spend, long reset_at)
{
	struct db_stmt *st = db_prepare(s->db, "UPDATE vkey SET spend = ?2, budget_reset_at = ?3 "
	    "WHERE hash = ?1");

	if (st == NULL)
		return MG_ESTORE;
	db_bind_text(st, 1, hash);
	db_bind_double(st, 2, spend);
	db_bind_int64(st, 3, reset_at);
	return run_write(s, st, NULL);
}

enum mg_err
store_keys_slots(struct store *s, struct arena *a, const char *hash, long started_before,
    struct store_slot **out, size_t *n)
{
	struct db_stmt *st;
	size_t cap = 0;
	enum db_step step;
	enum mg_err rc;
	int pg = db_backend(s->db) == DB_PG, expired = 0;

	*out = NULL;
	*n = 0;
	/*
	 * On PostgreSQL the workers of several hosts share the table and a PID
	 * means nothing elsewhere: a slot is a lease that its worker renews
	 * while the request runs (store_keys_lease_tick), one not renewed for
	 * STORE_LEASE_SECONDS belongs to nobody, and no PID is handed out.
	 */
	if (pg && started_before < (long)time(NULL) - STORE_LEASE_SECONDS)
		started_before = (long)time(NULL) - STORE_LEASE_SECONDS;
	st = db_prepare(s->db, "DELETE FROM vkey_slot WHERE hash = ?1 AND started < ?2");
	if (st == NULL)
		return MG_ESTORE;
	db_bind_text(st, 1, hash);
	db_bind_int64(st, 2, started_before);
	rc = run_write(s, st, &expired);
	if (rc != MG_OK)
		return rc;
	if (pg && expired > 0)
		log_warn("keys: reclaimed %d expired parallel slot lease(s)", expired);
	st = db_prepare(s->db, "SELECT id, pid FROM vkey_slot WHERE hash = ?1");
	if (st == NULL)
		return MG_ESTORE;
	db_bind_text(st, 1, hash);
	for (step = db_step(st); step == DB_ROW; step = db_step(st)) {
		if (*n == cap) {
			struct store_slot *grown;
			cap = cap != 0 ? cap * 2 : 8;
			grown = arena_alloc(a, cap * sizeof(*grown));
			if (grown == NULL) {
				db_done(st);
				return MG_ENOMEM;
			}
			if (*n > 0)
				memcpy(grown, *out, *n * sizeof(*grown));
			*out = grown;
		}
		(*out)[*n].id = (long)db_column_int64(st, 0);
		(*out)[*n].pid = pg ? 0 : (long)db_column_int64(st, 1);
		(*n)++;
	}
	db_done(st);
	return step == DB_DONE ? MG_OK : db_rc(step);
}

enum mg_err
store_keys_slot_delete(struct store *s, long id)
{
	struct db_stmt *st = db_prepare(s->db, "DELETE FROM vkey_slot WHERE id = ?1");

	if (st == NULL)
		return MG_ESTORE;
	db_bind_int64(st, 1, id);
	return run_write(s, st, NULL);
}

enum mg_err
store_keys_slot_take(struct store *s, const char *hash, long pid, long now, long *id)
{
	struct db_stmt *st;
	enum db_step step;
	enum mg_err rc;

	*id = 0;
	st = db_prepare(s->db, "INSERT INTO vkey_slot(hash, pid, started) VALUES (?1, ?2, ?3) "
	    "RETURNING id");
	if (st == NULL)
		return MG_ESTORE;
	db_bind_text(st, 1, hash);
	db_bind_int64(st, 2, pid);
	db_bind_int64(st, 3, now);
	step = db_step(st);
	if (step == DB_ROW) {
		*id = (long)db_column_int64(st, 0);
		step = db_step(st);
	}
	rc = db_rc_want(step, DB_DONE);
	db_done(st);
	if (rc != MG_OK)
		*id = 0;
	s->lease_slot = *id;
	s->lease_renewed = now;
	return rc;
}

enum mg_err
store_keys_lease_tick(struct store *s, long now)
{
	struct db_stmt *st;
	enum mg_err rc;

	if (db_backend(s->db) != DB_PG || s->lease_slot <= 0 ||
	    now - s->lease_renewed < STORE_LEASE_SECONDS / 3 || db_in_transaction(s->db))
		return MG_OK;
	st = db_prepare(s->db, "UPDATE vkey_slot SET started = ?2 WHERE id = ?1");
	if (st == NULL)
		return MG_ESTORE;
	db_bind_int64(st, 1, s->lease_slot);
	db_bind_int64(st, 2, now);
	rc = run_write(s, st, NULL);
	if (rc == MG_OK)
		s->lease_renewed = now;
	return rc;
}

enum mg_err
store_keys_usage(struct store *s, const char *hash, long after, long *requests, long *tokens,
    long *oldest_request, long *oldest_tokens)
{
	struct db_stmt *st = db_prepare(s->db, "SELECT coalesce(sum(requests), 0), "
	    "coalesce(sum(tokens), 0), min(CASE WHEN requests > 0 THEN at END), "
	    "min(CASE WHEN tokens > 0 THEN at END) FROM vkey_use WHERE hash = ?1 AND at > ?2");
	enum mg_err rc = MG_OK;
	enum db_step step;

	if (st == NULL)
		return MG_ESTORE;
	db_bind_text(st, 1, hash);
	db_bind_int64(st, 2, after);
	step = db_step(st);
	if (step == DB_ROW) {
		*requests = (long)db_column_int64(st, 0);
		*tokens = (long)db_column_int64(st, 1);
		*oldest_request = col_long(st, 2, -1);
		*oldest_tokens = col_long(st, 3, -1);
	} else {
		rc = db_rc(step) == MG_OK ? MG_ESTORE : db_rc(step);
	}
	db_done(st);
	return rc;
}

enum mg_err
store_keys_use_request(struct store *s, const char *hash, long drop_until, long now)
{
	struct db_stmt *st;
	enum mg_err rc;

	st = db_prepare(s->db, "DELETE FROM vkey_use WHERE hash = ?1 AND at <= ?2");
	if (st == NULL)
		return MG_ESTORE;
	db_bind_text(st, 1, hash);
	db_bind_int64(st, 2, drop_until);
	rc = run_write(s, st, NULL);
	if (rc != MG_OK)
		return rc;
	st = db_prepare(s->db, "INSERT INTO vkey_use(hash, at, requests) VALUES (?1, ?2, 1)");
	if (st == NULL)
		return MG_ESTORE;
	db_bind_text(st, 1, hash);
	db_bind_int64(st, 2, now);
	return run_write(s, st, NULL);
}

enum mg_err
store_keys_settle(struct store *s, const struct store_spend *sp)
{
	struct db_stmt *st;
	struct timespec ts;
	long now = (long)time(NULL);
	long tokens = sp->input_tokens + sp->output_tokens + sp->cache_write_tokens +
	    sp->cache_read_tokens;
	enum mg_err rc;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (sp->slot > 0 && sp->slot == s->lease_slot)
		s->lease_slot = 0;	/* settled or not, this worker stops renewing it */
	if (sp->slot > 0) {
		rc = store_keys_slot_delete(s, sp->slot);
		if (rc != MG_OK)
			return rc;
	}
	if (sp->is_virtual) {
		st = db_prepare(s->db, "UPDATE vkey SET spend = spend + ?2 WHERE hash = ?1");
		if (st == NULL)
			return MG_ESTORE;
		db_bind_text(st, 1, sp->key_hash);
		db_bind_double(st, 2, sp->cost);
		rc = run_write(s, st, NULL);
		if (rc != MG_OK)
			return rc;
		/* tokens count for the tpm window only of keys that have one */
		st = db_prepare(s->db, "INSERT INTO vkey_use(hash, at, tokens) SELECT ?1, ?2, ?3 "
		    "WHERE ?3 > 0 AND EXISTS (SELECT 1 FROM vkey WHERE hash = ?1 AND "
		    "tpm_limit IS NOT NULL)");
		if (st == NULL)
			return MG_ESTORE;
		db_bind_text(st, 1, sp->key_hash);
		db_bind_int64(st, 2, now);
		db_bind_int64(st, 3, tokens);
		rc = run_write(s, st, NULL);
		if (rc != MG_OK)
			return rc;
	}
	st = db_prepare(s->db, "INSERT INTO spend_log(request_id, at_ms, key_hash, key_alias, "
	    "user_id, team_id, tenant, model, input_tokens, output_tokens, cache_write_tokens, "
	    "cache_read_tokens, cost, status, duration_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
	    "?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)");
	if (st == NULL)
		return MG_ESTORE;
	bind_text_or_null(st, 1, sp->request_id);
	db_bind_int64(st, 2, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	db_bind_text(st, 3, sp->key_hash);
	bind_text_or_null(st, 4, sp->key_alias);
	bind_text_or_null(st, 5, sp->user_id);
	bind_text_or_null(st, 6, sp->team_id);
	db_bind_text(st, 7, sp->tenant != NULL ? sp->tenant : "-");
	bind_text_or_null(st, 8, sp->model);
	db_bind_int64(st, 9, sp->input_tokens);
	db_bind_int64(st, 10, sp->output_tokens);
	db_bind_int64(st, 11, sp->cache_write_tokens);
	db_bind_int64(st, 12, sp->cache_read_tokens);
	db_bind_double(st, 13, sp->cost);
	db_bind_int64(st, 14, sp->status);
	db_bind_int64(st, 15, sp->duration_ms);
	return run_write(s, st, NULL);
}
