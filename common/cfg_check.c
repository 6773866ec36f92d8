/*
 * cfg_check.c - checks on settings beyond their type: weak or published
 * secrets, and settings that only make sense together (JWT, clouds).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cfg_int.h"
#include "log.h"

/* Sample keys seen in documentation and tutorials; never acceptable. */
static const char *const cfg_samples[] = {
	"sk-litellm-master-key", "sk-1234", "sk-12345", "sk-123456",
	"sk-master-key", "sk-admin", "sk-test", "sk-changeme", "sk-secret",
	"sk-your-master-key", "sk-my-master-key", "sk-maskgate",
};

const char *
cfg_weak_secret(const char *key)
{
	const char *body;
	int seen[256] = { 0 };
	size_t i, distinct = 0, len, run = 1, maxrun = 1;

	for (i = 0; i < MG_NELEM(cfg_samples); i++)
		if (strcasecmp(key, cfg_samples[i]) == 0)
			return "is a published sample key";
	if (strncmp(key, "sk-", 3) != 0)
		return "must start with sk-";
	body = key + 3;
	len = strlen(body);
	if (len < 32)
		return "is too short (need at least 32 characters after sk-)";
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)body[i];
		if (c <= 0x20 || c >= 0x7f)
			return "contains spaces or non-printable characters";
		if (!seen[c]++)
			distinct++;
		if (i > 0 && body[i] == body[i - 1]) {
			if (++run > maxrun)
				maxrun = run;
		} else {
			run = 1;
		}
	}
	if (distinct < 10 || maxrun > 6)
		return "has too little entropy (use `bin/maskgate keygen`)";
	for (i = 0; i < MG_NELEM(cfg_samples); i++)
		if (strncasecmp(key, cfg_samples[i], strlen(cfg_samples[i])) == 0 &&
		    strlen(cfg_samples[i]) > 8)
			return "starts with a published sample key";
	return NULL;
}

/* Published JWT secrets (jwt.io's default and friends). */
static const char *const cfg_jwt_samples[] = {
	"your-256-bit-secret", "secret", "changeme", "your-secret-key", "jwt-secret",
};

const char *
cfg_weak_jwt_secret(const char *secret)
{
	int seen[256] = { 0 };
	size_t i, distinct = 0, len = strlen(secret);

	for (i = 0; i < MG_NELEM(cfg_jwt_samples); i++)
		if (strcasecmp(secret, cfg_jwt_samples[i]) == 0 ||
		    strncasecmp(secret, cfg_jwt_samples[i], strlen(cfg_jwt_samples[i])) == 0)
			return "is or starts with a published sample secret";
	if (strncmp(secret, "sk-", 3) == 0)
		return cfg_weak_secret(secret);
	if (len < 32)
		return "is too short (need at least 32 characters)";
	for (i = 0; i < len; i++)
		if (!seen[(unsigned char)secret[i]]++)
			distinct++;
	if (distinct < 10)
		return "has too little entropy (use `bin/maskgate keygen`)";
	return NULL;
}

/*
 * Bedrock and Vertex settings come in sets: a half-given set is a typo or a
 * missing secret file, which would otherwise surface as a 403 at the first
 * request.
 */
