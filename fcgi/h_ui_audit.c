/*
 * h_ui_audit.c - the console's audit log: filters by actor (substring),
 * action and date range, newest first, fifty rows a page.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_console.h"
#include "ui.h"
#include "worker.h"

#define PAGE_SIZE 50

/* "YYYY-MM-DD" to Unix seconds at 00:00 UTC; 0 when empty or malformed. */
static long
day_of(const char *s)
{
	struct tm tm;
	const char *end;

	if (s == NULL || *s == '\0')
		return 0;
	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%d", &tm);
	if (end == NULL || *end != '\0')
		return 0;
	return (long)timegm(&tm);
}

static void
audit_row(void *ctx, const struct store_audit_row *r)
{
	struct ui *u = ctx;

	ui_printf(u, "<tr><td class=\"num\">%lld</td><td>%s</td><td>%s</td><td>%s</td>"
	    "<td><code>%.16s</code></td><td>%s</td><td>%s</td></tr>\n", r->id,
	    ui_time(u->req->arena, r->at), r->actor, r->action, r->target != NULL ? r->target : "",
	    r->outcome, r->detail != NULL ? r->detail : "");
}

static const char *
ue(struct ui *u, const char *s)
{
	return ui_urlencode(u->req->arena, s);
}

static const char *
nonempty(const char *s)
{
	return s != NULL && *s != '\0' ? s : NULL;
}

void
ui_audit(struct ui *u)
{
	struct request *req = u->req;
	const char *actor = nonempty(ui_field(u->query, "actor"));
	const char *action = nonempty(ui_field(u->query, "action"));
	const char *from = nonempty(ui_field(u->query, "from"));
	const char *to = nonempty(ui_field(u->query, "to"));
	const char *page = ui_field(u->query, "page");
	struct store_audit_filter f;
	long pg = page != NULL ? strtol(page, NULL, 10) : 1, total = 0, pages;
	enum mg_err rc;

	if (pg < 1)
		pg = 1;
	memset(&f, 0, sizeof(f));
	f.actor = actor;
	f.action = action;
	f.from = day_of(from);
	f.to = day_of(to) > 0 ? day_of(to) + 86400 : 0;
	f.limit = PAGE_SIZE;
	f.offset = (pg - 1) * PAGE_SIZE;
	ui_begin(u, "Audit log", "audit");
	ui_printf(u, "<form method=\"get\" action=\"/ui/audit\">\n"
	    "<label for=\"actor\">Actor contains</label>\n"
	    "<input type=\"text\" id=\"actor\" name=\"actor\" value=\"%s\">\n"
	    "<label for=\"action\">Action</label>\n"
	    "<input type=\"text\" id=\"action\" name=\"action\" value=\"%s\" "
	    "placeholder=\"e.g. generate\">\n"
	    "<label for=\"from\">From</label>\n"
	    "<input type=\"date\" id=\"from\" name=\"from\" value=\"%s\">\n"
	    "<label for=\"to\">To</label>\n<input type=\"date\" id=\"to\" name=\"to\" value=\"%s\">\n"
	    "<button type=\"submit\">Filter</button>\n</form>\n", actor != NULL ? actor : "",
	    action != NULL ? action : "", f.from > 0 ? from : "", f.to > 0 ? to : "");
	ui_raw(u, "<table>\n<caption>Audit entries, newest first</caption>\n<thead><tr>"
	    "<th scope=\"col\">#</th><th scope=\"col\">Time (UTC)</th><th scope=\"col\">Actor</th>"
	    "<th scope=\"col\">Action</th><th scope=\"col\">Target</th>"
	    "<th scope=\"col\">Outcome</th><th scope=\"col\">Detail</th></tr></thead>\n<tbody>\n");
	rc = store_audit_page(req->worker->store, &f, audit_row, u, &total);
	ui_raw(u, "</tbody>\n</table>\n");
	if (rc != MG_OK) {
		ui_notice(u, "error", "The audit log is unavailable.");
		ui_end(u, 503);
		return;
	}
	pages = total > 0 ? (total + PAGE_SIZE - 1) / PAGE_SIZE : 1;
	ui_printf(u, "<nav aria-label=\"Pages\"><p>%ld entr%s. ", total, total == 1 ? "y" : "ies");
	if (pg > 1)
		ui_printf(u, "<a href=\"/ui/audit?actor=%s&amp;action=%s&amp;from=%s&amp;to=%s&amp;"
		    "page=%ld\">Previous</a> ", ue(u, actor), ue(u, action), ue(u, from), ue(u, to),
		    pg - 1);
	ui_printf(u, "Page %ld of %ld", pg, pages);
	if (pg < pages)
		ui_printf(u, " <a href=\"/ui/audit?actor=%s&amp;action=%s&amp;from=%s&amp;to=%s&amp;"
		    "page=%ld\">Next</a>", ue(u, actor), ue(u, action), ue(u, from), ue(u, to),
		    pg + 1);
	ui_raw(u, "</p></nav>\n");
	ui_end(u, 200);
}
