/* fuzz/digest_parse.c: libFuzzer entry for digest_parse_challenge (make
 * fuzz).
 *
 * The input is a WWW-Authenticate value, in a heap block of its exact size
 * (no NUL after it), so ASan sees any read past len. A parse that succeeds
 * must give NUL-terminated fields within their bounds, a nonce that is not
 * empty and a supported algorithm; its answer is then built, which must
 * fit DIGEST_MAX_AUTHORIZATION, never hold the password, and be the same
 * when built twice. A failed parse must say why. */
#include "digest.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* With control characters, which no parsed field may hold, so that the
 * input can never put the password into the answer by itself. */
#define PASSWORD "\x01pa55-w0rd\x02"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  digest_challenge c;
  digest_request q;
  const char *why = NULL;
  char out[DIGEST_MAX_AUTHORIZATION], again[DIGEST_MAX_AUTHORIZATION];
  char *in = malloc(size ? size : 1);
  int n;
  if (!in) abort();
  if (size) memcpy(in, data, size);
  if (digest_parse_challenge(in, size, &c, &why) != 0) {
    if (!why) __builtin_trap();
    free(in);
    return 0;
  }
  free(in);
  if (memchr(c.realm, 0, sizeof c.realm) == NULL || memchr(c.nonce, 0, sizeof c.nonce) == NULL ||
      memchr(c.opaque, 0, sizeof c.opaque) == NULL || c.nonce[0] == '\0')
    __builtin_trap();
  if (!digest_algorithm_name(c.algorithm) || (c.qop_auth != 0 && c.qop_auth != 1)) __builtin_trap();

  memset(&q, 0, sizeof q);
  q.username = "admin";
  q.password = PASSWORD;
  q.realm = c.realm;
  q.nonce = c.nonce;
  q.method = "MULTITRANS";
  q.uri = "rtsp://192.0.2.7/multitrans";
  q.algorithm = c.algorithm;
  q.send_algorithm = c.has_algorithm;
  q.opaque = c.has_opaque ? c.opaque : NULL;
  q.qop_auth = c.qop_auth;
  q.nc = 0xffffffffUL;
  q.cnonce = "0123456789abcdef";
  n = digest_authorization(&q, out, sizeof out, &why);
  /* The parser let no control character through, and every field is
   * within bounds: the answer can always be built. */
  if (n <= 0 || (size_t)n != strlen(out) || strstr(out, PASSWORD)) __builtin_trap();
  if (digest_authorization(&q, again, sizeof again, &why) != n || strcmp(out, again) != 0)
    __builtin_trap();
  return 0;
}
