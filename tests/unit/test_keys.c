/*
 * test_keys.c - virtual keys on a real SQLite store: hashing, tenants,
 * admission limits, reclaiming a dead worker's parallel slot, settlement,
 * master rotation, management validation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "th.h"
#include "cfg.h"
#include "keys.h"
#include "keys_mgmt.h"
#include "store.h"
#include "store_int.h"
#include <sqlite3.h>

/* the SQLite handle under the store, for tracing and fault injection */
#define SQDB(s) ((sqlite3 *)db_handle((s)->db))
#include "store_keys.h"

static char dbpath[] = "/tmp/mg-test-keys-XXXXXX";

/*
 * SQLite fault injection: the statement started fault_at-th since
 * fault_arm() is interrupted at its first progress check, so its
 * sqlite3_step() returns SQLITE_INTERRUPT, as an I/O error or NOMEM would
 * make it fail.
 */
static int fault_at, fault_started, fault_fired;

static int
fault_trace(unsigned type, void *ctx, void *p, void *x)
{
	if (type == SQLITE_TRACE_STMT)
		fault_started++;
	return 0;
}

static int
fault_progress(void *ctx)
{
	if (fault_at > 0 && fault_started == fault_at && !fault_fired) {
		fault_fired = 1;
		return 1;
	}
	return 0;
}

static void
fault_arm(struct store *s, int at)
{
	fault_at = at;
	fault_started = 0;
	fault_fired = 0;
	sqlite3_trace_v2(SQDB(s), SQLITE_TRACE_STMT, fault_trace, NULL);
	sqlite3_progress_handler(SQDB(s), 1, fault_progress, NULL);
}

static void
fault_disarm(struct store *s)
{
	sqlite3_trace_v2(SQDB(s), 0, NULL, NULL);
	sqlite3_progress_handler(SQDB(s), 0, NULL, NULL);
}

/*
 * Fails each statement of an rpm/tpm-limited admission in turn: every
 * failure must refuse the request as a store error (503), never admit it
 * (a failed usage read that counts as zero would let the limit fail open)
 * and never pass for a refusal of the key (401/429).
 */
static void
test_admit_faults(struct cfg *c, struct store *s, struct arena *a, const char *key)
{
	struct principal p;
	struct keys_ticket *t;
	struct keys_refusal r;
	const char *why;
	int at, statements = 0, fired = 0, admitted = 0, refused = 0;
	enum mg_err rc;

	TH_OK(keys_authenticate_ex(c, s, a, key, NULL, NULL, &p, &why) == MG_OK,
	    "rpm/tpm key authenticates");
	fault_arm(s, 0);
	rc = keys_admit(s, a, &p, "claude-sonnet-4-5", &t, &r);
	statements = fault_started;
	fault_disarm(s);
	TH_OK(rc == MG_OK && statements > 0, "admission without a fault (%d statements)",
	    statements);
	for (at = 1; at <= statements; at++) {
		fault_arm(s, at);
		rc = keys_admit(s, a, &p, "claude-sonnet-4-5", &t, &r);
		fault_disarm(s);
		if (!fault_fired)
			continue;
		fired++;
		if (rc == MG_OK)
			admitted++;
		else if (rc == MG_EINVAL)
			refused++;
	}
	TH_OK(fired >= statements - 1, "a fault in %d of %d statements", fired, statements);
	TH_OK(admitted == 0, "no admission when a statement fails (%d admitted)", admitted);
	TH_OK(refused == 0, "a failed statement is a store error (503), not a refusal (%d)",
	    refused);
	TH_OK(keys_admit(s, a, &p, "claude-sonnet-4-5", &t, &r) == MG_OK,
	    "admitted again once the store works");
}

static struct json_object *
obj(const char *js)
{
	return json_tokener_parse(js);
}

/* Runs a key operation that returns a key; returns the raw key (static), "" on failure. */
static const char *
gen_op(struct store *s, struct arena *a, enum keys_op op, const char *fields)
{
	static char key[80];
	struct json_object *req = obj(fields), *resp = NULL, *v;
	char err[256];
	int st = keys_mgmt(s, a, op, "test", req, &resp, err, sizeof(err));

	json_object_put(req);
	key[0] = '\0';
	if (st == 200 && json_object_object_get_ex(resp, "key", &v))
		snprintf(key, sizeof(key), "%s", json_object_get_string(v));
	json_object_put(resp);
	return key;
}

