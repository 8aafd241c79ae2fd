/* rtp_test.c: RTP header, depacketizer and talk packetizer against
 * hand-built packets: every payload format of RFC 6184 / RFC 7798 that
 * the camera uses, the sequence and timestamp wraps, loss, duplicates,
 * the max_frame bound and the parameter sets put before keyframes. */
#include "check.h"
#include "rtp.h"

#include <string.h>

static unsigned char P[70000];

/* An RTP packet of version 2 with no CSRC, extension or padding. */
static size_t pkt(int marker, uint16_t seq, uint32_t ts, const void *pl, size_t n) {
  P[0] = 0x80;
  P[1] = (unsigned char)((marker ? 0x80 : 0) | 96);
  P[2] = (unsigned char)(seq >> 8);
  P[3] = (unsigned char)seq;
  P[4] = (unsigned char)(ts >> 24);
  P[5] = (unsigned char)(ts >> 16);
  P[6] = (unsigned char)(ts >> 8);
  P[7] = (unsigned char)ts;
  P[8] = 0x11, P[9] = 0x22, P[10] = 0x33, P[11] = 0x44;
  memcpy(P + 12, pl, n);
  return 12 + n;
}

static int push(rtp_track *t, int marker, uint16_t seq, uint32_t ts, const void *pl, size_t n, rtp_frame *f) {
  return rtp_track_push(t, P, pkt(marker, seq, ts, pl, n), f);
}

static int same(const rtp_frame *f, const void *want, size_t n) {
  return f->len == n && memcmp(f->data, want, n) == 0;
}

static const unsigned char SPS[] = {0x67, 0x64, 0x00, 0x32, 0xac};
static const unsigned char PPS[] = {0x68, 0xea, 0x8f, 0x2c};
static const unsigned char IDR[] = {0x65, 0x88, 0x84, 0x00};
static const unsigned char SLICE[] = {0x41, 0x9a, 0x02};

static void test_header(void) {
  rtp_packet k;
  unsigned char p[64];
  size_t n = pkt(1, 7, 9, "\x41\x01", 2);
  CHECK(rtp_parse(P, n, &k) == RTP_OK);
  CHECK(k.marker == 1 && k.pt == 96 && k.seq == 7 && k.timestamp == 9 && k.ssrc == 0x11223344);
  CHECK(k.payload_len == 2 && k.payload[0] == 0x41);

  /* Two CSRCs, a one-word extension, 3 bytes of padding. */
  memset(p, 0, sizeof p);
  p[0] = 0x80 | 0x20 | 0x10 | 2;
  p[1] = 8;
  p[12 + 8 + 2] = 0, p[12 + 8 + 3] = 1; /* extension length: 1 word */
  memcpy(p + 12 + 8 + 4 + 4, "abcd", 4);
  p[12 + 8 + 8 + 4 + 2] = 3;
  CHECK(rtp_parse(p, 12 + 8 + 8 + 4 + 3, &k) == RTP_OK);
  CHECK(k.csrc_count == 2 && k.has_extension && k.pt == 8);
  CHECK(k.payload_len == 4 && memcmp(k.payload, "abcd", 4) == 0);
  /* Padding as long as the payload leaves it empty; one more is bad. */
  p[12 + 8 + 8 + 4 + 2] = 7;
  CHECK(rtp_parse(p, 12 + 8 + 8 + 4 + 3, &k) == RTP_OK && k.payload_len == 0);
  p[12 + 8 + 8 + 4 + 2] = 8;
  CHECK(rtp_parse(p, 12 + 8 + 8 + 4 + 3, &k) == RTP_EPADDING);
  p[12 + 8 + 8 + 4 + 2] = 0;
  CHECK(rtp_parse(p, 12 + 8 + 8 + 4 + 3, &k) == RTP_EPADDING);
  /* Padding bit on a packet that ends at the header. */
  CHECK(rtp_parse(p, 12 + 8 + 8, &k) == RTP_EPADDING);
  /* Extension running past the end, CSRCs past the end, short, version. */
  CHECK(rtp_parse(p, 12 + 8 + 4 + 3, &k) == RTP_ESHORT);
  CHECK(rtp_parse(p, 12 + 8 + 2, &k) == RTP_ESHORT);
  CHECK(rtp_parse(p, 12 + 4, &k) == RTP_ESHORT);
  CHECK(rtp_parse(p, 11, &k) == RTP_ESHORT);
  p[0] = 0x40;
  CHECK(rtp_parse(p, 40, &k) == RTP_EVERSION);
  CHECK(strcmp(rtp_strerror(RTP_EPADDING), "bad RTP padding") == 0);
}

