/* A listening TCP socket on the loop, shared by the HTTPS control port
 * (httpd.c) and the stream port (stream.c): bind, accept in batches,
 * TCP_NODELAY on every accepted socket, and a pause (ACCEPT_RETRY_MS)
 * instead of a busy loop when accept fails for want of fds or memory.
 *
 * The struct is owned by the caller (usually embedded in its server) and
 * must stay put while open. on_accept(arg, cfd) gets each new socket,
 * non-blocking and close-on-exec; from then on cfd is the callee's (to
 * close if it cannot take it).
 */
#ifndef SIM_LISTEN_H
#define SIM_LISTEN_H

#include <stddef.h>

#include "loop.h"

struct listener {
	struct loop *lp;
	int fd;
	int port;                       /* the bound one (for port 0: the one picked) */
	const char *name;               /* log and message tag ("stream"), or NULL */
	struct loop_timer retry;
	void (*on_accept)(void *arg, int cfd);
	void *arg;
};

/* Listen on address:port (port 0 = any free port). Returns 0, or -1 with a
 * message in err and errno set (EADDRINUSE when the port is taken on that
 * address, so that the caller may try another). */
int listener_open(struct listener *l, struct loop *lp, const char *address, int port,
		  const char *name, void (*on_accept)(void *arg, int cfd), void *arg,
		  char *err, size_t errsz);

/* Stop listening and close the socket (accepted sockets are not touched). */
void listener_close(struct listener *l);

#endif
