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
step_done(struct db_stmt *st)
{
	enum mg_err rc = db_rc_want(db_step(st), DB_DONE);

	db_done(st);
	return rc;
}

static const char *
col_text(struct db_stmt *st, int i)
{
	return db_column_type(st, i) == DB_NULL ? NULL :
	    (const char *)db_column_text(st, i);
}

enum mg_err
store_session_add(struct store *s, const char *hash, const struct store_session *ss)
{
	struct db_stmt *st = db_prepare(s->db, "INSERT INTO console_session(hash, kind, key_hash, "
	    "actor, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");

	if (st == NULL)
		return MG_ESTORE;
	db_bind_text(st, 1, hash);
	db_bind_text(st, 2, ss->kind);
	db_bind_text(st, 3, ss->key_hash);
	db_bind_text(st, 4, ss->actor);
	db_bind_int64(st, 5, ss->created_at);
	db_bind_int64(st, 6, ss->expires_at);
	return step_done(st);
}

enum mg_err
store_session_get(struct store *s, struct arena *a, const char *hash, long now,
    struct store_session *out)
{
	struct db_stmt *st = db_prepare(s->db, "SELECT kind, key_hash, actor, created_at, expires_at "
	    "FROM console_session WHERE hash = ?1 AND expires_at > ?2");
	enum mg_err rc = MG_ENOTFOUND;
	enum db_step step;

	memset(out, 0, sizeof(*out));
	if (st == NULL)
		return MG_ESTORE;
	db_bind_text(st, 1, hash);
	db_bind_int64(st, 2, now);
	step = db_step(st);
	if (step == DB_ROW) {
		snprintf(out->kind, sizeof(out->kind), "%s", db_column_text(st, 0));
		snprintf(out->key_hash, sizeof(out->key_hash), "%s", db_column_text(st, 1));
		out->actor = arena_strdup(a, (const char *)db_column_text(st, 2));
		out->created_at = (long)db_column_int64(st, 3);
		out->expires_at = (long)db_column_int64(st, 4);
		rc = out->actor != NULL ? MG_OK : MG_ENOMEM;
	} else if (step != DB_DONE) {
		rc = db_rc(step);
	}
	db_done(st);
	return rc;
}

enum mg_err
store_session_delete(struct store *s, const char *hash)
{
	struct db_stmt *st = db_prepare(s->db, "DELETE FROM console_session WHERE hash = ?1");

	if (st == NULL)
		return MG_ESTORE;
	db_bind_text(st, 1, hash);
	return step_done(st);
}

enum mg_err
store_session_purge(struct store *s, long now, long before)
{
	struct db_stmt *st = db_prepare(s->db, "DELETE FROM console_session WHERE expires_at <= ?1");
	enum mg_err rc;

	if (st == NULL)
		return MG_ESTORE;
	db_bind_int64(st, 1, now);
	rc = step_done(st);
	if (rc != MG_OK)
		return rc;
	st = db_prepare(s->db, "DELETE FROM console_login WHERE \"window\" < ?1");
	if (st == NULL)
		return MG_ESTORE;
	db_bind_int64(st, 1, before);
	return step_done(st);
}

enum mg_err
store_login_failures(struct store *s, const char *addr, long window, long *out)
{
	struct db_stmt *st = db_prepare(s->db, "SELECT failures FROM console_login "
	    "WHERE addr = ?1 AND \"window\" = ?2");
	enum db_step step;

	*out = 0;
	if (st == NULL)
		return MG_ESTORE;
	db_bind_text(st, 1, addr);
	db_bind_int64(st, 2, window);
	step = db_step(st);
	if (step == DB_ROW)
		*out = (long)db_column_int64(st, 0);
	db_done(st);
	return step == DB_ROW || step == DB_DONE ? MG_OK : db_rc(step);
}

enum mg_err
store_login_fail(struct store *s, const char *addr, long window)
{
	struct db_stmt *st = db_prepare(s->db, "INSERT INTO console_login(addr, \"window\", "
	    "failures) VALUES (?1, ?2, 1) ON CONFLICT(addr, \"window\") "
	    "DO UPDATE SET failures = console_login.failures + 1");

	if (st == NULL)
		return MG_ESTORE;
	db_bind_text(st, 1, addr);
	db_bind_int64(st, 2, window);
	return step_done(st);
}

enum mg_err
store_mask_daily_add(struct store *s, long day, const char *tenant, const char *type,
    unsigned long masked, unsigned long minted, unsigned long restored)
{
	struct db_stmt *st = db_prepare(s->db, "INSERT INTO mask_daily(day, tenant, type, masked, "
	    "minted, restored) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(day, tenant, type) "
	    "DO UPDATE SET masked = mask_daily.masked + ?4, minted = mask_daily.minted + ?5, "
	    "restored = mask_daily.restored + ?6");

	if (st == NULL)
		return MG_ESTORE;
	db_bind_int64(st, 1, day);
	db_bind_text(st, 2, tenant);
	db_bind_text(st, 3, type);
	db_bind_int64(st, 4, (int64_t)masked);
	db_bind_int64(st, 5, (int64_t)minted);
	db_bind_int64(st, 6, (int64_t)restored);
	return step_done(st);
}

