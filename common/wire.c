/*
 * wire.c - Bedrock and Vertex paths, upstream URLs and signing. See wire.h.
 */
#include <string.h>
#include <strings.h>
#include <time.h>

#include <json-c/json.h>

#include "crypto.h"
#include "gcp_token.h"
#include "sigv4.h"
#include "wire.h"

#define WIRE_MAX_MODEL 512

/*
 * Percent-decodes s[0..len) into a new string in a, allowing only the
 * characters model ids and inference-profile ARNs are made of. NULL when
 * anything else appears, or on a path trick ("." or "..").
 */
static char *
decode_id(struct arena *a, const char *s, size_t len, const char *allowed)
{
	char *out;
	size_t i, n = 0;

	if (len == 0 || len > WIRE_MAX_MODEL)
		return NULL;
	out = arena_alloc(a, len + 1);
	if (out == NULL)
		return NULL;
	for (i = 0; i < len; i++) {
		int c = (unsigned char)s[i];

		if (c == '%') {
			int hi = i + 2 < len ? crypto_hexval(s[i + 1]) : -1;
			int lo = i + 2 < len ? crypto_hexval(s[i + 2]) : -1;

			if (hi < 0 || lo < 0)
				return NULL;
			c = hi * 16 + lo;
			i += 2;
		}
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) &&
		    strchr(allowed, c) == NULL)
			return NULL;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	for (i = 0; i < n;) {	/* no empty, "." or ".." segment */
		size_t seg = strcspn(out + i, "/");

		if (seg == 0 || (seg == 1 && out[i] == '.') ||
		    (seg == 2 && out[i] == '.' && out[i + 1] == '.'))
			return NULL;
		i += seg + (out[i + seg] == '/');
		if (out[i - 1] == '/' && i == n)
			return NULL;
	}
	return out;
}

static enum mg_err
parse_bedrock(struct arena *a, const char *path, struct wire_route *r)
{
	const char *id = path + strlen("/model/"), *slash = strrchr(id, '/');

	if (slash == NULL)
		return MG_ENOTFOUND;
	if (strcmp(slash + 1, "invoke") == 0)
		r->verb = "invoke";
	else if (strcmp(slash + 1, "invoke-with-response-stream") == 0) {
		r->verb = "invoke-with-response-stream";
		r->stream = 1;
	} else
		return MG_ENOTFOUND;
	r->kind = WIRE_BEDROCK;
	/* ids, ARNs of inference profiles (":" and "/" inside, sent as escapes) */
	r->model = decode_id(a, id, (size_t)(slash - id), "._:-/@");
	return r->model != NULL ? MG_OK : MG_EINVAL;
}

/* One path segment after prefix, up to '/'; advances *p past it. */
static char *
segment(struct arena *a, const char **p, const char *prefix)
{
	size_t n = strlen(prefix), len;
	char *s;

	if (strncmp(*p, prefix, n) != 0)
		return NULL;
	*p += n;
	len = strcspn(*p, "/");
	s = decode_id(a, *p, len, "._-");
	*p += len;
	return s;
}

static enum mg_err
parse_vertex(struct arena *a, const char *path, struct wire_route *r)
{
	const char *p = path, *colon;
	static const char models[] = "/publishers/anthropic/models/";

	r->project = segment(a, &p, "/v1/projects/");
	r->location = r->project != NULL ? segment(a, &p, "/locations/") : NULL;
	if (r->location == NULL || strncmp(p, models, sizeof(models) - 1) != 0)
		return MG_ENOTFOUND;
	p += sizeof(models) - 1;
	colon = strrchr(p, ':');
	if (colon == NULL)
		return MG_ENOTFOUND;
	if (strcmp(colon + 1, "rawPredict") == 0)
		r->verb = "rawPredict";
	else if (strcmp(colon + 1, "streamRawPredict") == 0) {
		r->verb = "streamRawPredict";
		r->stream = 1;
	} else
		return MG_ENOTFOUND;
	r->kind = WIRE_VERTEX;
	r->model = decode_id(a, p, (size_t)(colon - p), "._-@");
	if (r->model == NULL)
		return MG_EINVAL;
	r->count_tokens = strcmp(r->model, "count-tokens") == 0;
	if (r->count_tokens && r->stream)
		return MG_ENOTFOUND;
	return MG_OK;
}

