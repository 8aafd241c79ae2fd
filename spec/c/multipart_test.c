/* multipart_test.c: the multipart reader against the document's example
 * push stream (section 4.13.1), written out as a camera sends it, and
 * variants: CRLF and LF, without Content-Length, with a preamble and a
 * close; each fed whole, at every chunk size and split at every point,
 * always with the same parts and the same last result, by the reader and
 * by mp_stream (the reader with a buffer of its own, as the binding uses
 * it). Then the limits and the protocol errors, under ASan/UBSan. */
#include "check.h"
#include "multipart.h"

#include <stdlib.h>
#include <string.h>

#define JSON_OK "{\"result\":\"success\",\"errCode\":0}"
#define JSON_HB "{\"Heartbeat\":\"30\"}"
#define JSON_EV "{\"event_type\":\"TamperDetection\",\"time\":1723175020}"

/* The stream after the HTTP head; the first and third parts have the
 * document's two headers on one line. */
static const char STREAM[] =
  "----boundary--\r\n"
  "Content-Type: application/json Content-Length: 32\r\n"
  "\r\n"
  JSON_OK "\r\n"
  "----boundary--\r\n"
  "Content-Type: application/json\r\n"
  "Content-Length: 18\r\n"
  "\r\n"
  JSON_HB "\r\n"
  "----boundary--\r\n"
  "Content-Type: application/json Content-Length: 50\r\n"
  "\r\n"
  JSON_EV "\r\n"
  "----boundary--\r\n"
  "content-type: application/json CONTENT-LENGTH: 18\r\n"
  "\r\n"
  JSON_HB "\r\n";

/* The same parts with no Content-Length: each body ends at the next
 * delimiter line, so the last needs the close to be complete. A preamble
 * comes first; an epilogue after the close is ignored. */
static const char STREAM_NOLEN[] =
  "preamble, ignored\r\n"
  "----boundary--\r\n"
  "Content-Type: application/json\r\n"
  "\r\n"
  JSON_OK "\r\n"
  "----boundary--  \r\n"
  "Content-Type: application/json\r\n"
  "\r\n"
  JSON_HB "\r\n"
  "----boundary--\r\n"
  "\r\n"
  JSON_EV "\r\n"
  "----boundary--\r\n"
  "Content-Type: application/json\r\n"
  "\r\n"
  JSON_HB "\r\n"
  "----boundary----\r\n"
  "epilogue";

static const char *const PARTS[] = {JSON_OK, JSON_HB, JSON_EV, JSON_HB};

#define MAX_PARTS 16

typedef struct {
  int n;
  char *body[MAX_PARTS];
  char *type[MAX_PARTS];
  int rc;      /* the last result */
  size_t held; /* most bytes the caller had to keep */
} result;

static void result_free(result *res) {
  int i;
  for (i = 0; i < res->n; i++) {
    free(res->body[i]);
    free(res->type[i]);
  }
  memset(res, 0, sizeof *res);
}

static char *dup_n(const char *p, size_t n) {
  char *s = malloc(n + 1);
  CHECK(s != NULL);
  if (n) memcpy(s, p, n);
  s[n] = '\0';
  return s;
}

/* Plays a caller: appends each chunk to what it holds, feeds, drops what
 * was consumed. cuts[] are the chunk ends (the last is len). Every feed
 * sees an exact-size heap copy, so ASan catches a read past the end. */
static void run(const char *in, size_t len, const size_t *cuts, int ncuts, size_t max_part,
                size_t max_header, result *res) {
  mp_reader r;
  char *hold = NULL;
  size_t held = 0, from = 0;
  int c;
  memset(res, 0, sizeof *res);
  CHECK(ncuts >= 1 && cuts[ncuts - 1] == len);
  CHECK(mp_init(&r, "--boundary--") == 0);
  if (max_part) r.max_part = max_part;
  if (max_header) r.max_header = max_header;
  res->rc = MP_NEED_MORE;
  for (c = 0; c < ncuts; c++) {
    size_t to = cuts[c], off = 0;
    char *buf = malloc(held + (to - from) + 1);
    CHECK(buf != NULL);
    if (held) memcpy(buf, hold, held);
    memcpy(buf + held, in + from, to - from);
    held += to - from;
    from = to;
    for (;;) {
      size_t used = 12345;
      mp_part part;
      int rc = mp_feed(&r, buf + off, held - off, &used, &part);
      res->rc = rc;
      if (rc < 0) {
        CHECK(used == 0);
        CHECK(mp_feed(&r, buf, held, &used, &part) == rc); /* sticky */
        break;
      }
      CHECK(used <= held - off);
      if (rc == MP_PART) {
        CHECK(res->n < MAX_PARTS);
        CHECK(part.body >= buf + off && part.body + part.body_len <= buf + off + used);
        res->body[res->n] = dup_n(part.body, part.body_len);
        res->type[res->n] = part.content_type ? dup_n(part.content_type, part.content_type_len) : NULL;
        res->n++;
      }
      off += used;
      if (rc != MP_PART) {
        if (rc == MP_DONE) CHECK(off == held);
        break;
      }
    }
    free(hold);
    hold = dup_n(buf + off, held - off);
    held -= off;
    if (held > res->held) res->held = held;
    free(buf);
    if (res->rc < 0) break;
  }
  free(hold);
}

