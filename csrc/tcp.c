/* tcp.c: non-blocking IPv4 TCP client sockets (contracts in tcp.h). */
#include "tcp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static int is_again(int e) { return e == EAGAIN || e == EWOULDBLOCK; }

int tcp_connect(struct in_addr ip, unsigned port, int *fd, int *err) {
  struct sockaddr_in sa;
  int s, one = 1, rc;
  *fd = -1;
  if (port < 1 || port > 65535) {
    *err = EINVAL;
    return NET_ERROR;
  }
  s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s < 0) {
    *err = errno;
    return NET_ERROR;
  }
  if (setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) goto fail;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr = ip;
  sa.sin_port = htons((uint16_t)port);
  rc = connect(s, (struct sockaddr *)&sa, sizeof sa);
  if (rc == 0) {
    *fd = s;
    return NET_OK;
  }
  /* EINTR: the connect goes on in the background, as if EINPROGRESS;
   * calling connect() again would only say EALREADY. */
  if (errno == EINPROGRESS || errno == EINTR) {
    *fd = s;
    return NET_AGAIN;
  }
fail:
  *err = errno;
  close(s);
  return NET_ERROR;
}

int tcp_connect_ipv4(const char *ip, unsigned port, int *fd, int *err) {
  struct in_addr a;
  *fd = -1;
  if (!ip || net_ipv4_parse(ip, &a) != 0) {
    *err = EINVAL;
    return NET_ERROR;
  }
  return tcp_connect(a, port, fd, err);
}

int tcp_host_name_ok(const char *name, const char **why) {
  size_t i, n = name ? strlen(name) : 0;
  if (n == 0 || n > 253) {
    *why = "not a host name";
    return -1;
  }
  for (i = 0; i < n; i++) {
    char c = name[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_' || c == '.')) {
      *why = "not a host name (letters, digits, '-', '_' and '.' only)";
      return -1;
    }
  }
  return 0;
}

int tcp_resolve_ipv4(const char *name, struct in_addr *out, const char **why) {
  struct addrinfo hints, *res = NULL;
  int rc;
  if (tcp_host_name_ok(name, why) != 0) return -1;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  rc = getaddrinfo(name, NULL, &hints, &res);
  if (rc != 0 || !res) {
    *why = rc == EAI_NONAME ? "no such host (or no IPv4 address for it)"
         : rc == EAI_AGAIN ? "the name server did not answer" : "the name could not be resolved";
    if (res) freeaddrinfo(res);
    return -1;
  }
  *out = ((const struct sockaddr_in *)(const void *)res->ai_addr)->sin_addr;
  freeaddrinfo(res);
  return 0;
}

int tcp_connected(int fd, int *err) {
  struct sockaddr_in sa;
  socklen_t len = sizeof(int);
  int e = 0;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0) {
    *err = errno;
    return NET_ERROR;
  }
  if (e != 0) {
    *err = e;
    return NET_ERROR;
  }
  /* No error yet: connected, or still trying. A peer address says which. */
  len = sizeof sa;
  if (getpeername(fd, (struct sockaddr *)&sa, &len) == 0) return NET_OK;
  if (errno == ENOTCONN) return NET_AGAIN;
  *err = errno;
  return NET_ERROR;
}

int tcp_send(int fd, const void *buf, size_t len, size_t *sent, int *err) {
  ssize_t n;
  *sent = 0;
  if (len == 0) return NET_OK;
  /* MSG_NOSIGNAL: a camera that hung up is an error to report, not a
   * signal that ends the process. */
  do n = send(fd, buf, len, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n >= 0) {
    *sent = (size_t)n;
    return NET_OK;
  }
  if (is_again(errno)) return NET_AGAIN;
  *err = errno;
  return NET_ERROR;
}

int tcp_recv(int fd, void *buf, size_t cap, size_t *got, int *err) {
  ssize_t n;
  *got = 0;
  /* MSG_DONTWAIT: never blocks, even on a descriptor someone left in
   * blocking mode (lua_demux.c reads any socket it is given). */
  do n = recv(fd, buf, cap, MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  if (n >= 0) {
    *got = (size_t)n;
    return NET_OK;
  }
  if (is_again(errno)) return NET_AGAIN;
  *err = errno;
  return NET_ERROR;
}

int tcp_unacked(int fd, size_t *n, int *err) {
  int q = 0;
  *n = 0;
  if (ioctl(fd, SIOCOUTQ, &q) != 0) {
    *err = errno;
    return NET_ERROR;
  }
  *n = q > 0 ? (size_t)q : 0;
  return NET_OK;
}

void tcp_close(int fd) {
  if (fd >= 0) close(fd);
}
