/*
 * gcp_token.c - service-account OAuth2 tokens for Vertex AI. See
 * gcp_token.h. The cache is one process-lifetime token per worker: workers
 * serve one request at a time, and a token is good for every request.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <jwt.h>

#include "gcp_token.h"
#include "log.h"
#include "upstream.h"

#define GCP_TOKEN_MAX (64u * 1024)
#define GCP_EARLY_SECONDS 60	/* renew this long before expiry */

static char *gcp_cached;	/* malloc'd; process lifetime */
static long gcp_expires;	/* wall clock seconds */

void
gcp_token_forget(void)
{
	if (gcp_cached != NULL) {
		explicit_bzero(gcp_cached, strlen(gcp_cached));
		free(gcp_cached);
	}
	gcp_cached = NULL;
	gcp_expires = 0;
}

static char *
jstr(struct arena *a, struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return arena_strdup(a, json_object_get_string(v));
}

enum mg_err
gcp_sa_key_parse(struct arena *a, const char *json, struct gcp_sa_key *k, char *err,
    size_t errlen)
{
	struct json_object *root = json_tokener_parse(json);
	enum mg_err rc = MG_EINVAL;

	memset(k, 0, sizeof(*k));
	if (!json_object_is_type(root, json_type_object)) {
		mg_errf(err, errlen, "MASKGATE_VERTEX_SA_KEY: not a JSON service-account key");
		goto out;
	}
	k->client_email = jstr(a, root, "client_email");
	k->private_key = jstr(a, root, "private_key");
	k->token_uri = jstr(a, root, "token_uri");
	if (k->client_email == NULL || k->private_key == NULL) {
		mg_errf(err, errlen, "MASKGATE_VERTEX_SA_KEY: client_email or private_key missing");
		goto out;
	}
	rc = MG_OK;
out:
	json_object_put(root);
	return rc;
}

enum mg_err
gcp_assertion(struct arena *a, const struct gcp_sa_key *k, const char *audience, long now,
    char **out)
{
	jwt_t *jwt = NULL;
	char *enc = NULL;
	enum mg_err rc = MG_ENOMEM;

	*out = NULL;
	if (jwt_new(&jwt) != 0)
		return MG_ENOMEM;
	if (jwt_add_grant(jwt, "iss", k->client_email) != 0 ||
	    jwt_add_grant(jwt, "scope", GCP_SCOPE) != 0 ||
	    jwt_add_grant(jwt, "aud", audience) != 0 ||
	    jwt_add_grant_int(jwt, "iat", now) != 0 ||
	    jwt_add_grant_int(jwt, "exp", now + 3600) != 0)
		goto out;
	if (jwt_set_alg(jwt, JWT_ALG_RS256, (const unsigned char *)k->private_key,
	    (int)strlen(k->private_key)) != 0) {
		rc = MG_EINVAL;
		goto out;
	}
	enc = jwt_encode_str(jwt);
	if (enc == NULL) {
		rc = MG_EINVAL;	/* libjwt could not sign: not an RSA private key */
		goto out;
	}
	*out = arena_strdup(a, enc);
	rc = *out != NULL ? MG_OK : MG_ENOMEM;
out:
	free(enc);
	jwt_free(jwt);
	return rc;
}

struct token_reply {
	struct buf body;
};

static enum mg_err
on_token_body(void *ctx, const char *data, size_t len)
{
	struct token_reply *t = ctx;

	if (t->body.len + len > GCP_TOKEN_MAX)
		return MG_ETOOBIG;
	return buf_append(&t->body, data, len);
}

