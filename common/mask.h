/*
 * mask.h - the masking engine: find identifiers with the loaded rules,
 * replace them with stable per-tenant placeholders (AWS_<TYPE>_<N>), and
 * restore placeholders to the original values.
 *
 * A mask_session lives for one request: it holds the tenant and a cache so
 * that each distinct value costs at most one store round trip per request.
 */
#ifndef MG_MASK_H
#define MG_MASK_H

#include <stddef.h>
#include "arena.h"
#include "mg.h"

struct rules;
struct store;
struct mask_session;

/* Returns a session allocated in a (freed with the arena), or NULL. */
struct mask_session *mask_session_new(struct arena *a, const struct rules *r,
    struct store *s, const char *tenant);

/*
 * Appends in[0..len) to out with every identifier replaced by its
 * placeholder. Identifiers are also found through the encodings a string
 * can carry (mask_context.c): JSON escapes ("\/"), URL percent escapes and
 * HTML character references are decoded for the scan and the value's
 * original spelling is replaced; base64 values under credential names
 * ("aws_secret_access_key: <base64>") are decoded, masked and encoded
 * again. Returns MG_EBLOCKED when a `block` rule matched (see
 * mask_blocked_type); any other error means the caller must refuse the
 * request (fail closed) and forward nothing.
 */
enum mg_err mask_text(struct mask_session *m, const char *in, size_t len, struct buf *out);

/*
 * Like mask_text for a JSON value that stands under the object key
 * key[0..keylen): the key is context for the rules, as if the text read
 * `"KEY": "VALUE"`, so {"AccountId": "483920175634"} and
 * {"aws_secret_access_key": "<secret>"} are masked; only the value is
 * written to out. key NULL (or empty): plain mask_text.
 */
enum mg_err mask_text_keyed(struct mask_session *m, const char *key, size_t keylen,
    const char *in, size_t len, struct buf *out);

/*
 * Appends in[0..len) to out with every placeholder known to the tenant
 * replaced by its original value; unknown placeholders stay as they are.
 * json_escape: the text is the inside of a JSON string literal, so the
 * values are escaped for it.
 */
enum mg_err mask_unmask(struct mask_session *m, const char *in, size_t len,
    int json_escape, struct buf *out);

/*
 * For streaming: the length of the shortest tail of text that could still
 * grow into a placeholder (or a longer one) and so must be held back until
 * more text arrives.
 */
size_t mask_holdback(const struct mask_session *m, const char *text, size_t len);

/* After MG_EBLOCKED: the placeholder type of the block rule that matched. */
const char *mask_blocked_type(const struct mask_session *m);

/*
 * For metrics: calls fn once per placeholder type this session touched,
 * with how many spans it masked, placeholders it restored and values it
 * saw for the first time in this request (new to the session's lookup).
 */
void mask_session_foreach_type(const struct mask_session *m,
    void (*fn)(void *arg, const char *type, unsigned long masked, unsigned long restored,
    unsigned long minted), void *arg);

#endif
