/* streamio_test.c: the MULTITRANS stream reader against the document's
 * digest exchange (sections 2.2.2 and 5.1: the 401 challenge, the 200
 * with the preview answer) written out as a camera sends it, with
 * interleaved frames and a notification between them; CRLF, LF and mixed
 * line ends; each stream fed whole, at every chunk size and split at
 * every point, always with the same items, garbage count and last
 * result. Then garbage, every limit at limit and limit + 1, and the
 * protocol errors, under ASan/UBSan. */
#include "buf.h"
#include "check.h"
#include "streamio.h"

#include <stdlib.h>
#include <string.h>

#define PREVIEW_JSON                                                                          \
  "{\"type\":\"response\",\"seq\":\"1\",\"params\":{\"error_code\":0,\"session_id\":\"0\","     \
  "\"interleaved\":[{\"channel\":0,\"interleaved_id\":\"0-1\"}],\"av_config\":[{\"channel\":0," \
  "\"video_codec\":\"H264\",\"audio_codec\":\"G711alaw\",\"audio_sampling_rate\":\"8\","       \
  "\"audio_bitwidth\":\"16\",\"audio_channels\":\"1\",\"extra_data\":{\"video_rtpmap\":"       \
  "\"96 H264/90000\",\"video_fmtp\":\"a=fmtp:96 packetization-mode=1; "                       \
  "profile-level-id=640032; sprop-parameter-sets=Z2QAMqzGuAoALWhAAAD6QAAnGgE=,aOqPLA==\"}}]}}"

#define NOTE_JSON                                                                      \
  "{\"type\":\"notification\",\"params\":{\"event_type\":\"channel_preview_params\"," \
  "\"session_id\":\"0\"}}"

#define CHALLENGE \
  "Digest realm=\"TP-LINK IP-Camera\", nonce=\"b5ee0c9cb96f28a4d1d0c3b4e0a6f1a2\""

/* Frames: an RTP-like packet whose payload holds '$' and "RTSP/1.0 " (a
 * frame is never searched), an audio packet, an empty frame. */
static const char FRAME_V[] = "$\x00\x00\x10"
                              "\x80\x60\x00\x01$RTSP/1.0 \x00\x7f";
static const char FRAME_A[] = "$\x01\x00\x05"
                              "\x80\x08\x00\x02\xd5";
static const char FRAME_E[] = "$\x07\x00\x00";

/* A line of a message with line end nl. */
static void line(buf *b, const char *s, const char *nl) {
  adds(b, s);
  adds(b, nl);
}

static void clen(buf *b, const char *name, size_t n, const char *nl) {
  char tmp[64];
  snprintf(tmp, sizeof tmp, "%s: %zu", name, n);
  line(b, tmp, nl);
}

/* The exchange, with line ends a (the camera's messages) and c (the
 * notification): 401, frames that a second session's stream left in
 * flight, 200 with the preview answer, a notification between frames, a
 * 200 without Content-Length, and an empty frame. */
static buf exchange(const char *a, const char *c) {
  buf b = {NULL, 0, 0};
  line(&b, "RTSP/1.0 401 Unauthorized", a);
  line(&b, "CSeq: 1", a);
  line(&b, "WWW-Authenticate: " CHALLENGE, a);
  line(&b, "", a);
  add(&b, FRAME_V, sizeof FRAME_V - 1);
  line(&b, "RTSP/1.0 200 OK", a);
  line(&b, "CSeq: 1", a);
  line(&b, "Content-Type: application/json", a);
  clen(&b, "Content-Length", sizeof PREVIEW_JSON - 1, a);
  line(&b, "", a);
  adds(&b, PREVIEW_JSON);
  add(&b, FRAME_A, sizeof FRAME_A - 1);
  line(&b, "MULTITRANS rtsp://192.168.1.10/multitrans RTSP/1.0", c);
  line(&b, "cseq: 7", c);
  line(&b, "Session: 0", c);
  clen(&b, "content-LENGTH", sizeof NOTE_JSON - 1, c);
  line(&b, "", c);
  adds(&b, NOTE_JSON);
  add(&b, FRAME_V, sizeof FRAME_V - 1);
  line(&b, "RTSP/1.0 200 OK", a);
  line(&b, "CSeq: 2", a);
  line(&b, "", a);
  add(&b, FRAME_E, sizeof FRAME_E - 1);
  return b;
}

