/* The stream port: listener, connections, MULTITRANS requests, sessions,
 * media pacing and faults. See stream.h and docs/sim.md. */
#define _GNU_SOURCE
#include "stream.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "log.h"
#include "stream_digest.h"
#include "stream_media.h"
#include "stream_talk.h"

#define IN_MAX          (STREAM_HEAD_MAX + STREAM_BODY_MAX)
#define ACCEPT_BATCH    64
#define ACCEPT_RETRY_MS 100u
#define PORT_TRIES      8
#define PUMP_BUDGET     512             /* units made per turn, then the loop runs */
#define LAG_MS          1000u           /* behind by more: the clock starts again */
#define RECENT_MAX      32              /* finished sessions shown in stream_state */
#define CHANNELS        256
#define GARBAGE_LEN     100
#define STRAY_FRAMES    3

enum kind { K_PREVIEW, K_PLAYBACK, K_DOWNLOAD, K_TALK };
static const char *const kind_names[] = {"preview", "playback", "download", "talk"};

enum sfault {
	F_NONE, F_CUT_MID_FRAME, F_GARBAGE, F_HUGE_FRAME, F_STALE_NONCE, F_STALL,
	F_STRAY_CHANNEL, F_CODEC_CHANGE
};
static const char *const fault_names[] = {
	"none", "cut_mid_frame", "garbage", "huge_frame", "stale_nonce", "stall",
	"stray_channel", "codec_change"
};

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
	int ended, stopped;
	unsigned long long frames_sent, bytes_sent;
	struct talk_rec *talk;
	char mode[24];
};

struct recent {
	char id[24];
	enum kind kind;
	int ch0, nch;
	enum sm_codec codec;
	long long start, end;
	unsigned long long frames_sent, bytes_sent;
	int ended, stopped;
	unsigned long conn;
};

struct conn;

