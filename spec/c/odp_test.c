/* odp_test.c: ODP packets against golden vectors written out by hand from
 * WIRE-NOTES §1, every rejection from a crafted packet, and hostile
 * input (every truncation, every single-byte change) under ASan/UBSan. */
#include "check.h"
#include "odp.h"

#include <stdlib.h>
#include <string.h>

/* A broadcast discovery request: serial 0x12345678, payload "{}".
 * The checksum was computed independently of this code, in Python:
 *   h = struct.pack(">BBBBHHII", 1, 0, 0x22, 0, 1, 2, 0x12345678, 0x77805D05)
 *   hex(zlib.crc32(h + b"{}"))  ->  0xfb76d633 */
static const uint8_t golden_request[] = {
  0x01,                   /* version 1 */
  0x00,                   /* reserved */
  0x22,                   /* flags: REQUEST 0x02 | BROADCAST 0x20 */
  0x00,                   /* result: 0 in requests */
  0x00, 0x01,             /* operation code 1 */
  0x00, 0x02,             /* payload length 2 */
  0x12, 0x34, 0x56, 0x78, /* serial */
  0xfb, 0x76, 0xd6, 0x33, /* CRC-32 with the magic 0x77805D05 in this field */
  0x7b, 0x7d              /* "{}" */
};

/* A unicast reply: serial 0x0A0B0C0D, result OK, a 65-byte payload.
 *   p = b'{"error_code":0,"result":{"ip":"192.0.2.7","mac":"AABBCCDDEEFF"}}'
 *   h = struct.pack(">BBBBHHII", 1, 0, 0x11, 1, 1, len(p), 0x0A0B0C0D, 0x77805D05)
 *   hex(zlib.crc32(h + p))  ->  0x1265c8e1 */
#define REPLY_JSON "{\"error_code\":0,\"result\":{\"ip\":\"192.0.2.7\",\"mac\":\"AABBCCDDEEFF\"}}"
static const uint8_t golden_reply[] = {
  0x01, 0x00,
  0x11,                   /* flags: REPLY 0x01 | UNICAST 0x10 */
  0x01,                   /* result: OK */
  0x00, 0x01,
  0x00, 0x41,             /* payload length 65 */
  0x0a, 0x0b, 0x0c, 0x0d,
  0x12, 0x65, 0xc8, 0xe1,
  /* {"error_code":0,"result":{"ip":"192.0.2.7","mac":"AABBCCDDEEFF"}} */
  0x7b, 0x22, 0x65, 0x72, 0x72, 0x6f, 0x72, 0x5f, 0x63, 0x6f, 0x64, 0x65, 0x22,
  0x3a, 0x30, 0x2c, 0x22, 0x72, 0x65, 0x73, 0x75, 0x6c, 0x74, 0x22, 0x3a, 0x7b,
  0x22, 0x69, 0x70, 0x22, 0x3a, 0x22, 0x31, 0x39, 0x32, 0x2e, 0x30, 0x2e, 0x32,
  0x2e, 0x37, 0x22, 0x2c, 0x22, 0x6d, 0x61, 0x63, 0x22, 0x3a, 0x22, 0x41, 0x41,
  0x42, 0x42, 0x43, 0x43, 0x44, 0x44, 0x45, 0x45, 0x46, 0x46, 0x22, 0x7d, 0x7d
};

/* Decodes a heap copy of exactly len bytes, so that ASan sees any read
 * past the end (a static array would hide it among its neighbours). */
static int decode_copy(const uint8_t *pkt, size_t len, odp_packet *p) {
  uint8_t *copy = malloc(len ? len : 1);
  int rc;
  CHECK(copy != NULL);
  if (len) memcpy(copy, pkt, len);
  rc = odp_decode(copy, len, p);
  free(copy); /* p->payload is not used after this */
  return rc;
}

/* A valid reply with one field changed; the checksum is recomputed, so
 * only that field is wrong. */
static size_t crafted(uint8_t *out, size_t cap, uint8_t version, uint8_t flags,
                      uint8_t result, uint16_t opcode) {
  odp_packet p;
  memset(&p, 0, sizeof p);
  p.version = version;
  p.flags = flags;
  p.result = result;
  p.opcode = opcode;
  p.serial = 7;
  p.payload = (const uint8_t *)"{}";
  p.payload_len = 2;
  return odp_encode(out, cap, &p);
}

