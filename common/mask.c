/*
 * mask.c - the masking engine: rules find the spans, the store gives each
 * (tenant, type, value) its stable number, and placeholders (grammar in
 * rules_placeholder.c: AWS_EC2_001, AWS_SECRET_KEY_001_K7Q2) replace the
 * values. Unmasking, which turns placeholders back into values where the
 * rule's restore policy allows, is in unmask.c; recall of known values is
 * in mask_recall.c.
 *
 * A session (mask_session.c) caches both directions in its arena, so that
 * within a request each distinct value or placeholder costs at most one
 * store lookup (new values: one lookup plus their share of one allocation
 * transaction per mask_text call).
 */
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "crypto.h"
#include "decode.h"
#include "mask_int.h"
#include "rules.h"
#include "store.h"
#include "store_map.h"

/*
 * The tag of credential placeholder (rule, num) for this tenant: keyed
 * bytes from the store mapped onto RULES_TAG_ALPHABET (32 characters, so
 * each takes 5 bits of a byte and the mapping is uniform).
 */
enum mg_err
mask_placeholder_tag(struct mask_session *m, unsigned rule, unsigned long num,
    char tag[RULES_TAG_LEN])
{
	unsigned char h[CRYPTO_HASH_LEN];
	enum mg_err rc;
	size_t i;

	rc = store_map_tag(m->store, m->tenant, rules_type(m->rules, rule), num, h);
	if (rc != MG_OK)
		return rc;
	for (i = 0; i < RULES_TAG_LEN; i++)
		tag[i] = RULES_TAG_ALPHABET[h[i] & 31];
	return MG_OK;
}

/* Formats the placeholder of e into ph (tag included); its length or 0. */
static size_t
placeholder_of(struct mask_session *m, const struct centry *e, char *ph, size_t phlen)
{
	char tag[RULES_TAG_LEN];

	if (e->num == 0) {
		/* deferred: a stand-in of the same shape; the caller masks this text again */
		MG_ASSERT(m->deferred);
		memset(tag, 'Z', sizeof(tag));
		m->provisional++;
		return rules_placeholder_format(m->rules, e->rule, 0, tag, ph, phlen);
	}
	if (rules_credential(m->rules, e->rule) &&
	    mask_placeholder_tag(m, e->rule, e->num, tag) != MG_OK)
		return 0;
	return rules_placeholder_format(m->rules, e->rule, e->num, tag, ph, phlen);
}

/* ---- masking ---------------------------------------------------------- */

static enum mg_err mask_count(struct mask_session *m, unsigned rule);
static enum mg_err emit_masked(struct mask_session *m, const char *in, size_t len,
    const struct rules_match *ms, size_t n, struct centry **ent, const struct mask_emit *extra,
    size_t nextra, struct buf *out);

/* The store items (hashed) of pend[0..npend); stale flags beside them. */
static enum mg_err
pending_items(struct mask_session *m, struct centry **pend, size_t npend,
    struct store_map_item **out, unsigned char **stale)
{
	struct store_map_item *items;
	enum mg_err rc;
	size_t i;

	items = arena_alloc(m->arena, (npend + 1) * sizeof(*items));
	*stale = arena_alloc(m->arena, npend + 1);
	if (items == NULL || *stale == NULL)
		return MG_ENOMEM;
	for (i = 0; i < npend; i++) {
		struct centry *e = pend[i];
		items[i].type = rules_type(m->rules, e->rule);
		items[i].value = e->value;
		items[i].len = e->len;
		items[i].num = 0;
		rc = store_map_hash(m->store, m->tenant, items[i].type, e->value, e->len,
		    items[i].hash);
		if (rc != MG_OK)
			return rc;
	}
	*out = items;
	return MG_OK;
}

/*
 * Mints the items the lookup did not find and refreshes the stale ones, in
 * one write transaction (none when there is nothing to write), then gives
 * the entries their numbers.
 */
