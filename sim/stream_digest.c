/* Digest authentication of the stream port: see stream_digest.h. A leaf
 * under the stream port's layers (stream_int.h): it calls none of them. */
#include "stream_digest.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

const char *sd_algo_name(enum sd_algo a)
{
	return a == SD_SHA256 ? "SHA-256" : "MD5";
}

static struct sd_value *field(struct sd_auth *a, const char *name, size_t n)
{
	static const struct {
		const char *name;
		size_t off;
	} names[] = {
		{"username", offsetof(struct sd_auth, username)},
		{"realm", offsetof(struct sd_auth, realm)},
		{"nonce", offsetof(struct sd_auth, nonce)},
		{"uri", offsetof(struct sd_auth, uri)},
		{"response", offsetof(struct sd_auth, response)},
		{"qop", offsetof(struct sd_auth, qop)},
		{"nc", offsetof(struct sd_auth, nc)},
		{"cnonce", offsetof(struct sd_auth, cnonce)},
		{"opaque", offsetof(struct sd_auth, opaque)},
		{"algorithm", offsetof(struct sd_auth, algorithm)},
	};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		if (strlen(names[i].name) == n && strncasecmp(names[i].name, name, n) == 0)
			return (struct sd_value *)((char *)a + names[i].off);
	return NULL;
}

int sd_parse(const char *h, struct sd_auth *a)
{
	memset(a, 0, sizeof *a);
	while (*h == ' ' || *h == '\t')
		h++;
	if (strncasecmp(h, "Digest", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
		return -1;
	const char *p = h + 6;
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (!*p)
			return 0;
		const char *name = p;
		while (*p && *p != '=' && *p != ' ' && *p != '\t' && *p != ',')
			p++;
		size_t nlen = (size_t)(p - name);
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '=' || nlen == 0)
			return -1;
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		char buf[SD_VALUE_MAX];
		size_t len = 0;
		int quoted = 0;
		if (*p == '"') {
			quoted = 1;
			p++;
			while (*p && *p != '"') {
				if (*p == '\\' && p[1])
					p++;
				if (len + 1 >= sizeof buf)
					return -1;
				buf[len++] = *p++;
			}
			if (*p != '"')
				return -1;
			p++;
		} else {
			while (*p && *p != ',' && *p != ' ' && *p != '\t') {
				if (len + 1 >= sizeof buf)
					return -1;
				buf[len++] = *p++;
			}
		}
		buf[len] = '\0';
		struct sd_value *v = field(a, name, nlen);
		if (v) {
			if (v->present)
				return -1;      /* twice */
			memcpy(v->v, buf, len + 1);
			v->present = 1;
			v->quoted = quoted;
		}
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p && *p != ',')
			return -1;
	}
}

void sd_challenge(const struct sd_policy *p, const char *nonce, const char *opaque,
		  int stale, char *out, size_t outsz)
{
	const char *q = p->quoted_only ? "\"" : "";
	int n = snprintf(out, outsz, "Digest realm=\"%s\", nonce=\"%s\"", SD_REALM, nonce);
	if (n > 0 && (size_t)n < outsz && p->qop_auth)
		n += snprintf(out + n, outsz - (size_t)n, ", qop=\"auth\"");
	if (n > 0 && (size_t)n < outsz && opaque)
		n += snprintf(out + n, outsz - (size_t)n, ", opaque=\"%s\"", opaque);
	if (n > 0 && (size_t)n < outsz && p->algo == SD_SHA256)
		n += snprintf(out + n, outsz - (size_t)n, ", algorithm=%sSHA-256%s", q, q);
	if (n > 0 && (size_t)n < outsz && stale)
		snprintf(out + n, outsz - (size_t)n, ", stale=true");
}

/* Lowercase hex digest of the concatenation of parts (NULL-terminated). */
static void hash_hex(enum sd_algo algo, const char *const *parts, char out[65])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	out[0] = '\0';
	if (!ctx)
		return;
	if (EVP_DigestInit_ex(ctx, algo == SD_SHA256 ? EVP_sha256() : EVP_md5(), NULL) == 1) {
		for (size_t i = 0; parts[i]; i++)
			EVP_DigestUpdate(ctx, parts[i], strlen(parts[i]));
		if (EVP_DigestFinal_ex(ctx, md, &n) == 1)
			for (unsigned i = 0; i < n; i++)
				snprintf(out + 2 * i, 3, "%02x", md[i]);
	}
	EVP_MD_CTX_free(ctx);
}

