/*
 * jwalk.c - the request and response walks of the messages proxy and the
 * field accessors it needs. Parsing is in jwalk_parse.c. See jwalk.h for
 * the contract.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "jwalk.h"

/*
 * A change the first phase of a two-phase walk found (jwalk_mask_request_phased):
 * a scalar's new text or an object's new keys, applied once the values
 * are resolved; provisional ones are masked again then.
 */
struct redo {
	struct json_object *v;		/* the scalar, or the object whose keys change */
	struct json_object *parent;	/* object or array holding the scalar */
	size_t idx;			/* its index when parent is an array */
	int keys;			/* 1: v's keys */
	int provisional;		/* out is not final: mask again */
	int keep;			/* enum rkeep of the scalar */
	const char *key;		/* its context key (copy), or NULL */
	const char *path;		/* its place, for error messages (copy) */
	const char *out;		/* the final text, or the keys' names */
	size_t outlen;
	const char **names;
};

/* State of one walk; out is reused for every string. */
struct walk {
	struct arena *arena;
	const struct jwalk_xform *xf;
	struct buf out;
	char *err;
	size_t errlen;
	char path[256];		/* the request walk's place, for error messages */
	size_t pathlen;
	const struct jwalk_phases *ph;	/* two-phase: first phase while collect */
	int collect;
	struct json_object *parent;	/* the container of the value being masked */
	size_t idx;
	struct redo *redo;
	size_t nredo, capredo;
};

/* Keeps a first-phase change (see struct redo); returns it, or NULL. */
static struct redo *
redo_push(struct walk *w)
{
	struct redo *r;

	if (w->nredo == w->capredo) {
		size_t ncap = w->capredo ? w->capredo * 2 : 64;
		struct redo *g = arena_alloc(w->arena, ncap * sizeof(*g));
		if (g == NULL)
			return NULL;
		if (w->nredo > 0)
			memcpy(g, w->redo, w->nredo * sizeof(*g));
		w->redo = g;
		w->capredo = ncap;
	}
	r = &w->redo[w->nredo++];
	memset(r, 0, sizeof(*r));
	return r;
}

static unsigned long
provisional_now(const struct walk *w)
{
	return w->collect ? w->ph->provisional(w->ph->ctx) : 0;
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
static enum mg_err rename_keys(struct walk *w, struct json_object *obj, const char **names);

static enum mg_err
xform_keys(struct walk *w, struct json_object *obj)
{
	struct json_object_iter it;
	const char **names;
	size_t i, n = (size_t)json_object_object_length(obj), changed = 0;
	unsigned long p0 = provisional_now(w);
	enum mg_err rc = MG_OK;

	if (n == 0)
		return MG_OK;
	names = arena_alloc(w->arena, n * sizeof(*names));
	if (names == NULL)
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
		i++;
	}
	if (w->collect && (changed > 0 || provisional_now(w) != p0)) {
		struct redo *r = redo_push(w);
		if (r == NULL)
			return MG_ENOMEM;
		r->v = obj;
		r->keys = 1;
		r->provisional = provisional_now(w) != p0;
		r->names = names;
		return MG_OK;
	}
	if (changed == 0)
		return MG_OK;
	return rename_keys(w, obj, names);
}

