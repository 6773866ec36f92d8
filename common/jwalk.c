/*
 * jwalk.c - the request and response walks of the messages proxy and the
 * field accessors it needs. Parsing is in jwalk_parse.c. See jwalk.h for
 * the contract.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "jwalk.h"

/* State of one walk; out is reused for every string. */
struct walk {
	struct arena *arena;
	const struct jwalk_xform *xf;
	struct buf out;
	char *err;
	size_t errlen;
};

/* Names a place in the body for error messages; long paths are cut. */
static void __attribute__((format(printf, 3, 4)))
pathf(char *dst, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dst, n, fmt, ap);
	va_end(ap);
}

#define WALK_FAIL(w, ...) (mg_errf((w)->err, (w)->errlen, __VA_ARGS__), MG_EINVAL)

/* Replaces the string value of s, in place, with its transform. */
static enum mg_err
xform_string(struct walk *w, struct json_object *s)
{
	const char *in = json_object_get_string(s);
	int inlen = json_object_get_string_len(s);
	enum mg_err rc;

	if (inlen <= 0)
		return MG_OK;
	buf_clear(&w->out);
	rc = w->xf->fn(w->xf->ctx, in, (size_t)inlen, &w->out);
	if (rc != MG_OK)
		return rc;
	if (w->out.len == (size_t)inlen && memcmp(w->out.data, in, w->out.len) == 0)
		return MG_OK;
	if (w->out.len > INT32_MAX)
		return MG_ETOOBIG;
	if (json_object_set_string_len(s, w->out.data != NULL ? w->out.data : "",
	    (int)w->out.len) != 1)
		return MG_ENOMEM;
	return MG_OK;
}

static struct json_object *
field(struct json_object *obj, const char *key)
{
	struct json_object *v = NULL;

	if (!json_object_is_type(obj, json_type_object))
		return NULL;
	if (!json_object_object_get_ex(obj, key, &v))
		return NULL;
	return v;
}

static int
is_string(struct json_object *v)
{
	return json_object_is_type(v, json_type_string);
}

static int
streq(const char *a, const char *b)
{
	return a != NULL && strcmp(a, b) == 0;
}

/*
 * Transforms the keys of obj, keeping their order: the model reads keys of
 * tool inputs too ({"i-0abc...": "running"}). json-c cannot rename a key,
 * so when any key changes the members are taken out and put back in order.
 * Two keys that collide after the transform are refused.
 */
static enum mg_err
xform_keys(struct walk *w, struct json_object *obj)
{
	struct json_object_iter it;
	const char **names;
	struct json_object **vals;
	size_t i, n = (size_t)json_object_object_length(obj), changed = 0;
	enum mg_err rc = MG_OK;

	if (n == 0)
		return MG_OK;
	names = arena_alloc(w->arena, n * sizeof(*names));
	/* an array of object pointers: sizeof(*vals) is meant */
	vals = arena_alloc(w->arena, n * sizeof(*vals));	/* NOLINT(bugprone-sizeof-expression) */
	if (names == NULL || vals == NULL)
		return MG_ENOMEM;
	i = 0;
	json_object_object_foreachC(obj, it) {
		buf_clear(&w->out);
		rc = w->xf->fn(w->xf->ctx, it.key, strlen(it.key), &w->out);
		if (rc != MG_OK)
			return rc;
		names[i] = arena_strndup(w->arena, w->out.data != NULL ? w->out.data : "", w->out.len);
		if (names[i] == NULL)
			return MG_ENOMEM;
		changed += strcmp(names[i], it.key) != 0;
		vals[i++] = it.val;
	}
	if (changed == 0)
		return MG_OK;
	for (i = 0; i < n; i++)
		json_object_get(vals[i]);
	while (json_object_object_length(obj) > 0) {
		json_object_object_foreachC(obj, it) {
			json_object_object_del(obj, it.key);
			break;
		}
	}
	for (i = 0; i < n; i++)
		if (json_object_object_add(obj, names[i], vals[i]) != 0)
			rc = MG_ENOMEM;
	/* a re-added key that replaced another: two keys became one */
	if (rc == MG_OK && (size_t)json_object_object_length(obj) != n)
		return WALK_FAIL(w, "two object keys become one after masking");
	return rc;
}

/*
 * Keys whose values are structure, identifiers, opaque blobs or fetch
 * targets, never text for the model: the generic walk leaves them (and
 * everything under them) alone.
 */
