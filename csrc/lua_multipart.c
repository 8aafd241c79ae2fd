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
 * The object keeps the bytes of an incomplete part itself (an mp_stream,
 * multipart.h), so the caller just feeds what the socket gives. What it
 * keeps is bounded by the limits (a header block, a body and a delimiter
 * line). Errors stick: a feed that completed parts before hitting one
 * returns those parts, and the error comes with the next feed, so no part
 * is lost. */
#include "lua_aux.h"
#include "multipart.h"

#define CLASS "vigi.multipart"

typedef struct {
  vigi_object o;
  mp_stream s;
} lmp;

static lmp *check(lua_State *L) { return vigi_checkopen(L, 1, CLASS); }

static int l_new(lua_State *L) {
  size_t blen;
  const char *boundary = luaL_checklstring(L, 1, &blen);
  lua_Integer max_part = MP_DEFAULT_MAX_PART, max_header = MP_DEFAULT_MAX_HEADER;
  lmp *m;
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    /* 256 MiB: far beyond any event, and well inside size_t arithmetic. */
    max_part = vigi_opt_integer(L, 2, "max_part", max_part, 1, 256 << 20);
    max_header = vigi_opt_integer(L, 2, "max_header", max_header, 1, 1 << 20);
  }
  if (!mp_boundary_ok(boundary, blen)) { /* the peer's choice: a value, not a raise */
    lua_pushnil(L);
    lua_pushliteral(L, "protocol");
    lua_pushliteral(L, "multipart: the boundary is empty, over 70 bytes or holds a control character");
    return 3;
  }
  m = vigi_newobject(L, CLASS, sizeof *m);
  mp_stream_init(&m->s, boundary);
  m->s.r.max_part = (size_t)max_part;
  m->s.r.max_header = (size_t)max_header;
  return 1;
}

static int push_error(lua_State *L, const lmp *m) {
  lua_pushnil(L);
  lua_pushliteral(L, "protocol");
  lua_pushfstring(L, "multipart: %s", m->s.r.why ? m->s.r.why : mp_strerror(m->s.r.err));
  return 3;
}

static int l_feed(lua_State *L) {
  lmp *m = check(L);
  size_t dlen;
  const char *data = luaL_optlstring(L, 2, "", &dlen);
  int rc = mp_stream_feed(&m->s, data, dlen), n = 0;
  mp_part part;
  if (rc == MP_ENOMEM) return luaL_error(L, CLASS ": not enough memory");
  if (rc < 0) return push_error(L, m);
  lua_newtable(L);
  while ((rc = mp_stream_next(&m->s, &part)) == MP_PART) {
    lua_pushlstring(L, part.body, part.body_len);
    lua_rawseti(L, -2, ++n);
  }
  if (rc == MP_ENOMEM) return luaL_error(L, CLASS ": not enough memory");
  if (rc < 0 && n == 0) return push_error(L, m);
  return 1;
}

static int l_buffered(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)mp_stream_buffered(&check(L)->s));
  return 1;
}

static int l_done(lua_State *L) {
  lua_pushboolean(L, check(L)->s.r.err == MP_DONE);
  return 1;
}

static int l_close(lua_State *L) {
  lmp *m = vigi_closing(L, CLASS);
  if (m) mp_stream_free(&m->s);
  return 0;
}

static int l_tostring(lua_State *L) {
  lmp *m = vigi_tostring_open(L, CLASS);
  if (m) lua_pushfstring(L, CLASS "{boundary=%s, buffered=%d}", m->s.r.delim + 2, (int)mp_stream_buffered(&m->s));
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
