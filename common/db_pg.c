/*
 * db_pg.c - the db.h statement API on PostgreSQL (libpq).
 *
 * One connection per worker process, opened after fork. A connection that
 * breaks is reset at the next statement outside a transaction, so a
 * database that comes back serves the next request without a restart.
 * Statements are prepared once per connection under a generated name
 * (their ?N placeholders rewritten to $N), or sent unnamed when the
 * connection runs through a transaction-pooling PgBouncer, where a
 * prepared statement would not survive the transaction. Parameters go in
 * binary (no formatting, no escaping), results come back as text.
 */
#include <arpa/inet.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"
#include "log.h"

#define PG_MAXP 64		/* parameters of one statement (store_map_batch.c: 33) */
#define PG_MAXC 32		/* columns whose bytea is decoded */

/* type OIDs (pg_type.h is a server header) */
#define OID_BOOL 16
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_TEXT 25
#define OID_FLOAT4 700
#define OID_FLOAT8 701
#define OID_NUMERIC 1700

struct pg_stmt {
	struct db_stmt base;
	char *sql;		/* the cache key, NULL when uncached */
	char *pgsql;		/* with $N placeholders */
	uint64_t hash;
	int in_use;
	int nparams;
	unsigned prepared_gen;	/* connection generation it was prepared on, 0 = not */
	char name[24];
	Oid types[PG_MAXP];	/* as prepared */
	/* the current bindings */
	Oid btypes[PG_MAXP];
	const char *vals[PG_MAXP];
	int lens[PG_MAXP];
	int fmts[PG_MAXP];
	unsigned char num[PG_MAXP][8];
	/* the current result */
	PGresult *res;
	int row, nrows, ran;
	unsigned char *dec[PG_MAXC];
	size_t declen[PG_MAXC];
	int decrow[PG_MAXC];	/* the row dec[i] was decoded from */
	struct pg_stmt *next;
};

struct pg_db {
	struct db base;
	PGconn *conn;
	unsigned gen;		/* bumped at every (re)connection */
	unsigned next_name;
	int in_tx;
	int broken;
	long changes;
	char err[256];
	struct pg_stmt *cache[DB_CACHE_BUCKETS];
};

#define PG(db) ((struct pg_db *)(db))
#define ST(st) ((struct pg_stmt *)(st))

static const struct db_ops pg_ops;

/* Keeps libpq's notices (NOTICE: relation exists...) out of stderr. */
static void
quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

/* First line of libpq's message, without the connection string (libpq never puts it there). */
static void
set_err(struct pg_db *db, const char *what, const char *msg)
{
	size_t n;

	snprintf(db->err, sizeof(db->err), "%s%s%s", what, *what ? ": " : "",
	    msg != NULL && *msg ? msg : "unknown error");
	n = strcspn(db->err, "\n");
	db->err[n] = '\0';
}

/*
 * libpq's first line with every quoted span dropped: a syntax error quotes
 * the piece of the connection string it choked on, which may be the
 * password.
 */
static void
unquote(char *out, size_t outlen, const char *msg)
{
	size_t o = 0;
	int quoted = 0;

	for (; *msg != '\0' && *msg != '\n' && o + 4 < outlen; msg++) {
		if (*msg == '"') {
			quoted = !quoted;
			if (quoted) {
				memcpy(out + o, "...", 3);
				o += 3;
			}
			continue;
		}
		if (!quoted)
			out[o++] = *msg;
	}
	out[o] = '\0';
}

static PGconn *
connect_to(const char *conninfo, long busy_ms)
{
	char timeout[64];
	const char *keys[] = { "connect_timeout", "fallback_application_name", "options",
		"dbname", NULL };
	const char *vals[] = { "5", "maskgate", timeout, conninfo, NULL };

	/* defaults first: whatever the connection string says wins */
	snprintf(timeout, sizeof(timeout), "-c statement_timeout=%ld -c lock_timeout=%ld",
	    busy_ms, busy_ms);
	if (busy_ms <= 0)
		vals[2] = "";
	return PQconnectdbParams(keys, vals, 1);
}

