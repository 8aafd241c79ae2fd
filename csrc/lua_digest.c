/* lua_digest.c: the Lua face of digest.c.
 *
 *   core.digest_challenge(www_authenticate_value)
 *     -> { realm=, nonce=, opaque=?, qop="auth"|nil,
 *          algorithm="MD5"|"MD5-sess"|"SHA-256"|"SHA-256-sess",
 *          has_algorithm=bool, stale=bool }
 *     -> nil, message
 *   core.digest_authorization{ username=, password=, realm=, nonce=, uri=,
 *       method=, algorithm=?, qop=?, nc=?, cnonce=?, opaque=? }
 *     -> the Authorization header value
 *     -> nil, message
 *
 * A challenge's algorithm is always set ("MD5" when the camera named
 * none); has_algorithm says whether the camera named it. algorithm is
 * written out in the answer only when given: pass the challenge's when
 * has_algorithm is true. With qop = "auth", nc
 * (default 1) and cnonce (default: 16 fresh random hex digits) go with
 * it; the caller counts nc up per request on the same nonce. A field of
 * the wrong type raises, naming the field; a value digest.c refuses
 * (too long, a control character, an unknown algorithm or qop) returns
 * nil and a message that names the field, never a value: the password
 * never appears in an error. */
#include "crypto.h"
#include "digest.h"
#include "lua_aux.h"

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
  lua_createtable(L, 0, 7);
  vigi_set_string(L, "realm", c.realm);
  vigi_set_string(L, "nonce", c.nonce);
  if (c.has_opaque) vigi_set_string(L, "opaque", c.opaque);
  if (c.qop_auth) vigi_set_string(L, "qop", "auth");
  vigi_set_string(L, "algorithm", digest_algorithm_name(c.algorithm));
  vigi_set_boolean(L, "has_algorithm", c.has_algorithm);
  vigi_set_boolean(L, "stale", c.stale);
  return 1;
}

/* String field k of the table at index 1, for digest.c's C strings (a NUL
 * inside is refused); NULL when absent and optional. */
static const char *str_field(lua_State *L, const char *k, int required) {
  return vigi_string_field(L, 1, k, NULL, required, 1);
}

static int l_authorization(lua_State *L) {
  digest_request q;
  char out[DIGEST_MAX_AUTHORIZATION], cnonce[DIGEST_CNONCE_LEN + 1];
  const char *alg, *qop, *why = NULL;
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
  q.nc = (unsigned long)vigi_opt_integer(L, 1, "nc", 1, 1, 0xffffffffLL);
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
