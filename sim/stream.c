/* The stream port: a server (listener) per camera, its connections from
 * accept to close, and their input: "$" frames in, RTSP requests read,
 * checked and authorized (digest), then dispatched to stream_session.c;
 * and their output (conn_service: the writer flushes, the media producer
 * fills). Layer 2 of the stream port, under the admin endpoints and over
 * everything else (stream_int.h has the layers). See stream.h and
 * docs/sim.md. */
#define _GNU_SOURCE
#include "stream_int.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "stream_digest.h"

#define PORT_TRIES      8

static struct stream_server **servers;
static size_t nservers;
static int bound_port;

/* ---- connections ---- */

void conn_kill(struct conn *c)
{
	struct stream_server *srv = c->srv;
	sim_log("stream conn %lu closed", c->id);
	while (c->sess)
		sess_free(c, c->sess);
	loop_timer_stop(srv->lp, &c->pump);
	loop_timer_stop(srv->lp, &c->idle);
	loop_timer_stop(srv->lp, &c->trickle_timer);
	loop_io_del(srv->lp, c->fd);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv->nconns--;
	free(c->in);
	free(c->out);
	free(c);
}

static void new_nonce(struct conn *c)
{
	memcpy(c->prev_nonce, c->nonce, sizeof c->nonce);
	camera_random_hex(c->nonce, 32);
	c->last_nc = 0;
}

/* ---- digest ---- */

/* The digest settings in force. */
static struct sd_policy policy(const struct stream_server *srv)
{
	struct sd_policy pol = {srv->set.qop_auth, srv->set.sha256 ? SD_SHA256 : SD_MD5,
				srv->set.quoted_only};
	return pol;
}

static void challenge(struct conn *c, const struct req *r, int stale)
{
	struct stream_server *srv = c->srv;
	struct sd_policy pol = policy(srv);
	char value[512], extra[600];
	new_nonce(c);
	sd_challenge(&pol, c->nonce, srv->set.opaque ? c->opaque : NULL, stale, value, sizeof value);
	snprintf(extra, sizeof extra, "WWW-Authenticate: %s\r\n", value);
	answer_status(c, r, 401, "Unauthorized", extra);
}

/* 0 if r may go on; else it has been answered with a 401. */
static int authorize(struct conn *c, const struct req *r)
{
	struct stream_server *srv = c->srv;
	if (!r->auth) {
		challenge(c, r, 0);
		return -1;
	}
	struct sd_policy pol = policy(srv);
	struct sd_auth a;
	const char *why = "not a Digest header";
	unsigned long nc = 0;
	int ok = sd_parse(r->auth, &a) == 0 &&
		 sd_check(&a, &pol, srv->set.username, srv->cam->cfg.password, "MULTITRANS",
			  srv->set.opaque ? c->opaque : NULL, &nc, &why) == 0;
	if (ok && strcmp(a.uri.v, r->uri) != 0) {
		ok = 0;
		why = "uri is not the request's";
	}
	if (ok && c->nonce[0] && strcmp(a.nonce.v, c->nonce) == 0) {
		if (pol.qop_auth && nc <= c->last_nc) {
			ok = 0;
			why = "nc did not increase";
		}
	} else if (ok && c->prev_nonce[0] && strcmp(a.nonce.v, c->prev_nonce) == 0) {
		sim_log("stream conn %lu: stale nonce", c->id);
		challenge(c, r, 1);
		return -1;
	} else if (ok) {
		ok = 0;
		why = "unknown nonce";
	}
	if (!ok) {
		srv->auth_failures++;
		sim_log("stream conn %lu: 401: %s", c->id, why);
		challenge(c, r, 0);
		return -1;
	}
	if (c->stale_pending && c->auth_ok > 0) {
		c->stale_pending = 0;
		sim_log("stream conn %lu: fault stale_nonce", c->id);
		challenge(c, r, 1);
		return -1;
	}
	c->last_nc = nc;
	c->auth_ok++;
	return 0;
}