enum mg_err
db_pg_open(const char *conninfo, long busy_ms, int lazy, struct db **out, char *err,
    size_t errlen)
{
	struct pg_db *db;
	char *parse_err = NULL;
	PQconninfoOption *opts;

	*out = NULL;
	/* a syntax error says so without echoing the string (it may hold a password) */
	opts = PQconninfoParse(conninfo, &parse_err);
	if (opts == NULL) {
		char why[256];
		unquote(why, sizeof(why), parse_err != NULL ? parse_err : "out of memory");
		snprintf(err, errlen, "MASKGATE_DB: not a valid PostgreSQL connection string (%s)",
		    why);
		PQfreemem(parse_err);
		return MG_EINVAL;
	}
	PQconninfoFree(opts);
	db = calloc(1, sizeof(*db));
	if (db == NULL)
		return MG_ENOMEM;
	db->base.ops = &pg_ops;
	db->base.backend = DB_PG;
	db->base.prepared = 1;
	db->conn = connect_to(conninfo, busy_ms);
	if (db->conn == NULL) {
		db_close(&db->base);
		return MG_ENOMEM;
	}
	db->gen = 1;
	if (PQstatus(db->conn) != CONNECTION_OK) {
		char where[256];
		set_err(db, "", PQerrorMessage(db->conn));
		db_pg_describe(conninfo, where, sizeof(where));
		snprintf(err, errlen, "MASKGATE_DB: cannot connect to %s: %s", where, db->err);
		if (!lazy) {
			db_close(&db->base);
			return MG_ESTORE;
		}
		db->broken = 1;	/* the first statement tries again */
		*out = &db->base;
		return MG_OK;
	}
	PQsetNoticeProcessor(db->conn, quiet, NULL);
	*out = &db->base;
	return MG_OK;
}

static void
clear_result(struct pg_stmt *st)
{
	size_t i;

	PQclear(st->res);
	st->res = NULL;
	st->row = st->nrows = st->ran = 0;
	for (i = 0; i < PG_MAXC; i++) {
		if (st->dec[i] != NULL)
			PQfreemem(st->dec[i]);
		st->dec[i] = NULL;
	}
}

static void
stmt_free(struct pg_stmt *st)
{
	clear_result(st);
	free(st->sql);
	free(st->pgsql);
	free(st);
}

static void
pg_close(struct db *d)
{
	struct pg_db *db = PG(d);
	size_t i;

	for (i = 0; i < DB_CACHE_BUCKETS; i++) {
		struct pg_stmt *st = db->cache[i], *next;
		for (; st != NULL; st = next) {
			next = st->next;
			stmt_free(st);
		}
	}
	if (db->conn != NULL)
		PQfinish(db->conn);
	free(db);
}

/* ?N -> $N, ? -> $k; not inside quotes. Returns a new string, caller frees. */
static char *
convert(const char *sql, int *nparams)
{
	size_t n = strlen(sql);
	/* "?N" becomes "$N": as long; a bare "?" may become "$NN" */
	char *out = malloc(n * 3 + 1), *o, *end;
	int seq = 0, max = 0;
	char quote = 0;

	if (out == NULL)
		return NULL;
	o = out;
	end = out + n * 3 + 1;
	for (; *sql != '\0'; sql++) {
		if (quote != 0) {
			if (*sql == quote)
				quote = 0;
			*o++ = *sql;
			continue;
		}
		if (*sql == '\'' || *sql == '"') {
			quote = *sql;
			*o++ = *sql;
			continue;
		}
		if (*sql != '?') {
			*o++ = *sql;
			continue;
		}
		if (sql[1] >= '0' && sql[1] <= '9') {
			int v = 0;
			while (sql[1] >= '0' && sql[1] <= '9')
				v = v * 10 + (*++sql - '0');
			if (v > max)
				max = v;
			o += snprintf(o, (size_t)(end - o), "$%d", v);
		} else {
			seq++;
			if (seq > max)
				max = seq;
			o += snprintf(o, (size_t)(end - o), "$%d", seq);
		}
	}
	*o = '\0';
	*nparams = max;
	return out;
}

