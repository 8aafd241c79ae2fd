/* The TLS identity of one camera: an SSL_CTX ready for non-blocking server
 * connections (session cache and TLS 1.3 tickets, so that clients can
 * resume), its certificate as PEM, and the pin of its public key. */
#ifndef SIM_TLS_H
#define SIM_TLS_H

#include <stddef.h>
#include <openssl/ssl.h>

struct tls_ident {
	SSL_CTX *ctx;
	char *cert_pem;        /* NUL-terminated PEM of the leaf certificate */
	char pin[96];          /* "sha256//" + base64(SHA-256(DER SubjectPublicKeyInfo)) */
};

/* Without cert_file/key_file, generate an EC P-256 key and a self-signed
 * certificate valid one year, CN=<addresses[0]>, subjectAltName IP:<a>
 * (or DNS:<a> if it is not an IP literal) for each of the n addresses,
 * and DNS:localhost. Returns 0, or -1 with a message in err. */
int tls_ident_init(struct tls_ident *t, const char *const *addresses, size_t n,
		   const char *cert_file, const char *key_file,
		   char *err, size_t errsz);
void tls_ident_free(struct tls_ident *t);

/* Write the certificate PEM to path. Returns 0 or -1 (message in err). */
int tls_write_cert(const struct tls_ident *t, const char *path, char *err, size_t errsz);

#endif
