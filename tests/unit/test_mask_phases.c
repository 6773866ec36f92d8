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
#include <sys/wait.h>

#include <json-c/json.h>
#include <sqlite3.h>

#include "th.h"
#include "cfg.h"
#include "db.h"
#include "jwalk.h"
#include "log.h"
#include "mask.h"
#include "mask_int.h"
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

/*
 * Masks body as exchange_body.c does with the cache of masked elements: the
 * elements found in the cache are put back, the rest is masked. *hits:
 * elements from the cache; *settled: what came from the cache and what was
 * masked both read as masking them now would (else the exchange masks the
 * whole body again); *ms: the session. NULL when refused.
 */
static const char *
request_elems(struct store *s, const char *body, size_t *hits, int *settled,
    struct mask_session **ms)
{
	struct mask_session *m = mask_session_new(&A, R, s, "t");
	struct jwalk_xform xf = { xf_mask, m, xf_keyed };
	struct jwalk_phases ph = { ph_provisional, ph_resolve, m };
	struct json_object *root = NULL;
	struct jwalk_known known = { mask_elems_known, m };
	struct jwalk_elems el;
	const char *src = body;
	char err[256], *out = NULL, *merged;
	size_t len = strlen(body), srclen = len, olen = 0, mlen, i;

	*hits = 0;
	*ms = m;
	if (m == NULL || mask_elems_begin(m) != MG_OK)
		return NULL;
	if (jwalk_elems_find(body, len, &A, &el, &known))
		for (i = 0; i < el.n; i++)
			*hits += (size_t)el.v[i].cached;
	if (*hits > 0)
		src = jwalk_elems_reduce(body, len, &el, &A, &srclen);
	reads = writes = 0;
	sqlite3_trace_v2(db_handle(s->db), SQLITE_TRACE_STMT, trace_cb, NULL);
	if (src != NULL && jwalk_parse(src, srclen, &root, err, sizeof(err)) == MG_OK &&
	    jwalk_mask_request_phased(root, &A, &xf, &ph, err, sizeof(err)) == MG_OK)
		out = jwalk_splice(root, src, srclen, &A, &olen);
	sqlite3_trace_v2(db_handle(s->db), 0, NULL, NULL);
	jwalk_free(root);
	*settled = mask_elems_settled(m);
	for (i = 0; *hits > 0 && i < el.n; i++)
		if (el.v[i].cached && !mask_elems_valid(m, el.v[i].field, body + el.v[i].start,
		    el.v[i].end - el.v[i].start))
			*settled = 0;
	if (out == NULL || el.n == 0)
		return out;
	merged = jwalk_elems_merge(body, &el, out, olen, &A, &mlen);
	for (i = 0; merged != NULL && i < el.n; i++)
		if (!el.v[i].cached)
			mask_elems_store(m, el.v[i].field, body + el.v[i].start,
			    el.v[i].end - el.v[i].start, el.v[i].out, el.v[i].outlen);
	return *hits > 0 ? merged : out;
}

/* Is text i in the cache? (masking it again counts a hit or a miss) */
static int
cached(struct mask_session *m, int i)
{
	char text[96];
	unsigned long h0, h1, miss;
	size_t bytes;
	struct buf out;

	snprintf(text, sizeof(text), "plain text number %03d, long enough for the cache to keep it", i);
	buf_init(&out, &A);
	mask_strings_stats(&h0, &miss, &bytes);
	if (mask_text(m, text, strlen(text), &out) != MG_OK)
		return -1;
	mask_strings_stats(&h1, &miss, &bytes);
	return h1 > h0;
}

