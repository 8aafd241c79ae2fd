/* tlsclient.c: see tlsclient.h. */
#define _GNU_SOURCE
#include "tlsclient.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

struct tlsc_ctx {
  SSL_CTX *ssl;
  int refs;
};

struct tlsc {
  int fd;
  int tcp_up;             /* the TCP connect is known to have completed */
  SSL *ssl;
  tlsc_ctx *ctx;
  SSL_SESSION *session;   /* the last one the server gave */
  char key[400];          /* what the session is for: ip, port, name, pin, ctx */
  char *pin;
  int resumed;
  int cause;              /* TLSC_E_* of the last failure */
  char msg[256];
};

/* The index of the ex_data slot that points an SSL to its tlsc. */
static int ex_index = -1;

/* Servers hand out sessions after the handshake (TLS 1.3 tickets come
 * with the first records read); the last one is kept for the next
 * connect. */
static int on_new_session(SSL *ssl, SSL_SESSION *sess) {
  tlsc *t = ex_index >= 0 ? SSL_get_ex_data(ssl, ex_index) : NULL;
  if (!t) return 0;
  if (t->session) SSL_SESSION_free(t->session);
  t->session = sess;
  return 1; /* ours now */
}

tlsc_ctx *tlsc_ctx_new(int verify, const char *cafile, char *err, size_t errsz) {
  tlsc_ctx *c;
  SSL_CTX *s;
  if (ex_index < 0) ex_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
  c = calloc(1, sizeof *c);
  s = c ? SSL_CTX_new(TLS_client_method()) : NULL;
  if (!s) {
    free(c);
    snprintf(err, errsz, "cannot create a TLS context");
    return NULL;
  }
  SSL_CTX_set_min_proto_version(s, TLS1_2_VERSION);
  SSL_CTX_set_mode(s, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
  /* A camera that hangs up without close_notify ends the stream; it is
   * not a failure of the stream. */
  SSL_CTX_set_options(s, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
  SSL_CTX_set_options(s, SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_session_cache_mode(s, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(s, on_new_session);
  if (verify) {
    int ok = cafile ? SSL_CTX_load_verify_locations(s, cafile, NULL)
                    : SSL_CTX_set_default_verify_paths(s);
    if (ok != 1) {
      snprintf(err, errsz, "cannot load the CA certificates%s%s", cafile ? " of " : "",
               cafile ? cafile : "");
      SSL_CTX_free(s);
      free(c);
      ERR_clear_error();
      return NULL;
    }
    SSL_CTX_set_verify(s, SSL_VERIFY_PEER, NULL);
  } else {
    SSL_CTX_set_verify(s, SSL_VERIFY_NONE, NULL);
  }
  c->ssl = s;
  c->refs = 1;
  return c;
}

void tlsc_ctx_free(tlsc_ctx *c) {
  if (!c || --c->refs > 0) return;
  SSL_CTX_free(c->ssl);
  free(c);
}

tlsc *tlsc_new(void) {
  tlsc *t = calloc(1, sizeof *t);
  if (t) t->fd = -1;
  return t;
}

void tlsc_close(tlsc *t) {
  if (t->ssl) {
    if (t->tcp_up && SSL_is_init_finished(t->ssl)) {
      ERR_clear_error();
      (void)SSL_shutdown(t->ssl); /* one close_notify, never waited for */
    }
    SSL_free(t->ssl);
    t->ssl = NULL;
  }
  if (t->fd >= 0) close(t->fd);
  t->fd = -1;
  t->tcp_up = 0;
  tlsc_ctx_free(t->ctx);
  t->ctx = NULL;
  ERR_clear_error();
}

void tlsc_free(tlsc *t) {
  if (!t) return;
  tlsc_close(t);
  if (t->session) SSL_SESSION_free(t->session);
  free(t->pin);
  free(t);
}

static int fail(tlsc *t, int cause, const char *fmt, const char *arg) {
  t->cause = cause;
  snprintf(t->msg, sizeof t->msg, fmt, arg ? arg : "");
  return TLSC_ERROR;
}

static int fail_errno(tlsc *t, int err) {
  return fail(t, TLSC_E_NETWORK, "%s", strerror(err));
}

int tlsc_connect(tlsc *t, tlsc_ctx *ctx, const char *ip, unsigned port, const char *name,
                 const char *pin) {
  struct addrinfo hints, *ai = NULL;
  char key[sizeof t->key];
  int one = 1;
  tlsc_close(t);
  if (port < 1 || port > 65535) return fail(t, TLSC_E_NETWORK, "bad port%s", NULL);
  memset(&hints, 0, sizeof hints);
  hints.ai_flags = AI_NUMERICHOST;
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(ip, NULL, &hints, &ai) != 0 || !ai)
    return fail(t, TLSC_E_NETWORK, "not an IP address: %s", ip);
  if (ai->ai_family == AF_INET) ((struct sockaddr_in *)ai->ai_addr)->sin_port = htons((unsigned short)port);
  else ((struct sockaddr_in6 *)ai->ai_addr)->sin6_port = htons((unsigned short)port);
  t->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (t->fd < 0) {
    int e = errno;
    freeaddrinfo(ai);
    return fail_errno(t, e);
  }
  setsockopt(t->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(t->fd, ai->ai_addr, ai->ai_addrlen) == 0) {
    t->tcp_up = 1;
  } else if (errno != EINPROGRESS && errno != EINTR) {
    int e = errno;
    freeaddrinfo(ai);
    tlsc_close(t);
    return fail_errno(t, e);
  }
  freeaddrinfo(ai);

  t->ssl = SSL_new(ctx->ssl);
  if (!t->ssl || !SSL_set_fd(t->ssl, t->fd) || !SSL_set_ex_data(t->ssl, ex_index, t)) {
    tlsc_close(t);
    return fail(t, TLSC_E_NETWORK, "cannot create a TLS connection%s", NULL);
  }
  ctx->refs++;
  t->ctx = ctx;
  SSL_set_connect_state(t->ssl);
  if (name) SSL_set_tlsext_host_name(t->ssl, name);
  if (SSL_get_verify_mode(t->ssl) & SSL_VERIFY_PEER) {
    int ok = name ? SSL_set1_host(t->ssl, name)
                  : X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), ip);
    if (ok != 1) {
      tlsc_close(t);
      return fail(t, TLSC_E_NETWORK, "cannot set the name to verify%s", NULL);
    }
  }
  free(t->pin);
  t->pin = pin ? strdup(pin) : NULL;
  /* A session is offered again only to the same peer, under the same
   * settings. */
  snprintf(key, sizeof key, "%s|%u|%s|%s|%p", ip, port, name ? name : "", pin ? pin : "",
           (void *)ctx);
  if (t->session && strcmp(key, t->key) == 0) SSL_set_session(t->ssl, t->session);
  snprintf(t->key, sizeof t->key, "%s", key);
  t->resumed = 0;
  return TLSC_OK;
}

/* The SHA-256 of the certificate's SubjectPublicKeyInfo, in base64, is
 * one of the pin's "sha256//..." entries. */
static int pin_matches(X509 *cert, const char *pin) {
  unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
  unsigned char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
  unsigned int mdlen = 0;
  const char *p = pin;
  size_t blen;
  int len = cert ? i2d_PUBKEY(X509_get0_pubkey(cert), &der) : -1;
  if (len <= 0) return 0;
  if (!EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL)) mdlen = 0;
  OPENSSL_free(der);
  if (!mdlen) return 0;
  EVP_EncodeBlock(b64, md, (int)mdlen);
  blen = strlen((const char *)b64);
  while (p && *p) {
    const char *end = strchr(p, ';');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    if (n > 8 && strncmp(p, "sha256//", 8) == 0 && n - 8 == blen &&
        memcmp(p + 8, b64, blen) == 0)
      return 1;
    p = end ? end + 1 : NULL;
  }
  return 0;
}

