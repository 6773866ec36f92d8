/*
 * h_ui_mask.c - the console's masking page: how many placeholders were
 * minted and restored, per day, per tenant and per type, from the per-day
 * counters (mask_daily). Counts only: the page never reads a value.
 */
#include <stdio.h>
#include <string.h>

#include "store_console.h"
#include "ui.h"
#include "worker.h"

struct mask_total {
	const char *tenant, *type;
	long masked, minted, restored;
};

struct mask_acc {
	struct arena *a;
	const char *tenant;	/* filter, or NULL */
	long start, days;
	double *minted, *restored;	/* per day */
	struct mask_total *t;
	size_t n, cap;
	enum mg_err rc;
};

static void
add_day(void *ctx, long day, const char *tenant, const char *type, long masked, long minted,
    long restored)
{
	struct mask_acc *acc = ctx;
	long i = (day - acc->start) / 86400;
	size_t j;

	if (acc->tenant != NULL && strcmp(acc->tenant, tenant) != 0)
		return;
	if (i >= 0 && i < acc->days) {
		acc->minted[i] += (double)minted;
		acc->restored[i] += (double)restored;
	}
	for (j = 0; j < acc->n; j++)
		if (strcmp(acc->t[j].tenant, tenant) == 0 && strcmp(acc->t[j].type, type) == 0)
			break;
	if (j == acc->n) {
		if (acc->n == acc->cap) {
			size_t cap = acc->cap ? acc->cap * 2 : 32;
			struct mask_total *v = arena_alloc(acc->a, cap * sizeof(*v));
			if (v == NULL) {
				acc->rc = MG_ENOMEM;
				return;
			}
			if (acc->n > 0)
				memcpy(v, acc->t, acc->n * sizeof(*v));
			acc->t = v;
			acc->cap = cap;
		}
		memset(&acc->t[j], 0, sizeof(acc->t[j]));
		acc->t[j].tenant = arena_strdup(acc->a, tenant);
		acc->t[j].type = arena_strdup(acc->a, type);
		if (acc->t[j].tenant == NULL || acc->t[j].type == NULL) {
			acc->rc = MG_ENOMEM;
			return;
		}
		acc->n++;
	}
	acc->t[j].masked += masked;
	acc->t[j].minted += minted;
	acc->t[j].restored += restored;
}

void
ui_masking(struct ui *u)
{
	struct request *req = u->req;
	const char *pq = ui_field(u->query, "period"), *tenant = ui_field(u->query, "tenant");
	struct mask_acc acc;
	struct ui_series s[2];
	const char **labels;
	size_t i;
	enum mg_err rc;

	memset(&acc, 0, sizeof(acc));
	acc.a = req->arena;
	acc.days = pq != NULL && strcmp(pq, "month") == 0 ? 30 : 7;
	acc.start = (u->now / 86400 - acc.days + 1) * 86400;
	acc.tenant = tenant != NULL && *tenant != '\0' ? tenant : NULL;
	acc.minted = arena_alloc(req->arena, (size_t)acc.days * sizeof(double));
	acc.restored = arena_alloc(req->arena, (size_t)acc.days * sizeof(double));
	labels = arena_alloc(req->arena, (size_t)acc.days * sizeof(*labels));
	if (acc.minted == NULL || acc.restored == NULL || labels == NULL) {
		http_error(req, 500, ET_API, "out of memory");
		return;
	}
	rc = store_mask_daily_each(req->worker->store, acc.start, add_day, &acc);
	if (rc == MG_OK)
		rc = acc.rc;
	ui_begin(u, "Masking", "masking");
	ui_printf(u, "<form method=\"get\" action=\"/ui/masking\">\n"
	    "<label for=\"tenant\">Tenant</label>\n<input type=\"text\" id=\"tenant\" "
	    "name=\"tenant\" value=\"%s\" placeholder=\"all\">\n"
	    "<label for=\"period\">over</label>\n<select id=\"period\" name=\"period\">\n"
	    "<option value=\"week\"%s>Last 7 days</option>\n"
	    "<option value=\"month\"%s>Last 30 days</option>\n</select>\n"
	    "<button type=\"submit\">Show</button>\n</form>\n", acc.tenant != NULL ? acc.tenant : "",
	    acc.days == 7 ? " selected" : "", acc.days == 30 ? " selected" : "");
	if (rc != MG_OK) {
		ui_notice(u, "error", "The masking counters are unavailable.");
		ui_end(u, 503);
		return;
	}
	ui_raw(u, "<p>Counts only: values are never shown here. <em>Minted</em> counts values a "
	    "request masked for the first time that day, <em>restored</em> placeholders turned "
	    "back into values in responses.</p>\n");
	for (i = 0; i < (size_t)acc.days; i++)
		labels[i] = arena_strndup(req->arena, ui_time(req->arena, acc.start +
		    (long)i * 86400) + 5, 5);
	s[0].name = "minted";
	s[0].values = acc.minted;
	s[0].css = "s1";
	s[1].name = "restored";
	s[1].values = acc.restored;
	s[1].css = "s2";
	ui_svg_bars(u, "Placeholders minted and restored per day", "", labels, (size_t)acc.days,
	    s, 2);
	ui_raw(u, "<table>\n<caption>Per tenant and type</caption>\n<thead><tr>"
	    "<th scope=\"col\">Tenant</th><th scope=\"col\">Type</th><th scope=\"col\">Masked</th>"
	    "<th scope=\"col\">Minted</th><th scope=\"col\">Restored</th></tr></thead>\n<tbody>\n");
	for (i = 0; i < acc.n; i++)
		ui_printf(u, "<tr><td>%s</td><td>%s</td><td class=\"num\">%ld</td>"
		    "<td class=\"num\">%ld</td><td class=\"num\">%ld</td></tr>\n", acc.t[i].tenant,
		    acc.t[i].type, acc.t[i].masked, acc.t[i].minted, acc.t[i].restored);
	if (acc.n == 0)
		ui_raw(u, "<tr><td colspan=\"5\">Nothing masked in this period.</td></tr>\n");
	ui_raw(u, "</tbody>\n</table>\n");
	ui_end(u, 200);
}
