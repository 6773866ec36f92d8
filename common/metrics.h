/*
 * metrics.h - Prometheus counters kept in the shared store, so that every
 * worker process adds to the same series and a scrape sees the sum.
 */
#ifndef MG_METRICS_H
#define MG_METRICS_H

#include <stddef.h>
#include "arena.h"
#include "mg.h"

struct store;

/*
 * Formats name="value" pairs (NULL-terminated name, value list) into out
 * as a Prometheus label set body, escaping \, " and newlines.
 */
void metrics_labels(char *out, size_t outlen, ...);

/* Why a request was refused, for maskgate_rejections_total. */
enum metrics_reason {
	MR_AUTH, MR_BLOCKED_KEY, MR_EXPIRED, MR_MODEL, MR_BUDGET, MR_RATE, MR_PARALLEL,
	MR_FAIL_CLOSED, MR_BLOCK_RULE, MR__MAX
};

struct mask_session;

/* What one finished request contributes to the metrics. */
struct metrics_request {
	const char *route;	/* routing-table path, never the raw path */
	int status;
	const char *tenant;
	long upstream_ms;	/* < 0: the upstream was not called */
	long ttfb_ms;		/* < 0: no first byte */
	enum metrics_reason reason;	/* MR__MAX: not a rejection */
	const struct mask_session *mask;	/* NULL: nothing masked */
};

/*
 * Records one finished request in a single short transaction: counts by
 * route, status and tenant, upstream latency and time-to-first-byte
 * histograms, the rejection reason, and per placeholder type how many
 * values were masked, minted and restored. Errors are logged, never fatal.
 */
void metrics_record_request(struct store *s, const struct metrics_request *m);

/* Counts a rejection on its own (admission refusals). */
void metrics_record_rejection(struct store *s, enum metrics_reason reason);

/* Appends the whole exposition (text format 0.0.4) to out. */
enum mg_err metrics_render(struct store *s, struct buf *out);

#endif
