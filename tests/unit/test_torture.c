/*
 * test_torture.c - allocation-failure torture for the core modules (curl's
 * torture mode is the model): rules load, mask/unmask with a real store,
 * JSON parse + request walk + serialise, the SSE rewriter, the store and
 * its mapping, and the config loader.
 *
 * This binary defines malloc, calloc, realloc, free and the aligned
 * allocators itself, forwarding to glibc's __libc_* entry points, so every
 * allocation in the process goes through the countdown below, including
 * those inside json-c, SQLite, PCRE2 and OpenSSL (CRYPTO_malloc calls
 * malloc).
 *
 * For each operation: run it once to count its allocations and record its
 * output; then for each n, fail exactly the n-th allocation and run it
 * again. The operation must return an error or succeed with exactly the
 * reference output (a "success" that dropped work would forward data
 * unmasked), must not crash or abort, and must leave the number of live
 * allocations where it found it (no leak). Large counts are sampled: the
 * first TORTURE_HEAD allocations, then every k-th so that each operation
 * runs at most TORTURE_RUNS times (fewer under valgrind).
 *
 * ASan replaces malloc itself, so under SANITIZE=1 the binary only reports
 * a skip; the plain build runs under `make valgrind` as well.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "th.h"
#include "arena.h"
#include "cfg.h"
#include "jwalk.h"
#include "log.h"
#include "mask.h"
#include "rules.h"
#include "sse.h"
#include "bedrock_stream.h"
#include "eventstream.h"
#include "store.h"
#include "store_map.h"

#if defined(__SANITIZE_ADDRESS__)
#define TORTURE_HOOKS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TORTURE_HOOKS 0
#endif
#endif
#ifndef TORTURE_HOOKS
#define TORTURE_HOOKS 1
#endif

#define TORTURE_HEAD 200

/* ---- the allocator hooks ------------------------------------------------ */

/*
 * volatile: the compiler treats malloc and free as builtins that touch no
 * global state, and would otherwise cache or drop these across the calls.
 */
static volatile long t_live;		/* allocations not yet freed */
static volatile unsigned long t_count;	/* allocations since torture_arm() */
static volatile unsigned long t_fail_at;	/* fail this one (1-based); 0 = never */
static volatile unsigned long t_failed;	/* how many were failed (0 or 1) */
static volatile int t_exempt;		/* the current allocation must not fail */
static volatile unsigned long t_exempted;	/* allocations spared, over the whole run */

#if TORTURE_HOOKS
void *__libc_malloc(size_t size);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t size);
void *__libc_memalign(size_t align, size_t size);
void __libc_free(void *p);

/* 1 when this allocation must fail */
static int
torture_fail(void)
{
	t_count++;
	if (t_exempt) {
		if (t_fail_at != 0 && t_count == t_fail_at)
			t_exempted++;
		return 0;
	}
	if (t_fail_at != 0 && t_count == t_fail_at) {
		t_failed++;
		return 1;
	}
	return 0;
}

/*
 * json-c 0.16 (Debian 12) ignores two kinds of allocation failure, so they
 * are exempt here (counted, never failed) and the torture tests our code,
 * not these library bugs:
 *  - the strdup() of an object key in its tokener is not checked: a NULL
 *    key then crashes in json_object_object_add_ex();
 *  - printbuf growth (realloc) failures are ignored by the tokener and the
 *    serialiser alike: a string or key silently comes out truncated or
 *    empty, and the call reports success.
 * Fresh allocations json-c makes with malloc/calloc still fail normally.
 */
static int
from_jsonc(const void *caller)
{
	Dl_info info;

	return dladdr(caller, &info) != 0 && info.dli_fname != NULL &&
	    strstr(info.dli_fname, "libjson-c") != NULL;
}

void *
malloc(size_t size)
{
	void *p;

	if (torture_fail()) {
		errno = ENOMEM;
		return NULL;
	}
	p = __libc_malloc(size);
	if (p != NULL)
		t_live++;
	return p;
}

