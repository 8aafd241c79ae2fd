/* lua_core.c: luaopen_vigi_core, the module table of the C core: the
 * object constructors and the few free functions the Lua layer needs
 * (poll, a monotonic clock, digests, randomness); ODP packets and UDP
 * sockets come from lua_odp.c and lua_udp.c. */
#include "compat.h"
#include "crypto.h"
#include "lua_aux.h"
#include "text.h"

#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>

int vigi_open_http(lua_State *L);
void vigi_open_odp(lua_State *L);
void vigi_open_udp(lua_State *L);
void vigi_open_multipart(lua_State *L);
void vigi_open_httpresp(lua_State *L);
void vigi_open_tcp(lua_State *L);
void vigi_open_resolve(lua_State *L);
void vigi_open_digest(lua_State *L);
void vigi_open_demux(lua_State *L);
void vigi_open_talk(lua_State *L);
void vigi_open_poller(lua_State *L);
void vigi_open_term(lua_State *L);
void vigi_open_tls(lua_State *L);

/* core.poll(set, timeout): set holds fd, events pairs (events: 1 read,
 * 2 write) with set.n pairs, as filled by the objects' waitset methods;
 * timeout in seconds, negative for none. Returns the number of ready
 * sockets (0 on timeout or signal), or nil, message. A NaN or infinite
 * timeout raises (lua_aux.h). Only lua/vigi/wait.lua uses it, to wait
 * in place in a plain script (vigi.run waits in a vigi.poller instead,
 * lua_poller.c). */
static int l_poll(lua_State *L) {
  struct pollfd fds[64];
  int n, i, rc, ms;
  luaL_checktype(L, 1, LUA_TTABLE);
  ms = vigi_wait_ms(L, 2);
  lua_getfield(L, 1, "n");
  n = (int)luaL_optinteger(L, -1, 0);
  lua_pop(L, 1);
  if (n < 0 || n > 64) return luaL_argerror(L, 1, "between 0 and 64 sockets");
  for (i = 0; i < n; i++) {
    int ev;
    lua_rawgeti(L, 1, 2 * i + 1);
    fds[i].fd = (int)luaL_checkinteger(L, -1);
    lua_rawgeti(L, 1, 2 * i + 2);
    ev = (int)luaL_checkinteger(L, -1);
    lua_pop(L, 2);
    fds[i].events = (short)((ev & 1 ? POLLIN : 0) | (ev & 2 ? POLLOUT : 0));
    fds[i].revents = 0;
  }
  rc = poll(fds, (nfds_t)n, ms);
  if (rc < 0) {
    if (errno == EINTR) rc = 0;
    else {
      lua_pushnil(L);
      lua_pushstring(L, strerror(errno));
      return 2;
    }
  }
  lua_pushinteger(L, rc);
  return 1;
}

/* core.now(): monotonic seconds, for deadlines. */
static int l_now(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + ts.tv_nsec / 1e9);
  return 1;
}

static int digest(lua_State *L, int algo) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  int upper = lua_toboolean(L, 2);
  char out[65];
  if (crypto_hex_digest(algo, s, len, upper, out, sizeof out) != 0)
    return luaL_error(L, "vigi.core: digest failed");
  lua_pushstring(L, out);
  /* The hex may be a password's MD5 (the login hash): not left on the stack. */
  crypto_cleanse(out, sizeof out);
  return 1;
}

/* core.md5_hex(s [, upper]) / core.sha256_hex(s [, upper]) */
static int l_md5_hex(lua_State *L) { return digest(L, CRYPTO_MD5); }
static int l_sha256_hex(lua_State *L) { return digest(L, CRYPTO_SHA256); }

/* core.random_hex(nbytes): 2 * nbytes random lowercase hex digits. */
static int l_random_hex(lua_State *L) {
  unsigned char raw[64];
  char out[129];
  lua_Integer n = luaL_checkinteger(L, 1);
  luaL_argcheck(L, n > 0 && n <= 64, 1, "between 1 and 64 bytes");
  if (crypto_random(raw, (size_t)n) != 0)
    return luaL_error(L, "vigi.core: no randomness available");
  txt_hex(raw, (size_t)n, 0, out);
  lua_pushlstring(L, out, (size_t)(2 * n));
  return 1;
}

int luaopen_vigi_core(lua_State *L);
int luaopen_vigi_core(lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"poll", l_poll}, {"now", l_now}, {"md5_hex", l_md5_hex},
    {"sha256_hex", l_sha256_hex}, {"random_hex", l_random_hex},
    {NULL, NULL}
  };
  /* Not thread-safe, but a Lua state loads this once, before any handle. */
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return luaL_error(L, "vigi.core: libcurl failed to initialise");
  luaL_newlib(L, funcs);
  vigi_open_http(L);
  lua_setfield(L, -2, "http");
  vigi_open_odp(L);
  vigi_open_udp(L);
  vigi_open_multipart(L);
  vigi_open_httpresp(L);
  vigi_open_tcp(L);
  vigi_open_resolve(L);
  vigi_open_digest(L);
  vigi_open_demux(L);
  vigi_open_talk(L);
  vigi_open_poller(L);
  vigi_open_term(L);
  vigi_open_tls(L);
  lua_pushstring(L, curl_version());
  lua_setfield(L, -2, "curl_version");
  /* Whether libcurl resolves host names without blocking (its threaded
   * resolver, or c-ares): then a control call's deadline holds while a
   * name is looked up (docs/design.md). */
  lua_pushboolean(L, (curl_version_info(CURLVERSION_NOW)->features & CURL_VERSION_ASYNCHDNS) != 0);
  lua_setfield(L, -2, "curl_async_dns");
  return 1;
}
