/*
 * test_mask_context.c - the engine with the real rules and store, on what
 * mask_context.c adds: an object key as context for its value (strings and
 * number text), and identifiers behind JSON escapes, URL percent escapes,
 * HTML references and base64 under credential names.
 */
#include <stdlib.h>
#include <unistd.h>

#include "th.h"
#include "cfg.h"
#include "decode.h"
#include "log.h"
#include "mask.h"
#include "rules.h"
#include "store.h"

static char dir[] = "/tmp/mg_mctx_XXXXXX";
static char dbpath[256];
static struct cfg C;
static struct rules *R;
static struct arena A;
static struct store *S;

static const char SECRET[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/* Masks text (under key when not NULL) in session m; NULL on error. */
static const char *
mk(struct mask_session *m, const char *key, const char *text)
{
	struct buf out;
	enum mg_err rc;

	buf_init(&out, &A);
	if (key != NULL)
		rc = mask_text_keyed(m, key, strlen(key), text, strlen(text), &out);
	else
		rc = mask_text(m, text, strlen(text), &out);
	if (rc != MG_OK)
		return NULL;
	return out.data != NULL ? out.data : "";
}

/* Restores text in m's tenant; the arena holds the result. */
static const char *
um(struct mask_session *m, const char *text)
{
	struct buf out;

	if (text == NULL)
		return NULL;
	buf_init(&out, &A);
	if (mask_unmask(m, text, strlen(text), 0, &out) != MG_OK || buf_appendc(&out, '\0') != MG_OK)
		return NULL;
	return out.data;
}

static struct mask_session *
session(void)
{
	return mask_session_new(&A, R, S, "ctx-tenant");
}

/*
 * A tenant that has seen nothing yet: a value the tenant's mapping holds is
 * masked wherever it appears again (recall), so "needs context" is only
 * observable before the tenant has met the value.
 */
static struct mask_session *
fresh(void)
{
	static unsigned n;
	char tenant[32];

	snprintf(tenant, sizeof(tenant), "ctx-fresh-%u", ++n);
	return mask_session_new(&A, R, S, tenant);
}

/* 1 if s holds a placeholder of type and none of the secret's bytes. */
static int
masked_as(const char *s, const char *type, const char *value)
{
	char ph[64];

	snprintf(ph, sizeof(ph), "AWS_%s_", type);
	return s != NULL && strstr(s, ph) != NULL && strstr(s, value) == NULL;
}

static void
test_keys(void)
{
	static const struct {
		const char *key, *value, *type;
	} cases[] = {
		{ "aws_secret_access_key", SECRET, "SECRET_KEY" },
		{ "SecretAccessKey", SECRET, "SECRET_KEY" },
		{ "AccountId", "483920175634", "ACCOUNT" },
		{ "OwnerId", "483920175634", "ACCOUNT" },
		{ "Bucket", "acme-prod-logs-7", "S3_BUCKET" },
		{ "KeyId", "1234abcd-12ab-34cd-56ef-1234567890ab", "KMS_KEY" },
		{ "HostedZoneId", "Z1D633PJN98FT9", "ROUTE53_ZONE" },
		{ "Id", "E2QWRUHAPOMQZ9", "CLOUDFRONT_DIST" },
		{ "aws_session_token", "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCdEfGh"
		    "IjKlMnOpQrSt", "SESSION_TOKEN" },
	};
	struct mask_session *m;
	size_t i;

	for (i = 0; i < MG_NELEM(cases); i++) {
		m = fresh();
		TH_STREQ(mk(m, NULL, cases[i].value), cases[i].value,
		    "alone, %s is not recognised (context needed)", cases[i].value);
		m = session();
		TH_OK(masked_as(mk(m, cases[i].key, cases[i].value), cases[i].type, cases[i].value),
		    "under \"%s\" it is masked as %s", cases[i].key, cases[i].type);
	}
	m = fresh();
	TH_STREQ(mk(m, "text", "483920175634"), "483920175634", "a key without meaning adds no context");
	TH_STREQ(mk(m, "AccountId", "see 483920175634 and i-0123456789abcdef0"), "see 483920175634 and AWS_EC2_001",
	    "the value is scanned as text too; the key only helps at its start");
	TH_STREQ(mk(m, "AccountId", "AWS_EC2_001"), "AWS_EC2_001", "a placeholder under a key stays");
}

static void
test_encodings(void)
{
	struct mask_session *m = session();
	static const struct {
		const char *what, *text, *before, *after;
	} spelled[] = {
		{ "URL-encoded", "GET /x?aws_secret_access_key=wJalrXUtnFEMI%2FK7MDENG%2FbPxRfiCYEXAMPLEKEY&y=1",
		  "GET /x?aws_secret_access_key=", "&y=1" },
		{ "HTML references",
		  "<p>aws_secret_access_key&#61;wJalrXUtnFEMI&#x2F;K7MDENG&sol;bPxRfiCYEXAMPLEKEY</p>",
		  "<p>aws_secret_access_key&#61;", "</p>" },
		{ "JSON text with \\/ escapes (PHP json_encode)",
		  "{\"aws_secret_access_key\":\"wJalrXUtnFEMI\\/K7MDENG\\/bPxRfiCYEXAMPLEKEY\"}",
		  "{\"aws_secret_access_key\":\"", "\"}" },
	};
	const char *plain, *s, *url, *b64;
	char ph[64];
	size_t n, i;

	plain = mk(m, NULL, "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
	TH_OK(masked_as(plain, "SECRET_KEY", SECRET), "plain secret masked (%s)", plain != NULL ? plain : "NULL");
	n = plain != NULL ? strcspn(plain + 24, " \n") : 0;
	snprintf(ph, sizeof(ph), "%.*s", (int)n, plain != NULL ? plain + 24 : "");

	/*
	 * An escaped spelling is masked whole and gets a placeholder of its
	 * own, which restores to exactly the bytes sent (a presigned URL keeps
	 * its %2F); the text around it stays as written.
	 */
	for (i = 0; i < MG_NELEM(spelled); i++) {
		const char *got = mk(m, NULL, spelled[i].text);
		size_t pre = strlen(spelled[i].before), post = strlen(spelled[i].after);
		int shape = got != NULL && strncmp(got, spelled[i].before, pre) == 0 &&
		    strlen(got) > pre + post && strcmp(got + strlen(got) - post, spelled[i].after) == 0 &&
		    strncmp(got + pre, "AWS_SECRET_KEY_", 15) == 0 && strstr(got, "K7MDENG") == NULL;
		TH_OK(shape, "%s: masked whole, the rest as written (%s)", spelled[i].what,
		    got != NULL ? got : "NULL");
		TH_STREQ(um(m, got), spelled[i].text, "%s: restored exactly as sent", spelled[i].what);
	}
	url = mk(m, NULL, spelled[0].text);
	s = mk(m, NULL, "{\"role\":\"arn:aws:iam::123456789012:role\\/Admin\",\"u\":\"s3:\\/\\/acme-prod-logs-7\\/k\"}");
	TH_OK(s != NULL && strstr(s, "Admin") == NULL && strstr(s, "acme-prod") == NULL &&
	    strstr(s, "123456789012") == NULL, "ARN and s3:// URI with \\/ masked whole (%s)", s != NULL ? s : "NULL");
	s = mk(m, NULL, "https://b.s3.amazonaws.com/k?X-Amz-Security-Token=IQoJb3JpZ2luX2VjEJr%2F%2F%2F%2F%2F%2F"
	    "%2F%2F%2FwEaCXVzLWVhc3QtMSJHMEUCIQDabcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	    "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLF%2F20240101%2Fus-east-1");
	TH_OK(s != NULL && strstr(s, "IQoJ") == NULL && strstr(s, "wEaC") == NULL && strstr(s, "AKIA") == NULL &&
	    strstr(s, "%2F20240101") != NULL, "presigned URL: whole session token and key masked (%s)", s != NULL ? s : "NULL");

	/*
	 * kubectl get secret -o yaml: the blob under a credential name is one
	 * value of the type found inside, and restores to exactly the blob
	 */
	b64 = "data:\n  aws_secret_access_key: d0phbHJYVXRuRkVNSS9LN01ERU5HL2JQeFJmaUNZRVhBTVBMRUtFWQ==\n"
	    "  region: dXMtZWFzdC0x\n";
	s = mk(m, NULL, b64);
	TH_OK(s != NULL && strstr(s, "data:\n  aws_secret_access_key: AWS_SECRET_KEY_") == s &&
	    strstr(s, "d0phbHJY") == NULL && strstr(s, "region: dXMtZWFzdC0x\n") != NULL,
	    "base64 under a credential name: one secret-key placeholder, the rest as written (%s)",
	    s != NULL ? s : "NULL");
	TH_STREQ(um(m, s), b64, "it restores to exactly the blob sent");
	s = mk(fresh(), "aws_secret_access_key", "d0phbHJYVXRuRkVNSS9LN01ERU5HL2JQeFJmaUNZRVhBTVBMRUtFWQ==");
	TH_OK(s != NULL && strncmp(s, "AWS_SECRET_KEY_", 15) == 0, "base64 value under a credential-named JSON key");
	s = mk(fresh(), "note", "d0phbHJYVXRuRkVNSS9LN01ERU5HL2JQeFJmaUNZRVhBTVBMRUtFWQ==");
	TH_STREQ(s, "d0phbHJYVXRuRkVNSS9LN01ERU5HL2JQeFJmaUNZRVhBTVBMRUtFWQ==",
	    "base64 under another key is not decoded");

	/* idempotent, and ordinary escaped text is untouched */
	TH_STREQ(mk(m, NULL, url), url, "masking masked URL text changes nothing");
	TH_STREQ(mk(m, NULL, "a%20b &amp; c\\n \\/d"), "a%20b &amp; c\\n \\/d", "escapes without identifiers stay");
}

int
main(void)
{
	char err[512];

	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(dbpath, sizeof(dbpath), "%s/mask.db", dir);
	arena_init(&A);
	log_set_level(LOG_WARN);
	memset(&C, 0, sizeof(C));
	C.db_path = dbpath;
	memset(C.data_key, 0x5a, sizeof(C.data_key));
	C.have_data_key = 1;
	C.map_ttl = 86400;
	C.busy_timeout_ms = 20000;
	if (rules_load(NULL, &R, err, sizeof(err)) != MG_OK || store_open(&C, &S, err, sizeof(err)) != MG_OK) {
		printf("# setup: %s\n", err);
		TH_OK(0, "setup");
		return th_done();
	}
	test_keys();
	test_encodings();
	store_close(S);
	rules_free(R);
	arena_free(&A);
	snprintf(err, sizeof(err), "%s/mask.db", dir);
	unlink(err);
	snprintf(err, sizeof(err), "%s/mask.db-wal", dir);
	unlink(err);
	snprintf(err, sizeof(err), "%s/mask.db-shm", dir);
	unlink(err);
	rmdir(dir);
	return th_done();
}
