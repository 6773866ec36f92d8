/*
 * h_proxy.c - FastCGI adapted to the exchange (common/exchange.c), which
 * owns a proxied request's life: /v1/messages, count_tokens, /v1/models
 * and the Bedrock (/model/...) and Vertex (/v1/projects/...) routes. Here
 * are only the transport (struct exchange_io over http.c) and how this
 * side notices a client that went away.
 */
#include <poll.h>

#include "exchange.h"
#include "http.h"
#include "peer.h"
#include "route.h"

static const char *
io_header(void *ctx, const char *name)
{
	return http_header(ctx, name);
}

static void
io_each_header(void *ctx, void (*fn)(void *arg, const char *name, const char *value), void *arg)
{
	http_each_header(ctx, fn, arg);
}

static enum mg_err
io_read_body(void *ctx, size_t max, const char **body, size_t *len)
{
	struct request *req = ctx;
	enum mg_err rc = http_read_body(req, max);

	*body = req->body;
	*len = req->body_len;
	return rc;
}

static void
io_add_header(void *ctx, const char *name, const char *value)
{
	http_add_header(ctx, name, value);
}

static void
io_start(void *ctx, int status, const char *content_type)
{
	http_start(ctx, status, content_type);
}

static enum mg_err
io_write(void *ctx, const void *data, size_t len, int flush)
{
	enum mg_err rc = len > 0 ? http_write(ctx, data, len) : MG_OK;

	return rc == MG_OK && flush ? http_flush(ctx) : rc;
}

static void
io_error(void *ctx, int status, enum api_etype type, const char *message)
{
	http_error(ctx, status, type, "%s", message);
}

/*
 * The web server closes or aborts the FastCGI connection when its client
 * goes away; nothing else arrives on it after the request body.
 */
static int
io_client_gone(void *ctx)
{
	struct request *req = ctx;
	struct pollfd pfd;
	double now;

	if (req->client_gone)
		return 1;
	if (req->fcgx == NULL)
		return 0;
	pfd.fd = req->fcgx->ipcFd;
	pfd.events = POLLIN | POLLRDHUP;
	pfd.revents = 0;
	if (poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLIN | POLLRDHUP | POLLHUP | POLLERR))) {
		req->client_gone = 1;
		return 1;
	}
	/*
	 * lighttpd does not drop us when its client closes: it cannot tell a
	 * close from a half-close until it writes, and a non-streaming
	 * request writes nothing until the end. Ask the kernel, once a second.
	 */
	now = mg_now_ms();
	if (now - req->peer_checked_ms < 1000)
		return 0;
	req->peer_checked_ms = now;
	if (peer_closed(http_param(req, "SERVER_ADDR"), http_param(req, "SERVER_PORT"),
	    http_param(req, "REMOTE_ADDR"), http_param(req, "REMOTE_PORT"))) {
		req->client_gone = 1;
		return 1;
	}
	return 0;
}

const struct exchange_io proxy_io = {
	io_header, io_each_header, io_read_body, io_add_header, io_start, io_write, io_error,
	io_client_gone,
};

void
h_messages(struct request *req, const struct principal *p)
{
	(void)p;	/* the exchange authenticated it: req->ex.principal */
	exchange_messages(&req->ex);
}

/* Bedrock InvokeModel(WithResponseStream) and Vertex (stream)rawPredict. */
void
h_cloud(struct request *req, const struct principal *p)
{
	(void)p;
	exchange_cloud(&req->ex);
}

void
h_models(struct request *req, const struct principal *p)
{
	(void)p;
	exchange_models(&req->ex);
}

/*
 * Claude Code lists Bedrock inference profiles at startup to pick model
 * ids; an empty list makes it use its defaults, which the gateway's model
 * table and allow-list then govern like any other.
 */
void
h_inference_profiles(struct request *req, const struct principal *p)
{
	(void)p;
	http_json(req, 200, "{\"inferenceProfileSummaries\":[]}");
}
