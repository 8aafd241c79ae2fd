/* lua_resolve.c: the Lua face of resolve.c, class "vigi.resolve", one
 * host name lookup running in a thread of its own.
 *
 *   local r = assert(core.resolve(name))   -- started; nil, message for a bad name
 *   r:waitset(set); wait.wait(set, left)    -- readable once it is done
 *   r:result()  -> "a.b.c.d" | nil, "again" | nil, message
 *   r:close()                               -- always: done, or given up
 *
 * Closing a lookup that still runs gives it up: the caller goes on at
 * once, and the thread ends by itself when the system's resolver returns
 * (resolve.h). Nothing here blocks. */
#include "compat.h"
#include "lua_sock.h"
#include "net.h"
#include "resolve.h"

#include <arpa/inet.h>
#include <string.h>

#define CLASS "vigi.resolve"

typedef struct {
  int fd;
  int done; /* the result was read (once) */
  char name[256];
} lresolve;

static lresolve *check(lua_State *L) {
  lresolve *r = luaL_checkudata(L, 1, CLASS);
  if (r->fd < 0) luaL_error(L, CLASS ": used after close");
  return r;
}

/* core.resolve(name) */
static int l_resolve(lua_State *L) {
  size_t n;
  const char *name = luaL_checklstring(L, 1, &n);
  const char *why = NULL;
  lresolve *r;
  if (strlen(name) != n || n >= sizeof r->name) { /* a NUL inside, or too long: not a name */
    lua_pushnil(L);
    lua_pushliteral(L, "not a host name");
    return 2;
  }
  /* The object exists before the thread, so that __gc closes its end
   * even if something raises in between. */
  r = vigi_newuserdata(L, sizeof *r);
  r->fd = -1;
  r->done = 0;
  memcpy(r->name, name, n + 1);
  luaL_setmetatable(L, CLASS);
  if (resolve_start(name, NULL, &r->fd, &why) != 0) {
    lua_pushnil(L);
    lua_pushstring(L, why);
    return 2;
  }
  return 1;
}

static int l_result(lua_State *L) {
  lresolve *r = check(L);
  struct in_addr a;
  const char *why = NULL;
  char s[INET_ADDRSTRLEN];
  if (r->done) return luaL_error(L, CLASS ": the result was taken already");
  switch (resolve_take(r->fd, &a, &why)) {
  case RESOLVE_AGAIN: return vigi_sock_again(L);
  case 0:
    r->done = 1;
    net_ipv4_format(a, s, sizeof s);
    lua_pushstring(L, s);
    return 1;
  default:
    r->done = 1;
    lua_pushnil(L);
    lua_pushstring(L, why);
    return 2;
  }
}

/* r:waitset(set): see lua_sock.h (readable: the lookup is done). */
static int l_waitset(lua_State *L) {
  return vigi_sock_waitset(L, check(L)->fd);
}

static int l_close(lua_State *L) {
  lresolve *r = luaL_checkudata(L, 1, CLASS);
  resolve_close(r->fd); /* safe twice: -1 after the first */
  r->fd = -1;
  return 0;
}

static int l_tostring(lua_State *L) {
  lresolve *r = luaL_checkudata(L, 1, CLASS);
  lua_pushfstring(L, CLASS "{%s%s}", r->name, r->fd < 0 ? ", closed" : r->done ? ", done" : "");
  return 1;
}

/* core.resolve_in_flight(): lookups whose thread has not ended. */
static int l_in_flight(lua_State *L) {
  lua_pushinteger(L, resolve_in_flight());
  return 1;
}

void vigi_open_resolve(lua_State *L);
/* Registers the class and adds resolve to the module table at the top
 * of the stack. */
void vigi_open_resolve(lua_State *L) {
  static const luaL_Reg methods[] = {
    {"result", l_result}, {"waitset", l_waitset}, {"close", l_close}, {"__gc", l_close},
    {"__close", l_close}, {"__tostring", l_tostring}, {NULL, NULL}
  };
  static const luaL_Reg funcs[] = {{"resolve", l_resolve}, {"resolve_in_flight", l_in_flight}, {NULL, NULL}};
  resolve_pin();
  vigi_newclass(L, CLASS, methods);
  luaL_setfuncs(L, funcs, 0);
}
