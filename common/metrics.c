/*
 * metrics.c - Prometheus exposition of the counters in the store's metric
 * table. Writes are one UPSERT per series inside one short transaction per
 * request; rendering sorts histogram buckets by their numeric bound.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "mask.h"
#include "metrics.h"
#include "outcome.h"
#include "store.h"
#include "store_console.h"
#include "store_keys.h"

/* Upstream latency buckets, seconds. */
static const double latency_buckets[] = { 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300 };
/* A histogram's non-cumulative bucket rows in the store (observe()). */
#define BAND_SUFFIX "_band"

struct family {
	const char *name, *type, *help;
};

static const struct family families[] = {
	{ "maskgate_requests_total", "counter", "Requests by route, status and tenant." },
	{ "maskgate_upstream_latency_seconds", "histogram",
	  "Time from sending upstream to the end of the upstream response." },
	{ "maskgate_upstream_ttfb_seconds", "histogram",
	  "Time from sending upstream to the first byte of the upstream response." },
	{ "maskgate_rejections_total", "counter", "Requests refused, by reason." },
	{ "maskgate_masked_total", "counter", "Identifiers masked in requests, by type." },
	{ "maskgate_placeholders_minted_total", "counter",
	  "Values first seen by a request (looked up or minted), by type." },
	{ "maskgate_restored_total", "counter", "Placeholders restored in responses, by type." },
	{ "maskgate_withheld_total", "counter",
	  "Placeholders kept in responses by the type's restore policy, by type." },
	{ "maskgate_tool_placeholders_unknown_total", "counter",
	  "Unknown or mutated placeholders in tool calls (left as they are), by type." },
	{ "maskgate_tokens_input_total", "counter", "Input tokens per key alias and model." },
	{ "maskgate_tokens_output_total", "counter", "Output tokens per key alias and model." },
	{ "maskgate_tokens_cache_write_total", "counter", "Cache write tokens per key alias." },
	{ "maskgate_tokens_cache_read_total", "counter", "Cache read tokens per key alias." },
	{ "maskgate_spend_usd_total", "counter", "Spend in USD per key alias and model." },
	{ "maskgate_store_write_transactions_total", "counter",
	  "Write transactions the workers began, the after-response write included." },
	{ "maskgate_settle_failures_total", "counter",
	  "Requests whose after-response write (spend, usage, metrics) failed for good; "
	  "counted by the next write that succeeds in the same worker." },
	{ "maskgate_usage_anomalies_total", "counter",
	  "Keys flagged for an hour far above their own 7-day median hour, by kind." },
};

void
metrics_labels(char *out, size_t outlen, ...)
{
	va_list ap;
	const char *name, *value, *p;
	size_t n = 0;

	out[0] = '\0';
	va_start(ap, outlen);
	for (name = va_arg(ap, const char *); name != NULL; name = va_arg(ap, const char *)) {
		value = va_arg(ap, const char *);
		if (value == NULL)
			value = "";
		if (n + strlen(name) + 4 >= outlen)
			break;
		n += (size_t)snprintf(out + n, outlen - n, "%s%s=\"", n > 0 ? "," : "", name);
		for (p = value; *p != '\0' && n + 4 < outlen; p++) {
			if (*p == '\\' || *p == '"') {
				out[n++] = '\\';
				out[n++] = *p;
			} else if (*p == '\n') {
				out[n++] = '\\';
				out[n++] = 'n';
			} else {
				out[n++] = *p;
			}
		}
		if (n + 2 >= outlen)
			break;
		out[n++] = '"';
		out[n] = '\0';
	}
	va_end(ap);
}

/*
 * One request's counters, merged by series and written together at the
 * end (store_metric_add_batch): a few statements instead of one per
 * counter in the write after the response. The rows' storage is the
 * process's, grown as needed and reused by each request in turn.
 */
struct mrow {
	char name[64], labels[512];
	double delta;
};

struct mbatch {
	struct mrow *rows;
	struct store_metric *v;	/* the rows as store_metric_add_batch() takes them */
	size_t n, cap;
	enum mg_err rc;
};

static struct mbatch batch;

static struct mbatch *
mb_begin(void)
{
	batch.n = 0;
	batch.rc = MG_OK;
	return &batch;
}