static int
structural_key(const char *key)
{
	static const char *const keys[] = {
		"type", "id", "tool_use_id", "name", "signature", "data",
		"media_type", "cache_control", "url", "file_id",
		"encrypted_content", "encrypted_index", "server_name",
	};
	size_t i;

	for (i = 0; i < MG_NELEM(keys); i++)
		if (strcmp(key, keys[i]) == 0)
			return 1;
	return 0;
}

/*
 * Transforms every string at any depth, object keys included. With
 * skip_structural, values under structural keys are left alone: that is
 * the fail-closed walk for shapes we do not know (new block types,
 * citations); masking a string the model did not need masked costs a little
 * precision, leaving one in clear would leak it.
 */
static enum mg_err
xform_tree(struct walk *w, struct json_object *v, int skip_structural)
{
	enum mg_err rc = MG_OK;
	size_t i, n;

	switch (json_object_get_type(v)) {
	case json_type_string:
		return xform_string(w, v);
	case json_type_array:
		n = json_object_array_length(v);
		for (i = 0; i < n && rc == MG_OK; i++)
			rc = xform_tree(w, json_object_array_get_idx(v, i), skip_structural);
		return rc;
	case json_type_object: {
		json_object_object_foreach(v, key, val) {
			if (skip_structural && structural_key(key))
				continue;
			rc = xform_tree(w, val, skip_structural);
			if (rc != MG_OK)
				return rc;
		}
		return xform_keys(w, v);
	}
	default:
		return MG_OK;
	}
}

static enum mg_err
xform_all_strings(struct walk *w, struct json_object *v)
{
	return xform_tree(w, v, 0);
}

static enum mg_err
xform_generic(struct walk *w, struct json_object *v)
{
	return xform_tree(w, v, 1);
}

/* Transforms every "description" string inside a JSON schema. */
static enum mg_err
xform_schema_descriptions(struct walk *w, struct json_object *v)
{
	enum mg_err rc = MG_OK;
	size_t i, n;

	switch (json_object_get_type(v)) {
	case json_type_array:
		n = json_object_array_length(v);
		for (i = 0; i < n && rc == MG_OK; i++)
			rc = xform_schema_descriptions(w, json_object_array_get_idx(v, i));
		return rc;
	case json_type_object: {
		json_object_object_foreach(v, key, val) {
			if (strcmp(key, "description") == 0 && is_string(val))
				rc = xform_string(w, val);
			else
				rc = xform_schema_descriptions(w, val);
			if (rc != MG_OK)
				return rc;
		}
		return MG_OK;
	}
	default:
		return MG_OK;
	}
}

/* An optional string field: absent is fine, another type is a 400. */
static enum mg_err
mask_string_field(struct walk *w, struct json_object *obj, const char *key,
    const char *path)
{
	struct json_object *v = field(obj, key);

	if (v == NULL)
		return MG_OK;
	if (!is_string(v))
		return WALK_FAIL(w, "%s.%s: expected a string", path, key);
	return xform_string(w, v);
}

static enum mg_err mask_content(struct walk *w, struct json_object *v, const char *path);

/* Masks one request content block; path names it in error messages. */
static enum mg_err
mask_block(struct walk *w, struct json_object *b, const char *path)
{
	struct json_object *t, *src, *v;
	const char *type, *stype;
	char sub[256];
	enum mg_err rc;

	if (!json_object_is_type(b, json_type_object))
		return WALK_FAIL(w, "%s: expected a content block object", path);
	t = field(b, "type");
	type = is_string(t) ? json_object_get_string(t) : NULL;

	if (streq(type, "text")) {
		rc = mask_string_field(w, b, "text", path);
		v = field(b, "citations");
		if (rc == MG_OK && v != NULL)
			rc = xform_generic(w, v);
		return rc;
	}
	if (streq(type, "tool_use") || streq(type, "server_tool_use") ||
	    streq(type, "mcp_tool_use")) {
		v = field(b, "input");
		return v != NULL ? xform_all_strings(w, v) : MG_OK;
	}
	if (streq(type, "tool_result") || streq(type, "mcp_tool_result")) {
		v = field(b, "content");
		if (v == NULL)
			return MG_OK;
		pathf(sub, sizeof(sub), "%s.content", path);
		return mask_content(w, v, sub);
	}
	if (streq(type, "thinking"))
		return mask_string_field(w, b, "thinking", path);	/* never signature */
	if (streq(type, "redacted_thinking") || streq(type, "image"))
		return MG_OK;
	if (streq(type, "document")) {
		rc = mask_string_field(w, b, "title", path);
		if (rc == MG_OK)
			rc = mask_string_field(w, b, "context", path);
		if (rc != MG_OK)
			return rc;
		src = field(b, "source");
		if (src == NULL)
			return MG_OK;
		if (!json_object_is_type(src, json_type_object))
			return WALK_FAIL(w, "%s.source: expected an object", path);
		t = field(src, "type");
		stype = is_string(t) ? json_object_get_string(t) : NULL;
		pathf(sub, sizeof(sub), "%s.source", path);
		if (streq(stype, "text"))
			return mask_string_field(w, src, "data", sub);
		if (streq(stype, "content")) {
			v = field(src, "content");
			if (v == NULL)
				return MG_OK;
			pathf(sub, sizeof(sub), "%s.source.content", path);
			return mask_content(w, v, sub);
		}
		if (streq(stype, "base64") || streq(stype, "url") || streq(stype, "file"))
			return MG_OK;
		return xform_generic(w, src);
	}
	/* unknown block type: fail closed */
	return xform_generic(w, b);
}