static void test_h264(void) {
  rtp_track t;
  rtp_frame f;
  unsigned char stap[64], fu[16], want[128];
  size_t n = 0, w = 0;

  rtp_track_init(&t, RTP_H264, 0);
  CHECK(t.clock == 90000);
  /* Single NAL unit, marker: one access unit, not a keyframe. */
  CHECK(push(&t, 1, 100, 1000, SLICE, sizeof SLICE, &f) == RTP_FRAME);
  memcpy(want, "\0\0\0\1", 4);
  memcpy(want + 4, SLICE, sizeof SLICE);
  CHECK(same(&f, want, 4 + sizeof SLICE) && !f.keyframe && f.lost == 0 && f.pts == 0.0);
  CHECK(f.seq == 100 && f.timestamp == 1000);

  /* STAP-A with SPS and PPS, then the IDR in an FU-A of three packets. */
  stap[n++] = 24;
  stap[n++] = 0, stap[n++] = sizeof SPS;
  memcpy(stap + n, SPS, sizeof SPS), n += sizeof SPS;
  stap[n++] = 0, stap[n++] = sizeof PPS;
  memcpy(stap + n, PPS, sizeof PPS), n += sizeof PPS;
  CHECK(push(&t, 0, 101, 4000, stap, n, &f) == RTP_NONE);
  fu[0] = 0x60 | 28, fu[1] = 0x80 | 5, fu[2] = 0x88, fu[3] = 0x84;
  CHECK(push(&t, 0, 102, 4000, fu, 4, &f) == RTP_NONE);
  fu[1] = 5, fu[2] = 0x11;
  CHECK(push(&t, 0, 103, 4000, fu, 3, &f) == RTP_NONE);
  fu[1] = 0x40 | 5, fu[2] = 0x22, fu[3] = 0x33;
  CHECK(push(&t, 1, 104, 4000, fu, 4, &f) == RTP_FRAME);
  w = 0;
  memcpy(want + w, "\0\0\0\1", 4), w += 4;
  memcpy(want + w, SPS, sizeof SPS), w += sizeof SPS;
  memcpy(want + w, "\0\0\0\1", 4), w += 4;
  memcpy(want + w, PPS, sizeof PPS), w += sizeof PPS;
  memcpy(want + w, "\0\0\0\1\x65\x88\x84\x11\x22\x33", 10), w += 10;
  CHECK(same(&f, want, w) && f.keyframe && f.seq == 104);
  CHECK(f.pts == 3000.0 / 90000);
  CHECK(t.frames == 2 && t.lost == 0);

  /* An IDR alone: the SPS and PPS learnt in-band go before it. */
  CHECK(push(&t, 1, 105, 7000, IDR, sizeof IDR, &f) == RTP_FRAME);
  memcpy(want + w - 10, "\0\0\0\1", 4);
  memcpy(want + w - 6, IDR, sizeof IDR);
  CHECK(same(&f, want, w - 6 + sizeof IDR) && f.keyframe);

  /* Unsupported types (STAP-B) are counted and skipped; so are empty and
   * truncated payloads, as bad ones. */
  CHECK(push(&t, 1, 106, 8000, "\x19\0\0", 3, &f) == RTP_NONE && t.unsupported == 1);
  CHECK(push(&t, 1, 107, 9000, "\x18\0\x09\x41", 4, &f) == RTP_NONE && t.bad == 1);
  CHECK(push(&t, 1, 108, 9500, "", 0, &f) == RTP_NONE && t.bad == 2);
  /* A middle fragment without a start is dropped with its unit. */
  CHECK(push(&t, 1, 109, 9900, "\x7c\x05\x01", 3, &f) == RTP_NONE);
  CHECK(push(&t, 1, 110, 9950, SLICE, sizeof SLICE, &f) == RTP_FRAME);
  rtp_track_free(&t);
}

