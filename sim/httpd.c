/* HTTP/1.1 over non-blocking TLS: see httpd.h. */
#define _GNU_SOURCE
#include "httpd.h"
#include "chunked.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "listen.h"
#include "log.h"

#define LINGER_MS        2000u   /* wait for the client's FIN after ours */
#define IN_START         4096u
#define IN_MAX           (HTTP_HEAD_MAX + HTTP_BODY_MAX)
#define READ_BUDGET      (256u * 1024u)  /* per event, so that no client hogs the loop */

enum conn_state { ST_HANDSHAKE, ST_OPEN, ST_CLOSING, ST_LINGER };
enum timer_kind { TM_NONE, TM_HANDSHAKE, TM_REQUEST, TM_IDLE, TM_CLOSING, TM_LINGER };

struct http_server {
	struct loop *lp;
	struct listener ls;
	SSL_CTX *ctx;
	X509 *cert;             /* served instead of the context's, or NULL */
	const struct http_hooks *hooks;
	void *arg;
	struct http_conn *conns;
	unsigned long next_id;
};

struct http_conn {
	struct http_server *srv;
	struct http_conn *prev, *next;
	unsigned long id;
	int fd;
	SSL *ssl;
	enum conn_state state;
	unsigned events;
	unsigned hs_want, read_want, write_want;  /* extra poll events OpenSSL asked for */
	struct loop_timer tmr;
	enum timer_kind tkind;

	char *in;
	size_t inlen, incap, scan;
	/* the request being received, once its head is parsed */
	int head_done;
	size_t head_len, body_len, meth_off, target_off;
	int expect100, sent100, want_close, http10;

	char *out;
	size_t outlen, outoff, outcap;

	int nrequests, resumed;
	int cur_close, cur_http10;          /* of the request being answered */
	enum http_after after;              /* once out is flushed */
	int closing;                        /* after is set: no more requests */
	int responded, in_io, abort_pending, peer_eof;
	void (*on_gone)(void *);
	void *gone_arg;
	int held;
	enum chunk_mode chunk_mode;         /* --chunked: of the answer being written */
	unsigned chunk_turn;
};

static void conn_io(void *arg, int fd, unsigned revents);
static void conn_timer(void *arg);
static void start_linger(struct http_conn *c);

/* ---- small helpers ---- */

static const char *reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Payload Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	default:  return "Unknown";
	}
}

static void set_timer(struct http_conn *c, enum timer_kind k, unsigned ms)
{
	struct loop *lp = c->srv->lp;
	c->tkind = k;
	if (k == TM_NONE)
		loop_timer_stop(lp, &c->tmr);
	else
		loop_timer_start(lp, &c->tmr, ms);
}

static void update_events(struct http_conn *c)
{
	unsigned ev = 0;
	switch (c->state) {
	case ST_HANDSHAKE:
		ev = c->hs_want ? c->hs_want : POLLIN;
		break;
	case ST_LINGER:
		ev = POLLIN;
		break;
	case ST_OPEN:
	case ST_CLOSING:
		/* Keep reading, to see the client's close, unless the input
		 * buffer is full of a request not yet handled, or the close
		 * has been seen (an fd at EOF is always readable). */
		if (!c->peer_eof && (c->held || c->inlen < IN_MAX))
			ev |= POLLIN;
		if (c->outoff < c->outlen)
			ev |= c->write_want ? c->write_want : POLLOUT;
		ev |= c->read_want;
		break;
	}
	if (ev != c->events) {
		c->events = ev;
		loop_io_set(c->srv->lp, c->fd, ev);
	}
}

static void conn_free(struct http_conn *c)
{
	struct http_server *s = c->srv;
	if (c->held && c->on_gone) {
		void (*fn)(void *) = c->on_gone;
		c->held = 0;
		c->on_gone = NULL;
		fn(c->gone_arg);
	}
	loop_timer_stop(s->lp, &c->tmr);
	loop_io_del(s->lp, c->fd);
	if (c->ssl)
		SSL_free(c->ssl);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c->in);
	free(c->out);
	sim_log("conn %lu closed", c->id);
	free(c);
}

