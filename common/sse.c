/*
 * sse.c - streaming Messages response rewriter. See sse.h for the contract.
 *
 * Input is split into lines (LF, CRLF or CR, across any chunk boundary), the
 * lines into events at each blank line. An event that needs no rewriting is
 * written out as the exact bytes it arrived as. Only content_block_delta
 * events with text_delta, thinking_delta or input_json_delta are parsed,
 * unmasked and re-serialised; content_block_stop first flushes the text held
 * back for its block.
 *
 * Every buffer is reused from event to event, so a long stream costs the
 * arena only its largest event, not the sum of all of them.
 */
#include <stdint.h>
#include <string.h>

#include <json-c/json.h>

#include "sse.h"

#define SSE_MAX_INDEX 4096	/* content block indexes we keep state for */
#define SSE_JSON_DEPTH 64

enum sse_delta {
	SSE_DELTA_NONE,
	SSE_DELTA_TEXT,		/* text_delta.text */
	SSE_DELTA_THINKING,	/* thinking_delta.thinking */
	SSE_DELTA_JSON,		/* input_json_delta.partial_json */
	SSE_DELTA__MAX
};

static const struct {
	const char *type;	/* delta.type */
	const char *field;	/* the text field inside delta */
	int flags;		/* SSE_UNMASK_*: JSON text, tool input */
} sse_deltas[SSE_DELTA__MAX] = {
	[SSE_DELTA_NONE] = { NULL, NULL, 0 },
	[SSE_DELTA_TEXT] = { "text_delta", "text", 0 },
	[SSE_DELTA_THINKING] = { "thinking_delta", "thinking", 0 },
	[SSE_DELTA_JSON] = { "input_json_delta", "partial_json",
	    SSE_UNMASK_JSON | SSE_UNMASK_TOOL_INPUT },
};

/* bytes of released text kept as the unmasker's context (MASK_UNMASK_CTX) */
#define SSE_CONTEXT 32

struct sse_block {
	struct buf pending;	/* ctx bytes released already, then text held back */
	size_t ctx;
	enum sse_delta kind;	/* delta type of the pending text */
};

struct sse {
	struct arena *arena;
	const struct sse_unmasker *um;
	enum mg_err (*emit)(void *ctx, const char *bytes, size_t len);
	void *emit_ctx;
	size_t max_event;

	struct buf line;	/* current line, without its terminator */
	int cr_held;		/* chunk ended in CR: its LF may follow */
	struct buf raw;		/* exact bytes of the current event so far */
	struct buf name;	/* its `event:` value */
	int has_name;
	struct buf data;	/* its `data:` values joined with \n */
	int has_data;

	struct buf out;		/* output event being built */
	struct buf text;	/* unmasked text */

	struct sse_block *blocks;
	size_t nblocks;

	struct jwalk_usage usage;
	char *model;
	int saw_stop, saw_error;
	enum mg_err failed;
	size_t emitted;
};

