/* multipart.c: the multipart/mixed reader (contracts in multipart.h).
 *
 * The bytes the caller holds are read as units: a preamble line, a
 * delimiter line (both consumed on their own), then a part's headers and
 * body together (consumed when the part is handed out, so that the
 * Content-Type pointer stays in the caller's buffer). Every decision is
 * taken the same way whether the bytes come at once or one by one: an
 * error is reported early only when no later byte could avoid it, which
 * fuzz/multipart_feed.c checks. */
#include "multipart.h"

#include "text.h"

#include <stdlib.h>
#include <string.h>

enum { S_PREAMBLE, S_DELIM, S_HEADERS, S_BODY };

/* A step that made progress without a result: go round again. */
#define STEP 100

static int fail(mp_reader *r, int code, const char *why) {
  r->err = code;
  r->why = why;
  return code;
}

static size_t max_header(const mp_reader *r) {
  return r->max_header < MP_MIN_MAX_HEADER ? MP_MIN_MAX_HEADER : r->max_header;
}

/* Index of the first '\n' in p[r->line..n), or n; looks only past r->scan. */
static size_t find_eol(mp_reader *r, const char *p, size_t n) {
  size_t from = r->scan > r->line ? r->scan : r->line;
  const char *nl = from < n ? memchr(p + from, '\n', n - from) : NULL;
  if (!nl) {
    r->scan = n;
    return n;
  }
  return (size_t)(nl - p);
}

/* Start of a new unit at the caller's next byte. */
static void new_unit(mp_reader *r, int state) {
  r->state = state;
  r->line = r->scan = 0;
}

/* ---- Content-Type -------------------------------------------------- */

int mp_boundary_ok(const char *b, size_t n) {
  size_t i;
  if (n == 0 || n > MP_MAX_BOUNDARY) return 0;
  for (i = 0; i < n; i++)
    if ((unsigned char)b[i] < 0x20 || b[i] == 0x7f) return 0;
  return 1;
}

int mp_boundary_from_content_type(const char *ct, size_t len, char *out, size_t cap) {
  size_t i = 0, o;
  if (cap) out[0] = '\0';
  while (i < len && txt_is_wsp(ct[i])) i++;
  if (len - i < 10 || !txt_ieq(ct + i, "multipart/", 10)) return -1;
  i += 10;
  for (;;) {
    size_t name, name_len;
    while (i < len && ct[i] != ';') i++; /* subtype, or a parameter we skip */
    if (i >= len) return -1;
    i++;
    while (i < len && txt_is_wsp(ct[i])) i++;
    name = i;
    while (i < len && ct[i] != '=' && ct[i] != ';' && !txt_is_wsp(ct[i])) i++;
    name_len = i - name;
    while (i < len && txt_is_wsp(ct[i])) i++;
    if (i == len || ct[i] != '=') continue;
    i++;
    while (i < len && txt_is_wsp(ct[i])) i++;
    if (name_len != 8 || !txt_ieq(ct + name, "boundary", 8)) {
      if (i < len && ct[i] == '"') /* skip a quoted value: it may hold ';' */
        for (i++; i < len && ct[i] != '"'; i++)
          if (ct[i] == '\\' && i + 1 < len) i++;
      continue;
    }
    o = 0;
    if (i < len && ct[i] == '"') {
      for (i++; i < len && ct[i] != '"'; i++) {
        if (ct[i] == '\\' && i + 1 < len) i++;
        if (o + 1 >= cap || o >= MP_MAX_BOUNDARY) goto bad;
        out[o++] = ct[i];
      }
      if (i == len) goto bad; /* unterminated */
    } else {
      for (; i < len && ct[i] != ';' && !txt_is_wsp(ct[i]); i++) {
        if (o + 1 >= cap || o >= MP_MAX_BOUNDARY) goto bad;
        out[o++] = ct[i];
      }
    }
    if (!mp_boundary_ok(out, o)) goto bad;
    out[o] = '\0';
    return (int)o;
  }
bad:
  if (cap) out[0] = '\0';
  return -2;
}

/* ---- Reader -------------------------------------------------------- */

