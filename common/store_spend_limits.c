/*
 * store_spend_limits.c - the spend_limit table (sql/007_spend_limits.sql)
 * and the period-to-date spend of one developer from the spend log.
 */
#include <stdio.h>
#include <string.h>

#include "crypto.h"
#include "store_int.h"
#include "store_spend_limits.h"

#define SL_COLS "id, scope_type, scope_id, period, amount_cents, created_at, updated_at"

static void
row_of(struct arena *a, sqlite3_stmt *st, struct store_spend_limit *out)
{
	out->id = arena_strdup(a, (const char *)sqlite3_column_text(st, 0));
	out->scope_type = arena_strdup(a, (const char *)sqlite3_column_text(st, 1));
	out->scope_id = arena_strdup(a, (const char *)sqlite3_column_text(st, 2));
	out->period = arena_strdup(a, (const char *)sqlite3_column_text(st, 3));
	out->amount_cents = sqlite3_column_type(st, 4) == SQLITE_NULL ? -1 :
	    (long long)sqlite3_column_int64(st, 4);
	out->created_at = (long)sqlite3_column_int64(st, 5);
	out->updated_at = (long)sqlite3_column_int64(st, 6);
}

static enum mg_err
get_by(struct store *s, struct arena *a, const char *sql, const char *p1, const char *p2,
    const char *p3, struct store_spend_limit *out)
{
	sqlite3_stmt *st = store_prepare(s, sql);
	enum mg_err rc;
	int step;

	if (st == NULL)
		return MG_ESTORE;
	sqlite3_bind_text(st, 1, p1, -1, SQLITE_STATIC);
	if (p2 != NULL)
		sqlite3_bind_text(st, 2, p2, -1, SQLITE_STATIC);
	if (p3 != NULL)
		sqlite3_bind_text(st, 3, p3, -1, SQLITE_STATIC);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		row_of(a, st, out);
		rc = out->id != NULL && out->scope_type != NULL && out->scope_id != NULL &&
		    out->period != NULL ? MG_OK : MG_ENOMEM;
	} else {
		rc = step == SQLITE_DONE ? MG_ENOTFOUND : store_rc(step);
	}
	sqlite3_finalize(st);
	return rc;
}

enum mg_err
store_spend_limit_put(struct store *s, struct arena *a, const char *scope_type,
    const char *scope_id, const char *period, long long amount_cents, long now,
    struct store_spend_limit *out)
{
	unsigned char rnd[12];
	char id[4 + 2 * sizeof(rnd) + 1];
	sqlite3_stmt *st;
	enum mg_err rc;
	int step;

	if (crypto_random(rnd, sizeof(rnd)) != MG_OK)
		return MG_EIO;
	memcpy(id, "spl_", 4);
	crypto_hex(id + 4, rnd, sizeof(rnd));
	rc = store_begin(s);
	if (rc != MG_OK)
		return rc;
	/* an existing cap for the scope and period keeps its id: a replace */
	st = store_prepare(s, "INSERT INTO spend_limit(" SL_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, "
	    "?6, ?6) ON CONFLICT(scope_type, scope_id, period) DO UPDATE SET "
	    "amount_cents = excluded.amount_cents, updated_at = excluded.updated_at");
	if (st == NULL) {
		rc = MG_ESTORE;
		goto out;
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, scope_type, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, scope_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, period, -1, SQLITE_STATIC);
	if (amount_cents < 0)
		sqlite3_bind_null(st, 5);
	else
		sqlite3_bind_int64(st, 5, (sqlite3_int64)amount_cents);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)now);
	step = sqlite3_step(st);
	sqlite3_finalize(st);
	rc = step == SQLITE_DONE ? MG_OK : store_rc(step);
	if (rc == MG_OK)
		rc = get_by(s, a, "SELECT " SL_COLS " FROM spend_limit WHERE scope_type = ?1 AND "
		    "scope_id = ?2 AND period = ?3", scope_type, scope_id, period, out);
	if (rc == MG_OK)
		rc = store_commit(s);
out:
	if (rc != MG_OK)
		store_rollback(s);
	return rc;
}

enum mg_err
store_spend_limit_get(struct store *s, struct arena *a, const char *id,
    struct store_spend_limit *out)
{
	return get_by(s, a, "SELECT " SL_COLS " FROM spend_limit WHERE id = ?1", id, NULL, NULL,
	    out);
}

