/*
 * store.c - opening the database, migrations, transactions, readiness.
 *
 * Migrations are the numbered files in sql/, embedded at build time, and
 * applied under BEGIN IMMEDIATE with PRAGMA user_version as the marker, so
 * many workers starting together apply each exactly once.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "embed.h"
#include "log.h"
#include "store_int.h"

enum mg_err
store_rc(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return MG_OK;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return MG_EBUSY;
	case SQLITE_NOMEM:
		return MG_ENOMEM;
	default:
		return MG_ESTORE;
	}
}

sqlite3_stmt *
store_prepare(struct store *s, const char *sql)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);

	if (rc != SQLITE_OK) {
		log_error("store: prepare failed: %s", sqlite3_errmsg(s->db));
		return NULL;
	}
	return st;
}

static enum mg_err
exec(struct store *s, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		log_error("store: %s", msg != NULL ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
	}
	return store_rc(rc);
}

enum mg_err
store_begin(struct store *s)
{
	return exec(s, "BEGIN IMMEDIATE");
}

enum mg_err
store_commit(struct store *s)
{
	return exec(s, "COMMIT");
}

void
store_rollback(struct store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

int
store_schema_version(struct store *s)
{
	sqlite3_stmt *st = store_prepare(s, "PRAGMA user_version");
	int v = -1;

	if (st != NULL && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
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

static enum mg_err
migrate(struct store *s, char *err, size_t errlen)
{
	enum mg_err rc;
	size_t i;
	int version;

	rc = store_begin(s);
	if (rc != MG_OK) {
		snprintf(err, errlen, "MASKGATE_DB: cannot lock the database for migration (%s)",
		    mg_strerror(rc));
		return rc;
	}
	version = store_schema_version(s);
	for (i = 0; i < embed_sql_count; i++) {
		int n = (int)(i + 1);
		char pragma[64];
		if (n <= version)
			continue;
		rc = exec(s, embed_sql[i].data);
		if (rc != MG_OK) {
			snprintf(err, errlen, "MASKGATE_DB: migration %s failed: %s",
			    embed_sql[i].name, sqlite3_errmsg(s->db));
			goto out;
		}
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", n);
		rc = exec(s, pragma);
		if (rc != MG_OK)
			goto out;
		log_info("store: applied migration %s", embed_sql[i].name);
	}
	if (version > (int)embed_sql_count) {
		snprintf(err, errlen, "MASKGATE_DB: schema version %d is newer than this "
		    "maskgate (%zu); upgrade maskgate", version, embed_sql_count);
		rc = MG_ESTORE;
		goto out;
	}
	rc = store_commit(s);
out:
	if (rc != MG_OK)
		store_rollback(s);
	return rc;
}

enum mg_err
store_open(const struct cfg *c, struct store **out, char *err, size_t errlen)
{
	struct store *s;
	char pragmas[128];
	enum mg_err rc = MG_ESTORE;
	mode_t old;
	int fd;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return MG_ENOMEM;
	s->map_ttl = c->map_ttl;
	if (c->have_data_key) {
		if (CRYPTO_DERIVE(c->data_key, sizeof(c->data_key), "maskgate lookup key v1",
		    s->hmac_key) != MG_OK ||
		    CRYPTO_DERIVE(c->data_key, sizeof(c->data_key), "maskgate value key v1",
		    s->aead_key) != MG_OK) {
			free(s);
			return MG_ENOMEM;
		}
		s->have_keys = 1;
	}
	if (ensure_dir(c->db_path, err, errlen) != 0)
		goto fail;
	/* create the file ourselves so it is 0600 whatever the umask */
	fd = open(c->db_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "MASKGATE_DB: cannot open %s: %s", c->db_path, strerror(errno));
		goto fail;
	}
	close(fd);
	old = umask(077);	/* -wal and -shm files too */
	if (sqlite3_open_v2(c->db_path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		umask(old);
		snprintf(err, errlen, "MASKGATE_DB: cannot open %s: %s", c->db_path,
		    s->db != NULL ? sqlite3_errmsg(s->db) : "out of memory");
		goto fail;
	}
	umask(old);
	sqlite3_busy_timeout(s->db, (int)c->busy_timeout_ms);
	snprintf(pragmas, sizeof(pragmas),
	    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
	if (exec(s, pragmas) != MG_OK) {
		snprintf(err, errlen, "MASKGATE_DB: %s is not a usable SQLite database: %s",
		    c->db_path, sqlite3_errmsg(s->db));
		goto fail;
	}
	rc = migrate(s, err, errlen);
	if (rc != MG_OK)
		goto fail;
	*out = s;
	return MG_OK;
fail:
	store_close(s);
	return rc == MG_OK ? MG_ESTORE : rc;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	sqlite3_close_v2(s->db);
	explicit_bzero(s, sizeof(*s));
	free(s);
}

enum mg_err
store_check_writable(struct store *s, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	enum mg_err rc;

	rc = store_begin(s);
	if (rc != MG_OK) {
		snprintf(err, errlen, "database not writable: %s", sqlite3_errmsg(s->db));
		return rc;
	}
	st = store_prepare(s, "INSERT OR REPLACE INTO meta(name, value) VALUES('readiness_probe', ?)");
	if (st == NULL) {
		rc = MG_ESTORE;
	} else {
		sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL));
		rc = store_rc(sqlite3_step(st));
		sqlite3_finalize(st);
	}
	if (rc == MG_OK)
		rc = store_commit(s);
	if (rc != MG_OK) {
		snprintf(err, errlen, "database not writable: %s", sqlite3_errmsg(s->db));
		store_rollback(s);
	}
	return rc;
}
