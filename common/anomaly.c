/*
 * anomaly.c - flags keys whose last hour is far above their own normal.
 *
 * The baseline is the median over the 168 hours before the last one,
 * counting hours without requests as zero: a key used a few hours a day
 * has a median of zero, so the floor (a minimum number of requests in the
 * hour) is what keeps such keys from being flagged for ordinary use. The
 * median, not the mean, so that one earlier burst does not hide the next.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly.h"
#include "log.h"
#include "metrics.h"
#include "store.h"
#include "store_console.h"
#include "store_keys.h"

struct active {
	struct arena *a;
	struct anomaly *v;	/* candidates: one per active key */
	size_t n, cap;
	enum mg_err rc;
};

static void
add_active(void *ctx, const char *key_hash, const char *alias, long requests, double cost)
{
	struct active *ac = ctx;

	if (ac->n == ac->cap) {
		size_t cap = ac->cap ? ac->cap * 2 : 16;
		struct anomaly *v = arena_alloc(ac->a, cap * sizeof(*v));
		if (v == NULL) {
			ac->rc = MG_ENOMEM;
			return;
		}
		if (ac->n > 0)
			memcpy(v, ac->v, ac->n * sizeof(*v));
		ac->v = v;
		ac->cap = cap;
	}
	/* observed requests in .observed, spend in .baseline until judged */
	ac->v[ac->n].key_hash = arena_strdup(ac->a, key_hash);
	ac->v[ac->n].alias = alias != NULL ? arena_strdup(ac->a, alias) : NULL;
	ac->v[ac->n].observed = (double)requests;
	ac->v[ac->n].baseline = cost;
	if (ac->v[ac->n].key_hash == NULL)
		ac->rc = MG_ENOMEM;
	else
		ac->n++;
}

struct hours {
	double requests[ANOMALY_HOURS], spend[ANOMALY_HOURS];
};

static void
add_hour(void *ctx, long hour, long requests, double cost)
{
	struct hours *h = ctx;

	if (hour < 0 || hour >= ANOMALY_HOURS)
		return;
	h->requests[hour] = (double)requests;
	h->spend[hour] = cost;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y ? 1 : 0;
}

double
anomaly_median(double *v, size_t n)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Records one anomaly once for this hour: mark, audit and count together. */
static enum mg_err
record(const struct cfg *c, struct store *s, struct arena *a, const struct anomaly *an,
    long now)
{
	char labels[64];
	int inserted = 0;
	enum mg_err rc = store_begin(s);

	if (rc != MG_OK)
		return rc;
	rc = store_anomaly_mark(s, an->key_hash, now / 3600, an->kind, an->observed,
	    an->baseline, now, &inserted);
	if (rc == MG_OK && inserted) {
		metrics_labels(labels, sizeof(labels), "kind", an->kind, (const char *)NULL);
		rc = store_metric_add(s, "maskgate_usage_anomalies_total", labels, 1);
		if (rc == MG_OK)
			rc = store_audit_add(s, "maskgate", "usage_anomaly", an->key_hash, "flagged",
			    arena_printf(a, "%s in the last hour %g, over %ldx its 7-day median "
			    "hour %g (floor %ld requests)", an->kind, an->observed,
			    c->anomaly_factor, an->baseline, c->anomaly_min_requests));
	}
	if (rc == MG_OK)
		return store_commit(s);
	store_rollback(s);
	return rc;
}

enum mg_err
anomaly_scan(const struct cfg *c, struct store *s, struct arena *a, long now,
    struct anomaly **out, size_t *n)
{
	struct active ac = { a, NULL, 0, 0, MG_OK };
	struct anomaly *found;
	long long now_ms = (long long)now * 1000, hour_ms = 3600LL * 1000;
	size_t i, nf = 0;
	enum mg_err rc;

	*out = NULL;
	*n = 0;
	/* now is whole seconds; requests logged later in this second count too */
	rc = store_spend_active_keys(s, now_ms - hour_ms, now_ms + 1000, c->anomaly_min_requests,
	    add_active, &ac);
	if (rc == MG_OK)
		rc = ac.rc;
	if (rc != MG_OK || ac.n == 0)
		return rc;
	found = arena_alloc(a, 2 * ac.n * sizeof(*found));
	if (found == NULL)
		return MG_ENOMEM;
	for (i = 0; i < ac.n && rc == MG_OK; i++) {
		struct hours h;
		double req = ac.v[i].observed, spend = ac.v[i].baseline, mreq, mspend;

		memset(&h, 0, sizeof(h));
		rc = store_spend_hourly(s, ac.v[i].key_hash,
		    now_ms - hour_ms - ANOMALY_HOURS * hour_ms, now_ms - hour_ms, add_hour, &h);
		if (rc != MG_OK)
			break;
		mreq = anomaly_median(h.requests, ANOMALY_HOURS);
		mspend = anomaly_median(h.spend, ANOMALY_HOURS);
		if (req > (double)c->anomaly_factor * mreq) {
			found[nf] = ac.v[i];
			found[nf].kind = "requests";
			found[nf].observed = req;
			found[nf++].baseline = mreq;
		}
		if (spend > 0 && spend > (double)c->anomaly_factor * mspend) {
			found[nf] = ac.v[i];
			found[nf].kind = "spend";
			found[nf].observed = spend;
			found[nf++].baseline = mspend;
		}
	}
	for (i = 0; i < nf && rc == MG_OK; i++)
		rc = record(c, s, a, &found[i], now);
	if (rc != MG_OK) {
		log_warn("anomaly: scan failed (%s)", mg_strerror(rc));
		return rc;
	}
	*out = found;
	*n = nf;
	return MG_OK;
}