struct stream_server {
	struct loop *lp;
	struct camera *cam;
	int fd, port;
	struct loop_timer retry;
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
	unsigned events;
	struct loop_timer pump, idle;
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

static struct stream_server **servers;
static size_t nservers;
static int bound_port;

/* ---- small helpers ---- */

static uint32_t rand32(void)
{
	uint32_t v = 0;
	if (RAND_bytes((unsigned char *)&v, sizeof v) != 1)
		abort();
	return v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static size_t unsent(const struct conn *c)
{
	return c->outlen - c->outoff;
}

/* ---- output ---- */

/* Room for n more bytes at the end of the queue, or NULL (the connection
 * is then marked to be closed). */
static uint8_t *out_space(struct conn *c, size_t n)
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

static void out_put(struct conn *c, const void *data, size_t n)
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

static void put_rtp(struct conn *c, struct sess *s, int ch, int pt, int marker, uint16_t seq,
		    uint32_t ts, uint32_t ssrc, const uint8_t *a, size_t alen,
		    const uint8_t *b, size_t blen)
{
	size_t len = 12 + alen + blen;
	if (c->closing || len > 0xffff)
		return;
	uint8_t *p = out_space(c, 4 + len);
	if (!p)
		return;
	p[0] = '$';
	p[1] = (uint8_t)ch;
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
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

/* An RTSP message: head lines (each ending in CRLF) and a JSON body. */
static void put_message(struct conn *c, const char *head, const char *body)
{
	char lens[48];
	size_t blen = body ? strlen(body) : 0;
	static const char ctype[] = "Content-Type: application/json\r\n";
	snprintf(lens, sizeof lens, "Content-Length: %zu\r\n\r\n", blen);
	out_put(c, head, strlen(head));
	if (body)
		out_put(c, ctype, sizeof ctype - 1);
	out_put(c, lens, strlen(lens));
	if (blen)
		out_put(c, body, blen);
}

/* ---- channels and sessions ---- */

static int channels_take(struct conn *c, int n)
{
	for (int ch = 0; ch + n <= 128; ch += 2) {
		int free_ = 1;
		for (int k = 0; k < n; k++)
			if (c->reserved[ch + k])
				free_ = 0;
		if (!free_)
			continue;
		for (int k = 0; k < n; k++)
			c->reserved[ch + k] = 1;
		return ch;
	}
	return -1;
}

static struct sess *sess_find(struct conn *c, const char *id)
{
	for (struct sess *s = c->sess; s && id; s = s->next)
		if (strcmp(s->id, id) == 0)
			return s;
	return NULL;
}

static struct sess *sess_by_channel(struct conn *c, int ch)
{
	for (struct sess *s = c->sess; s; s = s->next)
		if (ch >= s->ch0 && ch < s->ch0 + s->nch)
			return s;
	return NULL;
}

static void sess_rebase(struct stream_server *srv, struct sess *s)
{
	s->t0 = loop_now(srv->lp);
	s->ev = s->ea = s->eb = 0;
	s->speed_gen = srv->speed_gen;
}

static struct sess *sess_new(struct conn *c, enum kind kind, int nch)
{
	struct stream_server *srv = c->srv;
	if (c->nsess >= STREAM_SESSIONS)
		return NULL;
	struct sess *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->ch0 = channels_take(c, nch);
	if (s->ch0 < 0) {
		free(s);
		return NULL;
	}
	s->nch = nch;
	s->kind = kind;
	snprintf(s->id, sizeof s->id, "%lu", ++srv->next_sid);
	s->codec = srv->set.h265 ? SM_H265 : SM_H264;
	s->vseq = (uint16_t)rand32();
	s->aseq = (uint16_t)rand32();
	s->vts0 = rand32();
	s->ats0 = rand32();
	s->vssrc = rand32();
	do
		s->assrc = rand32();
	while (s->assrc == s->vssrc);
	sess_rebase(srv, s);
	s->next = c->sess;
	c->sess = s;
	c->nsess++;
	return s;
}

static void recent_add(struct stream_server *srv, const struct conn *c, const struct sess *s)
{
	struct recent *r = &srv->recent[srv->recent_next];
	srv->recent_next = (srv->recent_next + 1) % RECENT_MAX;
	if (srv->nrecent < RECENT_MAX)
		srv->nrecent++;
	memcpy(r->id, s->id, sizeof r->id);
	r->kind = s->kind;
	r->ch0 = s->ch0;
	r->nch = s->nch;
	r->codec = s->codec;
	r->start = s->start;
	r->end = s->end;
	r->frames_sent = s->frames_sent;
	r->bytes_sent = s->bytes_sent;
	r->ended = s->ended;
	r->stopped = s->stopped;
	r->conn = c->id;
}

static void sess_free(struct conn *c, struct sess *s)
{
	struct sess **pp = &c->sess;
	while (*pp && *pp != s)
		pp = &(*pp)->next;
	if (*pp)
		*pp = s->next;
	c->nsess--;
	for (int k = 0; k < s->nch; k++)
		c->reserved[s->ch0 + k] = 0;
	recent_add(c->srv, c, s);
	if (s->talk)
		talk_close(&c->srv->talk, s->talk);
	free(s);
}

/* ---- connections ---- */

static void conn_kill(struct conn *c)
{
	struct stream_server *srv = c->srv;
	sim_log("stream conn %lu closed", c->id);
	while (c->sess)
		sess_free(c, c->sess);
	loop_timer_stop(srv->lp, &c->pump);
	loop_timer_stop(srv->lp, &c->idle);
	loop_io_del(srv->lp, c->fd);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv->nconns--;
	free(c->in);
	free(c->out);
	free(c);
}

static void new_nonce(struct conn *c)
{
	memcpy(c->prev_nonce, c->nonce, sizeof c->nonce);
	camera_random_hex(c->nonce, 32);
	c->last_nc = 0;
}

/* ---- notifications ---- */

static void notify(struct conn *c, struct sess *s, cJSON *params)
{
	cJSON *o = cJSON_CreateObject();
	if (!o || !params) {
		cJSON_Delete(o);
		cJSON_Delete(params);
		return;
	}
	cJSON_AddStringToObject(o, "type", "notification");
	cJSON_AddItemToObject(o, "params", params);
	char *body = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!body)
		return;
	char head[256];
	snprintf(head, sizeof head,
		 "MULTITRANS rtsp://%s/multitrans RTSP/1.0\r\nCSeq: %u\r\nSession: %s\r\n",
		 c->srv->cam->address, ++c->cseq_out, s->id);
	put_message(c, head, body);
	cJSON_free(body);
}

static void notify_end(struct conn *c, struct sess *s, const char *reason)
{
	cJSON *p = cJSON_CreateObject();
	if (p) {
		cJSON_AddStringToObject(p, "event_type", "stream_end");
		cJSON_AddStringToObject(p, "session_id", s->id);
		cJSON_AddStringToObject(p, "reason", reason);
	}
	s->ended = 1;
	sim_log("stream conn %lu: session %s ended (%s)", c->id, s->id, reason);
	notify(c, s, p);
}

/* av_config: [{channel, video_codec, audio_codec, ..., extra_data}] */
static cJSON *av_config(enum sm_codec codec, int extra)
{
	const struct sm_clip *clip = sm_clip(codec);
	cJSON *a = cJSON_CreateArray();
	cJSON *o = cJSON_CreateObject();
	if (!a || !o) {
		cJSON_Delete(a);
		cJSON_Delete(o);
		return NULL;
	}
	cJSON_AddItemToArray(a, o);
	cJSON_AddNumberToObject(o, "channel", 0);
	cJSON_AddStringToObject(o, "video_codec", sm_codec_name(codec));
	cJSON_AddStringToObject(o, "audio_codec", "G711alaw");
	cJSON_AddStringToObject(o, "audio_sampling_rate", "8");
	cJSON_AddStringToObject(o, "audio_bitwidth", "16");
	cJSON_AddStringToObject(o, "audio_channels", "1");
	if (extra) {
		cJSON *x = cJSON_AddObjectToObject(o, "extra_data");
		if (x) {
			cJSON_AddStringToObject(x, "video_rtpmap", clip->rtpmap);
			cJSON_AddStringToObject(x, "video_fmtp", clip->fmtp);
			cJSON_AddStringToObject(x, "audio_rtpmap", "8 PCMA/8000");
		}
	}
	return a;
}

static void notify_codec(struct conn *c, struct sess *s)
{
	cJSON *p = cJSON_CreateObject();
	if (p) {
		cJSON_AddStringToObject(p, "event_type", "channel_preview_params");
		cJSON *ch = cJSON_AddArrayToObject(p, "channels");
		if (ch)
			cJSON_AddItemToArray(ch, cJSON_CreateNumber(0));
		cJSON *r = cJSON_AddArrayToObject(p, "resolutions");
		if (r)
			cJSON_AddItemToArray(r, cJSON_CreateString("HD"));
		cJSON *au = cJSON_AddArrayToObject(p, "audio");
		if (au)
			cJSON_AddItemToArray(au, cJSON_CreateString("enable"));
		cJSON *av = av_config(s->codec, 1);
		if (av)
			cJSON_AddItemToObject(p, "av_config", av);
	}
	sim_log("stream conn %lu: session %s now %s", c->id, s->id, sm_codec_name(s->codec));
	notify(c, s, p);
}

/* ---- faults ---- */

static int lowest_free_channel(const struct conn *c)
{
	for (int ch = 0; ch < CHANNELS; ch++)
		if (!c->reserved[ch])
			return ch;
	return 255;
}

/* A picture (or a download chunk) went out: the fault in force may fire. */
static void frame_done(struct conn *c, struct sess *s)
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
	return s->kind == K_PREVIEW || (uint64_t)s->wv * SM_FRAME_MS < window_ms(s);
}

static int audio_left(const struct sess *s)
{
	return s->kind == K_PREVIEW || (uint64_t)s->wa * SM_AUDIO_MS < window_ms(s);
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
	if (s->kind == K_DOWNLOAD) {
		t = s->size ? (double)s->eb * SM_CLIP_MS / (double)s->size : 0;
	} else {
		double tv = (double)s->ev * SM_FRAME_MS, ta = (double)s->ea * SM_AUDIO_MS;
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
	if (s->kind == K_PLAYBACK && !video_left(s) && !audio_left(s)) {
		notify_end(c, s, "end_time");
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
	struct emit_ctx e = {c, s, s->vts0 + (uint32_t)(s->vframes * SM_VIDEO_TICKS)};
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
	if (s->off >= s->stop_at) {
		notify_end(c, s, "file_end");
		return;
	}
	size_t k = s->stop_at - s->off < STREAM_CHUNK ? s->stop_at - s->off : STREAM_CHUNK;
	uint8_t *p = out_space(c, 4 + k);
	if (!p)
		return;
	p[0] = '$';
	p[1] = (uint8_t)s->ch0;
	p[2] = (uint8_t)(k >> 8);
	p[3] = (uint8_t)k;
	memcpy(p + 4, file + s->off, k);
	s->off += k;
	s->eb += k;
	s->bytes_sent += 4 + k;
	frame_queued(c, 4 + k);
	frame_done(c, s);
	if (s->off >= s->stop_at && !c->closing)
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
		if (best_due > now) {
			loop_timer_start(srv->lp, &c->pump, best_due - now);
			return 0;
		}
		if (srv->set.speed > 0 && now - best_due > LAG_MS) {
			/* A slow reader: do not burst to catch up, go on from now. */
			sess_rebase(srv, best);
			continue;
		}
		if (best->kind == K_DOWNLOAD)
			step_download(c, best);
		else if (best_video)
			step_video(c, best);
		else
			step_audio(c, best);
	}
	loop_timer_start(srv->lp, &c->pump, 0);
	return 0;
}

/* ---- answers ---- */

struct req {
	char *method, *uri, *cseq, *auth, *session;
	const char *body;
	size_t clen;
};

static void answer_status(struct conn *c, const struct req *r, int code, const char *reason,
			  const char *extra)
{
	char head[1024];
	snprintf(head, sizeof head, "RTSP/1.0 %d %s\r\n%s%s%s%s", code, reason,
		 r->cseq ? "CSeq: " : "", r->cseq ? r->cseq : "", r->cseq ? "\r\n" : "",
		 extra ? extra : "");
	put_message(c, head, NULL);
}

/* 200 OK with params (error_code first), enveloped unless bare_responses. */
static void answer(struct conn *c, const struct req *r, const char *seq, cJSON *params)
{
	char *body = NULL;
	if (params) {
		if (c->srv->set.bare_responses) {
			body = cJSON_PrintUnformatted(params);
			cJSON_Delete(params);
		} else {
			cJSON *o = cJSON_CreateObject();
			if (o) {
				cJSON_AddStringToObject(o, "type", "response");
				cJSON_AddStringToObject(o, "seq", seq);
				cJSON_AddItemToObject(o, "params", params);
				body = cJSON_PrintUnformatted(o);
				cJSON_Delete(o);
			} else {
				cJSON_Delete(params);
			}
		}
	}
	if (!body) {
		answer_status(c, r, 500, "Internal Server Error", NULL);
		return;
	}
	char head[256];
	snprintf(head, sizeof head, "RTSP/1.0 200 OK\r\nCSeq: %s\r\n", r->cseq);
	put_message(c, head, body);
	cJSON_free(body);
}

static cJSON *result(int code, const char *id)
{
	cJSON *p = cJSON_CreateObject();
	if (!p)
		return NULL;
	cJSON_AddNumberToObject(p, "error_code", code);
	if (id)
		cJSON_AddStringToObject(p, "session_id", id);
	return p;
}

static void answer_error(struct conn *c, const struct req *r, const char *seq, int code,
			 const char *msg)
{
	cJSON *p = result(code, NULL);
	if (p)
		cJSON_AddStringToObject(p, "msg", msg);
	answer(c, r, seq, p);
}

static void add_interleaved(cJSON *p, const struct sess *s)
{
	char ids[16];
	if (s->nch > 1)
		snprintf(ids, sizeof ids, "%d-%d", s->ch0, s->ch0 + s->nch - 1);
	else
		snprintf(ids, sizeof ids, "%d", s->ch0);
	cJSON *a = cJSON_AddArrayToObject(p, "interleaved");
	cJSON *o = cJSON_CreateObject();
	if (!a || !o) {
		cJSON_Delete(o);
		return;
	}
	cJSON_AddNumberToObject(o, "channel", 0);
	cJSON_AddStringToObject(o, "interleaved_id", ids);
	cJSON_AddItemToArray(a, o);
}

/* A time: a string of 1..12 digits or a whole number >= 0. */
static int get_time(const cJSON *v, long long *out)
{
	if (cJSON_IsNumber(v)) {
		if (v->valuedouble < 0 || v->valuedouble > 1e12 || v->valuedouble != floor(v->valuedouble))
			return -1;
		*out = (long long)v->valuedouble;
		return 0;
	}
	if (!cJSON_IsString(v))
		return -1;
	const char *p = v->valuestring;
	size_t n = strlen(p);
	if (n == 0 || n > 12 || strspn(p, "0123456789") != n)
		return -1;
	*out = strtoll(p, NULL, 10);
	return 0;
}

static size_t clip_position(long long t)
{
	return (size_t)((t % (SM_CLIP_MS / 1000)) * (1000 / SM_FRAME_MS));
}

/* ---- methods ---- */

static void do_preview(struct conn *c, const struct req *r, const char *seq, const cJSON *args)
{
	const cJSON *res = cJSON_GetObjectItemCaseSensitive(args, "resolutions");
	if (res) {
		const cJSON *e;
		if (!cJSON_IsArray(res)) {
			answer_error(c, r, seq, STREAM_E_INVALID, "resolutions: an array of \"HD\" or \"VGA\"");
			return;
		}
		cJSON_ArrayForEach(e, res) {
			if (!cJSON_IsString(e) || (strcmp(e->valuestring, "HD") != 0 &&
						   strcmp(e->valuestring, "VGA") != 0)) {
				answer_error(c, r, seq, STREAM_E_INVALID,
					     "resolutions: an array of \"HD\" or \"VGA\"");
				return;
			}
		}
	}
	struct sess *s = sess_new(c, K_PREVIEW, 2);
	if (!s) {
		answer_error(c, r, seq, STREAM_E_NO_CHANNEL, "no free session or channel");
		return;
	}
	cJSON *p = result(0, s->id);
	if (p) {
		add_interleaved(p, s);
		cJSON *av = av_config(s->codec, 1);
		if (av)
			cJSON_AddItemToObject(p, "av_config", av);
	}
	sim_log("stream conn %lu: preview session %s on %d-%d", c->id, s->id, s->ch0, s->ch0 + 1);
	answer(c, r, seq, p);
}

static void do_playback(struct conn *c, const struct req *r, const char *seq, const cJSON *args)
{
	long long start, end;
	if (get_time(cJSON_GetObjectItemCaseSensitive(args, "start_time"), &start) < 0 ||
	    get_time(cJSON_GetObjectItemCaseSensitive(args, "end_time"), &end) < 0) {
		answer_error(c, r, seq, STREAM_E_INVALID,
			     "start_time and end_time: epoch seconds, as strings");
		return;
	}
	if (end <= start) {
		answer_error(c, r, seq, STREAM_E_INVALID, "end_time must be after start_time");
		return;
	}
	struct sess *s = sess_new(c, K_PLAYBACK, 2);
	if (!s) {
		answer_error(c, r, seq, STREAM_E_NO_CHANNEL, "no free session or channel");
		return;
	}
	s->start = start;
	s->end = end;
	s->au = clip_position(start);
	cJSON *p = result(0, s->id);
	if (p) {
		add_interleaved(p, s);
		cJSON *av = av_config(s->codec, 1);
		if (av)
			cJSON_AddItemToObject(p, "av_config", av);
	}
	sim_log("stream conn %lu: playback session %s %lld..%lld", c->id, s->id, start, end);
	answer(c, r, seq, p);
}

static void do_download(struct conn *c, const struct req *r, const char *seq, const cJSON *args)
{
	size_t size = 0;
	sm_recording(&size);
	const cJSON *range = cJSON_GetObjectItemCaseSensitive(args, "range");
	size_t from = 0, to = size;     /* [from, to) */
	if (range) {
		const char *q = cJSON_IsString(range) ? range->valuestring : "";
		char *end;
		unsigned long long x = strtoull(q, &end, 10);
		unsigned long long y = 0;
		int has_y = 0;
		if (end == q || *end != '-' || q[0] == '-' || q[0] == '+' || q[0] == ' ') {
			answer_error(c, r, seq, STREAM_E_INVALID, "range: \"x-\" or \"x-y\"");
			return;
		}
		const char *yq = end + 1;
		if (*yq) {
			y = strtoull(yq, &end, 10);
			if (end == yq || *end || *yq == '-' || *yq == '+' || y < x) {
				answer_error(c, r, seq, STREAM_E_INVALID, "range: \"x-\" or \"x-y\"");
				return;
			}
			has_y = 1;
		}
		if (x >= size) {
			answer_error(c, r, seq, STREAM_E_INVALID, "range: past the end of the file");
			return;
		}
		from = (size_t)x;
		if (has_y && y + 1 < size)
			to = (size_t)y + 1;
	}
	struct sess *s = sess_new(c, K_DOWNLOAD, 2);
	if (!s) {
		answer_error(c, r, seq, STREAM_E_NO_CHANNEL, "no free session or channel");
		return;
	}
	s->codec = SM_H264;             /* the recording's codec */
	s->size = size;
	s->off = from;
	s->stop_at = to;
	cJSON *p = result(0, s->id);
	if (p) {
		if (range) {
			char rs[64];
			snprintf(rs, sizeof rs, "%zu-%zu/%zu", from, to - 1, size);
			cJSON_AddStringToObject(p, "range", rs);
		}
		add_interleaved(p, s);
		cJSON *av = av_config(SM_H264, 0);
		if (av)
			cJSON_AddItemToObject(p, "av_config", av);
	}
	sim_log("stream conn %lu: download session %s bytes %zu..%zu of %zu", c->id, s->id, from,
		to, size);
	answer(c, r, seq, p);
}

static void do_talk(struct conn *c, const struct req *r, const char *seq, const cJSON *args)
{
	const cJSON *mode = cJSON_GetObjectItemCaseSensitive(args, "mode");
	if (!cJSON_IsString(mode) || (strcmp(mode->valuestring, "half_duplex") != 0 &&
				      strcmp(mode->valuestring, "aec") != 0)) {
		answer_error(c, r, seq, STREAM_E_INVALID, "mode: \"half_duplex\" or \"aec\"");
		return;
	}
	struct sess *s = sess_new(c, K_TALK, 1);
	if (!s) {
		answer_error(c, r, seq, STREAM_E_NO_CHANNEL, "no free session or channel");
		return;
	}
	snprintf(s->mode, sizeof s->mode, "%s", mode->valuestring);
	s->talk = talk_open(&c->srv->talk, s->id, s->ch0, s->mode);
	sim_log("stream conn %lu: talk session %s listens on channel %d", c->id, s->id, s->ch0);
	/* No "interleaved": the client uses the lowest free even channel (WIRE-NOTES §4). */
	answer(c, r, seq, result(0, s->id));
}

static struct sess *session_of(struct conn *c, const struct req *r, const char *seq)
{
	struct sess *s = sess_find(c, r->session);
	if (!s)
		answer_error(c, r, seq, STREAM_E_SESSION,
			     r->session ? "no such session on this connection" : "a Session header is required");
	return s;
}

static void do_stop(struct conn *c, const struct req *r, const char *seq)
{
	struct sess *s = session_of(c, r, seq);
	if (!s)
		return;
	char id[24];
	memcpy(id, s->id, sizeof id);
	s->stopped = 1;
	sim_log("stream conn %lu: session %s stopped", c->id, id);
	sess_free(c, s);
	answer(c, r, seq, result(0, id));
}

static void do_play(struct conn *c, const struct req *r, const char *seq, const cJSON *args)
{
	struct sess *s = session_of(c, r, seq);
	if (!s)
		return;
	if (s->kind != K_PLAYBACK) {
		answer_error(c, r, seq, STREAM_E_KIND, "play is for playback sessions");
		return;
	}
	long long start = s->start, end = s->end;
	const cJSON *v;
	if (((v = cJSON_GetObjectItemCaseSensitive(args, "start_time")) && get_time(v, &start) < 0) ||
	    ((v = cJSON_GetObjectItemCaseSensitive(args, "end_time")) && get_time(v, &end) < 0)) {
		answer_error(c, r, seq, STREAM_E_INVALID, "start_time, end_time: epoch seconds, as strings");
		return;
	}
	if (end <= start) {
		answer_error(c, r, seq, STREAM_E_INVALID, "end_time must be after start_time");
		return;
	}
	const cJSON *scale = cJSON_GetObjectItemCaseSensitive(args, "scale");
	if (scale && !cJSON_IsString(scale)) {
		answer_error(c, r, seq, STREAM_E_INVALID, "scale: a string such as \"+1/1\"");
		return;
	}
	s->start = start;
	s->end = end;
	s->au = clip_position(start);
	s->wv = s->wa = 0;
	s->ended = 0;
	sess_rebase(c->srv, s);
	cJSON *p = result(0, s->id);
	if (p) {
		char t[24];
		snprintf(t, sizeof t, "%lld", start);
		cJSON_AddStringToObject(p, "start_time", t);
		snprintf(t, sizeof t, "%lld", end);
		cJSON_AddStringToObject(p, "end_time", t);
		if (scale)
			cJSON_AddStringToObject(p, "scale", "+1/1");
	}
	sim_log("stream conn %lu: session %s plays %lld..%lld", c->id, s->id, start, end);
	answer(c, r, seq, p);
}

static void do_force_iframe(struct conn *c, const struct req *r, const char *seq,
			    const cJSON *args)
{
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(args, "stream_type");
	if (st && (!cJSON_IsString(st) || (strcmp(st->valuestring, "main") != 0 &&
					   strcmp(st->valuestring, "minor") != 0 &&
					   strcmp(st->valuestring, "default") != 0))) {
		answer_error(c, r, seq, STREAM_E_INVALID, "stream_type: \"main\", \"minor\" or \"default\"");
		return;
	}
	struct sess *s = session_of(c, r, seq);
	if (!s)
		return;
	if (s->kind != K_PREVIEW && s->kind != K_PLAYBACK) {
		answer_error(c, r, seq, STREAM_E_KIND, "force_iframe is for preview and playback sessions");
		return;
	}
	s->force_key = 1;
	answer(c, r, seq, result(0, s->id));
}

static void dispatch(struct conn *c, const struct req *r)
{
	char seq[40];
	snprintf(seq, sizeof seq, "%s", r->cseq);
	cJSON *doc = cJSON_ParseWithLength(r->body ? r->body : "", r->clen);
	if (!cJSON_IsObject(doc)) {
		answer_error(c, r, seq, STREAM_E_INVALID, "the body is not a JSON object");
		cJSON_Delete(doc);
		return;
	}
	const cJSON *sq = cJSON_GetObjectItemCaseSensitive(doc, "seq");
	if (cJSON_IsString(sq) && strlen(sq->valuestring) < sizeof seq)
		snprintf(seq, sizeof seq, "%s", sq->valuestring);
	else if (cJSON_IsNumber(sq) && fabs(sq->valuedouble) < 1e15)
		snprintf(seq, sizeof seq, "%.0f", sq->valuedouble);
	const cJSON *params = cJSON_GetObjectItemCaseSensitive(doc, "params");
	if (!cJSON_IsObject(params))
		params = doc;   /* a bare {"method":..} */
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(params, "method");
	const cJSON *v;
	if (!cJSON_IsString(m)) {
		answer_error(c, r, seq, STREAM_E_INVALID, "params.method is required");
	} else if (strcmp(m->valuestring, "get") == 0) {
		if (cJSON_IsObject(v = cJSON_GetObjectItemCaseSensitive(params, "preview")))
			do_preview(c, r, seq, v);
		else if (cJSON_IsObject(v = cJSON_GetObjectItemCaseSensitive(params, "playback")))
			do_playback(c, r, seq, v);
		else if (cJSON_IsObject(v = cJSON_GetObjectItemCaseSensitive(params, "download")))
			do_download(c, r, seq, v);
		else if (cJSON_IsObject(v = cJSON_GetObjectItemCaseSensitive(params, "talk")))
			do_talk(c, r, seq, v);
		else
			answer_error(c, r, seq, STREAM_E_UNKNOWN, "unknown get method");
	} else if (strcmp(m->valuestring, "do") == 0) {
		const cJSON *video = cJSON_GetObjectItemCaseSensitive(params, "video");
		if (cJSON_GetObjectItemCaseSensitive(params, "stop"))
			do_stop(c, r, seq);
		else if (cJSON_IsObject(v = cJSON_GetObjectItemCaseSensitive(params, "play")))
			do_play(c, r, seq, v);
		else if (cJSON_IsObject(v = cJSON_GetObjectItemCaseSensitive(video, "force_iframe")))
			do_force_iframe(c, r, seq, v);
		else
			answer_error(c, r, seq, STREAM_E_UNKNOWN, "unknown do method");
	} else {
		answer_error(c, r, seq, STREAM_E_UNKNOWN, "method: \"get\" or \"do\"");
	}
	cJSON_Delete(doc);
}

/* ---- digest ---- */

static void challenge(struct conn *c, const struct req *r, int stale)
{
	struct stream_server *srv = c->srv;
	struct sd_policy pol = {srv->set.qop_auth, srv->set.sha256 ? SD_SHA256 : SD_MD5,
				srv->set.quoted_only};
	char value[512], extra[600];
	new_nonce(c);
	sd_challenge(&pol, c->nonce, srv->set.opaque ? c->opaque : NULL, stale, value, sizeof value);
	snprintf(extra, sizeof extra, "WWW-Authenticate: %s\r\n", value);
	answer_status(c, r, 401, "Unauthorized", extra);
}

/* 0 if r may go on; else it has been answered with a 401. */
static int authorize(struct conn *c, const struct req *r)
{
	struct stream_server *srv = c->srv;
	if (!r->auth) {
		challenge(c, r, 0);
		return -1;
	}
	struct sd_policy pol = {srv->set.qop_auth, srv->set.sha256 ? SD_SHA256 : SD_MD5,
				srv->set.quoted_only};
	struct sd_auth a;
	const char *why = "not a Digest header";
	unsigned long nc = 0;
	int ok = sd_parse(r->auth, &a) == 0 &&
		 sd_check(&a, &pol, srv->set.username, srv->cam->cfg.password, "MULTITRANS",
			  srv->set.opaque ? c->opaque : NULL, &nc, &why) == 0;
	if (ok && strcmp(a.uri.v, r->uri) != 0) {
		ok = 0;
		why = "uri is not the request's";
	}
	if (ok && c->nonce[0] && strcmp(a.nonce.v, c->nonce) == 0) {
		if (pol.qop_auth && nc <= c->last_nc) {
			ok = 0;
			why = "nc did not increase";
		}
	} else if (ok && c->prev_nonce[0] && strcmp(a.nonce.v, c->prev_nonce) == 0) {
		sim_log("stream conn %lu: stale nonce", c->id);
		challenge(c, r, 1);
		return -1;
	} else if (ok) {
		ok = 0;
		why = "unknown nonce";
	}
	if (!ok) {
		srv->auth_failures++;
		sim_log("stream conn %lu: 401: %s", c->id, why);
		challenge(c, r, 0);
		return -1;
	}
	if (c->stale_pending && c->auth_ok > 0) {
		c->stale_pending = 0;
		sim_log("stream conn %lu: fault stale_nonce", c->id);
		challenge(c, r, 1);
		return -1;
	}
	c->last_nc = nc;
	c->auth_ok++;
	return 0;
}

/* ---- input ---- */

static int uri_ok(const char *uri)
{
	if (strncasecmp(uri, "rtsp://", 7) != 0)
		return 0;
	const char *path = strchr(uri + 7, '/');
	return path && strcmp(path, "/multitrans") == 0;
}

static void on_request(struct conn *c, struct req *r)
{
	struct stream_server *srv = c->srv;
	srv->requests++;
	if (!r->cseq) {
		answer_status(c, r, 400, "Bad Request", NULL);
		return;
	}
	if (strcmp(r->method, "MULTITRANS") != 0) {
		answer_status(c, r, 501, "Not Implemented", NULL);
		return;
	}
	if (!uri_ok(r->uri)) {
		answer_status(c, r, 404, "Not Found", NULL);
		return;
	}
	if (authorize(c, r) < 0)
		return;
	dispatch(c, r);
}

static void on_frame(struct conn *c, int ch, const uint8_t *p, size_t len)
{
	struct sess *s = sess_by_channel(c, ch);
	if (!s) {
		c->srv->stray_in++;
		return;
	}
	if (s->kind == K_TALK && s->talk)
		talk_packet(s->talk, p, len);
	/* Anything else on a media channel (RTCP) is ignored. */
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

/* Parse a head (NUL-terminated, lines ending in LF or CRLF). Returns 0, or
 * -1 if it is malformed. *is_response for "RTSP/1.0 ..." status lines. */
static int parse_head(char *head, struct req *r, int *is_response, size_t *clen)
{
	memset(r, 0, sizeof *r);
	*clen = 0;
	char *save = NULL;
	char *line = strtok_r(head, "\n", &save);
	if (!line)
		return -1;
	line = trim(line);
	*is_response = strncmp(line, "RTSP/", 5) == 0;
	if (!*is_response) {
		char *sp1 = strchr(line, ' ');
		char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
		if (!sp1 || !sp2 || strncmp(sp2 + 1, "RTSP/1.", 7) != 0)
			return -1;
		*sp1 = *sp2 = '\0';
		r->method = line;
		r->uri = sp1 + 1;
		if (!*r->method || !*r->uri)
			return -1;
	}
	while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
		char *colon = strchr(line, ':');
		if (!colon) {
			if (*trim(line) == '\0')
				continue;
			return -1;
		}
		*colon = '\0';
		char *name = trim(line), *value = trim(colon + 1);
		if (strcasecmp(name, "CSeq") == 0) {
			if (!*value || strlen(value) > 20 || strspn(value, "0123456789") != strlen(value))
				return -1;
			r->cseq = value;
		} else if (strcasecmp(name, "Content-Length") == 0) {
			char *end;
			if (!*value || strspn(value, "0123456789") != strlen(value))
				return -1;
			unsigned long long n = strtoull(value, &end, 10);
			*clen = n > (unsigned long long)IN_MAX ? (size_t)IN_MAX + 1 : (size_t)n;
		} else if (strcasecmp(name, "Authorization") == 0) {
			r->auth = value;
		} else if (strcasecmp(name, "Session") == 0) {
			char *semi = strchr(value, ';');   /* "id;timeout=60" */
			if (semi)
				*semi = '\0';
			r->session = trim(value);
		}
	}
	return 0;
}

static void refuse(struct conn *c, int code, const char *reason)
{
	struct req r;
	memset(&r, 0, sizeof r);
	answer_status(c, &r, code, reason, NULL);
	c->closing = 1;
}

static void conn_input(struct conn *c)
{
	static char head[STREAM_HEAD_MAX + 1];
	size_t pos = 0;
	while (!c->closing && !c->overflow && pos < c->inlen) {
		uint8_t *p = c->in + pos;
		size_t avail = c->inlen - pos;
		if (p[0] == '$') {
			if (avail < 4)
				break;
			size_t len = ((size_t)p[2] << 8) | p[3];
			if (avail < 4 + len)
				break;
			on_frame(c, p[1], p + 4, len);
			pos += 4 + len;
			continue;
		}
		if (p[0] == '\r' || p[0] == '\n') {
			pos++;
			continue;
		}
		size_t scan = avail < STREAM_HEAD_MAX ? avail : STREAM_HEAD_MAX;
		size_t hlen = 0;
		for (size_t i = 0; i + 1 < scan; i++) {
			if (p[i] != '\n')
				continue;
			if (p[i + 1] == '\n') {
				hlen = i + 2;
				break;
			}
			if (p[i + 1] == '\r' && i + 2 < scan && p[i + 2] == '\n') {
				hlen = i + 3;
				break;
			}
		}
		if (!hlen) {
			if (avail >= STREAM_HEAD_MAX)
				refuse(c, 400, "Bad Request");
			break;
		}
		if (memchr(p, '\0', hlen)) {
			refuse(c, 400, "Bad Request");
			break;
		}
		memcpy(head, p, hlen);
		head[hlen] = '\0';
		struct req r;
		int is_response;
		size_t clen;
		if (parse_head(head, &r, &is_response, &clen) < 0) {
			refuse(c, 400, "Bad Request");
			break;
		}
		if (clen > STREAM_BODY_MAX) {
			answer_status(c, &r, 413, "Request Entity Too Large", NULL);
			c->closing = 1;
			break;
		}
		if (avail < hlen + clen)
			break;
		r.body = (const char *)p + hlen;
		r.clen = clen;
		if (!is_response)
			on_request(c, &r);
		pos += hlen + clen;
	}
	if (c->closing)
		pos = c->inlen;     /* what follows is not read */
	if (pos > 0) {
		memmove(c->in, c->in + pos, c->inlen - pos);
		c->inlen -= pos;
	}
}

/* Flush, make media, flush; close when done or broken. c may be freed. */
static void conn_service(struct conn *c)
{
	struct stream_server *srv = c->srv;
	int full = 1;
	for (int round = 0;; round++) {
		if (c->overflow) {
			conn_kill(c);
			return;
		}
		while (unsent(c) > 0 && (!c->stalled || c->outoff < c->stall_end)) {
			size_t k = c->stalled ? c->stall_end - c->outoff : unsent(c);
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
	unsigned ev = POLLIN;
	if (unsent(c) > 0 && (!c->stalled || c->outoff < c->stall_end))
		ev |= POLLOUT;
	if (ev != c->events) {
		c->events = ev;
		loop_io_set(srv->lp, c->fd, ev);
	}
}

static void conn_io(void *arg, int fd, unsigned revents)
{
	struct conn *c = arg;
	if (revents & (POLLIN | POLLERR | POLLHUP | POLLNVAL)) {
		for (;;) {
			if (c->inlen == c->incap) {
				if (c->incap >= IN_MAX)
					break;
				size_t cap = c->incap ? c->incap * 2 : 4096;
				if (cap > IN_MAX)
					cap = IN_MAX;
				uint8_t *p = realloc(c->in, cap);
				if (!p)
					break;
				c->in = p;
				c->incap = cap;
			}
			ssize_t n = recv(fd, c->in + c->inlen, c->incap - c->inlen, 0);
			if (n > 0) {
				loop_timer_start(c->srv->lp, &c->idle, STREAM_IDLE_MS);
				if (c->closing)
					continue;       /* read and dropped */
				c->inlen += (size_t)n;
				conn_input(c);
				continue;
			}
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				break;
			conn_kill(c);   /* closed by the client, or reset */
			return;
		}
	}
	conn_service(c);
}

static void conn_pump_timer(void *arg)
{
	conn_service(arg);
}

static void conn_idle_timer(void *arg)
{
	struct conn *c = arg;
	if (c->nsess > 0) {
		loop_timer_start(c->srv->lp, &c->idle, STREAM_IDLE_MS);
		return;
	}
	sim_log("stream conn %lu: idle, closing it", c->id);
	conn_kill(c);
}

/* ---- listening ---- */

static void accept_ready(void *arg, int fd, unsigned revents);

static void accept_retry(void *arg)
{
	struct stream_server *s = arg;
	loop_io_set(s->lp, s->fd, POLLIN);
}

static void accept_ready(void *arg, int fd, unsigned revents)
{
	struct stream_server *srv = arg;
	(void)revents;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				sim_log("stream accept: %s", strerror(errno));
				loop_io_set(srv->lp, srv->fd, 0);
				loop_timer_start(srv->lp, &srv->retry, ACCEPT_RETRY_MS);
			}
			return;
		}
		int one = 1;
		setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		struct conn *c = calloc(1, sizeof *c);
		if (!c || loop_io_add(srv->lp, cfd, POLLIN, conn_io, c) < 0) {
			free(c);
			close(cfd);
			continue;
		}
		c->srv = srv;
		c->fd = cfd;
		c->id = ++srv->next_conn_id;
		c->events = POLLIN;
		camera_random_hex(c->opaque, 32);
		c->fault_gen = srv->fault_gen;
		c->stale_pending = srv->fault == F_STALE_NONCE;
		loop_timer_init(&c->pump, conn_pump_timer, c);
		loop_timer_init(&c->idle, conn_idle_timer, c);
		loop_timer_start(srv->lp, &c->idle, STREAM_IDLE_MS);
		c->next = srv->conns;
		if (srv->conns)
			srv->conns->prev = c;
		srv->conns = c;
		srv->nconns++;
		sim_log("stream conn %lu accepted", c->id);
	}
}

static struct stream_server *server_listen(struct loop *lp, struct camera *cam, int port,
					   char *err, size_t errsz)
{
	struct addrinfo hints, *res = NULL;
	char portstr[16];
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	snprintf(portstr, sizeof portstr, "%d", port);
	int gai = getaddrinfo(cam->address, portstr, &hints, &res);
	if (gai != 0) {
		snprintf(err, errsz, "bad address %s: %s", cam->address, gai_strerror(gai));
		errno = EINVAL;
		return NULL;
	}
	int fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			res->ai_protocol);
	if (fd < 0) {
		int e = errno;
		snprintf(err, errsz, "socket: %s", strerror(e));
		freeaddrinfo(res);
		errno = e;
		return NULL;
	}
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, SOMAXCONN) < 0) {
		int e = errno;
		snprintf(err, errsz, "cannot listen (stream) on %s port %d: %s", cam->address, port,
			 strerror(e));
		freeaddrinfo(res);
		close(fd);
		errno = e;
		return NULL;
	}
	freeaddrinfo(res);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	int bound = port;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET)
			bound = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		else if (ss.ss_family == AF_INET6)
			bound = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	struct stream_server *srv = calloc(1, sizeof *srv);
	if (!srv || loop_io_add(lp, fd, POLLIN, accept_ready, srv) < 0) {
		snprintf(err, errsz, "out of memory");
		free(srv);
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	srv->lp = lp;
	srv->cam = cam;
	srv->fd = fd;
	srv->port = bound;
	loop_timer_init(&srv->retry, accept_retry, srv);
	return srv;
}

