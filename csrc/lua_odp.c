/* lua_odp.c: the Lua face of odp.c, three functions of vigi.core.
 *
 *   core.odp_request(serial, broadcast [, payload = "{}"]) -> packet
 *   core.odp_reply(serial, broadcast [, payload = "{}" [, opts]]) -> packet
 *       opts (test helpers, to build packets a camera would not send):
 *       bare_magic = true, flags = n, result = n, version = n, opcode = n
 *   core.odp_decode(packet)
 *       -> "reply", { serial=, flags=, result=, payload=, bare_magic= }
 *       -> "unsupported", { serial=, flags= }
 *       -> nil, reason   (odp_strerror's names: "crc", "short", ...) */
#include "lua_aux.h"
#include "odp.h"

#include <string.h>

static uint32_t check_serial(lua_State *L, int i) {
  return (uint32_t)vigi_check_integer(L, i, 0, 0xFFFFFFFFLL, "serial out of range 0..2^32-1");
}

static int l_request(lua_State *L) {
  uint8_t pkt[ODP_MAX_PACKET];
  uint32_t serial = check_serial(L, 1);
  int broadcast = lua_toboolean(L, 2);
  size_t len, n;
  const char *payload = luaL_optlstring(L, 3, "{}", &len);
  luaL_argcheck(L, len <= ODP_MAX_PAYLOAD, 3, "payload over 8192 bytes");
  n = odp_encode_request(pkt, sizeof pkt, serial, broadcast, payload, len);
  lua_pushlstring(L, (const char *)pkt, n);
  return 1;
}

static int l_reply(lua_State *L) {
  /* The packet is built in a userdata of its size: payloads up to what
   * the length field can announce are allowed, so that tests can build
   * packets over ODP_MAX_PACKET, and 64 KiB is too much C stack. */
  uint8_t *pkt;
  odp_packet p;
  size_t n;
  memset(&p, 0, sizeof p);
  p.serial = check_serial(L, 1);
  p.payload = (const uint8_t *)luaL_optlstring(L, 3, "{}", &p.payload_len);
  luaL_argcheck(L, p.payload_len <= 0xFFFF, 3, "payload over 65535 bytes");
  p.version = ODP_VERSION;
  p.opcode = ODP_OPCODE;
  p.flags = ODP_FLAG_REPLY | (lua_toboolean(L, 2) ? ODP_FLAG_BROADCAST : ODP_FLAG_UNICAST);
  p.result = ODP_RET_OK;
  if (!lua_isnoneornil(L, 4)) {
    luaL_checktype(L, 4, LUA_TTABLE);
    p.flags = (uint8_t)vigi_opt_integer(L, 4, "flags", p.flags, 0, 0xFF);
    p.result = (uint8_t)vigi_opt_integer(L, 4, "result", p.result, 0, 0xFF);
    p.version = (uint8_t)vigi_opt_integer(L, 4, "version", p.version, 0, 0xFF);
    p.opcode = (uint16_t)vigi_opt_integer(L, 4, "opcode", p.opcode, 0, 0xFFFF);
    p.bare_magic = vigi_opt_boolean(L, 4, "bare_magic", 0);
  }
  pkt = vigi_newuserdata(L, ODP_HEADER_LEN + p.payload_len);
  n = odp_encode(pkt, ODP_HEADER_LEN + p.payload_len, &p);
  lua_pushlstring(L, (const char *)pkt, n);
  return 1;
}

static int l_decode(lua_State *L) {
  size_t len;
  const uint8_t *pkt = (const uint8_t *)luaL_checklstring(L, 1, &len);
  odp_packet p;
  int rc = odp_decode(pkt, len, &p);
  if (rc != ODP_OK && rc != ODP_UNSUPPORTED) {
    lua_pushnil(L);
    lua_pushstring(L, odp_strerror(rc));
    return 2;
  }
  lua_pushstring(L, rc == ODP_OK ? "reply" : "unsupported");
  lua_createtable(L, 0, 5);
  vigi_set_integer(L, "serial", p.serial);
  vigi_set_integer(L, "flags", p.flags);
  if (rc == ODP_OK) {
    vigi_set_integer(L, "result", p.result);
    vigi_set_lstring(L, "payload", (const char *)p.payload, p.payload_len);
    vigi_set_boolean(L, "bare_magic", p.bare_magic);
  }
  return 2;
}

void vigi_open_odp(lua_State *L);
/* Adds the functions to the module table at the top of the stack. */
void vigi_open_odp(lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"odp_request", l_request}, {"odp_reply", l_reply}, {"odp_decode", l_decode},
    {NULL, NULL}
  };
  luaL_setfuncs(L, funcs, 0);
}
