/*
 * store_copy.c - copying a whole store to another backend (bin/maskgate
 * migrate): every table both schemas have, the columns both have, rows as
 * they are (sealed values and hashes untouched, so the same
 * MASKGATE_DATA_KEY opens them there). Tables are found in the catalogue,
 * not listed here, so a migration that adds one is copied too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_copy.h"
#include "store_int.h"

#define MAX_TABLES 64
#define MAX_COLS 48
#define NAME_LEN 64

struct names {
	char v[MAX_COLS][NAME_LEN];
	size_t n;
};

/* Rows of in-flight requests and bookkeeping of the target itself: not copied. */
static int
skipped(const char *table)
{
	return strcmp(table, "vkey_slot") == 0 || strcmp(table, "schema_version") == 0;
}

/* Parents before the tables whose foreign keys name them. */
static int
rank(const char *table)
{
	return strcmp(table, "vkey") == 0 ? 0 : strcmp(table, "vkey_grace") == 0 ? 2 : 1;
}

static int
cmp_table(const void *a, const void *b)
{
	const char *x = a, *y = b;
	int r = rank(x) - rank(y);

	return r != 0 ? r : strcmp(x, y);
}

/* Runs sql (one text column) into out. */
static enum mg_err
list(struct store *s, const char *sql, const char *arg, struct names *out, size_t max)
{
	struct db_stmt *st = db_prepare(s->db, sql);
	enum db_step step;

	out->n = 0;
	if (st == NULL)
		return MG_ESTORE;
	if (arg != NULL)
		db_bind_text(st, 1, arg);
	for (step = db_step(st); step == DB_ROW; step = db_step(st)) {
		const char *v = db_column_text(st, 0);
		if (v == NULL || strlen(v) >= NAME_LEN || strchr(v, '"') != NULL)
			continue;
		if (out->n == max) {
			db_done(st);
			return MG_ETOOBIG;
		}
		snprintf(out->v[out->n++], NAME_LEN, "%s", v);
	}
	db_done(st);
	return db_rc_want(step, DB_DONE);
}

static enum mg_err
tables(struct store *s, struct names *out)
{
	enum mg_err rc = list(s, db_backend(s->db) == DB_PG ?
	    "SELECT table_name FROM information_schema.tables WHERE table_schema = "
	    "current_schema() AND table_type = 'BASE TABLE'" :
	    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
	    NULL, out, MAX_TABLES);

	if (rc == MG_OK)
		qsort(out->v, out->n, NAME_LEN, cmp_table);
	return rc;
}

static enum mg_err
columns(struct store *s, const char *table, struct names *out)
{
	return list(s, db_backend(s->db) == DB_PG ?
	    "SELECT column_name FROM information_schema.columns WHERE table_schema = "
	    "current_schema() AND table_name = ?1 ORDER BY ordinal_position" :
	    "SELECT name FROM pragma_table_info(?1)", table, out, MAX_COLS);
}

static int
has(const struct names *n, const char *v)
{
	size_t i;

	for (i = 0; i < n->n; i++)
		if (strcmp(n->v[i], v) == 0)
			return 1;
	return 0;
}

/* Appends s to buf at *off; -1 when it does not fit. */
static int
put(char *buf, size_t len, size_t *off, const char *s)
{
	int n = snprintf(buf + *off, len - *off, "%s", s);

	if (n < 0 || (size_t)n >= len - *off)
		return -1;
	*off += (size_t)n;
	return 0;
}

/* Binds column c of row as parameter c + 1, whatever its type. */
static void
bind_col(struct db_stmt *row, struct db_stmt *ins, int c, char *num, size_t numlen)
{
	switch (db_column_type(row, c)) {
	case DB_NULL:
		db_bind_null(ins, c + 1);
		break;
	case DB_BLOB:
		db_bind_blob(ins, c + 1, db_column_blob(row, c), db_column_bytes(row, c));
		break;
	case DB_INTEGER:
		snprintf(num, numlen, "%lld", (long long)db_column_int64(row, c));
		db_bind_any(ins, c + 1, num);
		break;
	case DB_FLOAT:
		snprintf(num, numlen, "%.17g", db_column_double(row, c));
		db_bind_any(ins, c + 1, num);
		break;
	default:
		db_bind_any(ins, c + 1, db_column_text(row, c));
		break;
	}
}

static enum mg_err
copy_table(struct store *from, struct store *to, const char *table, const struct names *cols,
    long *rows, char *err, size_t errlen)
{
	char sel[4096], ins[4096], num[MAX_COLS][40];
	size_t so = 0, io = 0, i;
	struct db_stmt *r = NULL, *w = NULL;
	enum db_step step;
	enum mg_err rc = MG_OK;

	*rows = 0;
	if (put(sel, sizeof(sel), &so, "SELECT ") || put(ins, sizeof(ins), &io, "INSERT INTO \"") ||
	    put(ins, sizeof(ins), &io, table) || put(ins, sizeof(ins), &io, "\"("))
		return MG_ETOOBIG;
	for (i = 0; i < cols->n; i++) {
		if (put(sel, sizeof(sel), &so, i > 0 ? ", \"" : "\"") ||
		    put(sel, sizeof(sel), &so, cols->v[i]) || put(sel, sizeof(sel), &so, "\"") ||
		    put(ins, sizeof(ins), &io, i > 0 ? ", \"" : "\"") ||
		    put(ins, sizeof(ins), &io, cols->v[i]) || put(ins, sizeof(ins), &io, "\""))
			return MG_ETOOBIG;
	}
	if (put(sel, sizeof(sel), &so, " FROM \"") || put(sel, sizeof(sel), &so, table) ||
	    put(sel, sizeof(sel), &so, "\"") || put(ins, sizeof(ins), &io, ") VALUES ("))
		return MG_ETOOBIG;
	for (i = 0; i < cols->n; i++)
		if (put(ins, sizeof(ins), &io, i > 0 ? ", ?" : "?"))
			return MG_ETOOBIG;
	if (put(ins, sizeof(ins), &io, ") ON CONFLICT DO NOTHING"))
		return MG_ETOOBIG;
	r = db_prepare(from->db, sel);
	w = db_prepare(to->db, ins);
	if (r == NULL || w == NULL) {
		snprintf(err, errlen, "cannot copy table %s", table);
		rc = MG_ESTORE;
		goto out;
	}
	for (step = db_step(r); step == DB_ROW; step = db_step(r)) {
		db_reset(w);
		for (i = 0; i < cols->n; i++)
			bind_col(r, w, (int)i, num[i], sizeof(num[i]));
		if (db_step(w) != DB_DONE) {
			snprintf(err, errlen, "copying a row of %s failed: %s", table, db_errmsg(to->db));
			rc = MG_ESTORE;
			goto out;
		}
		(*rows)++;
	}
	if (step != DB_DONE) {
		snprintf(err, errlen, "reading %s failed: %s", table, db_errmsg(from->db));
		rc = MG_ESTORE;
	}
out:
	db_done(r);
	db_done(w);
	return rc;
}

