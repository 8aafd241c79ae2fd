/* lua_multipart.c: the Lua face of multipart.c, class "vigi.multipart".
 *
 *   local r = core.multipart(boundary [, { max_part = 65536, max_header = 8192 }])
 *                   -> nil, "protocol", message for a boundary that cannot
 *                      be one (mp_boundary_ok): it comes from the peer
 *   r:feed(bytes)   -> { body, ... }   the parts completed so far, maybe none
 *                   -> nil, "protocol", message
 *   r:buffered()    -> bytes held for a part not yet complete
 *   r:done()        -> true once the closing delimiter was seen
 *   r:close()       frees the buffer (also __gc, __close); safe twice
 *   core.multipart_boundary(content_type)
 *                   -> boundary
 *                   -> nil                 not multipart, or no boundary
 *                   -> nil, message        a boundary that cannot be used
 *
 * The object keeps the bytes of an incomplete part itself, so the caller
 * just feeds what the socket gives. What it keeps is bounded by the limits
 * (a header block, a body and a delimiter line). Errors stick: a feed that
 * completed parts before hitting one returns those parts, and the error
 * comes with the next feed, so no part is lost. */
#include "compat.h"
#include "lua_opts.h"
#include "multipart.h"

#include <stdlib.h>
#include <string.h>

#define CLASS "vigi.multipart"

typedef struct {
  mp_reader r;
  char *buf;    /* bytes fed and not yet consumed by the reader */
  size_t len, cap;
  int closed;
} lmp;

static lmp *check(lua_State *L) {
  lmp *m = luaL_checkudata(L, 1, CLASS);
  if (m->closed) luaL_error(L, CLASS ": used after close");
  return m;
}

static int l_new(lua_State *L) {
  size_t blen;
  const char *boundary = luaL_checklstring(L, 1, &blen);
  size_t max_part = MP_DEFAULT_MAX_PART, max_header = MP_DEFAULT_MAX_HEADER;
  lmp *m;
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    /* 256 MiB: far beyond any event, and well inside size_t arithmetic. */
    max_part = (size_t)vigi_opt_integer(L, 2, "max_part", (lua_Integer)max_part, 1, 256 << 20);
    max_header = (size_t)vigi_opt_integer(L, 2, "max_header", (lua_Integer)max_header, 1, 1 << 20);
  }
  if (!mp_boundary_ok(boundary, blen)) { /* the peer's choice: a value, not a raise */
    lua_pushnil(L);
    lua_pushliteral(L, "protocol");
    lua_pushliteral(L, "multipart: the boundary is empty, over 70 bytes or holds a control character");
    return 3;
  }
  m = vigi_newuserdata(L, sizeof *m);
  memset(m, 0, sizeof *m);
  luaL_setmetatable(L, CLASS);
  mp_init(&m->r, boundary);
  m->r.max_part = max_part;
  m->r.max_header = max_header;
  return 1;
}

/* The most the object keeps between feeds: the reader never leaves more
 * unconsumed (see mp_feed in multipart.h). */
static size_t keep_limit(const lmp *m) {
  size_t mh = m->r.max_header < MP_MIN_MAX_HEADER ? MP_MIN_MAX_HEADER : m->r.max_header;
  return mh + m->r.max_part + MP_MAX_BOUNDARY + 8;
}

static void reserve(lua_State *L, lmp *m, size_t need) {
  char *p;
  size_t cap = m->cap ? m->cap : 256;
  if (need <= m->cap) return;
  while (cap < need) cap = cap * 2 > cap ? cap * 2 : need;
  p = realloc(m->buf, cap);
  if (!p) luaL_error(L, CLASS ": not enough memory");
  m->buf = p;
  m->cap = cap;
}

static int push_error(lua_State *L, const lmp *m) {
  lua_pushnil(L);
  lua_pushliteral(L, "protocol");
  lua_pushfstring(L, "multipart: %s", m->r.why ? m->r.why : mp_strerror(m->r.err));
  return 3;
}

static int l_feed(lua_State *L) {
  lmp *m = check(L);
  size_t dlen, off = 0, used, rest;
  const char *data = luaL_optlstring(L, 2, "", &dlen);
  const char *src;
  size_t srclen;
  int rc, n = 0;
  mp_part part;
  if (m->r.err < 0) return push_error(L, m);
  if (m->len == 0) { /* nothing held: read the string in place */
    src = data;
    srclen = dlen;
  } else {
    reserve(L, m, m->len + dlen);
    memcpy(m->buf + m->len, data, dlen);
    m->len += dlen;
    src = m->buf;
    srclen = m->len;
  }
  lua_newtable(L);
  for (;;) {
    rc = mp_feed(&m->r, src + off, srclen - off, &used, &part);
    if (rc < 0) break;
    off += used;
    if (rc != MP_PART) break;
    lua_pushlstring(L, part.body, part.body_len);
    lua_rawseti(L, -2, ++n);
  }
  rest = srclen - off;
  if (rc < 0) {
    m->len = 0;
    if (n == 0) return push_error(L, m);
    return 1;
  }
  if (rest > keep_limit(m)) { /* cannot happen while mp_feed keeps its word */
    m->r.err = MP_ETOOBIG;
    m->r.why = "part too big";
    m->len = 0;
    if (n == 0) return push_error(L, m);
    return 1;
  }
  if (src == m->buf) {
    memmove(m->buf, m->buf + off, rest);
  } else if (rest) {
    reserve(L, m, rest);
    memcpy(m->buf, src + off, rest);
  }
  m->len = rest;
  return 1;
}

static int l_buffered(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)check(L)->len);
  return 1;
}

static int l_done(lua_State *L) {
  lua_pushboolean(L, check(L)->r.err == MP_DONE);
  return 1;
}

static int l_close(lua_State *L) {
  lmp *m = luaL_checkudata(L, 1, CLASS);
  free(m->buf);
  m->buf = NULL;
  m->len = m->cap = 0;
  m->closed = 1;
  return 0;
}

static int l_tostring(lua_State *L) {
  lmp *m = luaL_checkudata(L, 1, CLASS);
  if (m->closed) lua_pushliteral(L, CLASS "{closed}");
  else lua_pushfstring(L, CLASS "{boundary=%s, buffered=%d}", m->r.delim + 2, (int)m->len);
  return 1;
}

static int l_boundary(lua_State *L) {
  size_t len;
  const char *ct = luaL_checklstring(L, 1, &len);
  char out[MP_MAX_BOUNDARY + 1];
  int n = mp_boundary_from_content_type(ct, len, out, sizeof out);
  if (n == -1) {
    lua_pushnil(L);
    return 1;
  }
  if (n < 0) {
    lua_pushnil(L);
    lua_pushliteral(L, "multipart: the Content-Type's boundary is empty, over 70 bytes, "
                       "unterminated or holds a control character");
    return 2;
  }
  lua_pushlstring(L, out, (size_t)n);
  return 1;
}

void vigi_open_multipart(lua_State *L);
/* Adds core.multipart and core.multipart_boundary to the module table at
 * the top of the stack. */
void vigi_open_multipart(lua_State *L) {
  static const luaL_Reg methods[] = {
    {"feed", l_feed}, {"buffered", l_buffered}, {"done", l_done}, {"close", l_close},
    {"__gc", l_close}, {"__close", l_close}, {"__tostring", l_tostring}, {NULL, NULL}
  };
  static const luaL_Reg funcs[] = {
    {"multipart", l_new}, {"multipart_boundary", l_boundary}, {NULL, NULL}
  };
  vigi_newclass(L, CLASS, methods);
  luaL_setfuncs(L, funcs, 0);
}
