/*
 * auth.c - who is calling: the master key (and keys recorded by rotation),
 * virtual keys, JWTs, the short-lived /v1/claude-code run tokens, and in
 * BYOK mode which of the caller's headers is its own Anthropic credential.
 * What the caller may then do (limits, budgets) is limits.c.
 *
 * Raw keys never leave this file's stack: everything is looked up by the
 * hex SHA-256 of the credential.
 */
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth.h"
#include "ccauth.h"
#include "crypto.h"
#include "mg_jwt.h"
#include "store_keys.h"

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
    struct principal *out, const char **why, enum outcome_reason *reason)
{
	struct keys_record *k = arena_alloc(a, sizeof(*k));
	enum mg_err rc;

	if (k == NULL)
		return MG_ENOMEM;
	rc = store_keys_get(s, a, hex, now, k);
	if (rc == MG_ENOTFOUND) {
		*why = "invalid API key";
		return MG_ENOTFOUND;
	}
	if (rc != MG_OK)
		return rc;
	if (k->blocked) {
		*why = "this key is blocked";
		*reason = OUT_BLOCKED_KEY;
		return MG_ENOTFOUND;
	}
	if (k->expires > 0 && now >= k->expires) {
		*why = "this key has expired";
		*reason = OUT_EXPIRED;
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

	if (ccauth_is_token(token) || keys_hash_token(token, hex) != MG_OK)
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
auth_authenticate(const struct cfg *c, struct store *s, struct arena *a,
    const char *x_api_key, const char *authorization, const char *x_maskgate_key,
    struct principal *out, const char **why, enum outcome_reason *reason)
{
	enum outcome_reason unused;
	const char *token;
	char *hex;
	long now = (long)time(NULL);
	int byok = 0;

	if (reason == NULL)
		reason = &unused;
	/* every MG_ENOTFOUND below is a refused credential unless it says otherwise */
	*reason = OUT_AUTH;
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
	if (hex == NULL || keys_hash_token(token, hex) != MG_OK)
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
	return auth_virtual(s, a, hex, now, out, why, reason);
}