void *
calloc(size_t n, size_t size)
{
	void *p;

	if (torture_fail()) {
		errno = ENOMEM;
		return NULL;
	}
	p = __libc_calloc(n, size);
	if (p != NULL)
		t_live++;
	return p;
}

void *
realloc(void *old, size_t size)
{
	void *p;

	if (old != NULL && size == 0) {
		/* glibc frees and returns NULL */
		t_live--;
		return __libc_realloc(old, size);
	}
	t_exempt = old != NULL && from_jsonc(__builtin_return_address(0));
	if (torture_fail()) {
		errno = ENOMEM;
		return NULL;	/* old stays valid, as with a real failure */
	}
	t_exempt = 0;
	p = __libc_realloc(old, size);
	if (p != NULL && old == NULL)
		t_live++;
	return p;
}

void
free(void *p)
{
	if (p != NULL)
		t_live--;
	__libc_free(p);
}

char *
strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p;

	t_exempt = from_jsonc(__builtin_return_address(0));
	p = malloc(n);
	t_exempt = 0;
	if (p != NULL)
		memcpy(p, s, n);
	return p;
}

void *
memalign(size_t align, size_t size)
{
	void *p;

	if (torture_fail()) {
		errno = ENOMEM;
		return NULL;
	}
	p = __libc_memalign(align, size);
	if (p != NULL)
		t_live++;
	return p;
}

void *
aligned_alloc(size_t align, size_t size)
{
	return memalign(align, size);
}

int
posix_memalign(void **out, size_t align, size_t size)
{
	void *p = memalign(align, size);

	if (p == NULL)
		return ENOMEM;
	*out = p;
	return 0;
}

void *
valloc(size_t size)
{
	return memalign((size_t)sysconf(_SC_PAGESIZE), size);
}

void *
pvalloc(size_t size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return memalign(page, (size + page - 1) / page * page);
}
#endif

static void
torture_arm(unsigned long fail_at)
{
	t_count = 0;
	t_failed = 0;
	t_fail_at = fail_at;
}

static void
torture_disarm(void)
{
	t_fail_at = 0;
}

/* ---- the torture loop --------------------------------------------------- */

/*
 * One operation under test. run() performs it from scratch and releases
 * everything it allocated; it returns MG_OK or an error and, on MG_OK,
 * appends its observable result to out (a heap buffer owned by the loop).
 */
struct op {
	const char *name;
	enum mg_err (*run)(struct buf *out);
};

static int under_valgrind;

