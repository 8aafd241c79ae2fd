/* lua_demux.c: the Lua face of streamio.c and rtp.c, class "vigi.demux"
 * (G.711 and the talk packetizer are lua_talk.c's).
 *
 *   local d = core.demux{ max_frame = 4194304, max_header = 65536, max_body = 1048576 }
 *   d:feed(bytes)                 append received bytes
 *   d:recv(fd [, max])            -> n | nil, "again" | nil, "closed" | nil, message
 *   d:track(channel, { codec = "H264"|"H265"|"PCMA"|"PCMU"|"raw",
 *                      kind = "video"|"audio"|"data", clock =, fmtp =, session = })
 *                                 -> number of sprop parameter sets read from fmtp
 *                                    [, message when part of fmtp was malformed]
 *   d:untrack(channel)
 *   d:next([fd [, hint]])         -> item | nil | nil, "protocol", message
 *                                    with fd, when nothing whole is buffered,
 *                                    the socket is read once and looked at
 *                                    again: then nil, n (bytes read; 0: wait
 *                                    for the socket first) | nil, "closed" |
 *                                    nil, message. hint: no read when the
 *                                    last one emptied the socket (0 at once)
 *   d:push(channel, packet)       -> 0, 1 or 2 frames: one RTP packet given to
 *                                    the channel's track by hand (a packet
 *                                    first read as a data item, before the
 *                                    track knew it was RTP)
 *   d:stats(), d:buffered(), d:peak(), d:close(), __tostring
 *
 * The demux keeps the received bytes in one buffer and parses them where
 * they lie: a message or a raw data frame is copied once into its Lua
 * string, RTP packets once into their track's access unit buffer, and the
 * unit once into its Lua string. recv() reads the socket straight into
 * that buffer, so no Lua string is made per read. */
#include "compat.h"
#include "lua_opts.h"
#include "lua_sock.h"
#include "rtp.h"
#include "streamio.h"
#include "tcp.h"

#include <stdlib.h>
#include <string.h>

#define CLASS "vigi.demux"

/* Room for one interleaved frame ('$', channel, length, 65,535 bytes). */
#define FRAME_ROOM 65539

enum { K_VIDEO = 1, K_AUDIO = 2, K_DATA = 3 };

typedef struct {
  int kind;
  int codec;          /* RTP_H264 ..., 0 for raw data */
  const char *name;   /* static codec name for the items */
  char *session;      /* NUL-terminated copy, or NULL */
  size_t session_len;
  rtp_track t;
} dtrack;

/* What tracks counted before they were reset or removed. */
typedef struct {
  unsigned long long lost, duplicates, bad, oversized, unsupported, frames;
  size_t peak;
} totals;

typedef struct {
  sio_reader r;
  char *buf;
  size_t len, cap, off; /* unconsumed: buf[off..len) */
  size_t max_frame;
  dtrack *tracks[256];
  /* A packet that ended the previous unit and waits to be given to its
   * track again (RTP_FRAME_RETRY): its bytes stay in buf. */
  int pend;
  unsigned pend_ch;
  size_t pend_off, pend_len;
  totals gone;
  unsigned long long stray, messages, data_items, bytes;
  int closed;
  int drained;          /* the last read took less than it asked: the socket
                           is most likely empty (next(fd) waits first) */
} ldemux;

static ldemux *check(lua_State *L) {
  ldemux *d = luaL_checkudata(L, 1, CLASS);
  if (d->closed) luaL_error(L, CLASS ": used after close");
  return d;
}

static size_t keep_limit(const ldemux *d) { return d->r.max_header + d->r.max_body + FRAME_ROOM; }

