/* HTTP/1.1 server side over non-blocking TLS connections, driven by the
 * loop. One request at a time per connection (no pipelining promised):
 * request line, headers in any case, a Content-Length body; keep-alive.
 *
 * Limits (named so that tests can cite them):
 *   HTTP_HEAD_MAX      16 KiB header block        -> 400 and close
 *   HTTP_BODY_MAX      1 MiB body                 -> 413 and close
 *   HTTP_REQUEST_MS    10 s from the first byte of a request (or of the
 *                      TLS handshake) to its end  -> close, no answer
 *   HTTP_IDLE_MS       60 s idle keep-alive       -> close
 *   HTTP_OUT_MAX       8 MiB unsent answer        -> close
 * Transfer-Encoding in a request is answered 501 and the connection closed.
 *
 * Answering: on_request must, before it returns, either answer with
 * http_respond() (or http_write() + http_end()), or take the connection
 * with http_hold() and answer or abort later. If it does neither, the
 * client gets a 500. The request's strings live only during the call.
 */
#ifndef SIM_HTTPD_H
#define SIM_HTTPD_H

#include <stddef.h>
#include <openssl/ssl.h>

#include "loop.h"

#define HTTP_HEAD_MAX     (16u * 1024u)
#define HTTP_BODY_MAX     (1024u * 1024u)
#define HTTP_REQUEST_MS   10000u
#define HTTP_IDLE_MS      60000u
#define HTTP_OUT_MAX      (8u * 1024u * 1024u)

struct http_server;
struct http_conn;

struct http_request {
	const char *method;     /* NUL-terminated */
	const char *target;     /* NUL-terminated, as sent ("/stok=.../ds") */
	const char *body;       /* NUL-terminated; body_len bytes */
	size_t body_len;
	int first;              /* first request on its connection */
	int resumed;            /* the connection's TLS session was resumed */
};

struct http_hooks {
	void (*on_accept)(void *arg);
	void (*on_handshake)(void *arg, int resumed);
	void (*on_request)(void *arg, struct http_conn *c, const struct http_request *req);
};

/* How the connection goes on after an answer. */
enum http_after {
	HTTP_KEEP_ALIVE = 0,    /* keep-alive, unless the client asked to close */
	HTTP_CLOSE,             /* say "Connection: close", then close */
	HTTP_CLOSE_QUIET,       /* close (TLS close_notify) without saying so */
	HTTP_CLOSE_ABORT        /* close without close_notify (a cut connection) */
};

/* Listen on address:port (port 0 = any free port). hooks and arg must
 * outlive the server. Returns NULL with a message in err (and errno
 * EADDRINUSE when the port is taken on that address). */
struct http_server *http_listen(struct loop *lp, const char *address, int port,
				SSL_CTX *ctx, const struct http_hooks *hooks, void *arg,
				char *err, size_t errsz);

/* Serve this certificate (its key is the context's) on the connections
 * accepted from now on; NULL: the context's. */
void http_server_set_cert(struct http_server *s, X509 *cert);
int http_server_port(const struct http_server *s);
/* Close the listener and every connection (held ones get their on_gone). */
void http_server_free(struct http_server *s);

/* A complete answer with Content-Type and Content-Length. */
void http_respond(struct http_conn *c, int status, const char *content_type,
		  const char *body, size_t len, enum http_after after);
/* Raw bytes of an answer (status line and headers included); for streamed
 * answers and deliberately broken ones. If more than HTTP_OUT_MAX bytes pile
 * up unsent, the connection is closed from the loop soon after (a held
 * connection's on_gone is called then, never from inside this call). */
void http_write(struct http_conn *c, const void *data, size_t len);
/* The answer written with http_write() is complete; also releases a hold. */
void http_end(struct http_conn *c, enum http_after after);

/* The answer will come later (or never). on_gone(arg) is called once if the
 * connection closes before http_end()/http_respond()/http_abort(). While
 * held, bytes from the client are read and dropped, so that its close is
 * seen at once. */
void http_hold(struct http_conn *c, void (*on_gone)(void *arg), void *arg);
/* Close now, without an answer. Does not call on_gone. The connection is
 * freed at once unless this is called from inside on_request. */
void http_abort(struct http_conn *c);

/* Answers that never end while bytes keep flowing: a hostile peer's
 * attacks on a client's deadlines and buffers (the control faults
 * endless_1xx, endless_headers, endless_trailers and trickle). */
enum http_endless {
	HTTP_ENDLESS_1XX,       /* "HTTP/1.1 100 Continue" answers, one after another */
	HTTP_ENDLESS_HEADERS,   /* a status line, then header lines without end */
	HTTP_ENDLESS_TRAILERS,  /* a chunked answer: its body, the last chunk, then
				   trailer lines without end */
	HTTP_TRICKLE            /* the answer, one byte every HTTP_TRICKLE_MS */
};
#define HTTP_ENDLESS_TICK_MS  10u              /* the endless kinds write this often, */
#define HTTP_ENDLESS_BATCH    (256u * 1024u)   /* up to this much at a time, */
#define HTTP_ENDLESS_UNSENT   (1024u * 1024u)  /* while less than this is unsent: the
						  bytes never pause for a slower reader */
#define HTTP_TRICKLE_MS       100u
/* Take the connection (as http_hold) and write such an answer to it, body
 * (copied) being the JSON it would have carried, until `seconds` passed
 * (or a trickled answer is out) or the client goes; then close it without
 * close_notify. */
void http_endless(struct http_conn *c, enum http_endless kind, const char *body, size_t len,
		  unsigned seconds);

/* Bytes of answer not yet handed to the kernel. */
size_t http_unsent(const struct http_conn *c);
/* A small number naming the connection in logs. */
unsigned long http_conn_id(const struct http_conn *c);

#endif