static enum mg_err
settle_pending(struct mask_session *m, struct centry **pend, struct store_map_item *items,
    const unsigned char *stale, size_t npend, enum mg_err rc)
{
	size_t i, write = 0;

	if (rc == MG_OK) {
		for (i = 0; i < npend; i++) {
			if (items[i].num == 0)
				m->counts[pend[i]->rule].minted++;
			write += items[i].num == 0 || stale[i];
		}
		if (write > 0) {
			m->calls.writes++;
			rc = store_map_settle(m->store, m->tenant, items, npend, stale, time(NULL));
		}
	}
	for (i = 0; i < npend; i++) {
		struct centry *e = pend[i];
		e->pending = 0;
		if (rc != MG_OK || items[i].num == 0)
			continue;
		e->num = items[i].num;
		if (mask_cache_rput(m, e->rule, e->num, e->value, e->len) != MG_OK)
			return MG_ENOMEM;
	}
	if (rc != MG_OK)
		log_error("mask: store failed for tenant %s: %s", m->tenant, mg_strerror(rc));
	return rc;
}

/* Looks up, then allocates, the numbers of all pending entries (at once). */
static enum mg_err
resolve_pending(struct mask_session *m, struct centry **pend, size_t npend)
{
	struct store_map_item *items = NULL;
	unsigned char *stale = NULL;
	enum mg_err rc;

	rc = pending_items(m, pend, npend, &items, &stale);
	if (rc != MG_OK)
		return rc;
	m->calls.reads++;
	rc = store_map_lookup_batch(m->store, m->tenant, items, npend, NULL, 0, time(NULL), stale,
	    NULL);
	return settle_pending(m, pend, items, stale, npend, rc);
}

/*
 * Counts a span masked. While deferred, the count is also logged, so that
 * a text whose output was provisional (masked again after mask_resolve)
 * is counted once (mask_mark_end).
 */
static enum mg_err
mask_count(struct mask_session *m, unsigned rule)
{
	m->counts[rule].masked++;
	if (!m->deferred)
		return MG_OK;
	if (m->nclog == m->capclog) {
		size_t ncap = m->capclog ? m->capclog * 2 : 64;
		unsigned *g = arena_alloc(m->arena, ncap * sizeof(*g));
		if (g == NULL)
			return MG_ENOMEM;
		if (m->nclog > 0)
			memcpy(g, m->clog, m->nclog * sizeof(*g));
		m->clog = g;
		m->capclog = ncap;
	}
	m->clog[m->nclog++] = rule;
	return MG_OK;
}

enum mg_err
mask_capture(struct mask_session *m, const struct centry *e, int counted)
{
	struct mask_cache_val *v;

	if (m->ncapture == m->capcapture) {
		size_t ncap = m->capcapture ? m->capcapture * 2 : 32;
		struct mask_cache_val *g = arena_alloc(m->arena, ncap * sizeof(*g));
		if (g == NULL)
			return MG_ENOMEM;
		if (m->ncapture > 0)
			memcpy(g, m->capture, m->ncapture * sizeof(*g));
		m->capture = g;
		m->capcapture = ncap;
	}
	v = &m->capture[m->ncapture++];
	v->rule = e->rule;
	v->num = e->num;
	v->value = e->value;
	v->len = e->len;
	v->counted = counted;
	return MG_OK;
}

enum mg_err
mask_replay(struct mask_session *m, const struct mask_cache_val *vals, size_t n,
    int in_filter)
{
	enum mg_err rc = mask_cache_reserve(m, n);
	size_t i;
	int k;

	for (i = 0; i < n && rc == MG_OK; i++) {
		struct centry *e = mask_cache_get(m, vals[i].rule, vals[i].value, vals[i].len);
		if (e == NULL)
			return MG_ENOMEM;
		if (e->num == 0) {
			e->num = vals[i].num;
			rc = mask_cache_rput(m, e->rule, e->num, e->value, e->len);
		}
		if (rc == MG_OK)
			rc = in_filter ? mask_recall_know(m, e) : mask_recall_note(m, e);
		for (k = 0; k < vals[i].counted && rc == MG_OK; k++)
			rc = mask_count(m, vals[i].rule);
	}
	return rc;
}

void
mask_mark_begin(const struct mask_session *m, struct mask_mark *mark)
{
	mark->provisional = m->provisional;
	mark->nclog = m->nclog;
}

void
mask_mark_end(struct mask_session *m, const struct mask_mark *mark)
{
	size_t i;

	if (m->provisional != mark->provisional)
		for (i = mark->nclog; i < m->nclog; i++)
			m->counts[m->clog[i]].masked--;
	m->nclog = mark->nclog;
}

