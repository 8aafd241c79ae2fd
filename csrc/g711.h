/* g711.h: ITU-T G.711 A-law and µ-law companding, 16-bit linear PCM to
 * 8-bit codes and back, for the talk channel (PCMA/PCMU) and for decoding
 * the camera's audio.
 *
 * Encoding keeps the top 13 (A-law) or 14 (µ-law) bits of the sample, as
 * the standard's linear ranges are that wide; decoding gives the middle
 * of the code's interval, scaled back to 16 bits. So a round trip is off
 * by at most half the interval of the segment (8 << segment for A-law,
 * 4 << segment for µ-law, in 16-bit units) apart from µ-law's clipping
 * above 32,635. Plain C, no state, no allocation. */
#ifndef VIGI_G711_H
#define VIGI_G711_H

#include <stddef.h>
#include <stdint.h>

unsigned char g711_alaw_encode(int16_t pcm);
int16_t g711_alaw_decode(unsigned char code);
unsigned char g711_ulaw_encode(int16_t pcm);
int16_t g711_ulaw_decode(unsigned char code);

/* Whole buffers: n samples in, n codes out (and back). */
void g711_encode(int ulaw, const int16_t *pcm, size_t n, unsigned char *out);
void g711_decode(int ulaw, const unsigned char *in, size_t n, int16_t *pcm);

#endif
