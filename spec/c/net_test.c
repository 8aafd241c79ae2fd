/* net_test.c: UDP sockets of net.c on the loopback interface only: strict
 * address parsing, "again" on an empty socket, a datagram each way, and a
 * datagram longer than the buffer cut to it. */
#include "check.h"
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

static void wait_readable(int fd) {
  struct pollfd p;
  p.fd = fd;
  p.events = POLLIN;
  p.revents = 0;
  CHECK(poll(&p, 1, 2000) == 1);
}

int main(void) {
  net_udp_options o;
  struct in_addr ip, lo, from;
  unsigned pa, pb, port;
  int a, b, err = 0, n;
  char buf[64], s[INET_ADDRSTRLEN];
  size_t got = 0;
  net_iface ifs[16];

  CHECK(net_ipv4_parse("127.0.0.1", &lo) == 0);
  CHECK(net_ipv4_parse("192.0.2.7", &ip) == 0 && ip.s_addr == htonl(0xC0000207));
  CHECK(net_ipv4_parse("127.1", &ip) != 0);       /* shorthand refused */
  CHECK(net_ipv4_parse("0x7f.0.0.1", &ip) != 0);  /* hex refused */
  CHECK(net_ipv4_parse("localhost", &ip) != 0);   /* names refused */
  CHECK(net_ipv4_parse("256.0.0.1", &ip) != 0);
  net_ipv4_format(lo, s, sizeof s);
  CHECK(strcmp(s, "127.0.0.1") == 0);

  memset(&o, 0, sizeof o);
  o.address = "127.0.0.1.5";
  CHECK(net_udp_open(&o, &err) == -1 && err == EINVAL);
  o.address = "127.0.0.1";
  o.port = 70000;
  CHECK(net_udp_open(&o, &err) == -1 && err == EINVAL);
  o.port = 0;
  o.rcvbuf = 1 << 20;
  o.broadcast = 1;
  a = net_udp_open(&o, &err);
  CHECK(a >= 0);
  b = net_udp_open(&o, &err);
  CHECK(b >= 0);
  CHECK(net_sockname(a, &ip, &pa, &err) == 0 && ip.s_addr == lo.s_addr && pa != 0);
  CHECK(net_sockname(b, &ip, &pb, &err) == 0 && pb != 0 && pb != pa);

  CHECK(net_recvfrom(a, buf, sizeof buf, &got, &from, &port, &err) == NET_AGAIN);

  CHECK(net_sendto(a, "hello", 5, lo, pb, &err) == NET_OK);
  wait_readable(b);
  CHECK(net_recvfrom(b, buf, sizeof buf, &got, &from, &port, &err) == NET_OK);
  CHECK(got == 5 && memcmp(buf, "hello", 5) == 0);
  CHECK(from.s_addr == lo.s_addr && port == pa);

  /* Cut to the buffer, like recvfrom(2); the rest of the datagram is gone. */
  CHECK(net_sendto(b, "0123456789", 10, lo, pa, &err) == NET_OK);
  wait_readable(a);
  CHECK(net_recvfrom(a, buf, 4, &got, &from, &port, &err) == NET_OK);
  CHECK(got == 4 && memcmp(buf, "0123", 4) == 0 && port == pb);
  CHECK(net_recvfrom(a, buf, sizeof buf, &got, &from, &port, &err) == NET_AGAIN);

  close(a);
  close(b);

  /* Whatever the machine has; loopback never appears. */
  n = net_ipv4_broadcasts(ifs, 16, &err);
  CHECK(n >= 0 && n <= 16);
  while (n-- > 0) CHECK(strcmp(ifs[n].name, "lo") != 0 && ifs[n].name[0] != '\0');
  DONE("net_test");
}
