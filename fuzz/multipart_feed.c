/* fuzz/multipart_feed.c: libFuzzer entry for mp_feed (make fuzz).
 *
 * The input, after its first byte, is a push stream. It is read twice: in
 * one piece, and in chunks of a size taken from the first byte (which also
 * picks small limits, so that the too-big paths are reached). Both reads
 * must give the same parts and the same last result: where the network
 * cuts the stream must never matter. Every part byte is read, so ASan sees
 * a body pointer or length that strays, and the caller never has to keep
 * more than the limits allow. The input is also read as a Content-Type:
 * a boundary found there must be one the reader accepts. */
#include "fnv.h"
#include "multipart.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PARTS 64

typedef struct {
  int n, rc;
  uint32_t sum[MAX_PARTS]; /* a digest of each body, parts beyond MAX_PARTS counted only */
  size_t len[MAX_PARTS];
} trace;

static void read_stream(const char *in, size_t len, size_t chunk, size_t max_part, size_t max_header,
                        trace *t) {
  mp_reader r;
  char *hold = malloc(len + 1);
  size_t held = 0, from = 0, keep = (max_header < MP_MIN_MAX_HEADER ? MP_MIN_MAX_HEADER : max_header) +
                                    max_part + MP_MAX_BOUNDARY + 8;
  memset(t, 0, sizeof *t);
  if (!hold) abort();
  mp_init(&r, "--boundary--");
  r.max_part = max_part;
  r.max_header = max_header;
  while (from < len || len == 0) {
    size_t to = len - from > chunk ? from + chunk : len, off = 0;
    memcpy(hold + held, in + from, to - from);
    held += to - from;
    from = to;
    for (;;) {
      size_t used;
      mp_part p;
      int rc = mp_feed(&r, hold + off, held - off, &used, &p);
      t->rc = rc;
      if (rc < 0) goto out;
      if (used > held - off) __builtin_trap();
      if (rc == MP_PART) {
        if (p.body < hold + off || p.body + p.body_len > hold + off + used || p.body_len > max_part)
          __builtin_trap();
        if (p.content_type && (p.content_type < hold + off || p.content_type + p.content_type_len > hold + off + used))
          __builtin_trap();
        if (t->n < MAX_PARTS) {
          t->sum[t->n] = fnv(FNV_START, p.body, p.body_len);
          t->len[t->n] = p.body_len;
        }
        t->n++;
      }
      off += used;
      if (rc != MP_PART) break;
    }
    memmove(hold, hold + off, held - off);
    held -= off;
    if (held > keep) __builtin_trap();
    if (len == 0) break;
  }
out:
  (void)mp_strerror(t->rc);
  free(hold);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char b[MP_MAX_BOUNDARY + 1];
  trace one, many;
  size_t chunk, max_part, max_header;
  int i;
  if (size == 0) return 0;
  {
    /* A boundary found is one the reader takes (the binding relies on it:
     * the peer's Content-Type must never make core.multipart raise). */
    mp_reader r;
    int n = mp_boundary_from_content_type((const char *)data, size, b, sizeof b);
    if (n >= 0 && (!mp_boundary_ok(b, (size_t)n) || strlen(b) != (size_t)n || mp_init(&r, b) != 0))
      __builtin_trap();
    if (n < 0 && (n < -2 || b[0] != '\0')) __builtin_trap();
  }
  chunk = (size_t)(data[0] & 15) + 1;
  max_part = data[0] & 0x10 ? 40 : MP_DEFAULT_MAX_PART;
  max_header = data[0] & 0x20 ? 140 : MP_DEFAULT_MAX_HEADER;
  data++;
  size--;
  read_stream((const char *)data, size, size ? size : 1, max_part, max_header, &one);
  read_stream((const char *)data, size, chunk, max_part, max_header, &many);
  if (one.rc != many.rc || one.n != many.n) __builtin_trap();
  for (i = 0; i < one.n && i < MAX_PARTS; i++)
    if (one.sum[i] != many.sum[i] || one.len[i] != many.len[i]) __builtin_trap();
  return 0;
}
