/*
 * h_ui_spend.c - the console's spend page: the spend log summed per key,
 * user, team or model over the last day, week or month, as two SVG charts
 * (spend over time, spend per group), a table, and the same data as CSV.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_console.h"
#include "ui.h"
#include "worker.h"

#define MAX_BARS 15

static const struct {
	const char *name, *label;
	long bucket, buckets;
} periods[] = {
	{ "day", "Last 24 hours", 3600, 24 },
	{ "week", "Last 7 days", 86400, 7 },
	{ "month", "Last 30 days", 86400, 30 },
};

static const char *const group_names[SG__MAX] = { "key", "user", "team", "model" };
static const char *const group_titles[SG__MAX] = { "Key", "User", "Team", "Model" };

struct group_total {
	const char *group, *label;
	long requests, input_tokens, output_tokens;
	double cost;
};

struct spend_acc {
	struct arena *a;
	long start, bucket, buckets;
	double *per_bucket;
	struct group_total *g;
	size_t n, cap;
	struct buf *csv;	/* non-NULL: also write CSV rows */
	enum mg_err rc;
};

/* A CSV field: quoted, and never read as a formula by a spreadsheet. */
static void
csv_field(struct buf *b, const char *s)
{
	buf_appendc(b, '"');
	if (*s == '=' || *s == '+' || *s == '-' || *s == '@' || *s == '\t' || *s == '\r')
		buf_appendc(b, '\'');
	for (; *s != '\0'; s++) {
		if (*s == '"')
			buf_appendc(b, '"');
		buf_appendc(b, *s);
	}
	buf_appendc(b, '"');
}

static void
add_row(void *ctx, const struct store_spend_row *r)
{
	struct spend_acc *acc = ctx;
	long i = (r->bucket - acc->start) / acc->bucket;
	size_t j;

	if (i >= 0 && i < acc->buckets)
		acc->per_bucket[i] += r->cost;
	if (acc->csv != NULL) {
		char t[32];
		time_t tt = (time_t)r->bucket;
		struct tm tm;
		gmtime_r(&tt, &tm);
		strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%SZ", &tm);
		buf_printf(acc->csv, "%s,", t);
		csv_field(acc->csv, r->group);
		buf_appendc(acc->csv, ',');
		csv_field(acc->csv, r->label);
		buf_printf(acc->csv, ",%ld,%ld,%ld,%.6f\r\n", r->requests, r->input_tokens,
		    r->output_tokens, r->cost);
	}
	for (j = 0; j < acc->n; j++)
		if (strcmp(acc->g[j].group, r->group) == 0)
			break;
	if (j == acc->n) {
		if (acc->n == acc->cap) {
			size_t cap = acc->cap ? acc->cap * 2 : 32;
			struct group_total *v = arena_alloc(acc->a, cap * sizeof(*v));
			if (v == NULL) {
				acc->rc = MG_ENOMEM;
				return;
			}
			if (acc->n > 0)
				memcpy(v, acc->g, acc->n * sizeof(*v));
			acc->g = v;
			acc->cap = cap;
		}
		memset(&acc->g[j], 0, sizeof(acc->g[j]));
		acc->g[j].group = arena_strdup(acc->a, r->group);
		acc->g[j].label = arena_strdup(acc->a, r->label);
		if (acc->g[j].group == NULL || acc->g[j].label == NULL) {
			acc->rc = MG_ENOMEM;
			return;
		}
		acc->n++;
	}
	acc->g[j].requests += r->requests;
	acc->g[j].input_tokens += r->input_tokens;
	acc->g[j].output_tokens += r->output_tokens;
	acc->g[j].cost += r->cost;
}

static int
by_cost(const void *a, const void *b)
{
	double x = ((const struct group_total *)a)->cost, y = ((const struct group_total *)b)->cost;

	return x > y ? -1 : x < y ? 1 : 0;
}

static void
choices(struct ui *u, size_t gi, size_t pi)
{
	size_t i;

	ui_raw(u, "<form method=\"get\" action=\"/ui/spend\">\n<label for=\"group\">Per</label>\n"
	    "<select id=\"group\" name=\"group\">\n");
	for (i = 0; i < SG__MAX; i++)
		ui_printf(u, "<option value=\"%s\"%s>%s</option>\n", group_names[i],
		    i == gi ? " selected" : "", group_names[i]);
	ui_raw(u, "</select>\n<label for=\"period\">over</label>\n"
	    "<select id=\"period\" name=\"period\">\n");
	for (i = 0; i < MG_NELEM(periods); i++)
		ui_printf(u, "<option value=\"%s\"%s>%s</option>\n", periods[i].name,
		    i == pi ? " selected" : "", periods[i].label);
	ui_raw(u, "</select>\n<button type=\"submit\">Show</button>\n</form>\n");
}

