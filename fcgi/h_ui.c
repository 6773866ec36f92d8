/*
 * h_ui.c - the admin console's front door: /ui/login, /ui/logout, the
 * stylesheet, the session check on every other page and the CSRF check on
 * every POST, then dispatch to the page files (h_ui_*.c).
 *
 * The console has its own credential check (a session cookie), so its
 * route is open in the routing table and refuses here instead.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "route.h"
#include "store_keys.h"
#include "ui.h"
#include "worker.h"

#define UI_MAX_BODY (64 * 1024)

static const char stylesheet[] =
	"body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1b1f23;background:#fafafa}\n"
	"header{display:flex;flex-wrap:wrap;justify-content:space-between;align-items:center;"
	"background:#1f3b57;color:#fff;padding:.4em 1em}\n"
	"header nav ul{list-style:none;margin:0;padding:0;display:flex;gap:1em}\n"
	"header a{color:#fff}\nheader a[aria-current]{font-weight:bold;text-decoration:none}\n"
	".signout span{margin-right:.6em}\n"
	"main{padding:1em;max-width:80em}\n"
	"table{border-collapse:collapse;margin:.6em 0}\n"
	"th,td{border:1px solid #ccd;padding:.25em .5em;text-align:left;vertical-align:top}\n"
	"td.num{text-align:right;font-variant-numeric:tabular-nums}\n"
	"fieldset{border:1px solid #ccd;margin:.8em 0}\n"
	"label{display:inline-block;margin:.2em .8em .2em 0}\n"
	"input,select,button{font:inherit}\n"
	"td form{display:inline}\n"
	":focus-visible{outline:3px solid #e36209;outline-offset:1px}\n"
	".notice{padding:.5em .8em;border-left:4px solid #2c974b;background:#eef8ef}\n"
	".notice.error{border-color:#cb2431;background:#fdeeee}\n"
	".newkey{font-family:monospace;font-size:1.1em;word-break:break-all}\n"
	".flag{color:#cb2431;font-weight:bold}\n"
	".chart svg{width:100%;max-width:720px;height:auto;background:#fff;border:1px solid #ccd}\n"
	".chart .grid{stroke:#dde}\n.chart .axis{font-size:11px;fill:#555}\n"
	".s1{fill:#3572a5}\n.s2{fill:#e36209}\n"
	".key.s1{color:#3572a5}\n.key.s2{color:#e36209}\n";

static void
send_css(struct request *req)
{
	ui_security_headers(req);
	http_start(req, 200, "text/css; charset=utf-8");
	http_write(req, stylesheet, sizeof(stylesheet) - 1);
}

/* Set-Cookie for the session: Secure whenever the web server says TLS. */
static void
set_cookie(struct request *req, const char *value, long max_age)
{
	const char *https = http_param(req, "HTTPS");
	int secure = https != NULL && (strcasecmp(https, "on") == 0 || strcmp(https, "1") == 0);

	http_add_header(req, "Set-Cookie", arena_printf(req->arena,
	    "%s=%s; Path=/ui; Max-Age=%ld; HttpOnly; SameSite=Strict%s", SESSION_COOKIE, value,
	    max_age, secure ? "; Secure" : ""));
}

static void
login_page(struct ui *u, int status, const char *error)
{
	ui_begin(u, "Sign in", NULL);
	if (error != NULL)
		ui_notice(u, "error", error);
	ui_raw(u, "<form method=\"post\" action=\"/ui/login\">\n"
	    "<p><label for=\"key\">Master key or admin key</label>\n"
	    "<input type=\"password\" id=\"key\" name=\"key\" autocomplete=\"current-password\" required></p>\n"
	    "<p><button type=\"submit\">Sign in</button></p>\n</form>\n"
	    "<p>The key is exchanged for a session cookie and is not kept.</p>\n");
	ui_end(u, status);
}

static void
do_login(struct ui *u)
{
	struct request *req = u->req;
	struct worker *w = req->worker;
	char cookie[SESSION_HEXLEN + 1];
	const char *key = ui_field(u->form, "key"), *why = "";
	enum mg_err rc;

	if (key == NULL || *key == '\0') {
		login_page(u, 400, "Enter a key.");
		return;
	}
	rc = session_login(w->cfg, w->store, req->arena, http_param(req, "REMOTE_ADDR"), key,
	    u->now, cookie, &u->sess, &why);
	if (rc == MG_OK) {
		set_cookie(req, cookie, w->cfg->console_session);
		explicit_bzero(cookie, sizeof(cookie));
		ui_redirect(req, "/ui/keys");
		return;
	}
	if (rc == MG_ETOOBIG) {
		http_add_header(req, "Retry-After", arena_printf(req->arena, "%d",
		    SESSION_LOGIN_WINDOW));
		login_page(u, 429, why);
		return;
	}
	if (rc == MG_ENOTFOUND) {
		login_page(u, 401, arena_printf(req->arena, "Sign-in failed: %s.", why));
		return;
	}
	login_page(u, 503, arena_printf(req->arena, "Sign-in is unavailable (%s).",
	    mg_strerror(rc)));
}

