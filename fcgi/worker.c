/*
 * worker.c - per-process initialisation and the request loop.
 *
 * Everything that must not cross fork() (libcurl, the SQLite connection,
 * PCRE2 match data) is created here, in the process that uses it.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "log.h"
#include "models.h"
#include "route.h"
#include "mask.h"
#include "rules.h"
#include "store.h"
#include "store_keys.h"
#include "upstream.h"
#include "worker.h"

volatile sig_atomic_t worker_stop;

/*
 * SIGTERM: stop after the current request. The handler is installed without
 * SA_RESTART and the request with FCGI_FAIL_ACCEPT_ON_INTR, so an idle
 * worker blocked in accept() returns at once.
 */
static void
on_term(int sig)
{
	(void)sig;
	worker_stop = 1;
}

/* While upstream answers: keep this worker's parallel-request lease alive. */
static void
lease_tick(void *arg)
{
	store_keys_lease_tick(arg, (long)time(NULL));
}

enum mg_err
worker_init(struct worker *w, const struct cfg *c, char *err, size_t errlen)
{
	enum mg_err rc;

	memset(w, 0, sizeof(*w));
	w->cfg = c;
	w->started = (long)time(NULL);
	arena_init(&w->arena);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		snprintf(err, errlen, "libcurl initialisation failed");
		return MG_EIO;
	}
	rc = store_open_lazy(c, &w->store, err, errlen);
	if (rc != MG_OK)
		return rc;
	if (err[0] != '\0')	/* PostgreSQL not answering yet: 503 until it does */
		log_error("%s; requests fail closed (503) until it answers", err);
	up_set_tick(lease_tick, w->store);
	rc = rules_load_packs(c->rule_packs, c->rules_path, &w->rules, err, errlen);
	if (rc != MG_OK)
		return rc;
	mask_strings_set_limit(c->mask_cache);
	rc = models_load(c->models_path, c->model_allowlist, &w->models, err, errlen);
	w->env.cfg = c;
	w->env.store = w->store;
	w->env.rules = w->rules;
	w->env.models = w->models;
	return rc;
}

void
worker_fini(struct worker *w)
{
	up_set_tick(NULL, NULL);
	up_cleanup();
	models_free(w->models);
	mask_strings_clear();
	rules_free(w->rules);
	store_close(w->store);
	arena_free(&w->arena);
	curl_global_cleanup();
}

/* Control characters in a logged method could forge log lines. */
static const char *
log_safe(struct arena *a, const char *s)
{
	char *out = arena_strndup(a, s, strnlen(s, 200));
	char *p;

	if (out == NULL)
		return "-";
	for (p = out; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f || *p == ' ')
			*p = '?';
	return out;
}

/*
 * CGI: the web server ends the response when our stdout closes; point it
 * at /dev/null so that happens before the request's write, not at exit.
 */
static void
cgi_end_response(void)
{
	int fd;

	fflush(stdout);
	fd = open("/dev/null", O_WRONLY);
	if (fd < 0)
		return;
	dup2(fd, STDOUT_FILENO);
	close(fd);
}

static void
handle(struct worker *w, FCGX_Request *fcgx)
{
	struct request req;
	const struct outcome *o;

	http_request_init(&req, w, &w->arena, fcgx);
	route_dispatch(&req);
	if (!req.started)
		http_error(&req, 500, ET_API, "handler produced no response");
	/* FastCGI: the rest of the response goes with the end-of-request records */
	if (fcgx == NULL)
		http_flush(&req);
	/* the routing-table entry, never the raw path: /key/info/sk-... is a key */
	o = &req.ex.out;
	log_info("access rid=%s tenant=%s method=%s route=%s status=%d bytes=%zu "
	    "upstream_ms=%ld own_ms=%ld%s%s%s", req.request_id, o->tenant,
	    log_safe(&w->arena, req.method), o->route, req.status,
	    req.bytes_out, o->upstream_ms > 0 ? o->upstream_ms : 0,
	    (long)(mg_now_ms() - req.t_start) - (o->upstream_ms > 0 ? o->upstream_ms : 0),
	    o->reason != OUT_OK ? " reason=" : "",
	    o->reason != OUT_OK ? outcome_reason_name(o->reason) : "",
	    req.client_gone ? " client_gone=1" : "");
	/*
	 * The client has its whole answer; only then the request's one write.
	 * FastCGI: what is left of the response and the end of the request
	 * in one write (FCGX_FClose), the write after the response while the
	 * web server closes its end, and only then the connection
	 * (FCGX_Finish_r: shutdown, wait for that close, by then done): the
	 * settlement overlaps the close instead of following it.
	 */
	if (fcgx != NULL) {
		FCGX_FClose(fcgx->err);
		if (FCGX_FClose(fcgx->out) != 0 && !req.client_gone)
			log_info("rid=%s client_gone=1 (at the end of the response)",
			    req.request_id);
	} else {
		cgi_end_response();
	}
	route_account(&req);
	if (fcgx != NULL)
		FCGX_Finish_r(fcgx);
	w->served++;
}

/*
 * The arena let chunks go (an outsized request, or ones no request uses
 * any more): hand the free memory back to the kernel. glibc keeps freed
 * chunks in its heap, resident, until the top of the heap is free; the
 * chunks this follows are rare, so the trim's page faults are too.
 */
static void
release_freed(void)
{
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}

/* interrupted accepts in a row without a signal of ours: libfcgi gave up */
#define ACCEPT_EINTR_MAX 100

int
worker_serve_fcgi(struct worker *w, int listen_fd, long max_requests)
{
	struct sigaction sa;
	FCGX_Request fcgx;
	int rc, interrupted = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);	/* mod_fcgid's graceful stop */
	if (FCGX_Init() != 0 || FCGX_InitRequest(&fcgx, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
		log_error("FastCGI initialisation failed");
		return 1;
	}
	while (!worker_stop) {
		/* orphaned: the master cannot replace or stop us; take no more */
		if (w->master != 0 && getppid() != w->master) {
			log_warn("worker: pool master %ld is gone; exiting", (long)w->master);
			break;
		}
		rc = FCGX_Accept_r(&fcgx);
		if (rc < 0) {
			/*
			 * libfcgi returns -errno. An orphaned worker was seen with
			 * every accept failing at once, no system call made, on a
			 * stale EINTR (libfcgi's shutdown flag): retrying forever
			 * spun it at full CPU. Signals of ours set worker_stop, so
			 * a run of interrupted accepts means the library gave up.
			 */
			if (rc == -EINTR && !worker_stop && ++interrupted < ACCEPT_EINTR_MAX)
				continue;
			if (!worker_stop)
				log_warn("worker: FastCGI accept failed (%d); exiting", rc);
			break;
		}
		interrupted = 0;
		handle(w, &fcgx);
		if (arena_reset(&w->arena) > 0)
			release_freed();
		if (max_requests > 0 && w->served >= max_requests) {
			log_info("worker served %ld requests; exiting to be replaced", w->served);
			break;
		}
	}
	FCGX_Free(&fcgx, 1);
	return 0;
}

int
worker_serve_cgi(struct worker *w)
{
	handle(w, NULL);
	fflush(stdout);
	return 0;
}
