/*
 * rules_compile.c - from parsed rules to a rule set that can scan: {{NAME}}
 * macro expansion, PCRE2 compilation (JIT when the system allows it, else
 * the interpreter for every rule), the checks that need the whole set
 * (a type per rule, no empty matches), and the lead index: leads expanded
 * ({a,b}, \d, \x), their 4-byte quick checks and the bigram buckets that
 * rules_scan.c walks.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rules_int.h"

#define RULES_MAX_EXPAND 512
#define RULES_MATCH_LIMIT 2000000

/* for tests: pretend JIT is unavailable */
static int rules_force_interpreter;

/* Expands {{NAME}} macros into a new string (caller frees), or NULL. */
static char *
expand_macros(struct rules *r, const char *pat, int depth, char *why, size_t whylen)
{
	size_t cap = strlen(pat) + 1, n = 0;
	char *out = malloc(cap);
	const char *p = pat;

	if (out == NULL) {
		snprintf(why, whylen, "out of memory");	/* the caller prints why */
		return NULL;
	}
	while (*p != '\0') {
		const char *open = strstr(p, "{{"), *close;
		const char *add;
		size_t addlen, i;
		char *sub = NULL;

		if (open == NULL) {
			add = p;
			addlen = strlen(p);
			p += addlen;
		} else if (open > p) {
			add = p;
			addlen = (size_t)(open - p);
			p = open;
		} else {
			close = strstr(open + 2, "}}");
			if (close == NULL) {
				snprintf(why, whylen, "unclosed {{ in pattern");
				free(out);
				return NULL;
			}
			for (i = 0; i < r->ndef; i++)
				if (strlen(r->def[i].name) == (size_t)(close - open - 2) &&
				    memcmp(r->def[i].name, open + 2, (size_t)(close - open - 2)) == 0)
					break;
			if (i == r->ndef) {
				snprintf(why, whylen, "undefined macro {{%.*s}}",
				    (int)(close - open - 2), open + 2);
				free(out);
				return NULL;
			}
			if (depth > 8) {
				snprintf(why, whylen, "macros nested too deeply");
				free(out);
				return NULL;
			}
			sub = expand_macros(r, r->def[i].value, depth + 1, why, whylen);
			if (sub == NULL) {
				free(out);
				return NULL;
			}
			add = sub;
			addlen = strlen(sub);
			p = close + 2;
		}
		if (n + addlen + 1 > cap) {
			char *g;
			cap = (n + addlen + 1) * 2;
			g = realloc(out, cap);
			if (g == NULL) {
				free(sub);
				free(out);
				snprintf(why, whylen, "out of memory");
				return NULL;
			}
			out = g;
		}
		memcpy(out + n, add, addlen);
		n += addlen;
		free(sub);
	}
	out[n] = '\0';
	return out;
}

struct lead_list {
	char **item;
	size_t n;
};

/* Expands the first {a,b} group of s, recursively; collects results. */
static int
expand_braces(const char *s, struct lead_list *out)
{
	const char *open = NULL, *close = NULL, *p;
	char buf[RULES_MAX_LEAD * 2];

	for (p = s; *p != '\0'; p++) {
		if (*p == '\\' && p[1] != '\0') {
			p++;
			continue;
		}
		if (*p == '{' && open == NULL)
			open = p;
		else if (*p == '}' && open != NULL) {
			close = p;
			break;
		}
	}
	if (open == NULL || close == NULL) {
		char **g;
		if (out->n >= RULES_MAX_EXPAND)
			return -1;
		g = realloc(out->item, (out->n + 1) * sizeof(*g));
		if (g == NULL)
			return -1;
		out->item = g;
		g[out->n] = rules_strndup(s, strlen(s));
		if (g[out->n] == NULL)
			return -1;
		out->n++;
		return 0;
	}
	p = open + 1;
	for (;;) {
		const char *comma = p;
		int w;
		while (comma < close && *comma != ',')
			comma++;
		w = snprintf(buf, sizeof(buf), "%.*s%.*s%s", (int)(open - s), s,
		    (int)(comma - p), p, close + 1);
		if (w < 0 || (size_t)w >= sizeof(buf) || expand_braces(buf, out) != 0)
			return -1;
		if (comma >= close)
			break;
		p = comma + 1;
	}
	return 0;
}