/* Plays the binding: an mp_stream fed each chunk, as an exact-size heap
 * copy that is freed after the feed (so a part that pointed into a freed
 * chunk would be caught), parts taken until something else comes. */
static void run_stream(const char *in, size_t len, const size_t *cuts, int ncuts, size_t max_part,
                       size_t max_header, result *res) {
  mp_stream st;
  size_t from = 0;
  int c;
  memset(res, 0, sizeof *res);
  CHECK(ncuts >= 1 && cuts[ncuts - 1] == len);
  CHECK(mp_stream_init(&st, "--boundary--") == 0);
  if (max_part) st.r.max_part = max_part;
  if (max_header) st.r.max_header = max_header;
  res->rc = MP_NEED_MORE;
  for (c = 0; c < ncuts && res->rc >= 0; c++) {
    size_t to = cuts[c];
    char *piece = malloc(to - from + 1);
    mp_part part;
    int rc;
    CHECK(piece != NULL);
    memcpy(piece, in + from, to - from);
    rc = mp_stream_feed(&st, piece, to - from);
    while (rc >= 0 && (rc = mp_stream_next(&st, &part)) == MP_PART) {
      CHECK(res->n < MAX_PARTS);
      res->body[res->n] = dup_n(part.body, part.body_len);
      res->type[res->n] = part.content_type ? dup_n(part.content_type, part.content_type_len) : NULL;
      res->n++;
    }
    free(piece);
    CHECK(rc != MP_ENOMEM);
    res->rc = rc;
    if (mp_stream_buffered(&st) > res->held) res->held = mp_stream_buffered(&st);
    from = to;
  }
  CHECK(st.r.why == NULL || strcmp(st.r.why, "more held than the limits allow") != 0);
  if (res->rc < 0) CHECK(mp_stream_buffered(&st) == 0 && mp_stream_feed(&st, "x", 1) == res->rc);
  mp_stream_free(&st);
  mp_stream_free(&st); /* twice: nothing left */
}

static void same_result(const result *got, const result *want) {
  int i;
  CHECK(got->rc == want->rc);
  CHECK(got->n == want->n);
  for (i = 0; i < got->n; i++) CHECK(strcmp(got->body[i], want->body[i]) == 0);
}

/* Both ways of reading in[0..len) cut at cuts[]: the want's result. */
static void run_both(const char *in, size_t len, const size_t *cuts, int n, size_t max_part,
                     size_t max_header, const result *want) {
  result got;
  run(in, len, cuts, n, max_part, max_header, &got);
  same_result(&got, want);
  result_free(&got);
  run_stream(in, len, cuts, n, max_part, max_header, &got);
  same_result(&got, want);
  result_free(&got);
}

/* The same parts and last result for every way of cutting in[0..len). */
static void every_split(const char *in, size_t len, size_t max_part, size_t max_header,
                        const result *want) {
  size_t *cuts = malloc((len + 1) * sizeof *cuts);
  size_t k, step;
  CHECK(cuts != NULL);
  /* Long inputs (the limit cases) get a sample of the cuts: all of them
   * would take minutes under the sanitizers. */
  size_t stride = len > 1024 ? 97 : 1;
  for (step = 1; step <= len; step += step < 8 ? 1 : stride) { /* 1 = byte by byte */
    int n = 0;
    for (k = step; k < len; k += step) cuts[n++] = k;
    cuts[n++] = len;
    run_both(in, len, cuts, n, max_part, max_header, want);
  }
  for (k = 0; k <= len; k += stride) { /* two pieces, cut at every point */
    cuts[0] = k;
    cuts[1] = len;
    run_both(in, len, cuts, 2, max_part, max_header, want);
  }
  free(cuts);
}

