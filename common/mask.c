/*
 * mask.c - the masking engine: rules find the spans, the store gives each
 * (tenant, type, value) its stable number, and placeholders AWS_<TYPE>_<N>
 * replace the values; unmasking turns placeholders back into values.
 *
 * A session caches both directions in its arena, so that within a request
 * each distinct value or placeholder costs at most one store lookup (new
 * values: one lookup plus their share of one allocation transaction per
 * mask_text call).
 */
#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "crypto.h"
#include "decode.h"
#include "mask.h"
#include "mask_int.h"
#include "rules.h"
#include "store.h"
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
};

static int
is_word(int c)
{
	return isalnum((unsigned char)c) || c == '_';
}

static uint64_t
hash_bytes(unsigned rule, const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL ^ rule;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h ^ (h >> 29);
}

static uint64_t
hash_num(unsigned rule, unsigned long num)
{
	uint64_t h = ((uint64_t)rule << 40) ^ num;

	h *= 0x9e3779b97f4a7c15ULL;
	return h ^ (h >> 31);
}

struct mask_session *
mask_session_new(struct arena *a, const struct rules *r, struct store *s, const char *tenant)
{
	struct mask_session *m;

	if (a == NULL || r == NULL || s == NULL || tenant == NULL || tenant[0] == '\0')
		return NULL;
	m = arena_alloc(a, sizeof(*m));
	if (m == NULL)
		return NULL;
	m->arena = a;
	m->rules = r;
	m->store = s;
	m->tenant = arena_strdup(a, tenant);
	m->nslots = rules_slots(r);
	m->counts = arena_alloc(a, (m->nslots + 1) * sizeof(*m->counts));
	m->vcap = 64;
	m->vtab = arena_alloc(a, m->vcap * sizeof(*m->vtab));
	m->rcap = 64;
	m->rtab = arena_alloc(a, m->rcap * sizeof(*m->rtab));
	m->kcap = 64;
	m->ktab = arena_alloc(a, m->kcap * sizeof(*m->ktab));
	if (m->tenant == NULL || m->counts == NULL || m->vtab == NULL || m->rtab == NULL ||
	    m->ktab == NULL)
		return NULL;
	return m;
}

/* ---- caches (open addressing, grown at half load) --------------------- */

static struct centry *
vfind(struct mask_session *m, unsigned rule, const char *v, size_t n, uint64_t h)
{
	size_t i = (size_t)h & (m->vcap - 1);

	for (;; i = (i + 1) & (m->vcap - 1)) {
		struct centry *e = &m->vtab[i];
		if (!e->used || (e->hash == h && e->rule == rule && e->len == n &&
		    /* NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker): v is NULL only for empty text, which has no matches */
		    memcmp(e->value, v, n) == 0))
			return e;
	}
}

static enum mg_err
vgrow(struct mask_session *m)
{
	struct centry *old = m->vtab;
	size_t oldcap = m->vcap, i;

	m->vtab = arena_alloc(m->arena, oldcap * 2 * sizeof(*m->vtab));
	if (m->vtab == NULL) {
		m->vtab = old;
		return MG_ENOMEM;
	}
	m->vcap = oldcap * 2;
	for (i = 0; i < oldcap; i++)
		if (old[i].used)
			*vfind(m, old[i].rule, old[i].value, old[i].len, old[i].hash) = old[i];
	return MG_OK;
}

/*
 * The cache entry for (rule, value), created (num 0) if missing. The caller
 * makes room first, so that entry pointers stay valid while it holds them.
 */
static struct centry *
vget(struct mask_session *m, unsigned rule, const char *v, size_t n)
{
	uint64_t h = hash_bytes(rule, v, n);
	struct centry *e;

	MG_ASSERT((m->vcount + 1) * 2 <= m->vcap);	/* mask_text grew it */
	e = vfind(m, rule, v, n, h);
	if (!e->used) {
		e->value = arena_strndup(m->arena, v, n);
		if (e->value == NULL)
			return NULL;
		e->len = n;
		e->hash = h;
		e->rule = rule;
		e->used = 1;
		m->vcount++;
	}
	return e;
}

static struct rentry *
rfind(struct mask_session *m, unsigned rule, unsigned long num)
{
	size_t i = (size_t)hash_num(rule, num) & (m->rcap - 1);

	for (;; i = (i + 1) & (m->rcap - 1)) {
		struct rentry *e = &m->rtab[i];
		if (!e->used || (e->rule == rule && e->num == num))
			return e;
	}
}

