/*
 * store_console.c - SQL behind the admin console: sessions, login
 * throttling, masking counters by day, spend and audit reports, anomaly
 * marks. Policy (lifetimes, thresholds) lives in the callers.
 */
#include <stdio.h>
#include <string.h>

#include "store_console.h"
#include "store_int.h"

static enum mg_err
step_done(sqlite3_stmt *st)
{
	int step = sqlite3_step(st);

	sqlite3_finalize(st);
	return step == SQLITE_DONE ? MG_OK : store_rc(step);
}

static const char *
col_text(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? NULL :
	    (const char *)sqlite3_column_text(st, i);
}

enum mg_err
store_session_add(struct store *s, const char *hash, const struct store_session *ss)
{
	sqlite3_stmt *st = store_prepare(s, "INSERT INTO console_session(hash, kind, key_hash, "
	    "actor, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");

	if (st == NULL)
		return MG_ESTORE;
	sqlite3_bind_text(st, 1, hash, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, ss->kind, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, ss->key_hash, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, ss->actor, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 5, ss->created_at);
	sqlite3_bind_int64(st, 6, ss->expires_at);
	return step_done(st);
}

enum mg_err
store_session_get(struct store *s, struct arena *a, const char *hash, long now,
    struct store_session *out)
{
	sqlite3_stmt *st = store_prepare(s, "SELECT kind, key_hash, actor, created_at, expires_at "
	    "FROM console_session WHERE hash = ?1 AND expires_at > ?2");
	enum mg_err rc = MG_ENOTFOUND;
	int step;

	memset(out, 0, sizeof(*out));
	if (st == NULL)
		return MG_ESTORE;
	sqlite3_bind_text(st, 1, hash, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, now);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		snprintf(out->kind, sizeof(out->kind), "%s", sqlite3_column_text(st, 0));
		snprintf(out->key_hash, sizeof(out->key_hash), "%s", sqlite3_column_text(st, 1));
		out->actor = arena_strdup(a, (const char *)sqlite3_column_text(st, 2));
		out->created_at = (long)sqlite3_column_int64(st, 3);
		out->expires_at = (long)sqlite3_column_int64(st, 4);
		rc = out->actor != NULL ? MG_OK : MG_ENOMEM;
	} else if (step != SQLITE_DONE) {
		rc = store_rc(step);
	}
	sqlite3_finalize(st);
	return rc;
}

enum mg_err
store_session_delete(struct store *s, const char *hash)
{
	sqlite3_stmt *st = store_prepare(s, "DELETE FROM console_session WHERE hash = ?1");

	if (st == NULL)
		return MG_ESTORE;
	sqlite3_bind_text(st, 1, hash, -1, SQLITE_TRANSIENT);
	return step_done(st);
}

enum mg_err
store_session_purge(struct store *s, long now, long before)
{
	sqlite3_stmt *st = store_prepare(s, "DELETE FROM console_session WHERE expires_at <= ?1");
	enum mg_err rc;

	if (st == NULL)
		return MG_ESTORE;
	sqlite3_bind_int64(st, 1, now);
	rc = step_done(st);
	if (rc != MG_OK)
		return rc;
	st = store_prepare(s, "DELETE FROM console_login WHERE window < ?1");
	if (st == NULL)
		return MG_ESTORE;
	sqlite3_bind_int64(st, 1, before);
	return step_done(st);
}

enum mg_err
store_login_failures(struct store *s, const char *addr, long window, long *out)
{
	sqlite3_stmt *st = store_prepare(s, "SELECT failures FROM console_login "
	    "WHERE addr = ?1 AND window = ?2");
	int step;

	*out = 0;
	if (st == NULL)
		return MG_ESTORE;
	sqlite3_bind_text(st, 1, addr, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, window);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		*out = (long)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return step == SQLITE_ROW || step == SQLITE_DONE ? MG_OK : store_rc(step);
}

enum mg_err
store_login_fail(struct store *s, const char *addr, long window)
{
	sqlite3_stmt *st = store_prepare(s, "INSERT INTO console_login(addr, window, failures) "
	    "VALUES (?1, ?2, 1) ON CONFLICT(addr, window) DO UPDATE SET failures = failures + 1");

	if (st == NULL)
		return MG_ESTORE;
	sqlite3_bind_text(st, 1, addr, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, window);
	return step_done(st);
}

