/*
 * keys_mgmt.c - key lifecycle: generate, info, list, update, delete,
 * regenerate (with grace), block, unblock; and master-key rotation.
 *
 * Field validation is strict about types (LiteLLM clients send JSON
 * numbers, strings, arrays) and about values (negative budgets, malformed
 * durations): anything else is refused (MG_EINVAL) naming the field.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "keys.h"
#include "keys_mgmt.h"
#include "log.h"
#include "store.h"
#include "store_keys.h"

#define HEXLEN (2 * CRYPTO_HASH_LEN + 1)

static const char *const op_names[KO__MAX] = {
	"generate", "info", "list", "update", "delete", "regenerate", "block", "unblock",
};

enum keys_op
keys_op_parse(const char *name)
{
	int i;

	for (i = 0; i < KO__MAX; i++)
		if (strcmp(name, op_names[i]) == 0)
			return (enum keys_op)i;
	return KO__MAX;
}

const char *
keys_op_name(enum keys_op op)
{
	return op < KO__MAX ? op_names[op] : "?";
}

/* A new key: sk- + 64 hex digits from the OS random source. */
static enum mg_err
new_key(char out[3 + HEXLEN], char hash[HEXLEN], char name[16])
{
	unsigned char rnd[32], h[CRYPTO_HASH_LEN];

	if (crypto_random(rnd, sizeof(rnd)) != MG_OK)
		return MG_EIO;
	/* NOLINTNEXTLINE(bugprone-not-null-terminated-result): crypto_hex() terminates it */
	memcpy(out, "sk-", 3);
	crypto_hex(out + 3, rnd, sizeof(rnd));
	explicit_bzero(rnd, sizeof(rnd));
	if (crypto_sha256(out, strlen(out), h) != MG_OK)
		return MG_ENOMEM;
	crypto_hex(hash, h, sizeof(h));
	snprintf(name, 16, "sk-...%s", out + strlen(out) - 4);
	return MG_OK;
}

static struct json_object *
iso_or_null(long t)
{
	char buf[32];
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0)
		return NULL;
	gmtime_r(&tt, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_object_new_string(buf);
}

static struct json_object *
str_or_null(const char *s)
{
	return s != NULL ? json_object_new_string(s) : NULL;
}

static struct json_object *
long_or_null(long v)
{
	return v >= 0 ? json_object_new_int64(v) : NULL;
}

/* A stored JSON text as an object (arrays/objects), falling back to def. */
static struct json_object *
json_or(const char *text, const char *def)
{
	struct json_object *o = text != NULL ? json_tokener_parse(text) : NULL;

	return o != NULL ? o : json_tokener_parse(def);
}

/* The public view of a key (never the raw key): LiteLLM's field names. */
static struct json_object *
record_json(struct arena *a, const struct keys_record *k)
{
	struct json_object *o = json_object_new_object();
	char dur[32];

	json_object_object_add(o, "token", json_object_new_string(k->hash));
	json_object_object_add(o, "key_name", str_or_null(k->key_name));
	json_object_object_add(o, "key_alias", str_or_null(k->key_alias));
	json_object_object_add(o, "user_id", str_or_null(k->user_id));
	json_object_object_add(o, "team_id", str_or_null(k->team_id));
	json_object_object_add(o, "models", json_or(k->models, "[]"));
	json_object_object_add(o, "metadata", json_or(k->metadata, "{}"));
	json_object_object_add(o, "spend", json_object_new_double(k->spend));
	json_object_object_add(o, "max_budget", k->max_budget >= 0 ?
	    json_object_new_double(k->max_budget) : NULL);
	if (k->budget_duration > 0) {
		snprintf(dur, sizeof(dur), "%lds", k->budget_duration);
		json_object_object_add(o, "budget_duration", json_object_new_string(dur));
	} else {
		json_object_object_add(o, "budget_duration", NULL);
	}
	json_object_object_add(o, "budget_reset_at", iso_or_null(k->budget_reset_at));
	json_object_object_add(o, "rpm_limit", long_or_null(k->rpm_limit));
	json_object_object_add(o, "tpm_limit", long_or_null(k->tpm_limit));
	json_object_object_add(o, "max_parallel_requests", long_or_null(k->max_parallel_requests));
	json_object_object_add(o, "expires", iso_or_null(k->expires));
	json_object_object_add(o, "blocked", json_object_new_boolean(k->blocked));
	json_object_object_add(o, "admin", json_object_new_boolean(k->admin));
	json_object_object_add(o, "tenant", json_object_new_string(keys_tenant(a, k)));
	json_object_object_add(o, "created_at", iso_or_null(k->created_at));
	json_object_object_add(o, "updated_at", iso_or_null(k->updated_at));
	json_object_object_add(o, "created_by", str_or_null(k->created_by));
	return o;
}

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); return MG_EINVAL; } while (0)

