/* resolve.c: host name lookups in threads of their own (contracts in
 * resolve.h). */
#define _GNU_SOURCE
#include "resolve.h"

#include "tcp.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* What a thread sends: a whole message (SOCK_SEQPACKET), read at once. */
struct result {
  int rc;
  struct in_addr addr;
  const char *why; /* static: the same process reads it */
};

struct job {
  resolve_fn fn;
  int fd; /* the thread's end */
  char name[256];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int in_flight;

int resolve_in_flight(void) {
  int n;
  pthread_mutex_lock(&lock);
  n = in_flight;
  pthread_mutex_unlock(&lock);
  return n;
}

static void *run(void *arg) {
  struct job *j = arg;
  struct result r;
  memset(&r, 0, sizeof r);
  r.why = "the name could not be resolved";
  r.rc = j->fn(j->name, &r.addr, &r.why);
  /* Nobody may be listening any more: then this fails, quietly. */
  (void)send(j->fd, &r, sizeof r, MSG_NOSIGNAL | MSG_DONTWAIT);
  close(j->fd);
  free(j);
  pthread_mutex_lock(&lock);
  in_flight--;
  pthread_mutex_unlock(&lock);
  return NULL;
}

/* Keeps the object holding this code loaded until the process ends: a
 * Lua state that closes unloads its C modules, and a thread still in
 * getaddrinfo would return into unmapped code. Once, and harmless where
 * it fails (a program linked statically, as the tests are). */
static pthread_once_t pinned = PTHREAD_ONCE_INIT;
static void pin(void) {
  Dl_info info;
  if (dladdr((void *)&resolve_start, &info) && info.dli_fname)
    (void)dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}

void resolve_pin(void) {
  pthread_once(&pinned, pin);
}

int resolve_start(const char *name, resolve_fn fn, int *fd, const char **why) {
  int sv[2], rc, full;
  struct job *j;
  pthread_t t;
  pthread_attr_t attr;
  sigset_t all, old;
  *fd = -1;
  if (tcp_host_name_ok(name, why) != 0) return -1;
  resolve_pin();
  pthread_mutex_lock(&lock);
  full = in_flight >= RESOLVE_MAX_IN_FLIGHT;
  if (!full) in_flight++;
  pthread_mutex_unlock(&lock);
  if (full) {
    *why = "too many name lookups in progress (the system's resolver is slow)";
    return -1;
  }
  j = calloc(1, sizeof *j);
  if (!j) goto fail;
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) != 0) goto fail;
  j->fn = fn ? fn : tcp_resolve_ipv4;
  j->fd = sv[1];
  memcpy(j->name, name, strlen(name) + 1); /* at most 253 bytes: checked above */
  if (pthread_attr_init(&attr) != 0) goto fail_fds;
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  /* Signals stay with the program's own threads. */
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  rc = pthread_create(&t, &attr, run, j);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&attr);
  if (rc != 0) goto fail_fds;
  *fd = sv[0];
  return 0;
fail_fds:
  close(sv[0]);
  close(sv[1]);
fail:
  free(j);
  pthread_mutex_lock(&lock);
  in_flight--;
  pthread_mutex_unlock(&lock);
  *why = "no thread or descriptor for a name lookup";
  return -1;
}

int resolve_take(int fd, struct in_addr *out, const char **why) {
  struct result r;
  ssize_t n;
  do n = recv(fd, &r, sizeof r, MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return RESOLVE_AGAIN;
  if (n != (ssize_t)sizeof r) {
    *why = "the lookup ended without an answer";
    return -1;
  }
  if (r.rc != 0) {
    *why = r.why ? r.why : "the name could not be resolved";
    return -1;
  }
  *out = r.addr;
  return 0;
}

void resolve_close(int fd) {
  if (fd >= 0) close(fd);
}
