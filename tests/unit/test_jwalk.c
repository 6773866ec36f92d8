/*
 * test_jwalk.c - strict parsing, the request mask walk, the response unmask
 * walk, deterministic serialisation and the field accessors, with a small
 * table-based transform instead of the masking engine.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "th.h"
#include "arena.h"
#include "jwalk.h"
#include "table_mask.h"

/* ---- test transforms: plain substring tables ---- */

static const struct table_sub mask_table[] = {
	{ "i-0abc", "AWS_EC2_001" },
	{ "123456789012", "AWS_ACCOUNT_001" },
};

static const struct table_sub unmask_table[] = {
	{ "AWS_EC2_001", "i-0abc" },
	{ "AWS_Q_2", "q\"uo\\te" },
};

static int calls;

static enum mg_err
replace(const struct table_sub *t, size_t n, const char *in, size_t len, struct buf *out)
{
	calls++;
	return table_mask(t, n, in, len, out);
}

static enum mg_err
t_mask(void *ctx, const char *in, size_t len, struct buf *out)
{
	(void)ctx;
	return replace(mask_table, MG_NELEM(mask_table), in, len, out);
}

static enum mg_err
t_unmask(void *ctx, const char *in, size_t len, struct buf *out)
{
	(void)ctx;
	return replace(unmask_table, MG_NELEM(unmask_table), in, len, out);
}

static enum mg_err
t_blocked(void *ctx, const char *in, size_t len, struct buf *out)
{
	(void)ctx;
	if (memmem(in, len, "BLOCKME", 7) != NULL)
		return MG_EBLOCKED;
	return buf_append(out, in, len);
}

static const struct jwalk_xform xmask = { t_mask, NULL, NULL };
static const struct jwalk_xform xunmask = { t_unmask, NULL, NULL };
static const struct jwalk_xform xblocked = { t_blocked, NULL, NULL };

/* Parses, masks and serialises body; returns an arena string or NULL. */
static const char *
masked(struct arena *a, const char *body, enum mg_err *rcp, char *err, size_t errlen)
{
	struct json_object *root = NULL;
	enum mg_err rc;
	char *s = NULL;

	rc = jwalk_parse(body, strlen(body), &root, err, errlen);
	if (rc == MG_OK)
		rc = jwalk_mask_request(root, a, &xmask, err, errlen);
	if (rc == MG_OK)
		s = jwalk_serialize(root, a, NULL);
	jwalk_free(root);
	if (rcp != NULL)
		*rcp = rc;
	return s;
}

static void
parse_expect(const char *body, size_t len, enum mg_err want, const char *msg_part,
    const char *name)
{
	struct json_object *root = NULL;
	char err[200] = "";
	enum mg_err rc;

	rc = jwalk_parse(body, len, &root, err, sizeof(err));
	TH_OK(rc == want && (msg_part == NULL || strstr(err, msg_part) != NULL) &&
	    (rc == MG_OK) == (root != NULL), "parse: %s (rc %d, \"%s\")", name, rc, err);
	jwalk_free(root);
}

#define PARSE(body, want, part, name) parse_expect(body, sizeof(body) - 1, want, part, name)

