/* TLS identity: see tls.h. */
#include "tls.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#define VALID_SECONDS (365L * 24 * 3600)

static int fail(char *err, size_t errsz, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256] = "";
	if (e)
		ERR_error_string_n(e, buf, sizeof buf);
	snprintf(err, errsz, "%s%s%s", what, e ? ": " : "", buf);
	ERR_clear_error();
	return -1;
}

static EVP_PKEY *make_key(void)
{
	EVP_PKEY *pkey = NULL;
	EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL);
	if (pctx && EVP_PKEY_keygen_init(pctx) > 0 &&
	    EVP_PKEY_CTX_set_ec_paramgen_curve_nid(pctx, NID_X9_62_prime256v1) > 0)
		EVP_PKEY_keygen(pctx, &pkey);
	EVP_PKEY_CTX_free(pctx);
	return pkey;
}

static int add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX v3;
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (!ext)
		return -1;
	int ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

static int is_ip_literal(const char *s)
{
	unsigned char buf[16];
	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* "IP:a,DNS:localhost" (or "DNS:a,...", malloc'd). */
static char *san_list(const char *address)
{
	size_t cap = sizeof "DNS:localhost" + strlen(address) + sizeof "DNS:,";
	char *san = malloc(cap);
	if (san)
		snprintf(san, cap, "%s:%s,DNS:localhost", is_ip_literal(address) ? "IP" : "DNS", address);
	return san;
}

static X509 *make_cert(EVP_PKEY *pkey, const char *address)
{
	X509 *x = X509_new();
	if (!x)
		return NULL;
	unsigned char rnd[16];
	BIGNUM *bn = NULL;
	char *san = NULL;
	int ok = 0;

	if (RAND_bytes(rnd, sizeof rnd) != 1)
		goto out;
	rnd[0] &= 0x7f; /* a positive serial */
	rnd[0] |= 0x01;
	bn = BN_bin2bn(rnd, sizeof rnd, NULL);
	if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
		goto out;
	if (!X509_set_version(x, 2) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), VALID_SECONDS) ||
	    !X509_set_pubkey(x, pkey))
		goto out;
	X509_NAME *name = X509_get_subject_name(x);
	if (!X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
					(const unsigned char *)"vigi-sim", -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
					(const unsigned char *)address, -1, -1, 0) ||
	    !X509_set_issuer_name(x, name))
		goto out;
	if (!(san = san_list(address)))
		goto out;
	if (add_ext(x, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    add_ext(x, NID_key_usage, "critical,digitalSignature") < 0 ||
	    add_ext(x, NID_ext_key_usage, "serverAuth") < 0 ||
	    add_ext(x, NID_subject_key_identifier, "hash") < 0 ||
	    add_ext(x, NID_authority_key_identifier, "keyid:always") < 0 ||
	    add_ext(x, NID_subject_alt_name, san) < 0)
		goto out;
	if (!X509_sign(x, pkey, EVP_sha256()))
		goto out;
	ok = 1;
out:
	BN_free(bn);
	free(san);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static int make_pin(X509 *x, char *pin, size_t pinsz)
{
	EVP_PKEY *pub = X509_get0_pubkey(x);
	unsigned char *der = NULL;
	int len = pub ? i2d_PUBKEY(pub, &der) : -1;
	if (len <= 0)
		return -1;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int ok = EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL);
	OPENSSL_free(der);
	if (!ok)
		return -1;
	unsigned char b64[64];
	EVP_EncodeBlock(b64, md, (int)mdlen);
	snprintf(pin, pinsz, "sha256//%s", (const char *)b64);
	return 0;
}

static char *cert_to_pem(X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *out = NULL;
	if (b && PEM_write_bio_X509(b, x)) {
		char *data;
		long n = BIO_get_mem_data(b, &data);
		out = malloc((size_t)n + 1);
		if (out) {
			memcpy(out, data, (size_t)n);
			out[n] = '\0';
		}
	}
	BIO_free(b);
	return out;
}

/* Every certificate, one after the other. */
static char *certs_to_pem(X509 *const *certs, size_t n)
{
	char *all = NULL;
	size_t len = 0;
	for (size_t i = 0; i < n; i++) {
		char *one = cert_to_pem(certs[i]);
		size_t k = one ? strlen(one) : 0;
		char *grown = one ? realloc(all, len + k + 1) : NULL;
		if (!grown) {
			free(one);
			free(all);
			return NULL;
		}
		all = grown;
		memcpy(all + len, one, k + 1);
		len += k;
		free(one);
	}
	return all;
}

