/* What talk sessions receive: per session, the RTP headers of the last
 * TALK_KEEP_PACKETS packets and the last TALK_KEEP_SECONDS of audio decoded
 * to 16-bit PCM, kept after the session and its connection are gone (for
 * GET /__sim__/talk), up to TALK_KEEP_RECORDS finished sessions per
 * camera. */
#ifndef SIM_STREAM_TALK_H
#define SIM_STREAM_TALK_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#define TALK_KEEP_SECONDS  60u
#define TALK_KEEP_PACKETS  3000u            /* 60 s of 20 ms packets */
#define TALK_KEEP_RECORDS  8u               /* finished sessions kept */

struct talk_rec;

struct talk_list {
	struct talk_rec *head, *tail;           /* oldest first */
	size_t n;
};

/* A record for a new talk session; NULL when out of memory. */
struct talk_rec *talk_open(struct talk_list *l, const char *session_id, int channel,
			   const char *mode);
/* The session is over (its record is kept, the oldest finished ones go). */
void talk_close(struct talk_list *l, struct talk_rec *t);
/* One RTP packet as received on the talk channel ($ framing removed).
 * Anything that is not RTP version 2 with a payload is counted and skipped. */
void talk_packet(struct talk_rec *t, const uint8_t *p, size_t len);
/* {"sessions":[...]} as docs/sim.md describes; NULL when out of memory. */
cJSON *talk_json(const struct talk_list *l);
void talk_clear(struct talk_list *l);

#endif
