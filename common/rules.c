/*
 * rules.c - rules files, compilation and scanning.
 *
 * File format (line based; '#' starts a comment line):
 *
 *   define NAME = regex          macro, used in patterns as {{NAME}}
 *   allow-value = literal        a value never to mask (admin files)
 *   [rule-name]                  starts a rule; in an admin file a name
 *                                that exists overrides only the fields given
 *   type = EC2                   placeholder type: AWS_EC2_001 (unique)
 *   priority = 60                breaks ties between equal spans (0..1000)
 *   action = mask|block|allow    default mask
 *   lead = i- vpc-{a,b}          literals that every match contains; \d is
 *                                a digit, \x a hex digit, {a,b} expands
 *   lead-nocase = yes            leads match in any letter case
 *   back = 0                     how far before a lead a match may start
 *   pattern = regex              PCRE2; repeated lines are concatenated; if
 *                                it has a capture group, group 1 is the span
 *                                that is masked, the rest is context
 *   validate = public_ipv4       a C validator from validate.c
 *   enabled = no                 switches a default rule off
 *
 * Scanning is one pass over the text with a bigram filter on the first two
 * bytes of every lead; only where a lead really occurs does its rule's
 * regex run, starting at most `back` bytes before it and never starting
 * after it (PCRE2 offset limit). Rules without a lead scan the whole text.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "embed.h"
#include "log.h"
#include "rules.h"
#include "validate.h"

#define RULES_MAX_TYPE 40
#define RULES_MAX_LEAD 128
#define RULES_MAX_EXPAND 512
#define RULES_MAX_BACK 512
#define RULES_MATCH_LIMIT 2000000

/* fields a section may set; an override replaces only these */
enum field {
	F_TYPE = 1 << 0, F_PRIORITY = 1 << 1, F_ACTION = 1 << 2, F_LEAD = 1 << 3,
	F_NOCASE = 1 << 4, F_BACK = 1 << 5, F_PATTERN = 1 << 6, F_VALIDATE = 1 << 7,
	F_ENABLED = 1 << 8
};

enum lead_class { LC_LIT, LC_DIGIT, LC_HEX };

struct rule {
	char *name;
	char *type;
	size_t typelen;
	char *pattern;		/* before macro expansion */
	char *leads;		/* space-separated, before expansion */
	int priority;
	int back;
	int nocase;
	int validator;		/* -1: none */
	int enabled;
	enum rules_action action;
	const char *file;	/* where the section (last override) starts */
	int line;
	int pattern_line;
	int lead_line;
	pcre2_code *code;
	int has_group;
};

struct lead {
	uint32_t qval;		/* quick check of the first 4 bytes: */
	uint32_t qmask;		/* (load32(text) & qmask) == qval */
	unsigned char pat[RULES_MAX_LEAD];	/* lowercased when nocase */
	unsigned char cls[RULES_MAX_LEAD];
	size_t len;
	unsigned rule;
	int nocase;
};

/* what the scan loop touches for every candidate, kept small */
struct lead_quick {
	uint32_t qval;		/* first 4 bytes, as in struct lead */
	uint32_t qmask;
	uint32_t tval;		/* last 4 bytes: tells apart leads sharing a */
	uint32_t tmask;		/* prefix, such as arn:aws:iam:: and arn:aws:s3::: */
	uint32_t len;
	uint32_t rule;
};

struct define {
	char *name;
	char *value;
	const char *file;
	int line;
};

struct rules {
	struct rule *rule;	/* all parsed rules; disabled ones stay */
	size_t nrule;
	unsigned *active;	/* indices of enabled rules */
	size_t nactive;
	struct define *def;
	size_t ndef;
	char **allow;		/* sorted allow-values */
	size_t *allowlen;
	size_t nallow;
	struct lead *lead;
	size_t nlead;
	uint64_t bigram_bits[65536 / 64];
	uint32_t *bucket_start;	/* 65537 entries */
	uint32_t *bucket;
	struct lead_quick *quick;	/* hot copy of the leads, same indices */
	unsigned *noleads;	/* enabled rules without a lead */
	size_t nnoleads;
	char *files[2];		/* names used in messages, owned */
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	pcre2_jit_stack *jstack;
	int jit;
	size_t maxtype;
};

struct diag {
	FILE *report;
	char *err;
	size_t errlen;
	int count;
};

/* for tests: pretend JIT is unavailable */
static int rules_force_interpreter;

static void __attribute__((format(printf, 4, 5)))
diag(struct diag *d, const char *file, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (d->count == 0 && d->err != NULL && d->errlen > 0) {
		if (line > 0)
			snprintf(d->err, d->errlen, "%s:%d: %s", file, line, msg);
		else
			snprintf(d->err, d->errlen, "%s: %s", file, msg);
	}
	if (d->report != NULL) {
		if (line > 0)
			fprintf(d->report, "%s:%d: %s\n", file, line, msg);
		else
			fprintf(d->report, "%s: %s\n", file, msg);
	}
	d->count++;
}

