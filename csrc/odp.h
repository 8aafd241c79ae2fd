/* odp.h: packets of the OpenAPI Discovery Protocol (ODP, UDP port 23001),
 * encoded and decoded in memory, per the reading of the vendor's document
 * in WIRE-NOTES §1; what it leaves open is decided at odp_decode below.
 *
 * A packet is a 16-byte header, all fields big-endian, then the payload
 * (JSON text):
 *
 *   off size field
 *    0   1   version          1
 *    1   1   reserved         0 when sent, ignored when read
 *    2   1   flags            ODP_FLAG_*
 *    3   1   result           0 in requests, ODP_RET_* in replies
 *    4   2   operation code   1
 *    6   2   payload length   bytes after the header
 *    8   4   serial           chosen by the requester, echoed by a reply
 *   12   4   checksum         CRC-32 of the whole packet, computed with
 *                             ODP_MAGIC in this field
 *
 * Sans-IO: nothing here touches a socket, allocates or keeps state, so the
 * same code serves every I/O model and can be fuzzed (fuzz/odp_decode.c).
 * Plain C: no lua.h. */
#ifndef VIGI_ODP_H
#define VIGI_ODP_H

#include <stddef.h>
#include <stdint.h>

#define ODP_PORT        23001
#define ODP_HEADER_LEN  16
#define ODP_VERSION     1
#define ODP_OPCODE      1            /* the only operation: discovery */
#define ODP_MAGIC       0x77805D05u  /* checksum field while computing the CRC */

/* Flags (byte 2). */
#define ODP_FLAG_REPLY     0x01
#define ODP_FLAG_REQUEST   0x02
#define ODP_FLAG_COMPRESS  0x04
#define ODP_FLAG_ENCRYPT   0x08
#define ODP_FLAG_UNICAST   0x10
#define ODP_FLAG_BROADCAST 0x20

/* Result (byte 3) of a reply. */
#define ODP_RET_OK  0x01
#define ODP_RET_ERR 0xFF

/* Limits. A reply's payload is a few hundred bytes of JSON; 8 KiB leaves
 * room for firmware that adds fields, and bounds what a peer can make us
 * hand to the JSON decoder. ODP_MAX_DATAGRAM is the largest UDP payload
 * over IPv4: a receive buffer of that size never truncates a datagram, so
 * an oversized one is seen (and counted) as too big rather than cut into
 * something that might look valid. */
#define ODP_MAX_PAYLOAD  8192
#define ODP_MAX_PACKET   (ODP_HEADER_LEN + ODP_MAX_PAYLOAD)
#define ODP_MAX_DATAGRAM 65507

/* odp_decode() results. ODP_OK and ODP_UNSUPPORTED fill the packet; every
 * other code is a rejection, named by odp_strerror(). */
enum {
  ODP_OK = 0,       /* a valid reply */
  ODP_UNSUPPORTED,  /* a valid reply flagged COMPRESS or ENCRYPT: a device
                       we cannot read; payload not to be parsed */
  ODP_ESHORT,       /* fewer than ODP_HEADER_LEN bytes */
  ODP_ETOOBIG,      /* more than ODP_MAX_PACKET bytes */
  ODP_ELENGTH,      /* payload length field disagrees with the datagram */
  ODP_ECRC,         /* checksum is neither the CRC nor the bare magic */
  ODP_EREQUEST,     /* not a reply: REQUEST set or REPLY missing (this is
                       also how our own broadcast comes back to us) */
  ODP_EVERSION,     /* version is not ODP_VERSION */
  ODP_EOPCODE,      /* operation code is not ODP_OPCODE */
  ODP_ERESULT,      /* result is not ODP_RET_OK (e.g. ODP_RET_ERR) */
  ODP_NCODES
};

/* One packet's fields. odp_decode() fills it; odp_encode() reads it. */
typedef struct odp_packet {
  uint8_t version;
  uint8_t flags;
  uint8_t result;
  uint16_t opcode;
  uint32_t serial;
  const uint8_t *payload;  /* decode: points into the caller's buffer */
  size_t payload_len;
  int bare_magic;          /* the checksum field holds ODP_MAGIC itself
                              instead of the CRC (firmware that skips it) */
} odp_packet;

/* Writes a discovery request: flags REQUEST plus BROADCAST (broadcast != 0)
 * or UNICAST, result 0. payload may be NULL when len is 0; the protocol
 * wants a JSON object, "{}" by default, which is the caller's to supply.
 * Returns the packet length, or 0 when len > ODP_MAX_PAYLOAD or the packet
 * does not fit in cap bytes (out is then untouched). */
size_t odp_encode_request(uint8_t *out, size_t cap, uint32_t serial, int broadcast,
                          const char *payload, size_t len);

/* Writes a successful reply the way a camera does: flags REPLY plus
 * BROADCAST or UNICAST, result ODP_RET_OK. Same contract as above. The
 * client never sends one; tests and the fuzz corpus use it. */
size_t odp_encode_reply(uint8_t *out, size_t cap, uint32_t serial, int broadcast,
                        const char *payload, size_t len);

/* Writes any packet from p's fields (reserved byte 0), checksum included
 * (the bare magic instead when p->bare_magic), so that tests can build
 * packets a good peer would not send. Only the 16-bit length field limits payload_len
 * here. Returns the packet length, or 0 when payload_len > 0xFFFF or the
 * packet does not fit in cap (out is then untouched). */
size_t odp_encode(uint8_t *out, size_t cap, const odp_packet *p);

/* Checks one received datagram, pkt[0..len), and returns ODP_OK,
 * ODP_UNSUPPORTED or a rejection. A reply needs REPLY and not REQUEST in
 * its flags; UNICAST/BROADCAST are not checked (the serial decides which
 * probe it answers), nor is the reserved byte (the document says not to
 * care), though the checksum covers it. The checks run in this order: short,
 * too_big, version, length, crc, opcode, request, unsupported, result.
 * Version comes before the checksum because another version may lay out
 * its header and checksum differently, so "version" is the useful report;
 * the fields checked after it are only read once the checksum holds, so a
 * corrupted packet counts as "crc", not as a bad opcode or flags.
 * A reply flagged COMPRESS or ENCRYPT is reported as ODP_UNSUPPORTED even
 * when its result is an error: it still shows a device is there.
 * The bare magic in the checksum field is accepted (out->bare_magic = 1).
 * On ODP_OK and ODP_UNSUPPORTED every field of *out is set, and
 * out->payload points into pkt (valid as long as pkt). On a rejection the
 * contents of *out are unspecified. Never reads outside pkt[0..len). */
int odp_decode(const uint8_t *pkt, size_t len, odp_packet *out);

/* Short stable name of a result code: "ok", "unsupported", "short",
 * "too_big", "length", "crc", "request", "version", "opcode", "result";
 * "unknown" for anything else. The Lua layer counts rejections by these
 * names. */
const char *odp_strerror(int code);

#endif