/* Parses one expanded lead ("\d.\d") into l; returns an error string or NULL. */
static const char *
parse_lead(const char *s, int nocase, struct rules_lead *l)
{
	size_t n = 0, i;

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		enum rules_lead_class cls = RULES_LC_LIT;
		if (n >= RULES_MAX_LEAD)
			return "lead too long";
		if (c == '\\') {
			s++;
			if (*s == 'd')
				cls = RULES_LC_DIGIT;
			else if (*s == 'x')
				cls = RULES_LC_HEX;
			else if (*s == '\0')
				return "lead ends in a backslash";
			c = (unsigned char)*s;
		}
		l->cls[n] = (unsigned char)cls;
		l->pat[n] = nocase ? (unsigned char)tolower(c) : c;
		n++;
	}
	if (n < 2)
		return "lead shorter than 2 characters";
	l->len = n;
	l->nocase = nocase;
	l->qval = 0;
	l->qmask = 0;
	for (i = 0; i < n && i < 4; i++) {
		unsigned char p = l->pat[i], m = 0xff;
		if (l->cls[i] != RULES_LC_LIT)
			continue;	/* classes are checked by lead_eq */
		if (nocase && isalpha(p)) {
			m = 0xdf;	/* folds ASCII letter case */
			p &= 0xdf;
		}
		/* byte i of a little- or big-endian load, via memcpy order */
		((unsigned char *)&l->qval)[i] = p;
		((unsigned char *)&l->qmask)[i] = m;
	}
	return NULL;
}

/* Calls fn for every byte position-0 or position-1 value the lead accepts. */
static size_t
lead_bytes(const struct rules_lead *l, size_t i, unsigned char *out)
{
	size_t n = 0;
	int c;

	switch (l->cls[i]) {
	case RULES_LC_DIGIT:
		for (c = '0'; c <= '9'; c++)
			out[n++] = (unsigned char)c;
		break;
	case RULES_LC_HEX:
		for (c = '0'; c <= '9'; c++)
			out[n++] = (unsigned char)c;
		for (c = 'a'; c <= 'f'; c++) {
			out[n++] = (unsigned char)c;
			out[n++] = (unsigned char)toupper(c);
		}
		break;
	default:
		out[n++] = l->pat[i];
		if (l->nocase && isalpha(l->pat[i]))
			out[n++] = (unsigned char)toupper(l->pat[i]);
	}
	return n;
}

static int
add_leads(struct rules *r, unsigned ri, struct rules_diag *d)
{
	struct rules_rule *ru = &r->rule[ri];
	struct lead_list list = { NULL, 0 };
	char *copy, *tok, *save = NULL;
	size_t i;
	int rc = 0;

	copy = rules_strndup(ru->leads, strlen(ru->leads));
	if (copy == NULL) {
		/* a rule without its leads would never match: fail the load */
		rules_diag(d, ru->file, ru->lead_line, "out of memory");
		return -1;
	}
	for (tok = strtok_r(copy, " \t", &save); tok != NULL; tok = strtok_r(NULL, " \t", &save)) {
		if (expand_braces(tok, &list) != 0) {
			rules_diag(d, ru->file, ru->lead_line,
			    "lead '%s': bad or too large {a,b} expansion", tok);
			rc = -1;
			break;
		}
	}
	for (i = 0; rc == 0 && i < list.n; i++) {
		struct rules_lead l, *g;
		const char *why;
		memset(&l, 0, sizeof(l));
		why = parse_lead(list.item[i], ru->nocase, &l);
		if (why != NULL) {
			rules_diag(d, ru->file, ru->lead_line, "lead '%s': %s", list.item[i], why);
			rc = -1;
			break;
		}
		l.rule = ri;
		g = realloc(r->lead, (r->nlead + 1) * sizeof(*g));
		if (g == NULL) {
			rules_diag(d, ru->file, ru->lead_line, "out of memory");
			rc = -1;
			break;
		}
		r->lead = g;
		g[r->nlead++] = l;
	}
	for (i = 0; i < list.n; i++)
		free(list.item[i]);
	free(list.item);
	free(copy);
	return rc;
}