static void whole(const char *in, size_t len, size_t max_part, size_t max_header, result *res) {
  run(in, len, &len, 1, max_part, max_header, res);
}

/* s with every CRLF made LF, in a static buffer. */
static const char *lf(const char *s, size_t *len) {
  static char out[4096];
  size_t o = 0;
  for (; *s; s++)
    if (!(s[0] == '\r' && s[1] == '\n')) out[o++] = *s;
  out[o] = '\0';
  *len = o;
  return out;
}

/* untyped: the index of the part sent without headers, or -1. */
static void golden(const char *in, size_t len, int want_rc, int untyped) {
  result res;
  int i;
  whole(in, len, 0, 0, &res);
  CHECK(res.rc == want_rc);
  CHECK(res.n == 4);
  for (i = 0; i < 4; i++) {
    CHECK(strcmp(res.body[i], PARTS[i]) == 0);
    if (i == untyped) CHECK(res.type[i] == NULL);
    else CHECK(res.type[i] != NULL && strcmp(res.type[i], "application/json") == 0);
  }
  every_split(in, len, 0, 0, &res);
  result_free(&res);
}

static void test_boundary(void) {
  static const struct {
    const char *ct, *want;
  } rows[] = {
    {"multipart/mixed;boundary=--boundary--", "--boundary--"},
    {"multipart/mixed; boundary=--boundary--", "--boundary--"},
    {"Multipart/Mixed ; BOUNDARY = --boundary-- ; charset=x", "--boundary--"},
    {"multipart/mixed; boundary=\"--boundary--\"", "--boundary--"},
    {"multipart/mixed; a=\"x;boundary=no\"; boundary=\"sp ace\\\"q\"", "sp ace\"q"},
    {"multipart/mixed;charset=utf-8;boundary=abc", "abc"},
    {"multipart/x-mixed-replace;boundary=frame", "frame"},
    /* no boundary at all: -1 */
    {"application/json", NULL},
    {"multipart/mixed", NULL},
    {"multipart/mixed;boundaryx=abc", NULL},
    /* a boundary that cannot be used: -2 */
    {"multipart/mixed;boundary=", ""},
    {"multipart/mixed;boundary=\"\"", ""},
    {"multipart/mixed;boundary=\"open", ""},
    {"multipart/mixed;boundary=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", ""},
    {"multipart/mixed;boundary=a\x1b[2Jb", ""},
    {"multipart/mixed;boundary=\"a\rb\"", ""},
  };
  size_t i;
  char out[MP_MAX_BOUNDARY + 1], small[4];
  for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    int n = mp_boundary_from_content_type(rows[i].ct, strlen(rows[i].ct), out, sizeof out);
    if (rows[i].want && rows[i].want[0]) {
      CHECK(n == (int)strlen(rows[i].want));
      CHECK(strcmp(out, rows[i].want) == 0);
    } else {
      CHECK(n == (rows[i].want ? -2 : -1));
      CHECK(out[0] == '\0');
    }
  }
  /* Does not fit: refused, out left empty. */
  CHECK(mp_boundary_from_content_type(rows[0].ct, strlen(rows[0].ct), small, sizeof small) == -2);
  CHECK(small[0] == '\0');
  /* A NUL inside (the header as bytes, not as a C string): refused. */
  CHECK(mp_boundary_from_content_type("multipart/mixed;boundary=ab\0cd", 30, out, sizeof out) == -2);
  CHECK(out[0] == '\0');
  CHECK(mp_boundary_ok("--boundary--", 12));
  CHECK(!mp_boundary_ok("ab\0cd", 5));
  CHECK(!mp_boundary_ok("", 0));
  /* Only len bytes are read. */
  CHECK(mp_boundary_from_content_type("multipart/mixed;boundary=abcdef", 28, out, sizeof out) == 3);
  CHECK(strcmp(out, "abc") == 0);
}

static void test_golden(void) {
  size_t n;
  const char *s;
  golden(STREAM, sizeof STREAM - 1, MP_NEED_MORE, -1);
  s = lf(STREAM, &n);
  golden(s, n, MP_NEED_MORE, -1);
  golden(STREAM_NOLEN, sizeof STREAM_NOLEN - 1, MP_DONE, 2);
  s = lf(STREAM_NOLEN, &n);
  golden(s, n, MP_DONE, 2);
}