static int l_new(lua_State *L) {
  size_t max_frame = RTP_DEFAULT_MAX_FRAME, max_header = SIO_DEFAULT_MAX_HEADER,
         max_body = SIO_DEFAULT_MAX_BODY;
  ldemux *d;
  if (!lua_isnoneornil(L, 1)) {
    luaL_checktype(L, 1, LUA_TTABLE);
    max_frame = (size_t)vigi_opt_integer(L, 1, "max_frame", (lua_Integer)max_frame, RTP_MIN_MAX_FRAME,
                                         1 << 30);
    max_header = (size_t)vigi_opt_integer(L, 1, "max_header", (lua_Integer)max_header, 64, 16 << 20);
    max_body = (size_t)vigi_opt_integer(L, 1, "max_body", (lua_Integer)max_body, 0, 256 << 20);
  }
  d = vigi_newuserdata(L, sizeof *d);
  memset(d, 0, sizeof *d);
  luaL_setmetatable(L, CLASS);
  sio_init(&d->r);
  d->r.max_header = max_header;
  d->r.max_body = max_body;
  d->max_frame = max_frame;
  return 1;
}

/* Drops consumed bytes from the front (keeping a pending packet), then
 * makes room for need more. */
static void make_room(lua_State *L, ldemux *d, size_t need) {
  size_t from = d->pend ? d->pend_off : d->off;
  /* Bytes move to the front only when the room is not at the end: a
   * stream's partial frame is not copied at every read. */
  if (from > 0 && need > d->cap - d->len) {
    memmove(d->buf, d->buf + from, d->len - from);
    d->len -= from;
    d->off -= from;
    if (d->pend) d->pend_off -= from;
  }
  if (need > d->cap - d->len) {
    size_t cap = d->cap ? d->cap : 4096;
    char *p;
    if (need > (size_t)-1 / 2 - d->len) luaL_error(L, CLASS ": not enough memory");
    while (cap < d->len + need) cap *= 2;
    p = realloc(d->buf, cap);
    if (!p) luaL_error(L, CLASS ": not enough memory");
    d->buf = p;
    d->cap = cap;
  }
}

/* d:feed(bytes): the caller's bytes, whatever their size (it holds them
 * already); what the peer can make the demux keep beyond that is bounded
 * by the reader's limits. */
static int l_feed(lua_State *L) {
  ldemux *d = check(L);
  size_t n;
  const char *s = luaL_checklstring(L, 2, &n);
  make_room(L, d, n);
  if (n) memcpy(d->buf + d->len, s, n);
  d->len += n;
  d->bytes += n;
  return 0;
}

/* d:recv(fd [, max]): one recv(2) into the buffer, never blocking, never
 * holding more than the limits allow (then 0 bytes are read: call next()
 * first). */
/* One recv(2) of at most max bytes into the buffer, within the limits:
 * NET_OK with *got (0: the limits allow no more, or the peer closed:
 * *closed), NET_AGAIN, or NET_ERROR with *err. */
static int read_some(lua_State *L, ldemux *d, int fd, size_t max, size_t *got, int *closed, int *err) {
  size_t held = d->len - (d->pend ? d->pend_off : d->off);
  size_t room = keep_limit(d) > held ? keep_limit(d) - held : 0;
  int rc;
  *got = 0;
  *closed = 0;
  if (max < room) room = max;
  if (room == 0) return NET_OK;
  make_room(L, d, room);
  rc = tcp_recv(fd, d->buf + d->len, room, got, err);
  if (rc == NET_OK) {
    if (*got == 0) *closed = 1;
    d->len += *got;
    d->bytes += *got;
    d->drained = *got > 0 && *got < room;
  }
  return rc;
}

static int l_recv(lua_State *L) {
  ldemux *d = check(L);
  int fd = (int)luaL_checkinteger(L, 2);
  lua_Integer max = luaL_optinteger(L, 3, 65536);
  size_t got = 0;
  int err = 0, closed = 0;
  luaL_argcheck(L, fd >= 0, 2, "file descriptor expected");
  luaL_argcheck(L, max >= 1 && max <= (1 << 30), 3, "between 1 and 2^30 bytes");
  switch (read_some(L, d, fd, (size_t)max, &got, &closed, &err)) {
  case NET_OK:
    if (closed) {
      lua_pushnil(L);
      lua_pushliteral(L, "closed");
      return 2;
    }
    lua_pushinteger(L, (lua_Integer)got);
    return 1;
  case NET_AGAIN: return vigi_sock_again(L);
  default: return vigi_sock_fail(L, err);
  }
}