static enum mg_err
mask_daily_rows(struct store *s, long day, const char *tenant,
    const struct store_mask_count *rows, size_t n)
{
	char sql[256 + STORE_MASK_DAILY_ROWS * 40];
	struct db_stmt *st;
	size_t i, len;

	len = (size_t)snprintf(sql, sizeof(sql), "INSERT INTO mask_daily(day, tenant, type, masked, "
	    "minted, restored) VALUES ");
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(sql + len, sizeof(sql) - len, "%s(?1, ?2, ?%zu, ?%zu, ?%zu, ?%zu)",
		    i > 0 ? ", " : "", 4 * i + 3, 4 * i + 4, 4 * i + 5, 4 * i + 6);
	snprintf(sql + len, sizeof(sql) - len, " ON CONFLICT(day, tenant, type) DO UPDATE SET "
	    "masked = mask_daily.masked + excluded.masked, minted = mask_daily.minted + "
	    "excluded.minted, restored = mask_daily.restored + excluded.restored");
	st = db_prepare(s->db, sql);
	if (st == NULL)
		return MG_ESTORE;
	db_bind_int64(st, 1, day);
	db_bind_text(st, 2, tenant);
	for (i = 0; i < n; i++) {
		db_bind_text(st, (int)(4 * i + 3), rows[i].type);
		db_bind_int64(st, (int)(4 * i + 4), (int64_t)rows[i].masked);
		db_bind_int64(st, (int)(4 * i + 5), (int64_t)rows[i].minted);
		db_bind_int64(st, (int)(4 * i + 6), (int64_t)rows[i].restored);
	}
	return step_done(st);
}

enum mg_err
store_mask_daily_add_batch(struct store *s, long day, const char *tenant,
    const struct store_mask_count *rows, size_t n)
{
	enum mg_err rc = MG_OK;
	size_t i, k;

	for (i = 0; i < n && rc == MG_OK; i += k) {
		k = n - i < STORE_MASK_DAILY_ROWS ? n - i : STORE_MASK_DAILY_ROWS;
		rc = mask_daily_rows(s, day, tenant, rows + i, k);
	}
	return rc;
}

enum mg_err
store_mask_daily_each(struct store *s, long from_day,
    void (*fn)(void *ctx, long day, const char *tenant, const char *type, long masked,
    long minted, long restored), void *ctx)
{
	struct db_stmt *st = db_prepare(s->db, "SELECT day, tenant, type, masked, minted, restored "
	    "FROM mask_daily WHERE day >= ?1 ORDER BY day, tenant, type");
	enum db_step step;

	if (st == NULL)
		return MG_ESTORE;
	db_bind_int64(st, 1, from_day);
	for (step = db_step(st); step == DB_ROW; step = db_step(st))
		fn(ctx, (long)db_column_int64(st, 0), (const char *)db_column_text(st, 1),
		    (const char *)db_column_text(st, 2), (long)db_column_int64(st, 3),
		    (long)db_column_int64(st, 4), (long)db_column_int64(st, 5));
	db_done(st);
	return step == DB_DONE ? MG_OK : db_rc(step);
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
	struct db_stmt *st;
	enum db_step step;

	if (g >= SG__MAX || bucket_secs <= 0)
		return MG_EINVAL;
	snprintf(sql, sizeof(sql), "SELECT (at_ms / 1000 / ?2) * ?2 AS b, %s AS g, %s, count(*), "
	    "sum(input_tokens + cache_write_tokens + cache_read_tokens), sum(output_tokens), "
	    "sum(cost) FROM spend_log WHERE at_ms >= ?1 GROUP BY b, g ORDER BY b, g",
	    group_sql[g][0], group_sql[g][1]);
	st = db_prepare(s->db, sql);
	if (st == NULL)
		return MG_ESTORE;
	db_bind_int64(st, 1, from_ms);
	db_bind_int64(st, 2, bucket_secs);
	for (step = db_step(st); step == DB_ROW; step = db_step(st)) {
		r.bucket = (long)db_column_int64(st, 0);
		r.group = (const char *)db_column_text(st, 1);
		r.label = (const char *)db_column_text(st, 2);
		r.requests = (long)db_column_int64(st, 3);
		r.input_tokens = (long)db_column_int64(st, 4);
		r.output_tokens = (long)db_column_int64(st, 5);
		r.cost = db_column_double(st, 6);
		fn(ctx, &r);
	}
	db_done(st);
	return step == DB_DONE ? MG_OK : db_rc(step);
}

#define AUDIT_WHERE " FROM audit_log " \
	"WHERE (CAST(?1 AS TEXT) IS NULL OR instr(actor, ?1) > 0) AND " \
	"(CAST(?2 AS TEXT) IS NULL OR action = ?2) AND (?3 = 0 OR at >= ?3) AND (?4 = 0 OR at < ?4)"