static void test_details(void) {
  mp_reader r;
  mp_part p;
  size_t used;
  const char *one = "----boundary--\r\nContent-Length: 2\r\nX-A: b\r\n\r\n{}";
  const char *empty = "----boundary--\n\n----boundary--\n";
  /* A part is handed out as soon as its Content-Length is in, pointing
   * into the buffer; no Content-Type gives NULL. */
  CHECK(mp_init(&r, "--boundary--") == 0);
  CHECK(mp_feed(&r, one, strlen(one), &used, &p) == MP_PART);
  CHECK(used == strlen(one));
  CHECK(p.body == one + strlen(one) - 2 && p.body_len == 2);
  CHECK(p.content_type == NULL && p.content_length == 2);
  CHECK(mp_feed(&r, "", 0, &used, &p) == MP_NEED_MORE && used == 0);
  /* An empty body without Content-Length. */
  CHECK(mp_init(&r, "--boundary--") == 0);
  CHECK(mp_feed(&r, empty, strlen(empty), &used, &p) == MP_PART);
  CHECK(p.body_len == 0 && p.content_length == -1);
  CHECK(used == strlen("----boundary--\n\n"));
  /* The close, then anything: done, all consumed. */
  CHECK(mp_init(&r, "b") == 0);
  CHECK(mp_feed(&r, "---b--", 6, &used, &p) == MP_NEED_MORE && used == 0);
  CHECK(mp_feed(&r, "--b--x\r\n", 8, &used, &p) == MP_DONE && used == 8);
  CHECK(mp_feed(&r, "junk", 4, &used, &p) == MP_DONE && used == 4);
  /* Bad boundaries. */
  CHECK(mp_init(&r, "") == -1);
  CHECK(mp_feed(&r, "x", 1, &used, &p) == MP_EPROTO);
  CHECK(mp_init(&r, "a\rb") == -1);
  CHECK(mp_feed(&r, "x", 1, &used, &p) == MP_EPROTO);
  CHECK(strcmp(mp_strerror(MP_EPROTO), "protocol") == 0);
  CHECK(strcmp(mp_strerror(MP_ETOOBIG), "too_big") == 0);
  CHECK(strcmp(mp_strerror(MP_PART), "part") == 0);
  CHECK(strcmp(mp_strerror(MP_DONE), "done") == 0);
  CHECK(strcmp(mp_strerror(MP_NEED_MORE), "need_more") == 0);
  CHECK(strcmp(mp_strerror(42), "unknown") == 0);
}

/* One error case: the parts before it, then the error, at every split. */
static void error_case(const char *in, size_t max_part, size_t max_header, int nparts, int rc) {
  result res;
  whole(in, strlen(in), max_part, max_header, &res);
  CHECK(res.rc == rc);
  CHECK(res.n == nparts);
  every_split(in, strlen(in), max_part, max_header, &res);
  result_free(&res);
}

