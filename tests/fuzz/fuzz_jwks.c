/*
 * fuzz_jwks.c - libFuzzer harness for the identity provider's key set and
 * what tokens name in it: the input, split at the first NUL, is a JWKS
 * document and a bearer token; a third part after a second NUL is a groups
 * claim. Parsing the set, the token header (base64url, JSON, kid), the JWK
 * to PEM conversion and the groups mapping must never crash or leak, and
 * never fetch (the cache was just set, so the refetch rate bound holds).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jwks.h"
#include "jwt_claims.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg c;
	struct arena a;
	const char *pem, *why, *models, *token, *groups = NULL;
	char *buf;
	size_t n;
	long now = 1700000000;

	if (size > 65536)
		return 0;
	buf = malloc(size + 2);
	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = buf[size + 1] = '\0';
	n = strlen(buf);
	token = buf + n + (n < size);
	if (token < buf + size && strlen(token) < (size_t)(buf + size - token))
		groups = token + strlen(token) + 1;
	memset(&c, 0, sizeof(c));
	c.jwt_jwks_url = "http://127.0.0.1:9/jwks";
	c.jwks_refresh = 3600;
	c.jwt_alg = n > 0 && (buf[0] & 1) ? "ES256" : "RS256";
	c.jwt_group_models = "devs=claude-sonnet-*|claude-haiku-*;leads=*;x=";
	arena_init(&a);
	jwks_reset();
	if (jwks_cache_set("{\"keys\":[]}", now) != MG_OK)
		abort();
	(void)jwks_cache_set(buf, now);
	(void)jwks_key_for_token(&c, &a, token, now, &pem, &why);
	if (jwks_fetch_count() != 0)
		abort();	/* the rate bound let a fetch through */
	if (groups != NULL)
		(void)jwt_claims_group_models(&c, &a, groups, &models);
	jwks_reset();
	arena_free(&a);
	free(buf);
	return 0;
}
