/*
 * test_mint_cap.c - the caps on new mappings in the transaction that
 * mints (store_map_set_caps): the tenant's count of the hour is added and
 * checked there, so values already known pass at the cap, a refused call
 * keeps nothing, and worker processes minting at once never take the
 * hour past its cap.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "th.h"
#include "cfg.h"
#include "log.h"
#include "store.h"
#include "store_map.h"

#define WORKERS 8
#define PER_WORKER 5
#define RACE_CAP 20

static char dir[] = "/tmp/mg_mintcap_XXXXXX";
static char dbpath[300];

/* What each worker reports: the call's result and what it kept. */
struct shared {
	int ready;
	int rc[WORKERS];
	long minted[WORKERS];
	int numbered[WORKERS];	/* items left with a number */
	int hit[WORKERS];
};
static struct shared *sh;

static struct store *
open_store(void)
{
	struct cfg c;
	struct store *s = NULL;
	char err[512];

	memset(&c, 0, sizeof(c));
	c.db_path = dbpath;
	memset(c.data_key, 7, sizeof(c.data_key));
	c.have_data_key = 1;
	c.busy_timeout_ms = 10000;
	if (store_open(&c, &s, err, sizeof(err)) != MG_OK)
		printf("# %s\n", err);
	return s;
}

/* n items of tenant, values "<tag>-<first + i>". */
static struct store_map_item *
items(struct store *s, const char *tenant, const char *tag, int first, int n)
{
	static char vals[64][32];
	static struct store_map_item it[64];
	int i;

	for (i = 0; i < n && i < 64; i++) {
		snprintf(vals[i], sizeof(vals[i]), "%s-%d", tag, first + i);
		memset(&it[i], 0, sizeof(it[i]));
		it[i].type = "ID";
		it[i].value = vals[i];
		it[i].len = strlen(vals[i]);
		store_map_hash(s, tenant, it[i].type, it[i].value, it[i].len, it[i].hash);
	}
	return it;
}

static int
numbered(const struct store_map_item *it, int n)
{
	int i, k = 0;

	for (i = 0; i < n; i++)
		k += it[i].num != 0;
	return k;
}

static long
used(struct store *s, const char *tenant, long hour)
{
	long u = -1;

	if (store_mint_used(s, tenant, hour, &u) != MG_OK)
		return -1;
	return u;
}

static long stat_live;

static void
on_stat(void *arg, const struct store_map_stat *st)
{
	if (strcmp(st->tenant, (const char *)arg) == 0)
		stat_live += st->live;
}

static long
live(struct store *s, const char *tenant)
{
	stat_live = 0;
	if (store_map_stats(s, time(NULL), on_stat, (void *)tenant) != MG_OK)
		return -1;
	return stat_live;
}

/* One call of store_map_assign under caps; r gets the report. */
static enum mg_err
mint(struct store *s, const struct store_mint_caps *c, const char *tenant, const char *tag,
    int first, int n, struct store_map_item **out, struct store_mint_report *r)
{
	struct store_map_item *it = items(s, tenant, tag, first, n);
	enum mg_err rc;

	store_map_set_caps(s, c);
	rc = store_map_assign(s, tenant, it, (size_t)n, time(NULL));
	store_map_mint_report(s, r);
	store_map_set_caps(s, NULL);
	if (out != NULL)
		*out = it;
	return rc;
}

