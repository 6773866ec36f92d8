/*
 * mask_cache.c - turn N+1 costs little: Claude Code sends the whole
 * conversation again on every turn, so each worker keeps the masked form of
 * the strings it masked, keyed by tenant, context key and content, and an
 * unchanged string skips the scan, the decoding and the lookups. The
 * output is exactly what masking it again would give:
 *
 *  - an entry also keeps the values its output stands for (rule, number,
 *    value), which a hit gives back to the session, so that later strings
 *    of the request recall them and responses restore them as before;
 *  - an entry holds only while the tenant's recall filter is the one it
 *    was made with (its version changes on every value the worker learns,
 *    on a purge, and when the filter is reloaded): a value learnt since
 *    could be recalled in the string. When this worker itself learns a
 *    value, entries whose text was scanned as written (no escapes decoded,
 *    no base64 opened) and does not contain the value still hold under the
 *    new version: the last MASK_LEARNT_MAX values learnt are kept, and an
 *    entry made under an older version is checked against those learnt
 *    since when it is used (still_holds), not when each value is learnt;
 *  - entries live at most MASK_CACHE_LIFETIME seconds (or a quarter of the
 *    mapping TTL), so a value served from here is looked up, and its
 *    last_seen refreshed, well before its mapping could expire;
 *  - another rule set (a new struct rules) misses everything;
 *  - nothing provisional (two-phase masking) and nothing that failed is
 *    kept.
 * Memory is bounded by mask_strings_set_limit() (MASKGATE_MASK_CACHE); the
 * entries used longest ago go first. One request at a time per process, like the
 * recall filters.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mask_int.h"
#include "store_map.h"

#define MASK_CACHE_BUCKETS 4096	/* power of two */
#define MASK_CACHE_LIFETIME 1800	/* seconds */
#define MASK_CACHE_PREFIX_TRIES 8	/* entries of one prefix compared at most */

struct mask_strings_entry {
	struct mask_strings_entry *next;	/* bucket chain */
	struct mask_strings_entry *older, *newer;	/* by last use */
	uint64_t hash;			/* of tenant, key and in, or in's first MASK_CACHE_PREFIX bytes */
	int element;			/* in is an element's raw JSON, hashed by its first bytes */
	const struct rules *rules;
	unsigned long version;		/* of the tenant's filter when made */
	time_t made;
	int plain;			/* scanned as written: the carry-over applies */
	size_t bytes;			/* all of it, for the limit */
	char *tenant, *key, *in, *out;
	size_t keylen, inlen, outlen;
	struct mask_cache_val *vals;
	size_t nvals;
};

static struct mask_strings_entry *buckets[MASK_CACHE_BUCKETS];
static struct mask_strings_entry *oldest, *newest;
static size_t used, limit;
static unsigned long hits, misses;

