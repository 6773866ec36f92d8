/*
 * rules.h - the rule set: loading the rules files (the embedded default
 * rules/aws.rules plus the admin file named by MASKGATE_RULES), compiling
 * them with PCRE2 (JIT when the system allows it) and finding the
 * non-overlapping spans of text that must be masked.
 *
 * Rules files are data; their format is documented at the top of
 * rules/aws.rules and in rules.c.
 */
#ifndef MG_RULES_H
#define MG_RULES_H

#include <stddef.h>
#include <stdio.h>
#include "arena.h"
#include "mg.h"

struct rules;

enum rules_action { RULES_MASK, RULES_BLOCK, RULES_ALLOW, RULES__MAX };

/* One chosen span of a scan: text[start..end) belongs to rule `rule`. */
struct rules_match {
	size_t start;
	size_t end;
	unsigned rule;
	enum rules_action action;	/* RULES_ALLOW also for admin allow-values */
};

/*
 * Loads the embedded default rules and, when admin_path is not NULL, the
 * admin file (rules that add or override defaults by name, allow-values).
 * Any error in either file fails the whole load and names file and line in
 * err: there is no partial rule set. Call after fork(): the result holds
 * PCRE2 match data for one process. Returns a new rule set, caller frees
 * with rules_free().
 */
enum mg_err rules_load(const char *admin_path, struct rules **out, char *err, size_t errlen);
void rules_free(struct rules *r);

/* Like rules_load with the admin rules given as text (tests, fuzzing). */
enum mg_err rules_load_text(const char *admin_text, size_t admin_len, const char *admin_name,
    struct rules **out, char *err, size_t errlen);

/* 1 if the patterns run JIT-compiled, 0 if on the interpreter. */
int rules_jit(const struct rules *r);
/* Number of enabled rules. */
size_t rules_count(const struct rules *r);

/*
 * Validates a rules file as an admin file on top of the defaults; prints
 * every error as "FILE:LINE: message" to report. MG_OK when valid.
 */
enum mg_err rules_check_file(const char *path, FILE *report);

/*
 * Finds the spans to mask in text[0..len): every rule's matches, resolved
 * to a non-overlapping set (see resolve() in rules_scan.c), with placeholders
 * already in the text left alone. The array lives in a; *n is its length.
 */
enum mg_err rules_scan(const struct rules *r, struct arena *a, const char *text, size_t len,
    struct rules_match **out, size_t *n);

/* Rule indices run from 0 to rules_slots()-1 (disabled rules keep theirs). */
size_t rules_slots(const struct rules *r);
/* Rule attributes by index. */
const char *rules_name(const struct rules *r, unsigned rule);
const char *rules_type(const struct rules *r, unsigned rule);
enum rules_action rules_action(const struct rules *r, unsigned rule);

/*
 * Placeholders: AWS_<TYPE>_<N>, N in decimal, zero-padded to 3 digits and
 * never longer than needed beyond that. rules_placeholder_at recognises one
 * starting exactly at text+pos whose TYPE is minted by a loaded rule and
 * that ends at a token boundary (the caller checks the left boundary).
 * On success sets *rule, *num and *end and returns 1.
 */
int rules_placeholder_at(const struct rules *r, const char *text, size_t len, size_t pos,
    unsigned *rule, unsigned long *num, size_t *end);
/* Writes the placeholder for (rule, num) into out; returns its length. */
size_t rules_placeholder_format(const struct rules *r, unsigned rule, unsigned long num,
    char *out, size_t outlen);
/*
 * 1 if text[0..len) is a proper prefix of a placeholder the loaded rules
 * can mint, or a complete one (digits may still follow).
 */
int rules_placeholder_prefix(const struct rules *r, const char *text, size_t len);

#endif