static void test_sequence(void) {
  rtp_track t;
  rtp_frame f;
  rtp_track_init(&t, RTP_H264, 90000);
  /* Wrap 65535 -> 0 is no loss. */
  CHECK(push(&t, 1, 65534, 0, SLICE, sizeof SLICE, &f) == RTP_FRAME);
  CHECK(push(&t, 1, 65535, 3000, SLICE, sizeof SLICE, &f) == RTP_FRAME && f.lost == 0);
  CHECK(push(&t, 1, 0, 6000, SLICE, sizeof SLICE, &f) == RTP_FRAME && f.lost == 0);
  /* A duplicate and an old packet: skipped, counted. */
  CHECK(push(&t, 1, 0, 6000, SLICE, sizeof SLICE, &f) == RTP_NONE);
  CHECK(push(&t, 1, 65000, 6000, SLICE, sizeof SLICE, &f) == RTP_NONE);
  CHECK(t.duplicates == 2 && t.lost == 0);
  /* Loss inside an access unit (packet 2 of 3 missing): the unit is
   * dropped; the next one reports the loss. */
  CHECK(push(&t, 0, 1, 9000, SLICE, sizeof SLICE, &f) == RTP_NONE);
  CHECK(push(&t, 1, 3, 9000, SLICE, sizeof SLICE, &f) == RTP_NONE);
  CHECK(t.lost == 1);
  CHECK(push(&t, 1, 4, 12000, SLICE, sizeof SLICE, &f) == RTP_FRAME && f.lost == 1 && f.seq == 4);
  /* A gap between units is counted, and the next unit kept. */
  CHECK(push(&t, 1, 10, 15000, SLICE, sizeof SLICE, &f) == RTP_FRAME && f.lost == 5);
  CHECK(t.lost == 6);
  /* A gap before a fragment's continuation: the unit cannot be rebuilt. */
  CHECK(push(&t, 1, 12, 18000, "\x7c\x45\x01", 3, &f) == RTP_NONE);
  CHECK(push(&t, 1, 13, 21000, SLICE, sizeof SLICE, &f) == RTP_FRAME && f.lost == 1);
  /* A timestamp change without a marker ends the unit: the packet is
   * given again after the frame is handed out. */
  CHECK(push(&t, 0, 14, 24000, SLICE, sizeof SLICE, &f) == RTP_NONE);
  CHECK(push(&t, 0, 15, 24000, SLICE, sizeof SLICE, &f) == RTP_NONE);
  CHECK(push(&t, 0, 16, 27000, IDR, sizeof IDR, &f) == RTP_FRAME_RETRY);
  CHECK(f.len == 2 * (4 + sizeof SLICE) && f.timestamp == 24000 && f.seq == 15);
  CHECK(rtp_track_push(&t, P, 12 + sizeof IDR, &f) == RTP_NONE);
  CHECK(t.duplicates == 2 && t.lost == 7);
  CHECK(rtp_track_flush(&t, &f) == RTP_FRAME && f.keyframe && f.timestamp == 27000 && f.seq == 16);
  CHECK(rtp_track_flush(&t, &f) == RTP_NONE);
  /* A restarted sender (far older numbers, again and again) is followed
   * after RTP_RESYNC packets. */
  {
    int i, got = 0;
    for (i = 0; i < RTP_RESYNC + 3; i++)
      got += push(&t, 1, (uint16_t)(40000 + i), (uint32_t)(30000 + 3000 * i), SLICE, sizeof SLICE, &f) == RTP_FRAME;
    CHECK(got == 4);
  }
  rtp_track_free(&t);
}

