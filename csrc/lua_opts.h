/* lua_opts.h: reading fields of an options table, for the bindings. */
#ifndef VIGI_LUA_OPTS_H
#define VIGI_LUA_OPTS_H

#include "compat.h"

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

#endif
