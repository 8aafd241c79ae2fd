/* http.h: control calls through libcurl, never blocking.
 *
 * One http_client is one camera's HTTPS client: its kept-alive connection
 * (in its pool's cache) and its TLS session cache. A call is started with http_start(), then driven by
 * http_step() until it reports HTTP_DONE; between steps the caller waits on
 * the sockets and deadline that http_waitset() describes. Nothing here
 * sleeps or polls: waiting belongs to the caller (lua/vigi/wait.lua).
 *
 * The client never resends a request body that may have reached the camera
 * unless the request was started with may_resend (read-only calls): libcurl
 * retries a request on a fresh connection when a reused one dies, and that
 * retry needs to rewind the body, which we refuse for everything else.
 *
 * Plain C: no lua.h. */
#ifndef VIGI_HTTP_H
#define VIGI_HTTP_H

#include <stddef.h>

typedef struct http_client http_client;
typedef struct http_pool http_pool;

typedef struct http_request {
  const char *url;
  const char *body;          /* POST body; the client copies it */
  size_t body_len;
  const char *content_type;  /* NULL: application/json */
  long connect_timeout_ms;   /* 0: libcurl's default */
  long timeout_ms;           /* total; 0: none */
  int verify;                /* verify peer certificate and host name */
  const char *cafile;        /* NULL: system store */
  const char *pin;           /* "sha256//..." or NULL */
  int may_resend;            /* read-only call: a resend is harmless */
  int fresh_connect;         /* do not try to reuse the kept-alive connection */
  size_t max_body;           /* answer larger than this fails (HTTP_ETOOBIG) */
  long idle_close_ms;        /* close the kept connection once idle this long
                                (whole seconds, at least 1 s); 0: keep it */
} http_request;

/* http_step() results. */
enum {
  HTTP_AGAIN = 0,   /* wait (http_waitset), then step again */
  HTTP_DONE = 1     /* finished: read http_result() */
};

/* Outcome classes of a finished call; the binding maps them to error kinds. */
enum {
  HTTP_OK = 0,        /* an answer arrived (any status code) */
  HTTP_ETIMEOUT,      /* connect or total deadline passed */
  HTTP_ENETWORK,      /* connect refused, reset, closed early, TLS failure */
  HTTP_ETLS_TRUST,    /* certificate or pin did not verify (tls: "ca", "pin") */
  HTTP_ENORESEND,     /* connection lost after the body went out; not resent */
  HTTP_ETOOBIG,       /* answer larger than max_body, or its header lines
                         (interim answers and trailers included) larger
                         than 64 KiB */
  HTTP_EINTERNAL,     /* libcurl refused an option or ran out of memory */
  HTTP_ETLS_HANDSHAKE, /* the peer refused or broke the TLS handshake (tls:
                          "handshake"); a connection merely closed or reset
                          during it is HTTP_ENETWORK */
  HTTP_EPROTO         /* the answer breaks HTTP: a bad status line, a bad
                         chunk, an unknown content encoding */
};

typedef struct http_result {
  int outcome;           /* HTTP_OK or an HTTP_E* class */
  long status;           /* HTTP status code, 0 when no answer */
  const char *body;      /* answer body (owned by the client, valid until
                            the next http_start or http_take_body) */
  size_t body_len;
  const char *content_type; /* or NULL; valid like body */
  const char *error;     /* readable reason when outcome != HTTP_OK */
  const char *tls;       /* a TLS refusal's cause: "pin", "ca", "handshake";
                            NULL for other outcomes */
  long connects;         /* new connections this call opened (0: reused) */
  int sent_body;         /* the body was handed to the socket at least once */
} http_result;

/* One socket to wait on. events: bit 1 read, bit 2 write. */
typedef struct http_waitfd {
  int fd;
  int events;
} http_waitfd;

/* A pool: one libcurl multi handle (connection cache, DNS cache, timer)
 * for many clients. http_pool_new's reference is the caller's; each
 * client holds one too, so the pool lives until both are released. */
http_pool *http_pool_new(void);
void http_pool_release(http_pool *p);

/* Closes the kept connections of clients idle for their idle_close, and
 * gives the system back the heap's free pages after a burst of
 * handshakes; at most once a second (http_start calls it too). */
void http_pool_sweep(http_pool *p);

/* A client of the pool: one camera's easy handle (its settings, its TLS
 * session cache); its kept-alive connection sits in the pool's cache. */
http_client *http_new(http_pool *p);
void http_free(http_client *c);
http_pool *http_pool_of(const http_client *c);

/* Clients whose transfer another client's step moved on (libcurl runs
 * every transfer whose timer is due, and a transfer may end there): one
 * at a time, NULL when none. A client waiting on its old wait set should
 * be woken, to step and take its new one. */
http_client *http_woken(http_pool *p);

/* Start a call; fails (returns -1, message in *err) only on misuse or
 * out-of-memory. A call already running is abandoned first. */
int http_start(http_client *c, const http_request *req, const char **err);

/* Drive the call. Returns HTTP_AGAIN or HTTP_DONE. */
int http_step(http_client *c);

/* While HTTP_AGAIN: fills up to max sockets to wait on, returns how many,
 * and sets *timeout_ms to the longest the caller may wait before the next
 * step (-1: no timer). One waiting client of a pool (the keeper) waits for
 * the pool's timer too, and is handed on when it is done; the others'
 * transfers moved on by it are told by http_woken. timer: wait for the
 * pool's timer anyway (a caller that cannot be woken). */
int http_waitset(http_client *c, http_waitfd *fds, int max, long *timeout_ms, int timer);

/* After HTTP_DONE. */
const http_result *http_result_get(http_client *c);

/* Frees the answer's buffer once the caller has taken a copy (an idle
 * camera keeps none); the result's body is empty after. */
void http_drop_body(http_client *c);

/* Body bytes received so far (streamed answers): returns a pointer to them
 * and their count, and forgets them, so the next call returns only newer
 * bytes. The pointer is valid until the next http_step/http_start. */
const char *http_take_body(http_client *c, size_t *len);

/* While a call runs: its HTTP status and Content-Type once the answer's
 * headers have arrived (0 and NULL before). For streamed answers. The
 * string is valid until the next step. */
long http_status_now(http_client *c);
const char *http_content_type_now(http_client *c);

/* Abandon a running call and drop its connection (used for streamed
 * answers the caller has read enough of). */
void http_abort(http_client *c);

/* The IP address (text) of the last connection's peer, or NULL/"". */
const char *http_primary_ip(http_client *c);

/* Whether a call is in progress. */
int http_busy(const http_client *c);

#endif