/* ---- input ---- */

static int uri_ok(const char *uri)
{
	if (strncasecmp(uri, "rtsp://", 7) != 0)
		return 0;
	const char *path = strchr(uri + 7, '/');
	return path && strcmp(path, "/multitrans") == 0;
}

static void on_request(struct conn *c, struct req *r)
{
	struct stream_server *srv = c->srv;
	srv->requests++;
	if (!r->cseq) {
		answer_status(c, r, 400, "Bad Request", NULL);
		return;
	}
	if (strcmp(r->method, "MULTITRANS") != 0) {
		answer_status(c, r, 501, "Not Implemented", NULL);
		return;
	}
	if (!uri_ok(r->uri)) {
		answer_status(c, r, 404, "Not Found", NULL);
		return;
	}
	if (authorize(c, r) < 0)
		return;
	fault_on_request(c);
	dispatch(c, r);
}

static void on_frame(struct conn *c, int ch, const uint8_t *p, size_t len)
{
	struct sess *s = sess_by_channel(c, ch);
	if (!s) {
		c->srv->stray_in++;
		return;
	}
	if (s->kind == K_TALK && s->talk) {
		talk_packet(s->talk, p, len);
		fault_on_talk(c);
	}
	/* Anything else on a media channel (RTCP) is ignored. */
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

/* Parse a head (NUL-terminated, lines ending in LF or CRLF). Returns 0, or
 * -1 if it is malformed. *is_response for "RTSP/1.0 ..." status lines. */
static int parse_head(char *head, struct req *r, int *is_response, size_t *clen)
{
	memset(r, 0, sizeof *r);
	*clen = 0;
	char *save = NULL;
	char *line = strtok_r(head, "\n", &save);
	if (!line)
		return -1;
	line = trim(line);
	*is_response = strncmp(line, "RTSP/", 5) == 0;
	if (!*is_response) {
		char *sp1 = strchr(line, ' ');
		char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
		if (!sp1 || !sp2 || strncmp(sp2 + 1, "RTSP/1.", 7) != 0)
			return -1;
		*sp1 = *sp2 = '\0';
		r->method = line;
		r->uri = sp1 + 1;
		if (!*r->method || !*r->uri)
			return -1;
	}
	while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
		char *colon = strchr(line, ':');
		if (!colon) {
			if (*trim(line) == '\0')
				continue;
			return -1;
		}
		*colon = '\0';
		char *name = trim(line), *value = trim(colon + 1);
		if (strcasecmp(name, "CSeq") == 0) {
			if (!*value || strlen(value) > 20 || strspn(value, "0123456789") != strlen(value))
				return -1;
			r->cseq = value;
		} else if (strcasecmp(name, "Content-Length") == 0) {
			char *end;
			if (!*value || strspn(value, "0123456789") != strlen(value))
				return -1;
			unsigned long long n = strtoull(value, &end, 10);
			*clen = n > (unsigned long long)IN_MAX ? (size_t)IN_MAX + 1 : (size_t)n;
		} else if (strcasecmp(name, "Authorization") == 0) {
			r->auth = value;
		} else if (strcasecmp(name, "Session") == 0) {
			char *semi = strchr(value, ';');   /* "id;timeout=60" */
			if (semi)
				*semi = '\0';
			r->session = trim(value);
		}
	}
	return 0;
}

/* Answer with an error status, then close; r may be NULL (no CSeq known). */
static void refuse(struct conn *c, const struct req *r, int code, const char *reason)
{
	struct req none;
	memset(&none, 0, sizeof none);
	answer_status(c, r ? r : &none, code, reason, NULL);
	c->closing = 1;
}

