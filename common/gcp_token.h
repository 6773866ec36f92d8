/*
 * gcp_token.h - OAuth2 access tokens for Vertex AI from a Google
 * service-account key: a JWT bearer grant (RFC 7523), signed RS256 with the
 * key's private key (libjwt), posted to the token endpoint with libcurl.
 * The token is cached in the worker until a minute before it expires.
 */
#ifndef MG_GCP_TOKEN_H
#define MG_GCP_TOKEN_H

#include <stddef.h>

#include "arena.h"
#include "cfg.h"
#include "mg.h"

#define GCP_SCOPE "https://www.googleapis.com/auth/cloud-platform"
#define GCP_DEFAULT_TOKEN_URL "https://oauth2.googleapis.com/token"

struct gcp_sa_key {
	char *client_email;
	char *private_key;	/* PEM */
	char *token_uri;	/* NULL: GCP_DEFAULT_TOKEN_URL */
};

/*
 * Parses the service-account key JSON into k (strings in a). MG_EINVAL
 * with a reason in err when a field is missing; never echoes the key.
 */
enum mg_err gcp_sa_key_parse(struct arena *a, const char *json, struct gcp_sa_key *k,
    char *err, size_t errlen);

/*
 * The signed grant assertion for k, valid from now for an hour; a new
 * string in a.
 */
enum mg_err gcp_assertion(struct arena *a, const struct gcp_sa_key *k, const char *audience,
    long now, char **out);

/*
 * A bearer token for the configured key: the cached one, or a new one from
 * the token endpoint. *token is in a. MG_EUPSTREAM (reason in err) when the
 * endpoint refused or could not be reached; MG_EINVAL when no key is set.
 */
enum mg_err gcp_access_token(const struct cfg *c, struct arena *a, const char **token,
    char *err, size_t errlen);

/* Drops the cached token (tests; after a 401 from Vertex). */
void gcp_token_forget(void);

#endif