/* The limit drops the entries used longest ago, not the oldest: what every turn resends stays. */
static void
test_cache_lru(void)
{
	struct store *s = open_store("cache-on.db");
	struct mask_session *m = s != NULL ? mask_session_new(&A, R, s, "lru") : NULL;
	unsigned long h, miss;
	size_t per, used;
	int i, first;

	TH_OK(m != NULL, "lru: session");
	if (m == NULL)
		return;
	mask_strings_clear();
	mask_strings_set_limit(4096);
	cached(m, 0);
	mask_strings_stats(&h, &miss, &per);
	for (i = 1; i < 40; i++)
		cached(m, i);
	mask_strings_stats(&h, &miss, &used);
	first = 40 - (int)(used / per);	/* the entry made longest ago that is still held */
	TH_OK(per > 0 && first > 0 && first < 38, "lru: the limit holds the last %d of 40", 40 - first);
	TH_OK(cached(m, first) == 1, "lru: the oldest entry held is used");
	cached(m, 40);
	TH_OK(cached(m, first) == 1, "lru: it survives a new entry");
	TH_OK(cached(m, first + 1) == 0, "lru: the one used longest ago went first");
	mask_strings_set_limit(0);
	store_close(s);
}

/* body with one more message (text, JSON-escaped) at the end of BODY's messages */
static const char *
with_message(const char *text)
{
	size_t n = strlen(BODY) - 2;	/* BODY ends with "]}" */

	return arena_printf(&A, "%.*s,{\"role\":\"user\",\"content\":\"%s\"}]}", (int)n, BODY, text);
}

/* The body masked whole, element by element's strings (its values known by now: none new). */
static const char *
uncached(struct store *s, const char *body)
{
	return request(s, body, 1, NULL);
}

/*
 * A turn that learns a value keeps the elements it took from the cache when
 * the value is nowhere in them (carried over), and gives them up when it
 * is: a bare account number the client sent before its context came.
 */
static void
test_elems_carry(struct store *s)
{
	struct mask_session *m;
	const char *b1, *b2, *b3, *t, *u;
	size_t h;
	int st;

	b1 = with_message("the logs of 556677889900 have gone nowhere since Monday morning: which "
	    "account is it, who owns it, and where should they go instead?");
	request_elems(s, b1, &h, &st, &m);
	t = request_elems(s, b1, &h, &st, &m);
	TH_OK(t != NULL && h == 3 && st, "carry: the question is kept as an element (%zu)", h);
	b2 = arena_printf(&A, "%.*s,{\"role\":\"user\",\"content\":\"instance i-0a1b2c3d4e5f69999 "
	    "was stopped at noon and restarted later by the scheduler\"}]}",
	    (int)strlen(b1) - 2, b1);
	t = request_elems(s, b2, &h, &st, &m);
	u = uncached(s, b2);
	TH_OK(t != NULL && h == 3 && st && u != NULL && strcmp(t, u) == 0,
	    "carry: a new instance in the last message keeps the three elements from the cache "
	    "(%zu, %d), and the same bytes as the whole body masked", h, st);
	b3 = arena_printf(&A, "%.*s,{\"role\":\"user\",\"content\":\"{\\\"Account\\\": "
	    "\\\"556677889900\\\", \\\"Arn\\\": \\\"arn:aws:iam::556677889900:user/logs\\\"}\"}]}",
	    (int)strlen(b2) - 2, b2);
	t = request_elems(s, b3, &h, &st, &m);
	TH_OK(t != NULL && h >= 3 && !st, "carry: learning the account the question names bare "
	    "gives up the element that holds it: the whole body is masked again (%zu, %d)", h, st);
	u = uncached(s, b3);
	TH_OK(u != NULL && strstr(u, "556677889900") == NULL, "carry: masked whole, the bare "
	    "account is masked in the question too");
	/* the same with the value spelled behind a \u escape: its bytes are not in the element */
	b1 = with_message("the logs of \\u0034455667788 have gone nowhere since Monday morning: "
	    "which team runs them, who owns them, and where should they go instead?");
	request_elems(s, b1, &h, &st, &m);
	t = request_elems(s, b1, &h, &st, &m);
	TH_OK(t != NULL && h == 3 && st && strstr(t, "445566778") != NULL, "carry: the escaped "
	    "question is kept as an element (%zu), the value not known yet", h);
	b3 = arena_printf(&A, "%.*s,{\"role\":\"user\",\"content\":\"{\\\"Account\\\": "
	    "\\\"445566778899\\\"}\"}]}", (int)strlen(b1) - 2, b1);
	t = request_elems(s, b3, &h, &st, &m);
	TH_OK(t != NULL && h == 3 && !st, "carry: learning it gives up the element where a \\u "
	    "escape spells it (%zu, %d)", h, st);
}

