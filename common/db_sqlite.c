/*
 * db_sqlite.c - the db.h statement API on SQLite: WAL, busy_timeout, BEGIN
 * IMMEDIATE for writes, statements prepared once per connection and kept
 * in a small table keyed by their text (parsing was a fifth of a worker's
 * time when every call prepared anew).
 */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "db_int.h"
#include "log.h"

struct sq_stmt {
	struct db_stmt base;
	sqlite3_stmt *st;
	char *sql;		/* the key, NULL for an uncached statement */
	uint64_t hash;
	int in_use;
	struct sq_stmt *next;	/* hash chain */
};

struct sq_db {
	struct db base;
	sqlite3 *h;
	long busy_ms;		/* MASKGATE_BUSY_TIMEOUT_MS */
	struct timespec busy_since;
	struct sq_stmt *cache[DB_CACHE_BUCKETS];
};

#define SQ(db) ((struct sq_db *)(db))
#define ST(st) ((struct sq_stmt *)(st))

static const struct db_ops sq_ops;

static enum db_step
map_rc(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
		return DB_DONE;
	case SQLITE_ROW:
		return DB_ROW;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return DB_EBUSY;
	case SQLITE_CONSTRAINT:
		return DB_ECONSTRAINT;
	case SQLITE_NOMEM:
		return DB_ENOMEM;
	default:
		return DB_EOTHER;
	}
}

/* Creates the parent directory 0700 when missing; leaves existing ones. */
static int
ensure_dir(const char *path, char *err, size_t errlen)
{
	char dir[4096];
	char *slash;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir)) {
		snprintf(err, errlen, "MASKGATE_DB: path too long");
		return -1;
	}
	slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "MASKGATE_DB: cannot create directory %s: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Waits for a lock another worker holds: SQLite's own busy_timeout sleeps
 * 1 ms at first and more each time, for a write transaction that holds
 * the lock a tenth of that; these sleeps start at 50 us and stop at 1.6 ms,
 * for at most busy_ms in all.
 */
static int
sq_busy(void *arg, int count)
{
	struct sq_db *db = arg;
	struct timespec now, nap = { 0, 0 };
	long waited;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (count == 0)
		db->busy_since = now;
	waited = (now.tv_sec - db->busy_since.tv_sec) * 1000 +
	    (now.tv_nsec - db->busy_since.tv_nsec) / 1000000;
	if (waited >= db->busy_ms)
		return 0;
	nap.tv_nsec = (50L << (count < 5 ? count : 5)) * 1000;
	nanosleep(&nap, NULL);
	return 1;
}

enum mg_err
db_sqlite_open(const char *path, long busy_ms, struct db **out, char *err, size_t errlen)
{
	struct sq_db *db;
	mode_t old;
	int fd;

	*out = NULL;
	if (ensure_dir(path, err, errlen) != 0)
		return MG_ESTORE;
	/* create the file ourselves so it is 0600 whatever the umask */
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "MASKGATE_DB: cannot open %s: %s", path, strerror(errno));
		return MG_ESTORE;
	}
	close(fd);
	db = calloc(1, sizeof(*db));
	if (db == NULL)
		return MG_ENOMEM;
	db->base.ops = &sq_ops;
	db->base.backend = DB_SQLITE;
	old = umask(077);	/* -wal and -shm files too */
	if (sqlite3_open_v2(path, &db->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		umask(old);
		snprintf(err, errlen, "MASKGATE_DB: cannot open %s: %s", path,
		    db->h != NULL ? sqlite3_errmsg(db->h) : "out of memory");
		db_close(&db->base);
		return MG_ESTORE;
	}
	umask(old);
	db->busy_ms = busy_ms;
	sqlite3_busy_handler(db->h, sq_busy, db);
	if (sqlite3_exec(db->h, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
	    "PRAGMA foreign_keys=ON;", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "MASKGATE_DB: %s is not a usable SQLite database: %s",
		    path, sqlite3_errmsg(db->h));
		db_close(&db->base);
		return MG_ESTORE;
	}
	*out = &db->base;
	return MG_OK;
}

static void
stmt_free(struct sq_stmt *st)
{
	sqlite3_finalize(st->st);
	free(st->sql);
	free(st);
}

static void
sq_close(struct db *d)
{
	struct sq_db *db = SQ(d);
	size_t i;

	for (i = 0; i < DB_CACHE_BUCKETS; i++) {
		struct sq_stmt *st = db->cache[i], *next;
		for (; st != NULL; st = next) {
			next = st->next;
			stmt_free(st);
		}
	}
	sqlite3_close_v2(db->h);
	free(db);
}

