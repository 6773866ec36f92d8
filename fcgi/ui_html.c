/*
 * ui_html.c - the console's page frame, stylesheet, security headers and
 * the one HTML escaper. Pages never write data into markup except through
 * ui_printf()'s %s, which escapes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ui.h"

/* No script-src at all: the console runs without JavaScript. */
#define UI_CSP "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; " \
	"frame-ancestors 'none'; base-uri 'none'"

const char *
ui_field(struct json_object *o, const char *name)
{
	struct json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, name, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* Length of the valid UTF-8 sequence at s, or 0 when it is not one. */
static size_t
utf8_len(const unsigned char *s)
{
	size_t n, i;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

/*
 * The escaper: markup characters become entities, control characters and
 * invalid UTF-8 become U+FFFD, so data can neither open a tag nor leave
 * an attribute, and the page stays valid.
 */
static void
escape_into(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");
	size_t n;

	while (*p != '\0') {
		switch (*p) {
		case '&': buf_appends(b, "&amp;"); p++; continue;
		case '<': buf_appends(b, "&lt;"); p++; continue;
		case '>': buf_appends(b, "&gt;"); p++; continue;
		case '"': buf_appends(b, "&quot;"); p++; continue;
		case '\'': buf_appends(b, "&#39;"); p++; continue;
		default: break;
		}
		n = utf8_len(p);
		if (n == 0 || (*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f) {
			buf_appends(b, "\xef\xbf\xbd");
			p++;
			continue;
		}
		buf_append(b, p, n);
		p += n;
	}
}

const char *
ui_escape(struct arena *a, const char *s)
{
	struct buf b;

	buf_init(&b, a);
	escape_into(&b, s);
	return b.data != NULL ? b.data : "";
}

const char *
ui_urlencode(struct arena *a, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	struct buf b;
	const unsigned char *p;

	buf_init(&b, a);
	for (p = (const unsigned char *)(s != NULL ? s : ""); *p != '\0'; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    *p == '-' || *p == '_' || *p == '.' || *p == '~') {
			buf_appendc(&b, (char)*p);
		} else {
			buf_appendc(&b, '%');
			buf_appendc(&b, hex[*p >> 4]);
			buf_appendc(&b, hex[*p & 15]);
		}
	}
	return b.data != NULL ? b.data : "";
}

void
ui_raw(struct ui *u, const char *html)
{
	buf_appends(&u->out, html);
}

void
ui_printf(struct ui *u, const char *fmt, ...)
{
	const char *p = fmt;
	va_list ap;
	char num[64];

	va_start(ap, fmt);
	while (*p != '\0') {
		const char *pct = strchr(p, '%');
		int prec = -1, width = 0, zero = 0, l = 0, z = 0;
		long long sv;
		unsigned long long uv;

		if (pct == NULL) {
			buf_appends(&u->out, p);
			break;
		}
		buf_append(&u->out, p, (size_t)(pct - p));
		p = pct + 1;
		if (*p == '%') {
			buf_appendc(&u->out, '%');
			p++;
			continue;
		}
		if (*p == '0') {
			zero = 1;
			p++;
		}
		for (; *p >= '0' && *p <= '9'; p++)
			width = width * 10 + (*p - '0');
		if (*p == '.') {
			prec = 0;
			for (p++; *p >= '0' && *p <= '9'; p++)
				prec = prec * 10 + (*p - '0');
		}
		for (; *p == 'l'; p++)
			l++;
		if (*p == 'z') {
			z = 1;
			p++;
		}
		switch (*p) {
		case 's': {
			const char *str = va_arg(ap, const char *);
			if (prec >= 0 && str != NULL)
				str = arena_strndup(u->req->arena, str, strnlen(str, (size_t)prec));
			escape_into(&u->out, str);
			break;
		}
		case 'd':
			/* long and long long have one width on LP64, not everywhere */
			/* NOLINTBEGIN(bugprone-branch-clone) */
			sv = z ? (long long)va_arg(ap, ssize_t) : l >= 2 ? va_arg(ap, long long) :
			    l == 1 ? (long long)va_arg(ap, long) : (long long)va_arg(ap, int);
			snprintf(num, sizeof(num), zero ? "%0*lld" : "%*lld", width, sv);
			buf_appends(&u->out, num);
			break;
		case 'u':
			uv = z ? (unsigned long long)va_arg(ap, size_t) : l >= 2 ?
			    va_arg(ap, unsigned long long) : l == 1 ?
			    (unsigned long long)va_arg(ap, unsigned long) :
			    (unsigned long long)va_arg(ap, unsigned);
			/* NOLINTEND(bugprone-branch-clone) */
			snprintf(num, sizeof(num), zero ? "%0*llu" : "%*llu", width, uv);
			buf_appends(&u->out, num);
			break;
		case 'f':
			snprintf(num, sizeof(num), "%*.*f", width, prec >= 0 ? prec : 6,
			    va_arg(ap, double));
			buf_appends(&u->out, num);
			break;
		case 'g':
			snprintf(num, sizeof(num), "%*g", width, va_arg(ap, double));
			buf_appends(&u->out, num);
			break;
		default:
			/* a conversion this subset lacks: a programming error the tests catch */
			MG_ASSERT(*p == 's');
		}
		p++;
	}
	va_end(ap);
}

void
ui_security_headers(struct request *req)
{
	http_add_header(req, "Content-Security-Policy", UI_CSP);
	http_add_header(req, "Cache-Control", "no-store");
	http_add_header(req, "X-Content-Type-Options", "nosniff");
	http_add_header(req, "X-Frame-Options", "DENY");
	http_add_header(req, "Referrer-Policy", "no-referrer");
}

void
ui_redirect(struct request *req, const char *location)
{
	ui_security_headers(req);
	http_add_header(req, "Location", location);
	http_start(req, 303, "text/plain; charset=utf-8");
	http_write(req, "See Other\n", 10);
}

const char *
ui_time(struct arena *a, long t)
{
	char out[32];
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0)
		return "-";
	gmtime_r(&tt, &tm);
	strftime(out, sizeof(out), "%Y-%m-%d %H:%M", &tm);
	return arena_strdup(a, out);
}

static const struct {
	const char *name, *path, *label;
} nav[] = {
	{ "keys", "/ui/keys", "Keys" },
	{ "spend", "/ui/spend", "Spend" },
	{ "masking", "/ui/masking", "Masking" },
	{ "audit", "/ui/audit", "Audit log" },
	{ "health", "/ui/health", "Health" },
};

void
ui_begin(struct ui *u, const char *title, const char *active)
{
	size_t i;

	buf_init(&u->out, u->req->arena);
	ui_printf(u, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	    "<title>%s - maskgate console</title>\n"
	    "<link rel=\"stylesheet\" href=\"/ui/style.css\">\n</head>\n<body>\n", title);
	if (active == NULL) {
		ui_printf(u, "<main>\n<h1>%s</h1>\n", title);
		return;
	}
	ui_raw(u, "<header>\n<nav aria-label=\"Console\">\n<ul>\n");
	for (i = 0; i < MG_NELEM(nav); i++) {
		if (strcmp(nav[i].name, active) == 0)
			ui_printf(u, "<li><a href=\"%s\" aria-current=\"page\">%s</a></li>\n",
			    nav[i].path, nav[i].label);
		else
			ui_printf(u, "<li><a href=\"%s\">%s</a></li>\n", nav[i].path, nav[i].label);
	}
	ui_raw(u, "</ul>\n</nav>\n<form method=\"post\" action=\"/ui/logout\" class=\"signout\">\n");
	ui_csrf_field(u);
	ui_printf(u, "<span>Signed in as %s</span>\n"
	    "<button type=\"submit\">Sign out</button>\n</form>\n</header>\n<main>\n<h1>%s</h1>\n",
	    u->sess.actor != NULL ? u->sess.actor : "-", title);
}

void
ui_notice(struct ui *u, const char *kind, const char *text)
{
	ui_printf(u, "<p class=\"notice %s\" role=\"%s\">%s</p>\n", kind,
	    strcmp(kind, "error") == 0 ? "alert" : "status", text);
}

void
ui_csrf_field(struct ui *u)
{
	ui_printf(u, "<input type=\"hidden\" name=\"csrf\" value=\"%s\">\n", u->sess.csrf);
}

void
ui_end(struct ui *u, int status)
{
	ui_raw(u, "</main>\n<footer><p>maskgate " MG_VERSION "</p></footer>\n</body>\n</html>\n");
	ui_security_headers(u->req);
	http_start(u->req, status, "text/html; charset=utf-8");
	if (u->out.data != NULL)
		http_write(u->req, u->out.data, u->out.len);
}
