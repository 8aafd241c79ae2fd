/* subscribeMsg streams: see push.h. */
#include "push.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_rules.h"
#include "log.h"

struct push_sub {
	struct camera *cam;
	struct http_conn *conn;
	struct push_sub *prev, *next;
	struct loop_timer beat;
	int heartbeat;          /* seconds */
	cJSON *event_types;     /* as subscribed, for the events to come */
};

static const char *const event_types[] = {
	"all", "MotionDetection", "TamperDetection", "CrossLineDetection",
	"InvasionDetection", "AreaEntryDetection", "AreaLeaveDetection",
	"PeopleDetection", "VehicleDetection", "DropAndTakeDetection",
	"LoiterDetection", "SceneChangeDetection", "AudioAnomalyDetection", NULL
};

static void write_part(struct http_conn *c, const char *json)
{
	char head[128];
	size_t n = strlen(json);
	int h = snprintf(head, sizeof head,
			 "--" PUSH_BOUNDARY "\r\n"
			 "Content-Type: application/json\r\n"
			 "Content-Length: %zu\r\n\r\n", n);
	/* One buffer, so the part goes out in one TLS record. */
	char *buf = malloc((size_t)h + n + 2);
	if (!buf)
		return;
	memcpy(buf, head, (size_t)h);
	memcpy(buf + h, json, n);
	memcpy(buf + h + n, "\r\n", 2);
	http_write(c, buf, (size_t)h + n + 2);
	free(buf);
}

static void sub_free(struct push_sub *s)
{
	struct camera *cam = s->cam;
	loop_timer_stop(cam->lp, &s->beat);
	if (s->prev)
		s->prev->next = s->next;
	else
		cam->subs = s->next;
	if (s->next)
		s->next->prev = s->prev;
	cJSON_Delete(s->event_types);
	free(s);
}

static void on_gone(void *arg)
{
	struct push_sub *s = arg;
	sim_log("subscribeMsg: subscriber on conn %lu gone", http_conn_id(s->conn));
	sub_free(s);
}

static void on_beat(void *arg)
{
	struct push_sub *s = arg;
	char json[64];
	snprintf(json, sizeof json, "{\"Heartbeat\":\"%d\"}", s->heartbeat);
	loop_timer_start(s->cam->lp, &s->beat, (uint64_t)s->heartbeat * 1000u);
	write_part(s->conn, json);
}

static int check(const cJSON *params, int *heartbeat, char *msg, size_t msgsz)
{
	if (!cJSON_IsObject(params)) {
		snprintf(msg, msgsz, "missing parameter 'event_type'");
		return -1;
	}
	const cJSON *et = cJSON_GetObjectItemCaseSensitive(params, "event_type");
	const cJSON *hb = cJSON_GetObjectItemCaseSensitive(params, "heartbeat");
	if (!et) {
		snprintf(msg, msgsz, "missing parameter 'event_type'");
		return -1;
	}
	if (!cJSON_IsArray(et) || cJSON_GetArraySize(et) == 0) {
		snprintf(msg, msgsz, "invalid parameter 'event_type': must be a non-empty array of strings");
		return -1;
	}
	const cJSON *e;
	cJSON_ArrayForEach(e, params) {
		if (strcmp(e->string, "event_type") != 0 && strcmp(e->string, "heartbeat") != 0) {
			snprintf(msg, msgsz, "unknown parameter '%s'", e->string);
			return -1;
		}
	}
	cJSON_ArrayForEach(e, et) {
		int ok = 0;
		for (int i = 0; cJSON_IsString(e) && event_types[i]; i++)
			if (strcmp(e->valuestring, event_types[i]) == 0)
				ok = 1;
		if (!ok) {
			snprintf(msg, msgsz, "invalid parameter 'event_type': unknown event type");
			return -1;
		}
	}
	*heartbeat = PUSH_HEARTBEAT_DEFAULT;
	if (hb) {
		double d;
		if (rules_number(hb, &d) < 0 || d != (int)d || d < 1 || d > 60) {
			snprintf(msg, msgsz, "invalid parameter 'heartbeat': must be an integer between 1 and 60");
			return -1;
		}
		*heartbeat = (int)d;
	}
	return 0;
}

static void refuse(struct http_conn *c, const char *echo, const char *msg, enum http_after after)
{
	cJSON *a = cJSON_CreateObject();
	size_t len = 0;
	char *body = NULL;
	if (a) {
		cJSON_AddStringToObject(a, "method", echo);
		cJSON_AddStringToObject(a, "result", "failed");
		cJSON_AddNumberToObject(a, "errCode", SIM_E_INVALID_PARAMS);
		cJSON_AddStringToObject(a, "msg", msg);
		body = engine_print(a, &len);
		cJSON_Delete(a);
	}
	if (body)
		http_respond(c, 200, "application/json", body, len, after);
	else
		http_respond(c, 500, "application/json", "{}", 2, HTTP_CLOSE);
	cJSON_free(body);
}

void push_subscribe(struct camera *cam, struct http_conn *c, const struct method *m,
		    const char *echo, const cJSON *params, enum http_after after)
{
	char msg[512];
	int heartbeat = PUSH_HEARTBEAT_DEFAULT;
	if ((m && m->params && engine_check_params(cam->engine, m, params, msg, sizeof msg) < 0) ||
	    check(params, &heartbeat, msg, sizeof msg) < 0) {
		refuse(c, echo, msg, after);
		return;
	}
	struct push_sub *s = calloc(1, sizeof *s);
	if (!s) {
		http_respond(c, 500, "application/json", "{}", 2, HTTP_CLOSE);
		return;
	}
	s->cam = cam;
	s->conn = c;
	s->heartbeat = heartbeat;
	s->event_types = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(params, "event_type"), 1);
	loop_timer_init(&s->beat, on_beat, s);
	s->next = cam->subs;
	if (cam->subs)
		cam->subs->prev = s;
	cam->subs = s;

	static const char head[] =
		"HTTP/1.1 200 OK\r\n"
		"Cache-Control: no-cache\r\n"
		"Content-Type: multipart/mixed;boundary=" PUSH_BOUNDARY "\r\n"
		"\r\n";
	http_hold(c, on_gone, s);
	http_write(c, head, sizeof head - 1);
	write_part(c, "{\"result\":\"success\",\"errCode\":0}");
	loop_timer_start(cam->lp, &s->beat, (uint64_t)heartbeat * 1000u);
	sim_log("subscribeMsg: conn %lu subscribed, heartbeat %d s", http_conn_id(c), heartbeat);
}

void push_broadcast(struct camera *cam, const char *json)
{
	struct push_sub *s = cam->subs;
	while (s) {
		struct push_sub *next = s->next;
		write_part(s->conn, json);
		s = next;
	}
}

size_t push_count(const struct camera *cam)
{
	size_t n = 0;
	for (const struct push_sub *s = cam->subs; s; s = s->next)
		n++;
	return n;
}