static void
test_parse(void)
{
	PARSE("{\"a\":1}", MG_OK, NULL, "small object");
	PARSE(" \n{\"a\":[1,{\"b\":null}]}\n ", MG_OK, NULL, "surrounding whitespace");
	PARSE("", MG_EINVAL, "body is empty", "empty body");
	PARSE("{\"a\":}", MG_EINVAL, "not valid JSON at offset 5", "syntax error with offset");
	PARSE("{\"a\":1", MG_EINVAL, "ends early", "truncated");
	PARSE("{\"a\":1} x", MG_EINVAL, "not valid JSON", "trailing garbage");
	PARSE("{\"a\":1}\0", MG_EINVAL, "trailing", "trailing NUL byte");
	PARSE("{\"a\":1}{}", MG_EINVAL, "not valid JSON", "two documents");
	PARSE("[1,2]", MG_EINVAL, "must be a JSON object", "top-level array");
	PARSE("\"s\"", MG_EINVAL, "must be a JSON object", "top-level string");
	PARSE("{\"a\":'x'}", MG_EINVAL, "not valid JSON", "single quotes");
	PARSE("{\"a\":1,}", MG_EINVAL, "not valid JSON", "trailing comma");
	PARSE("{\"a\":01}", MG_EINVAL, "not valid JSON", "leading zero");
	PARSE("{\"a\":NaN}", MG_EINVAL, "not valid JSON", "NaN");
	PARSE("{\"a\":Infinity}", MG_EINVAL, "not valid JSON", "Infinity");
	PARSE("{\"a\":1}/*c*/", MG_EINVAL, "not valid JSON", "comment");
	PARSE("{\"a\":\"\xff\"}", MG_EINVAL, "invalid UTF-8 at offset 6", "byte 0xff");
	PARSE("{\"a\":\"\xc0\xaf\"}", MG_EINVAL, "invalid UTF-8", "overlong 2-byte");
	PARSE("{\"a\":\"\xe0\x80\xaf\"}", MG_EINVAL, "invalid UTF-8", "overlong 3-byte");
	PARSE("{\"a\":\"\xf0\x80\x80\xaf\"}", MG_EINVAL, "invalid UTF-8", "overlong 4-byte");
	PARSE("{\"a\":\"\xed\xa0\x80\"}", MG_EINVAL, "invalid UTF-8", "UTF-8 encoded surrogate");
	PARSE("{\"a\":\"\xf4\x90\x80\x80\"}", MG_EINVAL, "invalid UTF-8", "past U+10FFFF");
	PARSE("{\"a\":\"\xe2\x82\"}", MG_EINVAL, "invalid UTF-8", "truncated sequence");
	PARSE("{\"a\":\"\xe2\x82\xac \xf0\x9f\x98\x80\"}", MG_OK, NULL, "valid multibyte UTF-8");
	PARSE("{\"a\":\"\\ud800\"}", MG_EINVAL, "surrogate escape at offset 6", "lone high surrogate");
	PARSE("{\"a\":\"\\udc00\"}", MG_EINVAL, "surrogate", "lone low surrogate");
	PARSE("{\"a\":\"\\ud800\\u0041\"}", MG_EINVAL, "surrogate", "high surrogate + non-low");
	PARSE("{\"a\":\"\\ud83d\\ude00 \\\\ud800\"}", MG_OK, NULL, "valid pair; escaped backslash");
	PARSE("{\"a\\u0000b\":1}", MG_EINVAL, "\\u0000", "key with NUL");
	PARSE("{\"a\":\"x\\u0000y\"}", MG_OK, NULL, "value with NUL");
	PARSE("{\"a\":123456789012345678901234}", MG_EINVAL, "cannot be forwarded exactly", "int past uint64");
	PARSE("{\"a\":-9223372036854775809}", MG_EINVAL, "exactly", "int below int64");
	PARSE("{\"a\":-0}", MG_OK, NULL, "-0 (forwarded with its spelling)");
	PARSE("{\"a\":1,\"a\":2}", MG_EINVAL, "duplicate object key", "duplicate key");
	PARSE("{\"a\":1,\"b\":{\"c\":[{\"d\":1,\"d\":1}]}}", MG_EINVAL,
	    "duplicate object key in the object at offset 17", "duplicate key, nested");
	PARSE("{\"a\":1,\"\\u0061\":2}", MG_EINVAL, "duplicate", "duplicate key spelled with an escape");
	PARSE("{\"a\":{\"x\":1},\"b\":{\"x\":1}}", MG_OK, NULL, "same key in two objects");
	PARSE("{\"a\":[18446744073709551615,-9223372036854775808]}", MG_OK, NULL, "64-bit limits");

	{
		char body[400];
		int d;
		for (d = 60; d <= 66; d++) {
			size_t n = 0;
			int k;
			n += (size_t)snprintf(body + n, sizeof(body) - n, "{\"a\":");
			for (k = 1; k < d; k++)
				body[n++] = '[';
			for (k = 1; k < d; k++)
				body[n++] = ']';
			body[n++] = '}';
			if (d == 64)
				parse_expect(body, n, MG_OK, NULL, "nesting 64 accepted");
			if (d == 65)
				parse_expect(body, n, MG_EINVAL, "nesting deeper than 64", "nesting 65 refused");
		}
	}
}

static void
test_roundtrip(struct arena *a)
{
	static const char body[] = "{\"z\":1,\"a\":0.7,\"m\":1e3,\"b\":12345678901234567890,"
	    "\"c\":-9223372036854775808,\"d\":1.50,\"e\":-0.0,\"f\":1E400,\"g\":2.5e-7,"
	    "\"h\":[true,false,null],\"i\":\"/path\\u00e9\\n\\\"q\\\"\",\"j\":{}}";
	static const char want[] = "{\"z\":1,\"a\":0.7,\"m\":1e3,\"b\":12345678901234567890,"
	    "\"c\":-9223372036854775808,\"d\":1.50,\"e\":-0.0,\"f\":1E400,\"g\":2.5e-7,"
	    "\"h\":[true,false,null],\"i\":\"/path\xc3\xa9\\n\\\"q\\\"\",\"j\":{}}";
	struct json_object *root = NULL, *again = NULL;
	const char *s1, *s2, *s3 = NULL;
	size_t len = 0;

	jwalk_parse(body, sizeof(body) - 1, &root, NULL, 0);
	s1 = jwalk_serialize(root, a, &len);
	TH_STREQ(s1, want, "numbers, key order and strings round trip");
	TH_OK(s1 != NULL && len == strlen(s1), "serialize returns the length");
	s2 = jwalk_serialize(root, a, NULL);
	TH_STREQ(s1, s2, "serialising twice is byte-identical");
	if (s1 != NULL && jwalk_parse(s1, strlen(s1), &again, NULL, 0) == MG_OK)
		s3 = jwalk_serialize(again, a, NULL);
	TH_STREQ(s1, s3, "parse(serialise(x)) serialises the same");
	jwalk_free(root);
	jwalk_free(again);
}

/*
 * A Claude-Code-shaped request touching every place a value can stand:
 * everything is masked except the opaque base64 blobs (signature,
 * redacted_thinking data, base64 source data, encrypted_content), which
 * hold "123456789012" inside their base64 to prove they are not scanned.
 */
