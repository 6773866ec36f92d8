/*
 * test_sso.c - provider tokens verified against a JWKS (RSA and EC P-256
 * keys converted from JWK, kid selection, bounded refetch on an unknown
 * kid, weak and oversized sets refused), groups mapped to models, and
 * per-developer spend caps: UTC period boundaries, precedence of user,
 * team and organisation caps, the 429 message and body.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <jwt.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "th.h"
#include "jwks.h"
#include "jwt_claims.h"
#include "mg_jwt.h"
#include "spend_limit.h"
#include "store.h"
#include "store_keys.h"
#include "store_spend_limits.h"

static char dbpath[] = "/tmp/mg-test-sso-XXXXXX";

static char *
b64u(const unsigned char *in, size_t len)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1), *p;

	if (out == NULL)
		return NULL;
	EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	for (p = out; *p != '\0'; p++)
		if (*p == '+')
			*p = '-';
		else if (*p == '/')
			*p = '_';
		else if (*p == '=')
			*p = '\0';
	return out;
}

static char *
pem_private(EVP_PKEY *k)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p, *out = NULL;
	long n;

	if (b != NULL && PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL)) {
		n = BIO_get_mem_data(b, &p);
		out = strndup(p, (size_t)n);
	}
	BIO_free(b);
	return out;
}

/* {"kty":"RSA","kid":kid,"n":...,"e":...} of k, in buf. */
static void
rsa_jwk(EVP_PKEY *k, const char *kid, char *buf, size_t len)
{
	BIGNUM *n = NULL, *e = NULL;
	unsigned char nb[1024], eb[16];
	int nl, el;
	char *ns, *es;

	EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &n);
	EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_E, &e);
	nl = BN_bn2bin(n, nb);
	el = BN_bn2bin(e, eb);
	ns = b64u(nb, (size_t)nl);
	es = b64u(eb, (size_t)el);
	snprintf(buf, len, "{\"kty\":\"RSA\",\"use\":\"sig\",\"kid\":\"%s\",\"n\":\"%s\","
	    "\"e\":\"%s\"}", kid, ns, es);
	free(ns);
	free(es);
	BN_free(n);
	BN_free(e);
}

static void
ec_jwk(EVP_PKEY *k, const char *kid, char *buf, size_t len)
{
	unsigned char pt[65];
	size_t n = 0;
	char *x, *y;

	EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt), &n);
	x = b64u(pt + 1, 32);
	y = b64u(pt + 33, 32);
	snprintf(buf, len, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"%s\",\"x\":\"%s\","
	    "\"y\":\"%s\"}", kid, x, y);
	free(x);
	free(y);
}

/* A token signed with the private PEM, kid in its header unless NULL. */
static char *
mint(jwt_alg_t alg, const char *priv, const char *kid, const char *claims)
{
	jwt_t *j = NULL;
	char *tok = NULL;

	if (jwt_new(&j) != 0)
		return NULL;
	if ((kid == NULL || jwt_add_header(j, "kid", kid) == 0) &&
	    jwt_add_grants_json(j, claims) == 0 &&
	    jwt_set_alg(j, alg, (const unsigned char *)priv, (int)strlen(priv)) == 0)
		tok = jwt_encode_str(j);
	jwt_free(j);
	return tok;
}

static int
verify(struct cfg *c, struct arena *a, char *tok, struct mg_jwt_claims *cl, const char **why)
{
	int ok = tok != NULL && mg_jwt_verify(c, a, tok, (long)time(NULL), cl, why) == MG_OK;

	free(tok);
	return ok;
}

