/*
 * h_claude_code.c - POST /v1/claude-code: runs the Claude Code CLI
 * headless on the server, pointed at this maskgate's own /v1/messages
 * with a short-lived credential bound to the caller's tenant, so the model
 * only ever sees placeholders and the caller gets real values back.
 *
 * The CLI's own requests come back in through the web server, so each run
 * occupies one worker here and needs a second free worker for its nested
 * /v1/messages calls (see deploy/README.md). The run:
 *   - lives in a bubblewrap sandbox (sandbox.c) that sees its fresh working
 *     directory and a minimal read-only system, never the keys, the
 *     configuration or the database; without that sandbox there is no run;
 *   - is started with fork/execve and an argv (no shell) that holds no
 *     caller text: the prompt comes on stdin and the system prompt through
 *     an inherited fd, both from memory, so `ps` shows neither;
 *   - has a clean environment whose HOME is that working directory,
 *     removed afterwards;
 *   - gets MASKGATE_CLAUDE_TIMEOUT, then the bwrap we started is killed,
 *     and with it the sandbox's PID namespace: every descendant, also one
 *     that called setsid();
 *   - takes one of MASKGATE_CLAUDE_MAX_RUNS slots (flock on files next to
 *     the database), shared by every worker and every web server process;
 *   - may use only tools on the admin allow-list MASKGATE_CLAUDE_TOOLS.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "ccauth.h"
#include "jwalk.h"
#include "log.h"
#include "exchange.h"
#include "route.h"
#include "sandbox.h"
#include "worker.h"

#define CC_MAX_BODY (1024 * 1024)
#define CC_MAX_OUTPUT (16 * 1024 * 1024)
#define CC_STDERR_TAIL 512
#define CC_MAX_TOOLS 32
/* the fd the system prompt reaches the CLI on, and its name inside the sandbox */
#define CC_SYSTEM_FD 3
#define CC_SYSTEM_PATH "/dev/fd/3"

/* What the caller asked for, validated. */
struct cc_job {
	const char *prompt;
	const char *system_prompt;	/* NULL: the CLI's default */
	const char *model;		/* NULL: the CLI's default */
	const char *tools[CC_MAX_TOOLS];
	size_t ntools;
};

/* What the run produced. */
struct cc_run {
	struct buf out;		/* stdout: the CLI's JSON result */
	char err_tail[CC_STDERR_TAIL + 1];
	size_t err_len;
	int status;		/* from waitpid */
	int timed_out;
	int exec_failed;
};

