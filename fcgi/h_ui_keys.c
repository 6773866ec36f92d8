/*
 * h_ui_keys.c - the console's keys page: list and search by alias, user or
 * team; create (admin keys too); block, unblock, regenerate with grace, delete. Every form
 * becomes the same request object the /key/... endpoints build and goes through the same
 * keys_mgmt() (validation, audit), with the signed-in admin as the actor.
 * A new key is shown once, in the response to the form that made it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly.h"
#include "keys_mgmt.h"
#include "route.h"
#include "ui.h"
#include "worker.h"

#define PAGE_SIZE 25

/* Fields of the create form, all passed to keys_mgmt as strings. */
static const struct {
	const char *name, *label, *hint;
} create_fields[] = {
	{ "key_alias", "Alias", "e.g. alice-laptop" },
	{ "user_id", "User", "" },
	{ "team_id", "Team", "" },
	{ "models", "Models (comma-separated, empty = all)", "claude-sonnet-4-5, claude-haiku-*" },
	{ "max_budget", "Budget (USD)", "e.g. 25" },
	{ "budget_duration", "Budget period", "e.g. 30d" },
	{ "rpm_limit", "Requests per minute", "" },
	{ "tpm_limit", "Tokens per minute", "" },
	{ "max_parallel_requests", "Parallel requests", "" },
	{ "duration", "Expires after", "e.g. 90d" },
};

/* Outcome codes of the redirect after a form (never free text). */
static const struct {
	const char *code, *text;
} done_text[] = {
	{ "block", "Key blocked: requests with it are refused from now on." },
	{ "unblock", "Key unblocked." },
	{ "delete", "Key deleted." },
};

static const char *
str_of(struct json_object *o, const char *name)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, name, &v) || v == NULL)
		return NULL;
	return json_object_get_string(v);
}

/* Models as a JSON array from "a, b,c". */
static struct json_object *
models_array(const char *text)
{
	struct json_object *arr = json_object_new_array();
	const char *p = text;

	while (arr != NULL && *p != '\0') {
		const char *comma = strchr(p, ',');
		const char *b = p, *e = comma != NULL ? comma : p + strlen(p);
		while (b < e && (*b == ' ' || *b == '\t'))
			b++;
		while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (e > b)
			json_object_array_add(arr, json_object_new_string_len(b, (int)(e - b)));
		p = comma != NULL ? comma + 1 : p + strlen(p);
	}
	return arr;
}

/* "2592000s" (how keys_mgmt reports a duration) as "30d", "12h", "90m" or "45s". */
static const char *
human_duration(struct arena *a, const char *secs)
{
	long v = secs != NULL ? strtol(secs, NULL, 10) : 0;

	if (v <= 0)
		return secs;
	if (v % 86400 == 0)
		return arena_printf(a, "%ldd", v / 86400);
	if (v % 3600 == 0)
		return arena_printf(a, "%ldh", v / 3600);
	if (v % 60 == 0)
		return arena_printf(a, "%ldm", v / 60);
	return arena_printf(a, "%lds", v);
}

/* The allow-list as "a, b", or "all" when empty. */
static const char *
models_text(struct arena *a, struct json_object *k)
{
	struct json_object *v;
	struct buf b;
	size_t i;

	if (!json_object_object_get_ex(k, "models", &v) || !json_object_is_type(v, json_type_array) ||
	    json_object_array_length(v) == 0)
		return "all";
	buf_init(&b, a);
	for (i = 0; i < json_object_array_length(v); i++)
		buf_printf(&b, "%s%s", i > 0 ? ", " : "",
		    json_object_get_string(json_object_array_get_idx(v, i)));
	return b.data != NULL ? b.data : "?";
}

static void
search_form(struct ui *u, const char *q, const char *by)
{
	static const char *const bys[][2] = {
		{ "alias", "Alias" }, { "user", "User" }, { "team", "Team" },
	};
	size_t i;

	ui_printf(u, "<form method=\"get\" action=\"/ui/keys\" role=\"search\">\n"
	    "<label for=\"q\">Search</label>\n"
	    "<input type=\"search\" id=\"q\" name=\"q\" value=\"%s\">\n"
	    "<label for=\"by\">by</label>\n<select id=\"by\" name=\"by\">\n", q != NULL ? q : "");
	for (i = 0; i < MG_NELEM(bys); i++)
		ui_printf(u, "<option value=\"%s\"%s>%s</option>\n", bys[i][0],
		    by != NULL && strcmp(by, bys[i][0]) == 0 ? " selected" : "", bys[i][1]);
	ui_raw(u, "</select>\n<button type=\"submit\">Search</button>\n</form>\n");
}

