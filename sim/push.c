/* subscribeMsg streams: see push.h. */
#include "push.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dialect.h"
#include "json_rules.h"
#include "log.h"

/* When an event type was last pushed to a subscription. */
struct push_last {
	char type[PUSH_EVENT_TYPE_MAX];
	long long t;
};

struct push_sub {
	struct camera *cam;
	struct http_conn *conn;
	struct push_sub *prev, *next;
	struct loop_timer beat;
	int heartbeat;          /* seconds */
	int silent;             /* the "silence" fault: send nothing */
	int trickle;            /* the "trickle" fault: a byte per tick, never a part */
	unsigned long trickled; /* bytes of it sent */
	cJSON *event_types;     /* as subscribed */
	struct push_last *last; /* per base event type, for event_interval */
	size_t nlast, caplast;
};

static const char *const event_types[] = {
	"all", "MotionDetection", "TamperDetection", "CrossLineDetection",
	"InvasionDetection", "AreaEntryDetection", "AreaLeaveDetection",
	"PeopleDetection", "VehicleDetection", "DropAndTakeDetection",
	"LoiterDetection", "SceneChangeDetection", "AudioAnomalyDetection", NULL
};

#define PART_HEAD_FMT "--" PUSH_BOUNDARY "\r\n" \
			"Content-Type: application/json\r\n" \
			"Content-Length: %zu\r\n\r\n"

static void write_part(struct http_conn *c, const struct camera *cam, const char *json)
{
	char head[128];
	size_t n = strlen(json);
	char *commas = NULL;
	if (cam->cfg.trailing_commas) {
		commas = dialect_trailing_commas(json, n, &n);
		if (!commas)
			return;
		json = commas;
	}
	int h = snprintf(head, sizeof head, PART_HEAD_FMT, n);
	/* One buffer, so the part goes out in one TLS record. */
	char *buf = malloc((size_t)h + n + 2);
	if (buf) {
		memcpy(buf, head, (size_t)h);
		memcpy(buf + h, json, n);
		memcpy(buf + h + n, "\r\n", 2);
		http_write(c, buf, (size_t)h + n + 2);
		free(buf);
	}
	cJSON_free(commas);
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
	cam->nsubs--;
	cJSON_Delete(s->event_types);
	free(s->last);
	free(s);
}

/* Close the subscription's connection now (no close_notify) and forget it. */
static void sub_drop(struct push_sub *s)
{
	http_abort(s->conn);
	sub_free(s);
}

/* Queue one part on s. 0 sent, 1 held back (silence), -1 the queue would
 * pass PUSH_QUEUE_MAX: s is dropped (and freed). */
static int sub_send(struct push_sub *s, const char *json)
{
	if (s->silent)
		return 1;
	if (http_unsent(s->conn) + strlen(json) + 128 > PUSH_QUEUE_MAX) {
		sim_log("subscribeMsg: conn %lu has %zu bytes unsent, dropping it",
			http_conn_id(s->conn), http_unsent(s->conn));
		s->cam->cnt.push_overflows++;
		sub_drop(s);
		return -1;
	}
	write_part(s->conn, s->cam, json);
	return 0;
}

static void on_gone(void *arg)
{
	struct push_sub *s = arg;
	sim_log("subscribeMsg: subscriber on conn %lu gone", http_conn_id(s->conn));
	sub_free(s);
}

/* The "trickle" fault: a byte every tick, CR and LF in turn: blank lines,
 * which a multipart reader skips (between parts, or as a preamble before
 * the first), so that bytes keep flowing while no part ever comes. */
static void trickle(struct push_sub *s)
{
	http_write(s->conn, s->trickled++ % 2 ? "\n" : "\r", 1);
	loop_timer_start(s->cam->lp, &s->beat, PUSH_TRICKLE_MS);
}

