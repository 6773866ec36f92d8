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

struct outcome;

/*
 * Adds one finished request from its outcome record: counts by route,
 * status and tenant, tokens and spend per key alias and model, upstream
 * latency and time-to-first-byte histograms, the rejection reason, per
 * placeholder type how many values were masked, minted and restored, and
 * the write transactions (write_tx) its worker began since the last one.
 * Runs inside the caller's transaction (spend_settle()).
 */
enum mg_err metrics_add_request(struct store *s, const struct outcome *o, long write_tx);

/* Appends the whole exposition (text format 0.0.4) to out. */
enum mg_err metrics_render(struct store *s, struct buf *out);

#endif
