/* Discovery packets: see odp_packet.h. */
#include "odp_packet.h"

#include <string.h>
#include <cjson/cJSON.h>

#include "crc32.h"

const char *odp_check_name(enum odp_check c)
{
	switch (c) {
	case ODP_OK: return "ok";
	case ODP_ESHORT: return "shorter than a header";
	case ODP_ETOOBIG: return "too big for a request";
	case ODP_ELENGTH: return "payload length disagrees with the datagram";
	case ODP_EVERSION: return "unknown version";
	case ODP_ECHECKSUM: return "bad checksum";
	case ODP_ENOTREQUEST: return "not a request";
	case ODP_EFLAGS: return "compressed or encrypted";
	case ODP_EOPCODE: return "unknown operation code";
	case ODP_EPAYLOAD: return "payload is not a JSON object";
	}
	return "?";
}

static uint16_t get16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

uint32_t odp_checksum(const unsigned char *pkt, size_t len)
{
	unsigned char magic[4];
	put32(magic, ODP_MAGIC);
	uint32_t crc = crc32_update(0, pkt, 12);
	crc = crc32_update(crc, magic, 4);
	return crc32_update(crc, pkt + ODP_HEADER_LEN, len - ODP_HEADER_LEN);
}

void odp_header_read(const unsigned char p[ODP_HEADER_LEN], struct odp_header *h)
{
	h->version = p[0];
	h->reserved = p[1];
	h->flags = p[2];
	h->result = p[3];
	h->opcode = get16(p + 4);
	h->length = get16(p + 6);
	h->serial = get32(p + 8);
	h->checksum = get32(p + 12);
}

void odp_header_write(unsigned char p[ODP_HEADER_LEN], const struct odp_header *h)
{
	p[0] = h->version;
	p[1] = h->reserved;
	p[2] = h->flags;
	p[3] = h->result;
	put16(p + 4, h->opcode);
	put16(p + 6, h->length);
	put32(p + 8, h->serial);
	put32(p + 12, h->checksum);
}

enum odp_check odp_check_request(const unsigned char *pkt, size_t len, struct odp_header *h)
{
	if (len < ODP_HEADER_LEN)
		return ODP_ESHORT;
	odp_header_read(pkt, h);
	if (len > ODP_REQUEST_MAX)
		return ODP_ETOOBIG;
	if ((size_t)h->length != len - ODP_HEADER_LEN)
		return ODP_ELENGTH;
	if (h->version != ODP_VERSION)
		return ODP_EVERSION;
	if (h->checksum != odp_checksum(pkt, len))
		return ODP_ECHECKSUM;
	if (!(h->flags & ODP_FLAG_REQUEST) || (h->flags & ODP_FLAG_REPLY))
		return ODP_ENOTREQUEST;
	if (h->flags & (ODP_FLAG_COMPRESS | ODP_FLAG_ENCRYPT))
		return ODP_EFLAGS;
	if (h->opcode != ODP_OP_DISCOVER)
		return ODP_EOPCODE;
	if (h->length > 0) {
		const char *text = (const char *)pkt + ODP_HEADER_LEN, *end = NULL;
		cJSON *doc = cJSON_ParseWithLengthOpts(text, h->length, &end, 0);
		int ok = cJSON_IsObject(doc);
		cJSON_Delete(doc);
		/* nothing but white space after the object */
		for (size_t i = ok ? (size_t)(end - text) : h->length; i < h->length; i++)
			if (!strchr(" \t\r\n", text[i]) || !text[i])
				ok = 0;
		if (!ok)
			return ODP_EPAYLOAD;
	}
	return ODP_OK;
}

size_t odp_build(unsigned char *out, size_t cap, struct odp_header *h,
		 const void *payload, size_t plen)
{
	if (plen > 0xFFFF || cap < ODP_HEADER_LEN || plen > cap - ODP_HEADER_LEN)
		return 0;
	h->length = (uint16_t)plen;
	h->checksum = ODP_MAGIC;
	odp_header_write(out, h);
	if (plen)
		memcpy(out + ODP_HEADER_LEN, payload, plen);
	size_t len = ODP_HEADER_LEN + plen;
	h->checksum = odp_checksum(out, len);
	put32(out + 12, h->checksum);
	return len;
}