static void on_beat(void *arg)
{
	struct push_sub *s = arg;
	char json[64];
	if (s->trickle) {
		trickle(s);
		return;
	}
	snprintf(json, sizeof json, "{\"Heartbeat\":\"%d\"}", s->heartbeat);
	loop_timer_start(s->cam->lp, &s->beat, (uint64_t)s->heartbeat * 1000u);
	struct camera *cam = s->cam;
	if (sub_send(s, json) == 0)
		cam->cnt.push_heartbeats++;
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

static void refuse(const struct camera *cam, struct http_conn *c, const char *echo,
		   const char *msg, enum http_after after)
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
	if (body && cam->cfg.trailing_commas) {
		char *commas = dialect_trailing_commas(body, len, &len);
		cJSON_free(body);
		body = commas;
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
	if (cam->push_refuse) {
		cam->push_refuse = 0;
		refuse(cam, c, echo, "subscription refused (push fault)", after);
		return;
	}
	if ((m && m->params && engine_check_params(cam->engine, m, params, msg, sizeof msg) < 0) ||
	    check(params, &heartbeat, msg, sizeof msg) < 0) {
		refuse(cam, c, echo, msg, after);
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
	cam->nsubs++;

	static const char head[] =
		"HTTP/1.1 200 OK\r\n"
		"Cache-Control: no-cache\r\n"
		"Content-Type: multipart/mixed;boundary=" PUSH_BOUNDARY "\r\n"
		"\r\n";
	http_hold(c, on_gone, s);
	if (cam->push_bad_boundary) {
		char bad[sizeof head + PUSH_BAD_BOUNDARY_LEN];
		cam->push_bad_boundary = 0;
		int n = snprintf(bad, sizeof bad,
				 "HTTP/1.1 200 OK\r\nCache-Control: no-cache\r\n"
				 "Content-Type: multipart/mixed;boundary=%0*d\r\n\r\n",
				 PUSH_BAD_BOUNDARY_LEN, 0);
		http_write(c, bad, (size_t)n);
	} else {
		http_write(c, head, sizeof head - 1);
	}
	if (cam->push_trickle) { /* the head, then blank lines: never an answer part */
		s->silent = s->trickle = 1;
		loop_timer_start(cam->lp, &s->beat, PUSH_TRICKLE_MS);
		return;
	}
	write_part(c, cam, "{\"result\":\"success\",\"errCode\":0}");
	loop_timer_start(cam->lp, &s->beat, (uint64_t)heartbeat * 1000u);
	sim_log("subscribeMsg: conn %lu subscribed, heartbeat %d s", http_conn_id(c), heartbeat);
}

void push_broadcast(struct camera *cam, const char *json)
{
	struct push_sub *s = cam->subs;
	while (s) {
		struct push_sub *next = s->next;
		sub_send(s, json);
		s = next;
	}
}

size_t push_count(const struct camera *cam)
{
	return cam->nsubs;
}

/* ---- events ---- */

int push_event_type_ok(const char *type)
{
	size_t n = strlen(type);
	if (n == 0 || n >= PUSH_EVENT_TYPE_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = type[i];
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= '0' && ch <= '9') || ch == '_'))
			return 0;
	}
	return 1;
}

/* "X_y_enhance" -> "X"; any other name is its own base. */
static void base_type(const char *type, char out[PUSH_EVENT_TYPE_MAX])
{
	static const char suffix[] = "_enhance";
	size_t n = strlen(type), k = sizeof suffix - 1;
	snprintf(out, PUSH_EVENT_TYPE_MAX, "%s", type);
	if (n > k && strcmp(type + n - k, suffix) == 0) {
		char *u = strchr(out, '_');
		if (u && u != out)
			*u = '\0';
	}
}

static int sub_wants(const struct push_sub *s, const char *type, const char *base)
{
	const cJSON *e;
	cJSON_ArrayForEach(e, s->event_types) {
		if (cJSON_IsString(e) && (strcmp(e->valuestring, "all") == 0 ||
					  strcmp(e->valuestring, type) == 0 ||
					  strcmp(e->valuestring, base) == 0))
			return 1;
	}
	return 0;
}

