/* demux_test.c: the stream connection's reader (demux.c) against
 * hand-built MULTITRANS streams: RTSP messages, video split over RTP
 * packets (STAP-A, FU-A, a unit ended by the next timestamp, which holds
 * its packet back for a retry), audio, a data track, stray channels and
 * garbage. Each row is read whole, fed at every chunk size, received
 * (demux_room, demux_reserve, demux_commit) at every chunk size and split
 * in two at every point, always with the same items, counters and last
 * result; the receive path never holds more than the limits allow and
 * always has room after DEMUX_NONE. Then tracks (codec changes, a held
 * packet dropped with its track), pushing packets by hand, and the
 * codec table, under ASan/UBSan. */
#include "buf.h"
#include "check.h"
#include "demux.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One interleaved frame of an RTP packet (version 2, no CSRC, extension
 * or padding) on channel ch. */
static void rtp(buf *b, unsigned ch, int marker, unsigned seq, unsigned ts, int pt, const void *pl, size_t n) {
  unsigned char h[16];
  size_t len = 12 + n;
  h[0] = '$', h[1] = (unsigned char)ch, h[2] = (unsigned char)(len >> 8), h[3] = (unsigned char)len;
  h[4] = 0x80, h[5] = (unsigned char)((marker ? 0x80 : 0) | pt);
  h[6] = (unsigned char)(seq >> 8), h[7] = (unsigned char)seq;
  h[8] = (unsigned char)(ts >> 24), h[9] = (unsigned char)(ts >> 16), h[10] = (unsigned char)(ts >> 8),
  h[11] = (unsigned char)ts;
  h[12] = 0x12, h[13] = 0x34, h[14] = 0xab, h[15] = 0xcd;
  add(b, h, 16);
  add(b, pl, n);
}

/* One interleaved frame of raw bytes. */
static void raw(buf *b, unsigned ch, const char *s) {
  unsigned char h[4];
  size_t n = strlen(s);
  h[0] = '$', h[1] = (unsigned char)ch, h[2] = (unsigned char)(n >> 8), h[3] = (unsigned char)n;
  add(b, h, 4);
  add(b, s, n);
}

static const unsigned char STAP[] = {24, 0, 5, 0x67, 0x64, 0x00, 0x32, 0xac, 0, 4, 0x68, 0xea, 0x8f, 0x2c};
static const unsigned char FU_START[] = {0x7c, 0x85, 0x88, 0x84};
static const unsigned char FU_MID[] = {0x7c, 0x05, 0x11};
static const unsigned char FU_END[] = {0x7c, 0x45, 0x22, 0x33};
static const unsigned char SLICE[] = {0x41, 0x9a, 0x02};
static const unsigned char SLICE2[] = {0x41, 0x9a, 0x03};
static const unsigned char ALAW[] = {0xd5, 0xd5, 0xd5, 0xd5};

#define RESPONSE                                                                              \
  "RTSP/1.0 200 OK\r\nCSeq: 1\r\nSession: 7\r\ncseq: 2\r\nContent-Length: 16\r\n\r\n" \
  "{\"error_code\":0}"
#define NOTIFY "MULTITRANS rtsp://192.0.2.7/multitrans RTSP/1.0\nCSeq: 9\nContent-Length: 2\n\n{}"

/* Channel 0 H.264 and 2 PCMA (session "7"), 3 data; 9 has no track. */
static void mixed(buf *b) {
  adds(b, "\r\n"); /* garbage before the first item */
  adds(b, RESPONSE);
  rtp(b, 0, 0, 100, 90000, 96, STAP, sizeof STAP);
  rtp(b, 0, 0, 101, 90000, 96, FU_START, sizeof FU_START);
  rtp(b, 2, 1, 7, 8000, 8, ALAW, sizeof ALAW);
  rtp(b, 0, 0, 102, 90000, 96, FU_MID, sizeof FU_MID);
  adds(b, NOTIFY);
  rtp(b, 0, 1, 103, 90000, 96, FU_END, sizeof FU_END);
  rtp(b, 9, 1, 1, 1, 96, "x", 1);
  raw(b, 3, "download bytes");
  /* A unit without a marker, ended by the next timestamp (held back and
   * given again), and one lost packet before the last. */
  rtp(b, 0, 0, 104, 93000, 96, SLICE, sizeof SLICE);
  rtp(b, 0, 1, 105, 96000, 96, SLICE2, sizeof SLICE2);
  rtp(b, 0, 1, 107, 99000, 96, SLICE, sizeof SLICE);
  rtp(b, 2, 0, 8, 8004, 8, ALAW, 2);
  raw(b, 3, "");
}

