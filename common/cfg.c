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
#include "log.h"

extern char **environ;

enum cfg_type { T_STR, T_SECRET, T_DURATION, T_SIZE, T_INT, T_URL, T_HEXKEY, T_ENV, T_LOGLEVEL,
	T_BOOL };

struct cfg_var {
	const char *name;
	enum cfg_type type;
	size_t offset;
	const char *def;	/* NULL: unset unless given */
	const char *hint;	/* how to fix a bad value */
};

#define OFF(f) offsetof(struct cfg, f)

static const struct cfg_var cfg_vars[] = {
	{ "MASKGATE_ENV", T_ENV, OFF(env), "development",
	  "use development, staging or production" },
	{ "MASKGATE_MASTER_KEY", T_SECRET, OFF(master_key), NULL,
	  "generate one with `bin/maskgate keygen`" },
	{ "MASKGATE_DB", T_STR, OFF(db_path), "/var/lib/maskgate/maskgate.db",
	  "give the path of the SQLite database file" },
	{ "MASKGATE_DATA_KEY", T_HEXKEY, OFF(data_key), NULL,
	  "generate one with `bin/maskgate keygen --data`" },
	{ "MASKGATE_UPSTREAM_URL", T_URL, OFF(upstream_url), "https://api.anthropic.com",
	  "give an http:// or https:// URL without a trailing path" },
	{ "MASKGATE_UPSTREAM_API_KEY", T_STR, OFF(upstream_api_key), NULL,
	  "give the Anthropic API key maskgate sends upstream" },
	{ "MASKGATE_UPSTREAM_CONNECT_TIMEOUT", T_DURATION, OFF(upstream_connect_timeout), "10s",
	  "give a duration such as 10s" },
	{ "MASKGATE_UPSTREAM_TIMEOUT", T_DURATION, OFF(upstream_timeout), "600s",
	  "give a duration such as 600s" },
	{ "MASKGATE_MAX_BODY", T_SIZE, OFF(max_body), "32M",
	  "give a size such as 32M (bytes, K, M or G)" },
	{ "MASKGATE_RULES", T_STR, OFF(rules_path), NULL,
	  "give the path of an admin rules file" },
	{ "MASKGATE_MODELS", T_STR, OFF(models_path), NULL,
	  "give the path of a model table file" },
	{ "MASKGATE_MODEL_ALLOWLIST", T_STR, OFF(model_allowlist), NULL,
	  "give a comma-separated list of model names" },
	{ "MASKGATE_MAP_TTL", T_DURATION, OFF(map_ttl), "7d",
	  "give a duration such as 7d" },
	{ "MASKGATE_MAX_NEW_MAPPINGS", T_INT, OFF(max_new_mappings), "10000",
	  "give the number of new values one request may add to the mapping (0: no cap)" },
	{ "MASKGATE_MAX_NEW_MAPPINGS_PER_HOUR", T_INT, OFF(max_new_mappings_hour), "100000",
	  "give the number of new values a tenant may add to the mapping per hour (0: no cap)" },
	{ "MASKGATE_BUSY_TIMEOUT_MS", T_INT, OFF(busy_timeout_ms), "5000",
	  "give milliseconds, for example 5000" },
	{ "MASKGATE_MAX_REQUESTS", T_INT, OFF(max_requests), "10000",
	  "give the number of requests after which a worker is replaced" },
	{ "MASKGATE_DRAIN_TIMEOUT", T_DURATION, OFF(drain_timeout), "30s",
	  "give a duration such as 30s" },
	{ "MASKGATE_WORKERS", T_INT, OFF(workers), "4",
	  "give the number of pool workers, 1 to 256" },
	{ "MASKGATE_LOG_LEVEL", T_LOGLEVEL, OFF(log_level), "info",
	  "use debug, info, warn or error" },
	{ "MASKGATE_JWT_SECRET", T_SECRET, OFF(jwt_secret), NULL,
	  "give a random HS256 secret of at least 32 characters (`bin/maskgate keygen`)" },
	{ "MASKGATE_JWT_PUBLIC_KEY", T_STR, OFF(jwt_public_key), NULL,
	  "give the path of the identity provider's PEM public key" },
	{ "MASKGATE_JWT_ALG", T_STR, OFF(jwt_alg), NULL,
	  "use HS256, RS256 or ES256" },
	{ "MASKGATE_JWT_ISSUER", T_STR, OFF(jwt_issuer), NULL,
	  "give the expected iss claim" },
	{ "MASKGATE_JWT_AUDIENCE", T_STR, OFF(jwt_audience), NULL,
	  "give the expected aud claim" },
	{ "MASKGATE_JWT_LEEWAY", T_DURATION, OFF(jwt_leeway), "60s",
	  "give a duration such as 60s" },
	{ "MASKGATE_JWT_MAX_LIFETIME", T_DURATION, OFF(jwt_max_lifetime), "24h",
	  "give a duration such as 24h" },
	{ "MASKGATE_BYOK", T_BOOL, OFF(byok), "off",
	  "use on or off" },
	{ "MASKGATE_MASTER_GRACE", T_DURATION, OFF(master_grace), "7d",
	  "give a duration such as 7d" },
	{ "MASKGATE_SPEND_HEADERS", T_BOOL, OFF(spend_headers), "off",
	  "use on or off" },
	{ "MASKGATE_METRICS_ALLOW", T_STR, OFF(metrics_allow), NULL,
	  "give a comma-separated list of scraper IP addresses" },
	{ "MASKGATE_CLAUDE_BIN", T_STR, OFF(claude_bin), "claude",
	  "give the path of the Claude Code CLI (or a name on PATH)" },
	{ "MASKGATE_CLAUDE_TOOLS", T_STR, OFF(claude_tools), NULL,
	  "give a comma-separated list of Claude Code tool names, e.g. Read,Grep" },
	{ "MASKGATE_CLAUDE_TIMEOUT", T_DURATION, OFF(claude_timeout), "300s",
	  "give a duration such as 300s" },
	{ "MASKGATE_CLAUDE_MAX_RUNS", T_INT, OFF(claude_max_runs), "2",
	  "give the number of concurrent Claude Code runs, 0 to 64 (0 turns it off)" },
	{ "MASKGATE_CLAUDE_BWRAP", T_STR, OFF(claude_bwrap), "bwrap",
	  "give the path of bubblewrap (Debian package bubblewrap), or a name on the fixed PATH" },
	{ "MASKGATE_SELF_URL", T_URL, OFF(self_url), NULL,
	  "give maskgate's own base URL as its web server serves it, e.g. https://host:8443" },
	{ "MASKGATE_UPSTREAM_FORMAT", T_STR, OFF(upstream_format), "anthropic",
	  "use anthropic, bedrock or vertex" },
	{ "MASKGATE_BEDROCK_URL", T_URL, OFF(bedrock_url), NULL,
	  "give the Bedrock runtime base URL, e.g. https://bedrock-runtime.us-east-1.amazonaws.com" },
	{ "MASKGATE_BEDROCK_REGION", T_STR, OFF(bedrock_region), NULL,
	  "give the AWS region of the Bedrock runtime, e.g. us-east-1" },
	{ "MASKGATE_AWS_ACCESS_KEY_ID", T_STR, OFF(aws_access_key_id), NULL,
	  "give the AWS access key id maskgate signs Bedrock requests with" },
	{ "MASKGATE_AWS_SECRET_ACCESS_KEY", T_STR, OFF(aws_secret_access_key), NULL,
	  "give the AWS secret access key (or MASKGATE_AWS_SECRET_ACCESS_KEY_FILE)" },
	{ "MASKGATE_AWS_SESSION_TOKEN", T_STR, OFF(aws_session_token), NULL,
	  "give the AWS session token of temporary credentials" },
	{ "MASKGATE_BEDROCK_API_KEY", T_STR, OFF(bedrock_api_key), NULL,
	  "give a Bedrock API key (sent as a bearer token instead of SigV4)" },
	{ "MASKGATE_VERTEX_URL", T_URL, OFF(vertex_url), NULL,
	  "give the Vertex AI base URL, e.g. https://us-east5-aiplatform.googleapis.com" },
	{ "MASKGATE_VERTEX_REGION", T_STR, OFF(vertex_region), NULL,
	  "give the Vertex AI region, e.g. us-east5 or global" },
	{ "MASKGATE_VERTEX_PROJECT", T_STR, OFF(vertex_project), NULL,
	  "give the Google Cloud project id" },
	{ "MASKGATE_VERTEX_SA_KEY", T_STR, OFF(vertex_sa_key), NULL,
	  "give the service-account key JSON, best as a file: MASKGATE_VERTEX_SA_KEY_FILE" },
	{ "MASKGATE_VERTEX_TOKEN_URL", T_URL, OFF(vertex_token_url), NULL,
	  "give the OAuth2 token endpoint (default: the key's token_uri)" },
	{ "MASKGATE_CONSOLE_SESSION", T_DURATION, OFF(console_session), "1h",
	  "give a duration such as 1h (5m to 1d)" },
	{ "MASKGATE_ANOMALY_FACTOR", T_INT, OFF(anomaly_factor), "5",
	  "give how many times its median hour a key's last hour must exceed, 2 to 1000" },
	{ "MASKGATE_ANOMALY_MIN_REQUESTS", T_INT, OFF(anomaly_min_requests), "20",
	  "give the requests a key must make in an hour before it can be flagged, at least 1" },
};

