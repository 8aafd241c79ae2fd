/* Digest authentication of the stream port (RFC 2617 / RFC 7616, as
 * WIRE-NOTES §3 and §4 read them): parsing an Authorization header, the
 * challenge, and checking a response. No I/O, no allocation. */
#ifndef SIM_STREAM_DIGEST_H
#define SIM_STREAM_DIGEST_H

#include <stddef.h>

#define SD_REALM "VIGI"
#define SD_VALUE_MAX 256

enum sd_algo { SD_MD5, SD_SHA256 };

/* One parameter of the header: present, quoted or a bare token. */
struct sd_value {
	char v[SD_VALUE_MAX];
	int present, quoted;
};

struct sd_auth {
	struct sd_value username, realm, nonce, uri, response, qop, nc, cnonce, opaque,
			algorithm;
};

/* What the camera asks for. */
struct sd_policy {
	int qop_auth;           /* offer and require qop="auth" */
	enum sd_algo algo;
	int quoted_only;        /* refuse bare qop / nc / algorithm values */
};

/* Parse "Digest k=v, k="v", ...". Unknown parameters are skipped. Returns
 * 0, or -1 if it is not a Digest header or does not parse. */
int sd_parse(const char *header, struct sd_auth *a);

/* The value of a WWW-Authenticate header (without the name). opaque may be
 * NULL (not sent). */
void sd_challenge(const struct sd_policy *p, const char *nonce, const char *opaque,
		  int stale, char *out, size_t outsz);

/* Check a parsed header against the expected values: 0 if the response is
 * right, else -1 with the reason in why. A nonce is not compared here (the
 * caller knows which nonces are current); *nc is the request's nonce count
 * (0 without qop). */
int sd_check(const struct sd_auth *a, const struct sd_policy *p, const char *username,
	     const char *password, const char *method, const char *opaque,
	     unsigned long *nc, const char **why);

const char *sd_algo_name(enum sd_algo a);

#endif
