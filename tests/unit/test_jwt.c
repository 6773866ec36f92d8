/*
 * test_jwt.c - mg_jwt_verify with tokens minted by libjwt itself: valid,
 * expired, leeway, nbf, missing exp, wrong signature, alg none, another
 * HMAC alg, issuer/audience, and HS/RS algorithm confusion.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "th.h"
#include "mg_jwt.h"

static const char secret[] = "0f9e8d7c6b5a49382716aabbccddeeff00112233";

/* A token with the given claims (JSON) signed with alg and key; caller frees. */
static char *
mint(jwt_alg_t alg, const char *key, size_t keylen, const char *claims)
{
	jwt_t *j = NULL;
	char *tok = NULL;

	if (jwt_new(&j) != 0)
		return NULL;
	if (jwt_add_grants_json(j, claims) == 0 &&
	    jwt_set_alg(j, alg, (const unsigned char *)key, (int)keylen) == 0)
		tok = jwt_encode_str(j);
	jwt_free(j);
	return tok;
}

/* The same with extra protected header members (JSON object). */
static char *
mint_hdr(const char *headers, const char *claims)
{
	jwt_t *j = NULL;
	char *tok = NULL;

	if (jwt_new(&j) != 0)
		return NULL;
	if (jwt_add_grants_json(j, claims) == 0 && jwt_add_headers_json(j, headers) == 0 &&
	    jwt_set_alg(j, JWT_ALG_HS256, (const unsigned char *)secret, (int)strlen(secret)) == 0)
		tok = jwt_encode_str(j);
	jwt_free(j);
	return tok;
}

static int
check(const struct cfg *c, struct arena *a, char *tok, struct mg_jwt_claims *cl)
{
	const char *why;
	int ok = tok != NULL && mg_jwt_verify(c, a, tok, (long)time(NULL), cl, &why) == MG_OK;

	free(tok);
	return ok;
}

/* A fresh RSA key pair as PEM strings (caller frees). */
static int
rsa_pair(char **priv, char **pub)
{
	EVP_PKEY *k = EVP_RSA_gen(2048);
	BIO *b1 = BIO_new(BIO_s_mem()), *b2 = BIO_new(BIO_s_mem());
	char *p;
	long n;

	if (k == NULL || b1 == NULL || b2 == NULL ||
	    !PEM_write_bio_PrivateKey(b1, k, NULL, NULL, 0, NULL, NULL) ||
	    !PEM_write_bio_PUBKEY(b2, k))
		return -1;
	n = BIO_get_mem_data(b1, &p);
	*priv = strndup(p, (size_t)n);
	n = BIO_get_mem_data(b2, &p);
	*pub = strndup(p, (size_t)n);
	BIO_free(b1);
	BIO_free(b2);
	EVP_PKEY_free(k);
	return 0;
}

