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

struct rules_define {
	char *name;
	char *value;
	const char *file;
	int line;
};

struct rules {
	struct rules_rule *rule;	/* all parsed rules; disabled ones stay */
	size_t nrule;
	unsigned *active;	/* indices of enabled rules */
	size_t nactive;
	struct rules_define *def;
	size_t ndef;
	char **allow;		/* sorted allow-values */
	size_t *allowlen;
	size_t nallow;
	struct rules_lead *lead;
	size_t nlead;
	uint64_t bigram_bits[65536 / 64];
	/* second filter: a hash of the first three bytes of every lead */
	uint64_t trigram_bits[RULES_TRIGRAM_BITS / 64];
	uint32_t *bucket_start;	/* 65537 entries */
	uint32_t *bucket;
	struct rules_lead_quick *quick;	/* hot copy of the leads, same indices */
	unsigned *noleads;	/* enabled rules without a lead */
	size_t nnoleads;
	char *files[2];		/* names used in messages, owned */
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	pcre2_jit_stack *jstack;
	int jit;
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
 * Compiles every enabled rule of the parsed set r (macros, PCRE2 with JIT
 * when available, leads) and builds the lead index. Errors go to d; what is
 * built belongs to r and is freed by rules_free().
 */
void rules_compile(struct rules *r, struct rules_diag *d);

#endif