/* What a read gave, written out so that two reads compare with strcmp. */
typedef struct {
  buf log;
  int rc, n;
  unsigned long long garbage;
  size_t held; /* most bytes the caller had to keep */
} result;

static void log_msg(buf *b, const sio_message *m) {
  char tmp[64];
  size_t i;
  if (m->is_response) {
    snprintf(tmp, sizeof tmp, "R%d[", m->status);
    adds(b, tmp);
    add(b, m->reason, m->reason_len);
  } else {
    adds(b, "Q[");
    add(b, m->method, m->method_len);
    adds(b, "|");
    add(b, m->uri, m->uri_len);
  }
  adds(b, "]");
  for (i = 0; i < m->num_headers; i++) {
    add(b, m->headers[i].name, m->headers[i].name_len);
    adds(b, "=");
    add(b, m->headers[i].value, m->headers[i].value_len);
    adds(b, ";");
  }
  snprintf(tmp, sizeof tmp, "{%zu}", m->body_len);
  adds(b, tmp);
  add(b, m->body, m->body_len);
  adds(b, "\n");
}

static void log_frame(buf *b, const sio_frame *f) {
  char tmp[64];
  size_t i;
  snprintf(tmp, sizeof tmp, "F%u{%zu}", f->channel, f->len);
  adds(b, tmp);
  for (i = 0; i < f->len; i++) { /* in hex: a log is a C string */
    snprintf(tmp, sizeof tmp, "%02x", f->data[i]);
    adds(b, tmp);
  }
  adds(b, "\n");
}

/* Feeds s[0..n) in pieces of chunk bytes, or split once at `split` when
 * split > 0, the way a caller does: keep what was not consumed, append,
 * feed again. */
static result play(const char *s, size_t n, size_t chunk, size_t split, const sio_reader *limits) {
  result res;
  sio_reader r;
  char *hold = malloc(n + 1);
  size_t held = 0, from = 0;
  memset(&res, 0, sizeof res);
  CHECK(hold != NULL);
  sio_init(&r);
  if (limits) {
    r.max_header = limits->max_header;
    r.max_body = limits->max_body;
    r.max_frame = limits->max_frame;
  }
  adds(&res.log, "");
  while (from < n) {
    size_t to = split ? (from < split ? split : n) : (n - from > chunk ? from + chunk : n);
    size_t off = 0;
    memcpy(hold + held, s + from, to - from);
    held += to - from;
    from = to;
    for (;;) {
      size_t used = 12345;
      sio_message m;
      sio_frame f;
      int rc = sio_feed(&r, hold + off, held - off, &used, &m, &f);
      res.rc = rc;
      if (rc < 0) {
        CHECK(used == 0);
        CHECK(sio_feed(&r, hold + off, held - off, &used, &m, &f) == rc && used == 0);
        goto out;
      }
      CHECK(used <= held - off);
      if (rc == SIO_MESSAGE) log_msg(&res.log, &m);
      if (rc == SIO_FRAME) log_frame(&res.log, &f);
      if (rc != SIO_NEED_MORE) res.n++;
      off += used;
      if (rc == SIO_NEED_MORE) break;
    }
    memmove(hold, hold + off, held - off);
    held -= off;
    if (held > res.held) res.held = held;
  }
out:
  res.garbage = r.garbage;
  free(hold);
  return res;
}

/* Every way of cutting s gives what reading it whole gives. */
static result every_split(const char *s, size_t n, const sio_reader *limits) {
  result whole = play(s, n, n ? n : 1, 0, limits);
  size_t k;
  for (k = 1; k <= n; k++) {
    result a = play(s, n, k, 0, limits), b = play(s, n, n, k, limits);
    CHECK(a.rc == whole.rc && a.n == whole.n && a.garbage == whole.garbage);
    CHECK(strcmp(a.log.s, whole.log.s) == 0);
    CHECK(b.rc == whole.rc && b.n == whole.n && b.garbage == whole.garbage);
    CHECK(strcmp(b.log.s, whole.log.s) == 0);
    free(a.log.s);
    free(b.log.s);
  }
  return whole;
}

static int feed1(sio_reader *r, const char *s, size_t *used, sio_message *m, sio_frame *f) {
  return sio_feed(r, s, strlen(s), used, m, f);
}

