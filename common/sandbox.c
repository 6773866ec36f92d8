/*
 * sandbox.c - the bubblewrap command line a /v1/claude-code run is started
 * with, and the once-per-process check that it really isolates.
 *
 * Allow-list, not deny-list: the sandbox starts empty and gets only what a
 * CLI needs. The hidden paths (configuration files, the database
 * directory) are a second line for odd layouts where one of them sits
 * under a bound tree, such as a database under /usr/local.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "log.h"
#include "sandbox.h"

#define SANDBOX_MAX_ARGS 160
#define SANDBOX_PROBE_MS 15000

/* Top-level library and binary directories: merged-/usr symlinks or real. */
static const char *const sandbox_system_dirs[] = {
	"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
};

/*
 * The pieces of /etc a CLI needs: name resolution, CA certificates, the
 * dynamic loader cache, Debian's alternatives links. Never the whole
 * directory: /etc/maskgate, /etc/ssl/private and friends stay outside.
 */
static const char *const sandbox_etc[] = {
	"/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/host.conf",
	"/etc/gai.conf", "/etc/ssl/certs", "/etc/ssl/openssl.cnf", "/etc/pki/tls/certs",
	"/etc/ca-certificates", "/etc/localtime", "/etc/ld.so.cache", "/etc/ld.so.conf",
	"/etc/ld.so.conf.d", "/etc/alternatives",
};

/* A tree bound into the sandbox: where it appears, and where it really is. */
struct bound {
	const char *dest;
	const char *real;
};

struct argv_builder {
	const char **v;
	size_t n;
	struct bound roots[MG_NELEM(sandbox_etc) + MG_NELEM(sandbox_system_dirs) + 4];
	size_t nroots;
	int oom;
};

/* What the first sandbox_check() in this process found. */
static int sandbox_state;	/* 0 not checked, 1 ready, -1 refused */
static char sandbox_why[768];
static char sandbox_bwrap[PATH_MAX];

const char *
sandbox_find_program(const char *name, struct arena *a)
{
	const char *dir = SANDBOX_SAFE_PATH;

	if (name == NULL || *name == '\0')
		return NULL;
	if (strchr(name, '/') != NULL)
		return access(name, X_OK) == 0 ? name : NULL;
	while (*dir != '\0') {
		const char *end = strchr(dir, ':');
		size_t len = end != NULL ? (size_t)(end - dir) : strlen(dir);
		const char *path = arena_printf(a, "%.*s/%s", (int)len, dir, name);
		if (path != NULL && access(path, X_OK) == 0)
			return path;
		if (end == NULL)
			break;
		dir = end + 1;
	}
	return NULL;
}

static void
add(struct argv_builder *b, const char *arg)
{
	if (arg == NULL || b->n + 1 >= SANDBOX_MAX_ARGS) {
		b->oom = 1;
		return;
	}
	b->v[b->n++] = arg;
	b->v[b->n] = NULL;
}

static void
add3(struct argv_builder *b, const char *opt, const char *x, const char *y)
{
	add(b, opt);
	add(b, x);
	if (y != NULL)
		add(b, y);
}

/* Remembers that dest (really at its realpath) is visible in the sandbox. */
static void
note_root(struct argv_builder *b, const char *dest, struct arena *a)
{
	char real[PATH_MAX];

	if (realpath(dest, real) == NULL || b->nroots >= MG_NELEM(b->roots))
		return;
	b->roots[b->nroots].dest = dest;
	b->roots[b->nroots].real = arena_strdup(a, real);
	if (b->roots[b->nroots].real == NULL)
		b->oom = 1;
	b->nroots++;
}