int mp_init(mp_reader *r, const char *boundary) {
  size_t n = boundary ? strlen(boundary) : 0;
  memset(r, 0, sizeof *r);
  r->max_header = MP_DEFAULT_MAX_HEADER;
  r->max_part = MP_DEFAULT_MAX_PART;
  r->clen = -1;
  r->state = S_PREAMBLE;
  if (!mp_boundary_ok(boundary, n)) {
    fail(r, MP_EPROTO, "bad boundary");
    return -1;
  }
  r->delim[0] = r->delim[1] = '-';
  memcpy(r->delim + 2, boundary, n);
  r->dlen = n + 2;
  return 0;
}

/* Whether p[0..k) already rules out a delimiter line ("--" + boundary,
 * then spaces, tabs or CR, or "--" for the close). */
static int not_delim(const mp_reader *r, const char *p, size_t k) {
  size_t i;
  for (i = 0; i < k; i++) {
    if (i < r->dlen) {
      if (p[i] != r->delim[i]) return 1;
    } else if (i == r->dlen && p[i] == '-') {
      if (i + 1 < k && p[i + 1] != '-') return 1;
      return 0; /* the close: judged by the caller */
    } else if (!txt_is_wsp(p[i]) && p[i] != '\r') {
      return 1;
    }
  }
  return 0;
}

/* One line at p[0..n) in S_PREAMBLE or S_DELIM. */
static int delim_line(mp_reader *r, const char *p, size_t n, size_t *used) {
  int pre = r->state == S_PREAMBLE;
  size_t mh = max_header(r), eol, k;
  if (!pre) { /* blank lines after a body */
    if (n == 1 && p[0] == '\r') return MP_NEED_MORE;
    if (n >= 1 && (p[0] == '\n' || (p[0] == '\r' && p[1] == '\n'))) {
      *used = p[0] == '\n' ? 1 : 2;
      new_unit(r, S_DELIM);
      return STEP;
    }
  }
  if (n >= r->dlen + 2 && memcmp(p, r->delim, r->dlen) == 0 && p[r->dlen] == '-' &&
      p[r->dlen + 1] == '-') {
    r->err = MP_DONE;
    *used = n;
    return MP_DONE;
  }
  eol = find_eol(r, p, n);
  k = eol < mh ? eol : mh;
  if (!pre && not_delim(r, p, k)) return fail(r, MP_EPROTO, "no delimiter line");
  if (eol == n) {
    if (n >= mh) return fail(r, MP_ETOOBIG, pre ? "preamble line too long" : "delimiter line too long");
    return MP_NEED_MORE;
  }
  if (eol >= mh) return fail(r, MP_ETOOBIG, pre ? "preamble line too long" : "delimiter line too long");
  *used = eol + 1;
  if (eol >= r->dlen && !not_delim(r, p, eol)) new_unit(r, S_HEADERS);
  else new_unit(r, r->state); /* a preamble line, dropped */
  return STEP;
}

/* Where a header field `name` (lower case) starts p[0..n): the index past
 * its ':', or 0. */
static size_t field_at(const char *p, size_t n, const char *name) {
  size_t k = strlen(name), i;
  if (n < k || !txt_ieq(p, name, k)) return 0;
  for (i = k; i < n && txt_is_wsp(p[i]); i++) {}
  return i < n && p[i] == ':' ? i + 1 : 0;
}

enum { F_NONE, F_TYPE, F_LENGTH };

/* Ends the value of field f at p[v..e), relative to the unit. */
static int field_value(mp_reader *r, const char *p, int f, size_t v, size_t e) {
  unsigned long n = 0;
  size_t i, digits;
  while (v < e && txt_is_wsp(p[v])) v++;
  while (e > v && txt_is_wsp(p[e - 1])) e--;
  if (f == F_TYPE) {
    if (!r->has_ct) {
      r->has_ct = 1;
      r->ct_off = v;
      r->ct_len = e - v;
    }
    return 0;
  }
  for (i = v; i < e && p[i] >= '0' && p[i] <= '9'; i++)
    if (n <= r->max_part) n = n * 10 + (unsigned long)(p[i] - '0');
  digits = i - v;
  if (digits == 0 || i != e) return fail(r, MP_EPROTO, "bad Content-Length");
  if (n > r->max_part) return fail(r, MP_ETOOBIG, "part too big");
  if (r->clen >= 0 && (unsigned long)r->clen != n)
    return fail(r, MP_EPROTO, "conflicting Content-Length");
  r->clen = (long)n;
  return 0;
}