static void
test_jwks(struct arena *a)
{
	struct cfg c;
	struct mg_jwt_claims cl;
	EVP_PKEY *rsa = EVP_RSA_gen(2048), *rsa2 = EVP_RSA_gen(2048), *weak = EVP_RSA_gen(1024);
	EVP_PKEY *ec = EVP_EC_gen("P-256");
	char *priv = pem_private(rsa), *priv2 = pem_private(rsa2), *privw = pem_private(weak);
	char *privec = pem_private(ec);
	char k1[2048], k2[2048], kw[1024], kec[512], set[8192], claims[512];
	const char *why = "";
	long now = (long)time(NULL), fetches;
	int i;

	memset(&c, 0, sizeof(c));
	c.jwt_alg = "RS256";
	c.jwt_jwks_url = "http://127.0.0.1:9/jwks";	/* nothing listens: fetches fail */
	c.jwks_refresh = 60;
	c.jwt_issuer = "https://idp.test";
	c.jwt_audience = "maskgate";
	c.jwt_leeway = 60;
	c.jwt_max_lifetime = 86400;
	TH_OK(mg_jwt_enabled(&c), "a JWKS URL enables JWT credentials");
	rsa_jwk(rsa, "k1", k1, sizeof(k1));
	rsa_jwk(rsa2, "k2", k2, sizeof(k2));
	rsa_jwk(weak, "kw", kw, sizeof(kw));
	ec_jwk(ec, "e1", kec, sizeof(kec));
	snprintf(set, sizeof(set), "{\"keys\":[%s,%s,%s]}", k1, kw, kec);
	/* cached two minutes ago: past the refresh time, so an unknown kid may fetch */
	TH_OK(jwks_cache_set(set, now - 120) == MG_OK, "a JWKS document is cached");
	snprintf(claims, sizeof(claims), "{\"sub\":\"alice\",\"email\":\"a@x\",\"exp\":%ld,"
	    "\"iat\":%ld,\"iss\":\"https://idp.test\",\"aud\":\"maskgate\"}", now + 300, now);
	TH_OK(verify(&c, a, mint(JWT_ALG_RS256, priv, "k1", claims), &cl, &why),
	    "RS256 token verified with the JWK named by its kid (%s)", why);
	TH_STREQ(cl.user, "alice", "sub is the user");
	c.jwt_user_claim = "email";
	TH_OK(verify(&c, a, mint(JWT_ALG_RS256, priv, "k1", claims), &cl, &why) &&
	    strcmp(cl.user, "a@x") == 0, "MASKGATE_JWT_USER_CLAIM picks the user claim");
	c.jwt_user_claim = NULL;
	TH_OK(!verify(&c, a, mint(JWT_ALG_RS256, priv2, "k1", claims), &cl, &why),
	    "a token signed by another key under a published kid is refused");
	TH_OK(!verify(&c, a, mint(JWT_ALG_RS256, privw, "kw", claims), &cl, &why) &&
	    strstr(why, "unusable") != NULL, "a 1024-bit RSA JWK is refused (%s)", why);
	TH_OK(!verify(&c, a, mint(JWT_ALG_RS256, priv, NULL, claims), &cl, &why),
	    "a token without kid is refused when two RSA keys could fit");
	fetches = jwks_fetch_count();
	TH_OK(!verify(&c, a, mint(JWT_ALG_RS256, priv2, "k2", claims), &cl, &why) &&
	    jwks_fetch_count() == fetches + 1, "an unknown kid fetches the JWKS once (%s)", why);
	for (i = 0; i < 5; i++)
		verify(&c, a, mint(JWT_ALG_RS256, priv2, "k2", claims), &cl, &why);
	TH_OK(jwks_fetch_count() == fetches + 1,
	    "more unknown kids within MASKGATE_JWT_JWKS_REFRESH fetch nothing (%ld)",
	    jwks_fetch_count() - fetches);
	/* the provider rotated: its new document holds k2 */
	snprintf(set, sizeof(set), "{\"keys\":[%s,%s]}", k2, kec);
	TH_OK(jwks_cache_set(set, now) == MG_OK, "the rotated set is cached");
	TH_OK(verify(&c, a, mint(JWT_ALG_RS256, priv2, "k2", claims), &cl, &why),
	    "the rotated key verifies (%s)", why);
	TH_OK(!verify(&c, a, mint(JWT_ALG_RS256, priv, "k1", claims), &cl, &why),
	    "the key the provider dropped no longer does");
	TH_OK(verify(&c, a, mint(JWT_ALG_RS256, priv2, NULL, claims), &cl, &why),
	    "a token without kid is verified when exactly one RSA key fits");
	c.jwt_alg = "ES256";
	TH_OK(verify(&c, a, mint(JWT_ALG_ES256, privec, "e1", claims), &cl, &why),
	    "ES256 token verified with an EC P-256 JWK (%s)", why);
	TH_OK(!verify(&c, a, mint(JWT_ALG_RS256, priv2, "k2", claims), &cl, &why),
	    "an RS256 token is refused when ES256 is configured");
	c.jwt_alg = "RS256";
	/* bounds: too many keys, not a JWKS */
	{
		char big[40 * 40 + 32], *p = big;
		p += sprintf(p, "{\"keys\":[");
		for (i = 0; i < JWKS_MAX_KEYS + 1; i++)
			p += sprintf(p, "%s{\"kty\":\"RSA\"}", i > 0 ? "," : "");
		sprintf(p, "]}");
		TH_OK(jwks_cache_set(big, now) == MG_EINVAL, "a JWKS of more than %d keys is refused",
		    JWKS_MAX_KEYS);
	}
	TH_OK(jwks_cache_set("{\"keys\":{}}", now) == MG_EINVAL &&
	    jwks_cache_set("[]", now) == MG_EINVAL, "documents that are not a JWKS are refused");
	jwks_reset();
	free(priv);
	free(priv2);
	free(privw);
	free(privec);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(rsa2);
	EVP_PKEY_free(weak);
	EVP_PKEY_free(ec);
}