static void
mb_add(struct mbatch *b, const char *name, const char *labels, double delta)
{
	size_t i;

	if (b->rc != MG_OK)
		return;
	for (i = 0; i < b->n; i++)
		if (strcmp(b->rows[i].name, name) == 0 && strcmp(b->rows[i].labels, labels) == 0) {
			b->rows[i].delta += delta;
			return;
		}
	if (b->n == b->cap) {
		size_t cap = b->cap > 0 ? 2 * b->cap : 32;
		struct mrow *rows = realloc(b->rows, cap * sizeof(*rows));
		struct store_metric *v;

		if (rows == NULL) {
			b->rc = MG_ENOMEM;
			return;
		}
		b->rows = rows;
		v = realloc(b->v, cap * sizeof(*v));
		if (v == NULL) {
			b->rc = MG_ENOMEM;
			return;
		}
		b->v = v;
		b->cap = cap;
	}
	/* both fit: names are ours, labels come from metrics_labels() buffers of this size */
	snprintf(b->rows[b->n].name, sizeof(b->rows[b->n].name), "%s", name);
	snprintf(b->rows[b->n].labels, sizeof(b->rows[b->n].labels), "%s", labels);
	b->rows[b->n].delta = delta;
	b->n++;
}

static int
mb_cmp(const void *va, const void *vb)
{
	const struct store_metric *a = va, *b = vb;
	int c = strcmp(a->name, b->name);

	return c != 0 ? c : strcmp(a->labels, b->labels);
}

/* Writes the batch, in key order: concurrent writers lock rows alike. */
static enum mg_err
mb_flush(struct store *s, struct mbatch *b)
{
	size_t i;

	if (b->rc != MG_OK || b->n == 0)
		return b->rc;
	for (i = 0; i < b->n; i++) {
		b->v[i].name = b->rows[i].name;
		b->v[i].labels = b->rows[i].labels;
		b->v[i].delta = b->rows[i].delta;
	}
	qsort(b->v, b->n, sizeof(*b->v), mb_cmp);
	return store_metric_add_batch(s, b->v, b->n);
}

/* The le label of bucket i of latency_buckets (i == NELEM: +Inf). */
static void
bucket_le(size_t i, char *out, size_t outlen)
{
	if (i < MG_NELEM(latency_buckets))
		snprintf(out, outlen, "%g", latency_buckets[i]);
	else
		snprintf(out, outlen, "+Inf");
}

/*
 * Observes value (seconds) in histogram name{route}: its sum, its count
 * and one row for the one bucket the value falls in, name_band{le} (the
 * bound of that bucket). metrics_render() adds the bands up into the
 * cumulative name_bucket series Prometheus reads; a store written by an
 * older version holds cumulative name_bucket rows, which it adds to.
 */
static void
observe(struct mbatch *b, const char *name, const char *route, double secs)
{
	char labels[512], le[32], metric[128];
	size_t i;

	for (i = 0; i < MG_NELEM(latency_buckets) && secs > latency_buckets[i]; i++)
		;
	bucket_le(i, le, sizeof(le));
	metrics_labels(labels, sizeof(labels), "route", route, "le", le, (const char *)NULL);
	snprintf(metric, sizeof(metric), "%s" BAND_SUFFIX, name);
	mb_add(b, metric, labels, 1);
	metrics_labels(labels, sizeof(labels), "route", route, (const char *)NULL);
	snprintf(metric, sizeof(metric), "%s_sum", name);
	mb_add(b, metric, labels, secs);
	snprintf(metric, sizeof(metric), "%s_count", name);
	mb_add(b, metric, labels, 1);
}

struct mask_counts {
	struct mbatch *b;
	struct store_mask_count *daily;	/* the console's per-day counters */
	size_t n, cap;
	enum mg_err rc;
};

static void
add_mask_counts(void *arg, const char *type, const struct mask_type_counts *c)
{
	struct mask_counts *mc = arg;
	const struct {
		const char *name;
		unsigned long n;
	} series[] = {
		{ "maskgate_masked_total", c->masked },
		{ "maskgate_placeholders_minted_total", c->minted },
		{ "maskgate_restored_total", c->restored },
		{ "maskgate_withheld_total", c->withheld },
		{ "maskgate_tool_placeholders_unknown_total", c->unknown },
	};
	char labels[256];
	size_t i;

	metrics_labels(labels, sizeof(labels), "type", type, (const char *)NULL);
	for (i = 0; i < MG_NELEM(series); i++)
		if (series[i].n > 0)
			mb_add(mc->b, series[i].name, labels, (double)series[i].n);
	if (mc->rc != MG_OK || (c->masked == 0 && c->minted == 0 && c->restored == 0))
		return;
	if (mc->n == mc->cap) {
		size_t cap = mc->cap > 0 ? 2 * mc->cap : 16;
		struct store_mask_count *v = realloc(mc->daily, cap * sizeof(*v));
		if (v == NULL) {
			mc->rc = MG_ENOMEM;
			return;
		}
		mc->daily = v;
		mc->cap = cap;
	}
	mc->daily[mc->n].type = type;
	mc->daily[mc->n].masked = c->masked;
	mc->daily[mc->n].minted = c->minted;
	mc->daily[mc->n].restored = c->restored;
	mc->n++;
}

