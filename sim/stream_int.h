/* What the stream port's files share (not for the rest of vigi-sim): the
 * server, connection and session structs, and the functions each file
 * offers the others.
 *
 * The files are layers; each calls only the ones below it:
 *
 *   1 stream_admin.c    the /__sim__/stream_* admin endpoints
 *   2 stream.c          server, listener, connection lifecycle, reading and
 *                       authorizing requests; conn_service runs the output:
 *                       flush (writer), make media (producer), flush
 *   3 stream_session.c  sessions and channels, the MULTITRANS methods
 *   4 stream_pace.c     the media producer: pictures, audio, download
 *                       chunks as they fall due and as the client reads
 *   5 stream_fault.c    the faults, as media goes out  \  side by side,
 *   5 stream_reply.c    RTSP answers, notifications     /  neither calls the other
 *   6 stream_send.c     the writer: the bounded send queue, "$" frames, the
 *                       socket writes
 *
 * and under them all the leaves, which know nothing of connections:
 * stream_media.c (the clips), stream_talk.c (what talk receives),
 * stream_digest.c (digest authentication).
 *
 * Where a lower layer has news for an upper one it does not call up: the
 * writer returns it (out_flush: the connection is over), the producer arms
 * the connection's pump timer (whose callback stream.c set), and a fault
 * sets flags on the connection that the layers read.
 */
#ifndef SIM_STREAM_INT_H
#define SIM_STREAM_INT_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cjson/cJSON.h>
#include <openssl/rand.h>

#include "listen.h"
#include "stream.h"
#include "stream_media.h"
#include "stream_talk.h"

#define IN_MAX          (STREAM_HEAD_MAX + STREAM_BODY_MAX)
#define RECENT_MAX      32              /* finished sessions shown in stream_state */
#define CHANNELS        256

enum kind { K_PREVIEW, K_PLAYBACK, K_DOWNLOAD, K_TALK };

enum sfault {
	F_NONE, F_CUT_MID_FRAME, F_GARBAGE, F_HUGE_FRAME, F_STALE_NONCE, F_STALL,
	F_STRAY_CHANNEL, F_CODEC_CHANGE, F_NOTIFY_FLOOD, F_GARBAGE_TRICKLE, F_GIANT_FRAMES,
	F_DEAF, F_COUNT
};
extern const char *const fault_names[F_COUNT];

struct sess {
	struct sess *next;
	char id[24];
	enum kind kind;
	int ch0, nch;                   /* channel ids ch0 .. ch0+nch-1 */
	enum sm_codec codec;
	size_t au;                      /* next picture of the clip */
	int force_key, switch_codec;
	uint16_t vseq, aseq;
	uint32_t vts0, ats0, vssrc, assrc;
	unsigned long long vframes, apkts;      /* since the start: timestamps */
	size_t apos;                    /* next byte of the tone */
	uint64_t t0;                    /* the pacing clock's start (loop ms) */
	unsigned long long ev, ea, eb;  /* pictures, audio packets, bytes since t0 */
	unsigned speed_gen;
	long long start, end;           /* playback window (epoch seconds) */
	unsigned long long wv, wa;      /* pictures, audio packets in the window */
	size_t off, stop_at, size;      /* download: next byte, end, file size */
	int rtp;                        /* download: RTP of the clip, not the file's bytes */
	int endless;                    /* download: never ends (download_endless) */
	int ended, stopped;
	unsigned long long frames_sent, bytes_sent;
	struct talk_rec *talk;
	char mode[24];
};

/* A session as stream_state shows it; kept for finished ones. */
struct recent {
	char id[24];
	enum kind kind;
	int ch0, nch;
	enum sm_codec codec;
	long long start, end;
	unsigned long long frames_sent, bytes_sent;
	int ended, stopped, rtp;
	unsigned long conn;
};

struct conn;

struct stream_server {
	struct loop *lp;
	struct camera *cam;
	struct listener ls;
	struct conn *conns;
	size_t nconns;
	unsigned long next_conn_id;
	unsigned long next_sid;
	struct stream_settings set, start;      /* in force; from the flags */
	unsigned speed_gen;
	enum sfault fault;
	int fault_after;
	unsigned fault_gen;
	unsigned long long requests, auth_failures, stray_in;
	struct recent recent[RECENT_MAX];
	size_t nrecent, recent_next;
	struct talk_list talk;
};