static int value_is(const sio_message *m, const char *name, const char *want) {
  size_t n;
  const char *v = sio_header_value(m, name, &n);
  return v && n == strlen(want) && memcmp(v, want, n) == 0;
}

/* The document's exchange, item by item, whole. */
static void exchange_items(const buf *b) {
  sio_reader r;
  sio_message m;
  sio_frame f;
  size_t used, off = 0;
  sio_init(&r);
  CHECK(sio_feed(&r, b->s, b->len, &used, &m, &f) == SIO_MESSAGE);
  CHECK(m.is_response && m.status == 401 && m.reason_len == 12 &&
        memcmp(m.reason, "Unauthorized", 12) == 0);
  CHECK(m.num_headers == 2 && m.body_len == 0);
  CHECK(value_is(&m, "www-authenticate", CHALLENGE));
  CHECK(value_is(&m, "CSEQ", "1"));
  CHECK(sio_header_value(&m, "Content-Length", NULL) == NULL);
  off += used;
  CHECK(sio_feed(&r, b->s + off, b->len - off, &used, &m, &f) == SIO_FRAME);
  CHECK(f.channel == 0 && f.len == 16 && f.data == (const unsigned char *)b->s + off + 4);
  CHECK(used == sizeof FRAME_V - 1);
  off += used;
  CHECK(sio_feed(&r, b->s + off, b->len - off, &used, &m, &f) == SIO_MESSAGE);
  CHECK(m.is_response && m.status == 200 && m.reason_len == 2);
  CHECK(m.body_len == sizeof PREVIEW_JSON - 1 && memcmp(m.body, PREVIEW_JSON, m.body_len) == 0);
  CHECK(value_is(&m, "content-type", "application/json"));
  off += used;
  CHECK(sio_feed(&r, b->s + off, b->len - off, &used, &m, &f) == SIO_FRAME);
  CHECK(f.channel == 1 && f.len == 5 && (unsigned char)f.data[4] == 0xd5);
  off += used;
  CHECK(sio_feed(&r, b->s + off, b->len - off, &used, &m, &f) == SIO_MESSAGE);
  CHECK(!m.is_response && m.method_len == 10 && memcmp(m.method, "MULTITRANS", 10) == 0);
  CHECK(m.uri_len == 30 && memcmp(m.uri, "rtsp://192.168.1.10/multitrans", 30) == 0);
  CHECK(value_is(&m, "CSeq", "7") && value_is(&m, "session", "0"));
  CHECK(m.body_len == sizeof NOTE_JSON - 1 && memcmp(m.body, NOTE_JSON, m.body_len) == 0);
  off += used;
  CHECK(sio_feed(&r, b->s + off, b->len - off, &used, &m, &f) == SIO_FRAME);
  off += used;
  CHECK(sio_feed(&r, b->s + off, b->len - off, &used, &m, &f) == SIO_MESSAGE);
  CHECK(m.status == 200 && m.num_headers == 1 && m.body_len == 0);
  off += used;
  CHECK(sio_feed(&r, b->s + off, b->len - off, &used, NULL, &f) == SIO_FRAME);
  CHECK(f.channel == 7 && f.len == 0);
  off += used;
  CHECK(off == b->len);
  CHECK(sio_feed(&r, b->s + off, 0, &used, &m, &f) == SIO_NEED_MORE && used == 0);
  CHECK(r.garbage == 0);
}

static void exchanges(void) {
  static const char *const ends[][2] = {{"\r\n", "\r\n"}, {"\n", "\n"}, {"\r\n", "\n"}};
  char *first = NULL;
  size_t i;
  for (i = 0; i < sizeof ends / sizeof ends[0]; i++) {
    buf b = exchange(ends[i][0], ends[i][1]);
    result res;
    exchange_items(&b);
    res = every_split(b.s, b.len, NULL);
    CHECK(res.rc == SIO_NEED_MORE && res.n == 8 && res.garbage == 0 && res.held == 0);
    /* The line ends differ, the items do not. */
    if (!first) first = res.log.s;
    else {
      CHECK(strcmp(first, res.log.s) == 0);
      free(res.log.s);
    }
    free(b.s);
  }
  free(first);
}

