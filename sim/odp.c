/* The discovery responder: see odp.h. */
#define _GNU_SOURCE
#include "odp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "log.h"

/* Datagrams read per wake-up, so that a flood cannot starve the other fds. */
#define ODP_BATCH 64
/* Datagrams of the flood fault sent per wake-up: as fast as the loop
 * turns, while the other fds are still served between batches. */
#define ODP_FLOOD_BATCH 256

/* The flood fault under way: one per socket (a new one replaces it). */
struct odp_flood {
	int on;
	struct camera *cam;
	unsigned gen;               /* cam->odp_fault_gen when it began */
	struct in_addr src;         /* pktinfo: the camera's address */
	int has_src;
	struct sockaddr_storage to;
	socklen_t tolen;
	uint64_t until;             /* loop ms */
	struct odp_header h;
	char *payload;              /* the reply's JSON; its MAC rewritten per datagram */
	size_t plen, mac_off;
	unsigned char *pkt;
};

struct odp_server {
	struct loop *lp;
	int fd;
	int port;
	int pktinfo;                /* wildcard IPv4 socket: destinations and sources by IP_PKTINFO */
	struct camera **cams;
	size_t ncams;
	struct in_addr *src;        /* pktinfo: each camera's address (0 if not IPv4) */
	struct odp_flood flood;
};

/* Flood MACs: distinct across every flood of the process (locally
 * administered, never a fleet camera's 02:56:49:47:..). */
static unsigned long long flood_macs;

static const char *const fault_names[] = {
	"none", "bad_crc", "bare_magic", "duplicate", "oversized", "encrypt",
	"foreign_serial", "silent", "flood", "spoof"
};

const char *odp_fault_name(enum odp_fault_kind k)
{
	if ((size_t)k >= sizeof fault_names / sizeof *fault_names)
		return "?";
	return fault_names[k];
}

int odp_fault_parse(const char *name, enum odp_fault_kind *k)
{
	for (size_t i = 0; i < sizeof fault_names / sizeof *fault_names; i++)
		if (strcmp(name, fault_names[i]) == 0) {
			*k = (enum odp_fault_kind)i;
			return 0;
		}
	return -1;
}

/* ---- the reply ---- */

static const char *state_string(const struct camera *cam, const char *key, const char *field,
				const char *dflt)
{
	const cJSON *obj = cJSON_GetObjectItemCaseSensitive(engine_state(cam->engine), key);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, field);
	return cJSON_IsString(v) ? v->valuestring : dflt;
}

/* The document's reply payload, from the camera's live state (so that
 * setDeviceAlias shows in discovery too). With spoof, the "ip" (and
 * "openapi_port") the spoof fault claims. malloc'd, or NULL. */
static char *summary_json(const struct camera *cam, int spoof, size_t *len)
{
	cJSON *o = cJSON_CreateObject();
	char *s = NULL;
	if (!o || !cJSON_AddNumberToObject(o, "error_code", 0))
		goto out;
	cJSON *r = cJSON_AddObjectToObject(o, "result");
	if (!r)
		goto out;
	cJSON_AddStringToObject(r, "device_name",
				state_string(cam, "deviceInfo", "alias", cam->alias[0] ? cam->alias : "VIGI sim"));
	cJSON_AddStringToObject(r, "device_type", "SMART.IPCAMERA");
	cJSON_AddStringToObject(r, "device_model", state_string(cam, "deviceInfo", "model", "VIGI sim"));
	cJSON_AddStringToObject(r, "ip", spoof ? cam->odp_spoof_ip : cam->ip);
	cJSON_AddStringToObject(r, "mac", cam->mac);
	cJSON_AddFalseToObject(r, "factory_default");
	cJSON_AddNumberToObject(r, "http_port", 443);
	if (spoof && cam->odp_spoof_port)
		cJSON_AddNumberToObject(r, "openapi_port", cam->odp_spoof_port);
	s = engine_print(o, len);
out:
	cJSON_Delete(o);
	return s;
}

static void addr_text(const struct sockaddr_storage *sa, socklen_t len, char *out, size_t outsz)
{
	char host[INET6_ADDRSTRLEN] = "?", port[8] = "?";
	getnameinfo((const struct sockaddr *)sa, len, host, sizeof host, port, sizeof port,
		    NI_NUMERICHOST | NI_NUMERICSERV);
	snprintf(out, outsz, "%s port %s", host, port);
}

