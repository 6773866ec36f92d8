/*
 * db.h - the statement API under the store: one connection per worker
 * process, prepared statements cached per connection, the same calls for
 * SQLite (db_sqlite.c) and PostgreSQL (db_pg.c). Only the store_*.c files
 * use it; nothing above the store knows which backend runs.
 *
 * SQL handed to db_prepare uses ?N (or ?) placeholders; the PostgreSQL
 * backend rewrites them to $N. Write SQL both engines accept: ON CONFLICT
 * rather than INSERT OR REPLACE/IGNORE, times computed in C.
 */
#ifndef MG_DB_H
#define MG_DB_H

#include <stddef.h>
#include <stdint.h>
#include "mg.h"

struct db;
struct db_stmt;

enum db_backend {
	DB_SQLITE,
	DB_PG,
	DB__MAX
};

/* What db_step returns. */
enum db_step {
	DB_DONE = 0,		/* no (more) rows: the statement ran */
	DB_ROW = 1,		/* a row is available to the column getters */
	DB_EBUSY = -1,		/* lock timeout, serialisation failure, deadlock: retry */
	DB_ECONSTRAINT = -2,	/* a unique/check/foreign-key constraint refused it */
	DB_ENOMEM = -3,
	DB_ECONN = -4,		/* the connection is gone (reopened on next use) */
	DB_EOTHER = -5
};

/* Column types, as db_column_type reports them. */
enum db_type {
	DB_NULL,
	DB_INTEGER,
	DB_FLOAT,
	DB_TEXT,
	DB_BLOB,
	DB_TYPE__MAX
};

/* The backend a MASKGATE_DB value selects: a postgres URL or key=value string is PG. */
enum db_backend db_backend_of(const char *target);

/*
 * What target names, safe to print: the SQLite path, or for PostgreSQL
 * user@host:port/dbname and sslmode, never the password.
 */
void db_describe(const char *target, char *out, size_t outlen);

/*
 * Opens target (a SQLite path, or a PostgreSQL connection string) for this
 * process. busy_ms bounds waiting for a lock (SQLite) or a statement
 * (PostgreSQL statement_timeout, 0 = none). On failure err says why without
 * the connection string's password. Returns a new connection, caller closes.
 */
enum mg_err db_open(const char *target, long busy_ms, struct db **out, char *err, size_t errlen);
/*
 * The same, but a PostgreSQL server that does not answer yet is not an
 * error: the connection is made at the first statement (which fails with
 * DB_ECONN until then) and err says what happened. A worker process opens
 * this way so that it lives on and serves 503 until the database is back.
 */
enum mg_err db_open_lazy(const char *target, long busy_ms, struct db **out, char *err,
    size_t errlen);
/* fn(arg) runs after every (re)connection; non-zero marks the connection unusable. */
void db_on_connect(struct db *db, int (*fn)(void *arg), void *arg);
/* Whether the connection is up now (SQLite: always). */
int db_connected(struct db *db);
void db_close(struct db *db);
enum db_backend db_backend(const struct db *db);

/*
 * The cached statement for sql, reset and with no bindings, or NULL (logged)
 * when it does not prepare. sql need not outlive the call. Release it with
 * db_done before preparing the same text again; a statement still in use
 * is not handed out twice (a second, uncached one is).
 */
struct db_stmt *db_prepare(struct db *db, const char *sql);
/* Resets st and drops its bindings (releasing locks it held); NULL is fine. */
void db_done(struct db_stmt *st);
/* Resets st for another run with new bindings. */
void db_reset(struct db_stmt *st);

/* Parameters count from 1. Text and blobs must stay valid until db_done/db_reset. */
void db_bind_text(struct db_stmt *st, int i, const char *v);
void db_bind_textn(struct db_stmt *st, int i, const char *v, size_t len);
void db_bind_int64(struct db_stmt *st, int i, int64_t v);
void db_bind_double(struct db_stmt *st, int i, double v);
void db_bind_blob(struct db_stmt *st, int i, const void *v, size_t len);
void db_bind_null(struct db_stmt *st, int i);
/* A value in its text form that the column's type converts (copying between backends). */
void db_bind_any(struct db_stmt *st, int i, const char *text);

/* Runs st or moves to its next row. */
enum db_step db_step(struct db_stmt *st);

/* Columns of the current row, counted from 0; valid until the next step. */
enum db_type db_column_type(struct db_stmt *st, int i);
int64_t db_column_int64(struct db_stmt *st, int i);
double db_column_double(struct db_stmt *st, int i);
const char *db_column_text(struct db_stmt *st, int i);	/* NULL for NULL */
const void *db_column_blob(struct db_stmt *st, int i);
size_t db_column_bytes(struct db_stmt *st, int i);

/* Rows changed by the last statement that ran to DB_DONE on db. */
long db_changes(struct db *db);

/* Runs one or more statements without results (migrations, pragmas). */
enum db_step db_exec(struct db *db, const char *sql);

/* A write transaction (SQLite BEGIN IMMEDIATE), a read one, the end of either. */
enum db_step db_begin(struct db *db);
enum db_step db_begin_read(struct db *db);
enum db_step db_commit(struct db *db);
void db_rollback(struct db *db);
int db_in_transaction(struct db *db);

/*
 * Whether the last failure was a serialisation failure or a deadlock, which
 * the whole transaction may be retried after (PostgreSQL; SQLite waits in
 * busy_timeout instead and never says so).
 */
int db_retryable(struct db *db);

/* PostgreSQL: named prepared statements (1, default) or unnamed ones (0, PgBouncer). */
void db_set_prepared(struct db *db, int on);

/* The last error's text (never the connection string). */
const char *db_errmsg(struct db *db);

/* The backend's own handle (sqlite3 *, PGconn *), for tests and tracing only. */
void *db_handle(struct db *db);

/* Maps a step result to an mg_err: DB_EBUSY -> MG_EBUSY, rows/done -> MG_OK. */
enum mg_err db_rc(enum db_step step);

/* The mg_err of a step that should have been want (DB_ROW or DB_DONE). */
enum mg_err db_rc_want(enum db_step step, enum db_step want);

#endif