static void test_timestamps(void) {
  rtp_track t;
  rtp_frame f;
  rtp_track_init(&t, RTP_H264, 90000);
  CHECK(push(&t, 1, 1, 0xFFFFFF00u, SLICE, sizeof SLICE, &f) == RTP_FRAME && f.pts == 0.0);
  CHECK(push(&t, 1, 2, 0x00000100u, SLICE, sizeof SLICE, &f) == RTP_FRAME);
  CHECK(f.timestamp == 0x100 && f.unwrapped == 0x100000100LL && f.pts == 512.0 / 90000);
  /* Backwards (B-frame order), across the wrap again. */
  CHECK(push(&t, 1, 3, 0xFFFFFF80u, SLICE, sizeof SLICE, &f) == RTP_FRAME);
  CHECK(f.unwrapped == 0xFFFFFF80LL && f.pts == 128.0 / 90000);
  rtp_track_free(&t);
}

static void test_max_frame(void) {
  rtp_track t;
  rtp_frame f;
  static unsigned char big[3000];
  int i;
  rtp_track_init(&t, RTP_H264, 90000);
  t.max_frame = 100; /* read as RTP_MIN_MAX_FRAME */
  memset(big, 0x5a, sizeof big);
  big[0] = 0x7c, big[1] = 0x80 | 1;
  CHECK(push(&t, 0, 1, 0, big, sizeof big, &f) == RTP_NONE);
  big[1] = 1;
  CHECK(push(&t, 0, 2, 0, big, sizeof big, &f) == RTP_NONE);
  big[1] = 0x40 | 1;
  CHECK(push(&t, 1, 3, 0, big, sizeof big, &f) == RTP_NONE);
  CHECK(t.oversized == 1 && t.peak <= RTP_MIN_MAX_FRAME && t.cap <= RTP_MIN_MAX_FRAME);
  /* The next units go through, the buffer still bounded. */
  for (i = 0; i < 3; i++) {
    big[1] = 0x80 | 0x40 | 1;
    CHECK(push(&t, 1, (uint16_t)(4 + i), (uint32_t)(3000 * (i + 1)), big, sizeof big, &f) == RTP_FRAME);
    CHECK(f.len == 4 + 1 + sizeof big - 2 && f.lost == 0);
  }
  CHECK(t.oversized == 1 && t.cap <= RTP_MIN_MAX_FRAME);
  rtp_track_free(&t);
}

static void test_sprop(void) {
  rtp_track t;
  rtp_frame f;
  unsigned char b[32], want[64];
  const char *fmtp = "a=fmtp:96 packetization-mode=1; profile-level-id=640032; "
                     "sprop-parameter-sets=Z2QAMqzGuAoALWhAAAD6QAAnGgE=,aOqPLA==";
  size_t w;
  CHECK(rtp_base64_decode("aOqPLA==", 8, b, sizeof b) == 4 && memcmp(b, PPS, 4) == 0);
  CHECK(rtp_base64_decode("aOqPLA", 6, b, sizeof b) == 4);
  CHECK(rtp_base64_decode("aOqPLB==", 8, b, sizeof b) == -1);  /* stray bits */
  CHECK(rtp_base64_decode("aOq*LA==", 8, b, sizeof b) == -1);
  CHECK(rtp_base64_decode("aOqPL", 5, b, sizeof b) == -1);
  CHECK(rtp_base64_decode("a=qPLA==", 8, b, sizeof b) == -1);
  CHECK(rtp_base64_decode("aOqPLA==", 8, b, 3) == -1);
  CHECK(rtp_base64_decode("", 0, b, sizeof b) == 0);

  rtp_track_init(&t, RTP_H264, 90000);
  CHECK(rtp_track_fmtp(&t, fmtp, strlen(fmtp)) == 2);
  CHECK(t.ps_len[1] == 20 && t.ps[1][0] == 0x67 && t.ps_len[2] == 4);
  /* An IDR with no SPS/PPS in its unit gets them from the fmtp. */
  CHECK(push(&t, 1, 1, 0, IDR, sizeof IDR, &f) == RTP_FRAME && f.keyframe);
  w = 0;
  memcpy(want, "\0\0\0\1", 4), w = 4;
  memcpy(want + w, t.ps[1], 20), w += 20;
  memcpy(want + w, "\0\0\0\1", 4), w += 4;
  memcpy(want + w, PPS, 4), w += 4;
  memcpy(want + w, "\0\0\0\1", 4), w += 4;
  memcpy(want + w, IDR, sizeof IDR), w += sizeof IDR;
  CHECK(same(&f, want, w));
  /* A non-IDR unit gets nothing. */
  CHECK(push(&t, 1, 2, 3000, SLICE, sizeof SLICE, &f) == RTP_FRAME && f.len == 4 + sizeof SLICE);
  /* Names in any case, spaces; a malformed value is reported. */
  CHECK(rtp_track_fmtp(&t, " Sprop-Parameter-Sets = aOqPLA== , Z2QAMqzG ", 44) == 2);
  CHECK(rtp_track_fmtp(&t, "sprop-parameter-sets=aOqPLA==,@@@@", 34) == -2);
  CHECK(rtp_track_fmtp(&t, "profile-level-id=640032", 23) == 0);
  /* The document's example, its name broken across a line. */
  CHECK(rtp_track_fmtp(&t, "a=fmtp:96 packetization-mode=1; profile-level-id=640032;\n"
                           "sprop-parameter- sets=Z2QAMqzGuAoALWhAAAD6QAAnGgE=,aOqPLA==", 116) == 2);
  CHECK(rtp_track_fmtp(&t, "sprop-parameter-setsx=aOqPLA==", 30) == 0);
  rtp_track_free(&t);

  /* H.265: VPS, SPS, PPS, each checked for its type. */
  rtp_track_init(&t, RTP_H265, 90000);
  {
    const char *h = "96 sprop-vps=QAEMAf//; sprop-sps=QgEBAWA=; sprop-pps=RAHA";
    CHECK(rtp_track_fmtp(&t, h, strlen(h)) == 3);
    CHECK(t.ps_len[0] == 6 && t.ps[0][0] == 0x40 && t.ps_len[1] == 5 && t.ps[1][0] == 0x42);
    CHECK(t.ps_len[2] == 3 && t.ps[2][0] == 0x44);
    CHECK(rtp_track_fmtp(&t, "sprop-vps=RAHA", 14) == -1); /* a PPS where a VPS belongs */
  }
  rtp_track_free(&t);
}

