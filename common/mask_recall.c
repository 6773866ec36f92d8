/*
 * mask_recall.c - a value the tenant's mapping holds is masked wherever it
 * appears again: in any context, in this request or any later one, in any
 * worker.
 *
 * The rules find most values only through their context (a secret key
 * after aws_secret_access_key, an account ID after OwnerId, a bucket after
 * s3://). Once restored for the client, the same value comes back without
 * it: in a sub-agent's prompt, in prose the model wrote ("| Account |
 * 123456789012 |"), in a URL query (?sk=...&acct=...). So every token of a
 * request, and every sub-token cut at & ? = / _ : , . @ #, is checked
 * against the tenant's known values:
 *
 *  - within the request, against the values already seen (exact, kentry);
 *  - across requests, against a per-tenant filter of 64-bit SipHash tags of
 *    every value of the tenant (keyed per tenant, so the tags in the store
 *    reveal nothing). Each worker keeps the filters of the tenants it
 *    served; at the first mask_text of a request one read of the store's
 *    mask_recall row tells whether values were minted since (then only the
 *    new tags are loaded) or rows were purged (then the filter is
 *    reloaded). A token whose tag is in the filter is confirmed by the
 *    store, which opens the sealed values with that tag and compares them
 *    exactly: one read transaction for all candidates of a text. The
 *    filters themselves are in mask_recall_filter.c.
 *
 * Precision guard: only tokens of 8 bytes or more that contain a digit or
 * one of - . / _ + are recalled. A bucket named "feedback" or a role named
 * "Administrator" is masked where its context shows what it is, never as
 * a word everywhere else.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "mask_int.h"
#include "store_map.h"

#define RECALL_MIN 8		/* shortest value recalled */
#define RECALL_MAX 2048		/* longest span tried as a value */
#define RECALL_ENDS 48		/* sub-token ends tried per start */
/* ---- the session side ------------------------------------------------- */

enum mg_err
mask_recall_begin(struct mask_session *m)
{
	enum mg_err rc;

	if (m->recall_ready)
		return MG_OK;
	rc = store_map_recall_key(m->store, m->tenant, m->recall_key);
	if (rc == MG_OK && m->deferred) {
		/* two-phase: the filter as last seen; mask_recall_resolve catches up */
		struct recall_filter *f = recall_filter_slot(m->tenant);
		if (f == NULL) {
			rc = MG_ENOMEM;
		} else {
			recall_filter_touch(f);
			m->scan_version = f->version;	/* the first phase scans with this one */
		}
	} else if (rc == MG_OK)
		rc = recall_filter_refresh(m->store, m->tenant, &m->calls);
	if (rc != MG_OK) {
		log_error("mask: recall filter of tenant %s failed: %s", m->tenant,
		    mg_strerror(rc));
		return rc;
	}
	m->recall_ready = 1;
	return MG_OK;
}

int
mask_recall_active(const struct mask_session *m)
{
	const struct recall_filter *f;

	if (m->kcount > 0)
		return 1;
	f = m->recall_ready ? recall_filter_find(m->tenant) : NULL;
	return f != NULL && f->count > 0;
}

static int
recallable(const char *v, size_t n)
{
	size_t i;

	if (n < RECALL_MIN)
		return 0;
	for (i = 0; i < n; i++)
		if (isdigit((unsigned char)v[i]) || v[i] == '-' || v[i] == '.' || v[i] == '/' ||
		    v[i] == '_' || v[i] == '+')
			return 1;
	return 0;
}

static uint64_t
hash_value(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h ^ (h >> 29);
}

static struct kentry *
kfind(struct mask_session *m, const char *v, size_t n, uint64_t h)
{
	size_t i = (size_t)h & (m->kcap - 1);

	for (;; i = (i + 1) & (m->kcap - 1)) {
		struct kentry *k = &m->ktab[i];
		if (!k->used || (k->hash == h && k->e->len == n && memcmp(k->e->value, v, n) == 0))
			return k;
	}
}

