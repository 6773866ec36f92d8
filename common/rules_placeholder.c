/*
 * rules_placeholder.c - the placeholder grammar, in one place:
 *
 *   <FAMILY>_<TYPE>_<N>[_<TAG>]
 *
 *   FAMILY  "AWS" (rule packs will add their own prefixes here)
 *   TYPE    the rule's type: capital letters and digits in '_'-separated
 *           segments, none all digits (AWS_S3_BUCKET, AWS_EC2)
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
 * on what a placeholder is.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "rules_int.h"

#define FAMILY "AWS_"
#define FAMILY_LEN 4

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
	size_t i, p = pos + FAMILY_LEN;

	if (pos + FAMILY_LEN > len || memcmp(text + pos, FAMILY, FAMILY_LEN) != 0)
		return 0;
	/* types may share a prefix (SECRET, SECRET_KEY): try each that fits */
	for (i = 0; i < r->nactive; i++) {
		const struct rules_rule *ru = &r->rule[r->active[i]];
		size_t tl = ru->typelen;
		if (ru->action != RULES_MASK || p + tl + 1 > len || text[p + tl] != '_' ||
		    memcmp(text + p, ru->type, tl) != 0)
			continue;
		if (parse_tail(ru, text, len, p + tl + 1, out)) {
			out->rule = r->active[i];
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

size_t
rules_placeholder_next(const struct rules *r, const char *text, size_t len, size_t from)
{
	const char *hit;

	(void)r;
	if (from >= len)
		return len;
	hit = memmem(text + from, len - from, FAMILY, FAMILY_LEN);
	return hit != NULL ? (size_t)(hit - text) : len;
}

size_t
rules_placeholder_format(const struct rules *r, unsigned rule, unsigned long num, const char *tag,
    char *out, size_t outlen)
{
	const struct rules_rule *ru = &r->rule[rule];
	int n;

	if (ru->credential) {
		if (tag == NULL)
			return 0;
		n = snprintf(out, outlen, FAMILY "%s_%03lu_%.*s", ru->type, num, RULES_TAG_LEN, tag);
	} else {
		n = snprintf(out, outlen, FAMILY "%s_%03lu", ru->type, num);
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
	size_t i;

	if (len <= FAMILY_LEN)
		return memcmp(text, FAMILY, len) == 0;
	if (memcmp(text, FAMILY, FAMILY_LEN) != 0)
		return 0;
	text += FAMILY_LEN;
	len -= FAMILY_LEN;
	for (i = 0; i < r->nactive; i++) {
		const struct rules_rule *ru = &r->rule[r->active[i]];
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
		if (len == tl + 1 || tail_prefix(ru, text + tl + 1, len - tl - 1))
			return 1;
	}
	return 0;
}