static void
test_group_models(struct arena *a)
{
	struct cfg c;
	const char *m = NULL;

	memset(&c, 0, sizeof(c));
	c.jwt_group_models = "devs=claude-sonnet-*|claude-haiku-*;leads=*";
	TH_OK(jwt_claims_group_models(&c, a, "[\"devs\",\"x\"]", &m) == MG_OK &&
	    strcmp(m, "[\"claude-sonnet-*\",\"claude-haiku-*\"]") == 0, "devs get their models (%s)",
	    m != NULL ? m : "-");
	TH_OK(jwt_claims_group_models(&c, a, "[\"devs\",\"leads\"]", &m) == MG_OK &&
	    strstr(m, "\"*\"") != NULL, "groups add up");
	TH_OK(jwt_claims_group_models(&c, a, "\"leads\"", &m) == MG_OK, "a single-string claim");
	TH_OK(jwt_claims_group_models(&c, a, "[\"sales\"]", &m) == MG_ENOTFOUND,
	    "a token in no mapped group is granted nothing");
	TH_OK(jwt_claims_group_models(&c, a, NULL, &m) == MG_ENOTFOUND, "no groups claim: nothing");
	TH_OK(jwt_claims_group_models(&c, a, "{\"a\":1}", &m) == MG_EINVAL, "a malformed claim");
	c.jwt_group_models = "=x";
	TH_OK(jwt_claims_group_models(&c, a, "[\"devs\"]", &m) == MG_EINVAL, "a malformed mapping");
}

static void
test_periods(struct arena *a)
{
	/* 2026-08-08 13:05 UTC, a Saturday */
	long t = 1786194300, mon_dec = 1796131200 + 3600;	/* 2026-12-01 01:00 */
	struct spend_block b = { "daily", 1786233600, 1, 1 };
	const char *msg, *body;
	struct json_object *o, *e, *v;

	TH_OK(spend_period_start(SP_DAILY, t) == 1786147200, "daily starts at 00:00 UTC");
	TH_OK(spend_period_reset(SP_DAILY, t) == 1786233600, "daily resets at the next 00:00");
	TH_OK(spend_period_start(SP_WEEKLY, t) == 1785715200, "weekly starts on Monday (%ld)",
	    spend_period_start(SP_WEEKLY, t));
	TH_OK(spend_period_reset(SP_WEEKLY, t) == 1786320000, "weekly resets the next Monday");
	TH_OK(spend_period_reset(SP_MONTHLY, t) == 1788220800, "monthly resets on the 1st");
	TH_OK(spend_period_reset(SP_MONTHLY, mon_dec) == 1798761600, "December resets in January");
	TH_OK(spend_period_start(SP_WEEKLY, 1785715200) == 1785715200, "Monday 00:00 is its start");
	msg = spend_limit_message(a, &b, "ask in #finops");
	TH_STREQ(msg, "spend limit reached (daily; resets 2026-08-09 00:00 UTC) ask in #finops",
	    "the message Claude Code shows");
	body = spend_limit_body(a, msg, "req_1");
	o = json_tokener_parse(body);
	TH_OK(o != NULL && json_object_object_get_ex(o, "error", &e) &&
	    json_object_object_get_ex(e, "type", &v) &&
	    strcmp(json_object_get_string(v), "billing_error") == 0 &&
	    json_object_object_get_ex(o, "request_id", &v), "the body is a billing_error envelope");
	json_object_put(o);
}

