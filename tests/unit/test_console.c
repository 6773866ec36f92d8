/*
 * test_console.c - the admin console's core: HTML escaping and the page
 * formatter, console sessions (sign-in, CSRF, revocation, throttling,
 * credential re-checks), usage anomalies, and the report queries.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "th.h"
#include "anomaly.h"
#include "cfg.h"
#include "keys_mgmt.h"
#include "session.h"
#include "store.h"
#include "store_console.h"
#include "store_int.h"
#include <sqlite3.h>

/* the SQLite handle under the store, for tracing and fault injection */
#define SQDB(s) ((sqlite3 *)db_handle((s)->db))
#include "store_keys.h"

/* the page formatter and escaper, with the request layer they write through */
#include "../../fcgi/http.c"
#include "../../fcgi/ui_html.c"

static char dbpath[] = "/tmp/mg-test-console-XXXXXX";

static const char *
page(struct ui *u)
{
	return u->out.data != NULL ? u->out.data : "";
}

static void
test_escaping(struct arena *a)
{
	struct request req;
	struct ui u;

	memset(&req, 0, sizeof(req));
	req.arena = a;
	memset(&u, 0, sizeof(u));
	u.req = &req;
	buf_init(&u.out, a);
	ui_printf(&u, "<td title=\"%s\">%s</td>", "\"><script>x</script>", "a&b<c>'d");
	TH_STREQ(page(&u), "<td title=\"&quot;&gt;&lt;script&gt;x&lt;/script&gt;\">"
	    "a&amp;b&lt;c&gt;&#39;d</td>", "%%s is escaped, markup in fmt is kept");
	buf_clear(&u.out);
	ui_printf(&u, "%d|%ld|%lld|%zu|%02ld|%.2f|%g|%%|%.3s", -3, 40L, 5000000000LL, (size_t)7, 5L,
	    1.005, 0.25, "abcdef");
	TH_STREQ(page(&u), "-3|40|5000000000|7|05|1.00|0.25|%|abc", "numbers as printf formats them");
	buf_clear(&u.out);
	ui_printf(&u, "%s", "ok \xff\xfe bad\x01 \xc3\xa9t\xc3\xa9 \xe2\x82");
	TH_STREQ(page(&u), "ok \xef\xbf\xbd\xef\xbf\xbd bad\xef\xbf\xbd \xc3\xa9t\xc3\xa9 "
	    "\xef\xbf\xbd\xef\xbf\xbd", "invalid UTF-8 and controls become U+FFFD");
	TH_STREQ(ui_escape(a, NULL), "", "NULL escapes to nothing");
	buf_clear(&u.out);
	ui_printf(&u, "%.12s|%.3s", "ab", "a<b>");
	TH_STREQ(page(&u), "ab|a&lt;b", "a precision longer than the string reads no further");
	TH_STREQ(ui_urlencode(a, "a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9", "query values are "
	    "percent-encoded");
	TH_STREQ(ui_escape(a, "<b>"), "&lt;b&gt;", "ui_escape");
}

static void
test_sessions(struct cfg *c, struct store *s, struct arena *a)
{
	char cookie[SESSION_HEXLEN + 1], cookie2[SESSION_HEXLEN + 1], hash[65];
	struct session ss, ss2, chk;
	struct json_object *req, *resp = NULL, *v;
	const char *why, *admin_key;
	long now = (long)time(NULL), n;
	char err[256];
	int i;

	TH_OK(session_login(c, s, a, "10.0.0.1", c->master_key, now, cookie, &ss, &why) == MG_OK &&
	    strlen(cookie) == 64 && strncmp(ss.actor, "master:", 7) == 0, "master key signs in");
	TH_OK(session_check(c, s, a, cookie, now, &chk) == MG_OK &&
	    strcmp(chk.csrf, ss.csrf) == 0 && strcmp(chk.actor, ss.actor) == 0, "session checks");
	TH_OK(session_csrf_ok(cookie, ss.csrf), "its CSRF token is accepted");
	TH_OK(!session_csrf_ok(cookie, NULL) && !session_csrf_ok(cookie, "") &&
	    !session_csrf_ok(cookie, "00"), "a missing or short token is refused");
	TH_OK(session_login(c, s, a, "10.0.0.1", c->master_key, now, cookie2, &ss2, &why) == MG_OK,
	    "a second session");
	TH_OK(!session_csrf_ok(cookie, ss2.csrf) && strcmp(ss.csrf, ss2.csrf) != 0,
	    "one session's token does not work for another");
	TH_OK(session_check(c, s, a, cookie, now + c->console_session, &chk) == MG_ENOTFOUND,
	    "a session expires");
	/* the store holds the cookie's hash, never the cookie */
	{
		struct db_stmt *st = db_prepare(s->db, "SELECT count(*) FROM console_session "
		    "WHERE hash = ?1 OR key_hash = ?1");
		db_bind_text(st, 1, cookie);
		db_step(st);
		TH_OK(db_column_int64(st, 0) == 0, "the cookie value is not stored");
		db_done(st);
	}
	TH_OK(session_logout(s, cookie, ss.actor) == MG_OK &&
	    session_check(c, s, a, cookie, now, &chk) == MG_ENOTFOUND, "sign-out revokes");
	TH_OK(session_check(c, s, a, cookie2, now, &chk) == MG_OK, "the other session lives on");
	TH_OK(session_check(c, s, a, "zz", now, &chk) == MG_ENOTFOUND &&
	    session_check(c, s, a, NULL, now, &chk) == MG_ENOTFOUND, "malformed cookies refused");

	/* admin virtual keys sign in; blocking the key ends its sessions */
	req = json_tokener_parse("{\"key_alias\":\"ops\",\"admin\":true}");
	TH_OK(keys_mgmt(s, a, KO_GENERATE, "test", req, &resp, err, sizeof(err)) == MG_OK,
	    "admin key generated");
	json_object_object_get_ex(resp, "key", &v);
	admin_key = arena_strdup(a, json_object_get_string(v));
	json_object_put(req);
	json_object_put(resp);
	TH_OK(session_login(c, s, a, "10.0.0.2", admin_key, now, cookie, &ss, &why) == MG_OK &&
	    strstr(ss.actor, "alias:ops") != NULL, "admin virtual key signs in");
	keys_hash_arg(admin_key, hash);
	req = json_object_new_object();
	json_object_object_add(req, "key", json_object_new_string(hash));
	TH_OK(keys_mgmt(s, a, KO_BLOCK, "test", req, &resp, err, sizeof(err)) == MG_OK, "blocked");
	json_object_put(req);
	json_object_put(resp);
	TH_OK(session_check(c, s, a, cookie, now, &chk) == MG_ENOTFOUND,
	    "a blocked key's session is refused");

	req = json_tokener_parse("{\"key_alias\":\"dev\"}");
	keys_mgmt(s, a, KO_GENERATE, "test", req, &resp, err, sizeof(err));
	json_object_object_get_ex(resp, "key", &v);
	TH_OK(session_login(c, s, a, "10.0.0.3", json_object_get_string(v), now, cookie, &ss,
	    &why) == MG_ENOTFOUND && strstr(why, "admin") != NULL, "a non-admin key may not sign in");
	json_object_put(req);
	json_object_put(resp);

	/* throttling per address, in the store */
	for (i = 0; i < SESSION_LOGIN_MAX - 1; i++)
		session_login(c, s, a, "10.0.0.3", "sk-wrong", now, cookie, &ss, &why);
	n = -1;
	store_login_failures(s, "10.0.0.3", now - now % SESSION_LOGIN_WINDOW, &n);
	TH_OK(n == SESSION_LOGIN_MAX, "failures counted (%ld)", n);
	TH_OK(session_login(c, s, a, "10.0.0.3", c->master_key, now, cookie, &ss, &why) ==
	    MG_ETOOBIG && cookie[0] == '\0', "the right key is refused once throttled");
	TH_OK(session_login(c, s, a, "10.0.0.4", c->master_key, now, cookie, &ss, &why) == MG_OK,
	    "another address is not");
	TH_OK(session_login(c, s, a, "10.0.0.3", c->master_key, now + SESSION_LOGIN_WINDOW, cookie,
	    &ss, &why) == MG_OK, "the next window is open again");

	TH_STREQ(session_cookie_value(a, "a=1; mg_console=abc; b=2", "mg_console"), "abc",
	    "cookie found among others");
	TH_OK(session_cookie_value(a, "xmg_console=abc", "mg_console") == NULL &&
	    session_cookie_value(a, NULL, "mg_console") == NULL, "cookie name matched exactly");
}

/* One spend-log row for key at t (Unix seconds). */
static void
spend_row(struct store *s, const char *key, const char *alias, long t, double cost)
{
	struct db_stmt *st = db_prepare(s->db, "INSERT INTO spend_log(at_ms, key_hash, key_alias, "
	    "tenant, model, input_tokens, output_tokens, cache_write_tokens, cache_read_tokens, "
	    "cost, status, duration_ms) VALUES (?1, ?2, ?3, 't', 'claude-x', 10, 5, 0, 0, ?4, 200, "
	    "1)");

	db_bind_int64(st, 1, (int64_t)t * 1000);
	db_bind_text(st, 2, key);
	db_bind_text(st, 3, alias);
	db_bind_double(st, 4, cost);
	db_step(st);
	db_done(st);
}

static long
audit_count(struct store *s, const char *action)
{
	struct db_stmt *st = db_prepare(s->db, "SELECT count(*) FROM audit_log WHERE action = ?1");
	long n;

	db_bind_text(st, 1, action);
	db_step(st);
	n = (long)db_column_int64(st, 0);
	db_done(st);
	return n;
}

static void
spend_sum(void *ctx, const struct store_spend_row *r)
{
	double *sum = ctx;

	if (strcmp(r->label, "steady") == 0)
		*sum += r->cost;
}

static void
test_anomalies(struct cfg *c, struct store *s, struct arena *a)
{
	double v[] = { 5, 1, 4, 2, 3 }, w[] = { 4, 1, 3, 2 };
	long now = 1800000000 - 1800000000 % 3600 + 1800, h, i;
	struct anomaly *found;
	size_t n;
	double sum = 0;
	enum mg_err rc;

	TH_OK(anomaly_median(v, 5) == 3 && anomaly_median(w, 4) == 2.5 &&
	    anomaly_median(v, 0) == 0, "median");
	/* "steady": 2 requests every hour for a week (46 in the 23 full hours of the last
	 * day), then 10 in the last hour */
	for (h = 1; h <= ANOMALY_HOURS; h++)
		for (i = 0; i < 2; i++)
			spend_row(s, "steady", "steady", now - 3600 - h * 3600 + 60 * i, 0.01);
	for (i = 0; i < 10; i++)
		spend_row(s, "steady", "steady", now - 600 + i, 0.01);
	/* "bursty": no history, 4 requests in the last hour (the floor is 5) */
	for (i = 0; i < 4; i++)
		spend_row(s, "bursty", "bursty", now - 300 + i, 1.0);
	c->anomaly_factor = 5;
	c->anomaly_min_requests = 5;
	rc = anomaly_scan(c, s, a, now, &found, &n);
	TH_OK(rc == MG_OK && n == 0,
	    "5x the median is not more than 5x; under the floor is not flagged (%zu)", n);
	spend_row(s, "steady", "steady", now - 10, 0.01);
	TH_OK(anomaly_scan(c, s, a, now, &found, &n) == MG_OK && n == 2 &&
	    strcmp(found[0].key_hash, "steady") == 0 && strcmp(found[0].kind, "requests") == 0 &&
	    found[0].observed == 11 && found[0].baseline == 2 &&
	    strcmp(found[1].kind, "spend") == 0, "11 requests over a median of 2 is flagged");
	TH_OK(audit_count(s, "usage_anomaly") == 2, "each anomaly audited");
	TH_OK(anomaly_scan(c, s, a, now + 60, &found, &n) == MG_OK && n == 2 &&
	    audit_count(s, "usage_anomaly") == 2, "still flagged, audited once per hour");
	c->anomaly_factor = 6;
	TH_OK(anomaly_scan(c, s, a, now + 60, &found, &n) == MG_OK && n == 0,
	    "the factor is configurable");
	c->anomaly_min_requests = 4;
	c->anomaly_factor = 5;
	rc = anomaly_scan(c, s, a, now, &found, &n);
	TH_OK(rc == MG_OK && n == 4, "so is the floor (%zu)", n);

	rc = store_spend_each(s, SG_KEY, (long long)(now - 86400) * 1000, 3600, spend_sum, &sum);
	TH_OK(rc == MG_OK && sum > 0.569 && sum < 0.571, "spend per key and hour sums the log (%g)",
	    sum);
}

static void
mask_row(void *ctx, long day, const char *tenant, const char *type, long masked, long minted,
    long restored)
{
	long *got = ctx;

	(void)tenant;
	if (strcmp(type, "EC2") == 0 && day == 86400 * 3)
		*got = masked * 10000 + minted * 100 + restored;
}

int
main(void)
{
	struct cfg c;
	struct store *s;
	struct arena a;
	char err[256];
	long got = 0;
	int ok, fd = mkstemp(dbpath);

	close(fd);
	memset(&c, 0, sizeof(c));
	c.db_path = dbpath;
	c.busy_timeout_ms = 5000;
	c.console_session = 3600;
	c.master_key = "sk-0123456789abcdef0123456789abcdef0123456789abcdef";
	arena_init(&a);
	if (store_open(&c, &s, err, sizeof(err)) != MG_OK) {
		printf("not ok 1 - store_open: %s\n", err);
		return 1;
	}
	test_escaping(&a);
	test_sessions(&c, s, &a);
	test_anomalies(&c, s, &a);
	ok = store_mask_daily_add(s, 86400 * 3, "team:a", "EC2", 3, 1, 2) == MG_OK &&
	    store_mask_daily_add(s, 86400 * 3, "team:a", "EC2", 1, 0, 4) == MG_OK &&
	    store_mask_daily_each(s, 0, mask_row, &got) == MG_OK;
	TH_OK(ok && got == 40106, "per-day masking counters add up (%ld)", got);
	store_close(s);
	arena_free(&a);
	unlink(dbpath);
	return th_done();
}