static int
same(const struct buf *a, const struct buf *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static void
torture(const struct op *op, unsigned long max_runs)
{
	struct arena ra;
	struct buf ref, out;
	unsigned long total, n, step, head, runs = 0, errors = 0, leaks = 0, wrong = 0, silent = 0;
	long before;
	enum mg_err rc;
	time_t t0 = time(NULL);

	arena_init(&ra);
	buf_init(&ref, &ra);
	/* the first run warms lazy one-time state (SQLite, OpenSSL, stdio) */
	rc = op->run(&ref);
	if (rc != MG_OK) {
		TH_OK(0, "%s: reference run failed (%s)", op->name, mg_strerror(rc));
		arena_free(&ra);
		return;
	}
	buf_clear(&ref);
	ERR_clear_error();
	before = t_live;
	torture_arm(0);
	rc = op->run(&ref);
	total = t_count;
	torture_disarm();
	ERR_clear_error();
	TH_OK(rc == MG_OK && t_live == before, "%s: reference run (%lu allocations, %ld live after)",
	    op->name, total, t_live - before);
	head = max_runs / 2 < TORTURE_HEAD ? max_runs / 2 : TORTURE_HEAD;
	step = 1;
	if (total > max_runs)
		step = (total - head) / (max_runs - head) + 1;
	for (n = 1; n <= total; n += n < head ? 1 : step) {
		struct arena oa;

		arena_init(&oa);
		buf_init(&out, &oa);
		before = t_live;
		torture_arm(n);
		rc = op->run(&out);
		torture_disarm();
		/* OpenSSL keeps failure reasons in a per-thread queue, by design */
		ERR_clear_error();
		runs++;
		if (rc != MG_OK)
			errors++;
		else if (!same(&out, &ref)) {
			if (wrong++ < 5)
			{
				size_t d = 0, from;

				while (d < out.len && d < ref.len && out.data[d] == ref.data[d])
					d++;
				from = d > 60 ? d - 60 : 0;
				printf("# %s: allocation %lu failed, the call succeeded with different "
				    "output from byte %zu:\n#   got  %.160s\n#   want %.160s\n", op->name,
				    n, d, out.len > from ? out.data + from : "",
				    ref.len > from ? ref.data + from : "");
			}
		}
		if (rc == MG_OK && t_failed == 0)
			silent++;	/* the n-th allocation never happened this time */
		arena_free(&oa);
		if (t_live != before && leaks++ < 5)
			printf("# %s: allocation %lu failed (rc %s): %ld allocations leaked\n",
			    op->name, n, mg_strerror(rc), t_live - before);
	}
	TH_OK(wrong == 0 && leaks == 0 && t_live == before,
	    "%s: %lu of %lu allocations failed in turn: %lu errors, %lu recovered, "
	    "%lu wrong successes, %lu leaks (%lds)", op->name, runs, total, errors,
	    runs - errors - silent, wrong, leaks, (long)(time(NULL) - t0));
	arena_free(&ra);
}

/* ---- fixtures ----------------------------------------------------------- */

static char dir[] = "/tmp/mg_torture_XXXXXX";
static char dbpath[300];
static struct cfg C;
static struct rules *R;
static struct store *S;
static unsigned long seq;	/* fresh tenant / database per run */

static const char sample[] =
    "instance i-0123456789abcdef0 in account 123456789012 behind 54.239.28.85, "
    "role arn:aws:iam::123456789012:role/deploy, key AKIAIOSFODNN7EXAMPLE, "
    "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY, "
    "bucket s3://my-prod-logs/2024/ and sg-0a1b2c3d4e5f67890; git 3f2a9c1 stays. "
    "?aws_secret_access_key=wJalrXUtnFEMI%2FK7MDENG%2FbPxRfiCYEXAMPLEKEZ&amp;x=role\\/a "
    "aws_session_token: d0phbHJYVXRuRkVNSS9LN01ERU5HL2JQeFJmaUNZRVhBTVBMRUtFWQ==";

static const char body[] =
    "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":64000,\"stream\":true,"
    "\"system\":[{\"type\":\"text\",\"text\":\"You manage i-0123456789abcdef0.\","
    "\"cache_control\":{\"type\":\"ephemeral\"}}],"
    "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
    "\"text\":\"why is 54.239.28.85 down?\"}]},"
    "{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\",\"thinking\":\"check "
    "arn:aws:iam::123456789012:role/deploy\",\"signature\":\"c2lnbmF0dXJl\"},"
    "{\"type\":\"tool_use\",\"id\":\"toolu_01\",\"name\":\"Bash\",\"input\":{\"command\":"
    "\"aws ec2 describe-instances --instance-ids i-0123456789abcdef0\",\"AccountId\":210987654321}}]},"
    "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_01\","
    "\"content\":[{\"type\":\"text\",\"text\":\"{\\\"OwnerId\\\": \\\"123456789012\\\", "
    "\\\"KeyName\\\": \\\"AKIAIOSFODNN7EXAMPLE\\\"}\"}]}]}],"
    "\"tools\":[{\"name\":\"Bash\",\"description\":\"Runs sg-0a1b2c3d4e5f67890 commands\","
    "\"input_schema\":{\"type\":\"object\",\"properties\":{\"command\":{\"type\":\"string\"}}}}],"
    "\"metadata\":{\"user_id\":\"u1\"},\"temperature\":0.70}";

static enum mg_err open_store(const char *path, struct store **out);

/*
 * The mapping ops open and close the shared database in every run: a
 * connection's page cache grows and shrinks between runs, so only a whole
 * open-to-close cycle can be checked for leaks.
 */
static enum mg_err
with_store(enum mg_err (*fn)(struct buf *), struct buf *out)
{
	enum mg_err rc = open_store(dbpath, &S);

	if (rc == MG_OK)
		rc = fn(out);
	store_close(S);
	S = NULL;
	return rc;
}

static enum mg_err
open_store(const char *path, struct store **out)
{
	char err[512] = "";
	struct cfg c = C;
	enum mg_err rc;

	c.db_path = (char *)path;
	rc = store_open(&c, out, err, sizeof(err));
	return rc;
}

static void
remove_db(const char *path)
{
	char p[400];

	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-journal", path);
	unlink(p);
}

/* ---- operations --------------------------------------------------------- */

static enum mg_err
op_rules_default(struct buf *out)
{
	struct rules *r = NULL;
	char err[512] = "";
	enum mg_err rc = rules_load(NULL, &r, err, sizeof(err));

	if (rc != MG_OK) {
		MG_ASSERT(r == NULL);
		return rc;
	}
	rc = buf_printf(out, "%zu rules", rules_count(r));
	rules_free(r);
	return rc;
}

static enum mg_err
op_rules_admin(struct buf *out)
{
	static const char admin[] =
	    "# admin rules\n"
	    "allow-value = i-0123456789abcdef0\n"
	    "[aws-secret-key]\naction = block\n"
	    "[ec2-instance]\npriority = 55\n"
	    "[internal-ticket]\ntype = TICKET9\nlead = OPS-\n"
	    "pattern = (?<![\\w-])OPS-\\d{4,6}(?!\\d)\n"
	    "[vpc]\nenabled = no\n";
	struct rules *r = NULL;
	struct rules_match *m;
	struct arena a;
	char err[512] = "";
	size_t n = 0, i;
	enum mg_err rc = rules_load_text(admin, sizeof(admin) - 1, "admin.rules", &r, err,
	    sizeof(err));

	if (rc != MG_OK) {
		MG_ASSERT(r == NULL);
		return rc;
	}
	arena_init(&a);
	rc = rules_scan(r, &a, sample, sizeof(sample) - 1, &m, &n);
	for (i = 0; rc == MG_OK && i < n; i++)
		rc = buf_printf(out, "%s=%zu-%zu;", rules_name(r, m[i].rule), m[i].start, m[i].end);
	arena_free(&a);
	rules_free(r);
	return rc;
}

/* mask then unmask through sessions of a tenant new to the store */
static enum mg_err
op_mask_body(struct buf *out)
{
	struct arena a;
	struct mask_session *m;
	struct buf masked, back;
	char tenant[32];
	enum mg_err rc = MG_ENOMEM;

	snprintf(tenant, sizeof(tenant), "t%lu", ++seq);
	arena_init(&a);
	buf_init(&masked, &a);
	buf_init(&back, &a);
	m = mask_session_new(&a, R, S, tenant);
	if (m == NULL)
		goto out;
	rc = mask_text(m, sample, sizeof(sample) - 1, &masked);
	if (rc != MG_OK)
		goto out;
	/* a new request: the placeholders come back from the store */
	m = mask_session_new(&a, R, S, tenant);
	if (m == NULL) {
		rc = MG_ENOMEM;
		goto out;
	}
	rc = mask_unmask(m, masked.data, masked.len, 1, &back);
	if (rc != MG_OK)
		goto out;
	rc = buf_append(out, masked.data, masked.len);
	if (rc == MG_OK)
		rc = buf_append(out, back.data, back.len);
out:
	arena_free(&a);
	return rc;
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

/* the proxy's request path: parse, mask every free-text string, serialise */
static enum mg_err
op_jwalk_body(struct buf *out)
{
	struct arena a;
	struct json_object *root = NULL;
	struct jwalk_xform xf = { xf_mask, NULL, xf_keyed };
	char err[256] = "", tenant[32];
	const char *json;
	size_t len;
	enum mg_err rc;

	snprintf(tenant, sizeof(tenant), "j%lu", ++seq);
	arena_init(&a);
	rc = jwalk_parse(body, sizeof(body) - 1, &root, err, sizeof(err));
	if (rc != MG_OK)
		goto out;
	xf.fn = xf_mask;
	xf.ctx = mask_session_new(&a, R, S, tenant);
	if (xf.ctx == NULL) {
		rc = MG_ENOMEM;
		goto out;
	}
	rc = jwalk_mask_request(root, &a, &xf, err, sizeof(err));
	if (rc != MG_OK)
		goto out;
	json = jwalk_serialize(root, &a, &len);
	rc = json == NULL ? MG_ENOMEM : buf_append(out, json, len);
out:
	jwalk_free(root);
	arena_free(&a);
	return rc;
}

/* the SSE rewriter with the real unmasker over the tenant "sse" */
static enum mg_err
um_unmask(void *ctx, const char *in, size_t len, int json_escape, struct buf *out)
{
	return mask_unmask(ctx, in, len, json_escape, out);
}

static size_t
um_holdback(void *ctx, const char *in, size_t len)
{
	return mask_holdback(ctx, in, len);
}

static enum mg_err
emit(void *ctx, const char *bytes, size_t len)
{
	return buf_append(ctx, bytes, len);
}

static const char stream[] =
    "event: message_start\n"
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"claude\","
    "\"usage\":{\"input_tokens\":12,\"output_tokens\":1}}}\n\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\","
    "\"text\":\"\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
    "\"text\":\"Instance AWS_EC2_0\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
    "\"text\":\"01 runs in AWS_ACCOUNT_001.\"}}\n\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\","
    "\"id\":\"toolu_1\",\"name\":\"Bash\",\"input\":{}}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":"
    "\"input_json_delta\",\"partial_json\":\"{\\\"command\\\": \\\"aws ec2 stop AWS_EC\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":"
    "\"input_json_delta\",\"partial_json\":\"2_001\\\"}\"}}\n\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":1}\n\n"
    "event: message_delta\n"
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},"
    "\"usage\":{\"output_tokens\":40}}\n\n"
    "event: message_stop\n"
    "data: {\"type\":\"message_stop\"}\n\n";

