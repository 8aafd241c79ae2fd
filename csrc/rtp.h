/* rtp.h: RTP packets (RFC 3550) and what the stream interface carries in
 * them (WIRE-NOTES §3): H.264 (RFC 6184), H.265 (RFC 7798) and G.711
 * depacketized into whole frames, and the talk channel's packets.
 *
 * A track is one channel's depacketizer. Video access units are written
 * in Annex-B form (00 00 00 01 before every NAL unit) into one buffer the
 * track owns: it grows to the largest unit seen, never past max_frame,
 * and is reused (DESIGN.md principle 7: one copy). Audio frames are the
 * packet's payload as is, pointing into the packet.
 *
 * Rules, each with a counter:
 *  - An access unit ends on the marker bit, or when a packet with another
 *    timestamp arrives (then the pending unit is handed out first).
 *  - Sequence numbers are 16 bits and wrap. A gap of n means n packets
 *    lost; the number is reported on the next frame handed out. A
 *    duplicate or older packet (up to 2^15 behind) is skipped and counted,
 *    except that after RTP_RESYNC of them in a row the track follows the
 *    new numbering (a sender that restarted). A new SSRC resyncs too.
 *  - A loss while a unit is being assembled (the unit has data, or the
 *    packet after the gap continues a fragmented NAL unit) discards the
 *    unit: a decoder cannot use it. A gap between two units is counted
 *    only; the unit after it is kept.
 *  - A unit over max_frame is discarded and counted (oversized).
 *  - Malformed packets (bad RTP header, a truncated aggregation or
 *    fragment) are counted (bad) and discard the unit they were part of.
 *    Packet types the track does not read (STAP-B, MTAP, FU-B, PACI, ...)
 *    are skipped and counted (unsupported).
 *  - Timestamps are unwrapped to 64 bits (steps of up to 2^31 either way)
 *    and pts = (unwrapped - first) / clock, in seconds.
 *  - Keyframes: H.264 IDR (type 5), H.265 IRAP (types 16..21). Before the
 *    first keyframe slice of a unit that has not carried them itself, the
 *    last parameter sets the track knows (in-band, or from the fmtp's
 *    sprop values) are inserted, so that a cut at any keyframe decodes.
 *
 * Sans-IO, plain C (no lua.h). The only allocation is the track's buffer,
 * bounded by max_frame. Fuzzed by fuzz/rtp_depack.c. */
#ifndef VIGI_RTP_H
#define VIGI_RTP_H

#include <stddef.h>
#include <stdint.h>

#define RTP_HEADER_SIZE 12
#define RTP_DEFAULT_MAX_FRAME (4u * 1024 * 1024)
/* The smallest max_frame a track accepts (smaller values are read as
 * this): room for the parameter sets and a slice header. */
#define RTP_MIN_MAX_FRAME 4096
/* Largest parameter set (VPS, SPS or PPS) kept; larger ones are not. */
#define RTP_MAX_PARAM 1024
/* Older-than-expected packets in a row after which the track resyncs. */
#define RTP_RESYNC 64

/* rtp_parse() results. */
enum {
  RTP_OK = 0,
  RTP_ESHORT = -1,    /* under 12 bytes, or the CSRC list or the extension
                         runs past the end */
  RTP_EVERSION = -2,  /* version is not 2 */
  RTP_EPADDING = -3   /* padding count 0 or longer than the payload */
};

typedef struct rtp_packet {
  int marker;
  int pt;              /* payload type, 0..127 */
  uint16_t seq;
  uint32_t timestamp;
  uint32_t ssrc;
  unsigned csrc_count; /* the CSRC list is skipped */
  int has_extension;   /* the extension is skipped */
  const unsigned char *payload; /* inside the packet; padding removed */
  size_t payload_len;
} rtp_packet;

/* Reads the header of the packet p[0..len). Returns RTP_OK and fills *out,
 * or a negative code (out is then undefined). */
int rtp_parse(const unsigned char *p, size_t len, rtp_packet *out);

/* Short stable name of an rtp_parse() result. */
const char *rtp_strerror(int code);

/* ---- depacketizer ------------------------------------------------- */

enum { RTP_H264 = 1, RTP_H265 = 2, RTP_PCMA = 3, RTP_PCMU = 4 };

/* rtp_track_push() results. */
enum {
  RTP_NONE = 0,  /* packet taken (or skipped); no frame yet */
  RTP_FRAME = 1, /* packet taken; *out is a frame */
  RTP_FRAME_RETRY = 2 /* *out is the pending unit, ended because the
                         packet has a new timestamp; the packet was NOT
                         taken: give it again once done with *out */
};

