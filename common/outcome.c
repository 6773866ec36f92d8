/*
 * outcome.c - the outcome record's few helpers (outcome.h).
 */
#include <string.h>

#include "mg.h"
#include "outcome.h"

static const char *const rejection_names[OUT__MAX] = {
	[OUT_AUTH] = "auth", [OUT_BLOCKED_KEY] = "blocked_key", [OUT_EXPIRED] = "expired",
	[OUT_MODEL] = "model", [OUT_BUDGET] = "budget", [OUT_RATE] = "rate",
	[OUT_PARALLEL] = "parallel", [OUT_FAIL_CLOSED] = "fail_closed",
	[OUT_BLOCK_RULE] = "block_rule",
};

static const char *const reason_names[OUT__MAX] = {
	"ok", "auth", "blocked_key", "expired", "model", "budget", "rate", "parallel",
	"fail_closed", "block_rule", "upstream", "client_gone",
};

const char *
outcome_reason_name(enum outcome_reason r)
{
	return (unsigned)r < OUT__MAX ? reason_names[r] : "?";
}

void
outcome_init(struct outcome *o)
{
	memset(o, 0, sizeof(*o));
	o->reason = OUT_OK;
	o->route = "other";
	o->tenant = "-";
	o->upstream_ms = -1;
	o->ttfb_ms = -1;
}

const char *
outcome_rejection_name(enum outcome_reason r)
{
	return (unsigned)r < OUT__MAX ? rejection_names[r] : NULL;
}

void
outcome_set(struct outcome *o, enum outcome_reason r)
{
	if (o->reason == OUT_OK)
		o->reason = r;
}