/* Resets a broken connection outside a transaction; 0 when usable. */
static int
ensure_conn(struct pg_db *db)
{
	if (!db->broken && PQstatus(db->conn) == CONNECTION_OK)
		return 0;
	if (db->in_tx)
		return -1;	/* the transaction is lost: the caller rolls back first */
	PQreset(db->conn);
	if (PQstatus(db->conn) != CONNECTION_OK) {
		set_err(db, "reconnect", PQerrorMessage(db->conn));
		db->broken = 1;
		return -1;
	}
	PQsetNoticeProcessor(db->conn, quiet, NULL);
	db->broken = 0;
	db->gen++;		/* statements prepared before are gone */
	log_info("store: connected to PostgreSQL again");
	if (db->base.on_connect != NULL && db->base.on_connect(db->base.on_connect_arg) != 0) {
		db->broken = 1;
		return -1;
	}
	return 0;
}

static struct db_stmt *
pg_prepare(struct db *d, const char *sql)
{
	struct pg_db *db = PG(d);
	uint64_t h = db_sql_hash(sql);
	struct pg_stmt **bucket = &db->cache[h % DB_CACHE_BUCKETS];
	struct pg_stmt *st;
	int cache = 1;

	for (st = *bucket; st != NULL; st = st->next) {
		if (st->hash != h || strcmp(st->sql, sql) != 0)
			continue;
		if (!st->in_use) {
			st->in_use = 1;
			return &st->base;
		}
		cache = 0;
		break;
	}
	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return NULL;
	st->base.db = d;
	st->hash = h;
	st->pgsql = convert(sql, &st->nparams);
	if (st->pgsql == NULL || st->nparams > PG_MAXP) {
		log_error("store: cannot prepare a statement with %d parameters", st->nparams);
		stmt_free(st);
		return NULL;
	}
	st->in_use = 1;
	if (cache) {
		st->sql = strdup(sql);
		if (st->sql == NULL) {
			stmt_free(st);
			return NULL;
		}
		st->next = *bucket;
		*bucket = st;
	}
	return &st->base;
}

static void
pg_reset(struct db_stmt *s)
{
	struct pg_stmt *st = ST(s);

	clear_result(st);
	memset(st->btypes, 0, sizeof(st->btypes));
	memset(st->vals, 0, sizeof(st->vals));
	memset(st->lens, 0, sizeof(st->lens));
}

static void
pg_done(struct db_stmt *s)
{
	struct pg_stmt *st = ST(s);

	if (st->sql == NULL) {
		stmt_free(st);
		return;
	}
	pg_reset(s);
	st->in_use = 0;
}

