/*
 * route.c - the routing table. Unknown paths get 404, known paths with the
 * wrong method 405, both in the Anthropic error envelope.
 */
#include <stdio.h>
#include <string.h>

#include "h_spend_limits.h"
#include "log.h"
#include "metrics.h"
#include "route.h"
#include "worker.h"

#define M_GET 0x1
#define M_HEAD 0x2
#define M_POST 0x4

enum route_auth { AUTH_NONE, AUTH_CALLER, AUTH_ADMIN };

struct route {
	const char *path;
	int prefix;		/* also matches path + "/..." */
	unsigned methods;
	enum route_auth auth;
	void (*handler)(struct request *req, const struct principal *p);
};

static const struct route routes[] = {
	{ "/", 0, M_GET | M_HEAD, AUTH_NONE, h_root },
	{ "/health/liveliness", 0, M_GET | M_HEAD, AUTH_NONE, h_liveliness },
	{ "/health/liveness", 0, M_GET | M_HEAD, AUTH_NONE, h_liveliness },
	{ "/health/readiness", 0, M_GET | M_HEAD, AUTH_NONE, h_readiness },
	{ "/v1/messages", 0, M_POST, AUTH_CALLER, h_messages },
	{ "/v1/messages/count_tokens", 0, M_POST, AUTH_CALLER, h_messages },
	{ "/v1/models", 1, M_GET, AUTH_CALLER, h_models },
	{ "/model", 1, M_POST, AUTH_CALLER, h_cloud },		/* Bedrock */
	/* Claude Code's startup probe, sent without our key: an empty list */
	{ "/inference-profiles", 0, M_GET, AUTH_NONE, h_inference_profiles },
	{ "/v1/projects", 1, M_POST, AUTH_CALLER, h_cloud },	/* Vertex */
	{ "/v1/claude-code", 0, M_POST, AUTH_CALLER, h_claude_code },
	{ "/key/generate", 0, M_POST, AUTH_ADMIN, h_keys },
	{ "/key/info", 0, M_GET | M_POST, AUTH_CALLER, h_keys },
	{ "/key/list", 0, M_GET, AUTH_ADMIN, h_keys },
	{ "/key/update", 0, M_POST, AUTH_ADMIN, h_keys },
	{ "/key/delete", 0, M_POST, AUTH_ADMIN, h_keys },
	{ "/key/regenerate", 0, M_POST, AUTH_ADMIN, h_keys },
	{ "/key/block", 0, M_POST, AUTH_ADMIN, h_keys },
	{ "/key/unblock", 0, M_POST, AUTH_ADMIN, h_keys },
	{ "/spend/logs", 0, M_GET, AUTH_ADMIN, h_spend_logs },
	{ "/audit", 0, M_GET, AUTH_ADMIN, h_audit },
	{ "/v1/organizations/spend_limits", 1, M_GET | M_POST, AUTH_ADMIN, h_spend_limits },
	{ "/metrics", 0, M_GET, AUTH_NONE, h_metrics },	/* own check: admin or allow-list */
	{ "/ui", 1, M_GET | M_HEAD | M_POST, AUTH_NONE, h_ui },	/* own check: session cookie */
};

static unsigned
method_bit(const char *m)
{
	if (strcmp(m, "GET") == 0)
		return M_GET;
	if (strcmp(m, "HEAD") == 0)
		return M_HEAD;
	if (strcmp(m, "POST") == 0)
		return M_POST;
	return 0;
}

static void
allow_header(struct request *req, unsigned methods)
{
	char allow[32];

	snprintf(allow, sizeof(allow), "%s%s%s",
	    methods & M_GET ? "GET, " : "", methods & M_HEAD ? "HEAD, " : "",
	    methods & M_POST ? "POST, " : "");
	allow[strlen(allow) - 2] = '\0';
	http_add_header(req, "Allow", allow);
}

/* Routes and authenticates; *auth_failed set on a 401 from the credential check. */
static const struct route *
dispatch(struct request *req, int *auth_failed)
{
	const struct route *r = NULL;
	struct principal p;
	const char *why = "";
	size_t i;
	enum mg_err rc;

	for (i = 0; i < MG_NELEM(routes) && r == NULL; i++) {
		size_t n = strlen(routes[i].path);
		if (strcmp(req->path, routes[i].path) == 0 ||
		    (routes[i].prefix && strncmp(req->path, routes[i].path, n) == 0 &&
		    req->path[n] == '/'))
			r = &routes[i];
	}
	if (r == NULL) {
		http_error(req, 404, ET_NOT_FOUND, "no route for %s", req->path);
		return NULL;
	}
	if (!(method_bit(req->method) & r->methods)) {
		allow_header(req, r->methods);
		http_error(req, 405, ET_INVALID_REQUEST, "method %s not allowed here", req->method);
		return r;
	}
	/* Bedrock clients read AWS-style errors, from the first refusal on */
	req->aws_errors = r->handler == h_cloud && strncmp(req->path, "/model/", 7) == 0;
	req->aws_errors |= r->handler == h_inference_profiles;
	if (r->auth == AUTH_NONE) {
		r->handler(req, NULL);
		return r;
	}
	if (proxy_loop_detected(req))
		return r;
	rc = keys_authenticate_ex(req->worker->cfg, req->worker->store, req->arena,
	    http_header(req, "x-api-key"), http_header(req, "authorization"),
	    http_header(req, "x-maskgate-key"), &p, &why);
	if (rc == MG_ENOTFOUND) {
		*auth_failed = 1;
		http_error(req, 401, ET_AUTHENTICATION, "%s", why);
		return r;
	}
	if (rc != MG_OK) {
		http_error(req, 503, ET_API, "credential check failed: %s", mg_strerror(rc));
		return r;
	}
	req->tenant = p.tenant;
	if (r->auth == AUTH_ADMIN && !p.admin) {
		http_error(req, 403, ET_PERMISSION, "this route needs the master key or an admin key");
		return r;
	}
	r->handler(req, &p);
	return r;
}

void
route_dispatch(struct request *req)
{
	int auth_failed = 0;
	const struct route *r = dispatch(req, &auth_failed);

	if (r != NULL)
		req->route = r->path;
	if (auth_failed)
		req->reject_reason = MR_AUTH;
	else if (req->upstream_ms < 0 && req->status == 503 && req->reject_reason == MR__MAX &&
	    r != NULL && (r->handler == h_messages || r->handler == h_models || r->handler == h_cloud))
		req->reject_reason = MR_FAIL_CLOSED;
}

/*
 * Counts the finished request in the shared metrics: route (the table
 * entry, never the raw path), status, tenant, upstream timings, rejection
 * reason and mask counts. Runs after the client has its whole response.
 */
void
route_account(struct request *req)
{
	struct metrics_request m;

	m.route = req->route;
	m.status = req->started ? req->status : 500;
	m.tenant = req->tenant;
	m.upstream_ms = req->upstream_ms;
	m.ttfb_ms = req->upstream_ttfb_ms;
	m.reason = (enum metrics_reason)req->reject_reason;
	m.mask = req->mask;
	metrics_record_request(req->worker->store, &m);
}
