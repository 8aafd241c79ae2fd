/* lua_httpresp.c: the Lua face of httpresp.c, class "vigi.httpresp".
 *
 *   local r = core.httpresp([{ max_head = 65536, max_interim = 16,
 *                              max_trailer = 65536, max_chunk_line = 4096,
 *                              max_body = 0 }])    (0: no body limit)
 *   r:feed(bytes)  -> the body bytes in them ("" when none)
 *                  -> nil, "protocol", message
 *                  every byte is read: the head when it ends (r:head()),
 *                  bytes after the answer's end are counted (r:extra())
 *   r:eof()        -> true: the peer's close ended the answer
 *                  -> nil, "closed", message: it closed before the end
 *                  -> nil, "protocol", message: an earlier error
 *   r:head()       -> nil before the head; then status, headers (names in
 *                     lower case, a repeated header's values joined with
 *                     ", "), version ("1.1"), keep_alive, reason
 *   r:trailers()   -> the trailers, as headers (empty before the end)
 *   r:done()       -> true once the answer is complete
 *   r:error()      -> nil, or "protocol", message once an error stuck
 *   r:extra()      -> bytes received after the end
 *   r:close()      frees the head (also __gc, __close); safe twice
 *
 * Errors stick: a feed that read body bytes before one returns those
 * bytes, and the error comes with the next feed (and r:error()). What is
 * kept between feeds is the final head and the trailers, bounded by the
 * limits; body bytes are returned, not kept. */
#include "httpresp.h"
#include "lua_aux.h"
#include "text.h"

#define CLASS "vigi.httpresp"

typedef struct {
  vigi_object o;
  hr_reader r;
  size_t extra;
} lhr;

static lhr *check(lua_State *L) { return vigi_checkopen(L, 1, CLASS); }

static int l_new(lua_State *L) {
  lhr *h;
  hr_reader lim;
  hr_init(&lim);
  if (!lua_isnoneornil(L, 1)) {
    luaL_checktype(L, 1, LUA_TTABLE);
    /* Up to 16 MiB of head or trailers: far beyond any camera's, and well
     * inside size_t arithmetic. */
    lim.max_head = (size_t)vigi_opt_integer(L, 1, "max_head", (lua_Integer)lim.max_head, 64, 16 << 20);
    lim.max_interim = (unsigned)vigi_opt_integer(L, 1, "max_interim", lim.max_interim, 0, 1000);
    lim.max_trailer = (size_t)vigi_opt_integer(L, 1, "max_trailer", (lua_Integer)lim.max_trailer, 2, 16 << 20);
    lim.max_chunk_line =
      (size_t)vigi_opt_integer(L, 1, "max_chunk_line", (lua_Integer)lim.max_chunk_line, 3, 1 << 20);
    /* 2^53: what every Lua number holds exactly. */
    lim.max_body = (unsigned long long)vigi_opt_integer(L, 1, "max_body", 0, 0, (lua_Integer)1 << 53);
  }
  h = vigi_newobject(L, CLASS, sizeof *h);
  h->r = lim;
  return 1;
}

static int push_error(lua_State *L, const lhr *h) {
  lua_pushnil(L);
  if (h->r.err == HR_ECLOSED) lua_pushliteral(L, "closed");
  else lua_pushliteral(L, "protocol");
  lua_pushfstring(L, "HTTP answer: %s", h->r.why ? h->r.why : hr_strerror(h->r.err));
  return 3;
}

static int l_feed(lua_State *L) {
  lhr *h = check(L);
  size_t len, at = 0;
  const char *data = luaL_optlstring(L, 2, "", &len);
  luaL_Buffer b;
  int rc, got = 0;
  if (h->r.err) return push_error(L, h);
  luaL_buffinit(L, &b);
  do {
    size_t used, n;
    const char *d;
    rc = hr_feed(&h->r, data + at, len - at, &used, &d, &n);
    at += used;
    if (rc == HR_BODY) {
      luaL_addlstring(&b, d, n);
      got = 1;
    }
  } while (rc == HR_BODY || rc == HR_HEAD);
  if (rc == HR_ENOMEM) return luaL_error(L, CLASS ": not enough memory");
  if (rc == HR_END) h->extra += len - at;
  if (rc < 0 && !got) return push_error(L, h);
  luaL_pushresult(&b);
  return 1;
}

