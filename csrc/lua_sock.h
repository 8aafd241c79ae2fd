/* lua_sock.h: what the socket classes (vigi.tcp, vigi.udp) answer alike:
 * the results of an operation that failed or would block, and the wait
 * set of one descriptor (the contract of lua/vigi/wait.lua). */
#ifndef VIGI_LUA_SOCK_H
#define VIGI_LUA_SOCK_H

#include "compat.h"

#include <string.h>

/* nil, strerror(err) */
static inline int vigi_sock_fail(lua_State *L, int err) {
  lua_pushnil(L);
  lua_pushstring(L, strerror(err));
  return 2;
}

/* nil, "again": it would block; wait for the socket and call again */
static inline int vigi_sock_again(lua_State *L) {
  lua_pushnil(L);
  lua_pushliteral(L, "again");
  return 2;
}

/* s:waitset(set [, want_write]) for descriptor fd, the set at index 2:
 * set = { fd, events (1 read, 2 write, 3 both), n = 1 }; returns the pair count,
 * 1, and -1: a socket has no timer of its own, the caller's deadline
 * rules. */
static inline int vigi_sock_waitset_events(lua_State *L, int fd, int events) {
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_pushinteger(L, fd);
  lua_rawseti(L, 2, 1);
  lua_pushinteger(L, events);
  lua_rawseti(L, 2, 2);
  lua_pushinteger(L, 1);
  lua_setfield(L, 2, "n");
  lua_pushinteger(L, 1);
  lua_pushinteger(L, -1);
  return 2;
}

/* The same with the events asked by argument 3 (true: writable). */
static inline int vigi_sock_waitset(lua_State *L, int fd) {
  return vigi_sock_waitset_events(L, fd, lua_toboolean(L, 3) ? 2 : 1);
}

#endif