static enum mg_err
op_sse_body(struct buf *out)
{
	struct arena a;
	struct sse_unmasker um;
	struct sse *r;
	size_t i, n;
	enum mg_err rc = MG_ENOMEM;

	arena_init(&a);
	um.unmask = um_unmask;
	um.holdback = um_holdback;
	um.ctx = mask_session_new(&a, R, S, "sse");
	if (um.ctx == NULL)
		goto out;
	r = sse_new(&a, &um, emit, out);
	if (r == NULL)
		goto out;
	rc = MG_OK;
	/* odd network chunks: placeholders and events split anywhere */
	for (i = 0; i < sizeof(stream) - 1 && rc == MG_OK; i += n) {
		n = sizeof(stream) - 1 - i < 97 ? sizeof(stream) - 1 - i : 97;
		rc = sse_feed(r, stream + i, n);
	}
	if (rc == MG_OK)
		rc = sse_finish(r);
out:
	arena_free(&a);
	return rc;
}

/* a new database: create, migrate, map values, resolve one, close */
static enum mg_err
op_store(struct buf *out)
{
	char path[400];
	struct store *s = NULL;
	struct store_map_item it[3];
	static const char *const values[3] = { "i-0123456789abcdef0", "i-0fedcba9876543210",
		"123456789012" };
	static const char *const types[3] = { "EC2", "EC2", "ACCOUNT" };
	struct arena a;
	struct buf v;
	time_t now = 1700000000;
	size_t i;
	enum mg_err rc;

	snprintf(path, sizeof(path), "%s/s%lu.db", dir, ++seq);
	arena_init(&a);
	buf_init(&v, &a);
	rc = open_store(path, &s);
	if (rc != MG_OK)
		goto out;
	for (i = 0; i < 3; i++) {
		memset(&it[i], 0, sizeof(it[i]));
		it[i].type = types[i];
		it[i].value = values[i];
		it[i].len = strlen(values[i]);
		store_map_hash(s, "t", types[i], values[i], it[i].len, it[i].hash);
	}
	rc = store_map_lookup(s, "t", it, 3, now);
	if (rc == MG_OK)
		rc = store_map_assign(s, "t", it, 3, now);
	if (rc == MG_OK)
		rc = store_map_resolve(s, "t", "EC2", it[1].num, now, &v);
	if (rc == MG_OK)
		rc = buf_printf(out, "%lu %lu %lu %s", it[0].num, it[1].num, it[2].num, v.data);
out:
	store_close(s);
	arena_free(&a);
	remove_db(path);
	return rc;
}

