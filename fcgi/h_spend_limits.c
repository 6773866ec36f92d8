/*
 * h_spend_limits.c - /v1/organizations/spend_limits, shaped like
 * Anthropic's Admin API spend limits (SpendLimit objects: type
 * "spend_limit", spl_ ids, amounts as whole-number strings of USD cents,
 * null for unlimited; scopes user, rbac_group (a maskgate team) and
 * organization), so clients written for that contract work here. The caps
 * are enforced by the exchange's admission (common/limits.c), and the 429 a
 * capped request gets is common/exchange.c with common/spend_limit.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "jwalk.h"
#include "log.h"
#include "h_spend_limits.h"
#include "route.h"
#include "spend_limit.h"
#include "store_keys.h"
#include "store_spend_limits.h"
#include "worker.h"

#define SL_PATH "/v1/organizations/spend_limits"
#define SL_MAX_BODY 16384
#define SL_MAX_ID 200

/* RFC 3339 of Unix seconds, in the arena. */
static const char *
rfc3339(struct arena *a, long t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char buf[32];

	gmtime_r(&tt, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return arena_strdup(a, buf);
}

/* The SpendLimit object of l (new; caller puts). */
static struct json_object *
limit_object(struct arena *a, const struct store_spend_limit *l)
{
	struct json_object *o = json_object_new_object(), *scope = json_object_new_object();
	char cents[32];

	if (o == NULL || scope == NULL) {
		json_object_put(o);
		json_object_put(scope);
		return NULL;
	}
	json_object_object_add(scope, "type", json_object_new_string(l->scope_type));
	if (strcmp(l->scope_type, "user") == 0)
		json_object_object_add(scope, "user_id", json_object_new_string(l->scope_id));
	else if (strcmp(l->scope_type, "rbac_group") == 0)
		json_object_object_add(scope, "rbac_group_id", json_object_new_string(l->scope_id));
	json_object_object_add(o, "type", json_object_new_string("spend_limit"));
	json_object_object_add(o, "id", json_object_new_string(l->id));
	snprintf(cents, sizeof(cents), "%lld", l->amount_cents);
	json_object_object_add(o, "amount", l->amount_cents < 0 ? NULL :
	    json_object_new_string(cents));
	json_object_object_add(o, "currency", json_object_new_string("USD"));
	json_object_object_add(o, "period", json_object_new_string(l->period));
	json_object_object_add(o, "scope", scope);
	json_object_object_add(o, "is_enabled", json_object_new_boolean(1));
	json_object_object_add(o, "created_at", json_object_new_string(rfc3339(a, l->created_at)));
	json_object_object_add(o, "updated_at", json_object_new_string(rfc3339(a, l->updated_at)));
	return o;
}

static void
send_object(struct request *req, struct json_object *o)
{
	if (o == NULL) {
		http_error(req, 500, ET_API, "out of memory");
		return;
	}
	http_add_header(req, "request-id", req->request_id);
	http_json(req, 200, arena_strdup(req->arena, json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)));
	json_object_put(o);
}

static const char *
str_member(struct json_object *o, const char *name, int *wrong_type)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, name, &v) || v == NULL)
		return NULL;
	if (!json_object_is_type(v, json_type_string)) {
		*wrong_type = 1;
		return NULL;
	}
	return json_object_get_string(v);
}

/* "12345" (whole cents, at most 12 digits) or JSON null; -2 when malformed. */
static long long
parse_amount(struct json_object *in)
{
	struct json_object *v;
	const char *s, *p;

	if (!json_object_object_get_ex(in, "amount", &v))
		return -2;
	if (v == NULL)
		return -1;
	if (!json_object_is_type(v, json_type_string))
		return -2;
	s = json_object_get_string(v);
	if (*s == '\0' || strlen(s) > 12)
		return -2;
	for (p = s; *p != '\0'; p++)
		if (*p < '0' || *p > '9')
			return -2;
	return strtoll(s, NULL, 10);
}

