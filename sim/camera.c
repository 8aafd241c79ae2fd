/* One simulated camera: see camera.h. */
#include "camera.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "log.h"

/* ---- randomness and digests ---- */

static void random_bytes(unsigned char *buf, size_t n)
{
	if (RAND_bytes(buf, (int)n) != 1)
		abort(); /* a predictable token would be a silent lie */
}

void camera_random_alnum(char *out, size_t n)
{
	static const char set[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	size_t i = 0;
	unsigned char buf[64];
	while (i < n) {
		random_bytes(buf, sizeof buf);
		for (size_t j = 0; j < sizeof buf && i < n; j++)
			if (buf[j] < 248)   /* 248 = 4 * 62: no bias */
				out[i++] = set[buf[j] % 62];
	}
	out[n] = '\0';
}

void camera_random_hex(char *out, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char buf[64];
	size_t i = 0;
	while (i < n) {
		random_bytes(buf, sizeof buf);
		for (size_t j = 0; j < sizeof buf && i < n; j++)
			out[i++] = hex[buf[j] & 15];
	}
	out[n] = '\0';
}

static void to_hex(const unsigned char *md, size_t n, int upper, char *out)
{
	const char *hex = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[2 * n] = '\0';
}

void camera_md5_hex(const char *s, int upper, char out[33])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	EVP_Digest(s, strlen(s), md, &n, EVP_md5(), NULL);
	to_hex(md, 16, upper, out);
}

void camera_sha256_hex(const char *s, size_t len, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	EVP_Digest(s, len, md, &n, EVP_sha256(), NULL);
	to_hex(md, 32, 0, out);
}

/* ---- life ---- */

int camera_init(struct camera *cam, struct loop *lp, const char *address,
		const struct camera_config *cfg, struct engine *engine)
{
	memset(cam, 0, sizeof *cam);
	cam->lp = lp;
	strncpy(cam->address, address, sizeof cam->address - 1);
	strncpy(cam->ip, address, sizeof cam->ip - 1);
	cam->cfg = *cfg;
	cam->engine = engine;
	camera_set_password(cam, cfg->password);
	cam->capidx = 64;
	cam->callidx = malloc(cam->capidx * sizeof *cam->callidx);
	if (!cam->callidx)
		return -1;
	for (size_t i = 0; i < cam->capidx; i++)
		cam->callidx[i] = -1;
	return 0;
}

void camera_free(struct camera *cam)
{
	for (size_t i = 0; i < cam->ncalls; i++)
		free(cam->calls[i].name);
	free(cam->calls);
	free(cam->callidx);
	free(cam->nonces);
	engine_free(cam->engine);
	cam->engine = NULL;
	cam->calls = NULL;
	cam->callidx = NULL;
	cam->nonces = NULL;
}

void camera_set_password(struct camera *cam, const char *password)
{
	if (password != cam->cfg.password) {
		strncpy(cam->cfg.password, password, sizeof cam->cfg.password - 1);
		cam->cfg.password[sizeof cam->cfg.password - 1] = '\0';
	}
	camera_md5_hex(cam->cfg.password, 1, cam->cfg.password_md5);
}

/* ---- identity ---- */

/* Replace the string at state[key].field, if there is one. */
static void set_state_string(cJSON *state, const char *key, const char *field, const char *value)
{
	cJSON *obj = cJSON_GetObjectItemCaseSensitive(state, key);
	if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(obj, field)))
		return;
	cJSON *v = cJSON_CreateString(value);
	if (v && !cJSON_ReplaceItemInObjectCaseSensitive(obj, field, v))
		cJSON_Delete(v);
}

