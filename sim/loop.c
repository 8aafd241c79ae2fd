/* The poll loop: see loop.h for the contracts. */
#define _GNU_SOURCE
#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct io {
	loop_io_fn fn;      /* NULL = free slot */
	void *arg;
	size_t pidx;        /* index in loop.pfds */
	unsigned gen;       /* changes on every add, to spot a reused fd */
};

struct ready {
	int fd;
	unsigned gen;
	unsigned revents;
};

struct loop {
	struct io *ios;         /* indexed by fd */
	size_t nios;
	struct pollfd *pfds;    /* the compact poll set */
	size_t npfds, cappfds;
	struct ready *ready;    /* the revents of one round, copied out */
	size_t capready;
	struct loop_timer **heap;
	size_t nheap, capheap;
	unsigned gen;
	uint64_t now;
	int stopping;
	int sigpipe[2];
};

/* Signals reach the loop through a pipe, so that a signal arriving just
 * before poll() still wakes it. One loop per process catches signals. */
static int signal_fd = -1;

uint64_t loop_clock_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t loop_now(const struct loop *lp)
{
	return lp->now;
}

struct loop *loop_new(void)
{
	struct loop *lp = calloc(1, sizeof *lp);
	if (!lp)
		return NULL;
	lp->now = loop_clock_ms();
	lp->sigpipe[0] = lp->sigpipe[1] = -1;
	return lp;
}

void loop_free(struct loop *lp)
{
	if (!lp)
		return;
	if (lp->sigpipe[0] >= 0) {
		signal_fd = -1;
		close(lp->sigpipe[0]);
		close(lp->sigpipe[1]);
	}
	free(lp->ios);
	free(lp->pfds);
	free(lp->ready);
	free(lp->heap);
	free(lp);
}

/* ---- fds ---- */

int loop_io_add(struct loop *lp, int fd, unsigned events, loop_io_fn fn, void *arg)
{
	if (fd < 0 || !fn)
		return -1;
	if ((size_t)fd >= lp->nios) {
		size_t n = lp->nios ? lp->nios : 64;
		while (n <= (size_t)fd)
			n *= 2;
		struct io *ios = realloc(lp->ios, n * sizeof *ios);
		if (!ios)
			return -1;
		memset(ios + lp->nios, 0, (n - lp->nios) * sizeof *ios);
		lp->ios = ios;
		lp->nios = n;
	}
	if (lp->ios[fd].fn)
		return -1;
	if (lp->npfds == lp->cappfds) {
		size_t n = lp->cappfds ? lp->cappfds * 2 : 64;
		struct pollfd *p = realloc(lp->pfds, n * sizeof *p);
		if (!p)
			return -1;
		lp->pfds = p;
		lp->cappfds = n;
	}
	lp->pfds[lp->npfds].fd = fd;
	lp->pfds[lp->npfds].events = (short)events;
	lp->pfds[lp->npfds].revents = 0;
	lp->ios[fd].fn = fn;
	lp->ios[fd].arg = arg;
	lp->ios[fd].pidx = lp->npfds;
	lp->ios[fd].gen = ++lp->gen;
	lp->npfds++;
	return 0;
}

static struct io *io_of(struct loop *lp, int fd)
{
	if (fd < 0 || (size_t)fd >= lp->nios || !lp->ios[fd].fn)
		return NULL;
	return &lp->ios[fd];
}

void loop_io_set(struct loop *lp, int fd, unsigned events)
{
	struct io *io = io_of(lp, fd);
	if (io)
		lp->pfds[io->pidx].events = (short)events;
}

void loop_io_del(struct loop *lp, int fd)
{
	struct io *io = io_of(lp, fd);
	if (!io)
		return;
	size_t i = io->pidx, last = lp->npfds - 1;
	if (i != last) {
		lp->pfds[i] = lp->pfds[last];
		lp->ios[lp->pfds[i].fd].pidx = i;
	}
	lp->npfds--;
	io->fn = NULL;
	io->arg = NULL;
}

/* ---- timers: a binary min-heap of pointers, each timer knows its slot ---- */

static void heap_place(struct loop *lp, size_t i, struct loop_timer *t)
{
	lp->heap[i] = t;
	t->slot = i + 1;
}

static void heap_up(struct loop *lp, size_t i)
{
	struct loop_timer *t = lp->heap[i];
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (lp->heap[parent]->due <= t->due)
			break;
		heap_place(lp, i, lp->heap[parent]);
		i = parent;
	}
	heap_place(lp, i, t);
}

static void heap_down(struct loop *lp, size_t i)
{
	struct loop_timer *t = lp->heap[i];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= lp->nheap)
			break;
		if (c + 1 < lp->nheap && lp->heap[c + 1]->due < lp->heap[c]->due)
			c++;
		if (t->due <= lp->heap[c]->due)
			break;
		heap_place(lp, i, lp->heap[c]);
		i = c;
	}
	heap_place(lp, i, t);
}

