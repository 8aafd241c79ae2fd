/* fnv.h: FNV-1a, the digest the fuzz targets compare a whole read and a
 * chunked read with (any stable hash would do; this one is four lines). */
#ifndef VIGI_FUZZ_FNV_H
#define VIGI_FUZZ_FNV_H

#include <stddef.h>
#include <stdint.h>

#define FNV_START 2166136261u

static inline uint32_t fnv(uint32_t h, const void *p, size_t n) {
  const uint8_t *b = p;
  size_t i;
  for (i = 0; i < n; i++) h = (h ^ b[i]) * 16777619u;
  return h;
}

#endif
