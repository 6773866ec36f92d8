/*
 * jwalk_check.c - the shapes the Messages API types in a request (system,
 * messages and their content blocks, tools), checked before masking so
 * that a wrong shape is a 400 naming the field, not a guess. See jwalk.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "jwalk.h"

struct check {
	char *err;
	size_t errlen;
};

#define WALK_FAIL(w, ...) (mg_errf((w)->err, (w)->errlen, __VA_ARGS__), MG_EINVAL)

/* Names a place in the body for error messages; long paths are cut. */
static void __attribute__((format(printf, 3, 4)))
pathf(char *dst, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dst, n, fmt, ap);
	va_end(ap);
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

/* ---- request validation: the shapes the API types ---------------------- */

/* An optional string field: absent is fine, another type is a 400. */
static enum mg_err
check_string_field(struct check *w, struct json_object *obj, const char *key, const char *path)
{
	struct json_object *v = field(obj, key);

	if (v != NULL && !is_string(v))
		return WALK_FAIL(w, "%s.%s: expected a string", path, key);
	return MG_OK;
}

static enum mg_err check_content(struct check *w, struct json_object *v, const char *path);

/* One content block; path names it in error messages. */
static enum mg_err
check_block(struct check *w, struct json_object *b, const char *path)
{
	struct json_object *t, *src;
	const char *type;
	char sub[256];
	enum mg_err rc = MG_OK;

	if (!json_object_is_type(b, json_type_object))
		return WALK_FAIL(w, "%s: expected a content block object", path);
	t = field(b, "type");
	type = is_string(t) ? json_object_get_string(t) : NULL;
	if (streq(type, "text"))
		return check_string_field(w, b, "text", path);
	if (streq(type, "thinking"))
		return check_string_field(w, b, "thinking", path);
	if ((streq(type, "tool_result") || streq(type, "mcp_tool_result")) &&
	    field(b, "content") != NULL) {
		pathf(sub, sizeof(sub), "%s.content", path);
		return check_content(w, field(b, "content"), sub);
	}
	if (!streq(type, "document"))
		return MG_OK;
	rc = check_string_field(w, b, "title", path);
	if (rc == MG_OK)
		rc = check_string_field(w, b, "context", path);
	src = field(b, "source");
	if (rc != MG_OK || src == NULL)
		return rc;
	if (!json_object_is_type(src, json_type_object))
		return WALK_FAIL(w, "%s.source: expected an object", path);
	pathf(sub, sizeof(sub), "%s.source", path);
	t = field(src, "type");
	type = is_string(t) ? json_object_get_string(t) : NULL;
	if (streq(type, "text"))
		return check_string_field(w, src, "data", sub);
	if (streq(type, "content") && field(src, "content") != NULL) {
		pathf(sub, sizeof(sub), "%s.source.content", path);
		return check_content(w, field(src, "content"), sub);
	}
	return MG_OK;
}

/* content: a string, or an array of content blocks (null: nothing). */
static enum mg_err
check_content(struct check *w, struct json_object *v, const char *path)
{
	char sub[256];
	enum mg_err rc = MG_OK;
	size_t i, n;

	if (v == NULL || is_string(v))
		return MG_OK;
	if (!json_object_is_type(v, json_type_array))
		return WALK_FAIL(w, "%s: expected a string or an array of content blocks", path);
	n = json_object_array_length(v);
	for (i = 0; i < n && rc == MG_OK; i++) {
		pathf(sub, sizeof(sub), "%s[%zu]", path, i);
		rc = check_block(w, json_object_array_get_idx(v, i), sub);
	}
	return rc;
}

/* The request's typed fields, so that a wrong shape is a 400, not a guess. */
enum mg_err
jwalk_check_request(struct json_object *root, char *err, size_t errlen)
{
	struct check c = { err, errlen }, *w = &c;
	struct json_object *v, *m;
	char path[64];
	enum mg_err rc = MG_OK;
	size_t i, n;

	if (!json_object_is_type(root, json_type_object))
		return WALK_FAIL(w, "body must be a JSON object");
	if (field(root, "system") != NULL) {
		rc = check_content(w, field(root, "system"), "system");
		if (rc != MG_OK)
			return rc;
	}
	v = field(root, "messages");
	if (v != NULL && !json_object_is_type(v, json_type_array))
		return WALK_FAIL(w, "messages: expected an array");
	n = v != NULL ? json_object_array_length(v) : 0;
	for (i = 0; i < n && rc == MG_OK; i++) {
		m = json_object_array_get_idx(v, i);
		if (!json_object_is_type(m, json_type_object))
			return WALK_FAIL(w, "messages[%zu]: expected an object", i);
		pathf(path, sizeof(path), "messages[%zu].content", i);
		rc = check_content(w, field(m, "content"), path);
	}
	v = field(root, "tools");
	if (rc != MG_OK || v == NULL)
		return rc;
	if (!json_object_is_type(v, json_type_array))
		return WALK_FAIL(w, "tools: expected an array");
	n = json_object_array_length(v);
	for (i = 0; i < n && rc == MG_OK; i++) {
		m = json_object_array_get_idx(v, i);
		if (!json_object_is_type(m, json_type_object))
			return WALK_FAIL(w, "tools[%zu]: expected an object", i);
		pathf(path, sizeof(path), "tools[%zu]", i);
		rc = check_string_field(w, m, "description", path);
	}
	return rc;
}