static void server_free(struct stream_server *srv)
{
	if (!srv)
		return;
	while (srv->conns)
		conn_kill(srv->conns);
	loop_timer_stop(srv->lp, &srv->retry);
	loop_io_del(srv->lp, srv->fd);
	close(srv->fd);
	talk_clear(&srv->talk);
	srv->cam->stream = NULL;
	free(srv);
}

static void close_all(void)
{
	for (size_t i = 0; i < nservers; i++) {
		server_free(servers[i]);
		servers[i] = NULL;
	}
}

int stream_listen_all(struct loop *lp, struct camera **cams, size_t n, int port,
		      int port_given, const struct stream_settings *set, char *err, size_t errsz)
{
	if (sm_init() < 0) {
		snprintf(err, errsz, "the built-in stream media do not parse");
		return -1;
	}
	servers = calloc(n, sizeof *servers);
	if (!servers) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	nservers = n;
	int want = port;
	for (int try = 1;; try++) {
		int p = want, again = 0, failed = 0;
		for (size_t i = 0; i < n; i++) {
			servers[i] = server_listen(lp, cams[i], p, err, errsz);
			if (!servers[i]) {
				again = errno == EADDRINUSE;
				failed = 1;
				break;
			}
			p = servers[i]->port;
		}
		if (!failed) {
			bound_port = p;
			break;
		}
		close_all();
		if (again && !port_given && want != 0) {
			sim_log("stream port %d taken, using a free one", want);
			want = 0;
			continue;
		}
		if (again && want == 0 && try < PORT_TRIES)
			continue;
		free(servers);
		servers = NULL;
		nservers = 0;
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		struct stream_server *srv = servers[i];
		srv->set = srv->start = *set;
		cams[i]->stream = srv;
		camera_set_stream_port(cams[i], bound_port);
	}
	return bound_port;
}