/* The same, then a message whose header block is over max_header. */
static void too_big(buf *b) {
  int i;
  mixed(b);
  adds(b, "RTSP/1.0 200 OK\r\n");
  for (i = 0; i < 40; i++) adds(b, "X-Pad: 0123456789\r\n");
  adds(b, "\r\n");
  rtp(b, 2, 1, 9, 8008, 8, ALAW, sizeof ALAW);
}

/* Items, then a message with a bad header line. */
static void bad_message(buf *b) {
  rtp(b, 2, 1, 7, 8000, 8, ALAW, sizeof ALAW);
  adds(b, "RTSP/1.0 200 OK\r\nno colon here\r\n\r\n");
  raw(b, 3, "never read");
}

/* A body over max_body, announced by Content-Length. */
static void big_body(buf *b) {
  raw(b, 3, "first");
  adds(b, "RTSP/1.0 200 OK\r\nContent-Length: 999\r\n\r\n");
}

/* A trace of what a read gave, as text. */
static void hex(buf *t, const unsigned char *p, size_t n) {
  char x[4];
  size_t i;
  for (i = 0; i < n; i++) {
    snprintf(x, sizeof x, "%02x", p[i]);
    adds(t, x);
  }
}

static void item_line(buf *t, int rc, const demux_item *it) {
  char s[160];
  if (rc == DEMUX_MESSAGE) {
    const sio_message *m = &it->msg;
    size_t n;
    const char *cseq = sio_header_value(m, "cseq", &n);
    if (m->is_response) snprintf(s, sizeof s, "M %d cseq=%.*s ", m->status, (int)n, cseq ? cseq : "");
    else snprintf(s, sizeof s, "M %.*s cseq=%.*s ", (int)m->method_len, m->method, (int)n, cseq ? cseq : "");
    adds(t, s);
    add(t, m->body, m->body_len);
  } else if (rc == DEMUX_FRAME) {
    const rtp_frame *f = &it->frame;
    snprintf(s, sizeof s, "F%u %s %s seq=%u ts=%u key=%d lost=%llu ", it->channel, it->track->name,
             it->track->session ? it->track->session : "-", (unsigned)f->seq, (unsigned)f->timestamp,
             f->keyframe, f->lost);
    adds(t, s);
    hex(t, f->data, f->len);
  } else {
    snprintf(s, sizeof s, "R%u %s ", it->channel, demux_kind_name(it->track->kind));
    adds(t, s);
    add(t, it->data, it->len);
  }
  adds(t, "\n");
}

typedef struct {
  size_t max_header, max_body, max_frame;
} limits;

static void setup(demux *d, const limits *l) {
  demux_init(d);
  if (l->max_header) d->r.max_header = l->max_header;
  if (l->max_body) d->r.max_body = l->max_body;
  if (l->max_frame) d->max_frame = l->max_frame;
  CHECK(demux_track_set(d, 0, RTP_H264, 0, "7", 1) != NULL);
  CHECK(demux_track_set(d, 2, RTP_PCMA, 8000, "7", 1) != NULL);
  CHECK(demux_track_set(d, 3, 0, 0, NULL, 0) != NULL);
}

/* Items until none is complete; the last result. */
static int drain(demux *d, buf *t) {
  for (;;) {
    demux_item it;
    int rc = demux_next(d, &it);
    if (rc <= 0) return rc;
    item_line(t, rc, &it);
  }
}

static void finish(demux *d, int rc, buf *t) {
  char s[200];
  demux_counts c = demux_track_counts(d);
  snprintf(s, sizeof s, "= %d stray=%llu garbage=%llu data=%llu messages=%llu frames=%llu lost=%llu\n", rc,
           d->stray, d->r.garbage, d->data_items, d->messages, c.frames, c.lost);
  adds(t, s);
  demux_free(d);
}

