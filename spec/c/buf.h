/* buf.h: a growing byte string for the C tests that build their input
 * streams piece by piece (always NUL-terminated, for printing). */
#ifndef VIGI_TEST_BUF_H
#define VIGI_TEST_BUF_H

#include "check.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
  char *s;
  size_t len, cap;
} buf;

static void add(buf *b, const void *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    b->cap = (b->len + n + 1) * 2;
    b->s = realloc(b->s, b->cap);
    CHECK(b->s != NULL);
  }
  if (n) memcpy(b->s + b->len, s, n);
  b->len += n;
  b->s[b->len] = '\0';
}

static void adds(buf *b, const char *s) { add(b, s, strlen(s)); }

#endif