static int send_one(struct odp_server *s, const struct in_addr *src, const unsigned char *pkt,
		    size_t len, const struct sockaddr_storage *to, socklen_t tolen)
{
	struct iovec iov = { .iov_base = (void *)pkt, .iov_len = len };
	struct msghdr msg;
	union {
		char buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
		struct cmsghdr align;
	} ctl;
	memset(&msg, 0, sizeof msg);
	msg.msg_name = (void *)to;
	msg.msg_namelen = tolen;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (src && src->s_addr) {
		struct in_pktinfo pi;
		memset(&ctl, 0, sizeof ctl);
		memset(&pi, 0, sizeof pi);
		pi.ipi_spec_dst = *src;
		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof ctl.buf;
		struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = IPPROTO_IP;
		cm->cmsg_type = IP_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof pi);
		memcpy(CMSG_DATA(cm), &pi, sizeof pi);
	}
	ssize_t r = sendmsg(s->fd, &msg, 0);
	if (r < 0 && msg.msg_control) {
		/* that source cannot reach this peer: let the system choose */
		msg.msg_control = NULL;
		msg.msg_controllen = 0;
		r = sendmsg(s->fd, &msg, 0);
	}
	return r == (ssize_t)len ? 0 : -1;
}

/* ---- the flood fault ---- */

static void flood_stop(struct odp_server *s)
{
	struct odp_flood *f = &s->flood;
	if (!f->on)
		return;
	cJSON_free(f->payload);
	free(f->pkt);
	memset(f, 0, sizeof *f);
	loop_io_set(s->lp, s->fd, POLLIN);
}

/* A flood in answer to request h from `to`: the camera's reply, with
 * another MAC in each datagram, sent by flood_step each time the socket
 * is writable until odp_flood_ms have passed. */
static void flood_start(struct odp_server *s, struct camera *cam, const struct in_addr *src,
			const struct odp_header *req, const struct sockaddr_storage *to,
			socklen_t tolen)
{
	struct odp_flood *f = &s->flood;
	size_t jlen = 0;
	char *json = summary_json(cam, 0, &jlen);
	const char *m = json ? strstr(json, "\"mac\":\"") : NULL;
	unsigned char *pkt = json ? malloc(ODP_HEADER_LEN + jlen) : NULL;
	if (!m || !pkt || jlen - (size_t)(m - json) < 7 + 12) {
		free(pkt);
		cJSON_free(json);
		return;
	}
	flood_stop(s);
	f->on = 1;
	f->cam = cam;
	f->gen = cam->odp_fault_gen;
	if (src && src->s_addr) {
		f->src = *src;
		f->has_src = 1;
	}
	memcpy(&f->to, to, tolen);
	f->tolen = tolen;
	f->until = loop_clock_ms() + cam->odp_flood_ms;
	f->h = (struct odp_header){
		.version = ODP_VERSION,
		.flags = (uint8_t)(ODP_FLAG_REPLY | (req->flags & (ODP_FLAG_UNICAST | ODP_FLAG_BROADCAST))),
		.result = ODP_RESULT_OK,
		.opcode = req->opcode,
		.serial = req->serial,
	};
	f->payload = json;
	f->plen = jlen;
	f->mac_off = (size_t)(m - json) + 7;
	f->pkt = pkt;
	loop_io_set(s->lp, s->fd, POLLIN | POLLOUT);
}

static void flood_step(struct odp_server *s)
{
	struct odp_flood *f = &s->flood;
	if (f->cam->odp_fault_gen != f->gen || loop_clock_ms() >= f->until) {
		sim_log("odp %s: flood over", f->cam->address);
		flood_stop(s);
		return;
	}
	for (int i = 0; i < ODP_FLOOD_BATCH; i++) {
		char mac[24];
		snprintf(mac, sizeof mac, "0E%010llX", flood_macs++ & 0xFFFFFFFFFFull);
		memcpy(f->payload + f->mac_off, mac, 12);
		struct odp_header h = f->h;
		size_t n = odp_build(f->pkt, ODP_HEADER_LEN + f->plen, &h, f->payload, f->plen);
		if (!n || send_one(s, f->has_src ? &f->src : NULL, f->pkt, n, &f->to, f->tolen) < 0)
			break; /* the socket's buffer is full: on at the next turn */
		f->cam->cnt.odp_replies++;
	}
}

/* The payload of a reply: the camera's summary, spoofed, padded to
 * ODP_OVERSIZED_PAYLOAD or encrypted as fault says. NULL when out of memory. */
