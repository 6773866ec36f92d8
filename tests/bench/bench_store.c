/*
 * bench_store.c - mapping store operations per second against one SQLite
 * file (or the PostgreSQL database named by argv[1], an empty one) from 1,
 * 4 and 8 processes (each opens its own connection after fork(), as pool
 * workers do):
 *
 *   lookup   batches of 20 known values (store_map_lookup, read path)
 *   mint     batches of 20 new values (store_map_assign, BEGIN IMMEDIATE)
 *
 * Output: markdown table rows "| name | value | ratio |", each ratio to the
 * 1-process figure of the same run.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "cfg.h"
#include "log.h"
#include "store.h"
#include "store_map.h"

#define BATCH 20
#define KNOWN 10000
#define SECONDS 1.5

static const char *tenant = "bench";

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
known_value(char *out, size_t n, unsigned long i)
{
	snprintf(out, n, "i-0%016lx", 0x5a5a000000000000UL + i * 2654435761UL);
}

static int
open_store(struct cfg *c, struct store **s)
{
	char err[512];

	if (store_open(c, s, err, sizeof(err)) != MG_OK) {
		fprintf(stderr, "bench_store: %s\n", err);
		return -1;
	}
	return 0;
}

/* One child: runs the operation for SECONDS, writes its item count. */
static void
child(struct cfg *c, int mint, int id, int fd)
{
	struct store *s;
	struct store_map_item items[BATCH];
	char values[BATCH][40];
	unsigned long seq = 0, done = 0, r = 88172645463325252UL ^ (unsigned long)(id + 1);
	double end;
	int i;

	if (open_store(c, &s) != 0)
		_exit(1);
	end = now() + SECONDS;
	while (now() < end) {
		for (i = 0; i < BATCH; i++) {
			r ^= r << 13;
			r ^= r >> 7;
			r ^= r << 17;
			if (mint)
				snprintf(values[i], sizeof(values[i]), "i-0%02x%014lx", id, seq++);
			else
				known_value(values[i], sizeof(values[i]), r % KNOWN);
			items[i].type = "EC2";
			items[i].value = values[i];
			items[i].len = strlen(values[i]);
			items[i].num = 0;
			store_map_hash(s, tenant, "EC2", values[i], items[i].len, items[i].hash);
		}
		if (store_map_lookup(s, tenant, items, BATCH, time(NULL)) != MG_OK)
			_exit(2);
		if (mint && store_map_assign(s, tenant, items, BATCH, time(NULL)) != MG_OK)
			_exit(3);
		for (i = 0; i < BATCH; i++)
			if (items[i].num == 0)
				_exit(4);
		done += BATCH;
	}
	store_close(s);
	if (write(fd, &done, sizeof(done)) != (ssize_t)sizeof(done))
		_exit(5);
	_exit(0);
}

/* Items per second from nproc processes at once. */
static double
run(struct cfg *c, int mint, int nproc)
{
	int fds[2], i, status, bad = 0;
	unsigned long total = 0, n;
	double t0;

	if (pipe(fds) != 0)
		return -1;
	t0 = now();
	for (i = 0; i < nproc; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			close(fds[0]);
			child(c, mint, i + nproc * 16 + (mint ? 200 : 0), fds[1]);
		}
		if (pid < 0)
			bad = 1;
	}
	close(fds[1]);
	while (read(fds[0], &n, sizeof(n)) == (ssize_t)sizeof(n))
		total += n;
	close(fds[0]);
	while (wait(&status) > 0)
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			bad = 1;
	if (bad) {
		fprintf(stderr, "bench_store: a child failed\n");
		return -1;
	}
	return (double)total / (now() - t0);
}

int
main(int argc, char **argv)
{
	char dir[] = "/tmp/mg_bench_store_XXXXXX", db[300];
	char values[BATCH][40];
	struct store_map_item items[BATCH];
	struct cfg c;
	struct store *s;
	static const int procs[] = { 1, 4, 8 };
	double base[2] = { 0, 0 };
	unsigned long i;
	int m, k, j;

	log_set_level(LOG_WARN);
	signal(SIGPIPE, SIG_IGN);
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(db, sizeof(db), "%s/bench.db", dir);
	memset(&c, 0, sizeof(c));
	c.db_path = argc > 1 ? argv[1] : db;
	c.db_prepared = 1;
	memset(c.data_key, 7, sizeof(c.data_key));
	c.have_data_key = 1;
	c.map_ttl = 7 * 86400;
	c.busy_timeout_ms = 30000;
	if (open_store(&c, &s) != 0)
		return 1;
	for (i = 0; i < KNOWN; i += BATCH) {
		for (j = 0; j < BATCH; j++) {
			known_value(values[j], sizeof(values[j]), i + (unsigned long)j);
			items[j].type = "EC2";
			items[j].value = values[j];
			items[j].len = strlen(values[j]);
			items[j].num = 0;
			store_map_hash(s, tenant, "EC2", values[j], items[j].len, items[j].hash);
		}
		if (store_map_lookup(s, tenant, items, BATCH, time(NULL)) != MG_OK ||
		    store_map_assign(s, tenant, items, BATCH, time(NULL)) != MG_OK) {
			fprintf(stderr, "bench_store: seeding failed\n");
			return 1;
		}
	}
	store_close(s);	/* no connection crosses fork() */
	for (m = 0; m < 2; m++) {
		for (k = 0; k < 3; k++) {
			double ops = run(&c, m, procs[k]);
			if (ops < 0)
				return 1;
			if (k == 0)
				base[m] = ops;
			printf("| store %s, %d process%s (batches of %d, %s) | %.0f values/s | %.2fx of 1 process |\n",
			    m ? "mints (new values, one write transaction)" : "lookups (known values)",
			    procs[k], procs[k] > 1 ? "es" : "", BATCH,
			    argc > 1 ? "PostgreSQL on loopback" : "one SQLite file", ops, ops / base[m]);
		}
	}
	for (k = 0; k < 3; k++) {
		static const char *const sfx[] = { "", "-wal", "-shm" };
		char p[320];
		snprintf(p, sizeof(p), "%s/bench.db%s", dir, sfx[k]);
		unlink(p);
	}
	rmdir(dir);
	return 0;
}