static const char *const cfg_env_names[CFG_ENV__MAX] = {
	"development", "staging", "production",
};

/* Sample keys seen in documentation and tutorials; never acceptable. */
static const char *const cfg_samples[] = {
	"sk-litellm-master-key", "sk-1234", "sk-12345", "sk-123456",
	"sk-master-key", "sk-admin", "sk-test", "sk-changeme", "sk-secret",
	"sk-your-master-key", "sk-my-master-key", "sk-maskgate",
};

const char *
cfg_env_name(enum cfg_env env)
{
	return (unsigned)env < CFG_ENV__MAX ? cfg_env_names[env] : "?";
}

const char *
cfg_weak_secret(const char *key)
{
	const char *body;
	int seen[256] = { 0 };
	size_t i, distinct = 0, len, run = 1, maxrun = 1;

	for (i = 0; i < MG_NELEM(cfg_samples); i++)
		if (strcasecmp(key, cfg_samples[i]) == 0)
			return "is a published sample key";
	if (strncmp(key, "sk-", 3) != 0)
		return "must start with sk-";
	body = key + 3;
	len = strlen(body);
	if (len < 32)
		return "is too short (need at least 32 characters after sk-)";
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)body[i];
		if (c <= 0x20 || c >= 0x7f)
			return "contains spaces or non-printable characters";
		if (!seen[c]++)
			distinct++;
		if (i > 0 && body[i] == body[i - 1]) {
			if (++run > maxrun)
				maxrun = run;
		} else {
			run = 1;
		}
	}
	if (distinct < 10 || maxrun > 6)
		return "has too little entropy (use `bin/maskgate keygen`)";
	for (i = 0; i < MG_NELEM(cfg_samples); i++)
		if (strncasecmp(key, cfg_samples[i], strlen(cfg_samples[i])) == 0 &&
		    strlen(cfg_samples[i]) > 8)
			return "starts with a published sample key";
	return NULL;
}

