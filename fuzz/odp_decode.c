/* fuzz/odp_decode.c: libFuzzer entry for odp_decode (make fuzz).
 *
 * Any datagram a peer can send goes through odp_decode; it must never read
 * outside the datagram, whatever the header claims. Reading every payload
 * byte lets ASan catch a payload pointer or length that strays. A packet
 * that decodes must also encode back to the same bytes (but the reserved
 * byte, which is ignored on the way in and sent as 0), so that the two
 * directions cannot drift apart. */
#include "odp.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Where the payload bytes go, so that the reads cannot be optimised away. */
static volatile uint8_t sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static uint8_t again[ODP_MAX_PACKET];
  odp_packet p;
  size_t i;
  int rc = odp_decode(data, size, &p);
  (void)odp_strerror(rc);
  if (rc != ODP_OK && rc != ODP_UNSUPPORTED) return 0;
  if (p.payload != data + ODP_HEADER_LEN || ODP_HEADER_LEN + p.payload_len != size)
    __builtin_trap(); /* the payload must be exactly the rest of the datagram */
  for (i = 0; i < p.payload_len; i++) sink ^= p.payload[i];
  /* Encoding what was decoded gives the same bytes, but for the reserved
   * byte (written as 0) and so, when the input's was not 0, the checksum
   * that covers it. */
  if (odp_encode(again, sizeof again, &p) != size || again[1] != 0 ||
      memcmp(again, data, 1) != 0 || memcmp(again + 2, data + 2, 10) != 0 ||
      memcmp(again + 16, data + 16, size - 16) != 0 ||
      (data[1] == 0 && memcmp(again + 12, data + 12, 4) != 0))
    __builtin_trap();
  return 0;
}
