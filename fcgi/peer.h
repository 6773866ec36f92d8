/*
 * peer.h - whether the web server's client connection is still there, asked
 * of the kernel (sock_diag) when the web server would not tell us.
 */
#ifndef MG_PEER_H
#define MG_PEER_H

/*
 * 1 when the TCP connection the web server accepted for this request
 * (local address and port, remote address and port, as the CGI parameters
 * SERVER_ADDR, SERVER_PORT, REMOTE_ADDR, REMOTE_PORT give them) has
 * received the client's FIN: the client closed it while waiting for the
 * answer. 0 when it is open, or when this cannot be told (the web server
 * runs on another host or in another network namespace, a parameter is
 * missing, the kernel refuses).
 */
int peer_closed(const char *local_addr, const char *local_port, const char *remote_addr,
    const char *remote_port);

#endif
