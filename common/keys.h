/*
 * keys.h - who a caller is (struct principal, filled by auth.c) and the
 * virtual key record with its names: hash and masking tenant.
 */
#ifndef MG_KEYS_H
#define MG_KEYS_H

#include "arena.h"
#include "cfg.h"
#include "mg.h"
#include "outcome.h"

struct keys_record;

enum principal_kind { PRINCIPAL_MASTER, PRINCIPAL_VIRTUAL, PRINCIPAL_JWT, PRINCIPAL__MAX };

struct principal {
	enum principal_kind kind;
	const char *tenant;	/* masking scope; never a raw key */
	const char *key_hash;	/* hex SHA-256 of the credential, for logs */
	int admin;		/* may call management endpoints */
	int byok;		/* the caller's own Anthropic credential goes upstream */
	const char *byok_api_key;	/* BYOK: x-api-key to forward, or NULL */
	const char *byok_authorization;	/* BYOK: Authorization to forward, or NULL */
	struct keys_record *key;	/* virtual key record, in the request arena (else NULL) */
	const struct cfg *cfg;	/* for limits that depend on configuration */
	const char *user_id;	/* from the key or the JWT; may be NULL */
	const char *team_id;
	const char *key_alias;
	const char *models_json;	/* JSON array allow-list; NULL or "[]" = all */
};

/*
 * A virtual key as stored. Strings live in the arena they were loaded
 * into; numeric limits are -1 when unset (no limit), times 0 when unset.
 */
struct keys_record {
	char hash[2 * 32 + 1];	/* hex SHA-256 of the key */
	const char *key_name;	/* "sk-...abcd": the last four characters only */
	const char *key_alias, *user_id, *team_id;
	const char *models;	/* JSON array */
	const char *metadata;	/* JSON object */
	const char *created_by;
	const char *key_tenant;	/* tenant anchor (hash prefix at generation), NULL until stored */
	double max_budget;	/* USD, -1 = none */
	double spend;
	long budget_duration;	/* seconds, -1 = none */
	long budget_reset_at;
	long rpm_limit, tpm_limit, max_parallel_requests;
	long expires;		/* Unix seconds, 0 = never */
	int blocked, admin;
	long created_at, updated_at;
};

/* Hex characters of a key's hash that name its own tenant (key:<prefix>). */
#define KEYS_TENANT_ANCHOR_LEN 12

/*
 * The masking tenant of a key record: team, else user, else key:<anchor>,
 * the hash prefix of the key as first generated (regeneration keeps it).
 */
const char *keys_tenant(struct arena *a, const struct keys_record *k);

/* The hex SHA-256 of a credential, the only form it is stored or logged in. */
enum mg_err keys_hash_token(const char *token, char out[2 * 32 + 1]);

/* Hash of a key given as "sk-..." or as its 64-hex hash; MG_EINVAL otherwise. */
enum mg_err keys_hash_arg(const char *key_or_hash, char out[2 * 32 + 1]);

/*
 * Why the limits refused a request. The exchange answers it: the reason
 * names the limit (OUT_AUTH, OUT_MODEL, OUT_BUDGET, OUT_RATE, OUT_PARALLEL)
 * and the status follows from it there.
 */
struct keys_refusal {
	enum outcome_reason reason;	/* set where the limit decided */
	int request_cap;	/* the request's own size cap, not a rate, refused it */
	long retry_after;	/* seconds until it may pass; 0 = no retry-after */
	char message[256];
};

/* The tenant every master-key request uses. */
#define KEYS_MASTER_TENANT "master"

#endif
