/* The stream port's faults (stream_fault in docs/sim.md): which one is in
 * force, and what it does to a connection's output once enough frames have
 * gone out (cut, garbage, a huge frame, a stall, stray channels, a codec
 * change; a stale nonce is played by the authorization in stream.c).
 * Layer 5 of the stream port, beside the messages (stream_int.h has the
 * layers): called by the media producer, stream.c and the admin endpoints;
 * calls only the writer and the media leaf. What it does to the layers
 * above it, it does by flags on the connection (mute, flood, giant,
 * stalled, cut_next) that they read.
 *
 * Three are a hostile peer's: answers are withheld and the connection
 * sends, as fast as the client reads, notifications without end
 * (notify_flood) or giant pictures (giant_frames), or nothing but one
 * garbage byte every TRICKLE_MS (garbage_trickle). With after 0 they start
 * at the first authorized request of a connection, before its answer. */
#define _GNU_SOURCE
#include "stream_int.h"

#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"

#define GARBAGE_LEN     100
#define STRAY_FRAMES    3
#define TRICKLE_MS      500u
#define GIANT_BYTES     (3984588u)      /* 3.8 MiB: one picture of giant_frames */

const char *const fault_names[F_COUNT] = {
	"none", "cut_mid_frame", "garbage", "huge_frame", "stale_nonce", "stall",
	"stray_channel", "codec_change", "notify_flood", "garbage_trickle", "giant_frames", "deaf"
};

static int hostile(enum sfault f)
{
	return f == F_NOTIFY_FLOOD || f == F_GARBAGE_TRICKLE || f == F_GIANT_FRAMES;
}

/* The hostile faults, once they fire on c. */
static void fire_hostile(struct conn *c, enum sfault f)
{
	c->mute = 1;
	if (f == F_NOTIFY_FLOOD) {
		c->flood = 1;
	} else if (f == F_GIANT_FRAMES) {
		c->giant = 1;
	} else {
		c->stalled = 1;
		c->stall_end = c->outlen;
		c->trickle = 1;
		loop_timer_start(c->srv->lp, &c->trickle_timer, TRICKLE_MS);
	}
}

void fault_on_request(struct conn *c)
{
	struct stream_server *srv = c->srv;
	if (!hostile(srv->fault) || srv->fault_after != 0 || c->fault_done ||
	    c->fault_gen != srv->fault_gen)
		return;
	c->fault_done = 1;
	sim_log("stream conn %lu: fault %s", c->id, fault_names[srv->fault]);
	fire_hostile(c, srv->fault);
}

/* garbage_trickle: one byte, straight to the socket once everything
 * allowed out has gone (never '$', so that no frame header swallows the
 * bytes that follow). */
