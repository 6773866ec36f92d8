/*
 * cfg.h - configuration from MASKGATE_* environment variables, NAME_FILE
 * secrets and the env file named by MASKGATE_CONFIG.
 *
 * Precedence: NAME in the environment, then NAME_FILE in the environment,
 * then NAME or NAME_FILE in the MASKGATE_CONFIG file, then the default.
 * Setting both NAME and NAME_FILE at one level is an error.
 */
#ifndef MG_CFG_H
#define MG_CFG_H

#include <stddef.h>
#include "mg.h"

#define CFG_MAX_FILES 64

enum cfg_env { CFG_ENV_DEVELOPMENT, CFG_ENV_STAGING, CFG_ENV_PRODUCTION, CFG_ENV__MAX };

struct cfg {
	enum cfg_env env;
	char *master_key;		/* MASKGATE_MASTER_KEY */
	char *db_path;			/* MASKGATE_DB: SQLite path or PostgreSQL conninfo */
	long db_prepared;		/* MASKGATE_DB_PREPARED: PostgreSQL named statements */
	char *run_dir;			/* MASKGATE_RUN_DIR: this host's lock files; NULL = default */
	unsigned char data_key[32];	/* MASKGATE_DATA_KEY (hex) */
	int have_data_key;
	char *upstream_url;		/* MASKGATE_UPSTREAM_URL */
	char *upstream_api_key;		/* MASKGATE_UPSTREAM_API_KEY */
	long upstream_connect_timeout;	/* seconds */
	long upstream_timeout;		/* seconds, whole transfer */
	size_t max_body;		/* bytes */
	char *rules_path;		/* MASKGATE_RULES: admin rules file */
	char *rule_packs;		/* MASKGATE_RULE_PACKS: packs that scan */
	char *models_path;		/* MASKGATE_MODELS: admin model table */
	char *model_allowlist;		/* comma-separated; NULL = all */
	long map_ttl;			/* seconds a mapping lives unused */
	size_t mask_cache;		/* bytes of masked strings a worker keeps, 0 = off */
	long max_new_mappings;		/* per request, 0 = no cap */
	long max_new_mappings_hour;	/* per tenant and clock hour, 0 = no cap */
	long busy_timeout_ms;		/* SQLite busy_timeout, PostgreSQL statement_timeout */
	long max_requests;		/* per worker, then it is replaced */
	long drain_timeout;		/* seconds to finish in-flight on SIGTERM */
	long workers;			/* default pool size */
	int log_level;
	char *jwt_secret;		/* MASKGATE_JWT_SECRET: HS256 shared secret */
	char *jwt_public_key;		/* MASKGATE_JWT_PUBLIC_KEY: PEM file path */
	char *jwt_public_pem;		/* its content, read by cfg_load */
	char *jwt_alg;			/* MASKGATE_JWT_ALG: HS256, RS256 or ES256 */
	char *jwt_issuer;		/* MASKGATE_JWT_ISSUER: required iss, or NULL */
	char *jwt_audience;		/* MASKGATE_JWT_AUDIENCE: required aud, or NULL */
	long jwt_leeway;		/* seconds of clock skew for exp/nbf/iat */
	long jwt_max_lifetime;		/* seconds a token may live: exp - iat (or - now) */
	long byok;			/* MASKGATE_BYOK: x-maskgate-key authenticates */
	long master_grace;		/* seconds a rotated-out master key still works */
	long spend_headers;		/* MASKGATE_SPEND_HEADERS: x-maskgate-key-spend */
	char *metrics_allow;		/* MASKGATE_METRICS_ALLOW: scrape addresses */
	char *claude_bin;		/* MASKGATE_CLAUDE_BIN: CLI for /v1/claude-code */
	char *claude_tools;		/* MASKGATE_CLAUDE_TOOLS: allowed tools; NULL = none */
	long claude_timeout;		/* MASKGATE_CLAUDE_TIMEOUT: seconds per run */
	long claude_max_runs;		/* MASKGATE_CLAUDE_MAX_RUNS: concurrent runs, 0 = off */
	char *claude_bwrap;		/* MASKGATE_CLAUDE_BWRAP: the sandbox runs go in */
	char *self_url;			/* MASKGATE_SELF_URL: maskgate's own base URL */
	char *upstream_format;		/* MASKGATE_UPSTREAM_FORMAT: anthropic, bedrock, vertex */
	/* Amazon Bedrock upstream (the /model/... routes) */
	char *bedrock_url;		/* MASKGATE_BEDROCK_URL; NULL: from the region */
	char *bedrock_region;		/* MASKGATE_BEDROCK_REGION */
	char *aws_access_key_id;	/* MASKGATE_AWS_ACCESS_KEY_ID */
	char *aws_secret_access_key;	/* MASKGATE_AWS_SECRET_ACCESS_KEY */
	char *aws_session_token;	/* MASKGATE_AWS_SESSION_TOKEN */
	char *bedrock_api_key;		/* MASKGATE_BEDROCK_API_KEY: bearer instead of SigV4 */
	/* Google Vertex AI upstream (the /v1/projects/... routes) */
	char *vertex_url;		/* MASKGATE_VERTEX_URL; NULL: from the region */
	char *vertex_region;		/* MASKGATE_VERTEX_REGION */
	char *vertex_project;		/* MASKGATE_VERTEX_PROJECT */
	char *vertex_sa_key;		/* MASKGATE_VERTEX_SA_KEY: service-account key JSON */
	char *vertex_token_url;		/* MASKGATE_VERTEX_TOKEN_URL */
	long console_session;		/* MASKGATE_CONSOLE_SESSION: console sign-in lifetime */
	long anomaly_factor;		/* MASKGATE_ANOMALY_FACTOR: x median hour flagged */
	long anomaly_min_requests;	/* MASKGATE_ANOMALY_MIN_REQUESTS: floor per hour */
	/* single sign-on and spend limits (issue 16) */
	char *jwt_jwks_url;		/* MASKGATE_JWT_JWKS_URL: the provider's signing keys */
	long jwks_refresh;		/* MASKGATE_JWT_JWKS_REFRESH: least seconds between fetches */
	char *jwt_user_claim;		/* MASKGATE_JWT_USER_CLAIM: claim naming the user */
	char *jwt_team_claim;		/* MASKGATE_JWT_TEAM_CLAIM: claim naming the team */
	char *jwt_groups_claim;		/* MASKGATE_JWT_GROUPS_CLAIM: claim listing groups */
	char *jwt_group_models;		/* MASKGATE_JWT_GROUP_MODELS: group=model|model;... */
	char *console_trust_user;	/* MASKGATE_CONSOLE_TRUST_USER: web server's user variable */
	char *console_trust_groups;	/* MASKGATE_CONSOLE_TRUST_GROUPS: its groups variable */
	char *console_admin_group;	/* MASKGATE_CONSOLE_ADMIN_GROUP: group allowed in */
	char *spend_limit_message;	/* MASKGATE_SPEND_LIMIT_MESSAGE: the operator's words */
	/* the files values were read from (MASKGATE_CONFIG, NAME_FILE): kept out of sandboxes */
	char *files[CFG_MAX_FILES];
	size_t nfiles;
};

