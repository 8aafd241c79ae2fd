/* multipart.h: a reader for the multipart/mixed push stream that answers
 * subscribeMsg (WIRE-NOTES §2, the document's section 4.13.1):
 *
 *   Content-Type: multipart/mixed;boundary=--boundary--     (HTTP head)
 *
 *   ----boundary--                                           delimiter line
 *   Content-Type: application/json\r\nContent-Length: 32    part headers
 *                                                            blank line
 *   {"result":"success","errCode":0}                         body
 *   ----boundary--
 *   ...
 *   ----boundary----                                         close (rarely sent)
 *
 * What is accepted: CRLF or LF line ends (mixed, too); header names in any
 * case; a preamble before the first delimiter (ignored); blank lines
 * between a body and the next delimiter; transport padding (spaces, tabs)
 * after a delimiter; the document's quirk of two headers on one line,
 * "Content-Type: application/json Content-Length: 32" (both are read);
 * bodies sized by Content-Length, and bodies without it, which end at the
 * line break before the next delimiter line (RFC 2046: that line break
 * belongs to the delimiter). Other headers are skipped.
 *
 * A part with a Content-Length is handed out as soon as its body is in,
 * without waiting for the next delimiter, so that a heartbeat is seen when
 * it arrives, not one interval later.
 *
 * Sans-IO, plain C (no lua.h), no allocation: the reader is a fixed-size
 * struct; parts point into the caller's buffer. mp_stream (below) is the
 * reader with a buffer of its own. Fuzzed by fuzz/multipart_feed.c,
 * tested by spec/c/multipart_test.c. */
#ifndef VIGI_MULTIPART_H
#define VIGI_MULTIPART_H

#include <stddef.h>

/* RFC 2046 allows boundaries of 1..70 characters. */
#define MP_MAX_BOUNDARY 70

/* Default limits. A body is a small JSON object (an event with its
 * fields); the limits bound what a peer can make the caller buffer. */
#define MP_DEFAULT_MAX_HEADER 8192
#define MP_DEFAULT_MAX_PART   65536
/* max_header values below this are read as this, so that a delimiter line
 * always fits within the limit. */
#define MP_MIN_MAX_HEADER     128

/* mp_feed() results. Errors are negative and sticky: once returned, every
 * later call returns the same code until mp_init(). */
enum {
  MP_NEED_MORE = 0, /* no complete part in buf; keep buf[*consumed..len)
                       and call again with more bytes appended */
  MP_PART = 1,      /* *part is filled: a complete part */
  MP_DONE = 2,      /* the closing delimiter was seen; what follows is the
                       epilogue, consumed and ignored from then on */
  MP_EPROTO = -1,   /* not a multipart stream: something else where a
                       delimiter line belongs, a header line without ':',
                       a bad or conflicting Content-Length */
  MP_ETOOBIG = -2,  /* a body over max_part, a header block (or preamble
                       line) over max_header */
  MP_ENOMEM = -3    /* mp_stream only: an allocation failed */
};

/* One part. The pointers point into the buf given to the mp_feed() call
 * that returned MP_PART and are valid as long as those bytes are. */
typedef struct mp_part {
  const char *body;
  size_t body_len;
  const char *content_type; /* the header's value, trimmed; NULL if absent */
  size_t content_type_len;
  long content_length;      /* -1 when the part had no Content-Length */
} mp_part;

/* The reader. Set max_header / max_part after mp_init() to change the
 * limits; everything else is private. */
typedef struct mp_reader {
  size_t max_header; /* bytes of one header block, blank line included */
  size_t max_part;   /* bytes of one body */

  char delim[MP_MAX_BOUNDARY + 3]; /* "--" + boundary */
  size_t dlen;
  int state;
  int err;           /* sticky result once < 0 or MP_DONE */
  const char *why;   /* static text: what the error was about */
  /* Progress through the unconsumed bytes, kept so that a part arriving
   * in small pieces is scanned once, not once per piece. Offsets are from
   * the start of what the caller still holds (buf in the next call). */
  size_t line;       /* start of the first line not yet judged */
  size_t scan;       /* bytes from there known to hold no line end */
  size_t body;       /* start of the body, once the headers are read */
  long clen;         /* Content-Length, -1 if none */
  size_t ct_off, ct_len;
  int has_ct;
} mp_reader;

/* Whether b[0..n) can be a boundary: 1..MP_MAX_BOUNDARY bytes, none of
 * them a control character (NUL included). The peer chooses it: a NUL
 * would cut it short in C, and a line end could never match. */
int mp_boundary_ok(const char *b, size_t n);

