/*
 * jwt_claims.c - MASKGATE_JWT_GROUP_MODELS, "group=model|model;group=...":
 * the models a token's groups may use. A token in no mapped group gets no
 * models at all rather than every model (an empty allow-list means "all"
 * for virtual keys, which is the wrong default for a whole company's IdP).
 */
#include <string.h>

#include <json-c/json.h>

#include "jwt_claims.h"

/* 1 when the groups claim holds group. */
static int
has_group(struct json_object *groups, const char *group, size_t len)
{
	size_t i, n;

	if (json_object_is_type(groups, json_type_string))
		return strlen(json_object_get_string(groups)) == len &&
		    strncmp(json_object_get_string(groups), group, len) == 0;
	n = json_object_array_length(groups);
	for (i = 0; i < n; i++) {
		struct json_object *g = json_object_array_get_idx(groups, i);
		if (json_object_is_type(g, json_type_string) &&
		    strlen(json_object_get_string(g)) == len &&
		    strncmp(json_object_get_string(g), group, len) == 0)
			return 1;
	}
	return 0;
}

/* Appends the '|'-separated models of [p, end) to arr. */
static enum mg_err
add_models(struct json_object *arr, const char *p, const char *end)
{
	while (p < end) {
		const char *bar = memchr(p, '|', (size_t)(end - p));
		const char *stop = bar != NULL ? bar : end;
		if (stop == p)
			return MG_EINVAL;
		if (json_object_array_add(arr, json_object_new_string_len(p, (int)(stop - p))) != 0)
			return MG_ENOMEM;
		p = stop + (bar != NULL);
	}
	return MG_OK;
}

enum mg_err
jwt_claims_group_models(const struct cfg *c, struct arena *a, const char *groups_json,
    const char **models)
{
	struct json_object *groups = NULL, *arr = json_object_new_array();
	const char *p = c->jwt_group_models;
	enum mg_err rc = MG_ENOTFOUND;
	int granted = 0;

	*models = NULL;
	if (arr == NULL)
		return MG_ENOMEM;
	if (groups_json == NULL || p == NULL)
		goto out;
	groups = json_tokener_parse(groups_json);
	if (groups == NULL || (!json_object_is_type(groups, json_type_array) &&
	    !json_object_is_type(groups, json_type_string))) {
		rc = MG_EINVAL;
		goto out;
	}
	while (*p != '\0') {
		const char *semi = strchr(p, ';'), *end = semi != NULL ? semi : p + strlen(p);
		const char *eq = memchr(p, '=', (size_t)(end - p));
		if (eq == NULL || eq == p) {
			rc = MG_EINVAL;
			goto out;
		}
		if (has_group(groups, p, (size_t)(eq - p))) {
			rc = add_models(arr, eq + 1, end);
			if (rc != MG_OK)
				goto out;
			granted = 1;
		}
		p = semi != NULL ? semi + 1 : end;
	}
	rc = granted ? MG_OK : MG_ENOTFOUND;
	if (rc == MG_OK) {
		*models = arena_strdup(a, json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
		rc = *models != NULL ? MG_OK : MG_ENOMEM;
	}
out:
	json_object_put(groups);
	json_object_put(arr);
	return rc;
}
