/*
 * pool.c - supervisor of the pre-fork worker pool.
 *
 * The parent holds no database connection, no libcurl handle and no PCRE2
 * state: each child initialises its own after fork(). A child that dies is
 * replaced; one that dies immediately after start is replaced with a delay
 * so a broken configuration cannot spin the machine. A child whose master
 * dies (even by SIGKILL) finishes its request and exits: an orphan would
 * hold the database and the socket under any supervisor that does not kill
 * the whole cgroup.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "log.h"
#include "pool.h"
#include "worker.h"

static volatile sig_atomic_t pool_stopping;

static void
on_stop(int sig)
{
	(void)sig;
	pool_stopping = 1;
}

static void
on_child(int sig)
{
	(void)sig;	/* only interrupts sleep/pause */
}

static pid_t
spawn(const struct cfg *c, int fd)
{
	pid_t master = getpid();
	pid_t pid = fork();

	if (pid != 0) {
		if (pid < 0)
			log_error("pool: fork failed: %s", strerror(errno));
		return pid;
	}
	{
		struct worker w;
		char err[512];
		int status;

		/*
		 * SIGTERM when the master dies: the worker's handler finishes the
		 * request in flight. A master that died before prctl() took effect
		 * is caught by the getppid() check; the accept loop checks again.
		 */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != master)
			_exit(0);
		signal(SIGCHLD, SIG_DFL);
		if (worker_init(&w, c, err, sizeof(err)) != MG_OK) {
			log_error("worker: %s", err);
			_exit(3);
		}
		w.master = master;
		status = worker_serve_fcgi(&w, fd, c->max_requests);
		worker_fini(&w);
		_exit(status);
	}
}

static int
open_listener(const char *spec)
{
	int fd;

	if (strncmp(spec, "unix:", 5) == 0) {
		const char *path = spec + 5;
		struct stat st;
		if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
			unlink(path);	/* a stale socket from an earlier run */
		fd = FCGX_OpenSocket(path, 128);
		if (fd >= 0 && chmod(path, 0660) != 0) {
			log_error("pool: chmod %s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		return fd;
	}
	return FCGX_OpenSocket(spec, 128);
}

int
pool_run(const struct cfg *c, const char *listen_spec, long workers)
{
	struct sigaction sa;
	pid_t *pids;
	time_t *started;
	long i, alive;
	int fd, status;
	time_t deadline = 0;

	if (FCGX_Init() != 0) {
		log_error("pool: FastCGI initialisation failed");
		return 1;
	}
	fd = open_listener(listen_spec);
	if (fd < 0) {
		log_error("pool: cannot listen on %s: %s", listen_spec, strerror(errno));
		return 1;
	}
	pids = calloc((size_t)workers, sizeof(*pids));
	started = calloc((size_t)workers, sizeof(*started));
	if (pids == NULL || started == NULL) {
		log_error("pool: out of memory");
		free(pids);
		free(started);
		close(fd);
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_child;
	sigaction(SIGCHLD, &sa, NULL);

	log_info("pool: listening on %s with %ld workers", listen_spec, workers);
	for (i = 0; i < workers; i++) {
		pids[i] = spawn(c, fd);
		started[i] = time(NULL);
	}
	for (;;) {
		pid_t pid;

		if (pool_stopping && deadline == 0) {
			log_info("pool: stopping; draining in-flight requests (up to %lds)",
			    c->drain_timeout);
			deadline = time(NULL) + c->drain_timeout;
			close(fd);
			for (i = 0; i < workers; i++)
				if (pids[i] > 0)
					kill(pids[i], SIGTERM);
		}
		pid = waitpid(-1, &status, WNOHANG);
		if (pid == 0 || (pid < 0 && errno == ECHILD)) {
			if (deadline != 0) {
				for (alive = 0, i = 0; i < workers; i++)
					alive += pids[i] > 0;
				if (alive == 0)
					break;
				if (time(NULL) >= deadline) {
					log_warn("pool: drain timeout; killing %ld workers", alive);
					for (i = 0; i < workers; i++)
						if (pids[i] > 0)
							kill(pids[i], SIGKILL);
					deadline = time(NULL) + 5;
				}
			}
			/* woken early by SIGCHLD or SIGTERM */
			{
				struct timespec ts = { 0, 200 * 1000 * 1000 };
				nanosleep(&ts, NULL);
			}
			continue;
		}
		if (pid < 0)
			continue;
		for (i = 0; i < workers; i++) {
			if (pids[i] != pid)
				continue;
			pids[i] = 0;
			if (WIFSIGNALED(status))
				log_warn("pool: worker %ld died of signal %d", (long)pid, WTERMSIG(status));
			if (deadline != 0)
				break;
			if (WIFEXITED(status) && WEXITSTATUS(status) == 3 &&
			    time(NULL) - started[i] < 2)
				sleep(1);	/* failing at start: do not spin */
			pids[i] = spawn(c, fd);
			started[i] = time(NULL);
			break;
		}
	}
	if (strncmp(listen_spec, "unix:", 5) == 0)
		unlink(listen_spec + 5);
	free(pids);
	free(started);
	log_info("pool: stopped");
	return 0;
}