static int out_reserve(struct http_conn *c, size_t more)
{
	if (c->outoff > 0 && c->outoff == c->outlen)
		c->outoff = c->outlen = 0;
	if (c->outlen + more <= c->outcap)
		return 0;
	if (c->outlen - c->outoff + more > HTTP_OUT_MAX)
		return -1;
	if (c->outoff > 0) {
		memmove(c->out, c->out + c->outoff, c->outlen - c->outoff);
		c->outlen -= c->outoff;
		c->outoff = 0;
		if (c->outlen + more <= c->outcap)
			return 0;
	}
	size_t n = c->outcap ? c->outcap : 4096;
	while (n < c->outlen + more)
		n *= 2;
	char *p = realloc(c->out, n);
	if (!p)
		return -1;
	c->out = p;
	c->outcap = n;
	return 0;
}

static void out_append(struct http_conn *c, const void *data, size_t len)
{
	if (len == 0)
		return;
	if (out_reserve(c, len) < 0) {
		sim_log("conn %lu: answer too large, closing", c->id);
		c->abort_pending = 1;
		return;
	}
	memcpy(c->out + c->outlen, data, len);
	c->outlen += len;
}

/* ---- TLS I/O ---- */

static int is_eof_error(SSL *ssl, int ret, int err)
{
	if (err == SSL_ERROR_ZERO_RETURN)
		return 1;
	if (err == SSL_ERROR_SYSCALL && ret == 0 && ERR_peek_error() == 0)
		return 1;
	(void)ssl;
	return 0;
}

/* Hand the pending answer to TLS. Returns -1 if the connection is dead. */
static int flush_out(struct http_conn *c)
{
	c->write_want = 0;
	while (c->outoff < c->outlen) {
		size_t n = c->outlen - c->outoff;
		if (n > 1u << 30)
			n = 1u << 30;
		ERR_clear_error();
		int r = SSL_write(c->ssl, c->out + c->outoff, (int)n);
		if (r > 0) {
			c->outoff += (size_t)r;
			continue;
		}
		int e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_WRITE) {
			c->write_want = POLLOUT;
			return 0;
		}
		if (e == SSL_ERROR_WANT_READ) {
			c->write_want = POLLIN;
			return 0;
		}
		return -1;
	}
	c->outoff = c->outlen = 0;
	if (c->outcap > 65536) {
		free(c->out);
		c->out = NULL;
		c->outcap = 0;
	}
	return 0;
}

/* Read what TLS has. Returns -1 if the connection is dead. */
static int read_in(struct http_conn *c)
{
	size_t budget = READ_BUDGET;
	char drop[4096];
	c->read_want = 0;
	for (;;) {
		char *dst;
		size_t room;
		if (c->held || c->closing) {
			dst = drop;
			room = sizeof drop;
		} else {
			if (c->inlen == c->incap && c->incap < IN_MAX) {
				size_t n = c->incap ? c->incap * 2 : IN_START;
				if (n > IN_MAX)
					n = IN_MAX;
				char *p = realloc(c->in, n + 1);
				if (!p)
					return -1;
				c->in = p;
				c->incap = n;
			}
			if (c->inlen == c->incap)
				return 0; /* full: handle what is there first */
			dst = c->in + c->inlen;
			room = c->incap - c->inlen;
		}
		if (budget == 0 && SSL_pending(c->ssl) == 0)
			return 0;
		ERR_clear_error();
		int r = SSL_read(c->ssl, dst, room > 1u << 30 ? 1 << 30 : (int)room);
		if (r > 0) {
			if (dst != drop)
				c->inlen += (size_t)r;
			budget = (size_t)r >= budget ? 0 : budget - (size_t)r;
			continue;
		}
		int e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_READ)
			return 0;
		if (e == SSL_ERROR_WANT_WRITE) {
			c->read_want = POLLOUT;
			return 0;
		}
		if (is_eof_error(c->ssl, r, e)) {
			c->peer_eof = 1;
			return 0;
		}
		return -1;
	}
}

/* ---- answers ---- */

