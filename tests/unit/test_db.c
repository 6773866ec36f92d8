/*
 * test_db.c - the statement layer: which backend a MASKGATE_DB value
 * selects, descriptions without passwords, the ?N -> $N rewrite, and the
 * SQLite statement cache (one prepare per text, a second statement when
 * the first is still in use, constraint and changes reporting).
 */
#include <stdlib.h>
#include <unistd.h>

#include "th.h"
#include "../../common/db_pg.c"
#include "embed.h"

static void
test_backend_of(void)
{
	TH_OK(db_backend_of("postgresql://u:p@h/db") == DB_PG, "postgresql:// is PostgreSQL");
	TH_OK(db_backend_of("postgres://h/db") == DB_PG, "postgres:// is PostgreSQL");
	TH_OK(db_backend_of("host=/run/postgresql dbname=mg") == DB_PG, "key=value is PostgreSQL");
	TH_OK(db_backend_of("/var/lib/maskgate/maskgate.db") == DB_SQLITE, "a path is SQLite");
	TH_OK(db_backend_of("var/x=1.db") == DB_SQLITE, "a relative path with '=' is SQLite");
	TH_OK(db_backend_of("maskgate.db") == DB_SQLITE, "a bare file name is SQLite");
}

static void
test_describe(void)
{
	char out[256];

	db_describe("postgresql://mg:s3cret-pw@db.example:6432/store?sslmode=verify-full", out,
	    sizeof(out));
	TH_OK(strstr(out, "s3cret") == NULL, "URL described without its password (%s)", out);
	TH_STREQ(out, "PostgreSQL mg@db.example:6432/store sslmode=verify-full",
	    "URL described as user@host:port/db");
	db_describe("host=10.0.0.5 user=mg password=hunter2pw dbname=x", out, sizeof(out));
	TH_OK(strstr(out, "hunter2") == NULL && strstr(out, "mg@10.0.0.5/x") != NULL,
	    "key=value described without its password (%s)", out);
	unquote(out, sizeof(out), "invalid percent-encoded token: \"pa%zzss\"\nmore");
	TH_OK(strstr(out, "pa%zz") == NULL && strstr(out, "invalid percent") != NULL,
	    "libpq's quoted pieces are dropped from messages (%s)", out);
}

static void
test_convert(void)
{
	int n = 0;
	char *c = convert("SELECT ?1, ?2 WHERE a = ?1 AND b = '?' AND \"c?\" = ?12", &n);

	TH_STREQ(c, "SELECT $1, $2 WHERE a = $1 AND b = '?' AND \"c?\" = $12",
	    "?N becomes $N, not inside quotes");
	TH_OK(n == 12, "the highest number is the parameter count (%d)", n);
	free(c);
	c = convert("INSERT INTO t VALUES (?, ?, ?)", &n);
	TH_STREQ(c, "INSERT INTO t VALUES ($1, $2, $3)", "bare ? are numbered in order");
	TH_OK(n == 3, "three parameters");
	free(c);
}

