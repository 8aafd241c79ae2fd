/* crc32.h: the standard CRC-32 (IEEE 802.3; zlib's crc32, PNG, Ethernet):
 * reflected polynomial 0xEDB88320, initial value 0xFFFFFFFF, final xor
 * 0xFFFFFFFF. Check value: crc32_ieee(0, "123456789", 9) == 0xCBF43926.
 *
 * Named crc32_ieee rather than crc32 so that it never clashes with zlib's
 * symbol, which libcurl brings into the same process.
 *
 * Plain C: no lua.h, no allocation, no state. */
#ifndef VIGI_CRC32_H
#define VIGI_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32 of buf[0..len), continuing from crc: start with 0, and feed the
 * result of one call to the next to checksum data given in pieces
 * (crc32_ieee(crc32_ieee(0, a, m), b, n) is the CRC of a then b). buf may
 * be NULL when len is 0. */
uint32_t crc32_ieee(uint32_t crc, const void *buf, size_t len);

#endif