/*
 * A value another worker minted, named bare early in a request and in
 * context further down: this worker learns it only at the one lookup, after
 * the first phase scanned the early text without it. It must be masked
 * there too (all text masked again), not forwarded as written.
 */
static void
test_bare_value_minted_elsewhere(void)
{
	struct store *s = open_store("bare-elsewhere.db");
	struct mask_session *w;
	struct buf out;
	const char *q, *t;
	pid_t pid;
	int status;

	TH_OK(s != NULL, "elsewhere: store opens");
	if (s == NULL)
		return;
	mask_recall_reset();
	q = "{\"messages\":[{\"role\":\"user\",\"content\":\"why do the logs of 667788990011 stop?\"}]}";
	t = request(s, q, 1, NULL);
	TH_OK(t != NULL && strstr(t, "667788990011") != NULL, "elsewhere: unknown, it goes as written");
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct store *o = open_store("bare-elsewhere.db");
		w = o != NULL ? mask_session_new(&A, R, o, "t") : NULL;
		buf_init(&out, &A);
		_exit(w != NULL && mask_text(w, "{\"Account\": \"667788990011\"}", 27, &out) == MG_OK &&
		    strstr(out.data, "667788990011") == NULL ? 0 : 1);
	}
	TH_OK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0, "elsewhere: another worker mints the account");
	t = request(s, "{\"messages\":[{\"role\":\"user\",\"content\":\"why do the logs of "
	    "667788990011 stop?\"},{\"role\":\"user\",\"content\":\"{\\\"Account\\\": "
	    "\\\"667788990011\\\"}\"}]}", 1, NULL);
	TH_OK(t != NULL && strstr(t, "667788990011") == NULL, "elsewhere: named bare before its "
	    "context, it is masked in the early text too (%s)", t != NULL ? t : "refused");
	store_close(s);
}

/*
 * The elements taken from the cache outlive their entries: masking the rest
 * of a request can make the limit drop them (new strings go in), and the
 * request still puts the elements' bytes back afterwards.
 */
static void
test_elems_evicted(struct store *s)
{
	struct mask_session *m;
	struct buf big;
	const char *body, *t, *u;
	size_t h;
	int st, i;

	buf_init(&big, &A);
	buf_appends(&big, "{\"role\":\"user\",\"content\":[");
	for (i = 0; i < 60; i++)
		buf_printf(&big, "%s{\"type\":\"text\",\"text\":\"note %02d: the nightly export of the "
		    "billing tables ran for %d minutes and wrote its files to the usual place\"}",
		    i > 0 ? "," : "", i, 10 + i);
	buf_appends(&big, "]}");
	mask_strings_set_limit(16 * 1024);
	request_elems(s, BODY, &h, &st, &m);
	body = arena_printf(&A, "%.*s,%s]}", (int)strlen(BODY) - 2, BODY, big.data);
	t = request_elems(s, body, &h, &st, &m);
	u = uncached(s, body);
	TH_OK(t != NULL && h == 2 && u != NULL && strcmp(t, u) == 0, "evicted: the elements from "
	    "the cache (%zu) read the same after the limit dropped their entries", h);
	mask_strings_set_limit(2 * 1024 * 1024);
}

/* body masked whole without any cache, in a child process (this one's cache stays as it is) */
static char *
uncached_fork(struct store *s, const char *body)
{
	int fds[2];
	pid_t pid;
	struct buf got;
	char chunk[4096];
	ssize_t n;

	if (pipe(fds) != 0)
		return NULL;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		const char *out;
		close(fds[0]);
		mask_strings_set_limit(0);
		out = request(s, body, 1, NULL);
		if (out != NULL && write(fds[1], out, strlen(out)) < 0)
			_exit(1);
		_exit(out != NULL ? 0 : 1);
	}
	close(fds[1]);
	buf_init(&got, &A);
	while ((n = read(fds[0], chunk, sizeof(chunk))) > 0)
		buf_append(&got, chunk, (size_t)n);
	close(fds[0]);
	if (pid < 0 || waitpid(pid, NULL, 0) != pid || buf_appendc(&got, '\0') != MG_OK)
		return NULL;
	return got.data;
}

