/*
 * cfg.c - table-driven configuration loading and validation.
 *
 * maskgate never reads ANTHROPIC_BASE_URL, ANTHROPIC_API_KEY or proxy
 * variables: on a developer machine they point at maskgate itself.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "cfg_file.h"
#include "crypto.h"
#include "db.h"
#include "cfg_int.h"
#include "log.h"

extern char **environ;

static const char *const cfg_env_names[CFG_ENV__MAX] = {
	"development", "staging", "production",
};

const char *
cfg_run_dir(const struct cfg *c, char *buf, size_t buflen)
{
	const char *dir = c->run_dir, *slash;
	size_t len;

	if (dir == NULL || *dir == '\0') {
		slash = c->db_path != NULL ? strrchr(c->db_path, '/') : NULL;
		if (c->db_path == NULL || db_backend_of(c->db_path) == DB_PG) {
			dir = CFG_RUN_DIR_PG;
		} else if (slash == NULL) {
			dir = ".";
		} else if (slash == c->db_path) {
			dir = "/";
		} else {
			/* the SQLite file's directory */
			len = (size_t)(slash - c->db_path);
			if (len >= buflen)
				return NULL;
			memcpy(buf, c->db_path, len);
			buf[len] = '\0';
			return buf;
		}
	}
	len = strlen(dir);
	if (len >= buflen)
		return NULL;
	memcpy(buf, dir, len + 1);
	return buf;
}

const char *
cfg_env_name(enum cfg_env env)
{
	return (unsigned)env < CFG_ENV__MAX ? cfg_env_names[env] : "?";
}

long
cfg_parse_duration(const char *s)
{
	char *end;
	long v, mult = 1;

	if (s == NULL || !isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || v < 0)
		return -1;
	if (*end != '\0') {
		switch (*end) {
		case 's': mult = 1; break;
		case 'm': mult = 60; break;
		case 'h': mult = 3600; break;
		case 'd': mult = 86400; break;
		default: return -1;
		}
		if (end[1] != '\0')
			return -1;
	}
	if (v > LONG_MAX / mult)
		return -1;
	return v * mult;
}

static int
parse_size(const char *s, size_t *out)
{
	char *end;
	unsigned long long v, mult = 1;

	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	if (*end != '\0') {
		switch (toupper((unsigned char)*end)) {
		case 'K': mult = 1024ULL; break;
		case 'M': mult = 1024ULL * 1024; break;
		case 'G': mult = 1024ULL * 1024 * 1024; break;
		default: return -1;
		}
		if (end[1] != '\0')
			return -1;
	}
	if (v == 0 || v > SIZE_MAX / mult)
		return -1;
	*out = (size_t)(v * mult);
	return 0;
}

static int
parse_long(const char *s, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0)
		return -1;
	*out = v;
	return 0;
}

/* Reads a secret file: whole content minus one trailing newline. */
char *
cfg_read_secret_file(const char *path, char *err, size_t errlen, const char *name)
{
	FILE *f = fopen(path, "r");
	char *data = NULL;
	size_t len = 0, cap = 0, n;
	char chunk[1024];

	if (f == NULL) {
		mg_errf(err, errlen, "%s_FILE: cannot read %s: %s", name, path, strerror(errno));
		return NULL;
	}
	for (;;) {
		n = fread(chunk, 1, sizeof(chunk), f);
		if (n == 0)
			break;
		if (len + n + 1 > 1024 * 1024) {
			mg_errf(err, errlen, "%s_FILE: %s is larger than 1 MiB", name, path);
			goto fail;
		}
		if (len + n + 1 > cap) {
			char *p;
			cap = (len + n + 1) * 2;
			p = realloc(data, cap);
			if (p == NULL)
				goto fail;
			data = p;
		}
		memcpy(data + len, chunk, n);
		len += n;
	}
	fclose(f);
	if (data == NULL)
		data = calloc(1, 1);
	if (data == NULL)
		return NULL;
	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
		len--;
	data[len] = '\0';
	return data;
fail:
	fclose(f);
	free(data);
	return NULL;
}

/*
 * cfg_lookup() over an already parsed MASKGATE_CONFIG file, also naming
 * the file the value was read from: *file gets a new string (caller frees)
 * when the value came from a NAME_FILE file.
 */
