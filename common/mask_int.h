/*
 * mask_int.h - internals of the masking engine: shared by mask.c (the
 * masking pass), mask_session.c (sessions and their caches), unmask.c,
 * mask_context.c (where the engine looks: decoded views, keys as context),
 * mask_recall.c (known values masked wherever they appear again), the
 * caches mask_cache.c and mask_elems.c, and by the unit tests that include
 * them; not for other callers.
 */
#ifndef MG_MASK_INT_H
#define MG_MASK_INT_H

#include <stddef.h>
#include <stdint.h>
#include "arena.h"
#include "crypto.h"
#include "decode.h"
#include "mask.h"
#include "rules.h"
#include "store_map.h"

struct centry {			/* value -> number */
	const char *value;	/* arena copy */
	size_t len;
	uint64_t hash;
	unsigned rule;
	unsigned long num;	/* 0: not known yet */
	size_t item;		/* index into the pending batch */
	int used;
	int pending;
};

struct rentry {			/* (rule, number) -> value */
	unsigned rule;
	unsigned long num;
	const char *value;	/* NULL: unknown or expired for this tenant */
	size_t len;
	int used;
};

struct kentry {			/* value -> cache entry, for recall */
	const struct centry *e;
	uint64_t hash;
	int used;
};

struct mask_counts {
	unsigned long masked;
	unsigned long restored;
	unsigned long minted;
	unsigned long withheld;	/* kept as placeholders by the restore policy */
	unsigned long unknown;	/* unknown or mutated placeholders in tool input */
};

struct mask_session {
	struct arena *arena;
	const struct rules *rules;
	struct store *store;
	const char *tenant;
	struct centry *vtab;
	size_t vcap, vcount;
	struct rentry *rtab;
	size_t rcap, rcount;
	struct kentry *ktab;
	size_t kcap, kcount;
	struct mask_counts *counts;	/* per rule index */
	size_t nslots;
	const char *blocked;
	/* recall across requests (mask_recall.c) */
	int recall_ready;		/* filter refreshed for this request */
	unsigned char recall_key[CRYPTO_SIPHASH_KEY_LEN];
	uint64_t *nope;			/* tags the store did not confirm */
	size_t nnope, capnope;
	/* two-phase masking (mask_defer ... mask_resolve) */
	int deferred;			/* collect: no store call, provisional output */
	unsigned long provisional;	/* provisional spans emitted or confirmations owed */
	struct centry **pend;		/* values waiting for their number */
	size_t npend, cappend;
	struct store_map_recall_item *rpend;	/* recall candidates waiting for the store */
	size_t nrpend, caprpend;
	struct mask_cache_val *capture;	/* values a text's output stands for (mask_cache.c) */
	size_t ncapture, capcapture;
	int plain;			/* the text being masked was scanned as written */
	unsigned long cache_hits;	/* texts this session took from the cache */
	unsigned long elems_version;	/* the filter the element lookups used (mask_elems.c) */
	unsigned long scan_version;	/* the filter the first (deferred) phase began with */
	unsigned long pass_version;	/* the filter the last masking pass ran under */
	unsigned long nonplain;		/* texts not scanned as written (a value may hide in them) */
	unsigned *clog;			/* rules of the spans counted while deferred */
	size_t nclog, capclog;
	struct mask_store_calls calls;
};

/* Where a text's masking started (mask_context.c), for mask_mark_end. */
struct mask_mark {
	unsigned long provisional;
	size_t nclog;
};

/* A value a cached output stands for (mask_cache.c). */
struct mask_cache_val {
	unsigned rule;
	unsigned long num;
	const char *value;
	size_t len;
	int counted;		/* spans of it written (and counted as masked): 0 or 1 for a
				 * string, any number for an element (mask_elems.c) */
};

/* one span to replace on output */
struct mask_emit {
	size_t start;
	size_t end;
	const struct centry *e;
};