/* One message of a conversation made at random: see test_elems_random. */
static const char *
random_message(const char accts[4][16], unsigned r)
{
	const char *v = accts[(r >> 4) % 4];

	switch (r % 8) {
	case 0:	/* the value bare, before or after its context came */
		return arena_printf(&A, "{\"role\":\"user\",\"content\":\"Something about %s: the "
		    "exports stopped on Monday and nobody knows which team runs it. Who owns it?\"}",
		    v);
	case 1:	/* its context, in a tool result's JSON */
		return arena_printf(&A, "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\","
		    "\"tool_use_id\":\"toolu_%u\",\"content\":\"{\\\"Account\\\": \\\"%s\\\", "
		    "\\\"Arn\\\": \\\"arn:aws:iam::%s:user/logs\\\"}\"}]}", r, v, v);
	case 2:	/* spelled with a \u escape: the raw bytes do not hold it */
		return arena_printf(&A, "{\"role\":\"user\",\"content\":\"the logs of \\u00%02x%s stopped "
		    "again: the exports stopped on Monday and nobody knows which team runs them\"}",
		    (unsigned)v[0], v + 1);
	case 3:	/* a slash escaped as \/ in an ARN */
		return arena_printf(&A, "{\"role\":\"assistant\",\"content\":\"The role is "
		    "arn:aws:iam::%s:role\\/Exports and it writes the exports every night at two\"}", v);
	case 4:	/* a text that opens an encoding */
		return arena_printf(&A, "{\"role\":\"user\",\"content\":\"the query was "
		    "account%%3D%s%%26region%%3Dus-east-1 and it failed at two in the morning again\"}",
		    v);
	case 5:	/* a new instance */
		return arena_printf(&A, "{\"role\":\"user\",\"content\":\"instance i-0%016x was "
		    "stopped and restarted by the scheduler at noon; check it and tell me why\"}", r);
	case 6:	/* short: never an element of the cache */
		return arena_printf(&A, "{\"role\":\"assistant\",\"content\":\"ok %u\"}", r);
	default:	/* nothing to mask */
		return "{\"role\":\"assistant\",\"content\":\"Nothing there to worry about: the "
		    "exports run as planned and the files arrive where they should every night.\"}";
	}
}

/*
 * Conversations made at random (seeded): turns that bring new values,
 * values named bare before and after their context, spelled behind a \u
 * or \/ escape, or inside a text that opens an encoding. Every turn the
 * exchange would not mask again whole (elements from the cache held)
 * must give the bytes masking the whole body without any cache gives.
 */
static void
test_elems_random(void)
{
	unsigned seed = 20261207, conv, turn, held = 0, carried = 0, bad = 0;

	mask_strings_set_limit(2 * 1024 * 1024);
	for (conv = 0; conv < 16; conv++) {
		char name[32], accts[4][16];
		struct store *s;
		struct mask_session *m;
		const char *body = "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":100,\"messages\":["
		    "{\"role\":\"user\",\"content\":\"Please look at our AWS exports and tell me what "
		    "is wrong with them this week; they have been failing since Monday.\"}]}";
		int i;

		snprintf(name, sizeof(name), "elems-random-%u.db", conv);
		s = open_store(name);
		if (s == NULL)
			break;
		mask_recall_reset();
		mask_strings_clear();
		for (i = 0; i < 4; i++)
			snprintf(accts[i], sizeof(accts[i]), "%09u%03u",
			    (unsigned)rand_r(&seed) % 100000000u + 200000000u, (unsigned)i + 100);
		for (turn = 0; turn < 12; turn++) {
			const char *t, *u;
			size_t h;
			int st;
			body = arena_printf(&A, "%.*s,%s]}", (int)strlen(body) - 2, body,
			    random_message((const char (*)[16])accts, (unsigned)rand_r(&seed)));
			t = request_elems(s, body, &h, &st, &m);
			if (h > 0 && !st)
				continue;	/* the exchange masks the whole body again */
			u = uncached_fork(s, body);
			held += h > 0;
			carried += h > 0 && m->pass_version != m->elems_version;
			if (t == NULL || u == NULL || strcmp(t, u) != 0) {
				bad++;
				printf("# conversation %u turn %u differs:\n# %s\n# %s\n", conv, turn,
				    t != NULL ? t : "(refused)", u != NULL ? u : "(refused)");
			}
		}
		store_close(s);
	}
	mask_strings_set_limit(0);
	TH_OK(bad == 0 && held > 10 && carried > 0, "random: %u turns used the cache (%u of them "
	    "after learning a value), each the bytes of the whole body masked without it", held,
	    carried);
}

