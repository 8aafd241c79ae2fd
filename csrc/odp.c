/* odp.c: ODP packet encode and decode (contracts in odp.h). */
#include "odp.h"
#include "crc32.h"
#include "text.h"

#include <string.h>

/* The CRC of a packet as if its checksum field held the magic, computed in
 * three pieces so that the (const) packet is never written. */
static uint32_t packet_crc(const uint8_t *pkt, size_t len) {
  uint8_t magic[4];
  uint32_t crc;
  txt_put_be32(magic, ODP_MAGIC);
  crc = crc32_ieee(0, pkt, 12);
  crc = crc32_ieee(crc, magic, 4);
  return crc32_ieee(crc, pkt + ODP_HEADER_LEN, len - ODP_HEADER_LEN);
}

size_t odp_encode(uint8_t *out, size_t cap, const odp_packet *p) {
  size_t len = ODP_HEADER_LEN + p->payload_len;
  if (p->payload_len > 0xFFFF || cap < len) return 0;
  out[0] = p->version;
  out[1] = 0;
  out[2] = p->flags;
  out[3] = p->result;
  txt_put_be16(out + 4, p->opcode);
  txt_put_be16(out + 6, (uint16_t)p->payload_len);
  txt_put_be32(out + 8, p->serial);
  txt_put_be32(out + 12, ODP_MAGIC);
  if (p->payload_len) memcpy(out + ODP_HEADER_LEN, p->payload, p->payload_len);
  if (!p->bare_magic) txt_put_be32(out + 12, crc32_ieee(0, out, len));
  return len;
}

static size_t encode_std(uint8_t *out, size_t cap, uint8_t flags, uint8_t result,
                         uint32_t serial, int broadcast, const char *payload, size_t len) {
  odp_packet p;
  if (len > ODP_MAX_PAYLOAD) return 0;
  memset(&p, 0, sizeof p);
  p.version = ODP_VERSION;
  p.flags = (uint8_t)(flags | (broadcast ? ODP_FLAG_BROADCAST : ODP_FLAG_UNICAST));
  p.result = result;
  p.opcode = ODP_OPCODE;
  p.serial = serial;
  p.payload = (const uint8_t *)payload;
  p.payload_len = len;
  return odp_encode(out, cap, &p);
}

size_t odp_encode_request(uint8_t *out, size_t cap, uint32_t serial, int broadcast,
                          const char *payload, size_t len) {
  return encode_std(out, cap, ODP_FLAG_REQUEST, 0, serial, broadcast, payload, len);
}

size_t odp_encode_reply(uint8_t *out, size_t cap, uint32_t serial, int broadcast,
                        const char *payload, size_t len) {
  return encode_std(out, cap, ODP_FLAG_REPLY, ODP_RET_OK, serial, broadcast, payload, len);
}

int odp_decode(const uint8_t *pkt, size_t len, odp_packet *out) {
  uint32_t field;
  if (len < ODP_HEADER_LEN) return ODP_ESHORT;
  if (len > ODP_MAX_PACKET) return ODP_ETOOBIG;
  out->version = pkt[0];
  out->flags = pkt[2];
  out->result = pkt[3];
  out->opcode = txt_be16(pkt + 4);
  out->payload_len = txt_be16(pkt + 6);
  out->serial = txt_be32(pkt + 8);
  out->payload = pkt + ODP_HEADER_LEN;
  if (out->version != ODP_VERSION) return ODP_EVERSION;
  if (out->payload_len != len - ODP_HEADER_LEN) return ODP_ELENGTH;
  field = txt_be32(pkt + 12);
  /* A CRC that happens to equal the magic is a CRC, not a bare magic. */
  if (field == packet_crc(pkt, len)) out->bare_magic = 0;
  else if (field == ODP_MAGIC) out->bare_magic = 1;
  else return ODP_ECRC;
  if (out->opcode != ODP_OPCODE) return ODP_EOPCODE;
  if ((out->flags & ODP_FLAG_REQUEST) || !(out->flags & ODP_FLAG_REPLY)) return ODP_EREQUEST;
  if (out->flags & (ODP_FLAG_COMPRESS | ODP_FLAG_ENCRYPT)) return ODP_UNSUPPORTED;
  if (out->result != ODP_RET_OK) return ODP_ERESULT;
  return ODP_OK;
}

const char *odp_strerror(int code) {
  static const char *const names[ODP_NCODES] = {
    "ok", "unsupported", "short", "too_big", "length", "crc",
    "request", "version", "opcode", "result"
  };
  return code >= 0 && code < ODP_NCODES ? names[code] : "unknown";
}
