/*
 * cfg_int.h - what the configuration files share: the variable table and
 * the cross-field checks. Not for use outside cfg*.c.
 */
#ifndef MG_CFG_INT_H
#define MG_CFG_INT_H

#include <stddef.h>
#include "cfg.h"

enum cfg_type { T_STR, T_SECRET, T_DURATION, T_SIZE, T_SIZE0, T_INT, T_URL, T_HEXKEY, T_ENV, T_LOGLEVEL,
	T_BOOL };

struct cfg_var {
	const char *name;
	enum cfg_type type;
	size_t offset;
	const char *def;	/* NULL: unset unless given */
	const char *hint;	/* how to fix a bad value */
};

#define OFF(f) offsetof(struct cfg, f)

extern const struct cfg_var cfg_vars[];
extern const size_t cfg_nvars;

/* cfg_check.c: settings that must agree with each other */
enum mg_err cfg_check_clouds(const struct cfg *c, char *err, size_t errlen);
enum mg_err cfg_check_jwt(struct cfg *c, char *err, size_t errlen);
enum mg_err cfg_check_console(const struct cfg *c, char *err, size_t errlen);

/* cfg.c: reads a secret file into a new string, or NULL with err set */
char *cfg_read_secret_file(const char *path, char *err, size_t errlen, const char *name);

#endif
