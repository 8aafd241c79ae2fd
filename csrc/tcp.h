/* tcp.h: non-blocking IPv4 TCP client sockets, for the stream port
 * (WIRE-NOTES §3).
 *
 * The conventions of net.h: nothing here waits; an operation that would
 * block returns NET_AGAIN and the caller waits for the socket through
 * lua/vigi/wait.lua (readable to receive, writable to send or to learn how
 * a connect ended), then calls again. Failures return NET_ERROR with
 * errno's value in *err. EINTR is retried here and never reported.
 * Addresses are IPv4 dotted quads (net_ipv4_parse), nothing else.
 *
 * Plain C: no lua.h. */
#ifndef VIGI_TCP_H
#define VIGI_TCP_H

#include "net.h"

#include <stddef.h>

/* Opens a socket (non-blocking, close-on-exec, TCP_NODELAY: requests are
 * small and must not wait for an ACK) and starts connecting it to ip:port
 * (port in host order, 1..65535). Returns:
 *   NET_OK     connected already (*fd set; loopback may do this)
 *   NET_AGAIN  in progress (*fd set): wait until writable, then
 *              tcp_connected()
 *   NET_ERROR  *fd is -1, errno's value in *err (EINVAL for a bad port;
 *              ECONNREFUSED may come here or from tcp_connected())
 * The caller closes *fd with tcp_close(). */
int tcp_connect(struct in_addr ip, unsigned port, int *fd, int *err);

/* Same, from a dotted quad; EINVAL in *err when ip is not one. */
int tcp_connect_ipv4(const char *ip, unsigned port, int *fd, int *err);

/* Whether name may be looked up: letters, digits, '-', '_' and '.', 1 to
 * 253 bytes. 0, or -1 with a static message in *why. */
int tcp_host_name_ok(const char *name, const char **why);

/* Resolves a host name to its first IPv4 address (getaddrinfo, AF_INET).
 * Only names tcp_host_name_ok takes are looked up; anything else is
 * refused without a lookup. Returns 0, or -1 with a static message in
 * *why. This call blocks for as long as the system's resolver takes (its
 * own timeout, /etc/resolv.conf): vigi calls it only in a thread of its
 * own (resolve.h). */
int tcp_resolve_ipv4(const char *name, struct in_addr *out, const char **why);

/* How a connect in progress ended: NET_OK connected, NET_AGAIN not yet,
 * NET_ERROR failed (SO_ERROR's value in *err). The kernel hands the error
 * out once (reading SO_ERROR clears it): a caller that may ask again
 * keeps it. */
int tcp_connected(int fd, int *err);

/* Sends what the socket takes of buf[0..len): NET_OK with *sent bytes,
 * 1..len (0 only when len is 0); fewer than len is normal, send the rest
 * later. A peer that closed gives NET_ERROR with EPIPE or ECONNRESET,
 * never SIGPIPE. */
int tcp_send(int fd, const void *buf, size_t len, size_t *sent, int *err);

/* Receives up to cap bytes (cap >= 1): NET_OK with *got bytes; *got == 0
 * means the peer closed its side (end of stream). */
int tcp_recv(int fd, void *buf, size_t cap, size_t *got, int *err);

/* Bytes written to fd that the peer has not acknowledged yet (SIOCOUTQ):
 * what waits in this side's socket, sent or not. A peer that stops
 * reading lets it grow once its own receive buffer is full. NET_OK with
 * *n, or NET_ERROR with errno's value in *err. */
int tcp_unacked(int fd, size_t *n, int *err);

/* Closes fd (once: EINTR is not retried, the descriptor is gone either
 * way on Linux). -1 is ignored. */
void tcp_close(int fd);

#endif
