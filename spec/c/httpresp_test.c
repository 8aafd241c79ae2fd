/* httpresp_test.c: the HTTP/1.1 answer reader against golden answers
 * (Content-Length, chunked with extensions and trailers, close-delimited,
 * interim answers, a folded header), each fed whole and one byte at a
 * time and at every chunk size up to 17, always with the same head, body,
 * trailers and last result. Then every limit and the malformed answers,
 * under ASan/UBSan. */
#include "buf.h"
#include "check.h"
#include "httpresp.h"

#include <stdlib.h>
#include <string.h>

/* What a reading gave: the last result, the head and trailers written
 * out as "name=value\n" lines, the body. */
typedef struct {
  int rc, status, framing, keep_alive;
  unsigned interim;
  const char *why;
  buf head, body, trailers;
} result;

static void clear(result *t) {
  free(t->head.s);
  free(t->body.s);
  free(t->trailers.s);
  memset(t, 0, sizeof *t);
}

static void write_fields(const hr_reader *r, int trailers, buf *out) {
  const char *name, *value;
  size_t nlen, vlen, pos = 0;
  adds(out, "");
  while (trailers ? hr_trailer(r, &pos, &name, &nlen, &value, &vlen)
                  : hr_header(r, &pos, &name, &nlen, &value, &vlen)) {
    add(out, name, nlen);
    adds(out, "=");
    add(out, value, vlen);
    adds(out, "\n");
  }
}

/* Reads in[0..len) in pieces of `chunk` bytes, each in a buffer of its
 * own (so that ASan sees a read past it); `eof`: then the peer closes. */
static void read_answer(const char *in, size_t len, size_t chunk, int eof, hr_reader *limits, result *t) {
  hr_reader r;
  size_t from = 0;
  int rc = HR_NEED_MORE;
  memset(t, 0, sizeof *t);
  adds(&t->body, "");
  if (limits) r = *limits;
  else hr_init(&r);
  while (from < len && rc >= 0 && rc != HR_END) {
    size_t n = len - from < chunk ? len - from : chunk, at = 0;
    char *piece = malloc(n);
    CHECK(piece != NULL);
    memcpy(piece, in + from, n);
    while (1) {
      size_t used;
      const char *data;
      size_t dn;
      rc = hr_feed(&r, piece + at, n - at, &used, &data, &dn);
      at += used;
      CHECK(at <= n);
      if (rc == HR_BODY) {
        CHECK(data >= piece && data + dn <= piece + n);
        add(&t->body, data, dn);
      } else if (rc == HR_HEAD) {
        write_fields(&r, 0, &t->head);
      } else break;
    }
    if (rc == HR_NEED_MORE) CHECK(at == n);
    from += rc == HR_END ? at : n;
    free(piece);
  }
  if (eof && rc >= 0 && rc != HR_END) rc = hr_eof(&r);
  if (rc == HR_END) write_fields(&r, 1, &t->trailers);
  t->rc = rc;
  t->status = r.status;
  t->framing = r.framing;
  t->keep_alive = r.keep_alive;
  t->interim = r.interim;
  t->why = r.why;
  CHECK(hr_buffered(&r) <= r.max_head + r.max_trailer);
  hr_free(&r);
}

static int same(const result *a, const result *b) {
  return a->rc == b->rc && a->status == b->status && a->interim == b->interim && a->framing == b->framing &&
         a->head.len == b->head.len && a->body.len == b->body.len && a->trailers.len == b->trailers.len &&
         (!a->head.len || memcmp(a->head.s, b->head.s, a->head.len) == 0) &&
         memcmp(a->body.s, b->body.s, a->body.len) == 0 &&
         (!a->trailers.len || memcmp(a->trailers.s, b->trailers.s, a->trailers.len) == 0);
}

/* Reads s whole, then at every chunk size from 1 to 17: the same every
 * time. The whole reading is left in *t. */
static void read_all_ways(const char *s, int eof, hr_reader *limits, result *t) {
  size_t chunk, len = strlen(s);
  read_answer(s, len, len ? len : 1, eof, limits, t);
  for (chunk = 1; chunk <= 17; chunk++) {
    result other;
    read_answer(s, len, chunk, eof, limits, &other);
    CHECK(same(t, &other));
    clear(&other);
  }
}

static int is(const buf *b, const char *s) { return b->len == strlen(s) && memcmp(b->s, s, b->len) == 0; }

