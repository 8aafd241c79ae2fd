/* lua_http.c: the Lua face of http.c, class "vigi.http".
 *
 *   local h = core.http()
 *   h:start{ url=, body=, timeout=, connect_timeout=, verify=, cafile=,
 *            pin=, may_resend=, fresh_connect=, max_body=, idle_close= }
 *   while not h:step() do wait(h:waitset(t)) end
 *   local r = h:result()   -- { outcome=, status=, body=, ... }
 *
 * Every vigi.http of a Lua state shares one libcurl multi handle (http.c):
 * h:step() also returns the other objects it moved on, to be woken.
 *
 * Timeouts are in seconds (numbers), max_body in bytes (a whole number,
 * 0 for the default); NaN, infinities and negatives raise. Nothing here
 * blocks. */
#include "compat.h"
#include "http.h"
#include "lua_aux.h"

#include <string.h>

#define CLASS "vigi.http"

typedef struct {
  vigi_object o; /* closed: the libcurl handle is freed */
  http_client *c;
} lhttp;

/* The pool of this Lua state: every vigi.http shares its libcurl multi
 * handle (http.c). The registry keeps it, and a weak table from each
 * client to its userdata, to hand back the clients another step woke. */
#define POOL_KEY "vigi.http_pool"
#define CLIENTS_KEY "vigi.http_clients"

typedef struct { http_pool *p; } lpool;

static int pool_gc(lua_State *L) {
  lpool *lp = lua_touserdata(L, 1);
  if (lp && lp->p) http_pool_release(lp->p);
  if (lp) lp->p = NULL;
  return 0;
}

static http_pool *state_pool(lua_State *L) {
  lpool *lp;
  lua_getfield(L, LUA_REGISTRYINDEX, POOL_KEY);
  lp = lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (lp && lp->p) return lp->p;
  lp = vigi_newholder(L, sizeof *lp, pool_gc);
  lp->p = http_pool_new();
  if (!lp->p) luaL_error(L, "vigi.http: cannot create a libcurl multi handle");
  lua_setfield(L, LUA_REGISTRYINDEX, POOL_KEY);
  lua_createtable(L, 0, 0);
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "v");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  lua_setfield(L, LUA_REGISTRYINDEX, CLIENTS_KEY);
  return lp->p;
}

static lhttp *check(lua_State *L) { return vigi_checkopen(L, 1, CLASS); }

/* Durations are in seconds; absent is 0, which libcurl reads as "no
 * limit" (a subscription's transfer); more than 30 days is 30 days. */
#define MAX_MS (86400L * 30 * 1000)

static int l_new(lua_State *L) {
  http_pool *p = state_pool(L);
  lhttp *h = vigi_newobject(L, CLASS, sizeof *h);
  h->c = http_new(p);
  if (!h->c) return luaL_error(L, "vigi.http: cannot create a libcurl handle");
  lua_getfield(L, LUA_REGISTRYINDEX, CLIENTS_KEY);
  lua_pushlightuserdata(L, h->c);
  lua_pushvalue(L, -3);
  lua_rawset(L, -3);
  lua_pop(L, 1);
  return 1;
}

