/* net.h: non-blocking IPv4 UDP sockets, and the broadcast addresses of the
 * host's interfaces (for discovery).
 *
 * Nothing here waits: an operation that would block returns NET_AGAIN and
 * the caller waits for the socket through lua/vigi/wait.lua, then tries
 * again. Failures return NET_ERROR with errno's value in *err; EINTR is
 * retried here and never reported.
 *
 * Plain C: no lua.h. */
#ifndef VIGI_NET_H
#define VIGI_NET_H

#include <net/if.h>
#include <netinet/in.h>
#include <stddef.h>

/* Results of net_sendto() and net_recvfrom(). */
enum {
  NET_OK = 0,
  NET_AGAIN,  /* would block: wait for the socket, then call again */
  NET_ERROR   /* failed: errno value in *err */
};

typedef struct net_udp_options {
  const char *address;  /* IPv4 dotted quad to bind, NULL: any */
  unsigned port;        /* port to bind, 0: chosen by the system */
  int broadcast;        /* allow sending to broadcast addresses */
  int rcvbuf;           /* receive buffer in bytes, 0: system default;
                           the kernel caps it at net.core.rmem_max */
} net_udp_options;

/* Opens, configures and binds a UDP socket (non-blocking, close-on-exec).
 * Returns the descriptor, or -1 with errno's value in *err (EINVAL when
 * o->address is not a dotted quad or o->port is over 65535). The caller
 * closes the descriptor. */
int net_udp_open(const net_udp_options *o, int *err);

/* Parses an IPv4 dotted quad ("192.0.2.7"; nothing else: no names, no
 * shorthand forms). Returns 0, or -1 when s is not one. */
int net_ipv4_parse(const char *s, struct in_addr *out);

/* Writes a in dotted-quad form into buf (at least INET_ADDRSTRLEN bytes). */
void net_ipv4_format(struct in_addr a, char *buf, size_t cap);

/* Sends one datagram of len bytes to ip:port (port in host order). */
int net_sendto(int fd, const void *buf, size_t len, struct in_addr ip, unsigned port, int *err);

/* Receives one datagram into buf[0..cap): *got bytes (a longer datagram is
 * cut to cap, as recvfrom(2) does), the sender's address and port (host
 * order). */
int net_recvfrom(int fd, void *buf, size_t cap, size_t *got, struct in_addr *ip, unsigned *port,
                 int *err);

/* The address and port a socket is bound to (port in host order). Returns
 * 0, or -1 with errno's value in *err. */
int net_sockname(int fd, struct in_addr *ip, unsigned *port, int *err);

/* One interface that can broadcast over IPv4. */
typedef struct net_iface {
  char name[IF_NAMESIZE];
  struct in_addr address;
  struct in_addr broadcast;
} net_iface;

/* Fills out[0..cap) with the IPv4 interfaces that are up, not loopback,
 * and have a broadcast address; returns how many (at most cap), or -1
 * with errno's value in *err. */
int net_ipv4_broadcasts(net_iface *out, int cap, int *err);

#endif
