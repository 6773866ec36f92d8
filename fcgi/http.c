/*
 * http.c - request parameters, body and response writing for both the
 * FastCGI and the CGI mode.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "crypto.h"
#include "http.h"
#include "log.h"

extern char **environ;

static const char *const etype_names[ET__MAX] = {
	"invalid_request_error", "authentication_error", "permission_error",
	"not_found_error", "request_too_large", "rate_limit_error", "api_error",
	"overloaded_error", "timeout_error",
};

/* The Bedrock exception names for the same failures. */
static const char *const aws_error_types[ET__MAX] = {
	"ValidationException", "UnrecognizedClientException", "AccessDeniedException",
	"ResourceNotFoundException", "ValidationException", "ThrottlingException",
	"InternalServerException", "ServiceUnavailableException", "ModelTimeoutException",
};

static const char *
status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 508: return "Loop Detected";
	case 529: return "Overloaded";
	default: return "Status";
	}
}

/*
 * Random bytes for request ids from a per-process pool, refilled a few
 * kilobytes at a time: RAND_bytes for every request's 12 bytes was a
 * measurable part of a small request. A forked child refills its own.
 */
static void
id_random(unsigned char *out, size_t n)
{
	static unsigned char pool[3072];
	static size_t used = sizeof(pool);
	static pid_t owner;
	pid_t pid = getpid();

	if (pid != owner || n > sizeof(pool) - used) {
		if (crypto_random(pool, sizeof(pool)) != MG_OK) {
			memset(out, 0, n);
			used = sizeof(pool);
			return;
		}
		owner = pid;
		used = 0;
	}
	memcpy(out, pool + used, n);
	memset(pool + used, 0, n);	/* each byte serves once */
	used += n;
}

void
http_request_init(struct request *req, struct worker *w, struct arena *a,
    FCGX_Request *fcgx)
{
	unsigned char rnd[12];
	const char *uri, *q;

	memset(req, 0, sizeof(*req));
	req->worker = w;
	req->arena = a;
	req->fcgx = fcgx;
	req->t_start = mg_now_ms();
	/* the client just sent its request: the first kernel check a second from now */
	req->peer_checked_ms = req->t_start;
	buf_init(&req->headers, a);
	id_random(rnd, sizeof(rnd));
	memcpy(req->request_id, "req_mg_", 7);
	crypto_hex(req->request_id + 7, rnd, sizeof(rnd));

	req->method = http_param(req, "REQUEST_METHOD");
	if (req->method == NULL)
		req->method = "GET";
	/* REQUEST_URI keeps the client's path under any mount point rewrite */
	uri = http_param(req, "REQUEST_URI");
	if (uri == NULL)
		uri = http_param(req, "SCRIPT_NAME");
	if (uri == NULL || *uri == '\0')
		uri = "/";
	q = strchr(uri, '?');
	if (q != NULL) {
		req->path = arena_strndup(a, uri, (size_t)(q - uri));
		req->query = arena_strdup(a, q + 1);
	} else {
		req->path = uri;
		req->query = "";
	}
	if (req->path == NULL || req->query == NULL) {
		req->path = "/";
		req->query = "";
	}
	outcome_init(&req->ex.out);
}

const char *
http_param(struct request *req, const char *name)
{
	if (req->fcgx != NULL)
		return FCGX_GetParam(name, req->fcgx->envp);
	return getenv(name);
}

const char *
http_header(struct request *req, const char *name)
{
	char param[128];
	size_t i, n = strlen(name);

	if (n + 6 > sizeof(param))
		return NULL;
	memcpy(param, "HTTP_", 5);
	for (i = 0; i < n; i++)
		param[5 + i] = name[i] == '-' ? '_' : (char)toupper((unsigned char)name[i]);
	param[5 + n] = '\0';
	/* CGI has no HTTP_CONTENT_TYPE/LENGTH: they are plain parameters */
	if (strcmp(param, "HTTP_CONTENT_TYPE") == 0)
		return http_param(req, "CONTENT_TYPE");
	if (strcmp(param, "HTTP_CONTENT_LENGTH") == 0)
		return http_param(req, "CONTENT_LENGTH");
	return http_param(req, param);
}

void
http_each_header(struct request *req,
    void (*fn)(void *ctx, const char *name, const char *value), void *ctx)
{
	char **e = req->fcgx != NULL ? req->fcgx->envp : environ;
	char name[256];

	for (; e != NULL && *e != NULL; e++) {
		const char *eq = strchr(*e, '=');
		size_t i, n;

		if (strncmp(*e, "HTTP_", 5) != 0 || eq == NULL)
			continue;
		n = (size_t)(eq - *e) - 5;
		if (n == 0 || n >= sizeof(name))
			continue;
		for (i = 0; i < n; i++)
			name[i] = (*e)[5 + i] == '_' ? '-' : (char)tolower((unsigned char)(*e)[5 + i]);
		name[n] = '\0';
		fn(ctx, name, eq + 1);
	}
}

static int
read_some(struct request *req, char *dst, size_t len)
{
	if (req->fcgx != NULL)
		return FCGX_GetStr(dst, (int)len, req->fcgx->in);
	return (int)fread(dst, 1, len, stdin);
}