/* 1 when name is a plain tool name: letters, digits, '_' (MCP tools use "__"). */
static int
tool_name_ok(const char *name)
{
	const char *s;

	if (name == NULL || *name == '\0' || strlen(name) > 128)
		return 0;
	for (s = name; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return 1;
}

/* 1 when tool appears in the comma-separated admin allow-list. */
static int
tool_allowed(const char *allow, const char *tool)
{
	size_t n = strlen(tool);
	const char *s = allow;

	while (s != NULL && *s != '\0') {
		const char *end = strchr(s, ',');
		size_t len = end != NULL ? (size_t)(end - s) : strlen(s);
		while (len > 0 && (*s == ' ' || *s == '\t')) {
			s++;
			len--;
		}
		while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
			len--;
		if (len == n && strncmp(s, tool, n) == 0)
			return 1;
		s = end != NULL ? end + 1 : NULL;
	}
	return 0;
}

/* An optional string member; 0 when present but not a string. */
static int
opt_string(struct json_object *root, const char *key, struct arena *a, const char **out)
{
	struct json_object *v;

	*out = NULL;
	if (!json_object_object_get_ex(root, key, &v) || json_object_is_type(v, json_type_null))
		return 1;
	/* an embedded NUL would cut the argv string short: refuse, do not truncate */
	if (!json_object_is_type(v, json_type_string) ||
	    memchr(json_object_get_string(v), '\0', (size_t)json_object_get_string_len(v)) != NULL)
		return 0;
	*out = arena_strndup(a, json_object_get_string(v), (size_t)json_object_get_string_len(v));
	return *out != NULL;
}

/*
 * Parses and checks the request body into job; on failure answers the
 * request (400 or 403) and returns 0.
 */
static int
parse_job(struct request *req, struct cc_job *job)
{
	const struct cfg *c = req->worker->cfg;
	struct json_object *root = NULL, *tools;
	char err[256];
	enum mg_err rc;
	int ok = 0;
	size_t i, n;

	memset(job, 0, sizeof(*job));
	/* the same strict parser as /v1/messages: no trailing data, comments, NaN */
	rc = jwalk_parse(req->body != NULL ? req->body : "", req->body_len, &root, err, sizeof(err));
	if (rc != MG_OK) {
		if (rc == MG_ENOMEM)
			http_error(req, 500, ET_API, "out of memory parsing the body");
		else
			http_error(req, 400, ET_INVALID_REQUEST, "%s", err);
		goto out;
	}
	if (!opt_string(root, "prompt", req->arena, &job->prompt) || job->prompt == NULL ||
	    job->prompt[0] == '\0') {
		http_error(req, 400, ET_INVALID_REQUEST, "prompt: a non-empty string is required");
		goto out;
	}
	if (!opt_string(root, "system_prompt", req->arena, &job->system_prompt)) {
		http_error(req, 400, ET_INVALID_REQUEST, "system_prompt: must be a string");
		goto out;
	}
	if (!opt_string(root, "model", req->arena, &job->model) ||
	    (job->model != NULL && (job->model[0] == '\0' || job->model[0] == '-'))) {
		http_error(req, 400, ET_INVALID_REQUEST, "model: must be a model name");
		goto out;
	}
	if (json_object_object_get_ex(root, "allowed_tools", &tools) &&
	    !json_object_is_type(tools, json_type_null)) {
		if (!json_object_is_type(tools, json_type_array)) {
			http_error(req, 400, ET_INVALID_REQUEST,
			    "allowed_tools: must be an array of tool names");
			goto out;
		}
		n = json_object_array_length(tools);
		if (n > CC_MAX_TOOLS) {
			http_error(req, 400, ET_INVALID_REQUEST,
			    "allowed_tools: at most %d tools", CC_MAX_TOOLS);
			goto out;
		}
		for (i = 0; i < n; i++) {
			struct json_object *t = json_object_array_get_idx(tools, i);
			const char *name = json_object_is_type(t, json_type_string) ?
			    json_object_get_string(t) : NULL;
			if (!tool_name_ok(name)) {
				http_error(req, 400, ET_INVALID_REQUEST,
				    "allowed_tools[%zu]: must be a tool name such as Read", i);
				goto out;
			}
			/* default none: an admin must name every tool a caller may use */
			if (c->claude_tools == NULL || !tool_allowed(c->claude_tools, name)) {
				http_error(req, 403, ET_PERMISSION,
				    "tool %s is not allowed on this server (MASKGATE_CLAUDE_TOOLS)",
				    name);
				goto out;
			}
			job->tools[job->ntools] = arena_strdup(req->arena, name);
			if (job->tools[job->ntools] == NULL)
				goto out;
			job->ntools++;
		}
	}
	ok = 1;
out:
	jwalk_free(root);
	return ok;
}

/*
 * Takes a free run slot: an exclusive flock on one of N files in this
 * host's run directory (cfg_run_dir), so the limit holds per host, for
 * either store. The lock dies with the process, so a crashed worker never
 * leaks a slot. Returns the locked fd (O_CLOEXEC), -1 when all are busy,
 * -2 when the files cannot be opened (*dir says where).
 */
static int
take_slot(const struct cfg *c, struct arena *a, const char **dir)
{
	char buf[PATH_MAX];
	long i;
	int fd, opened = 0;

	*dir = cfg_run_dir(c, buf, sizeof(buf));
	if (*dir != NULL)
		*dir = arena_strdup(a, *dir);
	if (*dir == NULL)
		return -2;
	/* only the last component: a missing parent is a configuration error */
	if (mkdir(*dir, 0700) != 0 && errno != EEXIST)
		log_warn("claude-code: cannot create the run directory %s: %s", *dir,
		    strerror(errno));
	for (i = 0; i < c->claude_max_runs; i++) {
		const char *path = arena_printf(a, "%s/claude-code.slot.%ld", *dir, i);
		if (path == NULL)
			return -2;
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0)
			continue;
		opened = 1;
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return fd;
		close(fd);
	}
	return opened ? -1 : -2;
}

