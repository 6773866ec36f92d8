/*
 * jwt.c - JWT verification on top of libjwt (Debian's libjwt 1.10): the
 * library parses and checks the signature; this file pins the algorithm
 * and checks the registered claims. No hand-rolled parsing or crypto.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jwt.h>
#include <json-c/json.h>

#include "jwks.h"
#include "jwt_claims.h"
#include "mg_jwt.h"

#define JWT_MAX_LEN 16384

int
mg_jwt_enabled(const struct cfg *c)
{
	return c->jwt_alg != NULL && (c->jwt_secret != NULL || c->jwt_public_pem != NULL ||
	    c->jwt_jwks_url != NULL);
}

int
mg_jwt_looks_like(const char *token)
{
	const char *p;
	int dots = 0;

	for (p = token; *p != '\0'; p++)
		if (*p == '.')
			dots++;
	return dots == 2 && strncmp(token, "eyJ", 3) == 0;
}

/* A numeric claim; 0 with *present = 0 when absent or not an integer. */
static long
grant_long(jwt_t *jwt, const char *name, int *present)
{
	long v;

	errno = 0;
	v = jwt_get_grant_int(jwt, name);
	*present = errno == 0;
	return *present ? v : 0;
}

/* The aud claim matches when it is the audience or an array holding it. */
static int
audience_ok(jwt_t *jwt, const char *want)
{
	const char *aud = jwt_get_grant(jwt, "aud");
	struct json_object *arr;
	char *js;
	size_t i;
	int ok = 0;

	if (aud != NULL)
		return strcmp(aud, want) == 0;
	js = jwt_get_grants_json(jwt, "aud");
	if (js == NULL)
		return 0;
	arr = json_tokener_parse(js);
	if (arr != NULL && json_object_is_type(arr, json_type_array))
		for (i = 0; i < json_object_array_length(arr) && !ok; i++) {
			struct json_object *e = json_object_array_get_idx(arr, i);
			ok = json_object_is_type(e, json_type_string) &&
			    strcmp(json_object_get_string(e), want) == 0;
		}
	json_object_put(arr);
	free(js);
	return ok;
}

/* Copies a string claim into the arena, or NULL. */
static const char *
grant_str(struct arena *a, jwt_t *jwt, const char *name)
{
	const char *v = jwt_get_grant(jwt, name);

	return v != NULL && *v != '\0' ? arena_strdup(a, v) : NULL;
}

