/*
 * rules_placeholder.c - the placeholder grammar, in one place:
 *
 *   <FAMILY>_<TYPE>_<N>[_<TAG>]
 *
 *   FAMILY  the family of the rule's pack (`family =` in rules/NAME.rules):
 *           AWS, SECRET, GCP, AZURE or PII (the table below; no family
 *           is a suffix of another, and none holds a '_')
 *   TYPE    the rule's type: capital letters and digits in '_'-separated
 *           segments, none all digits (S3_BUCKET, GITHUB_TOKEN), unique
 *           across all packs
 *   N       decimal, at least 3 digits, no leading zero beyond the
 *           padding (001, 999, 1000), never 0
 *   TAG     exactly for credential rules: RULES_TAG_LEN characters of
 *           RULES_TAG_ALPHABET, keyed per tenant (store_map_tag)
 *
 * and a boundary on both sides: any character but a letter or a digit
 * ('_' is one: node_AWS_EC2_001_backup holds AWS_EC2_001). Since no TYPE
 * segment is all digits, N is the first all-digit segment after FAMILY;
 * the tag, when present, is the one segment after it. The masker, the
 * unmasker and the stream holdback all use these functions, so they agree
 * on what a placeholder is. Placeholders of every pack are recognised,
 * chosen by MASKGATE_RULE_PACKS or not (struct rules_pack).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "rules_int.h"

static const struct family {
	const char *name;
	size_t len;
} families[] = {
	{ "AWS", 3 }, { "SECRET", 6 }, { "GCP", 3 }, { "AZURE", 5 }, { "PII", 3 },
};
#define NFAMILY (sizeof(families) / sizeof(families[0]))
#define FAMILY_MIN 3		/* the shortest name */

int
rules_family_index(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < NFAMILY; i++)
		if (families[i].len == n && memcmp(families[i].name, s, n) == 0)
			return (int)i;
	return -1;
}

const char *
rules_family_name(int i)
{
	return i >= 0 && (size_t)i < NFAMILY ? families[i].name : "?";
}

/* The family whose name ends right before the '_' at text[u], or -1. */
static int
family_ending(const char *text, size_t from, size_t u)
{
	size_t i;

	for (i = 0; i < NFAMILY; i++) {
		size_t fl = families[i].len;
		if (u >= from + fl && memcmp(text + u - fl, families[i].name, fl) == 0)
			return (int)i;
	}
	return -1;
}

size_t
rules_family_at(const char *text, size_t len, size_t pos)
{
	size_t i;

	for (i = 0; i < NFAMILY; i++) {
		size_t fl = families[i].len;
		if (pos + fl < len && text[pos + fl] == '_' &&
		    memcmp(text + pos, families[i].name, fl) == 0)
			return fl + 1;
	}
	return 0;
}

int
rules_placeholder_initial(int c)
{
	size_t i;

	for (i = 0; i < NFAMILY; i++)
		if (families[i].name[0] == c)
			return 1;
	return 0;
}

/* The family of rule ru (its pack's), or -1. */
static int
rule_family(const struct rules *r, const struct rules_rule *ru)
{
	return ru->pack >= 0 && (size_t)ru->pack < r->npack ? r->pack[ru->pack].family : -1;
}

static int
is_alnum(int c)
{
	return isalnum((unsigned char)c);
}

static int
is_tag_char(int c)
{
	return c != '\0' && strchr(RULES_TAG_ALPHABET, c) != NULL;
}

/* The rule minting TYPE s[0..n), or -1; disabled and non-mask rules mint none. */
int
rules_type_rule(const struct rules *r, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < r->nactive; i++) {
		const struct rules_rule *ru = &r->rule[r->active[i]];
		if (ru->action == RULES_MASK && ru->typelen == n && memcmp(ru->type, s, n) == 0)
			return (int)r->active[i];
	}
	return -1;
}

/*
 * Parses "<N>[_<TAG>]" at text[p..len) for rule ru; fills out and returns 1
 * when it ends at a word boundary.
 */
static int
parse_tail(const struct rules_rule *ru, const char *text, size_t len, size_t p,
    struct rules_placeholder *out)
{
	size_t d = p, nd;
	unsigned long v = 0;

	while (d < len && text[d] >= '0' && text[d] <= '9') {
		v = v * 10 + (unsigned long)(text[d] - '0');
		d++;
	}
	nd = d - p;
	if (nd < 3 || nd > 18 || (nd > 3 && text[p] == '0') || v == 0)
		return 0;
	out->num = v;
	out->tag = 0;
	out->end = d;
	if (d < len && is_alnum(text[d]))
		return 0;
	if (!ru->credential || d == len || text[d] != '_' || d + 1 + RULES_TAG_LEN > len)
		return 1;
	for (p = d + 1; p < d + 1 + RULES_TAG_LEN; p++)
		if (!is_tag_char(text[p]))
			return 1;	/* no tag: a boundary '_' */
	if (p < len && is_alnum(text[p]))
		return 1;
	out->tag = d + 1;
	out->end = p;
	return 1;
}