static const char req[] =
    "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":64000,\"stream\":true,\"system\":[{\"type\":\"text\",\"te"
    "xt\":\"acct 123456789012\",\"cache_control\":{\"type\":\"ephemeral\",\"i-0abc\":\"i-0abc\"}}],\"messages"
    "\":[{\"role\":\"user\",\"content\":\"plain i-0abc\"},{\"role\":\"system\",\"content\":[{\"type\":\"text\",\"te"
    "xt\":\"sys i-0abc\"}]},{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\",\"thinking\":\"think i-"
    "0abc\",\"signature\":\"EqQB123456789012\"},{\"type\":\"redacted_thinking\",\"data\":\"EqQB123456789012"
    "\"},{\"type\":\"text\",\"text\":\"said i-0abc\",\"citations\":[{\"type\":\"char_location\",\"cited_text\":\""
    "i-0abc\",\"document_index\":0,\"url\":\"https://i-0abc/\"}]},{\"type\":\"tool_use\",\"id\":\"toolu_i-0ab"
    "c\",\"name\":\"Bash\",\"input\":{\"command\":\"aws ec2 describe-instances --instance-ids i-0abc\",\"i-"
    "0abc\":[\"i-0abc\",1.5,{\"deep\":\"x i-0abc\",\"type\":\"i-0abc\"}],\"n\":null},\"extra\":\"i-0abc\"}]},{\"r"
    "ole\":\"user\",\"extra_message_field\":\"i-0abc\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":"
    "\"toolu_i-0abc\",\"content\":\"out i-0abc\"},{\"type\":\"tool_result\",\"tool_use_id\":\"t2\",\"is_error\""
    ":false,\"content\":[{\"type\":\"text\",\"text\":\"blk i-0abc\"},{\"type\":\"image\",\"source\":{\"type\":\"ba"
    "se64\",\"media_type\":\"image/png\",\"data\":\"EqQB123456789012\"}}]},{\"type\":\"image\",\"source\":{\"ty"
    "pe\":\"url\",\"url\":\"https://x/i-0abc.png\"}},{\"type\":\"document\",\"title\":\"t i-0abc\",\"context\":\""
    "c i-0abc\",\"source\":{\"type\":\"text\",\"media_type\":\"text/plain\",\"data\":\"doc i-0abc\"}},{\"type\":"
    "\"document\",\"source\":{\"type\":\"content\",\"content\":[{\"type\":\"text\",\"text\":\"dc i-0abc\"}]}},{\"t"
    "ype\":\"document\",\"source\":{\"type\":\"base64\",\"media_type\":\"application/pdf\",\"data\":\"EqQB12345"
    "6789012\"}},{\"type\":\"future_block\",\"id\":\"i-0abc\",\"name\":\"i-0abc\",\"body\":\"fb i-0abc\",\"nested"
    "\":{\"type\":\"note\",\"note\":[\"i-0abc\"]},\"encrypted_content\":\"EqQB123456789012\"}]}],\"tools\":[{\""
    "name\":\"Bash_i-0abc\",\"description\":\"Run i-0abc\",\"input_schema\":{\"type\":\"object\",\"properties"
    "\":{\"command\":{\"type\":\"string\",\"description\":\"cmd i-0abc\",\"enum\":[\"i-0abc\"],\"default\":\"i-0a"
    "bc\",\"examples\":[\"i-0abc\"],\"title\":\"i-0abc\"},\"i-0abc\":{\"type\":\"string\",\"description\":\"prop "
    "i-0abc\"}},\"required\":[\"i-0abc\"]}}],\"tool_choice\":{\"type\":\"tool\",\"name\":\"Bash_i-0abc\"},\"sto"
    "p_sequences\":[\"i-0abc\"],\"mcp_servers\":[{\"type\":\"url\",\"url\":\"https://i-0abc.example/sse\",\"n"
    "ame\":\"srv\",\"authorization_token\":\"tok i-0abc\"}],\"container\":\"i-0abc\",\"output_format\":{\"typ"
    "e\":\"json_schema\",\"schema\":{\"i-0abc\":1}},\"metadata\":{\"user_id\":\"i-0abc\",\"i-0abc\":\"x\"},\"cont"
    "ext_management\":{\"x\":[1e3,\"i-0abc\"]},\"unknown_top\":\"i-0abc\"}";

