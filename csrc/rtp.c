/* rtp.c: RTP header, H.264/H.265/G.711 depacketizer, talk packetizer
 * (contracts in rtp.h).
 *
 * The depacketizer writes each NAL unit once, straight from the packet
 * into the track's buffer behind a start code; fragments are appended in
 * place. Nothing is copied again when the unit is handed out. */
#include "rtp.h"

#include "text.h"

#include <stdlib.h>
#include <string.h>

/* ---- header -------------------------------------------------------- */

int rtp_parse(const unsigned char *p, size_t len, rtp_packet *out) {
  size_t off, end = len;
  if (len < RTP_HEADER_SIZE) return RTP_ESHORT;
  if (p[0] >> 6 != 2) return RTP_EVERSION;
  out->csrc_count = p[0] & 15u;
  out->has_extension = (p[0] & 0x10) != 0;
  out->marker = (p[1] & 0x80) != 0;
  out->pt = p[1] & 0x7f;
  out->seq = txt_be16(p + 2);
  out->timestamp = txt_be32(p + 4);
  out->ssrc = txt_be32(p + 8);
  off = RTP_HEADER_SIZE + 4 * (size_t)out->csrc_count;
  if (off > len) return RTP_ESHORT;
  if (out->has_extension) {
    size_t ext;
    if (len - off < 4) return RTP_ESHORT;
    ext = 4 * (size_t)txt_be16(p + off + 2);
    off += 4;
    if (ext > len - off) return RTP_ESHORT;
    off += ext;
  }
  if (p[0] & 0x20) {
    /* The last byte counts the padding, itself included (RFC 3550 5.1),
     * so padding may never reach into the header. */
    size_t pad = off < len ? p[len - 1] : 0;
    if (pad == 0 || pad > len - off) return RTP_EPADDING;
    end -= pad;
  }
  out->payload = p + off;
  out->payload_len = end - off;
  return RTP_OK;
}

const char *rtp_strerror(int code) {
  switch (code) {
  case RTP_OK: return "ok";
  case RTP_ESHORT: return "truncated RTP header";
  case RTP_EVERSION: return "not RTP version 2";
  case RTP_EPADDING: return "bad RTP padding";
  default: return "unknown";
  }
}

/* ---- base64 and fmtp ------------------------------------------------ */