static void add_totals(totals *g, const rtp_track *t) {
  g->lost += t->lost;
  g->duplicates += t->duplicates;
  g->bad += t->bad;
  g->oversized += t->oversized;
  g->unsupported += t->unsupported;
  g->frames += t->frames;
  if (t->peak > g->peak) g->peak = t->peak;
}

static void drop_track(ldemux *d, unsigned ch) {
  dtrack *tr = d->tracks[ch];
  if (!tr) return;
  add_totals(&d->gone, &tr->t);
  rtp_track_free(&tr->t);
  free(tr->session);
  free(tr);
  d->tracks[ch] = NULL;
  if (d->pend && d->pend_ch == ch) d->pend = 0;
}

static unsigned check_channel(lua_State *L, int i) {
  lua_Integer ch = luaL_checkinteger(L, i);
  luaL_argcheck(L, ch >= 0 && ch <= 255, i, "channel 0..255 expected");
  return (unsigned)ch;
}

static int upper_eq(const char *s, const char *name) {
  for (; *s && *name; s++, name++)
    if ((*s >= 'a' && *s <= 'z' ? *s - 32 : *s) != *name) return 0;
  return *s == *name;
}

/* Optional string field k of the table at t, or NULL. */
static const char *opt_string(lua_State *L, int t, const char *k, size_t *len) {
  const char *s;
  lua_getfield(L, t, k);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return NULL;
  }
  if (lua_type(L, -1) != LUA_TSTRING)
    luaL_argerror(L, t, lua_pushfstring(L, "%s: string expected", k));
  s = lua_tolstring(L, -1, len);
  lua_pop(L, 1); /* still referenced by the table, so s stays valid */
  return s;
}

static int l_track(lua_State *L) {
  static const struct { const char *name; int codec, kind; } codecs[] = {
    {"H264", RTP_H264, K_VIDEO}, {"H265", RTP_H265, K_VIDEO}, {"PCMA", RTP_PCMA, K_AUDIO},
    {"PCMU", RTP_PCMU, K_AUDIO}, {"RAW", 0, K_DATA}
  };
  static const char *const names[] = {"H264", "H265", "PCMA", "PCMU", "raw"};
  ldemux *d = check(L);
  unsigned ch = check_channel(L, 2);
  const char *codec, *kind, *fmtp, *session;
  size_t n, fmtp_len = 0, session_len = 0;
  int c = -1, k, sets = 0;
  lua_Integer clock;
  dtrack *tr;
  luaL_checktype(L, 3, LUA_TTABLE);
  codec = opt_string(L, 3, "codec", &n);
  for (k = 0; codec && k < 5; k++)
    if (upper_eq(codec, codecs[k].name)) c = k;
  if (c < 0) return luaL_argerror(L, 3, "codec: H264, H265, PCMA, PCMU or raw expected");
  kind = opt_string(L, 3, "kind", &n);
  if (kind) {
    k = strcmp(kind, "video") == 0 ? K_VIDEO : strcmp(kind, "audio") == 0 ? K_AUDIO
      : strcmp(kind, "data") == 0 ? K_DATA : 0;
    if (k != codecs[c].kind) return luaL_argerror(L, 3, "kind: does not match the codec");
  }
  clock = vigi_opt_integer(L, 3, "clock", 0, 0, 0x7fffffff);
  fmtp = opt_string(L, 3, "fmtp", &fmtp_len);
  session = opt_string(L, 3, "session", &session_len);

  tr = d->tracks[ch];
  if (tr && tr->codec != codecs[c].codec) {
    drop_track(d, ch);
    tr = NULL;
  }
  if (!tr) {
    tr = calloc(1, sizeof *tr);
    if (!tr) return luaL_error(L, CLASS ": not enough memory");
    rtp_track_init(&tr->t, codecs[c].codec ? codecs[c].codec : RTP_PCMA, (uint32_t)clock);
    tr->t.max_frame = d->max_frame;
    tr->codec = codecs[c].codec;
    tr->kind = codecs[c].kind;
    tr->name = names[c];
    d->tracks[ch] = tr;
  } else if (clock) {
    tr->t.clock = (uint32_t)clock;
  }
  free(tr->session);
  tr->session = NULL;
  if (session) {
    tr->session = malloc(session_len + 1);
    if (!tr->session) return luaL_error(L, CLASS ": not enough memory");
    memcpy(tr->session, session, session_len + 1);
    tr->session_len = session_len;
  }
  if (fmtp && (tr->codec == RTP_H264 || tr->codec == RTP_H265)) {
    sets = rtp_track_fmtp(&tr->t, fmtp, fmtp_len);
    if (sets < 0) {
      lua_pushinteger(L, -1 - sets);
      lua_pushliteral(L, "fmtp: malformed sprop parameter set");
      return 2;
    }
  }
  lua_pushinteger(L, sets);
  return 1;
}