static const char req_masked[] =
    "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":64000,\"stream\":true,\"system\":[{\"type\":\"text\",\"te"
    "xt\":\"acct AWS_ACCOUNT_001\",\"cache_control\":{\"type\":\"ephemeral\",\"AWS_EC2_001\":\"AWS_EC2_001\""
    "}}],\"messages\":[{\"role\":\"user\",\"content\":\"plain AWS_EC2_001\"},{\"role\":\"system\",\"content\":["
    "{\"type\":\"text\",\"text\":\"sys AWS_EC2_001\"}]},{\"role\":\"assistant\",\"content\":[{\"type\":\"thinkin"
    "g\",\"thinking\":\"think AWS_EC2_001\",\"signature\":\"EqQB123456789012\"},{\"type\":\"redacted_thinki"
    "ng\",\"data\":\"EqQB123456789012\"},{\"type\":\"text\",\"text\":\"said AWS_EC2_001\",\"citations\":[{\"typ"
    "e\":\"char_location\",\"cited_text\":\"AWS_EC2_001\",\"document_index\":0,\"url\":\"https://AWS_EC2_00"
    "1/\"}]},{\"type\":\"tool_use\",\"id\":\"toolu_AWS_EC2_001\",\"name\":\"Bash\",\"input\":{\"command\":\"aws e"
    "c2 describe-instances --instance-ids AWS_EC2_001\",\"AWS_EC2_001\":[\"AWS_EC2_001\",1.5,{\"deep\""
    ":\"x AWS_EC2_001\",\"type\":\"AWS_EC2_001\"}],\"n\":null},\"extra\":\"AWS_EC2_001\"}]},{\"role\":\"user\","
    "\"extra_message_field\":\"AWS_EC2_001\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_"
    "AWS_EC2_001\",\"content\":\"out AWS_EC2_001\"},{\"type\":\"tool_result\",\"tool_use_id\":\"t2\",\"is_err"
    "or\":false,\"content\":[{\"type\":\"text\",\"text\":\"blk AWS_EC2_001\"},{\"type\":\"image\",\"source\":{\"t"
    "ype\":\"base64\",\"media_type\":\"image/png\",\"data\":\"EqQB123456789012\"}}]},{\"type\":\"image\",\"sour"
    "ce\":{\"type\":\"url\",\"url\":\"https://x/AWS_EC2_001.png\"}},{\"type\":\"document\",\"title\":\"t AWS_EC"
    "2_001\",\"context\":\"c AWS_EC2_001\",\"source\":{\"type\":\"text\",\"media_type\":\"text/plain\",\"data\":"
    "\"doc AWS_EC2_001\"}},{\"type\":\"document\",\"source\":{\"type\":\"content\",\"content\":[{\"type\":\"text"
    "\",\"text\":\"dc AWS_EC2_001\"}]}},{\"type\":\"document\",\"source\":{\"type\":\"base64\",\"media_type\":\"a"
    "pplication/pdf\",\"data\":\"EqQB123456789012\"}},{\"type\":\"future_block\",\"id\":\"AWS_EC2_001\",\"nam"
    "e\":\"AWS_EC2_001\",\"body\":\"fb AWS_EC2_001\",\"nested\":{\"type\":\"note\",\"note\":[\"AWS_EC2_001\"]},\""
    "encrypted_content\":\"EqQB123456789012\"}]}],\"tools\":[{\"name\":\"Bash_AWS_EC2_001\",\"description"
    "\":\"Run AWS_EC2_001\",\"input_schema\":{\"type\":\"object\",\"properties\":{\"command\":{\"type\":\"strin"
    "g\",\"description\":\"cmd AWS_EC2_001\",\"enum\":[\"AWS_EC2_001\"],\"default\":\"AWS_EC2_001\",\"example"
    "s\":[\"AWS_EC2_001\"],\"title\":\"AWS_EC2_001\"},\"AWS_EC2_001\":{\"type\":\"string\",\"description\":\"pr"
    "op AWS_EC2_001\"}},\"required\":[\"AWS_EC2_001\"]}}],\"tool_choice\":{\"type\":\"tool\",\"name\":\"Bash_"
    "AWS_EC2_001\"},\"stop_sequences\":[\"AWS_EC2_001\"],\"mcp_servers\":[{\"type\":\"url\",\"url\":\"https:/"
    "/AWS_EC2_001.example/sse\",\"name\":\"srv\",\"authorization_token\":\"tok AWS_EC2_001\"}],\"containe"
    "r\":\"AWS_EC2_001\",\"output_format\":{\"type\":\"json_schema\",\"schema\":{\"AWS_EC2_001\":1}},\"metada"
    "ta\":{\"user_id\":\"AWS_EC2_001\",\"AWS_EC2_001\":\"x\"},\"context_management\":{\"x\":[1e3,\"AWS_EC2_00"
    "1\"]},\"unknown_top\":\"AWS_EC2_001\"}";

static void
test_mask_request(struct arena *a)
{
	char err[200];
	enum mg_err rc;
	const char *s, *s2;

	s = masked(a, req, &rc, err, sizeof(err));
	TH_OK(rc == MG_OK, "Claude-Code-shaped request masks (rc %d %s)", rc, rc ? err : "");
	TH_STREQ(s, req_masked, "every string masked (keys, ids, names, urls, unknown fields), opaque blobs untouched");
	if (s != NULL && strcmp(s, req_masked) != 0)
		printf("# got:  %s\n# want: %s\n", s, req_masked);
	s2 = masked(a, req, &rc, err, sizeof(err));
	TH_STREQ(s, s2, "masking the same body twice gives byte-identical output");
	s2 = masked(a, req_masked, &rc, err, sizeof(err));
	TH_STREQ(s2, req_masked, "masking masked output changes nothing");

	s = masked(a, "{\"system\":\"sys i-0abc\",\"messages\":[]}", &rc, err, sizeof(err));
	TH_STREQ(s, "{\"system\":\"sys AWS_EC2_001\",\"messages\":[]}", "system as a string");
	s = masked(a, "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"x\"}]}]}",
	    &rc, err, sizeof(err));
	TH_OK(rc == MG_OK, "tool_result without content is fine");
	s = masked(a, "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"no type i-0abc\"}]}]}",
	    &rc, err, sizeof(err));
	TH_STREQ(s, "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"no type AWS_EC2_001\"}]}]}",
	    "block without a type: fail closed, masked");
}

