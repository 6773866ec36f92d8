/*
 * rules_pack.c - rule packs: which embedded rules files (rules/NAME.rules)
 * scan, chosen by MASKGATE_RULE_PACKS, and the pack of each rule. Every
 * pack is parsed whether chosen or not, so that a placeholder a pack
 * minted stays recognised after an admin switches the pack off.
 */
#include <string.h>

#include "rules_int.h"

int
rules_pack_index(const struct rules *r, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < r->npack; i++)
		if (strlen(r->pack[i].name) == n && memcmp(r->pack[i].name, s, n) == 0)
			return (int)i;
	return -1;
}

/* "aws, azure, ..." into out: the built-in packs, for messages. */
static void
pack_names(const struct rules *r, char *out, size_t outlen)
{
	size_t i, n = 0;

	out[0] = '\0';
	for (i = 0; i < r->npack && n < outlen; i++) {
		int w = snprintf(out + n, outlen - n, "%s%s", i > 0 ? ", " : "", r->pack[i].name);
		if (w < 0)
			break;
		n += (size_t)w;
	}
}

void
rules_pack_select(struct rules *r, const char *packs, struct rules_diag *d)
{
	const char *p = packs != NULL && packs[0] != '\0' ? packs : RULES_DEFAULT_PACKS;
	char known[256];
	size_t chosen = 0;

	pack_names(r, known, sizeof(known));
	while (*p != '\0') {
		const char *comma = strchr(p, ','), *s = p, *e;
		int k;
		e = comma != NULL ? comma : p + strlen(p);
		p = comma != NULL ? comma + 1 : e;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (s == e)
			continue;
		k = rules_pack_index(r, s, (size_t)(e - s));
		if (k < 0) {
			rules_diag(d, "MASKGATE_RULE_PACKS", 0, "unknown rule pack '%.*s' (built in: %s)",
			    (int)(e - s), s, known);
			continue;
		}
		r->pack[k].selected = 1;
		chosen++;
	}
	if (chosen == 0 && d->count == 0)
		rules_diag(d, "MASKGATE_RULE_PACKS", 0, "names no rule pack (built in: %s)", known);
}

const char *
rules_pack_name(const struct rules *r, unsigned rule)
{
	if (rule >= r->nrule || r->rule[rule].pack < 0 || (size_t)r->rule[rule].pack >= r->npack)
		return "?";
	return r->pack[r->rule[rule].pack].name;
}

int
rules_pack_on(const struct rules *r, unsigned rule)
{
	return rule < r->nrule && r->rule[rule].pack >= 0 &&
	    (size_t)r->rule[rule].pack < r->npack && r->pack[r->rule[rule].pack].selected;
}

int
rules_enabled(const struct rules *r, unsigned rule)
{
	return rule < r->nrule && r->rule[rule].enabled;
}
