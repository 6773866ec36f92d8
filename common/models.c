/*
 * models.c - parsing and lookups of the model table.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embed.h"
#include "models.h"

struct alias {
	char *name;
	char *target;
};

struct models {
	struct model *models;
	size_t nmodels;
	struct alias *aliases;
	size_t naliases;
	char **allow;
	size_t nallow;
};

static int
push(void **arr, size_t *n, size_t size)
{
	void *p = realloc(*arr, (*n + 1) * size);

	if (p == NULL)
		return -1;
	*arr = p;
	memset((char *)p + *n * size, 0, size);
	(*n)++;
	return 0;
}

static int
parse_num(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return errno == 0 && end != s && *end == '\0' && *out >= 0 ? 0 : -1;
}

/* Parses one table text; lines override earlier entries with the same name. */
static enum mg_err
parse(struct models *m, const char *text, const char *source, char *err, size_t errlen)
{
	const char *line = text;
	unsigned lineno = 0;

	while (*line != '\0') {
		const char *nl = strchr(line, '\n');
		size_t len = nl != NULL ? (size_t)(nl - line) : strlen(line);
		char buf[512], *tok[8], *save = NULL, *p;
		int ntok = 0;

		lineno++;
		if (len >= sizeof(buf)) {
			snprintf(err, errlen, "%s line %u: line too long", source, lineno);
			return MG_EINVAL;
		}
		memcpy(buf, line, len);
		buf[len] = '\0';
		line += len + (nl != NULL);
		p = strchr(buf, '#');
		if (p != NULL)
			*p = '\0';
		for (p = strtok_r(buf, " \t\r", &save); p != NULL && ntok < 8;
		    p = strtok_r(NULL, " \t\r", &save))
			tok[ntok++] = p;
		if (ntok == 0)
			continue;
		if (strcmp(tok[0], "model") == 0 && ntok == 7) {
			struct model md;
			double v[5];
			size_t i;
			int bad = 0;

			for (i = 0; i < 5; i++)
				bad |= parse_num(tok[2 + i], &v[i]);
			if (bad || v[0] < 1 || v[0] > 10000000) {
				snprintf(err, errlen, "%s line %u: bad number in model line", source, lineno);
				return MG_EINVAL;
			}
			md.prefix = NULL;
			md.max_output = (long)v[0];
			md.price_input = v[1];
			md.price_output = v[2];
			md.price_cache_write = v[3];
			md.price_cache_read = v[4];
			for (i = 0; i < m->nmodels; i++)
				if (strcmp(m->models[i].prefix, tok[1]) == 0)
					break;
			if (i == m->nmodels && push((void **)&m->models, &m->nmodels, sizeof(md)) != 0)
				return MG_ENOMEM;
			free(m->models[i].prefix);
			md.prefix = strdup(tok[1]);
			if (md.prefix == NULL)
				return MG_ENOMEM;
			m->models[i] = md;
		} else if (strcmp(tok[0], "alias") == 0 && ntok == 3) {
			size_t i;
			for (i = 0; i < m->naliases; i++)
				if (strcmp(m->aliases[i].name, tok[1]) == 0)
					break;
			if (i == m->naliases && push((void **)&m->aliases, &m->naliases, sizeof(struct alias)) != 0)
				return MG_ENOMEM;
			free(m->aliases[i].name);
			free(m->aliases[i].target);
			m->aliases[i].name = strdup(tok[1]);
			m->aliases[i].target = strdup(tok[2]);
			if (m->aliases[i].name == NULL || m->aliases[i].target == NULL)
				return MG_ENOMEM;
		} else {
			snprintf(err, errlen, "%s line %u: expected `model PREFIX MAX_OUTPUT INPUT "
			    "OUTPUT CACHE_WRITE CACHE_READ` or `alias NAME TARGET`", source, lineno);
			return MG_EINVAL;
		}
	}
	return MG_OK;
}

