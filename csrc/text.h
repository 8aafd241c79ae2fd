/* text.h: what the sans-IO readers need of the wire's text and bytes, in
 * one place: ASCII case folding and comparison, the two kinds of white
 * space the protocols use, big-endian numbers, hex digits.
 *
 * ASCII only, on purpose: the C library's tolower() and isspace() follow
 * the locale (and are undefined for negative chars), and a header name
 * or a keyword on the wire does not change with the user's language.
 * Plain C, no lua.h, no allocation; everything is static inline, so each
 * reader stays a file of its own for the tests and the fuzzers. */
#ifndef VIGI_TEXT_H
#define VIGI_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* c in lower case, when it is an ASCII capital letter. */
static inline int txt_lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* Whether a[0..n) and b[0..n) are the same text in any ASCII case. */
static inline int txt_ieq(const char *a, const char *b, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    if (txt_lower((unsigned char)a[i]) != txt_lower((unsigned char)b[i])) return 0;
  return 1;
}

/* Whether s[0..n) is the word w (a C string), in any ASCII case. */
static inline int txt_is_word(const char *s, size_t n, const char *w) {
  return strlen(w) == n && txt_ieq(s, w, n);
}

/* Space or tab: white space inside one line (RFC 5234's WSP), what
 * surrounds a header's value and separates the words of a start line. */
static inline int txt_is_wsp(int c) { return c == ' ' || c == '\t'; }

/* Space, tab, CR or LF: white space that may run across lines (RFC
 * 2616's LWS), inside a value a sender may fold: a Digest challenge's
 * parameter list, an SDP fmtp line that the document breaks in two. */
static inline int txt_is_lws(int c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* The value of hex digit c (either case), or -1. */
static inline int txt_hex_value(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = txt_lower(c);
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Whether c may be in an HTTP token (RFC 9110's tchar): a header's name,
 * a Transfer-Encoding or Connection keyword. */
static inline int txt_is_tchar(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Big-endian (network order) numbers at p. */
static inline uint16_t txt_be16(const unsigned char *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static inline uint32_t txt_be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void txt_put_be16(unsigned char *p, uint16_t v) {
  p[0] = (unsigned char)(v >> 8);
  p[1] = (unsigned char)v;
}

static inline void txt_put_be32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)(v >> 24);
  p[1] = (unsigned char)(v >> 16);
  p[2] = (unsigned char)(v >> 8);
  p[3] = (unsigned char)v;
}

/* in[0..n) as 2n hex digits, lower or upper case, and a NUL, into out
 * (2n + 1 bytes). */
static inline void txt_hex(const unsigned char *in, size_t n, int upper, char *out) {
  const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  size_t i;
  for (i = 0; i < n; i++) {
    out[2 * i] = digits[in[i] >> 4];
    out[2 * i + 1] = digits[in[i] & 15];
  }
  out[2 * n] = '\0';
}

#endif