/* Deferred: remembers the pending entries for mask_resolve. */
static enum mg_err
defer_pending(struct mask_session *m, struct centry **pend, size_t npend)
{
	if (m->npend + npend > m->cappend) {
		size_t ncap = (m->npend + npend) * 2 + 16;
		/* an array of entry pointers: sizeof(*g) is meant */
		struct centry **g = arena_alloc(m->arena, ncap * sizeof(*g));	/* NOLINT(bugprone-sizeof-expression) */
		if (g == NULL)
			return MG_ENOMEM;
		if (m->npend > 0)
			memcpy(g, m->pend, m->npend * sizeof(*g));	/* NOLINT(bugprone-sizeof-expression) */
		m->pend = g;
		m->cappend = ncap;
	}
	memcpy(m->pend + m->npend, pend, npend * sizeof(*pend));	/* NOLINT(bugprone-sizeof-expression) */
	m->npend += npend;
	return MG_OK;
}

void
mask_defer(struct mask_session *m)
{
	m->deferred = 1;
}

unsigned long
mask_provisional(const struct mask_session *m)
{
	return m->provisional;
}

void
mask_session_store_calls(const struct mask_session *m, struct mask_store_calls *out)
{
	*out = m->calls;
}

/*
 * The second phase: one read transaction for every value collected (and
 * the recall candidates and the filter's catch-up, mask_recall_resolve),
 * one write transaction for the new values. *again: the filter learnt
 * values this request's scan could not look for, so every string must be
 * masked again (no longer deferred: anything new costs its own lookup).
 */
enum mg_err
mask_resolve(struct mask_session *m, int *again)
{
	struct store_map_item *items = NULL;
	unsigned char *stale = NULL;
	enum mg_err rc;
	size_t npend = m->npend, i, fresh = 0;
	int caught_up;

	*again = 0;
	if (!m->deferred)
		return MG_OK;
	m->deferred = 0;
	rc = pending_items(m, m->pend, npend, &items, &stale);
	if (rc != MG_OK)
		return rc;
	rc = mask_recall_resolve(m, items, npend, stale, again);
	caught_up = *again;
	for (i = 0; i < npend && rc == MG_OK; i++)
		fresh += items[i].num == 0;	/* new to the store: no filter held it */
	rc = settle_pending(m, m->pend, items, stale, npend, rc);
	m->npend = 0;
	/*
	 * A new value may also stand bare in a text the first phase already
	 * masked without it (a question before the tool output that shows the
	 * value in context): every text is masked again, now knowing it. New
	 * to the store (fresh), or only to this worker: another worker minted
	 * it, and the first phase noted it into the filter when it met it in
	 * context, after the texts before had been scanned.
	 */
	if (rc == MG_OK && (fresh > 0 || mask_recall_version(m) != m->scan_version))
		*again = 1;
	if (rc == MG_OK && *again) {
		for (i = 0; i < m->nslots; i++)	/* every text is masked, and counted, again */
			m->counts[i].masked = 0;
		m->pass_version = mask_recall_version(m);	/* ... under the filter as it is now */
	}
	if (rc == MG_OK && caught_up && m->cache_hits > 0) {
		/* values a cached output brought may be gone: the session forgets all */
		memset(m->vtab, 0, m->vcap * sizeof(*m->vtab));
		memset(m->rtab, 0, m->rcap * sizeof(*m->rtab));
		memset(m->ktab, 0, m->kcap * sizeof(*m->ktab));
		m->vcount = m->rcount = m->kcount = 0;
		m->nnope = 0;
		m->cache_hits = 0;
	}
	return rc;
}

/*
 * Keeps the matches of ms[0..*n) that a pass may act on: those inside the
 * window [lo, hi) of the scanned text, moved to window offsets. Returns 0
 * when a mask or block match straddles an edge of the window (the caller
 * scans the window alone instead).
 */
static int
keep_window(struct rules_match *ms, size_t *n, size_t lo, size_t hi)
{
	size_t i, k = 0;

	for (i = 0; i < *n; i++) {
		if (ms[i].end <= lo || ms[i].start >= hi)
			continue;	/* context only: its own string is scanned alone */
		if (ms[i].start < lo || ms[i].end > hi) {
			if (ms[i].action != RULES_ALLOW)
				return 0;
			continue;
		}
		ms[k] = ms[i];
		ms[k].start -= lo;
		ms[k].end -= lo;
		k++;
	}
	*n = k;
	return 1;
}

