/* digest_test.c: Digest authentication against the published vectors
 * (RFC 2617 §3.5; RFC 7616 §3.9.1, MD5 and SHA-256), the -sess and no-qop
 * forms (vectors computed separately from the RFC formulas), the quoting
 * the camera wants (WIRE-NOTES §4), and the challenge parser's edge
 * cases, under ASan/UBSan. */
#include "check.h"
#include "digest.h"

#include <stdlib.h>
#include <string.h>

/* The value of parameter name in an Authorization value, quotes kept:
 * `name="..."`, or NULL. */
static const char *param(const char *h, const char *name) {
  static char out[512];
  size_t n = strlen(name);
  const char *p = h;
  while ((p = strstr(p, name)) != NULL) {
    if ((p == h || p[-1] == ' ') && p[n] == '=') {
      const char *e = strchr(p + n + 2, '"');
      size_t k;
      CHECK(p[n + 1] == '"' && e != NULL);
      k = (size_t)(e + 1 - (p + n + 1));
      CHECK(k < sizeof out);
      memcpy(out, p + n + 1, k);
      out[k] = '\0';
      return out;
    }
    p += n;
  }
  return NULL;
}

static digest_request rfc7616(int algorithm) {
  digest_request q;
  memset(&q, 0, sizeof q);
  q.username = "Mufasa";
  q.password = "Circle of Life";
  q.realm = "http-auth@example.org";
  q.nonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
  q.method = "GET";
  q.uri = "/dir/index.html";
  q.algorithm = algorithm;
  q.send_algorithm = 1;
  q.opaque = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS";
  q.qop_auth = 1;
  q.nc = 1;
  q.cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
  return q;
}

static void vectors(void) {
  char out[DIGEST_MAX_AUTHORIZATION];
  const char *why = NULL;
  digest_request q;
  int n;

  /* RFC 2617 §3.5. */
  memset(&q, 0, sizeof q);
  q.username = "Mufasa";
  q.password = "Circle Of Life";
  q.realm = "testrealm@host.com";
  q.nonce = "dcd98b7102dd2f0e8b11d0f600bfb0c093";
  q.method = "GET";
  q.uri = "/dir/index.html";
  q.algorithm = DIGEST_MD5;
  q.qop_auth = 1;
  q.nc = 1;
  q.cnonce = "0a4f113b";
  q.opaque = "5ccc069c403ebaf9f0171e9517f40e41";
  n = digest_authorization(&q, out, sizeof out, &why);
  CHECK(n > 0 && (size_t)n == strlen(out));
  CHECK(strcmp(out,
               "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", "
               "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", "
               "response=\"6629fae49393a05397450978507c4ef1\", "
               "opaque=\"5ccc069c403ebaf9f0171e9517f40e41\", qop=\"auth\", nc=\"00000001\", "
               "cnonce=\"0a4f113b\"") == 0);
  CHECK(strstr(out, "Circle") == NULL);
  /* The same without qop (RFC 2069's form): H(HA1:nonce:HA2), no nc or
   * cnonce. */
  q.qop_auth = 0;
  q.opaque = NULL;
  CHECK(digest_authorization(&q, out, sizeof out, &why) > 0);
  CHECK(strcmp(param(out, "response"), "\"670fd8c2df070c60b045671b8b24ff02\"") == 0);
  CHECK(!param(out, "nc") && !param(out, "cnonce") && !param(out, "qop") && !param(out, "opaque"));
  CHECK(!param(out, "algorithm"));

  /* RFC 7616 §3.9.1, every value quoted (WIRE-NOTES §4). */
  q = rfc7616(DIGEST_MD5);
  CHECK(digest_authorization(&q, out, sizeof out, &why) > 0);
  CHECK(strcmp(param(out, "response"), "\"8ca523f5e9506fed4657c9700eebdbec\"") == 0);
  CHECK(strcmp(param(out, "algorithm"), "\"MD5\"") == 0);
  q = rfc7616(DIGEST_SHA256);
  n = digest_authorization(&q, out, sizeof out, &why);
  CHECK(n > 0);
  CHECK(strcmp(out,
               "Digest username=\"Mufasa\", realm=\"http-auth@example.org\", "
               "nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", uri=\"/dir/index.html\", "
               "response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\", "
               "algorithm=\"SHA-256\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\", "
               "qop=\"auth\", nc=\"00000001\", "
               "cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\"") == 0);
  /* No bare values anywhere. */
  CHECK(strstr(out, "qop=auth") == NULL && strstr(out, "nc=0") == NULL &&
        strstr(out, "algorithm=SHA") == NULL);

  /* -sess: HA1 = H(H(user:realm:pass):nonce:cnonce). */
  q = rfc7616(DIGEST_MD5_SESS);
  CHECK(digest_authorization(&q, out, sizeof out, &why) > 0);
  CHECK(strcmp(param(out, "response"), "\"e783283f46242139c486a698fec7211d\"") == 0);
  CHECK(strcmp(param(out, "algorithm"), "\"MD5-sess\"") == 0);
  q = rfc7616(DIGEST_SHA256_SESS);
  CHECK(digest_authorization(&q, out, sizeof out, &why) > 0);
  CHECK(strcmp(param(out, "response"),
               "\"2fd51b3a77ad75bad6afad6003e818d767133c46d9e2749e7f5232ae1ea3efd7\"") == 0);
  CHECK(strcmp(param(out, "algorithm"), "\"SHA-256-sess\"") == 0);
  /* SHA-256 without qop. */
  q = rfc7616(DIGEST_SHA256);
  q.qop_auth = 0;
  CHECK(digest_authorization(&q, out, sizeof out, &why) > 0);
  CHECK(strcmp(param(out, "response"),
               "\"a1306b0595a6c7fe96c448631fb5cfbd5107bd1fe1da729d978dd7446b812363\"") == 0);

  /* The stream port's case: MULTITRANS, a later nc, a password with a
   * quote, which only the hash sees; a username with a quote, escaped. */
  memset(&q, 0, sizeof q);
  q.username = "admin";
  q.password = "pass\"word";
  q.realm = "TP-LINK IP-Camera";
  q.nonce = "b5ee0c9cb96f28a4d1d0c3b4e0a6f1a2";
  q.method = "MULTITRANS";
  q.uri = "rtsp://192.168.1.10/multitrans";
  q.algorithm = DIGEST_SHA256;
  q.qop_auth = 1;
  q.nc = 0x1a2b3c4d;
  q.cnonce = "0123456789abcdef";
  CHECK(digest_authorization(&q, out, sizeof out, &why) > 0);
  CHECK(strcmp(param(out, "response"),
               "\"8c99d9f2e1a637057890009d57393f0fde5d2bcf4710baeb6ba1e5b34449cdd7\"") == 0);
  CHECK(strcmp(param(out, "nc"), "\"1a2b3c4d\"") == 0);
  CHECK(!param(out, "algorithm") && strstr(out, "pass") == NULL);
  q.username = "a\"b\\c";
  CHECK(digest_authorization(&q, out, sizeof out, &why) > 0);
  {
    static const char WANT[] = "Digest username=\"a\\\"b\\\\c\", realm=";
    CHECK(strncmp(out, WANT, sizeof WANT - 1) == 0);
  }
}

