/*
 * cmd_migrate.c - bin/maskgate migrate: copies a whole store from one
 * database to another (SQLite file or PostgreSQL), for moving a host from
 * SQLite to PostgreSQL or back. The configuration (MASKGATE_DATA_KEY in
 * particular) is the running one; only the database differs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "cli.h"
#include "db.h"
#include "log.h"
#include "store.h"
#include "store_copy.h"

static void
print_table(void *arg, const char *table, long rows)
{
	long *total = arg;

	*total += rows;
	printf("  %-20s %10ld rows\n", table, rows);
}

/* Opens target as the store; prints one line on failure. */
static int
open_one(struct cfg *c, const char *target, const char *what, struct store **s)
{
	char err[512], where[512];
	char *saved = c->db_path;
	enum mg_err rc;

	c->db_path = (char *)target;
	rc = store_open(c, s, err, sizeof(err));
	c->db_path = saved;
	if (rc != MG_OK) {
		db_describe(target, where, sizeof(where));
		fprintf(stderr, "maskgate migrate: %s (%s): %s\n", what, where, err);
		return -1;
	}
	return 0;
}

int
cli_migrate(int argc, char **argv)
{
	const char *from = NULL, *to = NULL;
	struct store *src = NULL, *dst = NULL;
	char err[512], a[512], b[512];
	struct cfg c;
	long total = 0;
	int i, status = 1;

	if (cli_wants_help(argc, argv)) {
		printf("usage: maskgate migrate --from PATH_OR_URL --to PATH_OR_URL\n\n"
		    "Copies every mapping, key, limit, spend and audit row from one store to\n"
		    "another, new and empty one: a SQLite path or a postgresql:// URL (or libpq\n"
		    "key=value string) on either side. Sealed values are copied as they are, so\n"
		    "the destination needs the same MASKGATE_DATA_KEY. Stop maskgate first.\n");
		return 0;
	}
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--from") == 0 && i + 1 < argc) {
			from = argv[++i];
		} else if (strcmp(argv[i], "--to") == 0 && i + 1 < argc) {
			to = argv[++i];
		} else {
			fprintf(stderr, "maskgate migrate: unexpected argument '%s' (try --help)\n",
			    argv[i]);
			return 2;
		}
	}
	if (from == NULL || to == NULL) {
		fprintf(stderr, "maskgate migrate: give --from and --to (try --help)\n");
		return 2;
	}
	if (strcmp(from, to) == 0) {
		fprintf(stderr, "maskgate migrate: --from and --to name the same database\n");
		return 2;
	}
	if (cfg_load(&c, 0, err, sizeof(err)) != MG_OK) {
		fprintf(stderr, "maskgate migrate: %s\n", err);
		return 1;
	}
	log_set_level(LOG_WARN);
	if (open_one(&c, from, "--from", &src) != 0 || open_one(&c, to, "--to", &dst) != 0)
		goto out;
	db_describe(from, a, sizeof(a));
	db_describe(to, b, sizeof(b));
	printf("copying %s\n     to %s\n", a, b);
	if (store_copy(src, dst, print_table, &total, err, sizeof(err)) != MG_OK) {
		fprintf(stderr, "maskgate migrate: %s; the destination is unchanged\n", err);
		goto out;
	}
	printf("done: %ld rows\n", total);
	status = 0;
out:
	store_close(src);
	store_close(dst);
	cfg_free(&c);
	return status;
}
