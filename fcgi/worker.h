/*
 * worker.h - one worker process: its per-process resources (store
 * connection, compiled rules, libcurl) and its request loop.
 */
#ifndef MG_WORKER_H
#define MG_WORKER_H

#include <signal.h>
#include <sys/types.h>
#include <fcgiapp.h>

#include "arena.h"
#include "cfg.h"
#include "exchange.h"

struct worker {
	const struct cfg *cfg;
	struct store *store;
	struct rules *rules;
	struct models *models;
	struct exchange_env env;	/* the same, as the exchange sees them */
	struct arena arena;
	long served;
	long started;		/* Unix seconds, for the console's uptime */
	pid_t master;		/* the pool master (--listen mode), 0 otherwise */
};

/* Set by signal handlers: finish the current request, then exit. */
extern volatile sig_atomic_t worker_stop;

/* Opens the store, loads rules, initialises libcurl; call after fork(). */
enum mg_err worker_init(struct worker *w, const struct cfg *c, char *err, size_t errlen);
void worker_fini(struct worker *w);

/*
 * Serves FastCGI requests on listen_fd until stopped, when w->master is set
 * and no longer this process's parent, or, when max_requests is non-zero,
 * after that many. Returns the process exit status.
 */
int worker_serve_fcgi(struct worker *w, int listen_fd, long max_requests);
/* Serves the single CGI request of this process. */
int worker_serve_cgi(struct worker *w);

#endif