static void
put_be64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--) {
		p[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
}

static void
pg_bind(struct db_stmt *s, int i, const struct db_value *v)
{
	struct pg_stmt *st = ST(s);
	int k = i - 1;
	uint64_t bits;

	if (k < 0 || k >= PG_MAXP)
		return;
	if (st->res != NULL)
		clear_result(st);
	st->fmts[k] = 1;
	switch (v->type) {
	case DB_INTEGER:
		st->btypes[k] = OID_INT8;
		put_be64(st->num[k], (uint64_t)v->i);
		st->vals[k] = (const char *)st->num[k];
		st->lens[k] = 8;
		break;
	case DB_FLOAT:
		st->btypes[k] = OID_FLOAT8;
		memcpy(&bits, &v->d, sizeof(bits));
		put_be64(st->num[k], bits);
		st->vals[k] = (const char *)st->num[k];
		st->lens[k] = 8;
		break;
	case DB_TEXT:
		if (v->untyped) {
			/* text format, type left to the column: "42" into a BIGINT */
			st->btypes[k] = 0;
			st->fmts[k] = 0;
			st->vals[k] = v->p;
			st->lens[k] = 0;
			break;
		}
		/* fall through */
	case DB_BLOB:
		st->btypes[k] = v->type == DB_TEXT ? OID_TEXT : OID_BYTEA;
		/* a zero-length value must not read as NULL */
		st->vals[k] = v->p != NULL ? v->p : "";
		st->lens[k] = (int)v->len;
		break;
	default:
		st->btypes[k] = 0;
		st->vals[k] = NULL;
		st->lens[k] = 0;
		break;
	}
}

/* Maps a failed result: SQLSTATE classes to what the store can act on. */
static enum db_step
fail(struct pg_db *db, PGresult *res, const char *what)
{
	const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	enum db_step rc = DB_EOTHER;

	set_err(db, what, res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(db->conn));
	if (PQstatus(db->conn) != CONNECTION_OK ||
	    (state != NULL && (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0))) {
		db->broken = 1;
		rc = DB_ECONN;
	} else if (state == NULL) {
		rc = DB_EOTHER;
	} else if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
	    strcmp(state, "55P03") == 0 || strcmp(state, "57014") == 0) {
		rc = DB_EBUSY;	/* serialisation, deadlock, lock or statement timeout */
	} else if (strncmp(state, "23", 2) == 0) {
		rc = DB_ECONSTRAINT;
	} else if (strcmp(state, "53200") == 0) {
		rc = DB_ENOMEM;
	}
	db->base.last_retryable = state != NULL && (strcmp(state, "40001") == 0 ||
	    strcmp(state, "40P01") == 0);
	return rc;
}

/* Prepares st on this connection when it is not (or its types changed). */
static enum db_step
ensure_prepared(struct pg_db *db, struct pg_stmt *st)
{
	PGresult *res;
	int i, same = st->prepared_gen == db->gen;

	for (i = 0; same && i < st->nparams; i++)
		if (st->btypes[i] != 0 && st->btypes[i] != st->types[i])
			same = 0;
	if (same)
		return DB_DONE;
	memcpy(st->types, st->btypes, sizeof(st->types));
	snprintf(st->name, sizeof(st->name), "mg%u", ++db->next_name);
	res = PQprepare(db->conn, st->name, st->pgsql, st->nparams, st->types);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		enum db_step rc = fail(db, res, "prepare");
		log_error("store: %s", db->err);
		PQclear(res);
		return rc;
	}
	PQclear(res);
	st->prepared_gen = db->gen;
	return DB_DONE;
}

static enum db_step
pg_step(struct db_stmt *s)
{
	struct pg_stmt *st = ST(s);
	struct pg_db *db = PG(s->db);
	enum db_step rc;
	ExecStatusType status;

	if (st->ran) {
		if (st->res == NULL || ++st->row >= st->nrows)
			return DB_DONE;
		return DB_ROW;
	}
	clear_result(st);
	if (ensure_conn(db) != 0)
		return DB_ECONN;
	if (db->base.prepared) {
		rc = ensure_prepared(db, st);
		if (rc != DB_DONE)
			return rc;
		st->res = PQexecPrepared(db->conn, st->name, st->nparams, st->vals, st->lens,
		    st->fmts, 0);
	} else {
		st->res = PQexecParams(db->conn, st->pgsql, st->nparams, st->btypes, st->vals,
		    st->lens, st->fmts, 0);
	}
	st->ran = 1;
	status = PQresultStatus(st->res);
	if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
		rc = fail(db, st->res, "");
		if (rc != DB_ECONSTRAINT)
			log_error("store: %s", db->err);
		PQclear(st->res);
		st->res = NULL;
		return rc;
	}
	db->changes = strtol(PQcmdTuples(st->res), NULL, 10);
	st->nrows = PQntuples(st->res);
	st->row = 0;
	return st->nrows > 0 ? DB_ROW : DB_DONE;
}