/* The fields every answer needs, and their quoting. NULL or what is wrong. */
static const char *check_form(const struct sd_auth *a, const struct sd_policy *p)
{
	if (!a->username.present || !a->realm.present || !a->nonce.present || !a->uri.present ||
	    !a->response.present)
		return "username, realm, nonce, uri and response are required";
	if (p->quoted_only) {
		const struct sd_value *all[] = {
			&a->username, &a->realm, &a->nonce, &a->uri, &a->response, &a->qop,
			&a->nc, &a->cnonce, &a->opaque, &a->algorithm
		};
		for (size_t i = 0; i < sizeof all / sizeof *all; i++)
			if (all[i]->present && !all[i]->quoted)
				return "a value is not quoted";
	}
	return NULL;
}

/* The algorithm named (MD5 when none is), which must be the one asked for. */
static const char *check_algorithm(const struct sd_auth *a, const struct sd_policy *p,
				   enum sd_algo *algo)
{
	*algo = SD_MD5;
	if (a->algorithm.present) {
		if (strcasecmp(a->algorithm.v, "SHA-256") == 0)
			*algo = SD_SHA256;
		else if (strcasecmp(a->algorithm.v, "MD5") != 0)
			return "unsupported algorithm";
	}
	return *algo != p->algo ? "not the algorithm asked for" : NULL;
}

/* qop=auth with its nc and cnonce when asked for, no qop otherwise. */
static const char *check_qop(const struct sd_auth *a, const struct sd_policy *p, unsigned long *nc)
{
	if (!p->qop_auth)
		return a->qop.present ? "qop was not offered" : NULL;
	if (!a->qop.present || strcmp(a->qop.v, "auth") != 0 || !a->cnonce.present || !a->nc.present)
		return "qop=auth with nc and cnonce is required";
	char *end;
	if (strlen(a->nc.v) != 8 || !isxdigit((unsigned char)a->nc.v[0]))
		return "nc must be 8 hex digits";
	*nc = strtoul(a->nc.v, &end, 16);
	if (*end || *nc == 0)
		return "nc must be 8 hex digits";
	return NULL;
}

/* The response a client that knows the password sends (RFC 7616 3.4.1). */
static void expected_response(const struct sd_auth *a, enum sd_algo algo, int qop_auth,
			      const char *username, const char *password, const char *method,
			      char want[65])
{
	char ha1[65], ha2[65];
	const char *p1[] = {username, ":", SD_REALM, ":", password, NULL};
	const char *p2[] = {method, ":", a->uri.v, NULL};
	hash_hex(algo, p1, ha1);
	hash_hex(algo, p2, ha2);
	if (qop_auth) {
		const char *p3[] = {ha1, ":", a->nonce.v, ":", a->nc.v, ":", a->cnonce.v, ":",
				    a->qop.v, ":", ha2, NULL};
		hash_hex(algo, p3, want);
	} else {
		const char *p3[] = {ha1, ":", a->nonce.v, ":", ha2, NULL};
		hash_hex(algo, p3, want);
	}
}

int sd_check(const struct sd_auth *a, const struct sd_policy *p, const char *username,
	     const char *password, const char *method, const char *opaque,
	     unsigned long *nc, const char **why)
{
	enum sd_algo algo = SD_MD5;
	char want[65];
	*nc = 0;
	const char *w = check_form(a, p);
	if (!w && strcmp(a->username.v, username) != 0)
		w = "unknown user";
	if (!w && strcmp(a->realm.v, SD_REALM) != 0)
		w = "wrong realm";
	if (!w)
		w = check_algorithm(a, p, &algo);
	if (!w && opaque && (!a->opaque.present || strcmp(a->opaque.v, opaque) != 0))
		w = "opaque not echoed";
	if (!w)
		w = check_qop(a, p, nc);
	if (!w) {
		expected_response(a, algo, p->qop_auth, username, password, method, want);
		if (strcasecmp(want, a->response.v) != 0)
			w = "wrong response";
	}
	if (w) {
		*why = w;
		return -1;
	}
	return 0;
}
