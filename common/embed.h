/*
 * embed.h - files compiled into the binaries by scripts/embed.sh: the SQL
 * migrations (in order) and the default rules file, so that a single binary
 * can be copied onto a shared host.
 */
#ifndef MG_EMBED_H
#define MG_EMBED_H

#include <stddef.h>

struct embed_file {
	const char *name;
	const char *data;	/* NUL-terminated */
	size_t len;
};

extern const struct embed_file embed_sql[];
extern const size_t embed_sql_count;
extern const struct embed_file embed_rules[];
extern const size_t embed_rules_count;

#endif
