/*
 * test_limits.c - the key limits under concurrency: worker processes
 * admitting and settling against one key at the same time, as the
 * exchange does (reservation at admission, settlement in the write after
 * the response). rpm and max_parallel_requests hold exactly; a budget is
 * overshot by at most the requests in flight when it ran out (the
 * documented reservation), and every settled cost is counted once.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "th.h"
#include "auth.h"
#include "keys.h"
#include "keys_mgmt.h"
#include "mg_limits.h"
#include "models.h"
#include "spend.h"
#include "store.h"
#include "store_map.h"

#define WORKERS 6
#define COST 0.0004

static char dbpath[] = "/tmp/mg-test-limits-XXXXXX";
static struct cfg c;
static struct models *mt;

/* What the workers share: admissions and the most slots held at once. */
struct shared {
	int admitted, refused, errors;
	int holding, most_holding;
};
static struct shared *sh;

static const char *
gen(struct store *s, struct arena *a, const char *fields)
{
	static char key[80];
	struct json_object *req = json_tokener_parse(fields), *resp = NULL, *v;
	char err[256];

	key[0] = '\0';
	if (keys_mgmt(s, a, KO_GENERATE, "test", req, &resp, err, sizeof(err)) == MG_OK &&
	    json_object_object_get_ex(resp, "key", &v))
		snprintf(key, sizeof(key), "%s", json_object_get_string(v));
	json_object_put(req);
	json_object_put(resp);
	return key;
}

static void
pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/*
 * One worker: tries tries requests one after the other with key, each
 * held for hold_ms "upstream" and settled at cost after it.
 */
static void
worker(const char *key, int tries, long hold_ms)
{
	struct store *s;
	struct arena a;
	struct principal p;
	struct keys_ticket *t;
	struct keys_refusal r;
	struct outcome o;
	const char *why;
	char err[256];
	int i, now;
	enum mg_err rc;

	arena_init(&a);
	if (store_open(&c, &s, err, sizeof(err)) != MG_OK)
		_exit(2);
	for (i = 0; i < tries; i++) {
		if (auth_authenticate(&c, s, &a, key, NULL, NULL, &p, &why, NULL) != MG_OK) {
			__atomic_add_fetch(&sh->errors, 1, __ATOMIC_SEQ_CST);
			continue;
		}
		rc = limits_admit(mt, s, &a, &p, "claude-sonnet-4-5", &t, &r);
		if (rc == MG_EINVAL) {
			__atomic_add_fetch(&sh->refused, 1, __ATOMIC_SEQ_CST);
			continue;
		}
		if (rc != MG_OK) {
			__atomic_add_fetch(&sh->errors, 1, __ATOMIC_SEQ_CST);
			continue;
		}
		__atomic_add_fetch(&sh->admitted, 1, __ATOMIC_SEQ_CST);
		now = __atomic_add_fetch(&sh->holding, 1, __ATOMIC_SEQ_CST);
		for (int most = __atomic_load_n(&sh->most_holding, __ATOMIC_SEQ_CST);
		    now > most && !__atomic_compare_exchange_n(&sh->most_holding, &most, now, 0,
		    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);)
			;
		pause_ms(hold_ms);
		/* the response is out: the slot is free from here, as after FCGX_Finish_r */
		__atomic_sub_fetch(&sh->holding, 1, __ATOMIC_SEQ_CST);
		outcome_init(&o);
		o.ticket = t;
		o.tenant = p.tenant;
		o.model = "claude-sonnet-4-5";
		o.priced = 1;
		o.cost = COST;
		o.status = 200;
		spend_settle(s, "req_limits", &o);
		arena_reset(&a);
	}
	store_close(s);
	arena_free(&a);
	_exit(0);
}

/* Runs WORKERS workers against key and waits for them. */
static void
run(const char *key, int tries, long hold_ms)
{
	pid_t pids[WORKERS];
	int i, status;

	memset(sh, 0, sizeof(*sh));
	for (i = 0; i < WORKERS; i++) {
		pids[i] = fork();
		if (pids[i] == 0)
			worker(key, tries, hold_ms);
	}
	for (i = 0; i < WORKERS; i++)
		waitpid(pids[i], &status, 0);
}

static double
key_spend(struct store *s, struct arena *a, const char *key)
{
	struct json_object *req = json_object_new_object(), *resp = NULL, *info, *v;
	char err[256];
	double spend = -1;

	json_object_object_add(req, "key", json_object_new_string(key));
	if (keys_mgmt(s, a, KO_INFO, "test", req, &resp, err, sizeof(err)) == MG_OK &&
	    json_object_object_get_ex(resp, "info", &info) &&
	    json_object_object_get_ex(info, "spend", &v))
		spend = json_object_get_double(v);
	json_object_put(req);
	json_object_put(resp);
	return spend;
}