/* Gives the members of obj the keys names[], in order. */
static enum mg_err
rename_keys(struct walk *w, struct json_object *obj, const char **names)
{
	struct json_object_iter it;
	struct json_object **vals;
	size_t i, n = (size_t)json_object_object_length(obj);
	enum mg_err rc = MG_OK;

	/* an array of object pointers: sizeof(*vals) is meant */
	vals = arena_alloc(w->arena, (n + 1) * sizeof(*vals));	/* NOLINT(bugprone-sizeof-expression) */
	if (vals == NULL)
		return MG_ENOMEM;
	i = 0;
	json_object_object_foreachC(obj, it)
		vals[i++] = it.val;
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

/* ---- the request mask walk: every string, except a short proven list --- */

/*
 * How the walk treats a value:
 *  - API: an object the Messages API defines (blocks, sources, messages,
 *    tool definitions, and fields it does not know yet);
 *  - DATA: free data the model reads or the API stores: tool_use input,
 *    metadata, a tool's input_schema. Everything there is masked.
 */
enum rmode { RM_API, RM_DATA };

/* What masking may do to one value. */
enum rkeep {
	RK_SCAN,	/* scanned and masked like any text */
	RK_FIXED,	/* scanned; if it would change, the request is refused */
	RK_OPAQUE,	/* not scanned (an opaque blob, proven by position and shape) */
};

/* Standard base64 (A-Za-z0-9+/, '=' padding): the shape of an opaque blob. */
static int
is_base64_blob(const char *s, size_t n)
{
	size_t i, pad = 0;

	if (n == 0 || n % 4 != 0)
		return 0;
	while (pad < 2 && s[n - 1 - pad] == '=')
		pad++;
	for (i = 0; i < n - pad; i++)
		if (!(s[i] >= 'A' && s[i] <= 'Z') && !(s[i] >= 'a' && s[i] <= 'z') &&
		    !(s[i] >= '0' && s[i] <= '9') && s[i] != '+' && s[i] != '/')
			return 0;
	return 1;
}

/*
 * The values of API objects that masking leaves alone or must not change.
 * otype is the object's own "type" (as the client sent it), key the member.
 *
 * Not scanned (RK_OPAQUE), each only when it has the shape of base64:
 *  - thinking.signature, redacted_thinking.data, and every
 *    encrypted_content / encrypted_index: blobs the API minted and checks
 *    (a changed byte makes it refuse the request); the model cannot write
 *    them and a client that echoes them sends back what it received;
 *  - data of a source whose type is "base64" (image, PDF): binary, not
 *    text; masking would corrupt it, and scanning megabytes of it would only
 *    find chance matches.
 * With another shape these are scanned, and refused if they would change.
 *
 * Scanned but never changed (RK_FIXED): "type", "role" and "media_type" of
 * API objects and the top-level "model" (the API routes and validates by
 * them): if one holds an identifier, the request is refused with 400.
 *
 * Everything else is scanned and masked, including block ids, tool_use_id
 * and tool names: masking is deterministic, so a tool_use id and the
 * tool_result that answers it, or a tool's name in tools[], tool_choice and
 * tool_use, get the same placeholder and stay consistent.
 */
static enum rkeep
api_keep(const char *otype, const char *key, int top)
{
	static const char *const fixed[] = { "type", "role", "media_type" };
	size_t i;

	if ((streq(otype, "thinking") && strcmp(key, "signature") == 0) ||
	    (streq(otype, "redacted_thinking") && strcmp(key, "data") == 0) ||
	    (streq(otype, "base64") && strcmp(key, "data") == 0) ||
	    strcmp(key, "encrypted_content") == 0 || strcmp(key, "encrypted_index") == 0)
		return RK_OPAQUE;
	if (top && strcmp(key, "model") == 0)
		return RK_FIXED;
	for (i = 0; i < MG_NELEM(fixed); i++)
		if (strcmp(key, fixed[i]) == 0)
			return RK_FIXED;
	return RK_SCAN;
}

/* Members under which an API object holds free data. */
static int
data_key(const char *key)
{
	return strcmp(key, "input") == 0 || strcmp(key, "metadata") == 0 ||
	    strcmp(key, "input_schema") == 0;
}

/*
 * The key that gives context to the value of member key of obj, which
 * itself stands under ownkey:
 *  - {"name": "AWS_SECRET_ACCESS_KEY", "value": "..."} (ECS environment,
 *    CloudFormation parameters, tags): the name;
 *  - {"AccountId": {"type": "string", "default": "..."}} (a property of a
 *    tool's input_schema): the property name for default, enum, const,
 *    example(s);
 *  - else the key itself.
 */
static const char *
context_key(struct json_object *obj, const char *key, const char *ownkey)
{
	static const char *const names[] = { "name", "Name", "key", "Key", "ParameterKey",
		"OptionName" };
	static const char *const schema[] = { "default", "enum", "const", "example", "examples" };
	size_t i;

	for (i = 0; ownkey != NULL && i < MG_NELEM(schema); i++)
		if (strcmp(key, schema[i]) == 0)
			return ownkey;
	if (strcmp(key, "value") != 0 && strcmp(key, "Value") != 0 &&
	    strcmp(key, "ParameterValue") != 0)
		return key;
	for (i = 0; i < MG_NELEM(names); i++)
		if (is_string(field(obj, names[i])))
			return json_object_get_string(field(obj, names[i]));
	return key;
}

static void
path_push(struct walk *w, size_t *saved, const char *key, size_t idx)
{
	size_t n = w->pathlen;

	*saved = n;
	if (n >= sizeof(w->path) - 1)
		return;
	if (key != NULL)
		snprintf(w->path + n, sizeof(w->path) - n, "%s%s", n > 0 ? "." : "", key);
	else
		snprintf(w->path + n, sizeof(w->path) - n, "[%zu]", idx);
	w->pathlen = strlen(w->path);
}

static void
path_pop(struct walk *w, size_t saved)
{
	w->pathlen = saved;
	w->path[saved] = '\0';
}

/* Runs the transform on in[0..len) with key as context; result in w->out. */
static enum mg_err
xform_keyed(struct walk *w, const char *key, const char *in, size_t len)
{
	buf_clear(&w->out);
	if (key != NULL && w->xf->keyed != NULL)
		return w->xf->keyed(w->xf->ctx, key, strlen(key), in, len, &w->out);
	return w->xf->fn(w->xf->ctx, in, len, &w->out);
}

static int
out_differs(const struct walk *w, const char *in, size_t len)
{
	return w->out.len != len || (len > 0 && memcmp(w->out.data, in, len) != 0);
}

/* First phase: keeps v's change (w->out unless provisional) for later. */
static enum mg_err
remember(struct walk *w, struct json_object *v, const char *key, enum rkeep keep,
    int provisional)
{
	struct redo *r = redo_push(w);

	if (r == NULL)
		return MG_ENOMEM;
	r->v = v;
	r->parent = w->parent;
	r->idx = w->idx;
	r->keep = keep;
	r->provisional = provisional;
	r->key = key != NULL ? arena_strdup(w->arena, key) : NULL;
	r->path = arena_strdup(w->arena, w->path);
	if (!provisional) {
		r->out = arena_strndup(w->arena, w->out.data != NULL ? w->out.data : "", w->out.len);
		r->outlen = w->out.len;
	}
	if ((key != NULL && r->key == NULL) || r->path == NULL || (!provisional && r->out == NULL))
		return MG_ENOMEM;
	return MG_OK;
}

/*
 * Masks a string or number value v standing under key. A number whose text
 * masks to something else becomes a JSON string holding the placeholder:
 * *repl is set to the new value for the caller to put in v's place.
 */
static enum mg_err
mask_scalar(struct walk *w, struct json_object *v, const char *key, enum rkeep keep,
    struct json_object **repl)
{
	const char *in;
	size_t len;
	unsigned long p0;
	enum mg_err rc;
	int isnum = !is_string(v);

	*repl = NULL;
	if (isnum)
		in = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
	else
		in = json_object_get_string(v);
	len = isnum ? (in != NULL ? strlen(in) : 0) : (size_t)json_object_get_string_len(v);
	if (in == NULL)
		return MG_ENOMEM;
	if (keep == RK_OPAQUE && !isnum && is_base64_blob(in, len))
		return MG_OK;
	if (len == 0)
		return MG_OK;
	p0 = provisional_now(w);
	rc = xform_keyed(w, key, in, len);
	if (rc == MG_OK && w->collect && (provisional_now(w) != p0 ||
	    (out_differs(w, in, len) && keep == RK_SCAN)))
		return remember(w, v, key, keep, provisional_now(w) != p0);
	if (rc != MG_OK || !out_differs(w, in, len))
		return rc;
	if (keep != RK_SCAN)
		return WALK_FAIL(w, "%s: holds an identifier but cannot be masked without "
		    "breaking the request; remove it and retry", w->path);
	if (w->out.len > INT32_MAX)
		return MG_ETOOBIG;
	if (isnum) {
		*repl = json_object_new_string_len(w->out.data, (int)w->out.len);
		return *repl != NULL ? MG_OK : MG_ENOMEM;
	}
	if (json_object_set_string_len(v, w->out.data != NULL ? w->out.data : "",
	    (int)w->out.len) != 1)
		return MG_ENOMEM;
	return MG_OK;
}

static enum mg_err mask_value(struct walk *w, struct json_object *v, const char *key,
    enum rmode mode, enum rkeep keep, int top, struct json_object **repl);

static enum mg_err
mask_object(struct walk *w, struct json_object *obj, const char *ownkey, enum rmode mode,
    int top)
{
	struct json_object *t = field(obj, "type"), *repl;
	const char *otype = is_string(t) ? json_object_get_string(t) : NULL;
	enum mg_err rc;
	size_t saved;

	json_object_object_foreach(obj, key, val) {
		enum rmode m = mode;
		enum rkeep keep = RK_SCAN;
		if (mode == RM_API) {
			keep = api_keep(otype, key, top);
			if (data_key(key))
				m = RM_DATA;
		}
		path_push(w, &saved, key, 0);
		w->parent = obj;
		rc = mask_value(w, val, context_key(obj, key, ownkey), m, keep, 0, &repl);
		path_pop(w, saved);
		if (rc != MG_OK)
			return rc;
		if (repl != NULL && json_object_object_add(obj, key, repl) != 0)
			return MG_ENOMEM;
	}
	return xform_keys(w, obj);
}

/*
 * Masks v (standing under key, the nearest object key: array elements
 * inherit it) at any depth. A replacement for v itself (a masked number)
 * is returned in *repl.
 */
static enum mg_err
mask_value(struct walk *w, struct json_object *v, const char *key, enum rmode mode,
    enum rkeep keep, int top, struct json_object **repl)
{
	struct json_object *r;
	enum mg_err rc;
	size_t i, n, saved;

	*repl = NULL;
	switch (json_object_get_type(v)) {
	case json_type_string:
	case json_type_int:
	case json_type_double:
		return mask_scalar(w, v, key, keep, repl);
	case json_type_array:
		n = json_object_array_length(v);
		for (i = 0; i < n; i++) {
			path_push(w, &saved, NULL, i);
			w->parent = v;
			w->idx = i;
			rc = mask_value(w, json_object_array_get_idx(v, i), key, mode, keep, 0, &r);
			path_pop(w, saved);
			if (rc != MG_OK)
				return rc;
			if (r != NULL && json_object_array_put_idx(v, i, r) != 0)
				return MG_ENOMEM;
		}
		return MG_OK;
	case json_type_object:
		return mask_object(w, v, key, mode, top);
	default:
		return MG_OK;	/* null, true, false */
	}
}

/*
 * Masks the whole request in place: every string and number at any depth,
 * object keys included, with its key as context, except the values
 * api_keep() proves safe. Checks the typed fields first.
 */
enum mg_err
jwalk_mask_request(struct json_object *root, struct arena *a,
    const struct jwalk_xform *xf, char *err, size_t errlen)
{
	return jwalk_mask_request_phased(root, a, xf, NULL, err, errlen);
}

/* Puts the new scalar text out[0..n) in place of r->v. */
static enum mg_err
apply_scalar(struct walk *w, const struct redo *r, const char *out, size_t n)
{
	struct json_object *repl;
	struct json_object_iter it;

	if (n > INT32_MAX)
		return MG_ETOOBIG;
	if (is_string(r->v))
		return json_object_set_string_len(r->v, out, (int)n) == 1 ? MG_OK : MG_ENOMEM;
	/* a number that masked: a string in its place */
	repl = json_object_new_string_len(out, (int)n);
	if (repl == NULL)
		return MG_ENOMEM;
	if (json_object_is_type(r->parent, json_type_array))
		return json_object_array_put_idx(r->parent, r->idx, repl) == 0 ? MG_OK : MG_ENOMEM;
	json_object_object_foreachC(r->parent, it) {
		if (it.val == r->v)	/* by value: a key may have been renamed since */
			return json_object_object_add(r->parent, it.key, repl) == 0 ?
			    MG_OK : MG_ENOMEM;
	}
	json_object_put(repl);
	return MG_EINVAL;
}

/* Second phase: applies the first phase's changes, masking provisional ones again. */
static enum mg_err
apply_redo(struct walk *w)
{
	enum mg_err rc = MG_OK;
	size_t i;

	for (i = 0; i < w->nredo && rc == MG_OK; i++) {
		const struct redo *r = &w->redo[i];
		struct json_object *repl = NULL;
		if (r->keys) {
			rc = r->provisional ? xform_keys(w, r->v) : rename_keys(w, r->v, r->names);
			continue;
		}
		if (!r->provisional) {
			rc = apply_scalar(w, r, r->out, r->outlen);
			continue;
		}
		snprintf(w->path, sizeof(w->path), "%s", r->path);
		w->pathlen = strlen(w->path);
		rc = mask_scalar(w, r->v, r->key, (enum rkeep)r->keep, &repl);
		if (rc == MG_OK && repl != NULL) {
			rc = apply_scalar(w, r, json_object_get_string(repl),
			    (size_t)json_object_get_string_len(repl));
			json_object_put(repl);
		}
	}
	return rc;
}

enum mg_err
jwalk_mask_request_phased(struct json_object *root, struct arena *a,
    const struct jwalk_xform *xf, const struct jwalk_phases *ph, char *err, size_t errlen)
{
	struct walk w;
	enum mg_err rc;
	int again = 0;

	memset(&w, 0, sizeof(w));
	w.arena = a;
	w.xf = xf;
	w.err = err;
	w.errlen = errlen;
	w.ph = ph;
	w.collect = ph != NULL;
	buf_init(&w.out, a);
	rc = jwalk_check_request(root, err, errlen);
	if (rc != MG_OK)
		return rc;
	rc = mask_object(&w, root, NULL, RM_API, 1);
	if (rc != MG_OK || ph == NULL)
		return rc;
	w.collect = 0;
	rc = ph->resolve(ph->ctx, &again);
	if (rc != MG_OK)
		return rc;
	if (again) {
		/* the first phase could not see everything: mask from the original */
		w.nredo = 0;
		w.pathlen = 0;
		w.path[0] = '\0';
		return mask_object(&w, root, NULL, RM_API, 1);
	}
	return apply_redo(&w);
}

/*
 * Unmasks in place where a non-streaming response carries model output.
 * Unknown shapes are skipped: this path can only fail to restore, never leak.
 */
enum mg_err
jwalk_unmask_response(struct json_object *root, struct arena *a,
    const struct jwalk_xform *xf, const struct jwalk_xform *xf_tool)
{
	struct walk w = { a, xf, { 0 }, NULL, 0, "", 0, NULL, 0, NULL, 0, NULL, 0, 0 };
	struct walk wt = { a, xf_tool, { 0 }, NULL, 0, "", 0, NULL, 0, NULL, 0, NULL, 0, 0 };
	struct json_object *content, *b, *t, *v;
	const char *type;
	enum mg_err rc = MG_OK;
	size_t i, n;

	buf_init(&w.out, a);
	buf_init(&wt.out, a);
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
				rc = xform_all_strings(&wt, v);
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
	struct walk w = { a, xf, { 0 }, NULL, 0, "", 0, NULL, 0, NULL, 0, NULL, 0, 0 };

	buf_init(&w.out, a);
	return xform_generic(&w, v);
}
