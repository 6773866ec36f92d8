/*
 * db.c - the db.h entry points: picking the backend from MASKGATE_DB and
 * calling through the connection's ops table, so that the store files
 * read the same whichever database runs.
 */
#include <stdio.h>
#include <string.h>

#include "db_int.h"

enum db_backend
db_backend_of(const char *target)
{
	/* a libpq key=value string starts with one of its keywords */
	static const char *const kw[] = { "host=", "hostaddr=", "dbname=", "user=", "port=",
		"service=", "password=", "sslmode=" };
	size_t i;

	if (strncmp(target, "postgresql://", 13) == 0 || strncmp(target, "postgres://", 11) == 0)
		return DB_PG;
	for (i = 0; i < MG_NELEM(kw); i++)
		if (strncmp(target, kw[i], strlen(kw[i])) == 0)
			return DB_PG;
	return DB_SQLITE;
}

void
db_describe(const char *target, char *out, size_t outlen)
{
	if (db_backend_of(target) == DB_PG)
		db_pg_describe(target, out, outlen);
	else
		snprintf(out, outlen, "SQLite %s", target);
}

int
db_connected(struct db *db)
{
	return db->ops->connected(db);
}

uint64_t
db_sql_hash(const char *sql)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *sql != '\0'; sql++) {
		h ^= (unsigned char)*sql;
		h *= 1099511628211ULL;
	}
	return h;
}

enum mg_err
db_open(const char *target, long busy_ms, struct db **out, char *err, size_t errlen)
{
	*out = NULL;
	if (db_backend_of(target) == DB_PG)
		return db_pg_open(target, busy_ms, 0, out, err, errlen);
	return db_sqlite_open(target, busy_ms, out, err, errlen);
}

enum mg_err
db_open_lazy(const char *target, long busy_ms, struct db **out, char *err, size_t errlen)
{
	*out = NULL;
	if (db_backend_of(target) == DB_PG)
		return db_pg_open(target, busy_ms, 1, out, err, errlen);
	return db_sqlite_open(target, busy_ms, out, err, errlen);
}

void
db_on_connect(struct db *db, int (*fn)(void *arg), void *arg)
{
	db->on_connect = fn;
	db->on_connect_arg = arg;
}

void
db_close(struct db *db)
{
	if (db != NULL)
		db->ops->close(db);
}

enum db_backend
db_backend(const struct db *db)
{
	return db->backend;
}

struct db_stmt *
db_prepare(struct db *db, const char *sql)
{
	return db->ops->prepare(db, sql);
}

void
db_done(struct db_stmt *st)
{
	if (st != NULL)
		st->db->ops->done(st);
}

void
db_reset(struct db_stmt *st)
{
	st->db->ops->reset(st);
}

void
db_bind_text(struct db_stmt *st, int i, const char *v)
{
	struct db_value x = { DB_TEXT, v, v != NULL ? strlen(v) : 0, 0, 0, 0 };

	if (v == NULL)
		x.type = DB_NULL;
	st->db->ops->bind(st, i, &x);
}

void
db_bind_textn(struct db_stmt *st, int i, const char *v, size_t len)
{
	struct db_value x = { DB_TEXT, v, len, 0, 0, 0 };

	st->db->ops->bind(st, i, &x);
}

void
db_bind_int64(struct db_stmt *st, int i, int64_t v)
{
	struct db_value x = { DB_INTEGER, NULL, 0, v, 0, 0 };

	st->db->ops->bind(st, i, &x);
}

void
db_bind_double(struct db_stmt *st, int i, double v)
{
	struct db_value x = { DB_FLOAT, NULL, 0, 0, v, 0 };

	st->db->ops->bind(st, i, &x);
}

void
db_bind_blob(struct db_stmt *st, int i, const void *v, size_t len)
{
	struct db_value x = { DB_BLOB, v, len, 0, 0, 0 };

	st->db->ops->bind(st, i, &x);
}

void
db_bind_any(struct db_stmt *st, int i, const char *text)
{
	struct db_value x = { DB_TEXT, text, strlen(text), 0, 0, 1 };

	st->db->ops->bind(st, i, &x);
}

void
db_bind_null(struct db_stmt *st, int i)
{
	struct db_value x = { DB_NULL, NULL, 0, 0, 0, 0 };

	st->db->ops->bind(st, i, &x);
}

enum db_step
db_step(struct db_stmt *st)
{
	return st->db->ops->step(st);
}

enum db_type
db_column_type(struct db_stmt *st, int i)
{
	return st->db->ops->column_type(st, i);
}

int64_t
db_column_int64(struct db_stmt *st, int i)
{
	return st->db->ops->column_int64(st, i);
}

double
db_column_double(struct db_stmt *st, int i)
{
	return st->db->ops->column_double(st, i);
}

const char *
db_column_text(struct db_stmt *st, int i)
{
	return st->db->ops->column_text(st, i);
}

const void *
db_column_blob(struct db_stmt *st, int i)
{
	return st->db->ops->column_blob(st, i);
}

size_t
db_column_bytes(struct db_stmt *st, int i)
{
	return st->db->ops->column_bytes(st, i);
}

long
db_changes(struct db *db)
{
	return db->ops->changes(db);
}

enum db_step
db_exec(struct db *db, const char *sql)
{
	return db->ops->exec(db, sql);
}

enum db_step
db_begin(struct db *db)
{
	return db->ops->begin(db, 1);
}

enum db_step
db_begin_read(struct db *db)
{
	return db->ops->begin(db, 0);
}

enum db_step
db_commit(struct db *db)
{
	return db->ops->commit != NULL ? db->ops->commit(db) : db->ops->exec(db, "COMMIT");
}

void
db_rollback(struct db *db)
{
	db->ops->rollback(db);
}

int
db_in_transaction(struct db *db)
{
	return db->ops->in_transaction(db);
}

const char *
db_errmsg(struct db *db)
{
	return db->ops->errmsg(db);
}

int
db_retryable(struct db *db)
{
	return db->last_retryable;
}

void
db_set_prepared(struct db *db, int on)
{
	db->prepared = on;
}

void *
db_handle(struct db *db)
{
	return db->ops->handle(db);
}

enum mg_err
db_rc(enum db_step step)
{
	switch (step) {
	case DB_DONE:
	case DB_ROW:
		return MG_OK;
	case DB_EBUSY:
		return MG_EBUSY;
	case DB_ENOMEM:
		return MG_ENOMEM;
	default:
		return MG_ESTORE;
	}
}

enum mg_err
db_rc_want(enum db_step step, enum db_step want)
{
	if (step == want)
		return MG_OK;
	return step == DB_DONE || step == DB_ROW ? MG_ESTORE : db_rc(step);
}
