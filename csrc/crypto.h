/* crypto.h: the few digests and random values the protocols need, over
 * OpenSSL's libcrypto. Plain C: no lua.h. */
#ifndef VIGI_CRYPTO_H
#define VIGI_CRYPTO_H

#include <stddef.h>

enum { CRYPTO_MD5, CRYPTO_SHA256 };

/* Hex digest of data into out (2 * digest size + 1 bytes: 33 for MD5, 65
 * for SHA-256), lowercase or uppercase. Returns 0, or -1 on failure. */
int crypto_hex_digest(int algo, const void *data, size_t len, int upper,
                      char *out, size_t outlen);

/* n cryptographically random bytes. Returns 0, or -1 on failure. */
int crypto_random(void *out, size_t n);

/* Overwrite n bytes with zeros in a way the compiler cannot drop (a plain
 * memset of a buffer that is not read again may be optimised away): for
 * every buffer that held a password, a hash of it or a digest input. */
void crypto_cleanse(void *p, size_t n);

#endif
