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
#include "auth.h"
#include "keys.h"
#include "mg_limits.h"
#include "models.h"
#include "spend.h"
#include "keys_mgmt.h"
#include "store.h"
#include "store_int.h"
#include <sqlite3.h>

/* the SQLite handle under the store, for tracing and fault injection */
#define SQDB(s) ((sqlite3 *)db_handle((s)->db))
#include "store_keys.h"

static char dbpath[] = "/tmp/mg-test-keys-XXXXXX";
/* the default model table: a key with a budget may only use priced models */
static struct models *mt;

/* Settles an admitted request as the exchange does after the response. */
static void
settle(struct store *s, struct keys_ticket *t, double cost)
{
	struct outcome o;

	outcome_init(&o);
	o.ticket = t;
	o.model = "claude-sonnet-4-5";
	o.usage.input_tokens = 100;
	o.priced = 1;
	o.cost = cost;
	o.status = 200;
	spend_settle(s, "req_test", &o);
}

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

	TH_OK(auth_authenticate(c, s, a, key, NULL, NULL, &p, &why, NULL) == MG_OK,
	    "rpm/tpm key authenticates");
	fault_arm(s, 0);
	rc = limits_admit(mt, s, a, &p, "claude-sonnet-4-5", &t, &r);
	statements = fault_started;
	fault_disarm(s);
	TH_OK(rc == MG_OK && statements > 0, "admission without a fault (%d statements)",
	    statements);
	for (at = 1; at <= statements; at++) {
		fault_arm(s, at);
		rc = limits_admit(mt, s, a, &p, "claude-sonnet-4-5", &t, &r);
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
	TH_OK(limits_admit(mt, s, a, &p, "claude-sonnet-4-5", &t, &r) == MG_OK,
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
	enum mg_err st = keys_mgmt(s, a, op, "test", req, &resp, err, sizeof(err));

	json_object_put(req);
	key[0] = '\0';
	if (st == MG_OK && json_object_object_get_ex(resp, "key", &v))
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

static enum mg_err
mgmt_status(struct store *s, struct arena *a, enum keys_op op, const char *fields)
{
	struct json_object *req = obj(fields), *resp = NULL;
	char err[256];
	enum mg_err st;

	if (req == NULL)
		return MG_ERR__MAX;
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
	TH_OK(auth_authenticate(c, s, a, k0, NULL, NULL, &p, &why, NULL) == MG_OK &&
	    auth_authenticate(c, s, a, k1, NULL, NULL, &p, &why, NULL) == MG_OK, "grace: old and new work");
	snprintf(k2, sizeof(k2), "%s", regen(s, a, k1, NULL));
	TH_OK(k2[0] != '\0' && auth_authenticate(c, s, a, k2, NULL, NULL, &p, &why, NULL) == MG_OK,
	    "regenerated without grace: newest works");
	TH_OK(auth_authenticate(c, s, a, k1, NULL, NULL, &p, &why, NULL) == MG_ENOTFOUND,
	    "regenerated without grace: the previous key stops");
	TH_OK(auth_authenticate(c, s, a, k0, NULL, NULL, &p, &why, NULL) == MG_ENOTFOUND,
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
	if (auth_authenticate(c, s, a, k0, NULL, NULL, &p, &why, NULL) == MG_OK)
		tenant = p.tenant;
	snprintf(k1, sizeof(k1), "%s", regen(s, a, k0, NULL));
	TH_OK(tenant != NULL && auth_authenticate(c, s, a, k1, NULL, NULL, &p, &why, NULL) == MG_OK &&
	    strcmp(p.tenant, tenant) == 0, "tenant of a bare key survives regeneration");
	snprintf(k0, sizeof(k0), "%s", regen(s, a, k1, "1h"));
	TH_OK(auth_authenticate(c, s, a, k0, NULL, NULL, &p, &why, NULL) == MG_OK &&
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
		if (limits_admit_key(s, a, hash, base + 50, 600, &k, &slot, &r) == MG_OK)
			admitted++;
	TH_OK(admitted == 20, "20 of 25 admitted within a minute");
	TH_OK(limits_admit_key(s, a, hash, base + 61, 600, &k, &slot, &r) == MG_EINVAL &&
	    r.reason == OUT_RATE && r.retry_after == 49,
	    "across the minute boundary: still refused, retry-after until they expire");
	TH_OK(limits_admit_key(s, a, hash, base + 109, 600, &k, &slot, &r) == MG_EINVAL,
	    "refused until 60 s after the 20 requests");
	admitted = 0;
	for (i = 0; i < 25; i++)
		if (limits_admit_key(s, a, hash, base + 110, 600, &k, &slot, &r) == MG_OK)
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
	if (models_load(NULL, NULL, &mt, err, sizeof(err)) != MG_OK) {
		printf("not ok 1 - models_load: %s\n", err);
		return 1;
	}
	if (store_open(&c, &s, err, sizeof(err)) != MG_OK) {
		printf("not ok 1 - store_open: %s\n", err);
		return 1;
	}

	TH_OK(keys_hash_arg("sk-abc", hash) == MG_OK && strlen(hash) == 64, "hash of sk- key");
	TH_OK(keys_hash_arg("nothex", hash) == MG_EINVAL, "non-key non-hash refused");
	TH_OK(keys_hash_arg("ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789",
	    hash) == MG_OK && hash[0] == 'a', "hash argument lowercased");

	TH_OK(auth_authenticate(&c, s, &a, c.master_key, NULL, NULL, &p, &why, NULL) == MG_OK &&
	    p.kind == PRINCIPAL_MASTER && p.admin && strcmp(p.tenant, KEYS_MASTER_TENANT) == 0,
	    "master key authenticates");
	TH_OK(auth_authenticate(&c, s, &a, NULL, "Bearer sk-nope-nope", NULL, &p, &why, NULL) == MG_ENOTFOUND,
	    "unknown key refused");

	key = gen(s, &a, "{\"team_id\":\"ops\",\"user_id\":\"al\",\"max_parallel_requests\":1,"
	    "\"rpm_limit\":5,\"max_budget\":0.001}");
	TH_OK(strncmp(key, "sk-", 3) == 0 && strlen(key) == 67, "generated key is sk- + 64 hex");
	TH_OK(auth_authenticate(&c, s, &a, key, NULL, NULL, &p, &why, NULL) == MG_OK &&
	    p.kind == PRINCIPAL_VIRTUAL && !p.admin, "virtual key authenticates");
	TH_STREQ(p.tenant, "team:ops", "tenant is the team");

	TH_OK(limits_admit(mt, s, &a, &p, "claude-sonnet-4-5", &t1, &r) == MG_OK, "first admitted");
	TH_OK(limits_admit(mt, s, &a, &p, "claude-sonnet-4-5", &t2, &r) == MG_EINVAL &&
	    r.retry_after > 0 && r.reason == OUT_PARALLEL,
	    "second parallel request refused (429, reason parallel)");
	settle(s, t1, 0.0004);
	TH_OK(limits_admit(mt, s, &a, &p, "claude-sonnet-4-5", &t1, &r) == MG_OK,
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
		_exit(limits_admit(mt, cs, &ca, &p, "claude-sonnet-4-5", &ct, &cr) == MG_EINVAL &&
		    cr.reason == OUT_PARALLEL ? 0 : 1);
	}
	{
		int status = -1;
		waitpid(child, &status, 0);
		TH_OK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		    "another process is refused the slot this one holds");
	}
	settle(s, t1, 0.0004);
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
		_exit(limits_admit(mt, cs, &ca, &p, "claude-sonnet-4-5", &ct, &cr) == MG_OK ? 0 : 1);
	}
	{
		int status = 0;
		waitpid(child, &status, 0);
		TH_OK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child took the slot and died");
	}
	TH_OK(limits_admit(mt, s, &a, &p, "claude-sonnet-4-5", &t1, &r) == MG_OK,
	    "dead worker's slot reclaimed");
	settle(s, t1, 0.0004);
	TH_OK(limits_admit(mt, s, &a, &p, "claude-sonnet-4-5", &t1, &r) == MG_EINVAL &&
	    r.reason == OUT_BUDGET,
	    "budget exhausted after 0.0012 USD of 0.001");

	key = gen(s, &a, "{\"models\":[\"claude-haiku-4-5\"]}");
	TH_OK(auth_authenticate(&c, s, &a, key, NULL, NULL, &p, &why, NULL) == MG_OK, "haiku-only key");
	TH_OK(limits_admit(mt, s, &a, &p, "claude-sonnet-4-5", &t1, &r) == MG_EINVAL &&
	    r.reason == OUT_MODEL,
	    "model outside the allow-list: 403");
	TH_STREQ(p.tenant, arena_printf(&a, "key:%.12s", p.key_hash), "tenant of a bare key");

	TH_OK(mgmt_status(s, &a, KO_GENERATE, "{\"max_budget\":-1}") == MG_EINVAL, "negative budget refused");
	TH_OK(mgmt_status(s, &a, KO_GENERATE, "{\"duration\":\"10y\"}") == MG_EINVAL, "bad duration refused");
	TH_OK(mgmt_status(s, &a, KO_GENERATE, "{\"rpm_limit\":1.5}") == MG_EINVAL, "float rpm refused");
	TH_OK(mgmt_status(s, &a, KO_GENERATE, "{\"models\":[1]}") == MG_EINVAL, "non-string model refused");
	TH_OK(mgmt_status(s, &a, KO_INFO, "{\"key\":\"sk-unknown\"}") == MG_ENOTFOUND, "unknown key not found");
	TH_OK(mgmt_status(s, &a, KO_DELETE, "{\"keys\":[]}") == MG_EINVAL, "empty delete refused");

	TH_OK(keys_master_rotate(&c, s, "test", 3600, master2, sizeof(master2), err,
	    sizeof(err)) == MG_OK, "master rotate");
	TH_OK(auth_authenticate(&c, s, &a, master2, NULL, NULL, &p, &why, NULL) == MG_OK &&
	    p.kind == PRINCIPAL_MASTER, "rotated key is a master key");
	TH_OK(auth_authenticate(&c, s, &a, c.master_key, NULL, NULL, &p, &why, NULL) == MG_OK,
	    "configured key still valid in grace");
	TH_OK(keys_master_rotate(&c, s, "test", 0, master2 + 64, 60, err, sizeof(err)) != MG_OK,
	    "small output buffer refused");
	{
		char m3[128];
		TH_OK(keys_master_rotate(&c, s, "test", 0, m3, sizeof(m3), err, sizeof(err)) == MG_OK,
		    "rotate with no grace");
		TH_OK(auth_authenticate(&c, s, &a, c.master_key, NULL, NULL, &p, &why, NULL) == MG_ENOTFOUND,
		    "configured key retired");
		TH_OK(auth_authenticate(&c, s, &a, master2, NULL, NULL, &p, &why, NULL) == MG_ENOTFOUND,
		    "earlier rotated key retired");
		TH_OK(auth_authenticate(&c, s, &a, m3, NULL, NULL, &p, &why, NULL) == MG_OK, "newest works");
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
