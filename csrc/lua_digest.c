/* lua_digest.c: the Lua face of digest.c.
 *
 *   core.digest_challenge(www_authenticate_value)
 *     -> { realm=, nonce=, opaque=?, qop="auth"|nil,
 *          algorithm="MD5"|"MD5-sess"|"SHA-256"|"SHA-256-sess", stale=bool }
 *     -> nil, message
 *   core.digest_authorization{ username=, password=, realm=, nonce=, uri=,
 *       method=, algorithm=?, qop=?, nc=?, cnonce=?, opaque=? }
 *     -> the Authorization header value
 *     -> nil, message
 *
 * algorithm is written out only when given (pass the challenge's, which
 * is always set: "MD5" when the camera named none). With qop = "auth", nc
 * (default 1) and cnonce (default: 16 fresh random hex digits) go with
 * it; the caller counts nc up per request on the same nonce. A field of
 * the wrong type raises, naming the field; a value digest.c refuses
 * (too long, a control character, an unknown algorithm or qop) returns
 * nil and a message that names the field, never a value: the password
 * never appears in an error. */
#include "compat.h"
#include "crypto.h"
#include "digest.h"

#include <string.h>

static int fail(lua_State *L, const char *why) {
  lua_pushnil(L);
  lua_pushfstring(L, "digest: %s", why);
  return 2;
}

static int l_challenge(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  digest_challenge c;
  const char *why = NULL;
  if (digest_parse_challenge(s, len, &c, &why) != 0) return fail(L, why);
  lua_createtable(L, 0, 6);
  lua_pushstring(L, c.realm);
  lua_setfield(L, -2, "realm");
  lua_pushstring(L, c.nonce);
  lua_setfield(L, -2, "nonce");
  if (c.has_opaque) {
    lua_pushstring(L, c.opaque);
    lua_setfield(L, -2, "opaque");
  }
  if (c.qop_auth) {
    lua_pushliteral(L, "auth");
    lua_setfield(L, -2, "qop");
  }
  lua_pushstring(L, digest_algorithm_name(c.algorithm));
  lua_setfield(L, -2, "algorithm");
  lua_pushboolean(L, c.stale);
  lua_setfield(L, -2, "stale");
  return 1;
}

/* String field k of the table at index 1; NULL when absent and optional.
 * The value stays alive in the table while the call runs. The error
 * names the field and the type found, not the value. */
static const char *str_field(lua_State *L, const char *k, int required) {
  const char *v;
  size_t len;
  int t;
  lua_getfield(L, 1, k);
  t = lua_type(L, -1);
  if (t == LUA_TNIL && !required) {
    lua_pop(L, 1);
    return NULL;
  }
  if (t != LUA_TSTRING)
    luaL_argerror(L, 1, lua_pushfstring(L, "%s: string expected, got %s", k, lua_typename(L, t)));
  v = lua_tolstring(L, -1, &len);
  if (strlen(v) != len) luaL_argerror(L, 1, lua_pushfstring(L, "%s: string holds a NUL byte", k));
  lua_pop(L, 1); /* the table still holds the string */
  return v;
}

static int l_authorization(lua_State *L) {
  digest_request q;
  char out[DIGEST_MAX_AUTHORIZATION], cnonce[DIGEST_CNONCE_LEN + 1];
  const char *alg, *qop, *why = NULL;
  lua_Number nc = 1;
  int n;
  luaL_checktype(L, 1, LUA_TTABLE);
  memset(&q, 0, sizeof q);
  q.username = str_field(L, "username", 1);
  q.password = str_field(L, "password", 1);
  q.realm = str_field(L, "realm", 1);
  q.nonce = str_field(L, "nonce", 1);
  q.uri = str_field(L, "uri", 1);
  q.method = str_field(L, "method", 1);
  q.opaque = str_field(L, "opaque", 0);
  q.cnonce = str_field(L, "cnonce", 0);
  alg = str_field(L, "algorithm", 0);
  qop = str_field(L, "qop", 0);
  lua_getfield(L, 1, "nc");
  if (!lua_isnil(L, -1)) {
    nc = lua_tonumber(L, -1);
    /* Range first (it also refuses NaN): the whole-number test casts. */
    if (lua_type(L, -1) != LUA_TNUMBER || !(nc >= 1 && nc <= 4294967295.0) ||
        nc != (lua_Number)(unsigned long long)nc)
      luaL_argerror(L, 1, "nc: integer in 1..0xffffffff expected");
  }
  lua_pop(L, 1);
  q.nc = (unsigned long)nc;
  q.algorithm = DIGEST_MD5;
  if (alg) {
    q.algorithm = digest_algorithm_parse(alg, strlen(alg));
    if (q.algorithm < 0) return fail(L, "unsupported algorithm");
    q.send_algorithm = 1;
  }
  if (qop) {
    if (strcmp(qop, "auth") != 0) return fail(L, "unsupported qop (only \"auth\")");
    q.qop_auth = 1;
  }
  if (!q.cnonce && (q.qop_auth || q.algorithm == DIGEST_MD5_SESS ||
                    q.algorithm == DIGEST_SHA256_SESS)) {
    if (digest_cnonce(cnonce) != 0) return fail(L, "no random bytes for the cnonce");
    q.cnonce = cnonce;
  }
  n = digest_authorization(&q, out, sizeof out, &why);
  if (n >= 0) lua_pushlstring(L, out, (size_t)n);
  /* The answer is made from HA1; it is not left on the C stack either. */
  crypto_cleanse(out, sizeof out);
  if (n < 0) return fail(L, why);
  return 1;
}

void vigi_open_digest(lua_State *L);
/* Adds digest_challenge and digest_authorization to the module table at
 * the top of the stack. */
void vigi_open_digest(lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"digest_challenge", l_challenge}, {"digest_authorization", l_authorization}, {NULL, NULL}
  };
  luaL_setfuncs(L, funcs, 0);
}
