/*
 * test_mask_phases.c - two-phase masking of a whole request
 * (jwalk_mask_request_phased with mask_defer/mask_resolve): the same bytes
 * as masking string by string, exactly one store read transaction and at
 * most one write transaction per request (counted with sqlite3_trace on the
 * BEGINs the store issues), and the fallback when another worker minted
 * values this worker's filter did not hold; the per-worker cache of masked
 * strings (mask_cache.c): the same bytes with and without it, and what
 * makes an entry stale.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <sqlite3.h>

#include "th.h"
#include "cfg.h"
#include "db.h"
#include "jwalk.h"
#include "log.h"
#include "mask.h"
#include "rules.h"
#include "store.h"
#include "store_int.h"
#include "store_map.h"

static char dir[] = "/tmp/mg_phases_XXXXXX";
static struct rules *R;
static struct arena A;
static int reads, writes;

static struct store *
open_store(const char *name)
{
	char err[512], path[512];
	struct cfg c;
	struct store *s = NULL;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	memset(&c, 0, sizeof(c));
	c.db_path = arena_strdup(&A, path);
	memset(c.data_key, 0x5a, sizeof(c.data_key));
	c.have_data_key = 1;
	c.map_ttl = 7 * 86400;
	c.busy_timeout_ms = 20000;
	if (store_open(&c, &s, err, sizeof(err)) != MG_OK)
		printf("# store_open: %s\n", err);
	return s;
}

static int
trace_cb(unsigned type, void *ctx, void *p, void *x)
{
	const char *sql = x;

	(void)ctx;
	(void)p;
	if (type != SQLITE_TRACE_STMT || sql == NULL)
		return 0;
	if (strcmp(sql, "BEGIN") == 0)
		reads++;
	else if (strncmp(sql, "BEGIN IMMEDIATE", 15) == 0)
		writes++;
	return 0;
}

static enum mg_err
xf_mask(void *ctx, const char *in, size_t len, struct buf *out)
{
	return mask_text(ctx, in, len, out);
}

static enum mg_err
xf_keyed(void *ctx, const char *key, size_t keylen, const char *in, size_t len, struct buf *out)
{
	return mask_text_keyed(ctx, key, keylen, in, len, out);
}

static unsigned long
ph_provisional(void *ctx)
{
	return mask_provisional(ctx);
}

static enum mg_err
ph_resolve(void *ctx, int *again)
{
	return mask_resolve(ctx, again);
}

/* Masks body as one request (phased or string by string); the result, or NULL. */
static const char *
request(struct store *s, const char *body, int phased, struct mask_store_calls *calls)
{
	struct mask_session *m = mask_session_new(&A, R, s, "t");
	struct jwalk_xform xf = { xf_mask, m, xf_keyed };
	struct jwalk_phases ph = { ph_provisional, ph_resolve, m };
	struct json_object *root = NULL;
	const char *out = NULL;
	char err[256];
	enum mg_err rc;

	if (m == NULL || jwalk_parse(body, strlen(body), &root, err, sizeof(err)) != MG_OK)
		return NULL;
	reads = writes = 0;
	sqlite3_trace_v2(db_handle(s->db), SQLITE_TRACE_STMT, trace_cb, NULL);
	if (phased)
		mask_defer(m);
	rc = jwalk_mask_request_phased(root, &A, &xf, phased ? &ph : NULL, err, sizeof(err));
	sqlite3_trace_v2(db_handle(s->db), 0, NULL, NULL);
	if (rc == MG_OK)
		out = jwalk_splice(root, body, strlen(body), &A, NULL);
	else
		printf("# mask: %s (%s)\n", mg_strerror(rc), err);
	if (calls != NULL)
		mask_session_store_calls(m, calls);
	jwalk_free(root);
	return out;
}

static const char BODY[] =
    "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":100,"
    "\"system\":[{\"type\":\"text\",\"text\":\"You operate account 483920175634.\"}],"
    "\"metadata\":{\"AccountId\":483920175634,\"i-0a1b2c3d4e5f60001\":\"key\"},"
    "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
    "\"Why is i-0a1b2c3d4e5f60001 in vpc-0a1b2c3d4e5f60002 down? role\\/arn:aws:iam::483920175634:role/Deploy\"},"
    "{\"type\":\"text\",\"text\":\"aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\"}]},"
    "{\"role\":\"assistant\",\"content\":\"later the secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY again\"},"
    "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"t1\",\"content\":"
    "\"{\\\"OwnerId\\\": \\\"112233445566\\\", \\\"InstanceId\\\": \\\"i-0a1b2c3d4e5f60003\\\"}\"}]}]}";