static struct push_last *sub_last(struct push_sub *s, const char *base, int add)
{
	for (size_t i = 0; i < s->nlast; i++)
		if (strcmp(s->last[i].type, base) == 0)
			return &s->last[i];
	if (!add)
		return NULL;
	if (s->nlast == s->caplast) {
		size_t n = s->caplast ? s->caplast * 2 : 4;
		struct push_last *p = realloc(s->last, n * sizeof *p);
		if (!p)
			return NULL;
		s->last = p;
		s->caplast = n;
	}
	struct push_last *l = &s->last[s->nlast++];
	snprintf(l->type, sizeof l->type, "%s", base);
	return l;
}

/* The camera's event_interval (seconds; a number or a numeric string). */
static double event_interval(const struct camera *cam)
{
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(engine_state(cam->engine),
							  "msgPushInterval");
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(st, "event_interval");
	double d;
	if (!v || rules_number(v, &d) < 0 || d < 0)
		return 0;
	return d;
}

/* type as the inside of a JSON string: ", \ and control bytes escaped
 * (a type injected "unchecked" may hold any byte). out has 6 * strlen + 1. */
static void json_inside(const char *type, char *out)
{
	for (const unsigned char *p = (const unsigned char *)type; *p; p++) {
		if (*p == '"' || *p == '\\') {
			*out++ = '\\';
			*out++ = (char)*p;
		} else if (*p < 0x20 || *p == 0x7f) {
			out += sprintf(out, "\\u%04x", *p);
		} else {
			*out++ = (char)*p;
		}
	}
	*out = '\0';
}

void push_event(struct camera *cam, const char *type, long long t, long count, int seq,
		struct push_result *r)
{
	char base[PUSH_EVENT_TYPE_MAX], esc[6 * PUSH_EVENT_TYPE_MAX], json[6 * PUSH_EVENT_TYPE_MAX + 96];
	double interval = event_interval(cam);
	memset(r, 0, sizeof *r);
	base_type(type, base);
	json_inside(type, esc);
	for (const struct push_sub *s = cam->subs; s; s = s->next)
		if (sub_wants(s, type, base))
			r->subscriptions++;
	for (long i = 0; i < count; i++) {
		if (seq) {
			cam->push_seq++;
			if (i == 0)
				r->first_seq = cam->push_seq;
			snprintf(json, sizeof json, "{\"event_type\":\"%s\",\"time\":%lld,\"seq\":%llu}",
				 esc, t, cam->push_seq);
		} else {
			snprintf(json, sizeof json, "{\"event_type\":\"%s\",\"time\":%lld}", esc, t);
		}
		struct push_sub *s = cam->subs;
		while (s) {
			struct push_sub *next = s->next;
			if (!sub_wants(s, type, base)) {
				s = next;
				continue;
			}
			struct push_last *l = sub_last(s, base, 0);
			if (interval > 0 && l && (double)(t - l->t) < interval) {
				r->filtered++;
				cam->cnt.push_filtered++;
			} else if (s->silent) {
				r->silenced++;
			} else {
				l = sub_last(s, base, 1);
				if (sub_send(s, json) < 0) {
					r->overflowed++;
				} else {
					if (l)
						l->t = t;
					r->sent++;
					cam->cnt.push_events++;
				}
			}
			s = next;
		}
	}
	sim_log("event %s x%ld: %llu sent, %llu filtered", type, count, r->sent, r->filtered);
}

/* ---- the event generator ---- */

static struct {
	struct loop *lp;
	struct camera **cams;           /* a copy of the list */
	size_t n, cap;
	double rate;                    /* events a second, the whole fleet */
	unsigned long long limit;       /* events to emit in all; 0 = no end */
	unsigned long long next;        /* index of the next event due */
	uint64_t start;                 /* loop ms */
	uint64_t end;                   /* loop ms it ended; 0 = running or never set */
	struct loop_timer timer;
	struct push_rate_info info;
} gen;

