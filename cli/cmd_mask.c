/*
 * cmd_mask.c - bin/maskgate mask | unmask | stats | purge | rules: the
 * masking engine and its store from the command line, with the same rules,
 * data key and database as the server.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "cfg.h"
#include "cli.h"
#include "log.h"
#include "mask.h"
#include "rules.h"
#include "store.h"
#include "store_map.h"

/* the tenant the master key maps to on the server */
#define CLI_DEFAULT_TENANT "master"
#define CLI_MAX_INPUT (256u * 1024 * 1024)

struct engine {
	struct cfg cfg;
	struct store *store;
	struct rules *rules;
	int have_cfg;
};

static void
engine_close(struct engine *e)
{
	rules_free(e->rules);
	store_close(e->store);
	if (e->have_cfg)
		cfg_free(&e->cfg);
	memset(e, 0, sizeof(*e));
}

/* Config, store and (if want_rules) rules; prints one line on failure. */
static int
engine_open(const char *cmd, struct engine *e, int want_rules)
{
	char err[512];

	memset(e, 0, sizeof(*e));
	if (cfg_load(&e->cfg, CFG_NEED_DATA_KEY, err, sizeof(err)) != MG_OK) {
		fprintf(stderr, "maskgate %s: %s\n", cmd, err);
		return -1;
	}
	e->have_cfg = 1;
	log_set_level(LOG_WARN);
	if (store_open(&e->cfg, &e->store, err, sizeof(err)) != MG_OK) {
		fprintf(stderr, "maskgate %s: %s\n", cmd, err);
		engine_close(e);
		return -1;
	}
	if (want_rules && rules_load_packs(e->cfg.rule_packs, e->cfg.rules_path, &e->rules, err,
	    sizeof(err)) != MG_OK) {
		fprintf(stderr, "maskgate %s: rules: %s\n", cmd, err);
		engine_close(e);
		return -1;
	}
	return 0;
}

/* Reads all of stdin into b. */
static int
read_stdin(struct buf *b)
{
	char chunk[65536];
	size_t n;

	for (;;) {
		n = fread(chunk, 1, sizeof(chunk), stdin);
		if (n == 0)
			break;
		if (b->len + n > CLI_MAX_INPUT || buf_append(b, chunk, n) != MG_OK)
			return -1;
	}
	return ferror(stdin) ? -1 : 0;
}

int
cli_mask(int argc, char **argv)
{
	const char *cmd = argv[0], *tenant = CLI_DEFAULT_TENANT;
	int unmask = strcmp(cmd, "unmask") == 0, json = 0, i, status = 1;
	struct engine e;
	struct arena a;
	struct buf in, out;
	struct mask_session *m;
	enum mg_err rc;

	if (cli_wants_help(argc, argv)) {
		printf("usage: maskgate %s [--tenant T]%s < in > out\n\n", cmd, unmask ? " [--json]" : "");
		printf("%s stdin to stdout with the server's rules, data key and database\n"
		    "(MASKGATE_DB, MASKGATE_DATA_KEY, MASKGATE_RULES).\n\n"
		    "  --tenant T  the tenant whose mapping to use (default \"%s\", the\n"
		    "              tenant of the master key; virtual keys use their own)\n",
		    unmask ? "Restores placeholders in" : "Masks identifiers in", CLI_DEFAULT_TENANT);
		if (unmask)
			printf("  --json      the input is the inside of a JSON string: escape values\n");
		return 0;
	}
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--tenant") == 0 && i + 1 < argc && argv[i + 1][0] != '\0') {
			tenant = argv[++i];
		} else if (strncmp(argv[i], "--tenant=", 9) == 0 && argv[i][9] != '\0') {
			tenant = argv[i] + 9;
		} else if (unmask && strcmp(argv[i], "--json") == 0) {
			json = 1;
		} else {
			fprintf(stderr, "maskgate %s: unexpected argument '%s' (try --help)\n", cmd, argv[i]);
			return 2;
		}
	}
	if (engine_open(cmd, &e, 1) != 0)
		return 1;
	arena_init(&a);
	buf_init(&in, &a);
	buf_init(&out, &a);
	if (read_stdin(&in) != 0) {
		fprintf(stderr, "maskgate %s: cannot read stdin (error or over %u bytes)\n", cmd,
		    CLI_MAX_INPUT);
		goto out;
	}
	m = mask_session_new(&a, e.rules, e.store, tenant);
	if (m == NULL) {
		fprintf(stderr, "maskgate %s: out of memory\n", cmd);
		goto out;
	}
	rc = unmask ? mask_unmask(m, in.data, in.len, json, &out) : mask_text(m, in.data, in.len, &out);
	if (rc == MG_EBLOCKED) {
		fprintf(stderr, "maskgate %s: refused: the input contains a %s, which a block rule "
		    "forbids sending\n", cmd, mask_blocked_type(m));
		status = 3;
		goto out;
	}
	if (rc != MG_OK) {
		fprintf(stderr, "maskgate %s: failed (%s); nothing was written\n", cmd, mg_strerror(rc));
		goto out;
	}
	if (out.len > 0 && fwrite(out.data, 1, out.len, stdout) != out.len) {
		fprintf(stderr, "maskgate %s: write error: %s\n", cmd, strerror(errno));
		goto out;
	}
	if (fflush(stdout) != 0) {
		fprintf(stderr, "maskgate %s: write error: %s\n", cmd, strerror(errno));
		goto out;
	}
	status = 0;
out:
	arena_free(&a);
	engine_close(&e);
	return status;
}

