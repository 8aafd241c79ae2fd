/* demux.h: the reader of one MULTITRANS connection as a whole (WIRE-NOTES
 * §3): the bytes received and not yet read, split into RTSP messages and
 * '$' frames (streamio.h), each frame given to the track of its channel
 * (rtp.h), which assembles whole frames.
 *
 *   demux d; demux_item it;
 *   demux_init(&d);                         limits: d.r.max_header, d.r.max_body, d.max_frame
 *   demux_track_set(&d, 0, RTP_H264, 0, "sid", 3);
 *   p = demux_reserve(&d, demux_room(&d));  recv(2) into p, then demux_commit(&d, got)
 *                                           (or demux_feed(&d, bytes, n))
 *   while ((rc = demux_next(&d, &it)) > 0) ... use it before the next call
 *   demux_free(&d);
 *
 * Items: an RTSP message (a response, or a request the camera sends: a
 * notification), a whole frame of a media track (an access unit, an audio
 * frame), or the payload of a frame on a data track. Frames on a channel
 * without a track are skipped and counted (stray).
 *
 * One buffer, owned by the demux, holds what was received and not yet
 * read; messages and data items point into it, RTP packets are copied
 * once into their track's access unit buffer (rtp.h). A packet that ended
 * the unit before it (RTP_FRAME_RETRY) stays where it lies until it is
 * given to its track again on the next call.
 *
 * Limits: max_header and max_body are the stream reader's (an item over
 * them is DEMUX_ETOOBIG, sticky), max_frame each track's. What the peer
 * can make the demux hold is bounded: demux_room() never lets the bytes
 * held (not yet read) pass max_header + max_body + one frame, and the
 * reader never needs more than that to complete an item, so after
 * DEMUX_NONE there is always room for more. Bytes the caller hands over
 * with demux_feed() are taken whatever their size (the caller holds them
 * already).
 *
 * Plain C (no lua.h), no I/O. Allocations: the buffer, one struct per
 * track and its access unit buffer; an allocation that fails is
 * DEMUX_ENOMEM and changes nothing that was read. Fuzzed by
 * fuzz/demux_feed.c, tested by spec/c/demux_test.c. */
#ifndef VIGI_DEMUX_H
#define VIGI_DEMUX_H

#include "rtp.h"
#include "streamio.h"

#include <stddef.h>
#include <stdint.h>

#define DEMUX_CHANNELS 256

/* Room for one interleaved frame ('$', channel, length, 65,535 bytes). */
#define DEMUX_FRAME_ROOM 65539

/* What a track carries. */
enum { DEMUX_VIDEO = 1, DEMUX_AUDIO = 2, DEMUX_DATA = 3 };

/* demux_next() results; errors are negative. DEMUX_EPROTO and
 * DEMUX_ETOOBIG are the stream reader's and stick (d->r.why says what
 * was wrong). */
enum {
  DEMUX_NONE = 0,    /* no complete item: receive more */
  DEMUX_MESSAGE = 1, /* it->msg */
  DEMUX_FRAME = 2,   /* it->frame, a whole frame of it->track */
  DEMUX_RAW = 3,     /* it->data, it->len: a frame of a data track */
  DEMUX_EPROTO = SIO_EPROTO,
  DEMUX_ETOOBIG = SIO_ETOOBIG,
  DEMUX_ENOMEM = -3  /* an allocation failed (feed, reserve, track) */
};

typedef struct demux_track {
  int kind;           /* DEMUX_VIDEO ... */
  int codec;          /* RTP_H264 ..., 0 for raw data */
  const char *name;   /* the codec's name: "H264", "H265", "PCMA", "PCMU", "raw" */
  char *session;      /* the session it belongs to, NUL-terminated, or NULL */
  size_t session_len;
  rtp_track t;
} demux_track;

typedef struct demux_item {
  unsigned channel;          /* frames and raw data */
  const demux_track *track;  /* frames and raw data */
  sio_message msg;           /* DEMUX_MESSAGE */
  rtp_frame frame;           /* DEMUX_FRAME */
  const unsigned char *data; /* DEMUX_RAW */
  size_t len;
} demux_item;