/* lookups, assignments and resolves on the long-lived store */
static enum mg_err
op_store_map_body(struct buf *out)
{
	struct store_map_item it[2];
	char tenant[32];
	struct arena a;
	struct buf v;
	time_t now = time(NULL);
	enum mg_err rc;

	snprintf(tenant, sizeof(tenant), "m%lu", ++seq);
	arena_init(&a);
	buf_init(&v, &a);
	memset(it, 0, sizeof(it));
	it[0].type = "EC2";
	it[0].value = "i-0123456789abcdef0";
	it[1].type = "IPV4";
	it[1].value = "54.239.28.85";
	it[0].len = strlen(it[0].value);
	it[1].len = strlen(it[1].value);
	store_map_hash(S, tenant, it[0].type, it[0].value, it[0].len, it[0].hash);
	store_map_hash(S, tenant, it[1].type, it[1].value, it[1].len, it[1].hash);
	rc = store_map_lookup(S, tenant, it, 2, now);
	if (rc == MG_OK)
		rc = store_map_assign(S, tenant, it, 2, now);
	if (rc == MG_OK)
		rc = store_map_resolve(S, tenant, "IPV4", it[1].num, now, &v);
	if (rc == MG_OK)
		rc = buf_printf(out, "%lu %lu %s", it[0].num, it[1].num, v.data);
	arena_free(&a);
	return rc;
}

