/* digest.c: Digest authentication, challenge and answer (contracts in
 * digest.h). */
#include "digest.h"

#include "crypto.h"
#include "text.h"

#include <stdio.h>
#include <string.h>

static const char *const ALGORITHMS[] = {"MD5", "MD5-sess", "SHA-256", "SHA-256-sess"};

const char *digest_algorithm_name(int algorithm) {
  if (algorithm < DIGEST_MD5 || algorithm > DIGEST_SHA256_SESS) return NULL;
  return ALGORITHMS[algorithm];
}

int digest_algorithm_parse(const char *s, size_t len) {
  if (txt_is_word(s, len, "md5")) return DIGEST_MD5;
  if (txt_is_word(s, len, "md5-sess")) return DIGEST_MD5_SESS;
  if (txt_is_word(s, len, "sha-256")) return DIGEST_SHA256;
  if (txt_is_word(s, len, "sha-256-sess")) return DIGEST_SHA256_SESS;
  return -1;
}

static int is_sess(int algorithm) {
  return algorithm == DIGEST_MD5_SESS || algorithm == DIGEST_SHA256_SESS;
}

static int crypto_algo(int algorithm) {
  return algorithm == DIGEST_SHA256 || algorithm == DIGEST_SHA256_SESS ? CRYPTO_SHA256 : CRYPTO_MD5;
}

/* ---- Challenge ------------------------------------------------------ */

/* A value as it stands in the header: the bytes between the quotes of a
 * quoted string (escapes still in), or a bare token. */
typedef struct {
  const char *p;
  size_t n;
  int quoted;
} span;

/* The value at s[*i]: a quoted string, or what runs to a space or comma
 * (a token; also a token68's '=' padding, which other schemes carry). */
static int read_value(const char *s, size_t len, size_t *i, span *v) {
  size_t j = *i;
  if (j < len && s[j] == '"') {
    v->p = s + ++j;
    v->quoted = 1;
    for (; j < len && s[j] != '"'; j++)
      if (s[j] == '\\' && j + 1 < len) j++;
    if (j >= len) return -1;
    v->n = (size_t)(s + j - v->p);
    *i = j + 1;
    return 0;
  }
  v->p = s + j;
  v->quoted = 0;
  while (j < len && !txt_is_lws(s[j]) && s[j] != ',') j++;
  v->n = (size_t)(s + j - v->p);
  *i = j;
  return 0;
}

/* The value v, escapes undone, NUL-terminated into out[0..cap). Returns
 * its length, -1 when it does not fit, -2 when it holds a control
 * character (which would end up in a header or cut a C string). */
static int unquote(const span *v, char *out, size_t cap) {
  size_t i, o = 0;
  for (i = 0; i < v->n; i++) {
    unsigned char ch = (unsigned char)v->p[i];
    if (v->quoted && ch == '\\' && i + 1 < v->n) ch = (unsigned char)v->p[++i];
    if (ch < 0x20 || ch == 0x7f) return -2;
    if (o + 1 >= cap) return -1;
    out[o++] = (char)ch;
  }
  out[o] = '\0';
  return (int)o;
}

/* One Digest challenge being read. */
typedef struct {
  digest_challenge c;
  int has_realm, has_nonce, has_qop, has_stale;
  const char *err; /* the first reason it cannot be answered */
} reading;

static void take(reading *d, const span *v, char *field, int *has, const char *too_long,
                 const char *control) {
  int n;
  if (*has) return; /* a repeated parameter: the first one counts */
  *has = 1;
  n = unquote(v, field, DIGEST_MAX_FIELD + 1);
  if (n < 0 && !d->err) d->err = n == -1 ? too_long : control;
}

/* qop: a list such as "auth,auth-int"; "auth" is what is answered. */
static void take_qop(reading *d, const span *v) {
  char list[DIGEST_MAX_FIELD + 1];
  size_t i = 0, n;
  int some = 0, auth_int = 0, got;
  if (d->has_qop) return;
  d->has_qop = 1;
  got = unquote(v, list, sizeof list);
  if (got < 0) {
    if (!d->err) d->err = "unsupported qop";
    return;
  }
  n = (size_t)got;
  while (i < n) {
    size_t s, e;
    while (i < n && (txt_is_lws(list[i]) || list[i] == ',')) i++;
    s = i;
    while (i < n && !txt_is_lws(list[i]) && list[i] != ',') i++;
    e = i;
    if (s == e) continue;
    some = 1;
    if (txt_is_word(list + s, e - s, "auth")) {
      d->c.qop_auth = 1;
      return;
    }
    if (txt_is_word(list + s, e - s, "auth-int")) auth_int = 1;
  }
  /* An empty list offers nothing: read as no qop at all. */
  if (some && !d->err) d->err = auth_int ? "qop auth-int alone is not supported" : "unsupported qop";
}

