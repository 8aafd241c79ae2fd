/* lua_opts.h: reading numbers for the bindings: fields of an options
 * table, and seconds turned into the milliseconds of poll(2), epoll and
 * libcurl. The raw core functions are internal: their Lua callers check
 * user options (and return `invalid`); what reaches here out of range is
 * a programming mistake and raises, never waits forever or wraps. */
#ifndef VIGI_LUA_OPTS_H
#define VIGI_LUA_OPTS_H

#include "compat.h"

/* Whether v is a finite number: v - v is NaN for NaN and the infinities. */
static inline int vigi_finite(lua_Number v) { return v - v == 0; }

/* Integer field k of the options table at index t, in min..max, or def
 * when absent. Anything else is an argument error naming the field. */
static inline lua_Integer vigi_opt_integer(lua_State *L, int t, const char *k, lua_Integer def,
                                           lua_Integer min, lua_Integer max) {
  lua_Number v;
  lua_getfield(L, t, k);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return def;
  }
  v = lua_tonumber(L, -1);
  /* Range first (which also refuses NaN): the whole-number test casts. */
  if (lua_type(L, -1) != LUA_TNUMBER || !(v >= (lua_Number)min && v <= (lua_Number)max) ||
      v != (lua_Number)(lua_Integer)v)
    luaL_argerror(L, t, lua_pushfstring(L, "%s: integer in %d..%d expected", k, (int)min, (int)max));
  lua_pop(L, 1);
  return (lua_Integer)v;
}

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

/* A wait's timeout at argument i, for poll(2) and epoll_wait: absent or
 * negative (finite) is -1, no timeout; at most a day (the callers wake up
 * well before: wait.lua passes what is left of a deadline). */
static inline int vigi_wait_ms(lua_State *L, int i) {
  lua_Number s = luaL_optnumber(L, i, -1);
  if (vigi_finite(s) && s < 0) return -1;
  return (int)vigi_seconds_ms(L, i, s, 86400000L, "timeout");
}

#endif