static int l_untrack(lua_State *L) {
  ldemux *d = check(L);
  drop_track(d, check_channel(L, 2));
  return 0;
}

static void set_str(lua_State *L, const char *k, const char *s, size_t n) {
  lua_pushlstring(L, s, n);
  lua_setfield(L, -2, k);
}

static void set_int(lua_State *L, const char *k, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}

static void push_common(lua_State *L, const dtrack *tr, unsigned ch) {
  lua_createtable(L, 0, 10);
  lua_pushstring(L, tr->kind == K_VIDEO ? "video" : tr->kind == K_AUDIO ? "audio" : "data");
  lua_setfield(L, -2, "kind");
  set_int(L, "channel", (lua_Integer)ch);
  if (tr->session) set_str(L, "session", tr->session, tr->session_len);
}

static int push_frame(lua_State *L, const dtrack *tr, unsigned ch, const rtp_frame *f) {
  push_common(L, tr, ch);
  lua_pushstring(L, tr->name);
  lua_setfield(L, -2, "codec");
  lua_pushnumber(L, (lua_Number)f->pts);
  lua_setfield(L, -2, "pts");
  set_int(L, "timestamp", (lua_Integer)f->timestamp);
  set_int(L, "seq", (lua_Integer)f->seq);
  lua_pushboolean(L, f->keyframe);
  lua_setfield(L, -2, "keyframe");
  set_int(L, "lost", (lua_Integer)f->lost);
  set_str(L, "data", (const char *)f->data, f->len);
  return 1;
}

static int push_message(lua_State *L, const sio_message *m) {
  size_t i;
  lua_createtable(L, 0, 8);
  lua_pushliteral(L, "message");
  lua_setfield(L, -2, "kind");
  lua_pushboolean(L, m->is_response);
  lua_setfield(L, -2, "response");
  if (m->is_response) {
    set_int(L, "status", m->status);
    set_str(L, "reason", m->reason ? m->reason : "", m->reason_len);
  } else {
    set_str(L, "method", m->method, m->method_len);
    set_str(L, "uri", m->uri, m->uri_len);
  }
  lua_createtable(L, 0, (int)m->num_headers);
  for (i = 0; i < m->num_headers && i < SIO_MAX_HEADERS; i++) {
    char name[64];
    const sio_header *h = &m->headers[i];
    size_t j, n = h->name_len < sizeof name ? h->name_len : sizeof name;
    luaL_Buffer b;
    /* Lower-cased; the first of a repeated header wins, as in
     * sio_header_value. */
    if (h->name_len > sizeof name) {
      luaL_buffinit(L, &b);
      for (j = 0; j < h->name_len; j++) {
        char c = h->name[j];
        luaL_addchar(&b, c >= 'A' && c <= 'Z' ? (char)(c + 32) : c);
      }
      luaL_pushresult(&b);
    } else {
      for (j = 0; j < n; j++) {
        char c = h->name[j];
        name[j] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
      }
      lua_pushlstring(L, name, n);
    }
    lua_pushvalue(L, -1);
    lua_rawget(L, -3);
    if (!lua_isnil(L, -1)) {
      lua_pop(L, 2);
      continue;
    }
    lua_pop(L, 1);
    lua_pushlstring(L, h->value, h->value_len);
    lua_rawset(L, -3);
  }
  lua_setfield(L, -2, "headers");
  set_str(L, "body", m->body ? m->body : "", m->body_len);
  return 1;
}

