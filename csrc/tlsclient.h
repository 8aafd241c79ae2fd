/* tlsclient.h: a non-blocking TLS client connection over TCP, for the
 * long-lived answer of a subscription (docs/design.md, "Many cameras:
 * memory"). Control calls go through libcurl (http.c); a subscription is a
 * single answer that lasts for hours, and its reader needs only a byte
 * stream, so it runs on this lighter connection: every connection of one
 * verification setting shares one SSL_CTX (libcurl makes one per
 * connection), and OpenSSL's buffers are released while nothing is in
 * flight (SSL_MODE_RELEASE_BUFFERS), so an idle subscription holds little
 * more than OpenSSL's per-connection state.
 *
 * The conventions of net.h and tcp.h: nothing here waits. An operation
 * that would block returns TLSC_WANT_READ or TLSC_WANT_WRITE, the caller
 * waits for the socket (through lua/vigi/wait.lua) and calls again.
 * Addresses are IP literals (IPv4 or IPv6); names are the caller's to
 * resolve (the subscription uses the address its camera's control calls
 * reached).
 *
 * Verification follows libcurl's as vigi sets it up: with verify, the
 * chain against the CA file (or the system store) and the name (or the
 * address) against the certificate; a pin ("sha256//<base64>", several
 * joined by ';') is checked in any case, on resumed handshakes too. A
 * tlsc keeps the last session the server gave (TLS 1.3 tickets
 * included) and offers it on its next connect, so a subscription made
 * again resumes.
 *
 * Plain C with OpenSSL: no lua.h. */
#ifndef VIGI_TLSCLIENT_H
#define VIGI_TLSCLIENT_H

#include <stddef.h>

enum {
  TLSC_OK = 0,
  TLSC_WANT_READ,   /* wait until the socket is readable, call again */
  TLSC_WANT_WRITE,  /* wait until the socket is writable, call again */
  TLSC_CLOSED,      /* the peer ended the stream (close_notify, or EOF) */
  TLSC_ERROR        /* failed: see tlsc_error() */
};

/* Why a connection failed (tlsc_error). */
enum {
  TLSC_E_NETWORK = 0,   /* refused, reset, cut during the handshake */
  TLSC_E_CA,            /* the certificate did not verify */
  TLSC_E_PIN,           /* the public key does not match the pin */
  TLSC_E_HANDSHAKE      /* the peer refused or broke the handshake (an
                           alert, not TLS at all, no common protocol) */
};

typedef struct tlsc_ctx tlsc_ctx;
typedef struct tlsc tlsc;

/* One SSL_CTX for connections with these settings. verify: check the
 * chain (against cafile, or the system's store when NULL) and the name.
 * Returns NULL with a message in err. Reference counted (tlsc_ctx_free
 * drops the caller's; each connection holds one while it lasts). */
tlsc_ctx *tlsc_ctx_new(int verify, const char *cafile, char *err, size_t errsz);
void tlsc_ctx_free(tlsc_ctx *c);

tlsc *tlsc_new(void);
void tlsc_free(tlsc *t);

/* Starts a connection to ip:port (an IP literal, port 1..65535). name:
 * the host name the camera was given as (SNI, and what verify checks), or
 * NULL for an address; pin may be NULL. A connection in place is closed
 * first. Returns TLSC_OK (go on with tlsc_handshake) or TLSC_ERROR. */
int tlsc_connect(tlsc *t, tlsc_ctx *ctx, const char *ip, unsigned port, const char *name,
                 const char *pin);

/* Drives the TCP connect and the TLS handshake: TLSC_OK when done,
 * TLSC_WANT_*, or TLSC_ERROR. */
int tlsc_handshake(tlsc *t);

/* Writes what TLS takes of buf[0..len) (*sent bytes): TLSC_OK,
 * TLSC_WANT_*, TLSC_ERROR. */
int tlsc_send(tlsc *t, const void *buf, size_t len, size_t *sent);

/* Reads up to cap bytes (*got >= 1 with TLSC_OK), or TLSC_WANT_*,
 * TLSC_CLOSED, TLSC_ERROR. */
int tlsc_recv(tlsc *t, void *buf, size_t cap, size_t *got);

/* Whether TLS holds bytes it has read and not handed out (decrypted or
 * not): the socket will not show them as readable, so the caller reads
 * before it waits. */
size_t tlsc_pending(const tlsc *t);

/* The last failure: its class (TLSC_E_*) and a message (valid until the
 * next call). */
int tlsc_error(const tlsc *t, const char **msg);

int tlsc_fd(const tlsc *t);         /* -1 when closed */
int tlsc_resumed(const tlsc *t);    /* the last handshake resumed a session */

/* Closes the connection (the session stays, for the next connect). */
void tlsc_close(tlsc *t);

#endif
