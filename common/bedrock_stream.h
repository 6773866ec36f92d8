/*
 * bedrock_stream.h - the Bedrock InvokeModelWithResponseStream rewriter:
 * AWS event-stream frames whose `chunk` events carry
 * {"bytes": "<base64 of one Messages stream event>"}.
 *
 * Each chunk is decoded to its Messages event and run through the SSE
 * rewriter (sse.h), so placeholders are restored with the same holdback
 * across events and network chunks as on /v1/messages; every event the
 * rewriter emits is framed anew with its own lengths and CRCs. A frame the
 * rewriter passes through unchanged goes out as the exact frame received.
 * Exception frames from upstream pass through; our own errors (a corrupt
 * frame, a broken stream) go out as an internalServerException frame,
 * which AWS SDK clients raise as an error, after the held text.
 */
#ifndef MG_BEDROCK_STREAM_H
#define MG_BEDROCK_STREAM_H

#include <stddef.h>

#include "arena.h"
#include "jwalk.h"
#include "mg.h"
#include "sse.h"

struct bedrock_stream;

/* Same ownership and emit contract as sse_new(). */
struct bedrock_stream *bedrock_stream_new(struct arena *a, const struct sse_unmasker *um,
    enum mg_err (*emit)(void *emit_ctx, const char *bytes, size_t len), void *emit_ctx);

/*
 * Writes the restored events as SSE (named events, as the Messages API
 * streams them) instead of frames: a /v1/messages client served from a
 * Bedrock upstream. Exceptions become SSE error events.
 */
void bedrock_stream_sse_out(struct bedrock_stream *b);

/* Consumes upstream bytes; errors as sse_feed() (the client got an exception frame). */
enum mg_err bedrock_stream_feed(struct bedrock_stream *b, const char *chunk, size_t len);

/* The upstream ended; as sse_finish(). */
enum mg_err bedrock_stream_finish(struct bedrock_stream *b);

const struct jwalk_usage *bedrock_stream_usage(const struct bedrock_stream *b);

/*
 * Appends one exception frame ({"message": message}) to out; for errors
 * raised before or instead of a stream.
 */
enum mg_err bedrock_exception_frame(struct buf *out, const char *exception_type,
    const char *message);

/* Base64 (standard alphabet, padded) helpers shared with the request side. */
enum mg_err bedrock_b64_decode(const char *in, size_t len, struct buf *out);
enum mg_err bedrock_b64_encode(const char *in, size_t len, struct buf *out);

#endif