static void
print_stat(void *arg, const struct store_map_stat *st)
{
	int *rows = arg;

	if ((*rows)++ == 0)
		printf("%-24s %-20s %10s %10s %10s\n", "TENANT", "TYPE", "LIVE", "EXPIRED", "NEXT");
	printf("%-24s %-20s %10ld %10ld %10ld\n", st->tenant, st->type, st->live, st->expired,
	    st->next);
}

int
cli_stats(int argc, char **argv)
{
	struct engine e;
	int rows = 0;
	enum mg_err rc;

	if (cli_wants_help(argc, argv)) {
		printf("usage: maskgate stats\n\nMask mappings per tenant and type: live, expired "
		    "(awaiting purge), next number.\nNever prints a value.\n");
		return 0;
	}
	if (argc > 1) {
		fprintf(stderr, "maskgate stats: unexpected argument '%s' (try --help)\n", argv[1]);
		return 2;
	}
	if (engine_open("stats", &e, 0) != 0)
		return 1;
	rc = store_map_stats(e.store, time(NULL), print_stat, &rows);
	if (rc == MG_OK && rows == 0)
		printf("no mappings yet\n");
	if (rc != MG_OK)
		fprintf(stderr, "maskgate stats: failed (%s)\n", mg_strerror(rc));
	engine_close(&e);
	return rc == MG_OK ? 0 : 1;
}

int
cli_purge(int argc, char **argv)
{
	struct engine e;
	long deleted = 0;
	enum mg_err rc;

	if (cli_wants_help(argc, argv)) {
		printf("usage: maskgate purge\n\nDeletes mappings unused for longer than "
		    "MASKGATE_MAP_TTL (default 7d).\nTheir placeholders stay unresolvable and their "
		    "numbers are never reused.\n");
		return 0;
	}
	if (argc > 1) {
		fprintf(stderr, "maskgate purge: unexpected argument '%s' (try --help)\n", argv[1]);
		return 2;
	}
	if (engine_open("purge", &e, 0) != 0)
		return 1;
	rc = store_map_purge(e.store, time(NULL), &deleted);
	if (rc == MG_OK)
		printf("purged %ld expired mapping%s\n", deleted, deleted == 1 ? "" : "s");
	else
		fprintf(stderr, "maskgate purge: failed (%s)\n", mg_strerror(rc));
	engine_close(&e);
	return rc == MG_OK ? 0 : 1;
}

static int
rules_list(void)
{
	char err[512];
	struct rules *r;
	char *admin, *packs;
	int failed = 0;
	size_t i;

	log_set_level(LOG_WARN);
	admin = cfg_lookup("MASKGATE_RULES", err, sizeof(err), &failed);
	packs = failed ? NULL : cfg_lookup("MASKGATE_RULE_PACKS", err, sizeof(err), &failed);
	if (failed) {
		fprintf(stderr, "maskgate rules: %s\n", err);
		free(admin);
		return 1;
	}
	if (rules_load_packs(packs, admin, &r, err, sizeof(err)) != MG_OK) {
		fprintf(stderr, "maskgate rules: %s\n", err);
		free(admin);
		free(packs);
		return 1;
	}
	free(admin);
	free(packs);
	printf("%-30s %-12s %-22s %-6s %-10s %s\n", "RULE", "PACK", "TYPE", "ACTION", "RESTORE",
	    "CREDENTIAL");
	for (i = 0; i < rules_slots(r); i++) {
		static const char *const act[] = { "mask", "block", "allow" };
		const char *t = rules_type(r, (unsigned)i);
		char pack[48];
		snprintf(pack, sizeof(pack), "%s%s", rules_pack_name(r, (unsigned)i),
		    !rules_pack_on(r, (unsigned)i) ? "(off)" :
		    !rules_enabled(r, (unsigned)i) ? "(rule-off)" : "");
		printf("%-30s %-12s %-22s %-6s %-10s %s\n", rules_name(r, (unsigned)i), pack,
		    t != NULL ? t : "-", act[rules_action(r, (unsigned)i)],
		    rules_restore_name(rules_restore(r, (unsigned)i)),
		    rules_credential(r, (unsigned)i) ? "yes" : "no");
	}
	printf("%zu rules in effect, %s\n", rules_count(r), rules_jit(r) ? "JIT" : "interpreter");
	rules_free(r);
	return 0;
}

int
cli_rules(int argc, char **argv)
{
	if (argc < 2 || cli_wants_help(argc, argv)) {
		FILE *f = argc < 2 ? stderr : stdout;
		fprintf(f, "usage: maskgate rules check FILE   validate an admin rules file\n"
		    "       maskgate rules list         every rule with its pack (\"gcp(off)\": the pack\n"
		    "                                   is not in MASKGATE_RULE_PACKS) and policies\n\n"
		    "The format is described at the top of rules/aws.rules.\n");
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "check") == 0) {
		if (argc != 3) {
			fprintf(stderr, "maskgate rules check: want exactly one FILE\n");
			return 2;
		}
		{
			char err[512], *packs;
			int failed = 0, rc;
			log_set_level(LOG_WARN);
			packs = cfg_lookup("MASKGATE_RULE_PACKS", err, sizeof(err), &failed);
			if (failed) {
				fprintf(stderr, "maskgate rules: %s\n", err);
				return 1;
			}
			rc = rules_check_file(argv[2], packs, stdout) == MG_OK ? 0 : 1;
			free(packs);
			return rc;
		}
	}
	if (strcmp(argv[1], "list") == 0 && argc == 2)
		return rules_list();
	fprintf(stderr, "maskgate rules: unknown subcommand '%s' (try --help)\n", argv[1]);
	return 2;
}
