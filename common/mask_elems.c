/*
 * mask_elems.c - turn N+1 costs little, a level up from mask_cache.c:
 * Claude Code sends its whole conversation again on every turn, so the
 * elements of system, tools and messages that come back byte for byte
 * take their masked bytes from the per-worker cache and are neither parsed
 * nor masked again (jwalk_elems.c finds them in the raw body; the exchange
 * parses and masks only the rest). The scanner asks at each element's
 * first byte (mask_elems_known): an entry is found by its first
 * MASK_CACHE_PREFIX bytes and then compared in full, so a known element is
 * neither scanned for its end nor hashed whole.
 *
 * The entries live in the masked-string cache (same memory limit, same
 * expiry, same rule set and tenant checks), under a key no JSON member can
 * have ("\0" and the array's name), and hold only while the tenant's recall
 * filter is the one they were made with; unlike string entries they are
 * never carried over to a new version. An element's masked bytes are
 * exactly what masking it as part of the whole request would give:
 *  - an entry is made only when the request changed nothing in the filter
 *    from the lookups to the end (no value learnt, no catch-up with the
 *    store), so every string in it was masked under that one filter;
 *  - when a request that took elements from here ends with another filter
 *    (it learnt a value, which an earlier string might now have to recall;
 *    or the store had values this worker did not know), the exchange
 *    masks the whole body again instead (mask_elems_settled);
 *  - a hit gives the session the values the element's placeholders stand
 *    for, as a string hit does, so responses restore them and later
 *    strings recall them.
 */
#include <stdint.h>
#include <string.h>

#include "jwalk.h"
#include "mask.h"
#include "mask_int.h"

#define ELEM_KEY_MAX 16

/* The values an element's masked bytes stand for, one entry per value. */
struct elem_vals {
	struct mask_cache_val *v;
	size_t *slot;		/* open addressing over v by (rule, num); SIZE_MAX = empty */
	size_t n, cap;
};

/* "\0" + field: a cache key no member name can be (keys come NUL-free) */
static size_t
elem_key(const char *field, char key[ELEM_KEY_MAX])
{
	size_t n = strlen(field);

	if (n + 1 > ELEM_KEY_MAX)
		n = ELEM_KEY_MAX - 1;
	key[0] = '\0';
	memcpy(key + 1, field, n);
	return n + 1;
}

enum mg_err
mask_elems_begin(struct mask_session *m)
{
	enum mg_err rc;

	mask_defer(m);
	rc = mask_recall_begin(m);
	m->elems_version = m->pass_version = mask_recall_version(m);
	return rc;
}

const char *
mask_elems_find(struct mask_session *m, const char *field, const char *raw, size_t avail,
    size_t *inlen, size_t *outlen)
{
	const struct mask_strings_entry *hit;
	const struct mask_cache_val *vals;
	const char *out;
	char key[ELEM_KEY_MAX];
	size_t n;

	hit = mask_strings_find_prefix(m, key, elem_key(field, key), raw, avail,
	    m->elems_version, inlen);
	if (hit == NULL)
		return NULL;
	/*
	 * A copy: the entry may go before the request is done with its bytes
	 * (the limit, a value learnt that is in it).
	 */
	out = mask_strings_out(hit, outlen, &vals, &n);
	out = arena_strndup(m->arena, out, *outlen);
	/* held under elems_version, the filter it was made with: every value is in it */
	if (out == NULL || mask_replay(m, vals, n, 1) != MG_OK)
		return NULL;
	m->cache_hits++;
	return out;
}

size_t
mask_elems_known(void *session, struct jwalk_elem *e, const char *s, size_t avail)
{
	size_t inlen = 0;

	e->out = mask_elems_find(session, e->field, s, avail, &inlen, &e->outlen);
	e->cached = e->out != NULL;
	return e->cached ? inlen : 0;
}

int
mask_elems_settled(const struct mask_session *m)
{
	return mask_recall_version(m) == m->pass_version;
}

