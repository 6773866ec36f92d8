/*
 * wire.h - the upstream wire formats beyond the Anthropic Messages API:
 * Amazon Bedrock InvokeModel and Google Vertex AI rawPredict. All three
 * carry the same Messages body and share the whole exchange (auth, limits,
 * masking, restoring, spend, audit); a format only decides where the model
 * comes from (the path), the upstream URL, how the request is signed and
 * which client headers must never travel (the client's own cloud
 * credentials). Response framing: Bedrock streams are AWS event-stream
 * (bedrock_stream.h), Vertex streams are SSE.
 */
#ifndef MG_WIRE_H
#define MG_WIRE_H

#include <stddef.h>

#include "arena.h"
#include "cfg.h"
#include "mg.h"

enum wire_kind { WIRE_ANTHROPIC, WIRE_BEDROCK, WIRE_VERTEX, WIRE__MAX };

#define WIRE_EVENTSTREAM "application/vnd.amazon.eventstream"

struct wire_route {
	enum wire_kind kind;
	char *model;		/* decoded model id from the path */
	const char *verb;	/* invoke, invoke-with-response-stream, rawPredict, streamRawPredict */
	int stream;		/* the response is a stream */
	int count_tokens;	/* Vertex count-tokens:rawPredict: model in the body */
	char *project;		/* Vertex: from the path */
	char *location;
	int translate;		/* a /v1/messages request sent on in this format */
};

struct json_object;

/*
 * Parses a Bedrock (/model/{id}/{verb}) or Vertex
 * (/v1/projects/{p}/locations/{l}/publishers/anthropic/models/{id}:{verb})
 * path into r (strings in a). MG_ENOTFOUND when it is neither, MG_EINVAL
 * for a malformed model id (escapes that decode to control characters or
 * path tricks).
 */
enum mg_err wire_parse_path(struct arena *a, const char *path, struct wire_route *r);

/*
 * The upstream URL for r calling model (after alias); NULL with the reason
 * in err when the format is not configured (or out of memory).
 */
char *wire_upstream_url(const struct cfg *c, struct arena *a, const struct wire_route *r,
    const char *model, char *err, size_t errlen);

/*
 * Adds the upstream credentials for this exact body, one header line
 * ("Name: value") per call of add. MG_EINVAL: not configured;
 * MG_EUPSTREAM: the token endpoint failed (reason in err for both).
 */
enum mg_err wire_sign(const struct cfg *c, struct arena *a, const struct wire_route *r,
    const char *url, const char *content_type, const char *body, size_t body_len,
    enum mg_err (*add)(void *ctx, const char *line), void *ctx, char *err, size_t errlen);

/*
 * MASKGATE_UPSTREAM_FORMAT=bedrock or vertex: the route a /v1/messages (or
 * count_tokens) request takes upstream, for the policy's target model.
 * MG_ENOTFOUND when the upstream speaks Messages (nothing to translate);
 * MG_EINVAL when this call has no equivalent there (count_tokens on
 * Bedrock).
 */
enum mg_err wire_translated_route(const struct cfg *c, int count_tokens, int stream,
    const char *model, struct wire_route *r);

/*
 * Rewrites a Messages body in place for r's format: no model (it is in
 * the path), anthropic_version set when absent, for Bedrock no stream
 * field and the anthropic-beta header's values (betas, may be NULL) as the
 * anthropic_beta array.
 */
enum mg_err wire_translate_body(struct json_object *root, const struct wire_route *r,
    const char *betas);

/* 1 for a client header this format never forwards (cloud SDK credentials). */
int wire_drop_header(const struct wire_route *r, const char *name);

#endif