static struct db_stmt *
sq_prepare(struct db *d, const char *sql)
{
	struct sq_db *db = SQ(d);
	uint64_t h = db_sql_hash(sql);
	struct sq_stmt **bucket = &db->cache[h % DB_CACHE_BUCKETS];
	struct sq_stmt *st;
	int cache = 1;

	for (st = *bucket; st != NULL; st = st->next) {
		if (st->hash != h || strcmp(st->sql, sql) != 0)
			continue;
		if (!st->in_use) {
			st->in_use = 1;
			return &st->base;
		}
		cache = 0;	/* in use: a second one, freed by db_done */
		break;
	}
	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return NULL;
	st->base.db = d;
	st->hash = h;
	if (sqlite3_prepare_v3(db->h, sql, -1, cache ? SQLITE_PREPARE_PERSISTENT : 0, &st->st,
	    NULL) != SQLITE_OK) {
		log_error("store: prepare failed: %s", sqlite3_errmsg(db->h));
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
sq_reset(struct db_stmt *s)
{
	sqlite3_reset(ST(s)->st);
	sqlite3_clear_bindings(ST(s)->st);
}

static void
sq_done(struct db_stmt *s)
{
	struct sq_stmt *st = ST(s);

	if (st->sql == NULL) {
		stmt_free(st);
		return;
	}
	sq_reset(s);
	st->in_use = 0;
}

static void
sq_bind(struct db_stmt *s, int i, const struct db_value *v)
{
	sqlite3_stmt *st = ST(s)->st;

	switch (v->type) {
	case DB_INTEGER:
		sqlite3_bind_int64(st, i, (sqlite3_int64)v->i);
		break;
	case DB_FLOAT:
		sqlite3_bind_double(st, i, v->d);
		break;
	case DB_TEXT:
		sqlite3_bind_text(st, i, v->p, (int)v->len, SQLITE_STATIC);
		break;
	case DB_BLOB:
		sqlite3_bind_blob(st, i, v->p, (int)v->len, SQLITE_STATIC);
		break;
	default:
		sqlite3_bind_null(st, i);
		break;
	}
}

static enum db_step
sq_step(struct db_stmt *s)
{
	return map_rc(sqlite3_step(ST(s)->st));
}

static enum db_type
sq_column_type(struct db_stmt *s, int i)
{
	switch (sqlite3_column_type(ST(s)->st, i)) {
	case SQLITE_INTEGER:
		return DB_INTEGER;
	case SQLITE_FLOAT:
		return DB_FLOAT;
	case SQLITE_TEXT:
		return DB_TEXT;
	case SQLITE_BLOB:
		return DB_BLOB;
	default:
		return DB_NULL;
	}
}

static int64_t
sq_column_int64(struct db_stmt *s, int i)
{
	return (int64_t)sqlite3_column_int64(ST(s)->st, i);
}

static double
sq_column_double(struct db_stmt *s, int i)
{
	return sqlite3_column_double(ST(s)->st, i);
}

static const char *
sq_column_text(struct db_stmt *s, int i)
{
	return (const char *)sqlite3_column_text(ST(s)->st, i);
}

static const void *
sq_column_blob(struct db_stmt *s, int i)
{
	return sqlite3_column_blob(ST(s)->st, i);
}

static size_t
sq_column_bytes(struct db_stmt *s, int i)
{
	return (size_t)sqlite3_column_bytes(ST(s)->st, i);
}

static long
sq_changes(struct db *d)
{
	return (long)sqlite3_changes(SQ(d)->h);
}

static enum db_step
sq_exec(struct db *d, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(SQ(d)->h, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		log_error("store: %s", msg != NULL ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
	}
	return map_rc(rc);
}

/* A statement of the cache run once: BEGIN and COMMIT, parsed once per connection. */
static enum db_step
sq_run(struct db *d, const char *sql)
{
	struct db_stmt *st = sq_prepare(d, sql);
	enum db_step step;

	if (st == NULL)
		return DB_EOTHER;
	step = map_rc(sqlite3_step(ST(st)->st));
	if (step != DB_DONE)
		log_error("store: %s: %s", sql, sqlite3_errmsg(SQ(d)->h));
	sq_done(st);
	return step;
}

static enum db_step
sq_begin(struct db *d, int write)
{
	return sq_run(d, write ? "BEGIN IMMEDIATE" : "BEGIN");
}

static enum db_step
sq_commit(struct db *d)
{
	return sq_run(d, "COMMIT");
}

static void
sq_rollback(struct db *d)
{
	if (!sqlite3_get_autocommit(SQ(d)->h))
		sqlite3_exec(SQ(d)->h, "ROLLBACK", NULL, NULL, NULL);
}

static int
sq_in_transaction(struct db *d)
{
	return !sqlite3_get_autocommit(SQ(d)->h);
}

static const char *
sq_errmsg(struct db *d)
{
	return sqlite3_errmsg(SQ(d)->h);
}

static void *
sq_handle(struct db *d)
{
	return SQ(d)->h;
}

static int
sq_connected(struct db *d)
{
	(void)d;
	return 1;
}

static const struct db_ops sq_ops = {
	.close = sq_close,
	.prepare = sq_prepare,
	.done = sq_done,
	.reset = sq_reset,
	.bind = sq_bind,
	.step = sq_step,
	.column_type = sq_column_type,
	.column_int64 = sq_column_int64,
	.column_double = sq_column_double,
	.column_text = sq_column_text,
	.column_blob = sq_column_blob,
	.column_bytes = sq_column_bytes,
	.changes = sq_changes,
	.exec = sq_exec,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.in_transaction = sq_in_transaction,
	.errmsg = sq_errmsg,
	.handle = sq_handle,
	.connected = sq_connected,
};