/* Tokens and spend per key alias and model (admitted requests). */
static void
add_spend(struct mbatch *b, const struct outcome *m)
{
	static const struct jwalk_usage none;
	const struct jwalk_usage *u = m->priced ? &m->usage : &none;
	char labels[512];

	/* per key alias (the tenant when the key has none): never the key */
	metrics_labels(labels, sizeof(labels), "key_alias",
	    m->key_alias != NULL ? m->key_alias : m->tenant != NULL ? m->tenant : "-",
	    "model", m->model != NULL ? m->model : "-", (const char *)NULL);
	mb_add(b, "maskgate_tokens_input_total", labels, (double)u->input_tokens);
	mb_add(b, "maskgate_tokens_output_total", labels, (double)u->output_tokens);
	mb_add(b, "maskgate_tokens_cache_write_total", labels,
	    (double)u->cache_creation_input_tokens);
	mb_add(b, "maskgate_tokens_cache_read_total", labels, (double)u->cache_read_input_tokens);
	mb_add(b, "maskgate_spend_usd_total", labels, m->priced ? m->cost : 0);
}

enum mg_err
metrics_add_request(struct store *s, const struct outcome *m, long write_tx)
{
	static struct mask_counts mc;	/* its daily array: the process's, reused */
	struct mbatch *b = mb_begin();
	const char *reason = outcome_rejection_name(m->reason);
	char labels[512], code[16];
	enum mg_err rc = MG_OK;

	snprintf(code, sizeof(code), "%d", m->status);
	metrics_labels(labels, sizeof(labels), "route", m->route, "status", code,
	    "tenant", m->tenant != NULL ? m->tenant : "-", (const char *)NULL);
	mb_add(b, "maskgate_requests_total", labels, 1);
	if (m->ticket != NULL)
		add_spend(b, m);
	if (write_tx > 0)
		mb_add(b, "maskgate_store_write_transactions_total", "", (double)write_tx);
	if (m->upstream_ms >= 0)
		observe(b, "maskgate_upstream_latency_seconds", m->route,
		    (double)m->upstream_ms / 1000.0);
	if (m->ttfb_ms >= 0)
		observe(b, "maskgate_upstream_ttfb_seconds", m->route, (double)m->ttfb_ms / 1000.0);
	if (reason != NULL) {
		metrics_labels(labels, sizeof(labels), "reason", reason, (const char *)NULL);
		mb_add(b, "maskgate_rejections_total", labels, 1);
	}
	if (m->mask != NULL) {
		mc.b = b;
		mc.n = 0;
		mc.rc = MG_OK;
		mask_session_foreach_type(m->mask, add_mask_counts, &mc);
		rc = mc.rc;
		if (rc == MG_OK && mc.n > 0)
			rc = store_mask_daily_add_batch(s, (long)(time(NULL) / 86400 * 86400),
			    m->tenant != NULL ? m->tenant : "-", mc.daily, mc.n);
	}
	return rc != MG_OK ? rc : mb_flush(s, b);
}

struct series {
	char *name, *labels;
	double value;
};

struct collect {
	struct arena *arena;
	struct series *v;
	size_t n, cap;
	enum mg_err rc;
};

static void
collect_one(void *ctx, const char *name, const char *labels, double value)
{
	struct collect *c = ctx;

	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		struct series *v = arena_alloc(c->arena, cap * sizeof(*v));
		if (v == NULL) {
			c->rc = MG_ENOMEM;
			return;
		}
		if (c->n > 0)
			memcpy(v, c->v, c->n * sizeof(*v));
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n].name = arena_strdup(c->arena, name);
	c->v[c->n].labels = arena_strdup(c->arena, labels);
	c->v[c->n].value = value;
	if (c->v[c->n].name == NULL || c->v[c->n].labels == NULL)
		c->rc = MG_ENOMEM;
	else
		c->n++;
}

