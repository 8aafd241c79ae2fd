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

#define SM_FRAME_MS      40u        /* 25 fps: the built-in clips' */
#define SM_VIDEO_TICKS   3600u      /* 90 kHz per picture, at 25 fps */
#define SM_AUDIO_MS      20u        /* one G.711 packet */
#define SM_AUDIO_BYTES   160u       /* 8 kHz, 20 ms */
#define SM_GOP           25u
#define SM_CLIP_MS       4000u      /* the built-in clips, and the recording, last this long */
#define SM_MEDIA_MAX     ((size_t)1 << 30)  /* --media: the largest file read */

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
	double frame_ms;        /* one picture's time: 1000 / fps */
	uint32_t ticks;         /* one picture in 90 kHz RTP time */
	uint8_t *owned;         /* the bytes of a --media file (NULL: built in) */
};

/* Parse the embedded clips. Returns 0, or -1 (out of memory, or a clip
 * that is not what sim/media/README.md says). Idempotent. */
int sm_init(void);
void sm_free(void);

/* --media FILE: an H.264 or H.265 Annex-B elementary stream (the codec
 * found from its first NAL unit) takes the place of the built-in clip of
 * its codec, played at fps pictures a second. Call after sm_init.
 * Returns the codec, or -1 with a message in err (unreadable, larger than
 * SM_MEDIA_MAX, no picture, not starting with a key picture and its
 * parameter sets). */
int sm_load_media(const char *path, unsigned fps, char *err, size_t errsz);

const struct sm_clip *sm_clip(enum sm_codec codec);
const char *sm_codec_name(enum sm_codec codec);     /* "H264", "H265" */

/* The picture playing at second t of a clip that loops (a playback
 * window): the key picture at or after it. */
size_t sm_position(const struct sm_clip *c, long long t);

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