enum mg_err
store_mask_daily_add(struct store *s, long day, const char *tenant, const char *type,
    unsigned long masked, unsigned long minted, unsigned long restored)
{
	sqlite3_stmt *st = store_prepare(s, "INSERT INTO mask_daily(day, tenant, type, masked, "
	    "minted, restored) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(day, tenant, type) "
	    "DO UPDATE SET masked = masked + ?4, minted = minted + ?5, restored = restored + ?6");

	if (st == NULL)
		return MG_ESTORE;
	sqlite3_bind_int64(st, 1, day);
	sqlite3_bind_text(st, 2, tenant, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, type, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)masked);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)minted);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)restored);
	return step_done(st);
}

enum mg_err
store_mask_daily_each(struct store *s, long from_day,
    void (*fn)(void *ctx, long day, const char *tenant, const char *type, long masked,
    long minted, long restored), void *ctx)
{
	sqlite3_stmt *st = store_prepare(s, "SELECT day, tenant, type, masked, minted, restored "
	    "FROM mask_daily WHERE day >= ?1 ORDER BY day, tenant, type");
	int step;

	if (st == NULL)
		return MG_ESTORE;
	sqlite3_bind_int64(st, 1, from_day);
	for (step = sqlite3_step(st); step == SQLITE_ROW; step = sqlite3_step(st))
		fn(ctx, (long)sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
		    (const char *)sqlite3_column_text(st, 2), (long)sqlite3_column_int64(st, 3),
		    (long)sqlite3_column_int64(st, 4), (long)sqlite3_column_int64(st, 5));
	sqlite3_finalize(st);
	return step == SQLITE_DONE ? MG_OK : store_rc(step);
}

/* The grouping column and its label, by enum store_group. */
static const char *const group_sql[SG__MAX][2] = {
	{ "key_hash", "coalesce(max(key_alias), substr(key_hash, 1, 12))" },
	{ "coalesce(user_id, '')", "coalesce(user_id, '')" },
	{ "coalesce(team_id, '')", "coalesce(team_id, '')" },
	{ "coalesce(model, '')", "coalesce(model, '')" },
};

enum mg_err
store_spend_each(struct store *s, enum store_group g, long long from_ms, long bucket_secs,
    void (*fn)(void *ctx, const struct store_spend_row *r), void *ctx)
{
	struct store_spend_row r;
	char sql[640];
	sqlite3_stmt *st;
	int step;

	if (g >= SG__MAX || bucket_secs <= 0)
		return MG_EINVAL;
	snprintf(sql, sizeof(sql), "SELECT (at_ms / 1000 / ?2) * ?2 AS b, %s AS g, %s, count(*), "
	    "sum(input_tokens + cache_write_tokens + cache_read_tokens), sum(output_tokens), "
	    "sum(cost) FROM spend_log WHERE at_ms >= ?1 GROUP BY b, g ORDER BY b, g",
	    group_sql[g][0], group_sql[g][1]);
	st = store_prepare(s, sql);
	if (st == NULL)
		return MG_ESTORE;
	sqlite3_bind_int64(st, 1, from_ms);
	sqlite3_bind_int64(st, 2, bucket_secs);
	for (step = sqlite3_step(st); step == SQLITE_ROW; step = sqlite3_step(st)) {
		r.bucket = (long)sqlite3_column_int64(st, 0);
		r.group = (const char *)sqlite3_column_text(st, 1);
		r.label = (const char *)sqlite3_column_text(st, 2);
		r.requests = (long)sqlite3_column_int64(st, 3);
		r.input_tokens = (long)sqlite3_column_int64(st, 4);
		r.output_tokens = (long)sqlite3_column_int64(st, 5);
		r.cost = sqlite3_column_double(st, 6);
		fn(ctx, &r);
	}
	sqlite3_finalize(st);
	return step == SQLITE_DONE ? MG_OK : store_rc(step);
}

#define AUDIT_WHERE " FROM audit_log WHERE (?1 IS NULL OR instr(actor, ?1) > 0) AND " \
	"(?2 IS NULL OR action = ?2) AND (?3 = 0 OR at >= ?3) AND (?4 = 0 OR at < ?4)"

static void
bind_audit_filter(sqlite3_stmt *st, const struct store_audit_filter *f)
{
	if (f->actor != NULL)
		sqlite3_bind_text(st, 1, f->actor, -1, SQLITE_TRANSIENT);
	if (f->action != NULL)
		sqlite3_bind_text(st, 2, f->action, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, f->from);
	sqlite3_bind_int64(st, 4, f->to);
}