/* Allocates r and all its buffers in a; nothing to free. */
struct sse *
sse_new(struct arena *a, const struct sse_unmasker *um,
    enum mg_err (*emit)(void *emit_ctx, const char *bytes, size_t len),
    void *emit_ctx)
{
	struct sse *r = arena_alloc(a, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->arena = a;
	r->um = um;
	r->emit = emit;
	r->emit_ctx = emit_ctx;
	r->max_event = SSE_MAX_EVENT;
	buf_init(&r->line, a);
	buf_init(&r->raw, a);
	buf_init(&r->name, a);
	buf_init(&r->data, a);
	buf_init(&r->out, a);
	buf_init(&r->text, a);
	return r;
}

void
sse_set_max_event(struct sse *r, size_t max)
{
	r->max_event = max;
}

const struct jwalk_usage *
sse_usage(const struct sse *r)
{
	return &r->usage;
}

const char *
sse_model(const struct sse *r)
{
	return r->model;
}

size_t
sse_events_emitted(const struct sse *r)
{
	return r->emitted;
}

static enum mg_err
emit_bytes(struct sse *r, const char *bytes, size_t len)
{
	enum mg_err rc = r->emit(r->emit_ctx, bytes, len);

	if (rc != MG_OK)
		r->failed = rc;
	else
		r->emitted++;
	return rc;
}

/* Returns the state of block index, growing the table; NULL if too big. */
static struct sse_block *
block_at(struct sse *r, size_t index)
{
	struct sse_block *nb;
	size_t n, i;

	if (index >= SSE_MAX_INDEX)
		return NULL;
	if (index < r->nblocks)
		return &r->blocks[index];
	n = r->nblocks ? r->nblocks : 4;
	while (n <= index)
		n *= 2;
	nb = arena_alloc(r->arena, n * sizeof(*nb));
	if (nb == NULL)
		return NULL;
	if (r->nblocks > 0)
		memcpy(nb, r->blocks, r->nblocks * sizeof(*nb));
	for (i = r->nblocks; i < n; i++)
		buf_init(&nb[i].pending, r->arena);
	r->blocks = nb;
	r->nblocks = n;
	return &r->blocks[index];
}

/*
 * Serialises obj as one event (with `event: name` when name is non-NULL)
 * into r->out and emits it.
 */
static enum mg_err
emit_json_event(struct sse *r, const char *name, size_t namelen, struct json_object *obj)
{
	const char *json;
	size_t jlen = 0;

	json = json_object_to_json_string_length(obj,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &jlen);
	if (json == NULL)
		return MG_ENOMEM;
	buf_clear(&r->out);
	if (name != NULL && (buf_append(&r->out, "event: ", 7) != MG_OK ||
	    buf_append(&r->out, name, namelen) != MG_OK ||
	    buf_appendc(&r->out, '\n') != MG_OK))
		return MG_ENOMEM;
	if (buf_append(&r->out, "data: ", 6) != MG_OK ||
	    buf_append(&r->out, json, jlen) != MG_OK ||
	    buf_append(&r->out, "\n\n", 2) != MG_OK)
		return MG_ENOMEM;
	return emit_bytes(r, r->out.data, r->out.len);
}

/*
 * Unmasks the first n held bytes of b (after its context) into r->text;
 * the last SSE_CONTEXT bytes released stay as the next call's context, so
 * the unmasker judges a placeholder's start by the real character before
 * it and the holdback need not keep ordinary text back.
 */
static enum mg_err
release(struct sse *r, struct sse_block *b, size_t n)
{
	size_t keep = b->ctx + n < SSE_CONTEXT ? b->ctx + n : SSE_CONTEXT;
	enum mg_err rc;

	buf_clear(&r->text);
	rc = r->um->unmask(r->um->ctx, b->pending.data, b->ctx + n,
	    sse_deltas[b->kind].flags | SSE_UNMASK_CTX(b->ctx), &r->text);
	if (rc != MG_OK)
		return rc;
	buf_consume(&b->pending, b->ctx + n - keep);
	b->ctx = keep;
	return MG_OK;
}

/*
 * Emits all text held for block index as one content_block_delta of the
 * block's delta type. Nothing when nothing is held.
 */
static enum mg_err
flush_block(struct sse *r, size_t index)
{
	struct sse_block *b = index < r->nblocks ? &r->blocks[index] : NULL;
	struct json_object *ev = NULL, *delta = NULL;
	enum mg_err rc = MG_ENOMEM;

	if (b == NULL)
		return MG_OK;
	if (b->pending.len == b->ctx) {
		buf_clear(&b->pending);
		b->ctx = 0;
		return MG_OK;
	}
	rc = release(r, b, b->pending.len - b->ctx);
	if (rc != MG_OK)
		return rc;
	buf_clear(&b->pending);	/* the block's text ends here: no context */
	b->ctx = 0;
	rc = MG_ENOMEM;
	ev = json_object_new_object();
	delta = json_object_new_object();
	if (ev == NULL || delta == NULL)
		goto out;
	if (json_object_object_add(delta, "type",
	    json_object_new_string(sse_deltas[b->kind].type)) != 0 ||
	    json_object_object_add(delta, sse_deltas[b->kind].field,
	    json_object_new_string_len(r->text.data ? r->text.data : "",
	    (int)r->text.len)) != 0)
		goto out;
	if (json_object_object_add(ev, "type",
	    json_object_new_string("content_block_delta")) != 0 ||
	    json_object_object_add(ev, "index", json_object_new_int64((int64_t)index)) != 0)
		goto out;
	if (json_object_object_add(ev, "delta", delta) != 0)
		goto out;
	delta = NULL;
	rc = emit_json_event(r, "content_block_delta", 19, ev);
out:
	json_object_put(delta);
	json_object_put(ev);
	return rc;
}

static enum mg_err
flush_all(struct sse *r)
{
	enum mg_err rc = MG_OK;
	size_t i;

	for (i = 0; i < r->nblocks && rc == MG_OK; i++)
		rc = flush_block(r, i);
	return rc;
}

/*
 * Stops the stream: releases held text (best effort: if unmasking fails the
 * held text is dropped rather than sent masked or half-restored), emits an
 * Anthropic error event and returns rc, which every later call returns too.
 * If the client is gone (emit failed) nothing more is written.
 */
static enum mg_err
fail(struct sse *r, enum mg_err rc, const char *message)
{
	struct json_object *ev = NULL, *error = NULL;
	enum mg_err erc;
	size_t i;

	if (r->failed != MG_OK)
		return r->failed;
	for (i = 0; i < r->nblocks; i++) {
		erc = flush_block(r, i);
		if (r->failed != MG_OK)
			return r->failed;	/* client gone */
		if (erc != MG_OK) {
			buf_clear(&r->blocks[i].pending);
			r->blocks[i].ctx = 0;
		}
	}
	ev = json_object_new_object();
	error = json_object_new_object();
	if (ev != NULL && error != NULL &&
	    json_object_object_add(error, "type", json_object_new_string("api_error")) == 0 &&
	    json_object_object_add(error, "message", json_object_new_string(message)) == 0 &&
	    json_object_object_add(ev, "type", json_object_new_string("error")) == 0 &&
	    json_object_object_add(ev, "error", error) == 0) {
		error = NULL;
		erc = emit_json_event(r, "error", 5, ev);
		if (erc == MG_OK)
			r->emitted--;	/* ours, not upstream's */
	}
	json_object_put(error);
	json_object_put(ev);
	if (r->failed == MG_OK)
		r->failed = rc;
	return r->failed;
}

/* Parses the event's data as JSON; NULL if it is not one JSON value. */
static struct json_object *
parse_data(struct sse *r)
{
	struct json_tokener *tok;
	struct json_object *obj;

	if (!r->has_data || r->data.len == 0 || r->data.len > INT32_MAX)
		return NULL;
	tok = json_tokener_new_ex(SSE_JSON_DEPTH);
	if (tok == NULL)
		return NULL;
	obj = json_tokener_parse_ex(tok, r->data.data, (int)r->data.len);
	if (obj != NULL && (json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != r->data.len)) {
		json_object_put(obj);
		obj = NULL;
	}
	json_tokener_free(tok);
	return obj;
}

static struct json_object *
jfield(struct json_object *obj, const char *key)
{
	struct json_object *v = NULL;

	if (!json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, key, &v))
		return NULL;
	return v;
}

