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
row_of(struct arena *a, struct db_stmt *st, struct store_spend_limit *out)
{
	out->id = arena_strdup(a, db_column_text(st, 0));
	out->scope_type = arena_strdup(a, db_column_text(st, 1));
	out->scope_id = arena_strdup(a, db_column_text(st, 2));
	out->period = arena_strdup(a, db_column_text(st, 3));
	out->amount_cents = db_column_type(st, 4) == DB_NULL ? -1 :
	    (long long)db_column_int64(st, 4);
	out->created_at = (long)db_column_int64(st, 5);
	out->updated_at = (long)db_column_int64(st, 6);
}

static enum mg_err
get_by(struct store *s, struct arena *a, const char *sql, const char *p1, const char *p2,
    const char *p3, struct store_spend_limit *out)
{
	struct db_stmt *st = db_prepare(s->db, sql);
	enum mg_err rc;
	enum db_step step;

	if (st == NULL)
		return MG_ESTORE;
	db_bind_text(st, 1, p1);
	if (p2 != NULL)
		db_bind_text(st, 2, p2);
	if (p3 != NULL)
		db_bind_text(st, 3, p3);
	step = db_step(st);
	if (step == DB_ROW) {
		row_of(a, st, out);
		rc = out->id != NULL && out->scope_type != NULL && out->scope_id != NULL &&
		    out->period != NULL ? MG_OK : MG_ENOMEM;
	} else {
		rc = step == DB_DONE ? MG_ENOTFOUND : db_rc(step);
	}
	db_done(st);
	return rc;
}

enum mg_err
store_spend_limit_put(struct store *s, struct arena *a, const char *scope_type,
    const char *scope_id, const char *period, long long amount_cents, long now,
    struct store_spend_limit *out)
{
	unsigned char rnd[12];
	char id[4 + 2 * sizeof(rnd) + 1];
	struct db_stmt *st;
	enum mg_err rc;
	enum db_step step;

	if (crypto_random(rnd, sizeof(rnd)) != MG_OK)
		return MG_EIO;
	id[0] = 's';	/* "spl_" + hex, as the Admin API tags its ids */
	id[1] = 'p';
	id[2] = 'l';
	id[3] = '_';
	crypto_hex(id + 4, rnd, sizeof(rnd));
	rc = store_begin(s);
	if (rc != MG_OK)
		return rc;
	/* an existing cap for the scope and period keeps its id: a replace */
	st = db_prepare(s->db, "INSERT INTO spend_limit(" SL_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, "
	    "?6, ?6) ON CONFLICT(scope_type, scope_id, period) DO UPDATE SET "
	    "amount_cents = excluded.amount_cents, updated_at = excluded.updated_at");
	if (st == NULL) {
		rc = MG_ESTORE;
		goto out;
	}
	db_bind_text(st, 1, id);
	db_bind_text(st, 2, scope_type);
	db_bind_text(st, 3, scope_id);
	db_bind_text(st, 4, period);
	if (amount_cents < 0)
		db_bind_null(st, 5);
	else
		db_bind_int64(st, 5, (int64_t)amount_cents);
	db_bind_int64(st, 6, (int64_t)now);
	step = db_step(st);
	db_done(st);
	rc = step == DB_DONE ? MG_OK : db_rc(step);
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
	struct db_stmt *st;
	long n = 0;
	enum db_step step;

	*has_more = 0;
	/* creation order, ties by id; after_id resumes behind that row */
	/* "" for an absent filter: both engines type a text parameter the same */
	st = db_prepare(s->db, "SELECT " SL_COLS " FROM spend_limit WHERE (?1 = '' OR "
	    "scope_type = ?1) AND (?2 = '' OR (created_at, id) > (SELECT created_at, id FROM "
	    "spend_limit WHERE id = ?2)) ORDER BY created_at, id LIMIT ?3");
	if (st == NULL)
		return MG_ESTORE;
	db_bind_text(st, 1, scope_type != NULL ? scope_type : "");
	db_bind_text(st, 2, after_id != NULL ? after_id : "");
	db_bind_int64(st, 3, (int64_t)limit + 1);
	for (step = db_step(st); step == DB_ROW; step = db_step(st)) {
		if (n == limit) {
			*has_more = 1;
			break;
		}
		row_of(a, st, &l);
		if (l.id == NULL || l.scope_type == NULL || l.scope_id == NULL || l.period == NULL) {
			db_done(st);
			return MG_ENOMEM;
		}
		fn(ctx, &l);
		n++;
	}
	db_done(st);
	return step == DB_ROW || step == DB_DONE ? MG_OK : db_rc(step);
}

enum mg_err
store_spend_limit_caps(struct store *s, const char *user_id, const char *team_id,
    const char *period, struct store_spend_caps *out)
{
	struct db_stmt *st = db_prepare(s->db, "SELECT scope_type, amount_cents FROM spend_limit "
	    "WHERE period = ?1 AND ((scope_type = 'organization' AND scope_id = '') OR "
	    "(scope_type = 'user' AND scope_id = ?2) OR (scope_type = 'rbac_group' AND "
	    "scope_id = ?3))");
	enum db_step step;

	out->user = out->team = out->org = -2;
	if (st == NULL)
		return MG_ESTORE;
	db_bind_text(st, 1, period);
	/* "" never names a user or a team (the API refuses empty ids) */
	db_bind_text(st, 2, user_id != NULL ? user_id : "");
	db_bind_text(st, 3, team_id != NULL ? team_id : "");
	for (step = db_step(st); step == DB_ROW; step = db_step(st)) {
		const char *type = db_column_text(st, 0);
		long long v = db_column_type(st, 1) == DB_NULL ? -1 :
		    (long long)db_column_int64(st, 1);
		if (type == NULL)
			continue;
		if (strcmp(type, "user") == 0)
			out->user = v;
		else if (strcmp(type, "rbac_group") == 0)
			out->team = v;
		else
			out->org = v;
	}
	db_done(st);
	return step == DB_DONE ? MG_OK : db_rc(step);
}

enum mg_err
store_spend_limit_any(struct store *s, int *any)
{
	struct db_stmt *st = db_prepare(s->db, "SELECT COUNT(*) FROM (SELECT 1 FROM spend_limit LIMIT 1) AS one");
	enum db_step step;

	*any = 0;
	if (st == NULL)
		return MG_ESTORE;
	step = db_step(st);
	if (step == DB_ROW)
		*any = db_column_int64(st, 0) != 0;
	db_done(st);
	return step == DB_ROW ? MG_OK : db_rc(step);
}

enum mg_err
store_spend_since(struct store *s, const char *user_id, const char *key_hash,
    long long from_ms, double *usd)
{
	struct db_stmt *st = db_prepare(s->db, user_id != NULL ?
	    "SELECT COALESCE(SUM(cost), 0) FROM spend_log WHERE user_id = ?1 AND at_ms >= ?2" :
	    "SELECT COALESCE(SUM(cost), 0) FROM spend_log WHERE key_hash = ?1 AND at_ms >= ?2");
	enum db_step step;

	*usd = 0;
	if (st == NULL)
		return MG_ESTORE;
	db_bind_text(st, 1, user_id != NULL ? user_id : key_hash != NULL ? key_hash : "");
	db_bind_int64(st, 2, (int64_t)from_ms);
	step = db_step(st);
	if (step == DB_ROW)
		*usd = db_column_double(st, 0);
	db_done(st);
	return step == DB_ROW ? MG_OK : db_rc(step);
}
