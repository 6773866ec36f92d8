/*
 * test_metrics.c - the Prometheus counters: one request's counters (and its
 * per-day masking counts) written in multi-row upserts (more rows than one
 * statement takes, the same series twice), histograms stored as one band
 * row per observation and rendered cumulative, also on top of the
 * cumulative bucket rows an older version wrote.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "th.h"
#include "cfg.h"
#include "metrics.h"
#include "outcome.h"
#include "store.h"
#include "store_console.h"
#include "store_keys.h"

static char dbpath[] = "/tmp/mg-test-metrics-XXXXXX";

struct find {
	const char *name, *labels;
	double value;
	int found, rows;
};

static void
find_row(void *ctx, const char *name, const char *labels, double value)
{
	struct find *f = ctx;

	f->rows++;
	if (strcmp(name, f->name) == 0 && strcmp(labels, f->labels) == 0) {
		f->found++;
		f->value = value;
	}
}

/* The stored value of (name, labels), -1 when missing. */
static double
stored(struct store *s, const char *name, const char *labels, int *rows)
{
	struct find f = { name, labels, 0, 0, 0 };

	if (store_metric_each(s, find_row, &f) != MG_OK)
		return -2;
	if (rows != NULL)
		*rows = f.rows;
	return f.found == 1 ? f.value : -1;
}

static void
test_batch(struct store *s)
{
	struct store_metric rows[40];
	char names[40][32];
	int i, n = 0, ok = 1;

	for (i = 0; i < 40; i++) {
		snprintf(names[i], sizeof(names[i]), "test_batch_%02d", i);
		rows[i].name = names[i];
		rows[i].labels = i % 2 ? "a=\"1\"" : "";
		rows[i].delta = i;
	}
	TH_OK(store_metric_add_batch(s, rows, 40) == MG_OK, "40 counters in one batch (%d a "
	    "statement)", STORE_METRIC_ROWS);
	TH_OK(store_metric_add_batch(s, rows, 40) == MG_OK, "and again: existing rows are updated");
	for (i = 0; i < 40; i++)
		if (stored(s, names[i], rows[i].labels, &n) != 2.0 * i)
			ok = 0;
	TH_OK(ok && n == 40, "every counter holds twice its delta (%d rows)", n);
	TH_OK(store_metric_add_batch(s, rows, 0) == MG_OK, "an empty batch writes nothing");
}

static void
daily_row(void *ctx, long day, const char *tenant, const char *type, long masked, long minted,
    long restored)
{
	long *sum = ctx;

	if (day == 86400 && strcmp(tenant, "team:d") == 0 && strncmp(type, "T", 1) == 0)
		*sum += masked * 10000 + minted * 100 + restored;
}

static void
test_daily_batch(struct store *s)
{
	struct store_mask_count rows[20];
	char types[20][16];
	long sum = 0;
	int i;

	for (i = 0; i < 20; i++) {
		snprintf(types[i], sizeof(types[i]), "T%02d", i);
		rows[i].type = types[i];
		rows[i].masked = 3;
		rows[i].minted = 2;
		rows[i].restored = 1;
	}
	TH_OK(store_mask_daily_add_batch(s, 86400, "team:d", rows, 20) == MG_OK &&
	    store_mask_daily_add_batch(s, 86400, "team:d", rows, 20) == MG_OK &&
	    store_mask_daily_each(s, 0, daily_row, &sum) == MG_OK,
	    "per-day masking counts of 20 types, twice (%d a statement)", STORE_MASK_DAILY_ROWS);
	TH_OK(sum == 20 * 60402, "every type counted twice (%ld)", sum);
}

/* Renders the exposition and checks that line is in it. */
static int
has_line(struct store *s, struct arena *a, const char *line)
{
	struct buf out;
	const char *p;
	size_t n = strlen(line);

	buf_init(&out, a);
	if (metrics_render(s, &out) != MG_OK || out.data == NULL)
		return 0;
	for (p = out.data; (p = strstr(p, line)) != NULL; p++)
		if ((p == out.data || p[-1] == '\n') && p[n] == '\n')
			return 1;
	return 0;
}

/* 1 when the exposition contains text anywhere. */
static int
rendered_has(struct store *s, struct arena *a, const char *text)
{
	struct buf out;

	buf_init(&out, a);
	return metrics_render(s, &out) != MG_OK || out.data == NULL ||
	    strstr(out.data, text) != NULL;
}

static void
request(struct store *s, long upstream_ms, long ttfb_ms)
{
	struct outcome o;

	outcome_init(&o);
	o.route = "/v1/messages";
	o.status = 200;
	o.tenant = "team:t";
	o.upstream_ms = upstream_ms;
	o.ttfb_ms = ttfb_ms;
	if (store_begin(s) != MG_OK || metrics_add_request(s, &o, 1) != MG_OK ||
	    store_commit(s) != MG_OK)
		TH_OK(0, "metrics_add_request");
}

