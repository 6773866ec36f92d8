/*
 * http.h - one request and its response, over FastCGI (FCGX_*) or plain
 * CGI (environ, stdin, stdout). Handlers see only this interface.
 */
#ifndef MG_HTTP_H
#define MG_HTTP_H

#include <stddef.h>
#include <fcgiapp.h>

#include "arena.h"
#include "mg.h"

struct worker;
struct mask_session;

/* Anthropic error types used in the error envelope. */
enum http_etype {
	ET_INVALID_REQUEST,	/* 400, 405, 413 */
	ET_AUTHENTICATION,	/* 401 */
	ET_PERMISSION,		/* 403 */
	ET_NOT_FOUND,		/* 404 */
	ET_REQUEST_TOO_LARGE,	/* 413 */
	ET_RATE_LIMIT,		/* 429 */
	ET_API,			/* 500, 502, 503, 504, 508 */
	ET_OVERLOADED,		/* 529 */
	ET_TIMEOUT,		/* 504 */
	ET__MAX
};

struct request {
	struct worker *worker;
	struct arena *arena;
	FCGX_Request *fcgx;	/* NULL in CGI mode */
	const char *method;
	const char *path;	/* without query string */
	const char *query;	/* "" when none */
	char request_id[32];
	char *body;		/* NUL-terminated, set by http_read_body */
	size_t body_len;

	/* filled by the handler for the access log */
	const char *tenant;
	const char *upstream_request_id;	/* sent as request-id if set */
	long upstream_ms;		/* -1 until the upstream was called */
	long upstream_ttfb_ms;		/* -1 until the upstream answered */
	const char *route;		/* routing-table path, for metrics */
	int reject_reason;		/* enum metrics_reason; MR__MAX = none */
	const struct mask_session *mask;	/* for per-type mask metrics */
	int aws_errors;		/* Bedrock route: errors also as AWS SDKs read them */
	double t_start;

	/* response state */
	struct buf headers;	/* extra headers, "Name: value\r\n" each */
	int status;
	int started;
	int client_gone;
	size_t bytes_out;
};

/* Prepares req for one request; fcgx NULL means CGI. */
void http_request_init(struct request *req, struct worker *w, struct arena *a,
    FCGX_Request *fcgx);

/* A CGI/FastCGI parameter such as REQUEST_METHOD, or NULL. */
const char *http_param(struct request *req, const char *name);
/* A request header by its HTTP name ("x-api-key"), or NULL. */
const char *http_header(struct request *req, const char *name);
/*
 * Calls fn for every request header (name lowercased with '-', value).
 * Names come from HTTP_* parameters.
 */
void http_each_header(struct request *req,
    void (*fn)(void *ctx, const char *name, const char *value), void *ctx);

/*
 * Reads the whole body into req->body, at most max bytes. MG_ETOOBIG past
 * max, MG_EIO when the client sent less than announced.
 */
enum mg_err http_read_body(struct request *req, size_t max);

/* Adds a response header; call before the first write. */
void http_add_header(struct request *req, const char *name, const char *value);
/* Sends the status line and headers (once). */
void http_start(struct request *req, int status, const char *content_type);
/* Writes body bytes; returns MG_EIO once the client has gone. */
enum mg_err http_write(struct request *req, const void *data, size_t len);
/* Pushes everything written so far to the web server now. */
enum mg_err http_flush(struct request *req);

/* A complete JSON response. */
void http_json(struct request *req, int status, const char *json);
/*
 * A maskgate error in the Anthropic envelope:
 * {"type":"error","error":{"type":"...","message":"..."}}
 */
void http_error(struct request *req, int status, enum http_etype type,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* The envelope as a string in the request arena (for SSE error events). */
const char *http_error_json(struct request *req, enum http_etype type, const char *message);

#endif