/* content: a string, or an array of content blocks. */
static enum mg_err
mask_content(struct walk *w, struct json_object *v, const char *path)
{
	char sub[256];
	enum mg_err rc = MG_OK;
	size_t i, n;

	if (is_string(v))
		return xform_string(w, v);
	if (!json_object_is_type(v, json_type_array))
		return WALK_FAIL(w, "%s: expected a string or an array of content blocks",
		    path);
	n = json_object_array_length(v);
	for (i = 0; i < n && rc == MG_OK; i++) {
		pathf(sub, sizeof(sub), "%s[%zu]", path, i);
		rc = mask_block(w, json_object_array_get_idx(v, i), sub);
	}
	return rc;
}

/*
 * Masks in place what the model reads: system, messages[].content (every
 * role), tools[].description and descriptions inside tools[].input_schema.
 * Every other top-level field stays exactly as it is.
 */
enum mg_err
jwalk_mask_request(struct json_object *root, struct arena *a,
    const struct jwalk_xform *xf, char *err, size_t errlen)
{
	struct walk w = { a, xf, { 0 }, err, errlen };
	struct json_object *v, *m, *tool;
	char path[64];
	enum mg_err rc = MG_OK;
	size_t i, n;

	buf_init(&w.out, a);
	if (!json_object_is_type(root, json_type_object))
		return WALK_FAIL(&w, "body must be a JSON object");

	v = field(root, "system");
	if (v != NULL) {
		rc = mask_content(&w, v, "system");
		if (rc != MG_OK)
			goto out;
	}
	v = field(root, "messages");
	if (v != NULL) {
		if (!json_object_is_type(v, json_type_array)) {
			rc = WALK_FAIL(&w, "messages: expected an array");
			goto out;
		}
		n = json_object_array_length(v);
		for (i = 0; i < n; i++) {
			m = json_object_array_get_idx(v, i);
			if (!json_object_is_type(m, json_type_object)) {
				rc = WALK_FAIL(&w, "messages[%zu]: expected an object", i);
				goto out;
			}
			if (field(m, "content") == NULL)
				continue;
			pathf(path, sizeof(path), "messages[%zu].content", i);
			rc = mask_content(&w, field(m, "content"), path);
			if (rc != MG_OK)
				goto out;
		}
	}
	v = field(root, "tools");
	if (v != NULL) {
		if (!json_object_is_type(v, json_type_array)) {
			rc = WALK_FAIL(&w, "tools: expected an array");
			goto out;
		}
		n = json_object_array_length(v);
		for (i = 0; i < n; i++) {
			tool = json_object_array_get_idx(v, i);
			if (!json_object_is_type(tool, json_type_object)) {
				rc = WALK_FAIL(&w, "tools[%zu]: expected an object", i);
				goto out;
			}
			pathf(path, sizeof(path), "tools[%zu]", i);
			rc = mask_string_field(&w, tool, "description", path);
			if (rc == MG_OK && field(tool, "input_schema") != NULL)
				rc = xform_schema_descriptions(&w, field(tool, "input_schema"));
			if (rc != MG_OK)
				goto out;
		}
	}
	/* the model does not read metadata, but it leaves the machine */
	v = field(root, "metadata");
	if (v != NULL)
		rc = xform_generic(&w, v);
out:
	return rc;
}

/*
 * Unmasks in place where a non-streaming response carries model output.
 * Unknown shapes are skipped: this path can only fail to restore, never leak.
 */