enum mg_err
mask_recall_know(struct mask_session *m, const struct centry *e)
{
	struct kentry *k;
	uint64_t h;

	if (!recallable(e->value, e->len))
		return MG_OK;
	if ((m->kcount + 1) * 2 > m->kcap) {
		struct kentry *old = m->ktab;
		size_t oldcap = m->kcap, i;
		m->ktab = arena_alloc(m->arena, oldcap * 2 * sizeof(*m->ktab));
		if (m->ktab == NULL) {
			m->ktab = old;
			return MG_ENOMEM;
		}
		m->kcap = oldcap * 2;
		for (i = 0; i < oldcap; i++)
			if (old[i].used)
				*kfind(m, old[i].e->value, old[i].e->len, old[i].hash) = old[i];
	}
	h = hash_value(e->value, e->len);
	k = kfind(m, e->value, e->len, h);
	if (!k->used) {
		k->used = 1;
		k->hash = h;
		k->e = e;
		m->kcount++;
	}
	return MG_OK;
}

enum mg_err
mask_recall_note(struct mask_session *m, const struct centry *e)
{
	struct recall_filter *f;

	/* this worker knows it at once; the others through the store's seq */
	f = m->recall_ready ? recall_filter_find(m->tenant) : NULL;
	if (f != NULL) {
		unsigned long before = f->version;
		enum mg_err rc = recall_filter_add(f, crypto_siphash(m->recall_key, e->value, e->len));
		if (rc != MG_OK)
			return rc;
		/*
		 * A value too short to recall changes no recall outcome (every
		 * candidate is recallable): cached strings hold. The tag is kept
		 * all the same, so the store's rows hold nothing the filter lacks.
		 */
		if (!recallable(e->value, e->len))
			f->version = before;
		else if (f->version != before)
			mask_strings_learnt(m->tenant, before, f->version, e->value, e->len);
	}
	return mask_recall_know(m, e);
}

unsigned long
mask_recall_version(const struct mask_session *m)
{
	const struct recall_filter *f = m->recall_ready ? recall_filter_find(m->tenant) : NULL;

	return f != NULL ? f->version : 0;
}

/* characters no value contains: they end every token */
static int
is_sep(unsigned char c)
{
	switch (c) {
	case '"': case '\'': case '`': case '(': case ')': case '[': case ']': case '{':
	case '}': case '<': case '>': case '|': case '\\': case ';':
		return 1;
	default:
		return c <= ' ' || c == 0x7f;
	}
}

/* characters a value may contain but that also join values to their neighbours */
static int
is_split(unsigned char c)
{
	return c != '\0' && strchr("&?=/_:,.@#", c) != NULL;
}

struct cand {
	size_t start, end;
	const struct centry *e;	/* NULL: to confirm */
	uint64_t tag;
	size_t item;
};

struct cvec {
	struct cand *c;
	size_t n, cap;
	struct arena *a;
};

static enum mg_err
cpush(struct cvec *v, size_t s, size_t e, const struct centry *ce, uint64_t tag)
{
	if (v->n == v->cap) {
		size_t ncap = v->cap ? v->cap * 2 : 16;
		struct cand *g = arena_alloc(v->a, ncap * sizeof(*g));
		if (g == NULL)
			return MG_ENOMEM;
		if (v->n > 0)
			memcpy(g, v->c, v->n * sizeof(*g));
		v->c = g;
		v->cap = ncap;
	}
	v->c[v->n].start = s;
	v->c[v->n].end = e;
	v->c[v->n].e = ce;
	v->c[v->n].tag = tag;
	v->n++;
	return MG_OK;
}

static int
nope(const struct mask_session *m, uint64_t tag)
{
	size_t i;

	for (i = 0; i < m->nnope; i++)
		if (m->nope[i] == tag)
			return 1;
	return 0;
}

/* Candidates of one run in[rs..re) (no separator, nothing blocked in it). */
static enum mg_err
run_cands(struct mask_session *m, const struct recall_filter *f, const char *in, size_t rs, size_t re,
    struct cvec *v)
{
	size_t s;

	for (s = rs; s + RECALL_MIN <= re; s++) {
		size_t e, ends = 0;
		if (!(s == rs || is_split((unsigned char)in[s - 1]) || in[s] == '/'))
			continue;
		for (e = s + RECALL_MIN; e <= re && e - s <= RECALL_MAX && ends < RECALL_ENDS; e++) {
			struct kentry *k;
			uint64_t tag;
			enum mg_err rc;
			if (e < re && !is_split((unsigned char)in[e]))
				continue;
			ends++;
			if (!recallable(in + s, e - s))
				continue;
			k = m->kcount > 0 ? kfind(m, in + s, e - s, hash_value(in + s, e - s)) : NULL;
			if (k != NULL && k->used) {
				rc = cpush(v, s, e, k->e, 0);
			} else if (f != NULL && f->count > 0) {
				tag = crypto_siphash(m->recall_key, in + s, e - s);
				if (!recall_filter_has(f, tag) || nope(m, tag))
					continue;
				rc = cpush(v, s, e, NULL, tag);
			} else {
				continue;
			}
			if (rc != MG_OK)
				return rc;
		}
	}
	return MG_OK;
}