int
main(void)
{
	struct cfg c;
	struct arena a;
	struct mg_jwt_claims cl;
	char claims[512], *priv = NULL, *pub = NULL;
	long now = (long)time(NULL);

	arena_init(&a);
	memset(&c, 0, sizeof(c));
	c.jwt_secret = (char *)secret;
	c.jwt_alg = "HS256";
	c.jwt_leeway = 60;
	c.jwt_max_lifetime = 86400;

	snprintf(claims, sizeof(claims), "{\"sub\":\"alice\",\"team\":\"ops\",\"exp\":%ld,"
	    "\"iat\":%ld,\"models\":[\"claude-haiku-4-5\"]}", now + 300, now);
	TH_OK(check(&c, &a, mint(JWT_ALG_HS256, secret, strlen(secret), claims), &cl),
	    "valid HS256 token");
	TH_STREQ(cl.user, "alice", "sub maps to user");
	TH_STREQ(cl.team, "ops", "team claim");
	TH_STREQ(cl.models, "[\"claude-haiku-4-5\"]", "models claim");

	snprintf(claims, sizeof(claims), "{\"sub\":\"a\",\"exp\":%ld}", now - 30);
	TH_OK(check(&c, &a, mint(JWT_ALG_HS256, secret, strlen(secret), claims), &cl),
	    "expired within leeway accepted");
	snprintf(claims, sizeof(claims), "{\"sub\":\"a\",\"exp\":%ld}", now - 120);
	TH_OK(!check(&c, &a, mint(JWT_ALG_HS256, secret, strlen(secret), claims), &cl),
	    "expired token refused");
	TH_OK(!check(&c, &a, mint(JWT_ALG_HS256, secret, strlen(secret), "{\"sub\":\"a\"}"), &cl),
	    "token without exp refused");
	snprintf(claims, sizeof(claims), "{\"sub\":\"a\",\"exp\":%ld,\"nbf\":%ld}", now + 900,
	    now + 600);
	TH_OK(!check(&c, &a, mint(JWT_ALG_HS256, secret, strlen(secret), claims), &cl),
	    "nbf in the future refused");
	snprintf(claims, sizeof(claims), "{\"sub\":\"a\",\"exp\":%ld}", now + 300);
	TH_OK(!check(&c, &a, mint(JWT_ALG_HS256, "another-secret-entirely-0123456789", 34,
	    claims), &cl), "wrong signature refused");
	TH_OK(!check(&c, &a, mint(JWT_ALG_HS512, secret, strlen(secret), claims), &cl),
	    "HS512 refused when HS256 configured");
	TH_OK(!check(&c, &a, mint(JWT_ALG_NONE, NULL, 0, claims), &cl), "alg none refused");
	TH_OK(!check(&c, &a, mint(JWT_ALG_HS256, secret, strlen(secret), "{\"exp\":99999999999}"),
	    &cl), "token naming nobody refused");

	/* RFC 7515: an unknown critical extension makes the token invalid */
	snprintf(claims, sizeof(claims), "{\"sub\":\"a\",\"exp\":%ld}", now + 300);
	TH_OK(check(&c, &a, mint_hdr("{\"kid\":\"k1\"}", claims), &cl),
	    "ordinary extra header accepted");
	TH_OK(!check(&c, &a, mint_hdr("{\"crit\":[\"exp-ext\"],\"exp-ext\":1}", claims), &cl),
	    "crit header (array) refused");
	TH_OK(!check(&c, &a, mint_hdr("{\"crit\":\"b64\"}", claims), &cl),
	    "crit header (string) refused");

	/* the maximum lifetime: exp - iat, or exp - now without iat */
	TH_OK(!check(&c, &a, mint(JWT_ALG_HS256, secret, strlen(secret),
	    "{\"sub\":\"a\",\"exp\":253402300799}"), &cl), "exp in the year 9999 refused");
	snprintf(claims, sizeof(claims), "{\"sub\":\"a\",\"exp\":%ld,\"iat\":%ld}",
	    now + 3600, now - 2 * 86400);
	TH_OK(!check(&c, &a, mint(JWT_ALG_HS256, secret, strlen(secret), claims), &cl),
	    "exp - iat over the maximum refused");
	snprintf(claims, sizeof(claims), "{\"sub\":\"a\",\"exp\":%ld,\"iat\":%ld}",
	    now + 3600, now - 60);
	TH_OK(check(&c, &a, mint(JWT_ALG_HS256, secret, strlen(secret), claims), &cl),
	    "lifetime within the maximum accepted");
	snprintf(claims, sizeof(claims), "{\"sub\":\"a\",\"exp\":%ld}", now + 2 * 86400);
	TH_OK(!check(&c, &a, mint(JWT_ALG_HS256, secret, strlen(secret), claims), &cl),
	    "no iat: exp - now over the maximum refused");
	c.jwt_max_lifetime = 0;
	TH_OK(check(&c, &a, mint(JWT_ALG_HS256, secret, strlen(secret), claims), &cl),
	    "maximum 0 turns the lifetime check off");
	c.jwt_max_lifetime = 86400;

	c.jwt_issuer = "https://idp";
	c.jwt_audience = "maskgate";
	snprintf(claims, sizeof(claims), "{\"sub\":\"a\",\"exp\":%ld,\"iss\":\"https://idp\","
	    "\"aud\":[\"x\",\"maskgate\"]}", now + 300);
	TH_OK(check(&c, &a, mint(JWT_ALG_HS256, secret, strlen(secret), claims), &cl),
	    "issuer and audience (array) accepted");
	snprintf(claims, sizeof(claims), "{\"sub\":\"a\",\"exp\":%ld,\"iss\":\"https://evil\","
	    "\"aud\":\"maskgate\"}", now + 300);
	TH_OK(!check(&c, &a, mint(JWT_ALG_HS256, secret, strlen(secret), claims), &cl),
	    "wrong issuer refused");
	snprintf(claims, sizeof(claims), "{\"sub\":\"a\",\"exp\":%ld,\"iss\":\"https://idp\","
	    "\"aud\":\"other\"}", now + 300);
	TH_OK(!check(&c, &a, mint(JWT_ALG_HS256, secret, strlen(secret), claims), &cl),
	    "wrong audience refused");
	c.jwt_issuer = c.jwt_audience = NULL;

	TH_OK(rsa_pair(&priv, &pub) == 0, "RSA key pair");
	c.jwt_secret = NULL;
	c.jwt_public_pem = pub;
	c.jwt_alg = "RS256";
	snprintf(claims, sizeof(claims), "{\"sub\":\"bob\",\"exp\":%ld}", now + 300);
	TH_OK(check(&c, &a, mint(JWT_ALG_RS256, priv, strlen(priv), claims), &cl),
	    "valid RS256 token");
	TH_OK(!check(&c, &a, mint(JWT_ALG_HS256, pub, strlen(pub), claims), &cl),
	    "HS256 signed with the RSA public key refused (alg confusion)");
	TH_OK(!check(&c, &a, mint(JWT_ALG_NONE, NULL, 0, claims), &cl),
	    "alg none refused with RS256");
	TH_OK(mg_jwt_looks_like("eyJa.b.c") && !mg_jwt_looks_like("sk-abc"), "shape check");

	free(priv);
	free(pub);
	arena_free(&a);
	return th_done();
}
