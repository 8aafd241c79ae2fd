/* fuzz/httpresp_feed.c: libFuzzer entry for the HTTP/1.1 answer reader
 * (httpresp.c) as the binding (lua_httpresp.c) runs it (make fuzz).
 *
 * The input, after its first byte, is what a peer sends. It is read
 * twice: fed in one piece, and in chunks of a size taken from the first
 * byte (which also picks small limits, so that the too-big paths are
 * reached, and whether the peer closes at the end). Both reads must give
 * the same head, body, trailers and last result: where the network cuts
 * the stream must never matter. Every body byte is read where it lies, so
 * ASan sees a pointer that strays; the reader must never keep more than
 * its limits allow. */
#include "fnv.h"
#include "httpresp.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
  int rc, status;
  unsigned interim;
  unsigned long long body;
  uint32_t sum; /* of the body, the headers and the trailers */
} trace;

static uint32_t fields(const hr_reader *r, int trailers, uint32_t h) {
  const char *name, *value;
  size_t nlen, vlen, pos = 0, reason_len;
  const char *reason = hr_reason(r, &reason_len);
  if (!trailers) h = fnv(h, reason, reason_len);
  while (trailers ? hr_trailer(r, &pos, &name, &nlen, &value, &vlen)
                  : hr_header(r, &pos, &name, &nlen, &value, &vlen)) {
    if (nlen == 0) __builtin_trap();
    h = fnv(h, name, nlen);
    h = fnv(h, value, vlen);
  }
  return h;
}

static void read_answer(const char *in, size_t len, size_t chunk, int small, int eof, trace *t) {
  hr_reader r;
  size_t from = 0;
  int rc = HR_NEED_MORE;
  memset(t, 0, sizeof *t);
  t->sum = FNV_START;
  hr_init(&r);
  if (small) {
    r.max_head = 200;
    r.max_trailer = 100;
    r.max_interim = 2;
    r.max_chunk_line = 12;
    r.max_body = 300;
  }
  while (from < len && rc >= 0 && rc != HR_END) {
    size_t n = len - from < chunk ? len - from : chunk, at = 0;
    char *piece = malloc(n);
    if (!piece) abort();
    memcpy(piece, in + from, n);
    while (1) {
      size_t used, dn;
      const char *d;
      rc = hr_feed(&r, piece + at, n - at, &used, &d, &dn);
      if (used > n - at) __builtin_trap();
      at += used;
      if (rc == HR_BODY) {
        if (dn && (d < piece || d + dn > piece + n)) __builtin_trap();
        t->sum = fnv(t->sum, d, dn);
        t->body += dn;
      } else if (rc == HR_HEAD) {
        t->sum = fields(&r, 0, t->sum);
      } else break;
    }
    if (rc == HR_NEED_MORE && at != n) __builtin_trap();
    from += rc == HR_END ? at : n;
    free(piece);
  }
  if (eof && rc >= 0 && rc != HR_END) rc = hr_eof(&r);
  if (rc == HR_END) t->sum = fields(&r, 1, t->sum);
  if (rc == HR_ENOMEM) abort();
  if (rc < 0 && !r.why) __builtin_trap();
  if (hr_buffered(&r) > r.max_head + r.max_trailer) __builtin_trap();
  if (r.max_body && r.body_bytes > r.max_body) __builtin_trap();
  t->rc = rc;
  t->status = r.status;
  t->interim = r.interim;
  (void)hr_strerror(rc);
  hr_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  trace one, many;
  size_t chunk;
  int small, eof;
  if (size == 0) return 0;
  chunk = (size_t)(data[0] & 15) + 1;
  small = (data[0] & 0x10) != 0;
  eof = (data[0] & 0x20) != 0;
  data++;
  size--;
  read_answer((const char *)data, size, size ? size : 1, small, eof, &one);
  read_answer((const char *)data, size, chunk, small, eof, &many);
  if (one.rc != many.rc || one.status != many.status || one.interim != many.interim || one.body != many.body ||
      one.sum != many.sum)
    __builtin_trap();
  return 0;
}
