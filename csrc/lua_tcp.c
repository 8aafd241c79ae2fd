/* lua_tcp.c: the Lua face of tcp.c, class "vigi.tcp", a client connection
 * to the stream port.
 *
 *   local t = assert(core.tcp_connect(ip, port))  -- connect in progress
 *   t:waitset(set, true); wait.wait(set, timeout)  -- until writable
 *   t:connected()              -> true | nil, "again" | nil, message
 *   t:send(data [, i [, j]])   -> bytes sent | nil, "again" | nil, message
 *   t:recv([max = 65536])      -> data | nil, "again" | nil, "closed" | nil, message
 *   t:unacked()                -> bytes not yet acknowledged by the peer | nil, message
 *   t:fd(), t:waitset(set [, want_write]), t:close()
 *
 * send's i, j pick data:sub(i, j) (string.sub's rules), so a partial send
 * goes on with t:send(data, i + sent) and no copy of the rest. Addresses
 * are IPv4 dotted quads; anything else is a programming mistake and
 * raises, like a bad port. Network failures return nil and strerror's
 * text. Nothing here blocks. */
#include "compat.h"
#include "lua_sock.h"
#include "tcp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#define CLASS "vigi.tcp"

/* A receive's most; the buffer lives in the object: one allocation per
 * connection, none per read. */
#define RECV_MAX 65536

typedef struct {
  int fd;
  int connected;   /* tcp_connected() said so once: no need to ask again */
  int connect_err; /* how the connect failed; the kernel says it only once */
  struct in_addr ip;
  unsigned port;
  char buf[RECV_MAX];
} ltcp;

static ltcp *check(lua_State *L) {
  ltcp *t = luaL_checkudata(L, 1, CLASS);
  if (t->fd < 0) luaL_error(L, CLASS ": used after close");
  return t;
}

/* core.tcp_connect(ip, port) */
static int l_connect(lua_State *L) {
  struct in_addr ip;
  lua_Integer port;
  ltcp *t;
  int err = 0, rc;
  if (net_ipv4_parse(luaL_checkstring(L, 1), &ip) != 0)
    return luaL_argerror(L, 1, "not an IPv4 dotted quad");
  port = luaL_checkinteger(L, 2);
  luaL_argcheck(L, port >= 1 && port <= 65535, 2, "port out of range 1..65535");
  /* The object exists before the socket, so that __gc closes it even if
   * something raises in between. */
  t = vigi_newuserdata(L, sizeof *t);
  t->fd = -1;
  t->connected = 0;
  t->connect_err = 0;
  t->ip = ip;
  t->port = (unsigned)port;
  luaL_setmetatable(L, CLASS);
  rc = tcp_connect(ip, (unsigned)port, &t->fd, &err);
  if (rc == NET_ERROR) return vigi_sock_fail(L, err);
  t->connected = rc == NET_OK;
  return 1;
}

static int l_connected(lua_State *L) {
  ltcp *t = check(L);
  int err = 0;
  if (t->connect_err) return vigi_sock_fail(L, t->connect_err);
  if (!t->connected) {
    switch (tcp_connected(t->fd, &err)) {
    case NET_OK: t->connected = 1; break;
    case NET_AGAIN: return vigi_sock_again(L);
    default:
      t->connect_err = err ? err : ECONNREFUSED;
      return vigi_sock_fail(L, t->connect_err);
    }
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* string.sub's reading of i, j against a length. */
static size_t pos(lua_Integer i, size_t len) {
  if (i >= 0) return (size_t)i;
  if ((size_t)0 - (size_t)i > len) return 0; /* also LUA_MININTEGER, without overflow */
  return len - ((size_t)0 - (size_t)i) + 1;
}

static int l_send(lua_State *L) {
  ltcp *t = check(L);
  size_t len, i, j, sent = 0;
  const char *data = luaL_checklstring(L, 2, &len);
  int err = 0;
  i = pos(luaL_optinteger(L, 3, 1), len);
  j = pos(luaL_optinteger(L, 4, -1), len);
  if (i < 1) i = 1;
  if (j > len) j = len;
  if (i > j) {
    lua_pushinteger(L, 0);
    return 1;
  }
  switch (tcp_send(t->fd, data + i - 1, j - i + 1, &sent, &err)) {
  case NET_OK: lua_pushinteger(L, (lua_Integer)sent); return 1;
  case NET_AGAIN: return vigi_sock_again(L);
  default: return vigi_sock_fail(L, err);
  }
}

static int l_recv(lua_State *L) {
  ltcp *t = check(L);
  lua_Integer max = luaL_optinteger(L, 2, RECV_MAX);
  size_t got = 0;
  int err = 0;
  luaL_argcheck(L, max >= 1 && max <= RECV_MAX, 2, "max out of range 1..65536");
  switch (tcp_recv(t->fd, t->buf, (size_t)max, &got, &err)) {
  case NET_OK:
    if (got == 0) {
      lua_pushnil(L);
      lua_pushliteral(L, "closed");
      return 2;
    }
    lua_pushlstring(L, t->buf, got);
    return 1;
  case NET_AGAIN: return vigi_sock_again(L);
  default: return vigi_sock_fail(L, err);
  }
}

/* s:waitset(set [, want_write]): see lua_sock.h. */
static int l_waitset(lua_State *L) {
  return vigi_sock_waitset(L, check(L)->fd);
}

static int l_unacked(lua_State *L) {
  ltcp *t = check(L);
  size_t n = 0;
  int err = 0;
  if (tcp_unacked(t->fd, &n, &err) != NET_OK) return vigi_sock_fail(L, err);
  lua_pushinteger(L, (lua_Integer)n);
  return 1;
}

static int l_fd(lua_State *L) {
  lua_pushinteger(L, check(L)->fd);
  return 1;
}

static int l_close(lua_State *L) {
  ltcp *t = luaL_checkudata(L, 1, CLASS);
  tcp_close(t->fd); /* safe twice: -1 after the first */
  t->fd = -1;
  return 0;
}

static int l_tostring(lua_State *L) {
  ltcp *t = luaL_checkudata(L, 1, CLASS);
  char s[INET_ADDRSTRLEN];
  if (t->fd < 0) {
    lua_pushliteral(L, CLASS "{closed}");
    return 1;
  }
  net_ipv4_format(t->ip, s, sizeof s);
  lua_pushfstring(L, CLASS "{%s:%d%s}", s, (int)t->port,
                  t->connect_err ? ", failed" : t->connected ? "" : ", connecting");
  return 1;
}

void vigi_open_tcp(lua_State *L);
/* Registers the class and adds tcp_connect to the module table at the
 * top of the stack. */
void vigi_open_tcp(lua_State *L) {
  static const luaL_Reg methods[] = {
    {"connected", l_connected}, {"send", l_send}, {"recv", l_recv}, {"waitset", l_waitset},
    {"unacked", l_unacked}, {"fd", l_fd}, {"close", l_close}, {"__gc", l_close}, {"__close", l_close},
    {"__tostring", l_tostring}, {NULL, NULL}
  };
  static const luaL_Reg funcs[] = {{"tcp_connect", l_connect}, {NULL, NULL}};
  vigi_newclass(L, CLASS, methods);
  luaL_setfuncs(L, funcs, 0);
}
