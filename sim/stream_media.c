/* The media of the stream port: see stream_media.h. A leaf under the
 * stream port's layers (stream_int.h): it knows no connection and calls
 * none of them. */
#include "stream_media.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

/* The files of sim/media/ go into .rodata as they are (the assembler's
 * .incbin, paths relative to the directory the compiler runs in: the
 * repository root, as in sim/build.mk). Each blob NAME comes with NAME_len,
 * its size in bytes, computed by the assembler. */
#ifndef SIM_MEDIA_DIR
#define SIM_MEDIA_DIR "sim/media"
#endif

#define SM_BLOB(name, file)                                             \
	__asm__(".pushsection .rodata\n"                                \
		".balign 16\n"                                          \
		".globl " #name "\n"                                    \
		".hidden " #name "\n"                                   \
		#name ":\n"                                             \
		".incbin \"" SIM_MEDIA_DIR "/" file "\"\n"              \
		#name "_end:\n"                                         \
		".balign 8\n"                                           \
		".globl " #name "_len\n"                                \
		".hidden " #name "_len\n"                               \
		#name "_len:\n"                                         \
		".quad " #name "_end - " #name "\n"                     \
		".popsection\n");                                       \
	extern const uint8_t name[];                                    \
	extern const uint64_t name##_len

SM_BLOB(sim_media_h264, "clip.h264");
SM_BLOB(sim_media_h265, "clip.h265");
SM_BLOB(sim_media_alaw, "tone.alaw");
SM_BLOB(sim_media_ts, "recording.ts");

static struct sm_clip clips[2];
static int ready;
static char ts_sha256[65];

const char *sm_codec_name(enum sm_codec codec)
{
	return codec == SM_H265 ? "H265" : "H264";
}

/* ---- NAL units and pictures ---- */

static int nal_type(enum sm_codec codec, const uint8_t *p)
{
	return codec == SM_H265 ? (p[0] >> 1) & 0x3f : p[0] & 0x1f;
}

static int is_vcl(enum sm_codec codec, int t)
{
	return codec == SM_H265 ? t < 32 : t >= 1 && t <= 5;
}

static int is_key(enum sm_codec codec, int t)
{
	return codec == SM_H265 ? t >= 16 && t <= 23 : t == 5;
}

static int is_param_set(enum sm_codec codec, int t)
{
	return codec == SM_H265 ? t >= 32 && t <= 34 : t == 7 || t == 8;
}

/* Offsets just after each start code (00 00 01, or 00 00 00 01). */
static size_t split_nals(const uint8_t *d, size_t n, struct sm_nal *out, size_t max)
{
	size_t count = 0, start = 0;
	int open = 0;
	for (size_t i = 0; i + 3 <= n; i++) {
		if (d[i] != 0 || d[i + 1] != 0 || d[i + 2] != 1)
			continue;
		if (open && count < max) {
			size_t end = i;
			while (end > start && d[end - 1] == 0)
				end--;  /* the zero of a 4-byte start code, trailing zeros */
			out[count].p = d + start;
			out[count].len = end - start;
			if (out[count].len > 0)
				count++;
		}
		start = i + 3;
		open = 1;
		i += 2;
	}
	if (open && count < max && start < n) {
		out[count].p = d + start;
		out[count].len = n - start;
		count++;
	}
	return count;
}

static void b64(const uint8_t *p, size_t n, char *out, size_t outsz)
{
	if (4 * ((n + 2) / 3) + 1 > outsz) {
		out[0] = '\0';
		return;
	}
	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
}

static const struct sm_nal *first_of(const struct sm_clip *c, int type)
{
	for (size_t i = 0; i < c->nnals; i++)
		if (nal_type(c->codec, c->nals[i].p) == type)
			return &c->nals[i];
	return NULL;
}