static char *
lookup(const struct cfg_file *cf, const char *name, char *err, size_t errlen, int *failed,
    char **file)
{
	char filevar[128];
	const char *v, *fv;
	char *r;
	int from_file;

	*failed = 0;
	*file = NULL;
	snprintf(filevar, sizeof(filevar), "%s_FILE", name);
	v = getenv(name);
	fv = getenv(filevar);
	if (v != NULL && fv != NULL) {
		mg_errf(err, errlen, "%s: both %s and %s are set; keep one", name, name, filevar);
		*failed = 1;
		return NULL;
	}
	if (v != NULL)
		return strdup(v);
	if (fv != NULL) {
		r = cfg_read_secret_file(fv, err, errlen, name);
		if (r == NULL)
			*failed = 1;
		else
			*file = strdup(fv);
		return r;
	}
	r = cfg_file_lookup(cf, name, err, errlen, failed, &from_file);
	if (r != NULL && from_file) {
		char *path = r;
		r = cfg_read_secret_file(path, err, errlen, name);
		if (r == NULL) {
			*failed = 1;
			free(path);
		} else {
			*file = path;
		}
	}
	return r;
}

char *
cfg_lookup(const char *name, char *err, size_t errlen, int *failed)
{
	struct cfg_file cf;
	char *r = NULL, *file = NULL;

	*failed = 0;
	if (cfg_file_read(&cf, err, errlen) != MG_OK)
		*failed = 1;
	else
		r = lookup(&cf, name, err, errlen, failed, &file);
	cfg_file_free(&cf);
	free(file);
	return r;
}

/* Remembers path (taking it) among the files the configuration came from. */
static enum mg_err
note_file(struct cfg *c, char *path)
{
	if (path == NULL)
		return MG_OK;
	if (c->nfiles >= MG_NELEM(c->files)) {
		free(path);
		return MG_EINVAL;
	}
	c->files[c->nfiles++] = path;
	return MG_OK;
}

static enum mg_err
cfg_set(struct cfg *c, const struct cfg_var *var, const char *v, char *err, size_t errlen)
{
	char *base = (char *)c;
	long l;
	int i;

	switch (var->type) {
	case T_STR:
	case T_SECRET:
		free(*(char **)(base + var->offset));
		*(char **)(base + var->offset) = strdup(v);
		if (*(char **)(base + var->offset) == NULL)
			return MG_ENOMEM;
		return MG_OK;
	case T_URL:
		if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
			break;
		free(*(char **)(base + var->offset));
		*(char **)(base + var->offset) = strdup(v);
		if (*(char **)(base + var->offset) == NULL)
			return MG_ENOMEM;
		/* a trailing slash would double up with /v1/... */
		{
			char *u = *(char **)(base + var->offset);
			size_t n = strlen(u);
			while (n > 8 && u[n - 1] == '/')
				u[--n] = '\0';
		}
		return MG_OK;
	case T_DURATION:
		l = cfg_parse_duration(v);
		if (l < 0)
			break;
		*(long *)(base + var->offset) = l;
		return MG_OK;
	case T_SIZE0:	/* a size where 0 means off */
		if (strcmp(v, "0") == 0) {
			*(size_t *)(base + var->offset) = 0;
			return MG_OK;
		}
		/* FALLTHROUGH */
	case T_SIZE:
		if (parse_size(v, (size_t *)(base + var->offset)) != 0)
			break;
		return MG_OK;
	case T_INT:
		if (parse_long(v, &l) != 0)
			break;
		*(long *)(base + var->offset) = l;
		return MG_OK;
	case T_HEXKEY:
		if (crypto_unhex(c->data_key, sizeof(c->data_key), v) != MG_OK)
			break;
		c->have_data_key = 1;
		return MG_OK;
	case T_ENV:
		for (i = 0; i < CFG_ENV__MAX; i++)
			if (strcmp(v, cfg_env_names[i]) == 0) {
				c->env = (enum cfg_env)i;
				return MG_OK;
			}
		break;
	case T_BOOL:
		if (strcmp(v, "on") == 0 || strcmp(v, "true") == 0 || strcmp(v, "1") == 0 ||
		    strcmp(v, "yes") == 0)
			l = 1;
		else if (strcmp(v, "off") == 0 || strcmp(v, "false") == 0 ||
		    strcmp(v, "0") == 0 || strcmp(v, "no") == 0 || *v == '\0')
			l = 0;
		else
			break;
		*(long *)(base + var->offset) = l;
		return MG_OK;
	case T_LOGLEVEL:
		i = log_level_parse(v);
		if (i < 0)
			break;
		c->log_level = i;
		return MG_OK;
	}
	if (var->type == T_HEXKEY)
		mg_errf(err, errlen, "%s: must be exactly 64 hex characters; %s", var->name, var->hint);
	else
		mg_errf(err, errlen, "%s: invalid value; %s", var->name, var->hint);
	return MG_EINVAL;
}

