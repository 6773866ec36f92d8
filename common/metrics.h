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

/*
 * One finished request: counts it by route, status and tenant and, when
 * upstream_ms >= 0, observes the upstream latency. reason is MR__MAX when
 * the request was not a rejection. Errors are logged, never fatal.
 */
void metrics_record_request(struct store *s, const char *route, int status,
    const char *tenant, long upstream_ms, enum metrics_reason reason);

/* Counts a rejection on its own (admission refusals). */
void metrics_record_rejection(struct store *s, enum metrics_reason reason);

/* Appends the whole exposition (text format 0.0.4) to out. */
enum mg_err metrics_render(struct store *s, struct buf *out);

#endif
