/* lua_aux.h: what every binding does alike, in one place (as LuaSocket's
 * auxiliar.c and options.c do for its objects): classes and their
 * objects, the fields of an options table, the fields of a result table,
 * seconds turned into the milliseconds of poll(2), epoll and libcurl.
 *
 * Objects. The struct of every object of the core starts with a
 * vigi_object; vigi_newobject() makes one, vigi_checkopen() is every
 * method's first line ("<class>: used after close" for a closed one),
 * vigi_closing() makes close safe twice, vigi_tostring_open() answers
 * "<class>{closed}" for a closed one. Every class has __name (set here)
 * and a __tostring that says what the object is, never a secret.
 *
 * Options. The raw core functions are internal: their Lua callers check
 * user options (and return `invalid`); what reaches here out of range or
 * of the wrong type is a programming mistake and raises an argument
 * error that names the field and what was expected, never the value (a
 * field may be a password). Nothing is ever clamped or wrapped. */
#ifndef VIGI_LUA_AUX_H
#define VIGI_LUA_AUX_H

#include "compat.h"

#include <stdio.h>
#include <string.h>

/* ---- classes and objects ------------------------------------------------ */

/* The first member of every object's struct. */
typedef struct vigi_object {
  int closed; /* close() ran: the object holds nothing any more */
} vigi_object;

/* A metatable for class `name` with methods l, __index to itself and
 * __name (which 5.1 does not set by itself). */
static inline void vigi_newclass(lua_State *L, const char *name, const luaL_Reg *l) {
  luaL_newmetatable(L, name);
  luaL_setfuncs(L, l, 0);
  lua_pushvalue(L, -1);
  lua_setfield(L, -2, "__index");
  lua_pushstring(L, name);
  lua_setfield(L, -2, "__name");
  lua_pop(L, 1);
}

/* A new object of class name on the stack: size bytes, all zero (open).
 * It exists before whatever it will hold, so that __gc frees that even
 * if something raises in between. */
static inline void *vigi_newobject(lua_State *L, const char *name, size_t size) {
  void *p = vigi_newuserdata(L, size);
  memset(p, 0, size);
  luaL_setmetatable(L, name);
  return p;
}

/* A new userdata on the stack: size bytes, all zero, whose metatable
 * holds only __gc. For what a Lua state keeps one of in its registry (a
 * libcurl pool, a TLS context): it is freed with the state. */
static inline void *vigi_newholder(lua_State *L, size_t size, lua_CFunction gc) {
  void *p = vigi_newuserdata(L, size);
  memset(p, 0, size);
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  return p;
}

/* Argument i as an open object of class name. */
static inline void *vigi_checkopen(lua_State *L, int i, const char *name) {
  vigi_object *o = luaL_checkudata(L, i, name);
  if (o->closed) luaL_error(L, "%s: used after close", name);
  return o;
}

/* For close (also __gc and __close): the object at 1, now marked closed,
 * when it was open; NULL when it was closed already. */
static inline void *vigi_closing(lua_State *L, const char *name) {
  vigi_object *o = luaL_checkudata(L, 1, name);
  if (o->closed) return NULL;
  o->closed = 1;
  return o;
}

/* For __tostring: the object at 1 when it is open; for a closed one,
 * pushes "<name>{closed}" and gives NULL. */
static inline void *vigi_tostring_open(lua_State *L, const char *name) {
  vigi_object *o = luaL_checkudata(L, 1, name);
  if (!o->closed) return o;
  lua_pushfstring(L, "%s{closed}", name);
  return NULL;
}

/* ---- arguments and option fields --------------------------------------- */

/* Whether v is a finite number: v - v is NaN for NaN and the infinities. */
static inline int vigi_finite(lua_Number v) { return v - v == 0; }

/* Raises "<k>: <what> in <min>..<max> expected" against the table at t.
 * (lua_pushfstring has no portable format for large integers.) */
static inline void vigi_range_error(lua_State *L, int t, const char *k, const char *what, lua_Number min,
                                    lua_Number max) {
  char range[64];
  snprintf(range, sizeof range, "%.14g..%.14g", (double)min, (double)max);
  luaL_argerror(L, t, lua_pushfstring(L, "%s: %s in %s expected", k, what, range));
}

/* Integer argument i in min..max; msg is the argument error otherwise. */
static inline lua_Integer vigi_check_integer(lua_State *L, int i, lua_Integer min, lua_Integer max,
                                             const char *msg) {
  lua_Integer v = luaL_checkinteger(L, i);
  luaL_argcheck(L, v >= min && v <= max, i, msg);
  return v;
}

/* Number field k of the options table at t, in min..max, or def when
 * absent; what names the kind expected in the error. */
static inline lua_Number vigi_number_field(lua_State *L, int t, const char *k, lua_Number def, lua_Number min,
                                           lua_Number max, const char *what) {
  lua_Number v;
  lua_getfield(L, t, k);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return def;
  }
  v = lua_tonumber(L, -1);
  /* The range test also refuses NaN (every comparison with it is false). */
  if (lua_type(L, -1) != LUA_TNUMBER || !(v >= min && v <= max)) vigi_range_error(L, t, k, what, min, max);
  lua_pop(L, 1);
  return v;
}

