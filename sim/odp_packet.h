/* Discovery packets (ODP, WIRE-NOTES §1): the 16-byte header, its
 * checksum, and the check of a request. Bytes in, bytes out: no sockets.
 *
 *   off size field
 *    0   1   version         1
 *    1   1   reserved
 *    2   1   flags           ODP_FLAG_*
 *    3   1   result          0 in requests; ODP_RESULT_OK / _ERR in replies
 *    4   2   operation code  ODP_OP_DISCOVER
 *    6   2   payload length  bytes after the header
 *    8   4   serial          echoed by a unicast reply
 *   12   4   checksum        see odp_checksum()
 * Multi-byte fields are big-endian.
 */
#ifndef SIM_ODP_PACKET_H
#define SIM_ODP_PACKET_H

#include <stddef.h>
#include <stdint.h>

#define ODP_PORT            23001
#define ODP_HEADER_LEN      16
#define ODP_VERSION         1
#define ODP_MAGIC           0x77805D05u
#define ODP_OP_DISCOVER     0x0001

#define ODP_FLAG_REPLY      0x01
#define ODP_FLAG_REQUEST    0x02
#define ODP_FLAG_COMPRESS   0x04
#define ODP_FLAG_ENCRYPT    0x08
#define ODP_FLAG_UNICAST    0x10
#define ODP_FLAG_BROADCAST  0x20

#define ODP_RESULT_OK       0x01
#define ODP_RESULT_ERR      0xFF

/* A request longer than this is not one a client sends: ignored. */
#define ODP_REQUEST_MAX     4096

struct odp_header {
	uint8_t version, reserved, flags, result;
	uint16_t opcode, length;
	uint32_t serial, checksum;
};

/* Why a datagram is not a request the camera answers. */
enum odp_check {
	ODP_OK = 0,
	ODP_ESHORT,         /* under 16 bytes */
	ODP_ETOOBIG,        /* over ODP_REQUEST_MAX */
	ODP_ELENGTH,        /* payload length disagrees with the datagram */
	ODP_EVERSION,       /* version is not 1 */
	ODP_ECHECKSUM,      /* checksum field is not the CRC of the packet */
	ODP_ENOTREQUEST,    /* no REQUEST flag, or REPLY set (a reply, our own echo) */
	ODP_EFLAGS,         /* COMPRESS or ENCRYPT: payload the camera cannot read */
	ODP_EOPCODE,        /* operation code other than ODP_OP_DISCOVER */
	ODP_EPAYLOAD        /* payload neither empty nor a JSON object */
};

/* A short English name of a check result, for logs. */
const char *odp_check_name(enum odp_check c);

/* The checksum of a whole packet (header + payload, len >= 16): the CRC-32
 * computed with ODP_MAGIC in the checksum field, whatever the field holds. */
uint32_t odp_checksum(const unsigned char *pkt, size_t len);

void odp_header_read(const unsigned char p[ODP_HEADER_LEN], struct odp_header *h);
void odp_header_write(unsigned char p[ODP_HEADER_LEN], const struct odp_header *h);

/* Check a datagram as a discovery request; h is filled when it is at least
 * a header. */
enum odp_check odp_check_request(const unsigned char *pkt, size_t len, struct odp_header *h);

/* Build header h + payload into out (cap bytes). Sets h->length, computes
 * the checksum into h->checksum and the packet. Returns the packet length,
 * or 0 if it does not fit (or the payload is over 65535 bytes). */
size_t odp_build(unsigned char *out, size_t cap, struct odp_header *h,
		 const void *payload, size_t plen);

#endif