static char *read_secret_file(const char *path, char *err, size_t errlen, const char *name);

/* Published JWT secrets (jwt.io's default and friends). */
static const char *const cfg_jwt_samples[] = {
	"your-256-bit-secret", "secret", "changeme", "your-secret-key", "jwt-secret",
};

const char *
cfg_weak_jwt_secret(const char *secret)
{
	int seen[256] = { 0 };
	size_t i, distinct = 0, len = strlen(secret);

	for (i = 0; i < MG_NELEM(cfg_jwt_samples); i++)
		if (strcasecmp(secret, cfg_jwt_samples[i]) == 0 ||
		    strncasecmp(secret, cfg_jwt_samples[i], strlen(cfg_jwt_samples[i])) == 0)
			return "is or starts with a published sample secret";
	if (strncmp(secret, "sk-", 3) == 0)
		return cfg_weak_secret(secret);
	if (len < 32)
		return "is too short (need at least 32 characters)";
	for (i = 0; i < len; i++)
		if (!seen[(unsigned char)secret[i]]++)
			distinct++;
	if (distinct < 10)
		return "has too little entropy (use `bin/maskgate keygen`)";
	return NULL;
}

/*
 * Bedrock and Vertex settings come in sets: a half-given set is a typo or a
 * missing secret file, which would otherwise surface as a 403 at the first
 * request.
 */
