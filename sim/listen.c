/* A listening TCP socket on the loop: bind, accept, hand each socket on.
 * See listen.h. */
#define _GNU_SOURCE
#include "listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

#define ACCEPT_RETRY_MS  100u    /* after EMFILE and friends */
#define ACCEPT_BATCH     128     /* sockets per wake-up, then the loop runs */

static void accept_retry(void *arg)
{
	struct listener *l = arg;
	loop_io_set(l->lp, l->fd, POLLIN);
}

static void accept_ready(void *arg, int fd, unsigned revents)
{
	struct listener *l = arg;
	(void)revents;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				/* Out of fds or memory: pause instead of spinning. */
				sim_log("%s%saccept: %s", l->name ? l->name : "", l->name ? " " : "",
					strerror(errno));
				loop_io_set(l->lp, l->fd, 0);
				loop_timer_start(l->lp, &l->retry, ACCEPT_RETRY_MS);
			}
			return;
		}
		int one = 1;
		setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		l->on_accept(l->arg, cfd);
	}
}

/* The port fd is bound to (port, if the kernel does not say). */
static int bound_port(int fd, int port)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET)
			return ntohs(((struct sockaddr_in *)&ss)->sin_port);
		if (ss.ss_family == AF_INET6)
			return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	return port;
}

int listener_open(struct listener *l, struct loop *lp, const char *address, int port,
		  const char *name, void (*on_accept)(void *arg, int cfd), void *arg,
		  char *err, size_t errsz)
{
	struct addrinfo hints, *res = NULL;
	char portstr[16];
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	snprintf(portstr, sizeof portstr, "%d", port);
	int gai = getaddrinfo(address, portstr, &hints, &res);
	if (gai != 0) {
		snprintf(err, errsz, "bad address %s: %s", address, gai_strerror(gai));
		errno = EINVAL;
		return -1;
	}
	int fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			res->ai_protocol);
	if (fd < 0) {
		int e = errno;
		snprintf(err, errsz, "socket: %s", strerror(e));
		freeaddrinfo(res);
		errno = e;
		return -1;
	}
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, SOMAXCONN) < 0) {
		int e = errno;
		snprintf(err, errsz, "cannot listen%s%s%s on %s port %d: %s", name ? " (" : "",
			 name ? name : "", name ? ")" : "", address, port, strerror(e));
		freeaddrinfo(res);
		close(fd);
		errno = e; /* the caller may try another port on EADDRINUSE */
		return -1;
	}
	freeaddrinfo(res);
	if (loop_io_add(lp, fd, POLLIN, accept_ready, l) < 0) {
		snprintf(err, errsz, "out of memory");
		close(fd);
		errno = ENOMEM;
		return -1;
	}
	l->lp = lp;
	l->fd = fd;
	l->port = bound_port(fd, port);
	l->name = name;
	l->on_accept = on_accept;
	l->arg = arg;
	loop_timer_init(&l->retry, accept_retry, l);
	return 0;
}

void listener_close(struct listener *l)
{
	loop_timer_stop(l->lp, &l->retry);
	loop_io_del(l->lp, l->fd);
	close(l->fd);
}