/* Reads in[0..len) with chunk ends cuts[] (the last is len); recv: through
 * the receive path, else demux_feed. Every piece is an exact-size heap
 * copy, so ASan catches a read past the end. */
static void run(const char *in, size_t len, const size_t *cuts, int ncuts, int recv, const limits *l, buf *t) {
  demux d;
  size_t from = 0, keep;
  int c, rc = DEMUX_NONE;
  setup(&d, l);
  keep = d.r.max_header + d.r.max_body + DEMUX_FRAME_ROOM;
  CHECK(ncuts >= 1 && cuts[ncuts - 1] == len);
  for (c = 0; c < ncuts && rc >= 0; c++) {
    size_t to = cuts[c];
    char *piece = malloc(to - from + 1);
    CHECK(piece != NULL);
    memcpy(piece, in + from, to - from);
    if (!recv) {
      CHECK(demux_feed(&d, piece, to - from) == 0);
      rc = drain(&d, t);
    } else {
      size_t at = 0;
      while (at < to - from && rc >= 0) {
        size_t room = demux_room(&d), n = to - from - at;
        char *p;
        CHECK(room > 0); /* after DEMUX_NONE there is always room */
        if (n > room) n = room;
        p = demux_reserve(&d, n);
        CHECK(p != NULL);
        memcpy(p, piece + at, n);
        demux_commit(&d, n);
        at += n;
        CHECK(demux_buffered(&d) <= keep);
        rc = drain(&d, t);
      }
    }
    free(piece);
    from = to;
  }
  finish(&d, rc, t);
}

static void whole(const char *in, size_t len, const limits *l, buf *t) { run(in, len, &len, 1, 0, l, t); }

/* The same trace for every way of cutting in[0..len), fed and received. */
static void every_split(const char *in, size_t len, const limits *l, const char *want) {
  size_t *cuts = malloc((len + 1) * sizeof *cuts);
  size_t k, step;
  int recv;
  CHECK(cuts != NULL);
  for (recv = 0; recv < 2; recv++) {
    for (step = 1; step <= len; step++) { /* 1 = byte by byte */
      int n = 0;
      buf t = {NULL, 0, 0};
      for (k = step; k < len; k += step) cuts[n++] = k;
      cuts[n++] = len;
      run(in, len, cuts, n, recv, l, &t);
      if (strcmp(t.s, want) != 0) fprintf(stderr, "step %zu, recv %d:\n%s\nwant:\n%s\n", step, recv, t.s, want);
      CHECK(strcmp(t.s, want) == 0);
      free(t.s);
    }
    for (k = 0; k <= len; k++) { /* two pieces, cut at every point */
      buf t = {NULL, 0, 0};
      cuts[0] = k;
      cuts[1] = len;
      run(in, len, cuts, 2, recv, l, &t);
      CHECK(strcmp(t.s, want) == 0);
      free(t.s);
    }
  }
  free(cuts);
}

#define IDR_UNIT                                                                   \
  "000000016764"                                                                   \
  "0032ac0000000168ea8f2c00000001658884112233"

#define MIXED_ITEMS                                              \
  "M 200 cseq=1 {\"error_code\":0}\n"                              \
  "F2 PCMA 7 seq=7 ts=8000 key=1 lost=0 d5d5d5d5\n"                \
  "M MULTITRANS cseq=9 {}\n"                                        \
  "F0 H264 7 seq=103 ts=90000 key=1 lost=0 " IDR_UNIT "\n"          \
  "R3 data download bytes\n"                                        \
  "F0 H264 7 seq=104 ts=93000 key=0 lost=0 00000001419a02\n"        \
  "F0 H264 7 seq=105 ts=96000 key=0 lost=0 00000001419a03\n"        \
  "F0 H264 7 seq=107 ts=99000 key=0 lost=1 00000001419a02\n"        \
  "F2 PCMA 7 seq=8 ts=8004 key=1 lost=0 d5d5\n"                     \
  "R3 data \n"

static const char WANT_MIXED[] = MIXED_ITEMS "= 0 stray=1 garbage=2 data=2 messages=2 frames=6 lost=1\n";
static const char WANT_TOO_BIG[] = MIXED_ITEMS "= -2 stray=1 garbage=2 data=2 messages=2 frames=6 lost=1\n";