/* PostgreSQL identity columns continue after the copied ids (text ids have none). */
static enum mg_err
fix_identity(struct store *to, const char *table)
{
	char sql[512];
	struct db_stmt *st;
	enum db_step step;
	int identity;

	if (db_backend(to->db) != DB_PG)
		return MG_OK;
	snprintf(sql, sizeof(sql), "SELECT pg_get_serial_sequence('\"%s\"', 'id') IS NOT NULL",
	    table);
	st = db_prepare(to->db, sql);
	if (st == NULL)
		return MG_ESTORE;
	step = db_step(st);
	identity = step == DB_ROW && db_column_int64(st, 0) != 0;
	db_done(st);
	if (step != DB_ROW)
		return db_rc_want(step, DB_ROW);
	if (!identity)
		return MG_OK;
	snprintf(sql, sizeof(sql), "SELECT setval(pg_get_serial_sequence('\"%s\"', 'id'), "
	    "(SELECT coalesce(max(id), 0) + 1 FROM \"%s\"), false)", table, table);
	return db_rc(db_exec(to->db, sql));
}

/* Whether the destination's table holds rows (copying into it would mix two stores). */
static enum mg_err
empty(struct store *to, const char *table, int *is_empty)
{
	char sql[256];
	struct db_stmt *st;
	enum db_step step;

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\"", table);
	st = db_prepare(to->db, sql);
	if (st == NULL)
		return MG_ESTORE;
	step = db_step(st);
	*is_empty = step == DB_ROW && db_column_int64(st, 0) == 0;
	db_done(st);
	return db_rc_want(step, DB_ROW);
}

enum mg_err
store_copy(struct store *from, struct store *to,
    void (*fn)(void *arg, const char *table, long rows), void *arg, char *err, size_t errlen)
{
	struct names *src = NULL, *dst = NULL, *scol = NULL, *dcol = NULL, *both = NULL;
	enum mg_err rc;
	size_t i, j;

	err[0] = '\0';
	src = calloc(1, sizeof(*src));
	dst = calloc(1, sizeof(*dst));
	scol = calloc(1, sizeof(*scol));
	dcol = calloc(1, sizeof(*dcol));
	both = calloc(1, sizeof(*both));
	if (src == NULL || dst == NULL || scol == NULL || dcol == NULL || both == NULL) {
		rc = MG_ENOMEM;
		goto out;
	}
	rc = tables(from, src);
	if (rc == MG_OK)
		rc = tables(to, dst);
	if (rc != MG_OK) {
		snprintf(err, errlen, "cannot list the tables (%s)", mg_strerror(rc));
		goto out;
	}
	rc = store_begin(to);
	if (rc != MG_OK) {
		snprintf(err, errlen, "cannot lock the destination (%s)", mg_strerror(rc));
		goto out;
	}
	for (i = 0; i < src->n && rc == MG_OK; i++) {
		const char *t = src->v[i];
		long rows = 0;
		int is_empty = 0;
		if (skipped(t))
			continue;
		if (!has(dst, t)) {
			log_warn("migrate: table %s is not in the destination's schema; not copied", t);
			continue;
		}
		rc = columns(from, t, scol);
		if (rc == MG_OK)
			rc = columns(to, t, dcol);
		if (rc == MG_OK && strcmp(t, "meta") != 0) {
			rc = empty(to, t, &is_empty);
			if (rc == MG_OK && !is_empty) {
				snprintf(err, errlen, "the destination already holds %s rows: migrate "
				    "into a new, empty database", t);
				rc = MG_EINVAL;
			}
		}
		if (rc != MG_OK)
			break;
		both->n = 0;
		for (j = 0; j < scol->n; j++)
			if (has(dcol, scol->v[j]))
				snprintf(both->v[both->n++], NAME_LEN, "%s", scol->v[j]);
		rc = copy_table(from, to, t, both, &rows, err, errlen);
		if (rc == MG_OK && has(both, "id"))
			rc = fix_identity(to, t);
		if (rc == MG_OK && fn != NULL)
			fn(arg, t, rows);
	}
	if (rc == MG_OK)
		rc = store_commit(to);
	if (rc != MG_OK) {
		store_rollback(to);
		if (err[0] == '\0')
			snprintf(err, errlen, "copy failed (%s)", mg_strerror(rc));
	}
out:
	free(src);
	free(dst);
	free(scol);
	free(dcol);
	free(both);
	return rc;
}