static void
wrong_type(struct arena *a, const char *body, const char *part, const char *name)
{
	char err[200] = "";
	enum mg_err rc;

	masked(a, body, &rc, err, sizeof(err));
	TH_OK(rc == MG_EINVAL && strstr(err, part) != NULL, "wrong type: %s (\"%s\")", name, err);
}

static void
test_wrong_types(struct arena *a)
{
	struct json_object *root = NULL;
	char err[200] = "";
	enum mg_err rc;

	wrong_type(a, "{\"messages\":{}}", "messages: expected an array", "messages object");
	wrong_type(a, "{\"messages\":[1]}", "messages[0]: expected an object", "message a number");
	wrong_type(a, "{\"messages\":[{\"role\":\"user\",\"content\":5}]}",
	    "messages[0].content: expected a string or an array", "content a number");
	wrong_type(a, "{\"messages\":[{\"role\":\"user\",\"content\":[\"x\"]}]}",
	    "messages[0].content[0]: expected a content block", "block a string");
	wrong_type(a, "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":1}]}]}",
	    "messages[0].content[0].text: expected a string", "text a number");
	wrong_type(a, "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"content\":{}}]}]}",
	    "messages[0].content[0].content: expected", "tool_result content an object");
	wrong_type(a, "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"thinking\",\"thinking\":[]}]}]}",
	    "thinking: expected a string", "thinking an array");
	wrong_type(a, "{\"system\":7}", "system: expected", "system a number");
	wrong_type(a, "{\"tools\":\"x\"}", "tools: expected an array", "tools a string");
	wrong_type(a, "{\"tools\":[{\"name\":\"a\",\"description\":3}]}",
	    "tools[0].description: expected a string", "description a number");
	wrong_type(a, "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"document\",\"source\":\"x\"}]}]}",
	    "source: expected an object", "document source a string");

	{
		static const char nulls[] = "{\"system\":null,\"messages\":[{\"role\":\"user\",\"content\":null}],\"tools\":null}";
		const char *s = masked(a, nulls, &rc, err, sizeof(err));
		TH_STREQ(s, nulls, "null system, content, tools: nothing to mask, left as is");
	}
	static const char blocked[] = "{\"messages\":[{\"role\":\"user\",\"content\":\"ok BLOCKME\"}]}";
	jwalk_parse(blocked, strlen(blocked), &root, NULL, 0);
	rc = jwalk_mask_request(root, a, &xblocked, err, sizeof(err));
	TH_OK(rc == MG_EBLOCKED, "transform error is returned unchanged");
	jwalk_free(root);
}

/*
 * A keyed transform: knows two values that only their key makes masked,
 * like the context rules (a secret after its name, an account id after
 * AccountId), and logs the keys it was given.
 */
static char keys_seen[512];

static enum mg_err
t_keyed(void *ctx, const char *key, size_t keylen, const char *in, size_t len, struct buf *out)
{
	size_t n = strlen(keys_seen);

	(void)ctx;
	snprintf(keys_seen + n, sizeof(keys_seen) - n, "%.*s;", (int)keylen, key);
	if (keylen == 21 && memcmp(key, "aws_secret_access_key", 21) == 0 && len == 11 &&
	    memcmp(in, "SECRETVALUE", 11) == 0)
		return buf_appends(out, "AWS_SECRET_KEY_001");
	if (keylen >= 9 && strncmp(key, "AccountId", 9) == 0 && len == 12 &&
	    memcmp(in, "483920175634", 12) == 0)
		return buf_appends(out, "AWS_ACCOUNT_002");
	return replace(mask_table, MG_NELEM(mask_table), in, len, out);
}

static const struct jwalk_xform xkeyed = { t_mask, NULL, t_keyed };

static const char *
masked_keyed(struct arena *a, const char *body, enum mg_err *rcp, char *err, size_t errlen)
{
	struct json_object *root = NULL;
	enum mg_err rc;
	char *s = NULL;

	rc = jwalk_parse(body, strlen(body), &root, err, errlen);
	if (rc == MG_OK)
		rc = jwalk_mask_request(root, a, &xkeyed, err, errlen);
	if (rc == MG_OK)
		s = jwalk_serialize(root, a, NULL);
	jwalk_free(root);
	*rcp = rc;
	return s;
}

#define KEYED(body, want, name) do { \
	enum mg_err rc_; char err_[200] = ""; \
	const char *s_ = masked_keyed(a, body, &rc_, err_, sizeof(err_)); \
	TH_STREQ(s_, want, "keyed: %s", name); \
	if (s_ == NULL || strcmp(s_, want) != 0) printf("# got %s (%s)\n", s_ ? s_ : "NULL", err_); \
} while (0)

