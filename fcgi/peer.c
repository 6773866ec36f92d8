/*
 * peer.c - the client's TCP connection state, looked up by its four-tuple
 * with NETLINK_SOCK_DIAG (what ss(8) uses; no privilege needed).
 *
 * lighttpd takes a FIN from its client for a half-close and keeps waiting
 * on the backend until it has something to write, so a non-streaming
 * request whose client gave up would hold its worker and its upstream call
 * for the whole upstream timeout. HTTP clients do not half-close while
 * they wait for an answer: a FIN there means the client is gone.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "peer.h"

/* TCP states (include/net/tcp_states.h) reached after the peer's FIN. */
#define TCP_STATE_CLOSE_WAIT 8
#define TCP_STATE_LAST_ACK 9

/* Parses an address into the sock_diag form; the family, or -1. */
static int
parse_addr(const char *s, __be32 out[4])
{
	memset(out, 0, 4 * sizeof(out[0]));
	if (s == NULL)
		return -1;
	if (inet_pton(AF_INET, s, out) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, s, out) == 1)
		return AF_INET6;
	return -1;
}

static int
parse_port(const char *s, __be16 *out)
{
	char *end;
	long v;

	if (s == NULL || *s == '\0')
		return -1;
	v = strtol(s, &end, 10);
	if (*end != '\0' || v <= 0 || v > 65535)
		return -1;
	*out = htons((unsigned short)v);
	return 0;
}

int
peer_closed(const char *local_addr, const char *local_port, const char *remote_addr,
    const char *remote_port)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} msg;
	union {
		struct nlmsghdr nlh;
		char bytes[1024];
	} reply;
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	struct timeval tv = { 0, 200000 };
	const struct inet_diag_msg *dm;
	int fd, family, closed = 0;
	ssize_t n;

	memset(&msg, 0, sizeof(msg));
	family = parse_addr(local_addr, msg.req.id.idiag_src);
	if (family < 0 || parse_addr(remote_addr, msg.req.id.idiag_dst) != family ||
	    parse_port(local_port, &msg.req.id.idiag_sport) != 0 ||
	    parse_port(remote_port, &msg.req.id.idiag_dport) != 0)
		return 0;
	msg.nlh.nlmsg_len = sizeof(msg);
	msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	msg.nlh.nlmsg_flags = NLM_F_REQUEST;
	msg.req.sdiag_family = (__u8)family;
	msg.req.sdiag_protocol = IPPROTO_TCP;
	msg.req.idiag_states = ~0U;
	msg.req.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
	msg.req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;

	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return 0;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (sendto(fd, &msg, sizeof(msg), 0, (struct sockaddr *)&kernel, sizeof(kernel)) !=
	    (ssize_t)sizeof(msg))
		goto out;
	n = recv(fd, &reply, sizeof(reply), 0);
	/* NLMSG_ERROR (ENOENT: no such connection here) tells nothing */
	if (n < (ssize_t)NLMSG_LENGTH(sizeof(*dm)) || !NLMSG_OK(&reply.nlh, (unsigned)n) ||
	    reply.nlh.nlmsg_type != SOCK_DIAG_BY_FAMILY)
		goto out;
	dm = NLMSG_DATA(&reply.nlh);
	closed = dm->idiag_state == TCP_STATE_CLOSE_WAIT || dm->idiag_state == TCP_STATE_LAST_ACK;
out:
	close(fd);
	return closed;
}