static void param(reading *d, const char *name, size_t nlen, const span *v) {
  char word[16];
  if (txt_is_word(name, nlen, "realm")) {
    take(d, v, d->c.realm, &d->has_realm, "realm too long", "control character in realm");
  } else if (txt_is_word(name, nlen, "nonce")) {
    take(d, v, d->c.nonce, &d->has_nonce, "nonce too long", "control character in nonce");
  } else if (txt_is_word(name, nlen, "opaque")) {
    take(d, v, d->c.opaque, &d->c.has_opaque, "opaque too long", "control character in opaque");
  } else if (txt_is_word(name, nlen, "qop")) {
    take_qop(d, v);
  } else if (txt_is_word(name, nlen, "algorithm")) {
    int a, n;
    if (d->c.has_algorithm) return;
    d->c.has_algorithm = 1;
    n = unquote(v, word, sizeof word);
    a = n < 0 ? -1 : digest_algorithm_parse(word, (size_t)n);
    if (a < 0) {
      if (!d->err) d->err = "unsupported algorithm";
    } else {
      d->c.algorithm = a;
    }
  } else if (txt_is_word(name, nlen, "stale")) {
    int n;
    if (d->has_stale) return;
    d->has_stale = 1;
    n = unquote(v, word, sizeof word);
    d->c.stale = n == 4 && txt_is_word(word, 4, "true");
  }
  /* domain, charset, userhash and anything newer: not needed to answer. */
}

/* Ends the challenge in *d: 0 when it can be answered (copied to *c). */
static int finish(reading *d, digest_challenge *c, const char **first_err) {
  const char *err = d->err;
  if (!err && !d->has_realm) err = "challenge without realm";
  if (!err && (!d->has_nonce || d->c.nonce[0] == '\0')) err = "challenge without nonce";
  if (!err) {
    *c = d->c;
    return 0;
  }
  if (!*first_err) *first_err = err;
  return -1;
}

static void reading_init(reading *d) {
  memset(d, 0, sizeof *d);
  d->c.algorithm = DIGEST_MD5;
}

int digest_parse_challenge(const char *s, size_t len, digest_challenge *c, const char **why) {
  reading d;
  size_t i = 0;
  int in_digest = 0;
  const char *first_err = NULL;
  reading_init(&d);
  memset(c, 0, sizeof *c);
  for (;;) {
    size_t name, nlen;
    span v;
    while (i < len && (txt_is_lws(s[i]) || s[i] == ',')) i++;
    if (i == len) break;
    name = i;
    while (i < len && !txt_is_lws(s[i]) && s[i] != ',' && s[i] != '=' && s[i] != '"') i++;
    nlen = i - name;
    if (nlen == 0) {
      *why = "bad challenge syntax";
      return -1;
    }
    while (i < len && txt_is_lws(s[i])) i++;
    if (i < len && s[i] == '=') { /* name=value, a parameter */
      i++;
      while (i < len && txt_is_lws(s[i])) i++;
      if (read_value(s, len, &i, &v) != 0) {
        *why = "unterminated quoted string";
        return -1;
      }
      if (in_digest) param(&d, s + name, nlen, &v);
      continue;
    }
    /* A lone token starts a challenge of that scheme. */
    if (in_digest && finish(&d, c, &first_err) == 0) return 0;
    in_digest = txt_is_word(s + name, nlen, "digest");
    reading_init(&d);
  }
  if (in_digest && finish(&d, c, &first_err) == 0) return 0;
  memset(c, 0, sizeof *c);
  *why = first_err ? first_err : "no Digest challenge";
  return -1;
}

/* ---- Answer --------------------------------------------------------- */

enum { F_OK, F_MISSING, F_LONG, F_CONTROL };

/* Whether a field is fit to hash and, unless secret, to be written out. */
static int field(const char *v, int secret) {
  size_t i;
  if (!v) return F_MISSING;
  for (i = 0; v[i]; i++) {
    unsigned char ch = (unsigned char)v[i];
    if (i >= DIGEST_MAX_FIELD) return F_LONG;
    if (!secret && (ch < 0x20 || ch == 0x7f)) return F_CONTROL;
  }
  return F_OK;
}

/* The message names the field, never its value. */
#define FIELD(f, secret)                                                                 \
  do {                                                                                   \
    int rc_ = field(q->f, secret);                                                       \
    if (rc_ != F_OK) {                                                                   \
      *why = rc_ == F_MISSING ? #f " missing"                                            \
             : rc_ == F_LONG  ? #f " too long"                                           \
                              : #f " holds a control character";                         \
      return -1;                                                                         \
    }                                                                                    \
  } while (0)

/* H(a:b:...) of n NUL-terminated parts, in lowercase hex into out (65
 * bytes). The parts are bounded (DIGEST_MAX_FIELD or a hex digest), so
 * the buffer always fits them. */
