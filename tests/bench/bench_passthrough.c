/*
 * bench_passthrough.c - the floor under maskgate's request path for
 * `make bench`: a FastCGI worker built from the same two libraries
 * (libfcgi, libcurl) that forwards each request to the upstream as it
 * came and copies the answer back, streamed. No authentication, no
 * masking, no store, no restoring: what the process hop alone costs
 * (web server to worker over FastCGI, worker to upstream with libcurl),
 * measured next to maskgate in the same run.
 *
 *   bench_passthrough        (fd 0 is the FastCGI listen socket)
 *
 * The upstream base URL comes from MASKGATE_UPSTREAM_URL, as for maskgate.
 * Never a gateway: it checks nothing and masks nothing. Loopback bench only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <fcgiapp.h>

struct call {
	FCGX_Stream *out;
	int headers_sent;
	long status;
	char ctype[128];
};

static size_t
on_header(char *data, size_t size, size_t n, void *arg)
{
	struct call *c = arg;
	size_t len = size * n;

	if (len > 13 && strncasecmp(data, "content-type:", 13) == 0) {
		size_t v = len - 13;
		const char *p = data + 13;
		while (v > 0 && (*p == ' ' || *p == '\t')) {
			p++;
			v--;
		}
		while (v > 0 && (p[v - 1] == '\r' || p[v - 1] == '\n'))
			v--;
		if (v >= sizeof(c->ctype))
			v = sizeof(c->ctype) - 1;
		memcpy(c->ctype, p, v);
		c->ctype[v] = '\0';
	}
	return len;
}

static void
send_headers(struct call *c, CURL *h)
{
	if (c->headers_sent)
		return;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->status);
	FCGX_FPrintF(c->out, "Status: %ld\r\nContent-Type: %s\r\n\r\n", c->status,
	    c->ctype[0] != '\0' ? c->ctype : "application/json");
	c->headers_sent = 1;
}

static CURL *handle;

static size_t
on_write(char *data, size_t size, size_t n, void *arg)
{
	struct call *c = arg;
	size_t len = size * n;

	send_headers(c, handle);
	if (FCGX_PutStr(data, (int)len, c->out) != (int)len)
		return 0;
	FCGX_FFlush(c->out);	/* a stream's events go out as they come */
	return len;
}

int
main(void)
{
	const char *base = getenv("MASKGATE_UPSTREAM_URL");
	FCGX_Request req;
	char *body = NULL;
	size_t cap = 0;

	if (base == NULL || curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || FCGX_Init() != 0 ||
	    FCGX_InitRequest(&req, 0, 0) != 0 || (handle = curl_easy_init()) == NULL) {
		fprintf(stderr, "bench_passthrough: set MASKGATE_UPSTREAM_URL; run under a FastCGI server\n");
		return 1;
	}
	while (FCGX_Accept_r(&req) >= 0) {
		const char *uri = FCGX_GetParam("REQUEST_URI", req.envp);
		const char *cl = FCGX_GetParam("CONTENT_LENGTH", req.envp);
		size_t len = cl != NULL ? strtoul(cl, NULL, 10) : 0;
		struct curl_slist *hdrs = NULL;
		struct call c = { req.out, 0, 0, "" };
		char url[2048];
		CURLcode rc;

		if (len + 1 > cap) {
			free(body);
			cap = len + 1;
			body = malloc(cap);
		}
		if (body == NULL || FCGX_GetStr(body, (int)len, req.in) != (int)len) {
			FCGX_FPrintF(req.out, "Status: 400\r\nContent-Type: text/plain\r\n\r\nbad body\n");
			cap = 0;
			FCGX_Finish_r(&req);
			continue;
		}
		snprintf(url, sizeof(url), "%s%s", base, uri != NULL ? uri : "/");
		hdrs = curl_slist_append(hdrs, "content-type: application/json");
		hdrs = curl_slist_append(hdrs, "anthropic-version: 2023-06-01");
		curl_easy_setopt(handle, CURLOPT_URL, url);
		curl_easy_setopt(handle, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(handle, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
		curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(handle, CURLOPT_HEADERDATA, &c);
		curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, on_write);
		curl_easy_setopt(handle, CURLOPT_WRITEDATA, &c);
		rc = curl_easy_perform(handle);
		if (rc != CURLE_OK && !c.headers_sent)
			FCGX_FPrintF(req.out, "Status: 502\r\nContent-Type: text/plain\r\n\r\n%s\n",
			    curl_easy_strerror(rc));
		else
			send_headers(&c, handle);
		curl_slist_free_all(hdrs);
		FCGX_Finish_r(&req);
	}
	curl_easy_cleanup(handle);
	free(body);
	return 0;
}