void stream_free_all(void)
{
	close_all();
	free(servers);
	servers = NULL;
	nservers = 0;
	sm_free();
}

/* ---- the admin path ---- */

static void service_all(struct stream_server *srv)
{
	struct conn *c = srv->conns;
	while (c) {
		struct conn *next = c->next;
		conn_service(c);
		c = next;
	}
}

static cJSON *config_json(const struct stream_server *srv)
{
	const struct stream_settings *s = &srv->set;
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON_AddNumberToObject(o, "port", srv->port);
	cJSON_AddStringToObject(o, "qop", s->qop_auth ? "auth" : "none");
	cJSON_AddStringToObject(o, "algorithm", s->sha256 ? "SHA-256" : "MD5");
	cJSON_AddBoolToObject(o, "opaque", s->opaque);
	cJSON_AddBoolToObject(o, "quoted_only", s->quoted_only);
	cJSON_AddBoolToObject(o, "bare_responses", s->bare_responses);
	cJSON_AddNumberToObject(o, "speed", s->speed);
	cJSON_AddStringToObject(o, "video_codec", s->h265 ? "H265" : "H264");
	cJSON_AddStringToObject(o, "username", s->username);
	cJSON_AddStringToObject(o, "realm", SD_REALM);
	return o;
}

static int is_str(const cJSON *v, const char *s)
{
	return cJSON_IsString(v) && strcmp(v->valuestring, s) == 0;
}

