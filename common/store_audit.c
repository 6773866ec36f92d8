/*
 * store_audit.c - the audit log, the spend log reader, master-key rotation
 * records and the metrics counters shared by every worker process.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "store_int.h"
#include "store_keys.h"

static void
bind_opt(struct db_stmt *st, int i, const char *v)
{
	if (v != NULL)
		db_bind_text(st, i, v);
	else
		db_bind_null(st, i);
}

static enum mg_err
step_done(struct db_stmt *st)
{
	enum mg_err rc = db_rc_want(db_step(st), DB_DONE);

	db_done(st);
	return rc;
}

enum mg_err
store_audit_add(struct store *s, const char *actor, const char *action,
    const char *target, const char *outcome, const char *detail)
{
	struct db_stmt *st = db_prepare(s->db, "INSERT INTO audit_log(at, actor, action, target, "
	    "outcome, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");

	if (st == NULL)
		return MG_ESTORE;
	db_bind_int64(st, 1, (int64_t)time(NULL));
	db_bind_text(st, 2, actor != NULL ? actor : "-");
	db_bind_text(st, 3, action);
	bind_opt(st, 4, target);
	db_bind_text(st, 5, outcome);
	bind_opt(st, 6, detail);
	return step_done(st);
}

/* Adds column i of st to obj under name, as its SQLite type says. */
static void
add_col(struct json_object *obj, const char *name, struct db_stmt *st, int i)
{
	struct json_object *v = NULL;

	switch (db_column_type(st, i)) {
	case DB_INTEGER:
		v = json_object_new_int64(db_column_int64(st, i));
		break;
	case DB_FLOAT:
		v = json_object_new_double(db_column_double(st, i));
		break;
	case DB_TEXT:
		v = json_object_new_string((const char *)db_column_text(st, i));
		break;
	default:
		break;
	}
	json_object_object_add(obj, name, v);
}

/* ISO 8601 UTC of Unix seconds. */
static struct json_object *
iso_time(long long secs)
{
	char out[32];
	time_t t = (time_t)secs;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, sizeof(out), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_object_new_string(out);
}

enum mg_err
store_audit_list(struct store *s, long limit, const char *action, struct json_object **out)
{
	static const char *const cols[] = { "id", "at", "actor", "action", "target", "outcome",
		"detail" };
	struct db_stmt *st;
	struct json_object *arr;
	enum db_step step;
	size_t i;

	*out = NULL;
	st = db_prepare(s->db, "SELECT id, at, actor, action, target, outcome, detail FROM "
	    "audit_log WHERE (CAST(?2 AS TEXT) IS NULL OR action = ?2) ORDER BY id DESC LIMIT ?1");
	if (st == NULL)
		return MG_ESTORE;
	db_bind_int64(st, 1, limit);
	bind_opt(st, 2, action);
	arr = json_object_new_array();
	for (step = db_step(st); step == DB_ROW; step = db_step(st)) {
		struct json_object *row = json_object_new_object();
		for (i = 0; i < MG_NELEM(cols); i++)
			add_col(row, cols[i], st, (int)i);
		json_object_object_add(row, "time", iso_time(db_column_int64(st, 1)));
		json_object_array_add(arr, row);
	}
	db_done(st);
	if (step != DB_DONE) {
		json_object_put(arr);
		return db_rc(step);
	}
	*out = arr;
	return MG_OK;
}

enum mg_err
store_spend_list(struct store *s, const struct store_spend_filter *f, struct json_object **out)
{
	static const char *const cols[] = { "request_id", "startTime", "api_key", "key_alias",
		"user", "team_id", "tenant", "model", "prompt_tokens", "completion_tokens",
		"cache_creation_input_tokens", "cache_read_input_tokens", "spend", "status",
		"duration_ms" };
	struct db_stmt *st;
	struct json_object *arr;
	enum db_step step;
	size_t i;

	*out = NULL;
	st = db_prepare(s->db, "SELECT request_id, at_ms, key_hash, key_alias, user_id, team_id, "
	    "tenant, model, input_tokens, output_tokens, cache_write_tokens, cache_read_tokens, "
	    "cost, status, duration_ms FROM spend_log "
	    "WHERE (CAST(?1 AS TEXT) IS NULL OR key_hash = ?1) AND "
	    "(CAST(?2 AS TEXT) IS NULL OR user_id = ?2) AND "
	    "(CAST(?3 AS TEXT) IS NULL OR team_id = ?3) AND (?4 = 0 OR at_ms >= ?4) AND "
	    "(?5 = 0 OR at_ms < ?5) ORDER BY id DESC LIMIT ?6");
	if (st == NULL)
		return MG_ESTORE;
	bind_opt(st, 1, f->key_hash);
	bind_opt(st, 2, f->user_id);
	bind_opt(st, 3, f->team_id);
	db_bind_int64(st, 4, f->from_ms);
	db_bind_int64(st, 5, f->to_ms);
	db_bind_int64(st, 6, f->limit);
	arr = json_object_new_array();
	for (step = db_step(st); step == DB_ROW; step = db_step(st)) {
		struct json_object *row = json_object_new_object();
		long long at_ms = db_column_int64(st, 1);
		long long dur = db_column_int64(st, 14);
		for (i = 0; i < MG_NELEM(cols); i++)
			if (i != 1)
				add_col(row, cols[i], st, (int)i);
		json_object_object_add(row, "startTime", iso_time(at_ms / 1000 - dur / 1000));
		json_object_object_add(row, "endTime", iso_time(at_ms / 1000));
		json_object_object_add(row, "total_tokens", json_object_new_int64(
		    db_column_int64(st, 8) + db_column_int64(st, 9) +
		    db_column_int64(st, 10) + db_column_int64(st, 11)));
		json_object_array_add(arr, row);
	}
	db_done(st);
	if (step != DB_DONE) {
		json_object_put(arr);
		return db_rc(step);
	}
	*out = arr;
	return MG_OK;
}