/* Number field k, finite and in min..max, or def when absent. */
static inline lua_Number vigi_opt_number(lua_State *L, int t, const char *k, lua_Number def, lua_Number min,
                                         lua_Number max) {
  return vigi_number_field(L, t, k, def, min, max, "number");
}

/* Integer field k, in min..max, or def when absent. */
static inline lua_Integer vigi_opt_integer(lua_State *L, int t, const char *k, lua_Integer def,
                                           lua_Integer min, lua_Integer max) {
  lua_Number v = vigi_number_field(L, t, k, (lua_Number)def, (lua_Number)min, (lua_Number)max, "integer");
  /* In range already, so the cast is defined. */
  if (v != (lua_Number)(lua_Integer)v) vigi_range_error(L, t, k, "integer", (lua_Number)min, (lua_Number)max);
  return (lua_Integer)v;
}

/* Boolean field k of the options table at t: def when absent, else its
 * truth (Lua's: only false is false). */
static inline int vigi_opt_boolean(lua_State *L, int t, const char *k, int def) {
  int b;
  lua_getfield(L, t, k);
  b = lua_isnil(L, -1) ? def : lua_toboolean(L, -1);
  lua_pop(L, 1);
  return b;
}

/* String field k of the table at t, its length in *len (len may be
 * NULL); NULL when absent, unless required. c_string: the value goes to
 * a C API that reads up to a NUL, so a NUL inside is refused (it would
 * cut the value short). Anything but a string is an argument error that
 * names the field and the type found. The string stays alive while the
 * table holds it. */
static inline const char *vigi_string_field(lua_State *L, int t, const char *k, size_t *len, int required,
                                            int c_string) {
  const char *v;
  size_t n;
  int type;
  lua_getfield(L, t, k);
  type = lua_type(L, -1);
  if (type == LUA_TNIL && !required) {
    lua_pop(L, 1);
    if (len) *len = 0;
    return NULL;
  }
  if (type != LUA_TSTRING)
    luaL_argerror(L, t, lua_pushfstring(L, "%s: string expected, got %s", k, lua_typename(L, type)));
  v = lua_tolstring(L, -1, &n);
  if (c_string && strlen(v) != n) luaL_argerror(L, t, lua_pushfstring(L, "%s: string holds a NUL byte", k));
  lua_pop(L, 1); /* the table still holds the string */
  if (len) *len = n;
  return v;
}

/* Optional string field (NULL when absent). */
static inline const char *vigi_opt_string(lua_State *L, int t, const char *k, size_t *len) {
  return vigi_string_field(L, t, k, len, 0, 0);
}

/* ---- seconds ----------------------------------------------------------- */

/* Seconds s (argument i, named `what` in the error) as milliseconds,
 * rounded up so that no wait is shorter than asked (and no positive time
 * becomes 0, which libcurl reads as "no limit"), at most max_ms. NaN, the
 * infinities and negatives are argument errors: a NaN compares false with
 * every bound and would become a wait without end. */
static inline long vigi_seconds_ms(lua_State *L, int i, lua_Number s, long max_ms, const char *what) {
  long ms;
  if (!vigi_finite(s) || s < 0)
    luaL_argerror(L, i, lua_pushfstring(L, "%s: a finite number of seconds >= 0 expected", what));
  if (s * 1000 >= (lua_Number)max_ms) return max_ms;
  ms = (long)(s * 1000);
  return (lua_Number)ms < s * 1000 ? ms + 1 : ms;
}

/* Duration field k of the options table at t, in seconds, as
 * milliseconds (vigi_seconds_ms, at most max_ms); 0 when absent. */
static inline long vigi_opt_ms(lua_State *L, int t, const char *k, long max_ms) {
  long ms;
  lua_getfield(L, t, k);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return 0;
  }
  if (lua_type(L, -1) != LUA_TNUMBER)
    luaL_argerror(L, t, lua_pushfstring(L, "%s: a number of seconds expected", k));
  ms = vigi_seconds_ms(L, t, lua_tonumber(L, -1), max_ms, k);
  lua_pop(L, 1);
  return ms;
}

/* A wait's timeout at argument i, for poll(2) and epoll_wait: absent or
 * negative (finite) is -1, no timeout; at most a day (the callers wake up
 * well before: wait.lua passes what is left of a deadline). */
static inline int vigi_wait_ms(lua_State *L, int i) {
  lua_Number s = luaL_optnumber(L, i, -1);
  if (vigi_finite(s) && s < 0) return -1;
  return (int)vigi_seconds_ms(L, i, s, 86400000L, "timeout");
}

/* ---- result tables ------------------------------------------------------ */

/* t[k] = v for the table at the top of the stack. */
static inline void vigi_set_integer(lua_State *L, const char *k, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}

static inline void vigi_set_number(lua_State *L, const char *k, lua_Number v) {
  lua_pushnumber(L, v);
  lua_setfield(L, -2, k);
}

static inline void vigi_set_boolean(lua_State *L, const char *k, int v) {
  lua_pushboolean(L, v);
  lua_setfield(L, -2, k);
}

static inline void vigi_set_string(lua_State *L, const char *k, const char *s) {
  lua_pushstring(L, s);
  lua_setfield(L, -2, k);
}

static inline void vigi_set_lstring(lua_State *L, const char *k, const char *s, size_t n) {
  lua_pushlstring(L, s, n);
  lua_setfield(L, -2, k);
}

#endif