static void
bind_audit_filter(struct db_stmt *st, const struct store_audit_filter *f)
{
	if (f->actor != NULL)
		db_bind_text(st, 1, f->actor);
	if (f->action != NULL)
		db_bind_text(st, 2, f->action);
	db_bind_int64(st, 3, f->from);
	db_bind_int64(st, 4, f->to);
}

enum mg_err
store_audit_page(struct store *s, const struct store_audit_filter *f,
    void (*fn)(void *ctx, const struct store_audit_row *r), void *ctx, long *total)
{
	struct store_audit_row r;
	struct db_stmt *st;
	enum db_step step;

	*total = 0;
	st = db_prepare(s->db, "SELECT count(*)" AUDIT_WHERE);
	if (st == NULL)
		return MG_ESTORE;
	bind_audit_filter(st, f);
	step = db_step(st);
	if (step == DB_ROW)
		*total = (long)db_column_int64(st, 0);
	db_done(st);
	if (step != DB_ROW)
		return db_rc(step);
	st = db_prepare(s->db, "SELECT id, at, actor, action, target, outcome, detail" AUDIT_WHERE
	    " ORDER BY id DESC LIMIT ?5 OFFSET ?6");
	if (st == NULL)
		return MG_ESTORE;
	bind_audit_filter(st, f);
	db_bind_int64(st, 5, f->limit);
	db_bind_int64(st, 6, f->offset);
	for (step = db_step(st); step == DB_ROW; step = db_step(st)) {
		r.id = db_column_int64(st, 0);
		r.at = (long)db_column_int64(st, 1);
		r.actor = (const char *)db_column_text(st, 2);
		r.action = (const char *)db_column_text(st, 3);
		r.target = col_text(st, 4);
		r.outcome = (const char *)db_column_text(st, 5);
		r.detail = col_text(st, 6);
		fn(ctx, &r);
	}
	db_done(st);
	return step == DB_DONE ? MG_OK : db_rc(step);
}

enum mg_err
store_spend_active_keys(struct store *s, long long from_ms, long long to_ms, long min_requests,
    void (*fn)(void *ctx, const char *key_hash, const char *alias, long requests, double cost),
    void *ctx)
{
	struct db_stmt *st = db_prepare(s->db, "SELECT key_hash, max(key_alias), count(*), sum(cost) "
	    "FROM spend_log WHERE at_ms >= ?1 AND at_ms < ?2 GROUP BY key_hash "
	    "HAVING count(*) >= ?3 ORDER BY key_hash");
	enum db_step step;

	if (st == NULL)
		return MG_ESTORE;
	db_bind_int64(st, 1, from_ms);
	db_bind_int64(st, 2, to_ms);
	db_bind_int64(st, 3, min_requests);
	for (step = db_step(st); step == DB_ROW; step = db_step(st))
		fn(ctx, (const char *)db_column_text(st, 0), col_text(st, 1),
		    (long)db_column_int64(st, 2), db_column_double(st, 3));
	db_done(st);
	return step == DB_DONE ? MG_OK : db_rc(step);
}

enum mg_err
store_spend_hourly(struct store *s, const char *key_hash, long long from_ms, long long to_ms,
    void (*fn)(void *ctx, long hour, long requests, double cost), void *ctx)
{
	struct db_stmt *st = db_prepare(s->db, "SELECT (at_ms - ?2) / 3600000 AS h, count(*), "
	    "sum(cost) FROM spend_log WHERE key_hash = ?1 AND at_ms >= ?2 AND at_ms < ?3 "
	    "GROUP BY h ORDER BY h");
	enum db_step step;

	if (st == NULL)
		return MG_ESTORE;
	db_bind_text(st, 1, key_hash);
	db_bind_int64(st, 2, from_ms);
	db_bind_int64(st, 3, to_ms);
	for (step = db_step(st); step == DB_ROW; step = db_step(st))
		fn(ctx, (long)db_column_int64(st, 0), (long)db_column_int64(st, 1),
		    db_column_double(st, 2));
	db_done(st);
	return step == DB_DONE ? MG_OK : db_rc(step);
}

enum mg_err
store_anomaly_mark(struct store *s, const char *key_hash, long hour, const char *kind,
    double observed, double baseline, long now, int *inserted)
{
	struct db_stmt *st = db_prepare(s->db, "INSERT INTO usage_anomaly(key_hash, hour, "
	    "kind, observed, baseline, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING");
	enum mg_err rc;

	*inserted = 0;
	if (st == NULL)
		return MG_ESTORE;
	db_bind_text(st, 1, key_hash);
	db_bind_int64(st, 2, hour);
	db_bind_text(st, 3, kind);
	db_bind_double(st, 4, observed);
	db_bind_double(st, 5, baseline);
	db_bind_int64(st, 6, now);
	rc = step_done(st);
	if (rc == MG_OK)
		*inserted = db_changes(s->db) > 0;
	return rc;
}
