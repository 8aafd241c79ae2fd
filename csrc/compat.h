/* compat.h: the Lua 5.1/LuaJIT .. 5.4 differences the bindings meet, in one
 * place, so that no other file tests LUA_VERSION_NUM. The stand-ins carry
 * a vigi_ prefix, because LuaJIT 2.1 declares some 5.2 functions itself. */
#ifndef VIGI_COMPAT_H
#define VIGI_COMPAT_H

#include <lua.h>
#include <lauxlib.h>

#if LUA_VERSION_NUM < 502
#define lua_rawlen(L, i) lua_objlen(L, (i))

static inline void vigi_setfuncs(lua_State *L, const luaL_Reg *l, int nup) {
  luaL_checkstack(L, nup + 1, "too many upvalues");
  for (; l->name; l++) {
    int i;
    for (i = 0; i < nup; i++) lua_pushvalue(L, -nup);
    lua_pushcclosure(L, l->func, nup);
    lua_setfield(L, -(nup + 2), l->name);
  }
  lua_pop(L, nup);
}
#define luaL_setfuncs vigi_setfuncs

static inline void vigi_setmetatable(lua_State *L, const char *tname) {
  luaL_getmetatable(L, tname);
  lua_setmetatable(L, -2);
}
#define luaL_setmetatable vigi_setmetatable

#ifndef luaL_newlib
#define luaL_newlib(L, l) \
  (lua_createtable(L, 0, sizeof(l) / sizeof((l)[0]) - 1), luaL_setfuncs(L, l, 0))
#endif
#endif

#if LUA_VERSION_NUM < 504
#define vigi_newuserdata(L, size) lua_newuserdata(L, (size))
#else
#define vigi_newuserdata(L, size) lua_newuserdatauv(L, (size), 0)
#endif

#endif
