/* lua_udp.c: the Lua face of net.c's UDP sockets, class "vigi.udp", and
 * core.interfaces().
 *
 *   local u = assert(core.udp{ broadcast = true, address = "0.0.0.0",
 *                               port = 0, rcvbuf = 1048576 })
 *   u:sendto(data, ip, port)   -> true | nil, "again" | nil, message
 *   u:recvfrom([max])          -> data, ip, port | nil, "again" | nil, message
 *   wait.wait(t, timeout) after u:waitset(t [, want_write])
 *   core.interfaces()          -> { { name=, address=, broadcast= }, ... }
 *
 * Addresses are IPv4 dotted quads; anything else is a programming mistake
 * and raises. Nothing here blocks. */
#include "lua_aux.h"
#include "lua_sock.h"
#include "net.h"

#include <arpa/inet.h>
#include <string.h>
#include <unistd.h>

#define CLASS "vigi.udp"

/* Large enough for any IPv4 UDP datagram (65507 bytes), so none is cut
 * unless the caller asks for less. */
#define RECV_MAX 65536

/* The receive buffer lives in the object: one allocation per socket, none
 * per datagram. */
typedef struct {
  vigi_object o;
  int fd;
  char buf[RECV_MAX];
} ludp;

static ludp *check(lua_State *L) { return vigi_checkopen(L, 1, CLASS); }

static int push_addr(lua_State *L, struct in_addr ip) {
  char s[INET_ADDRSTRLEN];
  net_ipv4_format(ip, s, sizeof s);
  lua_pushstring(L, s);
  return 1;
}

/* core.udp([opts]) */
static int l_new(lua_State *L) {
  net_udp_options o;
  ludp *u;
  int err = 0;
  memset(&o, 0, sizeof o);
  o.rcvbuf = 1 << 20;
  if (!lua_isnoneornil(L, 1)) {
    struct in_addr ip;
    luaL_checktype(L, 1, LUA_TTABLE);
    o.broadcast = vigi_opt_boolean(L, 1, "broadcast", 0);
    /* The address string stays on the stack (so stays alive) until the
     * socket is bound. */
    lua_getfield(L, 1, "address");
    if (!lua_isnil(L, -1)) {
      if (lua_type(L, -1) != LUA_TSTRING || net_ipv4_parse(lua_tostring(L, -1), &ip) != 0)
        return luaL_argerror(L, 1, "address: IPv4 dotted quad expected");
      o.address = lua_tostring(L, -1);
    }
    o.port = (unsigned)vigi_opt_integer(L, 1, "port", 0, 0, 65535);
    o.rcvbuf = (int)vigi_opt_integer(L, 1, "rcvbuf", o.rcvbuf, 0, 1 << 30);
  }
  u = vigi_newobject(L, CLASS, sizeof *u);
  u->fd = net_udp_open(&o, &err);
  if (u->fd < 0) return vigi_sock_fail(L, err);
  return 1;
}

static struct in_addr check_ip(lua_State *L, int i) {
  struct in_addr ip;
  ip.s_addr = 0;
  if (net_ipv4_parse(luaL_checkstring(L, i), &ip) != 0)
    luaL_argerror(L, i, "not an IPv4 dotted quad");
  return ip;
}

static int l_sendto(lua_State *L) {
  ludp *u = check(L);
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  struct in_addr ip = check_ip(L, 3);
  unsigned port = (unsigned)vigi_check_integer(L, 4, 1, 65535, "port out of range 1..65535");
  int err = 0;
  switch (net_sendto(u->fd, data, len, ip, port, &err)) {
  case NET_OK: lua_pushboolean(L, 1); return 1;
  case NET_AGAIN: return vigi_sock_again(L);
  default: return vigi_sock_fail(L, err);
  }
}

static int l_recvfrom(lua_State *L) {
  ludp *u = check(L);
  lua_Integer max = luaL_optinteger(L, 2, RECV_MAX);
  struct in_addr ip;
  unsigned port = 0;
  size_t got = 0;
  int err = 0;
  luaL_argcheck(L, max >= 1 && max <= RECV_MAX, 2, "max out of range 1..65536");
  switch (net_recvfrom(u->fd, u->buf, (size_t)max, &got, &ip, &port, &err)) {
  case NET_OK:
    lua_pushlstring(L, u->buf, got);
    push_addr(L, ip);
    lua_pushinteger(L, port);
    return 3;
  case NET_AGAIN: return vigi_sock_again(L);
  default: return vigi_sock_fail(L, err);
  }
}

/* s:waitset(set [, want_write]): see lua_sock.h. */
static int l_waitset(lua_State *L) {
  return vigi_sock_waitset(L, check(L)->fd);
}

static int l_getsockname(lua_State *L) {
  ludp *u = check(L);
  struct in_addr ip;
  unsigned port;
  int err = 0;
  if (net_sockname(u->fd, &ip, &port, &err) != 0) return vigi_sock_fail(L, err);
  push_addr(L, ip);
  lua_pushinteger(L, port);
  return 2;
}

static int l_fd(lua_State *L) {
  lua_pushinteger(L, check(L)->fd);
  return 1;
}

static int l_close(lua_State *L) {
  ludp *u = vigi_closing(L, CLASS);
  if (u && u->fd >= 0) close(u->fd);
  return 0;
}

static int l_tostring(lua_State *L) {
  ludp *u = vigi_tostring_open(L, CLASS);
  struct in_addr ip;
  unsigned port;
  int err;
  char s[INET_ADDRSTRLEN];
  if (!u) return 1;
  if (u->fd < 0 || net_sockname(u->fd, &ip, &port, &err) != 0) {
    lua_pushstring(L, CLASS "{closed}");
    return 1;
  }
  net_ipv4_format(ip, s, sizeof s);
  lua_pushfstring(L, CLASS "{%s:%d}", s, (int)port);
  return 1;
}

/* core.interfaces(): the IPv4 interfaces that can broadcast (up, not
 * loopback), as { name=, address=, broadcast= } in the system's order. */
static int l_interfaces(lua_State *L) {
  net_iface ifs[64];
  int i, err = 0, n = net_ipv4_broadcasts(ifs, 64, &err);
  if (n < 0) return vigi_sock_fail(L, err);
  lua_createtable(L, n, 0);
  for (i = 0; i < n; i++) {
    lua_createtable(L, 0, 3);
    lua_pushstring(L, ifs[i].name);
    lua_setfield(L, -2, "name");
    push_addr(L, ifs[i].address);
    lua_setfield(L, -2, "address");
    push_addr(L, ifs[i].broadcast);
    lua_setfield(L, -2, "broadcast");
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

void vigi_open_udp(lua_State *L);
/* Registers the class and adds udp and interfaces to the module table at
 * the top of the stack. */
void vigi_open_udp(lua_State *L) {
  static const luaL_Reg methods[] = {
    {"sendto", l_sendto}, {"recvfrom", l_recvfrom}, {"waitset", l_waitset},
    {"getsockname", l_getsockname}, {"fd", l_fd}, {"close", l_close},
    {"__gc", l_close}, {"__close", l_close}, {"__tostring", l_tostring},
    {NULL, NULL}
  };
  static const luaL_Reg funcs[] = {
    {"udp", l_new}, {"interfaces", l_interfaces}, {NULL, NULL}
  };
  vigi_newclass(L, CLASS, methods);
  luaL_setfuncs(L, funcs, 0);
}