static int hash(int algorithm, char *out, const char *const *parts, int n) {
  char buf[8 * (DIGEST_MAX_FIELD + 1)];
  size_t len = 0;
  int i, rc = -1;
  for (i = 0; i < n; i++) {
    size_t k = strlen(parts[i]);
    if (len + k + 1 > sizeof buf) goto done;
    if (i) buf[len++] = ':';
    memcpy(buf + len, parts[i], k);
    len += k;
  }
  rc = crypto_hex_digest(crypto_algo(algorithm), buf, len, 0, out, 65);
done:
  /* user:realm:password, or HA1 with the nonces: wiped before return. */
  crypto_cleanse(buf, len);
  return rc;
}

typedef struct {
  char *out;
  size_t cap, len;
  int over, params;
} writer;

static void put(writer *w, const char *s) {
  size_t k = strlen(s);
  if (w->over || w->len + k + 1 > w->cap) {
    w->over = 1;
    return;
  }
  memcpy(w->out + w->len, s, k);
  w->len += k;
  w->out[w->len] = '\0';
}

/* `, name="value"` with '"' and '\' escaped (RFC 7230 quoted-string). */
static void put_param(writer *w, const char *name, const char *value) {
  char one[3];
  if (w->params++) put(w, ", ");
  put(w, name);
  put(w, "=\"");
  for (; *value; value++) {
    one[0] = '\\';
    one[1] = *value;
    one[2] = '\0';
    put(w, *value == '"' || *value == '\\' ? one : one + 1);
  }
  put(w, "\"");
}

int digest_authorization(const digest_request *q, char *out, size_t cap, const char **why) {
  char ha1[65], ha2[65], resp[65], nc[9];
  const char *name = digest_algorithm_name(q->algorithm);
  int sess = is_sess(q->algorithm), alg = q->algorithm;
  writer w;
  if (cap) out[0] = '\0';
  FIELD(username, 0);
  FIELD(password, 1);
  FIELD(realm, 0);
  FIELD(nonce, 0);
  FIELD(method, 0);
  FIELD(uri, 0);
  if (!name) {
    *why = "unknown algorithm";
    return -1;
  }
  if (q->opaque) FIELD(opaque, 0);
  if (q->qop_auth || sess) {
    FIELD(cnonce, 0);
    if (q->cnonce[0] == '\0') {
      *why = "cnonce missing";
      return -1;
    }
  }
  if (q->qop_auth && (q->nc < 1 || q->nc > 0xffffffffUL)) {
    *why = "nc out of range 1..0xffffffff";
    return -1;
  }
  snprintf(nc, sizeof nc, "%08lx", q->nc & 0xffffffffUL);
  {
    const char *a1[] = {q->username, q->realm, q->password};
    const char *a2[] = {q->method, q->uri};
    if (hash(alg, ha1, a1, 3) != 0) goto digest_failed;
    if (sess) { /* RFC 7616 §3.4.2: HA1 again with the nonces */
      const char *s1[] = {ha1, q->nonce, q->cnonce};
      if (hash(alg, ha1, s1, 3) != 0) goto digest_failed;
    }
    if (hash(alg, ha2, a2, 2) != 0) goto digest_failed;
  }
  if (q->qop_auth) {
    const char *r[] = {ha1, q->nonce, nc, q->cnonce, "auth", ha2};
    if (hash(alg, resp, r, 6) != 0) goto digest_failed;
  } else {
    const char *r[] = {ha1, q->nonce, ha2};
    if (hash(alg, resp, r, 3) != 0) goto digest_failed;
  }
  /* HA1 is as good as the password for this realm: wiped at once. */
  crypto_cleanse(ha1, sizeof ha1);

  memset(&w, 0, sizeof w);
  w.out = out;
  w.cap = cap;
  put(&w, "Digest ");
  put_param(&w, "username", q->username);
  put_param(&w, "realm", q->realm);
  put_param(&w, "nonce", q->nonce);
  put_param(&w, "uri", q->uri);
  put_param(&w, "response", resp);
  if (q->send_algorithm) put_param(&w, "algorithm", name);
  if (q->opaque) put_param(&w, "opaque", q->opaque);
  if (q->qop_auth) {
    put_param(&w, "qop", "auth");
    put_param(&w, "nc", nc);
  }
  if (q->qop_auth || sess) put_param(&w, "cnonce", q->cnonce);
  if (w.over) {
    if (cap) out[0] = '\0';
    *why = "output buffer too small";
    return -1;
  }
  return (int)w.len;

digest_failed:
  crypto_cleanse(ha1, sizeof ha1);
  *why = "digest computation failed";
  return -1;
}

int digest_cnonce(char *out) {
  unsigned char r[DIGEST_CNONCE_LEN / 2];
  if (crypto_random(r, sizeof r) != 0) return -1;
  txt_hex(r, sizeof r, 0, out);
  return 0;
}
