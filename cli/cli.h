/*
 * cli.h - subcommands of bin/maskgate. Each takes the arguments after the
 * program name (argv[0] is the subcommand) and returns the exit status.
 */
#ifndef MG_CLI_H
#define MG_CLI_H

/* 1 when argv[1..] holds --help or -h. */
int cli_wants_help(int argc, char **argv);

int cli_keygen(int argc, char **argv);
int cli_doctor(int argc, char **argv);
/* mask and unmask: argv[0] says which */
int cli_mask(int argc, char **argv);
int cli_stats(int argc, char **argv);
int cli_purge(int argc, char **argv);
int cli_rules(int argc, char **argv);
/* cmd_keys.c: virtual keys and master-key rotation */
int cli_key(int argc, char **argv);
int cli_master(int argc, char **argv);
/* cmd_migrate.c: copy a store to another database */
int cli_migrate(int argc, char **argv);

#endif
