/* The cameras of one vigi-sim process and their listeners: one camera on
 * --address, or a fleet of N (--fleet N) on consecutive IPv4 addresses
 * from --fleet-base (default 127.0.1.1), skipping the .0 and .255 of each
 * /24. Every camera has its own state, counters, tokens and faults; a
 * fleet camera also gets its own MAC (02:56:49:47 + its 16-bit number) and
 * alias ("VIGI sim <number>"). All listen on the same control port and
 * the same discovery port, each on its own address (or, with odp_any, one
 * wildcard discovery socket serves them all), and share one TLS context. */
#ifndef SIM_FLEET_H
#define SIM_FLEET_H

#include <stddef.h>
#include <openssl/ssl.h>

#include "camera.h"
#include "engine.h"
#include "httpd.h"
#include "loop.h"
#include "odp.h"

#define FLEET_MAX           4096
#define FLEET_DEFAULT_BASE  "127.0.1.1"

struct fleet_options {
	const char *address;        /* the single camera's address */
	const char *base;           /* a fleet's first address; NULL = FLEET_DEFAULT_BASE */
	int n;                      /* 0 = one camera on address; 1..FLEET_MAX = a fleet */
	int control_port;           /* 0 = a free port (the same one on every address) */
	int odp_port;               /* 0 = a free port (likewise) */
	int odp_port_given;         /* if not, a taken default port falls back to a free one */
	int odp_any;                /* discovery on the wildcard address */
	const struct camera_config *cfg;
};

struct fleet {
	struct loop *lp;
	struct engine *proto;       /* camera.json as parsed; every camera has a clone */
	struct camera **cams;
	size_t n;
	int is_fleet;
	struct http_server **ctl;   /* one per camera */
	struct odp_server **odp;    /* one per camera, or one wildcard socket */
	size_t nodp;
	int control_port, odp_port; /* as bound */
};

/* Make the cameras (no sockets yet). The fleet owns proto from now on,
 * even when this fails. Returns 0, or -1 with a message in err. */
int fleet_init(struct fleet *f, struct loop *lp, struct engine *proto,
	       const struct fleet_options *o, char *err, size_t errsz);

/* Open every camera's control listener and discovery socket. With a port
 * of 0, the port picked on the first address is used on all of them (tried
 * again with another one if it is taken elsewhere). Returns 0, or -1 with a
 * message in err. */
int fleet_listen(struct fleet *f, SSL_CTX *ctx, const struct fleet_options *o,
		 char *err, size_t errsz);

/* Open files the listeners take (the clients' connections come on top). */
size_t fleet_fds(const struct fleet_options *o);

/* Close every listener and connection, free the cameras. Safe on a fleet
 * that fleet_init() failed on (after memset 0). */
void fleet_free(struct fleet *f);

#endif
