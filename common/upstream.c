/*
 * upstream.c - libcurl transfer with streaming callbacks.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "upstream.h"

static CURL *up_handle;

/*
 * How often, at most, a transfer asks whether its client went away (and
 * renews its lease): libcurl calls the progress callback many times per
 * transfer, and each question is a system call or two.
 */
#define UP_CHECK_MS 10

struct up_state {
	struct up_call *call;
	double t0, checked;
	int got_body;
	enum mg_err cb_error;
};

static size_t
on_header(char *ptr, size_t size, size_t n, void *ud)
{
	struct up_state *st = ud;
	size_t len = size * n, nlen, vstart, vend;
	char name[128], value[8192];
	const char *colon;

	if (len >= 5 && memcmp(ptr, "HTTP/", 5) == 0)
		return len;	/* status line; the code comes from CURLINFO */
	colon = memchr(ptr, ':', len);
	if (colon == NULL || st->call->on_header == NULL)
		return len;
	nlen = (size_t)(colon - ptr);
	if (nlen == 0 || nlen >= sizeof(name))
		return len;
	for (vstart = nlen + 1; vstart < len && (ptr[vstart] == ' ' || ptr[vstart] == '\t'); vstart++)
		;
	for (vend = len; vend > vstart && isspace((unsigned char)ptr[vend - 1]); vend--)
		;
	if (vend - vstart >= sizeof(value))
		return len;	/* absurdly long header: not forwarded */
	for (size_t i = 0; i < nlen; i++)
		name[i] = (char)tolower((unsigned char)ptr[i]);
	name[nlen] = '\0';
	memcpy(value, ptr + vstart, vend - vstart);
	value[vend - vstart] = '\0';
	st->cb_error = st->call->on_header(st->call->ctx, name, value);
	return st->cb_error == MG_OK ? len : 0;
}

static size_t
on_write(char *ptr, size_t size, size_t n, void *ud)
{
	struct up_state *st = ud;
	size_t len = size * n;

	if (!st->got_body) {
		st->got_body = 1;
		st->call->ttfb_ms = mg_now_ms() - st->t0;
		curl_easy_getinfo(up_handle, CURLINFO_RESPONSE_CODE, &st->call->status);
	}
	st->cb_error = st->call->on_body(st->call->ctx, ptr, len);
	return st->cb_error == MG_OK ? len : 0;
}

static void (*tick_fn)(void *arg);
static void *tick_arg;

void
up_set_tick(void (*fn)(void *arg), void *arg)
{
	tick_fn = fn;
	tick_arg = arg;
}

static int
on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct up_state *st = ud;
	double now = mg_now_ms();

	(void)dt; (void)dn; (void)ut; (void)un;
	if (now - st->checked < UP_CHECK_MS)
		return 0;
	st->checked = now;
	if (tick_fn != NULL)
		tick_fn(tick_arg);
	if (st->call->client_gone != NULL && st->call->client_gone(st->call->ctx)) {
		st->cb_error = MG_EIO;
		return 1;
	}
	return 0;
}

enum mg_err
up_perform(const struct cfg *c, struct up_call *call)
{
	double t0 = mg_now_ms();
	struct up_state st = { call, t0, t0, 0, MG_OK };
	CURLcode cc;

	call->status = 0;
	call->error[0] = '\0';
	if (up_handle == NULL) {
		up_handle = curl_easy_init();
		if (up_handle == NULL)
			return MG_ENOMEM;
	} else {
		curl_easy_reset(up_handle);
	}
	curl_easy_setopt(up_handle, CURLOPT_URL, call->url);
	curl_easy_setopt(up_handle, CURLOPT_PROXY, "");
	curl_easy_setopt(up_handle, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(up_handle, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(up_handle, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(up_handle, CURLOPT_CONNECTTIMEOUT, c->upstream_connect_timeout);
	curl_easy_setopt(up_handle, CURLOPT_TIMEOUT, c->upstream_timeout);
	curl_easy_setopt(up_handle, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(up_handle, CURLOPT_HTTPHEADER, call->headers);
	curl_easy_setopt(up_handle, CURLOPT_ERRORBUFFER, call->error);
	curl_easy_setopt(up_handle, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(up_handle, CURLOPT_HEADERDATA, &st);
	curl_easy_setopt(up_handle, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(up_handle, CURLOPT_WRITEDATA, &st);
	curl_easy_setopt(up_handle, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(up_handle, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(up_handle, CURLOPT_XFERINFODATA, &st);
	if (strcmp(call->method, "POST") == 0) {
		curl_easy_setopt(up_handle, CURLOPT_POST, 1L);
		curl_easy_setopt(up_handle, CURLOPT_POSTFIELDS, call->body != NULL ? call->body : "");
		curl_easy_setopt(up_handle, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)call->body_len);
	} else if (strcmp(call->method, "HEAD") == 0) {
		curl_easy_setopt(up_handle, CURLOPT_NOBODY, 1L);
	} else {
		curl_easy_setopt(up_handle, CURLOPT_HTTPGET, 1L);
	}

	cc = curl_easy_perform(up_handle);
	if (!st.got_body)
		curl_easy_getinfo(up_handle, CURLINFO_RESPONSE_CODE, &call->status);
	switch (cc) {
	case CURLE_OK:
		return MG_OK;
	case CURLE_WRITE_ERROR:
	case CURLE_ABORTED_BY_CALLBACK:
		return st.cb_error != MG_OK ? st.cb_error : MG_EIO;
	case CURLE_OPERATION_TIMEDOUT:
		return MG_ETIMEOUT;
	default:
		if (call->error[0] == '\0')
			snprintf(call->error, sizeof(call->error), "%s", curl_easy_strerror(cc));
		return MG_EUPSTREAM;
	}
}

void
up_cleanup(void)
{
	if (up_handle != NULL)
		curl_easy_cleanup(up_handle);
	up_handle = NULL;
}