/*
 * Each run masks for a new tenant, and credential placeholders carry a tag
 * keyed per tenant: compare them without it. The process's recall filters
 * are process-lifetime state, released after each run like the store.
 */
static enum mg_err
untagged(enum mg_err (*fn)(struct buf *), struct buf *out)
{
	struct rules_placeholder p;
	enum mg_err rc = with_store(fn, out);
	size_t i;

	mask_recall_reset();
	for (i = 0; rc == MG_OK && i < out->len; i++) {
		if (!rules_placeholder_parse(R, out->data, out->len, i, &p))
			continue;
		if (p.tag != 0)
			memset(out->data + p.tag, 'T', RULES_TAG_LEN);
		else if (rules_credential(R, p.rule) && p.end + 1 + RULES_TAG_LEN <= out->len &&
		    out->data[p.end] == '_')	/* glued to a word: no boundary, still tagged */
			memset(out->data + p.end + 1, 'T', RULES_TAG_LEN);
	}
	return rc;
}

static enum mg_err
op_mask(struct buf *out)
{
	return untagged(op_mask_body, out);
}

static enum mg_err
op_jwalk(struct buf *out)
{
	return untagged(op_jwalk_body, out);
}

static enum mg_err
op_sse(struct buf *out)
{
	return with_store(op_sse_body, out);
}

