/*
 * ui.h - the admin console under /ui/: server-rendered HTML, no scripts,
 * charts as inline SVG. h_ui.c signs in and dispatches; each page has its
 * file (h_ui_keys.c, h_ui_spend.c, ...); ui_html.c holds the page frame
 * and the only HTML escaping; ui_svg.c draws the charts.
 */
#ifndef MG_UI_H
#define MG_UI_H

#include <json-c/json.h>

#include "http.h"
#include "session.h"

struct ui {
	struct request *req;
	struct session sess;	/* the signed-in admin */
	const char *cookie;	/* the session cookie value */
	struct json_object *query;	/* query parameters (strings) */
	struct json_object *form;	/* POST fields (strings), or NULL */
	struct buf out;		/* the page being written */
	long now;
	int sso;		/* signed in by the web server's SSO (h_ui_sso.c) */
};

/* A query or form field as a string, or NULL. */
const char *ui_field(struct json_object *o, const char *name);

/*
 * Appends fmt to the page. Every %s argument is HTML-escaped (this is the
 * one place that escapes; a precision cuts it first); d, u (with l, ll,
 * z), f and g take an optional 0 flag, width and precision as in printf.
 * Markup goes in fmt, which must be a literal.
 */
void ui_printf(struct ui *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends literal markup (never data). */
void ui_raw(struct ui *u, const char *html);
/* s percent-encoded for a URL query value, in the arena (then pass it to %s). */
const char *ui_urlencode(struct arena *a, const char *s);
/* The HTML-escaped form of s, in the request arena. */
const char *ui_escape(struct arena *a, const char *s);

/* Opens a page: doctype, head, navigation (active: its nav name). */
void ui_begin(struct ui *u, const char *title, const char *active);
/* A message box (kind "ok" or "error"); text is escaped. */
void ui_notice(struct ui *u, const char *kind, const char *text);
/* The hidden CSRF field every state-changing form carries. */
void ui_csrf_field(struct ui *u);
/* Closes the page and sends it with the console's security headers. */
void ui_end(struct ui *u, int status);

/* Security headers (CSP, no caching, no framing) for any console response. */
void ui_security_headers(struct request *req);
/* 303 See Other to a path under /ui/. */
void ui_redirect(struct request *req, const char *location);
/* "YYYY-MM-DD HH:MM" UTC of Unix seconds, in the arena. */
const char *ui_time(struct arena *a, long t);

/* One series of a chart: n values over the chart's n labels. */
struct ui_series {
	const char *name;
	const double *values;
	const char *css;	/* class of the bars: "s1", "s2" */
};

/*
 * Writes a bar chart as inline SVG: n buckets (labels[i] under each, every
 * few), one bar per series per bucket, a y axis scaled to the largest value,
 * a <title> per bar for the exact number. title names the chart for
 * assistive technology; unit prefixes the values ("$" or "").
 */
void ui_svg_bars(struct ui *u, const char *title, const char *unit, const char *const *labels,
    size_t n, const struct ui_series *series, size_t nseries);

/*
 * Console sign-in by the web server's SSO, when configured: 1 signed in
 * (u->sess filled, u->sso set), 0 answered (403 for a non-member), -1 no
 * trusted identity on this request (the key sign-in applies).
 */
int ui_sso(struct ui *u);
/* 1 when token is the CSRF token of u's SSO identity. */
int ui_sso_csrf_ok(const struct ui *u, const char *token);

/* Pages; u is set up and signed in. POSTs have passed the CSRF check. */
void ui_keys(struct ui *u);
void ui_keys_post(struct ui *u, const char *action);
void ui_spend(struct ui *u, int csv);
void ui_masking(struct ui *u);
void ui_audit(struct ui *u);
void ui_health(struct ui *u);

#endif