static double unix_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Loop ms (from the start) at which event j is due, rounded up. */
static uint64_t gen_due(unsigned long long j)
{
	double ms = (double)j * 1000.0 / gen.rate;
	uint64_t whole = (uint64_t)ms;
	return gen.start + whole + ((double)whole < ms ? 1 : 0);
}

static void gen_finish(void)
{
	if (gen.info.running) {
		gen.info.running = 0;
		gen.end = gen.lp ? loop_now(gen.lp) : 0;
	}
	if (gen.lp)
		loop_timer_stop(gen.lp, &gen.timer);
}

static void on_gen(void *arg)
{
	(void)arg;
	uint64_t now = loop_now(gen.lp);
	/* Events j with j * 1000 / rate <= now - start are due. */
	unsigned long long due = (unsigned long long)((double)(now - gen.start) * gen.rate / 1000.0) + 1;
	if (gen.limit && due > gen.limit)
		due = gen.limit;
	unsigned long long backlog = (unsigned long long)gen.rate + 1;
	if (due > gen.next + backlog) {
		gen.info.skipped += due - backlog - gen.next;
		gen.next = due - backlog;
	}
	long long t = (long long)time(NULL);
	for (; gen.next < due; gen.next++) {
		struct push_result r;
		push_event(gen.cams[gen.next % gen.n], gen.info.event_type, t, 1, 1, &r);
		gen.info.emitted++;
		gen.info.sent += r.sent;
		gen.info.filtered += r.filtered;
		gen.info.silenced += r.silenced;
		gen.info.overflowed += r.overflowed;
	}
	if (gen.limit && gen.next >= gen.limit) {
		gen_finish();
		sim_log("event_rate: done, %llu events", gen.info.emitted);
		return;
	}
	/* The next event's time, PUSH_RATE_TICK_MS from now at the soonest:
	 * a busy fleet is served in small batches rather than a loop round
	 * per event (each round polls every socket of the process). */
	uint64_t at = gen_due(gen.next);
	loop_timer_start(gen.lp, &gen.timer, at > now + PUSH_RATE_TICK_MS ? at - now : PUSH_RATE_TICK_MS);
}

void push_rate_stop(void)
{
	gen_finish();
	memset(&gen.info, 0, sizeof gen.info);
	gen.end = 0;
}

int push_rate_set(struct loop *lp, struct camera **cams, size_t n, double per_camera,
		  const char *type, double seconds)
{
	push_rate_stop();
	if (n > gen.cap) {
		struct camera **p = realloc(gen.cams, n * sizeof *p);
		if (!p)
			return -1;
		gen.cams = p;
		gen.cap = n;
	}
	if (n)
		memcpy(gen.cams, cams, n * sizeof *cams);
	gen.lp = lp;
	gen.n = n;
	gen.rate = per_camera * (double)n;
	gen.next = 0;
	gen.limit = 0;
	loop_timer_init(&gen.timer, on_gen, NULL);
	gen.info.per_camera = per_camera;
	snprintf(gen.info.event_type, sizeof gen.info.event_type, "%s", type);
	gen.info.seconds = seconds;
	gen.info.cameras = n;
	gen.info.since = unix_now();
	if (per_camera <= 0 || n == 0)
		return 0;
	if (seconds > 0) {
		double total = gen.rate * seconds;
		gen.limit = (unsigned long long)total;
		if ((double)gen.limit < total)
			gen.limit++;            /* the events due before start + seconds */
		if (gen.limit == 0)
			return 0;
	}
	gen.start = loop_now(lp);
	gen.info.running = 1;
	loop_timer_start(lp, &gen.timer, 0);
	sim_log("event_rate: %g events/s on each of %zu cameras (%s)", per_camera, n, type);
	return 0;
}

