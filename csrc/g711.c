/* g711.c: G.711 companding (contracts in g711.h), written from the
 * segment tables of the standard (Tables 1a and 2a) rather than from the
 * bit tricks of reference code, so that every step can be checked
 * against them.
 *
 * A-law works on 13-bit linear values: magnitude 0..4095 in 8 segments;
 * segment 0 and 1 have steps of 2, each later segment doubles the step,
 * and 16 intervals fill every segment. The code is sign (1 = positive),
 * segment (3 bits), interval (4 bits), with the even bits inverted (XOR
 * 0x55) for the line.
 *
 * µ-law works on 14-bit linear values with a bias of 33: magnitude + 33
 * is a number from 33 to 8191 whose leading bit gives the segment
 * (32 << s .. 64 << s) and whose next four bits the interval. The code is
 * sign (1 = negative), segment and interval, all inverted. */
#include "g711.h"

/* Segment of a 13-bit A-law magnitude: 0 below 32, else the position of
 * its leading bit minus 4. */
static int alaw_segment(unsigned mag) {
  int s = 0;
  if (mag < 32) return 0;
  while ((mag >> (s + 5)) != 0) s++;
  return s;
}

unsigned char g711_alaw_encode(int16_t pcm) {
  /* A negative sample's magnitude is its one's complement: the negative
   * decision values of Table 1a mirror the positive ones around -1/2 of
   * a 13-bit step, which is what ~x >> 3 gives, and it never overflows. */
  int x = pcm;
  unsigned sign = x >= 0 ? 0x80u : 0u;
  unsigned mag = (unsigned)(x >= 0 ? x : ~x) >> 3; /* 0..4095 */
  int seg = alaw_segment(mag);
  unsigned interval = seg == 0 ? (mag >> 1) & 15u : (mag >> seg) & 15u;
  return (unsigned char)((sign | (unsigned)seg << 4 | interval) ^ 0x55u);
}

int16_t g711_alaw_decode(unsigned char code) {
  unsigned c = code ^ 0x55u;
  unsigned seg = (c >> 4) & 7u, interval = c & 15u;
  /* The middle of the interval, in 13-bit units times two so that it is
   * a whole number: segment 0 spans 2*i..2*i+2, segment s spans
   * (32 + 2*i) << (s-1) with a step of 2 << (s-1). */
  unsigned mid = seg == 0 ? 2 * interval + 1 : (2 * interval + 33) << (seg - 1);
  int v = (int)(mid << 3);
  return (int16_t)(c & 0x80u ? v : -v);
}

#define ULAW_BIAS 33
#define ULAW_CLIP 8158 /* largest magnitude: 8158 + 33 = 8191 */

unsigned char g711_ulaw_encode(int16_t pcm) {
  int x = pcm;
  unsigned sign = x < 0 ? 0x80u : 0u;
  unsigned mag = (unsigned)(x < 0 ? -x : x) >> 2; /* 14-bit: 0..8192 */
  unsigned biased;
  int seg = 0;
  if (mag > ULAW_CLIP) mag = ULAW_CLIP;
  biased = mag + ULAW_BIAS;
  while ((biased >> (seg + 6)) != 0) seg++;
  return (unsigned char)~(sign | (unsigned)seg << 4 | ((biased >> (seg + 1)) & 15u));
}

int16_t g711_ulaw_decode(unsigned char code) {
  unsigned c = (unsigned char)~code;
  unsigned seg = (c >> 4) & 7u, interval = c & 15u;
  /* Middle of the interval: biased (33 + 2*i) << s, unbiased. */
  int v = (int)(((2 * interval + ULAW_BIAS) << seg) - ULAW_BIAS) << 2;
  return (int16_t)(c & 0x80u ? -v : v);
}

void g711_encode(int ulaw, const int16_t *pcm, size_t n, unsigned char *out) {
  size_t i;
  for (i = 0; i < n; i++) out[i] = ulaw ? g711_ulaw_encode(pcm[i]) : g711_alaw_encode(pcm[i]);
}

void g711_decode(int ulaw, const unsigned char *in, size_t n, int16_t *pcm) {
  size_t i;
  for (i = 0; i < n; i++) pcm[i] = ulaw ? g711_ulaw_decode(in[i]) : g711_alaw_decode(in[i]);
}
