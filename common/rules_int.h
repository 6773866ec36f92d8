/*
 * rules_int.h - internals shared by the rules*.c files only (and by the
 * unit test that includes them): the rule set's structures, the error
 * sink of loading, and the step from parsed rules to a scannable set.
 */
#ifndef MG_RULES_INT_H
#define MG_RULES_INT_H

#include <stdint.h>
#include <stdio.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "rules.h"

#define RULES_MAX_LEAD 128
#define RULES_TRIGRAM_BITS (1u << 18)

/* the trigram filter's bit for bytes a b c */
static inline uint32_t
rules_trigram(unsigned a, unsigned b, unsigned c)
{
	return ((a << 16 | b << 8 | c) * 2654435761u) >> 14;
}

/* for a bigram whose bit is set: its index among the set ones */
static inline uint32_t
rules_bigram_index(const uint64_t *bits, const uint32_t *rank, unsigned bg)
{
	uint64_t below = bits[bg >> 6] & (((uint64_t)1 << (bg & 63)) - 1);

	return rank[bg >> 6] + (uint32_t)__builtin_popcountll(below);
}

enum rules_lead_class { RULES_LC_LIT, RULES_LC_DIGIT, RULES_LC_HEX };

struct rules_rule {
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
	enum rules_restore restore;
	int restore_set;	/* restore given in a file (else the default) */
	int credential;		/* keyed placeholder tag, restore defaults to text */
	int pack;		/* index into rules.pack */
	const char *file;	/* where the section (last override) starts */
	int line;
	int pattern_line;
	int lead_line;
	pcre2_code *code;
	int has_group;
};

struct rules_lead {
	uint32_t qval;		/* quick check of the first 4 bytes: */
	uint32_t qmask;		/* (load32(text) & qmask) == qval */
	unsigned char pat[RULES_MAX_LEAD];	/* lowercased when nocase */
	unsigned char cls[RULES_MAX_LEAD];
	size_t len;
	unsigned rule;
	int nocase;
};

/* what the scan loop touches for every candidate, kept small */
struct rules_lead_quick {
	uint32_t qval;		/* first 4 bytes, as in struct rules_lead */
	uint32_t qmask;
	uint32_t tval;		/* last 4 bytes: tells apart leads sharing a */
	uint32_t tmask;		/* prefix, such as arn:aws:iam:: and arn:aws:s3::: */
	uint32_t len;
	uint32_t rule;
};

/*
 * A rule pack: one embedded rules file (rules/NAME.rules). Every pack's
 * rules are parsed so that their placeholders stay recognisable (a pack
 * switched off later still unmasks for its tenants); only the selected
 * packs' rules are compiled and scanned.
 */
#define RULES_MAX_PACKS 8
struct rules_pack {
	char name[32];
	int family;		/* index into the family table (rules_placeholder.c), -1 unset */
	int selected;		/* named in MASKGATE_RULE_PACKS */
};

struct rules_define {
	char *name;
	char *value;
	const char *file;
	int line;
};

struct rules {
	struct rules_rule *rule;	/* all parsed rules; disabled ones stay */
	size_t nrule;
	unsigned *active;	/* indices of enabled rules of selected packs */
	size_t nactive;
	/* indices of rules whose placeholders are recognised: the active mask
	 * rules, then the enabled mask rules of packs not selected */
	unsigned *known;
	size_t nknown;
	struct rules_pack pack[RULES_MAX_PACKS];
	size_t npack;
	struct rules_define *def;
	size_t ndef;
	char **allow;		/* sorted allow-values */
	size_t *allowlen;
	size_t nallow;
	struct rules_lead *lead;
	size_t nlead;
	uint64_t bigram_bits[65536 / 64];
	/* set bigrams in the words before each word of bigram_bits */
	uint32_t bigram_rank[65536 / 64];
	/* second filter: a hash of the first three bytes of every lead */
	uint64_t trigram_bits[RULES_TRIGRAM_BITS / 64];
	/*
	 * by rules_bigram_index: bucket[bucket_start[i] .. bucket_start[i + 1]]
	 * are the leads of set bigram i (a few hundred entries, not 65537)
	 */
	uint32_t *bucket_start;
	uint32_t *bucket;
	struct rules_lead_quick *quick;	/* hot copy of the leads, same indices */
	unsigned *noleads;	/* enabled rules without a lead */
	size_t nnoleads;
	char *files[RULES_MAX_PACKS + 1];	/* names used in messages (packs, admin), owned */
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	pcre2_jit_stack *jstack;
	int jit;
	/*
	 * per rule: its JIT compilation was tried. Rules are compiled to
	 * machine code at their first use, not at load: the code of all of
	 * them was 430 KB of every worker, most for rules a worker never runs.
	 */
	unsigned char *jit_tried;
	size_t maxtype;
};

struct rules_diag {
	FILE *report;
	char *err;
	size_t errlen;
	int count;
};

/*
 * Records one error as "file:line: message" (line 0: "file: message"): the
 * first goes to d->err, every one to d->report, and d->count counts them.
 */
void rules_diag(struct rules_diag *d, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Copies s[0..n) into a new NUL-terminated string (caller frees), or NULL. */
char *rules_strndup(const char *s, size_t n);

/*
 * Placeholder families (rules_placeholder.c): the index of the family
 * called s[0..n) ("AWS", "SECRET", ...), or -1; and the name of index i.
 */
int rules_family_index(const char *s, size_t n);
const char *rules_family_name(int i);

/*
 * Marks the packs named in the comma-separated list packs as selected;
 * an unknown name is an error naming it and the built-in packs.
 */
void rules_pack_select(struct rules *r, const char *packs, struct rules_diag *d);
/* The index of the pack called s[0..n), or -1. */
int rules_pack_index(const struct rules *r, const char *s, size_t n);

/*
 * Compiles every enabled rule of the parsed set r (macros, PCRE2 with JIT
 * when available, leads) and builds the lead index. Errors go to d; what is
 * built belongs to r and is freed by rules_free().
 */
void rules_compile(struct rules *r, struct rules_diag *d);

#endif
