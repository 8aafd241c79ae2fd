/* The discovery responder (ODP, WIRE-NOTES §1) of one camera, or of a whole
 * fleet on one wildcard socket: a UDP socket that answers each valid
 * request with the camera's summary
 *   {"error_code":0,"result":{"device_name","device_type","device_model",
 *    "ip","mac","factory_default","http_port"}}
 * and ignores (and counts) everything else. The camera's pending discovery
 * fault (camera_odp_fault_take) changes or suppresses its reply.
 *
 * Counters, per camera: odp_requests (valid requests), odp_replies
 * (datagrams sent, so a duplicate counts two), odp_ignored. */
#ifndef SIM_ODP_H
#define SIM_ODP_H

#include <stddef.h>

#include "camera.h"
#include "loop.h"
#include "odp_packet.h"

/* The oversized fault's payload, in bytes (JSON padded with spaces). */
#define ODP_OVERSIZED_PAYLOAD 9000

struct odp_server;

/* Bind UDP address:port (port 0 = any free port) for cams[0..ncams), which
 * must outlive the server. With any, bind the wildcard address of
 * address's family instead (what a broadcast reaches): a request sent to
 * one camera's address is answered by that camera only, any other (a
 * broadcast) by every camera, each reply leaving from the camera's own
 * address where the system allows it. Returns NULL with a message in err
 * and errno set (EADDRINUSE when the port is taken). */
struct odp_server *odp_listen(struct loop *lp, const char *address, int port, int any,
			      struct camera **cams, size_t ncams, char *err, size_t errsz);
int odp_server_port(const struct odp_server *s);
void odp_server_free(struct odp_server *s);

/* Fault names as the admin path spells them: "none", "bad_crc",
 * "bare_magic", "duplicate", "oversized", "encrypt", "foreign_serial",
 * "silent", "flood", "spoof". parse returns 0, or -1 for an unknown name.
 *
 * flood: the answer to a request is a flood of valid replies (its serial,
 * right CRC), each with another MAC, sent to the requester from the
 * camera's address as fast as the socket takes them, for the camera's
 * odp_flood_ms; one flood per socket at a time, ended early by any new
 * fault set. spoof: the reply claims odp_spoof_ip as its "ip" (and
 * odp_spoof_port as "openapi_port" when not 0). */
const char *odp_fault_name(enum odp_fault_kind k);
int odp_fault_parse(const char *name, enum odp_fault_kind *k);

#endif