static void garbage(void) {
  /* Bytes that cannot start an item, then an item; an HTTP answer is
   * garbage too (no "RTSP/1.0 ", no rtsp:// URI). The CRLF some firmware
   * puts after a body is counted the same way. */
  static const char G1[] = "xyz\r\nHTTP/1.1 200 OK\r\nGET / HTTP/1.1\r\n"
                           "RTSP/1.1 200 OK\r\nrtsp/1.0 200\r\n";
  buf b = {NULL, 0, 0};
  result res;
  sio_reader r;
  sio_message m;
  size_t used;
  add(&b, G1, sizeof G1 - 1);
  add(&b, FRAME_A, sizeof FRAME_A - 1);
  adds(&b, "\r\n");
  adds(&b, "RTSP/1.0 200 OK\r\nCSeq: 3\r\nContent-Length: 2\r\n\r\n{}");
  adds(&b, "\r\n");
  adds(&b, "OPTIONS * RTSP/1.0\r\nCSeq: 4\r\n\r\n");
  res = every_split(b.s, b.len, NULL);
  CHECK(res.rc == SIO_NEED_MORE && res.n == 3);
  CHECK(res.garbage == sizeof G1 - 1 + 2 + 2);
  CHECK(strstr(res.log.s, "Q[OPTIONS|*]CSeq=4;{0}\n") != NULL);
  free(res.log.s);
  free(b.s);

  /* A prefix that may still become an item is awaited, not skipped. */
  sio_init(&r);
  CHECK(feed1(&r, "RTSP/1.0", &used, &m, NULL) == SIO_NEED_MORE && used == 0);
  CHECK(feed1(&r, "xRTSP/1.", &used, &m, NULL) == SIO_NEED_MORE && used == 1);
  CHECK(feed1(&r, "RTSP/1.0 200 OK\r\n\r\n", &used, &m, NULL) == SIO_MESSAGE && used == 19);
  CHECK(feed1(&r, "MULTITRANS", &used, &m, NULL) == SIO_NEED_MORE && used == 0);
  CHECK(feed1(&r, "MULTITRANS rtsp:/", &used, &m, NULL) == SIO_NEED_MORE && used == 0);
  CHECK(feed1(&r, "MULTITRANS rtsp:x", &used, &m, NULL) == SIO_NEED_MORE && used == 17);
  CHECK(r.garbage == 18);
  /* A method token of 33 characters is not one; its last 32 are. */
  sio_init(&r);
  CHECK(feed1(&r, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456 rtsp://x/ RTSP/1.0\r\n\r\n", &used, &m,
              NULL) == SIO_MESSAGE);
  CHECK(used == 56 && r.garbage == 1 && m.method_len == 32 && m.method[0] == 'B');
  sio_init(&r);
  CHECK(feed1(&r, "$\x01", &used, &m, NULL) == SIO_NEED_MORE && used == 0);
  CHECK(feed1(&r, "lower rtsp://x RTSP/1.0\r\n\r\n", &used, &m, NULL) == SIO_NEED_MORE);
  CHECK(used == 27 && r.garbage == 27);
}

/* A response whose header block is exactly n bytes (n >= 43). */
static buf block_of(size_t n, const char *body) {
  buf b = {NULL, 0, 0};
  char tmp[64];
  size_t pad;
  snprintf(tmp, sizeof tmp, "RTSP/1.0 200 OK\r\nContent-Length: %zu\r\nX: ", strlen(body));
  adds(&b, tmp);
  pad = n - b.len - 4;
  while (pad--) adds(&b, "a");
  adds(&b, "\r\n\r\n");
  CHECK(b.len == n);
  adds(&b, body);
  return b;
}