static enum mg_err
rput(struct mask_session *m, unsigned rule, unsigned long num, const char *v, size_t n)
{
	struct rentry *e;

	if ((m->rcount + 1) * 2 > m->rcap) {
		struct rentry *old = m->rtab;
		size_t oldcap = m->rcap, i;
		m->rtab = arena_alloc(m->arena, oldcap * 2 * sizeof(*m->rtab));
		if (m->rtab == NULL) {
			m->rtab = old;
			return MG_ENOMEM;
		}
		m->rcap = oldcap * 2;
		for (i = 0; i < oldcap; i++)
			if (old[i].used)
				*rfind(m, old[i].rule, old[i].num) = old[i];
	}
	e = rfind(m, rule, num);
	if (!e->used)
		m->rcount++;
	e->used = 1;
	e->rule = rule;
	e->num = num;
	e->value = v;
	e->len = n;
	return MG_OK;
}

/*
 * Recall: a value the rules found once in this request (with its context:
 * a secret key after aws_secret_access_key, an account id after OwnerId, a
 * bucket after s3://) is masked wherever else it stands as a whole token,
 * even without context, so the same identifier never leaks in clear a few
 * lines further down. Only values of 8+ bytes with a digit, '-', '.', '/'
 * or '_' are recalled, so that a bucket called "feedback" does not mask
 * the word everywhere.
 */
