/* fuzz/demux_feed.c: libFuzzer entry for the stream reader and the
 * depacketizer together, as lua_demux.c drives them (make fuzz).
 *
 * The input, after its first byte, is a MULTITRANS byte stream: channel
 * 0 goes to an H.264 track, 1 to H.265, 2 to PCMA, 3 is raw data, the
 * rest are stray. It is read twice, in one piece and in chunks of a size
 * taken from the first byte (which also picks a small max_frame and small
 * reader limits). Both reads must give the same items (digests of every
 * message body, data frame and access unit), the same counters and the
 * same last result: where the network cuts the stream never matters. */
#include "fnv.h"
#include "rtp.h"
#include "streamio.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
  uint32_t h;               /* digest of everything handed out, in order */
  unsigned long long items, stray, lost, dups, bad, oversized;
  int rc;
} trace;

static void mix(trace *t, const void *p, size_t n, uint32_t tag) {
  t->h = fnv(fnv(t->h, &tag, sizeof tag), p, n);
  t->items++;
}

static void frame_out(trace *t, const rtp_frame *f, unsigned ch) {
  mix(t, f->data, f->len, ch);
  mix(t, &f->seq, sizeof f->seq, (uint32_t)f->lost);
  mix(t, &f->unwrapped, sizeof f->unwrapped, (uint32_t)f->keyframe);
}

static void read_stream(const char *in, size_t len, size_t chunk, size_t max_frame, size_t max_header,
                        size_t max_body, trace *t) {
  sio_reader r;
  rtp_track tr[3];
  char *hold = malloc(len + 1);
  size_t held = 0, from = 0, keep = max_header + max_body + 65539;
  int j;
  if (!hold) abort();
  memset(t, 0, sizeof *t);
  sio_init(&r);
  r.max_header = max_header;
  r.max_body = max_body;
  rtp_track_init(&tr[0], RTP_H264, 0);
  rtp_track_init(&tr[1], RTP_H265, 0);
  rtp_track_init(&tr[2], RTP_PCMA, 0);
  for (j = 0; j < 3; j++) tr[j].max_frame = max_frame;
  while (from < len) {
    size_t to = len - from > chunk ? from + chunk : len, off = 0;
    memcpy(hold + held, in + from, to - from);
    held += to - from;
    from = to;
    for (;;) {
      size_t used;
      sio_message m;
      sio_frame fr;
      rtp_frame f;
      int rc = sio_feed(&r, hold + off, held - off, &used, &m, &fr);
      t->rc = rc;
      if (rc < 0) goto out;
      if (used > held - off) __builtin_trap();
      off += used;
      if (rc == SIO_NEED_MORE) break;
      if (rc == SIO_MESSAGE) {
        mix(t, m.body, m.body_len, 1000u + (unsigned)m.status);
        continue;
      }
      if (fr.data < (const unsigned char *)hold || fr.data + fr.len > (const unsigned char *)hold + off)
        __builtin_trap();
      if (fr.channel == 3) {
        mix(t, fr.data, fr.len, 3);
      } else if (fr.channel < 3) {
        rtp_track *k = &tr[fr.channel];
        rc = rtp_track_push(k, fr.data, fr.len, &f);
        if (rc != RTP_NONE) frame_out(t, &f, fr.channel);
        if (rc == RTP_FRAME_RETRY) {
          rc = rtp_track_push(k, fr.data, fr.len, &f);
          if (rc == RTP_FRAME_RETRY) __builtin_trap();
          if (rc == RTP_FRAME) frame_out(t, &f, fr.channel);
        }
      } else {
        t->stray++;
      }
    }
    memmove(hold, hold + off, held - off);
    held -= off;
    if (held > keep) __builtin_trap();
  }
out:
  for (j = 0; j < 3; j++) {
    rtp_frame f;
    if (t->rc >= 0 && rtp_track_flush(&tr[j], &f) == RTP_FRAME) frame_out(t, &f, (unsigned)j);
    t->lost += tr[j].lost;
    t->dups += tr[j].duplicates;
    t->bad += tr[j].bad;
    t->oversized += tr[j].oversized;
    if (tr[j].cap > (max_frame < RTP_MIN_MAX_FRAME ? RTP_MIN_MAX_FRAME : max_frame)) __builtin_trap();
    rtp_track_free(&tr[j]);
  }
  t->stray += r.garbage << 20;
  free(hold);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  trace one, many;
  size_t chunk, max_frame, max_header, max_body;
  if (size == 0) return 0;
  chunk = (size_t)(data[0] & 15) + 1;
  max_frame = data[0] & 0x10 ? 64 : RTP_DEFAULT_MAX_FRAME;
  max_header = data[0] & 0x20 ? 200 : SIO_DEFAULT_MAX_HEADER;
  max_body = data[0] & 0x40 ? 50 : SIO_DEFAULT_MAX_BODY;
  data++;
  size--;
  read_stream((const char *)data, size, size ? size : 1, max_frame, max_header, max_body, &one);
  read_stream((const char *)data, size, chunk, max_frame, max_header, max_body, &many);
  if (one.rc != many.rc || one.h != many.h || one.items != many.items || one.stray != many.stray ||
      one.lost != many.lost || one.dups != many.dups || one.bad != many.bad || one.oversized != many.oversized)
    __builtin_trap();
  return 0;
}
