/*
 * jwalk_fields.c - the few things the proxy reads or sets in a Messages
 * body or response besides masking: the model, max_tokens, the usage
 * counts, and the deterministic serialisation of a tree (responses; the
 * request goes up spliced, jwalk_splice.c). See jwalk.h.
 */
#include <stdint.h>
#include <string.h>

#include <json-c/json.h>

#include "jwalk.h"

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

	return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
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