static const char *
jstring(struct json_object *obj, const char *key)
{
	struct json_object *v = jfield(obj, key);

	return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* The event's content block index, or -1 if missing or out of range. */
static long
jindex(struct json_object *ev)
{
	struct json_object *v = jfield(ev, "index");
	int64_t i;

	if (!json_object_is_type(v, json_type_int))
		return -1;
	i = json_object_get_int64(v);
	if (i < 0 || i >= SSE_MAX_INDEX)
		return -1;
	return (long)i;
}

static int
is_name(struct sse *r, const char *name)
{
	return r->has_name && strcmp(r->name.data ? r->name.data : "", name) == 0;
}

static enum mg_err
pass_raw(struct sse *r)
{
	return emit_bytes(r, r->raw.data, r->raw.len);
}

/*
 * A text, thinking or JSON delta: add its text to the block's pending text,
 * release all but the holdback tail, and emit the event with the released
 * text in place of the original (nothing if nothing can be released yet).
 */
static enum mg_err
rewrite_delta(struct sse *r, struct json_object *ev, long index,
    struct json_object *delta, enum sse_delta kind)
{
	struct json_object *fv = jfield(delta, sse_deltas[kind].field);
	struct sse_block *b;
	size_t hold;
	enum mg_err rc;

	if (!json_object_is_type(fv, json_type_string))
		return fail(r, MG_EUPSTREAM, "malformed content_block_delta from upstream");
	b = block_at(r, (size_t)index);
	if (b == NULL)
		return fail(r, MG_ENOMEM, "out of memory");
	if (b->kind != kind && b->pending.len > 0) {
		rc = flush_block(r, (size_t)index);
		if (rc != MG_OK)
			return fail(r, rc, "could not restore streamed text");
		buf_clear(&b->pending);	/* another kind of text: no context */
		b->ctx = 0;
	}
	b->kind = kind;
	if (json_object_get_string_len(fv) == 0 && b->pending.len == b->ctx)
		return pass_raw(r);	/* e.g. the first, empty input_json_delta */
	if (buf_append(&b->pending, json_object_get_string(fv),
	    (size_t)json_object_get_string_len(fv)) != MG_OK)
		return fail(r, MG_ENOMEM, "out of memory");
	if (b->pending.len - b->ctx > r->max_event)
		return fail(r, MG_EUPSTREAM, "upstream event too large");
	hold = r->um->holdback(r->um->ctx, b->pending.data, b->pending.len);
	if (hold >= b->pending.len - b->ctx)
		return MG_OK;
	rc = release(r, b, b->pending.len - b->ctx - hold);
	if (rc != MG_OK)
		return fail(r, rc, "could not restore streamed text");
	if (json_object_set_string_len(fv, r->text.data ? r->text.data : "",
	    (int)r->text.len) != 1)
		return fail(r, MG_ENOMEM, "out of memory");
	rc = emit_json_event(r, r->has_name ? r->name.data : NULL, r->name.len, ev);
	if (rc != MG_OK && r->failed == MG_OK)
		return fail(r, rc, "could not restore streamed text");
	return rc;
}

/* jwalk_xform adaptor: the unmasker on decoded strings. */
static enum mg_err
unmask_plain(void *ctx, const char *in, size_t len, struct buf *out)
{
	const struct sse_unmasker *um = ctx;

	return um->unmask(um->ctx, in, len, 0, out);
}

/*
 * citations_delta: a whole citation in one event, quoting documents the
 * client sent (masked), so its text is restored in full, no holdback. The
 * event passes byte for byte when there is nothing to restore.
 */
static enum mg_err
rewrite_citation(struct sse *r, struct json_object *ev, struct json_object *delta)
{
	struct jwalk_xform xf = { unmask_plain, (void *)r->um, NULL };
	const char *before;
	size_t blen = 0;
	char *copy;
	enum mg_err rc;

	before = json_object_to_json_string_length(ev, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE, &blen);
	copy = before != NULL ? arena_strndup(r->arena, before, blen) : NULL;
	if (copy == NULL)
		return fail(r, MG_ENOMEM, "out of memory");
	rc = jwalk_xform_generic(jfield(delta, "citation"), r->arena, &xf);
	if (rc != MG_OK)
		return fail(r, rc, "could not restore streamed text");
	before = json_object_to_json_string_length(ev, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE, &blen);
	if (before != NULL && memcmp(copy, before, blen) == 0)
		return pass_raw(r);
	rc = emit_json_event(r, r->has_name ? r->name.data : NULL, r->name.len, ev);
	if (rc != MG_OK && r->failed == MG_OK)
		return fail(r, rc, "could not restore streamed text");
	return rc;
}

/*
 * May the event carry text to restore or state the rewriter keeps (usage,
 * model, block boundaries, the end), by its name or anywhere in its data?
 * Others (ping, events we do not know) pass byte for byte without being
 * parsed.
 */
static int
names_state(struct sse *r)
{
	static const char *const names[] = { "content_block_delta", "content_block_start",
		"content_block_stop", "message_start", "message_delta", "message_stop", "error" };
	size_t i;

	for (i = 0; i < MG_NELEM(names); i++)
		if (is_name(r, names[i]) || (r->data.len > 0 &&
		    memmem(r->data.data, r->data.len, names[i], strlen(names[i])) != NULL))
			return 1;	/* the data's type wins over the name: parse it */
	return 0;
}

/* Handles one complete event (r->raw, r->name, r->data). */
static enum mg_err
dispatch(struct sse *r)
{
	struct json_object *ev = NULL, *delta;
	const char *type;
	enum sse_delta kind;
	enum mg_err rc = MG_OK;
	long index;
	size_t k;

	if (!r->has_data)
		return pass_raw(r);	/* comments, keep-alives, stray blank lines */
	if (r->has_name && !names_state(r))
		return pass_raw(r);	/* ping and events we do not know: copied, not parsed */
	ev = parse_data(r);
	type = jstring(ev, "type");
	if (type == NULL && r->has_name)
		type = r->name.data;
	if (type == NULL)
		type = "";
	if (ev == NULL || !json_object_is_type(ev, json_type_object)) {
		if (is_name(r, "content_block_delta") || is_name(r, "content_block_start") ||
		    is_name(r, "content_block_stop")) {
			rc = fail(r, MG_EUPSTREAM, "malformed event from upstream");
			goto out;
		}
		rc = pass_raw(r);
		goto out;
	}

	if (strcmp(type, "content_block_delta") == 0) {
		index = jindex(ev);
		delta = jfield(ev, "delta");
		if (index < 0 || !json_object_is_type(delta, json_type_object)) {
			rc = fail(r, MG_EUPSTREAM, "malformed content_block_delta from upstream");
			goto out;
		}
		kind = SSE_DELTA_NONE;
		for (k = 1; k < SSE_DELTA__MAX; k++)
			if (strcmp(jstring(delta, "type") ? jstring(delta, "type") : "",
			    sse_deltas[k].type) == 0)
				kind = (enum sse_delta)k;
		if (kind == SSE_DELTA_NONE &&
		    strcmp(jstring(delta, "type") ? jstring(delta, "type") : "", "citations_delta") == 0)
			rc = rewrite_citation(r, ev, delta);
		else if (kind == SSE_DELTA_NONE)
			rc = pass_raw(r);	/* signature_delta, unknown deltas */
		else
			rc = rewrite_delta(r, ev, index, delta, kind);
	} else if (strcmp(type, "content_block_stop") == 0 ||
	    strcmp(type, "content_block_start") == 0) {
		index = jindex(ev);
		if (index < 0) {
			rc = fail(r, MG_EUPSTREAM, "malformed content block event from upstream");
			goto out;
		}
		rc = flush_block(r, (size_t)index);
		if (rc != MG_OK && r->failed == MG_OK)
			rc = fail(r, rc, "could not restore streamed text");
		if (rc == MG_OK)
			rc = pass_raw(r);
	} else if (strcmp(type, "message_start") == 0) {
		struct json_object *msg = jfield(ev, "message");
		const char *model = jstring(msg, "model");

		jwalk_usage_merge(jfield(msg, "usage"), &r->usage);
		if (model != NULL) {
			r->model = arena_strdup(r->arena, model);
			if (r->model == NULL) {
				rc = fail(r, MG_ENOMEM, "out of memory");
				goto out;
			}
		}
		rc = pass_raw(r);
	} else if (strcmp(type, "message_delta") == 0 || strcmp(type, "message_stop") == 0 ||
	    strcmp(type, "error") == 0) {
		if (strcmp(type, "message_delta") == 0)
			jwalk_usage_merge(jfield(ev, "usage"), &r->usage);
		else if (strcmp(type, "message_stop") == 0)
			r->saw_stop = 1;
		else
			r->saw_error = 1;
		/* blocks should all be stopped by now; never lose held text */
		rc = flush_all(r);
		if (rc != MG_OK && r->failed == MG_OK)
			rc = fail(r, rc, "could not restore streamed text");
		if (rc == MG_OK)
			rc = pass_raw(r);
	} else
		rc = pass_raw(r);	/* ping, unknown events */
out:
	json_object_put(ev);
	return rc;
}

static void
reset_event(struct sse *r)
{
	buf_clear(&r->raw);
	buf_clear(&r->name);
	buf_clear(&r->data);
	r->has_name = 0;
	r->has_data = 0;
}

/* Handles one complete line (r->line, terminator already in r->raw). */
static enum mg_err
process_line(struct sse *r)
{
	const char *s = r->line.data ? r->line.data : "";
	size_t len = r->line.len, flen;
	const char *colon, *value;
	size_t vlen;
	enum mg_err rc = MG_OK;

	if (len == 0) {
		rc = dispatch(r);
		reset_event(r);
		return rc;
	}
	if (s[0] == ':')
		goto done;	/* comment */
	colon = memchr(s, ':', len);
	flen = colon != NULL ? (size_t)(colon - s) : len;
	value = colon != NULL ? colon + 1 : s + len;
	vlen = len - (size_t)(value - s);
	if (vlen > 0 && value[0] == ' ') {
		value++;
		vlen--;
	}
	if (flen == 5 && memcmp(s, "event", 5) == 0) {
		buf_clear(&r->name);
		if (buf_append(&r->name, value, vlen) != MG_OK)
			rc = MG_ENOMEM;
		r->has_name = 1;
	} else if (flen == 4 && memcmp(s, "data", 4) == 0) {
		if ((r->has_data && buf_appendc(&r->data, '\n') != MG_OK) ||
		    buf_append(&r->data, value, vlen) != MG_OK)
			rc = MG_ENOMEM;
		r->has_data = 1;
	}
	/* id, retry and unknown fields only travel in the raw bytes */
done:
	buf_clear(&r->line);
	if (rc != MG_OK)
		return fail(r, rc, "out of memory");
	return MG_OK;
}

/* Ends the current line with terminator term (1 or 2 bytes). */
static enum mg_err
end_line(struct sse *r, const char *term, size_t termlen)
{
	if (buf_append(&r->raw, r->line.data ? r->line.data : "", r->line.len) != MG_OK ||
	    buf_append(&r->raw, term, termlen) != MG_OK)
		return fail(r, MG_ENOMEM, "out of memory");
	return process_line(r);
}

/*
 * Consumes a chunk. A CR that ends a chunk is held until the next byte shows
 * whether it is a CRLF, so the same stream gives the same output bytes
 * however it is chunked.
 */
enum mg_err
sse_feed(struct sse *r, const char *chunk, size_t len)
{
	size_t i = 0, j;
	enum mg_err rc;

	if (r->failed != MG_OK)
		return r->failed;
	if (len > 0 && r->cr_held) {
		r->cr_held = 0;
		if (chunk[0] == '\n') {
			rc = end_line(r, "\r\n", 2);
			i = 1;
		} else
			rc = end_line(r, "\r", 1);
		if (rc != MG_OK)
			return rc;
	}
	while (i < len) {
		for (j = i; j < len && chunk[j] != '\n' && chunk[j] != '\r'; j++)
			;
		if (r->raw.len + r->line.len + (j - i) > r->max_event)
			return fail(r, MG_EUPSTREAM, "upstream event too large");
		if (buf_append(&r->line, chunk + i, j - i) != MG_OK)
			return fail(r, MG_ENOMEM, "out of memory");
		if (j == len)
			break;
		if (chunk[j] == '\n') {
			rc = end_line(r, "\n", 1);
			i = j + 1;
		} else if (j + 1 == len) {
			r->cr_held = 1;
			rc = MG_OK;
			i = len;
		} else if (chunk[j + 1] == '\n') {
			rc = end_line(r, "\r\n", 2);
			i = j + 2;
		} else {
			rc = end_line(r, "\r", 1);
			i = j + 1;
		}
		if (rc != MG_OK)
			return rc;
	}
	return MG_OK;
}

/* Upstream ended: see sse.h. */
enum mg_err
sse_finish(struct sse *r)
{
	enum mg_err rc;

	if (r->failed != MG_OK)
		return r->failed;
	if (r->cr_held) {
		r->cr_held = 0;
		rc = end_line(r, "\r", 1);
		if (rc != MG_OK)
			return rc;
	}
	if (r->line.len > 0 || r->has_data || r->has_name)
		return fail(r, MG_EUPSTREAM, "upstream stream ended mid-event");
	if (r->raw.len > 0) {
		rc = pass_raw(r);	/* trailing comment lines */
		reset_event(r);
		if (rc != MG_OK)
			return rc;
	}
	if (!r->saw_stop && !r->saw_error)
		return fail(r, MG_EUPSTREAM, "upstream stream ended before message_stop");
	rc = flush_all(r);
	if (rc != MG_OK && r->failed == MG_OK)
		rc = fail(r, rc, "could not restore streamed text");
	return rc;
}
