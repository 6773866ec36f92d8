/*
 * main.c - bin/maskgate, the admin command line.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

struct cli_cmd {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help;
};

static const struct cli_cmd cli_cmds[] = {
	{ "keygen", cli_keygen, "print a new master key (--data: a data key)" },
	{ "doctor", cli_doctor, "check the configuration and print findings" },
	{ "mask", cli_mask, "mask stdin to stdout [--tenant T]" },
	{ "unmask", cli_mask, "restore placeholders from stdin [--tenant T]" },
	{ "stats", cli_stats, "mapping counts per tenant and type (never values)" },
	{ "purge", cli_purge, "delete expired mappings" },
	{ "rules", cli_rules, "rules check FILE: validate a rules file" },
	{ "key", cli_key, "virtual keys: create|list|info|update|block|unblock|delete|regenerate" },
	{ "master", cli_master, "master rotate: new master key, old one valid for a grace period" },
	{ "migrate", cli_migrate, "migrate --from DB --to DB: copy the store to another database" },
};

int
cli_wants_help(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return 1;
	return 0;
}

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: maskgate COMMAND [ARGS]   (COMMAND --help for details)\n\n");
	for (i = 0; i < sizeof(cli_cmds) / sizeof(cli_cmds[0]); i++)
		fprintf(f, "  %-8s %s\n", cli_cmds[i].name, cli_cmds[i].help);
	fprintf(f, "\nConfiguration: MASKGATE_* variables, NAME_FILE, MASKGATE_CONFIG (README.md).\n");
}

int
main(int argc, char **argv)
{
	size_t i;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	for (i = 0; i < sizeof(cli_cmds) / sizeof(cli_cmds[0]); i++)
		if (strcmp(argv[1], cli_cmds[i].name) == 0)
			return cli_cmds[i].run(argc - 1, argv + 1);
	fprintf(stderr, "maskgate: unknown command %s (try --help)\n", argv[1]);
	return 2;
}