int
mask_elems_valid(struct mask_session *m, const char *field, const char *raw, size_t len)
{
	char key[ELEM_KEY_MAX];
	size_t inlen = 0;

	if (mask_recall_version(m) == m->elems_version)
		return 1;
	/* still holding under the filter as it is now (mask_strings_learnt): the same bytes */
	return mask_strings_find_prefix(m, key, elem_key(field, key), raw, len,
	    mask_recall_version(m), &inlen) != NULL && inlen == len;
}

/* Is out[p..] preceded by a letter, digit or '_' (then no placeholder starts there)? */
static int
inside_word(const char *out, size_t p)
{
	unsigned char c = p > 0 ? (unsigned char)out[p - 1] : ' ';

	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    c == '_';
}

/*
 * Adds one occurrence of placeholder (rule, num) standing for re's value
 * to the element's list: one entry per value, its counted spans summed, so
 * that a hit replays each value once. slot[0..cap) indexes vals by (rule, num).
 */
static enum mg_err
add_val(struct mask_session *m, struct elem_vals *ev, unsigned rule, unsigned long num,
    const struct rentry *re, int counted)
{
	size_t h;

	if (ev->n * 2 >= ev->cap) {
		size_t ncap = ev->cap ? ev->cap * 2 : 64, i;
		struct mask_cache_val *g = arena_alloc(m->arena, ncap * sizeof(*g));
		size_t *slot = arena_alloc(m->arena, ncap * sizeof(*slot));
		if (g == NULL || slot == NULL)
			return MG_ENOMEM;
		if (ev->n > 0)
			memcpy(g, ev->v, ev->n * sizeof(*g));
		for (h = 0; h < ncap; h++)
			slot[h] = SIZE_MAX;
		for (i = 0; i < ev->n; i++) {
			for (h = (g[i].rule * 31 + g[i].num) & (ncap - 1); slot[h] != SIZE_MAX;
			    h = (h + 1) & (ncap - 1))
				;
			slot[h] = i;
		}
		ev->v = g;
		ev->slot = slot;
		ev->cap = ncap;
	}
	for (h = (rule * 31 + num) & (ev->cap - 1); ev->slot[h] != SIZE_MAX;
	    h = (h + 1) & (ev->cap - 1))
		if (ev->v[ev->slot[h]].rule == rule && ev->v[ev->slot[h]].num == num) {
			ev->v[ev->slot[h]].counted += counted;
			return MG_OK;
		}
	ev->slot[h] = ev->n;
	ev->v[ev->n].rule = rule;
	ev->v[ev->n].num = num;
	ev->v[ev->n].value = re->value;
	ev->v[ev->n].len = re->len;
	ev->v[ev->n].counted = counted;
	ev->n++;
	return MG_OK;
}

void
mask_elems_store(struct mask_session *m, const char *field, const char *raw, size_t len,
    const char *out, size_t outlen)
{
	struct elem_vals ev = { NULL, NULL, 0, 0 };
	char key[ELEM_KEY_MAX];
	size_t p;
	int echoes;

	if (len < MASK_ELEMS_MIN || !mask_elems_settled(m))
		return;
	/* the values its placeholders stand for; those the client sent itself were not masked */
	echoes = rules_placeholder_next(m->rules, raw, len, 0) < len;
	for (p = rules_placeholder_next(m->rules, out, outlen, 0); p < outlen;
	    p = rules_placeholder_next(m->rules, out, outlen, p)) {
		struct rules_placeholder ph;
		const struct rentry *re;
		if (inside_word(out, p) || !rules_placeholder_parse(m->rules, out, outlen, p, &ph)) {
			p++;
			continue;
		}
		re = mask_cache_rfind(m, ph.rule, ph.num);
		if (re->used && re->value != NULL && add_val(m, &ev, ph.rule, ph.num, re,
		    !echoes || memmem(raw, len, out + p, ph.end - p) == NULL) != MG_OK)
			return;
		p = ph.end;
	}
	/* plain: no text of the request opened a layer (carried over when a value is learnt) */
	mask_strings_store(m, key, elem_key(field, key), raw, len, out, outlen, ev.v, ev.n,
	    mask_recall_version(m), MASK_CACHE_ELEMENT |
	    (m->nonplain == 0 ? MASK_CACHE_PLAIN : 0));
}
