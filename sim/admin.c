/* The admin path: see admin.h and docs/sim.md. */
#include "admin.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "odp.h"
#include "push.h"
#include "stream.h"

static void send_json(struct http_conn *c, int status, cJSON *o)
{
	size_t len = 0;
	char *s = o ? engine_print(o, &len) : NULL;
	cJSON_Delete(o);
	if (!s) {
		http_respond(c, 500, "application/json", "{}", 2, HTTP_KEEP_ALIVE);
		return;
	}
	http_respond(c, status, "application/json", s, len, HTTP_KEEP_ALIVE);
	cJSON_free(s);
}

static void send_error(struct http_conn *c, int status, const char *msg)
{
	cJSON *o = cJSON_CreateObject();
	if (o)
		cJSON_AddStringToObject(o, "error", msg);
	send_json(c, status, o);
}

static void send_ok(struct http_conn *c)
{
	cJSON *o = cJSON_CreateObject();
	if (o)
		cJSON_AddTrueToObject(o, "ok");
	send_json(c, 200, o);
}

static const char *auth_name(enum auth_mode m)
{
	return m == AUTH_CHALLENGE ? "challenge" : "md5";
}

static const char *tz_name(enum tz_spelling t)
{
	return t == TZ_ONLY_TIMEZONE ? "Timezone" : t == TZ_ONLY_TIMEZONE_CAMEL ? "TimeZone" : "both";
}

static cJSON *config_json(const struct camera *cam)
{
	const struct camera_config *k = &cam->cfg;
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "auth", auth_name(k->auth));
	cJSON_AddBoolToObject(o, "close_after_answer", k->close_after_answer);
	cJSON_AddNumberToObject(o, "token_lifetime", k->token_lifetime);
	cJSON_AddBoolToObject(o, "stok_top", k->stok_top);
	cJSON_AddStringToObject(o, "tz_spelling", tz_name(k->tz));
	cJSON_AddStringToObject(o, "token_error", k->token_http401 ? "http401" : "errcode");
	cJSON_AddStringToObject(o, "username", k->username);
	cJSON_AddNumberToObject(o, "lockout", k->lockout);
	cJSON_AddNumberToObject(o, "lock_seconds", k->lock_seconds);
	cJSON_AddBoolToObject(o, "trailing_commas", k->trailing_commas);
	cJSON_AddNumberToObject(o, "unknown_method_code", k->unknown_method_code);
	cJSON_AddBoolToObject(o, "locked", cam->locked_until != 0);
	cJSON_AddNumberToObject(o, "failures", cam->failures);
	cJSON_AddNumberToObject(o, "tokens", (double)cam->ntokens);
	cJSON_AddNumberToObject(o, "faults_pending", (double)cam->nfaults);
	return o;
}

static int whole(const cJSON *v, double lo, double hi)
{
	return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) &&
	       v->valuedouble >= lo && v->valuedouble <= hi;
}

static char unknown_msg[160];

static const char *unknown_key(const char *what, const char *key)
{
	snprintf(unknown_msg, sizeof unknown_msg, "unknown %s key \"%.100s\"", what, key);
	return unknown_msg;
}