static unsigned char *reply_payload(struct camera *cam, enum odp_fault_kind fault, size_t *plenp)
{
	size_t jlen = 0;
	char *json = summary_json(cam, fault == ODP_FAULT_SPOOF, &jlen);
	if (!json)
		return NULL;
	size_t plen = jlen;
	if (fault == ODP_FAULT_OVERSIZED && plen < ODP_OVERSIZED_PAYLOAD)
		plen = ODP_OVERSIZED_PAYLOAD;
	unsigned char *payload = malloc(plen);
	if (payload) {
		memcpy(payload, json, jlen);
		if (plen > jlen) {
			/* white space before the closing brace: the same object, longer */
			memset(payload + jlen - 1, ' ', plen - jlen);
			payload[plen - 1] = '}';
		}
		if (fault == ODP_FAULT_ENCRYPT && RAND_bytes(payload, (int)plen) != 1)
			memset(payload, 0xA5, plen);
	}
	cJSON_free(json);
	*plenp = plen;
	return payload;
}

/* The reply datagram to request h, as fault says; *n is its length (0 if
 * it could not be built). NULL when out of memory. */
static unsigned char *build_reply(struct camera *cam, const struct odp_header *h,
				  enum odp_fault_kind fault, size_t *n)
{
	size_t plen = 0;
	unsigned char *payload = reply_payload(cam, fault, &plen);
	unsigned char *out = payload ? malloc(ODP_HEADER_LEN + plen) : NULL;
	if (!out) {
		free(payload);
		return NULL;
	}
	struct odp_header r = {
		.version = ODP_VERSION,
		.flags = (uint8_t)(ODP_FLAG_REPLY | (h->flags & (ODP_FLAG_UNICAST | ODP_FLAG_BROADCAST))),
		.result = ODP_RESULT_OK,
		.opcode = h->opcode,
		.serial = h->serial,
	};
	if (fault == ODP_FAULT_ENCRYPT)
		r.flags |= ODP_FLAG_ENCRYPT;
	if (fault == ODP_FAULT_FOREIGN_SERIAL)
		r.serial = h->serial + 1;
	*n = odp_build(out, ODP_HEADER_LEN + plen, &r, payload, plen);
	free(payload);
	if (fault == ODP_FAULT_BAD_CRC || fault == ODP_FAULT_BARE_MAGIC) {
		uint32_t sum = ODP_MAGIC;
		if (fault == ODP_FAULT_BAD_CRC) {
			sum = r.checksum ^ 0xA5A5A5A5u;
			if (sum == ODP_MAGIC)
				sum ^= 1;
		}
		r.checksum = sum;
		odp_header_write(out, &r);
	}
	return out;
}

/* One camera's answer to one datagram. */
static void handle(struct odp_server *s, struct camera *cam, const struct in_addr *src,
		   const unsigned char *pkt, size_t len,
		   const struct sockaddr_storage *from, socklen_t fromlen)
{
	char peer[80] = "";
	struct odp_header h;
	memset(&h, 0, sizeof h);
	enum odp_check c = odp_check_request(pkt, len, &h);
	if (sim_verbose)
		addr_text(from, fromlen, peer, sizeof peer);
	if (c != ODP_OK) {
		cam->cnt.odp_ignored++;
		sim_log("odp %s: ignored %zu bytes from %s: %s", cam->address, len, peer,
			odp_check_name(c));
		return;
	}
	cam->cnt.odp_requests++;
	enum odp_fault_kind fault = camera_odp_fault_take(cam);
	if (fault != ODP_FAULT_NONE)
		sim_log("odp %s: fault %s", cam->address, odp_fault_name(fault));
	if (fault == ODP_FAULT_SILENT)
		return;
	if (fault == ODP_FAULT_FLOOD) {
		flood_start(s, cam, src, &h, from, fromlen);
		return;
	}
	size_t n = 0;
	unsigned char *out = build_reply(cam, &h, fault, &n);
	int times = fault == ODP_FAULT_DUPLICATE ? 2 : 1;
	for (int i = 0; out && i < times && n; i++) {
		if (send_one(s, src, out, n, from, fromlen) == 0)
			cam->cnt.odp_replies++;
		else
			sim_log("odp %s: reply to %s not sent: %s", cam->address, peer, strerror(errno));
	}
	free(out);
}

/* ---- the socket ---- */

