/* httpresp.c: the HTTP/1.1 answer reader of httpresp.h. Heads and
 * trailers are gathered line by line into one buffer and judged when
 * their blank line has come; body bytes pass through where they lie;
 * chunk-size lines are read byte by byte and never kept. */
#include "httpresp.h"

#include "text.h"

#include <stdlib.h>
#include <string.h>

enum {
  S_HEAD,        /* status line and headers, interim answers among them */
  S_LENGTH,      /* Content-Length bytes */
  S_CLOSE,       /* bytes until the peer's close */
  S_CHUNK_LINE,  /* a chunk-size line */
  S_CHUNK_DATA,  /* a chunk's bytes */
  S_CHUNK_END,   /* the line end after a chunk's bytes */
  S_TRAILER,     /* trailer lines up to a blank one */
  S_END          /* complete */
};

/* A chunk size beyond this (2^60) is not a size but an attack on the
 * arithmetic; and no Content-Length is either. */
#define HR_MAX_SIZE (1ULL << 60)

void hr_init(hr_reader *r) {
  memset(r, 0, sizeof *r);
  r->max_head = HR_DEFAULT_MAX_HEAD;
  r->max_interim = HR_DEFAULT_MAX_INTERIM;
  r->max_trailer = HR_DEFAULT_MAX_TRAILER;
  r->max_chunk_line = HR_DEFAULT_MAX_CHUNK_LINE;
  r->state = S_HEAD;
}

void hr_free(hr_reader *r) {
  free(r->buf);
  r->buf = NULL;
  r->len = r->cap = 0;
}

static int fail(hr_reader *r, int code, const char *why) {
  r->err = code;
  r->why = why;
  return code;
}

/* Appends p[0..n) to the buffer, which never grows past what the limits
 * allow (the caller checks them first). */
static int append(hr_reader *r, const char *p, size_t n) {
  if (r->len + n > r->cap) {
    size_t cap = r->cap ? r->cap : 1024;
    char *b;
    while (cap < r->len + n) cap *= 2;
    if (cap > r->max_head + r->max_trailer) cap = r->max_head + r->max_trailer;
    b = realloc(r->buf, cap);
    if (!b) return fail(r, HR_ENOMEM, "no memory for the answer's head");
    r->buf = b;
    r->cap = cap;
  }
  memcpy(r->buf + r->len, p, n);
  r->len += n;
  return 0;
}

/* The line at buf[*pos..end) up to its LF: its start and length without
 * the line end; *pos moves past it. 0 when no line is left. */
static int next_line(const char *buf, size_t end, size_t *pos, const char **line, size_t *n) {
  const char *s = buf + *pos, *nl;
  size_t k;
  if (*pos >= end) return 0;
  nl = memchr(s, '\n', end - *pos);
  k = nl ? (size_t)(nl - s) : end - *pos;
  *pos += nl ? k + 1 : k;
  if (k > 0 && s[k - 1] == '\r') k--;
  *line = s;
  *n = k;
  return 1;
}

/* A header line's name and value, trimmed. 0 when it is not one. */
static int split_header(const char *s, size_t n, const char **name, size_t *nlen, const char **value,
                        size_t *vlen) {
  size_t i = 0, a, b;
  while (i < n && txt_is_tchar((unsigned char)s[i])) i++;
  if (i == 0 || i >= n || s[i] != ':') return 0;
  *name = s;
  *nlen = i;
  a = i + 1;
  b = n;
  while (a < b && txt_is_wsp((unsigned char)s[a])) a++;
  while (b > a && txt_is_wsp((unsigned char)s[b - 1])) b--;
  *value = s + a;
  *vlen = b - a;
  return 1;
}

/* What the framing headers said, while a head is judged. */
typedef struct {
  int has_cl, has_te, te_chunked, te_other, conn_close, conn_keep;
} framing_seen;

/* Calls each(r, f, element, length) for the elements of a comma-separated
 * list value, trimmed, empty ones skipped (RFC 9110 5.6.1). */
