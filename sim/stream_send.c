/* The stream port's sending side: the bounded send queue of each
 * connection, "$" frames (RTP packets and download chunks), and the pacing
 * that makes media as it falls due and as the client reads it. */
#define _GNU_SOURCE
#include "stream_int.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"

#define PUMP_BUDGET     512             /* units made per turn, then the loop runs */
#define LAG_MS          1000u           /* behind by more: the clock starts again */

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* The 4 bytes before a frame of len bytes on channel ch. */
static void frame_head(uint8_t *p, int ch, size_t len)
{
	p[0] = '$';
	p[1] = (uint8_t)ch;
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
}

size_t unsent(const struct conn *c)
{
	return c->outlen - c->outoff;
}

/* The bytes that may go out now: all unsent ones, or under the stall fault
 * only those queued before it. */
static size_t sendable(const struct conn *c)
{
	if (unsent(c) == 0)
		return 0;
	if (!c->stalled)
		return unsent(c);
	return c->outoff < c->stall_end ? c->stall_end - c->outoff : 0;
}

/* ---- output ---- */

/* Room for n more bytes at the end of the queue, or NULL (the connection
 * is then marked to be closed). */
uint8_t *out_space(struct conn *c, size_t n)
{
	if (c->overflow)
		return NULL;
	if (unsent(c) + n > STREAM_OUT_MAX) {
		sim_log("stream conn %lu: %zu bytes unsent, closing it", c->id, unsent(c));
		c->overflow = 1;
		return NULL;
	}
	if (c->outoff > 0 && c->outlen + n > c->outcap) {
		memmove(c->out, c->out + c->outoff, unsent(c));
		c->outlen -= c->outoff;
		c->stall_end = c->stall_end > c->outoff ? c->stall_end - c->outoff : 0;
		c->outoff = 0;
	}
	if (c->outlen + n > c->outcap) {
		size_t cap = c->outcap ? c->outcap : 16384;
		while (cap < c->outlen + n)
			cap *= 2;
		uint8_t *p = realloc(c->out, cap);
		if (!p) {
			c->overflow = 1;
			return NULL;
		}
		c->out = p;
		c->outcap = cap;
	}
	uint8_t *p = c->out + c->outlen;
	c->outlen += n;
	return p;
}

void out_put(struct conn *c, const void *data, size_t n)
{
	uint8_t *p = out_space(c, n);
	if (p)
		memcpy(p, data, n);
}

/* A whole "$" frame of n bytes was just queued: the cut fault keeps half. */
static void frame_queued(struct conn *c, size_t n)
{
	if (!c->cut_next)
		return;
	c->cut_next = 0;
	c->outlen -= n - n / 2;
	c->closing = 1;
	sim_log("stream conn %lu: fault cut_mid_frame", c->id);
}

void put_rtp(struct conn *c, struct sess *s, int ch, int pt, int marker, uint16_t seq,
	     uint32_t ts, uint32_t ssrc, const uint8_t *a, size_t alen,
	     const uint8_t *b, size_t blen)
{
	size_t len = 12 + alen + blen;
	if (c->closing || len > 0xffff)
		return;
	uint8_t *p = out_space(c, 4 + len);
	if (!p)
		return;
	frame_head(p, ch, len);
	p[4] = 0x80;
	p[5] = (uint8_t)((marker ? 0x80 : 0) | pt);
	p[6] = (uint8_t)(seq >> 8);
	p[7] = (uint8_t)seq;
	put32(p + 8, ts);
	put32(p + 12, ssrc);
	if (alen)
		memcpy(p + 16, a, alen);
	if (blen)
		memcpy(p + 16 + alen, b, blen);
	if (s)
		s->bytes_sent += 4 + len;
	frame_queued(c, 4 + len);
}

/* ---- media ---- */

struct emit_ctx {
	struct conn *c;
	struct sess *s;
	uint32_t ts;
};