static enum mg_err
cfg_check_clouds(const struct cfg *c, char *err, size_t errlen)
{
	if ((c->aws_access_key_id == NULL) != (c->aws_secret_access_key == NULL)) {
		mg_errf(err, errlen, "MASKGATE_AWS_%s: required with MASKGATE_AWS_%s",
		    c->aws_access_key_id == NULL ? "ACCESS_KEY_ID" : "SECRET_ACCESS_KEY",
		    c->aws_access_key_id == NULL ? "SECRET_ACCESS_KEY" : "ACCESS_KEY_ID");
		return MG_EINVAL;
	}
	if (c->aws_session_token != NULL && c->aws_access_key_id == NULL) {
		mg_errf(err, errlen, "MASKGATE_AWS_SESSION_TOKEN: needs MASKGATE_AWS_ACCESS_KEY_ID "
		    "and MASKGATE_AWS_SECRET_ACCESS_KEY");
		return MG_EINVAL;
	}
	if (c->aws_access_key_id != NULL && c->bedrock_api_key != NULL) {
		mg_errf(err, errlen, "MASKGATE_BEDROCK_API_KEY: set either it or the AWS access "
		    "keys, not both");
		return MG_EINVAL;
	}
	if ((c->aws_access_key_id != NULL || c->bedrock_api_key != NULL || c->bedrock_url != NULL) &&
	    c->bedrock_region == NULL) {
		mg_errf(err, errlen, "MASKGATE_BEDROCK_REGION: required for Bedrock (SigV4 signs "
		    "with it), e.g. us-east-1");
		return MG_EINVAL;
	}
	if (strcmp(c->upstream_format, "anthropic") != 0 &&
	    strcmp(c->upstream_format, "bedrock") != 0 && strcmp(c->upstream_format, "vertex") != 0) {
		mg_errf(err, errlen, "MASKGATE_UPSTREAM_FORMAT: use anthropic, bedrock or vertex");
		return MG_EINVAL;
	}
	if (strcmp(c->upstream_format, "bedrock") == 0 && (c->bedrock_region == NULL ||
	    (c->aws_access_key_id == NULL && c->bedrock_api_key == NULL))) {
		mg_errf(err, errlen, "MASKGATE_UPSTREAM_FORMAT: bedrock needs MASKGATE_BEDROCK_REGION "
		    "and the AWS access keys or MASKGATE_BEDROCK_API_KEY");
		return MG_EINVAL;
	}
	if (strcmp(c->upstream_format, "vertex") == 0 && (c->vertex_sa_key == NULL ||
	    c->vertex_project == NULL || c->vertex_region == NULL)) {
		mg_errf(err, errlen, "MASKGATE_UPSTREAM_FORMAT: vertex needs MASKGATE_VERTEX_SA_KEY, "
		    "MASKGATE_VERTEX_PROJECT and MASKGATE_VERTEX_REGION");
		return MG_EINVAL;
	}
	if (c->bedrock_region != NULL && strspn(c->bedrock_region,
	    "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(c->bedrock_region)) {
		mg_errf(err, errlen, "MASKGATE_BEDROCK_REGION: not a region name, e.g. us-east-1");
		return MG_EINVAL;
	}
	if (c->vertex_region != NULL && strspn(c->vertex_region,
	    "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(c->vertex_region)) {
		mg_errf(err, errlen, "MASKGATE_VERTEX_REGION: not a region name, e.g. us-east5");
		return MG_EINVAL;
	}
	return MG_OK;
}

/* Reads MASKGATE_JWT_PUBLIC_KEY and checks the JWT settings agree. */
static enum mg_err
cfg_check_jwt(struct cfg *c, char *err, size_t errlen)
{
	const char *why;
	char *alg;

	if (c->jwt_secret != NULL && c->jwt_public_key != NULL) {
		mg_errf(err, errlen, "MASKGATE_JWT_SECRET: set either it (HS256) or "
		    "MASKGATE_JWT_PUBLIC_KEY (RS256/ES256), not both");
		return MG_EINVAL;
	}
	if (c->jwt_secret == NULL && c->jwt_public_key == NULL) {
		if (c->jwt_alg != NULL) {
			mg_errf(err, errlen, "MASKGATE_JWT_ALG: set MASKGATE_JWT_SECRET or "
			    "MASKGATE_JWT_PUBLIC_KEY too");
			return MG_EINVAL;
		}
		return MG_OK;
	}
	if (c->jwt_alg == NULL) {
		c->jwt_alg = strdup(c->jwt_secret != NULL ? "HS256" : "RS256");
		if (c->jwt_alg == NULL)
			return MG_ENOMEM;
	}
	alg = c->jwt_alg;
	if (c->jwt_secret != NULL) {
		if (strcmp(alg, "HS256") != 0) {
			mg_errf(err, errlen, "MASKGATE_JWT_ALG: must be HS256 with MASKGATE_JWT_SECRET");
			return MG_EINVAL;
		}
		why = cfg_weak_jwt_secret(c->jwt_secret);
		if (why != NULL) {
			mg_errf(err, errlen, "MASKGATE_JWT_SECRET: refused, the secret %s", why);
			return MG_EINVAL;
		}
		return MG_OK;
	}
	if (strcmp(alg, "RS256") != 0 && strcmp(alg, "ES256") != 0) {
		mg_errf(err, errlen, "MASKGATE_JWT_ALG: must be RS256 or ES256 with "
		    "MASKGATE_JWT_PUBLIC_KEY");
		return MG_EINVAL;
	}
	c->jwt_public_pem = read_secret_file(c->jwt_public_key, err, errlen,
	    "MASKGATE_JWT_PUBLIC_KEY");
	if (c->jwt_public_pem == NULL)
		return MG_EINVAL;
	if (strstr(c->jwt_public_pem, "-----BEGIN PUBLIC KEY-----") == NULL) {
		mg_errf(err, errlen, "MASKGATE_JWT_PUBLIC_KEY: %s is not a PEM public key "
		    "(-----BEGIN PUBLIC KEY-----)", c->jwt_public_key);
		return MG_EINVAL;
	}
	return MG_OK;
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
static char *
read_secret_file(const char *path, char *err, size_t errlen, const char *name)
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
		r = read_secret_file(fv, err, errlen, name);
		if (r == NULL)
			*failed = 1;
		else
			*file = strdup(fv);
		return r;
	}
	r = cfg_file_lookup(cf, name, err, errlen, failed, &from_file);
	if (r != NULL && from_file) {
		char *path = r;
		r = read_secret_file(path, err, errlen, name);
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
	for (i = 0; i < MG_NELEM(cfg_vars); i++) {
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
	for (i = 0; i < MG_NELEM(cfg_vars); i++) {
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
	if (rc != MG_OK)
		return rc;
	log_set_level((enum log_level)c->log_level);
	return MG_OK;
}

void
cfg_free(struct cfg *c)
{
	size_t i;

	for (i = 0; i < MG_NELEM(cfg_vars); i++) {
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