static int decode_crafted(uint8_t version, uint8_t flags, uint8_t result, uint16_t opcode) {
  uint8_t buf[64];
  odp_packet p;
  size_t n = crafted(buf, sizeof buf, version, flags, result, opcode);
  CHECK(n == 18);
  return decode_copy(buf, n, &p);
}

static void test_golden(void) {
  uint8_t buf[ODP_MAX_PACKET];
  odp_packet p;
  size_t n;

  n = odp_encode_request(buf, sizeof buf, 0x12345678, 1, "{}", 2);
  CHECK(n == sizeof golden_request && memcmp(buf, golden_request, n) == 0);
  n = odp_encode_reply(buf, sizeof buf, 0x0A0B0C0D, 0, REPLY_JSON, strlen(REPLY_JSON));
  CHECK(n == sizeof golden_reply && memcmp(buf, golden_reply, n) == 0);

  CHECK(odp_decode(golden_reply, sizeof golden_reply, &p) == ODP_OK);
  CHECK(p.version == 1 && p.opcode == 1);
  CHECK(p.serial == 0x0A0B0C0D);
  CHECK(p.flags == (ODP_FLAG_REPLY | ODP_FLAG_UNICAST));
  CHECK(p.result == ODP_RET_OK);
  CHECK(p.payload == golden_reply + 16 && p.payload_len == 65);
  CHECK(memcmp(p.payload, REPLY_JSON, 65) == 0);
  CHECK(p.bare_magic == 0);

  /* Our own broadcast, heard back: a request, not a device. */
  CHECK(odp_decode(golden_request, sizeof golden_request, &p) == ODP_EREQUEST);
}

static void test_bare_magic(void) {
  uint8_t buf[sizeof golden_reply];
  odp_packet p;
  memcpy(buf, golden_reply, sizeof buf);
  buf[12] = 0x77, buf[13] = 0x80, buf[14] = 0x5D, buf[15] = 0x05;
  CHECK(decode_copy(buf, sizeof buf, &p) == ODP_OK);
  CHECK(p.bare_magic == 1 && p.serial == 0x0A0B0C0D && p.payload_len == 65);
  /* ... which is what odp_encode writes when asked. */
  memset(&p, 0, sizeof p);
  p.version = 1, p.flags = 0x11, p.result = 1, p.opcode = 1, p.serial = 0x0A0B0C0D;
  p.payload = (const uint8_t *)REPLY_JSON, p.payload_len = 65, p.bare_magic = 1;
  {
    uint8_t out[sizeof golden_reply];
    CHECK(odp_encode(out, sizeof out, &p) == sizeof out && memcmp(out, buf, sizeof out) == 0);
  }
}

static void test_rejections(void) {
  uint8_t buf[ODP_MAX_PACKET + 64];
  static char big[ODP_MAX_PAYLOAD + 1];
  odp_packet p;
  size_t n;

  CHECK(decode_copy(golden_reply, 0, &p) == ODP_ESHORT);
  CHECK(decode_copy(golden_reply, 15, &p) == ODP_ESHORT);

  /* The largest payload passes, one byte more is too big: encoded with a
   * correct length and checksum, so only the size is wrong. */
  memset(big, 'x', sizeof big);
  n = odp_encode_reply(buf, sizeof buf, 1, 0, big, ODP_MAX_PAYLOAD);
  CHECK(n == ODP_MAX_PACKET && decode_copy(buf, n, &p) == ODP_OK);
  {
    odp_packet q;
    memset(&q, 0, sizeof q);
    q.version = 1, q.flags = 0x11, q.result = 1, q.opcode = 1;
    q.payload = (const uint8_t *)big, q.payload_len = sizeof big;
    n = odp_encode(buf, sizeof buf, &q);
    CHECK(n == ODP_MAX_PACKET + 1 && decode_copy(buf, n, &p) == ODP_ETOOBIG);
  }

  /* Length field against the datagram: a byte more, a byte less. */
  memcpy(buf, golden_reply, sizeof golden_reply);
  buf[sizeof golden_reply] = ' ';
  CHECK(decode_copy(buf, sizeof golden_reply + 1, &p) == ODP_ELENGTH);
  CHECK(decode_copy(buf, sizeof golden_reply - 1, &p) == ODP_ELENGTH);
  buf[7] = 0xFF;
  CHECK(decode_copy(buf, sizeof golden_reply, &p) == ODP_ELENGTH);

  memcpy(buf, golden_reply, sizeof golden_reply);
  buf[20] ^= 0x01;
  CHECK(decode_copy(buf, sizeof golden_reply, &p) == ODP_ECRC);

  CHECK(decode_crafted(2, 0x11, 1, 1) == ODP_EVERSION);
  CHECK(decode_crafted(0, 0x11, 1, 1) == ODP_EVERSION);
  CHECK(decode_crafted(1, 0x11, 1, 2) == ODP_EOPCODE);
  CHECK(decode_crafted(1, 0x11, 1, 0x0100) == ODP_EOPCODE);
  CHECK(decode_crafted(1, 0x12, 0, 1) == ODP_EREQUEST); /* REQUEST */
  CHECK(decode_crafted(1, 0x13, 1, 1) == ODP_EREQUEST); /* REQUEST and REPLY */
  CHECK(decode_crafted(1, 0x10, 1, 1) == ODP_EREQUEST); /* neither */
  CHECK(decode_crafted(1, 0x11, 0xFF, 1) == ODP_ERESULT);
  CHECK(decode_crafted(1, 0x11, 0x00, 1) == ODP_ERESULT);
  CHECK(decode_crafted(1, 0x21, 1, 1) == ODP_OK);       /* broadcast reply */
  CHECK(decode_crafted(1, 0x01, 1, 1) == ODP_OK);       /* no mode flag: tolerated */

  /* COMPRESS or ENCRYPT: a device we cannot read, reported with its serial. */
  n = crafted(buf, sizeof buf, 1, 0x15, 1, 1);
  CHECK(decode_copy(buf, n, &p) == ODP_UNSUPPORTED && p.serial == 7 && p.flags == 0x15);
  n = crafted(buf, sizeof buf, 1, 0x19, 0xFF, 1);
  CHECK(decode_copy(buf, n, &p) == ODP_UNSUPPORTED && p.flags == 0x19);
}

