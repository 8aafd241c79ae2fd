/* The media producer of the stream port (layer 4: under the sessions,
 * over the faults, the messages and the writer; see stream_int.h): for each
 * connection, the next picture, audio packet or download chunk of its
 * sessions as it falls due on the session's clock and as the client reads
 * it, into the writer's queue. It never touches the socket: the connection
 * (stream.c) asks it for media and flushes what it made. */
#include "stream_int.h"

#define PUMP_BUDGET     512             /* units made per turn, then the loop runs */
#define LAG_MS          1000u           /* behind by more: the clock starts again */

/* The session's pacing clock starts again from now (a new session, a new
 * window, a new speed, or a reader too slow to catch up with). */
void pace_rebase(struct stream_server *srv, struct sess *s)
{
	s->t0 = loop_now(srv->lp);
	s->ev = s->ea = s->eb = 0;
	s->speed_gen = srv->speed_gen;
}

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
		pace_rebase(srv, s);
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
	if (put_chunk(c, s, s->ch0, file + s->off, k) < 0)
		return;
	s->off += k;
	s->eb += k;
	frame_done(c, s);
	if (s->off >= s->stop_at && !c->closing && !s->endless)
		notify_end(c, s, "file_end");
}

/* Make media while it is due and the queue has room; arm the pump timer
 * (the connection's, which calls back into stream.c) for the next unit.
 * Returns 1 if it stopped because the queue is full. */
int pace_pump(struct conn *c)
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
			pace_rebase(srv, best);
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
