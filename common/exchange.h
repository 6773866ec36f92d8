/*
 * exchange.h - one request's life through the gateway, in order:
 * authenticate, admit, mask, forward, restore, settle. The front end
 * (fcgi/) only adapts its transport to struct exchange_io and calls
 * exchange_settle() once the client has the whole response.
 *
 * The same exchange serves /v1/messages, count_tokens, /v1/models, the
 * Bedrock and Vertex routes, and the /v1/claude-code runs (which use its
 * authentication, restore and settlement around their own CLI run).
 */
#ifndef MG_EXCHANGE_H
#define MG_EXCHANGE_H

#include <stddef.h>

#include "apierr.h"
#include "arena.h"
#include "cfg.h"
#include "keys.h"
#include "mg.h"
#include "outcome.h"

struct store;
struct rules;
struct models;

/*
 * The transport, as the exchange sees it: request headers and body in,
 * status, headers and body out, and whether the client is still there.
 */
struct exchange_io {
	/* a request header by its HTTP name ("x-api-key"), or NULL */
	const char *(*header)(void *ctx, const char *name);
	/* every request header, names lower-case with '-' */
	void (*each_header)(void *ctx,
	    void (*fn)(void *arg, const char *name, const char *value), void *arg);
	/* the whole body, NUL-terminated: MG_ETOOBIG past max, other errors unreadable */
	enum mg_err (*read_body)(void *ctx, size_t max, const char **body, size_t *len);
	/* a response header, before start */
	void (*add_header)(void *ctx, const char *name, const char *value);
	/* the status line and headers (once) */
	void (*start)(void *ctx, int status, const char *content_type);
	/* body bytes, pushed to the client at once when flush is set; MG_EIO: client gone */
	enum mg_err (*write)(void *ctx, const void *data, size_t len, int flush);
	/* a complete error response in the Anthropic envelope */
	void (*error)(void *ctx, int status, enum api_etype type, const char *message);
	/* non-zero once the client went away (polled while the upstream works) */
	int (*client_gone)(void *ctx);
};

/* The worker's per-process resources (not owned). */
struct exchange_env {
	const struct cfg *cfg;
	struct store *store;
	const struct rules *rules;
	const struct models *models;
};

struct exchange {
	const struct exchange_io *io;
	void *io_ctx;
	const struct exchange_env *env;
	struct arena *arena;		/* request lifetime */
	const char *request_id, *method, *path, *query;
	double t_start;			/* mg_now_ms() at arrival */
	struct principal principal;	/* after exchange_authenticate() */
	int authenticated;
	int aws_errors;			/* a Bedrock route: refusals in the AWS error shape */
	int started;			/* the response has begun */
	struct outcome out;		/* what happened; read after the response */
};

/* Prepares ex for one request; strings are borrowed for its lifetime. */
void exchange_init(struct exchange *ex, const struct exchange_io *io, void *io_ctx,
    const struct exchange_env *env, struct arena *a, const char *request_id,
    const char *method, const char *path, const char *query);

/*
 * Who is calling. proxied: the route forwards upstream, so a request
 * that already passed this gateway is refused first (508). admin: the
 * route needs the master key or an admin key. 1 with ex->principal set;
 * 0 when refused (answered, reason recorded).
 */
int exchange_authenticate(struct exchange *ex, int proxied, int admin);

/* POST /v1/messages and /v1/messages/count_tokens. */
void exchange_messages(struct exchange *ex);
/* Bedrock InvokeModel(WithResponseStream) and Vertex (stream)rawPredict. */
void exchange_cloud(struct exchange *ex);
/* GET /v1/models and /v1/models/{id}. */
void exchange_models(struct exchange *ex);

/*
 * Appends text with every placeholder of the caller's tenant restored
 * (the /v1/claude-code result). MG_OK or the masking error.
 */
enum mg_err exchange_restore_text(struct exchange *ex, const char *text, size_t len,
    struct buf *out);

/*
 * Refuses the request: records reason (the first one set stays) and
 * answers status in the Anthropic envelope. After the response started
 * only the reason is kept and the message logged.
 */
void exchange_refuse(struct exchange *ex, enum outcome_reason reason, int status,
    enum api_etype type, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/*
 * After the client has the whole response (FCGX_Finish_r): everything
 * the request records, written once (spend.c). status is what was sent.
 */
void exchange_settle(struct exchange *ex, int status);

#endif
