/*
 * test_gcp_token.c - the service-account grant: key parsing, and an RS256
 * assertion that libjwt verifies with the matching public key and whose
 * claims are what Google's token endpoint wants.
 */
#include <stdlib.h>
#include <string.h>

#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <json-c/json.h>

#include "th.h"
#include "gcp_token.h"

/* A fresh RSA key as PEM strings (private, public); caller frees. */
static int
new_rsa(char **priv, char **pub)
{
	EVP_PKEY *pk = EVP_RSA_gen(2048);
	BIO *b1 = BIO_new(BIO_s_mem()), *b2 = BIO_new(BIO_s_mem());
	char *p;
	long n;
	int ok = pk != NULL && b1 != NULL && b2 != NULL &&
	    PEM_write_bio_PrivateKey(b1, pk, NULL, NULL, 0, NULL, NULL) == 1 &&
	    PEM_write_bio_PUBKEY(b2, pk) == 1;

	if (ok) {
		n = BIO_get_mem_data(b1, &p);
		*priv = strndup(p, (size_t)n);
		n = BIO_get_mem_data(b2, &p);
		*pub = strndup(p, (size_t)n);
	}
	BIO_free(b1);
	BIO_free(b2);
	EVP_PKEY_free(pk);
	return ok;
}

int
main(void)
{
	struct arena a;
	struct gcp_sa_key k;
	char err[256], *priv = NULL, *pub = NULL, *assertion = NULL;
	jwt_t *jwt = NULL;
	struct json_object *keyjson;

	arena_init(&a);
	TH_OK(gcp_sa_key_parse(&a, "{\"type\":\"service_account\"}", &k, err, sizeof(err)) ==
	    MG_EINVAL && strstr(err, "client_email") != NULL, "missing fields named: %s", err);
	TH_OK(gcp_sa_key_parse(&a, "not json", &k, err, sizeof(err)) == MG_EINVAL,
	    "not JSON refused");
	if (!new_rsa(&priv, &pub))
		return 1;
	keyjson = json_object_new_object();
	json_object_object_add(keyjson, "type", json_object_new_string("service_account"));
	json_object_object_add(keyjson, "client_email",
	    json_object_new_string("mg@proj.iam.gserviceaccount.com"));
	json_object_object_add(keyjson, "private_key", json_object_new_string(priv));
	json_object_object_add(keyjson, "token_uri", json_object_new_string("http://t/token"));
	TH_OK(gcp_sa_key_parse(&a, json_object_to_json_string(keyjson), &k, err, sizeof(err)) ==
	    MG_OK && strcmp(k.token_uri, "http://t/token") == 0, "a key parses");
	TH_OK(gcp_assertion(&a, &k, "http://t/token", 1800000000, &assertion) == MG_OK,
	    "assertion signed");
	TH_OK(assertion != NULL && jwt_decode(&jwt, assertion, (const unsigned char *)pub,
	    (int)strlen(pub)) == 0 && jwt != NULL, "libjwt verifies it with the public key");
	if (jwt != NULL) {
		TH_OK(jwt_get_alg(jwt) == JWT_ALG_RS256, "RS256");
		TH_STREQ(jwt_get_grant(jwt, "iss"), "mg@proj.iam.gserviceaccount.com", "iss");
		TH_STREQ(jwt_get_grant(jwt, "aud"), "http://t/token", "aud is the token endpoint");
		TH_STREQ(jwt_get_grant(jwt, "scope"), GCP_SCOPE, "cloud-platform scope");
		TH_OK(jwt_get_grant_int(jwt, "exp") == 1800003600 &&
		    jwt_get_grant_int(jwt, "iat") == 1800000000, "an hour from iat");
		jwt_free(jwt);
	}
	k.private_key = pub;	/* a public key cannot sign */
	TH_OK(gcp_assertion(&a, &k, "http://t/token", 1800000000, &assertion) != MG_OK,
	    "a key that cannot sign is an error");
	json_object_put(keyjson);
	free(priv);
	free(pub);
	arena_free(&a);
	return th_done();
}