/* Generates a key with the given fields; returns the raw key (static). */
static const char *
gen(struct store *s, struct arena *a, const char *fields)
{
	return gen_op(s, a, KO_GENERATE, fields);
}

static int
mgmt_status(struct store *s, struct arena *a, enum keys_op op, const char *fields)
{
	struct json_object *req = obj(fields), *resp = NULL;
	char err[256];
	int st;

	if (req == NULL)
		return -1;
	st = keys_mgmt(s, a, op, "test", req, &resp, err, sizeof(err));
	json_object_put(req);
	json_object_put(resp);
	return st;
}

/* /key/regenerate of key (grace: JSON duration or NULL); returns the new key (static). */
static const char *
regen(struct store *s, struct arena *a, const char *key, const char *grace)
{
	static char out[80];
	char fields[256];

	if (grace != NULL)
		snprintf(fields, sizeof(fields), "{\"key\":\"%s\",\"grace_period\":\"%s\"}", key,
		    grace);
	else
		snprintf(fields, sizeof(fields), "{\"key\":\"%s\"}", key);
	snprintf(out, sizeof(out), "%s", gen_op(s, a, KO_REGENERATE, fields));
	return out;
}

/* A regenerate without grace ends every grace of the record. */
static void
test_regenerate_grace(const struct cfg *c, struct store *s, struct arena *a)
{
	struct principal p;
	const char *why;
	char k0[80], k1[80], k2[80];

	snprintf(k0, sizeof(k0), "%s", gen(s, a, "{\"user_id\":\"regen\"}"));
	snprintf(k1, sizeof(k1), "%s", regen(s, a, k0, "1h"));
	TH_OK(keys_authenticate_ex(c, s, a, k0, NULL, NULL, &p, &why) == MG_OK &&
	    keys_authenticate_ex(c, s, a, k1, NULL, NULL, &p, &why) == MG_OK, "grace: old and new work");
	snprintf(k2, sizeof(k2), "%s", regen(s, a, k1, NULL));
	TH_OK(k2[0] != '\0' && keys_authenticate_ex(c, s, a, k2, NULL, NULL, &p, &why) == MG_OK,
	    "regenerated without grace: newest works");
	TH_OK(keys_authenticate_ex(c, s, a, k1, NULL, NULL, &p, &why) == MG_ENOTFOUND,
	    "regenerated without grace: the previous key stops");
	TH_OK(keys_authenticate_ex(c, s, a, k0, NULL, NULL, &p, &why) == MG_ENOTFOUND,
	    "regenerated without grace: the first key's grace ends too");
}

/* A key with neither team nor user keeps its tenant through regeneration. */
static void
test_tenant_survives_regeneration(const struct cfg *c, struct store *s, struct arena *a)
{
	struct principal p;
	const char *why, *tenant = NULL;
	char k0[80], k1[80];

	snprintf(k0, sizeof(k0), "%s", gen(s, a, "{\"key_alias\":\"bare\"}"));
	if (keys_authenticate_ex(c, s, a, k0, NULL, NULL, &p, &why) == MG_OK)
		tenant = p.tenant;
	snprintf(k1, sizeof(k1), "%s", regen(s, a, k0, NULL));
	TH_OK(tenant != NULL && keys_authenticate_ex(c, s, a, k1, NULL, NULL, &p, &why) == MG_OK &&
	    strcmp(p.tenant, tenant) == 0, "tenant of a bare key survives regeneration");
	snprintf(k0, sizeof(k0), "%s", regen(s, a, k1, "1h"));
	TH_OK(keys_authenticate_ex(c, s, a, k0, NULL, NULL, &p, &why) == MG_OK &&
	    strcmp(p.tenant, tenant) == 0, "and a second one, with grace");
}

/*
 * rpm_limit is a sliding window shared through the store: 20 requests at
 * second 50 of a minute still count at second 61 (a fixed window let 20
 * more through there) and stop counting 60 s after they were made.
 */
