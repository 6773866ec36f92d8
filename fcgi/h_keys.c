/*
 * h_keys.c - the LiteLLM-compatible key management endpoints: /key/generate,
 * /key/info, /key/list, /key/update, /key/delete, /key/regenerate,
 * /key/block, /key/unblock. The work is done by keys_mgmt(), shared with
 * the CLI; this file only turns HTTP into its request object and back.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "crypto.h"
#include "jwalk.h"
#include "keys_mgmt.h"
#include "route.h"
#include "worker.h"

#define MGMT_MAX_BODY (1024 * 1024)

/* Percent-decodes in[0..len) ('+' is a space) into arena memory. */
static char *
url_decode(struct arena *a, const char *in, size_t len)
{
	char *out = arena_alloc(a, len + 1);
	size_t i, n = 0;

	if (out == NULL)
		return NULL;
	for (i = 0; i < len; i++) {
		if (in[i] == '%' && i + 2 < len && crypto_hexval((unsigned char)in[i + 1]) >= 0 &&
		    crypto_hexval((unsigned char)in[i + 2]) >= 0) {
			out[n++] = (char)(crypto_hexval((unsigned char)in[i + 1]) * 16 +
			    crypto_hexval((unsigned char)in[i + 2]));
			i += 2;
		} else {
			out[n++] = in[i] == '+' ? ' ' : in[i];
		}
	}
	out[n] = '\0';
	return out;
}

struct json_object *
h_query_object(struct request *req)
{
	return h_urlencoded_object(req, req->query);
}

struct json_object *
h_urlencoded_object(struct request *req, const char *p)
{
	struct json_object *o = json_object_new_object();

	if (o == NULL)
		return NULL;
	while (*p != '\0') {
		const char *amp = strchr(p, '&'), *eq;
		size_t len = amp != NULL ? (size_t)(amp - p) : strlen(p);
		char *name, *value;

		eq = memchr(p, '=', len);
		if (eq != NULL) {
			name = url_decode(req->arena, p, (size_t)(eq - p));
			value = url_decode(req->arena, eq + 1, len - (size_t)(eq - p) - 1);
			if (name != NULL && value != NULL && *name != '\0')
				json_object_object_add(o, name, json_object_new_string(value));
		}
		p += len + (amp != NULL);
	}
	return o;
}

const char *
h_actor(struct request *req, const struct principal *p)
{
	switch (p->kind) {
	case PRINCIPAL_MASTER:
		return arena_printf(req->arena, "master:%.12s", p->key_hash);
	case PRINCIPAL_VIRTUAL:
		return arena_printf(req->arena, "key:%.12s%s%s", p->key_hash,
		    p->key_alias != NULL ? " alias:" : "", p->key_alias != NULL ? p->key_alias : "");
	case PRINCIPAL_JWT:
		return arena_printf(req->arena, "jwt:%s", p->user_id != NULL ? p->user_id : "-");
	default:
		return "?";
	}
}

/* The request object: query parameters for GET, the JSON body for POST. */
static struct json_object *
request_object(struct request *req, int *status, char *err, size_t errlen)
{
	struct json_object *o;
	enum mg_err rc;

	*status = 400;
	if (strcmp(req->method, "GET") == 0)
		return h_query_object(req);
	if (http_read_body(req, MGMT_MAX_BODY) != MG_OK) {
		snprintf(err, errlen, "could not read the request body (at most 1 MiB)");
		return NULL;
	}
	if (req->body_len == 0) {
		/* /key/info?key=... may come as POST without a body */
		return h_query_object(req);
	}
	/* the same strict parser as /v1/messages: UTF-8, depth, NUL in keys */
	rc = jwalk_parse(req->body, req->body_len, &o, err, errlen);
	if (rc != MG_OK) {
		if (rc == MG_ENOMEM)
			*status = 500;
		return NULL;
	}
	return o;
}

static enum api_etype
etype_of(int status)
{
	switch (status) {
	case 400: return ET_INVALID_REQUEST;
	case 403: return ET_PERMISSION;
	case 404: return ET_NOT_FOUND;
	default: return ET_API;
	}
}

/* The HTTP status of a key operation's result (keys_mgmt() speaks mg_err). */
int
h_keys_status(enum mg_err rc)
{
	switch (rc) {
	case MG_OK: return 200;
	case MG_EINVAL: return 400;
	case MG_ENOTFOUND: return 404;
	default: return 503;
	}
}

/* Non-admin callers may read their own key's info, nothing else. */
static int
own_key(struct json_object *req, const struct principal *p)
{
	struct json_object *v;
	char hash[2 * 32 + 1];

	if (p->kind != PRINCIPAL_VIRTUAL || p->key == NULL)
		return 0;
	if (!json_object_object_get_ex(req, "key", &v)) {
		/* no key named: the caller's own */
		json_object_object_add(req, "key", json_object_new_string(p->key->hash));
		return 1;
	}
	if (!json_object_is_type(v, json_type_string) ||
	    keys_hash_arg(json_object_get_string(v), hash) != MG_OK)
		return 0;
	return strcmp(hash, p->key_hash) == 0 || strcmp(hash, p->key->hash) == 0;
}

void
h_keys(struct request *req, const struct principal *p)
{
	enum keys_op op = keys_op_parse(req->path + strlen("/key/"));
	struct json_object *in, *out = NULL;
	char err[300];
	int status;

	in = request_object(req, &status, err, sizeof(err));
	if (in == NULL) {
		http_error(req, status, etype_of(status), "%s", err);
		return;
	}
	if (!p->admin && !(op == KO_INFO && own_key(in, p))) {
		json_object_put(in);
		http_error(req, 403, ET_PERMISSION, "this route needs the master key or an admin key");
		return;
	}
	if (op == KO_INFO && !json_object_object_get_ex(in, "key", NULL) &&
	    p->kind == PRINCIPAL_VIRTUAL && p->key != NULL)
		json_object_object_add(in, "key", json_object_new_string(p->key->hash));
	status = h_keys_status(keys_mgmt(req->worker->store, req->arena, op, h_actor(req, p), in,
	    &out, err, sizeof(err)));
	json_object_put(in);
	if (status != 200) {
		http_error(req, status, etype_of(status), "%s", err);
		return;
	}
	http_json(req, 200, arena_strdup(req->arena, json_object_to_json_string_ext(out,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)));
	json_object_put(out);
}
