/* demux.c: one MULTITRANS connection's reader: buffer, tracks, the packet
 * held back for a retry, limits (contracts in demux.h).
 *
 * The bytes are parsed where they lie: a message or a raw data frame is
 * handed out pointing into the buffer, an RTP packet is copied once into
 * its track's access unit buffer, so a caller that copies each item once
 * (into a Lua string) copies every byte once. */
#include "demux.h"

#include "text.h"

#include <stdlib.h>
#include <string.h>

static const struct {
  const char *name;
  int codec, kind;
} CODECS[] = {
  {"H264", RTP_H264, DEMUX_VIDEO}, {"H265", RTP_H265, DEMUX_VIDEO}, {"PCMA", RTP_PCMA, DEMUX_AUDIO},
  {"PCMU", RTP_PCMU, DEMUX_AUDIO}, {"raw", 0, DEMUX_DATA}
};
#define NCODECS (sizeof CODECS / sizeof CODECS[0])

void demux_init(demux *d) {
  memset(d, 0, sizeof *d);
  sio_init(&d->r);
  d->max_frame = RTP_DEFAULT_MAX_FRAME;
}

/* The most the demux holds unread: an item at the reader's limits. */
static size_t keep_limit(const demux *d) { return d->r.max_header + d->r.max_body + DEMUX_FRAME_ROOM; }

/* Where the bytes that must stay begin: a pending packet's, or the
 * first unread one. */
static size_t kept_from(const demux *d) { return d->pend ? d->pend_off : d->off; }

size_t demux_room(const demux *d) {
  size_t held = d->len - kept_from(d), limit = keep_limit(d);
  return limit > held ? limit - held : 0;
}

char *demux_reserve(demux *d, size_t need) {
  size_t from = kept_from(d);
  /* Bytes move to the front only when the room is not at the end: a
   * stream's partial frame is not copied at every read. */
  if (from > 0 && need > d->cap - d->len) {
    memmove(d->buf, d->buf + from, d->len - from);
    d->len -= from;
    d->off -= from;
    if (d->pend) d->pend_off -= from;
  }
  if (need > d->cap - d->len || !d->buf) {
    size_t cap = d->cap ? d->cap : 4096;
    char *p;
    if (need > (size_t)-1 / 2 - d->len) return NULL;
    while (cap < d->len + need) cap *= 2;
    p = realloc(d->buf, cap);
    if (!p) return NULL;
    d->buf = p;
    d->cap = cap;
  }
  return d->buf + d->len;
}

void demux_commit(demux *d, size_t n) {
  d->len += n;
  d->bytes += n;
}

int demux_feed(demux *d, const void *p, size_t n) {
  char *to = demux_reserve(d, n);
  if (!to) return DEMUX_ENOMEM;
  if (n) memcpy(to, p, n);
  demux_commit(d, n);
  return 0;
}

size_t demux_buffered(const demux *d) { return d->len - d->off; }

/* ---- tracks ------------------------------------------------------------ */

static void add_counts(demux_counts *g, const rtp_track *t) {
  g->lost += t->lost;
  g->duplicates += t->duplicates;
  g->bad += t->bad;
  g->oversized += t->oversized;
  g->unsupported += t->unsupported;
  g->frames += t->frames;
  if (t->peak > g->peak) g->peak = t->peak;
}

void demux_untrack(demux *d, unsigned ch) {
  demux_track *tr = d->tracks[ch & 255];
  if (!tr) return;
  add_counts(&d->gone, &tr->t);
  rtp_track_free(&tr->t);
  free(tr->session);
  free(tr);
  d->tracks[ch & 255] = NULL;
  if (d->pend && d->pend_ch == (ch & 255)) d->pend = 0;
}

int demux_codec(const char *name) {
  size_t k;
  for (k = 0; k < NCODECS; k++)
    if (txt_is_word(name, strlen(name), CODECS[k].name)) return CODECS[k].codec;
  return -1;
}

static size_t codec_row(int codec) {
  size_t k;
  for (k = 0; k < NCODECS - 1 && CODECS[k].codec != codec; k++) {}
  return k; /* anything unknown reads as raw data */
}

int demux_codec_kind(int codec) { return CODECS[codec_row(codec)].kind; }

const char *demux_kind_name(int kind) {
  return kind == DEMUX_VIDEO ? "video" : kind == DEMUX_AUDIO ? "audio" : "data";
}

