/*
 * keys.c - credential extraction and checks.
 */
#include <string.h>

#include "crypto.h"
#include "keys.h"

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

enum mg_err
keys_authenticate(const struct cfg *c, struct store *s, struct arena *a,
    const char *x_api_key, const char *authorization, struct principal *out,
    const char **why)
{
	const char *token = x_api_key != NULL && *x_api_key != '\0' ? x_api_key :
	    bearer_token(authorization);
	unsigned char hash[CRYPTO_HASH_LEN];
	char *hex;

	(void)s;
	memset(out, 0, sizeof(*out));
	if (token == NULL) {
		*why = "missing credential: send x-api-key or Authorization: Bearer";
		return MG_ENOTFOUND;
	}
	crypto_sha256(token, strlen(token), hash);
	hex = arena_alloc(a, 2 * CRYPTO_HASH_LEN + 1);
	if (hex == NULL)
		return MG_ENOMEM;
	crypto_hex(hex, hash, CRYPTO_HASH_LEN);
	if (c->master_key != NULL && crypto_str_equal(token, c->master_key)) {
		out->kind = PRINCIPAL_MASTER;
		out->tenant = KEYS_MASTER_TENANT;
		out->key_hash = hex;
		out->admin = 1;
		return MG_OK;
	}
	*why = "invalid API key";
	return MG_ENOTFOUND;
}

struct keys_ticket {
	const struct principal *principal;
};

enum mg_err
keys_admit(struct store *s, struct arena *a, const struct principal *p,
    const char *model, struct keys_ticket **ticket, struct keys_refusal *r)
{
	struct keys_ticket *t = arena_alloc(a, sizeof(*t));

	(void)s;
	(void)model;
	memset(r, 0, sizeof(*r));
	if (t == NULL)
		return MG_ENOMEM;
	t->principal = p;
	*ticket = t;
	return MG_OK;
}

void
keys_settle(struct store *s, struct keys_ticket *t, const struct keys_outcome *o)
{
	(void)s;
	(void)t;
	(void)o;
}