static void test_encode_limits(void) {
  uint8_t buf[ODP_MAX_PACKET + 1];
  static char big[ODP_MAX_PAYLOAD + 1];
  memset(buf, 0xAA, sizeof buf);
  /* One byte short of room: nothing written. */
  CHECK(odp_encode_request(buf, sizeof golden_request - 1, 1, 1, "{}", 2) == 0);
  CHECK(buf[0] == 0xAA);
  CHECK(odp_encode_request(buf, sizeof buf, 1, 1, big, sizeof big) == 0);
  CHECK(odp_encode_reply(buf, sizeof buf, 1, 1, big, sizeof big) == 0);
  CHECK(odp_encode_request(buf, sizeof buf, 1, 0, NULL, 0) == 16);
  CHECK(buf[2] == (ODP_FLAG_REQUEST | ODP_FLAG_UNICAST) && buf[6] == 0 && buf[7] == 0);
}

static void test_names(void) {
  static const char *const want[] = {
    "ok", "unsupported", "short", "too_big", "length", "crc",
    "request", "version", "opcode", "result"
  };
  int i;
  for (i = 0; i < ODP_NCODES; i++) CHECK(strcmp(odp_strerror(i), want[i]) == 0);
  CHECK(strcmp(odp_strerror(-1), "unknown") == 0);
  CHECK(strcmp(odp_strerror(ODP_NCODES), "unknown") == 0);
}

static void test_hostile(void) {
  uint8_t buf[sizeof golden_reply];
  odp_packet p;
  size_t len, i;
  int v;
  /* Every truncation of a valid reply is refused (and read within bounds). */
  for (len = 0; len < sizeof golden_reply; len++) {
    int rc = decode_copy(golden_reply, len, &p);
    CHECK(rc == (len < 16 ? ODP_ESHORT : ODP_ELENGTH));
  }
  /* Every other value of every single byte is refused: CRC-32 catches any
   * change within one byte, and the fields checked before it fail on their
   * own. None may crash or be taken for a reply. */
  for (i = 0; i < sizeof golden_reply; i++) {
    for (v = 0; v < 256; v++) {
      int rc;
      if (v == golden_reply[i]) continue;
      memcpy(buf, golden_reply, sizeof buf);
      buf[i] = (uint8_t)v;
      rc = decode_copy(buf, sizeof buf, &p);
      CHECK(rc != ODP_OK && rc != ODP_UNSUPPORTED);
      if (i == 0) CHECK(rc == ODP_EVERSION);
      else if (i == 6 || i == 7) CHECK(rc == ODP_ELENGTH);
      else CHECK(rc == ODP_ECRC);
    }
  }
}

int main(void) {
  test_golden();
  test_bare_magic();
  test_rejections();
  test_encode_limits();
  test_names();
  test_hostile();
  DONE("odp_test");
}