/* One action button in its own small form. */
static void
action_form(struct ui *u, const char *action, const char *label, const char *hash,
    const char *who)
{
	ui_printf(u, "<form method=\"post\" action=\"/ui/keys/%s\">", action);
	ui_csrf_field(u);
	ui_printf(u, "<input type=\"hidden\" name=\"key\" value=\"%s\">"
	    "<button type=\"submit\" aria-label=\"%s %s\">%s</button></form>\n", hash, label, who,
	    label);
}

static void
key_row(struct ui *u, struct json_object *k, const struct anomaly *flags, size_t nflags)
{
	const char *hash = str_of(k, "token"), *alias = str_of(k, "key_alias");
	const char *name = str_of(k, "key_name"), *budget = str_of(k, "max_budget");
	const char *period = str_of(k, "budget_duration"), *expires = str_of(k, "expires");
	const char *who = alias != NULL ? alias : name != NULL ? name : "?";
	struct json_object *v;
	int blocked = json_object_object_get_ex(k, "blocked", &v) && json_object_get_boolean(v);
	int admin = json_object_object_get_ex(k, "admin", &v) && json_object_get_boolean(v);
	size_t i;

	if (hash == NULL)
		return;
	ui_printf(u, "<tr>\n<td>%s", alias != NULL ? alias : "-");
	for (i = 0; i < nflags; i++)
		if (strcmp(flags[i].key_hash, hash) == 0)
			ui_printf(u, " <span class=\"flag\">anomaly: %s</span>", flags[i].kind);
	ui_printf(u, "</td>\n<td><code>%s</code></td>\n<td>%s</td>\n<td>%s</td>\n<td>%s</td>\n",
	    name != NULL ? name : "-", str_of(k, "user_id") != NULL ? str_of(k, "user_id") : "-",
	    str_of(k, "team_id") != NULL ? str_of(k, "team_id") : "-",
	    models_text(u->req->arena, k));
	json_object_object_get_ex(k, "spend", &v);
	ui_printf(u, "<td class=\"num\">$%.6f</td>\n<td>%s%s%s</td>\n", json_object_get_double(v),
	    budget != NULL ? budget : "none", period != NULL ? " per " : "",
	    period != NULL ? human_duration(u->req->arena, period) : "");
	ui_printf(u, "<td>%s / %s / %s</td>\n<td>%s</td>\n<td>%s</td>\n<td>\n",
	    str_of(k, "rpm_limit") != NULL ? str_of(k, "rpm_limit") : "-",
	    str_of(k, "tpm_limit") != NULL ? str_of(k, "tpm_limit") : "-",
	    str_of(k, "max_parallel_requests") != NULL ? str_of(k, "max_parallel_requests") : "-",
	    expires != NULL ? expires : "never", blocked ? (admin ? "blocked, admin" : "blocked") :
	    admin ? "active, admin" : "active");
	action_form(u, blocked ? "unblock" : "block", blocked ? "Unblock" : "Block", hash, who);
	ui_printf(u, "<form method=\"post\" action=\"/ui/keys/regenerate\">");
	ui_csrf_field(u);
	ui_printf(u, "<input type=\"hidden\" name=\"key\" value=\"%s\">"
	    "<label for=\"grace-%.12s\">grace</label>"
	    "<input type=\"text\" id=\"grace-%.12s\" name=\"grace_period\" size=\"4\" "
	    "placeholder=\"1h\">"
	    "<button type=\"submit\" aria-label=\"Regenerate %s\">Regenerate</button></form>\n",
	    hash, hash, hash, who);
	action_form(u, "delete", "Delete", hash, who);
	ui_raw(u, "</td>\n</tr>\n");
}

