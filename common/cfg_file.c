/*
 * cfg_file.c - the MASKGATE_CONFIG env file: NAME=VALUE lines (optionally
 * "export NAME=VALUE", values optionally quoted), read once per load.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg_file.h"

void
cfg_file_free(struct cfg_file *cf)
{
	size_t i;

	for (i = 0; i < cf->n; i++) {
		explicit_bzero(cf->line[i].value, strlen(cf->line[i].value));
		free(cf->line[i].name);
		free(cf->line[i].value);
	}
	free(cf->line);
	memset(cf, 0, sizeof(*cf));
}

/* Appends one NAME=VALUE pair (copies both); -1 when out of memory. */
static int
cfg_file_add(struct cfg_file *cf, const char *name, size_t namelen, const char *value)
{
	struct cfg_line *l;

	if (cf->n == cf->cap) {
		size_t ncap = cf->cap ? cf->cap * 2 : 32;
		l = realloc(cf->line, ncap * sizeof(*l));
		if (l == NULL)
			return -1;
		cf->line = l;
		cf->cap = ncap;
	}
	l = &cf->line[cf->n];
	l->name = strndup(name, namelen);
	l->value = strdup(value);
	if (l->name == NULL || l->value == NULL) {
		free(l->name);
		free(l->value);
		return -1;
	}
	cf->n++;
	return 0;
}

/*
 * getline, not a fixed buffer: a line cut in two would let the tail of a
 * long value be read as a setting of its own.
 */
enum mg_err
cfg_file_read(struct cfg_file *cf, char *err, size_t errlen)
{
	const char *path = getenv("MASKGATE_CONFIG");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	unsigned lineno = 0;
	enum mg_err rc = MG_OK;
	FILE *f;

	memset(cf, 0, sizeof(*cf));
	if (path == NULL || *path == '\0')
		return MG_OK;
	cf->path = path;
	f = fopen(path, "r");
	if (f == NULL) {
		mg_errf(err, errlen, "MASKGATE_CONFIG: cannot read %s: %s", path, strerror(errno));
		return MG_EINVAL;
	}
	for (;;) {
		char *p, *eq, *v, *end;

		errno = 0;
		len = getline(&line, &cap, f);
		if (len < 0) {
			if (errno != 0 || ferror(f)) {
				mg_errf(err, errlen, "MASKGATE_CONFIG: cannot read %s after line %u: %s",
				    path, lineno, strerror(errno != 0 ? errno : EIO));
				rc = MG_EINVAL;
			}
			break;
		}
		lineno++;
		if (len > CFG_MAX_LINE) {
			mg_errf(err, errlen, "MASKGATE_CONFIG: %s line %u: longer than %d bytes",
			    path, lineno, CFG_MAX_LINE);
			rc = MG_EINVAL;
			break;
		}
		if (strlen(line) != (size_t)len) {
			mg_errf(err, errlen, "MASKGATE_CONFIG: %s line %u: contains a NUL byte",
			    path, lineno);
			rc = MG_EINVAL;
			break;
		}
		p = line;
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '#' || *p == '\0')
			continue;
		if (strncmp(p, "export ", 7) == 0)
			p += 7;
		eq = strchr(p, '=');
		if (eq == NULL) {
			mg_errf(err, errlen, "MASKGATE_CONFIG: %s line %u: expected NAME=VALUE",
			    path, lineno);
			rc = MG_EINVAL;
			break;
		}
		v = eq + 1;
		end = v + strlen(v);
		while (end > v && isspace((unsigned char)end[-1]))
			*--end = '\0';
		if (end - v >= 2 && (v[0] == '"' || v[0] == '\'') && end[-1] == v[0]) {
			end[-1] = '\0';
			v++;
		}
		if (cfg_file_add(cf, p, (size_t)(eq - p), v) != 0) {
			/* a setting silently dropped would fall back to its default */
			mg_errf(err, errlen, "MASKGATE_CONFIG: out of memory reading %s", path);
			rc = MG_EINVAL;
			break;
		}
	}
	if (line != NULL)
		explicit_bzero(line, cap);
	free(line);
	fclose(f);
	return rc;
}

char *
cfg_file_lookup(const struct cfg_file *cf, const char *name, char *err, size_t errlen,
    int *failed, int *from_file)
{
	const char *value = NULL, *file_value = NULL;
	size_t namelen = strlen(name), i;
	char *r;

	*from_file = 0;
	for (i = 0; i < cf->n; i++) {
		const char *key = cf->line[i].name;
		if (strcmp(key, name) == 0)
			value = cf->line[i].value;
		else if (strncmp(key, name, namelen) == 0 && strcmp(key + namelen, "_FILE") == 0)
			file_value = cf->line[i].value;
	}
	if (value != NULL && file_value != NULL) {
		mg_errf(err, errlen, "%s: set both %s and %s_FILE in %s; keep one", name, name, name,
		    cf->path);
		*failed = 1;
		return NULL;
	}
	if (value == NULL && file_value == NULL)
		return NULL;
	*from_file = file_value != NULL;
	r = strdup(file_value != NULL ? file_value : value);
	if (r == NULL) {
		mg_errf(err, errlen, "MASKGATE_CONFIG: out of memory reading %s", cf->path);
		*failed = 1;
	}
	return r;
}