static void
sequential(struct store *s, long hour)
{
	struct store_mint_caps c = { 0, 5, hour }, q = { 2, 0, hour }, old = { 0, 5, hour - 30 };
	struct store_map_item *it;
	struct store_mint_report r;
	enum mg_err rc;

	rc = mint(s, &c, "t1", "a", 0, 3, &it, &r);
	TH_OK(rc == MG_OK && r.minted == 3 && r.hit == STORE_MINT_NONE && used(s, "t1", hour) == 3,
	    "3 new values under an hourly cap of 5: minted and counted (%ld)", used(s, "t1", hour));
	rc = mint(s, &c, "t1", "b", 0, 3, &it, &r);
	TH_OK(rc == MG_ETOOBIG && r.hit == STORE_MINT_HOUR && r.minted == 0 &&
	    r.hour_used == 3 && r.refused == 3 && numbered(it, 3) == 0,
	    "3 more would pass 5: refused whole, reporting 3 of the hour used (%ld) and 3 asked",
	    r.hour_used);
	TH_OK(used(s, "t1", hour) == 3 && live(s, "t1") == 3,
	    "the refused call kept nothing: count %ld, mappings %ld", used(s, "t1", hour),
	    live(s, "t1"));
	rc = mint(s, &c, "t1", "b", 0, 2, &it, &r);
	TH_OK(rc == MG_OK && r.minted == 2 && used(s, "t1", hour) == 5,
	    "2 more reach the cap exactly (%ld)", used(s, "t1", hour));
	rc = mint(s, &c, "t1", "a", 0, 3, &it, &r);
	TH_OK(rc == MG_OK && r.hit == STORE_MINT_NONE && r.minted == 0 && numbered(it, 3) == 3 &&
	    used(s, "t1", hour) == 5, "at the cap, values already known pass and count nothing");
	rc = mint(s, &c, "t1", "c", 0, 1, &it, &r);
	TH_OK(rc == MG_ETOOBIG && r.hit == STORE_MINT_HOUR && r.hour_used == 5,
	    "at the cap, one new value is refused");
	rc = mint(s, &c, "t2", "a", 0, 6, &it, &r);
	TH_OK(rc == MG_ETOOBIG && r.hit == STORE_MINT_HOUR && r.hour_used == -1 &&
	    r.refused == 6 && used(s, "t2", hour) == 0 && live(s, "t2") == 0,
	    "6 new values in one call under a cap of 5: stopped at the sixth, count untouched");
	rc = mint(s, &q, "t3", "a", 0, 3, &it, &r);
	TH_OK(rc == MG_ETOOBIG && r.hit == STORE_MINT_QUOTA && used(s, "t3", hour) == 0,
	    "the per-request quota still refuses the third of 3 (MG_ETOOBIG, quota)");
	rc = mint(s, NULL, "t4", "a", 0, 3, &it, &r);
	TH_OK(rc == MG_OK && r.minted == 3 && used(s, "t4", hour) == 0,
	    "without caps nothing is counted");
	rc = mint(s, &old, "t5", "a", 0, 1, &it, &r);
	TH_OK(rc == MG_OK && used(s, "t5", hour - 30) == 1, "a count 30 hours ago");
	rc = mint(s, &c, "t6", "a", 0, 1, &it, &r);
	TH_OK(rc == MG_OK && used(s, "t5", hour - 30) == 0 && used(s, "t6", hour) == 1,
	    "a tenant's first count of an hour forgets hours older than a day");
}

static void
worker(int w, long hour)
{
	struct store_mint_caps c = { 0, RACE_CAP, hour };
	struct store_map_item *it;
	struct store_mint_report r;
	struct store *s = open_store();
	char tag[16];

	if (s == NULL)
		_exit(2);
	snprintf(tag, sizeof(tag), "w%d", w);
	__atomic_add_fetch(&sh->ready, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&sh->ready, __ATOMIC_SEQ_CST) < WORKERS)
		usleep(100);
	sh->rc[w] = mint(s, &c, "race", tag, 0, PER_WORKER, &it, &r);
	sh->minted[w] = r.minted;
	sh->numbered[w] = numbered(it, PER_WORKER);
	sh->hit[w] = r.hit;
	store_close(s);
	_exit(0);
}

static void
race(struct store *s, long hour)
{
	pid_t pids[WORKERS];
	int i, ok = 0, refused = 0, clean = 1, status;
	long minted = 0;

	memset(sh, 0, sizeof(*sh));
	for (i = 0; i < WORKERS; i++) {
		pids[i] = fork();
		if (pids[i] == 0)
			worker(i, hour);
	}
	for (i = 0; i < WORKERS; i++)
		if (pids[i] > 0)
			waitpid(pids[i], &status, 0);
	for (i = 0; i < WORKERS; i++) {
		if (sh->rc[i] == MG_OK && sh->minted[i] == PER_WORKER &&
		    sh->numbered[i] == PER_WORKER)
			ok++;
		else if (sh->rc[i] == MG_ETOOBIG && sh->hit[i] == STORE_MINT_HOUR)
			refused++;
		if (sh->rc[i] != MG_OK && (sh->minted[i] != 0 || sh->numbered[i] != 0))
			clean = 0;
		minted += sh->minted[i];
	}
	TH_OK(ok + refused == WORKERS, "%d workers: %d minted %d each, %d refused by the hour",
	    WORKERS, ok, PER_WORKER, refused);
	TH_OK(clean, "every refused worker minted nothing");
	TH_OK(minted <= RACE_CAP && live(s, "race") == minted && used(s, "race", hour) == minted,
	    "under a cap of %d: %ld minted, %ld mappings, %ld counted", RACE_CAP, minted,
	    live(s, "race"), used(s, "race", hour));
	TH_OK(ok == RACE_CAP / PER_WORKER, "the cap is filled exactly (%d of %d)", ok,
	    RACE_CAP / PER_WORKER);
}

int
main(void)
{
	struct store *s;
	long hour = (long)time(NULL) / 3600;
	const char *suffix[] = { "", "-wal", "-shm" };
	char path[320];
	size_t i;

	log_set_level(LOG_ERROR);
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(dbpath, sizeof(dbpath), "%s/m.db", dir);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	s = open_store();
	TH_OK(s != NULL && sh != MAP_FAILED, "store open");
	if (s == NULL || sh == MAP_FAILED)
		return th_done();
	sequential(s, hour);
	race(s, hour);
	store_close(s);
	for (i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", dbpath, suffix[i]);
		unlink(path);
	}
	rmdir(dir);
	return th_done();
}
