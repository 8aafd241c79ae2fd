/* The stream port's admin endpoints (/__sim__/stream_config, stream_fault,
 * stream_state, talk, stream_file and the stream part of reset): their
 * JSON in and out. The top layer of the stream port (stream_int.h has the
 * layers): it may call any of the others, and none calls it. */
#include "stream_int.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "stream_digest.h"

static const char *const kind_names[] = {"preview", "playback", "download", "talk"};
static const char *const dl_end_names[] = {"notification", "quiet", "close", NULL};

static void service_all(struct stream_server *srv)
{
	struct conn *c = srv->conns;
	while (c) {
		struct conn *next = c->next;
		conn_service(c);
		c = next;
	}
}

static cJSON *config_json(const struct stream_server *srv)
{
	const struct stream_settings *s = &srv->set;
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON_AddNumberToObject(o, "port", srv->ls.port);
	cJSON_AddStringToObject(o, "qop", s->qop_auth ? "auth" : "none");
	cJSON_AddStringToObject(o, "algorithm", s->sha256 ? "SHA-256" : "MD5");
	cJSON_AddBoolToObject(o, "opaque", s->opaque);
	cJSON_AddBoolToObject(o, "quoted_only", s->quoted_only);
	cJSON_AddBoolToObject(o, "bare_responses", s->bare_responses);
	cJSON_AddNumberToObject(o, "speed", s->speed);
	cJSON_AddStringToObject(o, "video_codec", s->h265 ? "H265" : "H264");
	cJSON_AddStringToObject(o, "username", s->username);
	cJSON_AddStringToObject(o, "realm", SD_REALM);
	cJSON_AddStringToObject(o, "download_framing", s->dl_rtp ? "rtp" : "raw");
	cJSON_AddBoolToObject(o, "download_size", !s->dl_unsized);
	cJSON_AddStringToObject(o, "download_end", dl_end_names[s->dl_end]);
	cJSON_AddStringToObject(o, "end_event", s->end_event[0] ? s->end_event : "stream_end");
	cJSON_AddStringToObject(o, "end_status", s->end_status);
	cJSON_AddBoolToObject(o, "download_endless", s->dl_endless);
	return o;
}

static int is_str(const cJSON *v, const char *s)
{
	return cJSON_IsString(v) && strcmp(v->valuestring, s) == 0;
}

/* A name for end_event / end_status: printable ASCII, no quote or
 * backslash (it goes into JSON as is), shorter than n. */
static int name_ok(const cJSON *v, size_t n, int empty_ok)
{
	if (!cJSON_IsString(v) || strlen(v->valuestring) >= n || (!empty_ok && !*v->valuestring))
		return 0;
	for (const char *p = v->valuestring; *p; p++)
		if (*p < 0x20 || *p > 0x7e || *p == '"' || *p == '\\')
			return 0;
	return 1;
}

/* The stream_config keys that take one of a few words: the int field
 * becomes the word's index. */
static const char *const qop_words[] = {"none", "auth", NULL};
static const char *const algo_words[] = {"MD5", "SHA-256", NULL};
static const char *const codec_words[] = {"H264", "H265", NULL};
static const char *const framing_words[] = {"raw", "rtp", NULL};

static const struct {
	const char *key;
	const char *const *words;
	size_t off;
	const char *msg;
} word_keys[] = {
	{"qop", qop_words, offsetof(struct stream_settings, qop_auth), "qop: \"auth\" or \"none\""},
	{"algorithm", algo_words, offsetof(struct stream_settings, sha256),
	 "algorithm: \"MD5\" or \"SHA-256\""},
	{"video_codec", codec_words, offsetof(struct stream_settings, h265),
	 "video_codec: \"H264\" or \"H265\""},
	{"download_framing", framing_words, offsetof(struct stream_settings, dl_rtp),
	 "download_framing: \"raw\" or \"rtp\""},
	{"download_end", dl_end_names, offsetof(struct stream_settings, dl_end),
	 "download_end: \"notification\", \"quiet\" or \"close\""},
};

