/* lua_talk.c: G.711 and the talk packetizer for Lua, class
 * "vigi.talk_packer" (the other direction of lua_demux.c).
 *
 *   core.g711_encode(pcm16le, "alaw"|"ulaw") -> bytes
 *   core.g711_decode(bytes, "alaw"|"ulaw")   -> pcm16le
 *   core.talk_packer{ channel =, law =, ssrc =, seq =, timestamp =, samples = 160 }
 *     p:pack(g711) -> whole "$" frames, p:flush() -> the rest, p:state()
 *   core.TALK_OVERHEAD   -- the bytes of a packet besides its samples
 *
 * ssrc, seq and timestamp are random when not given (RFC 3550 wants
 * random starts). */
#include "crypto.h"
#include "g711.h"
#include "lua_aux.h"
#include "rtp.h"

#include <stdint.h>
#include <string.h>

#define TALK "vigi.talk_packer"

/* ---- G.711 ------------------------------------------------------------ */

static int check_law(lua_State *L, int i) {
  static const char *const laws[] = {"alaw", "ulaw", NULL};
  return luaL_checkoption(L, i, "alaw", laws);
}

/* core.g711_encode(pcm16le, law): little-endian 16-bit samples in. */
static int l_g711_encode(lua_State *L) {
  size_t n, i;
  const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &n);
  int ulaw = check_law(L, 2);
  luaL_Buffer b;
  luaL_argcheck(L, n % 2 == 0, 1, "16-bit samples expected (even length)");
  luaL_buffinit(L, &b);
  for (i = 0; i + 1 < n; i += 2) {
    int16_t v = (int16_t)(uint16_t)(s[i] | s[i + 1] << 8);
    luaL_addchar(&b, (char)(ulaw ? g711_ulaw_encode(v) : g711_alaw_encode(v)));
  }
  luaL_pushresult(&b);
  return 1;
}

static int l_g711_decode(lua_State *L) {
  size_t n, i;
  const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &n);
  int ulaw = check_law(L, 2);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (i = 0; i < n; i++) {
    uint16_t v = (uint16_t)(ulaw ? g711_ulaw_decode(s[i]) : g711_alaw_decode(s[i]));
    luaL_addchar(&b, (char)(v & 0xff));
    luaL_addchar(&b, (char)(v >> 8));
  }
  luaL_pushresult(&b);
  return 1;
}

/* ---- talk packer ------------------------------------------------------- */

typedef struct {
  vigi_object o;
  rtp_talk k;
  size_t samples;
  size_t rest_len;
  unsigned char rest[1]; /* samples bytes: an incomplete packet */
} ltalk;

static ltalk *check_talk(lua_State *L) { return vigi_checkopen(L, 1, TALK); }

static lua_Integer random_or(lua_State *L, const char *k, lua_Integer max) {
  uint32_t r = 0;
  lua_Integer v;
  lua_getfield(L, 1, k);
  if (!lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return vigi_opt_integer(L, 1, k, 0, 0, max);
  }
  lua_pop(L, 1);
  if (crypto_random(&r, sizeof r) != 0) luaL_error(L, TALK ": no randomness available");
  v = (lua_Integer)r;
  return v & max;
}

static int l_talk_new(lua_State *L) {
  static const char *const laws[] = {"alaw", "ulaw", NULL};
  lua_Integer channel, samples, ssrc, seq, ts;
  int ulaw = 0;
  ltalk *p;
  if (lua_isnoneornil(L, 1)) {
    lua_settop(L, 0);
    lua_newtable(L);
  }
  luaL_checktype(L, 1, LUA_TTABLE);
  channel = vigi_opt_integer(L, 1, "channel", 0, 0, 255);
  samples = vigi_opt_integer(L, 1, "samples", 160, 1, RTP_TALK_MAX_PAYLOAD);
  lua_getfield(L, 1, "law");
  if (!lua_isnil(L, -1)) {
    int i;
    const char *law = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
    for (i = 0; laws[i] && strcmp(laws[i], law) != 0; i++) {}
    if (!laws[i]) return luaL_argerror(L, 1, "law: \"alaw\" or \"ulaw\" expected");
    ulaw = i;
  }
  lua_pop(L, 1);
  ssrc = random_or(L, "ssrc", 0xffffffff);
  seq = random_or(L, "seq", 0xffff);
  ts = random_or(L, "timestamp", 0xffffffff);
  p = vigi_newobject(L, TALK, sizeof *p + (size_t)samples);
  p->k.channel = (unsigned)channel;
  p->k.pt = ulaw ? 0 : 8;
  p->k.ssrc = (uint32_t)ssrc;
  p->k.seq = (uint16_t)seq;
  p->k.timestamp = (uint32_t)ts;
  p->samples = (size_t)samples;
  return 1;
}

