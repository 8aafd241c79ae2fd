/* check.h: the whole "framework" of the C unit tests. CHECK stops the
 * program at the first failure with its place and condition; DONE prints
 * one summary line. Deliberately tiny: a test is a main() with checks. */
#ifndef VIGI_CHECK_H
#define VIGI_CHECK_H

#include <stdio.h>
#include <stdlib.h>

static int checks_run;

#define CHECK(cond)                                                    \
  do {                                                                 \
    checks_run++;                                                      \
    if (!(cond)) {                                                     \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
              #cond);                                                  \
      exit(1);                                                         \
    }                                                                  \
  } while (0)

#define DONE(name)                                     \
  do {                                                 \
    printf("%s: %d checks passed\n", name, checks_run); \
    return 0;                                          \
  } while (0)

#endif