static SSL_CTX *new_ctx(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx)
		return NULL;
	static const unsigned char sid_ctx[] = "vigi-sim";
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
	/* A client that drops the TCP connection without close_notify is an
	 * ordinary close here, not a protocol error. */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
			      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
			      SSL_MODE_RELEASE_BUFFERS);
	/* Resumption: a server-side cache for TLS 1.2 session ids, and the
	 * default stateless tickets for TLS 1.3 (and 1.2). */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	SSL_CTX_sess_set_cache_size(ctx, 20000);
	SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1);
	SSL_CTX_set_timeout(ctx, 7200);
	return ctx;
}

int tls_ident_init(struct tls_ident *t, const char *const *addresses, size_t n,
		   const char *cert_file, const char *key_file,
		   char *err, size_t errsz)
{
	memset(t, 0, sizeof *t);
	t->ctx = new_ctx();
	if (!t->ctx)
		return fail(err, errsz, "cannot create the TLS context");

	X509 *cert = NULL;
	if (cert_file || key_file) {
		if (!cert_file || !key_file) {
			snprintf(err, errsz, "--cert and --key go together");
			goto bad;
		}
		if (SSL_CTX_use_certificate_chain_file(t->ctx, cert_file) != 1) {
			fail(err, errsz, "cannot load the certificate");
			goto bad;
		}
		if (SSL_CTX_use_PrivateKey_file(t->ctx, key_file, SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_check_private_key(t->ctx) != 1) {
			fail(err, errsz, "cannot load the key (or it does not match the certificate)");
			goto bad;
		}
		cert = SSL_CTX_get0_certificate(t->ctx);
	} else {
		EVP_PKEY *pkey = make_key();
		if (!pkey) {
			fail(err, errsz, "cannot generate the key");
			goto bad;
		}
		int ok = (t->certs = calloc(n, sizeof *t->certs)) != NULL;
		for (size_t i = 0; ok && i < n; i++) {
			t->certs[i] = make_cert(pkey, addresses[i]);
			t->ncerts = i + 1;
			ok = t->certs[i] != NULL;
		}
		ok = ok && SSL_CTX_use_certificate(t->ctx, t->certs[0]) == 1 &&
		     SSL_CTX_use_PrivateKey(t->ctx, pkey) == 1;
		EVP_PKEY_free(pkey);
		if (!ok) {
			fail(err, errsz, "cannot make the certificate");
			goto bad;
		}
		cert = SSL_CTX_get0_certificate(t->ctx);
	}
	if (!cert || make_pin(cert, t->pin, sizeof t->pin) < 0) {
		fail(err, errsz, "cannot compute the key pin");
		goto bad;
	}
	t->cert_pem = t->ncerts > 1 ? certs_to_pem(t->certs, t->ncerts) : cert_to_pem(cert);
	if (!t->cert_pem) {
		fail(err, errsz, "cannot write the certificate as PEM");
		goto bad;
	}
	return 0;
bad:
	tls_ident_free(t);
	return -1;
}

void tls_ident_free(struct tls_ident *t)
{
	SSL_CTX_free(t->ctx);
	free(t->cert_pem);
	for (size_t i = 0; i < t->ncerts; i++)
		X509_free(t->certs[i]);
	free(t->certs);
	t->ctx = NULL;
	t->cert_pem = NULL;
	t->certs = NULL;
	t->ncerts = 0;
}

X509 *tls_ident_cert(const struct tls_ident *t, size_t i)
{
	return t->ncerts > 1 && i < t->ncerts ? t->certs[i] : NULL;
}

int tls_write_cert(const struct tls_ident *t, const char *path, char *err, size_t errsz)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		snprintf(err, errsz, "cannot write %s", path);
		return -1;
	}
	size_t n = strlen(t->cert_pem);
	int ok = fwrite(t->cert_pem, 1, n, f) == n;
	if (fclose(f) != 0)
		ok = 0;
	if (!ok) {
		snprintf(err, errsz, "cannot write %s", path);
		return -1;
	}
	return 0;
}