/* Two turns and a follow-up, with the cache (store a) and without (store b). */
static void
test_cache(void)
{
	struct store *a = open_store("cache-on.db"), *b = open_store("cache-off.db");
	unsigned long hits, misses;
	size_t bytes;
	const char *on1, *on2, *off1, *off2, *x_on, *x_off;
	static const char note[] = "{\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"the logs go to acme-bucket-zz-77 every night, see there\"}]}";
	static const char mint[] = "{\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"aws s3 ls s3://acme-bucket-zz-77/ --recursive\"}]}";

	TH_OK(a != NULL && b != NULL, "cache: stores open");
	if (a == NULL || b == NULL)
		return;
	/* without the cache first (one process, one store: the filters are per tenant) */
	mask_recall_reset();
	mask_strings_clear();
	mask_strings_set_limit(0);
	off1 = request(b, BODY, 1, NULL);
	off2 = request(b, BODY, 1, NULL);
	request(b, note, 1, NULL);
	request(b, mint, 1, NULL);
	x_off = request(b, note, 1, NULL);
	mask_recall_reset();
	mask_strings_set_limit(2 * 1024 * 1024);
	on1 = request(a, BODY, 1, NULL);
	mask_strings_stats(&hits, &misses, &bytes);
	TH_OK(hits == 0 && bytes > 0, "cache: first turn fills it (%lu hits, %zu bytes)", hits, bytes);
	on2 = request(a, BODY, 1, NULL);
	mask_strings_stats(&hits, &misses, &bytes);
	TH_OK(hits > 0, "cache: the next turn hits (%lu hits, %lu misses)", hits, misses);
	TH_OK(on1 != NULL && off1 != NULL && on2 != NULL && off2 != NULL && strcmp(on1, off1) == 0 &&
	    strcmp(on2, off2) == 0 && strcmp(on1, on2) == 0,
	    "cache: the same bytes with and without it, turn 1 and turn 2");
	TH_OK(reads == 1 && writes == 0, "cache: turn 2 makes one read, no write (%d, %d)", reads,
	    writes);

	/* a string cached before its bucket was known is not served stale */
	request(a, note, 1, NULL);
	request(a, note, 1, NULL);
	request(a, mint, 1, NULL);
	x_on = request(a, note, 1, NULL);
	TH_OK(x_on != NULL && x_off != NULL && strcmp(x_on, x_off) == 0 &&
	    strstr(x_on, "acme-bucket-zz-77") == NULL,
	    "cache: a value learnt later is recalled in a cached string too (%s)",
	    x_on != NULL ? x_on : "NULL");
	mask_strings_stats(&hits, &misses, &bytes);
	on2 = request(a, BODY, 1, NULL);
	{
		unsigned long h2, m2;
		mask_strings_stats(&h2, &m2, &bytes);
		TH_OK(on2 != NULL && on1 != NULL && strcmp(on2, on1) == 0 && h2 > hits,
		    "cache: entries without the new value are carried over (%lu more hits)", h2 - hits);
	}
	/* a purge (or any rows deleted) makes every entry of the tenant stale */
	{
		long deleted = 0;
		sqlite3_exec(db_handle(a->db), "UPDATE mask_map SET last_seen = 1 WHERE type = "
		    "'S3_BUCKET'", NULL, NULL, NULL);
		TH_OK(store_map_purge(a, time(NULL), &deleted) == MG_OK && deleted == 1,
		    "cache: the bucket's mapping expires and is purged");
		mask_strings_stats(&hits, &misses, &bytes);
		x_on = request(a, note, 1, NULL);
		TH_OK(x_on != NULL && strstr(x_on, "acme-bucket-zz-77") != NULL,
		    "cache: after the purge the cached placeholder is not served (%s)",
		    x_on != NULL ? x_on : "NULL");
	}
	mask_strings_set_limit(0);
	store_close(a);
	store_close(b);
}