/* 1 when path is root or below it. */
static int
path_under(const char *path, const char *root)
{
	size_t n = strlen(root);

	if (strcmp(root, "/") == 0)
		return 1;
	return strncmp(path, root, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/*
 * Hides path inside the sandbox if a bound tree exposes it: an empty tmpfs
 * over a directory, /dev/null over a file. Mounted after the trees, so it
 * lies on top of them.
 */
static void
hide(struct argv_builder *b, const char *path, struct arena *a)
{
	char real[PATH_MAX];
	struct stat st;
	size_t i;

	if (path == NULL || realpath(path, real) == NULL || stat(real, &st) != 0)
		return;
	for (i = 0; i < b->nroots; i++) {
		const char *target;
		if (!path_under(real, b->roots[i].real))
			continue;
		target = arena_printf(a, "%s%s", b->roots[i].dest,
		    real + (strcmp(b->roots[i].real, "/") == 0 ? 0 : strlen(b->roots[i].real)));
		if (S_ISDIR(st.st_mode))
			add3(b, "--tmpfs", target, NULL);
		else
			add3(b, "--ro-bind", "/dev/null", target);
	}
}

/* The directory part of path, as a new arena string. */
static const char *
dir_of(const char *path, struct arena *a)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return ".";
	if (slash == path)
		return "/";
	return arena_strndup(a, path, (size_t)(slash - path));
}

/*
 * sandbox_argv(), with or without --die-with-parent. The probe goes
 * without: bwrap's PID 1 waits on bwrap for its uid map before it can
 * arrange to die with it, so a bwrap killed in those first milliseconds
 * leaves that PID 1 waiting forever, deaf to every signal but SIGKILL.
 * A probe cut short by a dying worker is better left to finish on its own.
 */
static const char **
build_argv(const struct cfg *c, const char *bwrap, const char *workdir, const char *exec_dir,
    const char *const *inner, struct arena *a, int die_with_parent)
{
	struct argv_builder b;
	struct stat st;
	char link[PATH_MAX], run_dir[PATH_MAX];
	size_t i;

	memset(&b, 0, sizeof(b));
	b.v = arena_alloc(a, SANDBOX_MAX_ARGS * sizeof(*b.v));
	if (b.v == NULL)
		return NULL;
	add(&b, bwrap);
	/*
	 * Every namespace but the network one (the run must reach maskgate on
	 * loopback). A user namespace always, also when the worker is root, so
	 * the run holds no capability on the host; inside it the run is nobody.
	 * Its own PID namespace: it cannot see the worker's /proc, and when its
	 * PID 1 dies (with the bwrap we started, --die-with-parent) the kernel
	 * kills everything in it, setsid() or not.
	 */
	add(&b, "--unshare-user");
	add(&b, "--unshare-ipc");
	add(&b, "--unshare-pid");
	add(&b, "--unshare-uts");
	add(&b, "--unshare-cgroup-try");
	add3(&b, "--uid", SANDBOX_UID, NULL);
	add3(&b, "--gid", SANDBOX_UID, NULL);
	if (die_with_parent)
		add(&b, "--die-with-parent");
	add(&b, "--new-session");
	add3(&b, "--cap-drop", "ALL", NULL);
	add3(&b, "--ro-bind", "/usr", "/usr");
	note_root(&b, "/usr", a);
	for (i = 0; i < MG_NELEM(sandbox_system_dirs); i++) {
		const char *d = sandbox_system_dirs[i];
		ssize_t n;
		if (lstat(d, &st) != 0)
			continue;
		if (S_ISLNK(st.st_mode)) {
			n = readlink(d, link, sizeof(link) - 1);
			if (n <= 0)
				continue;
			link[n] = '\0';
			add3(&b, "--symlink", arena_strdup(a, link), d);
		} else if (S_ISDIR(st.st_mode)) {
			add3(&b, "--ro-bind", d, d);
			note_root(&b, d, a);
		}
	}
	for (i = 0; i < MG_NELEM(sandbox_etc); i++) {
		if (stat(sandbox_etc[i], &st) != 0)
			continue;
		add3(&b, "--ro-bind", sandbox_etc[i], sandbox_etc[i]);
		note_root(&b, sandbox_etc[i], a);
	}
	add3(&b, "--proc", "/proc", NULL);
	add3(&b, "--dev", "/dev", NULL);
	add3(&b, "--tmpfs", "/tmp", NULL);
	/* after the /tmp tmpfs, which would cover a CLI kept under /tmp */
	if (exec_dir != NULL && !path_under(exec_dir, "/usr")) {
		add3(&b, "--ro-bind", exec_dir, exec_dir);
		note_root(&b, exec_dir, a);
	}
	if (workdir != NULL) {
		add3(&b, "--bind", workdir, workdir);
		add3(&b, "--chdir", workdir, NULL);
		note_root(&b, workdir, a);
	}
	/* the configuration's files and the database, whatever tree holds them */
	for (i = 0; i < c->nfiles; i++)
		hide(&b, c->files[i], a);
	hide(&b, c->rules_path, a);
	hide(&b, c->models_path, a);
	hide(&b, c->jwt_public_key, a);
	if (c->db_path != NULL)
		hide(&b, dir_of(c->db_path, a), a);
	/* the run-slot lock files: a run must not hold the others' slots */
	hide(&b, cfg_run_dir(c, run_dir, sizeof(run_dir)), a);
	add(&b, "--");
	for (i = 0; inner[i] != NULL; i++)
		add(&b, inner[i]);
	return b.oom ? NULL : b.v;
}

const char **
sandbox_argv(const struct cfg *c, const char *bwrap, const char *workdir,
    const char *exec_dir, const char *const *inner, struct arena *a)
{
	return build_argv(c, bwrap, workdir, exec_dir, inner, a, 1);
}

/*
 * Child side of the probe: stderr to err_fd, nothing else, in a process
 * group of its own (a Ctrl-C or a web server's stop signal for the worker's
 * group would otherwise hit bwrap mid-setup). Never returns.
 */
static void __attribute__((noreturn))
probe_child(const char *bwrap, const char **argv, int err_fd)
{
	static char *const envp[] = { "PATH=" SANDBOX_SAFE_PATH, NULL };
	int devnull;

	setpgid(0, 0);
	devnull = open("/dev/null", O_RDWR);

	if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0 || dup2(err_fd, 2) < 0)
		_exit(127);
	closefrom(3);
	execve(bwrap, (char *const *)argv, envp);
	_exit(127);
}

