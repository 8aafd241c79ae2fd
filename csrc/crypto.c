/* crypto.c: digests and randomness over libcrypto (see crypto.h). */
#include "crypto.h"

#include "text.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

int crypto_hex_digest(int algo, const void *data, size_t len, int upper,
                      char *out, size_t outlen) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  const EVP_MD *type = algo == CRYPTO_MD5 ? EVP_md5() : EVP_sha256();
  int rc = -1;
  /* The digest may be a password's (the MD5 login) or HA1: wiped after. */
  if (EVP_Digest(data, len, md, &mdlen, type, NULL) && outlen >= (size_t)mdlen * 2 + 1) {
    txt_hex(md, mdlen, upper, out);
    rc = 0;
  }
  crypto_cleanse(md, sizeof md);
  return rc;
}

void crypto_cleanse(void *p, size_t n) {
  OPENSSL_cleanse(p, n);
}

int crypto_random(void *out, size_t n) {
  return RAND_bytes(out, (int)n) == 1 ? 0 : -1;
}
