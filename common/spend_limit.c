/*
 * spend_limit.c - which spend cap applies to a developer and what the
 * refusal says.
 *
 * The refusal follows the Claude apps gateway's spend limits contract
 * (https://code.claude.com/docs/en/claude-apps-gateway-spend-limits, "How
 * enforcement works", and the "Spend limit reached" entry of
 * https://code.claude.com/docs/en/errors): status 429, error.type
 * billing_error, header x-should-retry: false (Claude Code then shows the
 * message without retrying), retry-after with the seconds to the reset,
 * and the message "spend limit reached (<period>; resets <YYYY-MM-DD HH:MM>
 * UTC)" followed by the operator's message. Caps reset on UTC calendar
 * boundaries: daily at 00:00, weekly on Monday, monthly on the 1st. When
 * several caps are exceeded the message names the one that resets last.
 * Claude Code 2.1.225 and later render that message as it is.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "spend_limit.h"
#include "store_spend_limits.h"

static const char *const period_names[SP__MAX] = { "daily", "weekly", "monthly" };

const char *
spend_period_name(enum spend_period p)
{
	return p < SP__MAX ? period_names[p] : "?";
}

int
spend_period_parse(const char *s, enum spend_period *out)
{
	int i;

	for (i = 0; s != NULL && i < SP__MAX; i++)
		if (strcmp(s, period_names[i]) == 0) {
			*out = (enum spend_period)i;
			return 0;
		}
	return -1;
}

long
spend_period_start(enum spend_period p, long now)
{
	time_t t = (time_t)now;
	struct tm tm;

	gmtime_r(&t, &tm);
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	if (p == SP_WEEKLY)
		tm.tm_mday -= (tm.tm_wday + 6) % 7;	/* back to Monday */
	else if (p == SP_MONTHLY)
		tm.tm_mday = 1;
	return (long)timegm(&tm);
}

long
spend_period_reset(enum spend_period p, long now)
{
	time_t t = (time_t)spend_period_start(p, now);
	struct tm tm;

	gmtime_r(&t, &tm);
	if (p == SP_DAILY)
		tm.tm_mday += 1;
	else if (p == SP_WEEKLY)
		tm.tm_mday += 7;
	else
		tm.tm_mon += 1;
	return (long)timegm(&tm);
}

/* The cap in force per the precedence: user, then team, then organisation. */
static long long
effective_cap(const struct store_spend_caps *c)
{
	if (c->user != -2)
		return c->user;
	if (c->team != -2)
		return c->team;
	return c->org != -2 ? c->org : -1;
}

enum mg_err
spend_limit_check(struct store *s, const char *user_id, const char *team_id,
    const char *key_hash, long now, struct spend_block *out, int *blocked)
{
	struct store_spend_caps caps;
	long long cap;
	double spent;
	enum mg_err rc;
	int i, any;

	memset(out, 0, sizeof(*out));
	*blocked = 0;
	rc = store_spend_limit_any(s, &any);
	if (rc != MG_OK || !any)
		return rc;
	for (i = 0; i < SP__MAX; i++) {
		enum spend_period p = (enum spend_period)i;
		rc = store_spend_limit_caps(s, user_id, team_id, spend_period_name(p), &caps);
		if (rc != MG_OK)
			return rc;
		cap = effective_cap(&caps);
		if (cap < 0)
			continue;
		rc = store_spend_since(s, user_id, key_hash,
		    (long long)spend_period_start(p, now) * 1000, &spent);
		if (rc != MG_OK)
			return rc;
		/* cents compared as cents: a zero cap blocks every request */
		if (spent * 100.0 < (double)cap)
			continue;
		if (!*blocked || spend_period_reset(p, now) > out->reset_at) {
			out->period = spend_period_name(p);
			out->reset_at = spend_period_reset(p, now);
			out->cap_usd = (double)cap / 100.0;
			out->spent_usd = spent;
		}
		*blocked = 1;
	}
	return MG_OK;
}

const char *
spend_limit_message(struct arena *a, const struct spend_block *b, const char *operator_message)
{
	char when[32];
	time_t t = (time_t)b->reset_at;
	struct tm tm;
	const char *op = operator_message != NULL && *operator_message != '\0' ?
	    operator_message : NULL;

	if (b->reset_at > 0) {
		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
		return arena_printf(a, "spend limit reached (%s; resets %s UTC)%s%s", b->period,
		    when, op != NULL ? " " : "", op != NULL ? op : "");
	}
	return arena_printf(a, "spend limit reached (%s; does not reset)%s%s", b->period,
	    op != NULL ? " " : "", op != NULL ? op : "");
}

const char *
spend_limit_body(struct arena *a, const char *message, const char *request_id)
{
	struct json_object *root = json_object_new_object(), *err = json_object_new_object();
	const char *s = NULL;

	if (root == NULL || err == NULL || message == NULL)
		goto out;
	json_object_object_add(err, "type", json_object_new_string("billing_error"));
	json_object_object_add(err, "message", json_object_new_string(message));
	json_object_object_add(root, "type", json_object_new_string("error"));
	json_object_object_add(root, "error", err);
	err = NULL;
	if (request_id != NULL)
		json_object_object_add(root, "request_id", json_object_new_string(request_id));
	s = arena_strdup(a, json_object_to_json_string_ext(root,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
out:
	json_object_put(err);
	json_object_put(root);
	return s;
}