/* A fast non-cryptographic hash, eight bytes a step: entries are compared in full anyway. */
static uint64_t
fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t w;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		memcpy(&w, s + i, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
		h ^= h >> 29;
	}
	for (; i < n; i++) {
		h ^= s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static uint64_t
key_hash(const char *tenant, const char *key, size_t keylen, const char *in, size_t len)
{
	uint64_t h = 1469598103934665603ULL;

	h = fnv(h, tenant, strlen(tenant) + 1);
	h = fnv(h, key != NULL ? key : "", keylen);
	h = fnv(h, "\0", 1);
	return fnv(h, in, len);
}

static void
entry_free(struct mask_strings_entry *e)
{
	struct mask_strings_entry **p = &buckets[e->hash & (MASK_CACHE_BUCKETS - 1)];

	while (*p != NULL && *p != e)
		p = &(*p)->next;
	if (*p == e)
		*p = e->next;
	if (e == oldest)
		oldest = e->newer;
	else
		e->older->newer = e->newer;
	if (e == newest)
		newest = e->older;
	else
		e->newer->older = e->older;
	used -= e->bytes;
	free(e);
}

/*
 * The values this worker learnt last, each with the versions it took its
 * tenant's filter from and to (versions never repeat): an entry made under
 * an older version still holds when every value learnt since is absent
 * from it. Checked when the entry is used, not when the value is learnt:
 * a request that learns values does not scan the whole cache.
 */
#define MASK_LEARNT_MAX 64
static struct learnt {
	char *tenant, *value;
	size_t len;
	unsigned long from, to;
} learnt[MASK_LEARNT_MAX];
static size_t learnt_next;

static void
learnt_free(struct learnt *l)
{
	if (l->value != NULL)
		explicit_bzero(l->value, l->len);
	free(l->value);
	free(l->tenant);
	memset(l, 0, sizeof(*l));
}

void
mask_strings_clear(void)
{
	size_t i;

	while (oldest != NULL)
		entry_free(oldest);
	for (i = 0; i < MASK_LEARNT_MAX; i++)
		learnt_free(&learnt[i]);
	hits = misses = 0;
}

void
mask_strings_set_limit(size_t bytes)
{
	size_t i;

	limit = bytes;
	while (oldest != NULL && used > limit)
		entry_free(oldest);
	for (i = 0; limit == 0 && i < MASK_LEARNT_MAX; i++)
		learnt_free(&learnt[i]);
}

void
mask_strings_stats(unsigned long *h, unsigned long *m, size_t *bytes)
{
	*h = hits;
	*m = misses;
	*bytes = used;
}

/*
 * A value served from here was looked up when its entry was made, so its
 * last_seen is at most STORE_MAP_TOUCH_INTERVAL old then; the entry must
 * not outlive the mapping: half of what the TTL leaves after that.
 */
static int
fresh(const struct mask_session *m, const struct mask_strings_entry *e, time_t now)
{
	long ttl = store_map_ttl(m->store), life = MASK_CACHE_LIFETIME;

	if (ttl > 0 && (ttl - STORE_MAP_TOUCH_INTERVAL) / 2 < life)
		life = (ttl - STORE_MAP_TOUCH_INTERVAL) / 2;
	return now - e->made < life && now >= e->made;
}

static const struct learnt *
learnt_from(const char *tenant, unsigned long from)
{
	size_t i;

	for (i = 0; i < MASK_LEARNT_MAX; i++)
		if (learnt[i].tenant != NULL && learnt[i].from == from &&
		    strcmp(learnt[i].tenant, tenant) == 0)
			return &learnt[i];
	return NULL;
}

/*
 * Could value stand in a string of the raw JSON in[0..inlen) without its
 * bytes standing there as they are? Only behind an escape: \u spells any
 * character, \/ a slash; a quote, a backslash and a control character
 * are always escaped.
 */
static int
json_may_hide(const char *in, size_t inlen, const char *value, size_t len)
{
	size_t i;

	if (memmem(in, inlen, "\\u", 2) != NULL)
		return 1;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)value[i];
		if (c == '"' || c == '\\' || c < 0x20)
			return 1;
		if (c == '/' && memmem(in, inlen, "\\/", 2) != NULL)
			return 1;
	}
	return 0;
}

/*
 * Does e, made under an older version of its tenant's filter, read the
 * same under version? Only if the filter got there by this worker learning
 * values (another worker's values, a purge or a reload leave no record)
 * and none of them could stand in e's text: scanned as written (plain),
 * not in its bytes, and for raw JSON not behind an escape either.
 */
static int
still_holds(struct mask_strings_entry *e, unsigned long version)
{
	unsigned long v = e->version;
	size_t steps = 0;

	while (v != version) {
		const struct learnt *l = learnt_from(e->tenant, v);
		if (l == NULL || ++steps > MASK_LEARNT_MAX || !e->plain ||
		    (l->len > 0 && memmem(e->in, e->inlen, l->value, l->len) != NULL) ||
		    (e->element && json_may_hide(e->in, e->inlen, l->value, l->len)))
			return 0;
		v = l->to;
	}
	e->version = version;
	return 1;
}

/* e matched: usable, and then the youngest; else dropped (NULL). */
static const struct mask_strings_entry *
take(struct mask_session *m, struct mask_strings_entry *e, unsigned long version)
{
	if (e->rules != m->rules || !fresh(m, e, time(NULL)) ||
	    (e->version != version && !still_holds(e, version))) {
		entry_free(e);
		return NULL;
	}
	hits++;
	if (e != newest) {
		/* used: to the young end, so the limit drops what is not resent */
		if (e->older != NULL)
			e->older->newer = e->newer;
		else
			oldest = e->newer;
		e->newer->older = e->older;
		e->older = newest;
		e->newer = NULL;
		newest->newer = e;
		newest = e;
	}
	return e;
}

const struct mask_strings_entry *
mask_strings_find(struct mask_session *m, const char *key, size_t keylen, const char *in,
    size_t len, unsigned long version)
{
	const struct mask_strings_entry *hit;
	struct mask_strings_entry *e, *next;
	uint64_t h;

	if (limit == 0)
		return NULL;
	h = key_hash(m->tenant, key, keylen, in, len);
	for (e = buckets[h & (MASK_CACHE_BUCKETS - 1)]; e != NULL; e = next) {
		next = e->next;
		if (e->hash == h && !e->element && e->inlen == len && e->keylen == keylen &&
		    strcmp(e->tenant, m->tenant) == 0 && memcmp(e->in, in, len) == 0 &&
		    (keylen == 0 || memcmp(e->key, key, keylen) == 0) &&
		    (hit = take(m, e, version)) != NULL)
			return hit;
	}
	misses++;
	return NULL;
}

