/*
 * keys.c - who is calling and what they may do: the master key (and keys
 * recorded by rotation), virtual keys, JWTs; admission before anything goes
 * upstream and settlement after.
 *
 * Raw keys never leave this file's stack: everything is looked up by the
 * hex SHA-256 of the credential.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "ccauth.h"
#include "crypto.h"
#include "keys.h"
#include "log.h"
#include "metrics.h"
#include "mg_jwt.h"
#include "store_keys.h"

struct keys_ticket {
	const struct principal *principal;
	long slot;		/* parallel slot, 0 = none */
	double spend;		/* virtual key spend at admission, -1 otherwise */
};

/* "Bearer <token>" (scheme case-insensitive) -> token, else NULL. */
static const char *
bearer_token(const char *authorization)
{
	if (authorization == NULL || strncasecmp(authorization, "Bearer ", 7) != 0)
		return NULL;
	authorization += 7;
	while (*authorization == ' ')
		authorization++;
	return *authorization != '\0' ? authorization : NULL;
}

static enum mg_err
hash_hex(const char *token, char out[2 * CRYPTO_HASH_LEN + 1])
{
	unsigned char hash[CRYPTO_HASH_LEN];

	if (crypto_sha256(token, strlen(token), hash) != MG_OK)
		return MG_ENOMEM;
	crypto_hex(out, hash, CRYPTO_HASH_LEN);
	return MG_OK;
}

enum mg_err
keys_hash_arg(const char *key_or_hash, char out[2 * CRYPTO_HASH_LEN + 1])
{
	unsigned char raw[CRYPTO_HASH_LEN];
	size_t i;

	if (key_or_hash == NULL || *key_or_hash == '\0')
		return MG_EINVAL;
	if (strncmp(key_or_hash, "sk-", 3) == 0)
		return hash_hex(key_or_hash, out);
	if (strlen(key_or_hash) != 2 * CRYPTO_HASH_LEN ||
	    crypto_unhex(raw, sizeof(raw), key_or_hash) != MG_OK)
		return MG_EINVAL;
	for (i = 0; i < 2 * CRYPTO_HASH_LEN; i++)
		out[i] = (char)((key_or_hash[i] >= 'A' && key_or_hash[i] <= 'F') ?
		    key_or_hash[i] - 'A' + 'a' : key_or_hash[i]);
	out[2 * CRYPTO_HASH_LEN] = '\0';
	return MG_OK;
}

/*
 * Tenants carry a kind prefix so that a team and a user (or a key) that
 * happen to share a name never share placeholders, and none can be named
 * like the master tenant.
 */
const char *
keys_tenant(struct arena *a, const struct keys_record *k)
{
	if (k->team_id != NULL && *k->team_id != '\0')
		return arena_printf(a, "team:%s", k->team_id);
	if (k->user_id != NULL && *k->user_id != '\0')
		return arena_printf(a, "user:%s", k->user_id);
	return arena_printf(a, "key:%.*s", KEYS_TENANT_ANCHOR_LEN,
	    k->key_tenant != NULL && *k->key_tenant != '\0' ? k->key_tenant : k->hash);
}

double
keys_ticket_spend(const struct keys_ticket *t)
{
	return t != NULL ? t->spend : -1;
}

/* The master key from the configuration, unless rotation retired it. */
static int
is_master(const struct cfg *c, struct store *s, const char *token, const char *hex, long now,
    const char **why)
{
	int state;

	if (c->master_key != NULL && crypto_str_equal(token, c->master_key)) {
		state = s != NULL ? store_master_state(s, hex, now) : -1;
		if (state == 0) {
			*why = "this master key was rotated out and its grace period is over";
			return 0;
		}
		return 1;
	}
	return s != NULL && store_master_state(s, hex, now) == 1;
}

static enum mg_err
auth_jwt(const struct cfg *c, struct arena *a, const char *token, long now,
    struct principal *out, const char **why)
{
	struct mg_jwt_claims cl;

	if (mg_jwt_verify(c, a, token, now, &cl, why) != MG_OK)
		return MG_ENOTFOUND;
	out->kind = PRINCIPAL_JWT;
	out->user_id = cl.user;
	out->team_id = cl.team;
	out->models_json = cl.models;
	out->tenant = cl.team != NULL ? arena_printf(a, "team:%s", cl.team) :
	    arena_printf(a, "user:%s", cl.user);
	return out->tenant != NULL ? MG_OK : MG_ENOMEM;
}

static enum mg_err
auth_virtual(struct store *s, struct arena *a, const char *hex, long now,
    struct principal *out, const char **why)
{
	struct keys_record *k = arena_alloc(a, sizeof(*k));
	enum mg_err rc;