static char *
xstrndup(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p != NULL) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

static int
is_word(int c)
{
	return isalnum((unsigned char)c) || c == '_';
}

/* ---- parsing ---------------------------------------------------------- */

static struct rule *
find_rule(struct rules *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->nrule; i++)
		if (strcmp(r->rule[i].name, name) == 0)
			return &r->rule[i];
	return NULL;
}

static struct rule *
add_rule(struct rules *r, const char *name, size_t namelen)
{
	struct rule *grown, *ru;

	grown = realloc(r->rule, (r->nrule + 1) * sizeof(*grown));
	if (grown == NULL)
		return NULL;
	r->rule = grown;
	ru = &r->rule[r->nrule];
	memset(ru, 0, sizeof(*ru));
	ru->name = xstrndup(name, namelen);
	if (ru->name == NULL)
		return NULL;
	ru->priority = 50;
	ru->validator = -1;
	ru->enabled = 1;
	ru->action = RULES_MASK;
	r->nrule++;
	return ru;
}

static int
parse_bool(const char *v, int *out)
{
	if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
		*out = 1;
	else if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
		*out = 0;
	else
		return -1;
	return 0;
}

static int
parse_int(const char *v, long lo, long hi, int *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < lo || n > hi)
		return -1;
	*out = (int)n;
	return 0;
}

/* Replaces or (when append) extends *dst with v; returns -1 on ENOMEM. */
static int
set_str(char **dst, const char *v, int append, const char *sep)
{
	char *p;

	if (!append || *dst == NULL) {
		p = xstrndup(v, strlen(v));
	} else {
		size_t a = strlen(*dst), s = strlen(sep), b = strlen(v);
		p = malloc(a + s + b + 1);
		if (p != NULL) {
			memcpy(p, *dst, a);
			/* NOLINTNEXTLINE(bugprone-not-null-terminated-result): the next memcpy copies v's NUL */
			memcpy(p + a, sep, s);
			memcpy(p + a + s, v, b + 1);
		}
	}
	if (p == NULL)
		return -1;
	free(*dst);
	*dst = p;
	return 0;
}

static int
valid_rule_name(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 64)
		return 0;
	for (i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-' ||
		    s[i] == '_'))
			return 0;
	return 1;
}

/*
 * TYPE: capital letters and digits in '_'-separated segments, starting with
 * a letter; no segment is all digits, so the number of a placeholder is
 * always its last segment.
 */
static int
valid_type(const char *s)
{
	size_t i, n = strlen(s);
	int seg_letter = 0, seg_len = 0;

	if (n == 0 || n > RULES_MAX_TYPE || !isupper((unsigned char)s[0]))
		return 0;
	for (i = 0; i <= n; i++) {
		char c = s[i];
		if (c == '_' || c == '\0') {
			if (seg_len == 0 || !seg_letter)
				return 0;
			seg_len = 0;
			seg_letter = 0;
		} else if (isupper((unsigned char)c)) {
			seg_letter = 1;
			seg_len++;
		} else if (isdigit((unsigned char)c)) {
			seg_len++;
		} else {
			return 0;
		}
	}
	return 1;
}