/* A golden answer: its result, status, body, head and trailers. */
static void golden(const char *answer, int eof, int rc, int status, const char *head, const char *body,
                   const char *trailers) {
  result t;
  read_all_ways(answer, eof, NULL, &t);
  if (t.rc != rc) fprintf(stderr, "rc %d (%s) for: %s\n", t.rc, t.why ? t.why : "", answer);
  CHECK(t.rc == rc);
  CHECK(t.status == status);
  if (head) CHECK(is(&t.head, head));
  if (body) CHECK(is(&t.body, body));
  if (trailers) CHECK(is(&t.trailers, trailers));
  clear(&t);
}

/* An answer refused with rc, and why. */
static void refused(const char *answer, int eof, int rc, const char *why) {
  result t;
  read_all_ways(answer, eof, NULL, &t);
  if (t.rc != rc || !t.why || strcmp(t.why, why) != 0)
    fprintf(stderr, "rc %d (%s) for: %s\n", t.rc, t.why ? t.why : "", answer);
  CHECK(t.rc == rc);
  CHECK(t.why && strcmp(t.why, why) == 0);
  clear(&t);
}

#define JSON "{\"error_code\":0}"

static void test_golden(void) {
  result t;
  /* A control answer as the camera sends it. */
  golden("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n" JSON, 0, HR_END, 200,
         "Content-Type=application/json\nContent-Length=16\n", JSON, "");
  /* Chunked, with extensions, odd splits, upper-case hex and trailers. */
  golden("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
         "3;name=value\r\n{\"e\r\n"
         "A ; a=\"q;uoted\" ;b\r\nrror_code\"\r\n"
         "1\r\n:\r\n"
         "0002\r\n0}\r\n"
         "0;last\r\nX-Checksum: abc\r\nX-Folded: one\r\n two\r\n\r\n",
         0, HR_END, 200, NULL, JSON, "X-Checksum=abc\nX-Folded=one   two\n");
  /* Bare LF line ends everywhere. */
  golden("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n5\nhello\n0\n\n", 0, HR_END, 200, NULL, "hello", "");
  /* Close-delimited: ends with the peer's close, and only then. */
  golden("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end", 1, HR_END, 200, NULL,
         "until the end", "");
  golden("HTTP/1.0 200 OK\r\n\r\nuntil the end", 0, HR_NEED_MORE, 200, NULL, "until the end", NULL);
  /* Interim answers are skipped and counted. */
  read_all_ways("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\nX: 1\r\n\r\n"
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", 0, NULL, &t);
  CHECK(t.rc == HR_END && t.status == 404 && t.interim == 2 && is(&t.body, "") && is(&t.head, "Content-Length=0\n"));
  clear(&t);
  /* 204 and 304 have no body, whatever they say. */
  golden("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", 0, HR_END, 204, NULL, "", "");
  golden("HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", 0, HR_END, 304, NULL, "", "");
  /* obs-fold: the line break becomes spaces; names any case; values trimmed. */
  golden("HTTP/1.1 200 OK\r\nX-Long: a\r\n\tb \r\ncontent-LENGTH:  2 \r\n\r\nok", 0, HR_END, 200,
         "X-Long=a  \tb\ncontent-LENGTH=2\n", "ok", NULL);
  /* The same Content-Length twice, as a list and as two headers. */
  golden("HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\nok", 0, HR_END, 200, NULL, "ok", NULL);
  /* Bytes after the end are not read. */
  {
    hr_reader r;
    const char *a = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA";
    size_t used, n, at = 0;
    const char *d;
    hr_init(&r);
    CHECK(hr_feed(&r, a, strlen(a), &used, &d, &n) == HR_HEAD);
    at += used;
    CHECK(hr_feed(&r, a + at, strlen(a) - at, &used, &d, &n) == HR_BODY && n == 2);
    at += used;
    CHECK(hr_feed(&r, a + at, strlen(a) - at, &used, &d, &n) == HR_END && used == 0);
    CHECK(strcmp(a + at, "EXTRA") == 0);
    CHECK(r.keep_alive == 1 && r.framing == HR_FRAME_LENGTH);
    {
      size_t rl;
      const char *reason = hr_reason(&r, &rl);
      CHECK(rl == 2 && memcmp(reason, "OK", 2) == 0);
    }
    CHECK(hr_eof(&r) == HR_END);
    hr_free(&r);
  }
  /* Keep-alive: 1.1 unless "close"; 1.0 only with "keep-alive". */
  read_all_ways("HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Close\r\nContent-Length: 0\r\n\r\n", 0, NULL, &t);
  CHECK(t.rc == HR_END && t.keep_alive == 0);
  clear(&t);
  read_all_ways("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", 0, NULL, &t);
  CHECK(t.rc == HR_END && t.keep_alive == 1);
  clear(&t);
  read_all_ways("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", 0, NULL, &t); /* no reason phrase */
  CHECK(t.rc == HR_END && t.status == 200);
  clear(&t);
}

static void test_malformed(void) {
  refused("HTTP/2 200 OK\r\n\r\n", 0, HR_EPROTO, "the answer is not HTTP/1.x");
  refused("<html>hello</html>", 0, HR_EPROTO, "the answer is not HTTP/1.x");
  refused("HTTP/1.1 2OO OK\r\n\r\n", 0, HR_EPROTO, "a status line without a 3-digit status");
  refused("HTTP/1.1 2000 OK\r\n\r\n", 0, HR_EPROTO, "a status line without a 3-digit status");
  refused("HTTP/1.1 099 Low\r\n\r\n", 0, HR_EPROTO, "a status below 100");
  refused("HTTP/1.1 200 O\001K\r\n\r\n", 0, HR_EPROTO, "a control character in the status line");
  refused("HTTP/1.1 101 Switching Protocols\r\n\r\n", 0, HR_EPROTO, "101 Switching Protocols, which nothing asked for");
  refused("HTTP/1.1 200 OK\r\nNo colon\r\n\r\n", 0, HR_EPROTO, "a header line without a name and ':'");
  refused("HTTP/1.1 200 OK\r\nName : v\r\n\r\n", 0, HR_EPROTO, "a header line without a name and ':'");
  refused("HTTP/1.1 200 OK\r\n: v\r\n\r\n", 0, HR_EPROTO, "a header line without a name and ':'");
  refused("HTTP/1.1 200 OK\r\n folded first\r\n\r\n", 0, HR_EPROTO, "a continuation line without a header before it");
  refused("HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n", 0, HR_EPROTO, "a NUL or a bare CR in the answer's head");
  refused("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok", 0, HR_EPROTO,
          "two different Content-Length values");
  refused("HTTP/1.1 200 OK\r\nContent-Length: 2, 3\r\n\r\nok", 0, HR_EPROTO, "two different Content-Length values");
  refused("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 0, HR_EPROTO, "a Content-Length that is not a number");
  refused("HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n", 0, HR_EPROTO, "a Content-Length that is not a number");
  refused("HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", 0, HR_EPROTO, "an empty Content-Length");
  refused("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n", 0, HR_EPROTO,
          "a Content-Length too large to be one");
  refused("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 0, HR_EPROTO,
          "both Content-Length and Transfer-Encoding");
  refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 0, HR_EPROTO,
          "a Transfer-Encoding other than chunked");
  refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 0, HR_EPROTO,
          "a Transfer-Encoding other than chunked");
  refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n", 0, HR_EPROTO,
          "a chunk size that is not hex digits");
  refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n", 0, HR_EPROTO,
          "a chunk size that is not hex digits");
  refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\n", 0, HR_EPROTO,
          "a chunk size that is not hex digits");
  refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n;ext\r\n", 0, HR_EPROTO,
          "a chunk size that is not hex digits");
  refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", 0, HR_EPROTO,
          "a chunk-size line without a size");
  refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n", 0, HR_EPROTO,
          "a chunk size too large to be one");
  refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n", 0, HR_EPROTO,
          "a chunk size too large to be one");
  refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\rx\r\n", 0, HR_EPROTO,
          "a bare CR in a chunk-size line");
  refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloX\r\n", 0, HR_EPROTO,
          "a chunk not followed by a line end");
  refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nno colon\r\n\r\n", 0, HR_EPROTO,
          "a header line without a name and ':'");
  /* The peer's close before the end. */
  refused("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc", 1, HR_ECLOSED, "the connection closed before the answer ended");
  refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", 1, HR_ECLOSED,
          "the connection closed before the answer ended");
  refused("HTTP/1.1 200 OK\r\nContent-", 1, HR_ECLOSED, "the connection closed before the answer's head ended");
}

