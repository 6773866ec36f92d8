/*
 * test_decode.c - decoded views (JSON escapes, percent escapes, HTML
 * references, nested levels) and their map back to the original bytes,
 * base64 both ways, credential names and the `name: base64` finder.
 */
#include <stdio.h>
#include <string.h>

#include "th.h"
#include "arena.h"
#include "decode.h"

static struct arena A;

/* Decodes in; returns the view text or NULL when nothing was decoded. */
static const char *
view(const char *in, int levels, struct decode_view *v)
{
	int r = decode_view_deep(&A, in, strlen(in), levels, v);

	return r == 1 ? v->text : NULL;
}

/* The original bytes a view span came from. */
static const char *
origin(const char *in, const struct decode_view *v, size_t a, size_t b)
{
	size_t s = v->from[a], e = decode_end(v, b);

	return arena_strndup(&A, in + s, e - s);
}

static void
test_views(void)
{
	struct decode_view v;
	const char *in;

	TH_OK(view("plain text, no escapes", 3, &v) == NULL, "no escape: nothing decoded");
	TH_STREQ(view("role\\/Admin \\\"q\\\" \\u0041\\n", 1, &v), "role/Admin \"q\" A\n",
	    "JSON escapes: \\/ \\\" \\uXXXX \\n");
	TH_STREQ(view("\\ud83d\\ude00!", 1, &v), "\xf0\x9f\x98\x80!", "surrogate pair to one UTF-8 character");
	TH_STREQ(view("a%2Fb%2fc%zz%4", 1, &v), "a/b/c%zz%4", "percent escapes; broken ones stay");
	TH_STREQ(view("x&#43;y&#x2F;z&amp;&quot;&sol;&bogus;&#;", 1, &v), "x+y/z&\"/&bogus;&#;",
	    "HTML references, numeric and named; unknown ones stay");
	TH_STREQ(view("tok%252F%255C%252F", 1, &v), "tok%2F%5C%2F", "one level decodes once");
	TH_STREQ(view("tok%252F%255C%252F", 3, &v), "tok//", "three levels: %%25, then %%2F and %%5C, then \\/");
	TH_STREQ(view("%E2%82%AC&#8364;\\u20ac", 1, &v), "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac",
	    "one character three ways");

	in = "key=AB%2FCD&amp;x";
	TH_STREQ(view(in, 1, &v), "key=AB/CD&x", "view for the map");
	TH_STREQ(origin(in, &v, 4, 9), "AB%2FCD", "a span maps back to its original spelling");
	TH_STREQ(origin(in, &v, 6, 7), "%2F", "one decoded byte maps to its whole escape");
	TH_STREQ(origin(in, &v, 9, 11), "&amp;x", "reference and what follows");
	in = "\\u20acZ";
	view(in, 1, &v);
	TH_STREQ(origin(in, &v, 0, 1), "\\u20ac", "a span ending inside a multibyte character takes its escape");
	in = "a%255Cz";
	view(in, 3, &v);
	TH_OK(v.len == 3 && v.text[1] == '\\', "nested view (%s)", v.text);
	TH_STREQ(origin(in, &v, 1, 2), "%255C", "nested levels compose to the outermost spelling");
}

static void
test_base64(void)
{
	struct buf b;
	int padded = -1;
	static const char secret[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
	static const char enc[] = "d0phbHJYVXRuRkVNSS9LN01ERU5HL2JQeFJmaUNZRVhBTVBMRUtFWQ==";

	buf_init(&b, &A);
	TH_OK(decode_base64_append(&b, secret, strlen(secret), 1) == MG_OK, "encode");
	TH_STREQ(b.data, enc, "encodes like base64(1)");
	TH_OK(decode_is_base64_text(enc, strlen(enc), &padded) && padded == 1, "padded base64 of text");
	buf_clear(&b);
	TH_OK(decode_base64(enc, strlen(enc), &b) == MG_OK, "decode");
	TH_STREQ(b.data, secret, "decodes back");
	TH_OK(decode_is_base64_text("d0phbHJYVXRuRkVNSS9LN01ERU5HL2JQeFJmaUNZRVhBTVBMRUtFWQ", 54, &padded) &&
	    padded == 0, "unpadded base64 of text");
	TH_OK(!decode_is_base64_text("AAECAwQFBgcICQoLDA0ODw==", 24, &padded), "binary is not text");
	TH_OK(!decode_is_base64_text("c2hvcnQ=", 8, &padded), "under 16 characters: not worth it");
	TH_OK(!decode_is_base64_text("d0phbHJYVXRuRkVNSS9LN01ERU5HL2JQeFJm-aUNZ", 40, &padded),
	    "not the alphabet");
	TH_OK(!decode_is_base64_text("d0phbHJYVXRuRkVNSS9LN0=", 23, &padded), "bad padding");
	buf_clear(&b);
	decode_base64_append(&b, "ab", 2, 0);
	TH_STREQ(b.data, "YWI", "unpadded encoding when asked");
}

static void
test_fields(void)
{
	static const char yaml[] = "apiVersion: v1\ndata:\n  aws_access_key_id: QUtJQUlPU0ZPRE5ON0VYQU1QTEU=\n"
	    "  region: dXMtZWFzdC0xLXJlZ2lvbg==\n"
	    "  \"aws_secret_access_key\": \"d0phbHJYVXRuRkVNSS9LN01ERU5HL2JQeFJmaUNZRVhBTVBMRUtFWQ==\"\n"
	    "TOKEN=d0phbHJYVXRuRkVNSS9LN01ERU5H\n";
	struct decode_field f;
	size_t pos = 0;
	int n = 0;
	char names[256] = "";

	while (decode_next_b64_field(yaml, strlen(yaml), &pos, &f)) {
		size_t k = strlen(names);
		snprintf(names + k, sizeof(names) - k, "%.*s=%zu;", (int)f.namelen, yaml + f.name,
		    f.valuelen);
		n++;
	}
	TH_STREQ(names, "aws_access_key_id=28;aws_secret_access_key=56;TOKEN=28;",
	    "finds base64 under credential names only (YAML, quoted JSON, env)");
	TH_OK(decode_credential_name("AWS_SESSION_TOKEN", 17) && decode_credential_name("Password", 8) &&
	    decode_credential_name(".dockerconfigjson", 17) && decode_credential_name("app.env", 7) &&
	    !decode_credential_name("region", 6) && !decode_credential_name("", 0), "credential names");
}

int
main(void)
{
	arena_init(&A);
	test_views();
	test_base64();
	test_fields();
	arena_free(&A);
	return th_done();
}
