/* crypto.c: digests and randomness over libcrypto (see crypto.h). */
#include "crypto.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

int crypto_hex_digest(int algo, const void *data, size_t len, int upper,
                      char *out, size_t outlen) {
  static const char lo[] = "0123456789abcdef", up[] = "0123456789ABCDEF";
  const char *digits = upper ? up : lo;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0, i;
  const EVP_MD *type = algo == CRYPTO_MD5 ? EVP_md5() : EVP_sha256();
  if (!EVP_Digest(data, len, md, &mdlen, type, NULL)) return -1;
  if (outlen < (size_t)mdlen * 2 + 1) return -1;
  for (i = 0; i < mdlen; i++) {
    out[2 * i] = digits[md[i] >> 4];
    out[2 * i + 1] = digits[md[i] & 15];
  }
  out[2 * mdlen] = '\0';
  return 0;
}

int crypto_random(void *out, size_t n) {
  return RAND_bytes(out, (int)n) == 1 ? 0 : -1;
}
