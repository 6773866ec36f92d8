/*
 * anomaly.h - usage anomalies: a key whose requests or spend in the last
 * hour exceed MASKGATE_ANOMALY_FACTOR times its median hour over the
 * trailing 7 days, once it made at least MASKGATE_ANOMALY_MIN_REQUESTS
 * requests in that hour (the floor that keeps quiet keys quiet).
 */
#ifndef MG_ANOMALY_H
#define MG_ANOMALY_H

#include <stddef.h>

#include "arena.h"
#include "cfg.h"
#include "mg.h"

struct store;

#define ANOMALY_HOURS (7 * 24)

struct anomaly {
	const char *key_hash;
	const char *alias;	/* may be NULL */
	const char *kind;	/* "requests" or "spend" */
	double observed;	/* in the last hour */
	double baseline;	/* median hour of the trailing 7 days */
};

/*
 * Checks every key active in the hour before now. Each anomaly found is
 * recorded once per clock hour and kind: audit row (actor "maskgate",
 * action "usage_anomaly") and maskgate_usage_anomalies_total{kind}.
 * *out is an arena array of the *n anomalies of this hour.
 */
enum mg_err anomaly_scan(const struct cfg *c, struct store *s, struct arena *a, long now,
    struct anomaly **out, size_t *n);

/* The median of n values (sorted in place); 0 for none. */
double anomaly_median(double *v, size_t n);

#endif