/* A number >= 0, or JSON null (-1). Strings of digits are accepted too. */
static enum mg_err
get_amount(struct json_object *v, const char *name, double *out, char *err, size_t errlen)
{
	double d;
	char *end;

	if (v == NULL) {
		*out = -1;
		return MG_OK;
	}
	if (json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)) {
		d = json_object_get_double(v);
	} else if (json_object_is_type(v, json_type_string)) {
		errno = 0;
		d = strtod(json_object_get_string(v), &end);
		if (errno != 0 || *end != '\0' || end == json_object_get_string(v))
			FAIL("%s: must be a number", name);
	} else {
		FAIL("%s: must be a number", name);
	}
	/* cppcheck-suppress legacyUninitvar ; every branch above sets d or FAIL()s (returns) */
	if (!isfinite(d) || d < 0)
		FAIL("%s: must not be negative", name);
	*out = d;
	return MG_OK;
}

static enum mg_err
get_limit(struct json_object *v, const char *name, long *out, char *err, size_t errlen)
{
	long long l;
	char *end;

	if (v == NULL) {
		*out = -1;
		return MG_OK;
	}
	if (json_object_is_type(v, json_type_int)) {
		l = json_object_get_int64(v);
	} else if (json_object_is_type(v, json_type_string)) {
		errno = 0;
		l = strtoll(json_object_get_string(v), &end, 10);
		if (errno != 0 || *end != '\0' || end == json_object_get_string(v))
			FAIL("%s: must be an integer", name);
	} else {
		FAIL("%s: must be an integer", name);
	}
	/* cppcheck-suppress legacyUninitvar ; every branch above sets l or FAIL()s (returns) */
	if (l < 0 || l > 1000000000000LL)
		FAIL("%s: must be a non-negative integer", name);
	*out = (long)l;
	return MG_OK;
}

static enum mg_err
get_duration(struct json_object *v, const char *name, long *out, char *err, size_t errlen)
{
	long d;

	if (v == NULL) {
		*out = -1;
		return MG_OK;
	}
	if (!json_object_is_type(v, json_type_string))
		FAIL("%s: must be a duration string such as 30s, 30m, 30h or 30d", name);
	d = cfg_parse_duration(json_object_get_string(v));
	if (d <= 0)
		FAIL("%s: malformed duration %.40s (use 30s, 30m, 30h or 30d)", name,
		    json_object_get_string(v));
	*out = d;
	return MG_OK;
}

static enum mg_err
get_string(struct arena *a, struct json_object *v, const char *name, const char **out,
    char *err, size_t errlen)
{
	if (v == NULL) {
		*out = NULL;
		return MG_OK;
	}
	if (!json_object_is_type(v, json_type_string))
		FAIL("%s: must be a string", name);
	if (json_object_get_string_len(v) > 256)
		FAIL("%s: longer than 256 characters", name);
	/* "team-x\u0000evil" would silently become team-x */
	if (strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v))
		FAIL("%s: contains a NUL character", name);
	*out = arena_strdup(a, json_object_get_string(v));
	return *out != NULL ? MG_OK : MG_ENOMEM;
}

static enum mg_err
get_bool(struct json_object *v, const char *name, int *out, char *err, size_t errlen)
{
	if (json_object_is_type(v, json_type_boolean)) {
		*out = json_object_get_boolean(v);
		return MG_OK;
	}
	if (json_object_is_type(v, json_type_string)) {
		const char *s = json_object_get_string(v);
		if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0) {
			*out = s[0] == 't';
			return MG_OK;
		}
	}
	FAIL("%s: must be true or false", name);
}

/*
 * Applies every recognised field present in req onto k. Unknown fields are
 * ignored (LiteLLM has many this gateway does not use).
 */
