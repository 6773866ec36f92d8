/*
 * route.h - maps method and path to a handler; one handler file per
 * endpoint family (h_*.c).
 */
#ifndef MG_ROUTE_H
#define MG_ROUTE_H

#include "http.h"
#include "keys.h"

struct json_object;

/* Authenticates when the route needs it, then runs the handler. */
void route_dispatch(struct request *req);
/* After the response: the request's one write (exchange_settle()). */
void route_account(struct request *req);

/* h_proxy.c: FastCGI as the exchange's transport */
extern const struct exchange_io proxy_io;

/* Handlers. p is NULL for routes open without a credential. */
void h_root(struct request *req, const struct principal *p);
void h_liveliness(struct request *req, const struct principal *p);
void h_readiness(struct request *req, const struct principal *p);
void h_messages(struct request *req, const struct principal *p);
void h_models(struct request *req, const struct principal *p);
void h_cloud(struct request *req, const struct principal *p);
void h_inference_profiles(struct request *req, const struct principal *p);
/* h_claude_code.c: POST /v1/claude-code, the headless Claude Code CLI */
void h_claude_code(struct request *req, const struct principal *p);
/* h_keys.c: /key/... management (LiteLLM-compatible) */
void h_keys(struct request *req, const struct principal *p);
/* The HTTP status of a keys_mgmt() result: 200, 400, 404 or 503. */
int h_keys_status(enum mg_err rc);
/* The query string as a new JSON object of strings (caller puts), or NULL. */
struct json_object *h_query_object(struct request *req);
/* The same for any name=value&... text (an HTML form's body). */
struct json_object *h_urlencoded_object(struct request *req, const char *text);
/* Who a principal is, for the audit log (never a key). */
const char *h_actor(struct request *req, const struct principal *p);
/* h_admin.c: spend log, audit log, Prometheus metrics */
void h_spend_logs(struct request *req, const struct principal *p);
void h_audit(struct request *req, const struct principal *p);
void h_metrics(struct request *req, const struct principal *p);
/* h_ui.c: the admin console under /ui/ (its own session sign-in) */
void h_ui(struct request *req, const struct principal *p);

#endif
