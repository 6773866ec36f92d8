/*
 * http.h - one request and its response, over FastCGI (FCGX_*) or plain
 * CGI (environ, stdin, stdout). Handlers see only this interface.
 */
#ifndef MG_HTTP_H
#define MG_HTTP_H

#include <stddef.h>
#include <fcgiapp.h>

#include "apierr.h"
#include "arena.h"
#include "exchange.h"
#include "mg.h"

struct worker;

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

	/*
	 * The request's life in the core and its outcome record (route,
	 * tenant, reason, upstream timings), read by the access log, the
	 * metrics and the spend log after the response.
	 */
	struct exchange ex;
	int aws_errors;		/* Bedrock route: errors also as AWS SDKs read them */
	double t_start;

	/* response state */
	struct buf headers;	/* extra headers, "Name: value\r\n" each */
	int status;
	int started;
	int client_gone;
	double peer_checked_ms;	/* last kernel check of the client's connection */
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
void http_error(struct request *req, int status, enum api_etype type,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* The envelope as a string in the request arena (for SSE error events). */
const char *http_error_json(struct request *req, enum api_etype type, const char *message);

#endif
