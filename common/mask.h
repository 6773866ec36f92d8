/*
 * mask.h - the masking engine: find identifiers with the loaded rules and
 * the values the tenant's mapping already holds, replace them with stable
 * per-tenant placeholders (<FAMILY>_<TYPE>_<N>[_<TAG>], see rules.h), and
 * restore placeholders to the original values where the rules allow.
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

/* mask_unmask flags (the same bits as SSE_UNMASK_*) */
#define MASK_UNMASK_JSON 1		/* inside a JSON string literal: escape values */
#define MASK_UNMASK_TOOL_INPUT 2	/* tool input: restore = text rules stay */
/*
 * A stream's context: in[0..n) (n <= MASK_UNMASK_CTX_MAX) is text released
 * before, given again only so that a placeholder right after it is judged
 * by the real character before it; it is not written to out.
 */
#define MASK_UNMASK_CTX_MAX 255
#define MASK_UNMASK_CTX(n) ((int)(n) << 8)
#define MASK_UNMASK_CTX_LEN(flags) ((size_t)(((unsigned)(flags) >> 8) & 0xff))

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
 * replaced by its original value, unless the rule's restore policy keeps
 * it here (never; text, in tool input). Unknown placeholders, and a
 * credential's placeholder without its tag or with a wrong one, stay as
 * they are (and are counted in tool input).
 */
enum mg_err mask_unmask(struct mask_session *m, const char *in, size_t len,
    int flags, struct buf *out);

/*
 * For streaming: the length of the shortest tail of text that could still
 * grow into a placeholder (or a longer one) and so must be held back until
 * more text arrives. text may begin with context already released (see
 * MASK_UNMASK_CTX); the next mask_unmask call must get that context.
 */
size_t mask_holdback(const struct mask_session *m, const char *text, size_t len);

/*
 * Releases the recall filters this process keeps per tenant (they are
 * refilled from the store on demand): for leak checkers and tests.
 */
void mask_recall_reset(void);

/*
 * Two-phase masking of a whole request: after mask_defer(), mask_text and
 * mask_text_keyed find every span but ask the store nothing; a value not
 * known to the session yet gets a provisional placeholder, and
 * mask_provisional() counts such outputs, which the caller must not use
 * (it masks those strings again after mask_resolve). mask_resolve() then
 * asks the store once for every value and recall candidate collected (one
 * read transaction), mints the new values in one write transaction, and
 * ends the deferral: from then on every value collected is known to the
 * session and masking it needs no store call. *again: values appeared in
 * the tenant's mapping (another worker, a purge) that the first phase
 * could not look for: every output of the first phase must be discarded
 * and the request masked again from its original text.
 */
void mask_defer(struct mask_session *m);
unsigned long mask_provisional(const struct mask_session *m);
enum mg_err mask_resolve(struct mask_session *m, int *again);

/* Store round trips a session made for masking (not unmasking): for tests and the bench. */
struct mask_store_calls {
	unsigned long reads;	/* read transactions (lookups, confirmations, filter checks) */
	unsigned long writes;	/* write transactions (mints, last-seen refreshes) */
};
void mask_session_store_calls(const struct mask_session *m, struct mask_store_calls *out);

/*
 * The per-worker cache of masked strings (mask_cache.c): at most bytes of
 * memory (MASKGATE_MASK_CACHE); 0, the default, turns it off. Clearing it
 * is for tests and leak checkers; stats count hits and misses since.
 */
void mask_strings_set_limit(size_t bytes);
void mask_strings_clear(void);
void mask_strings_stats(unsigned long *hits, unsigned long *misses, size_t *bytes);

/*
 * The per-worker cache of masked request elements (mask_elems.c; an
 * element of system, tools or messages, its raw bytes as the client sent
 * them), in the memory of the masked-string cache:
 *  - mask_elems_begin() starts two-phase masking (mask_defer) and fixes
 *    the filter the lookups use;
 *  - mask_elems_find() gives the masked bytes of the element raw[0..avail)
 *    begins with (its length in *inlen; the session gets the values they
 *    stand for), or NULL; mask_elems_known() is the same as a jwalk_known
 *    finder (ctx: the session);
 *  - after masking, mask_elems_settled() says whether the last masking
 *    pass ran under the filter as it is now (what was masked reads as it
 *    would now), and mask_elems_valid() whether an element that came from
 *    the cache still does: the filter is the one it was found under, or
 *    the values learnt since were not in it and it was carried over. If
 *    not both, the caller masks the whole request again (a new session);
 *  - mask_elems_store() keeps an element's masked bytes, only when settled.
 */
enum mg_err mask_elems_begin(struct mask_session *m);
const char *mask_elems_find(struct mask_session *m, const char *field, const char *raw,
    size_t avail, size_t *inlen, size_t *outlen);
struct jwalk_elem;
size_t mask_elems_known(void *session, struct jwalk_elem *e, const char *s, size_t avail);
int mask_elems_settled(const struct mask_session *m);
int mask_elems_valid(struct mask_session *m, const char *field, const char *raw, size_t len);
void mask_elems_store(struct mask_session *m, const char *field, const char *raw, size_t len,
    const char *out, size_t outlen);

/* After MG_EBLOCKED: the placeholder type of the block rule that matched. */
const char *mask_blocked_type(const struct mask_session *m);

/* What a session did with one placeholder type. */
struct mask_type_counts {
	unsigned long masked;	/* spans masked */
	unsigned long restored;	/* placeholders restored */
	unsigned long minted;	/* values new to the session's lookup */
	unsigned long withheld;	/* known placeholders the restore policy kept */
	unsigned long unknown;	/* unknown or mutated placeholders in tool input */
};

/* For metrics: calls fn once per placeholder type this session touched. */
void mask_session_foreach_type(const struct mask_session *m,
    void (*fn)(void *arg, const char *type, const struct mask_type_counts *c), void *arg);

#endif