enum mg_err
wire_parse_path(struct arena *a, const char *path, struct wire_route *r)
{
	memset(r, 0, sizeof(*r));
	if (strncmp(path, "/model/", 7) == 0)
		return parse_bedrock(a, path, r);
	if (strncmp(path, "/v1/projects/", 13) == 0)
		return parse_vertex(a, path, r);
	return MG_ENOTFOUND;
}

static enum mg_err
append_encoded(struct buf *b, const char *s)
{
	return sigv4_uri_encode(b, s, strlen(s));
}

/* Only characters a path segment carries as they are. */
static int
vertex_plain(const char *s)
{
	return *s != '\0' && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789._-@") == strlen(s);
}

char *
wire_upstream_url(const struct cfg *c, struct arena *a, const struct wire_route *r,
    const char *model, char *err, size_t errlen)
{
	struct buf url;

	buf_init(&url, a);
	if (r->kind == WIRE_BEDROCK) {
		if (c->bedrock_region == NULL) {
			mg_errf(err, errlen, "Bedrock is not configured on this gateway "
			    "(MASKGATE_BEDROCK_REGION)");
			return NULL;
		}
		if (c->bedrock_url != NULL)
			buf_appends(&url, c->bedrock_url);
		else
			buf_printf(&url, "https://bedrock-runtime.%s.amazonaws.com", c->bedrock_region);
		if (buf_appends(&url, "/model/") != MG_OK || append_encoded(&url, model) != MG_OK ||
		    buf_printf(&url, "/%s", r->verb) != MG_OK)
			goto oom;
		return url.data;
	}
	if (r->kind == WIRE_VERTEX) {
		const char *region = c->vertex_region != NULL ? c->vertex_region : r->location;
		const char *project = c->vertex_project != NULL ? c->vertex_project : r->project;

		if (c->vertex_sa_key == NULL) {
			mg_errf(err, errlen, "Vertex AI is not configured on this gateway "
			    "(MASKGATE_VERTEX_SA_KEY)");
			return NULL;
		}
		if (c->vertex_url != NULL)
			buf_appends(&url, c->vertex_url);
		else if (strcmp(region, "global") == 0)
			buf_appends(&url, "https://aiplatform.googleapis.com");
		else
			buf_printf(&url, "https://%s-aiplatform.googleapis.com", region);
		/* '@' stays as Google's clients send it; the rest is plain */
		if (!vertex_plain(project) || !vertex_plain(region) || !vertex_plain(model)) {
			mg_errf(err, errlen, "Vertex project, region or model holds characters "
			    "a Vertex URL cannot carry");
			return NULL;
		}
		if (buf_printf(&url, "/v1/projects/%s/locations/%s/publishers/anthropic/models/%s:%s",
		    project, region, r->count_tokens ? "count-tokens" : model, r->verb) != MG_OK)
			goto oom;
		return url.data;
	}
	mg_errf(err, errlen, "not a cloud route");
	return NULL;
oom:
	mg_errf(err, errlen, "out of memory");
	return NULL;
}

static enum mg_err
add_line(struct arena *a, enum mg_err (*add)(void *ctx, const char *line), void *ctx,
    const char *name, const char *value)
{
	char *line = arena_printf(a, "%s: %s", name, value);

	return line != NULL ? add(ctx, line) : MG_ENOMEM;
}

enum mg_err
wire_sign(const struct cfg *c, struct arena *a, const struct wire_route *r, const char *url,
    const char *content_type, const char *body, size_t body_len,
    enum mg_err (*add)(void *ctx, const char *line), void *ctx, char *err, size_t errlen)
{
	enum mg_err rc;