/* POST: create or replace the cap of {scope, period}. */
static void
do_post(struct request *req, const struct principal *p)
{
	struct store_spend_limit l;
	struct json_object *in = NULL, *scope;
	enum spend_period period;
	const char *type, *id = "", *cur;
	char err[256];
	long long amount;
	int bad = 0;
	enum mg_err rc;

	if (http_read_body(req, SL_MAX_BODY) != MG_OK || req->body_len == 0) {
		http_error(req, 400, ET_INVALID_REQUEST, "send a JSON body {scope, amount, period} "
		    "of at most 16 KiB");
		return;
	}
	if (jwalk_parse(req->body, req->body_len, &in, err, sizeof(err)) != MG_OK) {
		http_error(req, 400, ET_INVALID_REQUEST, "%s", err);
		return;
	}
	if (!json_object_is_type(in, json_type_object) ||
	    !json_object_object_get_ex(in, "scope", &scope) ||
	    !json_object_is_type(scope, json_type_object)) {
		http_error(req, 400, ET_INVALID_REQUEST, "scope: an object {type, ...} is required");
		goto out;
	}
	type = str_member(scope, "type", &bad);
	if (type != NULL && strcmp(type, "user") == 0)
		id = str_member(scope, "user_id", &bad);
	else if (type != NULL && strcmp(type, "rbac_group") == 0)
		id = str_member(scope, "rbac_group_id", &bad);
	else if (type == NULL || strcmp(type, "organization") != 0) {
		http_error(req, 400, ET_INVALID_REQUEST, "scope.type: use user (with user_id), "
		    "rbac_group (with rbac_group_id, a maskgate team) or organization");
		goto out;
	}
	if (bad || id == NULL || (strcmp(type, "organization") != 0 && *id == '\0') ||
	    strlen(id) > SL_MAX_ID) {
		http_error(req, 400, ET_INVALID_REQUEST, "scope: user_id or rbac_group_id must be a "
		    "non-empty string of at most %d characters", SL_MAX_ID);
		goto out;
	}
	if (spend_period_parse(str_member(in, "period", &bad), &period) != 0) {
		http_error(req, 400, ET_INVALID_REQUEST, "period: use daily, weekly or monthly");
		goto out;
	}
	amount = parse_amount(in);
	if (amount == -2) {
		http_error(req, 400, ET_INVALID_REQUEST, "amount: a whole-number string of USD cents "
		    "(\"50000\" is $500.00), or null for unlimited");
		goto out;
	}
	cur = str_member(in, "currency", &bad);
	if (bad || (cur != NULL && strcmp(cur, "USD") != 0)) {
		http_error(req, 400, ET_INVALID_REQUEST, "currency: only USD is supported");
		goto out;
	}
	rc = store_spend_limit_put(req->worker->store, req->arena, type, id,
	    spend_period_name(period), amount, (long)time(NULL), &l);
	if (rc != MG_OK) {
		http_error(req, 503, ET_API, "store unavailable (%s)", mg_strerror(rc));
		goto out;
	}
	if (store_audit_add(req->worker->store, h_actor(req, p), "spend_limit_set", l.id, "ok",
	    arena_printf(req->arena, "%s %s %s amount_cents=%lld", type, *id != '\0' ? id : "-",
	    l.period, amount)) != MG_OK)
		log_warn("rid=%s spend limit %s set but not audited", req->request_id, l.id);
	send_object(req, limit_object(req->arena, &l));
out:
	json_object_put(in);
}

struct list_ctx {
	struct arena *a;
	struct json_object *data;
	const char *first, *last;
};

static void
on_limit(void *ctx, const struct store_spend_limit *l)
{
	struct list_ctx *lc = ctx;

	json_object_array_add(lc->data, limit_object(lc->a, l));
	if (lc->first == NULL)
		lc->first = l->id;
	lc->last = l->id;
}

/* GET: the list, paged by limit and after_id like the Admin API. */
static void
do_list(struct request *req)
{
	struct json_object *q = h_query_object(req), *v, *o = NULL;
	struct list_ctx lc = { req->arena, NULL, NULL, NULL };
	const char *after = NULL, *scope = NULL;
	long limit = 20;
	char *end;
	int has_more;
	enum mg_err rc;

	if (q == NULL) {
		http_error(req, 500, ET_API, "out of memory");
		return;
	}
	if (json_object_object_get_ex(q, "limit", &v)) {
		errno = 0;
		limit = strtol(json_object_get_string(v), &end, 10);
		if (errno != 0 || *end != '\0' || limit < 1 || limit > 1000) {
			http_error(req, 400, ET_INVALID_REQUEST, "limit: 1 to 1000");
			goto out;
		}
	}
	if (json_object_object_get_ex(q, "after_id", &v))
		after = json_object_get_string(v);
	if (json_object_object_get_ex(q, "scope_type", &v))
		scope = json_object_get_string(v);
	lc.data = json_object_new_array();
	o = json_object_new_object();
	if (lc.data == NULL || o == NULL) {
		json_object_put(lc.data);
		http_error(req, 500, ET_API, "out of memory");
		goto out;
	}
	rc = store_spend_limit_each(req->worker->store, req->arena, scope, after, limit, on_limit,
	    &lc, &has_more);
	if (rc != MG_OK) {
		json_object_put(lc.data);
		http_error(req, 503, ET_API, "store unavailable (%s)", mg_strerror(rc));
		goto out;
	}
	json_object_object_add(o, "data", lc.data);
	json_object_object_add(o, "has_more", json_object_new_boolean(has_more));
	json_object_object_add(o, "first_id", lc.first != NULL ?
	    json_object_new_string(lc.first) : NULL);
	json_object_object_add(o, "last_id", lc.last != NULL ? json_object_new_string(lc.last) : NULL);
	send_object(req, o);
	o = NULL;
out:
	json_object_put(o);
	json_object_put(q);
}

void
h_spend_limits(struct request *req, const struct principal *p)
{
	const char *sub = req->path + strlen(SL_PATH);
	struct store_spend_limit l;
	enum mg_err rc;

	if (!p->admin) {
		http_error(req, 403, ET_PERMISSION, "spend limits need the master key or an admin key");
		return;
	}
	if (*sub == '\0' || strcmp(sub, "/") == 0) {
		if (strcmp(req->method, "POST") == 0)
			do_post(req, p);
		else
			do_list(req);
		return;
	}
	if (strcmp(req->method, "GET") != 0 || strncmp(sub + 1, "spl_", 4) != 0 ||
	    strchr(sub + 1, '/') != NULL) {
		http_error(req, 404, ET_NOT_FOUND, "no such spend limit");
		return;
	}
	rc = store_spend_limit_get(req->worker->store, req->arena, sub + 1, &l);
	if (rc == MG_ENOTFOUND)
		http_error(req, 404, ET_NOT_FOUND, "no such spend limit");
	else if (rc != MG_OK)
		http_error(req, 503, ET_API, "store unavailable (%s)", mg_strerror(rc));
	else
		send_object(req, limit_object(req->arena, &l));
}

