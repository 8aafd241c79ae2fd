/* text_test.c: text.h, the readers' text and bytes, against every byte
 * value: ASCII case folding only (no locale, no byte above 127 folded),
 * the two kinds of white space, big-endian numbers both ways, hex. */
#include "check.h"
#include "text.h"

#include <string.h>

static void test_case(void) {
  int c;
  for (c = 0; c < 256; c++) {
    int want = c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
    CHECK(txt_lower(c) == want);
  }
  CHECK(txt_ieq("Content-LENGTH", "content-length", 14));
  CHECK(txt_ieq("abc", "ABD", 2) && !txt_ieq("abc", "ABD", 3));
  CHECK(!txt_ieq("\xc4", "\xe4", 1)); /* Latin-1 letters are not ASCII */
  CHECK(txt_ieq("x", "y", 0));
  CHECK(txt_is_word("MD5-sess", 8, "md5-sess"));
  CHECK(!txt_is_word("MD5-sess", 3, "md5-sess") && !txt_is_word("MD5", 3, "md5-sess"));
  CHECK(txt_is_word("", 0, ""));
}

static void test_space(void) {
  int c;
  for (c = -128; c < 256; c++) {
    CHECK(txt_is_wsp(c) == (c == ' ' || c == '\t'));
    CHECK(txt_is_lws(c) == (c == ' ' || c == '\t' || c == '\r' || c == '\n'));
  }
}

static void test_numbers(void) {
  static const unsigned char in[] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
  unsigned char out[4];
  char hex[17];
  CHECK(txt_be16(in) == 0x0123 && txt_be16(in + 6) == 0xcdef);
  CHECK(txt_be32(in) == 0x01234567u && txt_be32(in + 4) == 0x89abcdefu);
  txt_put_be16(out, 0xfe01);
  CHECK(out[0] == 0xfe && out[1] == 0x01);
  txt_put_be32(out, 0x89abcdefu);
  CHECK(memcmp(out, in + 4, 4) == 0);
  txt_hex(in, sizeof in, 0, hex);
  CHECK(strcmp(hex, "0123456789abcdef") == 0);
  txt_hex(in, sizeof in, 1, hex);
  CHECK(strcmp(hex, "0123456789ABCDEF") == 0);
  txt_hex(in, 0, 0, hex);
  CHECK(hex[0] == '\0');
}

/* Hex digit values, and the characters of an HTTP token, for every byte. */
static void test_hex_and_tokens(void) {
  int c;
  for (c = 0; c < 256; c++) {
    int want = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
             : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    int tchar = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
    CHECK(txt_hex_value(c) == want);
    CHECK(txt_is_tchar(c) == tchar);
  }
  CHECK(!txt_is_tchar(':') && !txt_is_tchar(' ') && !txt_is_tchar('"') && !txt_is_tchar(0x80));
}

int main(void) {
  test_case();
  test_space();
  test_numbers();
  test_hex_and_tokens();
  DONE("text_test");
}
