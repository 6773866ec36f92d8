/*
 * db_pg.c - the db.h statement API on PostgreSQL (libpq).
 */
#include <stdio.h>

#include "db_int.h"

enum mg_err
db_pg_open(const char *conninfo, long busy_ms, struct db **out, char *err, size_t errlen)
{
	(void)conninfo;
	(void)busy_ms;
	*out = NULL;
	snprintf(err, errlen, "MASKGATE_DB: PostgreSQL is not supported by this build");
	return MG_ESTORE;
}
