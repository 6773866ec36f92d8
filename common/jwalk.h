/*
 * jwalk.h - the JSON side of the messages proxy: strict parsing of client
 * bodies, the walk that masks every string and number of a Messages request,
 * the walk that unmasks a non-streaming Messages response, deterministic
 * serialisation, and the few field accessors the proxy needs (model,
 * max_tokens, stream, usage).
 *
 * The walker never calls the masking engine itself: it takes the text
 * transform as a callback (struct jwalk_xform), which the proxy wires to
 * mask_text() and mask_text_keyed(), or mask_unmask(..., json_escape = 0, ...).
 *
 * Trees are json-c objects. A tree returned by jwalk_parse() is owned by the
 * caller and released with jwalk_free().
 */
#ifndef MG_JWALK_H
#define MG_JWALK_H

#include <stddef.h>
#include "arena.h"
#include "mg.h"

struct json_object;

/* Deepest nesting jwalk_parse() accepts (the top-level object counts as 1). */
#define JWALK_MAX_DEPTH 64

/*
 * A text transform: appends the transformed in[0..len) to out. Any error it
 * returns stops the walk and is returned unchanged (MG_EBLOCKED, MG_ESTORE,
 * ...), so the caller can refuse the request (fail closed). keyed, when not
 * NULL, is used for values that stand under an object key, with the key as
 * context (mask_text_keyed); fn for the rest and for the keys themselves.
 */
struct jwalk_xform {
	enum mg_err (*fn)(void *ctx, const char *in, size_t len, struct buf *out);
	void *ctx;
	enum mg_err (*keyed)(void *ctx, const char *key, size_t keylen, const char *in,
	    size_t len, struct buf *out);
};

/* Token counts from a Messages response or stream; absent fields stay 0. */
struct jwalk_usage {
	long input_tokens;
	long output_tokens;
	long cache_creation_input_tokens;
	long cache_read_input_tokens;
};

/*
 * Parses a client body strictly: valid JSON (no comments, no trailing
 * garbage, no NaN), valid UTF-8 (no overlong forms, no encoded surrogates,
 * nothing past U+10FFFF), no lone surrogate \u escapes, nesting at most
 * JWALK_MAX_DEPTH, integers that json-c can carry exactly, and an object
 * at the top level.
 * On success *root is a new tree the caller frees with jwalk_free().
 * On bad input returns MG_EINVAL and writes a one-line message for the
 * client into err (e.g. "body is not valid JSON at offset 12"), *root NULL.
 * MG_ENOMEM if json-c could not allocate.
 */
enum mg_err jwalk_parse(const char *body, size_t len, struct json_object **root,
    char *err, size_t errlen);

/* Releases a tree from jwalk_parse(); NULL is fine. */
void jwalk_free(struct json_object *root);

/*
 * Masks, in place, every string of a Messages (or count_tokens) request at
 * any depth, object keys included, each value with its object key as
 * context (xf->keyed), and every number (its text with its key as context;
 * a number that masks becomes a JSON string holding the placeholder).
 * Left alone: only the short list of opaque values in api_keep() (jwalk.c),
 * each proven by its position and its base64 shape. Values the API routes
 * by (type, role, media_type, top-level model) are scanned but never
 * changed: one that would need masking is refused.
 * Temporary buffers come from a (request lifetime).
 * Returns MG_EINVAL with a message in err when a field the API types has the
 * wrong JSON type (messages not an array, content a number, ...) or a value
 * cannot be masked without breaking the request (the message names it);
 * any error of the transform is returned unchanged. On error the tree is
 * partly masked and must not be forwarded.
 */
enum mg_err jwalk_mask_request(struct json_object *root, struct arena *a,
    const struct jwalk_xform *xf, char *err, size_t errlen);

/*
 * The typed fields of a Messages request (jwalk_check.c): MG_EINVAL with a
 * message naming the field when system, messages, content blocks or tools
 * have the wrong JSON type. jwalk_mask_request checks this first.
 */
enum mg_err jwalk_check_request(struct json_object *root, char *err, size_t errlen);

/*
 * Two-phase masking (mask_defer/mask_resolve): the first walk only
 * collects (the tree is not changed); provisional() counts outputs that
 * are not final; resolve() settles every value at once and says whether
 * the first walk must be thrown away (*again); then the changes are
 * applied, provisional ones masked again.
 */
struct jwalk_phases {
	unsigned long (*provisional)(void *ctx);
	enum mg_err (*resolve)(void *ctx, int *again);
	void *ctx;
};

/* jwalk_mask_request in two phases (ph NULL: in one, as jwalk_mask_request). */
enum mg_err jwalk_mask_request_phased(struct json_object *root, struct arena *a,
    const struct jwalk_xform *xf, const struct jwalk_phases *ph, char *err, size_t errlen);

/*
 * Unmasks, in place, the places a non-streaming Messages response carries
 * model output: content[] text.text (and its citations) and
 * thinking.thinking with xf; tool_use.input string values and keys at any
 * depth with xf_tool (the restore policies differ for tool input).
 * Everything else is left unchanged, and shapes it does not recognise are
 * skipped, not errors. Temporary buffers come from a. Transform errors are
 * returned unchanged.
 */
enum mg_err jwalk_unmask_response(struct json_object *root, struct arena *a,
    const struct jwalk_xform *xf, const struct jwalk_xform *xf_tool);