/* Asks the token endpoint; on success caches the token. */
static enum mg_err
fetch(const struct cfg *c, struct arena *a, const struct gcp_sa_key *k, char *err,
    size_t errlen)
{
	const char *url = c->vertex_token_url != NULL ? c->vertex_token_url :
	    k->token_uri != NULL ? k->token_uri : GCP_DEFAULT_TOKEN_URL;
	struct curl_slist *headers = NULL, *n;
	struct json_object *root = NULL, *v;
	struct token_reply reply;
	struct up_call call;
	char *assertion, *form;
	long now = (long)time(NULL), expires_in;
	enum mg_err rc;

	rc = gcp_assertion(a, k, url, now, &assertion);
	if (rc != MG_OK) {
		mg_errf(err, errlen, "could not sign the token grant (%s): is private_key an RSA "
		    "key?", mg_strerror(rc));
		return rc;
	}
	form = arena_printf(a, "grant_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Agrant-type%%3Ajwt-bearer"
	    "&assertion=%s", assertion);
	if (form == NULL)
		return MG_ENOMEM;
	n = curl_slist_append(NULL, "Content-Type: application/x-www-form-urlencoded");
	if (n == NULL)
		return MG_ENOMEM;
	headers = n;
	n = curl_slist_append(headers, "Expect:");
	if (n == NULL) {
		curl_slist_free_all(headers);
		return MG_ENOMEM;
	}
	headers = n;
	memset(&call, 0, sizeof(call));
	buf_init(&reply.body, a);
	call.method = "POST";
	call.url = url;
	call.headers = headers;
	call.body = form;
	call.body_len = strlen(form);
	call.on_body = on_token_body;
	call.ctx = &reply;
	rc = up_perform(c, &call);
	curl_slist_free_all(headers);
	if (rc != MG_OK) {
		mg_errf(err, errlen, "token endpoint unreachable: %s", call.error);
		return MG_EUPSTREAM;
	}
	root = reply.body.len > 0 ? json_tokener_parse(reply.body.data) : NULL;
	if (call.status != 200 || !json_object_object_get_ex(root, "access_token", &v) ||
	    !json_object_is_type(v, json_type_string)) {
		struct json_object *e = NULL;
		const char *why = "";

		if (json_object_object_get_ex(root, "error", &e) && json_object_is_type(e, json_type_string))
			why = json_object_get_string(e);	/* an OAuth2 error code, no secret */
		mg_errf(err, errlen, "token endpoint refused the service-account grant (HTTP %ld%s%s)",
		    call.status, *why != '\0' ? ": " : "", why);
		json_object_put(root);
		return MG_EUPSTREAM;
	}
	gcp_token_forget();
	gcp_cached = strdup(json_object_get_string(v));
	expires_in = 3600;
	if (json_object_object_get_ex(root, "expires_in", &v) && json_object_is_type(v, json_type_int))
		expires_in = (long)json_object_get_int64(v);
	json_object_put(root);
	if (gcp_cached == NULL)
		return MG_ENOMEM;
	gcp_expires = now + expires_in;
	return MG_OK;
}

enum mg_err
gcp_access_token(const struct cfg *c, struct arena *a, const char **token, char *err,
    size_t errlen)
{
	struct gcp_sa_key k;
	enum mg_err rc;

	*token = NULL;
	if (gcp_cached != NULL && (long)time(NULL) < gcp_expires - GCP_EARLY_SECONDS) {
		*token = arena_strdup(a, gcp_cached);
		return *token != NULL ? MG_OK : MG_ENOMEM;
	}
	if (c->vertex_sa_key == NULL) {
		mg_errf(err, errlen, "MASKGATE_VERTEX_SA_KEY is not set");
		return MG_EINVAL;
	}
	rc = gcp_sa_key_parse(a, c->vertex_sa_key, &k, err, errlen);
	if (rc == MG_OK)
		rc = fetch(c, a, &k, err, errlen);
	if (k.private_key != NULL)
		explicit_bzero(k.private_key, strlen(k.private_key));
	if (rc != MG_OK)
		return rc;
	*token = arena_strdup(a, gcp_cached);
	return *token != NULL ? MG_OK : MG_ENOMEM;
}
