/* lua_tls.c: the Lua face of tlsclient.c, class "vigi.tls": a TLS client
 * connection for a subscription's long answer (lua/vigi/tlsstream.lua).
 *
 *   local t = core.tls()       -- keeps its last TLS session across connects
 *   t:connect{ ip =, port =, name =, verify =, cafile =, pin = }
 *                              -> true | nil, "network", message
 *   t:handshake()              -> true | nil, "again", want (1 read, 2 write)
 *                              | nil, kind, message, cause
 *   t:send(data [, i])         -> bytes sent | nil, "again", want | nil, kind, message
 *   t:recv([max = 65536])      -> data | nil, "again", want | nil, "closed"
 *                              | nil, kind, message
 *   t:pending()                -> whether decrypted bytes wait (read before waiting)
 *   t:waitset(set [, want])    -> the socket, as lua_sock.h's
 *   t:resumed(), t:fd(), t:close() (the session stays), __gc
 *
 * kind is "network" or, for a refusal of the handshake, "tls_trust"
 * (cause "ca" or "pin") or "tls_handshake" (cause "handshake"): the
 * outcomes of vigi.http, so that transport.error_of words them alike.
 * recv reads until TLS holds nothing more (or max bytes), so that no
 * byte is left waiting behind a socket that looks idle; it touches TLS
 * only when the socket has bytes, so that an idle connection holds no
 * read buffer.
 * Connections with the same verify and cafile share one TLS context,
 * kept for the Lua state. Nothing here blocks. */
#include "lua_aux.h"
#include "lua_sock.h"
#include "tlsclient.h"

#include <string.h>

#define CLASS "vigi.tls"
#define CTX_KEY "vigi.tls_contexts"
#define RECV_MAX 65536

typedef struct {
  vigi_object o; /* closed: freed (close() only ends the connection) */
  tlsc *t;
} ltls;
typedef struct { tlsc_ctx *c; } lctx;

static ltls *check(lua_State *L) { return vigi_checkopen(L, 1, CLASS); }

static int ctx_gc(lua_State *L) {
  lctx *c = lua_touserdata(L, 1);
  if (c && c->c) tlsc_ctx_free(c->c);
  if (c) c->c = NULL;
  return 0;
}

/* The state's context for these settings, made at first use. */
static tlsc_ctx *context(lua_State *L, int verify, const char *cafile) {
  lctx *c;
  char err[200];
  lua_getfield(L, LUA_REGISTRYINDEX, CTX_KEY);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, CTX_KEY);
  }
  lua_pushfstring(L, "%d|%s", verify, cafile ? cafile : "");
  lua_pushvalue(L, -1);
  lua_rawget(L, -3);
  c = lua_touserdata(L, -1);
  if (c && c->c) {
    lua_pop(L, 3);
    return c->c;
  }
  lua_pop(L, 1);
  c = vigi_newholder(L, sizeof *c, ctx_gc);
  c->c = tlsc_ctx_new(verify, cafile, err, sizeof err);
  if (!c->c) {
    lua_pop(L, 3);
    lua_pushstring(L, err);
    return NULL;
  }
  lua_rawset(L, -3); /* key, userdata */
  lua_pop(L, 1);
  return c->c;
}

static int l_new(lua_State *L) {
  ltls *t = vigi_newobject(L, CLASS, sizeof *t);
  t->t = tlsc_new();
  if (!t->t) return luaL_error(L, CLASS ": out of memory");
  return 1;
}

static const char *kind_of(int cause, const char **tls) {
  switch (cause) {
  case TLSC_E_CA: *tls = "ca"; return "tls_trust";
  case TLSC_E_PIN: *tls = "pin"; return "tls_trust";
  case TLSC_E_HANDSHAKE: *tls = "handshake"; return "tls_handshake";
  default: *tls = NULL; return "network";
  }
}

/* nil, kind, message [, cause] for a failure; nil, "again", want; nil,
 * "closed". */
static int result(lua_State *L, tlsc *t, int rc) {
  const char *msg, *tls;
  int cause;
  lua_pushnil(L);
  switch (rc) {
  case TLSC_WANT_READ: lua_pushliteral(L, "again"); lua_pushinteger(L, 1); return 3;
  case TLSC_WANT_WRITE: lua_pushliteral(L, "again"); lua_pushinteger(L, 2); return 3;
  case TLSC_CLOSED: lua_pushliteral(L, "closed"); return 2;
  default:
    cause = tlsc_error(t, &msg);
    lua_pushstring(L, kind_of(cause, &tls));
    lua_pushstring(L, msg);
    if (!tls) return 3;
    lua_pushstring(L, tls);
    return 4;
  }
}