/* The true-or-false keys (download_size true is dl_unsized 0). */
static const struct {
	const char *key;
	size_t off;
	int negate;
} bool_keys[] = {
	{"opaque", offsetof(struct stream_settings, opaque), 0},
	{"quoted_only", offsetof(struct stream_settings, quoted_only), 0},
	{"bare_responses", offsetof(struct stream_settings, bare_responses), 0},
	{"download_size", offsetof(struct stream_settings, dl_unsized), 1},
	{"download_endless", offsetof(struct stream_settings, dl_endless), 0},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* The keys of neither table. */
static const char *setting_other(struct stream_settings *s, const char *k, const cJSON *v)
{
	static char msg[160];
	if (strcmp(k, "speed") == 0) {
		if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= 1000))
			return "speed: a number 0..1000 (1 = real time, 0 = as fast as possible)";
		s->speed = v->valuedouble;
	} else if (strcmp(k, "username") == 0) {
		if (!cJSON_IsString(v) || !*v->valuestring ||
		    strlen(v->valuestring) >= sizeof s->username)
			return "username: a non-empty string";
		snprintf(s->username, sizeof s->username, "%s", v->valuestring);
	} else if (strcmp(k, "end_event") == 0) {
		if (!name_ok(v, sizeof s->end_event, 0))
			return "end_event: a name of 1..47 printable characters";
		snprintf(s->end_event, sizeof s->end_event, "%s", v->valuestring);
	} else if (strcmp(k, "end_status") == 0) {
		if (!name_ok(v, sizeof s->end_status, 1))
			return "end_status: a name of 0..23 printable characters";
		snprintf(s->end_status, sizeof s->end_status, "%s", v->valuestring);
	} else {
		snprintf(msg, sizeof msg, "unknown stream_config key \"%.100s\"", k);
		return msg;
	}
	return NULL;
}

/* One key into s. Returns NULL or what is wrong. */
static const char *setting_apply(struct stream_settings *s, const char *k, const cJSON *v)
{
	static char msg[160];
	for (size_t i = 0; i < COUNT(word_keys); i++) {
		if (strcmp(k, word_keys[i].key) != 0)
			continue;
		for (int w = 0; word_keys[i].words[w]; w++)
			if (is_str(v, word_keys[i].words[w])) {
				*(int *)((char *)s + word_keys[i].off) = w;
				return NULL;
			}
		return word_keys[i].msg;
	}
	for (size_t i = 0; i < COUNT(bool_keys); i++) {
		if (strcmp(k, bool_keys[i].key) != 0)
			continue;
		if (!cJSON_IsBool(v)) {
			snprintf(msg, sizeof msg, "%s: true or false", k);
			return msg;
		}
		*(int *)((char *)s + bool_keys[i].off) = cJSON_IsTrue(v) != bool_keys[i].negate;
		return NULL;
	}
	return setting_other(s, k, v);
}

/* The keys of in applied to a copy of *set; *set changes only if all are
 * right. Returns NULL or what is wrong. */
static const char *settings_apply(struct stream_settings *set, const cJSON *in)
{
	struct stream_settings s = *set;
	const cJSON *v;
	cJSON_ArrayForEach(v, in) {
		const char *why = setting_apply(&s, v->string, v);
		if (why)
			return why;
	}
	*set = s;
	return NULL;
}

static const char *apply_config(struct stream_server *srv, const cJSON *in)
{
	double speed = srv->set.speed;
	const char *err = settings_apply(&srv->set, in);
	if (!err && srv->set.speed != speed)
		srv->speed_gen++;
	return err;
}

const char *stream_settings_set(struct stream_settings *s, const char *key_value)
{
	static char msg[160];
	const char *eq = strchr(key_value, '=');
	if (!eq || eq == key_value || (size_t)(eq - key_value) > 64)
		return "--stream-set: KEY=VALUE expected";
	char key[65];
	memcpy(key, key_value, (size_t)(eq - key_value));
	key[eq - key_value] = '\0';
	cJSON *in = cJSON_CreateObject();
	cJSON *v = cJSON_Parse(eq + 1);
	if (!v || cJSON_IsObject(v) || cJSON_IsArray(v) || cJSON_IsNull(v)) {
		cJSON_Delete(v);
		v = cJSON_CreateString(eq + 1);
	}
	if (!in || !v) {
		cJSON_Delete(in);
		cJSON_Delete(v);
		return "out of memory";
	}
	cJSON_AddItemToObject(in, key, v);
	const char *err = settings_apply(s, in);
	if (err) {
		snprintf(msg, sizeof msg, "--stream-set %s", err);
		err = msg;
	}
	cJSON_Delete(in);
	return err;
}