static enum mg_err
apply_fields(struct arena *a, struct json_object *req, struct keys_record *k, long now,
    char *err, size_t errlen)
{
	struct json_object *v;
	enum mg_err rc = MG_OK;
	long l;
	double d;
	size_t i;

	if (json_object_object_get_ex(req, "models", &v)) {
		if (v == NULL) {
			k->models = "[]";
		} else if (json_object_is_type(v, json_type_array)) {
			for (i = 0; i < json_object_array_length(v); i++)
				if (!json_object_is_type(json_object_array_get_idx(v, i),
				    json_type_string))
					FAIL("models: must be an array of model names");
			k->models = arena_strdup(a, json_object_to_json_string_ext(v,
			    JSON_C_TO_STRING_PLAIN));
		} else {
			FAIL("models: must be an array of model names");
		}
	}
	if (json_object_object_get_ex(req, "metadata", &v)) {
		if (v != NULL && !json_object_is_type(v, json_type_object))
			FAIL("metadata: must be an object");
		k->metadata = v == NULL ? "{}" : arena_strdup(a, json_object_to_json_string_ext(v,
		    JSON_C_TO_STRING_PLAIN));
	}
	if (json_object_object_get_ex(req, "duration", &v)) {
		rc = get_duration(v, "duration", &l, err, errlen);
		if (rc != MG_OK)
			return rc;
		k->expires = l > 0 ? now + l : 0;
	}
	if (json_object_object_get_ex(req, "max_budget", &v)) {
		rc = get_amount(v, "max_budget", &k->max_budget, err, errlen);
		if (rc != MG_OK)
			return rc;
	}
	if (json_object_object_get_ex(req, "spend", &v)) {
		rc = get_amount(v, "spend", &d, err, errlen);
		if (rc != MG_OK)
			return rc;
		k->spend = d > 0 ? d : 0;
	}
	if (json_object_object_get_ex(req, "budget_duration", &v)) {
		rc = get_duration(v, "budget_duration", &l, err, errlen);
		if (rc != MG_OK)
			return rc;
		k->budget_duration = l;
		k->budget_reset_at = l > 0 ? now + l : 0;
	}
	if (json_object_object_get_ex(req, "rpm_limit", &v))
		rc = get_limit(v, "rpm_limit", &k->rpm_limit, err, errlen);
	if (rc == MG_OK && json_object_object_get_ex(req, "tpm_limit", &v))
		rc = get_limit(v, "tpm_limit", &k->tpm_limit, err, errlen);
	if (rc == MG_OK && json_object_object_get_ex(req, "max_parallel_requests", &v))
		rc = get_limit(v, "max_parallel_requests", &k->max_parallel_requests, err, errlen);
	if (rc == MG_OK && json_object_object_get_ex(req, "user_id", &v))
		rc = get_string(a, v, "user_id", &k->user_id, err, errlen);
	if (rc == MG_OK && json_object_object_get_ex(req, "team_id", &v))
		rc = get_string(a, v, "team_id", &k->team_id, err, errlen);
	if (rc == MG_OK && json_object_object_get_ex(req, "key_alias", &v))
		rc = get_string(a, v, "key_alias", &k->key_alias, err, errlen);
	if (rc == MG_OK && json_object_object_get_ex(req, "blocked", &v))
		rc = get_bool(v, "blocked", &k->blocked, err, errlen);
	if (rc == MG_OK && json_object_object_get_ex(req, "admin", &v))
		rc = get_bool(v, "admin", &k->admin, err, errlen);
	if (rc == MG_OK && (k->models == NULL || k->metadata == NULL))
		rc = MG_ENOMEM;
	return rc;
}

/* The target key of req ("key", LiteLLM's name) as a hash. */
static enum mg_err
target_hash(struct json_object *req, char hash[HEXLEN], char *err, size_t errlen)
{
	struct json_object *v;

	if (!json_object_object_get_ex(req, "key", &v) || !json_object_is_type(v, json_type_string))
		FAIL("key: required, the key (sk-...) or its token hash");
	if (keys_hash_arg(json_object_get_string(v), hash) != MG_OK)
		FAIL("key: must be a key (sk-...) or its 64-hex token hash");
	return MG_OK;
}

/* Loads the target; MG_ENOTFOUND when unknown (err says why on any error). */
static enum mg_err
load_target(struct store *s, struct arena *a, struct json_object *req, struct keys_record *k,
    char *err, size_t errlen)
{
	char hash[HEXLEN];
	enum mg_err rc = target_hash(req, hash, err, errlen);

	if (rc != MG_OK)
		return MG_EINVAL;
	rc = store_keys_get(s, a, hash, (long)time(NULL), k);
	if (rc == MG_ENOTFOUND) {
		snprintf(err, errlen, "key not found");
		return MG_ENOTFOUND;
	}
	if (rc != MG_OK) {
		snprintf(err, errlen, "key store unavailable (%s)", mg_strerror(rc));
		return MG_ESTORE;
	}
	return MG_OK;
}

