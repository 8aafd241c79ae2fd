/* httpresp.h: a reader for HTTP/1.1 answers in a byte stream (RFC 9112):
 * the answer to one GET or POST on a connection, as a camera or nginx
 * sends it.
 *
 *   HTTP/1.1 100 Continue\r\n\r\n                  interim answers: skipped, counted
 *   HTTP/1.1 200 OK\r\n                            status line
 *   Content-Type: application/json\r\n ... \r\n    headers, blank line
 *   body                                           Content-Length bytes,
 *   5;ext=1\r\nhello\r\n0\r\nX-T: 1\r\n\r\n        or chunked with trailers,
 *   ...                                            or up to the peer's close
 *
 * What is accepted: CRLF or bare LF line ends; header names in any case;
 * a header line continued on the next one (obs-fold: the line break
 * becomes spaces, as RFC 9112 asks of a client); Content-Length repeated
 * with the same value (one header or several); chunk extensions (skipped);
 * trailers (kept, like the headers). 204 and 304 answers have no body.
 *
 * What is refused (HR_EPROTO, with r->why): a status line that is not
 * "HTTP/1.<digit> <3 digits>[ reason]"; 101 (nothing here asks to switch
 * protocols); a header line without a name and ':' (or with white space
 * before the ':'); NUL or a bare CR in a head; Content-Length that is not
 * digits, differs between copies or overflows; Transfer-Encoding other
 * than "chunked", or together with Content-Length (a request smuggling
 * classic: which one frames the body is ambiguous); a chunk size that is
 * not hex digits, or overflows; a chunk not followed by its line end.
 *
 * Limits (fields of the reader, docs/limits.md): the heads, interim ones
 * included (max_head), the number of interim answers (max_interim), the
 * trailers (max_trailer), one chunk-size line with its extensions
 * (max_chunk_line), the body (max_body, 0: none; an answer framed by the
 * connection's end may last for hours, as a subscription does). Over a
 * limit: HR_ETOOBIG. What the reader keeps is the final head and the
 * trailers, so its memory is bounded by max_head + max_trailer whatever
 * the peer sends; body bytes are handed out where they lie in the
 * caller's buffer, never copied.
 *
 * Sans-IO, plain C (no lua.h): bytes in (hr_feed), the peer's close in
 * (hr_eof), events out. One allocation: the head and trailer bytes. Fuzzed
 * by fuzz/httpresp_feed.c, tested by spec/c/httpresp_test.c. */
#ifndef VIGI_HTTPRESP_H
#define VIGI_HTTPRESP_H

#include <stddef.h>

#define HR_DEFAULT_MAX_HEAD       (64 * 1024)
#define HR_DEFAULT_MAX_INTERIM    16
#define HR_DEFAULT_MAX_TRAILER    (64 * 1024)
#define HR_DEFAULT_MAX_CHUNK_LINE 4096

/* hr_feed() and hr_eof() results. Errors are negative and sticky: once
 * returned, every later call returns the same code until hr_init(). */
enum {
  HR_NEED_MORE = 0, /* every byte given was read; nothing to hand out */
  HR_HEAD = 1,      /* the final head is in: r->status, hr_header() ... */
  HR_BODY = 2,      /* *data, *n: the next bytes of the body */
  HR_END = 3,       /* the answer is complete (trailers: hr_trailer()) */
  HR_EPROTO = -1,   /* not an HTTP/1.x answer, or framed ambiguously */
  HR_ETOOBIG = -2,  /* over a limit */
  HR_ECLOSED = -3,  /* hr_eof() before the answer ended */
  HR_ENOMEM = -4    /* the head buffer could not grow */
};

/* How the body is framed, once the head is in. */
enum { HR_FRAME_NONE = 0, HR_FRAME_LENGTH, HR_FRAME_CHUNKED, HR_FRAME_CLOSE };

typedef struct hr_reader {
  /* Limits: set after hr_init() to change them. */
  size_t max_head;       /* status lines and headers, interim answers included */
  unsigned max_interim;  /* interim (1xx) answers before the final one */
  size_t max_trailer;    /* the trailer block, its blank line included */
  size_t max_chunk_line; /* one chunk-size line, extensions and line end included */
  unsigned long long max_body; /* body bytes; 0: no limit */

  /* What was read: the caller's to look at. */
  int status;            /* of the final answer, once HR_HEAD was returned */
  int minor;             /* HTTP/1.<minor> */
  int framing;           /* HR_FRAME_* */
  int keep_alive;        /* the connection may carry another request after HR_END */
  unsigned interim;      /* interim answers skipped */
  unsigned long long content_length; /* HR_FRAME_LENGTH */
  unsigned long long body_bytes;     /* body bytes handed out */
  size_t head_bytes;     /* head bytes read, interim answers included */
  int err;               /* sticky result once < 0 */
  const char *why;       /* static text: what the error was about */

  /* Private from here. */
  int state;
  char *buf;             /* the final head, then the trailers after it */
  size_t len, cap;
  size_t head_len;       /* bytes of buf that are the final head */
  size_t line;           /* start in buf of the line being read */
  unsigned long long left; /* body or chunk bytes still to come */
  size_t chunk_line;     /* bytes of the chunk-size line so far */
  int digits;            /* hex digits of the chunk size so far */
  int in_ext;            /* past the chunk size: extensions until the line end */
  int cr;                /* a CR just read (chunk line, chunk end) */
} hr_reader;

/* Readies r for a new answer with the default limits. r holds nothing
 * that needs freeing until the first hr_feed(). */
void hr_init(hr_reader *r);

/* Frees what r holds; r may be initialised again. */
void hr_free(hr_reader *r);

/* Reads from buf[0..len) until it has something to hand out. *consumed is
 * set on every return: the bytes read; the caller gives the rest,
 * buf[*consumed..len), in the next call (nothing is kept of them).
 *
 *  - HR_HEAD: the final head is in; call again for the body.
 *  - HR_BODY: *data, *n point into buf; call again for more.
 *  - HR_END: the answer is complete; bytes after it are not read
 *    (*consumed stops there: they belong to the next answer, or show a
 *    peer sending more than it framed). Every later call: HR_END, 0.
 *  - HR_NEED_MORE: *consumed is len.
 *  - errors: sticky; r->why says what was wrong.
 *
 * data and n may be NULL when the caller only counts. */
int hr_feed(hr_reader *r, const char *buf, size_t len, size_t *consumed, const char **data, size_t *n);

/* The peer closed the connection: HR_END for an answer framed by the
 * close (or one already ended), HR_ECLOSED otherwise (sticky). */
int hr_eof(hr_reader *r);

/* The reason phrase of the final head (may be empty), once HR_HEAD. */
const char *hr_reason(const hr_reader *r, size_t *len);

/* The headers of the final head, or the trailers, one per call: *pos
 * starts at 0; 1 with the next one's name and value (trimmed of spaces
 * and tabs; the line breaks of a folded line turned into spaces), 0 past
 * the last one. The pointers stay valid until hr_free() or hr_init(). */
int hr_header(const hr_reader *r, size_t *pos, const char **name, size_t *name_len, const char **value,
              size_t *value_len);
int hr_trailer(const hr_reader *r, size_t *pos, const char **name, size_t *name_len, const char **value,
               size_t *value_len);

/* Bytes kept: the final head and the trailers. */
size_t hr_buffered(const hr_reader *r);

/* Short stable name of a result: "need_more", "head", "body", "end",
 * "protocol", "too_big", "closed", "no_memory"; "unknown" otherwise. */
const char *hr_strerror(int code);

#endif