static const char WANT_BAD[] =
  "F2 PCMA 7 seq=7 ts=8000 key=1 lost=0 d5d5d5d5\n"
  "= -1 stray=0 garbage=0 data=0 messages=0 frames=1 lost=0\n";

static const char WANT_BIG_BODY[] =
  "R3 data first\n"
  "= -2 stray=0 garbage=0 data=1 messages=0 frames=0 lost=0\n";

static void test_rows(void) {
  static const struct {
    const char *name;
    void (*build)(buf *);
    limits l;
    const char *want;
  } rows[] = {
    {"mixed", mixed, {0, 0, 0}, WANT_MIXED},
    {"mixed, small limits", mixed, {200, 40, 64}, WANT_MIXED},
    {"too big", too_big, {400, 0, 0}, WANT_TOO_BIG},
    {"bad message", bad_message, {0, 0, 0}, WANT_BAD},
    {"big body", big_body, {0, 100, 0}, WANT_BIG_BODY},
  };
  size_t i;
  for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    buf in = {NULL, 0, 0}, t = {NULL, 0, 0};
    rows[i].build(&in);
    whole(in.s, in.len, &rows[i].l, &t);
    if (strcmp(t.s, rows[i].want) != 0) fprintf(stderr, "%s:\n%s\nwant:\n%s\n", rows[i].name, t.s, rows[i].want);
    CHECK(strcmp(t.s, rows[i].want) == 0);
    every_split(in.s, in.len, &rows[i].l, rows[i].want);
    free(in.s);
    free(t.s);
  }
}

static void test_codecs(void) {
  CHECK(demux_codec("H264") == RTP_H264 && demux_codec("h265") == RTP_H265);
  CHECK(demux_codec("pcma") == RTP_PCMA && demux_codec("PCMU") == RTP_PCMU);
  CHECK(demux_codec("RAW") == 0 && demux_codec("raw") == 0);
  CHECK(demux_codec("H26") == -1 && demux_codec("") == -1 && demux_codec("H2645") == -1);
  CHECK(demux_codec_kind(RTP_H264) == DEMUX_VIDEO && demux_codec_kind(RTP_PCMU) == DEMUX_AUDIO);
  CHECK(demux_codec_kind(0) == DEMUX_DATA);
  CHECK(strcmp(demux_kind_name(DEMUX_VIDEO), "video") == 0);
  CHECK(strcmp(demux_kind_name(DEMUX_AUDIO), "audio") == 0);
  CHECK(strcmp(demux_kind_name(DEMUX_DATA), "data") == 0);
}

static void test_tracks(void) {
  static const char FMTP[] = "a=fmtp:96 packetization-mode=1; sprop-parameter-sets=Z2QAMqzGuAoALWhAAAD6QAAnGgE=,"
                             "aOqPLA==";
  demux d;
  demux_track *tr;
  demux_item it;
  buf b = {NULL, 0, 0};
  demux_init(&d);
  /* The same codec keeps the track (and its counters), a new clock and
   * session apply; another codec replaces it, its counters kept. */
  tr = demux_track_set(&d, 5, RTP_H264, 0, "a", 1);
  CHECK(tr && tr->t.clock == 90000 && strcmp(tr->session, "a") == 0 && tr->kind == DEMUX_VIDEO);
  CHECK(demux_track_fmtp(tr, FMTP, sizeof FMTP - 1) == 2);
  CHECK(demux_track_fmtp(tr, "sprop-parameter-sets=!!", 23) == -1);
  rtp(&b, 5, 1, 1, 10, 96, SLICE, sizeof SLICE);
  CHECK(demux_feed(&d, b.s, b.len) == 0);
  CHECK(demux_next(&d, &it) == DEMUX_FRAME && it.track == tr && it.channel == 5);
  CHECK(demux_track_set(&d, 5, RTP_H264, 45000, NULL, 0) == tr && tr->t.clock == 45000 && !tr->session);
  CHECK(tr->t.frames == 1);
  tr = demux_track_set(&d, 5, RTP_PCMU, 0, "b", 1);
  CHECK(tr && tr->t.frames == 0 && tr->t.clock == 8000 && strcmp(tr->name, "PCMU") == 0);
  CHECK(demux_track_fmtp(tr, FMTP, sizeof FMTP - 1) == 0); /* not video: nothing read */
  CHECK(demux_track_counts(&d).frames == 1);
  demux_untrack(&d, 5);
  demux_untrack(&d, 5);
  CHECK(d.tracks[5] == NULL && demux_track_counts(&d).frames == 1);
  demux_free(&d);
  free(b.s);
}

