/* lua_demux.c: the Lua face of demux.c, class "vigi.demux" (G.711 and the
 * talk packetizer are lua_talk.c's).
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
 * Each item is copied once, into its Lua string; recv() reads the socket
 * straight into the demux's buffer, so no Lua string is made per read. */
#include "demux.h"
#include "lua_aux.h"
#include "lua_sock.h"
#include "tcp.h"
#include "text.h"

#include <string.h>

#define CLASS "vigi.demux"

typedef struct {
  vigi_object o;
  demux d;
  int drained; /* the last read took less than it asked: the socket is
                  most likely empty (next(fd, true) waits first) */
} ldemux;

static ldemux *check_x(lua_State *L) { return vigi_checkopen(L, 1, CLASS); }
static demux *check(lua_State *L) { return &check_x(L)->d; }

static void *no_memory(lua_State *L) {
  luaL_error(L, CLASS ": not enough memory");
  return NULL;
}

static int l_new(lua_State *L) {
  lua_Integer max_frame = RTP_DEFAULT_MAX_FRAME, max_header = SIO_DEFAULT_MAX_HEADER,
              max_body = SIO_DEFAULT_MAX_BODY;
  ldemux *x;
  if (!lua_isnoneornil(L, 1)) {
    luaL_checktype(L, 1, LUA_TTABLE);
    max_frame = vigi_opt_integer(L, 1, "max_frame", max_frame, RTP_MIN_MAX_FRAME, 1 << 30);
    max_header = vigi_opt_integer(L, 1, "max_header", max_header, 64, 16 << 20);
    max_body = vigi_opt_integer(L, 1, "max_body", max_body, 0, 256 << 20);
  }
  x = vigi_newobject(L, CLASS, sizeof *x);
  demux_init(&x->d);
  x->d.r.max_header = (size_t)max_header;
  x->d.r.max_body = (size_t)max_body;
  x->d.max_frame = (size_t)max_frame;
  return 1;
}

/* d:feed(bytes): the caller's bytes, whatever their size (it holds them
 * already); what the peer can make the demux keep beyond that is bounded
 * by the reader's limits. */
static int l_feed(lua_State *L) {
  demux *d = check(L);
  size_t n;
  const char *s = luaL_checklstring(L, 2, &n);
  if (demux_feed(d, s, n) != 0) no_memory(L);
  return 0;
}

/* One recv(2) of at most max bytes into the buffer, within the limits:
 * NET_OK with *got (0: the limits allow no more, or the peer closed:
 * *closed), NET_AGAIN, or NET_ERROR with *err. */
static int read_some(lua_State *L, ldemux *x, int fd, size_t max, size_t *got, int *closed, int *err) {
  size_t room = demux_room(&x->d);
  char *to;
  int rc;
  *got = 0;
  *closed = 0;
  if (max < room) room = max;
  if (room == 0) return NET_OK;
  to = demux_reserve(&x->d, room);
  if (!to) no_memory(L);
  rc = tcp_recv(fd, to, room, got, err);
  if (rc == NET_OK) {
    if (*got == 0) *closed = 1;
    demux_commit(&x->d, *got);
    x->drained = *got > 0 && *got < room;
  }
  return rc;
}

/* d:recv(fd [, max]): one recv(2) into the buffer, never blocking, never
 * holding more than the limits allow (then 0 bytes are read: call next()
 * first). */