enum mg_err
cfg_check_clouds(const struct cfg *c, char *err, size_t errlen)
{
	if ((c->aws_access_key_id == NULL) != (c->aws_secret_access_key == NULL)) {
		mg_errf(err, errlen, "MASKGATE_AWS_%s: required with MASKGATE_AWS_%s",
		    c->aws_access_key_id == NULL ? "ACCESS_KEY_ID" : "SECRET_ACCESS_KEY",
		    c->aws_access_key_id == NULL ? "SECRET_ACCESS_KEY" : "ACCESS_KEY_ID");
		return MG_EINVAL;
	}
	if (c->aws_session_token != NULL && c->aws_access_key_id == NULL) {
		mg_errf(err, errlen, "MASKGATE_AWS_SESSION_TOKEN: needs MASKGATE_AWS_ACCESS_KEY_ID "
		    "and MASKGATE_AWS_SECRET_ACCESS_KEY");
		return MG_EINVAL;
	}
	if (c->aws_access_key_id != NULL && c->bedrock_api_key != NULL) {
		mg_errf(err, errlen, "MASKGATE_BEDROCK_API_KEY: set either it or the AWS access "
		    "keys, not both");
		return MG_EINVAL;
	}
	if ((c->aws_access_key_id != NULL || c->bedrock_api_key != NULL || c->bedrock_url != NULL) &&
	    c->bedrock_region == NULL) {
		mg_errf(err, errlen, "MASKGATE_BEDROCK_REGION: required for Bedrock (SigV4 signs "
		    "with it), e.g. us-east-1");
		return MG_EINVAL;
	}
	if (strcmp(c->upstream_format, "anthropic") != 0 &&
	    strcmp(c->upstream_format, "bedrock") != 0 && strcmp(c->upstream_format, "vertex") != 0) {
		mg_errf(err, errlen, "MASKGATE_UPSTREAM_FORMAT: use anthropic, bedrock or vertex");
		return MG_EINVAL;
	}
	if (strcmp(c->upstream_format, "bedrock") == 0 && (c->bedrock_region == NULL ||
	    (c->aws_access_key_id == NULL && c->bedrock_api_key == NULL))) {
		mg_errf(err, errlen, "MASKGATE_UPSTREAM_FORMAT: bedrock needs MASKGATE_BEDROCK_REGION "
		    "and the AWS access keys or MASKGATE_BEDROCK_API_KEY");
		return MG_EINVAL;
	}
	if (strcmp(c->upstream_format, "vertex") == 0 && (c->vertex_sa_key == NULL ||
	    c->vertex_project == NULL || c->vertex_region == NULL)) {
		mg_errf(err, errlen, "MASKGATE_UPSTREAM_FORMAT: vertex needs MASKGATE_VERTEX_SA_KEY, "
		    "MASKGATE_VERTEX_PROJECT and MASKGATE_VERTEX_REGION");
		return MG_EINVAL;
	}
	if (c->bedrock_region != NULL && strspn(c->bedrock_region,
	    "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(c->bedrock_region)) {
		mg_errf(err, errlen, "MASKGATE_BEDROCK_REGION: not a region name, e.g. us-east-1");
		return MG_EINVAL;
	}
	if (c->vertex_region != NULL && strspn(c->vertex_region,
	    "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(c->vertex_region)) {
		mg_errf(err, errlen, "MASKGATE_VERTEX_REGION: not a region name, e.g. us-east5");
		return MG_EINVAL;
	}
	return MG_OK;
}

/*
 * MASKGATE_JWT_JWKS_URL: keys come from the identity provider, so no static
 * key; issuer and audience are required, since the same provider signs
 * tokens for every application it serves.
 */
static enum mg_err
check_jwks(struct cfg *c, char *err, size_t errlen)
{
	if (c->jwt_secret != NULL || c->jwt_public_key != NULL) {
		mg_errf(err, errlen, "MASKGATE_JWT_JWKS_URL: set either it or MASKGATE_JWT_SECRET / "
		    "MASKGATE_JWT_PUBLIC_KEY, not both");
		return MG_EINVAL;
	}
	if (c->jwt_issuer == NULL || c->jwt_audience == NULL) {
		mg_errf(err, errlen, "MASKGATE_JWT_JWKS_URL: set MASKGATE_JWT_ISSUER and "
		    "MASKGATE_JWT_AUDIENCE too (the provider signs tokens for other applications)");
		return MG_EINVAL;
	}
	if (c->jwks_refresh < 10 || c->jwks_refresh > 3600) {
		mg_errf(err, errlen, "MASKGATE_JWT_JWKS_REFRESH: give a duration from 10s to 1h");
		return MG_EINVAL;
	}
	if (c->jwt_alg == NULL) {
		c->jwt_alg = strdup("RS256");
		if (c->jwt_alg == NULL)
			return MG_ENOMEM;
	}
	if (strcmp(c->jwt_alg, "RS256") != 0 && strcmp(c->jwt_alg, "ES256") != 0) {
		mg_errf(err, errlen, "MASKGATE_JWT_ALG: must be RS256 or ES256 with "
		    "MASKGATE_JWT_JWKS_URL");
		return MG_EINVAL;
	}
	return MG_OK;
}

/*
 * Identity the web server passes after single sign-on is trusted only
 * when all three settings say so, and only from a server variable: an
 * HTTP_* name is a request header any client can send.
 */
enum mg_err
cfg_check_console(const struct cfg *c, char *err, size_t errlen)
{
	const char *u = c->console_trust_user, *g = c->console_trust_groups;

	if (u == NULL && g == NULL && c->console_admin_group == NULL)
		return MG_OK;
	if (u == NULL || g == NULL || c->console_admin_group == NULL) {
		mg_errf(err, errlen, "MASKGATE_CONSOLE_TRUST_USER: set it together with "
		    "MASKGATE_CONSOLE_TRUST_GROUPS and MASKGATE_CONSOLE_ADMIN_GROUP, or none of them");
		return MG_EINVAL;
	}
	if (strncasecmp(u, "HTTP_", 5) == 0 || strncasecmp(g, "HTTP_", 5) == 0) {
		mg_errf(err, errlen, "MASKGATE_CONSOLE_TRUST_USER: HTTP_* variables are request "
		    "headers a client can forge; name the variable the web server sets "
		    "(OIDCPassClaimsAs environment: OIDC_CLAIM_email)");
		return MG_EINVAL;
	}
	return MG_OK;
}

/* Reads MASKGATE_JWT_PUBLIC_KEY and checks the JWT settings agree. */
enum mg_err
cfg_check_jwt(struct cfg *c, char *err, size_t errlen)
{
	const char *why;
	char *alg;

	if (c->jwt_secret != NULL && c->jwt_public_key != NULL) {
		mg_errf(err, errlen, "MASKGATE_JWT_SECRET: set either it (HS256) or "
		    "MASKGATE_JWT_PUBLIC_KEY (RS256/ES256), not both");
		return MG_EINVAL;
	}
	if (c->jwt_jwks_url != NULL)
		return check_jwks(c, err, errlen);
	if (c->jwt_secret == NULL && c->jwt_public_key == NULL) {
		if (c->jwt_alg != NULL) {
			mg_errf(err, errlen, "MASKGATE_JWT_ALG: set MASKGATE_JWT_SECRET or "
			    "MASKGATE_JWT_PUBLIC_KEY too");
			return MG_EINVAL;
		}
		return MG_OK;
	}
	if (c->jwt_alg == NULL) {
		c->jwt_alg = strdup(c->jwt_secret != NULL ? "HS256" : "RS256");
		if (c->jwt_alg == NULL)
			return MG_ENOMEM;
	}
	alg = c->jwt_alg;
	if (c->jwt_secret != NULL) {
		if (strcmp(alg, "HS256") != 0) {
			mg_errf(err, errlen, "MASKGATE_JWT_ALG: must be HS256 with MASKGATE_JWT_SECRET");
			return MG_EINVAL;
		}
		why = cfg_weak_jwt_secret(c->jwt_secret);
		if (why != NULL) {
			mg_errf(err, errlen, "MASKGATE_JWT_SECRET: refused, the secret %s", why);
			return MG_EINVAL;
		}
		return MG_OK;
	}
	if (strcmp(alg, "RS256") != 0 && strcmp(alg, "ES256") != 0) {
		mg_errf(err, errlen, "MASKGATE_JWT_ALG: must be RS256 or ES256 with "
		    "MASKGATE_JWT_PUBLIC_KEY");
		return MG_EINVAL;
	}
	c->jwt_public_pem = cfg_read_secret_file(c->jwt_public_key, err, errlen,
	    "MASKGATE_JWT_PUBLIC_KEY");
	if (c->jwt_public_pem == NULL)
		return MG_EINVAL;
	if (strstr(c->jwt_public_pem, "-----BEGIN PUBLIC KEY-----") == NULL) {
		mg_errf(err, errlen, "MASKGATE_JWT_PUBLIC_KEY: %s is not a PEM public key "
		    "(-----BEGIN PUBLIC KEY-----)", c->jwt_public_key);
		return MG_EINVAL;
	}
	return MG_OK;
}

