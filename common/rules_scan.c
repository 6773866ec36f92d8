/*
 * rules_scan.c - finding the spans to mask (placeholders already in the
 * text are protected; their grammar is in rules_placeholder.c).
 *
 * Scanning is one pass over the text with a bigram filter on the first two
 * bytes of every lead and a hashed trigram filter on the first three; only where a lead really occurs does its rule's
 * regex run, starting at most `back` bytes before it and never starting
 * after it (PCRE2 offset limit). Rules without a lead scan the whole text.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rules_int.h"
#include "validate.h"

/* rules_scan keeps its per-rule offsets on the stack up to this many rules */
#define SCAN_NEXT_STACK 512

static int
is_word(int c)
{
	return isalnum((unsigned char)c) || c == '_';
}

struct mvec {
	struct rules_match *m;
	size_t n;
	size_t cap;
	struct arena *a;
};

static enum mg_err
mvec_push(struct mvec *v, size_t start, size_t end, unsigned rule, enum rules_action action)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 64;
		struct rules_match *g = arena_alloc(v->a, cap * sizeof(*g));
		if (g == NULL)
			return MG_ENOMEM;
		if (v->n > 0)
			memcpy(g, v->m, v->n * sizeof(*g));
		v->m = g;
		v->cap = cap;
	}
	v->m[v->n].start = start;
	v->m[v->n].end = end;
	v->m[v->n].rule = rule;
	v->m[v->n].action = action;
	v->n++;
	return MG_OK;
}

static int
lead_eq(const struct rules_lead *l, const unsigned char *t)
{
	size_t i;

	for (i = 0; i < l->len; i++) {
		unsigned char c = t[i];
		switch (l->cls[i]) {
		case RULES_LC_DIGIT:
			if (c < '0' || c > '9')
				return 0;
			break;
		case RULES_LC_HEX:
			if (!isxdigit(c))
				return 0;
			break;
		default:
			if (l->nocase && c >= 'A' && c <= 'Z')
				c |= 0x20;
			if (c != l->pat[i])
				return 0;
		}
	}
	return 1;
}

static int overlaps(const struct rules_match *ph, size_t nph, size_t s, size_t e);

/*
 * Runs rule ri for a lead occurrence at occ: every match starting in
 * [max(occ - back, *next), occ] is tried, leftmost first. *next is the
 * first offset this rule may still start a match at (matches of one rule
 * never overlap, and offsets already searched are not searched again).
 */
static enum mg_err
try_rule(const struct rules *r, unsigned ri, const char *text, size_t len, size_t occ,
    size_t limit, size_t *next, struct mvec *v, const struct mvec *ph)
{
	const struct rules_rule *ru = &r->rule[ri];
	size_t start;

	if (occ < *next)
		return MG_OK;
	/* compiled to machine code at its first use (else the interpreter runs it) */
	if (r->jit && !r->jit_tried[ri]) {
		r->jit_tried[ri] = 1;
		(void)pcre2_jit_compile(ru->code, PCRE2_JIT_COMPLETE);
	}
	start = occ >= (size_t)ru->back ? occ - (size_t)ru->back : 0;
	if (start < *next)
		start = *next;
	while (start <= limit && start <= len) {
		PCRE2_SIZE *ov;
		size_t ms, me, s, e;
		int rc;

		pcre2_set_offset_limit(r->mctx, limit);
		rc = pcre2_match(ru->code, (PCRE2_SPTR)text, len, start, 0, r->md, r->mctx);
		if (rc == PCRE2_ERROR_NOMATCH)
			break;
		if (rc < 0) {
			PCRE2_UCHAR msg[128];
			pcre2_get_error_message(rc, msg, sizeof(msg));
			log_error("rules: rule [%s] failed: %s", ru->name, (const char *)msg);
			return MG_ERULES;
		}
		ov = pcre2_get_ovector_pointer(r->md);
		ms = ov[0];
		me = ov[1];
		s = ms;
		e = me;
		if (ru->has_group && rc >= 2 && ov[2] != PCRE2_UNSET) {
			s = ov[2];
			e = ov[3];
		}
		/*
		 * A placeholder is never context: "SECRET_CONFIG_SECRET_001 = v"
		 * names no secret, and taking it for one would make masking
		 * masked text change it.
		 */
		if (me <= ms || e <= s || (s > ms && overlaps(ph->m, ph->n, ms, s)) ||
		    (ru->validator >= 0 && !validate_run(ru->validator, text, len, s, e))) {
			start = ms + 1;
			continue;
		}
		if (mvec_push(v, s, e, ri, ru->action) != MG_OK)
			return MG_ENOMEM;
		*next = me;
		start = me;
	}
	if (*next <= limit)
		*next = limit + 1;
	return MG_OK;
}