void fault_trickle_timer(void *arg)
{
	struct conn *c = arg;
	if (!c->trickle)
		return;
	if (c->outoff >= c->stall_end) {
		uint8_t b;
		do
			b = (uint8_t)rand32();
		while (b == '$');
		(void)send(c->fd, &b, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	loop_timer_start(c->srv->lp, &c->trickle_timer, TRICKLE_MS);
}

/* giant_frames: one picture of GIANT_BYTES, a single non-key NAL unit of
 * the session's codec in fragmentation units (FU-A, RFC 6184 5.8; FU,
 * RFC 7798 4.4.3), sent whatever the pace. */
void step_giant(struct conn *c, struct sess *s)
{
	static uint8_t fill[STREAM_MTU];
	int h265 = s->codec == SM_H265;
	uint8_t fu[3];
	size_t hl = h265 ? 3 : 2, left = GIANT_BYTES, chunk = STREAM_MTU - hl;
	uint32_t ts = s->vts0 + (uint32_t)(s->vframes * sm_clip(s->codec)->ticks);
	if (fill[0] == 0)
		memset(fill, 0x5a, sizeof fill);
	if (h265) {
		fu[0] = 49 << 1;        /* FU, layer 0 */
		fu[1] = 1;              /* tid 1 */
	} else {
		fu[0] = 0x40 | 28;      /* nri 2, FU-A */
	}
	for (int first = 1; left > 0 && !c->closing && !c->overflow; first = 0) {
		size_t k = left < chunk ? left : chunk;
		left -= k;
		/* type 1: a non-IDR slice (H.264), TRAIL_R (H.265) */
		fu[hl - 1] = (uint8_t)((first ? 0x80 : 0) | (left == 0 ? 0x40 : 0) | 1);
		put_rtp(c, s, s->ch0, 96, left == 0, s->vseq++, ts, s->vssrc, fu, hl, fill, k);
	}
	s->vframes++;
	s->ev++;
	s->wv++;
	s->frames_sent++;
}

/* deaf: counts the talk packets received on c; after N, nothing more is
 * read from c, and its receive buffer shrinks to the least the kernel
 * keeps (SO_RCVBUF), so that the client's writes soon stop going out
 * (the kernel acknowledges what fits in that buffer, read or not). */
#define DEAF_RCVBUF     1024

void fault_on_talk(struct conn *c)
{
	struct stream_server *srv = c->srv;
	int small = DEAF_RCVBUF;
	if (srv->fault != F_DEAF || c->fault_done || c->fault_gen != srv->fault_gen)
		return;
	if (++c->fault_frames < (unsigned long)srv->fault_after)
		return;
	c->fault_done = 1;
	c->deaf = 1;
	(void)setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
	sim_log("stream conn %lu: fault deaf", c->id);
}

/* A new connection starts under the fault in force. */
void fault_conn_init(struct conn *c)
{
	c->fault_gen = c->srv->fault_gen;
	c->stale_pending = c->srv->fault == F_STALE_NONCE;
}

static int lowest_free_channel(const struct conn *c)
{
	for (int ch = 0; ch < CHANNELS; ch++)
		if (!c->reserved[ch])
			return ch;
	return 255;
}

/* A picture (or a download chunk) went out: the fault in force may fire. */
void frame_done(struct conn *c, struct sess *s)
{
	struct stream_server *srv = c->srv;
	s->frames_sent++;
	if (srv->fault == F_NONE || srv->fault == F_STALE_NONCE || srv->fault == F_DEAF || c->fault_done ||
	    c->fault_gen != srv->fault_gen)
		return;
	if (++c->fault_frames < (unsigned long)srv->fault_after)
		return;
	c->fault_done = 1;
	sim_log("stream conn %lu: fault %s", c->id, fault_names[srv->fault]);
	switch (srv->fault) {
	case F_CUT_MID_FRAME:
		c->cut_next = 1;
		break;
	case F_GARBAGE: {
		uint8_t junk[GARBAGE_LEN];
		if (RAND_bytes(junk, sizeof junk) != 1)
			abort();
		out_put(c, junk, sizeof junk);
		break;
	}
	case F_HUGE_FRAME: {
		uint8_t h[4 + 16] = {'$', (uint8_t)s->ch0, 0xff, 0xff};
		memset(h + 4, 0x80, sizeof h - 4);
		out_put(c, h, sizeof h);
		c->closing = 1;
		break;
	}
	case F_STALL:
		c->stalled = 1;         /* what is queued (this picture) still goes */
		c->stall_end = c->outlen;
		break;
	case F_STRAY_CHANNEL: {
		int ch = lowest_free_channel(c);
		uint8_t pay[32];
		memset(pay, 0x5a, sizeof pay);
		uint32_t ssrc = rand32();
		uint16_t seq = (uint16_t)rand32();
		for (int i = 0; i < STRAY_FRAMES; i++)
			put_rtp(c, NULL, ch, 96, 1, (uint16_t)(seq + i), (uint32_t)i * SM_VIDEO_TICKS, ssrc,
				NULL, 0, pay, sizeof pay);
		break;
	}
	case F_CODEC_CHANGE:
		for (struct sess *x = c->sess; x; x = x->next)
			if (x->kind == K_PREVIEW || x->kind == K_PLAYBACK)
				x->switch_codec = 1;
		break;
	case F_NOTIFY_FLOOD:
	case F_GARBAGE_TRICKLE:
	case F_GIANT_FRAMES:
		fire_hostile(c, srv->fault);
		break;
	default:
		break;
	}
}

/* Put f in force (after frames): every connection counts again from 0. */
void set_fault(struct stream_server *srv, enum sfault f, int after)
{
	srv->fault = f;
	srv->fault_after = after;
	srv->fault_gen++;
	for (struct conn *c = srv->conns; c; c = c->next) {
		c->fault_gen = srv->fault_gen;
		c->fault_frames = 0;
		c->fault_done = 0;
		c->stale_pending = f == F_STALE_NONCE;
		if (f != F_STALL)
			c->stalled = 0;
		if (f != F_CUT_MID_FRAME)
			c->cut_next = 0;
		c->mute = c->flood = c->trickle = c->giant = 0;
		loop_timer_stop(srv->lp, &c->trickle_timer);
		if (c->deaf) {
			/* it reads again: what waits, and the end of a client gone */
			c->deaf = 0;
			c->events = POLLIN;
			loop_io_set(srv->lp, c->fd, c->events);
		}
	}
}