const struct mask_strings_entry *
mask_strings_find_prefix(struct mask_session *m, const char *key, size_t keylen,
    const char *in, size_t avail, unsigned long version, size_t *inlen)
{
	const struct mask_strings_entry *hit;
	struct mask_strings_entry *e, *next;
	unsigned tries = 0;
	uint64_t h;

	if (limit == 0 || avail < MASK_CACHE_PREFIX)
		return NULL;
	h = key_hash(m->tenant, key, keylen, in, MASK_CACHE_PREFIX);
	for (e = buckets[h & (MASK_CACHE_BUCKETS - 1)]; e != NULL; e = next) {
		next = e->next;
		/*
		 * Elements that begin alike share a hash: a client sending many
		 * of them must not make each lookup compare them all. A miss
		 * is only slower (the element is scanned and masked).
		 */
		if (e->hash == h && e->element && ++tries > MASK_CACHE_PREFIX_TRIES)
			break;
		if (e->hash == h && e->element && e->inlen <= avail && e->keylen == keylen &&
		    strcmp(e->tenant, m->tenant) == 0 && memcmp(e->in, in, e->inlen) == 0 &&
		    (keylen == 0 || memcmp(e->key, key, keylen) == 0) &&
		    (hit = take(m, e, version)) != NULL) {
			*inlen = hit->inlen;
			return hit;
		}
	}
	misses++;
	return NULL;
}

int
mask_strings_plain(const struct mask_strings_entry *e)
{
	return e->plain;
}

const char *
mask_strings_out(const struct mask_strings_entry *e, size_t *len,
    const struct mask_cache_val **vals, size_t *nvals)
{
	*len = e->outlen;
	*vals = e->vals;
	*nvals = e->nvals;
	return e->out;
}

static char *
put(char **at, const void *p, size_t n)
{
	char *dst = *at;

	if (n > 0)
		memcpy(dst, p, n);
	dst[n] = '\0';
	*at += n + 1;
	return dst;
}

void
mask_strings_store(struct mask_session *m, const char *key, size_t keylen, const char *in,
    size_t len, const char *out, size_t outlen, const struct mask_cache_val *vals, size_t nvals,
    unsigned long version, int flags)
{
	size_t tlen = strlen(m->tenant), bytes, i, vbytes = 0;
	struct mask_strings_entry *e, **b;
	char *at;

	if (limit == 0)
		return;
	for (i = 0; i < nvals; i++)
		vbytes += vals[i].len + 1;
	bytes = sizeof(*e) + nvals * sizeof(*vals) + tlen + keylen + len + outlen + vbytes + 4;
	if (bytes > limit / 4)
		return;	/* one string may not take the cache over */
	while (oldest != NULL && used + bytes > limit)
		entry_free(oldest);
	e = malloc(bytes);
	if (e == NULL)
		return;
	memset(e, 0, sizeof(*e));
	e->vals = (struct mask_cache_val *)(void *)(e + 1);
	at = (char *)(e->vals + nvals);
	e->tenant = put(&at, m->tenant, tlen);
	e->key = put(&at, key, keylen);
	e->in = put(&at, in, len);
	e->out = put(&at, out, outlen);
	for (i = 0; i < nvals; i++) {
		e->vals[i] = vals[i];
		e->vals[i].value = put(&at, vals[i].value, vals[i].len);
	}
	e->nvals = nvals;
	e->keylen = keylen;
	e->inlen = len;
	e->outlen = outlen;
	e->element = (flags & MASK_CACHE_ELEMENT) && len >= MASK_CACHE_PREFIX;
	e->hash = key_hash(m->tenant, key, keylen, in, e->element ? MASK_CACHE_PREFIX : len);
	e->rules = m->rules;
	e->version = version;
	e->plain = (flags & MASK_CACHE_PLAIN) != 0;
	e->made = time(NULL);
	e->bytes = bytes;
	b = &buckets[e->hash & (MASK_CACHE_BUCKETS - 1)];
	e->next = *b;
	*b = e;
	e->older = newest;
	if (newest != NULL)
		newest->newer = e;
	else
		oldest = e;
	newest = e;
	used += bytes;
}

void
mask_strings_learnt(const char *tenant, unsigned long from, unsigned long to, const char *value,
    size_t len)
{
	struct learnt *l = &learnt[learnt_next];

	if (limit == 0)
		return;	/* no cache: nothing to hold */
	learnt_free(l);
	l->tenant = strdup(tenant);
	l->value = malloc(len + 1);
	if (l->tenant == NULL || l->value == NULL) {
		learnt_free(l);	/* no record: entries under from do not reach to */
		return;
	}
	memcpy(l->value, value, len);
	l->value[len] = '\0';
	l->len = len;
	l->from = from;
	l->to = to;
	learnt_next = (learnt_next + 1) % MASK_LEARNT_MAX;
}
