/* The sessions of a stream connection (preview, playback, download, talk)
 * and their channel ids, and the MULTITRANS methods that open, steer and
 * stop them: the body of an authorized request is dispatched here.
 * Layer 3 of the stream port (stream_int.h has the layers): called by
 * stream.c; calls the media producer (a session's clock), the messages and
 * the leaves. */
#include "stream_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

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

struct sess *sess_by_channel(struct conn *c, int ch)
{
	for (struct sess *s = c->sess; s; s = s->next)
		if (ch >= s->ch0 && ch < s->ch0 + s->nch)
			return s;
	return NULL;
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
	pace_rebase(srv, s);
	s->next = c->sess;
	c->sess = s;
	c->nsess++;
	return s;
}

void recent_fill(struct recent *r, const struct conn *c, const struct sess *s)
{
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
	r->rtp = s->rtp;
	r->conn = c->id;
}

static void recent_add(struct stream_server *srv, const struct conn *c, const struct sess *s)
{
	struct recent *r = &srv->recent[srv->recent_next];
	srv->recent_next = (srv->recent_next + 1) % RECENT_MAX;
	if (srv->nrecent < RECENT_MAX)
		srv->nrecent++;
	recent_fill(r, c, s);
}

void sess_free(struct conn *c, struct sess *s)
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