/* One header line, p[s..e) of the unit, line end and trailing blanks
 * already cut. Reads Content-Type and Content-Length wherever they start
 * the line or follow a blank (the document's two-on-one-line quirk). */
static int header_line(mp_reader *r, const char *p, size_t s, size_t e) {
  size_t i, v = 0, at;
  int f = F_NONE;
  if (txt_is_wsp(p[s])) return 0; /* an obsolete folded line: nothing we read */
  for (i = s; i < e && p[i] != ':'; i++) {}
  if (i == e || i == s) return fail(r, MP_EPROTO, "header line without a name and ':'");
  for (i = s; i < e; i++) {
    int g = F_NONE;
    if (i > s && !txt_is_wsp(p[i - 1])) continue;
    if ((at = field_at(p + i, e - i, "content-type")) != 0) g = F_TYPE;
    else if ((at = field_at(p + i, e - i, "content-length")) != 0) g = F_LENGTH;
    if (g == F_NONE) continue;
    if (f != F_NONE && field_value(r, p, f, v, i) < 0) return r->err;
    f = g;
    v = i + at;
    i = v - 1;
  }
  if (f != F_NONE && field_value(r, p, f, v, e) < 0) return r->err;
  return 0;
}

/* The header lines of the unit p[0..n), from r->line on. */
static int headers(mp_reader *r, const char *p, size_t n) {
  size_t mh = max_header(r);
  for (;;) {
    size_t s = r->line, eol = find_eol(r, p, n), e;
    if (eol == n) return n >= mh ? fail(r, MP_ETOOBIG, "header block too long") : MP_NEED_MORE;
    if (eol >= mh) return fail(r, MP_ETOOBIG, "header block too long");
    r->line = r->scan = eol + 1;
    for (e = eol; e > s && (txt_is_wsp(p[e - 1]) || p[e - 1] == '\r'); e--) {}
    if (e == s) { /* the blank line */
      r->body = eol + 1;
      r->state = S_BODY;
      return STEP;
    }
    if (header_line(r, p, s, e) < 0) return r->err;
  }
}

static int emit(mp_reader *r, const char *p, size_t off, size_t len, size_t used,
                size_t *usedp, mp_part *part) {
  if (part) {
    part->body = p + off;
    part->body_len = len;
    part->content_type = r->has_ct ? p + r->ct_off : NULL;
    part->content_type_len = r->has_ct ? r->ct_len : 0;
    part->content_length = r->clen;
  }
  r->clen = -1;
  r->has_ct = 0;
  r->ct_off = r->ct_len = 0;
  *usedp = used;
  new_unit(r, S_DELIM);
  return MP_PART;
}

/* The body of the unit p[0..n), from r->body. */
static int body(mp_reader *r, const char *p, size_t n, size_t *used, mp_part *part) {
  if (r->clen >= 0) {
    if (n - r->body < (size_t)r->clen) return MP_NEED_MORE;
    return emit(r, p, r->body, (size_t)r->clen, r->body + (size_t)r->clen, used, part);
  }
  /* No Content-Length: the body runs to the line end before the next line
   * that starts with the delimiter. */
  for (;;) {
    size_t s = r->line, avail = n - s, m = avail < r->dlen ? avail : r->dlen, eol;
    if (memcmp(p + s, r->delim, m) == 0) {
      if (avail >= r->dlen) {
        size_t end = s;
        if (end > r->body) end--;
        if (end > r->body && p[end - 1] == '\r') end--;
        if (end - r->body > r->max_part) return fail(r, MP_ETOOBIG, "part too big");
        return emit(r, p, r->body, end - r->body, s, used, part);
      }
      /* Maybe a delimiter: the body is at least what comes before it. */
      if (s >= r->body + 2 && s - r->body - 2 > r->max_part) return fail(r, MP_ETOOBIG, "part too big");
      return MP_NEED_MORE;
    }
    eol = find_eol(r, p, n);
    if (eol == n) {
      if (n - r->body - 1 > r->max_part) return fail(r, MP_ETOOBIG, "part too big");
      return MP_NEED_MORE;
    }
    r->line = r->scan = eol + 1;
  }
}