/* Extracts the boundary parameter from a Content-Type header value, e.g.
 * `multipart/mixed;boundary=--boundary--` or
 * `multipart/mixed; Boundary = "--boundary--"`: the parameter name in any
 * case, spaces around ';' and '=', the value quoted (backslash escapes
 * undone) or not. Writes it NUL-terminated to out. Returns its length;
 * -1 when the type is not multipart/<anything> or there is no boundary;
 * -2 when there is one but it cannot be used: empty, over
 * MP_MAX_BOUNDARY, an unterminated quote, a control character (see
 * mp_boundary_ok), or it does not fit in cap bytes. On a failure out is
 * "" (if cap > 0). */
int mp_boundary_from_content_type(const char *ct, size_t len, char *out, size_t cap);

/* Readies r for a new stream with the given boundary (NUL-terminated, as
 * from mp_boundary_from_content_type) and the default limits. Returns 0,
 * or -1 when mp_boundary_ok refuses the boundary (r is then set so that
 * every mp_feed() returns MP_EPROTO). */
int mp_init(mp_reader *r, const char *boundary);

/* Reads what it can of buf[0..len): the bytes received and not yet
 * consumed, in order. The contract, as in picohttpparser:
 *
 *  - *consumed is set on every return: how many bytes at the start of buf
 *    the caller may drop. The rest, buf[*consumed..len), must be given
 *    again, first, in the next call, followed by the new bytes. The reader
 *    remembers how far it has looked into them, so the whole part is not
 *    rescanned on every call; giving other bytes breaks the stream (not
 *    memory safety).
 *  - MP_PART: one complete part in *part, pointing into buf; consumed
 *    covers it. Call again with buf + *consumed for the next one (one
 *    part per call).
 *  - MP_NEED_MORE: no complete part yet; consumed may still be > 0 (a
 *    preamble, a delimiter line).
 *  - MP_DONE: consumed is len.
 *  - MP_EPROTO, MP_ETOOBIG: sticky; consumed is 0. r->why names the
 *    cause in a few words.
 *
 * Parts never get larger than max_header + max_part plus a delimiter line,
 * so that is the most a caller ever has to keep. part may be NULL when the
 * caller only counts. len may be 0. */
int mp_feed(mp_reader *r, const char *buf, size_t len, size_t *consumed, mp_part *part);

/* Short stable name of a result: "need_more", "part", "done", "protocol",
 * "too_big", "no_memory"; "unknown" for anything else. */
const char *mp_strerror(int code);

/* ---- a stream: the reader and the bytes it has not finished -----------
 *
 * mp_feed() leaves the bytes of an incomplete part with its caller; an
 * mp_stream keeps them itself, so that its caller hands over what the
 * socket gave and takes whole parts:
 *
 *   mp_stream s; mp_part part;
 *   mp_stream_init(&s, boundary);      limits: s.r.max_part, s.r.max_header
 *   mp_stream_feed(&s, bytes, n);
 *   while ((rc = mp_stream_next(&s, &part)) == MP_PART) ...
 *   mp_stream_free(&s);
 *
 * Bytes fed while nothing is kept are read where they lie (the caller's
 * bytes must stay as they are until mp_stream_next() returned something
 * else than MP_PART); only the rest of an incomplete part is copied. What
 * is kept between feeds is bounded by the limits: a header block, a body
 * and a delimiter line, no more (mp_feed keeps its word; should it not,
 * the stream ends with MP_ETOOBIG, "more held than the limits allow",
 * rather than hold more). Plain C, one allocation: the kept bytes. */
typedef struct mp_stream {
  mp_reader r;       /* its limits, err and why are the caller's to read */
  /* Private from here. */
  char *buf;         /* the rest of an incomplete part, and bytes fed after it */
  size_t len, cap;
  const char *src;   /* the bytes being read (buf, or the caller's), NULL between feeds */
  size_t srclen, off;
} mp_stream;

/* Readies s for a new stream: mp_init()'s result. */
int mp_stream_init(mp_stream *s, const char *boundary);

/* Frees what s keeps; s may be initialised again. */
void mp_stream_free(mp_stream *s);

/* Hands over data[0..n): 0; MP_ENOMEM (nothing taken); or the error the
 * stream has ended with (sticky, nothing taken: see s->r.why). */
int mp_stream_feed(mp_stream *s, const char *data, size_t n);

/* The next part of the bytes fed: MP_PART, *part pointing into them or
 * into s's buffer, valid until the next call. Once every byte fed is
 * read: MP_NEED_MORE (the rest of an incomplete part is kept), MP_DONE,
 * an error (sticky), or MP_ENOMEM (the rest could not be kept). */
int mp_stream_next(mp_stream *s, mp_part *part);

/* Bytes kept for a part not yet complete. */
size_t mp_stream_buffered(const mp_stream *s);

#endif