	if (k == NULL)
		return MG_ENOMEM;
	rc = store_keys_get(s, a, hex, now, k);
	if (rc == MG_ENOTFOUND) {
		*why = "invalid API key";
		metrics_record_rejection(s, MR_AUTH);
		return MG_ENOTFOUND;
	}
	if (rc != MG_OK)
		return rc;
	if (k->blocked) {
		*why = "this key is blocked";
		metrics_record_rejection(s, MR_BLOCKED_KEY);
		return MG_ENOTFOUND;
	}
	if (k->expires > 0 && now >= k->expires) {
		*why = "this key has expired";
		metrics_record_rejection(s, MR_EXPIRED);
		return MG_ENOTFOUND;
	}
	out->kind = PRINCIPAL_VIRTUAL;
	out->key = k;
	out->admin = k->admin;
	out->user_id = k->user_id;
	out->team_id = k->team_id;
	out->key_alias = k->key_alias;
	out->models_json = k->models;
	out->tenant = keys_tenant(a, k);
	return out->tenant != NULL ? MG_OK : MG_ENOMEM;
}

/*
 * 1 when token is, or may be, a credential of this maskgate: the master
 * key (also a rotated one), a /v1/claude-code run token, a JWT while JWTs
 * are on, or a virtual key the store knows (blocked and expired ones too).
 * Such a value is never forwarded upstream as a caller's own key; when the
 * store cannot tell, the answer is 1 (fail closed).
 */
static int
maskgate_credential(const struct cfg *c, struct store *s, struct arena *a, const char *token,
    long now)
{
	char hex[2 * CRYPTO_HASH_LEN + 1];
	struct keys_record k;

	if (ccauth_is_token(token) || hash_hex(token, hex) != MG_OK)
		return 1;
	if (c->master_key != NULL && crypto_str_equal(token, c->master_key))
		return 1;
	if (s != NULL && store_master_state(s, hex, now) >= 0)
		return 1;
	if (mg_jwt_enabled(c) && mg_jwt_looks_like(token))
		return 1;
	return s != NULL && store_keys_get(s, a, hex, now, &k) != MG_ENOTFOUND;
}

/*
 * BYOK: which of x-api-key and Authorization are the caller's own
 * Anthropic credential, to be forwarded as sent; a value that
 * authenticates here is skipped. 0 when the caller sent none of its own.
 */
static int
byok_credentials(const struct cfg *c, struct store *s, struct arena *a, const char *x_api_key,
    const char *authorization, long now, struct principal *out)
{
	const char *bearer = bearer_token(authorization);

	if (x_api_key != NULL && *x_api_key != '\0' && !maskgate_credential(c, s, a, x_api_key, now))
		out->byok_api_key = x_api_key;
	if (authorization != NULL && *authorization != '\0' &&
	    !maskgate_credential(c, s, a, bearer != NULL ? bearer : authorization, now))
		out->byok_authorization = authorization;
	return out->byok_api_key != NULL || out->byok_authorization != NULL;
}

enum mg_err
keys_authenticate_ex(const struct cfg *c, struct store *s, struct arena *a,
    const char *x_api_key, const char *authorization, const char *x_maskgate_key,
    struct principal *out, const char **why)
{
	const char *token;
	char *hex;
	long now = (long)time(NULL);
	int byok = 0;

	memset(out, 0, sizeof(*out));
	out->cfg = c;
	if (c->byok && x_maskgate_key != NULL && *x_maskgate_key != '\0') {
		token = bearer_token(x_maskgate_key);
		if (token == NULL)
			token = x_maskgate_key;
		/* the caller's own credential goes upstream untouched; never the server's */
		byok = 1;
		if (!byok_credentials(c, s, a, x_api_key, authorization, now, out)) {
			*why = "BYOK: send your own Anthropic credential in x-api-key or "
			    "Authorization beside x-maskgate-key (a maskgate credential is never "
			    "forwarded)";
			return MG_ENOTFOUND;
		}
	} else {
		token = x_api_key != NULL && *x_api_key != '\0' ? x_api_key :
		    bearer_token(authorization);
	}
	if (token == NULL) {
		*why = c->byok ? "missing credential: send x-maskgate-key (or x-api-key)" :
		    "missing credential: send x-api-key or Authorization: Bearer";
		return MG_ENOTFOUND;
	}
	hex = arena_alloc(a, 2 * CRYPTO_HASH_LEN + 1);
	if (hex == NULL || hash_hex(token, hex) != MG_OK)
		return MG_ENOMEM;
	out->key_hash = hex;
	out->byok = byok;
	*why = "invalid API key";
	/* the short-lived credential /v1/claude-code hands its own CLI run */
	if (ccauth_is_token(token))
		return ccauth_authenticate(c, s, a, token, out, why);
	if (is_master(c, s, token, hex, now, why)) {
		out->kind = PRINCIPAL_MASTER;
		out->tenant = KEYS_MASTER_TENANT;
		out->admin = 1;
		return MG_OK;
	}
	if (mg_jwt_enabled(c) && mg_jwt_looks_like(token))
		return auth_jwt(c, a, token, now, out, why);
	if (strncmp(token, "sk-", 3) != 0 || s == NULL)
		return MG_ENOTFOUND;
	return auth_virtual(s, a, hex, now, out, why);
}