static enum mg_err
store_failure(enum mg_err rc, char *err, size_t errlen)
{
	if (rc == MG_OK)
		return MG_OK;
	if (rc == MG_ENOTFOUND) {
		snprintf(err, errlen, "key not found");
		return MG_ENOTFOUND;
	}
	snprintf(err, errlen, "key store unavailable (%s)", mg_strerror(rc));
	return MG_ESTORE;
}

static enum mg_err
op_generate(struct store *s, struct arena *a, const char *actor, struct json_object *req,
    struct json_object **resp, char *hash_out, char *err, size_t errlen)
{
	struct keys_record k;
	char key[3 + HEXLEN], name[16];
	long now = (long)time(NULL);
	enum mg_err rc;

	memset(&k, 0, sizeof(k));
	k.models = "[]";
	k.metadata = "{}";
	k.max_budget = -1;
	k.budget_duration = k.rpm_limit = k.tpm_limit = k.max_parallel_requests = -1;
	k.created_at = k.updated_at = now;
	k.created_by = actor;
	if (apply_fields(a, req, &k, now, err, errlen) != MG_OK)
		return MG_EINVAL;
	if (new_key(key, k.hash, name) != MG_OK) {
		snprintf(err, errlen, "the OS random source failed");
		return MG_EIO;
	}
	k.key_name = name;
	snprintf(hash_out, HEXLEN, "%s", k.hash);
	rc = store_keys_insert(s, &k);
	if (rc != MG_OK)
		return store_failure(rc, err, errlen);
	*resp = record_json(a, &k);
	json_object_object_add(*resp, "key", json_object_new_string(key));
	json_object_object_add(*resp, "token_id", json_object_new_string(k.hash));
	explicit_bzero(key, sizeof(key));
	return MG_OK;
}

/* GET /key/list: page (1-based), size, user_id, team_id, key_alias. */
static enum mg_err
op_list(struct store *s, struct arena *a, struct json_object *req, struct json_object **resp,
    char *err, size_t errlen)
{
	struct store_keys_filter f;
	struct keys_record *recs;
	struct json_object *v, *arr;
	long page = 1, size = 10, total;
	size_t n, i;
	int full = 0;
	enum mg_err rc;

	memset(&f, 0, sizeof(f));
	if (json_object_object_get_ex(req, "page", &v) &&
	    (get_limit(v, "page", &page, err, errlen) != MG_OK || page < 1)) {
		snprintf(err, errlen, "page: must be an integer >= 1");
		return MG_EINVAL;
	}
	if (json_object_object_get_ex(req, "size", &v) &&
	    (get_limit(v, "size", &size, err, errlen) != MG_OK || size < 1 || size > 100)) {
		snprintf(err, errlen, "size: must be an integer from 1 to 100");
		return MG_EINVAL;
	}
	if (json_object_object_get_ex(req, "return_full_object", &v) &&
	    get_bool(v, "return_full_object", &full, err, errlen) != MG_OK)
		return MG_EINVAL;
	if ((json_object_object_get_ex(req, "user_id", &v) &&
	    get_string(a, v, "user_id", &f.user_id, err, errlen) != MG_OK) ||
	    (json_object_object_get_ex(req, "team_id", &v) &&
	    get_string(a, v, "team_id", &f.team_id, err, errlen) != MG_OK) ||
	    (json_object_object_get_ex(req, "key_alias", &v) &&
	    get_string(a, v, "key_alias", &f.key_alias, err, errlen) != MG_OK))
		return MG_EINVAL;
	f.limit = size;
	f.offset = (page - 1) * size;
	rc = store_keys_list(s, a, &f, &recs, &n, &total);
	if (rc != MG_OK)
		return store_failure(rc, err, errlen);
	arr = json_object_new_array();
	for (i = 0; i < n; i++)
		json_object_array_add(arr, full ? record_json(a, &recs[i]) :
		    json_object_new_string(recs[i].hash));
	*resp = json_object_new_object();
	json_object_object_add(*resp, "keys", arr);
	json_object_object_add(*resp, "total_count", json_object_new_int64(total));
	json_object_object_add(*resp, "current_page", json_object_new_int64(page));
	json_object_object_add(*resp, "total_pages", json_object_new_int64((total + size - 1) / size));
	return MG_OK;
}