static int
valid(struct pg_stmt *st, int i)
{
	return st->res != NULL && st->row < st->nrows && i >= 0 && i < PQnfields(st->res);
}

static enum db_type
pg_column_type(struct db_stmt *s, int i)
{
	struct pg_stmt *st = ST(s);
	const char *v;

	if (!valid(st, i) || PQgetisnull(st->res, st->row, i))
		return DB_NULL;
	switch (PQftype(st->res, i)) {
	case OID_BOOL:
	case OID_INT2:
	case OID_INT4:
	case OID_INT8:
		return DB_INTEGER;
	case OID_NUMERIC:
		v = PQgetvalue(st->res, st->row, i);
		return strpbrk(v, ".eEN") == NULL ? DB_INTEGER : DB_FLOAT;
	case OID_FLOAT4:
	case OID_FLOAT8:
		return DB_FLOAT;
	case OID_BYTEA:
		return DB_BLOB;
	default:
		return DB_TEXT;
	}
}

static int64_t
pg_column_int64(struct db_stmt *s, int i)
{
	struct pg_stmt *st = ST(s);
	const char *v;

	if (!valid(st, i) || PQgetisnull(st->res, st->row, i))
		return 0;
	v = PQgetvalue(st->res, st->row, i);
	if (*v == 't')
		return 1;
	if (strpbrk(v, ".eE") != NULL)
		return (int64_t)strtod(v, NULL);
	return (int64_t)strtoll(v, NULL, 10);
}

static double
pg_column_double(struct db_stmt *s, int i)
{
	struct pg_stmt *st = ST(s);

	if (!valid(st, i) || PQgetisnull(st->res, st->row, i))
		return 0;
	return strtod(PQgetvalue(st->res, st->row, i), NULL);
}

static const char *
pg_column_text(struct db_stmt *s, int i)
{
	struct pg_stmt *st = ST(s);

	if (!valid(st, i) || PQgetisnull(st->res, st->row, i))
		return NULL;
	return PQgetvalue(st->res, st->row, i);
}

/*
 * The bytes of a bytea column, decoded from its hex text once per row:
 * the length and the bytes of one row are asked for in either order (the
 * arguments of one call), and a decode kept from the row before must not
 * answer for this one.
 */
static const unsigned char *
blob(struct pg_stmt *st, int i, size_t *len)
{
	*len = 0;
	if (!valid(st, i) || PQgetisnull(st->res, st->row, i))
		return NULL;
	if (PQftype(st->res, i) != OID_BYTEA || i >= PG_MAXC) {
		*len = (size_t)PQgetlength(st->res, st->row, i);
		return (const unsigned char *)PQgetvalue(st->res, st->row, i);
	}
	if (st->dec[i] == NULL || st->decrow[i] != st->row) {
		if (st->dec[i] != NULL)
			PQfreemem(st->dec[i]);
		st->dec[i] = PQunescapeBytea((const unsigned char *)PQgetvalue(st->res, st->row, i),
		    &st->declen[i]);
		st->decrow[i] = st->row;
	}
	*len = st->dec[i] != NULL ? st->declen[i] : 0;
	return st->dec[i];
}

static const void *
pg_column_blob(struct db_stmt *s, int i)
{
	size_t len;

	return blob(ST(s), i, &len);
}

static size_t
pg_column_bytes(struct db_stmt *s, int i)
{
	struct pg_stmt *st = ST(s);
	size_t len;

	blob(st, i, &len);
	return len;
}

static long
pg_changes(struct db *d)
{
	return PG(d)->changes;
}