	rc = add_line(a, add, ctx, "Content-Type", content_type);
	if (rc != MG_OK)
		return rc;
	if (r->kind == WIRE_BEDROCK && c->bedrock_api_key != NULL) {
		char *bearer = arena_printf(a, "Bearer %s", c->bedrock_api_key);

		return bearer != NULL ? add_line(a, add, ctx, "Authorization", bearer) : MG_ENOMEM;
	}
	if (r->kind == WIRE_BEDROCK && c->aws_access_key_id != NULL) {
		struct sigv4_key k = { c->aws_access_key_id, c->aws_secret_access_key,
			c->aws_session_token, c->bedrock_region, "bedrock" };
		struct sigv4_headers h;

		rc = sigv4_sign(a, &k, "POST", url, content_type, body, body_len, time(NULL), &h);
		if (rc != MG_OK) {
			mg_errf(err, errlen, "SigV4 signing failed (%s)", mg_strerror(rc));
			return rc;
		}
		rc = add_line(a, add, ctx, "x-amz-date", h.amz_date);
		if (rc == MG_OK)
			rc = add_line(a, add, ctx, "x-amz-content-sha256", h.content_sha256);
		if (rc == MG_OK && c->aws_session_token != NULL)
			rc = add_line(a, add, ctx, "x-amz-security-token", c->aws_session_token);
		if (rc == MG_OK)
			rc = add_line(a, add, ctx, "Authorization", h.authorization);
		return rc;
	}
	if (r->kind == WIRE_VERTEX) {
		const char *token;
		char *bearer;

		rc = gcp_access_token(c, a, &token, err, errlen);
		if (rc != MG_OK)
			return rc;
		bearer = arena_printf(a, "Bearer %s", token);
		return bearer != NULL ? add_line(a, add, ctx, "Authorization", bearer) : MG_ENOMEM;
	}
	mg_errf(err, errlen, "no Bedrock credentials configured (MASKGATE_AWS_ACCESS_KEY_ID and "
	    "MASKGATE_AWS_SECRET_ACCESS_KEY, or MASKGATE_BEDROCK_API_KEY)");
	return MG_EINVAL;
}

int
wire_drop_header(const struct wire_route *r, const char *name)
{
	if (r == NULL || r->kind == WIRE_ANTHROPIC)
		return 0;
	return strncasecmp(name, "x-amz-", 6) == 0 || strncasecmp(name, "amz-sdk-", 8) == 0 ||
	    strncasecmp(name, "x-goog-", 7) == 0 || strcasecmp(name, "authorization") == 0 ||
	    strcasecmp(name, "x-api-key") == 0 || strcasecmp(name, "content-type") == 0;
}

enum mg_err
wire_translated_route(const struct cfg *c, int count_tokens, int stream, const char *model,
    struct wire_route *r)
{
	memset(r, 0, sizeof(*r));
	if (c->upstream_format == NULL || strcmp(c->upstream_format, "anthropic") == 0)
		return MG_ENOTFOUND;
	r->translate = 1;
	r->model = (char *)model;
	r->stream = stream && !count_tokens;
	r->count_tokens = count_tokens;
	if (strcmp(c->upstream_format, "bedrock") == 0) {
		if (count_tokens)
			return MG_EINVAL;	/* Bedrock's CountTokens takes another body */
		r->kind = WIRE_BEDROCK;
		r->verb = r->stream ? "invoke-with-response-stream" : "invoke";
		return MG_OK;
	}
	r->kind = WIRE_VERTEX;
	r->verb = r->stream ? "streamRawPredict" : "rawPredict";
	return MG_OK;
}

enum mg_err
wire_translate_body(struct json_object *root, const struct wire_route *r, const char *betas)
{
	struct json_object *arr;
	const char *p;

	if (!json_object_is_type(root, json_type_object))
		return MG_EINVAL;
	if (!r->count_tokens)
		json_object_object_del(root, "model");
	if (!json_object_object_get_ex(root, "anthropic_version", NULL) &&
	    json_object_object_add(root, "anthropic_version", json_object_new_string(
	    r->kind == WIRE_BEDROCK ? "bedrock-2023-05-31" : "vertex-2023-10-16")) != 0)
		return MG_ENOMEM;
	if (r->kind != WIRE_BEDROCK)
		return MG_OK;	/* Vertex reads stream and the anthropic-beta header */
	json_object_object_del(root, "stream");
	if (betas == NULL || json_object_object_get_ex(root, "anthropic_beta", NULL))
		return MG_OK;
	arr = json_object_new_array();
	if (arr == NULL)
		return MG_ENOMEM;
	for (p = betas; *p != '\0';) {
		size_t n;

		p += strspn(p, " ,");
		n = strcspn(p, " ,");
		if (n > 0 && json_object_array_add(arr, json_object_new_string_len(p, (int)n)) != 0) {
			json_object_put(arr);
			return MG_ENOMEM;
		}
		p += n;
	}
	if (json_object_array_length(arr) == 0) {
		json_object_put(arr);
		return MG_OK;
	}
	if (json_object_object_add(root, "anthropic_beta", arr) != 0) {
		json_object_put(arr);
		return MG_ENOMEM;
	}
	return MG_OK;
}