/* An OpenSSL failure as a cause and a message: a connection cut is the
 * network's doing, a failed verification a CA refusal, anything else the
 * peer refusing or breaking the handshake. */
static int ssl_failed(tlsc *t, int rc, int handshake) {
  int e = SSL_get_error(t->ssl, rc);
  unsigned long code = ERR_peek_last_error();
  char buf[200];
  if (e == SSL_ERROR_WANT_READ) return TLSC_WANT_READ;
  if (e == SSL_ERROR_WANT_WRITE) return TLSC_WANT_WRITE;
  if (e == SSL_ERROR_ZERO_RETURN) {
    ERR_clear_error();
    if (handshake) return fail(t, TLSC_E_NETWORK, "the peer closed the connection%s", NULL);
    return TLSC_CLOSED;
  }
  if (e == SSL_ERROR_SYSCALL) {
    int err = errno;
    ERR_clear_error();
    if (!handshake && err == 0) return TLSC_CLOSED;
    return fail(t, TLSC_E_NETWORK, "%s", err ? strerror(err) : "the connection was cut");
  }
  if (handshake && ERR_GET_LIB(code) == ERR_LIB_SSL &&
      ERR_GET_REASON(code) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
    const char *why = X509_verify_cert_error_string(SSL_get_verify_result(t->ssl));
    ERR_clear_error();
    return fail(t, TLSC_E_CA, "the certificate did not verify: %s", why);
  }
  ERR_error_string_n(code, buf, sizeof buf);
  ERR_clear_error();
#ifdef SSL_R_UNEXPECTED_EOF_WHILE_READING
  if (ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
    if (!handshake) return TLSC_CLOSED;
    return fail(t, TLSC_E_NETWORK, "the connection was cut (%s)", buf);
  }
#endif
  return fail(t, handshake ? TLSC_E_HANDSHAKE : TLSC_E_NETWORK, "%s", buf);
}

