/*
 * exchange_int.h - the state of one upstream call, shared by the files of
 * the exchange: exchange.c (the request's life), exchange_upstream.c
 * (what goes upstream: headers, query, loop mark, the call) and
 * exchange_restore.c (what comes back: restored JSON, SSE or AWS event
 * stream).
 */
#ifndef MG_EXCHANGE_INT_H
#define MG_EXCHANGE_INT_H

#include <curl/curl.h>

#include "exchange.h"
#include "jwalk.h"
#include "sse.h"

struct bedrock_stream;
struct mask_session;
struct up_call;
struct wire_route;

/* An upstream response larger than this is refused (non-streaming). */
#define EXCHANGE_MAX_RESPONSE (64u * 1024 * 1024)

struct exchange_call {
	struct exchange *ex;
	struct mask_session *ms;	/* NULL: nothing to unmask (models) */
	int unmask_json;		/* restore a Messages JSON response */
	const char *content_type;
	struct buf body;		/* buffered non-streaming response */
	struct sse *sse;		/* set once a 200 event stream starts */
	struct bedrock_stream *bs;	/* or a 200 Bedrock event stream */
	const struct wire_route *wire;	/* Bedrock/Vertex route; NULL: Anthropic */
	struct curl_slist *headers;
	struct up_call *call;
	const char *model;		/* the target model (cloud routes: for the URL) */
	const char *header_refused;	/* a request header not forwarded, or NULL */
	enum mg_err header_rc;		/* why: MG_OK/MG_EBLOCKED = it held a value */
	struct sse_unmasker um;		/* the rewriter keeps a pointer to it */
};

/* exchange.c: the response wrappers every part writes through */
void exchange_add_header(struct exchange *ex, const char *name, const char *value);
void exchange_start(struct exchange *ex, int status, const char *content_type);
enum mg_err exchange_write(struct exchange *ex, const void *data, size_t len, int flush);
/* the refusal of the request's budget of new mappings, if that was the error */
int exchange_mint_refused(struct exchange *ex);

/* exchange_model.c */
/*
 * Checks the model name (a model id, nothing the rules find), applies the
 * alias, the allow-list and the max_tokens clamp. The model is the body's
 * or, on a Bedrock or Vertex route, in_path (the body has none then, and
 * the alias changes the upstream URL instead of the body). Sets *model to
 * the target (arena or model-table lifetime). 0 when refused (answered).
 */
int exchange_model_policy(struct exchange *ex, struct json_object *root, const char *in_path,
    const char **model);

/* exchange_body.c: the request body, from the client's bytes to what goes upstream */
struct exchange_body {
	const char *raw;		/* the client's bytes */
	size_t rawlen;
	const char *src;		/* what root was parsed from: raw, or raw without */
	size_t srclen;			/* the elements taken from the cache */
	struct json_object *root;
	struct jwalk_elems el;		/* the elements of system, tools, messages */
	size_t hits;			/* elements taken from the cache */
	struct mask_session *ms;	/* the session the cache lookups began */
	const char *in_path;		/* the model of a cloud route's path (model policy) */
};
/*
 * Reads the body and parses it strictly (cacheable: the elements the cache
 * of masked elements holds are taken from it and not parsed; then b->ms is
 * the session to mask in). 0 when refused (answered).
 */
int exchange_body_read(struct exchange *ex, struct exchange_body *b, int cacheable);
/* Masks the body in ms (b->ms afterwards: it may be a new one). 0 when refused (answered). */
int exchange_body_mask(struct exchange *ex, struct exchange_body *b, struct mask_session *ms);
/* The bytes to forward (arena); NULL when refused (answered). */
char *exchange_body_splice(struct exchange *ex, struct exchange_body *b, size_t *len);
void exchange_body_free(struct exchange_body *b);

/* exchange_upstream.c */
/* 1 (answered 400 or 508) when the request already passed this gateway */
int exchange_loop_detected(struct exchange *ex);
/* a query value made only of characters that need no URL encoding */
int exchange_plain_value(const char *v, size_t len);
/* Forwards the (already masked) body and writes the response. */
void exchange_forward(struct exchange_call *xc, const char *method, const char *body,
    size_t body_len);

/* exchange_restore.c: the upstream call's callbacks and the final answer */
enum mg_err exchange_on_header(void *ctx, const char *name, const char *value);
enum mg_err exchange_on_body(void *ctx, const char *data, size_t len);
/* a buffered (non-streaming) response: restored when it is a Messages answer */
void exchange_send_buffered(struct exchange_call *xc, int status);
/* ends a started stream; 1 when the response was a stream */
int exchange_finish_stream(struct exchange_call *xc, enum mg_err rc, const char *error);

#endif
