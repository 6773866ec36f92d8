/*
 * db_int.h - what db.c shares with the backends (db_sqlite.c, db_pg.c):
 * each backend's connection and statement structs start with struct db
 * and struct db_stmt, whose ops table db.c calls through.
 */
#ifndef MG_DB_INT_H
#define MG_DB_INT_H

#include "db.h"

/* A bound parameter value. */
struct db_value {
	enum db_type type;
	const void *p;		/* DB_TEXT, DB_BLOB */
	size_t len;
	int64_t i;		/* DB_INTEGER */
	double d;		/* DB_FLOAT */
	int untyped;		/* DB_TEXT: the column's type decides (db_bind_any) */
};

struct db_ops {
	void (*close)(struct db *db);
	struct db_stmt *(*prepare)(struct db *db, const char *sql);
	void (*done)(struct db_stmt *st);
	void (*reset)(struct db_stmt *st);
	void (*bind)(struct db_stmt *st, int i, const struct db_value *v);
	enum db_step (*step)(struct db_stmt *st);
	enum db_type (*column_type)(struct db_stmt *st, int i);
	int64_t (*column_int64)(struct db_stmt *st, int i);
	double (*column_double)(struct db_stmt *st, int i);
	const char *(*column_text)(struct db_stmt *st, int i);
	const void *(*column_blob)(struct db_stmt *st, int i);
	size_t (*column_bytes)(struct db_stmt *st, int i);
	long (*changes)(struct db *db);
	enum db_step (*exec)(struct db *db, const char *sql);
	enum db_step (*begin)(struct db *db, int write);
	enum db_step (*commit)(struct db *db);	/* NULL: exec("COMMIT") */
	void (*rollback)(struct db *db);
	int (*in_transaction)(struct db *db);
	const char *(*errmsg)(struct db *db);
	void *(*handle)(struct db *db);
	int (*connected)(struct db *db);
};

struct db {
	const struct db_ops *ops;
	enum db_backend backend;
	int last_retryable;	/* the last failure may be retried (db_retryable) */
	int prepared;		/* PostgreSQL: named prepared statements */
	/* called after every (re)connection, outside a transaction; non-zero: unusable */
	int (*on_connect)(void *arg);
	void *on_connect_arg;
};

struct db_stmt {
	struct db *db;
};

/* Statements cached per connection, in this many hash chains. */
#define DB_CACHE_BUCKETS 64

/* FNV-1a of the SQL text: the statement cache's key. */
uint64_t db_sql_hash(const char *sql);

enum mg_err db_sqlite_open(const char *path, long busy_ms, struct db **out, char *err,
    size_t errlen);
enum mg_err db_pg_open(const char *conninfo, long busy_ms, int lazy, struct db **out,
    char *err, size_t errlen);

void db_pg_describe(const char *conninfo, char *out, size_t outlen);

#endif