/* The cache of masked elements (mask_elems.c) over turns, as the exchange uses it. */
static void
test_elems(void)
{
	struct store *s = open_store("elems.db");
	struct mask_session *m, *w;
	pid_t pid;
	int status;
	const char *t1, *t2, *t3, *t4, *t5, *t6;
	size_t h1, h2, h3, h4, h5, h6;
	int s1, s2, s3, s4, s5, s6;
	struct buf out;

	TH_OK(s != NULL, "elems: store opens");
	if (s == NULL)
		return;
	mask_recall_reset();
	mask_strings_clear();
	mask_strings_set_limit(2 * 1024 * 1024);
	t1 = request_elems(s, BODY, &h1, &s1, &m);
	t2 = request_elems(s, BODY, &h2, &s2, &m);
	TH_OK(t1 != NULL && h1 == 0 && s1, "elems: a first turn learns values and masks everything "
	    "again knowing them: its elements are kept, under the filter it ends with");
	TH_OK(t2 != NULL && h2 == 2 && s2 && strcmp(t1, t2) == 0,
	    "elems: the next turn takes them (%zu), the same bytes", h2);
	t3 = request_elems(s, BODY, &h3, &s3, &m);
	TH_OK(t3 != NULL && h3 == 2 && s3 && strcmp(t1, t3) == 0,
	    "elems: turn 3 takes the elements of 128 bytes or more from the cache (%zu), the same bytes",
	    h3);
	TH_OK(reads == 1 && writes == 0, "elems: and makes one read, no write (%d, %d)", reads,
	    writes);
	buf_init(&out, &A);
	TH_OK(mask_unmask(m, "back to AWS_EC2_001 now", 23, 0, &out) == MG_OK &&
	    strstr(out.data, "i-0a1b2c3d4e5f60001") != NULL && reads == 1,
	    "elems: a hit gives the session its values: restored without the store (%.40s)",
	    out.data != NULL ? out.data : "");
	/* another worker (a process of its own) mints a value: the filter catches up */
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct store *o = open_store("elems.db");
		w = o != NULL ? mask_session_new(&A, R, o, "t") : NULL;
		buf_clear(&out);
		_exit(w != NULL && mask_text(w, "s3://acme-bucket-elems-3/x", 26, &out) == MG_OK ? 0 :
		    1);
	}
	TH_OK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0, "elems: another worker mints a bucket");
	t4 = request_elems(s, BODY, &h4, &s4, &m);
	TH_OK(t4 != NULL && h4 == 2 && !s4,
	    "elems: a request that used cached elements and met another worker's values is not "
	    "settled: the exchange masks the whole body again (%zu, %d)", h4, s4);
	t5 = request_elems(s, BODY, &h5, &s5, &m);
	t6 = request_elems(s, BODY, &h6, &s6, &m);
	TH_OK(t5 != NULL && h5 == 0 && s5 && t6 != NULL && h6 == 2 && strcmp(t5, t1) == 0 &&
	    strcmp(t6, t1) == 0, "elems: entries made under the old filter are not used (%zu), "
	    "new ones are (%zu)", h5, h6);
	test_elems_carry(s);
	test_elems_evicted(s);
	mask_strings_set_limit(0);
	store_close(s);
}