static void refusals(void) {
  char out[DIGEST_MAX_AUTHORIZATION], longv[DIGEST_MAX_FIELD + 2];
  const char *why = NULL;
  digest_request q = rfc7616(DIGEST_SHA256);
  memset(longv, 'x', sizeof longv - 1);
  longv[sizeof longv - 1] = '\0';

  q.password = NULL;
  CHECK(digest_authorization(&q, out, sizeof out, &why) == -1 && strcmp(why, "password missing") == 0);
  CHECK(out[0] == '\0');
  q.password = longv;
  CHECK(digest_authorization(&q, out, sizeof out, &why) == -1 && strcmp(why, "password too long") == 0);
  longv[DIGEST_MAX_FIELD] = '\0'; /* exactly the limit: fine */
  CHECK(digest_authorization(&q, out, sizeof out, &why) > 0);
  q.password = "line\r\nbreaks are only hashed";
  CHECK(digest_authorization(&q, out, sizeof out, &why) > 0);
  q.username = "admin\r\nX-Injected: 1";
  CHECK(digest_authorization(&q, out, sizeof out, &why) == -1);
  CHECK(strcmp(why, "username holds a control character") == 0);
  q = rfc7616(DIGEST_SHA256);
  q.cnonce = NULL;
  CHECK(digest_authorization(&q, out, sizeof out, &why) == -1 && strcmp(why, "cnonce missing") == 0);
  q.cnonce = "";
  CHECK(digest_authorization(&q, out, sizeof out, &why) == -1);
  q = rfc7616(DIGEST_SHA256);
  q.nc = 0;
  CHECK(digest_authorization(&q, out, sizeof out, &why) == -1);
  q = rfc7616(7);
  CHECK(digest_authorization(&q, out, sizeof out, &why) == -1 && strcmp(why, "unknown algorithm") == 0);
  q = rfc7616(DIGEST_MD5);
  CHECK(digest_authorization(&q, out, 50, &why) == -1 && out[0] == '\0');
  CHECK(strcmp(why, "output buffer too small") == 0);
}