static void apply_identity(struct camera *cam)
{
	cJSON *state = cam->engine ? engine_state_mut(cam->engine) : NULL;
	if (state && cam->stream_port > 0) {
		char port[16];
		snprintf(port, sizeof port, "%d", cam->stream_port);
		set_state_string(state, "streamPort", "streamPort", port);
	}
	if (!state || !cam->alias[0])
		return;
	const char *m = cam->mac;
	char dashed[18];
	snprintf(dashed, sizeof dashed, "%.2s-%.2s-%.2s-%.2s-%.2s-%.2s", m, m + 2, m + 4, m + 6,
		 m + 8, m + 10);
	set_state_string(state, "deviceInfo", "alias", cam->alias);
	set_state_string(state, "alias", "alias", cam->alias);
	set_state_string(state, "deviceStatus", "dev_alias", cam->alias);
	set_state_string(state, "deviceInfo", "mac", dashed);
	set_state_string(state, "deviceStatus", "mac", dashed);
}

void camera_set_identity(struct camera *cam, const char *alias, const char *mac)
{
	snprintf(cam->alias, sizeof cam->alias, "%s", alias);
	snprintf(cam->mac, sizeof cam->mac, "%s", mac);
	apply_identity(cam);
}

void camera_set_stream_port(struct camera *cam, int port)
{
	cam->stream_port = port;
	apply_identity(cam);
}

void camera_reset_state(struct camera *cam)
{
	engine_reset_state(cam->engine);
	apply_identity(cam);
}

/* ---- tokens ---- */

static uint64_t lifetime_ms(const struct camera *cam)
{
	return (uint64_t)(cam->cfg.token_lifetime > 0 ? cam->cfg.token_lifetime : 0) * 1000u;
}

static void token_drop(struct camera *cam, size_t i)
{
	memmove(&cam->tokens[i], &cam->tokens[i + 1], (cam->ntokens - i - 1) * sizeof cam->tokens[0]);
	cam->ntokens--;
}

void camera_token_issue(struct camera *cam, char out[33])
{
	if (cam->ntokens == CAMERA_MAX_TOKENS)
		token_drop(cam, 0); /* tokens are kept oldest first */
	struct token *t = &cam->tokens[cam->ntokens++];
	camera_random_alnum(t->stok, 32);
	t->issued = loop_now(cam->lp);
	memcpy(out, t->stok, 33);
}

int camera_token_valid(struct camera *cam, const char *stok)
{
	uint64_t now = loop_now(cam->lp), life = lifetime_ms(cam);
	for (size_t i = 0; i < cam->ntokens; i++) {
		if (strcmp(cam->tokens[i].stok, stok) != 0)
			continue;
		if (now - cam->tokens[i].issued >= life) {
			token_drop(cam, i);
			return 0;
		}
		return 1;
	}
	return 0;
}

void camera_tokens_clear(struct camera *cam)
{
	cam->ntokens = 0;
}

/* ---- nonces ---- */

void camera_nonce_issue(struct camera *cam, char out[33])
{
	if (!cam->nonces && !(cam->nonces = calloc(CAMERA_MAX_NONCES, sizeof *cam->nonces))) {
		camera_random_hex(out, 32);     /* one that will never be accepted */
		return;
	}
	struct nonce *n = &cam->nonces[cam->nonce_next];
	cam->nonce_next = (cam->nonce_next + 1) % CAMERA_MAX_NONCES;
	camera_random_hex(n->value, 32);
	n->issued = loop_now(cam->lp);
	n->used = 0;
	memcpy(out, n->value, 33);
}

int camera_nonce_take(struct camera *cam, const char *value)
{
	if (strlen(value) != 32 || !cam->nonces)
		return 0;
	uint64_t now = loop_now(cam->lp);
	for (size_t i = 0; i < CAMERA_MAX_NONCES; i++) {
		struct nonce *n = &cam->nonces[i];
		if (n->value[0] == '\0' || memcmp(n->value, value, 33) != 0)
			continue;
		if (n->used || now - n->issued >= CAMERA_NONCE_MS)
			return 0;
		n->used = 1;
		return 1;
	}
	return 0;
}

/* ---- lockout ---- */

int camera_locked(struct camera *cam)
{
	if (cam->locked_until && loop_now(cam->lp) >= cam->locked_until)
		cam->locked_until = 0;
	return cam->locked_until != 0;
}