static void
test_histograms(struct store *s, struct arena *a)
{
	static const char *const b = "maskgate_upstream_latency_seconds_bucket{route=\"/v1/messages\"";
	char line[256];
	const struct {
		const char *le;
		int count;
	} want[] = {
		{ "0.1", 0 }, { "0.25", 0 }, { "0.5", 2 }, { "1", 2 }, { "2.5", 3 }, { "5", 3 },
		{ "300", 3 }, { "+Inf", 3 },
	};
	size_t i;
	int rows;

	request(s, 300, 200);
	request(s, 450, 90);
	request(s, 2000, 2000);
	for (i = 0; i < MG_NELEM(want); i++) {
		snprintf(line, sizeof(line), "%s,le=\"%s\"}", b, want[i].le);
		if (want[i].count == 0) {
			TH_OK(!has_line(s, a, line) && strstr(line, "le=") != NULL,
			    "no bucket below the first observation: le=%s", want[i].le);
			continue;
		}
		snprintf(line + strlen(line), sizeof(line) - strlen(line), " %d", want[i].count);
		TH_OK(has_line(s, a, line), "cumulative: %s", line);
	}
	TH_OK(has_line(s, a, "maskgate_upstream_latency_seconds_count{route=\"/v1/messages\"} 3") &&
	    has_line(s, a, "maskgate_upstream_latency_seconds_sum{route=\"/v1/messages\"} 2.75"),
	    "count and sum");
	TH_OK(has_line(s, a, "maskgate_upstream_ttfb_seconds_bucket{route=\"/v1/messages\","
	    "le=\"0.1\"} 1") && has_line(s, a, "maskgate_upstream_ttfb_seconds_bucket{route="
	    "\"/v1/messages\",le=\"0.25\"} 2"), "the second histogram too");
	TH_OK(stored(s, "maskgate_upstream_latency_seconds_band",
	    "route=\"/v1/messages\",le=\"0.5\"", &rows) == 2 &&
	    stored(s, "maskgate_upstream_latency_seconds_bucket",
	    "route=\"/v1/messages\",le=\"0.5\"", NULL) == -1,
	    "stored: one band row per bucket hit, no cumulative rows");
	TH_OK(!rendered_has(s, a, "_band"), "band rows are not exposed");
	/* what an older version left: cumulative rows, for 4 observations of 0.2 s */
	for (i = 1; i < MG_NELEM(want); i++) {
		snprintf(line, sizeof(line), "route=\"/v1/messages\",le=\"%s\"", want[i].le);
		store_metric_add(s, "maskgate_upstream_latency_seconds_bucket", line, 4);
	}
	for (i = 1; i < MG_NELEM(want); i++) {
		snprintf(line, sizeof(line), "%s,le=\"%s\"} %d", b, want[i].le, want[i].count + 4);
		TH_OK(has_line(s, a, line), "old cumulative rows add up: %s", line);
	}
	TH_OK(has_line(s, a, "# TYPE maskgate_upstream_latency_seconds histogram"),
	    "one TYPE line for the histogram");
}

static void
test_merge(struct store *s)
{
	struct outcome o;

	/* the same route's two histograms write distinct rows; requests_total merges */
	outcome_init(&o);
	o.route = "/v1/models";
	o.status = 200;
	o.upstream_ms = 10;
	o.ttfb_ms = 10;
	TH_OK(store_begin(s) == MG_OK && metrics_add_request(s, &o, 2) == MG_OK &&
	    metrics_add_request(s, &o, 0) == MG_OK && store_commit(s) == MG_OK,
	    "two requests in one transaction");
	TH_OK(stored(s, "maskgate_requests_total",
	    "route=\"/v1/models\",status=\"200\",tenant=\"-\"", NULL) == 2,
	    "requests_total counted twice");
	TH_OK(stored(s, "maskgate_upstream_ttfb_seconds_band",
	    "route=\"/v1/models\",le=\"0.1\"", NULL) == 2, "ttfb band counted twice");
}

int
main(void)
{
	struct cfg c;
	struct store *s;
	struct arena a;
	char err[256];
	int fd = mkstemp(dbpath);

	close(fd);
	memset(&c, 0, sizeof(c));
	c.db_path = dbpath;
	c.busy_timeout_ms = 5000;
	arena_init(&a);
	if (store_open(&c, &s, err, sizeof(err)) != MG_OK) {
		printf("not ok 1 - store_open: %s\n", err);
		return 1;
	}
	test_batch(s);
	test_daily_batch(s);
	test_histograms(s, &a);
	test_merge(s);
	store_close(s);
	arena_free(&a);
	unlink(dbpath);
	return th_done();
}