demux_track *demux_track_set(demux *d, unsigned ch, int codec, uint32_t clock, const char *session,
                             size_t session_len) {
  size_t row = codec_row(codec);
  demux_track *tr;
  ch &= 255;
  tr = d->tracks[ch];
  if (tr && tr->codec != CODECS[row].codec) {
    demux_untrack(d, ch);
    tr = NULL;
  }
  if (!tr) {
    tr = calloc(1, sizeof *tr);
    if (!tr) return NULL;
    /* A data track's frames are never RTP-read; its rtp_track is idle. */
    rtp_track_init(&tr->t, CODECS[row].codec ? CODECS[row].codec : RTP_PCMA, clock);
    tr->t.max_frame = d->max_frame;
    tr->codec = CODECS[row].codec;
    tr->kind = CODECS[row].kind;
    tr->name = CODECS[row].name;
    d->tracks[ch] = tr;
  } else if (clock) {
    tr->t.clock = clock;
  }
  free(tr->session);
  tr->session = NULL;
  tr->session_len = 0;
  if (session) {
    tr->session = malloc(session_len + 1);
    if (!tr->session) return NULL;
    memcpy(tr->session, session, session_len);
    tr->session[session_len] = '\0';
    tr->session_len = session_len;
  }
  return tr;
}

int demux_track_fmtp(demux_track *tr, const char *fmtp, size_t len) {
  if (tr->kind != DEMUX_VIDEO) return 0;
  return rtp_track_fmtp(&tr->t, fmtp, len);
}

demux_counts demux_track_counts(const demux *d) {
  demux_counts g = d->gone;
  unsigned i;
  for (i = 0; i < DEMUX_CHANNELS; i++)
    if (d->tracks[i]) add_counts(&g, &d->tracks[i]->t);
  return g;
}

void demux_free(demux *d) {
  unsigned i;
  for (i = 0; i < DEMUX_CHANNELS; i++) demux_untrack(d, i);
  free(d->buf);
  d->buf = NULL;
  d->len = d->cap = d->off = 0;
}

/* ---- items ------------------------------------------------------------- */

static int frame_of(demux_item *it, const demux_track *tr, unsigned ch) {
  it->track = tr;
  it->channel = ch;
  return DEMUX_FRAME;
}

int demux_next(demux *d, demux_item *it) {
  for (;;) {
    sio_frame fr;
    size_t used = 0;
    demux_track *tr;
    int rc;
    if (d->pend) {
      tr = d->tracks[d->pend_ch];
      rc = rtp_track_push(&tr->t, (const unsigned char *)d->buf + d->pend_off, d->pend_len, &it->frame);
      if (rc != RTP_FRAME_RETRY) d->pend = 0;
      if (rc != RTP_NONE) return frame_of(it, tr, d->pend_ch);
      continue;
    }
    rc = sio_feed(&d->r, d->buf + d->off, d->len - d->off, &used, &it->msg, &fr);
    if (rc < 0) return rc;
    d->off += used;
    if (rc == SIO_MESSAGE) {
      d->messages++;
      return DEMUX_MESSAGE;
    }
    if (rc != SIO_FRAME) return DEMUX_NONE;
    tr = d->tracks[fr.channel & 255];
    if (!tr) {
      d->stray++;
      continue;
    }
    if (tr->kind == DEMUX_DATA) {
      d->data_items++;
      it->track = tr;
      it->channel = fr.channel;
      it->data = fr.data;
      it->len = fr.len;
      return DEMUX_RAW;
    }
    rc = rtp_track_push(&tr->t, fr.data, fr.len, &it->frame);
    if (rc == RTP_FRAME_RETRY) {
      d->pend = 1;
      d->pend_ch = fr.channel & 255;
      d->pend_off = (size_t)((const char *)fr.data - d->buf);
      d->pend_len = fr.len;
    }
    if (rc != RTP_NONE) return frame_of(it, tr, fr.channel);
  }
}

int demux_push(demux *d, unsigned ch, const unsigned char *p, size_t len, demux_item *it) {
  demux_track *tr = d->tracks[ch & 255];
  int rc;
  /* A packet waiting in the buffer for this track goes first: order. */
  if (!tr || tr->kind == DEMUX_DATA || (d->pend && d->pend_ch == (ch & 255))) return RTP_NONE;
  rc = rtp_track_push(&tr->t, p, len, &it->frame);
  if (rc != RTP_NONE) frame_of(it, tr, ch & 255);
  return rc;
}