/*
 * 1 when model is on the JSON allow-list (an empty list, or none, allows
 * everything). Entries match exactly, or as a prefix when they end in '*'.
 */
static int
model_allowed(const char *models_json, const char *model)
{
	struct json_object *arr;
	size_t i, n;
	int ok = 0;

	if (models_json == NULL)
		return 1;
	arr = json_tokener_parse(models_json);
	if (arr == NULL || !json_object_is_type(arr, json_type_array)) {
		json_object_put(arr);
		return 0;	/* a corrupt list allows nothing */
	}
	n = json_object_array_length(arr);
	if (n == 0)
		ok = 1;
	for (i = 0; i < n && !ok; i++) {
		const char *m = json_object_get_string(json_object_array_get_idx(arr, i));
		size_t len = m != NULL ? strlen(m) : 0;
		if (m == NULL)
			continue;
		if (strcmp(m, "*") == 0 || strcmp(m, "all-proxy-models") == 0 ||
		    strcmp(m, model) == 0 ||
		    (len > 0 && m[len - 1] == '*' && strncmp(m, model, len - 1) == 0))
			ok = 1;
	}
	json_object_put(arr);
	return ok;
}

enum mg_err
keys_admit(struct store *s, struct arena *a, const struct principal *p,
    const char *model, struct keys_ticket **ticket, struct keys_refusal *r)
{
	struct keys_ticket *t = arena_alloc(a, sizeof(*t));
	struct keys_record *k;
	long stale;
	enum mg_err rc;

	memset(r, 0, sizeof(*r));
	*ticket = NULL;
	if (t == NULL)
		return MG_ENOMEM;
	t->principal = p;
	t->spend = -1;
	if (!model_allowed(p->models_json, model != NULL ? model : "")) {
		r->status = 403;
		snprintf(r->message, sizeof(r->message), "model %s is not allowed for this key",
		    model != NULL ? model : "?");
		metrics_record_rejection(s, MR_MODEL);
		return MG_EINVAL;
	}
	if (p->kind == PRINCIPAL_VIRTUAL && p->key != NULL) {
		k = arena_alloc(a, sizeof(*k));
		if (k == NULL)
			return MG_ENOMEM;
		/* a slot older than the longest upstream call belongs to nobody */
		stale = (p->cfg != NULL ? p->cfg->upstream_timeout : 600) + 60;
		rc = store_keys_admit(s, a, p->key->hash,
		    (long)time(NULL), stale, k, &t->slot, r);
		if (rc == MG_EINVAL)
			metrics_record_rejection(s, r->status == 401 ? MR_AUTH :
			    strstr(r->message, "budget") != NULL ? MR_BUDGET :
			    strstr(r->message, "parallel") != NULL ? MR_PARALLEL : MR_RATE);
		if (rc != MG_OK)
			return rc;
		t->spend = k->spend;
	}
	*ticket = t;
	return MG_OK;
}

void
keys_settle(struct store *s, struct keys_ticket *t, const struct keys_outcome *o)
{
	const struct principal *p;
	struct store_spend sp;
	enum mg_err rc;

	if (t == NULL)
		return;
	p = t->principal;
	memset(&sp, 0, sizeof(sp));
	sp.key_hash = p->key_hash != NULL ? p->key_hash : "-";
	sp.key_alias = p->key_alias;
	sp.user_id = p->user_id;
	sp.team_id = p->team_id;
	sp.tenant = p->tenant;
	sp.request_id = o->request_id;
	sp.model = o->model;
	sp.input_tokens = o->input_tokens;
	sp.output_tokens = o->output_tokens;
	sp.cache_write_tokens = o->cache_write_tokens;
	sp.cache_read_tokens = o->cache_read_tokens;
	sp.cost = o->cost;
	sp.status = o->status;
	sp.duration_ms = o->duration_ms;
	sp.is_virtual = p->kind == PRINCIPAL_VIRTUAL && p->key != NULL;
	if (sp.is_virtual)
		sp.key_hash = p->key->hash;
	sp.slot = t->slot;
	rc = store_keys_settle(s, &sp);
	if (rc != MG_OK)
		log_error("keys: settling spend failed (%s); the parallel slot is reclaimed "
		    "when it goes stale", mg_strerror(rc));
	t->slot = 0;
}