static void write_head(struct http_conn *c, int status, const char *ctype,
		       size_t len, int say_close)
{
	char head[512], framing[64];
	if (http_chunked)
		snprintf(framing, sizeof framing, "Transfer-Encoding: chunked\r\n");
	else
		snprintf(framing, sizeof framing, "Content-Length: %zu\r\n", len);
	int n = snprintf(head, sizeof head,
			 "HTTP/1.1 %d %s\r\n"
			 "Content-Type: %s\r\n"
			 "%s"
			 "%s"
			 "\r\n",
			 status, reason(status), ctype, framing,
			 say_close ? "Connection: close\r\n" :
			 c->cur_http10 ? "Connection: keep-alive\r\n" : "");
	out_append(c, head, (size_t)n);
}

void http_end(struct http_conn *c, enum http_after after)
{
	if (c->chunk_mode == CHUNK_ON && after != HTTP_CLOSE_ABORT)
		out_append(c, chunked_last, strlen(chunked_last));
	c->chunk_mode = CHUNK_RAW;
	c->responded = 1;
	c->held = 0;
	c->on_gone = NULL;
	if (after == HTTP_KEEP_ALIVE && c->cur_close)
		after = HTTP_CLOSE;
	if (after != HTTP_KEEP_ALIVE && !c->closing) {
		c->closing = 1;
		c->after = after;
	}
	if (c->in_io || c->state != ST_OPEN)
		return;
	/* Called from a timer: conn_io will not run unless asked to. */
	if (c->closing) {
		if (c->outoff == c->outlen) {
			start_linger(c);
			return;
		}
		c->state = ST_CLOSING;
		set_timer(c, TM_CLOSING, HTTP_REQUEST_MS);
	} else {
		set_timer(c, TM_IDLE, HTTP_IDLE_MS);
	}
	update_events(c);
}

void http_respond(struct http_conn *c, int status, const char *content_type,
		  const char *body, size_t len, enum http_after after)
{
	int say_close = after == HTTP_CLOSE ||
			(after == HTTP_KEEP_ALIVE && c->cur_close);
	write_head(c, status, content_type, len, say_close);
	if (http_chunked)
		c->chunk_mode = CHUNK_ON;
	http_write(c, body, len);
	http_end(c, after);
}

void http_write(struct http_conn *c, const void *data, size_t len)
{
	c->responded = 1;
	if (http_chunked && c->chunk_mode != CHUNK_RAW) {
		size_t n = 0;
		char *enc = c->chunk_mode == CHUNK_ON
			? chunked_encode(data, len, &c->chunk_turn, &n)
			: chunked_first(data, len, &c->chunk_turn, &c->chunk_mode, &n);
		out_append(c, enc ? enc : data, enc ? n : len);
		free(enc);
	} else {
		out_append(c, data, len);
	}
	if (c->in_io)
		return;
	if (c->abort_pending)
		set_timer(c, TM_CLOSING, 0); /* closes (and calls on_gone) from the loop */
	else
		update_events(c);
}

void http_hold(struct http_conn *c, void (*on_gone)(void *arg), void *arg)
{
	c->held = 1;
	c->on_gone = on_gone;
	c->gone_arg = arg;
}

void http_abort(struct http_conn *c)
{
	c->held = 0;
	c->on_gone = NULL;
	if (c->in_io) {
		c->abort_pending = 1;
		return;
	}
	conn_free(c);
}

size_t http_unsent(const struct http_conn *c)
{
	return c->outlen - c->outoff;
}

unsigned long http_conn_id(const struct http_conn *c)
{
	return c->id;
}

/* ---- answers that never end (http_endless) ---- */

struct endless {
	struct http_conn *c;
	struct loop_timer t;
	enum http_endless kind;
	char *data;             /* the part written once, or the trickled answer */
	size_t len, pos;
	uint64_t until;         /* loop ms */
	unsigned long n;        /* lines written */
};

static void endless_gone(void *arg)
{
	struct endless *e = arg;
	loop_timer_stop(e->c->srv->lp, &e->t);
	free(e->data);
	free(e);
}