enum mg_err
store_audit_page(struct store *s, const struct store_audit_filter *f,
    void (*fn)(void *ctx, const struct store_audit_row *r), void *ctx, long *total)
{
	struct store_audit_row r;
	sqlite3_stmt *st;
	int step;

	*total = 0;
	st = store_prepare(s, "SELECT count(*)" AUDIT_WHERE);
	if (st == NULL)
		return MG_ESTORE;
	bind_audit_filter(st, f);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		*total = (long)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (step != SQLITE_ROW)
		return store_rc(step);
	st = store_prepare(s, "SELECT id, at, actor, action, target, outcome, detail" AUDIT_WHERE
	    " ORDER BY id DESC LIMIT ?5 OFFSET ?6");
	if (st == NULL)
		return MG_ESTORE;
	bind_audit_filter(st, f);
	sqlite3_bind_int64(st, 5, f->limit);
	sqlite3_bind_int64(st, 6, f->offset);
	for (step = sqlite3_step(st); step == SQLITE_ROW; step = sqlite3_step(st)) {
		r.id = sqlite3_column_int64(st, 0);
		r.at = (long)sqlite3_column_int64(st, 1);
		r.actor = (const char *)sqlite3_column_text(st, 2);
		r.action = (const char *)sqlite3_column_text(st, 3);
		r.target = col_text(st, 4);
		r.outcome = (const char *)sqlite3_column_text(st, 5);
		r.detail = col_text(st, 6);
		fn(ctx, &r);
	}
	sqlite3_finalize(st);
	return step == SQLITE_DONE ? MG_OK : store_rc(step);
}

enum mg_err
store_spend_active_keys(struct store *s, long long from_ms, long long to_ms, long min_requests,
    void (*fn)(void *ctx, const char *key_hash, const char *alias, long requests, double cost),
    void *ctx)
{
	sqlite3_stmt *st = store_prepare(s, "SELECT key_hash, max(key_alias), count(*), sum(cost) "
	    "FROM spend_log WHERE at_ms >= ?1 AND at_ms < ?2 GROUP BY key_hash "
	    "HAVING count(*) >= ?3 ORDER BY key_hash");
	int step;

	if (st == NULL)
		return MG_ESTORE;
	sqlite3_bind_int64(st, 1, from_ms);
	sqlite3_bind_int64(st, 2, to_ms);
	sqlite3_bind_int64(st, 3, min_requests);
	for (step = sqlite3_step(st); step == SQLITE_ROW; step = sqlite3_step(st))
		fn(ctx, (const char *)sqlite3_column_text(st, 0), col_text(st, 1),
		    (long)sqlite3_column_int64(st, 2), sqlite3_column_double(st, 3));
	sqlite3_finalize(st);
	return step == SQLITE_DONE ? MG_OK : store_rc(step);
}

enum mg_err
store_spend_hourly(struct store *s, const char *key_hash, long long from_ms, long long to_ms,
    void (*fn)(void *ctx, long hour, long requests, double cost), void *ctx)
{
	sqlite3_stmt *st = store_prepare(s, "SELECT (at_ms - ?2) / 3600000 AS h, count(*), "
	    "sum(cost) FROM spend_log WHERE key_hash = ?1 AND at_ms >= ?2 AND at_ms < ?3 "
	    "GROUP BY h ORDER BY h");
	int step;

	if (st == NULL)
		return MG_ESTORE;
	sqlite3_bind_text(st, 1, key_hash, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, from_ms);
	sqlite3_bind_int64(st, 3, to_ms);
	for (step = sqlite3_step(st); step == SQLITE_ROW; step = sqlite3_step(st))
		fn(ctx, (long)sqlite3_column_int64(st, 0), (long)sqlite3_column_int64(st, 1),
		    sqlite3_column_double(st, 2));
	sqlite3_finalize(st);
	return step == SQLITE_DONE ? MG_OK : store_rc(step);
}

enum mg_err
store_anomaly_mark(struct store *s, const char *key_hash, long hour, const char *kind,
    double observed, double baseline, long now, int *inserted)
{
	sqlite3_stmt *st = store_prepare(s, "INSERT OR IGNORE INTO usage_anomaly(key_hash, hour, "
	    "kind, observed, baseline, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
	enum mg_err rc;

	*inserted = 0;
	if (st == NULL)
		return MG_ESTORE;
	sqlite3_bind_text(st, 1, key_hash, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, hour);
	sqlite3_bind_text(st, 3, kind, -1, SQLITE_TRANSIENT);
	sqlite3_bind_double(st, 4, observed);
	sqlite3_bind_double(st, 5, baseline);
	sqlite3_bind_int64(st, 6, now);
	rc = step_done(st);
	if (rc == MG_OK)
		*inserted = sqlite3_changes(s->db) > 0;
	return rc;
}