static int make_fmtp(struct sm_clip *c)
{
	char a[256], b[256], d[256];
	if (c->codec == SM_H264) {
		const struct sm_nal *sps = first_of(c, 7), *pps = first_of(c, 8);
		if (!sps || !pps || sps->len < 4)
			return -1;
		b64(sps->p, sps->len, a, sizeof a);
		b64(pps->p, pps->len, b, sizeof b);
		snprintf(c->rtpmap, sizeof c->rtpmap, "96 H264/90000");
		snprintf(c->fmtp, sizeof c->fmtp,
			 "a=fmtp:96 packetization-mode=1; profile-level-id=%02X%02X%02X; "
			 "sprop-parameter-sets=%s,%s", sps->p[1], sps->p[2], sps->p[3], a, b);
	} else {
		const struct sm_nal *vps = first_of(c, 32), *sps = first_of(c, 33),
				    *pps = first_of(c, 34);
		if (!vps || !sps || !pps)
			return -1;
		b64(vps->p, vps->len, a, sizeof a);
		b64(sps->p, sps->len, b, sizeof b);
		b64(pps->p, pps->len, d, sizeof d);
		snprintf(c->rtpmap, sizeof c->rtpmap, "96 H265/90000");
		snprintf(c->fmtp, sizeof c->fmtp, "a=fmtp:96 sprop-vps=%s; sprop-sps=%s; sprop-pps=%s",
			 a, b, d);
	}
	return 0;
}

/* The first slice of a picture: first_mb_in_slice 0 (H.264, ue(v): a
 * first bit of 1), first_slice_segment_in_pic_flag (H.265). */
static int first_slice(enum sm_codec codec, const struct sm_nal *n)
{
	size_t hdr = codec == SM_H265 ? 2 : 1;
	return n->len > hdr && (n->p[hdr] & 0x80);
}

/* Pictures: a picture ends before the NAL units (parameter sets, SEI,
 * delimiters) that come ahead of the next picture's first slice. */
static int load_clip(struct sm_clip *c, enum sm_codec codec, const uint8_t *d, size_t n,
		     unsigned fps)
{
	memset(c, 0, sizeof *c);
	c->codec = codec;
	c->frame_ms = 1000.0 / fps;
	c->ticks = 90000u / fps;
	size_t max = n / 3 + 1;
	c->nals = calloc(max, sizeof *c->nals);
	c->aus = calloc(max, sizeof *c->aus);
	if (!c->nals || !c->aus)
		return -1;
	c->nnals = split_nals(d, n, c->nals, max);
	size_t first = 0;       /* the first NAL unit of the picture being read */
	int open = 0;           /* a slice of it was seen */
	for (size_t i = 0; i < c->nnals; i++) {
		int t = nal_type(codec, c->nals[i].p);
		if (!is_vcl(codec, t)) {
			if (open) {     /* ahead of the next picture: close this one */
				c->aus[c->naus - 1].n = i - c->aus[c->naus - 1].first;
				first = i;
				open = 0;
			}
			continue;
		}
		if (open && !first_slice(codec, &c->nals[i])) {
			c->aus[c->naus - 1].n = i + 1 - c->aus[c->naus - 1].first;
			continue;   /* another slice of the same picture */
		}
		if (open)
			first = i;
		struct sm_au *au = &c->aus[c->naus++];
		au->first = first;
		au->n = i + 1 - first;
		au->key = is_key(codec, t);
		open = 1;
	}
	if (c->naus == 0 || !c->aus[0].key)
		return -1;
	return make_fmtp(c);
}

int sm_init(void)
{
	if (ready)
		return 0;
	if (load_clip(&clips[SM_H264], SM_H264, sim_media_h264,
		      (size_t)sim_media_h264_len, 1000u / SM_FRAME_MS) < 0 ||
	    load_clip(&clips[SM_H265], SM_H265, sim_media_h265,
		      (size_t)sim_media_h265_len, 1000u / SM_FRAME_MS) < 0) {
		sm_free();
		return -1;
	}
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t n = 0;
	const uint8_t *ts = sm_recording(&n);
	EVP_Digest(ts, n, md, &mdlen, EVP_sha256(), NULL);
	for (unsigned i = 0; i < 32; i++)
		snprintf(ts_sha256 + 2 * i, 3, "%02x", md[i]);
	ready = 1;
	return 0;
}

