/*
 * store_mint.c - how many new mappings each tenant minted per clock hour,
 * shared by every worker, for MASKGATE_MAX_NEW_MAPPINGS_PER_HOUR.
 */
#include "store_int.h"
#include "store_map.h"

enum mg_err
store_mint_used(struct store *s, const char *tenant, long hour, long *used)
{
	struct db_stmt *st = db_prepare(s->db, "SELECT coalesce(sum(minted), 0) FROM mint_rate "
	    "WHERE tenant = ?1 AND hour = ?2");
	enum mg_err rc = MG_OK;
	enum db_step step;

	*used = 0;
	if (st == NULL)
		return MG_ESTORE;
	db_bind_text(st, 1, tenant);
	db_bind_int64(st, 2, hour);
	step = db_step(st);
	if (step == DB_ROW)
		*used = (long)db_column_int64(st, 0);
	else
		rc = db_rc(step) == MG_OK ? MG_ESTORE : db_rc(step);
	db_done(st);
	return rc;
}

enum mg_err
store_mint_add(struct store *s, const char *tenant, long hour, long n)
{
	struct db_stmt *st = NULL;
	/* inside the request's write after the response (spend.c), or its own */
	int own = !db_in_transaction(s->db);
	enum mg_err rc = own ? store_begin(s) : MG_OK;
	enum db_step step;

	if (rc != MG_OK)
		return rc;
	st = db_prepare(s->db, "INSERT INTO mint_rate(tenant, hour, minted) VALUES (?1, ?2, ?3) "
	    "ON CONFLICT(tenant, hour) DO UPDATE SET minted = mint_rate.minted + ?3");
	if (st == NULL) {
		rc = MG_ESTORE;
		goto out;
	}
	db_bind_text(st, 1, tenant);
	db_bind_int64(st, 2, hour);
	db_bind_int64(st, 3, n);
	step = db_step(st);
	db_done(st);
	if (step != DB_DONE) {
		rc = db_rc(step) == MG_OK ? MG_ESTORE : db_rc(step);
		goto out;
	}
	st = db_prepare(s->db, "DELETE FROM mint_rate WHERE hour < ?1");
	if (st == NULL) {
		rc = MG_ESTORE;
		goto out;
	}
	db_bind_int64(st, 1, hour - 24);
	step = db_step(st);
	db_done(st);
	if (step != DB_DONE) {
		rc = db_rc(step) == MG_OK ? MG_ESTORE : db_rc(step);
		goto out;
	}
	if (own)
		rc = store_commit(s);
out:
	if (rc != MG_OK && own)
		store_rollback(s);
	return rc;
}