static const char *apply_config(struct stream_server *srv, const cJSON *in)
{
	static char msg[160];
	struct stream_settings s = srv->set;
	const cJSON *v;
	cJSON_ArrayForEach(v, in) {
		const char *k = v->string;
		if (strcmp(k, "qop") == 0) {
			if (is_str(v, "auth"))
				s.qop_auth = 1;
			else if (is_str(v, "none"))
				s.qop_auth = 0;
			else
				return "qop: \"auth\" or \"none\"";
		} else if (strcmp(k, "algorithm") == 0) {
			if (is_str(v, "MD5"))
				s.sha256 = 0;
			else if (is_str(v, "SHA-256"))
				s.sha256 = 1;
			else
				return "algorithm: \"MD5\" or \"SHA-256\"";
		} else if (strcmp(k, "opaque") == 0 || strcmp(k, "quoted_only") == 0 ||
			   strcmp(k, "bare_responses") == 0) {
			if (!cJSON_IsBool(v)) {
				snprintf(msg, sizeof msg, "%s: true or false", k);
				return msg;
			}
			int b = cJSON_IsTrue(v);
			if (k[0] == 'o')
				s.opaque = b;
			else if (k[0] == 'q')
				s.quoted_only = b;
			else
				s.bare_responses = b;
		} else if (strcmp(k, "speed") == 0) {
			if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= 1000))
				return "speed: a number 0..1000 (1 = real time, 0 = as fast as possible)";
			s.speed = v->valuedouble;
		} else if (strcmp(k, "video_codec") == 0) {
			if (is_str(v, "H264"))
				s.h265 = 0;
			else if (is_str(v, "H265"))
				s.h265 = 1;
			else
				return "video_codec: \"H264\" or \"H265\"";
		} else if (strcmp(k, "username") == 0) {
			if (!cJSON_IsString(v) || !*v->valuestring ||
			    strlen(v->valuestring) >= sizeof s.username)
				return "username: a non-empty string";
			snprintf(s.username, sizeof s.username, "%s", v->valuestring);
		} else {
			snprintf(msg, sizeof msg, "unknown stream_config key \"%.100s\"", k);
			return msg;
		}
	}
	if (s.speed != srv->set.speed)
		srv->speed_gen++;
	srv->set = s;
	return NULL;
}

