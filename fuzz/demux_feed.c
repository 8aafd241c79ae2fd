/* fuzz/demux_feed.c: libFuzzer entry for demux.c, the reader of a stream
 * connection as the binding (lua_demux.c) runs it (make fuzz).
 *
 * The input, after its first byte, is a MULTITRANS byte stream: channel
 * 0 goes to an H.264 track, 1 to H.265, 2 to PCMA, 4 to PCMU, 3 is a data
 * track, the rest are stray. Every data item is also pushed by hand into
 * the H.265 track (demux_push), and every third message sets channel 0
 * up again, alternating H.264 and H.265, with the message's body as the
 * fmtp (peer bytes into the sprop reader). The stream is read twice: fed
 * in one piece (demux_feed), and received in chunks of a size taken from
 * the first byte (demux_room, demux_reserve, demux_commit), as recv()
 * does. The first byte also picks a small max_frame and small reader
 * limits. Both reads must give the same items (digests of every message,
 * data item and frame), the same counters and the same last result:
 * where the network cuts the stream never matters. The chunked read
 * also checks the bounds: after DEMUX_NONE there is room for more bytes
 * (else a connection would stall), and the buffer never grows past twice
 * what the limits let the demux hold. */
#include "demux.h"
#include "fnv.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
  uint32_t h;               /* digest of everything handed out, in order */
  unsigned long long items, messages;
  int rc;
} trace;

static void mix(trace *t, const void *p, size_t n, uint32_t tag) {
  t->h = fnv(fnv(t->h, &tag, sizeof tag), p, n);
  t->items++;
}

static void frame_out(trace *t, const demux_item *it) {
  const rtp_frame *f = &it->frame;
  mix(t, f->data, f->len, it->channel);
  mix(t, &f->seq, sizeof f->seq, (uint32_t)f->lost);
  mix(t, &f->unwrapped, sizeof f->unwrapped, (uint32_t)f->keyframe);
}

static void in_buffer(const demux *d, const void *p, size_t n) {
  const char *c = p;
  if (n && (c < d->buf || c + n > d->buf + d->len)) __builtin_trap();
}

static void setup(demux *d, size_t max_frame, size_t max_header, size_t max_body) {
  demux_init(d);
  d->max_frame = max_frame;
  d->r.max_header = max_header;
  d->r.max_body = max_body;
  if (!demux_track_set(d, 0, RTP_H264, 0, "s0", 2) || !demux_track_set(d, 1, RTP_H265, 0, NULL, 0) ||
      !demux_track_set(d, 2, RTP_PCMA, 0, "s2", 2) || !demux_track_set(d, 3, 0, 0, NULL, 0) ||
      !demux_track_set(d, 4, RTP_PCMU, 16000, NULL, 0))
    abort();
}

/* Items until none is complete; the last result. */
static int drain(demux *d, trace *t) {
  for (;;) {
    demux_item it;
    int rc = demux_next(d, &it);
    t->rc = rc;
    if (rc <= 0) return rc;
    if (rc == DEMUX_MESSAGE) {
      const sio_message *m = &it.msg;
      size_t i;
      in_buffer(d, m->body, m->body_len);
      mix(t, m->body, m->body_len, 1000u + (unsigned)m->status);
      for (i = 0; i < m->num_headers && i < SIO_MAX_HEADERS; i++) {
        in_buffer(d, m->headers[i].name, m->headers[i].name_len);
        mix(t, m->headers[i].value, m->headers[i].value_len, 7);
      }
      if (++t->messages % 3 == 0) {
        demux_track *tr = demux_track_set(d, 0, t->messages % 2 ? RTP_H265 : RTP_H264, 0, NULL, 0);
        int sets;
        if (!tr) abort();
        sets = demux_track_fmtp(tr, m->body ? m->body : "", m->body_len);
        mix(t, &sets, sizeof sets, 8);
      }
    } else if (rc == DEMUX_RAW) {
      int k;
      in_buffer(d, it.data, it.len);
      if (it.track != d->tracks[3] || it.channel != 3) __builtin_trap();
      mix(t, it.data, it.len, 3);
      /* By hand into the H.265 track: a frame it ends, then the packet. */
      for (k = 0; k < 2; k++) {
        demux_item one;
        int prc = demux_push(d, 1, it.data, it.len, &one);
        if (prc == RTP_NONE) break;
        frame_out(t, &one);
        if (prc == RTP_FRAME) break;
        if (k == 1) __builtin_trap(); /* a retried packet is always taken */
      }
    } else {
      if (it.track != d->tracks[it.channel]) __builtin_trap();
      frame_out(t, &it);
    }
  }
}

/* Flushes the tracks and checks their bounds; the counters into t. */
static void finish(demux *d, trace *t, size_t max_frame) {
  demux_counts c;
  unsigned j;
  for (j = 0; j < DEMUX_CHANNELS; j++) {
    demux_track *tr = d->tracks[j];
    demux_item it;
    if (!tr) continue;
    if (tr->t.cap > (max_frame < RTP_MIN_MAX_FRAME ? RTP_MIN_MAX_FRAME : max_frame)) __builtin_trap();
    if (t->rc >= 0 && rtp_track_flush(&tr->t, &it.frame) == RTP_FRAME) {
      it.channel = j;
      frame_out(t, &it);
    }
  }
  c = demux_track_counts(d);
  mix(t, &c, sizeof c, 9);
  mix(t, &d->stray, sizeof d->stray, 10);
  mix(t, &d->r.garbage, sizeof d->r.garbage, 11);
  mix(t, &d->data_items, sizeof d->data_items, 12);
  if (demux_buffered(d) > d->len) __builtin_trap();
  demux_free(d);
}

static void read_whole(const char *in, size_t len, size_t max_frame, size_t max_header, size_t max_body,
                       trace *t) {
  demux d;
  memset(t, 0, sizeof *t);
  setup(&d, max_frame, max_header, max_body);
  if (demux_feed(&d, in, len) != 0) abort();
  drain(&d, t);
  finish(&d, t, max_frame);
}

static void read_chunks(const char *in, size_t len, size_t chunk, size_t max_frame, size_t max_header,
                        size_t max_body, trace *t) {
  demux d;
  size_t from = 0, keep = max_header + max_body + DEMUX_FRAME_ROOM;
  memset(t, 0, sizeof *t);
  setup(&d, max_frame, max_header, max_body);
  while (from < len) {
    size_t room = demux_room(&d), n = len - from < chunk ? len - from : chunk;
    char *to;
    if (room == 0) __builtin_trap(); /* items read, none complete, no room: a stall */
    if (n > room) n = room;
    to = demux_reserve(&d, n);
    if (!to) abort();
    memcpy(to, in + from, n);
    demux_commit(&d, n);
    from += n;
    if (d.cap > (keep * 2 > 4096 ? keep * 2 : 4096)) __builtin_trap();
    if (drain(&d, t) < 0) break;
  }
  finish(&d, t, max_frame);
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
  read_whole((const char *)data, size, max_frame, max_header, max_body, &one);
  read_chunks((const char *)data, size, chunk, max_frame, max_header, max_body, &many);
  if (one.rc != many.rc || one.h != many.h || one.items != many.items) __builtin_trap();
  return 0;
}