static void
trim(char **s, size_t *n)
{
	while (*n > 0 && isspace((unsigned char)**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && isspace((unsigned char)(*s)[*n - 1]))
		(*n)--;
}

/*
 * Parses one rules file into r. admin: sections naming an existing rule
 * override its fields. Errors go to d; parsing continues to report more.
 */
static void
parse_file(struct rules *r, const char *text, size_t len, const char *file, int admin,
    struct diag *d)
{
	const char *p = text, *end = text + len;
	struct rule *cur = NULL;
	unsigned set = 0;	/* fields set in the current section */
	int lineno = 0;
	char **seen = NULL;	/* section names seen in this file */
	size_t nseen = 0, i;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		char *line = (char *)p;
		size_t n = (nl != NULL ? (size_t)(nl - p) : (size_t)(end - p));
		char key[128], *val;
		size_t keylen, vallen;
		char *eq, vbuf[8192];

		p = nl != NULL ? nl + 1 : end;
		lineno++;
		if (memchr(line, '\0', n) != NULL) {
			diag(d, file, lineno, "NUL byte in line");
			continue;
		}
		trim(&line, &n);
		if (n == 0 || line[0] == '#')
			continue;
		if (line[0] == '[') {
			if (line[n - 1] != ']' || !valid_rule_name(line + 1, n - 2)) {
				diag(d, file, lineno, "bad section header: want [rule-name] "
				    "with lowercase letters, digits, '-' and '_'");
				cur = NULL;
				continue;
			}
			for (i = 0; i < nseen; i++)
				if (strlen(seen[i]) == n - 2 && memcmp(seen[i], line + 1, n - 2) == 0)
					break;
			if (i < nseen) {
				diag(d, file, lineno, "rule [%.*s] defined twice in this file",
				    (int)(n - 2), line + 1);
				cur = NULL;
				continue;
			}
			{
				char **g = realloc(seen, (nseen + 1) * sizeof(*g));
				if (g != NULL) {
					seen = g;
					g[nseen] = xstrndup(line + 1, n - 2);
				}
				if (g == NULL || g[nseen] == NULL) {
					diag(d, file, lineno, "out of memory");
					break;
				}
				nseen++;
			}
			cur = find_rule(r, seen[nseen - 1]);
			if (cur != NULL && !admin) {
				diag(d, file, lineno, "rule [%s] defined twice", cur->name);
				cur = NULL;
				continue;
			}
			if (cur == NULL)
				cur = add_rule(r, line + 1, n - 2);
			if (cur == NULL) {
				diag(d, file, lineno, "out of memory");
				break;
			}
			cur->file = file;
			cur->line = lineno;
			set = 0;
			continue;
		}
		eq = memchr(line, '=', n);
		if (eq == NULL) {
			diag(d, file, lineno, "expected 'key = value' or '[rule-name]'");
			continue;
		}
		keylen = (size_t)(eq - line);
		val = eq + 1;
		vallen = n - keylen - 1;
		{
			char *k = line;
			trim(&k, &keylen);
			if (keylen >= sizeof(key)) {
				diag(d, file, lineno, "key too long");
				continue;
			}
			memcpy(key, k, keylen);
			key[keylen] = '\0';
		}
		trim(&val, &vallen);
		if (vallen >= sizeof(vbuf)) {
			diag(d, file, lineno, "value too long (over %zu bytes)", sizeof(vbuf) - 1);
			continue;
		}
		memcpy(vbuf, val, vallen);
		vbuf[vallen] = '\0';

		/* NOLINTNEXTLINE(clang-analyzer-core.uninitialized.ArraySubscript): strncmp matched 6 bytes, so key[6] is in the string */
		if (strncmp(key, "define", 6) == 0 && isspace((unsigned char)key[6])) {
			char *name = key + 7;
			size_t nl2 = strlen(name), j;
			struct define *g;
			trim(&name, &nl2);
			name[nl2] = '\0';
			for (j = 0; j < nl2; j++)
				if (!(isupper((unsigned char)name[j]) || isdigit((unsigned char)name[j]) ||
				    name[j] == '_'))
					break;
			if (nl2 == 0 || j < nl2) {
				diag(d, file, lineno, "define: name must be capital letters, digits, '_'");
				continue;
			}
			for (j = 0; j < r->ndef; j++)
				if (strcmp(r->def[j].name, name) == 0)
					break;
			if (j < r->ndef && r->def[j].file == file) {
				diag(d, file, lineno, "define %s given twice", name);
				continue;
			}
			if (j == r->ndef) {
				g = realloc(r->def, (r->ndef + 1) * sizeof(*g));
				if (g == NULL) {
					diag(d, file, lineno, "out of memory");
					break;
				}
				r->def = g;
				memset(&r->def[j], 0, sizeof(r->def[j]));
				r->def[j].name = xstrndup(name, nl2);
				r->ndef++;
			}
			if (set_str(&r->def[j].value, vbuf, 0, "") != 0 || r->def[j].name == NULL) {
				diag(d, file, lineno, "out of memory");
				break;
			}
			r->def[j].file = file;
			r->def[j].line = lineno;
			continue;
		}
		if (strcmp(key, "allow-value") == 0) {
			char **g;
			size_t *gl;
			if (vallen == 0) {
				diag(d, file, lineno, "allow-value: empty value");
				continue;
			}
			g = realloc(r->allow, (r->nallow + 1) * sizeof(*g));
			if (g != NULL)
				r->allow = g;
			gl = realloc(r->allowlen, (r->nallow + 1) * sizeof(*gl));
			if (gl != NULL)
				r->allowlen = gl;
			if (g != NULL && gl != NULL)
				g[r->nallow] = xstrndup(vbuf, vallen);
			if (g == NULL || gl == NULL || g[r->nallow] == NULL) {
				diag(d, file, lineno, "out of memory");
				break;
			}
			gl[r->nallow++] = vallen;
			continue;
		}
		if (cur == NULL) {
			diag(d, file, lineno, "'%s' outside a [rule] section", key);
			continue;
		}
		if (strcmp(key, "type") == 0) {
			if (!valid_type(vbuf)) {
				diag(d, file, lineno, "type '%s': want capital letters and digits in "
				    "'_'-separated segments, each with a letter, at most %d characters",
				    vbuf, RULES_MAX_TYPE);
				continue;
			}
			if (set_str(&cur->type, vbuf, 0, "") != 0)
				goto nomem;
			cur->typelen = vallen;
			set |= F_TYPE;
		} else if (strcmp(key, "priority") == 0) {
			if (parse_int(vbuf, 0, 1000, &cur->priority) != 0)
				diag(d, file, lineno, "priority: want an integer 0..1000");
			set |= F_PRIORITY;
		} else if (strcmp(key, "back") == 0) {
			if (parse_int(vbuf, 0, RULES_MAX_BACK, &cur->back) != 0)
				diag(d, file, lineno, "back: want an integer 0..%d", RULES_MAX_BACK);
			set |= F_BACK;
		} else if (strcmp(key, "action") == 0) {
			if (strcmp(vbuf, "mask") == 0)
				cur->action = RULES_MASK;
			else if (strcmp(vbuf, "block") == 0)
				cur->action = RULES_BLOCK;
			else if (strcmp(vbuf, "allow") == 0)
				cur->action = RULES_ALLOW;
			else
				diag(d, file, lineno, "action: want mask, block or allow");
			set |= F_ACTION;
		} else if (strcmp(key, "lead") == 0) {
			if (vallen == 0) {
				diag(d, file, lineno, "lead: empty");
				continue;
			}
			if (set_str(&cur->leads, vbuf, (set & F_LEAD) != 0, " ") != 0)
				goto nomem;
			if (!(set & F_LEAD))
				cur->lead_line = lineno;
			set |= F_LEAD;
		} else if (strcmp(key, "lead-nocase") == 0) {
			if (parse_bool(vbuf, &cur->nocase) != 0)
				diag(d, file, lineno, "lead-nocase: want yes or no");
			set |= F_NOCASE;
		} else if (strcmp(key, "pattern") == 0) {
			if (vallen == 0) {
				diag(d, file, lineno, "pattern: empty");
				continue;
			}
			if (set_str(&cur->pattern, vbuf, (set & F_PATTERN) != 0, "") != 0)
				goto nomem;
			if (!(set & F_PATTERN))
				cur->pattern_line = lineno;
			set |= F_PATTERN;
		} else if (strcmp(key, "validate") == 0) {
			cur->validator = strcmp(vbuf, "none") == 0 ? -1 : validate_lookup(vbuf);
			if (cur->validator < 0 && strcmp(vbuf, "none") != 0)
				diag(d, file, lineno, "validate: no validator named '%s'", vbuf);
			set |= F_VALIDATE;
		} else if (strcmp(key, "enabled") == 0) {
			if (parse_bool(vbuf, &cur->enabled) != 0)
				diag(d, file, lineno, "enabled: want yes or no");
			set |= F_ENABLED;
		} else {
			diag(d, file, lineno, "unknown key '%s'", key);
		}
		continue;
nomem:
		diag(d, file, lineno, "out of memory");
		break;
	}
	for (i = 0; i < nseen; i++)
		free(seen[i]);
	free(seen);
}