static int l_eof(lua_State *L) {
  lhr *h = check(L);
  if (hr_eof(&h->r) != HR_END) return push_error(L, h);
  lua_pushboolean(L, 1);
  return 1;
}

/* The headers or trailers as a table, on the stack. */
static void push_fields(lua_State *L, const hr_reader *r, int trailers) {
  const char *name, *value;
  size_t nlen, vlen, pos = 0, i;
  lua_newtable(L);
  while (trailers ? hr_trailer(r, &pos, &name, &nlen, &value, &vlen)
                  : hr_header(r, &pos, &name, &nlen, &value, &vlen)) {
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (i = 0; i < nlen; i++) luaL_addchar(&b, (char)txt_lower((unsigned char)name[i]));
    luaL_pushresult(&b);
    lua_pushvalue(L, -1);
    lua_rawget(L, -3);
    if (lua_isnil(L, -1)) {
      lua_pop(L, 1);
      lua_pushlstring(L, value, vlen);
    } else {
      lua_pushliteral(L, ", ");
      lua_pushlstring(L, value, vlen);
      lua_concat(L, 3);
    }
    lua_rawset(L, -3);
  }
}

static int l_head(lua_State *L) {
  lhr *h = check(L);
  size_t rlen;
  const char *reason;
  char version[4] = "1.x";
  if (!h->r.head_len) { /* the final head is not in (yet) */
    lua_pushnil(L);
    return 1;
  }
  lua_pushinteger(L, h->r.status);
  push_fields(L, &h->r, 0);
  version[2] = (char)('0' + h->r.minor);
  lua_pushstring(L, version);
  lua_pushboolean(L, h->r.keep_alive);
  reason = hr_reason(&h->r, &rlen);
  lua_pushlstring(L, reason, rlen);
  return 5;
}

static int l_trailers(lua_State *L) {
  push_fields(L, &check(L)->r, 1);
  return 1;
}

static int l_done(lua_State *L) {
  lhr *h = check(L);
  size_t used;
  /* HR_END is sticky and reads nothing: asking costs nothing. */
  lua_pushboolean(L, !h->r.err && h->r.head_len && hr_feed(&h->r, "", 0, &used, NULL, NULL) == HR_END);
  return 1;
}

static int l_error(lua_State *L) {
  lhr *h = check(L);
  if (!h->r.err) return 0;
  push_error(L, h);
  lua_remove(L, -3);
  return 2;
}

static int l_extra(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)check(L)->extra);
  return 1;
}

static int l_close(lua_State *L) {
  lhr *h = vigi_closing(L, CLASS);
  if (h) hr_free(&h->r);
  return 0;
}

static int l_tostring(lua_State *L) {
  lhr *h = vigi_tostring_open(L, CLASS);
  if (h)
    lua_pushfstring(L, CLASS "{status=%d, kept=%d, error=%s}", h->r.status, (int)hr_buffered(&h->r),
                    h->r.err ? hr_strerror(h->r.err) : "none");
  return 1;
}

void vigi_open_httpresp(lua_State *L);
/* Adds core.httpresp to the module table at the top of the stack. */
void vigi_open_httpresp(lua_State *L) {
  static const luaL_Reg methods[] = {
    {"feed", l_feed}, {"eof", l_eof}, {"head", l_head}, {"trailers", l_trailers}, {"done", l_done},
    {"error", l_error}, {"extra", l_extra}, {"close", l_close}, {"__gc", l_close}, {"__close", l_close},
    {"__tostring", l_tostring}, {NULL, NULL}
  };
  static const luaL_Reg funcs[] = {{"httpresp", l_new}, {NULL, NULL}};
  vigi_newclass(L, CLASS, methods);
  luaL_setfuncs(L, funcs, 0);
}
