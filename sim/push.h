/* subscribeMsg: the long-lived multipart/mixed answer that carries
 * heartbeats (and, later, events) to a subscriber until it closes.
 *
 * Wire form (WIRE-NOTES §2): headers with
 * "Content-Type: multipart/mixed;boundary=--boundary--" and no
 * Content-Length, then parts
 *   "----boundary--\r\nContent-Type: application/json\r\n"
 *   "Content-Length: N\r\n\r\n<json>\r\n"
 * the first being {"result":"success","errCode":0}, then
 * {"Heartbeat":"<n>"} every n seconds. */
#ifndef SIM_PUSH_H
#define SIM_PUSH_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "camera.h"
#include "httpd.h"

#define PUSH_BOUNDARY        "--boundary--"
#define PUSH_HEARTBEAT_DEFAULT 30

/* Start a subscription on c, or answer why not. m is camera.json's entry
 * for the method (may be NULL); its "params" rules apply first. The answer
 * is written on c either way; after says how a refusal ends. */
void push_subscribe(struct camera *cam, struct http_conn *c, const struct method *m,
		    const char *echo, const cJSON *params, enum http_after after);

/* Send one JSON part to every subscriber (for events, later). */
void push_broadcast(struct camera *cam, const char *json);

/* Number of live subscriptions. */
size_t push_count(const struct camera *cam);

#endif