enum mg_err
store_spend_limit_each(struct store *s, struct arena *a, const char *scope_type,
    const char *after_id, long limit, void (*fn)(void *ctx, const struct store_spend_limit *l),
    void *ctx, int *has_more)
{
	struct store_spend_limit l;
	sqlite3_stmt *st;
	long n = 0;
	int step;

	*has_more = 0;
	/* creation order, ties by id; after_id resumes behind that row */
	st = store_prepare(s, "SELECT " SL_COLS " FROM spend_limit WHERE (?1 IS NULL OR "
	    "scope_type = ?1) AND (?2 IS NULL OR (created_at, id) > (SELECT created_at, id FROM "
	    "spend_limit WHERE id = ?2)) ORDER BY created_at, id LIMIT ?3");
	if (st == NULL)
		return MG_ESTORE;
	if (scope_type != NULL)
		sqlite3_bind_text(st, 1, scope_type, -1, SQLITE_STATIC);
	if (after_id != NULL)
		sqlite3_bind_text(st, 2, after_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)limit + 1);
	for (step = sqlite3_step(st); step == SQLITE_ROW; step = sqlite3_step(st)) {
		if (n == limit) {
			*has_more = 1;
			break;
		}
		row_of(a, st, &l);
		if (l.id == NULL || l.scope_type == NULL || l.scope_id == NULL || l.period == NULL) {
			sqlite3_finalize(st);
			return MG_ENOMEM;
		}
		fn(ctx, &l);
		n++;
	}
	sqlite3_finalize(st);
	return step == SQLITE_ROW || step == SQLITE_DONE ? MG_OK : store_rc(step);
}

enum mg_err
store_spend_limit_caps(struct store *s, const char *user_id, const char *team_id,
    const char *period, struct store_spend_caps *out)
{
	sqlite3_stmt *st = store_prepare(s, "SELECT scope_type, amount_cents FROM spend_limit "
	    "WHERE period = ?1 AND ((scope_type = 'organization' AND scope_id = '') OR "
	    "(scope_type = 'user' AND scope_id = ?2) OR (scope_type = 'rbac_group' AND "
	    "scope_id = ?3))");
	int step;

	out->user = out->team = out->org = -2;
	if (st == NULL)
		return MG_ESTORE;
	sqlite3_bind_text(st, 1, period, -1, SQLITE_STATIC);
	if (user_id != NULL)
		sqlite3_bind_text(st, 2, user_id, -1, SQLITE_STATIC);
	if (team_id != NULL)
		sqlite3_bind_text(st, 3, team_id, -1, SQLITE_STATIC);
	for (step = sqlite3_step(st); step == SQLITE_ROW; step = sqlite3_step(st)) {
		const char *type = (const char *)sqlite3_column_text(st, 0);
		long long v = sqlite3_column_type(st, 1) == SQLITE_NULL ? -1 :
		    (long long)sqlite3_column_int64(st, 1);
		if (type == NULL)
			continue;
		if (strcmp(type, "user") == 0)
			out->user = v;
		else if (strcmp(type, "rbac_group") == 0)
			out->team = v;
		else
			out->org = v;
	}
	sqlite3_finalize(st);
	return step == SQLITE_DONE ? MG_OK : store_rc(step);
}

enum mg_err
store_spend_limit_any(struct store *s, int *any)
{
	sqlite3_stmt *st = store_prepare(s, "SELECT EXISTS (SELECT 1 FROM spend_limit)");
	int step;

	*any = 0;
	if (st == NULL)
		return MG_ESTORE;
	step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		*any = sqlite3_column_int(st, 0) != 0;
	sqlite3_finalize(st);
	return step == SQLITE_ROW ? MG_OK : store_rc(step);
}

enum mg_err
store_spend_since(struct store *s, const char *user_id, const char *key_hash,
    long long from_ms, double *usd)
{
	sqlite3_stmt *st = store_prepare(s, user_id != NULL ?
	    "SELECT COALESCE(SUM(cost), 0) FROM spend_log WHERE user_id = ?1 AND at_ms >= ?2" :
	    "SELECT COALESCE(SUM(cost), 0) FROM spend_log WHERE key_hash = ?1 AND at_ms >= ?2");
	int step;

	*usd = 0;
	if (st == NULL)
		return MG_ESTORE;
	sqlite3_bind_text(st, 1, user_id != NULL ? user_id : key_hash != NULL ? key_hash : "",
	    -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)from_ms);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		*usd = sqlite3_column_double(st, 0);
	sqlite3_finalize(st);
	return step == SQLITE_ROW ? MG_OK : store_rc(step);
}