/* Apply a config object: all keys are checked before any is applied. */
static const char *apply_config(struct camera *cam, const cJSON *in)
{
	struct camera_config k = cam->cfg;
	const cJSON *v;
	cJSON_ArrayForEach(v, in) {
		const char *key = v->string;
		if (strcmp(key, "auth") == 0) {
			if (cJSON_IsString(v) && strcmp(v->valuestring, "md5") == 0)
				k.auth = AUTH_MD5;
			else if (cJSON_IsString(v) && strcmp(v->valuestring, "challenge") == 0)
				k.auth = AUTH_CHALLENGE;
			else
				return "auth: \"md5\" or \"challenge\"";
		} else if (strcmp(key, "close_after_answer") == 0) {
			if (!cJSON_IsBool(v))
				return "close_after_answer: true or false";
			k.close_after_answer = cJSON_IsTrue(v);
		} else if (strcmp(key, "stok_top") == 0) {
			if (!cJSON_IsBool(v))
				return "stok_top: true or false";
			k.stok_top = cJSON_IsTrue(v);
		} else if (strcmp(key, "token_lifetime") == 0) {
			if (!whole(v, 0, 1e9))
				return "token_lifetime: seconds, an integer >= 0";
			k.token_lifetime = (int)v->valuedouble;
		} else if (strcmp(key, "tz_spelling") == 0) {
			if (cJSON_IsString(v) && strcmp(v->valuestring, "both") == 0)
				k.tz = TZ_BOTH;
			else if (cJSON_IsString(v) && strcmp(v->valuestring, "Timezone") == 0)
				k.tz = TZ_ONLY_TIMEZONE;
			else if (cJSON_IsString(v) && strcmp(v->valuestring, "TimeZone") == 0)
				k.tz = TZ_ONLY_TIMEZONE_CAMEL;
			else
				return "tz_spelling: \"both\", \"Timezone\" or \"TimeZone\"";
		} else if (strcmp(key, "token_error") == 0) {
			if (cJSON_IsString(v) && strcmp(v->valuestring, "errcode") == 0)
				k.token_http401 = 0;
			else if (cJSON_IsString(v) && strcmp(v->valuestring, "http401") == 0)
				k.token_http401 = 1;
			else
				return "token_error: \"errcode\" or \"http401\"";
		} else if (strcmp(key, "password") == 0) {
			if (!cJSON_IsString(v) || strlen(v->valuestring) >= sizeof k.password)
				return "password: a string";
			strcpy(k.password, v->valuestring);
		} else if (strcmp(key, "username") == 0) {
			if (!cJSON_IsString(v) || !*v->valuestring ||
			    strlen(v->valuestring) >= sizeof k.username)
				return "username: a non-empty string";
			strcpy(k.username, v->valuestring);
		} else if (strcmp(key, "lockout") == 0) {
			if (!whole(v, 0, 1e6))
				return "lockout: an integer >= 0";
			k.lockout = (int)v->valuedouble;
		} else if (strcmp(key, "lock_seconds") == 0) {
			if (!whole(v, 0, 1e9))
				return "lock_seconds: an integer >= 0";
			k.lock_seconds = (int)v->valuedouble;
		} else if (strcmp(key, "trailing_commas") == 0) {
			if (!cJSON_IsBool(v))
				return "trailing_commas: true or false";
			k.trailing_commas = cJSON_IsTrue(v);
		} else if (strcmp(key, "unknown_method_code") == 0) {
			if (!whole(v, -99999999, 99999999) || v->valuedouble == 0)
				return "unknown_method_code: a non-zero integer";
			k.unknown_method_code = (int)v->valuedouble;
		} else {
			return unknown_key("config", key);
		}
	}
	cam->cfg = k;
	camera_set_password(cam, cam->cfg.password);
	return NULL;
}

static const char *parse_fault(const cJSON *in, struct fault *f)
{
	static const char *const kinds[] = {"stall", "close_mid", "non_json", "http500",
		"endless_1xx", "endless_headers", "endless_trailers", "trickle", "bad_chunk"};
	memset(f, 0, sizeof *f);
	f->kind = FAULT_NONE;
	f->count = 1;
	f->seconds = 30;
	const cJSON *v;
	cJSON_ArrayForEach(v, in) {
		const char *key = v->string;
		if (strcmp(key, "kind") == 0) {
			for (int i = 0; i < (int)(sizeof kinds / sizeof *kinds); i++)
				if (cJSON_IsString(v) && strcmp(v->valuestring, kinds[i]) == 0)
					f->kind = (enum fault_kind)i;
			if (f->kind == FAULT_NONE)
				return "kind: \"stall\", \"close_mid\", \"non_json\", \"http500\", "
				       "\"endless_1xx\", \"endless_headers\", \"endless_trailers\", \"trickle\" or \"bad_chunk\"";
		} else if (strcmp(key, "method") == 0) {
			if (cJSON_IsNull(v))
				continue;
			if (!cJSON_IsString(v) || strlen(v->valuestring) >= sizeof f->method)
				return "method: a method name";
			strcpy(f->method, v->valuestring);
		} else if (strcmp(key, "count") == 0) {
			if (!whole(v, 1, 1e6))
				return "count: an integer >= 1";
			f->count = (int)v->valuedouble;
		} else if (strcmp(key, "seconds") == 0) {
			if (!whole(v, 0, 86400))
				return "seconds: an integer 0..86400";
			f->seconds = (int)v->valuedouble;
		} else {
			return unknown_key("fault", key);
		}
	}
	if (f->kind == FAULT_NONE)
		return "kind is required";
	return NULL;
}