static void on_io(void *arg, int fd, unsigned revents)
{
	struct odp_server *s = arg;
	unsigned char buf[65536];
	if (s->flood.on && (revents & POLLOUT))
		flood_step(s);
	if (!(revents & ~(unsigned)POLLOUT))
		return;
	for (int round = 0; round < ODP_BATCH; round++) {
		struct sockaddr_storage from;
		union {
			char buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf };
		struct msghdr msg;
		memset(&msg, 0, sizeof msg);
		msg.msg_name = &from;
		msg.msg_namelen = sizeof from;
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		if (s->pktinfo) {
			msg.msg_control = ctl.buf;
			msg.msg_controllen = sizeof ctl.buf;
		}
		ssize_t r = recvmsg(fd, &msg, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return; /* EAGAIN, or an error the next datagram will not have */
		}
		/* Who was it sent to? Only the wildcard socket needs to know. */
		size_t first = 0, end = s->ncams;
		if (s->pktinfo && s->ncams > 1) {
			struct cmsghdr *cm;
			for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
				if (cm->cmsg_level != IPPROTO_IP || cm->cmsg_type != IP_PKTINFO)
					continue;
				struct in_pktinfo pi;
				memcpy(&pi, CMSG_DATA(cm), sizeof pi);
				for (size_t i = 0; i < s->ncams; i++)
					if (s->src[i].s_addr && s->src[i].s_addr == pi.ipi_addr.s_addr) {
						first = i;
						end = i + 1;
						break;
					}
			}
		}
		for (size_t i = first; i < end; i++)
			handle(s, s->cams[i], s->pktinfo ? &s->src[i] : NULL, buf, (size_t)r,
			       &from, msg.msg_namelen);
	}
}

/* The address to bind: address and port, or with any the wildcard of its
 * family. -1 with a message in err. */
static int bind_address(const char *address, int port, int any, struct sockaddr_storage *sa,
			socklen_t *salen, int *family, char *err, size_t errsz)
{
	struct addrinfo hints, *res = NULL;
	char portstr[16];
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(portstr, sizeof portstr, "%d", port);
	int gai = getaddrinfo(address, portstr, &hints, &res);
	if (gai != 0) {
		snprintf(err, errsz, "bad address %s: %s", address, gai_strerror(gai));
		errno = EINVAL;
		return -1;
	}
	*salen = (socklen_t)res->ai_addrlen;
	*family = res->ai_family;
	memcpy(sa, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	if (any && *family == AF_INET)
		((struct sockaddr_in *)sa)->sin_addr.s_addr = htonl(INADDR_ANY);
	else if (any && *family == AF_INET6)
		((struct sockaddr_in6 *)sa)->sin6_addr = in6addr_any;
	return 0;
}

/* The wildcard socket learns each datagram's destination (IP_PKTINFO)
 * and keeps each camera's address to match it. -1 when out of memory. */
static int pktinfo_init(struct odp_server *s, struct camera **cams, size_t ncams)
{
	int one = 1;
	setsockopt(s->fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
	s->src = calloc(ncams, sizeof *s->src);
	if (!s->src)
		return -1;
	for (size_t i = 0; i < ncams; i++)
		if (inet_pton(AF_INET, cams[i]->ip, &s->src[i]) != 1)
			s->src[i].s_addr = 0;
	return 0;
}

struct odp_server *odp_listen(struct loop *lp, const char *address, int port, int any,
			      struct camera **cams, size_t ncams, char *err, size_t errsz)
{
	struct sockaddr_storage sa;
	socklen_t salen;
	int family;
	if (bind_address(address, port, any, &sa, &salen, &family, err, errsz) < 0)
		return NULL;
	struct odp_server *s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(err, errsz, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	s->lp = lp;
	s->cams = cams;
	s->ncams = ncams;
	s->pktinfo = any && family == AF_INET;
	s->fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		int e = errno;
		snprintf(err, errsz, "socket: %s", strerror(e));
		free(s);
		errno = e;
		return NULL;
	}
	if (s->pktinfo && pktinfo_init(s, cams, ncams) < 0) {
		snprintf(err, errsz, "out of memory");
		close(s->fd);
		free(s);
		errno = ENOMEM;
		return NULL;
	}
	if (bind(s->fd, (struct sockaddr *)&sa, salen) < 0) {
		int e = errno;
		snprintf(err, errsz, "cannot bind discovery (UDP) on %s port %d: %s",
			 any ? (family == AF_INET6 ? "::" : "0.0.0.0") : address, port, strerror(e));
		odp_server_free(s);
		errno = e;
		return NULL;
	}
	s->port = port;
	socklen_t sl = sizeof sa;
	if (getsockname(s->fd, (struct sockaddr *)&sa, &sl) == 0)
		s->port = ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port
							 : ((struct sockaddr_in *)&sa)->sin_port);
	if (loop_io_add(lp, s->fd, POLLIN, on_io, s) < 0) {
		snprintf(err, errsz, "out of memory");
		odp_server_free(s);
		errno = ENOMEM;
		return NULL;
	}
	return s;
}

int odp_server_port(const struct odp_server *s)
{
	return s->port;
}

void odp_server_free(struct odp_server *s)
{
	if (!s)
		return;
	if (s->fd >= 0) {
		flood_stop(s);
		loop_io_del(s->lp, s->fd);
		close(s->fd);
	}
	free(s->src);
	free(s);
}