/* POST /key/delete {"keys": [...]}: all or nothing. */
static enum mg_err
op_delete(struct store *s, struct arena *a, struct json_object *req, struct json_object **resp,
    struct buf *targets, char *err, size_t errlen)
{
	struct json_object *keys, *done;
	char hash[HEXLEN];
	size_t i, n;
	enum mg_err rc;

	(void)a;
	if (!json_object_object_get_ex(req, "keys", &keys) ||
	    !json_object_is_type(keys, json_type_array) || json_object_array_length(keys) == 0) {
		snprintf(err, errlen, "keys: required, a non-empty array of keys or token hashes");
		return MG_EINVAL;
	}
	n = json_object_array_length(keys);
	done = json_object_new_array();
	for (i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(keys, i);
		if (!json_object_is_type(e, json_type_string) ||
		    keys_hash_arg(json_object_get_string(e), hash) != MG_OK) {
			json_object_put(done);
			snprintf(err, errlen, "keys[%zu]: must be a key (sk-...) or its token hash", i);
			return MG_EINVAL;
		}
		rc = store_keys_delete(s, hash);
		if (rc != MG_OK) {
			json_object_put(done);
			return store_failure(rc, err, errlen);
		}
		buf_printf(targets, "%s%s", targets->len ? "," : "", hash);
		json_object_array_add(done, json_object_new_string(json_object_get_string(e)));
	}
	*resp = json_object_new_object();
	json_object_object_add(*resp, "deleted_keys", done);
	return MG_OK;
}

/* POST /key/regenerate {"key", "grace_period", fields...}: a new secret. */
static enum mg_err
op_regenerate(struct store *s, struct arena *a, struct json_object *req,
    struct json_object **resp, char *hash_out, char *err, size_t errlen)
{
	struct keys_record k;
	struct json_object *v;
	char key[3 + HEXLEN], name[16], newhash[HEXLEN];
	long grace = 0, now = (long)time(NULL);
	enum mg_err result;
	enum mg_err rc;

	result = load_target(s, a, req, &k, err, errlen);
	if (result != MG_OK)
		return result;
	snprintf(hash_out, HEXLEN, "%s", k.hash);
	if (json_object_object_get_ex(req, "grace_period", &v) &&
	    get_duration(v, "grace_period", &grace, err, errlen) != MG_OK)
		return MG_EINVAL;
	if (apply_fields(a, req, &k, now, err, errlen) != MG_OK)
		return MG_EINVAL;
	k.updated_at = now;
	rc = store_keys_update(s, &k);
	if (rc != MG_OK)
		return store_failure(rc, err, errlen);
	if (new_key(key, newhash, name) != MG_OK) {
		snprintf(err, errlen, "the OS random source failed");
		return MG_EIO;
	}
	rc = store_keys_rehash(s, k.hash, newhash, name, grace > 0 ? now + grace : 0);
	if (rc != MG_OK)
		return store_failure(rc, err, errlen);
	snprintf(k.hash, sizeof(k.hash), "%s", newhash);
	k.key_name = name;
	*resp = record_json(a, &k);
	json_object_object_add(*resp, "key", json_object_new_string(key));
	json_object_object_add(*resp, "token_id", json_object_new_string(newhash));
	json_object_object_add(*resp, "grace_period_until", iso_or_null(grace > 0 ? now + grace : 0));
	explicit_bzero(key, sizeof(key));
	return MG_OK;
}

/* update, block, unblock: load, change, write back, return the record. */
static enum mg_err
op_modify(struct store *s, struct arena *a, enum keys_op op, struct json_object *req,
    struct json_object **resp, char *hash_out, char *err, size_t errlen)
{
	struct keys_record k;
	long now = (long)time(NULL);
	enum mg_err result = load_target(s, a, req, &k, err, errlen);
	enum mg_err rc;

	if (result != MG_OK)
		return result;
	snprintf(hash_out, HEXLEN, "%s", k.hash);
	if (op == KO_UPDATE && apply_fields(a, req, &k, now, err, errlen) != MG_OK)
		return MG_EINVAL;
	if (op == KO_BLOCK)
		k.blocked = 1;
	else if (op == KO_UNBLOCK)
		k.blocked = 0;
	k.updated_at = now;
	rc = store_keys_update(s, &k);
	if (rc != MG_OK)
		return store_failure(rc, err, errlen);
	*resp = record_json(a, &k);
	return MG_OK;
}