/* {"kind":K,"count":n}: the discovery fault in force. */
static cJSON *odp_fault_json(const struct camera *cam, int ok)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	if (ok)
		cJSON_AddTrueToObject(o, "ok");
	cJSON_AddStringToObject(o, "kind", odp_fault_name(cam->odp_fault));
	cJSON_AddNumberToObject(o, "count", cam->odp_fault_count);
	if (cam->odp_fault == ODP_FAULT_FLOOD)
		cJSON_AddNumberToObject(o, "seconds", cam->odp_flood_ms / 1000.0);
	if (cam->odp_fault == ODP_FAULT_SPOOF) {
		cJSON_AddStringToObject(o, "ip", cam->odp_spoof_ip);
		if (cam->odp_spoof_port)
			cJSON_AddNumberToObject(o, "port", cam->odp_spoof_port);
	}
	return o;
}

/* The arguments of the flood and spoof faults. */
struct odp_fault_args {
	unsigned flood_ms;
	const char *ip;
	int port;
	int has_seconds, has_ip_or_port;
};

static const char *parse_odp_fault(const cJSON *in, enum odp_fault_kind *kind, int *count,
				   struct odp_fault_args *a)
{
	int has_kind = 0;
	*kind = ODP_FAULT_NONE;
	*count = 1;
	memset(a, 0, sizeof *a);
	a->flood_ms = 2000;
	a->ip = "10.9.0.0";
	const cJSON *v;
	cJSON_ArrayForEach(v, in) {
		const char *key = v->string;
		if (strcmp(key, "kind") == 0) {
			if (!cJSON_IsString(v) || odp_fault_parse(v->valuestring, kind) < 0)
				return "kind: \"bad_crc\", \"bare_magic\", \"duplicate\", \"oversized\", "
				       "\"encrypt\", \"foreign_serial\", \"silent\", \"flood\", \"spoof\" "
				       "or \"none\"";
			has_kind = 1;
		} else if (strcmp(key, "count") == 0) {
			if (!whole(v, -1, 1e6) || v->valuedouble == 0)
				return "count: an integer >= 1, or -1 (until cleared)";
			*count = (int)v->valuedouble;
		} else if (strcmp(key, "seconds") == 0) {
			if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0.001 && v->valuedouble <= 60))
				return "seconds: a number 0.001..60";
			a->flood_ms = (unsigned)(v->valuedouble * 1000 + 0.5);
			a->has_seconds = 1;
		} else if (strcmp(key, "ip") == 0) {
			if (!cJSON_IsString(v) || v->valuestring[0] == '\0' || strlen(v->valuestring) > 63)
				return "ip: a string of 1..63 bytes";
			a->ip = v->valuestring;
			a->has_ip_or_port = 1;
		} else if (strcmp(key, "port") == 0) {
			if (!whole(v, 1, 65535))
				return "port: an integer 1..65535";
			a->port = (int)v->valuedouble;
			a->has_ip_or_port = 1;
		} else {
			return unknown_key("odp_fault", key);
		}
	}
	if (!has_kind)
		return "kind is required";
	if (a->has_seconds && *kind != ODP_FAULT_FLOOD)
		return "seconds: only with kind \"flood\"";
	if (a->has_ip_or_port && *kind != ODP_FAULT_SPOOF)
		return "ip, port: only with kind \"spoof\"";
	return NULL;
}

