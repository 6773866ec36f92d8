/*
 * jwalk_int.h - small accessors the jwalk*.c files share. Not for use
 * outside them.
 */
#ifndef MG_JWALK_INT_H
#define MG_JWALK_INT_H

#include <string.h>

#include <json-c/json.h>

/* jwalk_fields.c: obj[key], or NULL when obj is no object or has no such key */
struct json_object *jwalk_field(struct json_object *obj, const char *key);

static inline int
jwalk_is_string(struct json_object *v)
{
	return json_object_is_type(v, json_type_string);
}

static inline int
jwalk_streq(const char *a, const char *b)
{
	return a != NULL && strcmp(a, b) == 0;
}

#endif
