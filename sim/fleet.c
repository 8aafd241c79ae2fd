/* The cameras of one process and their listeners: see fleet.h. */
#define _GNU_SOURCE
#include "fleet.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "log.h"

/* Tries of a free port (port 0) that turns out to be taken on another address. */
#define PORT_TRIES 8

/* The numeric form of address (its first resolution), for discovery's "ip". */
static void numeric_ip(const char *address, char *out, size_t outsz)
{
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	if (getaddrinfo(address, NULL, &hints, &res) != 0)
		return;
	char host[INET6_ADDRSTRLEN];
	if (getnameinfo(res->ai_addr, res->ai_addrlen, host, sizeof host, NULL, 0,
			NI_NUMERICHOST) == 0)
		snprintf(out, outsz, "%s", host);
	freeaddrinfo(res);
}

static void fleet_mac(size_t number, char out[13])
{
	snprintf(out, 13, "02564947%02X%02X", (unsigned)(number >> 8) & 0xffu,
		 (unsigned)number & 0xffu);
}

/* The single camera's MAC: its state's deviceInfo.mac without separators,
 * in uppercase; a made-up one if that is not 12 hex digits. */
static void state_mac(const struct camera *cam, char out[13])
{
	const cJSON *info = cJSON_GetObjectItemCaseSensitive(engine_state(cam->engine), "deviceInfo");
	const cJSON *mac = cJSON_GetObjectItemCaseSensitive(info, "mac");
	size_t n = 0;
	if (cJSON_IsString(mac)) {
		for (const char *p = mac->valuestring; *p; p++) {
			if (isxdigit((unsigned char)*p)) {
				if (n == 12) {
					n = 13;
					break;
				}
				out[n++] = (char)toupper((unsigned char)*p);
			} else if (!strchr(":-. ", *p)) {
				n = 13;
				break;
			}
		}
	}
	if (n == 12)
		out[12] = '\0';
	else
		fleet_mac(1, out);
}

int fleet_init(struct fleet *f, struct loop *lp, struct engine *proto,
	       const struct fleet_options *o, char *err, size_t errsz)
{
	memset(f, 0, sizeof *f);
	f->lp = lp;
	f->proto = proto;
	f->is_fleet = o->n > 0;
	f->n = f->is_fleet ? (size_t)o->n : 1;
	f->control_port = o->control_port;
	f->odp_port = o->odp_port;

	uint32_t next = 0;
	if (f->is_fleet) {
		const char *base = o->base ? o->base : FLEET_DEFAULT_BASE;
		struct in_addr a;
		if (inet_pton(AF_INET, base, &a) != 1) {
			snprintf(err, errsz, "--fleet-base must be an IPv4 address: %s", base);
			return -1;
		}
		next = ntohl(a.s_addr);
	}
	f->cams = calloc(f->n, sizeof *f->cams);
	f->ctl = calloc(f->n, sizeof *f->ctl);
	f->odp = calloc(f->n, sizeof *f->odp);
	if (!f->cams || !f->ctl || !f->odp)
		goto oom;
	for (size_t i = 0; i < f->n; i++) {
		char address[INET_ADDRSTRLEN];
		if (f->is_fleet) {
			while ((next & 0xffu) == 0 || (next & 0xffu) == 255)
				next++;
			if (next == 0) {
				snprintf(err, errsz, "--fleet %d does not fit after %s", o->n,
					 o->base ? o->base : FLEET_DEFAULT_BASE);
				return -1;
			}
			struct in_addr a = { .s_addr = htonl(next) };
			inet_ntop(AF_INET, &a, address, sizeof address);
			next++;
		}
		struct camera *cam = calloc(1, sizeof *cam);
		struct engine *e = engine_clone(proto);
		if (!cam || !e) {
			engine_free(e);
			free(cam);
			goto oom;
		}
		if (camera_init(cam, lp, f->is_fleet ? address : o->address, o->cfg, e) < 0) {
			camera_free(cam);       /* frees e too */
			free(cam);
			goto oom;
		}
		f->cams[i] = cam;
		cam->fleet = f->cams;
		cam->nfleet = f->n;
		if (f->is_fleet) {
			char alias[32], mac[13];
			snprintf(alias, sizeof alias, "VIGI sim %zu", i + 1);
			fleet_mac(i + 1, mac);
			camera_set_identity(cam, alias, mac);
		} else {
			numeric_ip(o->address, cam->ip, sizeof cam->ip);
			state_mac(cam, cam->mac);
		}
	}
	return 0;
oom:
	snprintf(err, errsz, "out of memory");
	return -1;
}