/* GET shows the discovery fault in force; POST sets (or clears) it. */
static void odp_fault_request(struct camera *cam, struct http_conn *c, int post, const cJSON *in)
{
	enum odp_fault_kind kind;
	int count;
	struct odp_fault_args a;
	const char *err;
	if (!post) {
		send_json(c, 200, odp_fault_json(cam, 0));
	} else if ((err = parse_odp_fault(in, &kind, &count, &a)) != NULL) {
		send_error(c, 400, err);
	} else {
		cam->odp_flood_ms = a.flood_ms;
		snprintf(cam->odp_spoof_ip, sizeof cam->odp_spoof_ip, "%s", a.ip);
		cam->odp_spoof_port = a.port;
		camera_odp_fault_set(cam, kind, count);
		sim_log("admin: odp fault %s", odp_fault_name(cam->odp_fault));
		send_json(c, 200, odp_fault_json(cam, 1));
	}
}

/* POST /__sim__/event {"event_type":T,"time":N,"count":n,"seq":bool} */
static void event_request(struct camera *cam, struct http_conn *c, const cJSON *in)
{
	const char *type = NULL;
	long long t = (long long)time(NULL);
	long count = 1;
	int seq = 0, unchecked = 0;
	const cJSON *v;
	cJSON_ArrayForEach(v, in) {
		const char *key = v->string;
		if (strcmp(key, "event_type") == 0) {
			if (!cJSON_IsString(v)) {
				send_error(c, 400, "event_type: 1..63 characters of [A-Za-z0-9_]");
				return;
			}
			type = v->valuestring;
		} else if (strcmp(key, "unchecked") == 0) {
			if (!cJSON_IsBool(v)) {
				send_error(c, 400, "unchecked: true or false");
				return;
			}
			unchecked = cJSON_IsTrue(v);
		} else if (strcmp(key, "time") == 0) {
			if (!whole(v, 0, 1e12)) {
				send_error(c, 400, "time: seconds, an integer >= 0");
				return;
			}
			t = (long long)v->valuedouble;
		} else if (strcmp(key, "count") == 0) {
			if (!whole(v, 1, 100000)) {
				send_error(c, 400, "count: an integer 1..100000");
				return;
			}
			count = (long)v->valuedouble;
		} else if (strcmp(key, "seq") == 0) {
			if (!cJSON_IsBool(v)) {
				send_error(c, 400, "seq: true or false");
				return;
			}
			seq = cJSON_IsTrue(v);
		} else {
			send_error(c, 400, unknown_key("event", key));
			return;
		}
	}
	if (!type) {
		send_error(c, 400, "event_type is required");
		return;
	}
	/* unchecked: any bytes, as a hostile camera would name its events */
	if (unchecked ? (type[0] == '\0' || strlen(type) >= PUSH_EVENT_TYPE_MAX)
		      : !push_event_type_ok(type)) {
		send_error(c, 400, unchecked ? "event_type: 1..63 bytes"
					     : "event_type: 1..63 characters of [A-Za-z0-9_]");
		return;
	}
	struct push_result r;
	push_event(cam, type, t, count, seq, &r);
	cJSON *o = cJSON_CreateObject();
	if (o) {
		cJSON_AddTrueToObject(o, "ok");
		cJSON_AddNumberToObject(o, "subscriptions", (double)r.subscriptions);
		cJSON_AddNumberToObject(o, "sent", (double)r.sent);
		cJSON_AddNumberToObject(o, "filtered", (double)r.filtered);
		cJSON_AddNumberToObject(o, "silenced", (double)r.silenced);
		cJSON_AddNumberToObject(o, "overflowed", (double)r.overflowed);
		if (seq)
			cJSON_AddNumberToObject(o, "first_seq", (double)r.first_seq);
	}
	send_json(c, 200, o);
}