enum mg_err
jwalk_unmask_response(struct json_object *root, struct arena *a,
    const struct jwalk_xform *xf)
{
	struct walk w = { a, xf, { 0 }, NULL, 0 };
	struct json_object *content, *b, *t, *v;
	const char *type;
	enum mg_err rc = MG_OK;
	size_t i, n;

	buf_init(&w.out, a);
	content = field(root, "content");
	if (!json_object_is_type(content, json_type_array))
		return MG_OK;
	n = json_object_array_length(content);
	for (i = 0; i < n && rc == MG_OK; i++) {
		b = json_object_array_get_idx(content, i);
		t = field(b, "type");
		type = is_string(t) ? json_object_get_string(t) : NULL;
		if (streq(type, "text")) {
			v = field(b, "text");
			if (is_string(v))
				rc = xform_string(&w, v);
			v = field(b, "citations");
			if (rc == MG_OK && v != NULL)
				rc = xform_generic(&w, v);
		} else if (streq(type, "tool_use") || streq(type, "server_tool_use") ||
		    streq(type, "mcp_tool_use")) {
			v = field(b, "input");
			if (v != NULL)
				rc = xform_all_strings(&w, v);
		} else if (streq(type, "thinking")) {
			v = field(b, "thinking");
			if (is_string(v))
				rc = xform_string(&w, v);
		}
	}
	return rc;
}

/* Public form of the fail-closed walk; temporary buffers from a. */
enum mg_err
jwalk_xform_generic(struct json_object *v, struct arena *a, const struct jwalk_xform *xf)
{
	struct walk w = { a, xf, { 0 }, NULL, 0 };

	buf_init(&w.out, a);
	return xform_generic(&w, v);
}

/* Returns an arena copy of the deterministic serialisation, or NULL. */
char *
jwalk_serialize(struct json_object *root, struct arena *a, size_t *len)
{
	const char *s;
	size_t n = 0;
	char *copy;

	s = json_object_to_json_string_length(root,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
	if (s == NULL)
		return NULL;
	copy = arena_strndup(a, s, n);
	if (copy != NULL && len != NULL)
		*len = n;
	return copy;
}

static void
usage_field(struct json_object *usage, const char *key, long *dst)
{
	struct json_object *v = field(usage, key);

	if (json_object_is_type(v, json_type_int))
		*dst = (long)json_object_get_int64(v);
}

/* Overwrites the fields of u that usage carries. */
void
jwalk_usage_merge(struct json_object *usage, struct jwalk_usage *u)
{
	if (!json_object_is_type(usage, json_type_object))
		return;
	usage_field(usage, "input_tokens", &u->input_tokens);
	usage_field(usage, "output_tokens", &u->output_tokens);
	usage_field(usage, "cache_creation_input_tokens", &u->cache_creation_input_tokens);
	usage_field(usage, "cache_read_input_tokens", &u->cache_read_input_tokens);
}

void
jwalk_response_usage(struct json_object *root, struct jwalk_usage *u)
{
	memset(u, 0, sizeof(*u));
	jwalk_usage_merge(field(root, "usage"), u);
}

/* Borrowed from the tree. */
const char *
jwalk_get_model(struct json_object *root)
{
	struct json_object *v = field(root, "model");

	return is_string(v) ? json_object_get_string(v) : NULL;
}

/*
 * Puts n (taken over) at root[key]. json-c replaces an existing entry in
 * place, so key order and hence the serialised bytes stay stable.
 */
static enum mg_err
put_member(struct json_object *root, const char *key, struct json_object *n)
{
	if (!json_object_is_type(root, json_type_object)) {
		json_object_put(n);
		return MG_EINVAL;
	}
	if (n == NULL)
		return MG_ENOMEM;
	if (json_object_object_add(root, key, n) != 0) {
		json_object_put(n);
		return MG_ENOMEM;
	}
	return MG_OK;
}

enum mg_err
jwalk_set_model(struct json_object *root, const char *model)
{
	return put_member(root, "model", json_object_new_string(model));
}

enum mg_err
jwalk_get_max_tokens(struct json_object *root, long *out)
{
	struct json_object *v = field(root, "max_tokens");

	if (v == NULL)
		return MG_ENOTFOUND;
	if (!json_object_is_type(v, json_type_int))
		return MG_EINVAL;
	*out = (long)json_object_get_int64(v);
	return MG_OK;
}

enum mg_err
jwalk_set_max_tokens(struct json_object *root, long value)
{
	return put_member(root, "max_tokens", json_object_new_int64(value));
}