void
ui_spend(struct ui *u, int csv)
{
	struct request *req = u->req;
	const char *gq = ui_field(u->query, "group"), *pq = ui_field(u->query, "period");
	struct spend_acc acc;
	struct buf csvbuf;
	size_t gi = 0, pi = 1, i, nbars;
	const char **labels;
	double *bar_values;
	struct ui_series s;
	enum mg_err rc;

	for (i = 0; i < SG__MAX; i++)
		if (gq != NULL && strcmp(gq, group_names[i]) == 0)
			gi = i;
	for (i = 0; i < MG_NELEM(periods); i++)
		if (pq != NULL && strcmp(pq, periods[i].name) == 0)
			pi = i;
	memset(&acc, 0, sizeof(acc));
	acc.a = req->arena;
	acc.bucket = periods[pi].bucket;
	acc.buckets = periods[pi].buckets;
	acc.start = (u->now / acc.bucket - acc.buckets + 1) * acc.bucket;
	acc.per_bucket = arena_alloc(req->arena, (size_t)acc.buckets * sizeof(double));
	labels = arena_alloc(req->arena, (size_t)(acc.buckets + MAX_BARS) * sizeof(*labels));
	if (acc.per_bucket == NULL || labels == NULL) {
		http_error(req, 500, ET_API, "out of memory");
		return;
	}
	if (csv) {
		buf_init(&csvbuf, req->arena);
		buf_appends(&csvbuf, "bucket_start,group,label,requests,input_tokens,"
		    "output_tokens,spend_usd\r\n");
		acc.csv = &csvbuf;
	}
	rc = store_spend_each(req->worker->store, (enum store_group)gi,
	    (long long)acc.start * 1000, acc.bucket, add_row, &acc);
	if (rc == MG_OK)
		rc = acc.rc;
	if (csv && rc == MG_OK) {
		ui_security_headers(req);
		http_add_header(req, "Content-Disposition", arena_printf(req->arena,
		    "attachment; filename=\"maskgate-spend-%s-%s.csv\"", group_names[gi],
		    periods[pi].name));
		http_start(req, 200, "text/csv; charset=utf-8");
		http_write(req, csvbuf.data, csvbuf.len);
		return;
	}
	ui_begin(u, "Spend", "spend");
	choices(u, gi, pi);
	if (rc != MG_OK) {
		ui_notice(u, "error", "The spend log is unavailable.");
		ui_end(u, 503);
		return;
	}
	ui_printf(u, "<p><a href=\"/ui/spend.csv?group=%s&amp;period=%s\" download>"
	    "Download as CSV</a></p>\n", group_names[gi], periods[pi].name);
	for (i = 0; i < (size_t)acc.buckets; i++)
		labels[i] = arena_strndup(req->arena, ui_time(req->arena, acc.start +
		    (long)i * acc.bucket) + (acc.bucket == 3600 ? 11 : 5), 5);
	s.name = "spend";
	s.values = acc.per_bucket;
	s.css = "s1";
	ui_svg_bars(u, arena_printf(req->arena, "Spend per %s, %s (USD)", acc.bucket == 3600 ?
	    "hour" : "day", periods[pi].label), "$", labels, (size_t)acc.buckets, &s, 1);
	if (acc.n > 0)
		qsort(acc.g, acc.n, sizeof(*acc.g), by_cost);
	nbars = acc.n < MAX_BARS ? acc.n : MAX_BARS;
	bar_values = arena_alloc(req->arena, (nbars + 1) * sizeof(double));
	if (bar_values != NULL && nbars > 0) {
		for (i = 0; i < nbars; i++) {
			labels[i] = *acc.g[i].label != '\0' ? acc.g[i].label : "(none)";
			bar_values[i] = acc.g[i].cost;
		}
		s.values = bar_values;
		ui_svg_bars(u, arena_printf(req->arena, "Spend per %s, %s (USD)", group_names[gi],
		    periods[pi].label), "$", labels, nbars, &s, 1);
	}
	ui_printf(u, "<table>\n<caption>Spend per %s, %s</caption>\n<thead><tr>"
	    "<th scope=\"col\">%s</th><th scope=\"col\">Requests</th><th scope=\"col\">Input "
	    "tokens</th><th scope=\"col\">Output tokens</th><th scope=\"col\">Spend (USD)</th>"
	    "</tr></thead>\n<tbody>\n", group_names[gi], periods[pi].label, group_titles[gi]);
	for (i = 0; i < acc.n; i++)
		ui_printf(u, "<tr><td>%s%s%.12s%s</td><td class=\"num\">%ld</td><td class=\"num\">%ld"
		    "</td><td class=\"num\">%ld</td><td class=\"num\">$%.6f</td></tr>\n",
		    *acc.g[i].label != '\0' ? acc.g[i].label : "(none)", gi == SG_KEY ? " (" : "",
		    gi == SG_KEY ? acc.g[i].group : "", gi == SG_KEY ? ")" : "", acc.g[i].requests,
		    acc.g[i].input_tokens, acc.g[i].output_tokens, acc.g[i].cost);
	if (acc.n == 0)
		ui_raw(u, "<tr><td colspan=\"5\">No requests in this period.</td></tr>\n");
	ui_raw(u, "</tbody>\n</table>\n");
	ui_end(u, 200);
}