static cJSON *event_rate_json(int ok)
{
	struct push_rate_info g;
	push_rate_get(&g);
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	if (ok)
		cJSON_AddTrueToObject(o, "ok");
	cJSON_AddNumberToObject(o, "per_camera", g.per_camera);
	cJSON_AddStringToObject(o, "event_type", g.event_type[0] ? g.event_type : "MotionDetection");
	cJSON_AddNumberToObject(o, "seconds", g.seconds);
	cJSON_AddNumberToObject(o, "cameras", (double)g.cameras);
	cJSON_AddBoolToObject(o, "running", g.running);
	cJSON_AddNumberToObject(o, "emitted", (double)g.emitted);
	cJSON_AddNumberToObject(o, "sent", (double)g.sent);
	cJSON_AddNumberToObject(o, "filtered", (double)g.filtered);
	cJSON_AddNumberToObject(o, "silenced", (double)g.silenced);
	cJSON_AddNumberToObject(o, "overflowed", (double)g.overflowed);
	cJSON_AddNumberToObject(o, "skipped", (double)g.skipped);
	cJSON_AddNumberToObject(o, "since", g.since);
	cJSON_AddNumberToObject(o, "elapsed", g.elapsed);
	return o;
}

/* POST /__sim__/event_rate {"per_camera":R,"event_type":T,"seconds":S}:
 * the generator, for every camera of the process. */
static void event_rate_request(struct camera *cam, struct http_conn *c, const cJSON *in)
{
	const char *type = "MotionDetection";
	double rate = -1, seconds = 0;
	size_t n = cam->nfleet ? cam->nfleet : 1;
	const cJSON *v;
	cJSON_ArrayForEach(v, in) {
		const char *key = v->string;
		if (strcmp(key, "per_camera") == 0) {
			if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) ||
			    v->valuedouble > PUSH_RATE_MAX ||
			    v->valuedouble * (double)n > PUSH_RATE_TOTAL_MAX) {
				send_error(c, 400, "per_camera: events a second on each camera, 0..10000, "
					   "at most 1000000 for the whole fleet (0 = off)");
				return;
			}
			rate = v->valuedouble;
		} else if (strcmp(key, "event_type") == 0) {
			if (!cJSON_IsString(v) || !push_event_type_ok(v->valuestring)) {
				send_error(c, 400, "event_type: 1..63 characters of [A-Za-z0-9_]");
				return;
			}
			type = v->valuestring;
		} else if (strcmp(key, "seconds") == 0) {
			if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) ||
			    v->valuedouble > PUSH_RATE_SECONDS_MAX) {
				send_error(c, 400, "seconds: 0..86400 (0 = until changed)");
				return;
			}
			seconds = v->valuedouble;
		} else {
			send_error(c, 400, unknown_key("event_rate", key));
			return;
		}
	}
	if (rate < 0) {
		send_error(c, 400, "per_camera is required");
		return;
	}
	struct camera *self[1] = { cam };
	if (push_rate_set(cam->lp, cam->nfleet ? cam->fleet : self, n, rate, type, seconds) < 0)
		send_error(c, 500, "out of memory");
	else
		send_json(c, 200, event_rate_json(1));
}

/* POST /__sim__/push_fault {"kind":K} */
static void push_fault_request(struct camera *cam, struct http_conn *c, const cJSON *in)
{
	enum push_fault_kind kind = PUSH_FAULT_NONE;
	int has_kind = 0;
	const cJSON *v;
	cJSON_ArrayForEach(v, in) {
		if (strcmp(v->string, "kind") == 0) {
			if (!cJSON_IsString(v) || push_fault_parse(v->valuestring, &kind) < 0) {
				send_error(c, 400, "kind: \"silence\", \"drop\", \"garbage\", "
					   "\"oversized\", \"refuse\", \"trickle\" or \"none\"");
				return;
			}
			has_kind = 1;
		} else {
			send_error(c, 400, unknown_key("push_fault", v->string));
			return;
		}
	}
	if (!has_kind) {
		send_error(c, 400, "kind is required");
		return;
	}
	size_t n = push_fault(cam, kind);
	cJSON *o = cJSON_CreateObject();
	if (o) {
		cJSON_AddTrueToObject(o, "ok");
		cJSON_AddStringToObject(o, "kind", cJSON_GetObjectItemCaseSensitive(in, "kind")->valuestring);
		cJSON_AddNumberToObject(o, "subscriptions", (double)n);
	}
	send_json(c, 200, o);
}