static void emit_video(void *arg, const uint8_t *prefix, size_t plen, const uint8_t *data,
		       size_t dlen, int last)
{
	struct emit_ctx *e = arg;
	put_rtp(e->c, e->s, e->s->ch0, 96, last, e->s->vseq++, e->ts, e->s->vssrc, prefix, plen,
		data, dlen);
}

static uint64_t window_ms(const struct sess *s)
{
	return (uint64_t)(s->end - s->start) * 1000u;
}

static int video_left(const struct sess *s)
{
	return s->kind == K_PREVIEW || s->endless ||
	       (double)s->wv * sm_clip(s->codec)->frame_ms < (double)window_ms(s);
}

static int audio_left(const struct sess *s)
{
	return s->kind == K_PREVIEW || s->endless || (uint64_t)s->wa * SM_AUDIO_MS < window_ms(s);
}

/* When s's next unit is due (loop ms); 0 if it has nothing to send. */
static int sess_due(struct stream_server *srv, struct sess *s, uint64_t *due, int *video)
{
	double speed = srv->set.speed;
	if (s->ended || s->kind == K_TALK)
		return 0;
	if (s->speed_gen != srv->speed_gen)
		sess_rebase(srv, s);
	double t;
	*video = 0;
	if (s->kind == K_DOWNLOAD && !s->rtp) {
		t = s->size ? (double)s->eb * SM_CLIP_MS / (double)s->size : 0;
	} else {
		double tv = (double)s->ev * sm_clip(s->codec)->frame_ms, ta = (double)s->ea * SM_AUDIO_MS;
		int v = video_left(s), a = audio_left(s);
		if (!v && !a) {
			*due = 0;           /* the end notification is due */
			*video = 1;
			return 1;
		}
		*video = v && (!a || tv <= ta);
		t = *video ? tv : ta;
	}
	*due = speed > 0 ? s->t0 + (uint64_t)(t / speed) : 0;
	return 1;
}

static void step_video(struct conn *c, struct sess *s)
{
	if (s->kind != K_PREVIEW && !video_left(s) && !audio_left(s)) {
		notify_end(c, s, s->kind == K_DOWNLOAD ? "file_end" : "end_time");
		return;
	}
	if (s->switch_codec) {
		s->switch_codec = 0;
		s->codec = s->codec == SM_H264 ? SM_H265 : SM_H264;
		s->au = sm_next_key(sm_clip(s->codec), s->au);
		notify_codec(c, s);
	}
	const struct sm_clip *clip = sm_clip(s->codec);
	s->au %= clip->naus;
	if (s->force_key) {
		s->force_key = 0;
		s->au = sm_next_key(clip, s->au);
	}
	struct emit_ctx e = {c, s, s->vts0 + (uint32_t)(s->vframes * clip->ticks)};
	sm_packetize(clip, s->au, STREAM_MTU, emit_video, &e);
	s->au = (s->au + 1) % clip->naus;
	s->vframes++;
	s->ev++;
	s->wv++;
	frame_done(c, s);
}

static void step_audio(struct conn *c, struct sess *s)
{
	size_t n = 0;
	const uint8_t *tone = sm_alaw(&n);
	uint8_t buf[SM_AUDIO_BYTES];
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = n ? tone[(s->apos + i) % n] : 0xd5;
	s->apos = n ? (s->apos + sizeof buf) % n : 0;
	put_rtp(c, s, s->ch0 + 1, 8, s->apkts == 0, s->aseq++,
		s->ats0 + (uint32_t)(s->apkts * SM_AUDIO_BYTES), s->assrc, NULL, 0, buf, sizeof buf);
	s->apkts++;
	s->ea++;
	s->wa++;
}