int
rules_placeholder_parse(const struct rules *r, const char *text, size_t len, size_t pos,
    struct rules_placeholder *out)
{
	size_t i, fl = rules_family_at(text, len, pos), p = pos + fl;
	int fam;

	if (fl == 0)
		return 0;
	fam = rules_family_index(text + pos, fl - 1);
	/* types may share a prefix (SECRET, SECRET_KEY): try each that fits */
	for (i = 0; i < r->nknown; i++) {
		const struct rules_rule *ru = &r->rule[r->known[i]];
		size_t tl = ru->typelen;
		if (p + tl + 1 > len || text[p + tl] != '_' || memcmp(text + p, ru->type, tl) != 0 ||
		    rule_family(r, ru) != fam)
			continue;
		if (parse_tail(ru, text, len, p + tl + 1, out)) {
			out->rule = r->known[i];
			return 1;
		}
	}
	return 0;
}

int
rules_placeholder_at(const struct rules *r, const char *text, size_t len, size_t pos,
    unsigned *rule, unsigned long *num, size_t *end)
{
	struct rules_placeholder ph;

	if (!rules_placeholder_parse(r, text, len, pos, &ph))
		return 0;
	*rule = ph.rule;
	*num = ph.num;
	*end = ph.end;
	return 1;
}

/*
 * Finds the '_' after a family name: memchr is vectorised, and '_' is
 * rarer in most text than the families' first letters.
 */
size_t
rules_placeholder_next(const struct rules *r, const char *text, size_t len, size_t from)
{
	size_t u = from + FAMILY_MIN;
	int fam;

	(void)r;
	while (u < len) {
		const char *hit = memchr(text + u, '_', len - u);
		if (hit == NULL)
			return len;
		u = (size_t)(hit - text);
		fam = family_ending(text, from, u);
		if (fam >= 0)
			return u - families[fam].len;
		u++;
	}
	return len;
}

size_t
rules_placeholder_format(const struct rules *r, unsigned rule, unsigned long num, const char *tag,
    char *out, size_t outlen)
{
	const struct rules_rule *ru = &r->rule[rule];
	const char *fam = rules_family_name(rule_family(r, ru));
	int n;

	if (ru->credential) {
		if (tag == NULL)
			return 0;
		n = snprintf(out, outlen, "%s_%s_%03lu_%.*s", fam, ru->type, num, RULES_TAG_LEN, tag);
	} else {
		n = snprintf(out, outlen, "%s_%s_%03lu", fam, ru->type, num);
	}
	return n < 0 || (size_t)n >= outlen ? 0 : (size_t)n;
}

/* Is s[0..n) (n > 0) a prefix of "<N>[_<TAG>]" for rule ru, or all of it? */
static int
tail_prefix(const struct rules_rule *ru, const char *s, size_t n)
{
	size_t j, k;

	for (j = 0; j < n && s[j] >= '0' && s[j] <= '9'; j++)
		;
	if (j > 18 || (j > 3 && s[0] == '0'))
		return 0;	/* AWS_EC2_0012 can never be a placeholder */
	if (j == n)
		return 1;
	if (!ru->credential || j < 3 || s[j] != '_')
		return 0;
	for (k = j + 1; k < n; k++)
		if (!is_tag_char(s[k]))
			return 0;
	return n - j - 1 <= RULES_TAG_LEN;
}

int
rules_placeholder_prefix(const struct rules *r, const char *text, size_t len)
{
	size_t i, f, fl = 0;
	int fam = -1;

	for (f = 0; f < NFAMILY; f++) {
		size_t n = families[f].len;
		if (len <= n + 1) {
			if (memcmp(text, families[f].name, len < n ? len : n) == 0 &&
			    (len <= n || text[n] == '_'))
				return 1;
			continue;
		}
		if (memcmp(text, families[f].name, n) == 0 && text[n] == '_') {
			fam = (int)f;
			fl = n + 1;
			break;
		}
	}
	if (fam < 0)
		return 0;
	text += fl;
	len -= fl;
	for (i = 0; i < r->nknown; i++) {
		const struct rules_rule *ru = &r->rule[r->known[i]];
		size_t tl = ru->typelen;
		if (rule_family(r, ru) != fam)
			continue;
		if (len <= tl) {
			if (memcmp(text, ru->type, len) == 0)
				return 1;
			continue;
		}
		if (memcmp(text, ru->type, tl) != 0 || text[tl] != '_')
			continue;
		if (len == tl + 1 || tail_prefix(ru, text + tl + 1, len - tl - 1))
			return 1;
	}
	return 0;
}