static void
test_sqlite_cache(void)
{
	char dir[] = "/tmp/mg_db_XXXXXX", path[300], err[256];
	struct db *db = NULL;
	struct db_stmt *a, *b, *c;
	static const char ins[] = "INSERT INTO t(k, v) VALUES (?1, ?2)";
	char sql[320];

	if (mkdtemp(dir) == NULL)
		return;
	snprintf(path, sizeof(path), "%s/t.db", dir);
	TH_OK(db_open(path, 1000, &db, err, sizeof(err)) == MG_OK && db_backend(db) == DB_SQLITE,
	    "a path opens SQLite");
	if (db == NULL)
		return;
	TH_OK(db_exec(db, "CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)") == DB_DONE,
	    "db_exec runs DDL");
	a = db_prepare(db, ins);
	db_bind_text(a, 1, "x");
	db_bind_int64(a, 2, 5);
	TH_OK(db_step(a) == DB_DONE && db_changes(db) == 1, "insert: done, one change");
	db_done(a);
	/* the same text again, from another buffer: the cached statement */
	snprintf(sql, sizeof(sql), "%s", ins);
	b = db_prepare(db, sql);
	TH_OK(b == a, "the same SQL text gets the cached statement");
	c = db_prepare(db, ins);
	TH_OK(c != NULL && c != b, "while it is in use, a second one");
	db_bind_text(b, 1, "x");
	db_bind_int64(b, 2, 6);
	TH_OK(db_step(b) == DB_ECONSTRAINT, "a duplicate key is DB_ECONSTRAINT");
	db_done(b);
	db_bind_text(c, 1, "y");
	db_bind_null(c, 2);
	TH_OK(db_step(c) == DB_DONE, "the second statement works on its own");
	db_done(c);
	a = db_prepare(db, "SELECT count(*), sum(v) FROM t WHERE v IS NOT NULL OR k = ?1");
	db_bind_text(a, 1, "y");
	TH_OK(db_step(a) == DB_ROW && db_column_int64(a, 0) == 2 && db_column_int64(a, 1) == 5 &&
	    db_column_type(a, 0) == DB_INTEGER, "rows and integer columns");
	TH_OK(db_step(a) == DB_DONE, "then done");
	db_done(a);
	TH_OK(db_begin(db) == DB_DONE && db_in_transaction(db), "BEGIN IMMEDIATE");
	db_rollback(db);
	TH_OK(!db_in_transaction(db), "rolled back");
	TH_OK(db_rc(DB_EBUSY) == MG_EBUSY && db_rc(DB_ECONN) == MG_ESTORE &&
	    db_rc_want(DB_ROW, DB_DONE) == MG_ESTORE && db_rc_want(DB_DONE, DB_DONE) == MG_OK,
	    "step results map to mg_err");
	TH_OK(!db_retryable(db), "SQLite never asks for a retry");
	db_close(db);
	unlink(path);
	snprintf(sql, sizeof(sql), "%s-wal", path);
	unlink(sql);
	snprintf(sql, sizeof(sql), "%s-shm", path);
	unlink(sql);
	rmdir(dir);
}

static void
test_pg_unreachable(void)
{
	char err[512];
	struct db *db = NULL;
	/* port 1 on loopback: refused at once */
	static const char url[] = "postgresql://mg:pw-not-shown@127.0.0.1:1/x";

	TH_OK(db_open(url, 1000, &db, err, sizeof(err)) != MG_OK && db == NULL,
	    "an unreachable PostgreSQL fails db_open");
	TH_OK(strstr(err, "pw-not-shown") == NULL && strstr(err, "mg@127.0.0.1:1/x") != NULL,
	    "the error names the database, not the password (%s)", err);
	TH_OK(db_open_lazy(url, 1000, &db, err, sizeof(err)) == MG_OK && db != NULL &&
	    !db_connected(db), "db_open_lazy returns a connection still to be made");
	if (db != NULL) {
		struct db_stmt *st = db_prepare(db, "SELECT 1");
		TH_OK(st != NULL && db_step(st) == DB_ECONN, "its statements fail with DB_ECONN");
		db_done(st);
		TH_OK(db_begin(db) == DB_ECONN && !db_in_transaction(db),
		    "and so does BEGIN, leaving no transaction open");
		db_close(db);
	}
}

/* Every SQLite migration has its PostgreSQL twin under the same name in sql/pg/. */
static void
test_migrations_paired(void)
{
	size_t i;
	int same = embed_sql_count == embed_pgsql_count;

	for (i = 0; same && i < embed_sql_count; i++)
		same = strcmp(embed_sql[i].name, embed_pgsql[i].name) == 0;
	TH_OK(same, "sql/ and sql/pg/ hold the same numbered migrations (%zu and %zu)",
	    embed_sql_count, embed_pgsql_count);
}

int
main(void)
{
	test_migrations_paired();
	test_backend_of();
	test_describe();
	test_convert();
	test_sqlite_cache();
	test_pg_unreachable();
	return th_done();
}
