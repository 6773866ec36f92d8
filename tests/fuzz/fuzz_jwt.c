/*
 * fuzz_jwt.c - libFuzzer harness for JWT verification: arbitrary bytes as
 * a bearer token against an HS256 configuration. Must never crash, leak or
 * accept (nothing here is signed with the secret).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mg_jwt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char secret[] = "fuzz-secret-0123456789abcdefghijklmnop";
	struct mg_jwt_claims cl;
	struct cfg c;
	struct arena a;
	const char *why;
	char *tok;

	if (size > 65536)
		return 0;
	tok = malloc(size + 1);
	if (tok == NULL)
		return 0;
	memcpy(tok, data, size);
	tok[size] = '\0';
	memset(&c, 0, sizeof(c));
	c.jwt_secret = secret;
	c.jwt_alg = "HS256";
	c.jwt_leeway = 60;
	arena_init(&a);
	if (mg_jwt_verify(&c, &a, tok, 1700000000, &cl, &why) == MG_OK)
		abort();	/* nothing in the corpus is signed with this secret */
	(void)mg_jwt_looks_like(tok);
	arena_free(&a);
	free(tok);
	return 0;
}
