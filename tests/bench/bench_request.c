/*
 * bench_request.c - one Claude Code request through the masking path, in
 * process: parse, mask every string, splice the client's bytes. Measured
 * for a first turn (a new tenant: every value is minted), turn N+1 with
 * the values known but nothing cached, and turn N+1 with the per-worker
 * cache of masked strings; for each, the store transactions per request
 * (counted with sqlite3_trace: BEGIN = a read, BEGIN IMMEDIATE = a write),
 * next to the same request masked string by string (one store round trip
 * per text, as before two-phase masking).
 *
 *   bench_request BODY.json
 *
 * Output: markdown table rows "| name | value | against the baseline |".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <sqlite3.h>

#include "arena.h"
#include "cfg.h"
#include "db.h"
#include "jwalk.h"
#include "log.h"
#include "mask.h"
#include "rules.h"
#include "store.h"
#include "store_int.h"

static int reads, writes;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
trace_cb(unsigned type, void *ctx, void *p, void *x)
{
	const char *sql = x;

	(void)ctx;
	(void)p;
	if (type == SQLITE_TRACE_STMT && sql != NULL && strcmp(sql, "BEGIN") == 0)
		reads++;
	else if (type == SQLITE_TRACE_STMT && sql != NULL && strncmp(sql, "BEGIN IMMEDIATE", 15) == 0)
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

/* One request; its wall time in ms (negative on failure). */
static double
one(struct rules *r, struct store *s, struct arena *a, const char *tenant, const char *body,
    size_t len, int phased)
{
	struct mask_session *m = mask_session_new(a, r, s, tenant);
	struct jwalk_xform xf = { xf_mask, m, xf_keyed };
	struct jwalk_phases ph = { ph_provisional, ph_resolve, m };
	struct json_object *root = NULL;
	char err[256];
	size_t n = 0;
	double t0 = now(), t;
	enum mg_err rc;

	if (m == NULL || jwalk_parse(body, len, &root, err, sizeof(err)) != MG_OK)
		return -1;
	if (phased)
		mask_defer(m);
	rc = jwalk_mask_request_phased(root, a, &xf, phased ? &ph : NULL, err, sizeof(err));
	if (rc == MG_OK && jwalk_splice(root, body, len, a, &n) == NULL)
		rc = MG_ENOMEM;
	t = (now() - t0) * 1e3;
	jwalk_free(root);
	arena_reset(a);
	if (rc != MG_OK)
		fprintf(stderr, "bench_request: %s (%s)\n", mg_strerror(rc), err);
	return rc == MG_OK ? t : -1;
}

struct result {
	double ms;
	int reads, writes;
};

/* The median of rounds requests (tenant NULL: a new tenant each round). */
static struct result
measure(struct rules *r, struct store *s, struct arena *a, const char *tenant, const char *body,
    size_t len, int phased, int rounds)
{
	double *t = calloc((size_t)rounds, sizeof(*t)), x;
	struct result res = { 0, 0, 0 };
	char name[64];
	int i, j;

	for (i = 0; i < rounds && t != NULL; i++) {
		snprintf(name, sizeof(name), "bench-%d-%d-%d", phased, i, (int)getpid());
		reads = writes = 0;
		sqlite3_trace_v2(db_handle(s->db), SQLITE_TRACE_STMT, trace_cb, NULL);
		t[i] = one(r, s, a, tenant != NULL ? tenant : name, body, len, phased);
		sqlite3_trace_v2(db_handle(s->db), 0, NULL, NULL);
		res.reads = reads;
		res.writes = writes;
	}
	for (i = 1; i < rounds && t != NULL; i++)	/* insertion sort: few rounds */
		for (j = i; j > 0 && t[j] < t[j - 1]; j--) {
			x = t[j];
			t[j] = t[j - 1];
			t[j - 1] = x;
		}
	res.ms = t != NULL ? t[rounds / 2] : -1;
	free(t);
	return res;
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *b;
	long n;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
		return NULL;
	b = malloc((size_t)n + 1);
	if (b == NULL || fread(b, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(b);
		return NULL;
	}
	fclose(f);
	b[n] = '\0';
	*len = (size_t)n;
	return b;
}

int
main(int argc, char **argv)
{
	char dir[] = "/tmp/mg_bench_req_XXXXXX", db[300], err[512];
	struct result first0, first1, next0, next1, cached;
	unsigned long hits, misses;
	size_t len, bytes;
	struct cfg c;
	struct rules *r;
	struct store *s;
	struct arena a;
	char *body;

	if (argc != 2 || (body = slurp(argv[1], &len)) == NULL) {
		fprintf(stderr, "usage: bench_request BODY.json\n");
		return 2;
	}
	log_set_level(LOG_ERROR);
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(db, sizeof(db), "%s/bench.db", dir);
	memset(&c, 0, sizeof(c));
	c.db_path = db;
	memset(c.data_key, 7, sizeof(c.data_key));
	c.have_data_key = 1;
	c.map_ttl = 7 * 86400;
	c.busy_timeout_ms = 5000;
	if (rules_load(NULL, &r, err, sizeof(err)) != MG_OK || store_open(&c, &s, err, sizeof(err)) != MG_OK) {
		fprintf(stderr, "bench_request: %s\n", err);
		return 1;
	}
	arena_init(&a);
	mask_strings_set_limit(0);
	first0 = measure(r, s, &a, NULL, body, len, 0, 15);
	first1 = measure(r, s, &a, NULL, body, len, 1, 15);
	one(r, s, &a, "bench-known", body, len, 1);
	next0 = measure(r, s, &a, "bench-known", body, len, 0, 41);
	next1 = measure(r, s, &a, "bench-known", body, len, 1, 41);
	mask_strings_set_limit(2 * 1024 * 1024);
	one(r, s, &a, "bench-known", body, len, 1);
	cached = measure(r, s, &a, "bench-known", body, len, 1, 41);
	mask_strings_stats(&hits, &misses, &bytes);
	printf("| %.0f KB request masked in process: first turn (every value new), string by string "
	    "/ two-phase | %.2f / %.2f ms, %d / %d reads, %d / %d writes | two-phase %.2fx the time |\n",
	    (double)len / 1024, first0.ms, first1.ms, first0.reads, first1.reads, first0.writes,
	    first1.writes, first1.ms / first0.ms);
	printf("| same, turn N+1 (values known, nothing cached): string by string / two-phase "
	    "| %.2f / %.2f ms, %d / %d reads, %d / %d writes | two-phase %.2fx the time |\n",
	    next0.ms, next1.ms, next0.reads, next1.reads, next0.writes, next1.writes,
	    next1.ms / next0.ms);
	printf("| same, turn N+1 with the masked-string cache (%zu KB held, %lu hits) | %.2f ms, "
	    "%d reads, %d writes | %.2fx the uncached turn N+1 |\n", bytes / 1024, hits, cached.ms,
	    cached.reads, cached.writes, cached.ms / next1.ms);
	arena_free(&a);
	store_close(s);
	rules_free(r);
	mask_strings_clear();
	mask_recall_reset();
	free(body);
	{
		const char *suffix[] = { "", "-wal", "-shm" };
		char p[400];
		size_t i;
		for (i = 0; i < 3; i++) {
			snprintf(p, sizeof(p), "%s%s", db, suffix[i]);
			unlink(p);
		}
		rmdir(dir);
	}
	return 0;
}