/* What a command needs beyond the defaults. */
#define CFG_NEED_MASTER_KEY 0x1
#define CFG_NEED_DATA_KEY 0x2

/*
 * Loads and validates the configuration from the process environment.
 * On failure writes one line naming the variable and the fix into err.
 * The struct owns its strings until cfg_free().
 */
enum mg_err cfg_load(struct cfg *c, unsigned need, char *err, size_t errlen);
void cfg_free(struct cfg *c);

/*
 * Checks a master-key-like secret (also JWT secrets): "sk-" prefix, at least
 * 32 characters after it, enough distinct characters, not a known sample.
 * Returns NULL when acceptable, else a static reason.
 */
const char *cfg_weak_secret(const char *key);

/*
 * The same rules for a JWT HMAC secret, without the sk- prefix: at least
 * 32 characters, enough distinct ones, not a published sample.
 */
const char *cfg_weak_jwt_secret(const char *secret);

/* Parses "30s", "30m", "30h", "30d" or plain seconds; -1 when malformed. */
long cfg_parse_duration(const char *s);

/* Raw lookup with the same precedence as cfg_load; returns a new string. */
char *cfg_lookup(const char *name, char *err, size_t errlen, int *failed);

const char *cfg_env_name(enum cfg_env env);

/* Where the default run directory is when the store is PostgreSQL. */
#define CFG_RUN_DIR_PG "/var/lib/maskgate"

/*
 * This host's directory for its lock files (the Claude Code run slots):
 * MASKGATE_RUN_DIR, else the SQLite database's directory, else (the store
 * is PostgreSQL) CFG_RUN_DIR_PG. Written into buf; NULL when it does not fit.
 */
const char *cfg_run_dir(const struct cfg *c, char *buf, size_t buflen);

#endif
