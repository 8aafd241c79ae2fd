/* net.c: non-blocking IPv4 UDP sockets (contracts in net.h). */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int net_ipv4_parse(const char *s, struct in_addr *out) {
  /* inet_pton, unlike inet_aton, takes only the four-part decimal form, so
   * "10.1" or "0x7f.1" are refused rather than read as something else. */
  return inet_pton(AF_INET, s, out) == 1 ? 0 : -1;
}

void net_ipv4_format(struct in_addr a, char *buf, size_t cap) {
  if (!inet_ntop(AF_INET, &a, buf, (socklen_t)cap) && cap) buf[0] = '\0';
}

static void fill_sin(struct sockaddr_in *sa, struct in_addr ip, unsigned port) {
  memset(sa, 0, sizeof *sa);
  sa->sin_family = AF_INET;
  sa->sin_addr = ip;
  sa->sin_port = htons((uint16_t)port);
}

int net_udp_open(const net_udp_options *o, int *err) {
  struct sockaddr_in sa;
  struct in_addr ip;
  int fd, one = 1;
  ip.s_addr = htonl(INADDR_ANY);
  if ((o->address && net_ipv4_parse(o->address, &ip) != 0) || o->port > 65535) {
    *err = EINVAL;
    return -1;
  }
  fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *err = errno;
    return -1;
  }
  if (o->broadcast && setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one) != 0) goto fail;
  /* A sweep of a /16 or a busy segment gets many answers at once; the
   * default buffer (about 200 KiB) would drop some before Lua reads them.
   * The kernel silently caps the size, which is good enough: best effort. */
  if (o->rcvbuf > 0 &&
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &o->rcvbuf, sizeof o->rcvbuf) != 0) goto fail;
  fill_sin(&sa, ip, o->port);
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) goto fail;
  return fd;
fail:
  *err = errno;
  close(fd);
  return -1;
}

int net_sendto(int fd, const void *buf, size_t len, struct in_addr ip, unsigned port, int *err) {
  struct sockaddr_in sa;
  ssize_t n;
  fill_sin(&sa, ip, port);
  do n = sendto(fd, buf, len, 0, (struct sockaddr *)&sa, sizeof sa);
  while (n < 0 && errno == EINTR);
  if (n >= 0) return NET_OK; /* a datagram goes whole or not at all */
  if (errno == EAGAIN || errno == EWOULDBLOCK) return NET_AGAIN;
  *err = errno;
  return NET_ERROR;
}

int net_recvfrom(int fd, void *buf, size_t cap, size_t *got, struct in_addr *ip, unsigned *port,
                 int *err) {
  struct sockaddr_in sa;
  socklen_t salen;
  ssize_t n;
  do {
    salen = sizeof sa;
    memset(&sa, 0, sizeof sa);
    n = recvfrom(fd, buf, cap, 0, (struct sockaddr *)&sa, &salen);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return NET_AGAIN;
    *err = errno;
    return NET_ERROR;
  }
  *got = (size_t)n;
  *ip = sa.sin_addr;
  *port = ntohs(sa.sin_port);
  return NET_OK;
}

int net_sockname(int fd, struct in_addr *ip, unsigned *port, int *err) {
  struct sockaddr_in sa;
  socklen_t salen = sizeof sa;
  memset(&sa, 0, sizeof sa);
  if (getsockname(fd, (struct sockaddr *)&sa, &salen) != 0) {
    *err = errno;
    return -1;
  }
  *ip = sa.sin_addr;
  *port = ntohs(sa.sin_port);
  return 0;
}

int net_ipv4_broadcasts(net_iface *out, int cap, int *err) {
  struct ifaddrs *all, *i;
  int n = 0;
  if (getifaddrs(&all) != 0) {
    *err = errno;
    return -1;
  }
  for (i = all; i && n < cap; i = i->ifa_next) {
    unsigned f = i->ifa_flags;
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
    if (!(f & IFF_UP) || (f & IFF_LOOPBACK) || !(f & IFF_BROADCAST) || !i->ifa_broadaddr) continue;
    memset(&out[n], 0, sizeof out[n]);
    strncpy(out[n].name, i->ifa_name, sizeof out[n].name - 1);
    out[n].address = ((const struct sockaddr_in *)(const void *)i->ifa_addr)->sin_addr;
    out[n].broadcast = ((const struct sockaddr_in *)(const void *)i->ifa_broadaddr)->sin_addr;
    n++;
  }
  freeifaddrs(all);
  return n;
}