/* Remembers a tag the store did not confirm, so the request asks once. */
static enum mg_err
add_nope(struct mask_session *m, uint64_t tag)
{
	if (nope(m, tag))
		return MG_OK;
	if (m->nnope == m->capnope) {
		size_t ncap = m->capnope ? m->capnope * 2 : 16;
		uint64_t *g = arena_alloc(m->arena, ncap * sizeof(*g));
		if (g == NULL)
			return MG_ENOMEM;
		if (m->nnope > 0)
			memcpy(g, m->nope, m->nnope * sizeof(*g));
		m->nope = g;
		m->capnope = ncap;
	}
	m->nope[m->nnope++] = tag;
	return MG_OK;
}

/*
 * The store's answer for one candidate: the session entry of the value it
 * confirmed (created and noted), or NULL (*e) when it is not a live value
 * of a loaded mask rule (remembered as such).
 */
static enum mg_err
apply_one(struct mask_session *m, const struct store_map_recall_item *it, struct centry **out)
{
	struct centry *e;
	enum mg_err rc;
	int rule;

	*out = NULL;
	rule = it->num != 0 ? rules_type_rule(m->rules, it->type, strlen(it->type)) : -1;
	if (rule >= 0 && rules_allowed(m->rules, it->value, it->len))
		rule = -1;	/* allowed since it was minted */
	if (rule < 0)	/* unknown, expired, or of a rule no longer loaded */
		return add_nope(m, it->tag);
	rc = mask_cache_reserve(m, 1);
	if (rc != MG_OK)
		return rc;
	e = mask_cache_get(m, (unsigned)rule, it->value, it->len);
	if (e == NULL)
		return MG_ENOMEM;
	if (e->num == 0) {
		e->num = it->num;
		rc = mask_cache_rput(m, e->rule, e->num, e->value, e->len);
		if (rc == MG_OK)
			rc = mask_recall_note(m, e);
		if (rc != MG_OK)
			return rc;
	}
	*out = e;
	return MG_OK;
}

enum mg_err
mask_recall_apply(struct mask_session *m, struct store_map_recall_item *items, size_t n)
{
	struct centry *e;
	enum mg_err rc = MG_OK;
	size_t i;

	for (i = 0; i < n && rc == MG_OK; i++)
		rc = apply_one(m, &items[i], &e);
	return rc;
}

/* Deferred: keeps the candidates for mask_resolve's one read (values copied). */
static enum mg_err
defer_cands(struct mask_session *m, const char *in, struct cvec *v)
{
	size_t i, j;

	for (i = 0; i < v->n; i++) {
		const struct cand *c = &v->c[i];
		size_t len = c->end - c->start;
		if (c->e != NULL)
			continue;
		m->provisional++;	/* this text's outcome waits for the store */
		for (j = 0; j < m->nrpend; j++)
			if (m->rpend[j].tag == c->tag && m->rpend[j].len == len &&
			    memcmp(m->rpend[j].value, in + c->start, len) == 0)
				break;
		if (j < m->nrpend)
			continue;
		if (m->nrpend == m->caprpend) {
			size_t ncap = m->caprpend ? m->caprpend * 2 : 16;
			struct store_map_recall_item *g = arena_alloc(m->arena, ncap * sizeof(*g));
			if (g == NULL)
				return MG_ENOMEM;
			if (m->nrpend > 0)
				memcpy(g, m->rpend, m->nrpend * sizeof(*g));
			m->rpend = g;
			m->caprpend = ncap;
		}
		m->rpend[m->nrpend].tag = c->tag;
		m->rpend[m->nrpend].value = arena_strndup(m->arena, in + c->start, len);
		m->rpend[m->nrpend].len = len;
		m->rpend[m->nrpend].num = 0;
		if (m->rpend[m->nrpend].value == NULL)
			return MG_ENOMEM;
		m->nrpend++;
	}
	return MG_OK;
}