static void test_limits(void) {
  hr_reader lim;
  result t;
  buf b = {0};
  int i;
  /* The head, interim answers included. */
  adds(&b, "HTTP/1.1 200 OK\r\n");
  while (b.len < HR_DEFAULT_MAX_HEAD) adds(&b, "X-Filler: 0123456789012345678901234567890123456789\r\n");
  adds(&b, "\r\n");
  refused(b.s, 0, HR_ETOOBIG, "the answer's head is over its limit");
  b.len = 0;
  for (i = 0; i < 1200; i++) adds(&b, "HTTP/1.1 100 Continue\r\nX-Filler: 0123456789012345678901234567890123456789\r\n\r\n");
  hr_init(&lim);
  lim.max_interim = 10000;
  read_answer(b.s, b.len, b.len, 0, &lim, &t);
  CHECK(t.rc == HR_ETOOBIG && strcmp(t.why, "the answer's head is over its limit") == 0);
  clear(&t);
  /* The number of interim answers: 16 pass, 17 do not. */
  b.len = 0;
  for (i = 0; i < 16; i++) adds(&b, "HTTP/1.1 100 Continue\r\n\r\n");
  adds(&b, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  golden(b.s, 0, HR_END, 200, NULL, "", "");
  b.len = 0;
  for (i = 0; i < 17; i++) adds(&b, "HTTP/1.1 100 Continue\r\n\r\n");
  refused(b.s, 0, HR_ETOOBIG, "too many interim (1xx) answers");
  /* Endless trailers. */
  b.len = 0;
  adds(&b, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n");
  while (b.len < 2 * HR_DEFAULT_MAX_TRAILER) adds(&b, "X-Trailer: 0123456789012345678901234567890123456789\r\n");
  refused(b.s, 0, HR_ETOOBIG, "the answer's trailers are over their limit");
  /* A chunk-size line: 4096 bytes with its line end pass, one more does not. */
  b.len = 0;
  adds(&b, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;");
  while (b.len < 47 + 4096 - 2) adds(&b, "x");
  b.len = 47 + 4096 - 2;
  adds(&b, "\r\nok\r\n0\r\n\r\n");
  golden(b.s, 0, HR_END, 200, NULL, "ok", "");
  b.len = 47 + 4096 - 2;
  adds(&b, "x\r\nok\r\n0\r\n\r\n");
  refused(b.s, 0, HR_ETOOBIG, "a chunk-size line over its limit");
  /* The body, when the caller sets a limit. */
  hr_init(&lim);
  lim.max_body = 4;
  read_answer("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 39, 39, 0, &lim, &t);
  CHECK(t.rc == HR_ETOOBIG && strcmp(t.why, "a Content-Length over the body limit") == 0);
  clear(&t);
  {
    const char *a = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
    read_answer(a, strlen(a), 1, 0, &lim, &t);
    CHECK(t.rc == HR_ETOOBIG && strcmp(t.why, "a body over its limit") == 0 && t.body.len == 4);
    clear(&t);
    lim.max_body = 5;
    read_answer(a, strlen(a), 1, 0, &lim, &t);
    CHECK(t.rc == HR_END && is(&t.body, "abcde"));
    clear(&t);
  }
  read_answer("HTTP/1.0 200 OK\r\n\r\nhello", 24, 24, 0, &lim, &t);
  CHECK(t.rc == HR_NEED_MORE && t.body.len == 5);
  clear(&t);
  lim.max_body = 4;
  read_answer("HTTP/1.0 200 OK\r\n\r\nhello", 24, 24, 0, &lim, &t);
  CHECK(t.rc == HR_ETOOBIG);
  clear(&t);
  free(b.s);
}

static void test_interim_status(void) {
  hr_reader r;
  size_t used;
  const char *a = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n";
  hr_init(&r);
  /* an interim answer in, the final head not yet: no status to read */
  CHECK(hr_feed(&r, a, strlen(a), &used, NULL, NULL) == HR_NEED_MORE && used == strlen(a));
  CHECK(r.status == 0 && r.interim == 1);
  CHECK(hr_feed(&r, "\r\n", 2, &used, NULL, NULL) == HR_HEAD && r.status == 200);
  hr_free(&r);
}

static void test_sticky(void) {
  hr_reader r;
  size_t used;
  hr_init(&r);
  CHECK(hr_feed(&r, "HTTP/1.1 2x\r\n\r\n", 15, &used, NULL, NULL) == HR_EPROTO);
  CHECK(hr_feed(&r, "HTTP/1.1 200 OK\r\n\r\n", 19, &used, NULL, NULL) == HR_EPROTO && used == 0);
  CHECK(hr_eof(&r) == HR_EPROTO);
  CHECK(strcmp(hr_strerror(HR_EPROTO), "protocol") == 0 && strcmp(hr_strerror(99), "unknown") == 0);
  hr_free(&r);
  hr_free(&r); /* twice is safe */
}

int main(void) {
  test_golden();
  test_malformed();
  test_limits();
  test_interim_status();
  test_sticky();
  DONE("httpresp");
}