static int l_connect(lua_State *L) {
  ltls *t = check(L);
  const char *ip, *name, *cafile, *pin;
  int verify;
  lua_Integer port;
  tlsc_ctx *ctx;
  luaL_checktype(L, 2, LUA_TTABLE);
  /* Each of these goes to a C API that reads up to a NUL. */
  ip = vigi_string_field(L, 2, "ip", NULL, 1, 1);
  name = vigi_string_field(L, 2, "name", NULL, 0, 1);
  cafile = vigi_string_field(L, 2, "cafile", NULL, 0, 1);
  pin = vigi_string_field(L, 2, "pin", NULL, 0, 1);
  port = vigi_opt_integer(L, 2, "port", -1, 1, 65535);
  luaL_argcheck(L, port >= 1, 2, "port: required");
  verify = vigi_opt_boolean(L, 2, "verify", 0);
  ctx = context(L, verify, cafile);
  if (!ctx) {
    lua_pushnil(L);
    lua_pushliteral(L, "network");
    lua_insert(L, -3);
    lua_insert(L, -3);
    return 3;
  }
  if (tlsc_connect(t->t, ctx, ip, (unsigned)port, name, pin) != TLSC_OK)
    return result(L, t->t, TLSC_ERROR);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_handshake(lua_State *L) {
  ltls *t = check(L);
  int rc = tlsc_handshake(t->t);
  if (rc == TLSC_OK) {
    lua_pushboolean(L, 1);
    return 1;
  }
  return result(L, t->t, rc);
}

static int l_send(lua_State *L) {
  ltls *t = check(L);
  size_t len, sent = 0;
  const char *data = luaL_checklstring(L, 2, &len);
  lua_Integer i = luaL_optinteger(L, 3, 1);
  int rc;
  luaL_argcheck(L, i >= 1, 3, "positive index expected");
  if ((size_t)i > len) {
    lua_pushinteger(L, 0);
    return 1;
  }
  rc = tlsc_send(t->t, data + i - 1, len - (size_t)i + 1, &sent);
  if (rc != TLSC_OK) return result(L, t->t, rc);
  lua_pushinteger(L, (lua_Integer)sent);
  return 1;
}

static int l_recv(lua_State *L) {
  ltls *t = check(L);
  lua_Integer max = luaL_optinteger(L, 2, RECV_MAX);
  luaL_Buffer b;
  size_t total = 0;
  int rc = TLSC_OK;
  luaL_argcheck(L, max >= 1 && max <= RECV_MAX, 2, "max out of range 1..65536");
  luaL_buffinit(L, &b);
  while (total < (size_t)max) {
    size_t got = 0, room = (size_t)max - total;
    char *p = luaL_prepbuffer(&b);
    if (room > LUAL_BUFFERSIZE) room = LUAL_BUFFERSIZE;
    rc = tlsc_recv(t->t, p, room, &got);
    if (rc != TLSC_OK) break;
    luaL_addsize(&b, got);
    total += got;
    if (!tlsc_pending(t->t)) break; /* the socket says if more came */
  }
  if (total > 0) {
    luaL_pushresult(&b);
    return 1;
  }
  luaL_pushresult(&b);
  lua_pop(L, 1);
  return result(L, t->t, rc);
}

static int l_pending(lua_State *L) {
  lua_pushboolean(L, tlsc_pending(check(L)->t) > 0);
  return 1;
}

/* t:waitset(set [, want]): want 2 waits for writable, else readable. */
static int l_waitset(lua_State *L) {
  ltls *t = check(L);
  int want = (int)luaL_optinteger(L, 3, 1);
  lua_settop(L, 2);
  lua_pushboolean(L, want == 2);
  return vigi_sock_waitset(L, tlsc_fd(t->t));
}

static int l_resumed(lua_State *L) {
  lua_pushboolean(L, tlsc_resumed(check(L)->t));
  return 1;
}

static int l_fd(lua_State *L) {
  lua_pushinteger(L, tlsc_fd(check(L)->t));
  return 1;
}

static int l_close(lua_State *L) {
  ltls *t = luaL_checkudata(L, 1, CLASS);
  if (!t->o.closed) tlsc_close(t->t);
  return 0;
}

static int l_gc(lua_State *L) {
  ltls *t = vigi_closing(L, CLASS);
  if (t) tlsc_free(t->t);
  return 0;
}

static int l_tostring(lua_State *L) {
  ltls *t = vigi_tostring_open(L, CLASS);
  if (t) lua_pushfstring(L, CLASS "{%s}", tlsc_fd(t->t) < 0 ? "not connected" : "connected");
  return 1;
}

void vigi_open_tls(lua_State *L);
/* Adds core.tls to the module table at the top of the stack. */
void vigi_open_tls(lua_State *L) {
  static const luaL_Reg methods[] = {
    {"connect", l_connect}, {"handshake", l_handshake}, {"send", l_send}, {"recv", l_recv},
    {"pending", l_pending}, {"waitset", l_waitset}, {"resumed", l_resumed}, {"fd", l_fd},
    {"close", l_close}, {"__gc", l_gc}, {"__close", l_gc}, {"__tostring", l_tostring},
    {NULL, NULL}
  };
  vigi_newclass(L, CLASS, methods);
  lua_pushcfunction(L, l_new);
  lua_setfield(L, -2, "tls");
}