/*
 * The CLI's real path (symlinks resolved: only its target is bound into
 * the sandbox) from MASKGATE_CLAUDE_BIN as given or searched on the fixed
 * PATH; *dir gets its directory. NULL when there is no such executable.
 */
static const char *
find_cli(const char *bin, struct arena *a, const char **dir)
{
	const char *path = sandbox_find_program(bin, a), *slash;
	char real[PATH_MAX];

	if (path == NULL || realpath(path, real) == NULL)
		return NULL;
	slash = strrchr(real, '/');
	/* a CLI in / would bind the whole file system into the sandbox */
	if (slash == NULL || slash == real)
		return NULL;
	*dir = arena_strndup(a, real, (size_t)(slash - real));
	return *dir != NULL ? arena_strdup(a, real) : NULL;
}

/*
 * maskgate's own base URL for the CLI: MASKGATE_SELF_URL, else the local
 * address and port the web server accepted this request on. SERVER_ADDR,
 * not SERVER_NAME: the latter comes from the client's Host header and
 * would let a caller send the credential to a host of its choosing.
 */
static const char *
self_url(struct request *req)
{
	const char *https = http_param(req, "HTTPS");
	const char *addr = http_param(req, "SERVER_ADDR");
	const char *port = http_param(req, "SERVER_PORT");
	int tls = https != NULL && (strcmp(https, "on") == 0 || strcmp(https, "1") == 0);

	if (req->worker->cfg->self_url != NULL)
		return req->worker->cfg->self_url;
	if (addr == NULL || *addr == '\0')
		addr = "127.0.0.1";
	if (port == NULL || *port == '\0')
		port = tls ? "443" : "80";
	return arena_printf(req->arena, "%s://%s%s%s:%s", tls ? "https" : "http",
	    strchr(addr, ':') != NULL ? "[" : "", addr, strchr(addr, ':') != NULL ? "]" : "", port);
}

/* Comma-joins the tools for --tools/--allowedTools ("" = no tools at all). */
static const char *
tools_arg(const struct cc_job *job, struct arena *a)
{
	struct buf b;
	size_t i;

	buf_init(&b, a);
	if (buf_appends(&b, "") != MG_OK)
		return NULL;
	for (i = 0; i < job->ntools; i++)
		if ((i > 0 && buf_appendc(&b, ',') != MG_OK) || buf_appends(&b, job->tools[i]) != MG_OK)
			return NULL;
	return b.data;
}

/*
 * Child side of fork(): never returns. Only async-signal-safe calls. The
 * prompt is stdin; the system prompt (sys_fd, -1 for none) is fd 3.
 */