/* Is the element of turn i found at the front of a body, and how long is it said to be? */
static int
elem_found(struct mask_session *m, int i, size_t *inlen)
{
	char body[512];
	size_t outlen = 0;

	snprintf(body, sizeof(body), "{\"role\":\"user\",\"content\":\"%0120d turn %02d\"},"
	    "{\"role\":\"user\",\"content\":\"the next one\"}]}", 0, i);
	*inlen = 0;
	return mask_elems_find(m, "messages", body, strlen(body), inlen, &outlen) != NULL;
}

/*
 * Elements are found by their first 128 bytes, then compared in full; of
 * those that begin alike (a client can send any number) only the last 8
 * made are compared, so that no lookup compares them all.
 */
static void
test_elems_prefix(void)
{
	struct store *s = open_store("elems-prefix.db");
	struct mask_session *m = s != NULL ? mask_session_new(&A, R, s, "p") : NULL;
	char el[256];
	size_t inlen, len = 0;
	int i, ok = 1;

	TH_OK(m != NULL && mask_elems_begin(m) == MG_OK, "prefix: session");
	if (m == NULL)
		return;
	mask_strings_clear();
	mask_strings_set_limit(2 * 1024 * 1024);
	for (i = 0; i < 12; i++) {
		snprintf(el, sizeof(el), "{\"role\":\"user\",\"content\":\"%0120d turn %02d\"}", 0, i);
		len = strlen(el);
		mask_elems_store(m, "messages", el, len, el, len);
	}
	for (i = 4; i < 12; i++)
		ok &= elem_found(m, i, &inlen) && inlen == len;
	TH_OK(ok, "prefix: the last 8 made are found, each with its own length (%zu)", len);
	TH_OK(!elem_found(m, 3, &inlen) && !elem_found(m, 0, &inlen),
	    "prefix: older ones that begin alike are not compared (a miss: scanned and masked)");
	TH_OK(!elem_found(m, 12, &inlen), "prefix: an element that differs after its first 128 "
	    "bytes is not found");
	mask_strings_set_limit(0);
	store_close(s);
}

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
	/* one request that learns many values: each entry is checked when used, none lapse */
	{
		struct buf many;
		unsigned long h2, m2;
		int i;
		buf_init(&many, &A);
		buf_appends(&many, "{\"messages\":[{\"role\":\"user\",\"content\":\"");
		for (i = 0; i < 40; i++)
			buf_printf(&many, "i-0%016x ", 0xabcdef00u + (unsigned)i);
		buf_appends(&many, "\"}]}");
		request(a, many.data, 1, NULL);
		mask_strings_stats(&hits, &misses, &bytes);
		on2 = request(a, BODY, 1, NULL);
		mask_strings_stats(&h2, &m2, &bytes);
		TH_OK(on2 != NULL && strcmp(on2, on1) == 0 && h2 > hits && m2 == misses,
		    "cache: after a request that learnt 40 values every entry still holds "
		    "(%lu more hits, %lu misses)", h2 - hits, m2 - misses);
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
	test_bare_value_minted_elsewhere();
	test_elems();
	test_elems_prefix();
	test_elems_random();
	test_cache_lru();
	store_close(one);
	store_close(two);
	mask_recall_reset();
	rules_free(R);
	arena_free(&A);
	{
		const char *names[] = { "one.db", "two.db", "cache-on.db", "cache-off.db",
			"elems.db" };
		const char *suffix[] = { "", "-wal", "-shm" };
		size_t i, k;
		char p[600];
		for (i = 0; i < MG_NELEM(names); i++)
			for (k = 0; k < 3; k++) {
				snprintf(p, sizeof(p), "%s/%s%s", dir, names[i], suffix[k]);
				unlink(p);
			}
		rmdir(dir);
	}
	return th_done();
}
