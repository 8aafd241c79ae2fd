/* What talk sessions receive: see stream_talk.h. A leaf under the stream
 * port's layers (stream_int.h): it calls only the media's G.711 decoders. */
#include "stream_talk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream_media.h"

#define PCM_MAX   (TALK_KEEP_SECONDS * 8000u)      /* samples */
#define PCM_DROP  (10u * 8000u)                     /* dropped at once when full */
#define PKT_DROP  500u

struct talk_pkt {
	uint16_t seq, len;
	uint32_t ts, ssrc;
	uint8_t marker, pt;
};

struct talk_rec {
	struct talk_rec *next;
	char session_id[24];
	char mode[24];
	int channel;
	int live;
	struct talk_pkt *pkts;
	size_t npkts, cappkts;
	int16_t *pcm;
	size_t npcm, cappcm;
	unsigned long long bytes, ignored;
};

static uint32_t get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void rec_free(struct talk_rec *t)
{
	free(t->pkts);
	free(t->pcm);
	free(t);
}

struct talk_rec *talk_open(struct talk_list *l, const char *session_id, int channel,
			   const char *mode)
{
	struct talk_rec *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	snprintf(t->session_id, sizeof t->session_id, "%s", session_id);
	snprintf(t->mode, sizeof t->mode, "%s", mode);
	t->channel = channel;
	t->live = 1;
	if (l->tail)
		l->tail->next = t;
	else
		l->head = t;
	l->tail = t;
	l->n++;
	return t;
}

void talk_close(struct talk_list *l, struct talk_rec *t)
{
	t->live = 0;
	size_t finished = 0;
	for (struct talk_rec *r = l->head; r; r = r->next)
		finished += !r->live;
	/* Forget the oldest finished records beyond the limit. */
	struct talk_rec **pp = &l->head, *prev = NULL;
	while (*pp && finished > TALK_KEEP_RECORDS) {
		struct talk_rec *r = *pp;
		if (r->live) {
			prev = r;
			pp = &r->next;
			continue;
		}
		*pp = r->next;
		if (l->tail == r)
			l->tail = prev;
		rec_free(r);
		l->n--;
		finished--;
	}
}

void talk_packet(struct talk_rec *t, const uint8_t *p, size_t len)
{
	if (len < 12 || (p[0] >> 6) != 2) {
		t->ignored++;
		return;
	}
	size_t hdr = 12 + 4u * (p[0] & 0x0f);
	if ((p[0] & 0x10) && len >= hdr + 4)                     /* extension */
		hdr += 4 + 4u * (((size_t)p[hdr + 2] << 8) | p[hdr + 3]);
	size_t end = len;
	if ((p[0] & 0x20) && len > 0)                            /* padding */
		end = p[len - 1] <= len ? len - p[len - 1] : 0;
	if (hdr > end) {
		t->ignored++;
		return;
	}
	size_t n = end - hdr;
	int pt = p[1] & 0x7f;
	if (t->npkts == TALK_KEEP_PACKETS) {
		memmove(t->pkts, t->pkts + PKT_DROP, (t->npkts - PKT_DROP) * sizeof *t->pkts);
		t->npkts -= PKT_DROP;
	}
	if (t->npkts == t->cappkts) {
		size_t c = t->cappkts ? t->cappkts * 2 : 64;
		if (c > TALK_KEEP_PACKETS)
			c = TALK_KEEP_PACKETS;
		struct talk_pkt *np = realloc(t->pkts, c * sizeof *np);
		if (!np)
			return;
		t->pkts = np;
		t->cappkts = c;
	}
	struct talk_pkt *k = &t->pkts[t->npkts++];
	k->seq = (uint16_t)((p[2] << 8) | p[3]);
	k->ts = get32(p + 4);
	k->ssrc = get32(p + 8);
	k->marker = (p[1] & 0x80) != 0;
	k->pt = (uint8_t)pt;
	k->len = (uint16_t)n;
	t->bytes += n;
	if (pt != 0 && pt != 8)
		return;                 /* not G.711: headers only */
	if (n > PCM_MAX)
		n = PCM_MAX;
	if (t->npcm + n > PCM_MAX) {
		size_t drop = PCM_DROP > t->npcm ? t->npcm : PCM_DROP;
		if (t->npcm + n - drop > PCM_MAX)
			drop = t->npcm + n - PCM_MAX;
		memmove(t->pcm, t->pcm + drop, (t->npcm - drop) * sizeof *t->pcm);
		t->npcm -= drop;
	}
	if (t->npcm + n > t->cappcm) {
		size_t c = t->cappcm ? t->cappcm : 8000;
		while (c < t->npcm + n)
			c *= 2;
		if (c > PCM_MAX)
			c = PCM_MAX;
		int16_t *np = realloc(t->pcm, c * sizeof *np);
		if (!np)
			return;
		t->pcm = np;
		t->cappcm = c;
	}
	for (size_t i = 0; i < n; i++)
		t->pcm[t->npcm++] = pt == 8 ? sm_alaw_decode(p[hdr + i]) : sm_ulaw_decode(p[hdr + i]);
}