void push_rate_get(struct push_rate_info *info)
{
	*info = gen.info;
	if (gen.info.since > 0 && gen.lp) {
		uint64_t to = gen.info.running ? loop_now(gen.lp) : gen.end;
		info->elapsed = gen.info.running || gen.end ? (double)(to - gen.start) / 1000.0 : 0;
	}
}

/* ---- faults ---- */

int push_fault_parse(const char *name, enum push_fault_kind *kind)
{
	static const char *const names[] = {"none", "silence", "drop", "garbage", "oversized", "refuse",
					    "trickle", "bad_boundary"};
	for (int i = 0; i < (int)(sizeof names / sizeof *names); i++)
		if (strcmp(name, names[i]) == 0) {
			*kind = (enum push_fault_kind)i;
			return 0;
		}
	return -1;
}

static void write_oversized(struct push_sub *s)
{
	char head[128];
	int h = snprintf(head, sizeof head, PART_HEAD_FMT, (size_t)PUSH_OVERSIZED_CLAIM);
	char *buf = malloc((size_t)h + PUSH_OVERSIZED_SENT);
	if (buf) {
		static const char start[] = "{\"event_type\":\"MotionDetection\",\"pad\":\"";
		memcpy(buf, head, (size_t)h);
		memset(buf + h, 'x', PUSH_OVERSIZED_SENT);
		memcpy(buf + h, start, sizeof start - 1);
		http_write(s->conn, buf, (size_t)h + PUSH_OVERSIZED_SENT);
		free(buf);
	}
	/* Sent in full, then a TLS close_notify and the close. */
	http_end(s->conn, HTTP_CLOSE_QUIET);
	sub_free(s);
}

size_t push_fault(struct camera *cam, enum push_fault_kind kind)
{
	size_t n = 0;
	struct push_sub *s = cam->subs;
	if (kind == PUSH_FAULT_REFUSE || kind == PUSH_FAULT_NONE)
		cam->push_refuse = kind == PUSH_FAULT_REFUSE;
	if (kind == PUSH_FAULT_TRICKLE || kind == PUSH_FAULT_NONE)
		cam->push_trickle = kind == PUSH_FAULT_TRICKLE;
	if (kind == PUSH_FAULT_BAD_BOUNDARY || kind == PUSH_FAULT_NONE)
		cam->push_bad_boundary = kind == PUSH_FAULT_BAD_BOUNDARY;
	while (s) {
		struct push_sub *next = s->next;
		n++;
		switch (kind) {
		case PUSH_FAULT_NONE:
			s->silent = 0;
			if (s->trickle) {
				s->trickle = 0;
				loop_timer_start(cam->lp, &s->beat, (uint64_t)s->heartbeat * 1000u);
			}
			break;
		case PUSH_FAULT_SILENCE:
			s->silent = 1;
			break;
		case PUSH_FAULT_DROP:
			sub_drop(s);
			break;
		case PUSH_FAULT_GARBAGE: {
			char junk[PUSH_GARBAGE_LEN + 3];
			camera_random_alnum(junk, PUSH_GARBAGE_LEN);
			memcpy(junk + PUSH_GARBAGE_LEN, "\r\n", 3);
			http_write(s->conn, junk, PUSH_GARBAGE_LEN + 2);
			break;
		}
		case PUSH_FAULT_OVERSIZED:
			write_oversized(s);
			break;
		case PUSH_FAULT_REFUSE: /* act on the next subscription, above */
		case PUSH_FAULT_BAD_BOUNDARY:
			break;
		case PUSH_FAULT_TRICKLE:
			s->silent = s->trickle = 1;
			loop_timer_start(cam->lp, &s->beat, PUSH_TRICKLE_MS);
			break;
		}
		s = next;
	}
	sim_log("push fault %d on %zu subscriptions", (int)kind, n);
	return n;
}
