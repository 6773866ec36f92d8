/*
 * keys.c - the names of a virtual key: the hash it is stored under and the
 * masking tenant it maps to. Checking a credential is auth.c; what a key
 * may do (limits, budgets) is limits.c; its spend is spend.c.
 */
#include <string.h>

#include "crypto.h"
#include "keys.h"

enum mg_err
keys_hash_token(const char *token, char out[2 * CRYPTO_HASH_LEN + 1])
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
		return keys_hash_token(key_or_hash, out);
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