static void set_fault(struct stream_server *srv, enum sfault f, int after)
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

static cJSON *fault_json(const struct stream_server *srv, int ok)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	if (ok)
		cJSON_AddTrueToObject(o, "ok");
	cJSON_AddStringToObject(o, "fault", fault_names[srv->fault]);
	cJSON_AddNumberToObject(o, "after", srv->fault_after);
	cJSON_AddNumberToObject(o, "connections", (double)srv->nconns);
	return o;
}

static const char *parse_fault(const cJSON *in, enum sfault *f, int *after)
{
	static char msg[160];
	int has = 0;
	*after = 10;
	const cJSON *v;
	cJSON_ArrayForEach(v, in) {
		if (strcmp(v->string, "fault") == 0) {
			has = 0;
			for (size_t i = 0; i < sizeof fault_names / sizeof *fault_names; i++)
				if (is_str(v, fault_names[i])) {
					*f = (enum sfault)i;
					has = 1;
				}
			if (!has)
				return "fault: \"none\", \"cut_mid_frame\", \"garbage\", \"huge_frame\", "
				       "\"stale_nonce\", \"stall\", \"stray_channel\" or \"codec_change\"";
		} else if (strcmp(v->string, "after") == 0) {
			if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
			    v->valuedouble < 0 || v->valuedouble > 1e6)
				return "after: frames, an integer 0..1000000";
			*after = (int)v->valuedouble;
		} else {
			snprintf(msg, sizeof msg, "unknown stream_fault key \"%.100s\"", v->string);
			return msg;
		}
	}
	return has ? NULL : "fault is required";
}

