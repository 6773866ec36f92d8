/*
 * fuzz_jwalk.c - libFuzzer harness for the JSON request walker.
 *
 * Any input: jwalk_parse must not crash. For an accepted body:
 *  - mask walk, unmask walk, accessors and serialisation must not crash;
 *  - serialisation is deterministic and parse(serialise(x)) is stable:
 *    it parses again and serialises to the same bytes;
 *  - masking is idempotent: masking the masked body changes nothing;
 *  - nothing planted survives a walk that succeeded: no "i-0" anywhere in
 *    the serialised body (keys, numbers, unknown fields, any depth: it
 *    cannot hide in the opaque base64 blobs the walk skips, '-' is not
 *    base64), and every string or number standing under a key that
 *    contains "secret" became the secret's placeholder.
 * The transform is a small substring table (real value -> placeholder);
 * its keyed form also masks any value under a "secret" key, like the
 * context rules do.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "arena.h"
#include "jwalk.h"
#include "../unit/table_mask.h"

#define SECRET_PH "AWS_SECRET_KEY_001"

static int
secret_key(const char *key, size_t keylen)
{
	return key != NULL && memmem(key, keylen, "secret", 6) != NULL;
}

static enum mg_err
t_keyed(void *ctx, const char *key, size_t keylen, const char *in, size_t len, struct buf *out)
{
	if (secret_key(key, keylen))
		return buf_appends(out, SECRET_PH);
	return table_mask_default(ctx, in, len, out);
}

static const struct jwalk_xform xmask = { table_mask_default, NULL, t_keyed };

/* Aborts if a scalar under a "secret" key (nearest key) is not the placeholder. */
static void
check_secrets(struct json_object *v, const char *key)
{
	size_t i, n;

	switch (json_object_get_type(v)) {
	case json_type_string:
		if (secret_key(key, key != NULL ? strlen(key) : 0) &&
		    json_object_get_string_len(v) > 0 && strcmp(json_object_get_string(v), SECRET_PH) != 0) {
			fprintf(stderr, "value under %s survived: %s\n", key, json_object_get_string(v));
			abort();
		}
		return;
	case json_type_int:
	case json_type_double:
		if (secret_key(key, key != NULL ? strlen(key) : 0))
			abort();
		return;
	case json_type_array:
		n = json_object_array_length(v);
		for (i = 0; i < n; i++)
			check_secrets(json_object_array_get_idx(v, i), key);
		return;
	case json_type_object: {
		json_object_object_foreach(v, k, val)
			check_secrets(val, k);
		return;
	}
	default:
		return;
	}
}

/* Parses s, masks it (when mask), serialises; aborts if it no longer parses. */
static char *
cycle(struct arena *a, const char *s, size_t len, int mask, enum mg_err *mrc)
{
	struct json_object *root = NULL;
	char err[160];
	char *out;

	if (jwalk_parse(s, len, &root, err, sizeof(err)) != MG_OK) {
		fprintf(stderr, "serialised output does not parse: %s\n", err);
		abort();
	}
	*mrc = mask ? jwalk_mask_request(root, a, &xmask, err, sizeof(err)) : MG_OK;
	out = jwalk_serialize(root, a, NULL);
	jwalk_free(root);
	if (out == NULL)
		abort();
	return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object *root = NULL;
	struct arena a;
	struct jwalk_usage u;
	char err[160];
	char *s1, *s2, *m1, *m2;
	enum mg_err rc, mrc;
	long mt;

	arena_init(&a);
	rc = jwalk_parse((const char *)data, size, &root, err, sizeof(err));
	if (rc != MG_OK) {
		if (root != NULL || err[0] == '\0')
			abort();
		goto out;
	}
	(void)jwalk_get_model(root);
	(void)jwalk_get_max_tokens(root, &mt);
	jwalk_response_usage(root, &u);

	/* plain round trip */
	s1 = jwalk_serialize(root, &a, NULL);
	s2 = jwalk_serialize(root, &a, NULL);
	if (s1 == NULL || s2 == NULL || strcmp(s1, s2) != 0)
		abort();
	s2 = cycle(&a, s1, strlen(s1), 0, &mrc);
	if (strcmp(s1, s2) != 0) {
		fprintf(stderr, "parse(serialise(x)) not stable\n");
		abort();
	}

	/* mask walk, then idempotence of masking */
	rc = jwalk_mask_request(root, &a, &xmask, err, sizeof(err));
	(void)jwalk_unmask_response(root, &a, &xmask, &xmask);
	if (rc == MG_OK) {
		jwalk_free(root);
		root = NULL;
		m1 = cycle(&a, s1, strlen(s1), 1, &mrc);
		if (mrc != MG_OK)
			abort();
		m2 = cycle(&a, m1, strlen(m1), 1, &mrc);
		if (mrc != MG_OK || strcmp(m1, m2) != 0) {
			fprintf(stderr, "masking is not idempotent\n");
			abort();
		}
		if (strstr(m1, "i-0") != NULL) {
			fprintf(stderr, "a planted value survived: %s\n", m1);
			abort();
		}
		if (jwalk_parse(m1, strlen(m1), &root, err, sizeof(err)) != MG_OK)
			abort();
		check_secrets(root, NULL);
	} else if (rc != MG_EINVAL || err[0] == '\0')
		abort();
out:
	jwalk_free(root);
	arena_free(&a);
	return 0;
}