/*
 * Sets the trigram filter's bits for every first-three-bytes value lead l
 * accepts (every third byte when the lead is two bytes long).
 */
static void
add_trigrams(struct rules *r, const struct rules_lead *l)
{
	unsigned char b0[32], b1[32], b2[256];
	size_t n0 = lead_bytes(l, 0, b0), n1 = lead_bytes(l, 1, b1), n2, x, y, z;

	if (l->len >= 3) {
		n2 = lead_bytes(l, 2, b2);
	} else {
		for (n2 = 0; n2 < 256; n2++)
			b2[n2] = (unsigned char)n2;
	}
	for (x = 0; x < n0; x++)
		for (y = 0; y < n1; y++)
			for (z = 0; z < n2; z++) {
				uint32_t h = rules_trigram(b0[x], b1[y], b2[z]);
				r->trigram_bits[h >> 6] |= (uint64_t)1 << (h & 63);
			}
}

/*
 * Builds the bigram and trigram filters and the buckets over all leads.
 * The buckets are indexed by rank among the set bigrams: a table by
 * bigram (65537 offsets) was 256 KB of every worker's memory.
 */
static int
build_bigrams(struct rules *r)
{
	uint32_t *fill = NULL;
	size_t i, total = 0, nset = 0;
	int rc = -1;

	for (i = 0; i < r->nlead; i++) {
		unsigned char b0[32], b1[32];
		size_t n0 = lead_bytes(&r->lead[i], 0, b0), n1 = lead_bytes(&r->lead[i], 1, b1), x, y;
		add_trigrams(r, &r->lead[i]);
		for (x = 0; x < n0; x++)
			for (y = 0; y < n1; y++) {
				unsigned bg = (unsigned)b0[x] << 8 | b1[y];
				total++;
				r->bigram_bits[bg >> 6] |= (uint64_t)1 << (bg & 63);
			}
	}
	for (i = 0; i < 65536 / 64; i++) {
		r->bigram_rank[i] = (uint32_t)nset;
		nset += (size_t)__builtin_popcountll(r->bigram_bits[i]);
	}
	r->bucket_start = calloc(nset + 1, sizeof(uint32_t));
	fill = calloc(nset + 1, sizeof(uint32_t));
	r->bucket = malloc((total + 1) * sizeof(uint32_t));
	r->quick = malloc((r->nlead + 1) * sizeof(*r->quick));
	if (r->bucket_start == NULL || fill == NULL || r->bucket == NULL || r->quick == NULL)
		goto out;
	/* a lead's bigrams counted in the first pass: count, sum, then place */
	for (i = 0; i < r->nlead; i++) {
		unsigned char b0[32], b1[32];
		size_t n0 = lead_bytes(&r->lead[i], 0, b0), n1 = lead_bytes(&r->lead[i], 1, b1), x, y;
		for (x = 0; x < n0; x++)
			for (y = 0; y < n1; y++) {
				unsigned bg = (unsigned)b0[x] << 8 | b1[y];
				fill[rules_bigram_index(r->bigram_bits, r->bigram_rank, bg)]++;
			}
	}
	for (i = 0; i < nset; i++)
		r->bucket_start[i + 1] = r->bucket_start[i] + fill[i];
	for (i = 0; i < r->nlead; i++) {
		const struct rules_lead *l = &r->lead[i];
		size_t j, off = l->len >= 4 ? l->len - 4 : 0;
		r->quick[i].qval = l->qval;
		r->quick[i].qmask = l->qmask;
		r->quick[i].tval = 0;
		r->quick[i].tmask = 0;
		for (j = 0; j < 4 && off + j < l->len; j++) {
			unsigned char p = l->pat[off + j], m = 0xff;
			if (l->cls[off + j] != RULES_LC_LIT)
				continue;
			if (l->nocase && isalpha(p)) {
				m = 0xdf;
				p &= 0xdf;
			}
			((unsigned char *)&r->quick[i].tval)[j] = p;
			((unsigned char *)&r->quick[i].tmask)[j] = m;
		}
		r->quick[i].len = (uint32_t)l->len;
		r->quick[i].rule = l->rule;
	}
	memset(fill, 0, (nset + 1) * sizeof(uint32_t));
	for (i = 0; i < r->nlead; i++) {
		unsigned char b0[32], b1[32];
		size_t n0 = lead_bytes(&r->lead[i], 0, b0), n1 = lead_bytes(&r->lead[i], 1, b1), x, y;
		for (x = 0; x < n0; x++)
			for (y = 0; y < n1; y++) {
				unsigned bg = (unsigned)b0[x] << 8 | b1[y];
				uint32_t k = rules_bigram_index(r->bigram_bits, r->bigram_rank, bg);
				r->bucket[r->bucket_start[k] + fill[k]++] = (uint32_t)i;
			}
	}
	rc = 0;
out:
	free(fill);
	return rc;
}