enum mg_err
keys_mgmt(struct store *s, struct arena *a, enum keys_op op, const char *actor,
    struct json_object *req, struct json_object **resp, char *err, size_t errlen)
{
	char hash[HEXLEN] = "";
	struct buf targets;
	struct keys_record k;
	enum mg_err result = MG_EINVAL;
	enum mg_err rc;

	*resp = NULL;
	err[0] = '\0';
	buf_init(&targets, a);
	if (req == NULL || !json_object_is_type(req, json_type_object)) {
		snprintf(err, errlen, "request body must be a JSON object");
		return MG_EINVAL;
	}
	if (op == KO_INFO || op == KO_LIST) {
		if (op == KO_LIST)
			return op_list(s, a, req, resp, err, errlen);
		result = load_target(s, a, req, &k, err, errlen);
		if (result == MG_OK) {
			struct json_object *v;
			json_object_object_get_ex(req, "key", &v);
			*resp = json_object_new_object();
			json_object_object_add(*resp, "key", json_object_get(v));
			json_object_object_add(*resp, "info", record_json(a, &k));
		}
		return result;
	}
	rc = store_begin(s);
	if (rc != MG_OK)
		return store_failure(rc, err, errlen);
	switch (op) {
	case KO_GENERATE:
		result = op_generate(s, a, actor, req, resp, hash, err, errlen);
		break;
	case KO_DELETE:
		result = op_delete(s, a, req, resp, &targets, err, errlen);
		break;
	case KO_REGENERATE:
		result = op_regenerate(s, a, req, resp, hash, err, errlen);
		break;
	default:
		result = op_modify(s, a, op, req, resp, hash, err, errlen);
		break;
	}
	if (result == MG_OK) {
		rc = store_audit_add(s, actor, op_names[op], targets.len ? targets.data : hash,
		    "ok", NULL);
		if (rc == MG_OK)
			rc = store_commit(s);
		if (rc == MG_OK)
			return MG_OK;
		json_object_put(*resp);
		*resp = NULL;
		result = store_failure(rc, err, errlen);
	}
	store_rollback(s);
	/* refusals are audited too, outside the rolled-back transaction */
	if (store_audit_add(s, actor, op_names[op], hash[0] ? hash : NULL, "error", err) != MG_OK)
		log_warn("keys: audit of a failed %s could not be written", op_names[op]);
	return result;
}

enum mg_err
keys_master_rotate(const struct cfg *c, struct store *s, const char *actor, long grace,
    char *key_out, size_t key_outlen, char *err, size_t errlen)
{
	char key[3 + HEXLEN], hash[HEXLEN], confhash[HEXLEN], name[16], detail[96];
	unsigned char h[CRYPTO_HASH_LEN];
	long now = (long)time(NULL);
	enum mg_err rc;

	if (key_outlen < sizeof(key)) {
		snprintf(err, errlen, "internal: key buffer too small");
		return MG_EINVAL;
	}
	if (new_key(key, hash, name) != MG_OK) {
		snprintf(err, errlen, "the OS random source failed");
		return MG_EIO;
	}
	if (c->master_key != NULL) {
		if (crypto_sha256(c->master_key, strlen(c->master_key), h) != MG_OK) {
			snprintf(err, errlen, "out of memory");
			return MG_ENOMEM;
		}
		crypto_hex(confhash, h, sizeof(h));
	}
	rc = store_begin(s);
	if (rc != MG_OK) {
		snprintf(err, errlen, "cannot lock the database (%s)", mg_strerror(rc));
		return rc;
	}
	rc = store_master_rotate(s, hash, c->master_key != NULL ? confhash : NULL, now,
	    now + grace, actor);
	snprintf(detail, sizeof(detail), "previous master keys valid for %lds more", grace);
	if (rc == MG_OK)
		rc = store_audit_add(s, actor, "master_rotate", hash, "ok", detail);
	if (rc == MG_OK)
		rc = store_commit(s);
	if (rc != MG_OK) {
		store_rollback(s);
		snprintf(err, errlen, "rotation failed (%s)", mg_strerror(rc));
		explicit_bzero(key, sizeof(key));
		return rc;
	}
	snprintf(key_out, key_outlen, "%s", key);
	explicit_bzero(key, sizeof(key));
	return MG_OK;
}