static void clip_free(struct sm_clip *c)
{
	free(c->nals);
	free(c->aus);
	free(c->owned);
	memset(c, 0, sizeof *c);
}

void sm_free(void)
{
	for (int i = 0; i < 2; i++)
		clip_free(&clips[i]);
	ready = 0;
}

/* The codec of an Annex-B stream, from its first NAL unit: an H.265
 * stream begins with a VPS, SPS, PPS, delimiter or SEI, whose two-byte
 * header has nuh_layer_id 0 and TemporalId 0 (second byte 1); H.264 ones
 * with NAL types 1..23. */
static int sniff_codec(const uint8_t *d, size_t n)
{
	struct sm_nal first;
	if (split_nals(d, n, &first, 1) != 1 || first.len < 2 || (first.p[0] & 0x80))
		return -1;
	int h265 = (first.p[0] >> 1) & 0x3f;
	if (first.p[1] == 1 && h265 >= 32 && h265 <= 40)
		return SM_H265;
	int h264 = first.p[0] & 0x1f;
	return h264 >= 1 && h264 <= 23 ? SM_H264 : -1;
}

int sm_load_media(const char *path, unsigned fps, char *err, size_t errsz)
{
	FILE *f = fopen(path, "rb");
	uint8_t *d = NULL;
	size_t n = 0, cap = 0;
	if (!f) {
		snprintf(err, errsz, "--media %s: %s", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (n == cap) {
			size_t more = cap ? cap * 2 : (size_t)1 << 20;
			uint8_t *p = more <= SM_MEDIA_MAX + 1 ? realloc(d, more) : NULL;
			if (!p) {
				fclose(f);
				free(d);
				snprintf(err, errsz, "--media %s: larger than %zu bytes, or out of memory", path,
					 SM_MEDIA_MAX);
				return -1;
			}
			d = p;
			cap = more;
		}
		size_t k = fread(d + n, 1, cap - n, f);
		n += k;
		if (k == 0)
			break;
	}
	int bad = ferror(f);
	fclose(f);
	int codec = bad ? -1 : sniff_codec(d, n);
	struct sm_clip c;
	if (codec < 0 || load_clip(&c, (enum sm_codec)codec, d, n, fps) < 0) {
		if (codec >= 0)
			clip_free(&c);
		free(d);
		snprintf(err, errsz, "--media %s: not an H.264 or H.265 Annex-B stream that begins with "
			 "a key picture and its parameter sets", path);
		return -1;
	}
	c.owned = d;
	clip_free(&clips[codec]);
	clips[codec] = c;
	return codec;
}

size_t sm_position(const struct sm_clip *c, long long t)
{
	double ms = (double)(t % (long long)1000000000) * 1000.0;
	double clip_ms = c->frame_ms * (double)c->naus;
	size_t au = (size_t)((ms - clip_ms * (double)(long long)(ms / clip_ms)) / c->frame_ms);
	return sm_next_key(c, au % c->naus);
}

const struct sm_clip *sm_clip(enum sm_codec codec)
{
	return &clips[codec == SM_H265 ? SM_H265 : SM_H264];
}

size_t sm_next_key(const struct sm_clip *c, size_t au)
{
	for (size_t k = 0; k < c->naus; k++) {
		size_t i = (au + k) % c->naus;
		if (c->aus[i].key)
			return i;
	}
	return 0;
}

const uint8_t *sm_alaw(size_t *len)
{
	*len = (size_t)sim_media_alaw_len;
	return sim_media_alaw;
}

const uint8_t *sm_recording(size_t *len)
{
	*len = (size_t)sim_media_ts_len;
	return sim_media_ts;
}

const char *sm_recording_sha256(void)
{
	return ts_sha256;
}

/* ---- RTP payloads ---- */

#define AGG_MAX 1024

struct agg {
	uint8_t buf[AGG_MAX];
	size_t len;
	int count;
	uint8_t nri;            /* H.264: the highest NRI; H.265: F clear */
	uint8_t tid;            /* H.265: the lowest TemporalId + 1 */
};

static void agg_flush(const struct sm_clip *c, struct agg *g, sm_emit_fn fn, void *arg, int last)
{
	if (g->count == 0)
		return;
	if (c->codec == SM_H264) {
		g->buf[0] = (uint8_t)(g->nri | 24);                    /* STAP-A */
	} else {
		g->buf[0] = (uint8_t)(48 << 1);                        /* AP, LayerId 0 */
		g->buf[1] = g->tid;
	}
	fn(arg, g->buf, g->len, NULL, 0, last);
	g->len = 0;
	g->count = 0;
}

static int agg_add(const struct sm_clip *c, struct agg *g, const struct sm_nal *n)
{
	size_t hdr = c->codec == SM_H264 ? 1 : 2;
	if (g->count == 0) {
		g->len = hdr;
		g->nri = 0;
		g->tid = 7;
	}
	if (g->len + 2 + n->len > sizeof g->buf)
		return -1;
	g->buf[g->len++] = (uint8_t)(n->len >> 8);
	g->buf[g->len++] = (uint8_t)n->len;
	memcpy(g->buf + g->len, n->p, n->len);
	g->len += n->len;
	g->count++;
	if (c->codec == SM_H264) {
		if ((n->p[0] & 0x60) > g->nri)
			g->nri = n->p[0] & 0x60;
	} else if (n->len >= 2 && (n->p[1] & 7) < g->tid) {
		g->tid = n->p[1] & 7;
	}
	return 0;
}

static void fragment(const struct sm_clip *c, const struct sm_nal *n, size_t mtu,
		     sm_emit_fn fn, void *arg, int last)
{
	uint8_t pre[3];
	size_t hdr, plen;
	int type = nal_type(c->codec, n->p);
	if (c->codec == SM_H264) {
		hdr = 1;
		pre[0] = (uint8_t)((n->p[0] & 0xe0) | 28);             /* FU-A indicator */
		plen = 2;
	} else {
		hdr = 2;
		pre[0] = (uint8_t)((n->p[0] & 0x81) | (49 << 1));      /* FU, F and LayerId kept */
		pre[1] = n->p[1];
		plen = 3;
	}
	size_t room = mtu - plen, off = hdr;
	while (off < n->len) {
		size_t k = n->len - off < room ? n->len - off : room;
		uint8_t fu = (uint8_t)type;
		if (off == hdr)
			fu |= 0x80;                                     /* S */
		if (off + k == n->len)
			fu |= 0x40;                                     /* E */
		pre[plen - 1] = fu;
		fn(arg, pre, plen, n->p + off, k, last && off + k == n->len);
		off += k;
	}
}

void sm_packetize(const struct sm_clip *c, size_t au, size_t mtu, sm_emit_fn fn, void *arg)
{
	static struct agg g;    /* one picture at a time: single-threaded */
	const struct sm_au *a = &c->aus[au % c->naus];
	g.count = 0;
	for (size_t i = 0; i < a->n; i++) {
		const struct sm_nal *n = &c->nals[a->first + i];
		int last = i + 1 == a->n;
		if (a->key && is_param_set(c->codec, nal_type(c->codec, n->p)) && !last &&
		    agg_add(c, &g, n) == 0)
			continue;
		agg_flush(c, &g, fn, arg, 0);
		if (n->len <= mtu)
			fn(arg, NULL, 0, n->p, n->len, last);
		else
			fragment(c, n, mtu, fn, arg, last);
	}
	agg_flush(c, &g, fn, arg, 1);
}

/* ---- G.711 ---- */

int16_t sm_alaw_decode(uint8_t v)
{
	v ^= 0x55;
	int t = (v & 0x0f) << 4;
	int seg = (v & 0x70) >> 4;
	if (seg == 0)
		t += 8;
	else if (seg == 1)
		t += 0x108;
	else
		t = (t + 0x108) << (seg - 1);
	return (int16_t)((v & 0x80) ? t : -t);
}

int16_t sm_ulaw_decode(uint8_t v)
{
	v = (uint8_t)~v;
	int t = ((v & 0x0f) << 3) + 0x84;
	t <<= (v & 0x70) >> 4;
	return (int16_t)((v & 0x80) ? 0x84 - t : t - 0x84);
}