/* Route 4: a key is context for its value, strings and numbers alike. */
static void
test_keys_as_context(struct arena *a)
{
	KEYED("{\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"toolu_1\","
	    "\"name\":\"x\",\"input\":{\"aws_secret_access_key\":\"SECRETVALUE\",\"AccountId\":\"483920175634\"}}]}]}",
	    "{\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"toolu_1\","
	    "\"name\":\"x\",\"input\":{\"aws_secret_access_key\":\"AWS_SECRET_KEY_001\",\"AccountId\":\"AWS_ACCOUNT_002\"}}]}]}",
	    "tool_use.input strings under their keys");
	KEYED("{\"metadata\":{\"AccountId\":483920175634,\"AccountIds\":[483920175634,7],\"n\":483920175634}}",
	    "{\"metadata\":{\"AccountId\":\"AWS_ACCOUNT_002\",\"AccountIds\":[\"AWS_ACCOUNT_002\",7],\"n\":483920175634}}",
	    "numbers: masked to a placeholder string with their key (arrays inherit it)");
	KEYED("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"x_future\",\"env\":[{\"name\":"
	    "\"aws_secret_access_key\",\"value\":\"SECRETVALUE\"}]}]}]}",
	    "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"x_future\",\"env\":[{\"name\":"
	    "\"aws_secret_access_key\",\"value\":\"AWS_SECRET_KEY_001\"}]}]}]}",
	    "{name, value} pairs: the name is the value's key, in unknown blocks too");
	KEYED("{\"tools\":[{\"name\":\"t\",\"input_schema\":{\"type\":\"object\",\"properties\":{\"AccountId\":"
	    "{\"type\":\"string\",\"default\":\"483920175634\",\"enum\":[\"483920175634\"],\"examples\":[483920175634]}}}}]}",
	    "{\"tools\":[{\"name\":\"t\",\"input_schema\":{\"type\":\"object\",\"properties\":{\"AccountId\":"
	    "{\"type\":\"string\",\"default\":\"AWS_ACCOUNT_002\",\"enum\":[\"AWS_ACCOUNT_002\"],\"examples\":[\"AWS_ACCOUNT_002\"]}}}}]}",
	    "input_schema default, enum, examples take the property name as context");
	keys_seen[0] = '\0';
	KEYED("{\"system\":\"s\",\"x\":{\"k\":[\"v\"]}}", "{\"system\":\"s\",\"x\":{\"k\":[\"v\"]}}",
	    "nothing to mask: unchanged");
	TH_STREQ(keys_seen, "system;k;", "every value went through the keyed transform with its key");
}

/* A value the API routes by, or a blob, that would need masking: 400 naming it. */
static void
refused(struct arena *a, const char *body, const char *path)
{
	char err[300] = "";
	enum mg_err rc;

	masked(a, body, &rc, err, sizeof(err));
	TH_OK(rc == MG_EINVAL && strstr(err, path) != NULL && strstr(err, "cannot be masked") != NULL,
	    "refused, naming %s (\"%s\")", path, err);
}

static void
test_refusals(struct arena *a)
{
	refused(a, "{\"model\":\"claude-i-0abc\",\"messages\":[]}", "model:");
	refused(a, "{\"messages\":[{\"role\":\"user i-0abc\",\"content\":\"x\"}]}", "messages[0].role");
	refused(a, "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"i-0abc\",\"text\":\"x\"}]}]}",
	    "messages[0].content[0].type");
	refused(a, "{\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\",\"thinking\":\"t\","
	    "\"signature\":\"sig-i-0abc\"}]}]}", "messages[0].content[0].signature");
	refused(a, "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image\",\"source\":{\"type\":\"base64\","
	    "\"media_type\":\"image/png\",\"data\":\"i-0abc==\"}}]}]}", "messages[0].content[0].source.data");
	refused(a, "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image\",\"source\":{\"type\":\"base64\","
	    "\"media_type\":\"image/i-0abc\",\"data\":\"QUJD\"}}]}]}", "source.media_type");
	{
		char err[200];
		enum mg_err rc;
		const char *s = masked(a, "{\"metadata\":{\"type\":\"i-0abc\",\"role\":\"i-0abc\"},\"messages\":"
		    "[{\"role\":\"user\",\"content\":[{\"type\":\"tool_use\",\"input\":{\"type\":\"i-0abc\"}}]}]}",
		    &rc, err, sizeof(err));
		TH_STREQ(s, "{\"metadata\":{\"type\":\"AWS_EC2_001\",\"role\":\"AWS_EC2_001\"},\"messages\":"
		    "[{\"role\":\"user\",\"content\":[{\"type\":\"tool_use\",\"input\":{\"type\":\"AWS_EC2_001\"}}]}]}",
		    "type and role in free data (metadata, tool input) are masked, not refused");
		s = masked(a, "{\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\",\"thinking\":\"t\","
		    "\"signature\":\"sig-opaque-abc==\"}]}]}", &rc, err, sizeof(err));
		TH_OK(rc == MG_OK, "a signature of another shape with nothing to mask passes");
	}
}

