/*
 * cfg_file.h - the MASKGATE_CONFIG env file, parsed once per configuration
 * load (cfg.c): every NAME=VALUE line, in order.
 */
#ifndef MG_CFG_FILE_H
#define MG_CFG_FILE_H

#include <stddef.h>

#include "mg.h"

/* Longest line of the file; a longer one is refused, never split. */
#define CFG_MAX_LINE 65536

struct cfg_file {
	const char *path;	/* NULL: no file */
	struct cfg_line {
		char *name, *value;
	} *line;
	size_t n, cap;
};

/*
 * Reads the file named by MASKGATE_CONFIG (none when unset or empty) into
 * cf, which the caller frees with cfg_file_free() whatever the outcome.
 * A line without '=', with a NUL byte or longer than CFG_MAX_LINE is
 * MG_EINVAL with a message naming the file and the line.
 */
enum mg_err cfg_file_read(struct cfg_file *cf, char *err, size_t errlen);

/*
 * Looks NAME and NAME_FILE up; the last line wins. Returns a new string
 * (caller frees), or NULL when absent or on error (*failed set: both were
 * given, or out of memory). *from_file: the value is the path of a file
 * holding the setting.
 */
char *cfg_file_lookup(const struct cfg_file *cf, const char *name, char *err, size_t errlen,
    int *failed, int *from_file);

/* Frees every entry, wiping the values (they may be secrets). */
void cfg_file_free(struct cfg_file *cf);

#endif