/* Asks the store about the candidates no session entry answered. */
static enum mg_err
confirm(struct mask_session *m, const char *in, struct cvec *v)
{
	struct store_map_recall_item *items;
	size_t i, j, n = 0;
	enum mg_err rc;

	for (i = 0; i < v->n; i++)
		n += v->c[i].e == NULL;
	if (n == 0)
		return MG_OK;
	if (m->deferred)
		return defer_cands(m, in, v);
	items = arena_alloc(m->arena, n * sizeof(*items));
	if (items == NULL)
		return MG_ENOMEM;
	n = 0;
	for (i = 0; i < v->n; i++) {
		struct cand *c = &v->c[i];
		if (c->e != NULL)
			continue;
		for (j = 0; j < n; j++)	/* the same token twice: ask once */
			if (items[j].tag == c->tag && items[j].len == c->end - c->start &&
			    memcmp(items[j].value, in + c->start, items[j].len) == 0)
				break;
		c->item = j;
		if (j < n)
			continue;
		items[n].tag = c->tag;
		items[n].value = in + c->start;
		items[n].len = c->end - c->start;
		n++;
	}
	m->calls.reads++;
	rc = store_map_recall_find(m->store, m->tenant, items, n, time(NULL));
	if (rc != MG_OK) {
		log_error("mask: recall lookup failed for tenant %s: %s", m->tenant,
		    mg_strerror(rc));
		return rc;
	}
	for (i = 0; i < v->n; i++) {
		struct cand *c = &v->c[i];
		struct centry *e;
		if (c->e != NULL)
			continue;
		rc = apply_one(m, &items[c->item], &e);
		if (rc != MG_OK)
			return rc;
		c->e = e;
	}
	return MG_OK;
}

static int
cmp_cand(const void *pa, const void *pb)
{
	const struct cand *a = pa, *b = pb;

	if (a->start != b->start)
		return a->start < b->start ? -1 : 1;
	if (a->end != b->end)
		return a->end > b->end ? -1 : 1;	/* longest first */
	return 0;
}

/*
 * The stretches recall must leave alone, sorted: the rules' spans ms[0..n)
 * (masked, allowed or blocked: decided already) and the placeholders
 * already in the text.
 */
static enum mg_err
blocked_spans(struct mask_session *m, const char *in, size_t len, const struct rules_match *ms,
    size_t n, struct mask_emit **out, size_t *nout)
{
	struct mask_emit *b;
	size_t cap = n + 8, k = 0, nb = 0, p;

	b = arena_alloc(m->arena, cap * sizeof(*b));
	if (b == NULL)
		return MG_ENOMEM;
	for (p = rules_placeholder_next(m->rules, in, len, 0); p < len || k < n;) {
		struct rules_placeholder ph;
		int is_ph = p < len && (p == 0 || !isalnum((unsigned char)in[p - 1])) &&
		    rules_placeholder_parse(m->rules, in, len, p, &ph);
		if (nb == cap) {
			struct mask_emit *g = arena_alloc(m->arena, cap * 2 * sizeof(*g));
			if (g == NULL)
				return MG_ENOMEM;
			memcpy(g, b, nb * sizeof(*g));
			b = g;
			cap *= 2;
		}
		if (k < n && (!is_ph || ms[k].start <= p)) {
			b[nb].start = ms[k].start;
			b[nb++].end = ms[k++].end;
		} else if (is_ph) {
			b[nb].start = p;
			b[nb++].end = ph.end;
			p = rules_placeholder_next(m->rules, in, len, ph.end);
			continue;
		}
		if (p < len && !is_ph)
			p = rules_placeholder_next(m->rules, in, len, p + 1);
	}
	*out = b;
	*nout = nb;
	return MG_OK;
}