/* POST /__sim__/password {"password":P}: the owner changes the password,
 * as on the camera's own page: the new one for doAuth and the stream
 * digest, every token revoked, every subscription closed (their clients
 * must log in again). Stream sessions already open go on; their next
 * request needs the new password. The count of failures starts again. */
static void password_request(struct camera *cam, struct http_conn *c, const cJSON *in)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(in, "password");
	const cJSON *k;
	cJSON_ArrayForEach(k, in) {
		if (strcmp(k->string, "password") != 0) {
			send_error(c, 400, unknown_key("password", k->string));
			return;
		}
	}
	if (!cJSON_IsString(v) || strlen(v->valuestring) >= sizeof cam->cfg.password) {
		send_error(c, 400, "password: a string (up to 127 bytes) is required");
		return;
	}
	size_t tokens = cam->ntokens;
	camera_set_password(cam, v->valuestring);
	camera_tokens_clear(cam);
	cam->failures = 0;
	size_t subs = push_fault(cam, PUSH_FAULT_DROP);
	sim_log("admin: password changed; %zu tokens revoked, %zu subscriptions closed", tokens, subs);
	cJSON *o = cJSON_CreateObject();
	if (o) {
		cJSON_AddTrueToObject(o, "ok");
		cJSON_AddNumberToObject(o, "tokens_revoked", (double)tokens);
		cJSON_AddNumberToObject(o, "subscriptions_closed", (double)subs);
	}
	send_json(c, 200, o);
}

/* The counters of every camera of the process, added up. */
static cJSON *fleet_json(const struct camera *cam)
{
	struct camera *total = calloc(1, sizeof *total);
	cJSON *o = NULL;
	if (total && camera_init(total, cam->lp, "", &cam->cfg, NULL) == 0) {
		for (size_t i = 0; i < cam->nfleet; i++)
			camera_counters_add(total, cam->fleet[i]);
		if (cam->nfleet == 0)
			camera_counters_add(total, cam);
		o = camera_counters_json(total);
	}
	if (total)
		camera_free(total);
	free(total);
	return o;
}

/* ---- the admin paths: one row each ---- */

/* What an admin path's handler gets: the verb as flags and the body (NULL
 * if none). It answers, and returns 0 if the verb is not one it takes
 * (then nothing was answered: 405). */
struct admin_call {
	struct camera *cam;
	struct http_conn *c;
	int get, post;
	const cJSON *in;
};

static int a_counters(const struct admin_call *a)
{
	if (!a->get)
		return 0;
	send_json(a->c, 200, camera_counters_json(a->cam));
	return 1;
}

static int a_state(const struct admin_call *a)
{
	if (!a->get)
		return 0;
	send_json(a->c, 200, cJSON_Duplicate(engine_state(a->cam->engine), 1));
	return 1;
}

static int a_config(const struct admin_call *a)
{
	const char *err = NULL;
	if (a->post && a->in && (err = apply_config(a->cam, a->in)) != NULL)
		send_error(a->c, 400, err);
	else if (!a->get && !a->post)
		return 0;
	else
		send_json(a->c, 200, config_json(a->cam));
	if (a->post && !err)
		sim_log("admin: config changed");
	return 1;
}

static int a_reset(const struct admin_call *a)
{
	struct camera *cam = a->cam;
	if (!a->post)
		return 0;
	camera_reset_counters(cam);
	camera_faults_clear(cam);
	camera_odp_fault_set(cam, ODP_FAULT_NONE, 0);
	stream_reset(cam);
	push_rate_stop();
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a->in, "state"))) {
		camera_reset_state(cam);
		camera_unlock(cam);
		camera_tokens_clear(cam);
	}
	send_ok(a->c);
	return 1;
}

static int a_expire_tokens(const struct admin_call *a)
{
	if (!a->post)
		return 0;
	camera_tokens_clear(a->cam);
	send_ok(a->c);
	return 1;
}