static int
cfg_known(const char *name, size_t len)
{
	size_t i, n;

	if (len == strlen("MASKGATE_CONFIG") && strncmp(name, "MASKGATE_CONFIG", len) == 0)
		return 1;
	for (i = 0; i < cfg_nvars; i++) {
		n = strlen(cfg_vars[i].name);
		if ((len == n || (len == n + 5 && strncmp(name + n, "_FILE", 5) == 0)) &&
		    strncmp(name, cfg_vars[i].name, n) == 0)
			return 1;
	}
	return 0;
}

/* Warns once about MASKGATE_* variables nobody reads (usually typos). */
static void
cfg_warn_unknown(void)
{
	char **e;

	for (e = environ; e != NULL && *e != NULL; e++) {
		const char *eq = strchr(*e, '=');
		if (strncmp(*e, "MASKGATE_", 9) != 0 || eq == NULL)
			continue;
		/* test and tool variables use a MASKGATE_T_ prefix */
		if (strncmp(*e, "MASKGATE_T_", 11) == 0 || strncmp(*e, "MASKGATE_PORT=", 14) == 0)
			continue;
		if (!cfg_known(*e, (size_t)(eq - *e)))
			log_warn("unknown setting %.*s ignored (typo?)", (int)(eq - *e), *e);
	}
}

static enum mg_err cfg_load_values(struct cfg *c, const struct cfg_file *cf, unsigned need,
    char *err, size_t errlen);

/* On failure nothing stays allocated: callers just report and exit. */
enum mg_err
cfg_load(struct cfg *c, unsigned need, char *err, size_t errlen)
{
	struct cfg_file cf;
	enum mg_err rc;

	memset(c, 0, sizeof(*c));
	rc = cfg_file_read(&cf, err, errlen);
	if (rc == MG_OK)
		rc = cfg_load_values(c, &cf, need, err, errlen);
	cfg_file_free(&cf);
	if (rc != MG_OK)
		cfg_free(c);	/* zeroes c, so a caller's own cfg_free stays harmless */
	return rc;
}

