/*
 * h_admin.c - what admins read: GET /spend/logs (LiteLLM's field names),
 * GET /audit and GET /metrics (Prometheus text; admin credential or an
 * address on MASKGATE_METRICS_ALLOW).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "anomaly.h"
#include "metrics.h"
#include "route.h"
#include "store_keys.h"
#include "worker.h"

/* A query field as a string, or NULL. */
static const char *
qget(struct json_object *q, const char *name)
{
	struct json_object *v;

	return json_object_object_get_ex(q, name, &v) ? json_object_get_string(v) : NULL;
}

/* "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SS[Z]" (UTC) to Unix ms; -1 when malformed. */
static long long
parse_date(const char *s)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (end == NULL) {
		memset(&tm, 0, sizeof(tm));
		end = strptime(s, "%Y-%m-%d", &tm);
	}
	if (end == NULL || (*end != '\0' && strcmp(end, "Z") != 0))
		return -1;
	return (long long)timegm(&tm) * 1000;
}

static int
parse_limit(const char *s, long def, long *out)
{
	char *end;
	long v;

	if (s == NULL) {
		*out = def;
		return 0;
	}
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || v < 1 || v > 10000)
		return -1;
	*out = v;
	return 0;
}

static void
send_json(struct request *req, struct json_object *o)
{
	http_json(req, 200, arena_strdup(req->arena, json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)));
}

void
h_spend_logs(struct request *req, const struct principal *p)
{
	struct json_object *q = h_query_object(req), *out = NULL;
	struct store_spend_filter f;
	char hash[2 * 32 + 1];
	const char *key, *v;
	enum mg_err rc;

	(void)p;
	memset(&f, 0, sizeof(f));
	if (q == NULL) {
		http_error(req, 500, ET_API, "out of memory");
		return;
	}
	key = qget(q, "api_key") != NULL ? qget(q, "api_key") : qget(q, "key");
	if (key != NULL) {
		if (keys_hash_arg(key, hash) != MG_OK) {
			http_error(req, 400, ET_INVALID_REQUEST, "api_key: must be a key or its hash");
			goto out;
		}
		f.key_hash = hash;
	}
	f.user_id = qget(q, "user_id");
	f.team_id = qget(q, "team_id");
	v = qget(q, "start_date");
	if (v != NULL)
		f.from_ms = parse_date(v);
	if (f.from_ms < 0) {
		http_error(req, 400, ET_INVALID_REQUEST, "start_date: use YYYY-MM-DD");
		goto out;
	}
	v = qget(q, "end_date");
	if (v != NULL) {
		f.to_ms = parse_date(v);
		if (f.to_ms < 0) {
			http_error(req, 400, ET_INVALID_REQUEST, "end_date: use YYYY-MM-DD");
			goto out;
		}
		/* a bare date includes that whole day, as in LiteLLM */
		if (strlen(v) == 10)
			f.to_ms += 86400LL * 1000;
	}
	if (parse_limit(qget(q, "limit"), 1000, &f.limit) != 0) {
		http_error(req, 400, ET_INVALID_REQUEST, "limit: an integer from 1 to 10000");
		goto out;
	}
	rc = store_spend_list(req->worker->store, &f, &out);
	if (rc != MG_OK) {
		http_error(req, 503, ET_API, "spend log unavailable (%s)", mg_strerror(rc));
		goto out;
	}
	send_json(req, out);
out:
	json_object_put(out);
	json_object_put(q);
}

void
h_audit(struct request *req, const struct principal *p)
{
	struct json_object *q = h_query_object(req), *out = NULL;
	long limit;
	enum mg_err rc;

	(void)p;
	if (q == NULL) {
		http_error(req, 500, ET_API, "out of memory");
		return;
	}
	if (parse_limit(qget(q, "limit"), 100, &limit) != 0) {
		http_error(req, 400, ET_INVALID_REQUEST, "limit: an integer from 1 to 10000");
		goto out;
	}
	rc = store_audit_list(req->worker->store, limit, qget(q, "action"), &out);
	if (rc != MG_OK) {
		http_error(req, 503, ET_API, "audit log unavailable (%s)", mg_strerror(rc));
		goto out;
	}
	send_json(req, out);
out:
	json_object_put(out);
	json_object_put(q);
}

/* 1 when REMOTE_ADDR is on the comma-separated MASKGATE_METRICS_ALLOW list. */
static int
scrape_allowed(struct request *req)
{
	const char *list = req->worker->cfg->metrics_allow;
	const char *addr = http_param(req, "REMOTE_ADDR");
	size_t alen;

	if (list == NULL || addr == NULL || *addr == '\0')
		return 0;
	alen = strlen(addr);
	while (*list != '\0') {
		const char *comma = strchr(list, ',');
		size_t len = comma != NULL ? (size_t)(comma - list) : strlen(list);
		while (len > 0 && *list == ' ') {
			list++;
			len--;
		}
		while (len > 0 && list[len - 1] == ' ')
			len--;
		if (len == alen && strncmp(list, addr, len) == 0)
			return 1;
		list += (comma != NULL ? (size_t)(comma - list) + 1 : strlen(list));
	}
	return 0;
}

void
h_metrics(struct request *req, const struct principal *unused)
{
	struct worker *w = req->worker;
	struct anomaly *found;
	size_t nfound;
	struct buf out;
	enum mg_err rc;

	(void)unused;
	if (!scrape_allowed(req)) {
		if (!exchange_authenticate(&req->ex, 0, 0))
			return;
		if (!req->ex.principal.admin) {
			http_error(req, 403, ET_PERMISSION, "/metrics needs an admin key or an "
			    "address on MASKGATE_METRICS_ALLOW");
			return;
		}
	}
	/* anomalies are found when looked for: here and on the console */
	anomaly_scan(w->cfg, w->store, req->arena, (long)time(NULL), &found, &nfound);
	buf_init(&out, req->arena);
	rc = metrics_render(w->store, &out);
	if (rc != MG_OK) {
		http_error(req, 503, ET_API, "metrics unavailable (%s)", mg_strerror(rc));
		return;
	}
	http_start(req, 200, "text/plain; version=0.0.4; charset=utf-8");
	http_write(req, out.data != NULL ? out.data : "", out.len);
}
