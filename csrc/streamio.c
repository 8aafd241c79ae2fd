/* streamio.c: the MULTITRANS stream reader (contracts in streamio.h).
 *
 * At an item boundary the first bytes decide what comes: '$' a frame, the
 * beginning of a response or request line a message, anything else a
 * garbage byte, skipped. A frame is judged from its 4-byte head alone. A
 * message stays in the caller's buffer until it is complete and is read
 * in two passes: the search for the blank line that ends its header block
 * (resumed where the last call stopped), then one pass that checks and
 * splits the lines of the block. Every decision depends only on the bytes
 * it looks at, never on where the caller's pieces end, so a stream read
 * whole or byte by byte gives the same items, garbage count and error;
 * fuzz/streamio_feed.c checks that. */
#include "streamio.h"

#include "text.h"

#include <stdint.h>
#include <string.h>

/* A request line's method token: 1..32 characters (streamio.h). */
#define MAX_METHOD 32

/* r->scan while the body of a message is awaited: this bit set, the
 * message's whole length (header block and body) in the others. Without
 * the bit, scan is how far the search for the blank line got. The two are
 * never needed at once, and the reader has no other private room, so one
 * field holds either. */
#define BODY_WAIT ((size_t)1 << (sizeof(size_t) * 8 - 1))

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static int is_tok(char c) {
  return (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_' || c == '-';
}

static int fail(sio_reader *r, int code, const char *why) {
  r->err = code;
  r->why = why;
  return code;
}

void sio_init(sio_reader *r) {
  memset(r, 0, sizeof *r);
  r->max_header = SIO_DEFAULT_MAX_HEADER;
  r->max_body = SIO_DEFAULT_MAX_BODY;
  r->max_frame = SIO_DEFAULT_MAX_FRAME;
}

/* ---- What starts at an item boundary -------------------------------- */

enum { K_GARBAGE, K_UNSURE, K_FRAME, K_MESSAGE };

/* How p[0..n) compares with the start of s (slen bytes): 1 all of s is
 * there, 0 a byte differs, -1 the n bytes agree but s is longer. */
static int starts(const char *p, size_t n, const char *s, size_t slen) {
  size_t k = n < slen ? n : slen;
  if (memcmp(p, s, k) != 0) return 0;
  return n >= slen ? 1 : -1;
}

/* Whether p[0..n) starts a request line: "METHOD rtsp://" or "METHOD *".
 * Same answers as starts(). At most MAX_METHOD + 8 bytes are looked at. */
static int request_start(const char *p, size_t n) {
  size_t i;
  for (i = 0; i < n && i <= MAX_METHOD && is_tok(p[i]); i++) {}
  if (i == 0 || i > MAX_METHOD) return 0;
  if (i == n) return -1;
  if (p[i] != ' ') return 0;
  if (i + 1 < n && p[i + 1] == '*') return 1;
  return starts(p + i + 1, n - i - 1, "rtsp://", 7);
}

static int classify(const char *p, size_t n) {
  int resp, req;
  if (n == 0) return K_UNSURE;
  if (p[0] == '$') return K_FRAME;
  resp = starts(p, n, "RTSP/1.0 ", 9);
  req = request_start(p, n);
  if (resp == 1 || req == 1) return K_MESSAGE;
  if (resp == -1 || req == -1) return K_UNSURE;
  return K_GARBAGE;
}

/* ---- Messages ------------------------------------------------------- */

/* The length of the header block at p (through its blank line), or 0 when
 * it does not end within min(n, max_header) bytes. Resumes at r->scan: a
 * block that comes in pieces is searched once. */
static size_t block_end(sio_reader *r, const char *p, size_t n) {
  size_t w = n < r->max_header ? n : r->max_header, i = r->scan;
  while (i < w) {
    const char *nl = memchr(p + i, '\n', w - i);
    if (!nl) break;
    i = (size_t)(nl - p);
    if (i + 1 < w && p[i + 1] == '\n') return i + 2;
    if (i + 2 < w && p[i + 1] == '\r' && p[i + 2] == '\n') return i + 3;
    /* The line end is the window's last byte, or is followed by a lone
     * '\r' there: the next bytes decide, look at it again then. */
    if (i + 1 == w || (i + 2 == w && p[i + 1] == '\r')) {
      r->scan = i;
      return 0;
    }
    i++;
  }
  r->scan = w;
  return 0;
}

/* p[s..e) without the spaces and tabs at both ends. */
static void trim(const char *p, size_t *s, size_t *e) {
  while (*s < *e && txt_is_wsp(p[*s])) (*s)++;
  while (*e > *s && txt_is_wsp(p[*e - 1])) (*e)--;
}

/* The line p[s..e) (line end excluded) is a response or request line. */
static int start_line(sio_reader *r, const char *p, size_t s, size_t e, sio_message *m) {
  size_t i, u;
  while (e > s && (p[e - 1] == '\r' || txt_is_wsp(p[e - 1]))) e--;
  if (e - s >= 8 && memcmp(p + s, "RTSP/1.0", 8) == 0 && (e - s == 8 || p[s + 8] == ' ')) {
    i = s + 8;
    while (i < e && p[i] == ' ') i++;
    if (e - i < 3 || !is_digit(p[i]) || !is_digit(p[i + 1]) || !is_digit(p[i + 2]) ||
        p[i] == '0' || (e - i > 3 && !txt_is_wsp(p[i + 3])))
      return fail(r, SIO_EPROTO, "bad status line");
    m->is_response = 1;
    m->status = (p[i] - '0') * 100 + (p[i + 1] - '0') * 10 + (p[i + 2] - '0');
    i += 3;
    trim(p, &i, &e);
    m->reason = p + i;
    m->reason_len = e - i;
    return 0;
  }
  for (i = s; i < e && i - s <= MAX_METHOD && is_tok(p[i]); i++) {}
  if (i == s || i - s > MAX_METHOD || i == e || p[i] != ' ')
    return fail(r, SIO_EPROTO, "bad request line");
  m->method = p + s;
  m->method_len = i - s;
  u = ++i;
  while (i < e && !txt_is_wsp(p[i])) i++;
  m->uri = p + u;
  m->uri_len = i - u;
  if (m->uri_len == 0 || !(p[u] == '*' || (m->uri_len >= 7 && memcmp(p + u, "rtsp://", 7) == 0)))
    return fail(r, SIO_EPROTO, "bad request line");
  while (i < e && txt_is_wsp(p[i])) i++;
  /* The version: "RTSP/" and something, up to the line end. */
  if (e - i < 6 || memcmp(p + i, "RTSP/", 5) != 0) return fail(r, SIO_EPROTO, "bad request line");
  for (i += 5; i < e; i++)
    if (txt_is_wsp(p[i])) return fail(r, SIO_EPROTO, "bad request line");
  return 0;
}

/* A Content-Length value, p[s..e) trimmed: digits only. *have is set once
 * a first one was read, so that a second may only repeat it. */
static int content_length(sio_reader *r, const char *p, size_t s, size_t e, int *have,
                          size_t *clen) {
  size_t v = 0, i;
  int over = 0;
  if (s == e) return fail(r, SIO_EPROTO, "bad Content-Length");
  for (i = s; i < e; i++) {
    if (!is_digit(p[i])) return fail(r, SIO_EPROTO, "bad Content-Length");
    /* Saturates: any value past max_body is refused whatever its size. */
    if (!over && v > (SIZE_MAX - 9) / 10) over = 1;
    if (!over) v = v * 10 + (size_t)(p[i] - '0');
  }
  if (over || v > r->max_body) return fail(r, SIO_ETOOBIG, "body too big");
  if (*have && *clen != v) return fail(r, SIO_EPROTO, "conflicting Content-Length");
  *have = 1;
  *clen = v;
  return 0;
}

/* The header block p[0..hlen), its blank line included: fills m (body
 * aside) and *clen. One pass, once the whole block is in. */
static int head(sio_reader *r, const char *p, size_t hlen, sio_message *m, size_t *clen) {
  size_t s = 0, e;
  int have = 0;
  memset(m, 0, sizeof *m);
  *clen = 0;
  for (;;) {
    const char *nl = memchr(p + s, '\n', hlen - s);
    size_t colon, ne, vs, ve;
    e = nl ? (size_t)(nl - p) : hlen; /* block_end() saw the last '\n' */
    if (s == 0) {
      if (start_line(r, p, 0, e, m) < 0) return r->err;
      s = e + 1;
      continue;
    }
    if (e + 1 >= hlen) return 0; /* the blank line */
    ne = e;
    if (ne > s && p[ne - 1] == '\r') ne--;
    if (txt_is_wsp(p[s])) { /* a folded line: skipped */
      s = e + 1;
      continue;
    }
    nl = memchr(p + s, ':', ne - s);
    if (!nl) return fail(r, SIO_EPROTO, "header line without ':'");
    colon = (size_t)(nl - p);
    while (colon > s && txt_is_wsp(p[colon - 1])) colon--;
    if (colon == s) return fail(r, SIO_EPROTO, "header line without a name");
    vs = (size_t)(nl - p) + 1;
    ve = ne;
    trim(p, &vs, &ve);
    if (colon - s == 14 && txt_ieq(p + s, "content-length", 14) &&
        content_length(r, p, vs, ve, &have, clen) < 0)
      return r->err;
    if (m->num_headers < SIO_MAX_HEADERS) {
      sio_header *h = &m->headers[m->num_headers++];
      h->name = p + s;
      h->name_len = colon - s;
      h->value = p + vs;
      h->value_len = ve - vs;
    }
    s = e + 1;
  }
}

/* A message at p[0..n). */
static int message(sio_reader *r, const char *p, size_t n, size_t *used, sio_message *msg) {
  sio_message scratch; /* for a caller that only counts; head() fills it */
  sio_message *m = msg;
  size_t hlen, clen;
  if (!m) m = &scratch;
  if (r->scan & BODY_WAIT) {
    if (n < (r->scan & ~BODY_WAIT)) return SIO_NEED_MORE;
    /* The body is in: the block is found and read again, once. */
    r->scan = 0;
  }
  hlen = block_end(r, p, n);
  if (hlen == 0) {
    if (n >= r->max_header) return fail(r, SIO_ETOOBIG, "header block too big");
    return SIO_NEED_MORE;
  }
  if (head(r, p, hlen, m, &clen) < 0) return r->err;
  if (clen >= BODY_WAIT - hlen) return fail(r, SIO_ETOOBIG, "body too big");
  if (n - hlen < clen) {
    r->scan = BODY_WAIT | (hlen + clen);
    return SIO_NEED_MORE;
  }
  m->body = p + hlen;
  m->body_len = clen;
  r->scan = 0;
  *used = hlen + clen;
  return SIO_MESSAGE;
}

/* ---- The reader ----------------------------------------------------- */

int sio_feed(sio_reader *r, const char *buf, size_t len, size_t *consumed, sio_message *msg,
             sio_frame *frame) {
  size_t skip = 0, used = 0, flen;
  const unsigned char *u;
  int kind, rc;
  *consumed = 0;
  if (r->err < 0) return r->err;
  if (r->scan & BODY_WAIT) { /* a message's head is in: buf starts with it */
    rc = message(r, buf, len, &used, msg);
    if (rc == SIO_MESSAGE) *consumed = used;
    return rc;
  }
  if (r->scan > len) return fail(r, SIO_EPROTO, "unconsumed bytes not given back");
  while ((kind = classify(buf + skip, len - skip)) == K_GARBAGE) {
    skip++;
    r->garbage++;
  }
  if (skip) r->scan = 0; /* a message only ever starts at buf[0] */
  if (kind == K_UNSURE) {
    *consumed = skip;
    return SIO_NEED_MORE;
  }
  if (kind == K_MESSAGE) {
    rc = message(r, buf + skip, len - skip, &used, msg);
    if (rc < 0) return rc;
    *consumed = skip + used;
    return rc;
  }
  u = (const unsigned char *)buf + skip;
  if (len - skip < 4) {
    *consumed = skip;
    return SIO_NEED_MORE;
  }
  flen = txt_be16(u + 2);
  if (flen > r->max_frame) return fail(r, SIO_ETOOBIG, "frame too big");
  if (len - skip - 4 < flen) {
    *consumed = skip;
    return SIO_NEED_MORE;
  }
  if (frame) {
    frame->channel = u[1];
    frame->data = u + 4;
    frame->len = flen;
  }
  *consumed = skip + 4 + flen;
  return SIO_FRAME;
}

const char *sio_header_value(const sio_message *msg, const char *name, size_t *len) {
  size_t i, n = strlen(name);
  for (i = 0; i < msg->num_headers; i++) {
    const sio_header *h = &msg->headers[i];
    if (h->name_len == n && txt_ieq(h->name, name, n)) {
      if (len) *len = h->value_len;
      return h->value;
    }
  }
  if (len) *len = 0;
  return NULL;
}

const char *sio_strerror(int code) {
  switch (code) {
  case SIO_NEED_MORE: return "need_more";
  case SIO_MESSAGE: return "message";
  case SIO_FRAME: return "frame";
  case SIO_EPROTO: return "protocol";
  case SIO_ETOOBIG: return "too_big";
  default: return "unknown";
  }
}
