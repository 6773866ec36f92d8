/*
 * fuzz_splice.c - libFuzzer harness for byte-faithful forwarding
 * (jwalk_splice.c).
 *
 * For every body jwalk_parse accepts: mask it with a small substring table
 * (keys, strings and numbers at any depth), optionally apply the policy
 * edits the proxy makes (model alias, max_tokens clamp, members taken out
 * and added as wire.c does for Bedrock), splice, and check that
 *  - the spliced bytes parse (strictly, no duplicate keys) to exactly the
 *    masked tree;
 *  - when nothing changed, they are the client's bytes, byte for byte.
 * The first input byte picks the policy edits; the rest is the body.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "arena.h"
#include "jwalk.h"
#include "../unit/table_mask.h"

/* placeholders end in a letter so that a table entry never spells another */
static const struct table_sub table[] = {
	{ "i-0", "AWS_EC2_X" },
	{ "1234", "AWS_ACCOUNT_Y" },
	{ "\"", "AWS_QUOTE_Z" },
	{ "\xc3\xa9", "\\u00e9" },
};

static enum mg_err
t_mask(void *ctx, const char *in, size_t len, struct buf *out)
{
	(void)ctx;
	return table_mask(table, MG_NELEM(table), in, len, out);
}

static const struct jwalk_xform xmask = { t_mask, NULL, NULL };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object *root = NULL, *again = NULL;
	struct arena a;
	const char *body;
	char err[200], *out, *plain;
	size_t len, n = 0, plen = 0;
	unsigned policy;

	if (size < 1)
		return 0;
	policy = data[0];
	body = (const char *)data + 1;
	len = size - 1;
	arena_init(&a);
	if (jwalk_parse(body, len, &root, err, sizeof(err)) != MG_OK)
		goto out;
	/* untouched: the client's bytes exactly */
	plain = jwalk_splice(root, body, len, &a, &plen);
	if (plain == NULL || plen != len || memcmp(plain, body, len) != 0) {
		fprintf(stderr, "an untouched body did not come out byte for byte\n");
		abort();
	}
	if (jwalk_mask_request(root, &a, &xmask, err, sizeof(err)) != MG_OK)
		goto out;
	if ((policy & 1) && jwalk_set_model(root, "claude-alias-target") != MG_OK)
		abort();
	if ((policy & 2) && jwalk_set_max_tokens(root, 4096) != MG_OK)
		abort();
	if (policy & 4) {
		json_object_object_del(root, "model");
		json_object_object_del(root, "stream");
		json_object_object_add(root, "anthropic_version",
		    json_object_new_string("bedrock-2023-05-31"));
	}
	out = jwalk_splice(root, body, len, &a, &n);
	if (out == NULL || strlen(out) != n) {
		fprintf(stderr, "splice failed or wrote a NUL byte\n");
		abort();
	}
	if (jwalk_parse(out, n, &again, err, sizeof(err)) != MG_OK) {
		fprintf(stderr, "spliced body does not parse: %s\n%.*s\n", err, (int)n, out);
		abort();
	}
	if (!json_object_equal(root, again)) {
		fprintf(stderr, "spliced body is not the masked tree:\n%.*s\n%s\n", (int)n, out,
		    json_object_to_json_string(root));
		abort();
	}
out:
	jwalk_free(again);
	jwalk_free(root);
	arena_free(&a);
	return 0;
}
