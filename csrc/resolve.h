/* resolve.h: host name lookups that never block the caller, for the
 * stream port (docs/design.md, "Host names without blocking").
 *
 * getaddrinfo() blocks for as long as the system's resolver takes (its
 * own timeout and attempts, /etc/resolv.conf), far past any call's
 * deadline, and with it every task of vigi.run. So each lookup runs in a
 * thread of its own, and its result comes back through a socket the
 * caller polls like any other (lua/vigi/wait.lua):
 *
 *   int fd;
 *   resolve_start("camera.lan", NULL, &fd, &why);   thread started
 *   ... wait until fd is readable, or the deadline ...
 *   resolve_take(fd, &addr, &why);     RESOLVE_AGAIN until it is done
 *   resolve_close(fd);                 always, done or given up
 *
 * Ownership: the thread owns a copy of the name and its end of a
 * socketpair; the caller owns fd. A caller that gives up (its deadline)
 * closes fd and goes on at once; the thread, when the resolver returns,
 * finds nobody to tell (its send fails quietly: MSG_NOSIGNAL), frees what
 * it holds and ends. No thread is ever joined or cancelled. The library
 * holding this code stays loaded until the process ends (resolve_pin), so
 * that a Lua state closed while a lookup runs does not unmap the code the
 * thread returns into.
 *
 * At most RESOLVE_MAX_IN_FLIGHT lookups run at once in the process
 * (given up ones included, until their resolver returns); one more is
 * refused at once. The result is the name's first IPv4 address.
 *
 * Plain C: no lua.h. */
#ifndef VIGI_RESOLVE_H
#define VIGI_RESOLVE_H

#include <netinet/in.h>

#define RESOLVE_MAX_IN_FLIGHT 32
#define RESOLVE_AGAIN 1

/* How a thread looks a name up: 0 with *out, or -1 with a static
 * message in *why. tcp_resolve_ipv4 (tcp.h) unless the caller passes
 * another (tests pass a slow one, so that no test needs a slow DNS). */
typedef int (*resolve_fn)(const char *name, struct in_addr *out, const char **why);

/* Starts a lookup of name (checked first as tcp.h's host names are:
 * anything else is refused without a thread). 0 with *fd to poll for
 * reading, or -1 with a static message in *why (a bad name, too many
 * lookups in flight, no thread or descriptor to be had). */
int resolve_start(const char *name, resolve_fn fn, int *fd, const char **why);

/* The result, once fd is readable: 0 with *out, -1 with *why (the
 * resolver's answer, or the thread's end without one), or RESOLVE_AGAIN
 * while the lookup runs. Reads the result once: call it until it is not
 * RESOLVE_AGAIN, then resolve_close. */
int resolve_take(int fd, struct in_addr *out, const char **why);

/* The caller is done with fd (the result taken, or the lookup given up). */
void resolve_close(int fd);

/* Lookups whose thread has not ended yet (for tests and limits). */
int resolve_in_flight(void);

/* Keeps the object holding this code (and so what it links, libcurl
 * with its own resolver threads) loaded until the process ends. Called
 * when the Lua module opens, and by resolve_start; idempotent. */
void resolve_pin(void);

#endif