/*
 * The Bedrock rewriter: the SSE test's events framed as Bedrock chunks
 * (the framing allocates too), fed in odd chunks, restored and re-framed.
 */
static enum mg_err
op_bedrock_body(struct buf *out)
{
	static const struct es_header h[3] = {
		{ ":event-type", 11, ES_STRING, "chunk", 5 },
		{ ":content-type", 13, ES_STRING, "application/json", 16 },
		{ ":message-type", 13, ES_STRING, "event", 5 },
	};
	struct arena a;
	struct sse_unmasker um;
	struct bedrock_stream *b;
	struct buf wire, payload;
	const char *p;
	size_t i, n;
	enum mg_err rc = MG_ENOMEM;

	arena_init(&a);
	buf_init(&wire, &a);
	buf_init(&payload, &a);
	for (p = strstr(stream, "data: "); p != NULL; p = strstr(p, "data: ")) {
		p += 6;
		n = strcspn(p, "\n");
		buf_clear(&payload);
		if (buf_appends(&payload, "{\"bytes\":\"") != MG_OK ||
		    bedrock_b64_encode(p, n, &payload) != MG_OK ||
		    buf_appends(&payload, "\"}") != MG_OK ||
		    es_encode(&wire, h, 3, payload.data, payload.len) != MG_OK)
			goto out;
	}
	um.unmask = um_unmask;
	um.holdback = um_holdback;
	um.ctx = mask_session_new(&a, R, S, "sse");
	if (um.ctx == NULL)
		goto out;
	b = bedrock_stream_new(&a, &um, emit, out);
	if (b == NULL)
		goto out;
	rc = MG_OK;
	for (i = 0; i < wire.len && rc == MG_OK; i += n) {
		n = wire.len - i < 97 ? wire.len - i : 97;
		rc = bedrock_stream_feed(b, wire.data + i, n);
	}
	if (rc == MG_OK)
		rc = bedrock_stream_finish(b);
out:
	arena_free(&a);
	return rc;
}

static enum mg_err
op_bedrock(struct buf *out)
{
	return with_store(op_bedrock_body, out);
}

static enum mg_err
op_store_map(struct buf *out)
{
	return with_store(op_store_map_body, out);
}

/* the env-file configuration */
static char cfgpath[300];

static enum mg_err
op_cfg(struct buf *out)
{
	struct cfg c;
	char err[512] = "";
	enum mg_err rc = cfg_load(&c, CFG_NEED_MASTER_KEY | CFG_NEED_DATA_KEY, err, sizeof(err));

	if (rc == MG_OK)
		rc = buf_printf(out, "%s|%s|%s|%zu|%ld|%s", c.master_key, c.db_path, c.upstream_url,
		    c.max_body, c.workers, c.jwt_alg != NULL ? c.jwt_alg : "-");
	cfg_free(&c);
	return rc;
}

static void
write_cfg(void)
{
	FILE *f;

	snprintf(cfgpath, sizeof(cfgpath), "%s/maskgate.env", dir);
	f = fopen(cfgpath, "w");
	MG_ASSERT(f != NULL);
	fprintf(f, "# torture\n"
	    "export MASKGATE_MASTER_KEY=\"sk-Zq8vT3nLw0Pb5Yc7Hd2Kf9Rm4Xs6Ja1G\"\n"
	    "MASKGATE_DATA_KEY=%s\n"
	    "MASKGATE_DB='%s/cfg.db'\n"
	    "MASKGATE_UPSTREAM_URL=http://127.0.0.1:9/\n"
	    "MASKGATE_MAX_BODY=8M\n"
	    "MASKGATE_WORKERS=8\n"
	    "MASKGATE_JWT_SECRET=Zq8vT3nLw0Pb5Yc7Hd2Kf9Rm4Xs6Ja1GzzQ\n",
	    "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a", dir);
	fclose(f);
}