static void test_h265(void) {
  rtp_track t;
  rtp_frame f;
  static const unsigned char VPS[] = {0x40, 0x01, 0x0c};
  static const unsigned char SPS5[] = {0x42, 0x01, 0x01, 0x01};
  static const unsigned char PPS5[] = {0x44, 0x01, 0xc0};
  unsigned char ap[64], fu[16], want[128];
  size_t n = 0, w = 0;
  rtp_track_init(&t, RTP_H265, 90000);
  /* AP (type 48) with VPS, SPS, PPS. */
  ap[n++] = 48 << 1, ap[n++] = 1;
  ap[n++] = 0, ap[n++] = sizeof VPS;
  memcpy(ap + n, VPS, sizeof VPS), n += sizeof VPS;
  ap[n++] = 0, ap[n++] = sizeof SPS5;
  memcpy(ap + n, SPS5, sizeof SPS5), n += sizeof SPS5;
  ap[n++] = 0, ap[n++] = sizeof PPS5;
  memcpy(ap + n, PPS5, sizeof PPS5), n += sizeof PPS5;
  CHECK(push(&t, 0, 1, 0, ap, n, &f) == RTP_NONE);
  /* FU (type 49) of an IDR_W_RADL (19): start and end. */
  fu[0] = 49 << 1, fu[1] = 1, fu[2] = 0x80 | 19, fu[3] = 0xaf, fu[4] = 0x01;
  CHECK(push(&t, 0, 2, 0, fu, 5, &f) == RTP_NONE);
  fu[2] = 0x40 | 19, fu[3] = 0x02;
  CHECK(push(&t, 1, 3, 0, fu, 4, &f) == RTP_FRAME && f.keyframe);
  memcpy(want + w, "\0\0\0\1", 4), w += 4;
  memcpy(want + w, VPS, sizeof VPS), w += sizeof VPS;
  memcpy(want + w, "\0\0\0\1", 4), w += 4;
  memcpy(want + w, SPS5, sizeof SPS5), w += sizeof SPS5;
  memcpy(want + w, "\0\0\0\1", 4), w += 4;
  memcpy(want + w, PPS5, sizeof PPS5), w += sizeof PPS5;
  memcpy(want + w, "\0\0\0\1\x26\x01\xaf\x01\x02", 9), w += 9;
  CHECK(same(&f, want, w));
  /* A CRA (21) alone as a single NAL: the sets are put before it. */
  CHECK(push(&t, 1, 4, 3000, "\x2a\x01\x99", 3, &f) == RTP_FRAME && f.keyframe);
  CHECK(f.len == w - 9 + 7 && memcmp(f.data + w - 9, "\0\0\0\1\x2a\x01\x99", 7) == 0);
  /* A trailing picture (1) is no keyframe and gets nothing. */
  CHECK(push(&t, 1, 5, 6000, "\x02\x01\x77", 3, &f) == RTP_FRAME && !f.keyframe && f.len == 7);
  /* PACI (50) is skipped; a one-byte payload is bad; an AP entry
   * running past the end is bad. */
  CHECK(push(&t, 1, 6, 9000, "\x64\x01\x00", 3, &f) == RTP_NONE && t.unsupported == 1);
  CHECK(push(&t, 1, 7, 9000, "\x02", 1, &f) == RTP_NONE && t.bad == 1);
  CHECK(push(&t, 1, 8, 9000, "\x60\x01\x00\x09\x02\x01", 6, &f) == RTP_NONE && t.bad == 2);
  rtp_track_free(&t);
}

