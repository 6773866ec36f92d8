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
store_mint_charge(struct store *s, const char *tenant, long hour, long n, long *total)
{
	/* one statement: the row is locked (PostgreSQL) from the add to the commit */
	struct db_stmt *st = db_prepare(s->db, "INSERT INTO mint_rate(tenant, hour, minted) "
	    "VALUES (?1, ?2, ?3) ON CONFLICT(tenant, hour) DO UPDATE "
	    "SET minted = mint_rate.minted + ?3 RETURNING minted");
	enum db_step step;

	*total = 0;
	if (st == NULL)
		return MG_ESTORE;
	db_bind_text(st, 1, tenant);
	db_bind_int64(st, 2, hour);
	db_bind_int64(st, 3, n);
	step = db_step(st);
	if (step == DB_ROW) {
		*total = (long)db_column_int64(st, 0);
		do
			step = db_step(st);
		while (step == DB_ROW);
	}
	db_done(st);
	if (step != DB_DONE)
		return store_map_step_err(s, step, "count of new mappings");
	if (*total != n)
		return MG_OK;
	/* the tenant's first count of the hour: hours older than a day go */
	st = db_prepare(s->db, "DELETE FROM mint_rate WHERE hour < ?1");
	if (st == NULL)
		return MG_ESTORE;
	db_bind_int64(st, 1, hour - 24);
	step = db_step(st);
	db_done(st);
	return step == DB_DONE ? MG_OK : store_map_step_err(s, step, "count of new mappings");
}