static int l_recv(lua_State *L) {
  ldemux *x = check_x(L);
  int fd = (int)luaL_checkinteger(L, 2);
  lua_Integer max = luaL_optinteger(L, 3, 65536);
  size_t got = 0;
  int err = 0, closed = 0;
  luaL_argcheck(L, fd >= 0, 2, "file descriptor expected");
  luaL_argcheck(L, max >= 1 && max <= (1 << 30), 3, "between 1 and 2^30 bytes");
  switch (read_some(L, x, fd, (size_t)max, &got, &closed, &err)) {
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

static unsigned check_channel(lua_State *L, int i) {
  return (unsigned)vigi_check_integer(L, i, 0, 255, "channel 0..255 expected");
}

static int l_track(lua_State *L) {
  demux *d = check(L);
  unsigned ch = check_channel(L, 2);
  const char *name, *kind, *fmtp, *session;
  size_t fmtp_len, session_len;
  int codec, sets = 0;
  lua_Integer clock;
  demux_track *tr;
  luaL_checktype(L, 3, LUA_TTABLE);
  name = vigi_opt_string(L, 3, "codec", NULL);
  codec = name ? demux_codec(name) : -1;
  if (codec < 0) return luaL_argerror(L, 3, "codec: H264, H265, PCMA, PCMU or raw expected");
  kind = vigi_opt_string(L, 3, "kind", NULL);
  if (kind && strcmp(kind, demux_kind_name(demux_codec_kind(codec))) != 0)
    return luaL_argerror(L, 3, "kind: does not match the codec");
  clock = vigi_opt_integer(L, 3, "clock", 0, 0, 0x7fffffff);
  fmtp = vigi_opt_string(L, 3, "fmtp", &fmtp_len);
  session = vigi_opt_string(L, 3, "session", &session_len);
  tr = demux_track_set(d, ch, codec, (uint32_t)clock, session, session_len);
  if (!tr) no_memory(L);
  if (fmtp) {
    sets = demux_track_fmtp(tr, fmtp, fmtp_len);
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
  demux *d = check(L);
  demux_untrack(d, check_channel(L, 2));
  return 0;
}

static void push_common(lua_State *L, const demux_item *it) {
  lua_createtable(L, 0, 10);
  vigi_set_string(L, "kind", demux_kind_name(it->track->kind));
  vigi_set_integer(L, "channel", (lua_Integer)it->channel);
  if (it->track->session) vigi_set_lstring(L, "session", it->track->session, it->track->session_len);
}

static int push_frame(lua_State *L, const demux_item *it) {
  const rtp_frame *f = &it->frame;
  push_common(L, it);
  vigi_set_string(L, "codec", it->track->name);
  vigi_set_number(L, "pts", (lua_Number)f->pts);
  vigi_set_integer(L, "timestamp", (lua_Integer)f->timestamp);
  vigi_set_integer(L, "seq", (lua_Integer)f->seq);
  vigi_set_boolean(L, "keyframe", f->keyframe);
  vigi_set_integer(L, "lost", (lua_Integer)f->lost);
  vigi_set_lstring(L, "data", (const char *)f->data, f->len);
  return 1;
}

/* A header name, lower-cased, on the stack. */
static void push_lower(lua_State *L, const char *s, size_t n) {
  luaL_Buffer b;
  size_t j;
  luaL_buffinit(L, &b);
  for (j = 0; j < n; j++) luaL_addchar(&b, (char)txt_lower((unsigned char)s[j]));
  luaL_pushresult(&b);
}

static int push_message(lua_State *L, const sio_message *m) {
  size_t i;
  lua_createtable(L, 0, 8);
  vigi_set_string(L, "kind", "message");
  vigi_set_boolean(L, "response", m->is_response);
  if (m->is_response) {
    vigi_set_integer(L, "status", m->status);
    vigi_set_lstring(L, "reason", m->reason ? m->reason : "", m->reason_len);
  } else {
    vigi_set_lstring(L, "method", m->method, m->method_len);
    vigi_set_lstring(L, "uri", m->uri, m->uri_len);
  }
  lua_createtable(L, 0, (int)m->num_headers);
  for (i = 0; i < m->num_headers && i < SIO_MAX_HEADERS; i++) {
    const sio_header *h = &m->headers[i];
    /* The first of a repeated header wins, as in sio_header_value. */
    push_lower(L, h->name, h->name_len);
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
  vigi_set_lstring(L, "body", m->body ? m->body : "", m->body_len);
  return 1;
}

/* next(fd) when nothing whole is buffered: the socket is read, once a
 * call (the caller checks its clock between calls); with hint, not when
 * the last read took less than it asked (the socket is then most likely
 * empty): the caller waits first. Returns the number of values pushed,
 * or 0 when bytes came in and the buffer is to be looked at again. */
static int read_more(lua_State *L, ldemux *x, int fd, int hint, int *read) {
  size_t got = 0;
  int err = 0, closed = 0;
  if (*read || (hint && x->drained)) {
    x->drained = 0;
    lua_pushnil(L);
    lua_pushinteger(L, *read);
    return 2;
  }
  switch (read_some(L, x, fd, 65536, &got, &closed, &err)) {
  case NET_OK:
    if (closed) {
      lua_pushnil(L);
      lua_pushliteral(L, "closed");
      return 2;
    }
    if (!got) { /* the limits allow no more: the caller's next() takes items first */
      lua_pushnil(L);
      lua_pushinteger(L, 1);
      return 2;
    }
    *read = got > 0x7fffffff ? 0x7fffffff : (int)got;
    return 0;
  case NET_AGAIN:
    lua_pushnil(L);
    lua_pushinteger(L, 0);
    return 2;
  default: return vigi_sock_fail(L, err);
  }
}

static int l_next(lua_State *L) {
  ldemux *x = check_x(L);
  demux *d = &x->d;
  int fd = (int)luaL_optinteger(L, 2, -1);
  int hint = lua_toboolean(L, 3);
  int read = 0, n;
  demux_item it;
  for (;;) {
    switch (demux_next(d, &it)) {
    case DEMUX_MESSAGE: return push_message(L, &it.msg);
    case DEMUX_FRAME: return push_frame(L, &it);
    case DEMUX_RAW:
      push_common(L, &it);
      vigi_set_lstring(L, "data", (const char *)it.data, it.len);
      return 1;
    case DEMUX_NONE:
      if (fd < 0) {
        lua_pushnil(L);
        return 1;
      }
      n = read_more(L, x, fd, hint, &read);
      if (n) return n;
      break;
    case DEMUX_ENOMEM: return no_memory(L), 0;
    default:
      lua_pushnil(L);
      lua_pushliteral(L, "protocol");
      lua_pushfstring(L, "stream: %s (%s)", d->r.why ? d->r.why : "malformed", sio_strerror(d->r.err));
      return 3;
    }
  }
}

static int l_push(lua_State *L) {
  demux *d = check(L);
  unsigned ch = check_channel(L, 2);
  size_t len;
  const unsigned char *p = (const unsigned char *)luaL_checklstring(L, 3, &len);
  demux_item it;
  int rc = demux_push(d, ch, p, len, &it), n = 0;
  if (rc != RTP_NONE) n += push_frame(L, &it);
  if (rc == RTP_FRAME_RETRY) {
    /* The pending unit is out (its bytes copied into the string); the
     * packet itself is taken now. */
    rc = demux_push(d, ch, p, len, &it);
    if (rc != RTP_NONE) n += push_frame(L, &it);
  }
  return n;
}

static int l_stats(lua_State *L) {
  demux *d = check(L);
  demux_counts g = demux_track_counts(d);
  lua_createtable(L, 0, 12);
  vigi_set_integer(L, "garbage", (lua_Integer)d->r.garbage);
  vigi_set_integer(L, "stray", (lua_Integer)d->stray);
  vigi_set_integer(L, "lost", (lua_Integer)g.lost);
  vigi_set_integer(L, "duplicates", (lua_Integer)g.duplicates);
  vigi_set_integer(L, "bad_rtp", (lua_Integer)g.bad);
  vigi_set_integer(L, "oversized", (lua_Integer)g.oversized);
  vigi_set_integer(L, "unsupported", (lua_Integer)g.unsupported);
  vigi_set_integer(L, "frames", (lua_Integer)g.frames);
  vigi_set_integer(L, "data", (lua_Integer)d->data_items);
  vigi_set_integer(L, "messages", (lua_Integer)d->messages);
  vigi_set_integer(L, "bytes", (lua_Integer)d->bytes);
  return 1;
}

static int l_buffered(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)demux_buffered(check(L)));
  return 1;
}

static int l_peak(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)demux_track_counts(check(L)).peak);
  return 1;
}

static int l_close(lua_State *L) {
  ldemux *x = vigi_closing(L, CLASS);
  if (x) demux_free(&x->d);
  return 0;
}

static int l_tostring(lua_State *L) {
  ldemux *x = vigi_tostring_open(L, CLASS);
  int i, n = 0;
  if (!x) return 1;
  for (i = 0; i < DEMUX_CHANNELS; i++) n += x->d.tracks[i] != NULL;
  lua_pushfstring(L, CLASS "{tracks=%d, buffered=%d}", n, (int)demux_buffered(&x->d));
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