static void test_errors(void) {
  static char big[12000];
  size_t n;
  result res;
  /* Oversized parts, with and without Content-Length. */
  error_case(STREAM, 40, 0, 2, MP_ETOOBIG); /* the event is 50 bytes */
  error_case(STREAM_NOLEN, 40, 0, 2, MP_ETOOBIG);
  error_case(STREAM_NOLEN, 50, 0, 4, MP_DONE); /* just fits */
  error_case("----boundary--\r\nContent-Length: 99999999999999999999999\r\n\r\n", 0, 0, 0, MP_ETOOBIG);
  /* Garbage where a delimiter belongs. */
  error_case("----boundary--\r\nContent-Length: 2\r\n\r\n{}\r\ngarbage\r\n", 0, 0, 1, MP_EPROTO);
  error_case("----boundary--\r\nContent-Length: 2\r\n\r\n{}xx----boundary--\r\n", 0, 0, 1, MP_EPROTO);
  error_case("----boundary--\r\nContent-Length: 1\r\n\r\n{}\r\n", 0, 0, 1, MP_EPROTO);
  error_case("----boundary--x\r\n", 0, 0, 0, MP_NEED_MORE); /* preamble: ignored */
  error_case("----boundary--\r\n\r\n{}\r\n----boundary--x\r\n", 0, 0, 1, MP_EPROTO);
  error_case("----boundary--\r\n\r\n{}\r\n----boundary---x", 0, 0, 1, MP_EPROTO);
  /* Bad headers. */
  error_case("----boundary--\r\nno colon\r\n\r\n", 0, 0, 0, MP_EPROTO);
  error_case("----boundary--\r\nContent-Length: 2x\r\n\r\n{}", 0, 0, 0, MP_EPROTO);
  error_case("----boundary--\r\nContent-Length:\r\n\r\n{}", 0, 0, 0, MP_EPROTO);
  error_case("----boundary--\r\nContent-Length: 2\r\ncontent-length: 3\r\n\r\n{}", 0, 0, 0, MP_EPROTO);
  /* A header block that never ends: too big at the limit, and the caller
   * never held more than the limit allows. */
  n = (size_t)snprintf(big, sizeof big, "----boundary--\r\nContent-Type: application/json\r\n");
  while (n < sizeof big - 20) n += (size_t)snprintf(big + n, sizeof big - n, "X-Pad: 0123456789\r\n");
  error_case(big, 0, 0, 0, MP_ETOOBIG);
  error_case(big, 0, 200, 0, MP_ETOOBIG);
  {
    size_t cuts[sizeof big];
    size_t k;
    for (k = 0; k < n; k++) cuts[k] = k + 1;
    run(big, n, cuts, (int)n, 0, 0, &res);
    CHECK(res.rc == MP_ETOOBIG && res.held == MP_DEFAULT_MAX_HEADER);
    result_free(&res);
    /* The stream drops what it held with the error: the most it held is
     * the byte before the limit. */
    run_stream(big, n, cuts, (int)n, 0, 0, &res);
    CHECK(res.rc == MP_ETOOBIG && res.held == MP_DEFAULT_MAX_HEADER - 1);
    result_free(&res);
  }
  memset(big, 'x', sizeof big - 1); /* one endless header line */
  memcpy(big, "----boundary--\nX: ", 18);
  error_case(big, 0, 0, 0, MP_ETOOBIG);
}

/* What the stream adds to the reader: it reads fed bytes in place while
 * it keeps nothing, keeps the rest of an incomplete part (and only that),
 * and an error after parts comes with the next feed, parts first. */
static void test_stream(void) {
  static const char one[] = "----boundary--\r\nContent-Length: 2\r\n\r\n{}";
  static const char two[] = "----boundary--\r\nContent-Length: 3\r\n\r\n[1]garbage\r\n";
  mp_stream st;
  mp_part p;
  CHECK(mp_stream_init(&st, "--boundary--") == 0);
  CHECK(mp_stream_next(&st, &p) == MP_NEED_MORE); /* nothing fed yet */
  CHECK(mp_stream_feed(&st, one, sizeof one - 1) == 0);
  CHECK(mp_stream_next(&st, &p) == MP_PART && p.body == one + sizeof one - 3 && p.body_len == 2);
  CHECK(mp_stream_next(&st, &p) == MP_NEED_MORE && mp_stream_buffered(&st) == 0);
  /* Part of a part: the delimiter line read, the rest kept (a copy), then
   * completed from the kept bytes. */
  CHECK(mp_stream_feed(&st, two, 20) == 0);
  CHECK(mp_stream_next(&st, &p) == MP_NEED_MORE && mp_stream_buffered(&st) == 4);
  CHECK(mp_stream_feed(&st, two + 20, sizeof two - 1 - 20) == 0);
  CHECK(mp_stream_next(&st, &p) == MP_PART && p.body_len == 3 && memcmp(p.body, "[1]", 3) == 0);
  CHECK(p.body >= st.buf && p.body < st.buf + st.len);
  /* Then garbage where a delimiter belongs: the error, sticky, nothing kept. */
  CHECK(mp_stream_next(&st, &p) == MP_EPROTO && mp_stream_buffered(&st) == 0);
  CHECK(mp_stream_next(&st, &p) == MP_EPROTO);
  CHECK(mp_stream_feed(&st, one, sizeof one - 1) == MP_EPROTO);
  CHECK(strcmp(mp_strerror(MP_ENOMEM), "no_memory") == 0);
  mp_stream_free(&st);
  /* A boundary the reader refuses: every feed is refused. */
  CHECK(mp_stream_init(&st, "") == -1);
  CHECK(mp_stream_feed(&st, one, sizeof one - 1) == MP_EPROTO);
  mp_stream_free(&st);
}

int main(void) {
  test_boundary();
  test_golden();
  test_details();
  test_errors();
  test_stream();
  DONE("multipart_test");
}