static cJSON *fault_json(const struct stream_server *srv, int ok)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	if (ok)
		cJSON_AddTrueToObject(o, "ok");
	cJSON_AddStringToObject(o, "fault", fault_names[srv->fault]);
	cJSON_AddNumberToObject(o, "after", srv->fault_after);
	cJSON_AddNumberToObject(o, "connections", (double)srv->nconns);
	return o;
}

static const char *parse_fault(const cJSON *in, enum sfault *f, int *after)
{
	static char msg[160];
	int has = 0;
	*after = 10;
	const cJSON *v;
	cJSON_ArrayForEach(v, in) {
		if (strcmp(v->string, "fault") == 0) {
			has = 0;
			for (size_t i = 0; i < F_COUNT; i++)
				if (is_str(v, fault_names[i])) {
					*f = (enum sfault)i;
					has = 1;
				}
			if (!has)
				return "fault: \"none\", \"cut_mid_frame\", \"garbage\", \"huge_frame\", "
				       "\"stale_nonce\", \"stall\", \"stray_channel\", \"codec_change\", "
				       "\"notify_flood\", \"garbage_trickle\" or \"giant_frames\"";
		} else if (strcmp(v->string, "after") == 0) {
			if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
			    v->valuedouble < 0 || v->valuedouble > 1e6)
				return "after: frames, an integer 0..1000000";
			*after = (int)v->valuedouble;
		} else {
			snprintf(msg, sizeof msg, "unknown stream_fault key \"%.100s\"", v->string);
			return msg;
		}
	}
	return has ? NULL : "fault is required";
}

static cJSON *session_json(const struct recent *r, int live)
{
	char chs[16];
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	channels_str(r->ch0, r->nch, chs, sizeof chs);
	cJSON_AddStringToObject(o, "id", r->id);
	cJSON_AddStringToObject(o, "kind", kind_names[r->kind]);
	cJSON_AddStringToObject(o, "channels", chs);
	if (r->kind == K_TALK)
		cJSON_AddStringToObject(o, "codec", "G711alaw");
	else
		cJSON_AddStringToObject(o, "codec", sm_codec_name(r->codec));
	if (r->kind == K_DOWNLOAD)
		cJSON_AddStringToObject(o, "framing", r->rtp ? "rtp" : "raw");
	if (r->kind == K_PLAYBACK || (r->kind == K_DOWNLOAD && r->rtp)) {
		cJSON *w = cJSON_AddObjectToObject(o, "window");
		if (w) {
			add_epoch(w, "start", r->start);
			add_epoch(w, "end", r->end);
		}
	}
	cJSON_AddNumberToObject(o, "frames_sent", (double)r->frames_sent);
	cJSON_AddNumberToObject(o, "bytes_sent", (double)r->bytes_sent);
	cJSON_AddBoolToObject(o, "ended", r->ended);
	cJSON_AddBoolToObject(o, "stopped", r->stopped);
	cJSON_AddBoolToObject(o, "live", live);
	cJSON_AddNumberToObject(o, "connection", (double)r->conn);
	return o;
}

static cJSON *state_json(const struct stream_server *srv)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON_AddNumberToObject(o, "connections", (double)srv->nconns);
	cJSON *a = cJSON_AddArrayToObject(o, "sessions");
	for (const struct conn *c = srv->conns; a && c; c = c->next)
		for (const struct sess *s = c->sess; s; s = s->next) {
			struct recent live;
			recent_fill(&live, c, s);
			live.stopped = 0;
			cJSON *e = session_json(&live, 1);
			if (e)
				cJSON_AddItemToArray(a, e);
		}
	for (size_t i = 0; a && i < srv->nrecent; i++) {
		size_t k = (srv->recent_next + RECENT_MAX - srv->nrecent + i) % RECENT_MAX;
		cJSON *e = session_json(&srv->recent[k], 0);
		if (e)
			cJSON_AddItemToArray(a, e);
	}
	cJSON_AddNumberToObject(o, "auth_failures", (double)srv->auth_failures);
	cJSON_AddNumberToObject(o, "requests", (double)srv->requests);
	cJSON_AddNumberToObject(o, "stray_frames_in", (double)srv->stray_in);
	return o;
}

