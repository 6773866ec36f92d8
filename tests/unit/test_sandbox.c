/*
 * test_sandbox.c - the bubblewrap command line of a /v1/claude-code run:
 * the namespaces, what is bound, that configuration files and the database
 * directory are hidden even under a bound tree, and the program lookup on
 * the fixed PATH. The e2e tests run the real thing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox.h"
#include "th.h"

/* Index of the first argv[i] == s (and argv[i + 1] == next when given), or -1. */
static int
find(const char **argv, const char *s, const char *next)
{
	int i;

	for (i = 0; argv[i] != NULL; i++)
		if (strcmp(argv[i], s) == 0 &&
		    (next == NULL || (argv[i + 1] != NULL && strcmp(argv[i + 1], next) == 0)))
			return i;
	return -1;
}

static int
find3(const char **argv, const char *a, const char *b, const char *c)
{
	int i;

	for (i = 0; argv[i] != NULL && argv[i + 1] != NULL && argv[i + 2] != NULL; i++)
		if (strcmp(argv[i], a) == 0 && strcmp(argv[i + 1], b) == 0 &&
		    strcmp(argv[i + 2], c) == 0)
			return i;
	return -1;
}

int
main(void)
{
	struct arena a;
	struct cfg c;
	char dir[] = "/tmp/mg-sbx-XXXXXX", outside[] = "/tmp/mg-sbx-out-XXXXXX";
	char *cli_dir, *key, *far_key, *work;
	const char *inner[] = { "/bin/true", "-x", NULL };
	const char **argv;
	const char *why;
	int dash, i;
	FILE *f;

	arena_init(&a);
	memset(&c, 0, sizeof(c));
	MG_ASSERT(mkdtemp(dir) != NULL && mkdtemp(outside) != NULL);
	cli_dir = arena_printf(&a, "%s/cli", dir);
	work = arena_printf(&a, "%s/work", dir);
	key = arena_printf(&a, "%s/master.key", cli_dir);
	far_key = arena_printf(&a, "%s/data.key", outside);
	MG_ASSERT(mkdir(cli_dir, 0700) == 0 && mkdir(work, 0700) == 0);
	f = fopen(key, "w");
	MG_ASSERT(f != NULL && fclose(f) == 0);
	f = fopen(far_key, "w");
	MG_ASSERT(f != NULL && fclose(f) == 0);
	/* a key file under the CLI's directory, one elsewhere, a database under /usr */
	c.files[0] = key;
	c.files[1] = far_key;
	c.nfiles = 2;
	c.db_path = "/usr/share/maskgate-test/maskgate.db";

	argv = sandbox_argv(&c, "/usr/bin/bwrap", work, cli_dir, inner, &a);
	TH_OK(argv != NULL, "argv built");
	TH_STREQ(argv[0], "/usr/bin/bwrap", "bwrap first");
	TH_OK(find(argv, "--unshare-user", NULL) > 0 && find(argv, "--unshare-pid", NULL) > 0,
	    "own user and PID namespaces");
	TH_OK(find(argv, "--unshare-net", NULL) < 0 && find(argv, "--unshare-all", NULL) < 0,
	    "network shared: maskgate on loopback stays reachable");
	TH_OK(find(argv, "--die-with-parent", NULL) > 0, "dies with the bwrap we started");
	TH_OK(find(argv, "--uid", SANDBOX_UID) > 0 && find(argv, "--gid", SANDBOX_UID) > 0,
	    "runs as nobody inside");
	TH_OK(find(argv, "--cap-drop", "ALL") > 0, "no capabilities");
	TH_OK(find3(argv, "--ro-bind", "/usr", "/usr") > 0, "/usr read-only");
	TH_OK(find(argv, "--proc", "/proc") > 0 && find(argv, "--tmpfs", "/tmp") > 0,
	    "own /proc and /tmp");
	TH_OK(find3(argv, "--ro-bind", cli_dir, cli_dir) > find(argv, "--tmpfs", "/tmp"),
	    "CLI directory read-only, after the /tmp tmpfs");
	TH_OK(find3(argv, "--bind", work, work) > find(argv, "--tmpfs", "/tmp") &&
	    find(argv, "--chdir", work) > 0, "working directory read-write and current");
	TH_OK(find3(argv, "--ro-bind", "/dev/null", key) > find3(argv, "--ro-bind", cli_dir, cli_dir),
	    "a key file under the CLI directory is covered by /dev/null");
	TH_OK(find(argv, far_key, NULL) < 0, "a key file outside every bound tree is not named");
	TH_OK(find(argv, "/etc", NULL) < 0 && find(argv, "/", NULL) < 0 &&
	    find(argv, "/var", NULL) < 0 && find(argv, "/home", NULL) < 0,
	    "never the whole of /, /etc, /var or /home");
	TH_OK(find3(argv, "--ro-bind", "/etc/hosts", "/etc/hosts") > 0 ||
	    access("/etc/hosts", F_OK) != 0, "single /etc files");
	dash = find(argv, "--", NULL);
	TH_OK(dash > 0 && strcmp(argv[dash + 1], "/bin/true") == 0 &&
	    strcmp(argv[dash + 2], "-x") == 0 && argv[dash + 3] == NULL, "the command after --");

	/* the database directory under a bound tree gets an empty tmpfs */
	c.db_path = "/usr/share/doc/maskgate.db";
	argv = sandbox_argv(&c, "/usr/bin/bwrap", NULL, NULL, inner, &a);
	TH_OK(argv != NULL && find(argv, "--tmpfs", "/usr/share/doc") > find3(argv, "--ro-bind",
	    "/usr", "/usr"), "a database directory under /usr is covered by a tmpfs");
	TH_OK(find(argv, "--chdir", NULL) < 0, "no working directory when none is given");
	for (i = 0; argv[i] != NULL; i++)
		if (strcmp(argv[i], key) == 0)
			break;
	TH_OK(argv[i] == NULL, "without the CLI directory nothing exposes the key");

	/* programs come from the fixed PATH or an explicit path, never the caller's PATH */
	TH_OK(sandbox_find_program("sh", &a) != NULL, "sh found on the fixed PATH");
	TH_OK(sandbox_find_program("mg-no-such-program", &a) == NULL, "unknown name: NULL");
	TH_OK(sandbox_find_program("/nonexistent/bwrap", &a) == NULL, "missing path: NULL");
	TH_OK(sandbox_find_program(key, &a) == NULL, "a non-executable file: NULL");

	/* no bubblewrap: a reason naming the package, and it sticks */
	c.claude_bwrap = "/nonexistent/bwrap";
	why = sandbox_check(&c, NULL);
	TH_OK(why != NULL && strstr(why, "bubblewrap") != NULL, "missing bwrap refused: %s",
	    why != NULL ? why : "(null)");
	c.claude_bwrap = "bwrap";
	TH_OK(sandbox_check(&c, NULL) != NULL, "the verdict is kept for the process");

	unlink(key);
	unlink(far_key);
	rmdir(cli_dir);
	rmdir(work);
	rmdir(dir);
	rmdir(outside);
	arena_free(&a);
	return th_done();
}