static cJSON *rec_json(const struct talk_rec *t)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "session_id", t->session_id);
	cJSON_AddNumberToObject(o, "channel", t->channel);
	cJSON_AddStringToObject(o, "mode", t->mode);
	cJSON_AddBoolToObject(o, "live", t->live);
	cJSON *pk = cJSON_AddArrayToObject(o, "packets");
	for (size_t i = 0; pk && i < t->npkts; i++) {
		const struct talk_pkt *k = &t->pkts[i];
		cJSON *e = cJSON_CreateObject();
		if (!e)
			break;
		cJSON_AddNumberToObject(e, "seq", k->seq);
		cJSON_AddNumberToObject(e, "timestamp", k->ts);
		cJSON_AddBoolToObject(e, "marker", k->marker);
		cJSON_AddNumberToObject(e, "pt", k->pt);
		cJSON_AddNumberToObject(e, "ssrc", k->ssrc);
		cJSON_AddNumberToObject(e, "len", k->len);
		cJSON_AddItemToArray(pk, e);
	}
	char *hex = malloc(t->npcm * 4 + 1);
	if (hex) {
		static const char digits[] = "0123456789abcdef";
		for (size_t i = 0; i < t->npcm; i++) {
			uint16_t s = (uint16_t)t->pcm[i];
			uint8_t lo = (uint8_t)s, hi = (uint8_t)(s >> 8);
			hex[4 * i] = digits[lo >> 4];
			hex[4 * i + 1] = digits[lo & 15];
			hex[4 * i + 2] = digits[hi >> 4];
			hex[4 * i + 3] = digits[hi & 15];
		}
		hex[t->npcm * 4] = '\0';
		cJSON_AddStringToObject(o, "pcm_hex", hex);
		free(hex);
	}
	cJSON_AddNumberToObject(o, "bytes", (double)t->bytes);
	cJSON_AddNumberToObject(o, "ignored", (double)t->ignored);
	return o;
}

cJSON *talk_json(const struct talk_list *l)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *a = o ? cJSON_AddArrayToObject(o, "sessions") : NULL;
	if (!a) {
		cJSON_Delete(o);
		return NULL;
	}
	for (const struct talk_rec *t = l->head; t; t = t->next) {
		cJSON *e = rec_json(t);
		if (e)
			cJSON_AddItemToArray(a, e);
	}
	return o;
}

void talk_clear(struct talk_list *l)
{
	/* Live records stay (their sessions still point at them), emptied. */
	struct talk_rec **pp = &l->head, *prev = NULL;
	while (*pp) {
		struct talk_rec *r = *pp;
		if (r->live) {
			r->npkts = 0;
			r->npcm = 0;
			r->bytes = 0;
			r->ignored = 0;
			prev = r;
			pp = &r->next;
			continue;
		}
		*pp = r->next;
		rec_free(r);
		l->n--;
	}
	l->tail = prev;
}