int
main(void)
{
	char err[512];
	struct store *one, *two, *other;
	struct mask_store_calls c1, c2, c3;
	const char *plain, *first, *second, *third, *fourth;

	if (mkdtemp(dir) == NULL)
		return 1;
	arena_init(&A);
	log_set_level(LOG_ERROR);
	if (rules_load(NULL, &R, err, sizeof(err)) != MG_OK) {
		printf("# rules: %s\n", err);
		TH_OK(0, "rules load");
		return th_done();
	}
	one = open_store("one.db");
	two = open_store("two.db");
	TH_OK(one != NULL && two != NULL, "stores open");
	if (one == NULL || two == NULL)
		return th_done();

	/* the same request in two stores: string by string, and in two phases */
	plain = request(one, BODY, 0, NULL);
	printf("# string by string, the same request: %d read and %d write transactions\n", reads,
	    writes);
	mask_recall_reset();
	first = request(two, BODY, 1, &c1);
	TH_OK(plain != NULL && first != NULL && strcmp(plain, first) == 0,
	    "two phases mask to the same bytes as string by string");
	if (plain != NULL && first != NULL && strcmp(plain, first) != 0)
		printf("#  plain %s\n#  phased %s\n", plain, first);
	TH_OK(first != NULL && strstr(first, "483920175634") == NULL &&
	    strstr(first, "EXAMPLEKEY") == NULL && strstr(first, "i-0a1b") == NULL,
	    "nothing real left");
	TH_OK(reads == 1 && writes == 1, "first turn: one read and one write transaction (%d, %d)",
	    reads, writes);
	TH_OK(c1.reads == 1 && c1.writes == 1, "the session counts them too (%lu, %lu)", c1.reads,
	    c1.writes);

	/* many values: the session's tables grow while values wait for their numbers */
	{
		struct buf big;
		const char *p1, *p2;
		int i;
		buf_init(&big, &A);
		buf_appends(&big, "{\"messages\":[");
		for (i = 0; i < 300; i++)
			buf_printf(&big, "%s{\"role\":\"user\",\"content\":\"id i-0%016x and "
			    "OwnerId 2%011d\"}", i > 0 ? "," : "", 0xabc000 + i, 10000 + i);
		buf_appends(&big, ",{\"role\":\"user\",\"content\":\"again 200010123 200010299 "
		    "i-00000000000abc001\"}]}");
		p1 = request(one, big.data, 0, NULL);
		p2 = request(two, big.data, 1, NULL);
		TH_OK(p1 != NULL && p2 != NULL && strcmp(p1, p2) == 0 && reads == 1 && writes == 1,
		    "600 new values: same bytes, one read, one write (%d, %d)", reads, writes);
	}

	/* turn N+1: all known, one read, no write, same bytes */
	second = request(two, BODY, 1, &c2);
	TH_OK(second != NULL && first != NULL && strcmp(second, first) == 0, "next turn: same bytes");
	TH_OK(reads == 1 && writes == 0, "next turn: one read transaction, no write (%d, %d)",
	    reads, writes);

	/* another worker mints a value this worker's filter does not hold */
	other = open_store("two.db");
	TH_OK(other != NULL, "a second connection (another worker)");
	{
		struct mask_session *m = mask_session_new(&A, R, other, "t");
		struct buf out;
		buf_init(&out, &A);
		TH_OK(m != NULL && mask_text(m, "s3://acme-bucket-phases-9/x", 27, &out) == MG_OK,
		    "the other worker mints a bucket");
	}
	{
		static const char b2[] = "{\"messages\":[{\"role\":\"user\",\"content\":"
		    "\"see acme-bucket-phases-9 and i-0a1b2c3d4e5f60001\"}]}";
		third = request(two, b2, 1, &c3);
		TH_OK(third != NULL && strstr(third, "acme-bucket-phases-9") == NULL &&
		    strstr(third, "AWS_S3_BUCKET_001") != NULL,
		    "a value another worker minted is recalled (the first phase is redone): %s",
		    third != NULL ? third : "NULL");
		fourth = request(two, b2, 1, NULL);
		TH_OK(fourth != NULL && third != NULL && strcmp(third, fourth) == 0 && reads == 1 &&
		    writes == 0, "and the next request is back to one read (%d, %d)", reads, writes);
	}
	store_close(other);
	test_cache();
	store_close(one);
	store_close(two);
	mask_recall_reset();
	rules_free(R);
	arena_free(&A);
	{
		const char *names[] = { "one.db", "two.db", "cache-on.db", "cache-off.db" };
		const char *suffix[] = { "", "-wal", "-shm" };
		size_t i, k;
		char p[600];
		for (i = 0; i < 4; i++)
			for (k = 0; k < 3; k++) {
				snprintf(p, sizeof(p), "%s/%s%s", dir, names[i], suffix[k]);
				unlink(p);
			}
		rmdir(dir);
	}
	return th_done();
}