int camera_login_failed(struct camera *cam)
{
	cam->failures++;
	if (cam->cfg.lockout > 0 && cam->failures >= cam->cfg.lockout) {
		cam->failures = 0;
		cam->locked_until = loop_now(cam->lp) + (uint64_t)cam->cfg.lock_seconds * 1000u;
		if (!cam->locked_until)
			cam->locked_until = 1;
		sim_log("account locked for %d s", cam->cfg.lock_seconds);
		return 1;
	}
	return 0;
}

void camera_login_ok(struct camera *cam)
{
	cam->failures = 0;
}

void camera_unlock(struct camera *cam)
{
	cam->failures = 0;
	cam->locked_until = 0;
}

/* ---- counters ---- */

static size_t hash_name(const char *s)
{
	size_t h = 2166136261u;  /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static int grow_index(struct camera *cam)
{
	size_t cap = cam->capidx * 2;
	int *idx = malloc(cap * sizeof *idx);
	if (!idx)
		return -1;
	for (size_t i = 0; i < cap; i++)
		idx[i] = -1;
	for (size_t k = 0; k < cam->ncalls; k++) {
		size_t i = hash_name(cam->calls[k].name) & (cap - 1);
		while (idx[i] >= 0)
			i = (i + 1) & (cap - 1);
		idx[i] = (int)k;
	}
	free(cam->callidx);
	cam->callidx = idx;
	cam->capidx = cap;
	return 0;
}

static void count_call_n(struct camera *cam, const char *name, unsigned long long add)
{
	if (strlen(name) >= CAMERA_CALLNAME_MAX || cam->ncalls >= CAMERA_MAX_CALLNAMES)
		name = "(other)";
	size_t i = hash_name(name) & (cam->capidx - 1);
	while (cam->callidx[i] >= 0) {
		struct callcount *cc = &cam->calls[cam->callidx[i]];
		if (strcmp(cc->name, name) == 0) {
			cc->n += add;
			return;
		}
		i = (i + 1) & (cam->capidx - 1);
	}
	if (cam->ncalls == cam->capcalls) {
		size_t n = cam->capcalls ? cam->capcalls * 2 : 32;
		struct callcount *p = realloc(cam->calls, n * sizeof *p);
		if (!p)
			return;
		cam->calls = p;
		cam->capcalls = n;
	}
	size_t len = strlen(name) + 1;
	char *copy = malloc(len);
	if (!copy)
		return;
	memcpy(copy, name, len);
	cam->calls[cam->ncalls].name = copy;
	cam->calls[cam->ncalls].n = add;
	cam->callidx[i] = (int)cam->ncalls;
	cam->ncalls++;
	if (cam->ncalls * 2 > cam->capidx)
		grow_index(cam);
}

void camera_count_call(struct camera *cam, const char *name)
{
	count_call_n(cam, name, 1);
}

void camera_counters_add(struct camera *total, const struct camera *cam)
{
	const struct camera_counters *a = &cam->cnt;
	struct camera_counters *t = &total->cnt;
	t->requests += a->requests;
	t->connections += a->connections;
	t->tls_handshakes += a->tls_handshakes;
	t->tls_resumed += a->tls_resumed;
	t->token_errors += a->token_errors;
	t->login_probe += a->login_probe;
	t->login_md5 += a->login_md5;
	t->login_challenge += a->login_challenge;
	t->login_ok += a->login_ok;
	t->login_failed += a->login_failed;
	t->login_locked += a->login_locked;
	t->odp_requests += a->odp_requests;
	t->odp_replies += a->odp_replies;
	t->odp_ignored += a->odp_ignored;
	t->push_events += a->push_events;
	t->push_filtered += a->push_filtered;
	t->push_heartbeats += a->push_heartbeats;
	t->push_overflows += a->push_overflows;
	total->nsubs += cam->nsubs;
	for (size_t i = 0; i < cam->ncalls; i++)
		count_call_n(total, cam->calls[i].name, cam->calls[i].n);
}

void camera_reset_counters(struct camera *cam)
{
	memset(&cam->cnt, 0, sizeof cam->cnt);
	cam->push_seq = 0;
	for (size_t i = 0; i < cam->ncalls; i++)
		free(cam->calls[i].name);
	cam->ncalls = 0;
	for (size_t i = 0; i < cam->capidx; i++)
		cam->callidx[i] = -1;
}

cJSON *camera_counters_json(const struct camera *cam)
{
	const struct camera_counters *c = &cam->cnt;
	cJSON *o = cJSON_CreateObject();
	cJSON *calls = cJSON_AddObjectToObject(o, "calls");
	for (size_t i = 0; i < cam->ncalls; i++)
		cJSON_AddNumberToObject(calls, cam->calls[i].name, (double)cam->calls[i].n);
	cJSON *l = cJSON_AddObjectToObject(o, "logins");
	cJSON_AddNumberToObject(l, "probe", (double)c->login_probe);
	cJSON_AddNumberToObject(l, "md5", (double)c->login_md5);
	cJSON_AddNumberToObject(l, "challenge", (double)c->login_challenge);
	cJSON_AddNumberToObject(l, "ok", (double)c->login_ok);
	cJSON_AddNumberToObject(l, "failed", (double)c->login_failed);
	cJSON_AddNumberToObject(l, "locked", (double)c->login_locked);
	cJSON_AddNumberToObject(o, "requests", (double)c->requests);
	cJSON_AddNumberToObject(o, "connections", (double)c->connections);
	cJSON_AddNumberToObject(o, "tls_handshakes", (double)c->tls_handshakes);
	cJSON_AddNumberToObject(o, "tls_resumed", (double)c->tls_resumed);
	cJSON_AddNumberToObject(o, "token_errors", (double)c->token_errors);
	cJSON *d = cJSON_AddObjectToObject(o, "odp");
	cJSON_AddNumberToObject(d, "requests", (double)c->odp_requests);
	cJSON_AddNumberToObject(d, "replies", (double)c->odp_replies);
	cJSON_AddNumberToObject(d, "ignored", (double)c->odp_ignored);
	cJSON *p = cJSON_AddObjectToObject(o, "push");
	cJSON_AddNumberToObject(p, "subscriptions", (double)cam->nsubs);
	cJSON_AddNumberToObject(p, "events_sent", (double)c->push_events);
	cJSON_AddNumberToObject(p, "filtered", (double)c->push_filtered);
	cJSON_AddNumberToObject(p, "heartbeats", (double)c->push_heartbeats);
	cJSON_AddNumberToObject(p, "overflows", (double)c->push_overflows);
	return o;
}

/* ---- faults ---- */

int camera_fault_add(struct camera *cam, const struct fault *f)
{
	if (cam->nfaults == CAMERA_MAX_FAULTS)
		return -1;
	cam->faults[cam->nfaults++] = *f;
	return 0;
}

enum fault_kind camera_fault_take(struct camera *cam, const char *method, int *seconds)
{
	for (size_t i = 0; i < cam->nfaults; i++) {
		struct fault *f = &cam->faults[i];
		if (f->method[0] && strcmp(f->method, method) != 0)
			continue;
		enum fault_kind k = f->kind;
		*seconds = f->seconds;
		if (--f->count <= 0) {
			memmove(f, f + 1, (cam->nfaults - i - 1) * sizeof *f);
			cam->nfaults--;
		}
		return k;
	}
	return FAULT_NONE;
}

void camera_faults_clear(struct camera *cam)
{
	cam->nfaults = 0;
}

void camera_odp_fault_set(struct camera *cam, enum odp_fault_kind kind, int count)
{
	cam->odp_fault = count == 0 ? ODP_FAULT_NONE : kind;
	cam->odp_fault_count = cam->odp_fault == ODP_FAULT_NONE ? 0 : count;
	cam->odp_fault_gen++;
}

enum odp_fault_kind camera_odp_fault_take(struct camera *cam)
{
	enum odp_fault_kind k = cam->odp_fault;
	if (k != ODP_FAULT_NONE && cam->odp_fault_count > 0 && --cam->odp_fault_count == 0)
		cam->odp_fault = ODP_FAULT_NONE;
	return k;
}