static void test_g711(void) {
  rtp_track t;
  rtp_frame f;
  unsigned char pl[160];
  memset(pl, 0xd5, sizeof pl);
  rtp_track_init(&t, RTP_PCMA, 0);
  CHECK(t.clock == 8000);
  CHECK(push(&t, 1, 9, 1000, pl, sizeof pl, &f) == RTP_FRAME && f.len == 160 && f.data == P + 12);
  CHECK(f.keyframe && f.pts == 0.0);
  CHECK(push(&t, 0, 11, 1320, pl, sizeof pl, &f) == RTP_FRAME && f.lost == 1 && f.pts == 0.04);
  CHECK(push(&t, 0, 11, 1320, pl, sizeof pl, &f) == RTP_NONE && t.duplicates == 1);
  CHECK(push(&t, 0, 12, 1480, pl, 0, &f) == RTP_NONE);
  CHECK(rtp_track_flush(&t, &f) == RTP_NONE);
  rtp_track_free(&t);
}

static void test_talk(void) {
  rtp_talk k;
  unsigned char out[RTP_TALK_OVERHEAD + 160], pl[160];
  memset(&k, 0, sizeof k);
  memset(pl, 0xd5, sizeof pl);
  k.channel = 2;
  k.pt = 8;
  k.ssrc = 0xdeadbeef;
  k.seq = 65535;
  k.timestamp = 0xffffff60u;
  CHECK(rtp_talk_packet(&k, pl, 160, out) == 176);
  CHECK(out[0] == '$' && out[1] == 2 && out[2] == 0 && out[3] == 172);
  CHECK(out[4] == 0x80 && out[5] == (0x80 | 8));
  CHECK(out[6] == 0xff && out[7] == 0xff);
  CHECK(memcmp(out + 8, "\xff\xff\xff\x60\xde\xad\xbe\xef", 8) == 0);
  CHECK(out[16] == 0xd5 && out[175] == 0xd5);
  CHECK(rtp_talk_packet(&k, pl, 160, out) == 176);
  CHECK(out[5] == 8 && out[6] == 0 && out[7] == 0);          /* no marker; seq wrapped */
  CHECK(memcmp(out + 8, "\x00\x00\x00\x00", 4) == 0);         /* ts + 160, wrapped */
  CHECK(rtp_talk_packet(&k, pl, 80, out) == 96 && out[3] == 92);
  CHECK(k.seq == 2 && k.timestamp == 160 + 80 && k.packets == 3);
  CHECK(rtp_talk_packet(&k, pl, RTP_TALK_MAX_PAYLOAD + 1, out) == 0);
}

int main(void) {
  test_header();
  test_h264();
  test_sequence();
  test_timestamps();
  test_max_frame();
  test_sprop();
  test_h265();
  test_g711();
  test_talk();
  DONE("rtp");
}