typedef int (*each_fn)(hr_reader *r, framing_seen *f, const char *e, size_t n);

static int each_element(hr_reader *r, framing_seen *f, const char *v, size_t n, each_fn each) {
  size_t i = 0;
  while (i < n) {
    size_t a = i, b;
    const char *comma = memchr(v + i, ',', n - i);
    b = comma ? (size_t)(comma - v) : n;
    i = b + 1;
    while (a < b && txt_is_wsp((unsigned char)v[a])) a++;
    while (b > a && txt_is_wsp((unsigned char)v[b - 1])) b--;
    if (a < b) {
      int rc = each(r, f, v + a, b - a);
      if (rc) return rc;
    }
  }
  return 0;
}

static int on_length(hr_reader *r, framing_seen *f, const char *e, size_t n) {
  unsigned long long v = 0;
  size_t i;
  for (i = 0; i < n; i++) {
    if (e[i] < '0' || e[i] > '9') return fail(r, HR_EPROTO, "a Content-Length that is not a number");
    v = v * 10 + (unsigned)(e[i] - '0');
    if (v > HR_MAX_SIZE) return fail(r, HR_EPROTO, "a Content-Length too large to be one");
  }
  if (f->has_cl && v != r->content_length)
    return fail(r, HR_EPROTO, "two different Content-Length values");
  f->has_cl = 1;
  r->content_length = v;
  return 0;
}

static int on_coding(hr_reader *r, framing_seen *f, const char *e, size_t n) {
  (void)r;
  /* chunked must be the last coding, and any other one is one this
   * reader cannot undo; so chunked, once, is all that is accepted. */
  if (txt_is_word(e, n, "chunked") && !f->te_chunked) f->te_chunked = 1;
  else f->te_other = 1;
  return 0;
}

static int on_connection(hr_reader *r, framing_seen *f, const char *e, size_t n) {
  (void)r;
  if (txt_is_word(e, n, "close")) f->conn_close = 1;
  if (txt_is_word(e, n, "keep-alive")) f->conn_keep = 1;
  return 0;
}

/* Judges the header (or trailer) lines at buf[from..to): folds the
 * continuation lines into the line before (in place), refuses what is
 * not a header line; for a head (framing set), reads the framing
 * headers into *framing. */
static int judge_fields(hr_reader *r, size_t from, size_t to, framing_seen *framing) {
  size_t pos = from, prev_end = 0;
  const char *line, *name, *value;
  size_t n, nlen, vlen;
  int have_prev = 0;
  while (next_line(r->buf, to, &pos, &line, &n)) {
    size_t i;
    if (n == 0) break; /* the blank line */
    for (i = 0; i < n; i++)
      if (line[i] == '\0' || line[i] == '\r') return fail(r, HR_EPROTO, "a NUL or a bare CR in the answer's head");
    if (txt_is_wsp((unsigned char)line[0])) {
      /* obs-fold: the line break before it becomes spaces */
      if (!have_prev) return fail(r, HR_EPROTO, "a continuation line without a header before it");
      for (i = prev_end; i < (size_t)(line - r->buf); i++) r->buf[i] = ' ';
    } else if (!split_header(line, n, &name, &nlen, &value, &vlen)) {
      return fail(r, HR_EPROTO, "a header line without a name and ':'");
    }
    have_prev = 1;
    prev_end = (size_t)(line - r->buf) + n;
  }
  if (!framing) return 0;
  /* Once folded, the values are whole: read the framing headers. */
  pos = from;
  while (next_line(r->buf, to, &pos, &line, &n) && n > 0) {
    int rc = 0;
    if (!split_header(line, n, &name, &nlen, &value, &vlen)) continue; /* a folded remnant */
    if (txt_is_word(name, nlen, "content-length")) {
      if (vlen == 0) return fail(r, HR_EPROTO, "an empty Content-Length");
      rc = each_element(r, framing, value, vlen, on_length);
    } else if (txt_is_word(name, nlen, "transfer-encoding")) {
      framing->has_te = 1;
      rc = each_element(r, framing, value, vlen, on_coding);
    } else if (txt_is_word(name, nlen, "connection")) {
      rc = each_element(r, framing, value, vlen, on_connection);
    }
    if (rc) return rc;
  }
  return 0;
}

