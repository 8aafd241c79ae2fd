/* digest.h: HTTP/RTSP Digest access authentication (RFC 2617, RFC 7616)
 * as the stream port asks for it (WIRE-NOTES §3 and §4):
 *
 *   RTSP/1.0 401 Unauthorized
 *   WWW-Authenticate: Digest realm="r", nonce="n", qop="auth,auth-int",
 *                     opaque="o", algorithm=SHA-256, stale=true
 *
 *   Authorization: Digest username="admin", realm="r", nonce="n",
 *     uri="rtsp://h/multitrans", response="...", algorithm="SHA-256",
 *     opaque="o", qop="auth", nc="00000001", cnonce="0a4f113b..."
 *
 * Accepted in a challenge: parameter names in any case, values as tokens
 * or quoted strings (backslash escapes undone), spaces and empty elements
 * around the commas, unknown parameters (ignored), other schemes before
 * or after (RFC 7235 lists several challenges in one value: the first
 * Digest challenge that can be answered is taken). Sent: every value
 * quoted, qop, nc and algorithm included, because the camera refuses the
 * bare RFC 7616 forms (WIRE-NOTES §4).
 *
 * Supported: algorithms MD5, MD5-sess, SHA-256, SHA-256-sess; qop "auth"
 * or none (auth-int, which hashes the body, is not). Sans-IO, plain C (no
 * lua.h), no allocation: fixed-size structs, results in the caller's
 * buffer. Digests come from crypto.h. Fuzzed by fuzz/digest_parse.c. */
#ifndef VIGI_DIGEST_H
#define VIGI_DIGEST_H

#include <stddef.h>

/* Bytes of any one value, challenge or credential, NUL excluded. A longer
 * value is an error, never cut: a cut nonce would only fail later, with a
 * less helpful message. */
#define DIGEST_MAX_FIELD 256

/* Length of a generated cnonce: 16 hex digits (64 random bits). */
#define DIGEST_CNONCE_LEN 16

/* Room for any header value digest_authorization() writes: ten fields of
 * at most DIGEST_MAX_FIELD bytes, each of which may double when escaped,
 * their names, quotes and separators. */
#define DIGEST_MAX_AUTHORIZATION (10 * (2 * DIGEST_MAX_FIELD + 16) + 16)

enum { DIGEST_MD5, DIGEST_MD5_SESS, DIGEST_SHA256, DIGEST_SHA256_SESS };

typedef struct digest_challenge {
  char realm[DIGEST_MAX_FIELD + 1];  /* NUL-terminated, may be empty */
  char nonce[DIGEST_MAX_FIELD + 1];  /* NUL-terminated, never empty */
  char opaque[DIGEST_MAX_FIELD + 1]; /* NUL-terminated; has_opaque says if sent */
  int has_opaque;
  int algorithm;      /* DIGEST_MD5 when the challenge names none */
  int has_algorithm;  /* the challenge named it */
  int qop_auth;       /* 1: answer with qop "auth"; 0: the challenge had no qop */
  int stale;          /* stale=true: the nonce aged, the credentials were fine */
} digest_challenge;

/* Parses a WWW-Authenticate (or Proxy-Authenticate) value s[0..len) into
 * *c. Returns 0, or -1 with a short static text in *why (which never
 * quotes the input): no Digest challenge, a syntax error, a missing realm
 * or nonce, a value over DIGEST_MAX_FIELD, an unsupported algorithm or
 * qop. When several Digest challenges are given, the first that can be
 * answered wins; when none can, *why is the first one's reason. */
int digest_parse_challenge(const char *s, size_t len, digest_challenge *c, const char **why);

/* What the Authorization value is computed from. Strings are
 * NUL-terminated, each at most DIGEST_MAX_FIELD bytes. */
typedef struct digest_request {
  const char *username;
  const char *password;  /* used for the hash only, never written out */
  const char *realm;
  const char *nonce;
  const char *method;    /* "MULTITRANS", "GET", ... */
  const char *uri;       /* as on the request line */
  int algorithm;         /* DIGEST_MD5 .. DIGEST_SHA256_SESS */
  int send_algorithm;    /* write algorithm="..." (when the challenge named one) */
  const char *opaque;    /* NULL: none */
  int qop_auth;          /* 1: qop="auth", with nc and cnonce */
  unsigned long nc;      /* qop only: 1..0xffffffff, counting up per nonce */
  const char *cnonce;    /* qop only: the client nonce (digest_cnonce()) */
} digest_request;

/* Writes the Authorization header value (without "Authorization: ") for
 * *q to out, NUL-terminated. Returns its length, or -1 with a static text
 * in *why that names the field at fault but never its value (so never the
 * password): a missing or over-long field, a control character (a line
 * break would end the header), an unknown algorithm, nc out of range, a
 * digest failure, or out too small (DIGEST_MAX_AUTHORIZATION is always
 * enough). */
int digest_authorization(const digest_request *q, char *out, size_t cap, const char **why);

/* A fresh cnonce: DIGEST_CNONCE_LEN lowercase hex digits and a NUL into
 * out (at least DIGEST_CNONCE_LEN + 1 bytes). Returns 0, or -1 when no
 * random bytes could be had. */
int digest_cnonce(char *out);

/* An algorithm's name as sent ("MD5", "MD5-sess", "SHA-256",
 * "SHA-256-sess"), or NULL. */
const char *digest_algorithm_name(int algorithm);

/* The algorithm named s[0..len) in any case, or -1 when it is not one of
 * the four supported. */
int digest_algorithm_parse(const char *s, size_t len);

#endif