/*
 * Moves the spans from view offsets to offsets of the original text the
 * view was decoded from; a span that ends inside an escape takes all of it.
 */
static void
map_spans(struct rules_match *ms, size_t n, const struct decode_view *view)
{
	size_t i, prev = 0;

	for (i = 0; i < n; i++) {
		size_t s = view->from[ms[i].start], e = decode_end(view, ms[i].end);
		if (s < prev)
			s = prev;	/* two spans in one escape: the first took it */
		if (e <= s) {
			ms[i].action = RULES_ALLOW;	/* nothing of its own left */
			ms[i].start = ms[i].end = s;
			continue;
		}
		ms[i].start = s;
		ms[i].end = e;
		prev = e;
	}
}

/* Moves recalled spans from view offsets to offsets of the original text. */
static void
map_recalled(struct mask_emit *x, size_t n, const struct decode_view *view)
{
	size_t i;

	for (i = 0; i < n; i++) {
		x[i].start = view->from[x[i].start];
		x[i].end = decode_end(view, x[i].end);
	}
}

/*
 * One masking pass (see mask_int.h): scan, refuse on a block rule, give
 * every chosen value its number (one batched lookup, one minting
 * transaction), find the known values the rules did not (mask_recall.c),
 * then emit in[] with the spans replaced.
 */
enum mg_err
mask_pass(struct mask_session *m, const char *scan, size_t scanlen, size_t lo, size_t hi,
    const struct decode_view *view, const char *in, size_t len, struct buf *out)
{
	struct rules_match *ms;
	const struct rules_match *vs;
	struct centry **ent, **pend;
	struct mask_emit *extra = NULL;
	const char *vtext;
	size_t n, i, npend = 0, nextra = 0;
	enum mg_err rc;

	if (m == NULL || (in == NULL && len > 0) || lo > hi || hi > scanlen)
		return MG_EINVAL;
	rc = mask_recall_begin(m);
	if (rc != MG_OK)
		return rc;
	rc = rules_scan(m->rules, m->arena, scan, scanlen, &ms, &n);
	if (rc != MG_OK)
		return rc;
	if ((lo > 0 || hi < scanlen) && !keep_window(ms, &n, lo, hi)) {
		rc = rules_scan(m->rules, m->arena, scan + lo, hi - lo, &ms, &n);
		if (rc != MG_OK)
			return rc;
	}
	if (n == 0 && !mask_recall_active(m))
		return buf_append(out, in, len);
	/* refuse before anything is minted for a request that will not go out */
	for (i = 0; i < n; i++) {
		if (ms[i].action == RULES_BLOCK) {
			m->blocked = rules_type(m->rules, ms[i].rule);
			log_warn("mask: tenant %s: blocked by rule %s", m->tenant,
			    rules_name(m->rules, ms[i].rule));
			return MG_EBLOCKED;
		}
	}
	/* arrays of entry pointers: sizeof(*ent) is meant */
	ent = arena_alloc(m->arena, (n + 1) * sizeof(*ent));	/* NOLINT(bugprone-sizeof-expression) */
	pend = arena_alloc(m->arena, (n + 1) * sizeof(*pend));	/* NOLINT(bugprone-sizeof-expression) */
	if (ent == NULL || pend == NULL)
		return MG_ENOMEM;
	/* grow the cache up front: ent[] and pend[] point into it */
	if (mask_cache_reserve(m, n) != MG_OK)
		return MG_ENOMEM;
	/*
	 * The value is what the placeholder will stand for: the bytes it
	 * replaces, spelled as the original text spells them (with their
	 * escapes when found in a decoded view), so that restoring gives back
	 * exactly what was sent (a presigned URL keeps its %2F).
	 */
	vs = ms;
	vtext = scan + lo;
	if (view != NULL && n > 0) {
		struct rules_match *copy = arena_alloc(m->arena, n * sizeof(*copy));
		if (copy == NULL)
			return MG_ENOMEM;
		memcpy(copy, ms, n * sizeof(*copy));
		map_spans(copy, n, view);
		vs = copy;
		vtext = in;
	}
	for (i = 0; i < n; i++) {
		struct centry *e;
		if (vs[i].action != RULES_MASK)
			continue;
		e = mask_cache_get(m, vs[i].rule, vtext + vs[i].start, vs[i].end - vs[i].start);
		if (e == NULL)
			return MG_ENOMEM;
		if (e->num == 0 && !e->pending) {
			e->pending = 1;
			pend[npend++] = e;
		}
		ent[i] = e;
	}
	if (npend > 0) {
		rc = m->deferred ? defer_pending(m, pend, npend) : resolve_pending(m, pend, npend);
		if (rc != MG_OK)
			return rc;
	}
	for (i = 0; i < n; i++) {
		if (vs[i].action != RULES_MASK)
			continue;
		MG_ASSERT(ent[i]->num != 0 || m->deferred);
		rc = mask_recall_note(m, ent[i]);
		if (rc != MG_OK)
			return rc;
	}
	/* known values in the window, as the window spells them */
	rc = mask_recall_spans(m, scan + lo, hi - lo, ms, n, &extra, &nextra);
	if (rc != MG_OK)
		return rc;
	if (view != NULL)
		map_recalled(extra, nextra, view);
	return emit_masked(m, in, len, vs, n, ent, extra, nextra, out);
}