/* "HTTP/1.<digit> <3 digits>[ <reason>]": the status, or a failure. */
static int judge_status_line(hr_reader *r, const char *s, size_t n) {
  size_t i;
  if (n < 12 || memcmp(s, "HTTP/1.", 7) != 0 || s[7] < '0' || s[7] > '9' || s[8] != ' ')
    return fail(r, HR_EPROTO, "the answer is not HTTP/1.x");
  for (i = 9; i < 12; i++)
    if (s[i] < '0' || s[i] > '9') return fail(r, HR_EPROTO, "a status line without a 3-digit status");
  if (s[9] == '0') return fail(r, HR_EPROTO, "a status below 100");
  if (n > 12 && s[12] != ' ') return fail(r, HR_EPROTO, "a status line without a 3-digit status");
  for (i = 12; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if ((c < 32 && c != '\t') || c == 127) return fail(r, HR_EPROTO, "a control character in the status line");
  }
  r->minor = s[7] - '0';
  r->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
  return 0;
}

/* A whole head is in buf[0..len): an interim answer is dropped, a final
 * one sets the framing. HR_HEAD, HR_NEED_MORE (interim) or a failure. */
static int judge_head(hr_reader *r) {
  framing_seen seen, *f = &seen;
  size_t pos = 0;
  const char *line;
  size_t n;
  int rc;
  memset(f, 0, sizeof *f);
  next_line(r->buf, r->len, &pos, &line, &n);
  if ((rc = judge_status_line(r, line, n)) != 0) return rc;
  if ((rc = judge_fields(r, pos, r->len, f)) != 0) return rc;
  if (r->status < 200) {
    if (r->status == 101) return fail(r, HR_EPROTO, "101 Switching Protocols, which nothing asked for");
    if (++r->interim > r->max_interim) return fail(r, HR_ETOOBIG, "too many interim (1xx) answers");
    r->len = r->line = 0;
    r->status = 0; /* no answer's status yet */
    return HR_NEED_MORE;
  }
  r->head_len = r->len;
  r->keep_alive = !f->conn_close && (r->minor >= 1 || f->conn_keep);
  if (r->status == 204 || r->status == 304) {
    r->framing = HR_FRAME_NONE;
    r->state = S_END;
  } else if (f->has_te) {
    if (f->has_cl) return fail(r, HR_EPROTO, "both Content-Length and Transfer-Encoding");
    if (f->te_other || !f->te_chunked) return fail(r, HR_EPROTO, "a Transfer-Encoding other than chunked");
    r->framing = HR_FRAME_CHUNKED;
    r->state = S_CHUNK_LINE;
  } else if (f->has_cl) {
    if (r->max_body && r->content_length > r->max_body)
      return fail(r, HR_ETOOBIG, "a Content-Length over the body limit");
    r->framing = HR_FRAME_LENGTH;
    r->left = r->content_length;
    r->state = r->left ? S_LENGTH : S_END;
  } else {
    r->framing = HR_FRAME_CLOSE;
    r->keep_alive = 0;
    r->state = S_CLOSE;
  }
  return HR_HEAD;
}

/* Gathers lines of a head (or of the trailers, past head_len) from
 * buf[*i..len) until a blank line: 1 when it came, 0 when more is
 * needed, or a failure. */