int
main(void)
{
	struct store *s;
	struct arena a;
	const char *key;
	char err[256];
	double spend;
	int fd = mkstemp(dbpath);

	close(fd);
	memset(&c, 0, sizeof(c));
	c.db_path = dbpath;
	c.busy_timeout_ms = 10000;
	c.upstream_timeout = 600;
	c.master_key = "sk-0123456789abcdef0123456789abcdef0123456789abcdef";
	arena_init(&a);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED || models_load(NULL, NULL, &mt, err, sizeof(err)) != MG_OK ||
	    store_open(&c, &s, err, sizeof(err)) != MG_OK) {
		printf("not ok 1 - setup: %s\n", err);
		return 1;
	}

	/* rpm: the request is reserved in the window at admission */
	key = gen(s, &a, "{\"rpm_limit\":10}");
	run(key, 4, 1);
	TH_OK(sh->admitted == 10 && sh->refused == WORKERS * 4 - 10 && sh->errors == 0,
	    "rpm_limit 10, %d workers x 4 requests: %d admitted, %d refused, %d errors",
	    WORKERS, sh->admitted, sh->refused, sh->errors);

	/* parallel: never more slots held than the limit, whatever the timing */
	key = gen(s, &a, "{\"max_parallel_requests\":2}");
	run(key, 5, 20);
	TH_OK(sh->most_holding <= 2 && sh->admitted >= 2 && sh->errors == 0,
	    "max_parallel_requests 2: at most %d held at once, %d admitted, %d refused",
	    sh->most_holding, sh->admitted, sh->refused);

	/*
	 * The settle window: a client's next request reaches another worker
	 * while the worker that answered the previous one is still writing its
	 * settlement (after FCGX_Finish_r). It waits for the slot, not 429.
	 */
	key = gen(s, &a, "{\"max_parallel_requests\":1}");
	{
		struct principal p;
		struct keys_ticket *t;
		struct keys_refusal r;
		struct outcome o;
		const char *why;
		pid_t pid;
		int status = -1;
		TH_OK(auth_authenticate(&c, s, &a, key, NULL, NULL, &p, &why, NULL) == MG_OK &&
		    limits_admit(mt, s, &a, &p, "claude-sonnet-4-5", &t, &r) == MG_OK,
		    "the previous request holds the only slot");
		pid = fork();
		if (pid == 0) {
			struct store *cs;
			struct arena ca;
			struct principal cp;
			struct keys_ticket *ct;
			struct keys_refusal cr;
			arena_init(&ca);
			if (store_open(&c, &cs, err, sizeof(err)) != MG_OK ||
			    auth_authenticate(&c, cs, &ca, key, NULL, NULL, &cp, &why, NULL) != MG_OK)
				_exit(2);
			_exit(limits_admit(mt, cs, &ca, &cp, "claude-sonnet-4-5", &ct, &cr) == MG_OK ?
			    0 : 1);
		}
		pause_ms(30);
		outcome_init(&o);
		o.ticket = t;
		o.tenant = p.tenant;
		o.status = 200;
		spend_settle(s, "req_prev", &o);
		waitpid(pid, &status, 0);
		TH_OK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		    "the next request, arriving before the previous one settled, is admitted "
		    "once it has (exit %d)", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	}

	/*
	 * budget: 0.001 USD at 0.0004 a request is 3 requests in a row; in
	 * flight together, at most one more per other worker (each admitted
	 * against the spend settled so far), and every cost counted once.
	 */
	key = gen(s, &a, "{\"max_budget\":0.001}");
	run(key, 4, 5);
	spend = key_spend(s, &a, key);
	TH_OK(sh->admitted >= 3 && sh->admitted <= 3 + WORKERS - 1 && sh->errors == 0,
	    "max_budget: %d admitted (3 in a row, at most %d with %d in flight)", sh->admitted,
	    3 + WORKERS - 1, WORKERS);
	TH_OK(spend > sh->admitted * COST - 1e-9 && spend < sh->admitted * COST + 1e-9,
	    "spend %.6f is exactly %d settled requests", spend, sh->admitted);
	TH_OK(sh->refused == WORKERS * 4 - sh->admitted, "the rest refused (%d)", sh->refused);

	store_close(s);
	models_free(mt);
	arena_free(&a);
	unlink(dbpath);
	return th_done();
}
