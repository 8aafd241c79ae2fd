/* tcp_test.c: TCP client sockets of tcp.c on the loopback interface only,
 * against a listener the test opens itself: connect (in progress, then
 * finished), options, "again" on an empty socket, data both ways, sends
 * into a full socket (and what waits unacknowledged), end of stream, a peer gone (EPIPE, no
 * SIGPIPE), and a refused connection to a closed port. */
#include "check.h"
#include "tcp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int wait_for(int fd, short events) {
  struct pollfd p;
  p.fd = fd;
  p.events = events;
  p.revents = 0;
  return poll(&p, 1, 2000);
}

/* A listening socket on 127.0.0.1 and a port the system chose. */
static int listener(unsigned *port) {
  struct sockaddr_in sa;
  socklen_t len = sizeof sa;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(fd >= 0);
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK(bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
  CHECK(listen(fd, 4) == 0);
  CHECK(getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
  *port = ntohs(sa.sin_port);
  return fd;
}

/* Connects to 127.0.0.1:port and waits until the connect is over. */
static int connect_to(unsigned port, int *err) {
  int fd = -1, rc = tcp_connect_ipv4("127.0.0.1", port, &fd, err);
  if (rc == NET_ERROR) return -1;
  CHECK(fd >= 0);
  while (rc == NET_AGAIN) {
    CHECK(wait_for(fd, POLLOUT) == 1);
    rc = tcp_connected(fd, err);
  }
  if (rc == NET_ERROR) {
    tcp_close(fd);
    return -1;
  }
  return fd;
}

static void refused(void) {
  unsigned port;
  int l = listener(&port), fd = -1, err = 0, rc;
  close(l); /* nobody listens there now */
  rc = tcp_connect_ipv4("127.0.0.1", port, &fd, &err);
  if (rc == NET_AGAIN) {
    CHECK(wait_for(fd, POLLOUT) == 1);
    rc = tcp_connected(fd, &err);
    tcp_close(fd);
  }
  CHECK(rc == NET_ERROR && err == ECONNREFUSED);
  err = 0;
  CHECK(connect_to(port, &err) == -1 && err == ECONNREFUSED);
}

static void bad_addresses(void) {
  struct in_addr lo;
  int fd = 7, err = 0;
  CHECK(tcp_connect_ipv4("localhost", 80, &fd, &err) == NET_ERROR && err == EINVAL && fd == -1);
  CHECK(tcp_connect_ipv4("127.1", 80, &fd, &err) == NET_ERROR && err == EINVAL);
  CHECK(tcp_connect_ipv4(NULL, 80, &fd, &err) == NET_ERROR && err == EINVAL);
  CHECK(net_ipv4_parse("127.0.0.1", &lo) == 0);
  err = 0;
  CHECK(tcp_connect(lo, 0, &fd, &err) == NET_ERROR && err == EINVAL && fd == -1);
  CHECK(tcp_connect(lo, 65536, &fd, &err) == NET_ERROR && err == EINVAL);
  tcp_close(-1); /* ignored */
}

/* Names: only "localhost" is looked up (from /etc/hosts; nothing leaves
 * the machine); the others are refused before any lookup. */
static void names(void) {
  struct in_addr a;
  const char *why = NULL;
  char s[INET_ADDRSTRLEN];
  CHECK(tcp_resolve_ipv4("localhost", &a, &why) == 0);
  net_ipv4_format(a, s, sizeof s);
  CHECK(strncmp(s, "127.", 4) == 0);
  CHECK(tcp_resolve_ipv4("a/b", &a, &why) == -1 && why != NULL);
  CHECK(tcp_resolve_ipv4("host:80", &a, &why) == -1);
  CHECK(tcp_resolve_ipv4("", &a, &why) == -1);
  CHECK(tcp_resolve_ipv4(NULL, &a, &why) == -1);
}

static void exchange(void) {
  unsigned port;
  int l = listener(&port), c, s, err = 0, one = 0, flags;
  socklen_t len = sizeof one;
  char buf[256];
  size_t n = 0, total;
  static char big[1 << 16];

  c = connect_to(port, &err);
  CHECK(c >= 0);
  s = accept(l, NULL, NULL);
  CHECK(s >= 0);
  CHECK(tcp_connected(c, &err) == NET_OK); /* asking again is harmless */

  /* Non-blocking, close-on-exec, no Nagle delay. */
  flags = fcntl(c, F_GETFL);
  CHECK(flags >= 0 && (flags & O_NONBLOCK));
  CHECK((fcntl(c, F_GETFD) & FD_CLOEXEC) != 0);
  CHECK(getsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, &len) == 0 && one != 0);

  CHECK(tcp_recv(c, buf, sizeof buf, &n, &err) == NET_AGAIN && n == 0);
  CHECK(tcp_send(c, "", 0, &n, &err) == NET_OK && n == 0);
  CHECK(tcp_unacked(c, &n, &err) == NET_OK && n == 0); /* nothing sent yet */
  CHECK(tcp_unacked(-1, &n, &err) == NET_ERROR && err == EBADF);

  CHECK(tcp_send(c, "MULTITRANS", 10, &n, &err) == NET_OK && n == 10);
  CHECK(wait_for(s, POLLIN) == 1);
  CHECK(recv(s, buf, sizeof buf, 0) == 10 && memcmp(buf, "MULTITRANS", 10) == 0);
  CHECK(send(s, "RTSP/1.0 200 OK", 15, 0) == 15);
  CHECK(wait_for(c, POLLIN) == 1);
  CHECK(tcp_recv(c, buf, 4, &n, &err) == NET_OK && n == 4 && memcmp(buf, "RTSP", 4) == 0);
  CHECK(tcp_recv(c, buf, sizeof buf, &n, &err) == NET_OK && n == 11);
  CHECK(memcmp(buf, "/1.0 200 OK", 11) == 0);

  /* End of stream: got 0 once the peer closed (after what it sent). */
  CHECK(send(s, "bye", 3, 0) == 3);
  close(s);
  CHECK(wait_for(c, POLLIN) == 1);
  CHECK(tcp_recv(c, buf, sizeof buf, &n, &err) == NET_OK && n == 3 && memcmp(buf, "bye", 3) == 0);
  CHECK(wait_for(c, POLLIN) == 1);
  CHECK(tcp_recv(c, buf, sizeof buf, &n, &err) == NET_OK && n == 0);

  tcp_close(c);

  /* A peer that does not read: the socket fills; each send takes what
   * fits, at most what it was given, until "again". */
  c = connect_to(port, &err);
  CHECK(c >= 0);
  s = accept(l, NULL, NULL);
  CHECK(s >= 0);
  memset(big, 'x', sizeof big);
  total = 0;
  for (;;) {
    int rc = tcp_send(c, big, sizeof big, &n, &err);
    if (rc == NET_AGAIN) break;
    CHECK(rc == NET_OK && n >= 1 && n <= sizeof big);
    total += n;
    CHECK(total < (size_t)1 << 30);
  }
  CHECK(total > 0);
  /* What the peer has not acknowledged waits in this side's socket. */
  {
    size_t q = 0;
    CHECK(tcp_unacked(c, &q, &err) == NET_OK && q > 0 && q <= total);
  }
  close(s);

  /* The peer is gone (it reset: it closed with unread data): writing
   * fails with an error, and the process gets no SIGPIPE. */
  {
    int rc, tries = 0;
    do {
      rc = tcp_send(c, "x", 1, &n, &err);
      if (rc != NET_ERROR) usleep(10000);
    } while (rc != NET_ERROR && ++tries < 200);
    CHECK(rc == NET_ERROR && (err == EPIPE || err == ECONNRESET));
  }
  tcp_close(c);
  close(l);
}

int main(void) {
  bad_addresses();
  names();
  exchange();
  refused();
  DONE("tcp_test");
}
