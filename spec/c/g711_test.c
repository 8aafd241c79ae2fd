/* g711_test.c: G.711 against code points of the standard's tables, and
 * every 16-bit sample through both laws within the quantization step. */
#include "check.h"
#include "g711.h"

#include <stdlib.h>

/* Half the interval of the code's segment, in 16-bit units. */
static int alaw_half_step(unsigned char code) {
  int seg = ((code ^ 0x55) >> 4) & 7;
  return seg == 0 ? 8 : 8 << (seg - 1);
}

static int ulaw_half_step(unsigned char code) {
  int seg = (((unsigned char)~code) >> 4) & 7;
  return 4 << seg;
}

int main(void) {
  int x;
  unsigned c;
  int16_t pcm[3] = {0, 1000, -1000};
  unsigned char codes[3];
  int16_t back[3];

  /* A-law (Table 1a): 0 is 0xD5 (positive, segment 0, interval 0, even
   * bits inverted), its negative twin 0x55; the ends of the range. */
  CHECK(g711_alaw_encode(0) == 0xD5);
  CHECK(g711_alaw_encode(-1) == 0x55);
  CHECK(g711_alaw_encode(32767) == 0xAA);
  CHECK(g711_alaw_encode(-32768) == 0x2A);
  CHECK(g711_alaw_decode(0xD5) == 8);
  CHECK(g711_alaw_decode(0x55) == -8);
  CHECK(g711_alaw_decode(0xAA) == 32256);
  CHECK(g711_alaw_decode(0x2A) == -32256);
  /* Segment 1 starts at 13-bit 32 (16-bit 256): interval 0 of segment 1. */
  CHECK(g711_alaw_encode(256) == ((0x80 | 0x10) ^ 0x55));
  CHECK(g711_alaw_decode((0x80 | 0x10) ^ 0x55) == 264);

  /* µ-law (Table 2a): 0 is 0xFF, -0 is 0x7F; full scale 0x80 / 0x00 are
   * ±32124; the first interval above 0 decodes to 2 (14-bit) = 8. */
  CHECK(g711_ulaw_encode(0) == 0xFF);
  CHECK(g711_ulaw_encode(-1) == 0x7F);
  CHECK(g711_ulaw_decode(0xFF) == 0);
  CHECK(g711_ulaw_decode(0x7F) == 0);
  CHECK(g711_ulaw_decode(0x80) == 32124);
  CHECK(g711_ulaw_decode(0x00) == -32124);
  CHECK(g711_ulaw_encode(32767) == 0x80);
  CHECK(g711_ulaw_encode(-32768) == 0x00);
  CHECK(g711_ulaw_decode(0xFE) == 8);
  CHECK(g711_ulaw_decode(0xEF) == 132); /* segment 1, interval 0: (33 << 1) - 33 = 33, x4 */

  /* Every sample: the round trip is within half a step of its segment
   * (µ-law: up to the clipping point 32,635; past it, off by the clip). */
  for (x = -32768; x <= 32767; x++) {
    unsigned char a = g711_alaw_encode((int16_t)x), u = g711_ulaw_encode((int16_t)x);
    int da = abs(g711_alaw_decode(a) - x), du = abs(g711_ulaw_decode(u) - x);
    CHECK(da <= alaw_half_step(a));
    if (abs(x) <= 32635) CHECK(du <= ulaw_half_step(u));
    else CHECK(du <= 32768 - 32124);
  }
  /* Every code decodes to a value that encodes back to it (except µ-law's
   * second zero, 0x7F, which reads as +0). */
  for (c = 0; c < 256; c++) {
    CHECK(g711_alaw_encode(g711_alaw_decode((unsigned char)c)) == c);
    if (c != 0x7F) CHECK(g711_ulaw_encode(g711_ulaw_decode((unsigned char)c)) == c);
  }
  /* Monotonic: a larger sample never gets a smaller decoded value. */
  for (x = -32768; x < 32767; x++) {
    CHECK(g711_alaw_decode(g711_alaw_encode((int16_t)x)) <= g711_alaw_decode(g711_alaw_encode((int16_t)(x + 1))));
    CHECK(g711_ulaw_decode(g711_ulaw_encode((int16_t)x)) <= g711_ulaw_decode(g711_ulaw_encode((int16_t)(x + 1))));
  }
  g711_encode(1, pcm, 3, codes);
  g711_decode(1, codes, 3, back);
  CHECK(codes[0] == 0xFF && back[0] == 0);
  CHECK(back[1] == -back[2] && abs(back[1] - 1000) <= 32);
  DONE("g711");
}