size_t fleet_fds(const struct fleet_options *o)
{
	size_t n = o->n > 0 ? (size_t)o->n : 1;
	return n + (o->odp_any ? 1 : n);
}

static void close_listeners(struct fleet *f)
{
	for (size_t i = 0; i < f->n; i++) {
		http_server_free(f->ctl[i]);
		f->ctl[i] = NULL;
	}
	for (size_t i = 0; i < f->nodp; i++) {
		odp_server_free(f->odp[i]);
		f->odp[i] = NULL;
	}
	f->nodp = 0;
}

/* Every control listener on port (0: the first one picks). Returns 0, or
 * -1 with errno and err; *again says that a picked port was taken on a
 * later address (worth another try). */
static int listen_control(struct fleet *f, SSL_CTX *ctx, int port, int *again,
			  char *err, size_t errsz)
{
	for (size_t i = 0; i < f->n; i++) {
		struct camera *cam = f->cams[i];
		f->ctl[i] = http_listen(f->lp, cam->address, port, ctx, &control_hooks, cam, err, errsz);
		if (!f->ctl[i]) {
			*again = i > 0 && errno == EADDRINUSE;
			return -1;
		}
		port = http_server_port(f->ctl[i]);
	}
	f->control_port = port;
	return 0;
}

static int listen_odp(struct fleet *f, int port, int any, int *again, char *err, size_t errsz)
{
	size_t n = any ? 1 : f->n;
	for (size_t i = 0; i < n; i++) {
		struct camera **cams = any ? f->cams : &f->cams[i];
		f->odp[i] = odp_listen(f->lp, cams[0]->address, port, any, cams, any ? f->n : 1,
				       err, errsz);
		if (!f->odp[i]) {
			*again = i > 0 && errno == EADDRINUSE;
			return -1;
		}
		f->nodp = i + 1;
		port = odp_server_port(f->odp[i]);
	}
	f->odp_port = port;
	return 0;
}

int fleet_listen(struct fleet *f, SSL_CTX *ctx, const struct fleet_options *o,
		 char *err, size_t errsz)
{
	int odp_port = o->odp_port;
	for (int try = 1;; try++) {
		int again = 0;
		if (listen_control(f, ctx, o->control_port, &again, err, errsz) < 0) {
			if (again && o->control_port == 0 && try < PORT_TRIES) {
				close_listeners(f);
				continue;
			}
			break;
		}
		if (listen_odp(f, odp_port, o->odp_any, &again, err, errsz) < 0) {
			if (errno == EADDRINUSE && !o->odp_port_given && odp_port != 0) {
				/* The default discovery port is taken (another sim?): a
				 * free one keeps the control plane usable; the ready
				 * line tells which. */
				sim_log("discovery port %d taken, using a free one", odp_port);
				odp_port = 0;
				close_listeners(f);
				continue;
			}
			if (again && odp_port == 0 && try < PORT_TRIES) {
				close_listeners(f);
				continue;
			}
			break;
		}
		return 0;
	}
	if (f->is_fleet && f->n > 1 && errno == EADDRINUSE) {
		size_t len = strlen(err);
		snprintf(err + len, errsz - len,
			 " (every camera of the fleet listens on the same ports, each on its own address)");
	}
	close_listeners(f);
	return -1;
}

void fleet_free(struct fleet *f)
{
	if (f->ctl)
		close_listeners(f);
	for (size_t i = 0; f->cams && i < f->n; i++) {
		if (!f->cams[i])
			continue;
		camera_free(f->cams[i]);
		free(f->cams[i]);
	}
	free(f->cams);
	free(f->ctl);
	free(f->odp);
	engine_free(f->proto);
	memset(f, 0, sizeof *f);
}