/*
 * Runs a sandbox whose only job is to fail when it can see the database
 * file, or with PostgreSQL this host's run directory (made here, so that
 * there is something to see). Returns NULL when it succeeded, else a
 * reason in sandbox_why.
 */
static const char *
probe(const struct cfg *c, const char *bwrap, struct arena *a)
{
	char run_dir[PATH_MAX];
	const char *seen = c->db_path;
	const char *inner[] = { "/bin/sh", "-c", "test ! -e \"$1\"", "sh", NULL, NULL };
	const char **argv;
	char err[256];
	size_t elen = 0, i;
	int pipefd[2], status = 0, timed_out = 0;
	double deadline = mg_now_ms() + SANDBOX_PROBE_MS;
	pid_t pid;

	if (seen != NULL && db_backend_of(seen) == DB_PG) {
		seen = cfg_run_dir(c, run_dir, sizeof(run_dir));
		if (seen != NULL && mkdir(seen, 0700) != 0 && errno != EEXIST)
			log_warn("sandbox: cannot create the run directory %s: %s", seen,
			    strerror(errno));
	}
	inner[4] = seen;
	argv = build_argv(c, bwrap, NULL, NULL, inner, a, 0);
	if (argv == NULL || seen == NULL) {
		snprintf(sandbox_why, sizeof(sandbox_why), "out of memory building the sandbox");
		return sandbox_why;
	}
	if (pipe2(pipefd, O_CLOEXEC) != 0) {
		snprintf(sandbox_why, sizeof(sandbox_why), "pipe: %s", strerror(errno));
		return sandbox_why;
	}
	pid = fork();
	if (pid < 0) {
		snprintf(sandbox_why, sizeof(sandbox_why), "fork: %s", strerror(errno));
		close(pipefd[0]);
		close(pipefd[1]);
		return sandbox_why;
	}
	if (pid == 0)
		probe_child(bwrap, argv, pipefd[1]);
	setpgid(pid, pid);	/* also here: no race with kill(-pid) below */
	close(pipefd[1]);
	for (;;) {
		struct pollfd pfd = { pipefd[0], POLLIN, 0 };
		double left = deadline - mg_now_ms();
		ssize_t n;
		if (left <= 0) {
			timed_out = 1;
			break;
		}
		if (poll(&pfd, 1, (int)left + 1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		n = read(pipefd[0], err + elen, sizeof(err) - 1 - elen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		elen += (size_t)n;
		if (elen == sizeof(err) - 1)
			break;
	}
	close(pipefd[0]);
	if (timed_out)
		kill(-pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	/* a PID 1 still waiting for its bwrap (see build_argv) is in the group */
	kill(-pid, SIGKILL);
	err[elen] = '\0';
	for (i = 0; i < elen; i++)
		if ((unsigned char)err[i] < 0x20 || err[i] == 0x7f)
			err[i] = ' ';
	if (!timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return NULL;
	snprintf(sandbox_why, sizeof(sandbox_why), "bubblewrap (%.200s) cannot isolate a run here "
	    "(%s%d%s%s); unprivileged user namespaces must be enabled "
	    "(sysctl user.max_user_namespaces > 0, kernel.unprivileged_userns_clone=1)", bwrap,
	    timed_out ? "timed out, " : WIFEXITED(status) ? "exit status " : "signal ",
	    timed_out ? SANDBOX_PROBE_MS / 1000 : WIFEXITED(status) ? WEXITSTATUS(status) :
	    WIFSIGNALED(status) ? WTERMSIG(status) : -1, elen > 0 ? ": " : "", err);
	return sandbox_why;
}

const char *
sandbox_check(const struct cfg *c, const char **bwrap)
{
	struct arena a;
	const char *path, *why;

	if (sandbox_state == 0) {
		arena_init(&a);
		path = sandbox_find_program(c->claude_bwrap, &a);
		if (path == NULL) {
			snprintf(sandbox_why, sizeof(sandbox_why), "bubblewrap is not installed here "
			    "(MASKGATE_CLAUDE_BWRAP=%.200s is not an executable on %s); install the "
			    "Debian package bubblewrap", c->claude_bwrap, SANDBOX_SAFE_PATH);
			why = sandbox_why;
		} else if (strlen(path) >= sizeof(sandbox_bwrap)) {
			snprintf(sandbox_why, sizeof(sandbox_why), "MASKGATE_CLAUDE_BWRAP is too long");
			why = sandbox_why;
		} else {
			memcpy(sandbox_bwrap, path, strlen(path) + 1);
			why = probe(c, sandbox_bwrap, &a);
		}
		arena_free(&a);
		sandbox_state = why == NULL ? 1 : -1;
	}
	if (sandbox_state < 0)
		return sandbox_why;
	if (bwrap != NULL)
		*bwrap = sandbox_bwrap;
	return NULL;
}
