/*
 * rules.h - the rule set: loading the rules files (the embedded packs
 * rules/NAME.rules, chosen by MASKGATE_RULE_PACKS, plus the admin file named
 * by MASKGATE_RULES), compiling
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

/*
 * Where a placeholder of a rule is turned back into its value: in all
 * model output, in text and thinking but not in tool input (tool_use.input,
 * input_json_delta), or nowhere.
 */
enum rules_restore { RULES_RESTORE_EVERYWHERE, RULES_RESTORE_TEXT, RULES_RESTORE_NEVER,
	RULES_RESTORE__MAX };

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

/*
 * rules_load with the packs to scan chosen: packs is a comma-separated
 * list of built-in pack names (MASKGATE_RULE_PACKS; NULL or "":
 * RULES_DEFAULT_PACKS). An unknown name fails the load, naming it. Every
 * pack is loaded all the same so that placeholders minted by a pack that
 * is switched off later still unmask; only the chosen ones scan.
 */
#define RULES_DEFAULT_PACKS "aws,secrets"
enum mg_err rules_load_packs(const char *packs, const char *admin_path, struct rules **out,
    char *err, size_t errlen);

/* Like rules_load with the admin rules given as text (tests, fuzzing). */
enum mg_err rules_load_text(const char *admin_text, size_t admin_len, const char *admin_name,
    struct rules **out, char *err, size_t errlen);
enum mg_err rules_load_text_packs(const char *packs, const char *admin_text, size_t admin_len,
    const char *admin_name, struct rules **out, char *err, size_t errlen);

/* 1 if the patterns run JIT-compiled, 0 if on the interpreter. */
int rules_jit(const struct rules *r);
/*
 * Rules are compiled to machine code at their first use; this compiles
 * the rest now (for tests that count the allocations an operation leaves).
 */
void rules_jit_all(struct rules *r);
/* Number of enabled rules. */
size_t rules_count(const struct rules *r);

/*
 * Validates a rules file as an admin file on top of the defaults; prints
 * every error as "FILE:LINE: message" to report. MG_OK when valid.
 */
enum mg_err rules_check_file(const char *path, const char *packs, FILE *report);

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
/* The restore policy of a rule (`restore =`, default by `credential`). */
enum rules_restore rules_restore(const struct rules *r, unsigned rule);
/* "everywhere", "text" or "never". */
const char *rules_restore_name(enum rules_restore restore);
/* 1 if the rule finds credentials: its placeholders carry a keyed tag. */
int rules_credential(const struct rules *r, unsigned rule);
/* The name of the pack a rule belongs to ("aws", "secrets", ...). */
const char *rules_pack_name(const struct rules *r, unsigned rule);
/* 1 unless the rule is switched off (`enabled = no`). */
int rules_enabled(const struct rules *r, unsigned rule);
/* 1 if the rule's pack is selected (MASKGATE_RULE_PACKS). */
int rules_pack_on(const struct rules *r, unsigned rule);
/* 1 if s[0..n) is an admin allow-value (never masked, not even recalled). */
int rules_allowed(const struct rules *r, const char *s, size_t n);
/* The rule index minting placeholders of type[0..n), or -1. */
int rules_type_rule(const struct rules *r, const char *type, size_t n);

/*
 * Placeholders (the one grammar the unmasker recognises, see
 * rules_placeholder.c):
 *
 *   <FAMILY>_<TYPE>_<N>[_<TAG>]
 *
 * FAMILY is the rule's pack's family (AWS, SECRET, GCP, AZURE, PII); TYPE
 * the rule's type, unique across all packs; N the number in decimal, zero-padded to 3 digits and never
 * longer than needed beyond that; TAG, present exactly for credential
 * rules, RULES_TAG_LEN characters of RULES_TAG_ALPHABET keyed per tenant
 * (see store_map_tag), so that nobody can name a credential's placeholder
 * without having been shown it.
 */
#define RULES_TAG_LEN 4
#define RULES_TAG_ALPHABET "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

/* What rules_placeholder_parse found. */
struct rules_placeholder {
	unsigned rule;
	unsigned long num;
	size_t end;		/* one past the last byte (after the tag, if any) */
	size_t tag;		/* offset of the tag in the text; 0: none */
};

/*
 * Recognises a placeholder starting exactly at text+pos whose TYPE is
 * minted by a loaded rule and that ends at a token boundary (the caller
 * checks the left boundary). A credential rule's placeholder is recognised
 * with or without its tag (the caller checks the tag: without one, or with
 * a wrong one, it is a mutated placeholder); other rules' never carry one.
 */
int rules_placeholder_parse(const struct rules *r, const char *text, size_t len, size_t pos,
    struct rules_placeholder *out);
/* rules_placeholder_parse for callers that need no tag. */
int rules_placeholder_at(const struct rules *r, const char *text, size_t len, size_t pos,
    unsigned *rule, unsigned long *num, size_t *end);
/*
 * The offset of the next possible placeholder start (a family prefix such
 * as "AWS_" or "SECRET_") in text[from..len), or len.
 */
size_t rules_placeholder_next(const struct rules *r, const char *text, size_t len, size_t from);
/* The length of the family prefix ("AWS_", "GCP_", ...) at text[pos..len), or 0. */
size_t rules_family_at(const char *text, size_t len, size_t pos);
/* 1 if c is the first letter of some family (a placeholder may start there). */
int rules_placeholder_initial(int c);
/*
 * Writes the placeholder for (rule, num) into out; tag (RULES_TAG_LEN
 * characters) is required for credential rules and ignored otherwise.
 * Returns its length, 0 if it does not fit or the tag is missing.
 */
size_t rules_placeholder_format(const struct rules *r, unsigned rule, unsigned long num,
    const char *tag, char *out, size_t outlen);
/*
 * 1 if text[0..len) is a proper prefix of a placeholder the loaded rules
 * can mint, or a complete one (digits or a tag may still follow).
 */
int rules_placeholder_prefix(const struct rules *r, const char *text, size_t len);

#endif