/* The numeric le bound of a bucket's labels (+Inf last). */
static double
le_of(const char *labels, size_t *prefix)
{
	const char *p = strstr(labels, "le=\"");

	if (p == NULL) {
		*prefix = strlen(labels);
		return 0;
	}
	*prefix = (size_t)(p - labels);
	if (strncmp(p + 4, "+Inf", 4) == 0)
		return INFINITY;
	return strtod(p + 4, NULL);
}

static int
series_cmp(const void *va, const void *vb)
{
	const struct series *a = va, *b = vb;
	size_t pa, pb;
	double la, lb;
	int c = strcmp(a->name, b->name);

	if (c != 0)
		return c;
	la = le_of(a->labels, &pa);
	lb = le_of(b->labels, &pb);
	c = strncmp(a->labels, b->labels, pa < pb ? pa : pb);
	if (c != 0 || pa != pb)
		return c != 0 ? c : (pa < pb ? -1 : 1);
	return la < lb ? -1 : la > lb ? 1 : 0;
}

/* Adds value to series (name, labels), appending it when missing. */
static void
collect_add(struct collect *c, const char *name, const char *labels, double value)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (c->v[i].name != NULL && strcmp(c->v[i].name, name) == 0 &&
		    strcmp(c->v[i].labels, labels) == 0) {
			c->v[i].value += value;
			return;
		}
	collect_one(c, name, labels, value);
}

/*
 * Turns the histograms' band rows (observe()) into the cumulative
 * name_bucket series: a band counts in its own bucket and every one above.
 */
static enum mg_err
fold_bands(struct collect *c)
{
	size_t i, j, k, slen = strlen(BAND_SUFFIX);

	for (i = 0; i < c->n && c->rc == MG_OK; i++) {
		const char *name = c->v[i].name, *labels = c->v[i].labels;
		double value = c->v[i].value, le;
		size_t nlen = strlen(name), prefix;
		char *bucket;

		if (nlen <= slen || strcmp(name + nlen - slen, BAND_SUFFIX) != 0)
			continue;
		c->v[i].name = NULL;	/* dropped below */
		le = le_of(labels, &prefix);
		bucket = arena_printf(c->arena, "%.*s_bucket", (int)(nlen - slen), name);
		if (bucket == NULL)
			return MG_ENOMEM;
		for (j = 0; j <= MG_NELEM(latency_buckets); j++) {
			char bound[32], *bl;
			if (j < MG_NELEM(latency_buckets) && latency_buckets[j] < le)
				continue;
			bucket_le(j, bound, sizeof(bound));
			bl = arena_printf(c->arena, "%.*sle=\"%s\"", (int)prefix, labels, bound);
			if (bl == NULL)
				return MG_ENOMEM;
			collect_add(c, bucket, bl, value);
		}
	}
	for (i = k = 0; i < c->n; i++)
		if (c->v[i].name != NULL)
			c->v[k++] = c->v[i];
	c->n = k;
	return c->rc;
}

/* The family a series name belongs to (histogram suffixes stripped). */
static const struct family *
family_of(const char *name)
{
	size_t i, n;

	for (i = 0; i < MG_NELEM(families); i++) {
		n = strlen(families[i].name);
		if (strncmp(name, families[i].name, n) == 0 &&
		    (name[n] == '\0' || name[n] == '_'))
			return &families[i];
	}
	return NULL;
}

enum mg_err
metrics_render(struct store *s, struct buf *out)
{
	struct collect c = { out->arena, NULL, 0, 0, MG_OK };
	const struct family *last = NULL, *f;
	enum mg_err rc;
	size_t i;

	rc = store_metric_each(s, collect_one, &c);
	if (rc != MG_OK)
		return rc;
	if (c.rc != MG_OK)
		return c.rc;
	rc = fold_bands(&c);
	if (rc != MG_OK)
		return rc;
	if (c.n > 0)
		qsort(c.v, c.n, sizeof(*c.v), series_cmp);
	for (i = 0; i < MG_NELEM(families); i++) {
		size_t j;
		int any = 0;
		for (j = 0; j < c.n; j++) {
			f = family_of(c.v[j].name);
			if (f != &families[i])
				continue;
			if (!any && f != last) {
				buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help,
				    f->name, f->type);
				last = f;
			}
			any = 1;
			buf_printf(out, "%s{%s} %.17g\n", c.v[j].name, c.v[j].labels, c.v[j].value);
		}
	}
	return out->data != NULL || c.n == 0 ? MG_OK : MG_ENOMEM;
}
