/* crc32_test.c: crc32_ieee against the standard check value, against the
 * bit-by-bit definition (which also checks the written-out table), and
 * fed in pieces. */
#include "check.h"
#include "crc32.h"

#include <string.h>

/* The definition, one bit at a time: no table to get wrong. */
static uint32_t crc_bitwise(const uint8_t *p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  int k;
  while (n--) {
    c ^= *p++;
    for (k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
  }
  return ~c;
}

int main(void) {
  uint8_t buf[1024];
  size_t i, cut;
  uint32_t seed = 12345;

  /* The catalogue check value of CRC-32 (zlib.crc32(b"123456789")). */
  CHECK(crc32_ieee(0, "123456789", 9) == 0xCBF43926u);
  CHECK(crc32_ieee(0, NULL, 0) == 0);
  CHECK(crc32_ieee(0, "a", 1) == 0xE8B7BE43u); /* zlib.crc32(b"a") */

  for (i = 0; i < sizeof buf; i++) {
    seed = seed * 1103515245u + 12345u; /* any bytes will do; fixed for repeatability */
    buf[i] = (uint8_t)(seed >> 16);
  }
  /* Every single byte value (exercises each table entry). */
  for (i = 0; i < 256; i++) {
    uint8_t b = (uint8_t)i;
    CHECK(crc32_ieee(0, &b, 1) == crc_bitwise(&b, 1));
  }
  for (i = 0; i <= sizeof buf; i += 97) CHECK(crc32_ieee(0, buf, i) == crc_bitwise(buf, i));
  /* In two pieces, cut anywhere, gives the same as in one. */
  for (cut = 0; cut <= 64; cut++)
    CHECK(crc32_ieee(crc32_ieee(0, buf, cut), buf + cut, 64 - cut) == crc_bitwise(buf, 64));
  DONE("crc32_test");
}