/* Parses s, expecting success. */
static digest_challenge ok(const char *s) {
  digest_challenge c;
  const char *why = NULL;
  CHECK(digest_parse_challenge(s, strlen(s), &c, &why) == 0);
  return c;
}

/* Parses s, expecting the error why. */
static void bad(const char *s, const char *want) {
  digest_challenge c;
  const char *why = NULL;
  CHECK(digest_parse_challenge(s, strlen(s), &c, &why) == -1);
  if (!why || strcmp(why, want) != 0) fprintf(stderr, "%s: %s\n", s, why);
  CHECK(why != NULL && strcmp(why, want) == 0);
}

static void challenges(void) {
  char s[2048], longv[DIGEST_MAX_FIELD + 2];
  digest_challenge c;

  c = ok("Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", "
         "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", "
         "opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"");
  CHECK(strcmp(c.realm, "testrealm@host.com") == 0);
  CHECK(strcmp(c.nonce, "dcd98b7102dd2f0e8b11d0f600bfb0c093") == 0);
  CHECK(c.has_opaque && strcmp(c.opaque, "5ccc069c403ebaf9f0171e9517f40e41") == 0);
  CHECK(c.qop_auth == 1 && c.algorithm == DIGEST_MD5 && !c.has_algorithm && !c.stale);

  /* RFC 7616 §3.9.1's SHA-256 challenge; the document's bare form. */
  c = ok("Digest\r\n realm=\"http-auth@example.org\",\r\n qop=\"auth, auth-int\",\r\n"
         " algorithm=SHA-256,\r\n nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\",\r\n"
         " opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"");
  CHECK(c.algorithm == DIGEST_SHA256 && c.has_algorithm && c.qop_auth);
  c = ok("Digest realm=\"TP-LINK IP-Camera\", nonce=\"b5ee0c9cb96f28a4d1d0c3b4e0a6f1a2\"");
  CHECK(c.qop_auth == 0 && !c.has_opaque && c.algorithm == DIGEST_MD5);

  /* Names and values in any case, tokens or quoted, stray commas and
   * spaces, escapes, unknown parameters, stale. */
  c = ok("  digest ,REALM = \"a \\\"q\\\" \\\\ b\" ,, Nonce=n1 ,QOP=AUTH, Algorithm=\"sha-256-SESS\","
         " stale=TRUE, domain=\"/a /b\", charset=UTF-8, userhash=false, x-new=\"1,2\",  ");
  CHECK(strcmp(c.realm, "a \"q\" \\ b") == 0 && strcmp(c.nonce, "n1") == 0);
  CHECK(c.qop_auth && c.algorithm == DIGEST_SHA256_SESS && c.stale);
  c = ok("Digest realm=\"\", nonce=\"x\", stale=false, algorithm=md5-sess");
  CHECK(c.realm[0] == '\0' && !c.stale && c.algorithm == DIGEST_MD5_SESS);
  c = ok("Digest realm=r, nonce=x, stale=\"true\"");
  CHECK(c.stale);
  /* qop lists: auth anywhere; an empty list is no qop. */
  CHECK(ok("Digest realm=r, nonce=x, qop=\"auth-int,auth\"").qop_auth == 1);
  CHECK(ok("Digest realm=r, nonce=x, qop=auth").qop_auth == 1);
  CHECK(ok("Digest realm=r, nonce=x, qop=\"\"").qop_auth == 0);
  /* A repeated parameter: the first counts. */
  c = ok("Digest realm=r, nonce=first, nonce=second");
  CHECK(strcmp(c.nonce, "first") == 0);

  /* Other schemes around it (RFC 7235 lists); the first Digest challenge
   * that can be answered wins. */
  c = ok("Basic realm=\"x\", Digest realm=\"d\", nonce=\"n\", Bearer realm=\"y\"");
  CHECK(strcmp(c.realm, "d") == 0);
  c = ok("Negotiate YIIabc==, Digest realm=d, nonce=n");
  CHECK(strcmp(c.nonce, "n") == 0);
  c = ok("Digest realm=a, nonce=1, algorithm=SHA-512-256, Digest realm=b, nonce=2, algorithm=SHA-256");
  CHECK(strcmp(c.realm, "b") == 0 && c.algorithm == DIGEST_SHA256);

  /* Refused, with a reason. */
  bad("", "no Digest challenge");
  bad("Basic realm=\"x\"", "no Digest challenge");
  bad("Digest realm=\"x\", nonce=\"y\", qop=\"auth-int\"", "qop auth-int alone is not supported");
  bad("Digest realm=\"x\", nonce=\"y\", qop=\"auth-conf\"", "unsupported qop");
  bad("Digest realm=\"x\", nonce=\"y\", algorithm=SHA-512-256", "unsupported algorithm");
  bad("Digest realm=\"x\", nonce=\"y\", algorithm=\"\"", "unsupported algorithm");
  bad("Digest realm=a, nonce=1, algorithm=SHA-1, Digest realm=b", "unsupported algorithm");
  bad("Digest nonce=\"y\"", "challenge without realm");
  bad("Digest realm=\"x\"", "challenge without nonce");
  bad("Digest realm=\"x\", nonce=\"\"", "challenge without nonce");
  bad("Digest realm=\"x\", nonce=\"y", "unterminated quoted string");
  bad("Digest realm=\"x\", nonce=\"y\\\"", "unterminated quoted string");
  bad("Digest =x", "no Digest challenge"); /* a parameter named Digest */
  bad("Digest realm=r, =x", "bad challenge syntax");
  bad("Digest realm=\"x\", \"nonce\"=y", "bad challenge syntax");
  bad("Digest realm=\"a\x01\", nonce=y", "control character in realm");

  /* Bounded fields: DIGEST_MAX_FIELD bytes fit, one more is an error,
   * never a cut value. Escapes count once undone. */
  memset(longv, 'n', sizeof longv - 1);
  longv[DIGEST_MAX_FIELD] = '\0';
  snprintf(s, sizeof s, "Digest realm=r, nonce=\"%s\", opaque=%s", longv, longv);
  c = ok(s);
  CHECK(strlen(c.nonce) == DIGEST_MAX_FIELD && strlen(c.opaque) == DIGEST_MAX_FIELD);
  longv[DIGEST_MAX_FIELD] = 'n';
  longv[DIGEST_MAX_FIELD + 1] = '\0';
  snprintf(s, sizeof s, "Digest realm=r, nonce=\"%s\"", longv);
  bad(s, "nonce too long");
  snprintf(s, sizeof s, "Digest realm=%s, nonce=n", longv);
  bad(s, "realm too long");
  snprintf(s, sizeof s, "Digest realm=r, nonce=n, opaque=\"%s\"", longv);
  bad(s, "opaque too long");
  /* Unknown parameters may be as long as they like. */
  snprintf(s, sizeof s, "Digest realm=r, nonce=n, domain=\"%s%s%s\"", longv, longv, longv);
  ok(s);

  /* The parser never reads past len: the value sits at the end of a heap
   * block of its exact size, with no NUL, so ASan sees any stray read. The
   * nonce ends where len does. */
  {
    static const char V[] = "Digest realm=r, nonce=nXXXX";
    const char *why = NULL;
    char *h = malloc(23);
    CHECK(h != NULL);
    memcpy(h, V, 23);
    CHECK(digest_parse_challenge(h, 23, &c, &why) == 0 && strcmp(c.nonce, "n") == 0);
    memcpy(h, "Digest realm=\"r\", no=\"", 23);
    CHECK(digest_parse_challenge(h, 23, &c, &why) == -1);
    free(h);
  }
}

static void names(void) {
  char cn[DIGEST_CNONCE_LEN + 1], cn2[DIGEST_CNONCE_LEN + 1];
  size_t i;
  CHECK(strcmp(digest_algorithm_name(DIGEST_MD5), "MD5") == 0);
  CHECK(strcmp(digest_algorithm_name(DIGEST_SHA256_SESS), "SHA-256-sess") == 0);
  CHECK(digest_algorithm_name(-1) == NULL && digest_algorithm_name(4) == NULL);
  CHECK(digest_algorithm_parse("Sha-256", 7) == DIGEST_SHA256);
  CHECK(digest_algorithm_parse("SHA-256x", 7) == DIGEST_SHA256);
  CHECK(digest_algorithm_parse("SHA-256x", 8) == -1);
  CHECK(digest_cnonce(cn) == 0 && digest_cnonce(cn2) == 0);
  CHECK(strlen(cn) == DIGEST_CNONCE_LEN && strcmp(cn, cn2) != 0);
  for (i = 0; i < DIGEST_CNONCE_LEN; i++) CHECK(strchr("0123456789abcdef", cn[i]) != NULL);
}

int main(void) {
  vectors();
  refusals();
  challenges();
  names();
  DONE("digest_test");
}