enum mg_err
mask_recall_spans(struct mask_session *m, const char *in, size_t len,
    const struct rules_match *ms, size_t n, struct mask_emit **out, size_t *nout)
{
	const struct recall_filter *f = m->recall_ready ? recall_filter_find(m->tenant) : NULL;
	struct cvec v = { NULL, 0, 0, m->arena };
	struct mask_emit *b, *em;
	size_t nb, i, k, pos = 0, last_end = 0;
	enum mg_err rc;

	*out = NULL;
	*nout = 0;
	if (f != NULL && f->count == 0)
		f = NULL;
	if (m->kcount == 0 && f == NULL)
		return MG_OK;
	rc = blocked_spans(m, in, len, ms, n, &b, &nb);
	if (rc != MG_OK)
		return rc;
	/* every stretch between blocked spans, cut into separator-free runs */
	for (k = 0; k <= nb; k++) {
		size_t stop = k < nb ? b[k].start : len;
		while (pos < stop) {
			size_t rs;
			while (pos < stop && is_sep((unsigned char)in[pos]))
				pos++;
			rs = pos;
			while (pos < stop && !is_sep((unsigned char)in[pos]))
				pos++;
			if (pos > rs) {
				rc = run_cands(m, f, in, rs, pos, &v);
				if (rc != MG_OK)
					return rc;
			}
		}
		if (k < nb && b[k].end > pos)
			pos = b[k].end;
	}
	if (v.n == 0)
		return MG_OK;
	rc = confirm(m, in, &v);
	if (rc != MG_OK)
		return rc;
	qsort(v.c, v.n, sizeof(*v.c), cmp_cand);
	em = arena_alloc(m->arena, v.n * sizeof(*em));
	if (em == NULL)
		return MG_ENOMEM;
	for (i = 0; i < v.n; i++) {
		if (v.c[i].e == NULL || (*nout > 0 && v.c[i].start < last_end))
			continue;
		em[*nout].start = v.c[i].start;
		em[*nout].end = v.c[i].end;
		em[*nout].e = v.c[i].e;
		(*nout)++;
		last_end = v.c[i].end;
	}
	*out = em;
	return MG_OK;
}

/* ---- the second phase of a deferred request ---------------------------- */

struct sync_ctx {
	struct arena *a;
	uint64_t *tags;
	size_t n, cap;
	enum mg_err rc;
};

static void
sync_tag(void *arg, uint64_t tag)
{
	struct sync_ctx *sc = arg;

	if (sc->rc != MG_OK)
		return;
	if (sc->n == sc->cap) {
		size_t ncap = sc->cap ? sc->cap * 2 : 64;
		uint64_t *g = arena_alloc(sc->a, ncap * sizeof(*g));
		if (g == NULL) {
			sc->rc = MG_ENOMEM;
			return;
		}
		if (sc->n > 0)
			memcpy(g, sc->tags, sc->n * sizeof(*g));
		sc->tags = g;
		sc->cap = ncap;
	}
	sc->tags[sc->n++] = tag;
}

enum mg_err
mask_recall_resolve(struct mask_session *m, struct store_map_item *items, size_t n,
    unsigned char *stale, int *again)
{
	struct recall_filter *f = recall_filter_slot(m->tenant);
	struct store_map_sync sync;
	struct sync_ctx sc = { m->arena, NULL, 0, 0, MG_OK };
	enum mg_err rc;
	size_t i;

	*again = 0;
	if (f == NULL)
		return MG_ENOMEM;
	memset(&sync, 0, sizeof(sync));
	sync.gen_known = f->gen;
	sync.seq_known = f->seq;
	sync.fn = sync_tag;
	sync.arg = &sc;
	m->calls.reads++;
	rc = store_map_lookup_batch(m->store, m->tenant, items, n, m->rpend, m->nrpend,
	    time(NULL), stale, &sync);
	if (rc == MG_OK)
		rc = sc.rc;
	if (rc != MG_OK) {
		log_error("mask: lookup failed for tenant %s: %s", m->tenant, mg_strerror(rc));
		return rc;
	}
	/* a tag the filter did not hold: a value the first phase could not look for */
	for (i = 0; i < sc.n && !*again; i++)
		*again = !recall_filter_has(f, sc.tags[i]);
	/*
	 * Another generation: rows may have been deleted, the tags came in
	 * full. The same set (the first sync after this worker's own first
	 * mint) keeps the filter and its version, so cached strings hold.
	 */
	if (sync.gen != f->gen && !(*again == 0 && sc.n == f->count)) {
		recall_filter_clear(f);
		/* a cached output may name a mapping that is gone: mask afresh */
		*again = *again || m->cache_hits > 0;
	}
	for (i = 0; i < sc.n && rc == MG_OK; i++)
		rc = recall_filter_add(f, sc.tags[i]);
	if (rc != MG_OK) {
		recall_filter_clear(f);
		return rc;
	}
	f->gen = sync.gen;
	f->seq = sync.seq;
	rc = mask_recall_apply(m, m->rpend, m->nrpend);
	m->nrpend = 0;
	return rc;
}