void loop_timer_init(struct loop_timer *t, loop_timer_fn fn, void *arg)
{
	t->due = 0;
	t->slot = 0;
	t->fn = fn;
	t->arg = arg;
}

int loop_timer_running(const struct loop_timer *t)
{
	return t->slot != 0;
}

void loop_timer_stop(struct loop *lp, struct loop_timer *t)
{
	if (!t->slot)
		return;
	size_t i = t->slot - 1;
	t->slot = 0;
	lp->nheap--;
	if (i == lp->nheap)
		return;
	struct loop_timer *moved = lp->heap[lp->nheap];
	heap_place(lp, i, moved);
	heap_up(lp, i);
	heap_down(lp, moved->slot - 1);
}

void loop_timer_start(struct loop *lp, struct loop_timer *t, uint64_t ms)
{
	loop_timer_stop(lp, t);
	if (lp->nheap == lp->capheap) {
		size_t n = lp->capheap ? lp->capheap * 2 : 64;
		struct loop_timer **h = realloc(lp->heap, n * sizeof *h);
		if (!h)
			abort(); /* a timer that silently never fires is worse */
		lp->heap = h;
		lp->capheap = n;
	}
	t->due = lp->now + ms;
	heap_place(lp, lp->nheap, t);
	lp->nheap++;
	heap_up(lp, lp->nheap - 1);
}

/* Run the timers that are due; at most as many as were queued when the
 * round began, so that a timer restarted with 0 ms cannot starve the fds. */
static void run_timers(struct loop *lp)
{
	size_t budget = lp->nheap;
	while (budget-- > 0 && lp->nheap > 0 && lp->heap[0]->due <= lp->now) {
		struct loop_timer *t = lp->heap[0];
		loop_timer_stop(lp, t);
		t->fn(t->arg);
		if (lp->stopping)
			return;
	}
}

static int poll_timeout(const struct loop *lp)
{
	if (lp->nheap == 0)
		return -1;
	uint64_t due = lp->heap[0]->due;
	if (due <= lp->now)
		return 0;
	uint64_t d = due - lp->now;
	return d > 60000 ? 60000 : (int)d;
}

/* ---- signals ---- */

static void on_signal(int sig)
{
	int saved = errno;
	if (signal_fd >= 0) {
		char c = (char)sig;
		ssize_t r = write(signal_fd, &c, 1);
		(void)r;
	}
	errno = saved;
}

static void on_sigpipe_readable(void *arg, int fd, unsigned revents)
{
	struct loop *lp = arg;
	char buf[64];
	(void)revents;
	while (read(fd, buf, sizeof buf) > 0)
		;
	lp->stopping = 1;
}

int loop_catch_signals(struct loop *lp)
{
	if (lp->sigpipe[0] < 0) {
		if (pipe2(lp->sigpipe, O_NONBLOCK | O_CLOEXEC) < 0)
			return -1;
		if (loop_io_add(lp, lp->sigpipe[0], POLLIN, on_sigpipe_readable, lp) < 0)
			return -1;
		signal_fd = lp->sigpipe[1];
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0)
		return -1;
	sa.sa_handler = SIG_IGN;
	return sigaction(SIGPIPE, &sa, NULL);
}

/* ---- the loop ---- */

void loop_stop(struct loop *lp)
{
	lp->stopping = 1;
}

int loop_run(struct loop *lp)
{
	lp->stopping = 0;
	while (!lp->stopping) {
		lp->now = loop_clock_ms();
		run_timers(lp);
		if (lp->stopping)
			break;
		int n = poll(lp->pfds, (nfds_t)lp->npfds, poll_timeout(lp));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		lp->now = loop_clock_ms();
		if (n == 0)
			continue;
		if ((size_t)n > lp->capready) {
			struct ready *r = realloc(lp->ready, (size_t)n * sizeof *r);
			if (!r)
				return -1;
			lp->ready = r;
			lp->capready = (size_t)n;
		}
		size_t nr = 0;
		for (size_t i = 0; i < lp->npfds && nr < (size_t)n; i++) {
			if (!lp->pfds[i].revents)
				continue;
			int fd = lp->pfds[i].fd;
			lp->ready[nr].fd = fd;
			lp->ready[nr].gen = lp->ios[fd].gen;
			lp->ready[nr].revents = (unsigned)lp->pfds[i].revents;
			nr++;
		}
		for (size_t i = 0; i < nr && !lp->stopping; i++) {
			struct io *io = io_of(lp, lp->ready[i].fd);
			if (!io || io->gen != lp->ready[i].gen)
				continue;
			io->fn(io->arg, lp->ready[i].fd, lp->ready[i].revents);
		}
	}
	return 0;
}