/* A packet held back for a retry goes with its track; a push waits for
 * it; pushing by hand follows rtp_track_push's retry contract. */
static void test_hold_and_push(void) {
  demux d;
  demux_item it;
  buf b = {NULL, 0, 0}, p = {NULL, 0, 0};
  rtp(&b, 0, 0, 1, 100, 96, SLICE, sizeof SLICE);
  rtp(&b, 0, 1, 2, 200, 96, SLICE2, sizeof SLICE2);

  /* The unit of ts 100 ends at the packet of ts 200, which waits. */
  demux_init(&d);
  CHECK(demux_track_set(&d, 0, RTP_H264, 0, NULL, 0) != NULL);
  CHECK(demux_feed(&d, b.s, b.len) == 0);
  CHECK(demux_next(&d, &it) == DEMUX_FRAME && it.frame.timestamp == 100);
  rtp(&p, 0, 1, 3, 300, 96, SLICE, sizeof SLICE);
  CHECK(demux_push(&d, 0, (const unsigned char *)p.s + 4, p.len - 4, &it) == RTP_NONE); /* order */
  /* The held packet's bytes count against the limit. */
  CHECK(demux_room(&d) == d.r.max_header + d.r.max_body + DEMUX_FRAME_ROOM - (12 + sizeof SLICE2));
  CHECK(demux_next(&d, &it) == DEMUX_FRAME && it.frame.timestamp == 200);
  CHECK(demux_next(&d, &it) == DEMUX_NONE);
  /* Now the push is taken: a whole unit (marker). */
  CHECK(demux_push(&d, 0, (const unsigned char *)p.s + 4, p.len - 4, &it) == RTP_FRAME);
  CHECK(it.frame.timestamp == 300 && it.channel == 0);
  /* No track, or a data track: nothing taken. */
  CHECK(demux_push(&d, 1, (const unsigned char *)p.s + 4, p.len - 4, &it) == RTP_NONE);
  CHECK(demux_track_set(&d, 1, 0, 0, NULL, 0) != NULL);
  CHECK(demux_push(&d, 1, (const unsigned char *)p.s + 4, p.len - 4, &it) == RTP_NONE);
  demux_free(&d);

  /* A held packet goes when its track goes (or changes codec). */
  demux_init(&d);
  CHECK(demux_track_set(&d, 0, RTP_H264, 0, NULL, 0) != NULL);
  CHECK(demux_feed(&d, b.s, b.len) == 0);
  CHECK(demux_next(&d, &it) == DEMUX_FRAME && it.frame.timestamp == 100);
  CHECK(demux_track_set(&d, 0, RTP_H265, 0, NULL, 0) != NULL);
  CHECK(demux_next(&d, &it) == DEMUX_NONE && demux_buffered(&d) == 0);
  demux_free(&d);

  /* By hand: a packet with a new timestamp ends the open unit first. */
  demux_init(&d);
  CHECK(demux_track_set(&d, 0, RTP_H264, 0, NULL, 0) != NULL);
  CHECK(demux_push(&d, 0, (const unsigned char *)b.s + 4, 12 + sizeof SLICE, &it) == RTP_NONE);
  CHECK(demux_push(&d, 0, (const unsigned char *)b.s + 23, 12 + sizeof SLICE2, &it) == RTP_FRAME_RETRY);
  CHECK(it.frame.timestamp == 100);
  CHECK(demux_push(&d, 0, (const unsigned char *)b.s + 23, 12 + sizeof SLICE2, &it) == RTP_FRAME);
  CHECK(it.frame.timestamp == 200);
  CHECK(d.bytes == 0 && d.stray == 0);
  demux_free(&d);
  demux_free(&d); /* twice: nothing left to free */
  free(b.s);
  free(p.s);
}

int main(void) {
  test_codecs();
  test_rows();
  test_tracks();
  test_hold_and_push();
  DONE("demux_test");
}