static int gather(hr_reader *r, const char *buf, size_t len, size_t *i, int trailers) {
  while (*i < len) {
    const char *nl = memchr(buf + *i, '\n', len - *i);
    size_t k = nl ? (size_t)(nl - (buf + *i)) + 1 : len - *i;
    size_t used = trailers ? r->len - r->head_len : r->head_bytes;
    size_t max = trailers ? r->max_trailer : r->max_head;
    int rc;
    /* A status line is known for what it is from its first bytes. */
    if (!trailers && r->line == 0) {
      size_t j;
      for (j = r->len; j < 7 && j - r->len < k; j++)
        if (buf[*i + j - r->len] != "HTTP/1."[j]) return fail(r, HR_EPROTO, "the answer is not HTTP/1.x");
    }
    if (k > max - used)
      return fail(r, HR_ETOOBIG, trailers ? "the answer's trailers are over their limit"
                                          : "the answer's head is over its limit");
    if ((rc = append(r, buf + *i, k)) != 0) return rc;
    *i += k;
    if (!trailers) r->head_bytes += k;
    if (!nl) return 0;
    {
      size_t start = r->line, n = r->len - start;
      r->line = r->len;
      if (n == 1 || (n == 2 && r->buf[start] == '\r')) return 1;
    }
  }
  return 0;
}

/* One byte of a chunk-size line: 1 when the line ended, 0 or a failure. */
static int chunk_line_byte(hr_reader *r, unsigned char c) {
  int d;
  if (++r->chunk_line > r->max_chunk_line) return fail(r, HR_ETOOBIG, "a chunk-size line over its limit");
  if (r->cr && c != '\n') return fail(r, HR_EPROTO, "a bare CR in a chunk-size line");
  if (c == '\n') {
    if (r->digits == 0) return fail(r, HR_EPROTO, "a chunk-size line without a size");
    return 1;
  }
  if (c == '\r') {
    r->cr = 1;
    return 0;
  }
  if (r->in_ext) {
    if (c == '\0') return fail(r, HR_EPROTO, "a NUL in a chunk extension");
    return 0;
  }
  d = txt_hex_value(c);
  if (d >= 0) {
    if (r->left >= HR_MAX_SIZE >> 4) return fail(r, HR_EPROTO, "a chunk size too large to be one");
    r->left = r->left << 4 | (unsigned)d;
    r->digits++;
    return 0;
  }
  if (r->digits > 0 && (c == ';' || txt_is_wsp(c))) {
    r->in_ext = 1;
    return 0;
  }
  return fail(r, HR_EPROTO, "a chunk size that is not hex digits");
}

/* Hands out buf[*i..] up to r->left bytes as body. */
static int body(hr_reader *r, const char *buf, size_t len, size_t *i, const char **data, size_t *n) {
  size_t k = len - *i;
  if (r->state != S_CLOSE && k > r->left) k = (size_t)r->left;
  /* Up to the limit the bytes are handed out, so that where the network
   * cut the stream does not change what the caller saw. */
  if (r->max_body && k > r->max_body - r->body_bytes) {
    if (r->max_body == r->body_bytes) return fail(r, HR_ETOOBIG, "a body over its limit");
    k = (size_t)(r->max_body - r->body_bytes);
  }
  if (data) *data = buf + *i;
  if (n) *n = k;
  *i += k;
  r->body_bytes += k;
  if (r->state != S_CLOSE) r->left -= k;
  return HR_BODY;
}