/*
 * Masks all of in[0..len) as one value of rule: a blob (base64) whose
 * decoded text held rule's identifier, so that its placeholder restores
 * to exactly the blob sent.
 */
enum mg_err
mask_whole(struct mask_session *m, unsigned rule, const char *in, size_t len, struct buf *out)
{
	struct rules_match one;
	struct mask_emit none;
	struct centry *e, *pend[1];
	enum mg_err rc;

	memset(&none, 0, sizeof(none));
	if (mask_cache_reserve(m, 1) != MG_OK)
		return MG_ENOMEM;
	e = mask_cache_get(m, rule, in, len);
	if (e == NULL)
		return MG_ENOMEM;
	if (e->num == 0 && !e->pending) {
		e->pending = 1;
		pend[0] = e;
		rc = m->deferred ? defer_pending(m, pend, 1) : resolve_pending(m, pend, 1);
		if (rc != MG_OK)
			return rc;
	}
	MG_ASSERT(e->num != 0 || m->deferred);
	rc = mask_recall_note(m, e);
	if (rc != MG_OK)
		return rc;
	one.start = 0;
	one.end = len;
	one.rule = rule;
	one.action = RULES_MASK;
	/* no recalled spans: the whole text is the one value */
	return emit_masked(m, in, len, &one, 1, &e, &none, 0, out);
}

/* Writes in[0..len) with the chosen spans and recalled tokens replaced. */
static enum mg_err
emit_masked(struct mask_session *m, const char *in, size_t len, const struct rules_match *ms,
    size_t n, struct centry **ent, const struct mask_emit *extra, size_t nextra, struct buf *out)
{
	size_t i = 0, j = 0, copied = 0;
	enum mg_err rc;

	for (;;) {
		struct mask_emit cur;
		char ph[96];
		size_t phlen;

		while (i < n && ms[i].action != RULES_MASK)
			i++;
		if (i < n && (j >= nextra || ms[i].start < extra[j].start)) {
			cur.start = ms[i].start;
			cur.end = ms[i].end;
			cur.e = ent[i];
			i++;
		} else if (j < nextra) {
			cur = extra[j++];
		} else {
			break;
		}
		if (mask_capture(m, cur.e, cur.end > copied) != MG_OK)
			return MG_ENOMEM;
		if (cur.end <= copied)
			continue;	/* mapped into an escape the span before took */
		if (cur.start < copied)
			cur.start = copied;
		phlen = placeholder_of(m, cur.e, ph, sizeof(ph));
		if (phlen == 0)
			return MG_ERULES;
		if (buf_append(out, in + copied, cur.start - copied) != MG_OK ||
		    buf_append(out, ph, phlen) != MG_OK)
			return MG_ENOMEM;
		copied = cur.end;
		rc = mask_count(m, cur.e->rule);
		if (rc != MG_OK)
			return rc;
	}
	return buf_append(out, in + copied, len - copied);
}