static void step_download(struct conn *c, struct sess *s)
{
	size_t n = 0;
	const uint8_t *file = sm_recording(&n);
	if (s->off >= s->stop_at && s->endless) {
		s->off = 0;             /* download_endless: the file again */
		s->stop_at = n;
	}
	if (s->off >= s->stop_at) {
		notify_end(c, s, "file_end");
		return;
	}
	size_t k = s->stop_at - s->off < STREAM_CHUNK ? s->stop_at - s->off : STREAM_CHUNK;
	uint8_t *p = out_space(c, 4 + k);
	if (!p)
		return;
	frame_head(p, s->ch0, k);
	memcpy(p + 4, file + s->off, k);
	s->off += k;
	s->eb += k;
	s->bytes_sent += 4 + k;
	frame_queued(c, 4 + k);
	frame_done(c, s);
	if (s->off >= s->stop_at && !c->closing && !s->endless)
		notify_end(c, s, "file_end");
}

/* Make media while it is due and the queue has room; arm the pump timer
 * for the next unit. Returns 1 if it stopped because the queue is full. */
static int pump(struct conn *c)
{
	struct stream_server *srv = c->srv;
	uint64_t now = loop_now(srv->lp);
	loop_timer_stop(srv->lp, &c->pump);
	for (int budget = PUMP_BUDGET; budget > 0; budget--) {
		if (c->closing || c->stalled || c->overflow)
			return 0;
		if (unsent(c) >= STREAM_OUT_LOW)
			return 1;
		if (c->flood) {
			notify_flood(c);
			continue;
		}
		struct sess *best = NULL;
		uint64_t best_due = 0;
		int best_video = 0;
		for (struct sess *s = c->sess; s; s = s->next) {
			uint64_t due;
			int video;
			if (!sess_due(srv, s, &due, &video))
				continue;
			if (!best || due < best_due) {
				best = s;
				best_due = due;
				best_video = video;
			}
		}
		if (!best)
			return 0;
		if (c->giant && best->kind != K_DOWNLOAD) {
			step_giant(c, best);        /* whatever the pace */
			continue;
		}
		if (best_due > now) {
			loop_timer_start(srv->lp, &c->pump, best_due - now);
			return 0;
		}
		if (srv->set.speed > 0 && best_due != 0 && now - best_due > LAG_MS) {
			/* A slow reader: do not burst to catch up, go on from now.
			 * (Due 0 is the end notification, due at once: no lag.) */
			sess_rebase(srv, best);
			continue;
		}
		if (best->kind == K_DOWNLOAD && !best->rtp)
			step_download(c, best);
		else if (best_video)
			step_video(c, best);
		else
			step_audio(c, best);
	}
	loop_timer_start(srv->lp, &c->pump, 0);
	return 0;
}

/* ---- the connection's output ---- */

/* Flush, make media, flush; close when done or broken. c may be freed. */
void conn_service(struct conn *c)
{
	struct stream_server *srv = c->srv;
	int full = 1;
	for (int round = 0;; round++) {
		if (c->overflow) {
			conn_kill(c);
			return;
		}
		for (size_t k; (k = sendable(c)) > 0;) {
			ssize_t n = send(c->fd, c->out + c->outoff, k, MSG_NOSIGNAL);
			if (n > 0) {
				c->outoff += (size_t)n;
				continue;
			}
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				break;
			conn_kill(c);
			return;
		}
		if (unsent(c) == 0)
			c->outoff = c->outlen = c->stall_end = 0;
		if (c->closing && unsent(c) == 0) {
			shutdown(c->fd, SHUT_WR);
			conn_kill(c);
			return;
		}
		if (!full || round == 4)
			break;
		full = pump(c);
	}
	if (full && !c->stalled && unsent(c) < STREAM_OUT_LOW)
		loop_timer_start(srv->lp, &c->pump, 0);    /* drained at once: more next turn */
	unsigned ev = c->deaf ? 0 : POLLIN;
	if (sendable(c) > 0)
		ev |= POLLOUT;
	if (ev != c->events) {
		c->events = ev;
		loop_io_set(srv->lp, c->fd, ev);
	}
}

void conn_pump_timer(void *arg)
{
	conn_service(arg);
}