static int
recallable(const char *v, size_t n)
{
	size_t i;

	if (n < 8)
		return 0;
	for (i = 0; i < n; i++)
		if (isdigit((unsigned char)v[i]) || v[i] == '-' || v[i] == '.' || v[i] == '/' ||
		    v[i] == '_')
			return 1;
	return 0;
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

static enum mg_err
kput(struct mask_session *m, const struct centry *e)
{
	uint64_t h;
	struct kentry *k;

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
	h = hash_bytes(0, e->value, e->len);
	k = kfind(m, e->value, e->len, h);
	if (!k->used) {
		k->used = 1;
		k->hash = h;
		k->e = e;
		m->kcount++;
	}
	return MG_OK;
}

static int
is_token_sep(unsigned char c)
{
	switch (c) {
	case '"': case '\'': case ',': case ';': case '(': case ')': case '[': case ']':
	case '{': case '}': case '<': case '>': case '|': case '`': case '\\':
		return 1;
	default:
		return c <= ' ';
	}
}

static const struct centry *
krecall(struct mask_session *m, const char *v, size_t n)
{
	struct kentry *k;

	if (n < 8)
		return NULL;
	k = kfind(m, v, n, hash_bytes(0, v, n));
	return k->used ? k->e : NULL;
}

/* one span to replace on output */
struct emit {
	size_t start;
	size_t end;
	const struct centry *e;
};

/*
 * Adds the recalled tokens of in[0..len) that lie outside the chosen spans
 * to out (sorted, as the spans are).
 */
static enum mg_err
recall_tokens(struct mask_session *m, const char *in, size_t len, const struct rules_match *ms,
    size_t n, struct emit **out, size_t *nout, size_t *cap)
{
	size_t i = 0, k = 0;

	while (i < len) {
		size_t ts, te, vs, ve;
		const struct centry *e;
		const char *eq;

		while (i < len && is_token_sep((unsigned char)in[i]))
			i++;
		ts = i;
		while (i < len && !is_token_sep((unsigned char)in[i]))
			i++;
		te = i;
		if (te - ts < 8)
			continue;
		while (k < n && ms[k].end <= ts)
			k++;
		if (k < n && ms[k].start < te)
			continue;	/* a rule already decided this token */
		vs = ts;
		ve = te;
		while (ve > vs && (in[ve - 1] == '.' || in[ve - 1] == ':'))
			ve--;
		e = krecall(m, in + vs, ve - vs);
		eq = e == NULL ? memchr(in + vs, '=', ve - vs) : NULL;
		if (eq != NULL) {
			vs = (size_t)(eq - in) + 1;	/* key=value */
			e = krecall(m, in + vs, ve - vs);
		}
		if (e == NULL)
			continue;
		if (*nout == *cap) {
			size_t ncap = *cap ? *cap * 2 : 16;
			struct emit *g = arena_alloc(m->arena, ncap * sizeof(*g));
			if (g == NULL)
				return MG_ENOMEM;
			if (*nout > 0)
				memcpy(g, *out, *nout * sizeof(*g));
			*out = g;
			*cap = ncap;
		}
		(*out)[*nout].start = vs;
		(*out)[*nout].end = ve;
		(*out)[*nout].e = e;
		(*nout)++;
	}
	return MG_OK;
}

/* ---- masking ---------------------------------------------------------- */

static enum mg_err emit_masked(struct mask_session *m, const char *in, size_t len,
    const struct rules_match *ms, size_t n, struct centry **ent, struct buf *out);

/* Looks up, then allocates, the numbers of all pending entries. */
static enum mg_err
resolve_pending(struct mask_session *m, struct centry **pend, size_t npend)
{
	struct store_map_item *items;
	time_t now = time(NULL);
	enum mg_err rc;
	size_t i;

	items = arena_alloc(m->arena, npend * sizeof(*items));
	if (items == NULL)
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
	rc = store_map_lookup(m->store, m->tenant, items, npend, now);
	if (rc == MG_OK) {
		for (i = 0; i < npend; i++)
			if (items[i].num == 0)
				m->counts[pend[i]->rule].minted++;
		rc = store_map_assign(m->store, m->tenant, items, npend, now);
	}
	for (i = 0; i < npend; i++) {
		struct centry *e = pend[i];
		e->pending = 0;
		if (rc != MG_OK || items[i].num == 0)
			continue;
		e->num = items[i].num;
		if (rput(m, e->rule, e->num, e->value, e->len) != MG_OK)
			return MG_ENOMEM;
	}
	if (rc != MG_OK)
		log_error("mask: store failed for tenant %s: %s", m->tenant, mg_strerror(rc));
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

/*
 * One masking pass (see mask_int.h): scan, refuse on a block rule, give
 * every chosen value its number (one batched lookup, one minting
 * transaction), then emit in[] with the spans replaced.
 */
enum mg_err
mask_pass(struct mask_session *m, const char *scan, size_t scanlen, size_t lo, size_t hi,
    const struct decode_view *view, const char *in, size_t len, struct buf *out)
{
	struct rules_match *ms;
	struct centry **ent, **pend;
	size_t n, i, npend = 0;
	enum mg_err rc;

	if (m == NULL || (in == NULL && len > 0) || lo > hi || hi > scanlen)
		return MG_EINVAL;
	rc = rules_scan(m->rules, m->arena, scan, scanlen, &ms, &n);
	if (rc != MG_OK)
		return rc;
	if ((lo > 0 || hi < scanlen) && !keep_window(ms, &n, lo, hi)) {
		rc = rules_scan(m->rules, m->arena, scan + lo, hi - lo, &ms, &n);
		if (rc != MG_OK)
			return rc;
	}
	if (n == 0 && m->kcount == 0)
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
	while ((m->vcount + n + 1) * 2 > m->vcap)
		if (vgrow(m) != MG_OK)
			return MG_ENOMEM;
	for (i = 0; i < n; i++) {
		struct centry *e;
		if (ms[i].action != RULES_MASK)
			continue;
		/* the value as the window spells it: decoded when scanning a view */
		e = vget(m, ms[i].rule, scan + lo + ms[i].start, ms[i].end - ms[i].start);
		if (e == NULL)
			return MG_ENOMEM;
		if (e->num == 0 && !e->pending) {
			e->pending = 1;
			pend[npend++] = e;
		}
		ent[i] = e;
	}
	if (npend > 0) {
		rc = resolve_pending(m, pend, npend);
		if (rc != MG_OK)
			return rc;
	}
	for (i = 0; i < n; i++) {
		if (ms[i].action != RULES_MASK)
			continue;
		MG_ASSERT(ent[i]->num != 0);
		if (kput(m, ent[i]) != MG_OK)
			return MG_ENOMEM;
	}
	if (view != NULL)
		map_spans(ms, n, view);
	return emit_masked(m, in, len, ms, n, ent, out);
}

/* Writes in[0..len) with the chosen spans and recalled tokens replaced. */
static enum mg_err
emit_masked(struct mask_session *m, const char *in, size_t len, const struct rules_match *ms,
    size_t n, struct centry **ent, struct buf *out)
{
	struct emit *extra = NULL;
	size_t nextra = 0, cap = 0, i = 0, j = 0, copied = 0;
	enum mg_err rc;

	if (m->kcount > 0) {
		rc = recall_tokens(m, in, len, ms, n, &extra, &nextra, &cap);
		if (rc != MG_OK)
			return rc;
	}
	for (;;) {
		struct emit cur;
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
		phlen = rules_placeholder_format(m->rules, cur.e->rule, cur.e->num, ph, sizeof(ph));
		if (phlen == 0)
			return MG_ERULES;
		if (buf_append(out, in + copied, cur.start - copied) != MG_OK ||
		    buf_append(out, ph, phlen) != MG_OK)
			return MG_ENOMEM;
		copied = cur.end;
		m->counts[cur.e->rule].masked++;
	}
	return buf_append(out, in + copied, len - copied);
}

/* ---- unmasking -------------------------------------------------------- */

/* longest text mask_holdback keeps: runs this long are no placeholder */
#define RUN_KEEP 1024

/* Number of backslashes directly before in[pos]. */
static size_t
backslashes_before(const char *in, size_t pos)
{
	size_t k = 0;

	while (pos > k && in[pos - k - 1] == '\\')
		k++;
	return k;
}

/*
 * In JSON string text, does an escape sequence end right before pos? Sets
 * *cp to the character it stands for.
 */
static int
escape_before(const char *in, size_t pos, int *cp)
{
	if (pos >= 2 && strchr("nrtbf", in[pos - 1]) != NULL && in[pos - 2] == '\\' &&
	    backslashes_before(in, pos - 1) % 2 == 1) {
		*cp = '\n';
		return 1;
	}
	if (pos >= 6 && in[pos - 6] == '\\' && in[pos - 5] == 'u' &&
	    backslashes_before(in, pos - 5) % 2 == 1) {
		int i, v = 0;
		for (i = 4; i >= 1; i--) {
			int h = crypto_hexval(in[pos - (size_t)i]);
			if (h < 0)
				return 0;
			v = v * 16 + h;
		}
		*cp = v;
		return 1;
	}
	return 0;
}

/*
 * Token boundary before pos (start of text counts: see mask_holdback). An
 * escape like "\n" or "\u00e9" before a placeholder is a boundary in JSON
 * string text and in plain text alike (code the model writes has them), so
 * that both modes agree with the one mask_holdback.
 */
static int
left_boundary(const char *in, size_t pos, int json)
{
	int cp;

	(void)json;
	if (pos == 0 || !is_word(in[pos - 1]))
		return 1;
	if (escape_before(in, pos, &cp))
		return cp > 127 || !is_word(cp);
	return 0;
}

/* Token boundary at end (the placeholder's word run already stopped). */
static int
right_boundary(const char *in, size_t len, size_t end, int json)
{
	int i, v = 0;

	if (!json || end + 6 > len || in[end] != '\\' || in[end + 1] != 'u')
		return 1;
	for (i = 2; i < 6; i++) {
		int h = crypto_hexval(in[end + (size_t)i]);
		if (h < 0)
			return 1;
		v = v * 16 + h;
	}
	return v > 127 || !is_word(v);
}

/* The value of placeholder (rule, num) for this tenant, or NULL. */
static enum mg_err
lookup_value(struct mask_session *m, unsigned rule, unsigned long num, const char **v,
    size_t *n)
{
	struct rentry *e = rfind(m, rule, num);
	struct buf val;
	enum mg_err rc;

	if (e->used) {
		*v = e->value;
		*n = e->len;
		return MG_OK;
	}
	buf_init(&val, m->arena);
	rc = store_map_resolve(m->store, m->tenant, rules_type(m->rules, rule), num, time(NULL),
	    &val);
	if (rc == MG_ENOTFOUND) {
		*v = NULL;
		*n = 0;
		return rput(m, rule, num, NULL, 0);
	}
	if (rc != MG_OK)
		return rc;
	if (val.data == NULL) {
		val.data = arena_strdup(m->arena, "");
		if (val.data == NULL)
			return MG_ENOMEM;
	}
	*v = val.data;
	*n = val.len;
	return rput(m, rule, num, val.data, val.len);
}

enum mg_err
mask_unmask(struct mask_session *m, const char *in, size_t len, int json_escape,
    struct buf *out)
{
	size_t p = 0, copied = 0;
	enum mg_err rc;

	if (m == NULL || (in == NULL && len > 0))
		return MG_EINVAL;
	while (p + 4 <= len) {
		const char *hit = memmem(in + p, len - p, "AWS_", 4);
		size_t pos, end;
		unsigned rule;
		unsigned long num;
		const char *v;
		size_t vlen;

		if (hit == NULL)
			break;
		pos = (size_t)(hit - in);
		if (!left_boundary(in, pos, json_escape) ||
		    !rules_placeholder_at(m->rules, in, len, pos, &rule, &num, &end) ||
		    !right_boundary(in, len, end, json_escape)) {
			p = pos + 1;
			continue;
		}
		rc = lookup_value(m, rule, num, &v, &vlen);
		if (rc != MG_OK) {
			log_error("mask: unmask failed for tenant %s: %s", m->tenant, mg_strerror(rc));
			return rc;
		}
		p = end;
		if (v == NULL)
			continue;	/* unknown to this tenant or expired: leave as is */
		if (buf_append(out, in + copied, pos - copied) != MG_OK)
			return MG_ENOMEM;
		rc = json_escape ? buf_append_json_escaped(out, v, vlen) : buf_append(out, v, vlen);
		if (rc != MG_OK)
			return rc;
		copied = end;
		m->counts[rule].restored++;
	}
	return buf_append(out, in + copied, len - copied);
}

/*
 * What a stream must keep back so that the next call, which starts where
 * this text is cut, sees every placeholder whole and may treat its own
 * start as a token boundary (mask_unmask does):
 *  - an unfinished JSON escape ("\\", "\\u0", ...) with the word run
 *    ([A-Za-z0-9_]) before it;
 *  - else, if the trailing word run is (a prefix of) a placeholder, the
 *    whole run: digits may still follow;
 *  - else a few characters of the run: the cut may not fall where the next
 *    text starts with 'A' (a placeholder could start there although a word
 *    character stands before it), nor right after a complete placeholder
 *    (this call would restore it although the token goes on).
 * Usually that is one character, or none after a space or punctuation.
 */
size_t
mask_holdback(const struct mask_session *m, const char *text, size_t len)
{
	size_t r, k, cut, end;
	unsigned rule;
	unsigned long num;
	int partial = 0;

	if (m == NULL || len == 0)
		return 0;
	r = len;
	for (k = 0; k <= 3 && k + 2 <= len; k++) {
		size_t u = len - k - 1, j;
		if (text[u] != 'u' || text[u - 1] != '\\' || backslashes_before(text, u) % 2 == 0)
			continue;
		for (j = u + 1; j < len && crypto_hexval(text[j]) >= 0; j++)
			;
		if (j == len) {
			r = u - 1;
			partial = 1;
			break;
		}
	}
	if (!partial && text[len - 1] == '\\' && backslashes_before(text, len) % 2 == 1) {
		r = len - 1;
		partial = 1;
	}
	end = r;
	while (r > 0 && is_word(text[r - 1])) {
		int cp;
		if (escape_before(text, r, &cp))
			break;
		r--;
	}
	if (partial || r == len)
		return len - r > RUN_KEEP ? RUN_KEEP : len - r;
	if (rules_placeholder_prefix(m->rules, text + r, len - r))
		return len - r;
	for (cut = len - 1; cut > r; cut--) {
		if (text[cut] == 'A')
			continue;
		if (rules_placeholder_at(m->rules, text, cut, r, &rule, &num, &end) && end == cut)
			continue;
		break;
	}
	return len - cut > RUN_KEEP ? RUN_KEEP : len - cut;
}

const char *
mask_blocked_type(const struct mask_session *m)
{
	return m != NULL ? m->blocked : NULL;
}

void
mask_session_foreach_type(const struct mask_session *m,
    void (*fn)(void *arg, const char *type, unsigned long masked, unsigned long restored,
    unsigned long minted), void *arg)
{
	size_t i;

	for (i = 0; m != NULL && i < m->nslots; i++) {
		const struct mask_counts *c = &m->counts[i];
		if (c->masked || c->restored || c->minted)
			fn(arg, rules_type(m->rules, (unsigned)i), c->masked, c->restored, c->minted);
	}
}

struct arena *
mask_session_arena(const struct mask_session *m)
{
	return m->arena;
}