/* Ordering for resolve(): leftmost, then longest, then highest priority. */
static int
cmp_match(const void *pa, const void *pb, void *arg)
{
	const struct rules *r = arg;
	const struct rules_match *a = pa, *b = pb;
	size_t la = a->end - a->start, lb = b->end - b->start;
	int prio_a = r->rule[a->rule].priority, prio_b = r->rule[b->rule].priority;

	if (a->start != b->start)
		return a->start < b->start ? -1 : 1;
	if (la != lb)
		return la > lb ? -1 : 1;
	if (prio_a != prio_b)
		return prio_a > prio_b ? -1 : 1;
	return a->rule < b->rule ? -1 : a->rule > b->rule;
}

static int
is_allowed(const struct rules *r, const char *s, size_t n)
{
	size_t lo = 0, hi = r->nallow;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		size_t ml = r->allowlen[mid];
		int c = memcmp(r->allow[mid], s, ml < n ? ml : n);
		if (c == 0)
			c = ml < n ? -1 : ml > n;
		if (c == 0)
			return 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/*
 * Overlap resolution. Candidates are sorted leftmost first, then longest,
 * then by priority; a candidate is chosen when it starts at or after the
 * end of the last chosen one. So every candidate that is dropped overlaps
 * a chosen span: a match that overlaps only a loser is never lost (the
 * transitive-group bug of earlier systems). Placeholders already in the
 * text count as chosen before everything else, which keeps masking
 * idempotent. Chosen spans are compacted to the front of v.
 */
static void
resolve(const struct rules *r, struct mvec *v, const struct rules_match *ph, size_t nph)
{
	size_t i, out = 0, last_end = 0, k = 0;

	qsort_r(v->m, v->n, sizeof(*v->m), cmp_match, (void *)r);
	for (i = 0; i < v->n; i++) {
		struct rules_match m = v->m[i];
		while (k < nph && ph[k].end <= m.start)
			k++;
		if (k < nph && ph[k].start < m.end)
			continue;	/* overlaps a placeholder */
		if (out > 0 && m.start < last_end)
			continue;	/* overlaps the chosen span before it */
		v->m[out++] = m;
		last_end = m.end;
	}
	v->n = out;
}

/* ---- account IDs beyond their context ---------------------------------- */

static int
is_dig(int c)
{
	return c >= '0' && c <= '9';
}

/* The enabled mask rule of type ACCOUNT, or -1. */
static int
account_rule(const struct rules *r)
{
	size_t i;

	for (i = 0; i < r->nactive; i++) {
		const struct rules_rule *ru = &r->rule[r->active[i]];
		if (ru->action == RULES_MASK && ru->typelen == 7 && memcmp(ru->type, "ACCOUNT", 7) == 0)
			return (int)r->active[i];
	}
	return -1;
}

/*
 * The account field of an ARN starting at text[s] and ending before e
 * (arn:partition:service:region:ACCOUNT:resource), as [*as, *ae); 0 when
 * the ARN has none (S3, AWS-managed policies).
 */
static int
arn_account(const char *text, size_t s, size_t e, size_t *as, size_t *ae)
{
	size_t p = s, colons = 0, i;

	if (e - s < 4 || memcmp(text + s, "arn:", 4) != 0)
		return 0;
	while (p < e && colons < 4) {
		if (text[p] == ':')
			colons++;
		p++;
	}
	if (colons < 4 || p + 12 > e)
		return 0;
	for (i = 0; i < 12; i++)
		if (!is_dig(text[p + i]))
			return 0;
	if (p + 12 < e && text[p + 12] != ':' && text[p + 12] != '/')
		return 0;
	*as = p;
	*ae = p + 12;
	return 1;
}

static int
overlaps(const struct rules_match *ph, size_t nph, size_t s, size_t e)
{
	size_t lo = 0, hi = nph;

	while (lo < hi) {	/* first placeholder ending after s */
		size_t mid = (lo + hi) / 2;
		if (ph[mid].end <= s)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < nph && ph[lo].start < e;
}

/*
 * A match that overlaps a placeholder already in the text is dropped, but
 * an ARN around a placeholder (arn:aws:iam::483920175634:role/AWS_EC2_001)
 * still names its account: such a candidate becomes its account field.
 */
static void
salvage_arns(const struct rules *r, struct mvec *v, const struct rules_match *ph, size_t nph,
    const char *text, int acct)
{
	size_t i, as, ae;

	if (acct < 0 || nph == 0)
		return;
	for (i = 0; i < v->n; i++) {
		struct rules_match *m = &v->m[i];
		if (!overlaps(ph, nph, m->start, m->end) ||
		    !arn_account(text, m->start, m->end, &as, &ae) || overlaps(ph, nph, as, ae))
			continue;
		m->start = as;
		m->end = ae;
		m->rule = (unsigned)acct;
		m->action = r->rule[acct].action;
	}
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t
digits12(const char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 12; i++)
		v = v * 10 + (uint64_t)(p[i] - '0');
	return v;
}

/*
 * Context travels within a text: an account ID recognised in context (a key
 * that names an account, an ARN) is the same account where it stands alone
 * elsewhere ("in the ``123456789012`` AWS account", "codebuild-...-123456789012-
 * input-bucket", "urn:.../123456789012/..."), so every standalone 12-digit
 * occurrence of it is masked too. Also the further items of a list whose
 * first item was matched ("UserIds": ["111...", "222..."]). v holds the
 * chosen, sorted spans; new ones are added and v is sorted again.
 */
static enum mg_err
propagate_accounts(const struct rules *r, struct mvec *v, const struct rules_match *ph, size_t nph,
    const char *text, size_t len, int acct)
{
	const unsigned char *t = (const unsigned char *)text;
	uint64_t *val;
	size_t nval = 0, nchosen = v->n, i, j = 0, as, ae;

	if (acct < 0 || nchosen == 0)
		return MG_OK;
	/* the further items of a list after a matched account */
	for (i = 0; i < nchosen; i++) {
		size_t p = v->m[i].end, q;
		if ((int)v->m[i].rule != acct || v->m[i].action != RULES_MASK)
			continue;
		for (;;) {
			while (p < len && (t[p] == '"' || t[p] == '\'' || t[p] == '`' || t[p] == ' '))
				p++;
			if (p >= len || t[p] != ',')
				break;
			p++;
			while (p < len && (isspace(t[p]) || t[p] == '"' || t[p] == '\'' || t[p] == '`'))
				p++;
			for (q = p; q < len && q - p < 13 && is_dig(t[q]); q++)
				;
			if (q - p != 12 || (q < len && isalnum(t[q])) || overlaps(ph, nph, p, q) ||
			    (i + 1 < nchosen && v->m[i + 1].start < q))
				break;
			if (mvec_push(v, p, q, (unsigned)acct, r->rule[acct].action) != MG_OK)
				return MG_ENOMEM;
			p = q;
		}
	}
	if (v->n > nchosen) {
		qsort_r(v->m, v->n, sizeof(*v->m), cmp_match, (void *)r);
		nchosen = v->n;
	}
	val = arena_alloc(v->a, nchosen * sizeof(*val) + 8);
	if (val == NULL)
		return MG_ENOMEM;
	for (i = 0; i < nchosen; i++) {
		const struct rules_match *m = &v->m[i];
		if (m->action != RULES_MASK)
			continue;
		if ((int)m->rule == acct && m->end - m->start == 12)
			val[nval++] = digits12(text + m->start);
		else if (arn_account(text, m->start, m->end, &as, &ae))
			val[nval++] = digits12(text + as);
	}
	if (nval == 0)
		return MG_OK;
	qsort(val, nval, sizeof(*val), cmp_u64);
	/* every standalone run of exactly 12 digits: test the 12th byte of a
	 * window; when it is no digit, no such run starts in the window */
	i = 0;
	while (i + 12 <= len) {
		size_t s, e;
		uint64_t x;
		if (!is_dig(t[i + 11])) {
			i += 12;
			continue;
		}
		s = i + 11;
		while (s > 0 && is_dig(t[s - 1]))
			s--;
		e = i + 12;
		while (e < len && is_dig(t[e]))
			e++;
		i = e + 1;
		if (e - s != 12 || (s > 0 && isalpha(t[s - 1])) || (e < len && isalpha(t[e])))
			continue;
		x = digits12(text + s);
		if (bsearch(&x, val, nval, sizeof(*val), cmp_u64) == NULL)
			continue;
		while (j < nchosen && v->m[j].end <= s)
			j++;
		if ((j < nchosen && v->m[j].start < e) || overlaps(ph, nph, s, e))
			continue;
		if (mvec_push(v, s, e, (unsigned)acct, r->rule[acct].action) != MG_OK)
			return MG_ENOMEM;
	}
	if (v->n > nchosen)
		qsort_r(v->m, v->n, sizeof(*v->m), cmp_match, (void *)r);
	return MG_OK;
}

enum mg_err
rules_scan(const struct rules *r, struct arena *a, const char *text, size_t len,
    struct rules_match **out, size_t *n)
{
	const unsigned char *t = (const unsigned char *)text;
	struct mvec v = { NULL, 0, 0, a }, ph = { NULL, 0, 0, a };
	size_t next_stack[SCAN_NEXT_STACK], *next = next_stack, i;
	enum mg_err rc;
	int acct;

	*out = NULL;
	*n = 0;
	/*
	 * One offset per rule, on the stack: a request scans hundreds of
	 * strings, and this array from the arena was 40 % of a Claude Code
	 * request's arena (the 77 KB body: 585 KB of 1.34 MB).
	 */
	if (r->nrule + 1 > SCAN_NEXT_STACK)
		next = arena_alloc(a, (r->nrule + 1) * sizeof(size_t));
	if (next == NULL)
		return MG_ENOMEM;
	if (next == next_stack)
		memset(next_stack, 0, (r->nrule + 1) * sizeof(size_t));
	/* placeholders present in the text are protected */
	{
		size_t pos = rules_placeholder_next(r, text, len, 0);
		while (pos < len) {
			unsigned rule;
			unsigned long num;
			size_t pend;
			if ((pos == 0 || !is_word(text[pos - 1])) &&
			    rules_placeholder_at(r, text, len, pos, &rule, &num, &pend)) {
				if (mvec_push(&ph, pos, pend, rule, RULES_ALLOW) != MG_OK)
					return MG_ENOMEM;
				pos = rules_placeholder_next(r, text, len, pend);
			} else {
				pos = rules_placeholder_next(r, text, len, pos + 1);
			}
		}
	}
	for (i = 0; i + 1 < len; i++) {
		unsigned bg = (unsigned)t[i] << 8 | t[i + 1];
		uint32_t k, b;
		if (!((r->bigram_bits[bg >> 6] >> (bg & 63)) & 1))
			continue;
		if (i + 2 < len) {
			uint32_t h = rules_trigram(t[i], t[i + 1], t[i + 2]);
			if (!((r->trigram_bits[h >> 6] >> (h & 63)) & 1))
				continue;
		}
		b = rules_bigram_index(r->bigram_bits, r->bigram_rank, bg);
		for (k = r->bucket_start[b]; k < r->bucket_start[b + 1]; k++) {
			const struct rules_lead_quick *q = &r->quick[r->bucket[k]];
			if (i + q->len > len)
				continue;
			if (i + 4 <= len) {
				uint32_t w;
				memcpy(&w, t + i, 4);
				if ((w & q->qmask) != q->qval)
					continue;
				if (q->len > 4) {
					memcpy(&w, t + i + q->len - 4, 4);
					if ((w & q->tmask) != q->tval)
						continue;
				}
			}
			if (q->len > 4 || q->qmask != 0xffffffffu) {
				if (!lead_eq(&r->lead[r->bucket[k]], t + i))
					continue;
			}
			rc = try_rule(r, q->rule, text, len, i, i, &next[q->rule], &v, &ph);
			if (rc != MG_OK)
				return rc;
		}
	}
	for (i = 0; i < r->nnoleads; i++) {
		rc = try_rule(r, r->noleads[i], text, len, 0, len, &next[r->noleads[i]], &v, &ph);
		if (rc != MG_OK)
			return rc;
	}
	if (v.n == 0) {
		*out = v.m;
		return MG_OK;
	}
	if (r->nallow > 0)
		for (i = 0; i < v.n; i++)
			if (is_allowed(r, text + v.m[i].start, v.m[i].end - v.m[i].start))
				v.m[i].action = RULES_ALLOW;
	acct = account_rule(r);
	salvage_arns(r, &v, ph.m, ph.n, text, acct);
	resolve(r, &v, ph.m, ph.n);
	rc = propagate_accounts(r, &v, ph.m, ph.n, text, len, acct);
	if (rc != MG_OK)
		return rc;
	*out = v.m;
	*n = v.n;
	return MG_OK;
}