/* OpenSSL 3.0 keeps its read buffer (16 KiB and more) after a read that
 * emptied it, RELEASE_BUFFERS notwithstanding; while a subscription
 * waits for its next part (seconds, minutes) nothing needs it. */
static void idle_buffers(tlsc *t) {
  if (!SSL_has_pending(t->ssl)) (void)SSL_free_buffers(t->ssl);
}

int tlsc_handshake(tlsc *t) {
  int rc;
  if (!t->ssl) return fail(t, TLSC_E_NETWORK, "not connected%s", NULL);
  if (!t->tcp_up) {
    struct pollfd p;
    int err = 0;
    socklen_t len = sizeof err;
    p.fd = t->fd;
    p.events = POLLOUT;
    p.revents = 0;
    if (poll(&p, 1, 0) <= 0) return TLSC_WANT_WRITE;
    if (getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err) return fail_errno(t, err);
    t->tcp_up = 1;
  }
  if (SSL_is_init_finished(t->ssl)) return TLSC_OK;
  ERR_clear_error();
  rc = SSL_do_handshake(t->ssl);
  if (rc != 1) return ssl_failed(t, rc, 1);
  t->resumed = SSL_session_reused(t->ssl);
  idle_buffers(t);
  if (t->pin) {
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    X509 *peer = SSL_get1_peer_certificate(t->ssl);
#else
    X509 *peer = SSL_get_peer_certificate(t->ssl);
#endif
    int ok = pin_matches(peer, t->pin);
    X509_free(peer);
    if (!ok) {
      /* another key: the session is not offered again either */
      if (t->session) SSL_SESSION_free(t->session);
      t->session = NULL;
      return fail(t, TLSC_E_PIN, "the public key does not match the pin%s", NULL);
    }
  }
  return TLSC_OK;
}

int tlsc_send(tlsc *t, const void *buf, size_t len, size_t *sent) {
  int rc;
  *sent = 0;
  if (!t->ssl) return fail(t, TLSC_E_NETWORK, "not connected%s", NULL);
  if (len == 0) return TLSC_OK;
  ERR_clear_error();
  rc = SSL_write_ex(t->ssl, buf, len, sent);
  idle_buffers(t);
  if (rc == 1) return TLSC_OK;
  rc = ssl_failed(t, rc, 0);
  return rc == TLSC_CLOSED ? fail(t, TLSC_E_NETWORK, "the peer closed the connection%s", NULL) : rc;
}

int tlsc_recv(tlsc *t, void *buf, size_t cap, size_t *got) {
  int rc;
  *got = 0;
  if (!t->ssl) return fail(t, TLSC_E_NETWORK, "not connected%s", NULL);
  if (!SSL_has_pending(t->ssl)) {
    /* OpenSSL takes its read buffer before it finds the socket empty:
     * the socket is asked first, so that a wait holds no buffer. */
    struct pollfd p;
    p.fd = t->fd;
    p.events = POLLIN;
    p.revents = 0;
    if (poll(&p, 1, 0) == 0) return TLSC_WANT_READ;
  }
  ERR_clear_error();
  rc = SSL_read_ex(t->ssl, buf, cap, got);
  idle_buffers(t);
  if (rc == 1) return TLSC_OK;
  return ssl_failed(t, rc, 0);
}

size_t tlsc_pending(const tlsc *t) {
  return t->ssl && SSL_has_pending(t->ssl) ? 1 : 0;
}

int tlsc_error(const tlsc *t, const char **msg) {
  *msg = t->msg;
  return t->cause;
}

int tlsc_fd(const tlsc *t) { return t->fd; }
int tlsc_resumed(const tlsc *t) { return t->resumed; }
