/*
 * decode.h - the text encodings an identifier can hide behind, decoded for
 * scanning only: JSON string escapes (PHP's json_encode writes "\/"), URL
 * percent escapes ("%2F") and HTML character references ("&#43;",
 * "&amp;"), plus standard base64 (values under credential names, as
 * `kubectl get secret -o yaml` prints them).
 *
 * The masking engine scans a decoded view and replaces, in the original
 * text, the bytes each found span came from; a placeholder needs no
 * escaping in any of these encodings. Base64 is different: the decoded
 * content is masked and encoded again (decode_base64_append).
 *
 * Nothing here allocates except from the arena given.
 */
#ifndef MG_DECODE_H
#define MG_DECODE_H

#include <stddef.h>
#include <stdint.h>
#include "arena.h"
#include "mg.h"

/*
 * A decoded view of some original text. text[i] was decoded from the
 * original bytes starting at from[i]; from[len] is the original length.
 * from[] never decreases, and the bytes of one escape share one from, so
 * a view span [a, b) came from original bytes [from[a], decode_end(v, b)).
 */
struct decode_view {
	char *text;		/* NUL-terminated */
	size_t len;
	uint32_t *from;		/* len + 1 entries */
};

/* Deepest nesting decode_view_deep() unwraps ("%255C%252F" is two levels). */
#define DECODE_MAX_LEVELS 3

/*
 * Decodes up to `levels` nested levels of JSON escapes, percent escapes and
 * HTML character references in in[0..len), each level one pass over the
 * previous one. Returns 1 and fills *v (arena memory) when anything was
 * decoded, 0 when the text holds no escape (v untouched), -1 when out of
 * memory or the text is over 4 GB.
 */
int decode_view_deep(struct arena *a, const char *in, size_t len, int levels,
    struct decode_view *v);

/* End (exclusive) in the original text of view span [a, b), b > a. */
size_t decode_end(const struct decode_view *v, size_t b);

/*
 * 1 if name[0..len) names a credential (contains secret, token, password,
 * passwd, credential, key, auth, aws, config or env, in any case: AWS
 * config files and .env files are stored whole): a base64 value under such
 * a name is decoded and scanned.
 */
int decode_credential_name(const char *name, size_t len);

/*
 * 1 if in[0..len) is standard base64 of at least 16 characters (padding
 * optional, alphabet A-Za-z0-9+/) whose bytes decode to text (printable
 * or whitespace, no NUL): worth decoding and scanning. *padded tells if it
 * ended in '=' padding (so a re-encoding can match).
 */
int decode_is_base64_text(const char *in, size_t len, int *padded);

/*
 * Decodes standard base64 in[0..len) (checked by decode_is_base64_text)
 * and appends the bytes to out.
 */
enum mg_err decode_base64(const char *in, size_t len, struct buf *out);

/* Appends the standard base64 of in[0..len) to out, with '=' padding if pad. */
enum mg_err decode_base64_append(struct buf *out, const char *in, size_t len, int pad);

/* A `name: value` (or name=value, "name": "value") found in text. */
struct decode_field {
	size_t name;		/* offsets into the text */
	size_t namelen;
	size_t value;
	size_t valuelen;
};

/*
 * Finds the next base64 value under a credential name in text[*pos..len):
 * NAME, optional quote, optional blanks, ':' or '=', optional blanks and
 * quote, then a run that decode_is_base64_text accepts. Returns 1 and sets
 * *f and *pos (past the value) when found, 0 at the end.
 */
int decode_next_b64_field(const char *text, size_t len, size_t *pos, struct decode_field *f);

#endif
