/* The control plane: routing, token check, method dispatch and faults.
 * See control.h. */
#include "control.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "auth.h"
#include "camera.h"
#include "dialect.h"
#include "log.h"
#include "preset.h"
#include "push.h"

#define ADMIN_PREFIX "/__sim__/"

/* ---- counting connections ---- */

static void on_accept(void *arg)
{
	struct camera *cam = arg;
	cam->cnt.connections++;
}

static void on_handshake(void *arg, int resumed)
{
	struct camera *cam = arg;
	cam->cnt.tls_handshakes++;
	if (resumed)
		cam->cnt.tls_resumed++;
}

static void uncount(unsigned long long *n)
{
	if (*n > 0)
		(*n)--;
}

/* ---- answers and faults ---- */

static enum http_after after_mode(const struct camera *cam)
{
	return cam->cfg.close_after_answer ? HTTP_CLOSE_QUIET : HTTP_KEEP_ALIVE;
}

struct stall {
	struct camera *cam;
	struct http_conn *conn;
	struct loop_timer t;
};

static void stall_gone(void *arg)
{
	struct stall *st = arg;
	loop_timer_stop(st->cam->lp, &st->t);
	free(st);
}

static void stall_end(void *arg)
{
	struct stall *st = arg;
	sim_log("fault: stall over, closing conn %lu", http_conn_id(st->conn));
	http_abort(st->conn);
	free(st);
}

static void stall(struct camera *cam, struct http_conn *c, int seconds)
{
	struct stall *st = calloc(1, sizeof *st);
	if (!st) {
		http_abort(c);
		return;
	}
	st->cam = cam;
	st->conn = c;
	loop_timer_init(&st->t, stall_end, st);
	loop_timer_start(cam->lp, &st->t, (uint64_t)(seconds > 0 ? seconds : 0) * 1000u);
	http_hold(c, stall_gone, st);
}

/* Send body (JSON, or NULL when out of memory) with status, or the fault
 * that replaces it. Takes ownership of body. */
static void reply(struct camera *cam, struct http_conn *c, int status, char *body,
		  size_t len, enum fault_kind fault, int seconds)
{
	static const char not_json[] = "this is not JSON\n";
	static const char html500[] =
		"<html><head><title>500 Internal Server Error</title></head>"
		"<body><h1>500 Internal Server Error</h1></body></html>\n";
	if (!body) {
		http_respond(c, 500, "application/json", "{}", 2, HTTP_CLOSE);
		return;
	}
	if (cam->cfg.trailing_commas) {
		char *commas = dialect_trailing_commas(body, len, &len);
		cJSON_free(body);
		if (!commas) {
			http_respond(c, 500, "application/json", "{}", 2, HTTP_CLOSE);
			return;
		}
		body = commas;
	}
	switch (fault) {
	case FAULT_NONE:
		http_respond(c, status, "application/json", body, len, after_mode(cam));
		break;
	case FAULT_STALL:
		sim_log("fault: stall for %d s", seconds);
		stall(cam, c, seconds);
		break;
	case FAULT_CLOSE_MID: {
		char head[256];
		int n = snprintf(head, sizeof head,
				 "HTTP/1.1 %d OK\r\nContent-Type: application/json\r\n"
				 "Content-Length: %zu\r\n\r\n", status, len);
		sim_log("fault: close mid-answer");
		http_write(c, head, (size_t)n);
		http_write(c, body, len / 2);
		http_end(c, HTTP_CLOSE_ABORT);
		break;
	}
	case FAULT_NON_JSON:
		sim_log("fault: answer that is not JSON");
		http_respond(c, 200, "application/json", not_json, sizeof not_json - 1,
			     after_mode(cam));
		break;
	case FAULT_HTTP500:
		sim_log("fault: HTTP 500");
		http_respond(c, 500, "text/html", html500, sizeof html500 - 1, after_mode(cam));
		break;
	case FAULT_BAD_CHUNK: {
		/* the answer's first bytes as a chunk, then a size that is not
		 * one; the connection stays open until `seconds` passed, so the
		 * client must see the error in the bytes, not in a close */
		char head[256];
		int n = snprintf(head, sizeof head,
				 "HTTP/1.1 %d OK\r\nContent-Type: application/json\r\n"
				 "Transfer-Encoding: chunked\r\n\r\n%zx\r\n", status, len / 2);
		sim_log("fault: a bad chunk size");
		http_write(c, head, (size_t)n);
		http_write(c, body, len / 2);
		static const char bad[] = "\r\nzz;not a size\r\n";
		http_write(c, bad, sizeof bad - 1);
		stall(cam, c, seconds);
		break;
	}
	case FAULT_ENDLESS_1XX:
	case FAULT_ENDLESS_HEADERS:
	case FAULT_ENDLESS_TRAILERS:
	case FAULT_TRICKLE:
		sim_log("fault: an answer without end (%d) for %d s", (int)fault, seconds);
		http_endless(c, (enum http_endless)(HTTP_ENDLESS_1XX + (fault - FAULT_ENDLESS_1XX)),
			     body, len, (unsigned)seconds);
		break;
	}
	cJSON_free(body);
}

static void reply_error(struct camera *cam, struct http_conn *c, int status, int code,
			const char *msg)
{
	size_t len = 0;
	char *body = engine_error(NULL, NULL, code, msg, &len);
	reply(cam, c, status, body, len, FAULT_NONE, 0);
}

/* ---- methods ---- */

/* camera.json's entry for name, honouring the time-zone spelling switch:
 * "...Timezone" (command rows) and "...TimeZone" (request examples) name
 * the same method unless cfg.tz allows only one of them. */