static void
create_form(struct ui *u)
{
	size_t i;

	ui_raw(u, "<h2 id=\"create\">Create a key</h2>\n<form method=\"post\" "
	    "action=\"/ui/keys/create\">\n<fieldset>\n<legend>New virtual key</legend>\n");
	ui_csrf_field(u);
	for (i = 0; i < MG_NELEM(create_fields); i++)
		ui_printf(u, "<label for=\"new-%s\">%s</label>\n<input type=\"text\" id=\"new-%s\" "
		    "name=\"%s\" placeholder=\"%s\"><br>\n", create_fields[i].name,
		    create_fields[i].label, create_fields[i].name, create_fields[i].name,
		    create_fields[i].hint);
	/* an admin key manages keys and signs in here, like the master key */
	ui_raw(u, "<input type=\"checkbox\" id=\"new-admin\" name=\"admin\" value=\"on\">\n"
	    "<label for=\"new-admin\">Admin key (may manage maskgate and sign in to this "
	    "console)</label><br>\n");
	ui_raw(u, "<button type=\"submit\">Create key</button>\n</fieldset>\n</form>\n");
}

/* The whole page, with an optional notice and a new key shown this once. */
static void
render(struct ui *u, int status, const char *kind, const char *notice, const char *newkey)
{
	struct request *req = u->req;
	struct worker *w = req->worker;
	struct json_object *lq = json_object_new_object(), *resp = NULL, *keys;
	const char *q = ui_field(u->query, "q"), *by = ui_field(u->query, "by");
	const char *page = ui_field(u->query, "page"), *done = ui_field(u->query, "done");
	struct anomaly *flags = NULL;
	size_t nflags = 0, i, n;
	long pg = page != NULL ? strtol(page, NULL, 10) : 1, total = 0, pages = 1;
	char err[300];
	int st;

	ui_begin(u, "Keys", "keys");
	for (i = 0; i < MG_NELEM(done_text) && done != NULL && notice == NULL; i++)
		if (strcmp(done, done_text[i].code) == 0)
			ui_notice(u, "ok", done_text[i].text);
	if (notice != NULL)
		ui_notice(u, kind, notice);
	if (newkey != NULL)
		ui_printf(u, "<p>Copy the new key now: it is shown only this once.</p>\n"
		    "<p><code class=\"newkey\" id=\"newkey\">%s</code></p>\n", newkey);
	if (anomaly_scan(w->cfg, w->store, req->arena, u->now, &flags, &nflags) != MG_OK)
		ui_notice(u, "error", "The anomaly check failed; see the log.");
	for (i = 0; i < nflags; i++)
		ui_printf(u, "<p class=\"notice error\" role=\"alert\">Usage anomaly: key %s made "
		    "%g %s in the last hour, over %ld times its median hour of the past 7 days "
		    "(%g).</p>\n", flags[i].alias != NULL ? flags[i].alias : flags[i].key_hash,
		    flags[i].observed, strcmp(flags[i].kind, "spend") == 0 ? "USD of spend" :
		    "requests", w->cfg->anomaly_factor, flags[i].baseline);
	search_form(u, q, by);
	if (pg < 1)
		pg = 1;
	json_object_object_add(lq, "page", json_object_new_int64(pg));
	json_object_object_add(lq, "size", json_object_new_int(PAGE_SIZE));
	json_object_object_add(lq, "return_full_object", json_object_new_boolean(1));
	if (q != NULL && *q != '\0')
		json_object_object_add(lq, by != NULL && strcmp(by, "user") == 0 ? "user_id" :
		    by != NULL && strcmp(by, "team") == 0 ? "team_id" : "key_alias",
		    json_object_new_string(q));
	st = h_keys_status(keys_mgmt(w->store, req->arena, KO_LIST, u->sess.actor, lq, &resp, err,
	    sizeof(err)));
	if (st != 200) {
		ui_notice(u, "error", err);
		status = st;
	} else if (json_object_object_get_ex(resp, "keys", &keys)) {
		struct json_object *v;
		if (json_object_object_get_ex(resp, "total_count", &v))
			total = (long)json_object_get_int64(v);
		if (json_object_object_get_ex(resp, "total_pages", &v))
			pages = (long)json_object_get_int64(v);
		n = json_object_array_length(keys);
		ui_printf(u, "<p>%ld key%s.</p>\n", total, total == 1 ? "" : "s");
		ui_raw(u, "<table>\n<caption>Virtual keys</caption>\n<thead><tr><th scope=\"col\">"
		    "Alias</th><th scope=\"col\">Key</th><th scope=\"col\">User</th>"
		    "<th scope=\"col\">Team</th><th scope=\"col\">Models</th><th scope=\"col\">"
		    "Spend</th><th scope=\"col\">Budget</th><th scope=\"col\">rpm / tpm / parallel"
		    "</th><th scope=\"col\">Expires</th><th scope=\"col\">Status</th>"
		    "<th scope=\"col\">Actions</th></tr></thead>\n<tbody>\n");
		for (i = 0; i < n; i++)
			key_row(u, json_object_array_get_idx(keys, i), flags, nflags);
		ui_raw(u, "</tbody>\n</table>\n");
		if (pg > 1 || pg < pages) {
			ui_raw(u, "<nav aria-label=\"Pages\"><p>");
			if (pg > 1)
				ui_printf(u, "<a href=\"/ui/keys?q=%s&amp;by=%s&amp;page=%ld\">Previous"
				    "</a> ", ui_urlencode(req->arena, q), ui_urlencode(req->arena, by), pg - 1);
			ui_printf(u, "Page %ld of %ld", pg, pages);
			if (pg < pages)
				ui_printf(u, " <a href=\"/ui/keys?q=%s&amp;by=%s&amp;page=%ld\">Next</a>",
				    ui_urlencode(req->arena, q), ui_urlencode(req->arena, by), pg + 1);
			ui_raw(u, "</p></nav>\n");
		}
	}
	create_form(u);
	json_object_put(resp);
	json_object_put(lq);
	ui_end(u, status);
}

