/* fuzz/multipart_feed.c: libFuzzer entry for the multipart reader as the
 * binding (lua_multipart.c) runs it: an mp_stream, which keeps the bytes
 * of an incomplete part itself (make fuzz).
 *
 * The input, after its first byte, is a push stream. It is read twice: fed
 * in one piece, and fed in chunks of a size taken from the first byte
 * (which also picks small limits, so that the too-big paths are reached).
 * Both reads must give the same parts and the same last result: where the
 * network cuts the stream must never matter. Every part byte is read, so
 * ASan sees a body pointer or length that strays; the stream must never
 * have had to hold more than the limits allow (its guard would say so).
 * The input is also read as a Content-Type: a boundary found there must be
 * one the reader accepts. */
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

static int within(const char *p, size_t n, const char *base, size_t len) {
  return n == 0 || (p >= base && p + n <= base + len);
}

static void read_stream(const char *in, size_t len, size_t chunk, size_t max_part, size_t max_header,
                        trace *t) {
  mp_stream s;
  size_t from = 0;
  memset(t, 0, sizeof *t);
  mp_stream_init(&s, "--boundary--");
  s.r.max_part = max_part;
  s.r.max_header = max_header;
  do {
    size_t n = len - from < chunk ? len - from : chunk;
    mp_part p;
    int rc;
    /* The binding's steps: what the socket gave, in a buffer of its own. */
    char *piece = malloc(n + 1);
    if (!piece) abort();
    memcpy(piece, in + from, n);
    from += n;
    rc = mp_stream_feed(&s, piece, n);
    if (rc == MP_ENOMEM) abort();
    while (rc >= 0 && (rc = mp_stream_next(&s, &p)) == MP_PART) {
      if (!within(p.body, p.body_len, piece, n) && !within(p.body, p.body_len, s.buf, s.len)) __builtin_trap();
      if (p.body_len > max_part) __builtin_trap();
      if (p.content_type && !within(p.content_type, p.content_type_len, piece, n) &&
          !within(p.content_type, p.content_type_len, s.buf, s.len))
        __builtin_trap();
      if (t->n < MAX_PARTS) {
        t->sum[t->n] = fnv(FNV_START, p.body, p.body_len);
        t->len[t->n] = p.body_len;
      }
      t->n++;
    }
    free(piece);
    if (rc == MP_ENOMEM) abort();
    t->rc = rc;
    if (s.r.why && strcmp(s.r.why, "more held than the limits allow") == 0) __builtin_trap();
    if (mp_stream_buffered(&s) > s.cap) __builtin_trap();
    if (rc < 0) break;
  } while (from < len);
  (void)mp_strerror(t->rc);
  mp_stream_free(&s);
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
