/*
 * sse.h - the streaming response rewriter: reads the upstream Messages SSE
 * stream in arbitrary network chunks and writes it back event by event with
 * placeholders restored in text_delta, thinking_delta and input_json_delta
 * (tool input: restored as the rules' restore policies allow).
 *
 * A placeholder can be split across deltas and chunks, so for each content
 * block the rewriter keeps the shortest tail that could still be the start
 * of a placeholder (the unmasker's holdback) and releases it with the next
 * delta or, as one extra delta event, just before content_block_stop; the
 * last bytes it released go with the next unmask call as context
 * (SSE_UNMASK_CTX), so ordinary text is never held back. All
 * other events pass through byte for byte, in order.
 *
 * The rewriter never calls the masking engine itself: the proxy wires
 * struct sse_unmasker to mask_unmask() and mask_holdback().
 */
#ifndef MG_SSE_H
#define MG_SSE_H

#include <stddef.h>
#include "arena.h"
#include "jwalk.h"
#include "mg.h"

/* Default bound on one upstream event (all its lines), in bytes. */
#define SSE_MAX_EVENT (16u * 1024 * 1024)

/* unmask flags: the same bits as MASK_UNMASK_* */
#define SSE_UNMASK_JSON 1		/* the text is the inside of a JSON string */
#define SSE_UNMASK_TOOL_INPUT 2		/* the text is tool input (input_json_delta) */
/*
 * in[0..n) is context: text released before, not to be written again; it
 * only tells the unmasker what stands before a placeholder (MASK_UNMASK_CTX).
 */
#define SSE_UNMASK_CTX(n) ((int)(n) << 8)
#define SSE_UNMASK_CTX_LEN(flags) ((size_t)(((unsigned)(flags) >> 8) & 0xff))

struct sse_unmasker {
	/*
	 * Appends in[0..len) with placeholders restored to out; flags say
	 * where the text stands (SSE_UNMASK_*): inside a JSON string restored
	 * values are escaped, in tool input the restore policies apply.
	 */
	enum mg_err (*unmask)(void *ctx, const char *in, size_t len, int flags,
	    struct buf *out);
	/* Length of the tail of in[0..len) that must wait for more text. */
	size_t (*holdback)(void *ctx, const char *in, size_t len);
	void *ctx;
};

struct sse;

/*
 * Returns a new rewriter allocated in a (request lifetime; nothing to free),
 * or NULL. um and its ctx, and emit_ctx, must outlive it.
 * emit is called once per complete output event with its bytes (valid only
 * during the call); the caller writes and flushes them. A non-MG_OK return
 * (client gone) makes sse_feed()/sse_finish() stop and return it at once.
 */
struct sse *sse_new(struct arena *a, const struct sse_unmasker *um,
    enum mg_err (*emit)(void *emit_ctx, const char *bytes, size_t len),
    void *emit_ctx);

/* Changes the per-event size bound (default SSE_MAX_EVENT); for tests. */
void sse_set_max_event(struct sse *r, size_t max);

/*
 * Consumes one chunk of upstream bytes, emitting every event it completes.
 * Returns MG_OK; the emit callback's error; MG_EUPSTREAM after malformed
 * upstream SSE (an error event has then been emitted, see below); or
 * MG_ENOMEM / an unmask error (likewise followed by an error event). After
 * any error, further calls return the same error and emit nothing.
 *
 * On malformed upstream data (bad JSON in a delta, an event over the size
 * bound) the rewriter releases the held text of open blocks, emits
 * `event: error` with {"type":"error","error":{"type":"api_error",...}}
 * and fails.
 */
enum mg_err sse_feed(struct sse *r, const char *chunk, size_t len);

/*
 * The upstream stream ended. Returns MG_OK when it ended cleanly (after
 * message_stop or an upstream error event, with no partial event). If it
 * stopped mid-event or before message_stop, releases held text, emits an
 * error event and returns MG_EUPSTREAM.
 */
enum mg_err sse_finish(struct sse *r);

/*
 * Usage seen so far: message_start.message.usage, then every
 * message_delta.usage (cumulative counts overwrite). Owned by r.
 */
const struct jwalk_usage *sse_usage(const struct sse *r);

/* message_start.message.model (owned by r), or NULL if not seen yet. */
const char *sse_model(const struct sse *r);

/*
 * Number of upstream-derived events emitted so far, not counting the error
 * event the rewriter writes itself (0: no upstream event reached the client).
 */
size_t sse_events_emitted(const struct sse *r);

#endif