static void
test_caps(struct store *s, struct arena *a)
{
	struct store_spend_limit l, l2;
	struct store_spend sp;
	struct spend_block b;
	long now = (long)time(NULL);
	int blocked = -1;

	TH_OK(spend_limit_check(s, "u1", "t1", "kh", now, &b, &blocked) == MG_OK && !blocked,
	    "no caps: nothing blocked");
	TH_OK(store_spend_limit_put(s, a, "rbac_group", "t1", "daily", 100, now, &l) == MG_OK &&
	    strncmp(l.id, "spl_", 4) == 0 && l.amount_cents == 100, "a team cap is stored");
	TH_OK(store_spend_limit_put(s, a, "rbac_group", "t1", "daily", 50, now, &l2) == MG_OK &&
	    strcmp(l.id, l2.id) == 0 && l2.amount_cents == 50, "the same scope replaces, same id");
	memset(&sp, 0, sizeof(sp));
	sp.key_hash = "kh";
	sp.user_id = "u1";
	sp.team_id = "t1";
	sp.tenant = "team:t1";
	sp.model = "m";
	sp.cost = 0.75;
	sp.status = 200;
	TH_OK(store_keys_settle(s, &sp) == MG_OK, "75 cents spent");
	TH_OK(spend_limit_check(s, "u1", "t1", "kh", now, &b, &blocked) == MG_OK && blocked &&
	    strcmp(b.period, "daily") == 0 && b.reset_at == spend_period_reset(SP_DAILY, now),
	    "over the team's daily 50 cents: blocked");
	TH_OK(spend_limit_check(s, "u2", "t1", "kh2", now, &b, &blocked) == MG_OK && !blocked,
	    "another member has spent nothing: a per-seat cap, not a pool");
	TH_OK(store_spend_limit_put(s, a, "user", "u1", "daily", -1, now, &l) == MG_OK &&
	    spend_limit_check(s, "u1", "t1", "kh", now, &b, &blocked) == MG_OK && !blocked,
	    "the user's own unlimited cap overrides the team's");
	TH_OK(store_spend_limit_put(s, a, "organization", "", "monthly", 10, now, &l) == MG_OK &&
	    spend_limit_check(s, "u1", "t1", "kh", now, &b, &blocked) == MG_OK && blocked &&
	    strcmp(b.period, "monthly") == 0, "the organisation's monthly cap applies too");
	TH_OK(store_spend_limit_get(s, a, l.id, &l2) == MG_OK && l2.amount_cents == 10 &&
	    strcmp(l2.scope_type, "organization") == 0, "a cap is read back by id");
	TH_OK(store_spend_limit_get(s, a, "spl_nope", &l2) == MG_ENOTFOUND, "unknown id");
}

int
main(void)
{
	struct cfg c;
	struct store *s;
	struct arena a;
	char err[256];
	int fd = mkstemp(dbpath);

	close(fd);
	arena_init(&a);
	test_jwks(&a);
	test_group_models(&a);
	test_periods(&a);
	memset(&c, 0, sizeof(c));
	c.db_path = dbpath;
	c.busy_timeout_ms = 5000;
	if (store_open(&c, &s, err, sizeof(err)) != MG_OK) {
		printf("not ok - store_open: %s\n", err);
		return 1;
	}
	test_caps(s, &a);
	store_close(s);
	arena_free(&a);
	unlink(dbpath);
	return th_done();
}