void
ui_keys(struct ui *u)
{
	render(u, 200, NULL, NULL, NULL);
}

/* The request object for action, from the posted form; NULL when unknown. */
static struct json_object *
form_request(struct ui *u, enum keys_op op)
{
	struct json_object *in = json_object_new_object();
	const char *key = ui_field(u->form, "key"), *v;
	size_t i;

	if (in == NULL)
		return NULL;
	if (op == KO_GENERATE) {
		for (i = 0; i < MG_NELEM(create_fields); i++) {
			v = ui_field(u->form, create_fields[i].name);
			if (v == NULL || *v == '\0')
				continue;
			json_object_object_add(in, create_fields[i].name,
			    strcmp(create_fields[i].name, "models") == 0 ? models_array(v) :
			    json_object_new_string(v));
		}
		v = ui_field(u->form, "admin");
		if (v != NULL && strcmp(v, "on") == 0)
			json_object_object_add(in, "admin", json_object_new_boolean(1));
		return in;
	}
	if (op == KO_DELETE) {
		struct json_object *arr = json_object_new_array();
		json_object_array_add(arr, json_object_new_string(key != NULL ? key : ""));
		json_object_object_add(in, "keys", arr);
		return in;
	}
	if (key != NULL)
		json_object_object_add(in, "key", json_object_new_string(key));
	v = ui_field(u->form, "grace_period");
	if (op == KO_REGENERATE && v != NULL && *v != '\0')
		json_object_object_add(in, "grace_period", json_object_new_string(v));
	return in;
}

void
ui_keys_post(struct ui *u, const char *action)
{
	struct request *req = u->req;
	enum keys_op op = strcmp(action, "create") == 0 ? KO_GENERATE : keys_op_parse(action);
	struct json_object *in, *resp = NULL;
	char err[300];
	int status;

	if (op != KO_GENERATE && op != KO_BLOCK && op != KO_UNBLOCK && op != KO_REGENERATE &&
	    op != KO_DELETE) {
		render(u, 404, "error", "There is no such key action.", NULL);
		return;
	}
	in = form_request(u, op);
	if (in == NULL) {
		http_error(req, 500, ET_API, "out of memory");
		return;
	}
	status = h_keys_status(keys_mgmt(req->worker->store, req->arena, op, u->sess.actor, in,
	    &resp, err, sizeof(err)));
	json_object_put(in);
	if (status != 200) {
		render(u, status, "error", arena_printf(req->arena, "The key was not changed: %s",
		    err), NULL);
	} else if (op == KO_GENERATE || op == KO_REGENERATE) {
		const char *alias = str_of(resp, "key_alias");
		render(u, 200, "ok", arena_printf(req->arena, "%s key %s.", op == KO_GENERATE ?
		    "Created" : "Regenerated", alias != NULL ? alias : str_of(resp, "key_name")),
		    arena_strdup(req->arena, str_of(resp, "key")));
	} else {
		ui_redirect(req, op == KO_BLOCK ? "/ui/keys?done=block" : op == KO_UNBLOCK ?
		    "/ui/keys?done=unblock" : "/ui/keys?done=delete");
	}
	json_object_put(resp);
}