static void
test_unmask_response(struct arena *a)
{
	static const char resp[] = "{\"id\":\"msg_AWS_EC2_001\",\"type\":\"message\",\"role\":\"assistant\","
	    "\"model\":\"claude-sonnet-4-5\",\"content\":["
	    "{\"type\":\"thinking\",\"thinking\":\"t AWS_EC2_001\",\"signature\":\"AWS_EC2_001\"},"
	    "{\"type\":\"text\",\"text\":\"see AWS_EC2_001 and AWS_Q_2\"},"
	    "{\"type\":\"tool_use\",\"id\":\"toolu_AWS_EC2_001\",\"name\":\"AWS_EC2_001\",\"input\":{\"command\":\"echo AWS_Q_2\",\"AWS_EC2_001\":[\"AWS_EC2_001\",3]}},"
	    "{\"type\":\"redacted_thinking\",\"data\":\"AWS_EC2_001\"}],"
	    "\"stop_reason\":\"tool_use\",\"stop_sequence\":null,"
	    "\"usage\":{\"input_tokens\":100,\"cache_creation_input_tokens\":20,\"cache_read_input_tokens\":30,\"output_tokens\":7}}";
	static const char want[] = "{\"id\":\"msg_AWS_EC2_001\",\"type\":\"message\",\"role\":\"assistant\","
	    "\"model\":\"claude-sonnet-4-5\",\"content\":["
	    "{\"type\":\"thinking\",\"thinking\":\"t i-0abc\",\"signature\":\"AWS_EC2_001\"},"
	    "{\"type\":\"text\",\"text\":\"see i-0abc and q\\\"uo\\\\te\"},"
	    "{\"type\":\"tool_use\",\"id\":\"toolu_AWS_EC2_001\",\"name\":\"AWS_EC2_001\",\"input\":{\"command\":\"echo q\\\"uo\\\\te\",\"i-0abc\":[\"i-0abc\",3]}},"
	    "{\"type\":\"redacted_thinking\",\"data\":\"AWS_EC2_001\"}],"
	    "\"stop_reason\":\"tool_use\",\"stop_sequence\":null,"
	    "\"usage\":{\"input_tokens\":100,\"cache_creation_input_tokens\":20,\"cache_read_input_tokens\":30,\"output_tokens\":7}}";
	struct json_object *root = NULL, *input, *cmd, *content;
	struct jwalk_usage u;
	enum mg_err rc;
	const char *s;

	jwalk_parse(resp, sizeof(resp) - 1, &root, NULL, 0);
	rc = jwalk_unmask_response(root, a, &xunmask, &xunmask);
	s = jwalk_serialize(root, a, NULL);
	TH_OK(rc == MG_OK, "response unmask OK");
	TH_STREQ(s, want, "text, thinking and tool_use input restored; ids, names, signature untouched");
	content = json_object_object_get(root, "content");
	input = json_object_object_get(json_object_array_get_idx(content, 2), "input");
	cmd = json_object_object_get(input, "command");
	TH_STREQ(json_object_get_string(cmd), "echo q\"uo\\te", "tool input value is the real string");
	jwalk_response_usage(root, &u);
	TH_OK(u.input_tokens == 100 && u.output_tokens == 7 && u.cache_creation_input_tokens == 20 &&
	    u.cache_read_input_tokens == 30, "usage read from the response");
	jwalk_free(root);

	{
		static const char e[] = "{\"type\":\"error\",\"error\":{\"type\":\"x\",\"message\":\"AWS_EC2_001\"}}";
		jwalk_parse(e, strlen(e), &root, NULL, 0);
	}
	TH_OK(root != NULL && jwalk_unmask_response(root, a, &xunmask, &xunmask) == MG_OK,
	    "response without content is left alone");
	jwalk_response_usage(root, &u);
	TH_OK(u.input_tokens == 0 && u.output_tokens == 0, "no usage: zeroes");
	jwalk_free(root);
}

static void
test_accessors(struct arena *a)
{
	static const char body[] = "{\"model\":\"claude-a\",\"max_tokens\":64000,\"stream\":true,\"x\":1}";
	struct json_object *root = NULL;
	long mt = 0;

	jwalk_parse(body, sizeof(body) - 1, &root, NULL, 0);
	TH_STREQ(jwalk_get_model(root), "claude-a", "get model");
	TH_OK(jwalk_get_max_tokens(root, &mt) == MG_OK && mt == 64000, "get max_tokens");
	TH_OK(jwalk_set_model(root, "claude-b") == MG_OK && jwalk_set_max_tokens(root, 8192) == MG_OK,
	    "set model and max_tokens");
	TH_STREQ(jwalk_serialize(root, a, NULL),
	    "{\"model\":\"claude-b\",\"max_tokens\":8192,\"stream\":true,\"x\":1}",
	    "set keeps key order");
	jwalk_free(root);

	{
		static const char w[] = "{\"model\":3,\"max_tokens\":\"x\",\"stream\":\"yes\"}";
		jwalk_parse(w, strlen(w), &root, NULL, 0);
	}
	TH_OK(jwalk_get_model(root) == NULL, "model not a string: NULL");
	TH_OK(jwalk_get_max_tokens(root, &mt) == MG_EINVAL, "max_tokens not an integer: MG_EINVAL");
	TH_OK(jwalk_set_model(root, "m") == MG_OK && jwalk_set_max_tokens(root, 5) == MG_OK,
	    "set over wrong types");
	TH_STREQ(jwalk_serialize(root, a, NULL), "{\"model\":\"m\",\"max_tokens\":5,\"stream\":\"yes\"}",
	    "set over wrong types keeps key order");
	jwalk_free(root);

	jwalk_parse("{}", 2, &root, NULL, 0);
	TH_OK(jwalk_get_max_tokens(root, &mt) == MG_ENOTFOUND, "max_tokens absent: MG_ENOTFOUND");
	TH_OK(jwalk_set_max_tokens(root, 10) == MG_OK && jwalk_set_model(root, "m") == MG_OK,
	    "set on absent fields adds them");
	TH_STREQ(jwalk_serialize(root, a, NULL), "{\"max_tokens\":10,\"model\":\"m\"}", "added at the end");
	jwalk_free(root);
}