static void
test_sliding_window(struct store *s, struct arena *a)
{
	struct keys_record k;
	struct keys_refusal r;
	char hash[65];
	long base = 60L * 100000, slot, admitted = 0;
	int i;

	keys_hash_arg(gen(s, a, "{\"rpm_limit\":20}"), hash);
	for (i = 0; i < 25; i++)
		if (store_keys_admit(s, a, hash, base + 50, 600, &k, &slot, &r) == MG_OK)
			admitted++;
	TH_OK(admitted == 20, "20 of 25 admitted within a minute");
	TH_OK(store_keys_admit(s, a, hash, base + 61, 600, &k, &slot, &r) == MG_EINVAL &&
	    r.status == 429 && r.retry_after == 49,
	    "across the minute boundary: still refused, retry-after until they expire");
	TH_OK(store_keys_admit(s, a, hash, base + 109, 600, &k, &slot, &r) == MG_EINVAL,
	    "refused until 60 s after the 20 requests");
	admitted = 0;
	for (i = 0; i < 25; i++)
		if (store_keys_admit(s, a, hash, base + 110, 600, &k, &slot, &r) == MG_OK)
			admitted++;
	TH_OK(admitted == 20, "60 s later the window is free again (20 admitted)");
}

int
main(void)
{
	struct cfg c;
	struct store *s;
	struct arena a;
	struct principal p;
	struct keys_ticket *t1, *t2;
	struct keys_refusal r;
	struct keys_outcome o;
	const char *why, *key;
	char err[256], hash[65], master2[128];
	int fd = mkstemp(dbpath);
	pid_t child;

	close(fd);
	memset(&c, 0, sizeof(c));
	c.db_path = dbpath;
	c.busy_timeout_ms = 5000;
	c.upstream_timeout = 600;
	c.master_key = "sk-0123456789abcdef0123456789abcdef0123456789abcdef";
	arena_init(&a);
	if (store_open(&c, &s, err, sizeof(err)) != MG_OK) {
		printf("not ok 1 - store_open: %s\n", err);
		return 1;
	}

	TH_OK(keys_hash_arg("sk-abc", hash) == MG_OK && strlen(hash) == 64, "hash of sk- key");
	TH_OK(keys_hash_arg("nothex", hash) == MG_EINVAL, "non-key non-hash refused");
	TH_OK(keys_hash_arg("ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789",
	    hash) == MG_OK && hash[0] == 'a', "hash argument lowercased");

	TH_OK(keys_authenticate_ex(&c, s, &a, c.master_key, NULL, NULL, &p, &why) == MG_OK &&
	    p.kind == PRINCIPAL_MASTER && p.admin && strcmp(p.tenant, KEYS_MASTER_TENANT) == 0,
	    "master key authenticates");
	TH_OK(keys_authenticate_ex(&c, s, &a, NULL, "Bearer sk-nope-nope", NULL, &p, &why) == MG_ENOTFOUND,
	    "unknown key refused");

	key = gen(s, &a, "{\"team_id\":\"ops\",\"user_id\":\"al\",\"max_parallel_requests\":1,"
	    "\"rpm_limit\":5,\"max_budget\":0.001}");
	TH_OK(strncmp(key, "sk-", 3) == 0 && strlen(key) == 67, "generated key is sk- + 64 hex");
	TH_OK(keys_authenticate_ex(&c, s, &a, key, NULL, NULL, &p, &why) == MG_OK &&
	    p.kind == PRINCIPAL_VIRTUAL && !p.admin, "virtual key authenticates");
	TH_STREQ(p.tenant, "team:ops", "tenant is the team");

	TH_OK(keys_admit(s, &a, &p, "claude-sonnet-4-5", &t1, &r) == MG_OK, "first admitted");
	TH_OK(keys_admit(s, &a, &p, "claude-sonnet-4-5", &t2, &r) == MG_EINVAL &&
	    r.status == 429 && r.retry_after > 0, "second parallel request refused (429)");
	memset(&o, 0, sizeof(o));
	o.model = "claude-sonnet-4-5";
	o.input_tokens = 100;
	o.cost = 0.0004;
	o.status = 200;
	keys_settle(s, t1, &o);
	TH_OK(keys_admit(s, &a, &p, "claude-sonnet-4-5", &t1, &r) == MG_OK,
	    "slot released by settle");

	/* a worker that dies holding a slot: its slot is reclaimed */
	child = fork();
	if (child == 0) {
		struct store *cs;
		struct arena ca;
		struct keys_ticket *ct;
		struct keys_refusal cr;
		arena_init(&ca);
		if (store_open(&c, &cs, err, sizeof(err)) != MG_OK)
			_exit(2);
		/* t1 is still held by the parent: a second process is refused */
		_exit(keys_admit(cs, &ca, &p, "claude-sonnet-4-5", &ct, &cr) == MG_EINVAL &&
		    cr.status == 429 ? 0 : 1);
	}
	{
		int status = -1;
		waitpid(child, &status, 0);
		TH_OK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		    "another process is refused the slot this one holds");
	}
	keys_settle(s, t1, &o);
	child = fork();
	if (child == 0) {
		struct store *cs;
		struct arena ca;
		struct keys_ticket *ct;
		struct keys_refusal cr;
		arena_init(&ca);
		if (store_open(&c, &cs, err, sizeof(err)) != MG_OK)
			_exit(2);
		/* takes the slot and dies without settling */
		_exit(keys_admit(cs, &ca, &p, "claude-sonnet-4-5", &ct, &cr) == MG_OK ? 0 : 1);
	}
	{
		int status = 0;
		waitpid(child, &status, 0);
		TH_OK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child took the slot and died");
	}
	TH_OK(keys_admit(s, &a, &p, "claude-sonnet-4-5", &t1, &r) == MG_OK,
	    "dead worker's slot reclaimed");
	keys_settle(s, t1, &o);
	TH_OK(keys_admit(s, &a, &p, "claude-sonnet-4-5", &t1, &r) == MG_EINVAL &&
	    r.status == 429 && strstr(r.message, "budget") != NULL,
	    "budget exhausted after 0.0012 USD of 0.001");

	key = gen(s, &a, "{\"models\":[\"claude-haiku-4-5\"]}");
	TH_OK(keys_authenticate_ex(&c, s, &a, key, NULL, NULL, &p, &why) == MG_OK, "haiku-only key");
	TH_OK(keys_admit(s, &a, &p, "claude-sonnet-4-5", &t1, &r) == MG_EINVAL && r.status == 403,
	    "model outside the allow-list: 403");
	TH_STREQ(p.tenant, arena_printf(&a, "key:%.12s", p.key_hash), "tenant of a bare key");

	TH_OK(mgmt_status(s, &a, KO_GENERATE, "{\"max_budget\":-1}") == 400, "negative budget 400");
	TH_OK(mgmt_status(s, &a, KO_GENERATE, "{\"duration\":\"10y\"}") == 400, "bad duration 400");
	TH_OK(mgmt_status(s, &a, KO_GENERATE, "{\"rpm_limit\":1.5}") == 400, "float rpm 400");
	TH_OK(mgmt_status(s, &a, KO_GENERATE, "{\"models\":[1]}") == 400, "non-string model 400");
	TH_OK(mgmt_status(s, &a, KO_INFO, "{\"key\":\"sk-unknown\"}") == 404, "unknown key 404");
	TH_OK(mgmt_status(s, &a, KO_DELETE, "{\"keys\":[]}") == 400, "empty delete 400");

	TH_OK(keys_master_rotate(&c, s, "test", 3600, master2, sizeof(master2), err,
	    sizeof(err)) == MG_OK, "master rotate");
	TH_OK(keys_authenticate_ex(&c, s, &a, master2, NULL, NULL, &p, &why) == MG_OK &&
	    p.kind == PRINCIPAL_MASTER, "rotated key is a master key");
	TH_OK(keys_authenticate_ex(&c, s, &a, c.master_key, NULL, NULL, &p, &why) == MG_OK,
	    "configured key still valid in grace");
	TH_OK(keys_master_rotate(&c, s, "test", 0, master2 + 64, 60, err, sizeof(err)) != MG_OK,
	    "small output buffer refused");
	{
		char m3[128];
		TH_OK(keys_master_rotate(&c, s, "test", 0, m3, sizeof(m3), err, sizeof(err)) == MG_OK,
		    "rotate with no grace");
		TH_OK(keys_authenticate_ex(&c, s, &a, c.master_key, NULL, NULL, &p, &why) == MG_ENOTFOUND,
		    "configured key retired");
		TH_OK(keys_authenticate_ex(&c, s, &a, master2, NULL, NULL, &p, &why) == MG_ENOTFOUND,
		    "earlier rotated key retired");
		TH_OK(keys_authenticate_ex(&c, s, &a, m3, NULL, NULL, &p, &why) == MG_OK, "newest works");
	}

	test_regenerate_grace(&c, s, &a);
	test_tenant_survives_regeneration(&c, s, &a);
	test_sliding_window(s, &a);
	key = gen(s, &a, "{\"rpm_limit\":1000,\"tpm_limit\":1000000}");
	test_admit_faults(&c, s, &a, key);

	store_close(s);
	arena_free(&a);
	unlink(dbpath);
	{
		char side[300];
		snprintf(side, sizeof(side), "%s-wal", dbpath);
		unlink(side);
		snprintf(side, sizeof(side), "%s-shm", dbpath);
		unlink(side);
	}
	return th_done();
}