static void channels_str(int ch0, int nch, char *out, size_t n)
{
	if (nch > 1)
		snprintf(out, n, "%d-%d", ch0, ch0 + nch - 1);
	else
		snprintf(out, n, "%d", ch0);
}

static cJSON *session_json(const char *id, enum kind kind, int ch0, int nch, enum sm_codec codec,
			   long long start, long long end, unsigned long long frames,
			   unsigned long long bytes, int ended, int stopped, int live, unsigned long conn)
{
	char chs[16];
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	channels_str(ch0, nch, chs, sizeof chs);
	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddStringToObject(o, "kind", kind_names[kind]);
	cJSON_AddStringToObject(o, "channels", chs);
	if (kind == K_TALK)
		cJSON_AddStringToObject(o, "codec", "G711alaw");
	else
		cJSON_AddStringToObject(o, "codec", sm_codec_name(codec));
	if (kind == K_PLAYBACK) {
		cJSON *w = cJSON_AddObjectToObject(o, "window");
		if (w) {
			char t[24];
			snprintf(t, sizeof t, "%lld", start);
			cJSON_AddStringToObject(w, "start", t);
			snprintf(t, sizeof t, "%lld", end);
			cJSON_AddStringToObject(w, "end", t);
		}
	}
	cJSON_AddNumberToObject(o, "frames_sent", (double)frames);
	cJSON_AddNumberToObject(o, "bytes_sent", (double)bytes);
	cJSON_AddBoolToObject(o, "ended", ended);
	cJSON_AddBoolToObject(o, "stopped", stopped);
	cJSON_AddBoolToObject(o, "live", live);
	cJSON_AddNumberToObject(o, "connection", (double)conn);
	return o;
}