/* ---- compilation ------------------------------------------------------ */

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
		g[out->n] = xstrndup(s, strlen(s));
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
parse_lead(const char *s, int nocase, struct lead *l)
{
	size_t n = 0, i;

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		enum lead_class cls = LC_LIT;
		if (n >= RULES_MAX_LEAD)
			return "lead too long";
		if (c == '\\') {
			s++;
			if (*s == 'd')
				cls = LC_DIGIT;
			else if (*s == 'x')
				cls = LC_HEX;
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
		if (l->cls[i] != LC_LIT)
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
lead_bytes(const struct lead *l, size_t i, unsigned char *out)
{
	size_t n = 0;
	int c;

	switch (l->cls[i]) {
	case LC_DIGIT:
		for (c = '0'; c <= '9'; c++)
			out[n++] = (unsigned char)c;
		break;
	case LC_HEX:
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
add_leads(struct rules *r, unsigned ri, struct diag *d)
{
	struct rule *ru = &r->rule[ri];
	struct lead_list list = { NULL, 0 };
	char *copy, *tok, *save = NULL;
	size_t i;
	int rc = 0;

	copy = xstrndup(ru->leads, strlen(ru->leads));
	if (copy == NULL) {
		/* a rule without its leads would never match: fail the load */
		diag(d, ru->file, ru->lead_line, "out of memory");
		return -1;
	}
	for (tok = strtok_r(copy, " \t", &save); tok != NULL; tok = strtok_r(NULL, " \t", &save)) {
		if (expand_braces(tok, &list) != 0) {
			diag(d, ru->file, ru->lead_line, "lead '%s': bad or too large {a,b} expansion", tok);
			rc = -1;
			break;
		}
	}
	for (i = 0; rc == 0 && i < list.n; i++) {
		struct lead l, *g;
		const char *why;
		memset(&l, 0, sizeof(l));
		why = parse_lead(list.item[i], ru->nocase, &l);
		if (why != NULL) {
			diag(d, ru->file, ru->lead_line, "lead '%s': %s", list.item[i], why);
			rc = -1;
			break;
		}
		l.rule = ri;
		g = realloc(r->lead, (r->nlead + 1) * sizeof(*g));
		if (g == NULL) {
			diag(d, ru->file, ru->lead_line, "out of memory");
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

/* Builds the bigram filter and buckets over all leads. */
static int
build_bigrams(struct rules *r)
{
	uint32_t *count;
	size_t i, total = 0;

	r->bucket_start = calloc(65537, sizeof(uint32_t));
	count = calloc(65536, sizeof(uint32_t));
	if (r->bucket_start == NULL || count == NULL) {
		free(count);
		return -1;
	}
	for (i = 0; i < r->nlead; i++) {
		unsigned char b0[32], b1[32];
		size_t n0 = lead_bytes(&r->lead[i], 0, b0), n1 = lead_bytes(&r->lead[i], 1, b1), x, y;
		for (x = 0; x < n0; x++)
			for (y = 0; y < n1; y++) {
				unsigned bg = (unsigned)b0[x] << 8 | b1[y];
				count[bg]++;
				total++;
				r->bigram_bits[bg >> 6] |= (uint64_t)1 << (bg & 63);
			}
	}
	for (i = 0; i < 65536; i++)
		r->bucket_start[i + 1] = r->bucket_start[i] + count[i];
	r->bucket = malloc((total + 1) * sizeof(uint32_t));
	if (r->bucket == NULL) {
		free(count);
		return -1;
	}
	r->quick = malloc((r->nlead + 1) * sizeof(*r->quick));
	if (r->quick == NULL) {
		free(count);
		return -1;
	}
	for (i = 0; i < r->nlead; i++) {
		const struct lead *l = &r->lead[i];
		size_t j, off = l->len >= 4 ? l->len - 4 : 0;
		r->quick[i].qval = l->qval;
		r->quick[i].qmask = l->qmask;
		r->quick[i].tval = 0;
		r->quick[i].tmask = 0;
		for (j = 0; j < 4 && off + j < l->len; j++) {
			unsigned char p = l->pat[off + j], m = 0xff;
			if (l->cls[off + j] != LC_LIT)
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
	memset(count, 0, 65536 * sizeof(uint32_t));
	for (i = 0; i < r->nlead; i++) {
		unsigned char b0[32], b1[32];
		size_t n0 = lead_bytes(&r->lead[i], 0, b0), n1 = lead_bytes(&r->lead[i], 1, b1), x, y;
		for (x = 0; x < n0; x++)
			for (y = 0; y < n1; y++) {
				unsigned bg = (unsigned)b0[x] << 8 | b1[y];
				r->bucket[r->bucket_start[bg] + count[bg]++] = (uint32_t)i;
			}
	}
	free(count);
	return 0;
}

static int
cmp_allow(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Compiles every enabled rule and builds the lead index. */
static void
compile_all(struct rules *r, struct diag *d)
{
	size_t i, j, maxgroups = 1;

	r->active = calloc(r->nrule + 1, sizeof(unsigned));
	r->noleads = calloc(r->nrule + 1, sizeof(unsigned));
	if (r->active == NULL || r->noleads == NULL) {
		diag(d, "rules", 0, "out of memory");
		return;
	}
	/*
	 * MASKGATE_T_NO_JIT (test variable): PCRE2's JIT scans with aligned
	 * SIMD loads that may read past the subject into uninitialised bytes,
	 * which valgrind reports as errors; `make valgrind` runs the
	 * interpreter instead.
	 */
	r->jit = !rules_force_interpreter && getenv("MASKGATE_T_NO_JIT") == NULL;
	for (i = 0; i < r->nrule; i++) {
		struct rule *ru = &r->rule[i];
		char why[256], *pat;
		int errcode, groups = 0;
		PCRE2_SIZE erroff;
		pcre2_match_data *md;

		if (!ru->enabled)
			continue;
		if (ru->pattern == NULL) {
			diag(d, ru->file, ru->line, "rule [%s] has no pattern", ru->name);
			continue;
		}
		if (ru->action != RULES_ALLOW && ru->type == NULL) {
			diag(d, ru->file, ru->line, "rule [%s] has no type", ru->name);
			continue;
		}
		if (ru->action != RULES_ALLOW) {
			for (j = 0; j < i; j++) {
				struct rule *o = &r->rule[j];
				if (o->enabled && o->action != RULES_ALLOW && o->type != NULL &&
				    strcmp(o->type, ru->type) == 0) {
					diag(d, ru->file, ru->line, "rule [%s]: type %s is already "
					    "used by rule [%s]; every rule needs its own type",
					    ru->name, ru->type, o->name);
					break;
				}
			}
		}
		pat = expand_macros(r, ru->pattern, 0, why, sizeof(why));
		if (pat == NULL) {
			diag(d, ru->file, ru->pattern_line, "rule [%s]: %s", ru->name, why);
			continue;
		}
		ru->code = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
		    PCRE2_USE_OFFSET_LIMIT | PCRE2_NEVER_UTF | PCRE2_NEVER_UCP |
		    PCRE2_NEVER_BACKSLASH_C, &errcode, &erroff, NULL);
		free(pat);
		if (ru->code == NULL) {
			PCRE2_UCHAR msg[256];
			pcre2_get_error_message(errcode, msg, sizeof(msg));
			diag(d, ru->file, ru->pattern_line, "rule [%s]: pattern error at offset %zu: %s",
			    ru->name, (size_t)erroff, (const char *)msg);
			continue;
		}
		pcre2_pattern_info(ru->code, PCRE2_INFO_CAPTURECOUNT, &groups);
		ru->has_group = groups > 0;
		if ((size_t)groups + 1 > maxgroups)
			maxgroups = (size_t)groups + 1;
		/* a pattern matching nothing would loop or mask nothing: refuse */
		md = pcre2_match_data_create_from_pattern(ru->code, NULL);
		if (md != NULL && pcre2_match(ru->code, (PCRE2_SPTR)"", 0, 0, 0, md, NULL) >= 0)
			diag(d, ru->file, ru->pattern_line, "rule [%s]: pattern matches the empty string",
			    ru->name);
		pcre2_match_data_free(md);
		if (r->jit) {
			int jrc = pcre2_jit_compile(ru->code, PCRE2_JIT_COMPLETE);
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
	if (!r->jit && !rules_force_interpreter) {
		/* some rules may have JIT code; the interpreter handles all uniformly */
	}
	if (d->count > 0)
		return;
	if (build_bigrams(r) != 0) {
		diag(d, "rules", 0, "out of memory");
		return;
	}
	if (r->nallow > 0)
		qsort(r->allow, r->nallow, sizeof(char *), cmp_allow);
	for (i = 0; i < r->nallow; i++)
		r->allowlen[i] = strlen(r->allow[i]);
	r->md = pcre2_match_data_create((uint32_t)maxgroups, NULL);
	r->mctx = pcre2_match_context_create(NULL);
	if (r->md == NULL || r->mctx == NULL) {
		diag(d, "rules", 0, "out of memory");
		return;
	}
	pcre2_set_match_limit(r->mctx, RULES_MATCH_LIMIT);
	if (r->jit) {
		r->jstack = pcre2_jit_stack_create(32 * 1024, 1024 * 1024, NULL);
		if (r->jstack != NULL)
			pcre2_jit_stack_assign(r->mctx, NULL, r->jstack);
	}
}

void
rules_free(struct rules *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->nrule; i++) {
		free(r->rule[i].name);
		free(r->rule[i].type);
		free(r->rule[i].pattern);
		free(r->rule[i].leads);
		pcre2_code_free(r->rule[i].code);
	}
	free(r->rule);
	for (i = 0; i < r->ndef; i++) {
		free(r->def[i].name);
		free(r->def[i].value);
	}
	free(r->def);
	for (i = 0; i < r->nallow; i++)
		free(r->allow[i]);
	free(r->allow);
	free(r->allowlen);
	free(r->active);
	free(r->noleads);
	free(r->lead);
	free(r->bucket_start);
	free(r->bucket);
	free(r->quick);
	free(r->files[0]);
	free(r->files[1]);
	pcre2_match_data_free(r->md);
	pcre2_match_context_free(r->mctx);
	pcre2_jit_stack_free(r->jstack);
	free(r);
}

/*
 * Loads the embedded defaults then the admin text (may be NULL). All errors
 * go to d; the result is NULL unless there were none.
 */
static struct rules *
load(const char *admin, size_t adminlen, const char *adminname, struct diag *d)
{
	struct rules *r = calloc(1, sizeof(*r));
	size_t i;

	if (r == NULL) {
		diag(d, "rules", 0, "out of memory");
		return NULL;
	}
	for (i = 0; i < embed_rules_count; i++) {
		char name[256];
		snprintf(name, sizeof(name), "%s (built in)", embed_rules[i].name);
		free(r->files[0]);
		r->files[0] = xstrndup(name, strlen(name));
		if (r->files[0] == NULL)
			break;
		parse_file(r, embed_rules[i].data, embed_rules[i].len, r->files[0], 0, d);
	}
	if (embed_rules_count == 0 || embed_rules[0].data == NULL)
		diag(d, "rules", 0, "no built-in rules compiled in");
	if (admin != NULL && d->count == 0) {
		r->files[1] = xstrndup(adminname, strlen(adminname));
		if (r->files[1] != NULL)
			parse_file(r, admin, adminlen, r->files[1], 1, d);
	}
	/* compile even after parse errors, to report pattern errors too */
	compile_all(r, d);
	if (d->count == 0 && r->nactive == 0)
		diag(d, "rules", 0, "no enabled rules");
	if (d->count > 0) {
		rules_free(r);
		return NULL;
	}
	return r;
}

/* Reads a whole file into a new NUL-terminated buffer (caller frees). */
static char *
read_file(const char *path, size_t *len, char *why, size_t whylen)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL, *g;
	size_t cap = 0, n = 0, got;

	if (f == NULL) {
		snprintf(why, whylen, "cannot open: %s", strerror(errno));
		return NULL;
	}
	do {
		if (n + 4096 + 1 > cap) {
			cap = (n + 4096 + 1) * 2;
			g = realloc(data, cap);
			if (g == NULL) {
				free(data);
				fclose(f);
				snprintf(why, whylen, "out of memory");
				return NULL;
			}
			data = g;
		}
		got = fread(data + n, 1, cap - n - 1, f);
		n += got;
	} while (got > 0 && n < 16 * 1024 * 1024);
	if (ferror(f) || n >= 16 * 1024 * 1024) {
		snprintf(why, whylen, ferror(f) ? "read error" : "file too large");
		free(data);
		fclose(f);
		return NULL;
	}
	fclose(f);
	data[n] = '\0';
	*len = n;
	return data;
}

enum mg_err
rules_load_text(const char *admin_text, size_t admin_len, const char *admin_name,
    struct rules **out, char *err, size_t errlen)
{
	struct diag d = { NULL, err, errlen, 0 };

	*out = load(admin_text, admin_len, admin_name != NULL ? admin_name : "admin rules", &d);
	if (*out == NULL)
		return MG_ERULES;
	log_info("rules: %zu rules loaded, %s", (*out)->nactive,
	    (*out)->jit ? "JIT" : "interpreter");
	return MG_OK;
}

enum mg_err
rules_load(const char *admin_path, struct rules **out, char *err, size_t errlen)
{
	char *text = NULL, why[256];
	size_t len = 0;
	enum mg_err rc;

	*out = NULL;
	if (admin_path != NULL && admin_path[0] != '\0') {
		text = read_file(admin_path, &len, why, sizeof(why));
		if (text == NULL) {
			snprintf(err, errlen, "MASKGATE_RULES: %s: %s", admin_path, why);
			return MG_ERULES;
		}
	}
	rc = rules_load_text(text, len, admin_path, out, err, errlen);
	free(text);
	return rc;
}

enum mg_err
rules_check_file(const char *path, FILE *report)
{
	struct diag d = { report, NULL, 0, 0 };
	struct rules *r;
	char *text, why[256];
	size_t len = 0;

	text = read_file(path, &len, why, sizeof(why));
	if (text == NULL) {
		fprintf(report, "%s: %s\n", path, why);
		return MG_EIO;
	}
	r = load(text, len, path, &d);
	free(text);
	if (r == NULL)
		return MG_ERULES;
	fprintf(report, "%s: ok, %zu rules in effect, %zu allow-values\n", path, r->nactive,
	    r->nallow);
	rules_free(r);
	return MG_OK;
}

int
rules_jit(const struct rules *r)
{
	return r->jit;
}

size_t
rules_count(const struct rules *r)
{
	return r->nactive;
}

size_t
rules_slots(const struct rules *r)
{
	return r->nrule;
}

const char *
rules_name(const struct rules *r, unsigned rule)
{
	return rule < r->nrule ? r->rule[rule].name : NULL;
}

const char *
rules_type(const struct rules *r, unsigned rule)
{
	return rule < r->nrule ? r->rule[rule].type : NULL;
}

enum rules_action
rules_action(const struct rules *r, unsigned rule)
{
	return rule < r->nrule ? r->rule[rule].action : RULES_ALLOW;
}

/* ---- scanning --------------------------------------------------------- */

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
lead_eq(const struct lead *l, const unsigned char *t)
{
	size_t i;

	for (i = 0; i < l->len; i++) {
		unsigned char c = t[i];
		switch (l->cls[i]) {
		case LC_DIGIT:
			if (c < '0' || c > '9')
				return 0;
			break;
		case LC_HEX:
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

/*
 * Runs rule ri for a lead occurrence at occ: every match starting in
 * [max(occ - back, *next), occ] is tried, leftmost first. *next is the
 * first offset this rule may still start a match at (matches of one rule
 * never overlap, and offsets already searched are not searched again).
 */
static enum mg_err
try_rule(const struct rules *r, unsigned ri, const char *text, size_t len, size_t occ,
    size_t limit, size_t *next, struct mvec *v)
{
	const struct rule *ru = &r->rule[ri];
	size_t start;

	if (occ < *next)
		return MG_OK;
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
		if (me <= ms || e <= s ||
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

enum mg_err
rules_scan(const struct rules *r, struct arena *a, const char *text, size_t len,
    struct rules_match **out, size_t *n)
{
	const unsigned char *t = (const unsigned char *)text;
	struct mvec v = { NULL, 0, 0, a }, ph = { NULL, 0, 0, a };
	size_t *next, i;
	enum mg_err rc;

	*out = NULL;
	*n = 0;
	next = arena_alloc(a, (r->nrule + 1) * sizeof(size_t));
	if (next == NULL)
		return MG_ENOMEM;
	for (i = 0; i + 1 < len; i++) {
		unsigned bg = (unsigned)t[i] << 8 | t[i + 1];
		uint32_t k;
		if (!((r->bigram_bits[bg >> 6] >> (bg & 63)) & 1))
			continue;
		for (k = r->bucket_start[bg]; k < r->bucket_start[bg + 1]; k++) {
			const struct lead_quick *q = &r->quick[r->bucket[k]];
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
			rc = try_rule(r, q->rule, text, len, i, i, &next[q->rule], &v);
			if (rc != MG_OK)
				return rc;
		}
	}
	for (i = 0; i < r->nnoleads; i++) {
		rc = try_rule(r, r->noleads[i], text, len, 0, len, &next[r->noleads[i]], &v);
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
	/* placeholders present in the text are protected */
	{
		const char *p = text, *end = text + len;
		while (p < end) {
			const char *hit = memmem(p, (size_t)(end - p), "AWS_", 4);
			unsigned rule;
			unsigned long num;
			size_t pos, pend;
			if (hit == NULL)
				break;
			pos = (size_t)(hit - text);
			if ((pos == 0 || !is_word(text[pos - 1])) &&
			    rules_placeholder_at(r, text, len, pos, &rule, &num, &pend)) {
				if (mvec_push(&ph, pos, pend, rule, RULES_ALLOW) != MG_OK)
					return MG_ENOMEM;
				p = text + pend;
			} else {
				p = hit + 1;
			}
		}
	}
	resolve(r, &v, ph.m, ph.n);
	*out = v.m;
	*n = v.n;
	return MG_OK;
}

/* ---- placeholders ----------------------------------------------------- */

static int
type_rule(const struct rules *r, const char *s, size_t n, unsigned *rule)
{
	size_t i;

	for (i = 0; i < r->nactive; i++) {
		const struct rule *ru = &r->rule[r->active[i]];
		if (ru->action == RULES_MASK && ru->typelen == n && memcmp(ru->type, s, n) == 0) {
			*rule = r->active[i];
			return 1;
		}
	}
	return 0;
}

int
rules_placeholder_at(const struct rules *r, const char *text, size_t len, size_t pos,
    unsigned *rule, unsigned long *num, size_t *end)
{
	size_t te = pos + 4, us = 0, i, nd;
	unsigned long v = 0;

	if (pos + 4 > len || memcmp(text + pos, "AWS_", 4) != 0)
		return 0;
	while (te < len && is_word(text[te])) {
		if (text[te] == '_')
			us = te;
		te++;
	}
	if (us == 0 || us <= pos + 4)
		return 0;
	nd = te - us - 1;
	if (nd < 3 || nd > 18 || (nd > 3 && text[us + 1] == '0'))
		return 0;
	for (i = us + 1; i < te; i++) {
		if (text[i] < '0' || text[i] > '9')
			return 0;
		v = v * 10 + (unsigned long)(text[i] - '0');
	}
	if (v == 0 || !type_rule(r, text + pos + 4, us - pos - 4, rule))
		return 0;
	*num = v;
	*end = te;
	return 1;
}

size_t
rules_placeholder_format(const struct rules *r, unsigned rule, unsigned long num, char *out,
    size_t outlen)
{
	int n = snprintf(out, outlen, "AWS_%s_%03lu", r->rule[rule].type, num);

	return n < 0 || (size_t)n >= outlen ? 0 : (size_t)n;
}

int
rules_placeholder_prefix(const struct rules *r, const char *text, size_t len)
{
	size_t i, j;

	if (len <= 4)
		return memcmp(text, "AWS_", len) == 0;
	if (memcmp(text, "AWS_", 4) != 0)
		return 0;
	text += 4;
	len -= 4;
	for (i = 0; i < r->nactive; i++) {
		const struct rule *ru = &r->rule[r->active[i]];
		size_t tl = ru->typelen;
		if (ru->action != RULES_MASK)
			continue;
		if (len <= tl) {
			if (memcmp(text, ru->type, len) == 0)
				return 1;
			continue;
		}
		if (memcmp(text, ru->type, tl) != 0 || text[tl] != '_')
			continue;
		for (j = tl + 1; j < len; j++)
			if (text[j] < '0' || text[j] > '9')
				break;
		if (j < len)
			continue;
		if (len - tl - 1 > 3 && text[tl + 1] == '0')
			continue;	/* AWS_EC2_0012 can never be a placeholder */
		if (len - tl - 1 > 18)
			continue;
		return 1;
	}
	return 0;
}

size_t
rules_placeholder_maxlead(const struct rules *r)
{
	return 4 + r->maxtype + 1;
}