static void conn_input(struct conn *c)
{
	static char head[STREAM_HEAD_MAX + 1];
	size_t pos = 0;
	while (!c->closing && !c->overflow && pos < c->inlen) {
		uint8_t *p = c->in + pos;
		size_t avail = c->inlen - pos;
		if (p[0] == '$') {
			if (avail < 4)
				break;
			size_t len = ((size_t)p[2] << 8) | p[3];
			if (avail < 4 + len)
				break;
			on_frame(c, p[1], p + 4, len);
			pos += 4 + len;
			continue;
		}
		if (p[0] == '\r' || p[0] == '\n') {
			pos++;
			continue;
		}
		size_t scan = avail < STREAM_HEAD_MAX ? avail : STREAM_HEAD_MAX;
		size_t hlen = 0;
		for (size_t i = 0; i + 1 < scan; i++) {
			if (p[i] != '\n')
				continue;
			if (p[i + 1] == '\n') {
				hlen = i + 2;
				break;
			}
			if (p[i + 1] == '\r' && i + 2 < scan && p[i + 2] == '\n') {
				hlen = i + 3;
				break;
			}
		}
		if (!hlen) {
			if (avail >= STREAM_HEAD_MAX)
				refuse(c, NULL, 400, "Bad Request");
			break;
		}
		if (memchr(p, '\0', hlen)) {
			refuse(c, NULL, 400, "Bad Request");
			break;
		}
		memcpy(head, p, hlen);
		head[hlen] = '\0';
		struct req r;
		int is_response;
		size_t clen;
		if (parse_head(head, &r, &is_response, &clen) < 0) {
			refuse(c, NULL, 400, "Bad Request");
			break;
		}
		if (clen > STREAM_BODY_MAX) {
			refuse(c, &r, 413, "Request Entity Too Large");
			break;
		}
		if (avail < hlen + clen)
			break;
		r.body = (const char *)p + hlen;
		r.clen = clen;
		if (!is_response)
			on_request(c, &r);
		pos += hlen + clen;
	}
	if (c->closing)
		pos = c->inlen;     /* what follows is not read */
	if (pos > 0) {
		memmove(c->in, c->in + pos, c->inlen - pos);
		c->inlen -= pos;
	}
}


static void conn_io(void *arg, int fd, unsigned revents)
{
	struct conn *c = arg;
	if (c->deaf) {
		/* Nothing is read: only a broken connection ends it. */
		if (revents & (POLLERR | POLLHUP | POLLNVAL)) {
			conn_kill(c);
			return;
		}
	} else if (revents & (POLLIN | POLLERR | POLLHUP | POLLNVAL)) {
		for (;;) {
			if (c->inlen == c->incap) {
				if (c->incap >= IN_MAX)
					break;
				size_t cap = c->incap ? c->incap * 2 : 4096;
				if (cap > IN_MAX)
					cap = IN_MAX;
				uint8_t *p = realloc(c->in, cap);
				if (!p)
					break;
				c->in = p;
				c->incap = cap;
			}
			ssize_t n = recv(fd, c->in + c->inlen, c->incap - c->inlen, 0);
			if (n > 0) {
				loop_timer_start(c->srv->lp, &c->idle, STREAM_IDLE_MS);
				if (c->closing)
					continue;       /* read and dropped */
				c->inlen += (size_t)n;
				conn_input(c);
				if (c->deaf)
					break;
				continue;
			}
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				break;
			conn_kill(c);   /* closed by the client, or reset */
			return;
		}
	}
	conn_service(c);
}

/* ---- output ---- */

/* Flush, make media, flush; close when done or broken. c may be freed.
 * The connection is where the writer (which only reports) and the media
 * producer (which only fills the queue) meet. */
void conn_service(struct conn *c)
{
	struct stream_server *srv = c->srv;
	int full = 1;
	for (int round = 0;; round++) {
		if (out_flush(c) < 0) {
			conn_kill(c);
			return;
		}
		if (!full || round == 4)
			break;
		full = pace_pump(c);
	}
	if (full && !c->stalled && unsent(c) < STREAM_OUT_LOW)
		loop_timer_start(srv->lp, &c->pump, 0);    /* drained at once: more next turn */
	unsigned ev = c->deaf ? 0 : POLLIN;
	if (sendable(c) > 0)
		ev |= POLLOUT;
	if (ev != c->events) {
		c->events = ev;
		loop_io_set(srv->lp, c->fd, ev);
	}
}

