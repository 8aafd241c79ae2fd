/* The stream port's writer, layer 6, the bottom one (see stream_int.h): the
 * bounded send queue of each connection, "$" frames (RTP packets and
 * download chunks) into it, and the socket writes out of it. It calls no
 * other file of the stream port: what it finds (a broken connection, one
 * that is done) it returns to the connection (stream.c), which decides. */
#define _GNU_SOURCE
#include "stream_int.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* The 4 bytes before a frame of len bytes on channel ch. */
static void frame_head(uint8_t *p, int ch, size_t len)
{
	p[0] = '$';
	p[1] = (uint8_t)ch;
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
}

size_t unsent(const struct conn *c)
{
	return c->outlen - c->outoff;
}

/* The bytes that may go out now: all unsent ones, or under the stall fault
 * only those queued before it. */
size_t sendable(const struct conn *c)
{
	if (unsent(c) == 0)
		return 0;
	if (!c->stalled)
		return unsent(c);
	return c->outoff < c->stall_end ? c->stall_end - c->outoff : 0;
}

/* ---- output ---- */

/* Room for n more bytes at the end of the queue, or NULL (the connection
 * is then marked to be closed). */
uint8_t *out_space(struct conn *c, size_t n)
{
	if (c->overflow)
		return NULL;
	if (unsent(c) + n > STREAM_OUT_MAX) {
		sim_log("stream conn %lu: %zu bytes unsent, closing it", c->id, unsent(c));
		c->overflow = 1;
		return NULL;
	}
	if (c->outoff > 0 && c->outlen + n > c->outcap) {
		memmove(c->out, c->out + c->outoff, unsent(c));
		c->outlen -= c->outoff;
		c->stall_end = c->stall_end > c->outoff ? c->stall_end - c->outoff : 0;
		c->outoff = 0;
	}
	if (c->outlen + n > c->outcap) {
		size_t cap = c->outcap ? c->outcap : 16384;
		while (cap < c->outlen + n)
			cap *= 2;
		uint8_t *p = realloc(c->out, cap);
		if (!p) {
			c->overflow = 1;
			return NULL;
		}
		c->out = p;
		c->outcap = cap;
	}
	uint8_t *p = c->out + c->outlen;
	c->outlen += n;
	return p;
}

void out_put(struct conn *c, const void *data, size_t n)
{
	uint8_t *p = out_space(c, n);
	if (p)
		memcpy(p, data, n);
}

/* A whole "$" frame of n bytes was just queued: the cut fault keeps half. */
static void frame_queued(struct conn *c, size_t n)
{
	if (!c->cut_next)
		return;
	c->cut_next = 0;
	c->outlen -= n - n / 2;
	c->closing = 1;
	sim_log("stream conn %lu: fault cut_mid_frame", c->id);
}

void put_rtp(struct conn *c, struct sess *s, int ch, int pt, int marker, uint16_t seq,
	     uint32_t ts, uint32_t ssrc, const uint8_t *a, size_t alen,
	     const uint8_t *b, size_t blen)
{
	size_t len = 12 + alen + blen;
	if (c->closing || len > 0xffff)
		return;
	uint8_t *p = out_space(c, 4 + len);
	if (!p)
		return;
	frame_head(p, ch, len);
	p[4] = 0x80;
	p[5] = (uint8_t)((marker ? 0x80 : 0) | pt);
	p[6] = (uint8_t)(seq >> 8);
	p[7] = (uint8_t)seq;
	put32(p + 8, ts);
	put32(p + 12, ssrc);
	if (alen)
		memcpy(p + 16, a, alen);
	if (blen)
		memcpy(p + 16 + alen, b, blen);
	if (s)
		s->bytes_sent += 4 + len;
	frame_queued(c, 4 + len);
}

int put_chunk(struct conn *c, struct sess *s, int ch, const uint8_t *data, size_t len)
{
	uint8_t *p = out_space(c, 4 + len);
	if (!p)
		return -1;
	frame_head(p, ch, len);
	memcpy(p + 4, data, len);
	s->bytes_sent += 4 + len;
	frame_queued(c, 4 + len);
	return 0;
}

/* ---- the socket ---- */

int out_flush(struct conn *c)
{
	if (c->overflow)
		return -1;
	for (size_t k; (k = sendable(c)) > 0;) {
		ssize_t n = send(c->fd, c->out + c->outoff, k, MSG_NOSIGNAL);
		if (n > 0) {
			c->outoff += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		return -1;
	}
	if (unsent(c) == 0)
		c->outoff = c->outlen = c->stall_end = 0;
	if (c->closing && unsent(c) == 0) {
		shutdown(c->fd, SHUT_WR);
		return -1;
	}
	return 0;
}