int
store_master_state(struct store *s, const char *hash, long now)
{
	struct db_stmt *st = db_prepare(s->db, "SELECT expires_at FROM master_key WHERE hash = ?1");
	int state = -1;

	if (st == NULL)
		return -1;
	db_bind_text(st, 1, hash);
	if (db_step(st) == DB_ROW)
		state = db_column_type(st, 0) == DB_NULL ||
		    db_column_int64(st, 0) > now ? 1 : 0;
	db_done(st);
	return state;
}

enum mg_err
store_master_rotate(struct store *s, const char *new_hash, const char *configured_hash,
    long now, long grace_until, const char *actor)
{
	struct db_stmt *st;
	enum mg_err rc;

	/* the configured key enters the table so that its retirement is recorded */
	if (configured_hash != NULL) {
		st = db_prepare(s->db, "INSERT INTO master_key(hash, is_primary, "
		    "created_at, expires_at, created_by) VALUES (?1, 0, ?2, NULL, 'configuration') "
		    "ON CONFLICT DO NOTHING");
		if (st == NULL)
			return MG_ESTORE;
		db_bind_text(st, 1, configured_hash);
		db_bind_int64(st, 2, now);
		rc = step_done(st);
		if (rc != MG_OK)
			return rc;
	}
	st = db_prepare(s->db, "UPDATE master_key SET is_primary = 0, expires_at = "
	    "CASE WHEN expires_at IS NOT NULL AND expires_at < ?1 THEN expires_at ELSE ?1 END "
	    "WHERE expires_at IS NULL OR expires_at > ?2");
	if (st == NULL)
		return MG_ESTORE;
	db_bind_int64(st, 1, grace_until);
	db_bind_int64(st, 2, now);
	rc = step_done(st);
	if (rc != MG_OK)
		return rc;
	st = db_prepare(s->db, "INSERT INTO master_key(hash, is_primary, created_at, expires_at, "
	    "created_by) VALUES (?1, 1, ?2, NULL, ?3)");
	if (st == NULL)
		return MG_ESTORE;
	db_bind_text(st, 1, new_hash);
	db_bind_int64(st, 2, now);
	db_bind_text(st, 3, actor);
	return step_done(st);
}

enum mg_err
store_metric_add(struct store *s, const char *name, const char *labels, double delta)
{
	struct db_stmt *st = db_prepare(s->db, "INSERT INTO metric(name, labels, value) VALUES "
	    "(?1, ?2, ?3) ON CONFLICT(name, labels) DO UPDATE SET value = metric.value + ?3");

	if (st == NULL)
		return MG_ESTORE;
	db_bind_text(st, 1, name);
	db_bind_text(st, 2, labels);
	db_bind_double(st, 3, delta);
	return step_done(st);
}

/*
 * Up to STORE_METRIC_ROWS counters in one multi-row upsert: one statement
 * run instead of one per counter. The rows' keys must be distinct (the
 * PostgreSQL upsert refuses to update one row twice in a statement).
 */
static enum mg_err
metric_add_rows(struct store *s, const struct store_metric *rows, size_t n)
{
	char sql[128 + STORE_METRIC_ROWS * 24];
	struct db_stmt *st;
	size_t i, len;

	len = (size_t)snprintf(sql, sizeof(sql), "INSERT INTO metric(name, labels, value) VALUES ");
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(sql + len, sizeof(sql) - len, "%s(?%zu, ?%zu, ?%zu)",
		    i > 0 ? ", " : "", 3 * i + 1, 3 * i + 2, 3 * i + 3);
	snprintf(sql + len, sizeof(sql) - len, " ON CONFLICT(name, labels) DO UPDATE SET "
	    "value = metric.value + excluded.value");
	st = db_prepare(s->db, sql);
	if (st == NULL)
		return MG_ESTORE;
	for (i = 0; i < n; i++) {
		db_bind_text(st, (int)(3 * i + 1), rows[i].name);
		db_bind_text(st, (int)(3 * i + 2), rows[i].labels);
		db_bind_double(st, (int)(3 * i + 3), rows[i].delta);
	}
	return step_done(st);
}

enum mg_err
store_metric_add_batch(struct store *s, const struct store_metric *rows, size_t n)
{
	enum mg_err rc = MG_OK;
	size_t i, k;

	for (i = 0; i < n && rc == MG_OK; i += k) {
		k = n - i < STORE_METRIC_ROWS ? n - i : STORE_METRIC_ROWS;
		rc = metric_add_rows(s, rows + i, k);
	}
	return rc;
}

enum mg_err
store_metric_each(struct store *s,
    void (*fn)(void *ctx, const char *name, const char *labels, double value), void *ctx)
{
	struct db_stmt *st = db_prepare(s->db, "SELECT name, labels, value FROM metric "
	    "ORDER BY name, labels");
	enum db_step step;

	if (st == NULL)
		return MG_ESTORE;
	for (step = db_step(st); step == DB_ROW; step = db_step(st))
		fn(ctx, (const char *)db_column_text(st, 0),
		    (const char *)db_column_text(st, 1), db_column_double(st, 2));
	db_done(st);
	return step == DB_DONE ? MG_OK : db_rc(step);
}