static enum db_step
pg_exec(struct db *d, const char *sql)
{
	struct pg_db *db = PG(d);
	PGresult *res;
	enum db_step rc = DB_DONE;
	int commit = strcmp(sql, "COMMIT") == 0, rollback = strcmp(sql, "ROLLBACK") == 0;

	if (!db->in_tx && ensure_conn(db) != 0)
		return DB_ECONN;
	if (db->in_tx && db->broken) {
		if (commit || rollback)
			db->in_tx = 0;
		return DB_ECONN;
	}
	res = PQexec(db->conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = fail(db, res, "");
		if (!rollback)
			log_error("store: %s", db->err);
	} else if (commit && strcmp(PQcmdStatus(res), "ROLLBACK") == 0) {
		/* COMMIT of a transaction an earlier error aborted */
		set_err(db, "", "the transaction was rolled back");
		rc = DB_EOTHER;
	}
	PQclear(res);
	if (commit || rollback)
		db->in_tx = 0;
	return rc;
}

static enum db_step
pg_begin(struct db *d, int write)
{
	struct pg_db *db = PG(d);
	enum db_step rc;

	(void)write;	/* read committed; writes that depend on a read lock their rows */
	if (db->in_tx) {
		set_err(db, "", "transaction already open");
		return DB_EOTHER;
	}
	rc = pg_exec(d, "BEGIN");
	if (rc == DB_DONE)
		db->in_tx = 1;
	return rc;
}

static void
pg_rollback(struct db *d)
{
	if (PG(d)->in_tx)
		pg_exec(d, "ROLLBACK");
}

static int
pg_in_transaction(struct db *d)
{
	return PG(d)->in_tx;
}

static const char *
pg_errmsg(struct db *d)
{
	return PG(d)->err;
}

static void *
pg_handle(struct db *d)
{
	return PG(d)->conn;
}

static int
pg_connected(struct db *d)
{
	return !PG(d)->broken && PQstatus(PG(d)->conn) == CONNECTION_OK;
}

void
db_pg_describe(const char *conninfo, char *out, size_t outlen)
{
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL), *o;
	const char *user = NULL, *host = NULL, *hostaddr = NULL, *port = NULL, *dbname = NULL;
	const char *sslmode = NULL;

	if (opts == NULL) {
		snprintf(out, outlen, "PostgreSQL (unparsable connection string)");
		return;
	}
	for (o = opts; o->keyword != NULL; o++) {
		if (o->val == NULL || *o->val == '\0')
			continue;
		if (strcmp(o->keyword, "user") == 0)
			user = o->val;
		else if (strcmp(o->keyword, "host") == 0)
			host = o->val;
		else if (strcmp(o->keyword, "hostaddr") == 0)
			hostaddr = o->val;
		else if (strcmp(o->keyword, "port") == 0)
			port = o->val;
		else if (strcmp(o->keyword, "dbname") == 0)
			dbname = o->val;
		else if (strcmp(o->keyword, "sslmode") == 0)
			sslmode = o->val;
	}
	snprintf(out, outlen, "PostgreSQL %s%s%s%s%s/%s%s%s", user != NULL ? user : "",
	    user != NULL ? "@" : "", host != NULL ? host : hostaddr != NULL ? hostaddr : "localhost",
	    port != NULL ? ":" : "", port != NULL ? port : "", dbname != NULL ? dbname : "",
	    sslmode != NULL ? " sslmode=" : "", sslmode != NULL ? sslmode : "");
	PQconninfoFree(opts);
}

static const struct db_ops pg_ops = {
	.close = pg_close,
	.prepare = pg_prepare,
	.done = pg_done,
	.reset = pg_reset,
	.bind = pg_bind,
	.step = pg_step,
	.column_type = pg_column_type,
	.column_int64 = pg_column_int64,
	.column_double = pg_column_double,
	.column_text = pg_column_text,
	.column_blob = pg_column_blob,
	.column_bytes = pg_column_bytes,
	.changes = pg_changes,
	.exec = pg_exec,
	.begin = pg_begin,
	.rollback = pg_rollback,
	.in_transaction = pg_in_transaction,
	.errmsg = pg_errmsg,
	.handle = pg_handle,
	.connected = pg_connected,
};