static void
error_page(struct ui *u, int status, const char *title, const char *text)
{
	ui_begin(u, title, u->cookie != NULL && u->sess.actor != NULL ? "" : NULL);
	ui_notice(u, "error", text);
	if (u->sess.actor == NULL)
		ui_raw(u, "<p><a href=\"/ui/login\">Sign in</a></p>\n");
	ui_end(u, status);
}

static void
do_logout(struct ui *u)
{
	struct request *req = u->req;

	if (u->sso) {
		/* the web server holds an SSO session, not maskgate */
		error_page(u, 200, "Sign out", "You are signed in through single sign-on; sign "
		    "out at your identity provider.");
		return;
	}

	if (session_logout(req->worker->store, u->cookie, u->sess.actor) != MG_OK) {
		error_page(u, 503, "Sign out", "The session could not be ended; try again.");
		return;
	}
	set_cookie(req, "", 0);
	ui_redirect(req, "/ui/login");
}

/* Reads and parses an HTML form body; 0 when answered with an error. */
static int
read_form(struct ui *u)
{
	struct request *req = u->req;
	const char *ct = http_header(req, "content-type");

	if (ct == NULL || strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0) {
		error_page(u, 415, "Unsupported form", "Forms must be sent as "
		    "application/x-www-form-urlencoded.");
		return 0;
	}
	if (http_read_body(req, UI_MAX_BODY) != MG_OK) {
		error_page(u, 413, "Form too large", "The form could not be read (at most 64 KiB).");
		return 0;
	}
	u->form = h_urlencoded_object(req, req->body);
	if (u->form == NULL) {
		error_page(u, 500, "Error", "Out of memory.");
		return 0;
	}
	return 1;
}

/* The signed-in pages; sub is the path after /ui. */
static void
dispatch(struct ui *u, const char *sub, int post)
{
	if (post) {
		if (strcmp(sub, "/logout") == 0)
			do_logout(u);
		else if (strncmp(sub, "/keys/", 6) == 0)
			ui_keys_post(u, sub + 6);
		else
			error_page(u, 405, "Not allowed", "This page cannot be posted to.");
		return;
	}
	if (*sub == '\0' || strcmp(sub, "/") == 0)
		ui_redirect(u->req, "/ui/keys");
	else if (strcmp(sub, "/keys") == 0)
		ui_keys(u);
	else if (strcmp(sub, "/spend") == 0)
		ui_spend(u, 0);
	else if (strcmp(sub, "/spend.csv") == 0)
		ui_spend(u, 1);
	else if (strcmp(sub, "/masking") == 0)
		ui_masking(u);
	else if (strcmp(sub, "/audit") == 0)
		ui_audit(u);
	else if (strcmp(sub, "/health") == 0)
		ui_health(u);
	else if (strcmp(sub, "/logout") == 0 || strncmp(sub, "/keys/", 6) == 0)
		error_page(u, 405, "Not allowed", "Use the buttons on the pages.");
	else
		error_page(u, 404, "Not found", "There is no such console page.");
}

void
h_ui(struct request *req, const struct principal *unused)
{
	struct worker *w = req->worker;
	const char *sub = req->path + 3, *csrf;
	int post = strcmp(req->method, "POST") == 0, sso;
	struct ui u;
	enum mg_err rc;

	(void)unused;
	memset(&u, 0, sizeof(u));
	u.req = req;
	u.now = (long)time(NULL);
	if (strcmp(sub, "/style.css") == 0 && !post) {
		send_css(req);
		return;
	}
	u.query = h_query_object(req);
	if (u.query == NULL || (post && !read_form(&u)))
		goto out;
	if (strcmp(sub, "/login") == 0) {
		if (post)
			do_login(&u);
		else
			login_page(&u, 200, NULL);
		goto out;
	}
	sso = ui_sso(&u);
	if (sso == 0)
		goto out;
	u.cookie = session_cookie_value(req->arena, http_header(req, "cookie"), SESSION_COOKIE);
	rc = sso == 1 ? MG_OK : session_check(w->cfg, w->store, req->arena, u.cookie, u.now,
	    &u.sess);
	if (rc == MG_ENOTFOUND) {
		if (post)
			error_page(&u, 403, "Signed out", "Your session has ended; sign in again.");
		else
			ui_redirect(req, "/ui/login");
		goto out;
	}
	if (rc != MG_OK) {
		error_page(&u, 503, "Unavailable", "The session store is unavailable.");
		goto out;
	}
	if (post) {
		csrf = ui_field(u.form, "csrf");
		if (!(u.sso ? ui_sso_csrf_ok(&u, csrf) : session_csrf_ok(u.cookie, csrf))) {
			if (store_audit_add(w->store, u.sess.actor, "console_csrf", NULL, "refused",
			    arena_printf(req->arena, "POST %s", req->path)) != MG_OK)
				log_warn("console: a refused form could not be audited");
			error_page(&u, 403, "Refused", "The form's CSRF token is missing or wrong; "
			    "reload the page and try again.");
			goto out;
		}
	}
	dispatch(&u, sub, post);
out:
	if (!req->started)
		http_error(req, 500, ET_API, "out of memory");
	json_object_put(u.form);
	json_object_put(u.query);
}