static void limits(void) {
  sio_reader lim, r;
  sio_message m;
  sio_frame f;
  result res;
  size_t used, i;
  buf b;
  char big[8];

  sio_init(&r);
  CHECK(r.max_header == 65536 && r.max_body == 1048576 && r.max_frame == 65535);

  /* The header block: max_header bytes pass, one more does not. */
  sio_init(&lim);
  lim.max_header = 100;
  b = block_of(100, "{}");
  res = every_split(b.s, b.len, &lim);
  CHECK(res.rc == SIO_NEED_MORE && res.n == 1);
  free(res.log.s);
  free(b.s);
  b = block_of(101, "{}");
  res = every_split(b.s, b.len, &lim);
  CHECK(res.rc == SIO_ETOOBIG && res.n == 0 && res.held < 100);
  free(res.log.s);
  sio_init(&r);
  r.max_header = 100;
  CHECK(sio_feed(&r, b.s, 99, &used, &m, &f) == SIO_NEED_MORE);
  CHECK(sio_feed(&r, b.s, 100, &used, &m, &f) == SIO_ETOOBIG && used == 0);
  CHECK(strcmp(r.why, "header block too big") == 0);
  free(b.s);

  /* Default limit, 64 KiB, fed byte by byte: found once, not rescanned
   * (this takes a long while if every byte rescans the block). */
  b = block_of(SIO_DEFAULT_MAX_HEADER, "");
  sio_init(&r);
  for (i = 1; i < b.len; i++) CHECK(sio_feed(&r, b.s, i, &used, &m, NULL) == SIO_NEED_MORE);
  CHECK(sio_feed(&r, b.s, b.len, &used, &m, NULL) == SIO_MESSAGE && used == b.len);
  free(b.s);
  b = block_of(SIO_DEFAULT_MAX_HEADER + 1, "");
  sio_init(&r);
  for (i = 1; i < SIO_DEFAULT_MAX_HEADER; i++)
    CHECK(sio_feed(&r, b.s, i, &used, &m, NULL) == SIO_NEED_MORE);
  CHECK(sio_feed(&r, b.s, i, &used, &m, NULL) == SIO_ETOOBIG);
  free(b.s);

  /* The body: max_body passes; one more is refused as soon as the header
   * block is in, before any of the body. */
  sio_init(&lim);
  lim.max_body = 10;
  {
    static const char S10[] = "RTSP/1.0 200 OK\r\nContent-Length: 10\r\n\r\n0123456789";
    res = every_split(S10, sizeof S10 - 1, &lim);
    CHECK(res.rc == SIO_NEED_MORE && res.n == 1);
    free(res.log.s);
    res = play(S10, sizeof S10 - 1, 1, 0, &lim); /* all but the last byte kept */
    CHECK(res.n == 1 && res.held == sizeof S10 - 2);
  }
  free(res.log.s);
  sio_init(&r);
  r.max_body = 10;
  CHECK(feed1(&r, "RTSP/1.0 200 OK\r\nContent-Length: 11\r\n\r", &used, &m, NULL) == SIO_NEED_MORE);
  CHECK(feed1(&r, "RTSP/1.0 200 OK\r\nContent-Length: 11\r\n\r\n", &used, &m, NULL) == SIO_ETOOBIG);
  CHECK(strcmp(r.why, "body too big") == 0);

  /* The default body limit, 1 MiB, the body fed a byte at a time. */
  {
    size_t hl, n;
    char *s = malloc(SIO_DEFAULT_MAX_BODY + 64);
    CHECK(s != NULL);
    hl = (size_t)sprintf(s, "RTSP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n", SIO_DEFAULT_MAX_BODY);
    memset(s + hl, 'b', SIO_DEFAULT_MAX_BODY);
    n = hl + SIO_DEFAULT_MAX_BODY;
    sio_init(&r);
    for (i = 1; i < n; i++) CHECK(sio_feed(&r, s, i, &used, &m, NULL) == SIO_NEED_MORE);
    CHECK(sio_feed(&r, s, n, &used, &m, NULL) == SIO_MESSAGE && used == n);
    CHECK(m.body == s + hl && m.body_len == SIO_DEFAULT_MAX_BODY);
    n = (size_t)sprintf(s, "RTSP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n", SIO_DEFAULT_MAX_BODY + 1);
    sio_init(&r);
    CHECK(sio_feed(&r, s, n, &used, &m, NULL) == SIO_ETOOBIG);
    free(s);
  }

  /* Frames: max_frame passes, one more is refused from its 4-byte head. */
  sio_init(&lim);
  lim.max_frame = 5;
  res = every_split(FRAME_A, sizeof FRAME_A - 1, &lim);
  CHECK(res.rc == SIO_NEED_MORE && res.n == 1);
  free(res.log.s);
  sio_init(&r);
  r.max_frame = 4;
  CHECK(sio_feed(&r, FRAME_A, 3, &used, NULL, &f) == SIO_NEED_MORE);
  CHECK(sio_feed(&r, FRAME_A, 4, &used, NULL, &f) == SIO_ETOOBIG && used == 0);
  CHECK(strcmp(r.why, "frame too big") == 0);
  /* The format's own limit: 65535 is the default, and passes. */
  sio_init(&r);
  {
    unsigned char *s = calloc(1, 65535 + 4);
    CHECK(s != NULL);
    s[0] = '$';
    s[1] = 200;
    s[2] = s[3] = 0xff;
    CHECK(sio_feed(&r, (const char *)s, 65535 + 3, &used, NULL, &f) == SIO_NEED_MORE);
    CHECK(sio_feed(&r, (const char *)s, 65535 + 4, &used, NULL, &f) == SIO_FRAME);
    CHECK(f.channel == 200 && f.len == 65535 && used == 65539);
    free(s);
  }
  big[0] = '$';
  big[1] = 0;
  big[2] = 0x01;
  big[3] = 0x00; /* 256 */
  sio_init(&r);
  r.max_frame = 255;
  CHECK(sio_feed(&r, big, 4, &used, NULL, &f) == SIO_ETOOBIG);
  sio_init(&r);
  r.max_frame = 256;
  CHECK(sio_feed(&r, big, 4, &used, NULL, &f) == SIO_NEED_MORE);
}

