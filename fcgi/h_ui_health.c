/*
 * h_ui_health.c - the console's health page: readiness (rules, database),
 * schema version, whether the upstream answers, version and uptime. The
 * upstream probe is a HEAD with short timeouts, so a dead upstream makes
 * the page slow by seconds, not minutes.
 */
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "rules.h"
#include "store.h"
#include "ui.h"
#include "worker.h"

/* HEAD upstream_url/: the HTTP status, or 0 with the reason in why. */
static long
probe_upstream(const struct cfg *c, char *why, size_t whylen, double *ms)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	CURL *h = curl_easy_init();
	long status = 0;
	CURLcode rc;

	*ms = 0;
	if (h == NULL) {
		snprintf(why, whylen, "libcurl unavailable");
		return 0;
	}
	curl_easy_setopt(h, CURLOPT_URL, c->upstream_url);
	curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 3L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 5L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	rc = curl_easy_perform(h);
	if (rc == CURLE_OK) {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_getinfo(h, CURLINFO_TOTAL_TIME, ms);
		*ms *= 1000;
	} else {
		snprintf(why, whylen, "%s", errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
	}
	curl_easy_cleanup(h);
	return status;
}

static void
row(struct ui *u, const char *what, int ok, const char *detail)
{
	ui_printf(u, "<tr><th scope=\"row\">%s</th><td>%s</td><td>%s</td></tr>\n", what,
	    ok ? "ok" : "FAILING", detail);
}

void
ui_health(struct ui *u)
{
	struct request *req = u->req;
	struct worker *w = req->worker;
	char dberr[256] = "", uperr[CURL_ERROR_SIZE + 32] = "";
	size_t nrules = w->rules != NULL ? rules_count(w->rules) : 0;
	int db_ok = store_check_writable(w->store, dberr, sizeof(dberr)) == MG_OK, ready;
	long up, uptime = u->now - w->started;
	double ms;

	up = probe_upstream(w->cfg, uperr, sizeof(uperr), &ms);
	ready = db_ok && nrules > 0;
	ui_begin(u, "Health", "health");
	ui_printf(u, "<p>Readiness: <strong>%s</strong> (the same checks as "
	    "<a href=\"/health/readiness\">/health/readiness</a>).</p>\n",
	    ready ? "ready" : "NOT READY");
	ui_raw(u, "<table>\n<caption>Checks</caption>\n<thead><tr><th scope=\"col\">Check</th>"
	    "<th scope=\"col\">State</th><th scope=\"col\">Detail</th></tr></thead>\n<tbody>\n");
	row(u, "Database", db_ok, db_ok ? arena_printf(req->arena, "writable, schema version %d",
	    store_schema_version(w->store)) : dberr);
	row(u, "Masking rules", nrules > 0, arena_printf(req->arena, "%zu rules loaded, PCRE2 JIT "
	    "%s", nrules, w->rules != NULL && rules_jit(w->rules) ? "on" : "off"));
	row(u, "Upstream", up > 0, up > 0 ? arena_printf(req->arena, "%s answered HTTP %ld in "
	    "%.0f ms", w->cfg->upstream_url, up, ms) : arena_printf(req->arena, "%s: %s",
	    w->cfg->upstream_url, uperr));
	ui_raw(u, "</tbody>\n</table>\n");
	ui_printf(u, "<table>\n<caption>This process</caption>\n<tbody>\n"
	    "<tr><th scope=\"row\">Version</th><td>maskgate %s</td></tr>\n"
	    "<tr><th scope=\"row\">Environment</th><td>%s</td></tr>\n"
	    "<tr><th scope=\"row\">Worker uptime</th><td>%ldd %02ld:%02ld:%02ld</td></tr>\n"
	    "<tr><th scope=\"row\">Requests served by this worker</th><td>%ld</td></tr>\n"
	    "<tr><th scope=\"row\">Mode</th><td>%s</td></tr>\n</tbody>\n</table>\n", MG_VERSION,
	    cfg_env_name(w->cfg->env), uptime / 86400, uptime / 3600 % 24, uptime / 60 % 60,
	    uptime % 60, w->served, req->fcgx != NULL ? "FastCGI" : "CGI");
	ui_end(u, ready ? 200 : 503);
}
