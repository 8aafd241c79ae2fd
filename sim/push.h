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
	PUSH_FAULT_REFUSE       /* answer the next subscribeMsg {"result":"failed"} */
};

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

#endif