typedef struct rtp_frame {
  const unsigned char *data; /* valid until the next call on the track */
  size_t len;
  uint32_t timestamp;        /* as sent */
  int64_t unwrapped;         /* 64-bit timestamp, continuous across wraps */
  double pts;                /* seconds since the track's first packet */
  uint16_t seq;              /* of the unit's last packet */
  int keyframe;              /* video: IDR / IRAP; audio: always 1 */
  unsigned long long lost;   /* packets missing since the previous frame */
} rtp_frame;

typedef struct rtp_track {
  int codec;
  uint32_t clock;            /* Hz, > 0 */
  size_t max_frame;          /* set after rtp_track_init() to change */

  /* Counters, for the caller to read. */
  unsigned long long packets, lost, duplicates, bad, oversized, unsupported, frames;
  size_t peak;               /* the most the buffer ever held */

  /* Private from here. */
  unsigned char *buf;        /* the unit being assembled */
  size_t len, cap;
  int have_seq, have_ts, have_ssrc;
  uint16_t next_seq;
  unsigned old_run;          /* older packets in a row */
  uint32_t ssrc;
  uint32_t last_ts;          /* raw timestamp of the last packet taken */
  int64_t last_ext, first_ext;
  unsigned long long pending_lost;
  /* The unit being assembled. */
  int au_open;               /* a packet of it was taken */
  uint32_t au_ts;
  int64_t au_ext;
  uint16_t au_seq;
  int au_broken;             /* discard it when it ends */
  int au_oversized;
  int au_key;
  int au_has[3];             /* VPS, SPS, PPS seen in it */
  int fu_open;               /* a fragmented NAL unit is being written */
  int fu_type;
  size_t fu_start;           /* offset of its first byte (the NAL header) */
  /* Parameter sets: 0 VPS (H.265 only), 1 SPS, 2 PPS. */
  unsigned char ps[3][RTP_MAX_PARAM];
  size_t ps_len[3];
} rtp_track;

/* Readies t for codec (RTP_H264 ...) with the given clock (0: 90,000 for
 * video, 8,000 for audio) and max_frame RTP_DEFAULT_MAX_FRAME. */
void rtp_track_init(rtp_track *t, int codec, uint32_t clock);

/* Frees the buffer; t may be initialised again afterwards. */
void rtp_track_free(rtp_track *t);

/* Reads the sprop parameter sets out of an SDP fmtp line or its value:
 * "a=fmtp:96 packetization-mode=1; sprop-parameter-sets=<b64>,<b64>" for
 * H.264, sprop-vps=, sprop-sps=, sprop-pps= for H.265 (names in any case,
 * spaces around ';' and '=', and inside a name: the document's example
 * spells "sprop-parameter- sets"). Base64 is read strictly (standard alphabet,
 * '=' only as padding, no stray bits); a set over RTP_MAX_PARAM bytes, of
 * the wrong NAL type or not decodable is not taken. Returns the number of
 * sets taken, or -1 - that number when something was malformed. */
int rtp_track_fmtp(rtp_track *t, const char *fmtp, size_t len);

/* Gives the track one RTP packet p[0..len). Returns RTP_NONE, RTP_FRAME or
 * RTP_FRAME_RETRY (see above), or RTP_NONE with t->bad counted when the
 * packet is malformed. out->data points into t's buffer (video) or into p
 * (audio). */
int rtp_track_push(rtp_track *t, const unsigned char *p, size_t len, rtp_frame *out);

/* End of stream: hands out the pending unit, if any is complete enough.
 * Returns RTP_FRAME or RTP_NONE. */
int rtp_track_flush(rtp_track *t, rtp_frame *out);

/* Decodes strict base64 (see rtp_track_fmtp) into out[0..cap). Returns the
 * number of bytes, or -1. */
long rtp_base64_decode(const char *in, size_t len, unsigned char *out, size_t cap);

/* ---- talk packetizer ---------------------------------------------- */

/* Interleave header ('$', channel, 16-bit length) plus the RTP header. */
#define RTP_TALK_OVERHEAD (4 + RTP_HEADER_SIZE)
#define RTP_TALK_MAX_PAYLOAD (65535 - RTP_HEADER_SIZE)

typedef struct rtp_talk {
  unsigned channel;   /* 0..255 */
  int pt;             /* 8 PCMA, 0 PCMU */
  uint32_t ssrc;
  uint16_t seq;       /* of the next packet */
  uint32_t timestamp; /* of the next packet */
  unsigned long long packets;
} rtp_talk;

/* Writes one "$"-framed packet carrying payload[0..n) (G.711: n samples)
 * to out, which has room for RTP_TALK_OVERHEAD + n bytes, and steps seq
 * and timestamp (by n). The marker is set on the first packet only.
 * Returns the bytes written, or 0 when n is over RTP_TALK_MAX_PAYLOAD. */
size_t rtp_talk_packet(rtp_talk *k, const unsigned char *payload, size_t n, unsigned char *out);

#endif