static int l_start(lua_State *L) {
  lhttp *h = check(L);
  http_request r;
  const char *err = NULL;
  luaL_checktype(L, 2, LUA_TTABLE);
  memset(&r, 0, sizeof r);
  r.url = vigi_string_field(L, 2, "url", NULL, 1, 1);
  r.body = vigi_opt_string(L, 2, "body", &r.body_len);
  if (!r.body) r.body = "";
  r.content_type = vigi_string_field(L, 2, "content_type", NULL, 0, 1);
  r.cafile = vigi_string_field(L, 2, "cafile", NULL, 0, 1);
  r.pin = vigi_string_field(L, 2, "pin", NULL, 0, 1);
  r.connect_timeout_ms = vigi_opt_ms(L, 2, "connect_timeout", MAX_MS);
  r.timeout_ms = vigi_opt_ms(L, 2, "timeout", MAX_MS);
  r.verify = vigi_opt_boolean(L, 2, "verify", 0);
  r.may_resend = vigi_opt_boolean(L, 2, "may_resend", 0);
  r.fresh_connect = vigi_opt_boolean(L, 2, "fresh_connect", 0);
  /* 0: http.c's default. 1 GiB: far beyond any answer or part, and a
   * NaN or an infinity can no longer pass for "no limit". */
  r.max_body = (size_t)vigi_opt_integer(L, 2, "max_body", 0, 0, 1 << 30);
  r.idle_close_ms = vigi_opt_ms(L, 2, "idle_close", MAX_MS);
  if (http_start(h->c, &r, &err) != 0) {
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* h:step() -> done [, woken]: woken, when there are any, is a list of
 * the other vigi.http objects this step moved on (see http_woken): their
 * waits should end now. */
static int l_step(lua_State *L) {
  lhttp *h = check(L);
  http_pool *p = http_pool_of(h->c);
  http_client *o;
  int n = 0;
  lua_pushboolean(L, http_step(h->c) == HTTP_DONE);
  while ((o = http_woken(p)) != NULL) {
    if (n == 0) {
      lua_createtable(L, 4, 0);
      lua_getfield(L, LUA_REGISTRYINDEX, CLIENTS_KEY);
    }
    lua_pushlightuserdata(L, o);
    lua_rawget(L, -2);
    if (lua_isnil(L, -1)) lua_pop(L, 1);
    else lua_rawseti(L, -3, ++n);
  }
  if (n == 0) return 1;
  lua_pop(L, 1);
  return 2;
}

/* h:waitset(t [, timer]) fills t with fd, events pairs (t.n = pair count)
 * and returns the pair count and the longest wait in seconds (-1: no
 * timer). Reusing t keeps a waiting loop free of garbage. timer: wait for
 * the pool's timer too, whoever keeps it (http_waitset): for a caller
 * that cannot be woken when another's step moves this transfer on. */
static int l_waitset(lua_State *L) {
  lhttp *h = check(L);
  http_waitfd fds[8];
  long tmo;
  int i, n = http_waitset(h->c, fds, 8, &tmo, lua_toboolean(L, 3));
  luaL_checktype(L, 2, LUA_TTABLE);
  for (i = 0; i < n; i++) {
    lua_pushinteger(L, fds[i].fd);
    lua_rawseti(L, 2, 2 * i + 1);
    lua_pushinteger(L, fds[i].events);
    lua_rawseti(L, 2, 2 * i + 2);
  }
  lua_pushinteger(L, n);
  lua_setfield(L, 2, "n");
  lua_pushinteger(L, n);
  lua_pushnumber(L, tmo < 0 ? -1 : tmo / 1000.0);
  return 2;
}

static const char *const outcome_names[] = {
  "ok", "timeout", "network", "tls_trust", "no_resend", "too_big", "internal", "tls_handshake",
  "protocol"
};

static int l_result(lua_State *L) {
  lhttp *h = check(L);
  const http_result *r = http_result_get(h->c);
  lua_createtable(L, 0, 8);
  vigi_set_string(L, "outcome", outcome_names[r->outcome]);
  vigi_set_integer(L, "status", r->status);
  vigi_set_lstring(L, "body", r->body ? r->body : "", r->body_len);
  if (r->content_type) vigi_set_string(L, "content_type", r->content_type);
  if (r->error) vigi_set_string(L, "error", r->error);
  if (r->tls) vigi_set_string(L, "tls", r->tls);
  vigi_set_integer(L, "connects", r->connects);
  vigi_set_boolean(L, "sent_body", r->sent_body);
  if (!http_busy(h->c)) http_drop_body(h->c); /* the table holds the body */
  return 1;
}

static int l_take(lua_State *L) {
  lhttp *h = check(L);
  size_t n;
  const char *p = http_take_body(h->c, &n);
  lua_pushlstring(L, p, n);
  return 1;
}

/* h:headers() -> status, content_type (while streaming; 0, nil before). */
static int l_headers(lua_State *L) {
  lhttp *h = check(L);
  const char *ct = http_content_type_now(h->c);
  lua_pushinteger(L, http_status_now(h->c));
  if (ct) lua_pushstring(L, ct);
  else lua_pushnil(L);
  return 2;
}

/* h:primary_ip() -> the address of the last connection's peer, or nil:
 * where a host name led (a subscription's own connection goes there). */
static int l_primary_ip(lua_State *L) {
  const char *ip = http_primary_ip(check(L)->c);
  if (ip && *ip) lua_pushstring(L, ip);
  else lua_pushnil(L);
  return 1;
}

static int l_abort(lua_State *L) {
  http_abort(check(L)->c);
  return 0;
}

static int l_close(lua_State *L) {
  lhttp *h = vigi_closing(L, CLASS);
  if (!h) return 0;
  if (h->c) {
    lua_getfield(L, LUA_REGISTRYINDEX, CLIENTS_KEY);
    if (lua_istable(L, -1)) {
      lua_pushlightuserdata(L, h->c);
      lua_pushnil(L);
      lua_rawset(L, -3);
    }
    lua_pop(L, 1);
  }
  http_free(h->c);
  h->c = NULL;
  return 0;
}

static int l_tostring(lua_State *L) {
  lhttp *h = vigi_tostring_open(L, CLASS);
  if (h) lua_pushfstring(L, CLASS "{%s}", http_busy(h->c) ? "busy" : "idle");
  return 1;
}

/* core.http_sweep(): idle connections closed, freed memory returned (see
 * http_pool_sweep); cheap when not due. For code that waits on other
 * things than calls (a subscription's reads). */
static int l_sweep(lua_State *L) {
  lpool *lp;
  lua_getfield(L, LUA_REGISTRYINDEX, POOL_KEY);
  lp = lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (lp && lp->p) http_pool_sweep(lp->p);
  return 0;
}

int vigi_open_http(lua_State *L);
int vigi_open_http(lua_State *L) {
  static const luaL_Reg methods[] = {
    {"start", l_start}, {"step", l_step}, {"waitset", l_waitset},
    {"result", l_result}, {"take", l_take}, {"abort", l_abort}, {"headers", l_headers},
    {"primary_ip", l_primary_ip}, {"close", l_close}, {"__gc", l_close},
    {"__close", l_close}, {"__tostring", l_tostring}, {NULL, NULL}
  };
  vigi_newclass(L, CLASS, methods);
  lua_pushcfunction(L, l_sweep); /* the module table is at the top */
  lua_setfield(L, -2, "http_sweep");
  lua_pushcfunction(L, l_new);
  return 1;
}
