/*
 * upstream.h - the libcurl client that talks to MASKGATE_UPSTREAM_URL.
 *
 * One easy handle per worker process, created on first use (after fork) and
 * reused so connections to the upstream stay alive between requests.
 * Proxy variables are never honoured: CURLOPT_PROXY is "".
 */
#ifndef MG_UPSTREAM_H
#define MG_UPSTREAM_H

#include <stddef.h>
#include <curl/curl.h>

#include "cfg.h"
#include "mg.h"

struct up_call {
	const char *method;		/* GET, HEAD or POST */
	const char *url;		/* full URL */
	struct curl_slist *headers;	/* owned by the caller */
	const char *body;		/* POST body or NULL */
	size_t body_len;

	/* each response header (final response only), name lowercased */
	enum mg_err (*on_header)(void *ctx, const char *name, const char *value);
	/* body bytes as they arrive; any error aborts the transfer */
	enum mg_err (*on_body)(void *ctx, const char *data, size_t len);
	/* polled while waiting; non-zero aborts (the client went away) */
	int (*client_gone)(void *ctx);
	void *ctx;

	/* results */
	long status;
	double ttfb_ms;			/* until the first body byte */
	char error[CURL_ERROR_SIZE];	/* curl's reason on failure */
};

/*
 * Performs the call. MG_OK once the upstream answered completely (any HTTP
 * status); MG_EUPSTREAM when it could not be reached or broke the
 * connection; MG_ETIMEOUT past the configured timeouts; MG_EIO when a
 * callback or client_gone aborted it.
 */
enum mg_err up_perform(const struct cfg *c, struct up_call *call);

/*
 * fn(arg) is called now and then while any call waits on upstream (the
 * worker renews its parallel-request lease there); NULL to stop.
 */
void up_set_tick(void (*fn)(void *arg), void *arg);

/* Frees the worker's handle (at worker exit). */
void up_cleanup(void);

#endif