/* p:pack(g711): as many whole packets as there are samples for; the rest
 * waits for the next call (or flush). */
static int l_talk_pack(lua_State *L) {
  ltalk *p = check_talk(L);
  size_t n, i = 0, npk, step = RTP_TALK_OVERHEAD + p->samples;
  const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 2, &n);
  unsigned char *out, *o;
  npk = (p->rest_len + n) / p->samples;
  if (npk == 0) {
    memcpy(p->rest + p->rest_len, s, n);
    p->rest_len += n;
    lua_pushliteral(L, "");
    return 1;
  }
  if (npk > ((size_t)-1 / 2) / step) return luaL_error(L, TALK ": input too large");
  o = out = vigi_newuserdata(L, npk * step); /* scratch, collected with the call */
  if (p->rest_len) {
    i = p->samples - p->rest_len;
    memcpy(p->rest + p->rest_len, s, i);
    o += rtp_talk_packet(&p->k, p->rest, p->samples, o);
    p->rest_len = 0;
  }
  for (; n - i >= p->samples; i += p->samples) o += rtp_talk_packet(&p->k, s + i, p->samples, o);
  memcpy(p->rest, s + i, n - i);
  p->rest_len = n - i;
  lua_pushlstring(L, (const char *)out, (size_t)(o - out));
  return 1;
}

static int l_talk_flush(lua_State *L) {
  ltalk *p = check_talk(L);
  unsigned char *out;
  size_t n;
  if (p->rest_len == 0) {
    lua_pushliteral(L, "");
    return 1;
  }
  out = vigi_newuserdata(L, RTP_TALK_OVERHEAD + p->rest_len);
  n = rtp_talk_packet(&p->k, p->rest, p->rest_len, out);
  p->rest_len = 0;
  lua_pushlstring(L, (const char *)out, n);
  return 1;
}

static int l_talk_state(lua_State *L) {
  ltalk *p = check_talk(L);
  lua_createtable(L, 0, 6);
  vigi_set_integer(L, "seq", p->k.seq);
  vigi_set_integer(L, "timestamp", (lua_Integer)p->k.timestamp);
  vigi_set_integer(L, "packets", (lua_Integer)p->k.packets);
  vigi_set_integer(L, "ssrc", (lua_Integer)p->k.ssrc);
  vigi_set_integer(L, "buffered", (lua_Integer)p->rest_len);
  return 1;
}

static int l_talk_tostring(lua_State *L) {
  ltalk *p = check_talk(L);
  lua_pushfstring(L, TALK "{channel=%d, pt=%d, packets=%d}", (int)p->k.channel, p->k.pt,
                  (int)p->k.packets);
  return 1;
}

void vigi_open_talk(lua_State *L);
/* Adds core.talk_packer, core.g711_encode and core.g711_decode to the
 * module table at the top of the stack. */
void vigi_open_talk(lua_State *L) {
  static const luaL_Reg talk[] = {
    {"pack", l_talk_pack}, {"flush", l_talk_flush}, {"state", l_talk_state},
    {"__tostring", l_talk_tostring}, {NULL, NULL}
  };
  static const luaL_Reg funcs[] = {
    {"talk_packer", l_talk_new}, {"g711_encode", l_g711_encode},
    {"g711_decode", l_g711_decode}, {NULL, NULL}
  };
  vigi_newclass(L, TALK, talk);
  luaL_setfuncs(L, funcs, 0);
  /* The bytes in front of each packet's samples ("$" header and RTP
   * header): stream/talk.lua sizes its packets by it. */
  vigi_set_integer(L, "TALK_OVERHEAD", RTP_TALK_OVERHEAD);
}