static const struct method *lookup(const struct camera *cam, const char *name)
{
	char alt[CAMERA_CALLNAME_MAX];
	const char *p;
	const char *other = NULL;
	if ((p = strstr(name, "TimeZone")) != NULL) {
		if (cam->cfg.tz == TZ_ONLY_TIMEZONE)
			return NULL;
		other = "Timezone";
	} else if ((p = strstr(name, "Timezone")) != NULL) {
		if (cam->cfg.tz == TZ_ONLY_TIMEZONE_CAMEL)
			return NULL;
		other = "TimeZone";
	}
	const struct method *m = engine_find(cam->engine, name);
	if (m || !other || strlen(name) >= sizeof alt)
		return m;
	strcpy(alt, name);
	memcpy(alt + (p - name), other, 8);
	return engine_find(cam->engine, alt);
}

/* Split "/stok=<stok>[/ds]" or "/"; returns 0 if the path is a control
 * path, with *stok set (NULL for "/"). path is modified. */
static int control_path(char *path, const char **stok)
{
	char *q = strchr(path, '?');
	if (q)
		*q = '\0';
	if (strcmp(path, "/") == 0) {
		*stok = NULL;
		return 0;
	}
	if (strncmp(path, "/stok=", 6) != 0)
		return -1;
	char *s = path + 6;
	char *slash = strchr(s, '/');
	if (slash) {
		if (strcmp(slash, "/ds") != 0 && strcmp(slash, "/") != 0)
			return -1;
		*slash = '\0';
	}
	*stok = s;
	return 0;
}

static void call(struct camera *cam, struct http_conn *c, const char *stok,
		 const char *name, const cJSON *params, enum fault_kind fault, int seconds)
{
	size_t len = 0;
	char *body;
	if (strcmp(name, "doAuth") == 0) {
		body = auth_do(cam, name, params, &len);
		reply(cam, c, 200, body, len, fault, seconds);
		return;
	}
	if (!stok || !camera_token_valid(cam, stok)) {
		cam->cnt.token_errors++;
		body = engine_error(NULL, name, SIM_E_BAD_TOKEN,
				    stok ? "invalid or expired token" : "missing token", &len);
		reply(cam, c, cam->cfg.token_http401 ? 401 : 200, body, len, fault, seconds);
		return;
	}
	const struct method *m = lookup(cam, name);
	if (strcmp(name, "subscribeMsg") == 0 && (!m || m->kind == MK_SPECIAL)) {
		if (fault != FAULT_NONE) {
			/* A faulty subscription never starts streaming. */
			body = engine_error(NULL, name, 0, NULL, &len);
			reply(cam, c, 200, body, len, fault, seconds);
			return;
		}
		push_subscribe(cam, c, m, name, params, after_mode(cam));
		return;
	}
	if (!m || m->kind == MK_SPECIAL) {
		body = engine_error(NULL, name, cam->cfg.unknown_method_code, "unknown method", &len);
		reply(cam, c, 200, body, len, fault, seconds);
		return;
	}
	if (preset_handles(cam->engine, m->name))
		body = preset_call(cam->engine, m, name, params, &len);
	else
		body = engine_call(cam->engine, m, name, params, &len);
	reply(cam, c, 200, body, len, fault, seconds);
}

static void on_request(void *arg, struct http_conn *c, const struct http_request *req)
{
	struct camera *cam = arg;
	char path[512];

	if (strncmp(req->target, ADMIN_PREFIX, sizeof ADMIN_PREFIX - 1) == 0) {
		if (req->first) {
			/* A connection opened for the admin path is not the client's. */
			uncount(&cam->cnt.connections);
			uncount(&cam->cnt.tls_handshakes);
			if (req->resumed)
				uncount(&cam->cnt.tls_resumed);
		}
		snprintf(path, sizeof path, "%s", req->target + sizeof ADMIN_PREFIX - 1);
		char *q = strchr(path, '?');
		if (q)
			*q = '\0';
		admin_request(cam, c, req->method, path, req->body, req->body_len);
		return;
	}

	cam->cnt.requests++;
	const char *stok = NULL;
	if (strlen(req->target) >= sizeof path) {
		reply_error(cam, c, 404, SIM_E_UNKNOWN_METHOD, "not found");
		return;
	}
	strcpy(path, req->target);
	if (control_path(path, &stok) < 0) {
		reply_error(cam, c, 404, SIM_E_UNKNOWN_METHOD, "not found");
		return;
	}
	if (strcmp(req->method, "POST") != 0) {
		reply_error(cam, c, 405, SIM_E_UNKNOWN_METHOD, "only POST is allowed");
		return;
	}
	cJSON *doc = cJSON_ParseWithLength(req->body, req->body_len);
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(doc, "method");
	if (!cJSON_IsObject(doc) || !cJSON_IsString(name)) {
		reply_error(cam, c, 400, SIM_E_INVALID_PARAMS,
			    doc ? "the body needs a \"method\" string" : "the body is not JSON");
		cJSON_Delete(doc);
		return;
	}
	camera_count_call(cam, name->valuestring);
	int seconds = 0;
	enum fault_kind fault = camera_fault_take(cam, name->valuestring, &seconds);
	const cJSON *params = cJSON_GetObjectItemCaseSensitive(doc, "params");
	call(cam, c, stok, name->valuestring, params, fault, seconds);
	cJSON_Delete(doc);
}

const struct http_hooks control_hooks = {
	.on_accept = on_accept,
	.on_handshake = on_handshake,
	.on_request = on_request,
};
