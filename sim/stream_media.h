/* The media of the stream port: the clips built into the binary
 * (sim/media/, see its README.md), split into NAL units and access units,
 * the RTP payloads of a picture (RFC 6184 for H.264, RFC 7798 for H.265),
 * the G.711 tone, the recording file served by download, and G.711
 * decoding for what talk receives.
 *
 * Everything here is read-only after sm_init(); the pointers returned point
 * into the embedded bytes or into tables that live until sm_free(). */
#ifndef SIM_STREAM_MEDIA_H
#define SIM_STREAM_MEDIA_H

#include <stddef.h>
#include <stdint.h>

#define SM_FRAME_MS      40u        /* 25 fps */
#define SM_VIDEO_TICKS   3600u      /* 90 kHz per picture */
#define SM_AUDIO_MS      20u        /* one G.711 packet */
#define SM_AUDIO_BYTES   160u       /* 8 kHz, 20 ms */
#define SM_GOP           25u
#define SM_CLIP_MS       4000u      /* every clip lasts this long */

enum sm_codec { SM_H264, SM_H265 };

struct sm_nal {
	const uint8_t *p;       /* the NAL unit, header included, no start code */
	size_t len;
};

struct sm_au {
	size_t first, n;        /* NAL units [first, first + n) of the clip */
	int key;                /* an IDR (or IRAP) picture */
};

struct sm_clip {
	enum sm_codec codec;
	struct sm_nal *nals;
	size_t nnals;
	struct sm_au *aus;
	size_t naus;
	char rtpmap[32];        /* "96 H264/90000" */
	char fmtp[1024];        /* "a=fmtp:96 ..." with the parameter sets */
};

/* Parse the embedded clips. Returns 0, or -1 (out of memory, or a clip
 * that is not what sim/media/README.md says). Idempotent. */
int sm_init(void);
void sm_free(void);

const struct sm_clip *sm_clip(enum sm_codec codec);
const char *sm_codec_name(enum sm_codec codec);     /* "H264", "H265" */

/* The next key picture at or after au (wrapping around). */
size_t sm_next_key(const struct sm_clip *c, size_t au);

/* The raw A-law tone, and the recording file with its SHA-256 (hex). */
const uint8_t *sm_alaw(size_t *len);
const uint8_t *sm_recording(size_t *len);
const char *sm_recording_sha256(void);

/* One RTP payload: prefix (built by the packetizer: an FU header, a whole
 * aggregation packet) followed by data (bytes of the clip). last says it
 * is the last payload of the picture (the marker). */
typedef void (*sm_emit_fn)(void *arg, const uint8_t *prefix, size_t plen,
			   const uint8_t *data, size_t dlen, int last);

/* The RTP payloads of picture au, each at most mtu bytes: the parameter
 * sets of a key picture in one aggregation packet (STAP-A / AP), other NAL
 * units whole when they fit, fragmented (FU-A / FU) when they do not. */
void sm_packetize(const struct sm_clip *c, size_t au, size_t mtu, sm_emit_fn fn, void *arg);

/* G.711 to 16-bit linear PCM. */
int16_t sm_alaw_decode(uint8_t v);
int16_t sm_ulaw_decode(uint8_t v);

#endif
