/* fuzz/rtp_depack.c: libFuzzer entry for rtp_parse and the depacketizer
 * (make fuzz).
 *
 * The input is a list of packets, each a 2-byte big-endian length and
 * that many bytes (the last one takes what is left). Its first byte picks
 * a small or the default max_frame; the first packet is also read as an
 * fmtp line. Every packet goes to an H.264, an H.265 and a PCMA track.
 * Every byte of every frame is read (ASan sees a stray pointer or
 * length), no frame and no buffer ever exceeds max_frame, and a packet a
 * track asks for again is taken the second time. */
#include "rtp.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint32_t sink;

static void touch(const rtp_track *t, const rtp_frame *f) {
  uint32_t h = 0;
  size_t i;
  if (t->codec == RTP_H264 || t->codec == RTP_H265) {
    size_t lim = t->max_frame < RTP_MIN_MAX_FRAME ? RTP_MIN_MAX_FRAME : t->max_frame;
    if (f->len > lim || t->cap > lim || t->peak > lim) __builtin_trap();
    /* Every unit starts with a start code. */
    if (f->len < 5 || memcmp(f->data, "\0\0\0\1", 4) != 0) __builtin_trap();
  }
  for (i = 0; i < f->len; i++) h = h * 31 + f->data[i];
  if (!(f->pts > -1e12 && f->pts < 1e12)) __builtin_trap(); /* finite, as the clock is > 0 */
  sink = h + (uint32_t)f->lost + (uint32_t)f->seq + (f->pts < 0);
}

static void feed(rtp_track *t, const uint8_t *p, size_t n) {
  rtp_frame f;
  int rc = rtp_track_push(t, p, n, &f);
  if (rc != RTP_NONE) touch(t, &f);
  if (rc == RTP_FRAME_RETRY) {
    rc = rtp_track_push(t, p, n, &f);
    if (rc == RTP_FRAME_RETRY) __builtin_trap();
    if (rc == RTP_FRAME) touch(t, &f);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  rtp_track tr[3];
  rtp_frame f;
  rtp_packet k;
  size_t i = 1;
  int first = 1, j;
  if (size == 0) return 0;
  rtp_track_init(&tr[0], RTP_H264, 0);
  rtp_track_init(&tr[1], RTP_H265, 0);
  rtp_track_init(&tr[2], RTP_PCMA, 0);
  for (j = 0; j < 3; j++) tr[j].max_frame = data[0] & 1 ? 64 : data[0] & 2 ? 8192 : RTP_DEFAULT_MAX_FRAME;
  while (i < size) {
    size_t n = size - i;
    if (n >= 2) {
      size_t want = (size_t)data[i] << 8 | data[i + 1];
      i += 2;
      n = want < size - i ? want : size - i;
    } else {
      i = size;
      break;
    }
    /* A copy of exactly n bytes, so that ASan sees any read past it. */
    {
      uint8_t *p = malloc(n ? n : 1);
      if (!p) abort();
      memcpy(p, data + i, n);
      if (first) {
        (void)rtp_track_fmtp(&tr[0], (const char *)p, n);
        (void)rtp_track_fmtp(&tr[1], (const char *)p, n);
        first = 0;
      }
      if (rtp_parse(p, n, &k) == RTP_OK && (k.payload < p || k.payload + k.payload_len > p + n))
        __builtin_trap();
      (void)rtp_strerror(rtp_parse(p, n, &k));
      for (j = 0; j < 3; j++) feed(&tr[j], p, n);
      free(p);
    }
    i += n;
  }
  for (j = 0; j < 3; j++) {
    if (rtp_track_flush(&tr[j], &f) == RTP_FRAME) touch(&tr[j], &f);
    rtp_track_free(&tr[j]);
  }
  return 0;
}