int hr_feed(hr_reader *r, const char *buf, size_t len, size_t *consumed, const char **data, size_t *n) {
  size_t i = 0;
  int rc;
  *consumed = 0;
  if (r->err) return r->err;
  while (1) {
    switch (r->state) {
    case S_END:
      *consumed = i;
      return HR_END;
    case S_HEAD:
      rc = gather(r, buf, len, &i, 0);
      if (rc < 0) return rc;
      if (rc == 1) {
        rc = judge_head(r);
        if (rc < 0) return rc;
        if (rc == HR_HEAD) {
          *consumed = i;
          return HR_HEAD;
        }
        continue; /* an interim answer */
      }
      break;
    case S_LENGTH:
    case S_CLOSE:
    case S_CHUNK_DATA:
      if (i == len) break;
      rc = body(r, buf, len, &i, data, n);
      if (rc < 0) return rc;
      if (r->left == 0) {
        if (r->state == S_LENGTH) r->state = S_END;
        else if (r->state == S_CHUNK_DATA) r->state = S_CHUNK_END;
      }
      *consumed = i;
      return HR_BODY;
    case S_CHUNK_LINE:
      while (i < len) {
        rc = chunk_line_byte(r, (unsigned char)buf[i++]);
        if (rc < 0) return rc;
        if (rc == 1) {
          r->state = r->left ? S_CHUNK_DATA : S_TRAILER;
          r->line = r->len;
          r->chunk_line = 0;
          r->digits = r->in_ext = r->cr = 0;
          break;
        }
      }
      if (r->state == S_CHUNK_LINE) break;
      continue;
    case S_CHUNK_END:
      while (i < len && r->state == S_CHUNK_END) {
        unsigned char c = (unsigned char)buf[i++];
        if (c == '\r' && !r->cr) r->cr = 1;
        else if (c == '\n') {
          r->cr = 0;
          r->state = S_CHUNK_LINE;
        } else return fail(r, HR_EPROTO, "a chunk not followed by a line end");
      }
      if (r->state == S_CHUNK_END) break;
      continue;
    case S_TRAILER:
      rc = gather(r, buf, len, &i, 1);
      if (rc < 0) return rc;
      if (rc == 1) {
        if ((rc = judge_fields(r, r->head_len, r->len, NULL)) != 0) return rc;
        r->state = S_END;
        continue;
      }
      break;
    }
    break;
  }
  *consumed = i;
  return HR_NEED_MORE;
}

int hr_eof(hr_reader *r) {
  if (r->err) return r->err;
  if (r->state == S_CLOSE || r->state == S_END) {
    r->state = S_END;
    return HR_END;
  }
  return fail(r, HR_ECLOSED, r->state == S_HEAD ? "the connection closed before the answer's head ended"
                                                : "the connection closed before the answer ended");
}

const char *hr_reason(const hr_reader *r, size_t *len) {
  const char *line;
  size_t pos = 0, n = 0;
  if (!r->head_len || !next_line(r->buf, r->head_len, &pos, &line, &n) || n <= 13) {
    *len = 0;
    return "";
  }
  *len = n - 13;
  return line + 13;
}

static int fields(const hr_reader *r, size_t from, size_t to, size_t *pos, const char **name, size_t *name_len,
                  const char **value, size_t *value_len) {
  const char *line;
  size_t n;
  if (*pos < from) *pos = from;
  while (next_line(r->buf, to, pos, &line, &n) && n > 0)
    if (split_header(line, n, name, name_len, value, value_len)) return 1;
  *pos = to;
  return 0;
}

int hr_header(const hr_reader *r, size_t *pos, const char **name, size_t *name_len, const char **value,
              size_t *value_len) {
  size_t first = 0;
  const char *line;
  size_t n;
  if (!r->head_len) return 0;
  next_line(r->buf, r->head_len, &first, &line, &n); /* past the status line */
  return fields(r, first, r->head_len, pos, name, name_len, value, value_len);
}

int hr_trailer(const hr_reader *r, size_t *pos, const char **name, size_t *name_len, const char **value,
               size_t *value_len) {
  if (r->state != S_END || r->len == r->head_len) return 0;
  return fields(r, r->head_len, r->len, pos, name, name_len, value, value_len);
}

size_t hr_buffered(const hr_reader *r) { return r->len; }

const char *hr_strerror(int code) {
  switch (code) {
  case HR_NEED_MORE: return "need_more";
  case HR_HEAD: return "head";
  case HR_BODY: return "body";
  case HR_END: return "end";
  case HR_EPROTO: return "protocol";
  case HR_ETOOBIG: return "too_big";
  case HR_ECLOSED: return "closed";
  case HR_ENOMEM: return "no_memory";
  default: return "unknown";
  }
}
