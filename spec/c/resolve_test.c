/* resolve_test.c: lookups in threads of their own (resolve.c). A lookup
 * slower than the caller's deadline is a resolver the test injects (it
 * sleeps, then answers a loopback address): no test sends anything to a
 * name server. The only real lookup is "localhost", from /etc/hosts. */
#include "check.h"
#include "net.h"
#include "resolve.h"

#include <arpa/inet.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int readable(int fd, int ms) {
  struct pollfd p;
  p.fd = fd;
  p.events = POLLIN;
  p.revents = 0;
  return poll(&p, 1, ms);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A resolver slower than any deadline here: 1.5 s, then 127.0.0.7. */
static int slow(const char *name, struct in_addr *out, const char **why) {
  (void)name;
  (void)why;
  usleep(1500 * 1000);
  return inet_pton(AF_INET, "127.0.0.7", out) == 1 ? 0 : -1;
}

static int fast_fail(const char *name, struct in_addr *out, const char **why) {
  (void)name;
  (void)out;
  *why = "no such host (test)";
  return -1;
}

/* Waits until every thread has ended (up to 5 s). */
static int drained(void) {
  double end = now() + 5;
  while (resolve_in_flight() > 0 && now() < end) usleep(10 * 1000);
  return resolve_in_flight() == 0;
}

static void localhost(void) {
  int fd = -1;
  const char *why = NULL;
  struct in_addr a;
  char s[INET_ADDRSTRLEN];
  CHECK(resolve_start("localhost", NULL, &fd, &why) == 0 && fd >= 0);
  CHECK(readable(fd, 5000) == 1);
  CHECK(resolve_take(fd, &a, &why) == 0);
  net_ipv4_format(a, s, sizeof s);
  CHECK(strncmp(s, "127.", 4) == 0);
  resolve_close(fd);
  CHECK(drained());
}

/* The caller's deadline comes first: it gives up at once, without
 * blocking, and the thread ends by itself later. */
static void slower_than_the_deadline(void) {
  int fd = -1;
  const char *why = NULL;
  struct in_addr a;
  double t0 = now();
  CHECK(resolve_start("camera.test", slow, &fd, &why) == 0);
  CHECK(now() - t0 < 0.1);             /* starting never waits */
  CHECK(readable(fd, 200) == 0);       /* the deadline: 200 ms */
  CHECK(resolve_take(fd, &a, &why) == RESOLVE_AGAIN);
  resolve_close(fd);                   /* given up */
  CHECK(now() - t0 < 0.5);
  CHECK(resolve_in_flight() == 1);     /* still in the resolver */
  CHECK(drained());                    /* and gone once it returned */
  CHECK(now() - t0 > 1.4);
}

/* Waited for to the end, the slow one answers. */
static void slow_but_waited_for(void) {
  int fd = -1;
  const char *why = NULL;
  struct in_addr a;
  char s[INET_ADDRSTRLEN];
  CHECK(resolve_start("camera.test", slow, &fd, &why) == 0);
  CHECK(readable(fd, 5000) == 1);
  CHECK(resolve_take(fd, &a, &why) == 0);
  net_ipv4_format(a, s, sizeof s);
  CHECK(strcmp(s, "127.0.0.7") == 0);
  resolve_close(fd);
  CHECK(drained());
}

static void failures(void) {
  int fd = -1;
  const char *why = NULL;
  struct in_addr a;
  CHECK(resolve_start("camera.test", fast_fail, &fd, &why) == 0);
  CHECK(readable(fd, 5000) == 1);
  CHECK(resolve_take(fd, &a, &why) == -1 && strcmp(why, "no such host (test)") == 0);
  resolve_close(fd);
  /* names refused before any thread */
  why = NULL;
  CHECK(resolve_start("a/b", slow, &fd, &why) == -1 && fd == -1 && why != NULL);
  CHECK(resolve_start("host:80", slow, &fd, &why) == -1);
  CHECK(resolve_start("", slow, &fd, &why) == -1);
  CHECK(resolve_start(NULL, slow, &fd, &why) == -1);
  CHECK(drained());
}

/* At most RESOLVE_MAX_IN_FLIGHT at once; one more is refused at once. */
static void bounded(void) {
  int fds[RESOLVE_MAX_IN_FLIGHT], fd = -1, i;
  const char *why = NULL;
  for (i = 0; i < RESOLVE_MAX_IN_FLIGHT; i++) CHECK(resolve_start("camera.test", slow, &fds[i], &why) == 0);
  CHECK(resolve_in_flight() == RESOLVE_MAX_IN_FLIGHT);
  CHECK(resolve_start("camera.test", slow, &fd, &why) == -1 && fd == -1);
  CHECK(strstr(why, "too many") != NULL);
  for (i = 0; i < RESOLVE_MAX_IN_FLIGHT; i++) resolve_close(fds[i]);
  CHECK(drained());
  CHECK(resolve_start("localhost", NULL, &fd, &why) == 0); /* room again */
  resolve_close(fd);
  CHECK(drained());
}

int main(void) {
  localhost();
  slower_than_the_deadline();
  slow_but_waited_for();
  failures();
  bounded();
  DONE("resolve");
}