/* Parses body, masks with the table, policy-edits, splices: the forwarded bytes. */
static const char *
spliced(struct arena *a, const char *body, int policy)
{
	struct json_object *root = NULL, *again = NULL;
	const char *out = NULL;
	char err[200];
	size_t n = 0;

	if (jwalk_parse(body, strlen(body), &root, err, sizeof(err)) != MG_OK ||
	    jwalk_mask_request(root, a, &xmask, err, sizeof(err)) != MG_OK)
		goto done;
	if (policy && (jwalk_set_model(root, "claude-b") != MG_OK ||
	    jwalk_set_max_tokens(root, 100) != MG_OK))
		goto done;
	out = jwalk_splice(root, body, strlen(body), a, &n);
	/* the spliced bytes parse to exactly the masked tree */
	if (out == NULL || strlen(out) != n ||
	    jwalk_parse(out, n, &again, err, sizeof(err)) != MG_OK ||
	    !json_object_equal(root, again))
		out = "(not the masked tree)";
done:
	jwalk_free(again);
	jwalk_free(root);
	return out;
}

static void
test_splice(struct arena *a)
{
	static const char pretty[] = "{\n  \"model\" : \"claude-a\",\n  \"max_tokens\": 64000 ,\n"
	    "  \"messages\": [ { \"role\": \"user\", \"content\": \"caf\\u00e9 \\/ \\ud83d\\ude00\" } ],\n"
	    "  \"temperature\": -0, \"top_p\": 1.50, \"x\": 1E2, \"n\": null, \"t\": true\n}\n";
	static const char edits[] = "{\"a\": 1, \"model\": \"m\", \"stream\": true}";
	struct json_object *root = NULL;
	char err[200];
	size_t n;

	TH_STREQ(spliced(a, pretty, 0), pretty, "splice: nothing masked: the client's bytes exactly");
	TH_STREQ(spliced(a, "{\"a\" : [ \"x i-0abc y\" ,\"\\u0041\"] }", 0),
	    "{\"a\" : [ \"x AWS_EC2_001 y\" ,\"\\u0041\"] }", "splice: only the masked literal changes");
	TH_STREQ(spliced(a, "{\"i-0abc\" :\t1, \"b\\u0020\": \"i-0abc\"}", 0),
	    "{\"AWS_EC2_001\" :\t1, \"b\\u0020\": \"AWS_EC2_001\"}", "splice: a masked key");
	TH_STREQ(spliced(a, "{\"a\": 123456789012 , \"b\":-0}", 0),
	    "{\"a\": \"AWS_ACCOUNT_001\" , \"b\":-0}", "splice: a masked number becomes a string");
	TH_STREQ(spliced(a, "{ \"model\": \"claude-a\", \"max_tokens\" : 64000, \"s\":\"\\/\"}", 1),
	    "{ \"model\": \"claude-b\", \"max_tokens\" : 100, \"s\":\"\\/\"}",
	    "splice: policy fields (model alias, max_tokens clamp) and nothing else");

	/* members taken out and added (wire.c for Bedrock) */
	jwalk_parse(edits, sizeof(edits) - 1, &root, err, sizeof(err));
	TH_OK(root != NULL, "splice: parse for member edits");
	json_object_object_del(root, "stream");
	json_object_object_add(root, "v", json_object_new_string("x"));
	{
		const char *o = jwalk_splice(root, edits, sizeof(edits) - 1, a, &n);
		struct json_object *again = NULL;
		TH_OK(o != NULL && jwalk_parse(o, n, &again, err, sizeof(err)) == MG_OK &&
		    json_object_equal(root, again), "splice: members removed and added: same tree (%s)",
		    o != NULL ? o : "NULL");
		jwalk_free(again);
	}
	json_object_object_del(root, "a");
	json_object_object_del(root, "model");
	json_object_object_del(root, "v");
	TH_STREQ(jwalk_splice(root, edits, sizeof(edits) - 1, a, &n), "{}",
	    "splice: every member removed");
	jwalk_free(root);
}

int
main(void)
{
	struct arena a;

	arena_init(&a);
	test_parse();
	test_roundtrip(&a);
	test_mask_request(&a);
	test_wrong_types(&a);
	test_keys_as_context(&a);
	test_refusals(&a);
	test_unmask_response(&a);
	test_accessors(&a);
	test_splice(&a);
	arena_free(&a);
	return th_done();
}