/* The pump timer, armed by the media producer: media is due. */
static void conn_pump_timer(void *arg)
{
	conn_service(arg);
}

static void conn_idle_timer(void *arg)
{
	struct conn *c = arg;
	if (c->nsess > 0) {
		loop_timer_start(c->srv->lp, &c->idle, STREAM_IDLE_MS);
		return;
	}
	sim_log("stream conn %lu: idle, closing it", c->id);
	conn_kill(c);
}

/* ---- the server ---- */

static void on_accept(void *arg, int cfd)
{
	struct stream_server *srv = arg;
	struct conn *c = calloc(1, sizeof *c);
	if (!c || loop_io_add(srv->lp, cfd, POLLIN, conn_io, c) < 0) {
		free(c);
		close(cfd);
		return;
	}
	c->srv = srv;
	c->fd = cfd;
	c->id = ++srv->next_conn_id;
	c->events = POLLIN;
	camera_random_hex(c->opaque, 32);
	fault_conn_init(c);
	loop_timer_init(&c->pump, conn_pump_timer, c);
	loop_timer_init(&c->idle, conn_idle_timer, c);
	loop_timer_init(&c->trickle_timer, fault_trickle_timer, c);
	loop_timer_start(srv->lp, &c->idle, STREAM_IDLE_MS);
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	srv->nconns++;
	sim_log("stream conn %lu accepted", c->id);
}

static struct stream_server *server_listen(struct loop *lp, struct camera *cam, int port,
					   char *err, size_t errsz)
{
	struct stream_server *srv = calloc(1, sizeof *srv);
	if (!srv) {
		snprintf(err, errsz, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	srv->lp = lp;
	srv->cam = cam;
	if (listener_open(&srv->ls, lp, cam->address, port, "stream", on_accept, srv, err,
			  errsz) < 0) {
		int e = errno;
		free(srv);
		errno = e;
		return NULL;
	}
	return srv;
}

static void server_free(struct stream_server *srv)
{
	if (!srv)
		return;
	while (srv->conns)
		conn_kill(srv->conns);
	listener_close(&srv->ls);
	talk_clear(&srv->talk);
	srv->cam->stream = NULL;
	free(srv);
}

static void close_all(void)
{
	for (size_t i = 0; i < nservers; i++) {
		server_free(servers[i]);
		servers[i] = NULL;
	}
}

int stream_listen_all(struct loop *lp, struct camera **cams, size_t n, int port,
		      int port_given, const struct stream_settings *set, char *err, size_t errsz)
{
	if (sm_init() < 0) {
		snprintf(err, errsz, "the built-in stream media do not parse");
		return -1;
	}
	servers = calloc(n, sizeof *servers);
	if (!servers) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	nservers = n;
	int want = port;
	for (int try = 1;; try++) {
		int p = want, again = 0, failed = 0;
		for (size_t i = 0; i < n; i++) {
			servers[i] = server_listen(lp, cams[i], p, err, errsz);
			if (!servers[i]) {
				again = errno == EADDRINUSE;
				failed = 1;
				break;
			}
			p = servers[i]->ls.port;
		}
		if (!failed) {
			bound_port = p;
			break;
		}
		close_all();
		if (again && !port_given && want != 0) {
			sim_log("stream port %d taken, using a free one", want);
			want = 0;
			continue;
		}
		if (again && want == 0 && try < PORT_TRIES)
			continue;
		free(servers);
		servers = NULL;
		nservers = 0;
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		struct stream_server *srv = servers[i];
		srv->set = srv->start = *set;
		cams[i]->stream = srv;
		camera_set_stream_port(cams[i], bound_port);
	}
	return bound_port;
}

void stream_free_all(void)
{
	close_all();
	free(servers);
	servers = NULL;
	nservers = 0;
	sm_free();
}