/* What the tracks counted, those removed included. */
typedef struct demux_counts {
  unsigned long long lost, duplicates, bad, oversized, unsupported, frames;
  size_t peak; /* the most a track's buffer ever held */
} demux_counts;

typedef struct demux {
  sio_reader r;        /* its limits and its garbage counter are the caller's to read */
  size_t max_frame;    /* of every track made from now on */
  demux_track *tracks[DEMUX_CHANNELS]; /* by channel; NULL where none (read only) */
  /* Counters, for the caller to read. */
  unsigned long long stray, messages, data_items, bytes;
  /* Private from here. */
  char *buf;
  size_t len, cap, off; /* unread: buf[off..len) */
  int pend;             /* a packet that waits to be given to its track again */
  unsigned pend_ch;
  size_t pend_off, pend_len;
  demux_counts gone;    /* of the tracks removed */
} demux;

/* Readies d with the default limits (streamio.h's, RTP_DEFAULT_MAX_FRAME)
 * and no tracks. */
void demux_init(demux *d);

/* Frees the buffer and the tracks; d may be initialised again. */
void demux_free(demux *d);

/* ---- input ------------------------------------------------------------ */

/* How many more bytes the demux takes from the network now: what its
 * limits leave. 0 while read items wait: call demux_next() first. */
size_t demux_room(const demux *d);

/* Where the next n bytes received go: room for n at the end of the
 * buffer (read bytes dropped from its front first). NULL when out of
 * memory. */
char *demux_reserve(demux *d, size_t n);

/* n bytes were written where demux_reserve() said. */
void demux_commit(demux *d, size_t n);

/* Appends p[0..n) (bytes the caller has already, whatever their size).
 * Returns 0 or DEMUX_ENOMEM. */
int demux_feed(demux *d, const void *p, size_t n);

/* Bytes held and not yet read. */
size_t demux_buffered(const demux *d);

/* ---- items ------------------------------------------------------------ */

/* The next item into *it, whose pointers are valid until the next call
 * that takes bytes or items (feed, reserve, next, push, track_set,
 * untrack). Returns DEMUX_MESSAGE, DEMUX_FRAME, DEMUX_RAW, DEMUX_NONE, or
 * an error. */
int demux_next(demux *d, demux_item *it);

/* Gives one RTP packet p[0..len) to the media track of channel ch by hand
 * (a packet first read as a data item, before the track knew it was
 * RTP). rtp_track_push()'s results: on RTP_FRAME_RETRY *it holds the
 * unit the packet ended, and the packet was not taken: once done with
 * the frame, give it again. RTP_NONE, and nothing taken, when ch has no
 * media track or a packet of ch waits in the buffer (order first). */
int demux_push(demux *d, unsigned ch, const unsigned char *p, size_t len, demux_item *it);

/* ---- tracks ----------------------------------------------------------- */

/* The codec named name (a C string: "H264", "H265", "PCMA", "PCMU" or
 * "raw", in any case): RTP_H264 ... or 0 for raw data; -1 for none. */
int demux_codec(const char *name);

/* The kind of track a codec makes (DEMUX_VIDEO ...), and a kind's name
 * ("video", "audio", "data"). */
int demux_codec_kind(int codec);
const char *demux_kind_name(int kind);

/* Channel ch (0..255) carries codec from now on. A track of another
 * codec there is removed first (its counters go to the totals); a track
 * of the same codec is kept as it is, with the new clock when clock > 0.
 * The session (NULL: none) is copied. Returns the track, or NULL when
 * out of memory. */
demux_track *demux_track_set(demux *d, unsigned ch, int codec, uint32_t clock, const char *session,
                             size_t session_len);

/* The sprop parameter sets of an SDP fmtp value for a video track:
 * rtp_track_fmtp()'s result; 0 for other tracks. */
int demux_track_fmtp(demux_track *tr, const char *fmtp, size_t len);

/* Removes the track of channel ch, if any (its counters go to the
 * totals, a packet of it waiting in the buffer is dropped). */
void demux_untrack(demux *d, unsigned ch);

/* The counts of every track, removed ones included. */
demux_counts demux_track_counts(const demux *d);

#endif
