/*
 * bench_upstream.c - a fast mock Anthropic upstream for `make bench`, so
 * the benchmark measures the gateway rather than a Python mock.
 *
 *   bench_upstream PORT
 *
 * Thread per connection, HTTP/1.1 keep-alive. A POST whose body contains
 * "stream":true gets a short Messages SSE stream; a POST to a Bedrock
 * .../invoke-with-response-stream path the same events as AWS event-stream
 * frames (framed once at start with maskgate's encoder); any other request
 * a small Messages JSON response. Loopback only; runs until killed.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bedrock_stream.h"
#include "eventstream.h"

static const char json_body[] =
    "{\"id\":\"msg_bench\",\"type\":\"message\",\"role\":\"assistant\","
    "\"model\":\"claude-sonnet-4-5\",\"content\":[{\"type\":\"text\",\"text\":"
    "\"Instance AWS_EC2_001 in AWS_VPC_001 is healthy.\"}],\"stop_reason\":"
    "\"end_turn\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":19000,"
    "\"output_tokens\":12}}";

static const char *const sse_events[] = {
	"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_b\","
	"\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\",\"content\":[],"
	"\"usage\":{\"input_tokens\":19000,\"output_tokens\":1}}}\n\n",
	"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
	"\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
	"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
	"\"delta\":{\"type\":\"text_delta\",\"text\":\"Instance AWS_EC\"}}\n\n",
	"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
	"\"delta\":{\"type\":\"text_delta\",\"text\":\"2_001 is healthy.\"}}\n\n",
	"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
	"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
	"\"end_turn\"},\"usage\":{\"output_tokens\":12}}\n\n",
	"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
};

static struct arena frames_arena;
static struct buf frames;	/* sse_events as Bedrock chunk frames */

/* Frames each event's data line once, before serving. */
static int
build_frames(void)
{
	static const struct es_header h[3] = {
		{ ":event-type", 11, ES_STRING, "chunk", 5 },
		{ ":content-type", 13, ES_STRING, "application/json", 16 },
		{ ":message-type", 13, ES_STRING, "event", 5 },
	};
	struct buf payload;
	size_t i;

	arena_init(&frames_arena);
	buf_init(&frames, &frames_arena);
	buf_init(&payload, &frames_arena);
	for (i = 0; i < sizeof(sse_events) / sizeof(sse_events[0]); i++) {
		const char *data = strstr(sse_events[i], "data: ") + 6;
		size_t len = strcspn(data, "\n");

		buf_clear(&payload);
		if (buf_appends(&payload, "{\"bytes\":\"") != MG_OK ||
		    bedrock_b64_encode(data, len, &payload) != MG_OK ||
		    buf_appends(&payload, "\"}") != MG_OK ||
		    es_encode(&frames, h, 3, payload.data, payload.len) != MG_OK)
			return -1;
	}
	return 0;
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void *
serve(void *arg)
{
	int fd = (int)(long)arg, one = 1;
	size_t cap = 1 << 20, len = 0;
	char *buf = malloc(cap);

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	while (buf != NULL) {
		char *end = NULL, *cl;
		size_t head, want = 0;
		ssize_t r;

		for (;;) {
			end = memmem(buf, len, "\r\n\r\n", 4);
			if (end != NULL)
				break;
			if (len == cap)
				goto out;
			r = read(fd, buf + len, cap - len);
			if (r <= 0)
				goto out;
			len += (size_t)r;
		}
		head = (size_t)(end - buf) + 4;
		buf[head - 1] = '\0';
		cl = strcasestr(buf, "\ncontent-length:");
		if (cl != NULL)
			want = strtoul(cl + 16, NULL, 10);
		while (len < head + want) {
			if (head + want > cap) {
				char *n = realloc(buf, head + want);
				if (n == NULL)
					goto out;
				buf = n;
				cap = head + want;
			}
			r = read(fd, buf + len, cap - len);
			if (r <= 0)
				goto out;
			len += (size_t)r;
		}
		if (strncmp(buf, "POST /model/", 12) == 0 &&
		    strstr(buf, "/invoke-with-response-stream ") != NULL) {
			static const char h[] = "HTTP/1.1 200 OK\r\n"
			    "content-type: application/vnd.amazon.eventstream\r\n"
			    "connection: close\r\n\r\n";
			write_all(fd, h, sizeof(h) - 1);
			write_all(fd, frames.data, frames.len);
			goto out;
		}
		if (want > 0 && memmem(buf + head, want, "\"stream\":true", 13) != NULL) {
			static const char h[] = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
			    "connection: close\r\n\r\n";
			size_t i;
			write_all(fd, h, sizeof(h) - 1);
			for (i = 0; i < sizeof(sse_events) / sizeof(sse_events[0]); i++)
				if (write_all(fd, sse_events[i], strlen(sse_events[i])) != 0)
					break;
			goto out;
		} else {
			char h[256];
			int n = snprintf(h, sizeof(h), "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
			    "request-id: req_bench\r\ncontent-length: %zu\r\n\r\n", sizeof(json_body) - 1);
			if (write_all(fd, h, (size_t)n) != 0 ||
			    write_all(fd, json_body, sizeof(json_body) - 1) != 0)
				goto out;
		}
		memmove(buf, buf + head + want, len - head - want);
		len -= head + want;
	}
out:
	free(buf);
	close(fd);
	return NULL;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sa;
	int s, one = 1;

	if (argc != 2)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	if (build_frames() != 0)
		return 1;
	s = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)strtol(argv[1], NULL, 10));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(s, 256) != 0) {
		perror("bench_upstream");
		return 1;
	}
	for (;;) {
		pthread_t t;
		int c = accept(s, NULL, NULL);
		if (c < 0)
			continue;
		pthread_create(&t, NULL, serve, (void *)(long)c);
		pthread_detach(t);
	}
}
