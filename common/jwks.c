/*
 * jwks.c - the identity provider's JSON Web Key Set for JWT verification.
 *
 * One cache per worker process (workers are forked; each fetches its own
 * copy on first use). A token whose kid is unknown triggers a fetch, but
 * no more often than MASKGATE_JWT_JWKS_REFRESH: a flood of tokens with
 * made-up kids cannot turn the gateway into a load generator against the
 * provider. That is also how a rotated signing key is picked up. Keys are
 * converted from JWK (n/e, or x/y on P-256) to the PEM that libjwt takes,
 * with OpenSSL; nothing here checks a signature.
 */
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "jwks.h"
#include "log.h"

static struct {
	struct json_object *keys;	/* the "keys" array of the last good document */
	long fetched_at;		/* when it was fetched (or set) */
	long tried_at;			/* last fetch attempt, good or not */
	long fetches;
} cache;

void
jwks_reset(void)
{
	json_object_put(cache.keys);
	memset(&cache, 0, sizeof(cache));
}

long
jwks_fetch_count(void)
{
	return cache.fetches;
}

enum mg_err
jwks_cache_set(const char *json, long now)
{
	struct json_object *root, *keys;

	root = json_tokener_parse(json);
	if (root == NULL || !json_object_is_type(root, json_type_object) ||
	    !json_object_object_get_ex(root, "keys", &keys) ||
	    !json_object_is_type(keys, json_type_array) ||
	    json_object_array_length(keys) > JWKS_MAX_KEYS) {
		json_object_put(root);
		return MG_EINVAL;
	}
	json_object_get(keys);
	json_object_put(root);
	json_object_put(cache.keys);
	cache.keys = keys;
	cache.fetched_at = now;
	if (cache.tried_at < now)
		cache.tried_at = now;	/* a fetch, as far as the rate bound goes */
	return MG_OK;
}

struct body {
	char *data;
	size_t len;
};

/* Collects the response, refusing past JWKS_MAX_BYTES. */
static size_t
on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct body *b = userdata;
	size_t n = size * nmemb;
	char *p;

	if (b->len + n > JWKS_MAX_BYTES)
		return 0;
	p = realloc(b->data, b->len + n + 1);
	if (p == NULL)
		return 0;
	b->data = p;
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

/* GETs the JWKS; no redirects, no proxy, http(s) only, 5 s. */
static enum mg_err
fetch(const struct cfg *c, long now)
{
	struct body b = { NULL, 0 };
	CURL *h = curl_easy_init();
	enum mg_err rc = MG_EUPSTREAM;
	long status = 0;
	CURLcode cc;

	cache.tried_at = now;
	cache.fetches++;
	if (h == NULL)
		return MG_ENOMEM;
	curl_easy_setopt(h, CURLOPT_URL, c->jwt_jwks_url);
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 5L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	cc = curl_easy_perform(h);
	if (cc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (cc != CURLE_OK || status != 200 || b.data == NULL) {
		log_warn("jwks: fetching %s failed (%s, HTTP %ld)", c->jwt_jwks_url,
		    cc != CURLE_OK ? curl_easy_strerror(cc) : "ok", status);
		goto out;
	}
	rc = jwks_cache_set(b.data, now);
	if (rc != MG_OK)
		log_warn("jwks: %s is not a JWKS of at most %d keys", c->jwt_jwks_url,
		    JWKS_MAX_KEYS);
out:
	curl_easy_cleanup(h);
	free(b.data);
	return rc;
}

/* base64url (no padding) into a new buffer, *len set; NULL when malformed. */
static unsigned char *
b64url_decode(const char *in, size_t *len)
{
	size_t n = strlen(in), i, padded = (n + 3) / 4 * 4;
	char *std = malloc(padded + 1);
	unsigned char *out = NULL;
	int m;

	if (std == NULL || n == 0 || n % 4 == 1)
		goto out;
	for (i = 0; i < n; i++) {
		char ch = in[i];
		if (ch == '-')
			ch = '+';
		else if (ch == '_')
			ch = '/';
		else if (ch == '+' || ch == '/' || ch == '=')
			goto out;
		std[i] = ch;
	}
	for (; i < padded; i++)
		std[i] = '=';
	std[padded] = '\0';
	out = malloc(padded / 4 * 3 + 1);
	if (out == NULL)
		goto out;
	m = EVP_DecodeBlock(out, (const unsigned char *)std, (int)padded);
	if (m < 0) {
		free(out);
		out = NULL;
		goto out;
	}
	*len = (size_t)m - (padded - n);	/* DecodeBlock counts the padding */
out:
	free(std);
	return out;
}

static const char *
member(struct json_object *o, const char *name)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* An EVP_PKEY from the JWK's public parameters; NULL when unusable. */
static EVP_PKEY *
jwk_pkey(struct json_object *jwk, int rsa)
{
	const char *p1 = member(jwk, rsa ? "n" : "x"), *p2 = member(jwk, rsa ? "e" : "y");
	unsigned char *b1 = NULL, *b2 = NULL, point[65];
	size_t l1 = 0, l2 = 0;
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	BIGNUM *n = NULL, *e = NULL;

	if (bld == NULL || p1 == NULL || p2 == NULL)
		goto out;
	b1 = b64url_decode(p1, &l1);
	b2 = b64url_decode(p2, &l2);
	if (b1 == NULL || b2 == NULL)
		goto out;
	if (rsa) {
		/* 2048 bits at least: shorter RSA keys are forgeable */
		if (l1 < 256 || l1 > 1024 || l2 > 8)
			goto out;
		n = BN_bin2bn(b1, (int)l1, NULL);
		e = BN_bin2bn(b2, (int)l2, NULL);
		if (n == NULL || e == NULL || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
			goto out;
	} else {
		const char *crv = member(jwk, "crv");
		if (crv == NULL || strcmp(crv, "P-256") != 0 || l1 != 32 || l2 != 32)
			goto out;
		point[0] = 0x04;	/* uncompressed: 04 || x || y */
		memcpy(point + 1, b1, 32);
		memcpy(point + 33, b2, 32);
		if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
		    "prime256v1", 0) ||
		    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point,
		    sizeof(point)))
			goto out;
	}
	params = OSSL_PARAM_BLD_to_param(bld);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, rsa ? "RSA" : "EC", NULL);
	if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		pkey = NULL;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	free(b1);
	free(b2);
	return pkey;
}

