/*
 * embed.h - files compiled into the binaries by scripts/embed.sh: the SQL
 * migrations (in order), the default rules file and model table, so that a single binary
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
extern const struct embed_file embed_pgsql[];	/* the same migrations for PostgreSQL */
extern const size_t embed_pgsql_count;
extern const struct embed_file embed_rules[];
extern const size_t embed_rules_count;
extern const struct embed_file embed_models[];
extern const size_t embed_models_count;

#endif