static int b64_value(int c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

long rtp_base64_decode(const char *in, size_t len, unsigned char *out, size_t cap) {
  size_t data = len, i, n = 0;
  uint32_t acc = 0;
  int bits = 0;
  /* Padding only in a last group of four; unpadded input is read as if
   * padded (some senders drop it), but never a lone sixth bit-group. */
  if (len % 4 == 0 && len > 0 && in[len - 1] == '=') data -= in[len - 2] == '=' ? 2 : 1;
  if (data % 4 == 1) return -1;
  if (data / 4 * 3 + (data % 4 ? data % 4 - 1 : 0) > cap) return -1;
  for (i = 0; i < data; i++) {
    int v = b64_value((unsigned char)in[i]);
    if (v < 0) return -1;
    acc = (acc << 6 | (uint32_t)v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (unsigned char)(acc >> bits);
    }
  }
  /* Strict: the bits left over past the last byte must be zero. */
  if (bits && (acc & ((1u << bits) - 1))) return -1;
  return (long)n;
}

/* A parameter name, in any case, with spaces inside it passed over: the
 * document's own example breaks "sprop-parameter- sets" across a line. */
static int param_is(const char *s, size_t n, const char *name) {
  size_t i, k = 0;
  for (i = 0; i < n; i++) {
    if (txt_is_lws((unsigned char)s[i])) continue;
    if (!name[k] || txt_lower((unsigned char)s[i]) != name[k]) return 0;
    k++;
  }
  return name[k] == '\0';
}

/* Which parameter set slot (0 VPS, 1 SPS, 2 PPS) a NAL unit type fills,
 * or -1. */
static int ps_slot(int codec, int type) {
  if (codec == RTP_H264) return type == 7 ? 1 : type == 8 ? 2 : -1;
  if (codec == RTP_H265) return type >= 32 && type <= 34 ? type - 32 : -1;
  return -1;
}

static int nal_type(int codec, const unsigned char *nal) {
  return codec == RTP_H264 ? nal[0] & 0x1f : (nal[0] >> 1) & 0x3f;
}

static void keep_ps(rtp_track *t, int slot, const unsigned char *nal, size_t n) {
  if (n == 0 || n > RTP_MAX_PARAM) return;
  memcpy(t->ps[slot], nal, n);
  t->ps_len[slot] = n;
}

/* Takes the comma-separated base64 NAL units of one sprop value; want is
 * the slot they must fill, or -1 for "any parameter set" (H.264's single
 * list, which may also carry other NAL units: those are passed over). */
static void sprop_list(rtp_track *t, const char *v, size_t n, int want, int *taken, int *bad) {
  size_t i = 0;
  while (i <= n) {
    size_t a = i, b;
    unsigned char nal[RTP_MAX_PARAM];
    long len;
    while (i < n && v[i] != ',') i++;
    b = i++;
    while (a < b && txt_is_lws((unsigned char)v[a])) a++;
    while (b > a && txt_is_lws((unsigned char)v[b - 1])) b--;
    len = rtp_base64_decode(v + a, b - a, nal, sizeof nal);
    if (len < (t->codec == RTP_H265 ? 2 : 1) || (nal[0] & 0x80)) {
      (*bad)++;
      continue;
    }
    {
      int slot = ps_slot(t->codec, nal_type(t->codec, nal));
      if (want >= 0 && slot != want) (*bad)++;
      else if (slot >= 0) {
        keep_ps(t, slot, nal, (size_t)len);
        (*taken)++;
      }
    }
  }
}

int rtp_track_fmtp(rtp_track *t, const char *s, size_t len) {
  size_t i = 0;
  int taken = 0, bad = 0;
  while (i < len && txt_is_lws((unsigned char)s[i])) i++;
  if (len - i >= 7 && txt_is_word(s + i, 7, "a=fmtp:")) i += 7;
  /* The payload type before the parameters, with or without "a=fmtp:". */
  if (i < len && s[i] >= '0' && s[i] <= '9') {
    size_t j = i;
    while (j < len && s[j] >= '0' && s[j] <= '9') j++;
    if (j == len || txt_is_lws((unsigned char)s[j])) i = j;
  }
  while (i < len) {
    size_t a = i, b, eq, na, nb, va, vb;
    while (i < len && s[i] != ';') i++;
    b = i++;
    for (eq = a; eq < b && s[eq] != '='; eq++) {}
    if (eq == b) continue;
    for (na = a; na < eq && txt_is_lws((unsigned char)s[na]); na++) {}
    for (nb = eq; nb > na && txt_is_lws((unsigned char)s[nb - 1]); nb--) {}
    for (va = eq + 1; va < b && txt_is_lws((unsigned char)s[va]); va++) {}
    for (vb = b; vb > va && txt_is_lws((unsigned char)s[vb - 1]); vb--) {}
    if (t->codec == RTP_H264 && param_is(s + na, nb - na, "sprop-parameter-sets"))
      sprop_list(t, s + va, vb - va, -1, &taken, &bad);
    else if (t->codec == RTP_H265 && param_is(s + na, nb - na, "sprop-vps"))
      sprop_list(t, s + va, vb - va, 0, &taken, &bad);
    else if (t->codec == RTP_H265 && param_is(s + na, nb - na, "sprop-sps"))
      sprop_list(t, s + va, vb - va, 1, &taken, &bad);
    else if (t->codec == RTP_H265 && param_is(s + na, nb - na, "sprop-pps"))
      sprop_list(t, s + va, vb - va, 2, &taken, &bad);
  }
  return bad ? -1 - taken : taken;
}

/* ---- track ----------------------------------------------------------- */

void rtp_track_init(rtp_track *t, int codec, uint32_t clock) {
  memset(t, 0, sizeof *t);
  t->codec = codec;
  t->clock = clock ? clock : (codec == RTP_PCMA || codec == RTP_PCMU) ? 8000 : 90000;
  t->max_frame = RTP_DEFAULT_MAX_FRAME;
}

void rtp_track_free(rtp_track *t) {
  free(t->buf);
  t->buf = NULL;
  t->len = t->cap = 0;
}

static size_t max_frame(const rtp_track *t) {
  return t->max_frame < RTP_MIN_MAX_FRAME ? RTP_MIN_MAX_FRAME : t->max_frame;
}

static void au_reset(rtp_track *t) {
  t->au_open = t->au_broken = t->au_oversized = t->au_key = t->fu_open = 0;
  t->au_has[0] = t->au_has[1] = t->au_has[2] = 0;
  t->len = 0;
}

/* Appends to the unit; past max_frame the unit is marked oversized and
 * the buffer stays as it is. */
static void put(rtp_track *t, const unsigned char *p, size_t n) {
  size_t limit = max_frame(t);
  if (t->au_broken || t->au_oversized) return;
  if (n > limit - t->len) {
    t->au_oversized = 1;
    return;
  }
  if (t->len + n > t->cap) {
    size_t cap = t->cap ? t->cap : 4096;
    unsigned char *b;
    while (cap < t->len + n) cap = cap > limit / 2 ? limit : cap * 2;
    b = realloc(t->buf, cap);
    if (!b) { /* no memory: lose this unit, not the process */
      t->au_broken = 1;
      return;
    }
    t->buf = b;
    t->cap = cap;
  }
  memcpy(t->buf + t->len, p, n);
  t->len += n;
  if (t->len > t->peak) t->peak = t->len;
}

static const unsigned char start_code[4] = {0, 0, 0, 1};

static int is_key(int codec, int type) {
  return codec == RTP_H264 ? type == 5 : type >= 16 && type <= 21;
}

/* Start of a NAL unit of the given type in the buffer: the parameter sets
 * the unit lacks go before its first keyframe slice, then the start
 * code. */
static void nal_begin(rtp_track *t, int type) {
  int slot = ps_slot(t->codec, type);
  if (slot >= 0) t->au_has[slot] = 1;
  if (is_key(t->codec, type)) {
    int i;
    t->au_key = 1;
    for (i = t->codec == RTP_H264 ? 1 : 0; i < 3; i++)
      if (!t->au_has[i] && t->ps_len[i]) {
        put(t, start_code, 4);
        put(t, t->ps[i], t->ps_len[i]);
        t->au_has[i] = 1;
      }
  }
  put(t, start_code, 4);
}

/* A whole NAL unit from a packet. */
static void nal_whole(rtp_track *t, const unsigned char *nal, size_t n) {
  int type = nal_type(t->codec, nal), slot = ps_slot(t->codec, type);
  if (slot >= 0) keep_ps(t, slot, nal, n);
  nal_begin(t, type);
  put(t, nal, n);
}

/* Aggregation packet (STAP-A, AP): 16-bit sizes and NAL units from off.
 * Checked whole before anything is written. */
static int aggregate(rtp_track *t, const unsigned char *p, size_t n, size_t off) {
  size_t i = off, min = t->codec == RTP_H265 ? 2 : 1;
  if (i >= n) return -1;
  while (i < n) {
    size_t sz;
    if (n - i < 2) return -1;
    sz = txt_be16(p + i);
    if (sz < min || sz > n - i - 2) return -1;
    i += 2 + sz;
  }
  for (i = off; i < n; i += 2 + (size_t)txt_be16(p + i)) nal_whole(t, p + i + 2, txt_be16(p + i));
  return 0;
}

/* Fragmentation unit: hdr/hlen is the NAL header it rebuilds, body the
 * fragment. */
static int fragment(rtp_track *t, int start, int end, int type, const unsigned char *hdr, size_t hlen,
                    const unsigned char *body, size_t blen) {
  if (start) {
    if (t->fu_open) t->au_broken = 1; /* the previous one never ended */
    nal_begin(t, type);
    t->fu_open = 1;
    t->fu_type = type;
    t->fu_start = t->len;
    put(t, hdr, hlen);
  } else if (!t->fu_open) {
    t->au_broken = 1; /* its start is missing */
    return 0;
  }
  put(t, body, blen);
  if (end) {
    int slot = ps_slot(t->codec, t->fu_type);
    if (slot >= 0 && !t->au_broken && !t->au_oversized && t->len >= t->fu_start)
      keep_ps(t, slot, t->buf + t->fu_start, t->len - t->fu_start);
    t->fu_open = 0;
  }
  return 0;
}

static int depack_h264(rtp_track *t, const unsigned char *p, size_t n) {
  int type;
  if (n < 1) return -1;
  type = p[0] & 0x1f;
  if (type >= 1 && type <= 23) {
    nal_whole(t, p, n);
    return 0;
  }
  if (type == 24) return aggregate(t, p, n, 1);
  if (type == 28) {
    unsigned char hdr;
    if (n < 2) return -1;
    hdr = (unsigned char)((p[0] & 0xe0) | (p[1] & 0x1f));
    return fragment(t, p[1] & 0x80, p[1] & 0x40, p[1] & 0x1f, &hdr, 1, p + 2, n - 2);
  }
  t->unsupported++;
  return 0;
}

static int depack_h265(rtp_track *t, const unsigned char *p, size_t n) {
  int type;
  if (n < 2) return -1;
  type = (p[0] >> 1) & 0x3f;
  if (type < 48) {
    nal_whole(t, p, n);
    return 0;
  }
  if (type == 48) return aggregate(t, p, n, 2);
  if (type == 49) {
    unsigned char hdr[2];
    int ftype;
    if (n < 3) return -1;
    ftype = p[2] & 0x3f;
    hdr[0] = (unsigned char)((p[0] & 0x81) | ftype << 1);
    hdr[1] = p[1];
    return fragment(t, p[2] & 0x80, p[2] & 0x40, ftype, hdr, 2, p + 3, n - 3);
  }
  t->unsupported++;
  return 0;
}

/* Ends the unit being assembled: fills *out and returns RTP_FRAME when it
 * is whole, else discards it and returns RTP_NONE. */
static int au_end(rtp_track *t, rtp_frame *out) {
  int whole = t->au_open && !t->au_broken && !t->au_oversized && !t->fu_open && t->len > 0;
  if (t->au_open && t->au_oversized) t->oversized++;
  if (!whole) {
    au_reset(t);
    return RTP_NONE;
  }
  out->data = t->buf;
  out->len = t->len;
  out->timestamp = t->au_ts;
  out->unwrapped = t->au_ext;
  out->pts = (double)(t->au_ext - t->first_ext) / t->clock;
  out->seq = t->au_seq;
  out->keyframe = t->au_key;
  out->lost = t->pending_lost;
  t->pending_lost = 0;
  t->frames++;
  au_reset(t);
  /* au_reset emptied the length, not the bytes out->data points to. */
  return RTP_FRAME;
}

int rtp_track_push(rtp_track *t, const unsigned char *p, size_t len, rtp_frame *out) {
  rtp_packet k;
  uint16_t gap = 0;
  int video = t->codec == RTP_H264 || t->codec == RTP_H265, rc;
  if (rtp_parse(p, len, &k) != RTP_OK) {
    t->bad++;
    if (t->au_open) t->au_broken = 1;
    return RTP_NONE;
  }
  if (t->have_ssrc && k.ssrc != t->ssrc) { /* a new sender: start afresh */
    if (t->au_open && t->au_oversized) t->oversized++;
    au_reset(t);
    t->have_seq = 0;
    t->old_run = 0;
  }
  t->ssrc = k.ssrc;
  t->have_ssrc = 1;
  if (t->have_seq) {
    uint16_t d = (uint16_t)(k.seq - t->next_seq);
    if (d >= 0x8000) {
      if (++t->old_run < RTP_RESYNC) {
        t->duplicates++;
        return RTP_NONE;
      }
      /* Numbering restarted: follow it, as if this one were expected. */
      t->next_seq = k.seq;
    } else {
      gap = d;
    }
  }
  if (gap && t->au_open) t->au_broken = 1;
  if (t->au_open && k.timestamp != t->au_ts) {
    if (!t->au_broken && !t->au_oversized && !t->fu_open && t->len > 0) {
      /* Nothing of the packet is taken yet: the caller gives it again. */
      au_end(t, out);
      return RTP_FRAME_RETRY;
    }
    au_end(t, out);
  }
  /* Taken: commit the sequence and the timestamp. */
  t->packets++;
  t->have_seq = 1;
  t->next_seq = (uint16_t)(k.seq + 1);
  t->old_run = 0;
  t->lost += gap;
  t->pending_lost += gap;
  if (!t->have_ts) {
    t->last_ext = t->first_ext = k.timestamp;
    t->have_ts = 1;
  } else {
    t->last_ext += (int32_t)(k.timestamp - t->last_ts);
  }
  t->last_ts = k.timestamp;

  if (!video) {
    if (k.payload_len == 0) return RTP_NONE;
    out->data = k.payload;
    out->len = k.payload_len;
    out->timestamp = k.timestamp;
    out->unwrapped = t->last_ext;
    out->pts = (double)(t->last_ext - t->first_ext) / t->clock;
    out->seq = k.seq;
    out->keyframe = 1;
    out->lost = t->pending_lost;
    t->pending_lost = 0;
    t->frames++;
    return RTP_FRAME;
  }

  if (!t->au_open) {
    au_reset(t);
    t->au_open = 1;
    t->au_ts = k.timestamp;
    t->au_ext = t->last_ext;
  }
  t->au_seq = k.seq;
  rc = t->codec == RTP_H264 ? depack_h264(t, k.payload, k.payload_len)
                            : depack_h265(t, k.payload, k.payload_len);
  if (rc < 0) {
    t->bad++;
    t->au_broken = 1;
  }
  /* (A gap right before a fragment's continuation breaks the unit in
   * fragment(): with its start gone, the NAL unit cannot be rebuilt.) */
  if (k.marker) return au_end(t, out);
  return RTP_NONE;
}

int rtp_track_flush(rtp_track *t, rtp_frame *out) {
  if (t->codec != RTP_H264 && t->codec != RTP_H265) return RTP_NONE;
  return au_end(t, out);
}

/* ---- talk ------------------------------------------------------------ */

size_t rtp_talk_packet(rtp_talk *k, const unsigned char *payload, size_t n, unsigned char *out) {
  size_t rtp_len = RTP_HEADER_SIZE + n;
  if (n > RTP_TALK_MAX_PAYLOAD) return 0;
  out[0] = '$';
  out[1] = (unsigned char)k->channel;
  out[2] = (unsigned char)(rtp_len >> 8);
  out[3] = (unsigned char)rtp_len;
  out[4] = 0x80; /* version 2, no padding, no extension, no CSRC */
  out[5] = (unsigned char)((k->packets == 0 ? 0x80 : 0) | (k->pt & 0x7f));
  out[6] = (unsigned char)(k->seq >> 8);
  out[7] = (unsigned char)k->seq;
  out[8] = (unsigned char)(k->timestamp >> 24);
  out[9] = (unsigned char)(k->timestamp >> 16);
  out[10] = (unsigned char)(k->timestamp >> 8);
  out[11] = (unsigned char)k->timestamp;
  out[12] = (unsigned char)(k->ssrc >> 24);
  out[13] = (unsigned char)(k->ssrc >> 16);
  out[14] = (unsigned char)(k->ssrc >> 8);
  out[15] = (unsigned char)k->ssrc;
  if (n) memcpy(out + RTP_TALK_OVERHEAD, payload, n);
  k->seq++;
  k->timestamp += (uint32_t)n;
  k->packets++;
  return RTP_TALK_OVERHEAD + n;
}