/* The models claim as a JSON array string, or NULL when absent. */
static enum mg_err
grant_models(struct arena *a, jwt_t *jwt, const char **out)
{
	struct json_object *arr;
	char *js = jwt_get_grants_json(jwt, "models");
	enum mg_err rc = MG_OK;
	size_t i;

	*out = NULL;
	if (js == NULL)
		return MG_OK;
	arr = json_tokener_parse(js);
	if (arr == NULL || !json_object_is_type(arr, json_type_array)) {
		rc = MG_EINVAL;
		goto out;
	}
	for (i = 0; i < json_object_array_length(arr); i++)
		if (!json_object_is_type(json_object_array_get_idx(arr, i), json_type_string)) {
			rc = MG_EINVAL;
			goto out;
		}
	*out = arena_strdup(a, json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
out:
	json_object_put(arr);
	free(js);
	return rc;
}

enum mg_err
mg_jwt_verify(const struct cfg *c, struct arena *a, const char *token, long now,
    struct mg_jwt_claims *out, const char **why)
{
	jwt_t *jwt = NULL;
	jwt_alg_t want;
	const unsigned char *key;
	const char *pem;
	int keylen, present;
	long v, exp;
	char *crit;
	enum mg_err rc = MG_EINVAL;

	memset(out, 0, sizeof(*out));
	*why = "invalid token";
	if (!mg_jwt_enabled(c)) {
		*why = "JWT credentials are not enabled on this gateway";
		return MG_EINVAL;
	}
	if (strlen(token) > JWT_MAX_LEN) {
		*why = "token too long";
		return MG_EINVAL;
	}
	want = jwt_str_alg(c->jwt_alg);
	if (want == JWT_ALG_NONE || want == JWT_ALG_INVAL) {
		*why = "JWT algorithm misconfigured";
		return MG_EINVAL;
	}
	if (c->jwt_secret != NULL) {
		key = (const unsigned char *)c->jwt_secret;
		keylen = (int)strlen(c->jwt_secret);
	} else if (c->jwt_jwks_url != NULL) {
		/* the provider's key named by the token's kid (jwks.c) */
		if (jwks_key_for_token(c, a, token, now, &pem, why) != MG_OK)
			return MG_EINVAL;
		key = (const unsigned char *)pem;
		keylen = (int)strlen(pem);
	} else {
		key = (const unsigned char *)c->jwt_public_pem;
		keylen = (int)strlen(c->jwt_public_pem);
	}
	if (jwt_decode(&jwt, token, key, keylen) != 0 || jwt == NULL) {
		*why = "token signature or format invalid";
		goto out;
	}
	/* libjwt verifies with the token's own alg: pin it (HS/RS confusion) */
	if (jwt_get_alg(jwt) != want) {
		*why = "token algorithm not accepted";
		goto out;
	}
	/* RFC 7515 4.1.11: a critical extension we do not implement is fatal */
	crit = jwt_get_headers_json(jwt, "crit");
	if (crit != NULL || jwt_get_header(jwt, "crit") != NULL) {
		free(crit);
		*why = "token has critical header extensions (crit) this gateway does not support";
		goto out;
	}
	exp = grant_long(jwt, "exp", &present);
	if (!present) {
		*why = "token has no exp claim";
		goto out;
	}
	if (now >= exp + c->jwt_leeway) {
		*why = "token expired";
		goto out;
	}
	out->exp = exp;
	v = grant_long(jwt, "nbf", &present);
	if (present && now + c->jwt_leeway < v) {
		*why = "token not valid yet (nbf)";
		goto out;
	}
	v = grant_long(jwt, "iat", &present);
	if (present && now + c->jwt_leeway < v) {
		*why = "token issued in the future (iat)";
		goto out;
	}
	/* a token valid for years is a stolen credential that never dies */
	if (c->jwt_max_lifetime > 0 && exp - (present ? v : now) > c->jwt_max_lifetime) {
		*why = "token lifetime (exp - iat) exceeds MASKGATE_JWT_MAX_LIFETIME";
		goto out;
	}
	if (c->jwt_issuer != NULL) {
		const char *iss = jwt_get_grant(jwt, "iss");
		if (iss == NULL || strcmp(iss, c->jwt_issuer) != 0) {
			*why = "token issuer not accepted";
			goto out;
		}
	}
	if (c->jwt_audience != NULL && !audience_ok(jwt, c->jwt_audience)) {
		*why = "token audience not accepted";
		goto out;
	}
	out->user = grant_str(a, jwt, c->jwt_user_claim != NULL ? c->jwt_user_claim : "user_id");
	if (out->user == NULL && c->jwt_user_claim == NULL)
		out->user = grant_str(a, jwt, "sub");
	out->team = grant_str(a, jwt, c->jwt_team_claim != NULL ? c->jwt_team_claim : "team_id");
	if (out->team == NULL && c->jwt_team_claim == NULL)
		out->team = grant_str(a, jwt, "team");
	if (out->user == NULL && out->team == NULL) {
		*why = "token names no user (sub) or team";
		goto out;
	}
	if (c->jwt_group_models != NULL) {
		/* an identity provider's token: its groups say which models */
		char *groups = jwt_get_grants_json(jwt, c->jwt_groups_claim != NULL ?
		    c->jwt_groups_claim : "groups");
		enum mg_err grc = jwt_claims_group_models(c, a, groups, &out->models);
		free(groups);
		if (grc != MG_OK) {
			*why = grc == MG_ENOTFOUND ? "token's groups are granted no models "
			    "(MASKGATE_JWT_GROUP_MODELS)" : "token groups claim is malformed";
			goto out;
		}
	} else if (grant_models(a, jwt, &out->models) != MG_OK) {
		*why = "token models claim must be an array of strings";
		goto out;
	}
	rc = MG_OK;
out:
	jwt_free(jwt);
	return rc;
}