/*
 * One masking pass. Scans scan[0..scanlen) with the rules and acts only on
 * the matches inside the window [lo, hi): the text around it is context
 * (`"aws_secret_access_key": "` before a value). A match straddling an edge
 * makes the pass scan the window alone. Appends in[0..len) to out with
 * every match, and every value the tenant's mapping holds (recall), replaced
 * by its placeholder, where the window is either in itself (view NULL) or a
 * decoded view of in (view->text), in which case each match replaces the
 * original bytes it was decoded from. Errors as mask_text.
 */
enum mg_err mask_pass(struct mask_session *m, const char *scan, size_t scanlen, size_t lo,
    size_t hi, const struct decode_view *view, const char *in, size_t len, struct buf *out);

/*
 * Masks all of in[0..len) as one value of rule (a base64 blob that held
 * rule's identifier); appends its placeholder to out. Errors as mask_text.
 */
enum mg_err mask_whole(struct mask_session *m, unsigned rule, const char *in, size_t len,
    struct buf *out);

/* The request arena of the session. */
struct arena *mask_session_arena(const struct mask_session *m);

/*
 * mask_session.c: the session's caches. mask_cache_get gives value v's
 * entry, made (number 0: not known yet) when missing; NULL when out of
 * memory. mask_cache_reserve makes room for more entries at once.
 */
enum mg_err mask_cache_reserve(struct mask_session *m, size_t more);
struct centry *mask_cache_get(struct mask_session *m, unsigned rule, const char *v, size_t n);
enum mg_err mask_cache_rput(struct mask_session *m, unsigned rule, unsigned long num,
    const char *v, size_t n);
/* The (rule, num) -> value cache slot for unmask.c: used or the free one. */
struct rentry *mask_cache_rfind(struct mask_session *m, unsigned rule, unsigned long num);
/* mask.c: the keyed tag of credential placeholder (rule, num) for the tenant. */
enum mg_err mask_placeholder_tag(struct mask_session *m, unsigned rule, unsigned long num,
    char tag[RULES_TAG_LEN]);

/* mask.c: around one text; a provisional text's masked counts are taken back */
void mask_mark_begin(const struct mask_session *m, struct mask_mark *mark);
void mask_mark_end(struct mask_session *m, const struct mask_mark *mark);

/* mask.c: records a value written in place of a span (the cache keeps them) */
enum mg_err mask_capture(struct mask_session *m, const struct centry *e, int counted);
/* mask.c: a cached output's values back into the session */
/*
 * A cache hit's values into the session, as masking them would have put
 * them. in_filter: the hit holds under the filter version it was made
 * with, so the filter has every one of them; only the session learns them.
 */
enum mg_err mask_replay(struct mask_session *m, const struct mask_cache_val *vals, size_t n,
    int in_filter);

/* mask_cache.c: the per-worker cache of masked strings */
struct mask_strings_entry;
const struct mask_strings_entry *mask_strings_find(struct mask_session *m, const char *key,
    size_t keylen, const char *in, size_t len, unsigned long version);
/*
 * The entry stored MASK_CACHE_ELEMENT whose input (*inlen bytes) in[0..avail)
 * begins with, or NULL: found by its first MASK_CACHE_PREFIX bytes, then
 * compared in full (for an element, whose end the caller does not know yet).
 */
#define MASK_CACHE_PREFIX 128
const struct mask_strings_entry *mask_strings_find_prefix(struct mask_session *m,
    const char *key, size_t keylen, const char *in, size_t avail, unsigned long version,
    size_t *inlen);
const char *mask_strings_out(const struct mask_strings_entry *e, size_t *len,
    const struct mask_cache_val **vals, size_t *nvals);
