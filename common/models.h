/*
 * models.h - the model table: output limits and prices per model, aliases
 * and the optional allow-list.
 */
#ifndef MG_MODELS_H
#define MG_MODELS_H

#include <stddef.h>
#include "mg.h"

struct models;

struct model {
	char *prefix;
	long max_output;
	double price_input;		/* USD per million tokens */
	double price_output;
	double price_cache_write;
	double price_cache_read;
};

/*
 * Loads the embedded table, then admin_path (may be NULL) on top, and the
 * comma-separated allowlist (may be NULL: every model allowed). Returns a
 * new table, caller frees with models_free(); errors name file and line.
 */
enum mg_err models_load(const char *admin_path, const char *allowlist,
    struct models **out, char *err, size_t errlen);
void models_free(struct models *m);

/* The alias target for name, or NULL. Borrowed from the table. */
const char *models_alias(const struct models *m, const char *name);
/* The entry whose prefix is the longest prefix of name, or NULL. */
const struct model *models_find(const struct models *m, const char *name);
/* 1 when no allow-list is set or name is on it. */
int models_allowed(const struct models *m, const char *name);
/* USD for the given token counts; 0 for an unknown model. */
double models_cost(const struct model *md, long input, long output,
    long cache_write, long cache_read);

#endif