static char *
slurp(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *data = NULL;
	long size;

	if (f == NULL) {
		snprintf(err, errlen, "MASKGATE_MODELS: cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
	if (size >= 0 && size < 1024 * 1024 && fseek(f, 0, SEEK_SET) == 0) {
		data = calloc(1, (size_t)size + 1);
		if (data != NULL && fread(data, 1, (size_t)size, f) != (size_t)size) {
			free(data);
			data = NULL;
		}
	}
	fclose(f);
	if (data == NULL)
		snprintf(err, errlen, "MASKGATE_MODELS: cannot read %s", path);
	return data;
}

enum mg_err
models_load(const char *admin_path, const char *allowlist, struct models **out,
    char *err, size_t errlen)
{
	struct models *m = calloc(1, sizeof(*m));
	enum mg_err rc = MG_ENOMEM;
	char *text = NULL, *list = NULL, *p, *save = NULL;

	*out = NULL;
	if (m == NULL)
		return MG_ENOMEM;
	rc = parse(m, embed_models[0].data, "models.conf", err, errlen);
	if (rc != MG_OK)
		goto fail;
	if (admin_path != NULL) {
		text = slurp(admin_path, err, errlen);
		if (text == NULL) {
			rc = MG_EINVAL;
			goto fail;
		}
		rc = parse(m, text, admin_path, err, errlen);
		if (rc != MG_OK)
			goto fail;
	}
	if (allowlist != NULL) {
		list = strdup(allowlist);
		if (list == NULL) {
			rc = MG_ENOMEM;
			goto fail;
		}
		for (p = strtok_r(list, ", ", &save); p != NULL; p = strtok_r(NULL, ", ", &save)) {
			if (push((void **)&m->allow, &m->nallow, sizeof(char *)) != 0) {
				rc = MG_ENOMEM;
				goto fail;
			}
			m->allow[m->nallow - 1] = strdup(p);
			if (m->allow[m->nallow - 1] == NULL) {
				rc = MG_ENOMEM;
				goto fail;
			}
		}
		if (m->nallow == 0) {
			snprintf(err, errlen, "MASKGATE_MODEL_ALLOWLIST: empty; unset it to allow every model");
			rc = MG_EINVAL;
			goto fail;
		}
	}
	free(text);
	free(list);
	*out = m;
	return MG_OK;
fail:
	free(text);
	free(list);
	models_free(m);
	return rc;
}

void
models_free(struct models *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->nmodels; i++)
		free(m->models[i].prefix);
	for (i = 0; i < m->naliases; i++) {
		free(m->aliases[i].name);
		free(m->aliases[i].target);
	}
	for (i = 0; i < m->nallow; i++)
		free(m->allow[i]);
	free(m->models);
	free(m->aliases);
	free(m->allow);
	free(m);
}

const char *
models_alias(const struct models *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->naliases; i++)
		if (strcmp(m->aliases[i].name, name) == 0)
			return m->aliases[i].target;
	return NULL;
}

const struct model *
models_find(const struct models *m, const char *name)
{
	const struct model *best = NULL;
	size_t i, bestlen = 0;

	for (i = 0; i < m->nmodels; i++) {
		size_t n = strlen(m->models[i].prefix);
		if (n > bestlen && strncmp(name, m->models[i].prefix, n) == 0) {
			best = &m->models[i];
			bestlen = n;
		}
	}
	return best;
}

int
models_allowed(const struct models *m, const char *name)
{
	size_t i;

	if (m->nallow == 0)
		return 1;
	for (i = 0; i < m->nallow; i++)
		if (strcmp(m->allow[i], name) == 0)
			return 1;
	return 0;
}

double
models_cost(const struct model *md, long input, long output, long cache_write, long cache_read)
{
	if (md == NULL)
		return 0.0;
	return ((double)input * md->price_input + (double)output * md->price_output +
	    (double)cache_write * md->price_cache_write +
	    (double)cache_read * md->price_cache_read) / 1e6;
}
