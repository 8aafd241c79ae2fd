/* The stream port's faults (stream_fault in docs/sim.md): which one is in
 * force, and what it does to a connection's output once enough frames have
 * gone out (cut, garbage, a huge frame, a stall, stray channels, a codec
 * change; a stale nonce is played by the authorization in stream.c). */
#include "stream_int.h"

#include <string.h>

#include "log.h"

#define GARBAGE_LEN     100
#define STRAY_FRAMES    3

const char *const fault_names[F_COUNT] = {
	"none", "cut_mid_frame", "garbage", "huge_frame", "stale_nonce", "stall",
	"stray_channel", "codec_change"
};

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
	if (srv->fault == F_NONE || srv->fault == F_STALE_NONCE || c->fault_done ||
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
	}
}