static int
cmp_allow(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Compiles every enabled rule and builds the lead index (see rules_int.h). */
void
rules_compile(struct rules *r, struct rules_diag *d)
{
	size_t i, j, maxgroups = 1;

	r->active = calloc(r->nrule + 1, sizeof(unsigned));
	r->noleads = calloc(r->nrule + 1, sizeof(unsigned));
	r->known = calloc(r->nrule + 1, sizeof(unsigned));
	r->jit_tried = calloc(r->nrule + 1, 1);
	if (r->active == NULL || r->noleads == NULL || r->known == NULL || r->jit_tried == NULL) {
		rules_diag(d, "rules", 0, "out of memory");
		return;
	}
	/* valgrind and PCRE2's JIT: see tests/valgrind.supp */
	r->jit = !rules_force_interpreter;
	for (i = 0; i < r->nrule; i++) {
		struct rules_rule *ru = &r->rule[i];
		char why[256], *pat;
		int errcode, groups = 0;
		PCRE2_SIZE erroff;
		pcre2_match_data *md;

		if (!ru->enabled)
			continue;
		if (ru->pattern == NULL) {
			rules_diag(d, ru->file, ru->line, "rule [%s] has no pattern", ru->name);
			continue;
		}
		if (ru->action != RULES_ALLOW && ru->type == NULL) {
			rules_diag(d, ru->file, ru->line, "rule [%s] has no type", ru->name);
			continue;
		}
		if (ru->action != RULES_ALLOW && ru->type != NULL) {
			/* unique across all packs: the store keys values by type */
			for (j = 0; j < i; j++) {
				struct rules_rule *o = &r->rule[j];
				if (o->enabled && o->action != RULES_ALLOW && o->type != NULL &&
				    strcmp(o->type, ru->type) == 0) {
					rules_diag(d, ru->file, ru->line, "rule [%s]: type %s is already "
					    "used by rule [%s]; every rule needs its own type",
					    ru->name, ru->type, o->name);
					break;
				}
			}
		}
		if (ru->pack < 0 || !r->pack[ru->pack].selected)
			continue;	/* recognised (below), never scanned */
		pat = expand_macros(r, ru->pattern, 0, why, sizeof(why));
		if (pat == NULL) {
			rules_diag(d, ru->file, ru->pattern_line, "rule [%s]: %s", ru->name, why);
			continue;
		}
		/*
		 * A rule with leads runs only where its lead stands, at most
		 * `back` bytes before it: PCRE2's start-up search for a
		 * required later byte (the '@' of user:password@host) would
		 * read up to thousands of bytes past the lead on every call,
		 * so it is off for them; rules without leads keep it.
		 */
		ru->code = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
		    PCRE2_USE_OFFSET_LIMIT | PCRE2_NEVER_UTF | PCRE2_NEVER_UCP |
		    PCRE2_NEVER_BACKSLASH_C | (ru->leads != NULL ? PCRE2_NO_START_OPTIMIZE : 0),
		    &errcode, &erroff, NULL);
		free(pat);
		if (ru->code == NULL) {
			PCRE2_UCHAR msg[256];
			pcre2_get_error_message(errcode, msg, sizeof(msg));
			rules_diag(d, ru->file, ru->pattern_line,
			    "rule [%s]: pattern error at offset %zu: %s", ru->name, (size_t)erroff,
			    (const char *)msg);
			continue;
		}
		pcre2_pattern_info(ru->code, PCRE2_INFO_CAPTURECOUNT, &groups);
		ru->has_group = groups > 0;
		if ((size_t)groups + 1 > maxgroups)
			maxgroups = (size_t)groups + 1;
		/* a pattern matching nothing would loop or mask nothing: refuse */
		md = pcre2_match_data_create_from_pattern(ru->code, NULL);
		if (md != NULL && pcre2_match(ru->code, (PCRE2_SPTR)"", 0, 0, 0, md, NULL) >= 0)
			rules_diag(d, ru->file, ru->pattern_line,
			    "rule [%s]: pattern matches the empty string", ru->name);
		pcre2_match_data_free(md);
		/* the first rule tells whether JIT works here; the others wait for their first use */
		if (r->jit && r->nactive == 0) {
			int jrc = pcre2_jit_compile(ru->code, PCRE2_JIT_COMPLETE);
			r->jit_tried[i] = 1;
			if (jrc != 0) {
				PCRE2_UCHAR msg[256];
				pcre2_get_error_message(jrc, msg, sizeof(msg));
				log_warn("rules: PCRE2 JIT unavailable (%s); using the interpreter",
				    (const char *)msg);
				r->jit = 0;
			}
		}
		if (ru->leads != NULL) {
			if (add_leads(r, (unsigned)i, d) != 0)
				continue;
		} else {
			r->noleads[r->nnoleads++] = (unsigned)i;
		}
		r->active[r->nactive++] = (unsigned)i;
		if (ru->type != NULL && ru->typelen > r->maxtype)
			r->maxtype = ru->typelen;
	}
	if (d->count > 0)
		return;
	for (i = 0; i < r->nactive; i++)
		if (r->rule[r->active[i]].action == RULES_MASK)
			r->known[r->nknown++] = r->active[i];
	for (i = 0; i < r->nrule; i++) {
		const struct rules_rule *ru = &r->rule[i];
		if (ru->enabled && ru->action == RULES_MASK && ru->type != NULL &&
		    (ru->pack < 0 || !r->pack[ru->pack].selected)) {
			r->known[r->nknown++] = (unsigned)i;
			if (ru->typelen > r->maxtype)
				r->maxtype = ru->typelen;
		}
	}
	if (build_bigrams(r) != 0) {
		rules_diag(d, "rules", 0, "out of memory");
		return;
	}
	if (r->nallow > 0)
		qsort(r->allow, r->nallow, sizeof(char *), cmp_allow);
	for (i = 0; i < r->nallow; i++)
		r->allowlen[i] = strlen(r->allow[i]);
	r->md = pcre2_match_data_create((uint32_t)maxgroups, NULL);
	r->mctx = pcre2_match_context_create(NULL);
	if (r->md == NULL || r->mctx == NULL) {
		rules_diag(d, "rules", 0, "out of memory");
		return;
	}
	pcre2_set_match_limit(r->mctx, RULES_MATCH_LIMIT);
	if (r->jit) {
		r->jstack = pcre2_jit_stack_create(32 * 1024, 1024 * 1024, NULL);
		if (r->jstack != NULL)
			pcre2_jit_stack_assign(r->mctx, NULL, r->jstack);
	}
}
