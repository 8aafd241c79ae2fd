/* The TLS identity of one camera: an SSL_CTX ready for non-blocking server
 * connections (session cache and TLS 1.3 tickets, so that clients can
 * resume), its certificate as PEM, and the pin of its public key. */
#ifndef SIM_TLS_H
#define SIM_TLS_H

#include <stddef.h>
#include <openssl/ssl.h>

struct tls_ident {
	SSL_CTX *ctx;
	char *cert_pem;        /* NUL-terminated PEM of the leaf certificate(s) */
	char pin[96];          /* "sha256//" + base64(SHA-256(DER SubjectPublicKeyInfo)) */
	X509 **certs;          /* generated: one per address (NULL: the ctx's for all) */
	size_t ncerts;
};

/* Without cert_file/key_file, generate an EC P-256 key and, for each of
 * the n addresses, a self-signed certificate valid one year,
 * CN=<address>, subjectAltName IP:<address> (or DNS:<address> if it is
 * not an IP literal) and DNS:localhost: every camera of a fleet has a
 * certificate of its own, as real cameras do, and one key, so one pin.
 * cert_pem holds them all (a CA file for every camera). Returns 0, or -1
 * with a message in err. */
int tls_ident_init(struct tls_ident *t, const char *const *addresses, size_t n,
		   const char *cert_file, const char *key_file,
		   char *err, size_t errsz);
void tls_ident_free(struct tls_ident *t);

/* The certificate of address i (SSL_use_certificate on each connection),
 * or NULL: the context's own (given with --cert, or a single camera). */
X509 *tls_ident_cert(const struct tls_ident *t, size_t i);

/* Write the certificate PEM to path. Returns 0 or -1 (message in err). */
int tls_write_cert(const struct tls_ident *t, const char *path, char *err, size_t errsz);

#endif
