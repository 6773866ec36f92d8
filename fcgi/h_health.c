/*
 * h_health.c - the connectivity check Claude Code makes (HEAD /) and the
 * liveness and readiness probes. Readiness checks the store and the rules
 * without calling the model.
 */
#include <stdio.h>

#include "rules.h"
#include "route.h"
#include "store.h"
#include "worker.h"

void
h_root(struct request *req, const struct principal *p)
{
	(void)p;
	http_json(req, 200, "{\"status\":\"ok\",\"service\":\"maskgate\"}");
}

void
h_liveliness(struct request *req, const struct principal *p)
{
	(void)p;
	http_json(req, 200, "{\"status\":\"alive\"}");
}

void
h_readiness(struct request *req, const struct principal *p)
{
	struct worker *w = req->worker;
	char err[256];

	(void)p;
	if (w->rules == NULL || rules_count(w->rules) == 0) {
		http_error(req, 503, ET_API, "not ready: no masking rules loaded");
		return;
	}
	if (store_check_writable(w->store, err, sizeof(err)) != MG_OK) {
		http_error(req, 503, ET_API, "not ready: %s", err);
		return;
	}
	http_json(req, 200, arena_printf(req->arena,
	    "{\"status\":\"ready\",\"db\":\"writable\",\"rules\":%zu,\"pcre2_jit\":%s}",
	    rules_count(w->rules), rules_jit(w->rules) ? "true" : "false"));
}
