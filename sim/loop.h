/* The event loop of vigi-sim: one thread, poll(), fd handlers, timers on a
 * monotonic clock, and SIGINT/SIGTERM turned into a clean stop.
 *
 * Contracts:
 * - An fd handler is called with the poll revents of its fd. It may add,
 *   change or delete any handler (its own included) and start or stop any
 *   timer. A handler deleted during a round is not called again in that
 *   round, even if its fd number is reused at once by a new handler.
 * - A timer is a struct the caller owns (usually embedded in a connection).
 *   It fires once; start it again to repeat. It is taken off the loop before
 *   its callback runs, so the callback may free the memory that holds it.
 * - Times are milliseconds of CLOCK_MONOTONIC. loop_now() is the time at the
 *   start of the current round (cheap); loop_clock_ms() reads the clock.
 */
#ifndef SIM_LOOP_H
#define SIM_LOOP_H

#include <stddef.h>
#include <stdint.h>

struct loop;

/* revents is a mask of POLLIN, POLLOUT, POLLERR, POLLHUP, POLLNVAL. */
typedef void (*loop_io_fn)(void *arg, int fd, unsigned revents);
typedef void (*loop_timer_fn)(void *arg);

struct loop_timer {
	uint64_t due;       /* monotonic ms */
	size_t slot;        /* 1 + index in the heap; 0 = not running */
	loop_timer_fn fn;
	void *arg;
};

struct loop *loop_new(void);
void loop_free(struct loop *lp);

/* Watch fd for events (POLLIN/POLLOUT). Returns 0, or -1 (ENOMEM, or fd
 * already watched). */
int loop_io_add(struct loop *lp, int fd, unsigned events, loop_io_fn fn, void *arg);
void loop_io_set(struct loop *lp, int fd, unsigned events);
void loop_io_del(struct loop *lp, int fd);

void loop_timer_init(struct loop_timer *t, loop_timer_fn fn, void *arg);
/* (Re)start t to fire ms milliseconds from loop_now(). */
void loop_timer_start(struct loop *lp, struct loop_timer *t, uint64_t ms);
void loop_timer_stop(struct loop *lp, struct loop_timer *t);
int loop_timer_running(const struct loop_timer *t);

uint64_t loop_now(const struct loop *lp);
uint64_t loop_clock_ms(void);

/* Make SIGINT and SIGTERM stop loop_run, and ignore SIGPIPE. Returns 0 or -1. */
int loop_catch_signals(struct loop *lp);

/* Run until loop_stop() or a caught signal. Returns 0, or -1 if poll failed. */
int loop_run(struct loop *lp);
void loop_stop(struct loop *lp);

#endif