static void content_length(void) {
  static const char *const bad[] = {
    "12a", "", "-1", "+1", "1 2", "0x10", "1.0", " ", "\xc2\xb9",
  };
  static const char *const good[] = {"0", "2", " 2 ", "00002", "\t2"};
  sio_reader r;
  sio_message m;
  size_t used, i;
  char s[256];
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    snprintf(s, sizeof s, "RTSP/1.0 200 OK\r\nContent-Length:%s\r\n\r\n{}", bad[i]);
    sio_init(&r);
    CHECK(feed1(&r, s, &used, &m, NULL) == SIO_EPROTO && used == 0);
    CHECK(strcmp(r.why, "bad Content-Length") == 0);
  }
  for (i = 0; i < sizeof good / sizeof good[0]; i++) {
    snprintf(s, sizeof s, "RTSP/1.0 200 OK\r\nContent-Length:%s\r\n\r\n{}", good[i]);
    sio_init(&r);
    CHECK(feed1(&r, s, &used, &m, NULL) == SIO_MESSAGE);
    CHECK(m.body_len == (i == 0 ? 0 : 2) && used == strlen(s) - (i == 0 ? 2 : 0));
  }
  /* Far past any limit, and past what size_t holds. */
  sio_init(&r);
  CHECK(feed1(&r, "RTSP/1.0 200 OK\r\nContent-Length: 99999999999999999999999999\r\n\r\n", &used,
              &m, NULL) == SIO_ETOOBIG);
  /* Twice: the same value is fine, another one is not. */
  sio_init(&r);
  CHECK(feed1(&r, "RTSP/1.0 200 OK\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\n{}", &used,
              &m, NULL) == SIO_MESSAGE && m.body_len == 2);
  sio_init(&r);
  CHECK(feed1(&r, "RTSP/1.0 200 OK\r\nContent-Length: 2\r\ncontent-length: 3\r\n\r\n{}", &used,
              &m, NULL) == SIO_EPROTO);
  CHECK(strcmp(r.why, "conflicting Content-Length") == 0);
  /* Absent: no body, the next byte starts the next item. */
  sio_init(&r);
  CHECK(feed1(&r, "RTSP/1.0 200 OK\nCSeq: 1\n\n$\x00\x00\x00", &used, &m, NULL) == SIO_MESSAGE);
  CHECK(used == 25 && m.body_len == 0 && m.body != NULL);
}