enum mg_err
http_read_body(struct request *req, size_t max)
{
	const char *cl = http_param(req, "CONTENT_LENGTH");
	struct buf b;
	size_t want = 0;
	int known = 0;

	if (req->body != NULL)
		return MG_OK;
	buf_init(&b, req->arena);
	if (cl != NULL && *cl != '\0') {
		char *end;
		unsigned long long v;
		errno = 0;
		v = strtoull(cl, &end, 10);
		if (errno != 0 || *end != '\0' || !isdigit((unsigned char)cl[0]))
			return MG_EINVAL;
		if (v > max)
			return MG_ETOOBIG;
		want = (size_t)v;
		known = 1;
	}
	if (buf_reserve(&b, known ? want : 0) != MG_OK)
		return MG_ENOMEM;
	for (;;) {
		size_t chunk = known ? want - b.len : 65536;
		int n;

		if (known && b.len == want)
			break;
		if (chunk > 65536)
			chunk = 65536;
		if (!known && b.len + chunk > max + 1)
			chunk = max + 1 - b.len;
		if (buf_reserve(&b, chunk) != MG_OK)
			return MG_ENOMEM;
		n = read_some(req, b.data + b.len, chunk);
		if (n <= 0)
			break;
		b.len += (size_t)n;
		b.data[b.len] = '\0';
		if (b.len > max)
			return MG_ETOOBIG;
	}
	if (known && b.len != want)
		return MG_EIO;
	/*
	 * Consume the web server's empty end-of-stdin record too: left unread,
	 * it makes the connection readable and client_gone() would take that
	 * for a client that went away (seen with large bodies).
	 */
	if (known && req->fcgx != NULL) {
		char extra;
		if (FCGX_GetStr(&extra, 1, req->fcgx->in) != 0)
			return MG_EINVAL;	/* more than CONTENT_LENGTH */
	}
	req->body = b.data != NULL ? b.data : arena_strdup(req->arena, "");
	req->body_len = b.len;
	return req->body != NULL ? MG_OK : MG_ENOMEM;
}

void
http_add_header(struct request *req, const char *name, const char *value)
{
	const char *p;

	MG_ASSERT(!req->started);
	/* a header value with a line break would split the response */
	for (p = value; *p != '\0'; p++)
		if (*p == '\r' || *p == '\n')
			return;
	buf_printf(&req->headers, "%s: %s\r\n", name, value);
}

static enum mg_err
out_raw(struct request *req, const void *data, size_t len)
{
	if (req->client_gone)
		return MG_EIO;
	if (len == 0)
		return MG_OK;
	if (req->fcgx != NULL) {
		if (FCGX_PutStr(data, (int)len, req->fcgx->out) != (int)len)
			req->client_gone = 1;
	} else if (fwrite(data, 1, len, stdout) != len) {
		req->client_gone = 1;
	}
	return req->client_gone ? MG_EIO : MG_OK;
}

void
http_start(struct request *req, int status, const char *content_type)
{
	char head[256];
	int n;

	if (req->started)
		return;
	req->started = 1;
	req->status = status;
	n = snprintf(head, sizeof(head), "Status: %d %s\r\n", status, status_text(status));
	out_raw(req, head, (size_t)n);
	if (content_type != NULL) {
		n = snprintf(head, sizeof(head), "Content-Type: %s\r\n", content_type);
		out_raw(req, head, (size_t)n);
	}
	n = snprintf(head, sizeof(head), "x-maskgate-request-id: %s\r\n", req->request_id);
	out_raw(req, head, (size_t)n);
	/* the upstream's id when proxying, so users can quote it to Anthropic */
	n = snprintf(head, sizeof(head), "request-id: %s\r\n",
	    req->ex.out.upstream_request_id != NULL ? req->ex.out.upstream_request_id :
	    req->request_id);
	out_raw(req, head, (size_t)n);
	out_raw(req, req->headers.data, req->headers.len);
	out_raw(req, "\r\n", 2);
}

enum mg_err
http_write(struct request *req, const void *data, size_t len)
{
	enum mg_err rc;

	if (!req->started)
		http_start(req, 200, "application/octet-stream");
	if (strcmp(req->method, "HEAD") == 0)
		return MG_OK;
	rc = out_raw(req, data, len);
	if (rc == MG_OK)
		req->bytes_out += len;
	return rc;
}

enum mg_err
http_flush(struct request *req)
{
	if (req->client_gone)
		return MG_EIO;
	if (req->fcgx != NULL) {
		if (FCGX_FFlush(req->fcgx->out) != 0)
			req->client_gone = 1;
	} else if (fflush(stdout) != 0) {
		req->client_gone = 1;
	}
	return req->client_gone ? MG_EIO : MG_OK;
}

void
http_json(struct request *req, int status, const char *json)
{
	http_start(req, status, "application/json");
	http_write(req, json, strlen(json));
}

const char *
http_error_json(struct request *req, enum api_etype type, const char *message)
{
	struct json_object *root = json_object_new_object(), *err = json_object_new_object();
	const char *s = NULL;

	if (root != NULL && err != NULL) {
		json_object_object_add(err, "type", json_object_new_string(etype_names[type]));
		json_object_object_add(err, "message", json_object_new_string(message));
		json_object_object_add(root, "type", json_object_new_string("error"));
		json_object_object_add(root, "error", err);
		err = NULL;
		/* AWS SDKs (and the Bedrock client) read a top-level message */
		if (req->aws_errors)
			json_object_object_add(root, "message", json_object_new_string(message));
		s = arena_strdup(req->arena, json_object_to_json_string_ext(root,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	}
	json_object_put(err);
	json_object_put(root);
	return s != NULL ? s :
	    "{\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"out of memory\"}}";
}

void
http_error(struct request *req, int status, enum api_etype type, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (req->started) {
		/* too late for a status: the stream handler sends an SSE error */
		log_warn("rid=%s error after response start: %s", req->request_id, msg);
		return;
	}
	if (req->aws_errors)
		http_add_header(req, "x-amzn-ErrorType", aws_error_types[type]);
	http_json(req, status, http_error_json(req, type, msg));
}