int mp_feed(mp_reader *r, const char *buf, size_t len, size_t *consumed, mp_part *part) {
  size_t base = 0;
  *consumed = 0;
  if (r->err < 0) return r->err;
  if (r->err == MP_DONE) {
    *consumed = len;
    return MP_DONE;
  }
  if (r->line > len || r->scan > len || (r->state == S_BODY && r->body > r->line))
    return fail(r, MP_EPROTO, "unconsumed bytes not given back");
  for (;;) {
    const char *p = buf + base;
    size_t n = len - base, used = 0;
    int rc;
    switch (r->state) {
    case S_PREAMBLE:
    case S_DELIM: rc = delim_line(r, p, n, &used); break;
    case S_HEADERS: rc = headers(r, p, n); break;
    default: rc = body(r, p, n, &used, part); break;
    }
    base += used;
    if (rc == STEP) continue;
    if (rc < 0) return rc;
    *consumed = base;
    return rc;
  }
}

const char *mp_strerror(int code) {
  switch (code) {
  case MP_NEED_MORE: return "need_more";
  case MP_PART: return "part";
  case MP_DONE: return "done";
  case MP_EPROTO: return "protocol";
  case MP_ETOOBIG: return "too_big";
  case MP_ENOMEM: return "no_memory";
  default: return "unknown";
  }
}

/* ---- stream ------------------------------------------------------------- */

int mp_stream_init(mp_stream *s, const char *boundary) {
  memset(s, 0, sizeof *s);
  return mp_init(&s->r, boundary);
}

void mp_stream_free(mp_stream *s) {
  free(s->buf);
  s->buf = NULL;
  s->len = s->cap = 0;
  s->src = NULL;
}

size_t mp_stream_buffered(const mp_stream *s) { return s->len; }

/* The most a stream keeps between feeds: mp_feed never leaves more
 * unconsumed (see multipart.h). */
static size_t keep_limit(const mp_reader *r) { return max_header(r) + r->max_part + MP_MAX_BOUNDARY + 8; }

static int reserve(mp_stream *s, size_t need) {
  char *p;
  size_t cap = s->cap ? s->cap : 256;
  if (need <= s->cap) return 0;
  while (cap < need) cap = cap * 2 > cap ? cap * 2 : need;
  p = realloc(s->buf, cap);
  if (!p) return MP_ENOMEM;
  s->buf = p;
  s->cap = cap;
  return 0;
}

int mp_stream_feed(mp_stream *s, const char *data, size_t n) {
  if (s->r.err < 0) return s->r.err;
  if (s->len == 0) { /* nothing kept: read the caller's bytes in place */
    s->src = data;
    s->srclen = n;
  } else {
    if (n > (size_t)-1 - s->len || reserve(s, s->len + n) != 0) return MP_ENOMEM;
    if (n) memcpy(s->buf + s->len, data, n);
    s->len += n;
    s->src = s->buf;
    s->srclen = s->len;
  }
  s->off = 0;
  return 0;
}

int mp_stream_next(mp_stream *s, mp_part *part) {
  size_t used, rest;
  int rc;
  if (!s->src) return s->r.err < 0 || s->r.err == MP_DONE ? s->r.err : MP_NEED_MORE;
  rc = mp_feed(&s->r, s->src + s->off, s->srclen - s->off, &used, part);
  if (rc == MP_PART) {
    s->off += used;
    return rc;
  }
  /* Every byte fed is read: keep the rest of an incomplete part. */
  if (rc >= 0) s->off += used;
  rest = s->srclen - s->off;
  if (rc < 0) {
    rest = 0;
  } else if (rest > keep_limit(&s->r)) {
    rc = fail(&s->r, MP_ETOOBIG, "more held than the limits allow");
    rest = 0;
  } else if (s->src == s->buf) {
    memmove(s->buf, s->buf + s->off, rest);
  } else if (rest) {
    if (reserve(s, rest) != 0) rc = MP_ENOMEM;
    else memcpy(s->buf, s->src + s->off, rest);
  }
  s->len = rc == MP_ENOMEM ? 0 : rest;
  s->src = NULL;
  return rc;
}
