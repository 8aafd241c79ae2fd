/* subscribeMsg: the long-lived multipart/mixed answer that carries
 * heartbeats and events to a subscriber until it closes.
 *
 * Wire form (WIRE-NOTES §2): headers with
 * "Content-Type: multipart/mixed;boundary=--boundary--" and no
 * Content-Length, then parts
 *   "----boundary--\r\nContent-Type: application/json\r\n"
 *   "Content-Length: N\r\n\r\n<json>\r\n"
 * the first being {"result":"success","errCode":0}, then
 * {"Heartbeat":"<n>"} every n seconds and {"event_type":..,"time":N}
 * for each event injected through the admin path (push_event). Unsent
 * parts queue on the connection; past PUSH_QUEUE_MAX the subscription is
 * dropped. */
#ifndef SIM_PUSH_H
#define SIM_PUSH_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "camera.h"
#include "httpd.h"

#define PUSH_BOUNDARY        "--boundary--"
#define PUSH_HEARTBEAT_DEFAULT 30
#define PUSH_QUEUE_MAX       (4u * 1024u * 1024u)   /* unsent bytes per subscription */
#define PUSH_EVENT_TYPE_MAX  64                     /* event_type names, NUL included */
#define PUSH_GARBAGE_LEN     200
#define PUSH_OVERSIZED_CLAIM 10000000u              /* Content-Length announced */
#define PUSH_OVERSIZED_SENT  (1024u * 1024u)        /* bytes of it sent */

/* Faults on the live subscriptions (push_fault). */
enum push_fault_kind {
	PUSH_FAULT_NONE,        /* end "silence" */
	PUSH_FAULT_SILENCE,     /* send nothing more, keep the connection */
	PUSH_FAULT_DROP,        /* close the connection now */
	PUSH_FAULT_GARBAGE,     /* PUSH_GARBAGE_LEN alphanumeric bytes + CRLF, then go on */
	PUSH_FAULT_OVERSIZED,   /* a part claiming 10 MB, 1 MiB of it, then close */
	PUSH_FAULT_REFUSE,      /* answer the next subscribeMsg {"result":"failed"} */
	PUSH_FAULT_TRICKLE,     /* CR, LF, CR, ... a byte every PUSH_TRICKLE_MS instead of
				   parts, on live subscriptions and on new ones (after the
				   head, no answer part) until "none" */
	PUSH_FAULT_BAD_BOUNDARY /* the next subscribeMsg's head announces a boundary of
				   PUSH_BAD_BOUNDARY_LEN bytes, longer than RFC 2046 allows;
				   its parts follow with the usual one */
};
#define PUSH_BAD_BOUNDARY_LEN 100
#define PUSH_TRICKLE_MS      100u

/* What one push_event() did. */
struct push_result {
	size_t subscriptions;   /* subscriptions the type matched */
	unsigned long long sent, filtered, silenced, overflowed;
	unsigned long long first_seq;   /* 0 without seq */
};

/* Start a subscription on c, or answer why not. m is camera.json's entry
 * for the method (may be NULL); its "params" rules apply first. The answer
 * is written on c either way; after says how a refusal ends. */
void push_subscribe(struct camera *cam, struct http_conn *c, const struct method *m,
		    const char *echo, const cJSON *params, enum http_after after);

/* Send one JSON part to every subscriber. */
void push_broadcast(struct camera *cam, const char *json);

/* 1 if type is a valid event_type name for push_event(): 1..63 bytes of
 * [A-Za-z0-9_]. */
int push_event_type_ok(const char *type);

/* count events of type at time t (seconds), each with the next per-camera
 * "seq" if seq. Pushed to every subscription listing the type, its base
 * ("X" of "X_y_enhance") or "all", unless the camera's event_interval
 * (state msgPushInterval) filters it for that subscription and type. */
void push_event(struct camera *cam, const char *type, long long t, long count, int seq,
		struct push_result *r);

/* Apply a fault to every live subscription; returns how many. */
size_t push_fault(struct camera *cam, enum push_fault_kind kind);
int push_fault_parse(const char *name, enum push_fault_kind *kind);

/* Number of live subscriptions. */
size_t push_count(const struct camera *cam);

/* The event generator (POST /__sim__/event_rate): one per process, for
 * every camera of it. It emits through push_event() (with "seq", the time
 * now), per_camera events a second on each camera, spread evenly: event j
 * of the whole fleet (j = 0, 1, ...) goes to camera j mod n at
 * j / (n * per_camera) seconds after the start, so a camera's events are
 * 1/per_camera apart and the cameras are staggered across that interval.
 * One loop timer drives it, in steps of PUSH_RATE_TICK_MS at the finest
 * (at 1000 events/s: 10 events every 10 ms, each to another camera); if
 * the loop falls more than a second behind, the older events due are
 * skipped (counted).
 * seconds > 0 stops it after the events due in that many seconds. */
#define PUSH_RATE_MAX        10000.0                /* per_camera */
#define PUSH_RATE_TOTAL_MAX  1000000.0              /* per_camera * cameras */
#define PUSH_RATE_SECONDS_MAX 86400.0
#define PUSH_RATE_TICK_MS    10u

struct push_rate_info {
	double per_camera;      /* as set; 0 = off */
	char event_type[PUSH_EVENT_TYPE_MAX];
	double seconds;         /* 0 = until changed */
	size_t cameras;
	int running;            /* 0 once off or its seconds are over */
	double since;           /* Unix time it was set; 0 = never */
	double elapsed;         /* seconds since then (to its end if it ended) */
	unsigned long long emitted;     /* events generated since set */
	unsigned long long sent, filtered, silenced, overflowed;   /* summed push_result */
	unsigned long long skipped;     /* due but dropped: the loop was > 1 s behind */
};

/* Set the generator for cams[0..n-1] (a fleet: every camera of the
 * process; the list is copied); per_camera 0 turns it off. The counts
 * start again from 0. Returns 0, or -1 (out of memory: left off). */
int push_rate_set(struct loop *lp, struct camera **cams, size_t n, double per_camera,
		   const char *type, double seconds);
void push_rate_get(struct push_rate_info *info);
/* Off, and counts back to 0 (/__sim__/reset). */
void push_rate_stop(void);

#endif
