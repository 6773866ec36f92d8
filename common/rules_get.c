/*
 * rules_get.c - what the engine and the commands read from a loaded rule
 * set: counts, and each rule's name, type, action and restore policy.
 */
#include <string.h>

#include "rules_int.h"

int
rules_jit(const struct rules *r)
{
	return r->jit;
}

void
rules_jit_all(struct rules *r)
{
	size_t i;

	for (i = 0; r->jit && i < r->nactive; i++) {
		unsigned ri = r->active[i];
		if (!r->jit_tried[ri]) {
			r->jit_tried[ri] = 1;
			(void)pcre2_jit_compile(r->rule[ri].code, PCRE2_JIT_COMPLETE);
		}
	}
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

enum rules_restore
rules_restore(const struct rules *r, unsigned rule)
{
	const struct rules_rule *ru;

	if (rule >= r->nrule)
		return RULES_RESTORE_NEVER;
	ru = &r->rule[rule];
	if (ru->restore_set)
		return ru->restore;
	return ru->credential ? RULES_RESTORE_TEXT : RULES_RESTORE_EVERYWHERE;
}

int
rules_credential(const struct rules *r, unsigned rule)
{
	return rule < r->nrule && r->rule[rule].credential;
}

int
rules_allowed(const struct rules *r, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < r->nallow; i++)
		if (r->allowlen[i] == n && memcmp(r->allow[i], s, n) == 0)
			return 1;
	return 0;
}
