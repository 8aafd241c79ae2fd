/* The RTSP messages the stream port sends its clients: answers to their
 * requests (enveloped or bare) and notifications (stream_end, a codec
 * change), with the JSON pieces they share. Layer 5 of the stream port,
 * beside the faults (stream_int.h has the layers): it calls only the
 * writer and the media leaf. */
#include "stream_int.h"

#include <stdio.h>
#include <string.h>

#include "log.h"

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

/* The end of a playback window or of a download: the end notification
 * (end_event, end_status), or for a download as download_end says:
 * nothing at all (quiet), or the connection closed after what is queued. */
void notify_end(struct conn *c, struct sess *s, const char *reason)
{
	const struct stream_settings *set = &c->srv->set;
	s->ended = 1;
	if (s->kind == K_DOWNLOAD && set->dl_end != DL_END_NOTIFY) {
		int quiet = set->dl_end == DL_END_QUIET;
		sim_log("stream conn %lu: session %s ended (%s), %s", c->id, s->id, reason,
			quiet ? "quiet" : "closing");
		if (!quiet)
			c->closing = 1;
		return;
	}
	cJSON *p = cJSON_CreateObject();
	if (p) {
		cJSON_AddStringToObject(p, "event_type", set->end_event[0] ? set->end_event : "stream_end");
		if (set->end_status[0])
			cJSON_AddStringToObject(p, "status", set->end_status);
		cJSON_AddStringToObject(p, "session_id", s->id);
		cJSON_AddStringToObject(p, "reason", reason);
	}
	sim_log("stream conn %lu: session %s ended (%s)", c->id, s->id, reason);
	notify(c, s, p);
}

/* One notification of the notify_flood fault: for the connection's first
 * session, or for none (no Session header) when it has none. */
void notify_flood(struct conn *c)
{
	char head[256], body[160];
	c->flood_n++;
	if (c->sess)
		snprintf(head, sizeof head,
			 "MULTITRANS rtsp://%s/multitrans RTSP/1.0\r\nCSeq: %u\r\nSession: %s\r\n",
			 c->srv->cam->address, ++c->cseq_out, c->sess->id);
	else
		snprintf(head, sizeof head, "MULTITRANS rtsp://%s/multitrans RTSP/1.0\r\nCSeq: %u\r\n",
			 c->srv->cam->address, ++c->cseq_out);
	snprintf(body, sizeof body,
		 "{\"type\":\"notification\",\"params\":{\"event_type\":\"flood\",\"n\":%llu}}",
		 c->flood_n);
	put_message(c, head, body);
}

/* av_config: [{channel, video_codec, audio_codec, ..., extra_data}] */
cJSON *av_config(enum sm_codec codec, int extra)
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

void notify_codec(struct conn *c, struct sess *s)
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

/* ---- answers ---- */

/* Under a hostile fault (mute) no answer goes out: the client waits. */
static int muted(const struct conn *c, const struct req *r)
{
	if (!c->mute)
		return 0;
	sim_log("stream conn %lu: answer to CSeq %s withheld", c->id, r->cseq ? r->cseq : "-");
	return 1;
}

void answer_status(struct conn *c, const struct req *r, int code, const char *reason,
		   const char *extra)
{
	char head[1024];
	if (muted(c, r))
		return;
	snprintf(head, sizeof head, "RTSP/1.0 %d %s\r\n%s%s%s%s", code, reason,
		 r->cseq ? "CSeq: " : "", r->cseq ? r->cseq : "", r->cseq ? "\r\n" : "",
		 extra ? extra : "");
	put_message(c, head, NULL);
}

/* 200 OK with params (error_code first), enveloped unless bare_responses. */
void answer(struct conn *c, const struct req *r, const char *seq, cJSON *params)
{
	char *body = NULL;
	if (muted(c, r)) {
		cJSON_Delete(params);
		return;
	}
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

/* Answer params: error_code, and session_id if id is not NULL. */
cJSON *result(int code, const char *id)
{
	cJSON *p = cJSON_CreateObject();
	if (!p)
		return NULL;
	cJSON_AddNumberToObject(p, "error_code", code);
	if (id)
		cJSON_AddStringToObject(p, "session_id", id);
	return p;
}

void answer_error(struct conn *c, const struct req *r, const char *seq, int code,
		  const char *msg)
{
	cJSON *p = result(code, NULL);
	if (p)
		cJSON_AddStringToObject(p, "msg", msg);
	answer(c, r, seq, p);
}

/* ---- JSON pieces ---- */

/* "ch0" or "ch0-last": channel ids as the wire and stream_state show them. */
void channels_str(int ch0, int nch, char *out, size_t n)
{
	if (nch > 1)
		snprintf(out, n, "%d-%d", ch0, ch0 + nch - 1);
	else
		snprintf(out, n, "%d", ch0);
}

/* A time in epoch seconds, as a string. */
void add_epoch(cJSON *o, const char *name, long long t)
{
	char s[24];
	snprintf(s, sizeof s, "%lld", t);
	cJSON_AddStringToObject(o, name, s);
}