static cJSON *error_json(const char *msg)
{
	cJSON *o = cJSON_CreateObject();
	if (o)
		cJSON_AddStringToObject(o, "error", msg);
	return o;
}

/* Each path's handler: the HTTP status with its answer in *out, or 0 for
 * a verb it does not take. */
typedef int (*stream_path_fn)(struct stream_server *srv, int get, int post, const cJSON *in,
			      cJSON **out);

static int p_config(struct stream_server *srv, int get, int post, const cJSON *in, cJSON **out)
{
	const char *err;
	if (!get && !post)
		return 0;
	if (post && in && (err = apply_config(srv, in)) != NULL) {
		*out = error_json(err);
		return 400;
	}
	if (post) {
		sim_log("admin: stream config changed");
		service_all(srv);
	}
	*out = config_json(srv);
	return 200;
}

static int p_fault(struct stream_server *srv, int get, int post, const cJSON *in, cJSON **out)
{
	const char *err;
	if (get) {
		*out = fault_json(srv, 0);
		return 200;
	}
	if (!post)
		return 0;
	enum sfault f = F_NONE;
	int after = 10;
	if ((err = parse_fault(in, &f, &after)) != NULL) {
		*out = error_json(err);
		return 400;
	}
	set_fault(srv, f, after);
	sim_log("admin: stream fault %s after %d", fault_names[f], after);
	service_all(srv);
	*out = fault_json(srv, 1);
	return 200;
}

static int p_state(struct stream_server *srv, int get, int post, const cJSON *in, cJSON **out)
{
	(void)post;
	(void)in;
	if (!get)
		return 0;
	*out = state_json(srv);
	return 200;
}

static int p_talk(struct stream_server *srv, int get, int post, const cJSON *in, cJSON **out)
{
	(void)post;
	(void)in;
	if (!get)
		return 0;
	*out = talk_json(&srv->talk);
	return 200;
}

static int p_file(struct stream_server *srv, int get, int post, const cJSON *in, cJSON **out)
{
	(void)srv;
	(void)post;
	(void)in;
	if (!get)
		return 0;
	size_t n = 0;
	sm_recording(&n);
	cJSON *o = cJSON_CreateObject();
	if (o) {
		cJSON_AddNumberToObject(o, "size", (double)n);
		cJSON_AddStringToObject(o, "sha256", sm_recording_sha256());
	}
	*out = o;
	return 200;
}

static const struct {
	const char *path;
	stream_path_fn fn;
} stream_paths[] = {
	{"stream_config", p_config},
	{"stream_fault", p_fault},
	{"stream_state", p_state},
	{"talk", p_talk},
	{"stream_file", p_file},
};

int stream_admin(struct camera *cam, int get, int post, const char *path, const cJSON *in,
		 cJSON **out)
{
	size_t i = 0;
	while (i < COUNT(stream_paths) && strcmp(path, stream_paths[i].path) != 0)
		i++;
	if (i == COUNT(stream_paths))
		return 0;
	*out = NULL;
	struct stream_server *srv = cam->stream;
	if (!srv) {
		*out = error_json("this camera has no stream port");
		return 404;
	}
	int status = stream_paths[i].fn(srv, get, post, in, out);
	if (status)
		return status;
	*out = error_json("wrong verb for this admin path");
	return 405;
}

void stream_reset(struct camera *cam)
{
	struct stream_server *srv = cam->stream;
	if (!srv)
		return;
	if (srv->set.speed != srv->start.speed)
		srv->speed_gen++;
	srv->set = srv->start;
	set_fault(srv, F_NONE, 10);
	srv->requests = srv->auth_failures = srv->stray_in = 0;
	srv->nrecent = srv->recent_next = 0;
	talk_clear(&srv->talk);
	service_all(srv);
}