/* One more piece of the endless part; returns its length in buf. */
static size_t endless_piece(struct endless *e, char *buf, size_t size)
{
	int n;
	switch (e->kind) {
	case HTTP_ENDLESS_1XX:
		n = snprintf(buf, size, "HTTP/1.1 100 Continue\r\n\r\n");
		break;
	case HTTP_ENDLESS_HEADERS:
		n = snprintf(buf, size, "X-Pad-%lu: %040lu\r\n", e->n, e->n);
		break;
	default:
		n = snprintf(buf, size, "X-Trailer-%lu: %040lu\r\n", e->n, e->n);
		break;
	}
	e->n++;
	return n > 0 ? (size_t)n : 0;
}

static void endless_tick(void *arg)
{
	struct endless *e = arg;
	struct loop *lp = e->c->srv->lp;
	if (loop_now(lp) >= e->until || (e->kind == HTTP_TRICKLE && e->pos == e->len)) {
		sim_log("conn %lu: endless answer over, closing", e->c->id);
		http_abort(e->c);
		free(e->data);
		free(e);
		return;
	}
	if (e->kind == HTTP_TRICKLE) {
		http_write(e->c, e->data + e->pos++, 1);
		loop_timer_start(lp, &e->t, HTTP_TRICKLE_MS);
		return;
	}
	if (e->pos < e->len) { /* the head (and body) first */
		http_write(e->c, e->data, e->len);
		e->pos = e->len;
	}
	static char batch[HTTP_ENDLESS_BATCH]; /* one loop, one thread */
	size_t k = 0;
	while (http_unsent(e->c) + k < HTTP_ENDLESS_UNSENT && k + 128 < sizeof batch)
		k += endless_piece(e, batch + k, sizeof batch - k);
	if (k)
		http_write(e->c, batch, k);
	loop_timer_start(lp, &e->t, HTTP_ENDLESS_TICK_MS);
}

