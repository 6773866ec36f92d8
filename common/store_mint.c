/*
 * store_mint.c - how many new mappings each tenant minted per clock hour,
 * shared by every worker, for MASKGATE_MAX_NEW_MAPPINGS_PER_HOUR.
 */
#include "store_int.h"
#include "store_map.h"

enum mg_err
store_mint_used(struct store *s, const char *tenant, long hour, long *used)
{
	sqlite3_stmt *st = store_prepare(s, "SELECT coalesce(sum(minted), 0) FROM mint_rate "
	    "WHERE tenant = ?1 AND hour = ?2");
	enum mg_err rc = MG_OK;
	int step;

	*used = 0;
	if (st == NULL)
		return MG_ESTORE;
	sqlite3_bind_text(st, 1, tenant, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, hour);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		*used = (long)sqlite3_column_int64(st, 0);
	else
		rc = store_rc(step) == MG_OK ? MG_ESTORE : store_rc(step);
	sqlite3_finalize(st);
	return rc;
}

enum mg_err
store_mint_add(struct store *s, const char *tenant, long hour, long n)
{
	sqlite3_stmt *st = NULL;
	enum mg_err rc = store_begin(s);
	int step;

	if (rc != MG_OK)
		return rc;
	st = store_prepare(s, "INSERT INTO mint_rate(tenant, hour, minted) VALUES (?1, ?2, ?3) "
	    "ON CONFLICT(tenant, hour) DO UPDATE SET minted = minted + ?3");
	if (st == NULL) {
		rc = MG_ESTORE;
		goto out;
	}
	sqlite3_bind_text(st, 1, tenant, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, hour);
	sqlite3_bind_int64(st, 3, n);
	step = sqlite3_step(st);
	sqlite3_finalize(st);
	if (step != SQLITE_DONE) {
		rc = store_rc(step) == MG_OK ? MG_ESTORE : store_rc(step);
		goto out;
	}
	st = store_prepare(s, "DELETE FROM mint_rate WHERE hour < ?1");
	if (st == NULL) {
		rc = MG_ESTORE;
		goto out;
	}
	sqlite3_bind_int64(st, 1, hour - 24);
	step = sqlite3_step(st);
	sqlite3_finalize(st);
	if (step != SQLITE_DONE) {
		rc = store_rc(step) == MG_OK ? MG_ESTORE : store_rc(step);
		goto out;
	}
	rc = store_commit(s);
out:
	if (rc != MG_OK)
		store_rollback(s);
	return rc;
}
