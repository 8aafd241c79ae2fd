/* fuzz/streamio_feed.c: libFuzzer entry for sio_feed (make fuzz).
 *
 * The input, after its first byte, is a MULTITRANS byte stream. It is read
 * twice: in one piece, and in chunks of a size taken from the first byte
 * (which also picks small limits, so that the too-big paths are reached).
 * Both reads must give the same items, the same garbage count and the same
 * last result: where the network cuts the stream must never matter. Every
 * byte of every item (start line, headers, body, frame) is read and must
 * lie inside what the call consumed, so ASan sees a pointer or length that
 * strays; and the caller never has to keep more than the limits allow. */
#include "fnv.h"
#include "streamio.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ITEMS 64

typedef struct {
  int n, rc;
  unsigned long long garbage;
  uint32_t sum[MAX_ITEMS]; /* a digest of each item, items beyond MAX_ITEMS counted only */
} trace;

static uint32_t mix(uint32_t h, const void *p, size_t n) { return fnv(h, p, n); }
static uint32_t mix_n(uint32_t h, size_t v) { return fnv(h, &v, sizeof v); }

/* p[0..n) lies within [lo, hi). */
static void inside(const char *lo, const char *hi, const char *p, size_t n) {
  if (n == 0 && !p) return;
  if (!p || p < lo || p > hi || n > (size_t)(hi - p)) __builtin_trap();
}

static uint32_t message_sum(const sio_message *m, const char *lo, const char *hi) {
  uint32_t h = mix_n(FNV_START, 1);
  size_t i;
  h = mix_n(h, (size_t)m->is_response);
  if (m->is_response) {
    if (m->status < 100 || m->status > 999) __builtin_trap();
    h = mix_n(h, (size_t)m->status);
    inside(lo, hi, m->reason, m->reason_len);
    h = mix(h, m->reason, m->reason_len);
  } else {
    inside(lo, hi, m->method, m->method_len);
    inside(lo, hi, m->uri, m->uri_len);
    if (m->method_len < 1 || m->method_len > 32 || m->uri_len < 1) __builtin_trap();
    h = mix(h, m->method, m->method_len);
    h = mix(h, m->uri, m->uri_len);
  }
  if (m->num_headers > SIO_MAX_HEADERS) __builtin_trap();
  for (i = 0; i < m->num_headers; i++) {
    const sio_header *x = &m->headers[i];
    inside(lo, hi, x->name, x->name_len);
    inside(lo, hi, x->value, x->value_len);
    if (x->name_len == 0) __builtin_trap();
    h = mix(h, x->name, x->name_len);
    h = mix_n(h, x->value_len);
    h = mix(h, x->value, x->value_len);
  }
  inside(lo, hi, m->body, m->body_len);
  h = mix_n(h, m->body_len);
  return mix(h, m->body, m->body_len);
}

static void read_stream(const char *in, size_t len, size_t chunk, const sio_reader *lim, trace *t) {
  sio_reader r;
  char *hold = malloc(len + 1);
  size_t held = 0, from = 0, keep;
  memset(t, 0, sizeof *t);
  if (!hold) abort();
  sio_init(&r);
  r.max_header = lim->max_header;
  r.max_body = lim->max_body;
  r.max_frame = lim->max_frame;
  /* What may stay unconsumed: a message's head and body, a frame, or the
   * beginning of a request line. */
  keep = r.max_header + r.max_body;
  if (keep < 4 + r.max_frame) keep = 4 + r.max_frame;
  if (keep < 42) keep = 42;
  while (from < len || len == 0) {
    size_t to = len - from > chunk ? from + chunk : len, off = 0;
    memcpy(hold + held, in + from, to - from);
    held += to - from;
    from = to;
    for (;;) {
      size_t used;
      sio_message m;
      sio_frame f;
      uint32_t sum = 0;
      int rc = sio_feed(&r, hold + off, held - off, &used, &m, &f);
      t->rc = rc;
      if (rc < 0) {
        if (used != 0 || !r.why) __builtin_trap();
        goto out;
      }
      if (used > held - off) __builtin_trap();
      if (rc == SIO_MESSAGE) {
        sum = message_sum(&m, hold + off, hold + off + used);
        if (m.body_len > r.max_body) __builtin_trap();
      } else if (rc == SIO_FRAME) {
        inside(hold + off, hold + off + used, (const char *)f.data, f.len);
        if (f.channel > 255 || f.len > r.max_frame) __builtin_trap();
        sum = mix(mix_n(mix_n(FNV_START, 2), f.channel), f.data, f.len);
      }
      if (rc != SIO_NEED_MORE) {
        if (t->n < MAX_ITEMS) t->sum[t->n] = sum;
        t->n++;
      }
      off += used;
      if (rc == SIO_NEED_MORE) break;
    }
    memmove(hold, hold + off, held - off);
    held -= off;
    if (held > keep) __builtin_trap();
    if (len == 0) break;
  }
out:
  t->garbage = r.garbage;
  (void)sio_strerror(t->rc);
  free(hold);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sio_reader lim;
  trace one, many;
  size_t chunk;
  int i;
  if (size == 0) return 0;
  sio_init(&lim);
  chunk = (size_t)(data[0] & 15) + 1;
  if (data[0] & 0x10) lim.max_body = 40;
  if (data[0] & 0x20) lim.max_header = 60;
  if (data[0] & 0x40) lim.max_frame = 20;
  if (data[0] & 0x80) lim.max_header = 7; /* less than a start line's beginning */
  data++;
  size--;
  read_stream((const char *)data, size, size ? size : 1, &lim, &one);
  read_stream((const char *)data, size, chunk, &lim, &many);
  if (one.rc != many.rc || one.n != many.n || one.garbage != many.garbage) __builtin_trap();
  for (i = 0; i < one.n && i < MAX_ITEMS; i++)
    if (one.sum[i] != many.sum[i]) __builtin_trap();
  return 0;
}
