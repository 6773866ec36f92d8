/*
 * keys.h - who is calling: the master key, and (through the same entry
 * point) virtual keys and JWTs. The result names the masking tenant.
 */
#ifndef MG_KEYS_H
#define MG_KEYS_H

#include "arena.h"
#include "cfg.h"
#include "mg.h"

struct store;
struct keys_ticket;
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

/* Hash of a key given as "sk-..." or as its 64-hex hash; MG_EINVAL otherwise. */
enum mg_err keys_hash_arg(const char *key_or_hash, char out[2 * 32 + 1]);

/* The principal's spend so far (virtual keys), or -1 when it has none. */
double keys_ticket_spend(const struct keys_ticket *t);

/* Why keys_admit() refused a request, for the Anthropic error envelope. */
struct keys_refusal {
	int status;		/* 401, 403 or 429 (503 when the store failed) */
	long retry_after;	/* seconds, for 429; 0 = no header */
	char message[256];
};

/* A request admitted by keys_admit() (struct keys_ticket) is released by keys_settle(). */

/* The tenant every master-key request uses. */
#define KEYS_MASTER_TENANT "master"

/*
 * Extracts the credential from x-api-key or "Authorization: Bearer" and
 * checks it in constant time. MG_OK with *out filled; MG_ENOTFOUND when no
 * credential matches (*why says why, for the 401 message).
 * BYOK mode: when MASKGATE_BYOK is on and the request carries
 * x-maskgate-key (NULL: none), that header authenticates the caller and the
 * caller's own x-api-key/Authorization goes upstream (out->byok = 1,
 * out->byok_api_key/byok_authorization). A value that authenticates to
 * maskgate is never picked; a BYOK caller with no credential of its own
 * gets MG_ENOTFOUND (401), never the server's key.
 */
enum mg_err keys_authenticate_ex(const struct cfg *c, struct store *s, struct arena *a,
    const char *x_api_key, const char *authorization, const char *x_maskgate_key,
    struct principal *out, const char **why);

/*
 * Checks, before anything goes upstream, everything the caller's key
 * limits: model allow-list, expiry, budget, rpm/tpm, parallel requests.
 * MG_OK with *ticket set (arena memory) when admitted; MG_EINVAL with r
 * filled when refused; any other error means the store failed (503).
 */
enum mg_err keys_admit(struct store *s, struct arena *a, const struct principal *p,
    const char *model, struct keys_ticket **ticket, struct keys_refusal *r);

/* Spend and outcome of one admitted request. */
struct keys_outcome {
	const char *request_id;	/* maskgate's request id, for the spend log */
	const char *model;
	long input_tokens, output_tokens, cache_write_tokens, cache_read_tokens;
	double cost;		/* USD */
	int status;		/* HTTP status sent to the client */
	long duration_ms;
};

/*
 * Records spend and a spend-log row and frees the parallel-request slot.
 * Called exactly once for every admitted ticket, whatever the outcome.
 */
void keys_settle(struct store *s, struct keys_ticket *t, const struct keys_outcome *o);

#endif