static int push_error(lua_State *L, const ldemux *d) {
  lua_pushnil(L);
  lua_pushliteral(L, "protocol");
  lua_pushfstring(L, "stream: %s (%s)", d->r.why ? d->r.why : "malformed", sio_strerror(d->r.err));
  return 3;
}

static int l_next(lua_State *L) {
  ldemux *d = check(L);
  int fd = (int)luaL_optinteger(L, 2, -1);
  int hint = lua_toboolean(L, 3);
  int read = 0;
  for (;;) {
    sio_message msg;
    sio_frame fr;
    rtp_frame f;
    size_t used = 0;
    dtrack *tr;
    int rc;
    if (d->pend) {
      tr = d->tracks[d->pend_ch];
      rc = rtp_track_push(&tr->t, (const unsigned char *)d->buf + d->pend_off, d->pend_len, &f);
      if (rc != RTP_FRAME_RETRY) d->pend = 0;
      if (rc != RTP_NONE) return push_frame(L, tr, d->pend_ch, &f);
      continue;
    }
    rc = sio_feed(&d->r, d->buf + d->off, d->len - d->off, &used, &msg, &fr);
    if (rc < 0) return push_error(L, d);
    d->off += used;
    if (rc == SIO_MESSAGE) {
      d->messages++;
      return push_message(L, &msg);
    }
    if (rc != SIO_FRAME) {
      size_t got = 0;
      int err = 0, closed = 0;
      if (fd < 0) {
        lua_pushnil(L);
        return 1;
      }
      /* next(fd): nothing whole is buffered, so the socket is read, once
       * a call (the caller checks its clock between calls); with hint,
       * not when the last read took less than it asked (the socket is
       * then most likely empty): the caller waits first. */
      if (read || (hint && d->drained)) {
        d->drained = 0;
        lua_pushnil(L);
        lua_pushinteger(L, read);
        return 2;
      }
      switch (read_some(L, d, fd, 65536, &got, &closed, &err)) {
      case NET_OK:
        if (closed) {
          lua_pushnil(L);
          lua_pushliteral(L, "closed");
          return 2;
        }
        read = got > 0 ? (int)(got > 0x7fffffff ? 0x7fffffff : got) : 0;
        if (!got) { /* the limits allow no more: a caller's next() takes items first */
          lua_pushnil(L);
          lua_pushinteger(L, 1);
          return 2;
        }
        continue;
      case NET_AGAIN:
        lua_pushnil(L);
        lua_pushinteger(L, 0);
        return 2;
      default: return vigi_sock_fail(L, err);
      }
    }
    tr = d->tracks[fr.channel & 255];
    if (!tr) {
      d->stray++;
      continue;
    }
    if (tr->kind == K_DATA) {
      d->data_items++;
      push_common(L, tr, fr.channel);
      set_str(L, "data", (const char *)fr.data, fr.len);
      return 1;
    }
    rc = rtp_track_push(&tr->t, fr.data, fr.len, &f);
    if (rc == RTP_FRAME_RETRY) {
      d->pend = 1;
      d->pend_ch = fr.channel & 255;
      d->pend_off = (size_t)((const char *)fr.data - d->buf);
      d->pend_len = fr.len;
    }
    if (rc != RTP_NONE) return push_frame(L, tr, fr.channel, &f);
  }
}

