/* streamio.h: a reader for the byte stream of a MULTITRANS connection
 * (WIRE-NOTES §3, the document's sections 2.1.3 and 2.3): RTSP/1.0
 * messages and interleaved frames, in any order.
 *
 *   RTSP/1.0 200 OK\r\n                      a response
 *   CSeq: 1\r\n ... \r\n\r\n {json body}
 *   MULTITRANS rtsp://h/multitrans RTSP/1.0   a request (notifications)
 *   '$' <channel: 1 byte> <length: 2 bytes, big-endian> <length bytes>
 *
 * Accepted: CRLF or LF line ends (mixed, too); header names in any case;
 * no Content-Length on an empty body; leading spaces or tabs of a header
 * line (a folded line) are ignored, the line is skipped.
 *
 * Garbage: at an item boundary, bytes that cannot start an item are
 * skipped one by one and counted in r->garbage. An item starts with '$',
 * with "RTSP/1.0 " (a response) or with a request line's beginning: a
 * method token of 1..32 characters out of A-Z, 0-9, '_', '-', then one
 * space, then "rtsp://" or "*". As many bytes as those prefixes need are
 * awaited before judging (SIO_NEED_MORE). Once a message has started, a
 * bad start line or header line is SIO_EPROTO, not garbage.
 *
 * Limits, each with a name (WIRE-NOTES §3): a header block (start line
 * to blank line, inclusive) over max_header, or a body over max_body, is
 * SIO_ETOOBIG; the peer's Content-Length is checked against max_body
 * before anything waits for it. A frame's length is 16 bits, so a frame
 * never needs more than 65,535 + 4 bytes; frames over max_frame
 * (default 65,535: no limit below the format's) are SIO_ETOOBIG.
 *
 * Sans-IO, plain C (no lua.h), no allocation: the reader is a fixed-size
 * struct; messages and frames point into the caller's buffer. Fuzzed by
 * fuzz/streamio_feed.c. */
#ifndef VIGI_STREAMIO_H
#define VIGI_STREAMIO_H

#include <stddef.h>

#define SIO_DEFAULT_MAX_HEADER (64 * 1024)
#define SIO_DEFAULT_MAX_BODY   (1024 * 1024)
#define SIO_DEFAULT_MAX_FRAME  65535
/* Headers beyond this many are skipped (still bounded by max_header). */
#define SIO_MAX_HEADERS 32

/* sio_feed() results. Errors are negative and sticky: once returned,
 * every later call returns the same code until sio_init(). */
enum {
  SIO_NEED_MORE = 0, /* no complete item; keep buf[*consumed..len) and call
                        again with more bytes appended */
  SIO_MESSAGE = 1,   /* *msg is filled */
  SIO_FRAME = 2,     /* *frame is filled */
  SIO_EPROTO = -1,   /* a started message is malformed: bad start line,
                        header line without ':', bad Content-Length */
  SIO_ETOOBIG = -2   /* over max_header, max_body or max_frame */
};

typedef struct sio_header {
  const char *name;
  size_t name_len;
  const char *value; /* trimmed of spaces and tabs on both sides */
  size_t value_len;
} sio_header;

typedef struct sio_message {
  int is_response;       /* 1: "RTSP/1.0 <status> <reason>"; 0: a request */
  int status;            /* responses: 100..999 */
  const char *reason;    /* responses: may be empty */
  size_t reason_len;
  const char *method;    /* requests: the method token */
  size_t method_len;
  const char *uri;       /* requests: the request URI */
  size_t uri_len;
  sio_header headers[SIO_MAX_HEADERS];
  size_t num_headers;
  const char *body;      /* Content-Length bytes; body_len 0 when none */
  size_t body_len;
} sio_message;

typedef struct sio_frame {
  unsigned channel;          /* 0..255 */
  const unsigned char *data; /* len bytes (len may be 0) */
  size_t len;
} sio_frame;

/* The reader. Set the limits after sio_init() to change them; the rest is
 * private, except the counters, which the caller may read. */
typedef struct sio_reader {
  size_t max_header;
  size_t max_body;
  size_t max_frame;
  unsigned long long garbage; /* bytes skipped between items */
  int err;                    /* sticky result once < 0 */
  const char *why;            /* static text: what the error was about */
  /* Progress through a message arriving in pieces, so that it is scanned
   * once, not once per piece (offsets from the start of the caller's
   * buffer as in the next call). */
  size_t scan;
} sio_reader;

/* Readies r for a new connection with the default limits. */
void sio_init(sio_reader *r);

/* Reads at most one item from buf[0..len): the bytes received and not yet
 * consumed, in order. The contract is multipart.h's (picohttpparser's):
 * *consumed is set on every return, the caller drops that many bytes from
 * the front and gives the rest again, first, in the next call. On
 * SIO_MESSAGE or SIO_FRAME, consumed covers the item and the pointers in
 * *msg or *frame point into buf. On SIO_NEED_MORE consumed may be > 0
 * (garbage skipped). On errors consumed is 0 and r->why says why. msg or
 * frame may be NULL when the caller only counts. */
int sio_feed(sio_reader *r, const char *buf, size_t len, size_t *consumed, sio_message *msg,
             sio_frame *frame);

/* The value of the first header named name (any case), or NULL; its
 * length in *len. */
const char *sio_header_value(const sio_message *msg, const char *name, size_t *len);

/* Short stable name of a result: "need_more", "message", "frame",
 * "protocol", "too_big"; "unknown" for anything else. */
const char *sio_strerror(int code);

#endif