static enum mg_err
cfg_load_values(struct cfg *c, const struct cfg_file *cf, unsigned need, char *err,
    size_t errlen)
{
	enum mg_err rc;
	const char *why;
	size_t i;

	{
		const char *conf = getenv("MASKGATE_CONFIG");
		if (conf != NULL && *conf != '\0') {
			c->files[c->nfiles] = strdup(conf);
			if (c->files[c->nfiles++] == NULL)
				return MG_ENOMEM;
		}
	}
	for (i = 0; i < cfg_nvars; i++) {
		const struct cfg_var *var = &cfg_vars[i];
		int failed = 0;
		char *file = NULL;
		char *v = lookup(cf, var->name, err, errlen, &failed, &file);

		if (note_file(c, file) != MG_OK) {
			free(v);
			mg_errf(err, errlen, "%s_FILE: too many settings read from files", var->name);
			return MG_EINVAL;
		}
		if (failed) {
			free(v);	/* NULL today; keeps cfg_load leak-free whatever cfg_lookup returns */
			return MG_EINVAL;
		}
		if (v == NULL && var->def == NULL)
			continue;
		rc = cfg_set(c, var, v != NULL ? v : var->def, err, errlen);
		if (v != NULL) {
			explicit_bzero(v, strlen(v));
			free(v);
		}
		if (rc != MG_OK)
			return rc;
	}
	cfg_warn_unknown();
	if (c->upstream_connect_timeout < 1 || c->upstream_timeout < 1) {
		mg_errf(err, errlen, "MASKGATE_UPSTREAM_TIMEOUT: timeouts must be at least 1s");
		return MG_EINVAL;
	}
	if (c->workers < 1 || c->workers > 256) {
		mg_errf(err, errlen, "MASKGATE_WORKERS: must be between 1 and 256");
		return MG_EINVAL;
	}
	if (c->busy_timeout_ms < 0 || c->busy_timeout_ms > 600000) {
		mg_errf(err, errlen, "MASKGATE_BUSY_TIMEOUT_MS: must be between 0 and 600000");
		return MG_EINVAL;
	}
	if (c->max_requests < 1) {
		mg_errf(err, errlen, "MASKGATE_MAX_REQUESTS: must be at least 1");
		return MG_EINVAL;
	}
	if (c->claude_timeout < 1 || c->claude_timeout > 86400) {
		mg_errf(err, errlen, "MASKGATE_CLAUDE_TIMEOUT: must be between 1s and 1d");
		return MG_EINVAL;
	}
	if (c->claude_max_runs < 0 || c->claude_max_runs > 64) {
		mg_errf(err, errlen, "MASKGATE_CLAUDE_MAX_RUNS: must be between 0 and 64");
		return MG_EINVAL;
	}
	if (c->console_session < 300 || c->console_session > 86400) {
		mg_errf(err, errlen, "MASKGATE_CONSOLE_SESSION: must be between 5m and 1d");
		return MG_EINVAL;
	}
	if (c->anomaly_factor < 2 || c->anomaly_factor > 1000 || c->anomaly_min_requests < 1) {
		mg_errf(err, errlen, "MASKGATE_ANOMALY_FACTOR: must be between 2 and 1000 "
		    "(and MASKGATE_ANOMALY_MIN_REQUESTS at least 1)");
		return MG_EINVAL;
	}
	if (need & CFG_NEED_MASTER_KEY) {
		if (c->master_key == NULL || c->master_key[0] == '\0') {
			mg_errf(err, errlen, "MASKGATE_MASTER_KEY: not set; generate one with "
			    "`bin/maskgate keygen` and set it (or MASKGATE_MASTER_KEY_FILE)");
			return MG_EINVAL;
		}
		why = cfg_weak_secret(c->master_key);
		if (why != NULL) {
			mg_errf(err, errlen, "MASKGATE_MASTER_KEY: refused, the key %s; "
			    "generate one with `bin/maskgate keygen`", why);
			return MG_EINVAL;
		}
	}
	if ((need & CFG_NEED_DATA_KEY) && !c->have_data_key) {
		mg_errf(err, errlen, "MASKGATE_DATA_KEY: not set; generate one with "
		    "`bin/maskgate keygen --data` and keep it apart from the database");
		return MG_EINVAL;
	}
	if (c->env == CFG_ENV_PRODUCTION && c->upstream_api_key == NULL &&
	    (need & CFG_NEED_MASTER_KEY)) {
		mg_errf(err, errlen, "MASKGATE_UPSTREAM_API_KEY: required in production; "
		    "set the Anthropic API key (or MASKGATE_UPSTREAM_API_KEY_FILE)");
		return MG_EINVAL;
	}
	rc = cfg_check_jwt(c, err, errlen);
	if (rc != MG_OK)
		return rc;
	rc = cfg_check_clouds(c, err, errlen);
	if (rc == MG_OK)
		rc = cfg_check_console(c, err, errlen);
	if (rc != MG_OK)
		return rc;
	log_set_level((enum log_level)c->log_level);
	return MG_OK;
}

void
cfg_free(struct cfg *c)
{
	size_t i;

	for (i = 0; i < cfg_nvars; i++) {
		char **p;
		if (cfg_vars[i].type != T_STR && cfg_vars[i].type != T_SECRET &&
		    cfg_vars[i].type != T_URL)
			continue;
		p = (char **)((char *)c + cfg_vars[i].offset);
		if (*p != NULL) {
			explicit_bzero(*p, strlen(*p));
			free(*p);
		}
	}
	free(c->jwt_public_pem);
	for (i = 0; i < c->nfiles; i++)
		free(c->files[i]);
	explicit_bzero(c, sizeof(*c));
}