static void protocol(void) {
  static const char *const bad[] = {
    "RTSP/1.0 20 OK\r\n\r\n",
    "RTSP/1.0 200OK\r\n\r\n",
    "RTSP/1.0 099 Odd\r\n\r\n",
    "RTSP/1.0 \r\n\r\n",
    "RTSP/1.0 2000\r\n\r\n",
    "MULTITRANS rtsp://h/multitrans\r\n\r\n",
    "MULTITRANS rtsp://h/multitrans HTTP/1.1\r\n\r\n",
    "MULTITRANS rtsp://h/multitrans RTSP/1.0 extra\r\n\r\n",
    "RTSP/1.0 200 OK\r\nno colon here\r\n\r\n",
    "RTSP/1.0 200 OK\r\n: no name\r\n\r\n",
    "RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\r\n\r\n",
  };
  sio_reader r;
  sio_message m;
  size_t used, i;
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    result res = every_split(bad[i], strlen(bad[i]), NULL);
    CHECK(res.rc == SIO_EPROTO && res.n == 0);
    free(res.log.s);
  }
  /* Accepted: a status without reason, a reason with spaces, header names
   * in any case, spaces before ':', a folded line (skipped), a value
   * trimmed, RTSP/2.0 on a request. */
  sio_init(&r);
  CHECK(feed1(&r, "RTSP/1.0 404\r\n\r\n", &used, &m, NULL) == SIO_MESSAGE);
  CHECK(m.status == 404 && m.reason_len == 0);
  CHECK(feed1(&r, "RTSP/1.0 454 Session Not Found \r\n\r\n", &used, &m, NULL) == SIO_MESSAGE);
  CHECK(m.reason_len == 17 && memcmp(m.reason, "Session Not Found", 17) == 0);
  CHECK(feed1(&r,
              "TEARDOWN rtsp://h/x RTSP/2.0\r\nX-A : 1\r\n  folded, skipped\r\n"
              "\tfolded too\r\nX-B:\t two words \t\r\nX-C:\r\n\r\n",
              &used, &m, NULL) == SIO_MESSAGE);
  CHECK(!m.is_response && m.num_headers == 3);
  CHECK(value_is(&m, "x-a", "1") && value_is(&m, "X-B", "two words") && value_is(&m, "x-c", ""));
  CHECK(m.headers[0].name_len == 3);

  /* More headers than the array holds: the rest are skipped, but a
   * Content-Length among them still sizes the body. */
  {
    buf b = {NULL, 0, 0};
    char tmp[32];
    adds(&b, "RTSP/1.0 200 OK\r\n");
    for (i = 0; i < 40; i++) {
      snprintf(tmp, sizeof tmp, "H%zu: %zu\r\n", i, i);
      adds(&b, tmp);
    }
    adds(&b, "Content-Length: 2\r\n\r\n{}");
    sio_init(&r);
    CHECK(sio_feed(&r, b.s, b.len, &used, &m, NULL) == SIO_MESSAGE);
    CHECK(m.num_headers == SIO_MAX_HEADERS && m.body_len == 2 && used == b.len);
    CHECK(value_is(&m, "h31", "31") && sio_header_value(&m, "h32", NULL) == NULL);
    free(b.s);
  }

  /* Sticky, until sio_init(). */
  sio_init(&r);
  CHECK(feed1(&r, "RTSP/1.0 200 OK\r\nbad\r\n\r\n", &used, &m, NULL) == SIO_EPROTO);
  CHECK(sio_feed(&r, "$\x00\x00\x00", 4, &used, &m, NULL) == SIO_EPROTO && used == 0);
  sio_init(&r);
  CHECK(sio_feed(&r, "$\x00\x00\x00", 4, &used, &m, NULL) == SIO_FRAME && used == 4);

  /* A caller that drops bytes it was told to keep. */
  sio_init(&r);
  CHECK(feed1(&r, "RTSP/1.0 200 OK\r\nCSeq: 1\r\n", &used, &m, NULL) == SIO_NEED_MORE);
  CHECK(feed1(&r, "RTSP/1.0 2", &used, &m, NULL) == SIO_EPROTO);

  CHECK(strcmp(sio_strerror(SIO_NEED_MORE), "need_more") == 0);
  CHECK(strcmp(sio_strerror(SIO_MESSAGE), "message") == 0);
  CHECK(strcmp(sio_strerror(SIO_FRAME), "frame") == 0);
  CHECK(strcmp(sio_strerror(SIO_EPROTO), "protocol") == 0);
  CHECK(strcmp(sio_strerror(SIO_ETOOBIG), "too_big") == 0);
  CHECK(strcmp(sio_strerror(42), "unknown") == 0);
}

int main(void) {
  exchanges();
  garbage();
  limits();
  content_length();
  protocol();
  DONE("streamio_test");
}