struct conn {
	struct stream_server *srv;
	struct conn *prev, *next;
	unsigned long id;
	int fd;
	uint8_t *in;
	size_t inlen, incap;
	uint8_t *out;
	size_t outoff, outlen, outcap;
	int closing;            /* send what is queued, then close */
	int overflow;
	int stalled;            /* the stall fault: send nothing past stall_end */
	size_t stall_end;       /* offset in out of the end of what goes out */
	int cut_next;           /* the cut_mid_frame fault: cut the next frame */
	/* The hostile faults: answers are never sent (mute), and instead
	 * notifications without end (flood), a garbage byte every
	 * TRICKLE_MS (trickle, with stalled), or giant pictures (giant). */
	int mute, flood, trickle, giant;
	/* The deaf fault: nothing more is read from the client, with a
	 * small receive buffer, so that its writes soon stop going out. */
	int deaf;
	unsigned long long flood_n;
	unsigned events;
	struct loop_timer pump, idle, trickle_timer;
	char nonce[33], prev_nonce[33], opaque[33];
	unsigned long last_nc;
	unsigned long auth_ok;
	int stale_pending;
	unsigned fault_gen;
	unsigned long fault_frames;
	int fault_done;
	unsigned cseq_out;
	struct sess *sess;
	size_t nsess;
	uint8_t reserved[CHANNELS];
};

/* A request, its strings pointing into the connection's input. */
struct req {
	char *method, *uri, *cseq, *auth, *session;
	const char *body;
	size_t clen;
};

static inline uint32_t rand32(void)
{
	uint32_t v = 0;
	if (RAND_bytes((unsigned char *)&v, sizeof v) != 1)
		abort();
	return v;
}

/* The prototypes, top layer first. */

/* stream.c */
void conn_kill(struct conn *c);
void conn_service(struct conn *c);

/* stream_session.c */
struct sess *sess_by_channel(struct conn *c, int ch);
void sess_free(struct conn *c, struct sess *s);
void recent_fill(struct recent *r, const struct conn *c, const struct sess *s);
void dispatch(struct conn *c, const struct req *r);

/* stream_pace.c */
void pace_rebase(struct stream_server *srv, struct sess *s);
int pace_pump(struct conn *c);

/* stream_fault.c */
void fault_conn_init(struct conn *c);
void frame_done(struct conn *c, struct sess *s);
void set_fault(struct stream_server *srv, enum sfault f, int after);
void fault_on_request(struct conn *c);
void fault_trickle_timer(void *arg);
void step_giant(struct conn *c, struct sess *s);
void fault_on_talk(struct conn *c);

/* stream_reply.c */
void answer_status(struct conn *c, const struct req *r, int code, const char *reason,
		   const char *extra);
void answer(struct conn *c, const struct req *r, const char *seq, cJSON *params);
void answer_error(struct conn *c, const struct req *r, const char *seq, int code,
		  const char *msg);
cJSON *result(int code, const char *id);
cJSON *av_config(enum sm_codec codec, int extra);
void notify_end(struct conn *c, struct sess *s, const char *reason);
void notify_flood(struct conn *c);
void notify_codec(struct conn *c, struct sess *s);
void channels_str(int ch0, int nch, char *out, size_t n);
void add_epoch(cJSON *o, const char *name, long long t);

/* stream_send.c */
size_t unsent(const struct conn *c);
size_t sendable(const struct conn *c);
uint8_t *out_space(struct conn *c, size_t n);
void out_put(struct conn *c, const void *data, size_t n);
void put_rtp(struct conn *c, struct sess *s, int ch, int pt, int marker, uint16_t seq,
	     uint32_t ts, uint32_t ssrc, const uint8_t *a, size_t alen,
	     const uint8_t *b, size_t blen);
/* A download chunk of len bytes on channel ch, counted to s; -1 if the
 * queue has no room (the connection is then to be closed). */
int put_chunk(struct conn *c, struct sess *s, int ch, const uint8_t *data, size_t len);
/* Send what may go out now. 0: the socket took what it would; -1: the
 * connection is over (broken, over STREAM_OUT_MAX, or closing with nothing
 * left, its write side then shut), for the caller to free. */
int out_flush(struct conn *c);

#endif