static void __attribute__((noreturn))
child_exec(const char *path, char *const argv[], char *const envp[], const char *workdir,
    int prompt_fd, int sys_fd, int out_fd, int err_fd)
{
	sigset_t none;

	setpgid(0, 0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);	/* the worker ignores it; exec keeps ignored signals */
	if (dup2(prompt_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0 ||
	    chdir(workdir) != 0)
		_exit(127);
	/* dup2 onto itself would keep close-on-exec */
	if (sys_fd == CC_SYSTEM_FD ? fcntl(sys_fd, F_SETFD, 0) < 0 :
	    sys_fd >= 0 && dup2(sys_fd, CC_SYSTEM_FD) < 0)
		_exit(127);
	/* the FastCGI socket, the database and the slot lock stay with the worker */
	closefrom(sys_fd >= 0 ? CC_SYSTEM_FD + 1 : CC_SYSTEM_FD);
	execve(path, argv, envp);
	_exit(127);
}

/*
 * A close-on-exec memory file holding text, read from its start: caller
 * text reaches the CLI through it, never through argv or the disk.
 * Returns the fd (caller closes) or -1.
 */
static int
memory_file(const char *name, const char *text)
{
	size_t len = strlen(text), done = 0;
	int fd = memfd_create(name, MFD_CLOEXEC);

	if (fd < 0)
		return -1;
	while (done < len) {
		ssize_t n = write(fd, text + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			return -1;
		}
		done += (size_t)n;
	}
	if (lseek(fd, 0, SEEK_SET) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Reads the child's output until both pipes close or the deadline passes. */
static void
collect(struct cc_run *run, int out_fd, int err_fd, double deadline_ms)
{
	struct pollfd pfd[2] = { { out_fd, POLLIN, 0 }, { err_fd, POLLIN, 0 } };
	char chunk[8192];
	ssize_t n;
	int open_fds = 2, i;

	while (open_fds > 0) {
		double left = deadline_ms - mg_now_ms();
		if (left <= 0) {
			run->timed_out = 1;
			return;
		}
		if (poll(pfd, 2, left > 1000 ? 1000 : (int)left + 1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		for (i = 0; i < 2; i++) {
			if (pfd[i].fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = read(pfd[i].fd, chunk, sizeof(chunk));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				pfd[i].fd = -1;
				open_fds--;
				continue;
			}
			if (i == 0) {
				if (run->out.len + (size_t)n <= CC_MAX_OUTPUT)
					buf_append(&run->out, chunk, (size_t)n);
			} else {
				/* keep the last CC_STDERR_TAIL bytes for the error message */
				size_t keep = (size_t)n >= CC_STDERR_TAIL ? 0 :
				    run->err_len + (size_t)n > CC_STDERR_TAIL ?
				    CC_STDERR_TAIL - (size_t)n : run->err_len;
				const char *from = (size_t)n >= CC_STDERR_TAIL ?
				    chunk + n - CC_STDERR_TAIL : chunk;
				size_t add = (size_t)n >= CC_STDERR_TAIL ? CC_STDERR_TAIL : (size_t)n;
				memmove(run->err_tail, run->err_tail + run->err_len - keep, keep);
				memcpy(run->err_tail + keep, from, add);
				run->err_len = keep + add;
				run->err_tail[run->err_len] = '\0';
			}
		}
	}
}

/*
 * Waits for pid (the bwrap we started) until the deadline, then kills its
 * group; its death takes the sandbox's PID namespace with it.
 */
static void
reap(struct cc_run *run, pid_t pid, double deadline_ms)
{
	int status = 0;
	pid_t r;

	for (;;) {
		r = waitpid(pid, &status, run->timed_out ? 0 : WNOHANG);
		if (r == pid || (r < 0 && errno != EINTR))
			break;
		if (r == 0 && mg_now_ms() >= deadline_ms) {
			run->timed_out = 1;
			kill(-pid, SIGKILL);
			continue;
		}
		if (r == 0) {
			struct timespec ts = { 0, 20 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
	}
	run->status = status;
	/* belt and braces: the namespace is gone already with bwrap's PID 1 */
	kill(-pid, SIGKILL);
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

/*
 * Runs the CLI (at cli, in cli_dir) for job in a sandbox started with
 * bwrap, with credential token against base; fills run. Returns MG_EIO
 * when it could not even be started (pipes, memory files, fork).
 */
static enum mg_err
run_cli(struct request *req, const struct cc_job *job, const char *bwrap, const char *cli,
    const char *cli_dir, const char *base, const char *token, const char *workdir,
    struct cc_run *run)
{
	const struct cfg *c = req->worker->cfg;
	struct arena *a = req->arena;
	const char *argv[24], *envp[16], *tools = tools_arg(job, a), **sandboxed;
	int out_pipe[2] = { -1, -1 }, err_pipe[2] = { -1, -1 }, prompt_fd = -1, sys_fd = -1;
	size_t n = 0, e = 0;
	double deadline = mg_now_ms() + (double)c->claude_timeout * 1000.0;
	enum mg_err rc = MG_EIO;
	pid_t pid;

	if (tools == NULL)
		return MG_ENOMEM;
	argv[n++] = cli;
	argv[n++] = "-p";
	argv[n++] = "--output-format";
	argv[n++] = "json";
	argv[n++] = "--no-session-persistence";
	argv[n++] = "--strict-mcp-config";
	/* the available tool set itself, not just auto-approval: "" means none */
	argv[n++] = "--tools";
	argv[n++] = tools;
	if (job->ntools > 0) {
		argv[n++] = "--allowedTools";
		argv[n++] = tools;
	}
	if (job->system_prompt != NULL) {
		argv[n++] = "--system-prompt-file";
		argv[n++] = CC_SYSTEM_PATH;
	}
	if (job->model != NULL) {
		argv[n++] = "--model";
		argv[n++] = job->model;
	}
	/* no prompt here: with none on the command line, -p reads it from stdin */
	argv[n] = NULL;

	envp[e++] = "PATH=" SANDBOX_SAFE_PATH;
	envp[e++] = arena_printf(a, "HOME=%s", workdir);
	envp[e++] = arena_printf(a, "TMPDIR=%s", workdir);
	envp[e++] = "LANG=C.UTF-8";
	envp[e++] = arena_printf(a, "ANTHROPIC_BASE_URL=%s", base);
	envp[e++] = arena_printf(a, "ANTHROPIC_API_KEY=%s", token);
	envp[e++] = "DISABLE_TELEMETRY=1";
	envp[e++] = "DISABLE_ERROR_REPORTING=1";
	envp[e++] = "DISABLE_AUTOUPDATER=1";
	envp[e++] = "DISABLE_NON_ESSENTIAL_MODEL_CALLS=1";
	envp[e++] = "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1";
	envp[e++] = "CI=1";
	envp[e] = NULL;
	for (n = 0; n < e; n++)
		if (envp[n] == NULL)
			return MG_ENOMEM;
	sandboxed = sandbox_argv(c, bwrap, workdir, cli_dir, argv, a);
	if (sandboxed == NULL)
		return MG_ENOMEM;

	prompt_fd = memory_file("maskgate-cc-prompt", job->prompt);
	if (prompt_fd < 0)
		goto out;
	if (job->system_prompt != NULL) {
		sys_fd = memory_file("maskgate-cc-system", job->system_prompt);
		if (sys_fd < 0)
			goto out;
	}
	if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0)
		goto out;
	pid = fork();
	if (pid < 0)
		goto out;
	if (pid == 0)
		child_exec(bwrap, (char *const *)sandboxed, (char *const *)envp, workdir,
		    prompt_fd, sys_fd, out_pipe[1], err_pipe[1]);
	setpgid(pid, pid);	/* also here: no race with kill(-pid) below */
	close(out_pipe[1]);
	close(err_pipe[1]);
	out_pipe[1] = err_pipe[1] = -1;
	collect(run, out_pipe[0], err_pipe[0], deadline);
	if (run->timed_out)
		kill(-pid, SIGKILL);
	reap(run, pid, deadline);
	run->exec_failed = WIFEXITED(run->status) && WEXITSTATUS(run->status) == 127 &&
	    run->out.len == 0;
	rc = MG_OK;
out:
	if (prompt_fd >= 0)
		close(prompt_fd);
	if (sys_fd >= 0)
		close(sys_fd);
	for (n = 0; n < 2; n++) {
		if (out_pipe[n] >= 0)
			close(out_pipe[n]);
		if (err_pipe[n] >= 0)
			close(err_pipe[n]);
	}
	return rc;
}

/* The stderr tail as one printable line, for an error message. */
static const char *
err_line(struct cc_run *run)
{
	size_t i;

	for (i = 0; i < run->err_len; i++)
		if ((unsigned char)run->err_tail[i] < 0x20 || run->err_tail[i] == 0x7f)
			run->err_tail[i] = ' ';
	return run->err_len > 0 ? run->err_tail : "(no output)";
}

/*
 * Turns the CLI's JSON result into the response, with every placeholder
 * the tenant owns restored in the result text (the nested /v1/messages
 * calls already restore them; this also covers text the CLI composed).
 */
static void
respond(struct request *req, const struct principal *p, struct cc_run *run, double started)
{
	struct json_object *res = NULL, *out = NULL, *v;
	struct buf text;
	const char *result = "";
	int is_error = 0;

	res = run->out.data != NULL ? json_tokener_parse(run->out.data) : NULL;
	if (res == NULL || !json_object_is_type(res, json_type_object)) {
		/* bwrap reports its child's death by signal N as exit status 128 + N */
		int sig = WIFSIGNALED(run->status) ? WTERMSIG(run->status) :
		    WIFEXITED(run->status) && WEXITSTATUS(run->status) > 128 ?
		    WEXITSTATUS(run->status) - 128 : 0;
		if (sig != 0)
			http_error(req, 502, ET_API, "the Claude Code CLI crashed (signal %d): %s",
			    sig, err_line(run));
		else
			http_error(req, 502, ET_API, "the Claude Code CLI failed (exit status %d) "
			    "without a JSON result: %s", WIFEXITED(run->status) ?
			    WEXITSTATUS(run->status) : -1, err_line(run));
		goto out;
	}
	if (json_object_object_get_ex(res, "result", &v) && json_object_is_type(v, json_type_string))
		result = json_object_get_string(v);
	if (json_object_object_get_ex(res, "is_error", &v))
		is_error = json_object_get_boolean(v);
	buf_init(&text, req->arena);
	if (buf_appends(&text, "") != MG_OK ||
	    exchange_restore_text(&req->ex, result, strlen(result), &text) != MG_OK) {
		http_error(req, 503, ET_API, "could not restore the values in the result");
		goto out;
	}
	out = json_object_new_object();
	if (out == NULL)
		goto oom;
	json_object_object_add(out, "type", json_object_new_string("claude_code_result"));
	json_object_object_add(out, "result", json_object_new_string_len(text.data, (int)text.len));
	json_object_object_add(out, "is_error", json_object_new_boolean(is_error));
	json_object_object_add(out, "duration_ms",
	    json_object_new_int64((int64_t)(mg_now_ms() - started)));
	if (json_object_object_get_ex(res, "num_turns", &v))
		json_object_object_add(out, "num_turns", json_object_get(v));
	if (json_object_object_get_ex(res, "usage", &v))
		json_object_object_add(out, "usage", json_object_get(v));
	else
		json_object_object_add(out, "usage", json_object_new_object());
	if (json_object_object_get_ex(res, "total_cost_usd", &v))
		json_object_object_add(out, "total_cost_usd", json_object_get(v));
	if (json_object_object_get_ex(res, "subtype", &v))
		json_object_object_add(out, "subtype", json_object_get(v));
	http_json(req, 200, json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
	goto out;
oom:
	http_error(req, 500, ET_API, "out of memory");
out:
	json_object_put(out);
	json_object_put(res);
}

void
h_claude_code(struct request *req, const struct principal *p)
{
	const struct cfg *c = req->worker->cfg;
	struct cc_job job;
	struct cc_run run;
	const char *cli, *cli_dir = NULL, *base, *token, *bwrap = NULL, *why, *slot_dir = NULL;
	char workdir[] = "/tmp/maskgate-cc-XXXXXX";
	int slot = -1, have_dir = 0;
	double started = mg_now_ms();
	enum mg_err rc;

	if (c->claude_max_runs == 0) {
		http_error(req, 403, ET_PERMISSION,
		    "/v1/claude-code is turned off on this server (MASKGATE_CLAUDE_MAX_RUNS=0)");
		return;
	}
	/* no sandbox, no run: the CLI would read whatever this worker can */
	why = sandbox_check(c, &bwrap);
	if (why != NULL) {
		http_error(req, 503, ET_API, "/v1/claude-code is unavailable: it runs the CLI only "
		    "in a sandbox, and %s", why);
		return;
	}
	rc = http_read_body(req, CC_MAX_BODY);
	if (rc == MG_ETOOBIG) {
		http_error(req, 413, ET_REQUEST_TOO_LARGE, "the body is over 1 MiB");
		return;
	}
	if (rc != MG_OK) {
		http_error(req, 400, ET_INVALID_REQUEST, "could not read the request body");
		return;
	}
	if (!parse_job(req, &job))
		return;
	/*
	 * The run's credential reloads a virtual key's allow-list but carries
	 * none of its own: a JWT's models claim would not bind the nested calls.
	 */
	if (p->kind == PRINCIPAL_JWT && p->models_json != NULL) {
		http_error(req, 403, ET_PERMISSION,
		    "/v1/claude-code is not available to a token with a models claim");
		return;
	}
	cli = find_cli(c->claude_bin, req->arena, &cli_dir);
	if (cli == NULL) {
		http_error(req, 503, ET_API, "the Claude Code CLI is not installed here "
		    "(MASKGATE_CLAUDE_BIN=%s is not an executable)", c->claude_bin);
		return;
	}
	slot = take_slot(c, req->arena, &slot_dir);
	if (slot == -1) {
		http_add_header(req, "retry-after", "10");
		http_error(req, 429, ET_RATE_LIMIT, "all %ld Claude Code run slots are busy "
		    "(MASKGATE_CLAUDE_MAX_RUNS); retry later", c->claude_max_runs);
		return;
	}
	if (slot < 0) {
		http_error(req, 503, ET_API, "cannot create the run slot files in %s "
		    "(MASKGATE_RUN_DIR)", slot_dir != NULL ? slot_dir : "the run directory");
		return;
	}
	base = self_url(req);
	/* valid a little past the time limit: the run can never outlive it anyway */
	token = ccauth_mint(c, p, c->claude_timeout + 60, req->arena);
	if (base == NULL || token == NULL) {
		http_error(req, 503, ET_API, "could not mint the run's credential");
		goto out;
	}
	if (mkdtemp(workdir) == NULL) {
		http_error(req, 503, ET_API, "could not create a working directory: %s",
		    strerror(errno));
		goto out;
	}
	have_dir = 1;
	memset(&run, 0, sizeof(run));
	buf_init(&run.out, req->arena);
	log_info("claude-code: run for tenant %s, %zu tools, base %s", p->tenant, job.ntools, base);
	rc = run_cli(req, &job, bwrap, cli, cli_dir, base, token, workdir, &run);
	if (rc != MG_OK) {
		http_error(req, 503, ET_API, "could not start the Claude Code CLI: %s",
		    mg_strerror(rc));
		goto out;
	}
	if (run.timed_out) {
		http_error(req, 504, ET_TIMEOUT, "the Claude Code run took longer than %lds "
		    "(MASKGATE_CLAUDE_TIMEOUT) and was stopped", c->claude_timeout);
		goto out;
	}
	if (run.exec_failed) {
		http_error(req, 503, ET_API, "the Claude Code CLI (%s) could not be started: %s",
		    cli, err_line(&run));
		goto out;
	}
	respond(req, p, &run, started);
out:
	if (have_dir)
		nftw(workdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	if (slot >= 0)
		close(slot);
}
