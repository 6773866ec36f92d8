/*
 * route.c - the routing table. Unknown paths get 404, known paths with the
 * wrong method 405, both in the Anthropic error envelope.
 */
#include <stdio.h>
#include <string.h>

#include "h_spend_limits.h"
#include "log.h"
#include "route.h"
#include "worker.h"

#define M_GET 0x1
#define M_HEAD 0x2
#define M_POST 0x4

enum route_auth { AUTH_NONE, AUTH_CALLER, AUTH_ADMIN };

/* What a route is, so nothing has to infer it from its handler. */
#define R_PREFIX 0x1	/* also matches path + "/..." */
#define R_PROXIED 0x2	/* forwards upstream: loop check first, store errors fail closed */
#define R_AWS 0x4	/* Bedrock clients read AWS-style errors, from the first refusal on */

struct route {
	const char *path;
	unsigned flags;
	unsigned methods;
	enum route_auth auth;
	void (*handler)(struct request *req, const struct principal *p);
};

static const struct route routes[] = {
	{ "/", 0, M_GET | M_HEAD, AUTH_NONE, h_root },
	{ "/health/liveliness", 0, M_GET | M_HEAD, AUTH_NONE, h_liveliness },
	{ "/health/liveness", 0, M_GET | M_HEAD, AUTH_NONE, h_liveliness },
	{ "/health/readiness", 0, M_GET | M_HEAD, AUTH_NONE, h_readiness },
	{ "/v1/messages", R_PROXIED, M_POST, AUTH_CALLER, h_messages },
	{ "/v1/messages/count_tokens", R_PROXIED, M_POST, AUTH_CALLER, h_messages },
	{ "/v1/models", R_PREFIX | R_PROXIED, M_GET, AUTH_CALLER, h_models },
	{ "/model", R_PREFIX | R_PROXIED | R_AWS, M_POST, AUTH_CALLER, h_cloud },		/* Bedrock */
	/* Claude Code's startup probe, sent without our key: an empty list */
	{ "/inference-profiles", R_AWS, M_GET, AUTH_NONE, h_inference_profiles },
	{ "/v1/projects", R_PREFIX | R_PROXIED, M_POST, AUTH_CALLER, h_cloud },	/* Vertex */
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
	{ "/v1/organizations/spend_limits", R_PREFIX, M_GET | M_POST, AUTH_ADMIN, h_spend_limits },
	{ "/metrics", 0, M_GET, AUTH_NONE, h_metrics },	/* own check: admin or allow-list */
	{ "/ui", R_PREFIX, M_GET | M_HEAD | M_POST, AUTH_NONE, h_ui },	/* own check: session cookie */
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

/* Routes, then authenticates through the exchange when the route needs it. */
static const struct route *
dispatch(struct request *req)
{
	const struct route *r = NULL;
	size_t i;

	for (i = 0; i < MG_NELEM(routes) && r == NULL; i++) {
		size_t n = strlen(routes[i].path);
		if (strcmp(req->path, routes[i].path) == 0 ||
		    ((routes[i].flags & R_PREFIX) && strncmp(req->path, routes[i].path, n) == 0 &&
		    req->path[n] == '/'))
			r = &routes[i];
	}
	if (r == NULL) {
		http_error(req, 404, ET_NOT_FOUND, "no route for %s", req->path);
		return NULL;
	}
	req->ex.out.route = r->path;
	if (!(method_bit(req->method) & r->methods)) {
		allow_header(req, r->methods);
		http_error(req, 405, ET_INVALID_REQUEST, "method %s not allowed here", req->method);
		return r;
	}
	req->aws_errors = (r->flags & R_AWS) != 0;
	req->ex.aws_errors = req->aws_errors;
	if (r->auth == AUTH_NONE) {
		r->handler(req, NULL);
		return r;
	}
	if (!exchange_authenticate(&req->ex, (r->flags & R_PROXIED) != 0, r->auth == AUTH_ADMIN))
		return r;
	r->handler(req, &req->ex.principal);
	return r;
}

void
route_dispatch(struct request *req)
{
	struct worker *w = req->worker;

	exchange_init(&req->ex, &proxy_io, req, &w->env, req->arena, req->request_id,
	    req->method, req->path, req->query);
	dispatch(req);
}

/*
 * Settles the finished request from its outcome record: spend, usage,
 * the tenant's new mappings and the metrics, in the write after the
 * response. Runs after the client has its whole response.
 */
void
route_account(struct request *req)
{
	exchange_settle(&req->ex, req->started ? req->status : 500);
}
