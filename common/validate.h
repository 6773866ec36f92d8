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

#endif
