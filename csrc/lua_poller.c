/* lua_poller.c: class "vigi.poller", the readiness source of vigi.run
 * (lua/vigi/run.lua): one epoll instance for every socket the runner's
 * tasks wait on, so that a wait costs the sockets that changed, not all
 * of them (a thousand subscriptions are a thousand sockets).
 *
 *   local p = core.poller()
 *   p:watch(fd, events)        events: 1 read, 2 write (or both); one-shot:
 *                              reported once, then watch again to re-arm
 *   p:unwatch(fd)              forget it (closing the fd forgets it too)
 *   p:wait(timeout, out) -> n  ready sockets, out[2i-1] = fd, out[2i] = what
 *                              (1 readable, 2 writable, 4 error or hang-up);
 *                              timeout in seconds, negative: none
 *                              (NaN or infinite: an argument error)
 *   p:fd()                     the epoll descriptor: readable when a socket
 *                              is ready, so another loop can wait on the
 *                              whole runner at once
 *   p:close()                  also __gc, __close; safe twice
 *
 * Waiting here is the runner's, through wait.lua's design: nothing else
 * calls p:wait. Linux (epoll). */
#include "lua_aux.h"
#include "lua_sock.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define CLASS "vigi.poller"
/* Ready sockets taken per wait; more stay ready for the next one. */
#define BATCH 256

typedef struct {
  vigi_object o;
  int ep;
} lpoller;

static lpoller *check(lua_State *L) { return vigi_checkopen(L, 1, CLASS); }

static int l_new(lua_State *L) {
  lpoller *p = vigi_newobject(L, CLASS, sizeof *p);
  p->ep = epoll_create1(EPOLL_CLOEXEC);
  if (p->ep < 0) return vigi_sock_fail(L, errno);
  return 1;
}

static int l_watch(lua_State *L) {
  lpoller *p = check(L);
  int fd = (int)luaL_checkinteger(L, 2);
  lua_Integer ev = luaL_checkinteger(L, 3);
  struct epoll_event e;
  luaL_argcheck(L, fd >= 0, 2, "not a descriptor");
  luaL_argcheck(L, ev >= 1 && ev <= 3, 3, "1 (read), 2 (write) or 3");
  memset(&e, 0, sizeof e);
  e.events = EPOLLONESHOT | (ev & 1 ? EPOLLIN : 0) | (ev & 2 ? EPOLLOUT : 0);
  e.data.fd = fd;
  /* Re-arming is the common case; a descriptor closed since (or new)
   * is not in the set any more and is added. */
  if (epoll_ctl(p->ep, EPOLL_CTL_MOD, fd, &e) == 0 ||
      (errno == ENOENT && epoll_ctl(p->ep, EPOLL_CTL_ADD, fd, &e) == 0)) {
    lua_pushboolean(L, 1);
    return 1;
  }
  return vigi_sock_fail(L, errno);
}

static int l_unwatch(lua_State *L) {
  lpoller *p = check(L);
  int fd = (int)luaL_checkinteger(L, 2);
  struct epoll_event e;
  memset(&e, 0, sizeof e);
  /* Not watched, or already closed: nothing to forget. */
  (void)epoll_ctl(p->ep, EPOLL_CTL_DEL, fd, &e);
  return 0;
}

static int l_wait(lua_State *L) {
  lpoller *p = check(L);
  int ms = vigi_wait_ms(L, 2);
  struct epoll_event ev[BATCH];
  int n, i;
  luaL_checktype(L, 3, LUA_TTABLE);
  n = epoll_wait(p->ep, ev, BATCH, ms);
  if (n < 0) {
    if (errno != EINTR) return vigi_sock_fail(L, errno);
    n = 0;
  }
  for (i = 0; i < n; i++) {
    unsigned what = (ev[i].events & EPOLLIN ? 1u : 0) | (ev[i].events & EPOLLOUT ? 2u : 0) |
                    (ev[i].events & (EPOLLERR | EPOLLHUP) ? 4u : 0);
    lua_pushinteger(L, ev[i].data.fd);
    lua_rawseti(L, 3, 2 * i + 1);
    lua_pushinteger(L, what);
    lua_rawseti(L, 3, 2 * i + 2);
  }
  lua_pushinteger(L, n);
  return 1;
}

static int l_fd(lua_State *L) {
  lua_pushinteger(L, check(L)->ep);
  return 1;
}

static int l_close(lua_State *L) {
  lpoller *p = vigi_closing(L, CLASS);
  if (p && p->ep >= 0) close(p->ep);
  return 0;
}

static int l_tostring(lua_State *L) {
  lpoller *p = vigi_tostring_open(L, CLASS);
  if (p) lua_pushfstring(L, CLASS "{epoll %d}", p->ep);
  return 1;
}

void vigi_open_poller(lua_State *L);
/* Adds core.poller to the module table at the top of the stack. */
void vigi_open_poller(lua_State *L) {
  static const luaL_Reg methods[] = {
    {"watch", l_watch}, {"unwatch", l_unwatch}, {"wait", l_wait}, {"fd", l_fd},
    {"close", l_close}, {"__gc", l_close}, {"__close", l_close}, {"__tostring", l_tostring},
    {NULL, NULL}
  };
  vigi_newclass(L, CLASS, methods);
  lua_pushcfunction(L, l_new);
  lua_setfield(L, -2, "poller");
}