static int a_password(const struct admin_call *a)
{
	if (!a->post)
		return 0;
	password_request(a->cam, a->c, a->in);
	return 1;
}

static int a_unlock(const struct admin_call *a)
{
	if (!a->post)
		return 0;
	camera_unlock(a->cam);
	send_ok(a->c);
	return 1;
}

static int a_fault(const struct admin_call *a)
{
	struct fault f;
	const char *err;
	if (!a->post)
		return 0;
	if ((err = parse_fault(a->in, &f)) != NULL) {
		send_error(a->c, 400, err);
	} else if (camera_fault_add(a->cam, &f) < 0) {
		send_error(a->c, 400, "too many faults pending");
	} else {
		cJSON *o = cJSON_CreateObject();
		if (o) {
			cJSON_AddTrueToObject(o, "ok");
			cJSON_AddNumberToObject(o, "pending", (double)a->cam->nfaults);
		}
		send_json(a->c, 200, o);
	}
	return 1;
}

static int a_odp_fault(const struct admin_call *a)
{
	if (!a->get && !a->post)
		return 0;
	odp_fault_request(a->cam, a->c, a->post, a->in);
	return 1;
}

static int a_event(const struct admin_call *a)
{
	if (!a->post)
		return 0;
	event_request(a->cam, a->c, a->in);
	return 1;
}

static int a_event_rate(const struct admin_call *a)
{
	if (a->post && a->in)
		event_rate_request(a->cam, a->c, a->in);
	else if (a->get || a->post)     /* no body: as GET */
		send_json(a->c, 200, event_rate_json(0));
	else
		return 0;
	return 1;
}

static int a_push_fault(const struct admin_call *a)
{
	if (!a->post)
		return 0;
	push_fault_request(a->cam, a->c, a->in);
	return 1;
}

static int a_fleet(const struct admin_call *a)
{
	if (!a->get)
		return 0;
	send_json(a->c, 200, fleet_json(a->cam));
	return 1;
}

/* The paths after /__sim__/ (the stream_* ones are stream_admin's). */
static const struct admin_path {
	const char *path;
	int (*fn)(const struct admin_call *a);
} admin_paths[] = {
	{"counters", a_counters},
	{"state", a_state},
	{"config", a_config},
	{"reset", a_reset},
	{"expire_tokens", a_expire_tokens},
	{"password", a_password},
	{"unlock", a_unlock},
	{"fault", a_fault},
	{"odp_fault", a_odp_fault},
	{"event", a_event},
	{"event_rate", a_event_rate},
	{"push_fault", a_push_fault},
	{"fleet", a_fleet},
};

/* The body of a POST as a JSON object (NULL if empty), or -1 when it is
 * something else (answered with a 400). */
static int admin_body(struct http_conn *c, int post, const char *body, size_t body_len,
		      cJSON **in)
{
	*in = NULL;
	if (!post || body_len == 0)
		return 0;
	*in = cJSON_ParseWithLength(body, body_len);
	if (cJSON_IsObject(*in))
		return 0;
	cJSON_Delete(*in);
	*in = NULL;
	send_error(c, 400, "the body must be a JSON object");
	return -1;
}

void admin_request(struct camera *cam, struct http_conn *c, const char *verb,
		   const char *path, const char *body, size_t body_len)
{
	struct admin_call a = {cam, c, strcmp(verb, "GET") == 0, strcmp(verb, "POST") == 0, NULL};
	cJSON *in, *out = NULL;
	if (admin_body(c, a.post, body, body_len, &in) < 0)
		return;
	a.in = in;
	int status = stream_admin(cam, a.get, a.post, path, in, &out);
	if (status) {
		send_json(c, status, out);
		cJSON_Delete(in);
		return;
	}
	size_t i = 0, n = sizeof admin_paths / sizeof admin_paths[0];
	while (i < n && strcmp(path, admin_paths[i].path) != 0)
		i++;
	if (i == n)
		send_error(c, 404, "no such admin path");
	else if (!admin_paths[i].fn(&a))
		send_error(c, 405, "wrong verb for this admin path");
	cJSON_Delete(in);
}