static cJSON *state_json(const struct stream_server *srv)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON_AddNumberToObject(o, "connections", (double)srv->nconns);
	cJSON *a = cJSON_AddArrayToObject(o, "sessions");
	for (const struct conn *c = srv->conns; a && c; c = c->next)
		for (const struct sess *s = c->sess; s; s = s->next) {
			cJSON *e = session_json(s->id, s->kind, s->ch0, s->nch, s->codec, s->start, s->end,
						s->frames_sent, s->bytes_sent, s->ended, 0, 1, c->id);
			if (e)
				cJSON_AddItemToArray(a, e);
		}
	for (size_t i = 0; a && i < srv->nrecent; i++) {
		size_t k = (srv->recent_next + RECENT_MAX - srv->nrecent + i) % RECENT_MAX;
		const struct recent *r = &srv->recent[k];
		cJSON *e = session_json(r->id, r->kind, r->ch0, r->nch, r->codec, r->start, r->end,
					r->frames_sent, r->bytes_sent, r->ended, r->stopped, 0, r->conn);
		if (e)
			cJSON_AddItemToArray(a, e);
	}
	cJSON_AddNumberToObject(o, "auth_failures", (double)srv->auth_failures);
	cJSON_AddNumberToObject(o, "requests", (double)srv->requests);
	cJSON_AddNumberToObject(o, "stray_frames_in", (double)srv->stray_in);
	return o;
}

static cJSON *error_json(const char *msg)
{
	cJSON *o = cJSON_CreateObject();
	if (o)
		cJSON_AddStringToObject(o, "error", msg);
	return o;
}

int stream_admin(struct camera *cam, int get, int post, const char *path, const cJSON *in,
		 cJSON **out)
{
	static const char *const paths[] = {
		"stream_config", "stream_fault", "stream_state", "talk", "stream_file"
	};
	int which = -1;
	for (int i = 0; i < 5; i++)
		if (strcmp(path, paths[i]) == 0)
			which = i;
	if (which < 0)
		return 0;
	*out = NULL;
	struct stream_server *srv = cam->stream;
	if (!srv) {
		*out = error_json("this camera has no stream port");
		return 404;
	}
	const char *err;
	switch (which) {
	case 0:
		if (!get && !post)
			break;
		if (post && in && (err = apply_config(srv, in)) != NULL) {
			*out = error_json(err);
			return 400;
		}
		if (post) {
			sim_log("admin: stream config changed");
			service_all(srv);
		}
		*out = config_json(srv);
		return 200;
	case 1: {
		if (get) {
			*out = fault_json(srv, 0);
			return 200;
		}
		if (!post)
			break;
		enum sfault f = F_NONE;
		int after = 10;
		if ((err = parse_fault(in, &f, &after)) != NULL) {
			*out = error_json(err);
			return 400;
		}
		set_fault(srv, f, after);
		sim_log("admin: stream fault %s after %d", fault_names[f], after);
		service_all(srv);
		*out = fault_json(srv, 1);
		return 200;
	}
	case 2:
		if (!get)
			break;
		*out = state_json(srv);
		return 200;
	case 3:
		if (!get)
			break;
		*out = talk_json(&srv->talk);
		return 200;
	case 4:
		if (!get)
			break;
		{
			size_t n = 0;
			sm_recording(&n);
			cJSON *o = cJSON_CreateObject();
			if (o) {
				cJSON_AddNumberToObject(o, "size", (double)n);
				cJSON_AddStringToObject(o, "sha256", sm_recording_sha256());
			}
			*out = o;
		}
		return 200;
	}
	*out = error_json("wrong verb for this admin path");
	return 405;
}

void stream_reset(struct camera *cam)
{
	struct stream_server *srv = cam->stream;
	if (!srv)
		return;
	if (srv->set.speed != srv->start.speed)
		srv->speed_gen++;
	srv->set = srv->start;
	set_fault(srv, F_NONE, 10);
	srv->requests = srv->auth_failures = srv->stray_in = 0;
	srv->nrecent = srv->recent_next = 0;
	talk_clear(&srv->talk);
	service_all(srv);
}
