/* CRC-32 of IEEE 802.3 (reflected polynomial 0xEDB88320, initial value and
 * final XOR 0xFFFFFFFF): the value zlib's crc32() gives. The discovery
 * checksum (odp_packet.h) is built on it. */
#ifndef SIM_CRC32_H
#define SIM_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* crc32_update(0, buf, len) is the CRC of buf; feed a running CRC back in
 * to continue over more bytes. crc32_update(0, "123456789", 9) == 0xCBF43926. */
uint32_t crc32_update(uint32_t crc, const void *buf, size_t len);

#endif