/* 1 if the entry's text was scanned as written (MASK_CACHE_PLAIN) */
int mask_strings_plain(const struct mask_strings_entry *e);
/* flags: MASK_CACHE_PLAIN, the text was scanned as written (carry-over applies) */
#define MASK_CACHE_PLAIN 1
/*
 * MASK_CACHE_ELEMENT: the input is an element's raw JSON (MASK_CACHE_PREFIX
 * bytes or more): found by mask_strings_find_prefix, not mask_strings_find,
 * and a value may hide behind its escapes
 */
#define MASK_CACHE_ELEMENT 2
void mask_strings_store(struct mask_session *m, const char *key, size_t keylen, const char *in,
    size_t len, const char *out, size_t outlen, const struct mask_cache_val *vals, size_t nvals,
    unsigned long version, int flags);
/*
 * The tenant's filter went from version from to to by this worker learning
 * value: entries made under from still hold under to when the value cannot
 * stand in them (checked when they are used, mask_cache.c).
 */
void mask_strings_learnt(const char *tenant, unsigned long from, unsigned long to,
    const char *value, size_t len);
/* mask_elems.c: elements shorter than this are not worth an entry (nor found by prefix) */
#define MASK_ELEMS_MIN MASK_CACHE_PREFIX

/* mask_recall.c */
/* The version of the tenant's filter (changes whenever it learns or forgets). */
unsigned long mask_recall_version(const struct mask_session *m);
/*
 * Deferred recall confirmations are answered: found values join the
 * session, the others are remembered as not the tenant's.
 */
enum mg_err mask_recall_apply(struct mask_session *m, struct store_map_recall_item *items,
    size_t n);
/*
 * mask_resolve's read: one transaction that brings the tenant's filter up
 * to date, looks up items[0..n) (stale flags set) and confirms the recall
 * candidates collected. *again: the filter learnt a tag it did not hold
 * (another worker's value, or a purge), which this request's scan could
 * not have looked for.
 */
enum mg_err mask_recall_resolve(struct mask_session *m, struct store_map_item *items, size_t n,
    unsigned char *stale, int *again);
/* Makes sure the tenant's filter is fresh (once per session). */
enum mg_err mask_recall_begin(struct mask_session *m);
/* 1 if the session may have something to recall (session or tenant values). */
int mask_recall_active(const struct mask_session *m);
/* Remembers a value this session mapped, for this request and later ones. */
enum mg_err mask_recall_note(struct mask_session *m, const struct centry *e);
/* The same for this request only: the tenant's filter has the value already. */
enum mg_err mask_recall_know(struct mask_session *m, const struct centry *e);
/*
 * The spans of in[0..len) outside the rules' chosen spans ms[0..n) and
 * outside placeholders that hold a value the tenant's mapping knows,
 * sorted and non-overlapping, in a new arena array (*out, *nout).
 */
enum mg_err mask_recall_spans(struct mask_session *m, const char *in, size_t len,
    const struct rules_match *ms, size_t n, struct mask_emit **out, size_t *nout);

/* mask_recall_filter.c: a tenant's set of recall tags in this process */
struct recall_filter {
	char *tenant;		/* NULL: free slot */
	long long gen, seq;	/* what the store said when last loaded */
	uint64_t *set;		/* open addressing, 0 = empty (tag 0 is stored as 1) */
	size_t cap, count;
	unsigned long used;	/* LRU clock */
	unsigned long version;	/* changes whenever a tag is added or the set is cleared */
};

int recall_filter_has(const struct recall_filter *f, uint64_t tag);
enum mg_err recall_filter_add(struct recall_filter *f, uint64_t tag);
void recall_filter_clear(struct recall_filter *f);
struct recall_filter *recall_filter_find(const char *tenant);
/* the tenant's slot, reusing the least recently used one; NULL: no memory */
struct recall_filter *recall_filter_slot(const char *tenant);
void recall_filter_touch(struct recall_filter *f);
/* brings the tenant's filter up to date with the store */
enum mg_err recall_filter_refresh(struct store *s, const char *tenant,
    struct mask_store_calls *calls);

#endif