static int l_push(lua_State *L) {
  ldemux *d = check(L);
  unsigned ch = check_channel(L, 2);
  size_t len;
  const unsigned char *p = (const unsigned char *)luaL_checklstring(L, 3, &len);
  dtrack *tr = d->tracks[ch];
  rtp_frame f;
  int rc, n = 0;
  /* A packet waiting in the buffer for this track goes first: order. */
  if (!tr || tr->kind == K_DATA || (d->pend && d->pend_ch == ch)) return 0;
  rc = rtp_track_push(&tr->t, p, len, &f);
  if (rc != RTP_NONE) n += push_frame(L, tr, ch, &f);
  if (rc == RTP_FRAME_RETRY) {
    /* The pending unit is out (its bytes copied into the string); the
     * packet itself is taken now. */
    rc = rtp_track_push(&tr->t, p, len, &f);
    if (rc != RTP_NONE) n += push_frame(L, tr, ch, &f);
  }
  return n;
}

static totals sum(const ldemux *d) {
  totals g = d->gone;
  int i;
  for (i = 0; i < 256; i++)
    if (d->tracks[i]) add_totals(&g, &d->tracks[i]->t);
  return g;
}

static int l_stats(lua_State *L) {
  ldemux *d = check(L);
  totals g = sum(d);
  lua_createtable(L, 0, 12);
  set_int(L, "garbage", (lua_Integer)d->r.garbage);
  set_int(L, "stray", (lua_Integer)d->stray);
  set_int(L, "lost", (lua_Integer)g.lost);
  set_int(L, "duplicates", (lua_Integer)g.duplicates);
  set_int(L, "bad_rtp", (lua_Integer)g.bad);
  set_int(L, "oversized", (lua_Integer)g.oversized);
  set_int(L, "unsupported", (lua_Integer)g.unsupported);
  set_int(L, "frames", (lua_Integer)g.frames);
  set_int(L, "data", (lua_Integer)d->data_items);
  set_int(L, "messages", (lua_Integer)d->messages);
  set_int(L, "bytes", (lua_Integer)d->bytes);
  return 1;
}

static int l_buffered(lua_State *L) {
  ldemux *d = check(L);
  lua_pushinteger(L, (lua_Integer)(d->len - d->off));
  return 1;
}

static int l_peak(lua_State *L) {
  ldemux *d = check(L);
  lua_pushinteger(L, (lua_Integer)sum(d).peak);
  return 1;
}

static int l_close(lua_State *L) {
  ldemux *d = luaL_checkudata(L, 1, CLASS);
  unsigned i;
  for (i = 0; i < 256; i++) drop_track(d, i);
  free(d->buf);
  d->buf = NULL;
  d->len = d->cap = d->off = 0;
  d->closed = 1;
  return 0;
}

static int l_tostring(lua_State *L) {
  ldemux *d = luaL_checkudata(L, 1, CLASS);
  int i, n = 0;
  if (d->closed) {
    lua_pushliteral(L, CLASS "{closed}");
    return 1;
  }
  for (i = 0; i < 256; i++) n += d->tracks[i] != NULL;
  lua_pushfstring(L, CLASS "{tracks=%d, buffered=%d}", n, (int)(d->len - d->off));
  return 1;
}

void vigi_open_demux(lua_State *L);
/* Adds core.demux to the module table at the top of the stack. */
void vigi_open_demux(lua_State *L) {
  static const luaL_Reg methods[] = {
    {"feed", l_feed}, {"recv", l_recv}, {"track", l_track}, {"untrack", l_untrack},
    {"next", l_next}, {"push", l_push}, {"stats", l_stats}, {"buffered", l_buffered}, {"peak", l_peak},
    {"close", l_close}, {"__gc", l_close}, {"__close", l_close}, {"__tostring", l_tostring},
    {NULL, NULL}
  };
  vigi_newclass(L, CLASS, methods);
  lua_pushcfunction(L, l_new);
  lua_setfield(L, -2, "demux");
}