static void add_interleaved(cJSON *p, const struct sess *s)
{
	char ids[16];
	channels_str(s->ch0, s->nch, ids, sizeof ids);
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

static size_t clip_position(const struct sess *s, long long t)
{
	return sm_position(sm_clip(s->codec), t);
}

static void add_av_config(cJSON *p, enum sm_codec codec, int extra)
{
	cJSON *av = av_config(codec, extra);
	if (av)
		cJSON_AddItemToObject(p, "av_config", av);
}

/* The answer to a new preview or playback session. */
static cJSON *media_result(const struct sess *s)
{
	cJSON *p = result(0, s->id);
	if (p) {
		add_interleaved(p, s);
		add_av_config(p, s->codec, 1);
	}
	return p;
}

/* A new session, or NULL when it has been answered that there is none. */
static struct sess *session_open(struct conn *c, const struct req *r, const char *seq,
				 enum kind kind, int nch)
{
	struct sess *s = sess_new(c, kind, nch);
	if (!s)
		answer_error(c, r, seq, STREAM_E_NO_CHANNEL, "no free session or channel");
	return s;
}

/* resolutions: absent, or an array of "HD" and "VGA". */
static int resolutions_ok(const cJSON *res)
{
	const cJSON *e;
	if (!res)
		return 1;
	if (!cJSON_IsArray(res))
		return 0;
	cJSON_ArrayForEach(e, res) {
		if (!cJSON_IsString(e) || (strcmp(e->valuestring, "HD") != 0 &&
					   strcmp(e->valuestring, "VGA") != 0))
			return 0;
	}
	return 1;
}

/* ---- methods ---- */

static void do_preview(struct conn *c, const struct req *r, const char *seq, const cJSON *args)
{
	if (!resolutions_ok(cJSON_GetObjectItemCaseSensitive(args, "resolutions"))) {
		answer_error(c, r, seq, STREAM_E_INVALID, "resolutions: an array of \"HD\" or \"VGA\"");
		return;
	}
	struct sess *s = session_open(c, r, seq, K_PREVIEW, 2);
	if (!s)
		return;
	cJSON *p = media_result(s);
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
	struct sess *s = session_open(c, r, seq, K_PLAYBACK, 2);
	if (!s)
		return;
	s->start = start;
	s->end = end;
	s->au = clip_position(s, start);
	cJSON *p = media_result(s);
	sim_log("stream conn %lu: playback session %s %lld..%lld", c->id, s->id, start, end);
	answer(c, r, seq, p);
}

/* A download's "range", "x-" or "x-y", into [*from, *to) of a file of size
 * bytes (y past the end: to the end). NULL or what is wrong. */
static const char *parse_range(const cJSON *range, size_t size, size_t *from, size_t *to)
{
	static const char bad[] = "range: \"x-\" or \"x-y\"";
	const char *q = cJSON_IsString(range) ? range->valuestring : "";
	char *end;
	unsigned long long x = strtoull(q, &end, 10);
	unsigned long long y = 0;
	int has_y = 0;
	if (end == q || *end != '-' || q[0] == '-' || q[0] == '+' || q[0] == ' ')
		return bad;
	const char *yq = end + 1;
	if (*yq) {
		y = strtoull(yq, &end, 10);
		if (end == yq || *end || *yq == '-' || *yq == '+' || y < x)
			return bad;
		has_y = 1;
	}
	if (x >= size)
		return "range: past the end of the file";
	*from = (size_t)x;
	if (has_y && y + 1 < size)
		*to = (size_t)y + 1;
	return NULL;
}

/* download_framing rtp: the clip's RTP for the window, as a playback sends
 * it; no resume: always from the start, never a size. */
static void download_rtp(struct conn *c, const struct req *r, const char *seq, struct sess *s,
			 cJSON *p, int ranged, long long start, long long end)
{
	s->rtp = 1;
	s->start = start;
	s->end = end;
	s->au = clip_position(s, start);
	if (p) {
		if (ranged)
			cJSON_AddStringToObject(p, "range", "0-");
		add_interleaved(p, s);
		add_av_config(p, s->codec, 1);
	}
	sim_log("stream conn %lu: download session %s, RTP, %lld..%lld", c->id, s->id, start, end);
	answer(c, r, seq, p);
}

/* The recording's bytes [from, to) of its size. */
static void download_file(struct conn *c, const struct req *r, const char *seq, struct sess *s,
			  cJSON *p, int ranged, size_t from, size_t to, size_t size)
{
	const struct stream_settings *set = &c->srv->set;
	s->codec = SM_H264;             /* the recording's codec */
	s->size = size;
	s->off = from;
	s->stop_at = to;
	if (p) {
		if (ranged) {
			char rs[64];
			if (set->dl_unsized || s->endless)
				snprintf(rs, sizeof rs, "%zu-", from);
			else
				snprintf(rs, sizeof rs, "%zu-%zu/%zu", from, to - 1, size);
			cJSON_AddStringToObject(p, "range", rs);
		}
		add_interleaved(p, s);
		add_av_config(p, SM_H264, 0);
	}
	sim_log("stream conn %lu: download session %s bytes %zu..%zu of %zu", c->id, s->id, from,
		to, size);
	answer(c, r, seq, p);
}

static void do_download(struct conn *c, const struct req *r, const char *seq, const cJSON *args)
{
	size_t size = 0;
	sm_recording(&size);
	const cJSON *range = cJSON_GetObjectItemCaseSensitive(args, "range");
	size_t from = 0, to = size;     /* [from, to) */
	const char *why = range ? parse_range(range, size, &from, &to) : NULL;
	if (why) {
		answer_error(c, r, seq, STREAM_E_INVALID, why);
		return;
	}
	const struct stream_settings *set = &c->srv->set;
	long long start = 0, end = 0;
	if (set->dl_rtp && (get_time(cJSON_GetObjectItemCaseSensitive(args, "start_time"), &start) < 0 ||
			    get_time(cJSON_GetObjectItemCaseSensitive(args, "end_time"), &end) < 0 ||
			    end <= start)) {
		answer_error(c, r, seq, STREAM_E_INVALID,
			     "start_time and end_time: epoch seconds, as strings, end after start");
		return;
	}
	struct sess *s = session_open(c, r, seq, K_DOWNLOAD, 2);
	if (!s)
		return;
	cJSON *p = result(0, s->id);
	s->endless = set->dl_endless;
	if (set->dl_rtp)
		download_rtp(c, r, seq, s, p, range != NULL, start, end);
	else
		download_file(c, r, seq, s, p, range != NULL, from, to, size);
}

static void do_talk(struct conn *c, const struct req *r, const char *seq, const cJSON *args)
{
	const cJSON *mode = cJSON_GetObjectItemCaseSensitive(args, "mode");
	if (!cJSON_IsString(mode) || (strcmp(mode->valuestring, "half_duplex") != 0 &&
				      strcmp(mode->valuestring, "aec") != 0)) {
		answer_error(c, r, seq, STREAM_E_INVALID, "mode: \"half_duplex\" or \"aec\"");
		return;
	}
	struct sess *s = session_open(c, r, seq, K_TALK, 1);
	if (!s)
		return;
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
	s->au = clip_position(s, start);
	s->wv = s->wa = 0;
	s->ended = 0;
	pace_rebase(c->srv, s);
	cJSON *p = result(0, s->id);
	if (p) {
		add_epoch(p, "start_time", start);
		add_epoch(p, "end_time", end);
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

void dispatch(struct conn *c, const struct req *r)
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