/*
 * Transforms, in place, every string value under v except those under
 * structural keys (type, id, tool_use_id, name, signature, data, media_type,
 * cache_control, url, file_id, encrypted_content, ...): the response side's
 * walk for objects it does not know, e.g. citations in a stream. (The
 * request walk masks everything, see jwalk_mask_request.)
 */
enum mg_err jwalk_xform_generic(struct json_object *v, struct arena *a,
    const struct jwalk_xform *xf);

/*
 * Serialises a tree deterministically (json-c plain, no slash escaping; key
 * order and the original spelling of non-integer numbers are kept), so the
 * same input always gives byte-identical output. Returns a NUL-terminated
 * copy owned by a and its length in *len, or NULL (out of memory).
 */
char *jwalk_serialize(struct json_object *root, struct arena *a, size_t *len);

/*
 * Byte-faithful forwarding (jwalk_splice.c): returns body[0..len), the text
 * root was parsed from by jwalk_parse(), with only the values (and keys)
 * that differ in root written anew in json-c's spelling; everything else
 * keeps the client's bytes (whitespace, escapes, number spellings). The
 * result parses to exactly root. NUL-terminated, owned by a, its length in
 * *outlen; NULL when out of memory.
 */
char *jwalk_splice(struct json_object *root, const char *body, size_t len, struct arena *a,
    size_t *outlen);

/*
 * MG_EINVAL (message in err) when body[0..len), parsed into root, holds an
 * object with a key twice: json-c keeps one copy, another parser may keep
 * the other. Called by jwalk_parse().
 */
enum mg_err jwalk_check_duplicates(struct json_object *root, const char *body, size_t len,
    char *err, size_t errlen);

/*
 * Reads the token counts of a usage object into u, overwriting only the
 * fields present (message_delta carries cumulative counts). NULL or a
 * non-object usage leaves u unchanged.
 */
void jwalk_usage_merge(struct json_object *usage, struct jwalk_usage *u);

/* Zeroes u, then reads root.usage of a non-streaming Messages response. */
void jwalk_response_usage(struct json_object *root, struct jwalk_usage *u);

/*
 * Returns root.model, borrowed from the tree (valid until it changes or is
 * freed), or NULL when absent or not a string.
 */
const char *jwalk_get_model(struct json_object *root);

/* Sets root.model to a copy of model, in place (key order kept). */
enum mg_err jwalk_set_model(struct json_object *root, const char *model);

/*
 * Reads root.max_tokens into *out: MG_OK, MG_ENOTFOUND when absent, MG_EINVAL
 * when not an integer.
 */
enum mg_err jwalk_get_max_tokens(struct json_object *root, long *out);

/* Sets root.max_tokens, in place (key order kept). */
enum mg_err jwalk_set_max_tokens(struct json_object *root, long value);

/*
 * The elements of a request's top-level arrays system, tools and messages,
 * found in the raw body by jwalk_elems.c, for the per-worker cache of
 * masked elements (mask_elems.c): an element sent again byte for byte
 * takes its masked bytes from the cache, and only the rest is parsed.
 */
struct jwalk_elem {
	const char *field;	/* "system", "tools" or "messages" (static) */
	size_t start, end;	/* its bytes in the body */
	int cached;		/* the caller found it in the cache: out is set */
	const char *out;	/* its masked bytes */
	size_t outlen;
};

struct jwalk_array {
	const char *field;
	size_t open, close;	/* body[open] is '[', body[close - 1] is ']' */
	size_t first, n;	/* its elements: v[first .. first + n) */
};

struct jwalk_elems {
	struct jwalk_elem *v;	/* in body order */
	size_t n, cap;
	struct jwalk_array arr[6];
	size_t narr;
	size_t nkeys;		/* members of the top-level object */
};

/*
 * What the caller already knows, asked at the first byte of each element:
 * when body[start..start + avail) begins with an element it has seen
 * before, byte for byte, it sets e->cached, e->out and e->outlen and
 * returns that element's length; else 0, and the scanner finds the end
 * itself. An element seen before was a whole JSON value, so it ends here
 * where it ended then: its bytes are not scanned again.
 */
struct jwalk_known {
	size_t (*find)(void *ctx, struct jwalk_elem *e, const char *s, size_t avail);
	void *ctx;
};

/*
 * Finds the elements in body[0..len) (not parsed yet: this only finds
 * boundaries and proves nothing). known may be NULL. Returns 1 when there
 * are some; 0 when there are none or the body is not shaped like a JSON
 * object, el empty.
 */
int jwalk_elems_find(const char *body, size_t len, struct arena *a, struct jwalk_elems *el,
    const struct jwalk_known *known);

/*
 * The body without its cached elements (each array keeps its other
 * elements, in order), to be parsed and masked in place of the body.
 * NUL-terminated, owned by a; NULL when out of memory.
 */
char *jwalk_elems_reduce(const char *body, size_t len, const struct jwalk_elems *el,
    struct arena *a, size_t *outlen);

/*
 * The body to forward: reduced[0..rlen), the reduced body as masked and
 * spliced, with the client's bytes of each array put back, every element
 * replaced by its masked bytes (cached ones from out, the others from
 * reduced, whose out and outlen are set here). NULL when the reduced
 * output does not line up with the body (policy changed its top level) or
 * out of memory: the caller then masks the whole body instead.
 */
char *jwalk_elems_merge(const char *body, struct jwalk_elems *el, const char *reduced,
    size_t rlen, struct arena *a, size_t *outlen);

#endif
