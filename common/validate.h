/*
 * validate.h - named validators that rules can attach to a match: checks
 * a regex cannot express well (public address ranges, entropy of secrets,
 * S3 naming rules). Each sees the whole text and the span, so it may look
 * at context too. They return 1 to keep the match, 0 to drop it.
 */
#ifndef MG_VALIDATE_H
#define MG_VALIDATE_H

#include <stddef.h>

/* Index of the validator called name, or -1. */
int validate_lookup(const char *name);
const char *validate_name(int idx);
int validate_run(int idx, const char *text, size_t len, size_t start, size_t end);

/* The pack validators (rules_validate.c), in validate.c's table. */
int rules_v_github_crc32(const char *text, size_t len, size_t start, size_t end);
int rules_v_luhn(const char *text, size_t len, size_t start, size_t end);
int rules_v_iban(const char *text, size_t len, size_t start, size_t end);
int rules_v_phone(const char *text, size_t len, size_t start, size_t end);
int rules_v_password(const char *text, size_t len, size_t start, size_t end);
int rules_v_secret_value(const char *text, size_t len, size_t start, size_t end);
int rules_v_random(const char *text, size_t len, size_t start, size_t end);
int rules_v_k8s_secret(const char *text, size_t len, size_t start, size_t end);

#endif