int
main(void)
{
	static const struct op ops[] = {
		{ "rules_load (embedded defaults)", op_rules_default },
		{ "rules_load_text (admin file) + scan", op_rules_admin },
		{ "mask_text + mask_unmask (new tenant)", op_mask },
		{ "jwalk_parse + jwalk_mask_request + jwalk_serialize", op_jwalk },
		{ "sse_feed/sse_finish with the real unmasker", op_sse },
		{ "bedrock_stream_feed/finish with the real unmasker", op_bedrock },
		{ "store_open (new database) + mapping", op_store },
		{ "store_map lookup/assign/resolve", op_store_map },
		{ "cfg_load from MASKGATE_CONFIG", op_cfg },
	};
	const char *pre = getenv("LD_PRELOAD");
	char err[512] = "";
	char **e;
	size_t i;
	unsigned long max_runs;

	if (!TORTURE_HOOKS) {
		th_skip("allocation torture", "needs the plain build (ASan owns malloc)");
		return th_done();
	}
	/* valgrind preloads its malloc replacement; it is ~50x slower there */
	under_valgrind = pre != NULL && strstr(pre, "vgpreload") != NULL;
	max_runs = under_valgrind ? 300 : 2000;
	log_set_level(LOG_ERROR + 1);
	if (mkdtemp(dir) == NULL) {
		printf("not ok 1 - mkdtemp\n0 passed, 1 failed\n");
		return 1;
	}
	/* cfg_load reads only the env file: clear MASKGATE_* from the caller */
	for (e = environ; *e != NULL;) {
		if (strncmp(*e, "MASKGATE_", 9) == 0 && strncmp(*e, "MASKGATE_T_", 11) != 0) {
			char name[256];
			size_t n = strcspn(*e, "=");
			snprintf(name, sizeof(name), "%.*s", (int)n, *e);
			unsetenv(name);
			continue;
		}
		e++;
	}
	write_cfg();
	setenv("MASKGATE_CONFIG", cfgpath, 1);
	memset(&C, 0, sizeof(C));
	memset(C.data_key, 0x5a, sizeof(C.data_key));
	C.have_data_key = 1;
	C.map_ttl = 7 * 86400;
	C.busy_timeout_ms = 5000;
	snprintf(dbpath, sizeof(dbpath), "%s/main.db", dir);
	if (rules_load(NULL, &R, err, sizeof(err)) != MG_OK || open_store(dbpath, &S) != MG_OK) {
		printf("not ok 1 - fixtures: %s\n0 passed, 1 failed\n", err);
		return 1;
	}
	/* a rule's machine code, made at its first use, is the rule set's, not a leak */
	rules_jit_all(R);
	/* mappings for the SSE test's placeholders */
	{
		struct arena a;
		struct buf out;
		struct mask_session *m;

		arena_init(&a);
		buf_init(&out, &a);
		m = mask_session_new(&a, R, S, "sse");
		if (m == NULL || mask_text(m, sample, sizeof(sample) - 1, &out) != MG_OK) {
			printf("not ok 1 - fixtures: mapping for sse\n0 passed, 1 failed\n");
			return 1;
		}
		printf("# sse tenant: %s\n", out.data);
		arena_free(&a);
		store_close(S);
		S = NULL;	/* the ops open their own (with_store) */
	}
	for (i = 0; i < MG_NELEM(ops); i++)
		torture(&ops[i], max_runs);
	printf("# %lu failures spared: json-c's own unchecked strdup/realloc (see from_jsonc)\n",
	    t_exempted);
	rules_free(R);
	remove_db(dbpath);
	unlink(cfgpath);
	rmdir(dir);
	return th_done();
}