void http_endless(struct http_conn *c, enum http_endless kind, const char *body, size_t len,
		  unsigned seconds)
{
	struct endless *e = calloc(1, sizeof *e);
	size_t cap = len + 256;
	char *d = e ? malloc(cap) : NULL;
	int h = 0;
	if (!d) {
		free(e);
		http_abort(c);
		return;
	}
	switch (kind) {
	case HTTP_ENDLESS_1XX:
		break;
	case HTTP_ENDLESS_HEADERS:
		h = snprintf(d, cap, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n");
		break;
	case HTTP_ENDLESS_TRAILERS:
		h = snprintf(d, cap, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
			     "Transfer-Encoding: chunked\r\n\r\n%zx\r\n", len);
		memcpy(d + h, body, len);
		h += (int)len;
		h += snprintf(d + h, cap - (size_t)h, "\r\n0\r\n");
		break;
	case HTTP_TRICKLE:
		h = snprintf(d, cap, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
			     "Content-Length: %zu\r\n\r\n", len);
		memcpy(d + h, body, len);
		h += (int)len;
		break;
	}
	e->c = c;
	e->kind = kind;
	e->data = d;
	e->len = (size_t)h;
	e->until = loop_now(c->srv->lp) + (uint64_t)seconds * 1000u;
	loop_timer_init(&e->t, endless_tick, e);
	loop_timer_start(c->srv->lp, &e->t, 0);
	http_hold(c, endless_gone, e);
}

/* An error answer from the HTTP layer itself; the connection closes. */
static void http_error(struct http_conn *c, int status, const char *msg)
{
	char body[256];
	int n = snprintf(body, sizeof body, "{\"error\":\"%s\"}", msg);
	sim_log("conn %lu: %d %s", c->id, status, msg);
	http_respond(c, status, "application/json", body, (size_t)n, HTTP_CLOSE);
}

/* ---- request parsing ---- */

static int is_tchar(unsigned char ch)
{
	if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
		return 1;
	return ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

/* Does the comma-separated header value hold token tok? */
static int has_token(const char *v, const char *tok)
{
	size_t tl = strlen(tok);
	while (*v) {
		while (*v == ' ' || *v == '\t' || *v == ',')
			v++;
		const char *s = v;
		while (*v && *v != ',')
			v++;
		const char *e = v;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if ((size_t)(e - s) == tl && strncasecmp(s, tok, tl) == 0)
			return 1;
	}
	return 0;
}

/* Find the end of the header block. Returns its length (blank line
 * included) or 0 if it has not arrived yet. */
static size_t find_head_end(struct http_conn *c)
{
	size_t i = c->scan;
	for (; i < c->inlen; i++) {
		if (c->in[i] != '\n')
			continue;
		size_t j = i + 1;
		if (j < c->inlen && c->in[j] == '\r')
			j++;
		if (j < c->inlen && c->in[j] == '\n')
			return j + 1;
		if (j >= c->inlen)
			break; /* look at this newline again when more comes */
	}
	c->scan = i;
	return 0;
}

/* Cut the next line out of [*p, end): NUL-terminate it (dropping CR). */
static char *next_line(char **p, char *end)
{
	char *s = *p;
	char *nl = memchr(s, '\n', (size_t)(end - s));
	if (!nl)
		return NULL;
	*p = nl + 1;
	if (nl > s && nl[-1] == '\r')
		nl--;
	*nl = '\0';
	return s;
}

/* The request line "METHOD TARGET VERSION", cut in place. Returns 0, or
 * an HTTP status with msg. */
static int parse_request_line(struct http_conn *c, char *line, const char **msg)
{
	char *sp1 = line ? strchr(line, ' ') : NULL;
	char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (!sp1 || !sp2 || strchr(sp2 + 1, ' ') || sp1 == line || sp2 == sp1 + 1) {
		*msg = "malformed request line";
		return 400;
	}
	*sp1 = *sp2 = '\0';
	for (char *q = line; *q; q++)
		if (!is_tchar((unsigned char)*q)) {
			*msg = "malformed method";
			return 400;
		}
	for (char *q = sp1 + 1; *q; q++)
		if ((unsigned char)*q <= 0x20 || (unsigned char)*q == 0x7f) {
			*msg = "malformed request target";
			return 400;
		}
	const char *ver = sp2 + 1;
	if (strcmp(ver, "HTTP/1.1") == 0)
		c->http10 = 0;
	else if (strcmp(ver, "HTTP/1.0") == 0)
		c->http10 = 1;
	else {
		*msg = "unsupported HTTP version";
		return 400;
	}
	c->meth_off = (size_t)(line - c->in);
	c->target_off = (size_t)(sp1 + 1 - c->in);
	return 0;
}

/* A header line "Name: value", cut in place: line ends at the name, *value
 * is the value without the white space around it. Returns 0, or an HTTP
 * status with msg. */
static int split_header(char *line, char **value, const char **msg)
{
	if (*line == ' ' || *line == '\t') {
		*msg = "folded header line";
		return 400;
	}
	char *colon = strchr(line, ':');
	if (!colon || colon == line) {
		*msg = "malformed header line";
		return 400;
	}
	for (char *q = line; q < colon; q++)
		if (!is_tchar((unsigned char)*q)) {
			*msg = "malformed header name";
			return 400;
		}
	*colon = '\0';
	char *v = colon + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	char *ve = v + strlen(v);
	while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
		*--ve = '\0';
	for (char *q = v; *q; q++)
		if (*q == '\r') {
			*msg = "bare CR in a header";
			return 400;
		}
	*value = v;
	return 0;
}

/* What the headers of one request say, as they are read. */
struct head_seen {
	int have_len, keep_alive, close;
	size_t clen;
};

static int content_length(struct head_seen *h, const char *v, const char **msg)
{
	size_t n = 0;
	if (!*v || strlen(v) > 12) {
		*msg = "bad Content-Length";
		return 400;
	}
	for (const char *q = v; *q; q++) {
		if (*q < '0' || *q > '9') {
			*msg = "bad Content-Length";
			return 400;
		}
		n = n * 10 + (size_t)(*q - '0');
	}
	if (h->have_len && n != h->clen) {
		*msg = "conflicting Content-Length";
		return 400;
	}
	h->have_len = 1;
	h->clen = n;
	return 0;
}

/* One header that matters (the others are passed over). Returns 0, or an
 * HTTP status with msg. */
static int take_header(struct http_conn *c, struct head_seen *h, const char *name, const char *v,
		       const char **msg)
{
	if (strcasecmp(name, "Content-Length") == 0)
		return content_length(h, v, msg);
	if (strcasecmp(name, "Transfer-Encoding") == 0) {
		*msg = "Transfer-Encoding is not supported";
		return 501;
	}
	if (strcasecmp(name, "Connection") == 0) {
		if (has_token(v, "close"))
			h->close = 1;
		if (has_token(v, "keep-alive"))
			h->keep_alive = 1;
	} else if (strcasecmp(name, "Expect") == 0) {
		if (strcasecmp(v, "100-continue") == 0)
			c->expect100 = 1;
	}
	return 0;
}

/* Parse the head in c->in[0..hlen). Returns 0, or an HTTP status with msg. */
static int parse_head(struct http_conn *c, size_t hlen, const char **msg)
{
	char *p = c->in, *end = c->in + hlen;
	if (memchr(p, '\0', hlen)) {
		*msg = "NUL byte in the request head";
		return 400;
	}
	int st = parse_request_line(c, next_line(&p, end), msg);
	if (st)
		return st;
	struct head_seen h = {0, 0, 0, 0};
	char *line, *v;
	c->expect100 = 0;
	while ((line = next_line(&p, end)) != NULL && *line) {
		st = split_header(line, &v, msg);
		if (!st)
			st = take_header(c, &h, line, v, msg);
		if (st)
			return st;
	}
	if (h.clen > HTTP_BODY_MAX) {
		*msg = "request body too large";
		return 413;
	}
	c->body_len = h.clen;
	c->want_close = h.close || (c->http10 && !h.keep_alive);
	return 0;
}

static void reset_request(struct http_conn *c)
{
	c->head_done = 0;
	c->head_len = c->body_len = 0;
	c->expect100 = c->sent100 = c->want_close = c->http10 = 0;
	c->scan = 0;
}

/* Blank lines before a request line are allowed: drop them. */
static void skip_blank_lines(struct http_conn *c)
{
	size_t skip = 0;
	while (skip < c->inlen && (c->in[skip] == '\r' || c->in[skip] == '\n'))
		skip++;
	if (skip) {
		memmove(c->in, c->in + skip, c->inlen - skip);
		c->inlen -= skip;
		c->scan = 0;
	}
}

/* The head of the next request, once it is all in. Returns 1 when it is
 * read; 0 when it is not all in yet, or was refused (answered). */
static int read_head(struct http_conn *c)
{
	size_t hlen = find_head_end(c);
	if (hlen == 0) {
		if (c->inlen >= HTTP_HEAD_MAX)
			http_error(c, 400, "request head too large");
		return 0;
	}
	if (hlen > HTTP_HEAD_MAX) {
		http_error(c, 400, "request head too large");
		return 0;
	}
	const char *msg = NULL;
	int st = parse_head(c, hlen, &msg);
	if (st) {
		c->cur_close = 1;
		c->cur_http10 = 0;
		http_error(c, st, msg);
		return 0;
	}
	c->head_done = 1;
	c->head_len = hlen;
	return 1;
}

/* The request whose head and body are the first total bytes of in, to the
 * server's hook; then out of the buffer. Returns -1 if the connection must
 * be freed now. */
static int run_request(struct http_conn *c, size_t total)
{
	struct http_server *s = c->srv;
	struct http_request req;
	req.method = c->in + c->meth_off;
	req.target = c->in + c->target_off;
	req.body = c->in + c->head_len;
	req.body_len = c->body_len;
	req.first = c->nrequests == 0;
	req.resumed = c->resumed;
	c->nrequests++;
	c->cur_close = c->want_close;
	c->cur_http10 = c->http10;
	c->responded = 0;
	c->chunk_mode = CHUNK_UNDECIDED;
	set_timer(c, TM_NONE, 0);

	char saved = c->in[total];   /* in has one spare byte past incap */
	c->in[total] = '\0';
	sim_log("conn %lu: %s %s (%zu bytes)", c->id, req.method, req.target, req.body_len);
	s->hooks->on_request(s->arg, c, &req);
	c->in[total] = saved;

	if (c->abort_pending)
		return -1;
	if (!c->responded && !c->held)
		http_error(c, 500, "no answer");
	memmove(c->in, c->in + total, c->inlen - total);
	c->inlen -= total;
	reset_request(c);
	return 0;
}

/* Handle the requests in the input buffer. Returns -1 if the connection
 * must be freed now. */
static int process(struct http_conn *c)
{
	while (c->state == ST_OPEN && !c->held && !c->closing) {
		if (!c->head_done)
			skip_blank_lines(c);
		if (c->inlen == 0)
			return 0;
		if (c->tkind != TM_REQUEST)
			set_timer(c, TM_REQUEST, HTTP_REQUEST_MS);
		if (!c->head_done && !read_head(c))
			return 0;
		size_t total = c->head_len + c->body_len;
		if (c->inlen < total) {
			if (c->expect100 && !c->sent100) {
				static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
				out_append(c, cont, sizeof cont - 1);
				c->sent100 = 1;
			}
			return 0;
		}
		if (run_request(c, total) < 0)
			return -1;
	}
	return 0;
}

/* ---- closing ---- */

/* The answer is out: send close_notify (unless aborting), half-close the
 * socket and wait briefly for the client's FIN, so that our close does
 * not turn into a reset that could destroy the answer in flight. */
static void start_linger(struct http_conn *c)
{
	if (c->after != HTTP_CLOSE_ABORT) {
		ERR_clear_error();
		SSL_shutdown(c->ssl);
	}
	ERR_clear_error();
	SSL_free(c->ssl);
	c->ssl = NULL;
	shutdown(c->fd, SHUT_WR);
	c->state = ST_LINGER;
	set_timer(c, TM_LINGER, LINGER_MS);
	update_events(c);
}

static void linger_read(struct http_conn *c)
{
	char buf[4096];
	for (int i = 0; i < 16; i++) {
		ssize_t n = recv(c->fd, buf, sizeof buf, 0);
		if (n > 0)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		conn_free(c);
		return;
	}
}

/* ---- the connection's event handler ---- */

static void after_handshake(struct http_conn *c)
{
	struct http_server *s = c->srv;
	c->state = ST_OPEN;
	c->resumed = SSL_session_reused(c->ssl) ? 1 : 0;
	sim_log("conn %lu: %s handshake%s", c->id, SSL_get_version(c->ssl),
		c->resumed ? " (resumed)" : "");
	set_timer(c, TM_IDLE, HTTP_IDLE_MS);
	if (s->hooks->on_handshake)
		s->hooks->on_handshake(s->arg, c->resumed);
}

/* The TLS handshake, while it lasts. Returns 1 when it is done (now or
 * before), 0 while it waits for the socket, -1 if it failed (c freed). */
static int handshake_step(struct http_conn *c)
{
	if (c->state != ST_HANDSHAKE)
		return 1;
	ERR_clear_error();
	int r = SSL_do_handshake(c->ssl);
	if (r != 1) {
		int e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			c->hs_want = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
			c->in_io = 0;
			update_events(c);
			return 0;
		}
		sim_log("conn %lu: TLS handshake failed", c->id);
		conn_free(c);
		return -1;
	}
	after_handshake(c);
	return 1;
}

/* Send, read, answer. Returns -1 if the connection must be freed now. */
static int exchange(struct http_conn *c)
{
	if (flush_out(c) < 0 || read_in(c) < 0 || process(c) < 0 || c->abort_pending)
		return -1;
	/* Bytes TLS has already decrypted do not wake poll(): if the input
	 * buffer was full, take them now that requests made room. */
	for (int i = 0; i < 64 && c->state == ST_OPEN && !c->closing && !c->held &&
			c->inlen < IN_MAX && SSL_pending(c->ssl) > 0; i++) {
		if (read_in(c) < 0 || process(c) < 0 || c->abort_pending)
			return -1;
	}
	return flush_out(c);
}

/* After the exchange: close, linger, or wait, with the timer that fits.
 * c may be freed. */
static void settle(struct http_conn *c)
{
	int drained = c->outoff == c->outlen;
	if (c->peer_eof) {
		/* The client is gone or half-closed: finish the answer, if any. */
		if (c->held || !drained || c->closing) {
			if (c->held) {
				conn_free(c);
				return;
			}
			if (!c->closing) {
				c->closing = 1;
				c->after = HTTP_CLOSE_QUIET;
			}
		} else {
			conn_free(c);
			return;
		}
	}
	if (c->closing && drained) {
		start_linger(c);
		return;
	}
	if (c->closing) {
		if (c->state != ST_CLOSING) {
			c->state = ST_CLOSING;
			set_timer(c, TM_CLOSING, HTTP_REQUEST_MS);
		}
	} else if (!c->held && c->inlen == 0 && c->tkind != TM_IDLE) {
		set_timer(c, TM_IDLE, HTTP_IDLE_MS);
	}
	update_events(c);
}

static void conn_io(void *arg, int fd, unsigned revents)
{
	struct http_conn *c = arg;
	(void)fd;
	if (c->state == ST_LINGER) {
		linger_read(c);
		return;
	}
	if (revents & POLLNVAL) {
		conn_free(c);
		return;
	}
	c->in_io = 1;
	if (handshake_step(c) <= 0)
		return;
	if (exchange(c) < 0) {
		conn_free(c);
		return;
	}
	c->in_io = 0;
	settle(c);
}

static void conn_timer(void *arg)
{
	struct http_conn *c = arg;
	static const char *const what[] = {
		"none", "handshake", "request", "idle", "closing", "linger"
	};
	sim_log("conn %lu: %s timeout", c->id, what[c->tkind]);
	c->tkind = TM_NONE;
	conn_free(c);
}

/* ---- listening ---- */

static void on_accept(void *arg, int cfd)
{
	struct http_server *s = arg;
	struct http_conn *c = calloc(1, sizeof *c);
	SSL *ssl = c ? SSL_new(s->ctx) : NULL;
	if (!c || !ssl || SSL_set_fd(ssl, cfd) != 1 ||
	    (s->cert && SSL_use_certificate(ssl, s->cert) != 1) ||
	    loop_io_add(s->lp, cfd, POLLIN, conn_io, c) < 0) {
		if (ssl)
			SSL_free(ssl);
		free(c);
		close(cfd);
		ERR_clear_error();
		return;
	}
	SSL_set_accept_state(ssl);
	c->srv = s;
	c->id = ++s->next_id;
	c->fd = cfd;
	c->ssl = ssl;
	c->state = ST_HANDSHAKE;
	c->events = POLLIN;
	loop_timer_init(&c->tmr, conn_timer, c);
	set_timer(c, TM_HANDSHAKE, HTTP_REQUEST_MS);
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	sim_log("conn %lu accepted", c->id);
	if (s->hooks->on_accept)
		s->hooks->on_accept(s->arg);
}

struct http_server *http_listen(struct loop *lp, const char *address, int port,
				SSL_CTX *ctx, const struct http_hooks *hooks, void *arg,
				char *err, size_t errsz)
{
	struct http_server *s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	s->lp = lp;
	s->ctx = ctx;
	s->hooks = hooks;
	s->arg = arg;
	if (listener_open(&s->ls, lp, address, port, NULL, on_accept, s, err, errsz) < 0) {
		int e = errno;
		free(s);
		errno = e;
		return NULL;
	}
	return s;
}

void http_server_set_cert(struct http_server *s, X509 *cert)
{
	s->cert = cert;
}

int http_server_port(const struct http_server *s)
{
	return s->ls.port;
}

void http_server_free(struct http_server *s)
{
	if (!s)
		return;
	while (s->conns)
		conn_free(s->conns);
	listener_close(&s->ls);
	free(s);
}