/* The PEM of pkey in the arena, or NULL. */
static const char *
pem_of(struct arena *a, EVP_PKEY *pkey)
{
	BIO *bio = BIO_new(BIO_s_mem());
	const char *out = NULL;
	char *data;
	long len;

	if (bio != NULL && PEM_write_bio_PUBKEY(bio, pkey) == 1) {
		len = BIO_get_mem_data(bio, &data);
		if (len > 0)
			out = arena_strndup(a, data, (size_t)len);
	}
	BIO_free(bio);
	return out;
}

/* The token header's kid in the arena, NULL when it has none. */
static const char *
token_kid(struct arena *a, const char *token, int *malformed)
{
	const char *dot = strchr(token, '.');
	char *head;
	unsigned char *json;
	size_t len = 0;
	struct json_object *o;
	const char *kid = NULL;

	*malformed = 1;
	if (dot == NULL || dot - token > 4096)
		return NULL;
	head = arena_strndup(a, token, (size_t)(dot - token));
	json = head != NULL ? b64url_decode(head, &len) : NULL;
	if (json == NULL)
		return NULL;
	json[len] = '\0';
	o = json_tokener_parse((const char *)json);
	free(json);
	if (o == NULL || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return NULL;
	}
	*malformed = 0;
	kid = member(o, "kid");
	kid = kid != NULL ? arena_strdup(a, kid) : NULL;
	json_object_put(o);
	return kid;
}

/* The cached key for kid (or the only one of its type when kid is NULL). */
static struct json_object *
find(const char *kid, int rsa, const char *alg)
{
	struct json_object *hit = NULL;
	size_t i, n = cache.keys != NULL ? json_object_array_length(cache.keys) : 0, fit = 0;

	for (i = 0; i < n; i++) {
		struct json_object *k = json_object_array_get_idx(cache.keys, i);
		const char *kty = member(k, "kty"), *use = member(k, "use"), *kalg = member(k, "alg");
		const char *kkid = member(k, "kid");
		if (kty == NULL || strcmp(kty, rsa ? "RSA" : "EC") != 0)
			continue;
		if ((use != NULL && strcmp(use, "sig") != 0) || (kalg != NULL && strcmp(kalg, alg) != 0))
			continue;
		fit++;
		if (kid != NULL ? kkid != NULL && strcmp(kkid, kid) == 0 : 1)
			hit = k;
	}
	/* a token without kid is verified only when the set leaves no choice */
	return kid == NULL && fit != 1 ? NULL : hit;
}

enum mg_err
jwks_key_for_token(const struct cfg *c, struct arena *a, const char *token, long now,
    const char **pem, const char **why)
{
	int rsa = strcmp(c->jwt_alg, "RS256") == 0, malformed;
	const char *kid = token_kid(a, token, &malformed);
	struct json_object *jwk;
	EVP_PKEY *pkey;
	enum mg_err rc = MG_OK;
	int may_fetch = cache.tried_at == 0 || now - cache.tried_at >= c->jwks_refresh;

	*pem = NULL;
	*why = "token signature or format invalid";
	if (malformed)
		return MG_ENOTFOUND;
	if (may_fetch && (cache.keys == NULL || now - cache.fetched_at >= JWKS_MAX_AGE))
		rc = fetch(c, now);
	jwk = find(kid, rsa, c->jwt_alg);
	/* an unknown kid: perhaps the provider rotated its key */
	if (jwk == NULL && kid != NULL && may_fetch && cache.tried_at != now) {
		rc = fetch(c, now);
		jwk = find(kid, rsa, c->jwt_alg);
	}
	if (jwk == NULL) {
		*why = rc != MG_OK && cache.keys == NULL ? "the identity provider's keys (JWKS) "
		    "could not be fetched" : "token signed with a key the identity provider does "
		    "not publish (unknown kid)";
		return rc != MG_OK && cache.keys == NULL ? MG_EUPSTREAM : MG_ENOTFOUND;
	}
	pkey = jwk_pkey(jwk, rsa);
	if (pkey == NULL) {
		*why = "the identity provider's key for this token is unusable";
		return MG_ENOTFOUND;
	}
	*pem = pem_of(a, pkey);
	EVP_PKEY_free(pkey);
	return *pem != NULL ? MG_OK : MG_ENOMEM;
}
