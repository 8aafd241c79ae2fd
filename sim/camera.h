/* One simulated camera: its configuration, its identity (address, MAC,
 * alias), its method state (the engine), its tokens, login nonces and
 * lockout, its counters and pending faults. Listeners (the control port,
 * the discovery responder, the stream port) point at a camera; a
 * fleet (fleet.h) is several cameras in one loop. */
#ifndef SIM_CAMERA_H
#define SIM_CAMERA_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "engine.h"
#include "loop.h"

#define CAMERA_MAX_TOKENS     64
#define CAMERA_MAX_NONCES     4096
#define CAMERA_NONCE_MS       60000u
#define CAMERA_MAX_FAULTS     64
#define CAMERA_MAX_CALLNAMES  4096    /* distinct names counted; more go to "(other)" */
#define CAMERA_CALLNAME_MAX   128

enum auth_mode { AUTH_MD5, AUTH_CHALLENGE };
enum tz_spelling { TZ_BOTH, TZ_ONLY_TIMEZONE, TZ_ONLY_TIMEZONE_CAMEL };

struct camera_config {
	char username[64];
	char password[128];
	char password_md5[33];          /* uppercase hex, from password */
	enum auth_mode auth;
	int close_after_answer;
	int stok_top;
	enum tz_spelling tz;
	int token_http401;
	int lockout;                    /* consecutive failures that lock; 0 = never */
	int lock_seconds;
	int token_lifetime;             /* seconds */
	int trailing_commas;            /* answers and parts written with trailing commas */
	int unknown_method_code;        /* errCode of an unknown method (default -40210) */
};

struct camera_counters {
	unsigned long long requests, connections, tls_handshakes, tls_resumed, token_errors;
	unsigned long long login_probe, login_md5, login_challenge;
	unsigned long long login_ok, login_failed, login_locked;
	unsigned long long odp_requests, odp_replies, odp_ignored;
	unsigned long long push_events, push_filtered, push_heartbeats, push_overflows;
};

enum fault_kind { FAULT_NONE = -1, FAULT_STALL, FAULT_CLOSE_MID, FAULT_NON_JSON, FAULT_HTTP500,
	/* answers that never end while bytes flow (httpd.h, http_endless) */
	FAULT_ENDLESS_1XX, FAULT_ENDLESS_HEADERS, FAULT_ENDLESS_TRAILERS, FAULT_TRICKLE,
	FAULT_BAD_CHUNK /* a chunked answer whose second chunk-size line is not hex */ };

/* Discovery faults (odp.c applies them; names in odp.h). */
enum odp_fault_kind {
	ODP_FAULT_NONE, ODP_FAULT_BAD_CRC, ODP_FAULT_BARE_MAGIC, ODP_FAULT_DUPLICATE,
	ODP_FAULT_OVERSIZED, ODP_FAULT_ENCRYPT, ODP_FAULT_FOREIGN_SERIAL, ODP_FAULT_SILENT,
	ODP_FAULT_FLOOD, ODP_FAULT_SPOOF
};

struct fault {
	enum fault_kind kind;
	char method[CAMERA_CALLNAME_MAX];   /* "" = any method */
	int count;
	int seconds;
};

struct token {
	char stok[33];
	uint64_t issued;                /* loop ms */
};

struct nonce {
	char value[33];
	uint64_t issued;
	int used;
};

struct callcount {
	char *name;
	unsigned long long n;
};

struct push_sub;
struct stream_server;

struct camera {
	struct loop *lp;
	char address[64];               /* as given (--address), or the fleet's */
	char ip[64];                    /* numeric form of address: discovery's "ip" */
	char mac[13];                   /* 12 uppercase hex digits */
	char alias[64];                 /* a fleet camera's own alias; "" = the state's */
	struct camera_config cfg;
	struct engine *engine;
	struct camera **fleet;          /* every camera of the process (itself included) */
	size_t nfleet;

	struct token tokens[CAMERA_MAX_TOKENS];
	size_t ntokens;
	struct nonce *nonces;           /* CAMERA_MAX_NONCES, allocated at the first one */
	size_t nonce_next;
	int failures;
	uint64_t locked_until;          /* loop ms; 0 = not locked */

	struct camera_counters cnt;
	struct callcount *calls;        /* in first-seen order */
	size_t ncalls, capcalls;
	int *callidx;                   /* open-addressing index into calls, -1 = empty */
	size_t capidx;

	struct fault faults[CAMERA_MAX_FAULTS];
	size_t nfaults;
	enum odp_fault_kind odp_fault;
	int odp_fault_count;            /* replies it still applies to; -1 = until cleared */
	unsigned odp_fault_gen;         /* + 1 at each camera_odp_fault_set: ends a flood */
	unsigned odp_flood_ms;          /* the flood fault: how long each flood lasts */
	char odp_spoof_ip[64];          /* the spoof fault: the "ip" the reply claims */
	int odp_spoof_port;             /* and the "openapi_port" it claims; 0 = none */

	struct push_sub *subs;          /* live subscribeMsg streams (push.c) */
	int push_bad_boundary;         /* the "bad_boundary" push fault, for the next subscribeMsg */
	int push_refuse;               /* the "refuse" push fault: refuse the next subscribeMsg */
	int push_trickle;               /* the "trickle" push fault: new subscriptions trickle garbage */
	size_t nsubs;                   /* how many */
	unsigned long long push_seq;    /* last "seq" given to an injected event */

	struct stream_server *stream;   /* its stream port (stream.c), or NULL */
	int stream_port;                /* what getStreamPort answers; 0 = the state's */
};

/* cfg is copied; the engine is owned by the camera from now on. */
int camera_init(struct camera *cam, struct loop *lp, const char *address,
		const struct camera_config *cfg, struct engine *engine);
void camera_free(struct camera *cam);

void camera_set_password(struct camera *cam, const char *password);

/* Give the camera its own alias and MAC (12 hex digits) and write them into
 * its state (deviceInfo, alias, deviceStatus, where those fields exist); a
 * state reset keeps them. */
void camera_set_identity(struct camera *cam, const char *alias, const char *mac);
/* Back to the initial state (with the identity above). */
void camera_reset_state(struct camera *cam);
/* The stream port getStreamPort answers (as a string), kept by a state
 * reset. */
void camera_set_stream_port(struct camera *cam, int port);

/* Tokens (stok): 32 random [A-Za-z0-9]; at most CAMERA_MAX_TOKENS live,
 * the oldest evicted; valid for cfg.token_lifetime seconds. */
void camera_token_issue(struct camera *cam, char out[33]);
int camera_token_valid(struct camera *cam, const char *stok);
void camera_tokens_clear(struct camera *cam);

/* Login nonces of the challenge doAuth: single use, CAMERA_NONCE_MS. */
void camera_nonce_issue(struct camera *cam, char out[33]);
int camera_nonce_take(struct camera *cam, const char *value);

/* Lockout. camera_login_failed() returns 1 if this failure locked it. */
int camera_locked(struct camera *cam);
int camera_login_failed(struct camera *cam);
void camera_login_ok(struct camera *cam);
void camera_unlock(struct camera *cam);

void camera_count_call(struct camera *cam, const char *name);
void camera_reset_counters(struct camera *cam);
cJSON *camera_counters_json(const struct camera *cam);
/* Add cam's counters (calls merged by name) to total's. */
void camera_counters_add(struct camera *total, const struct camera *cam);

/* Faults: queue one; take the one that applies to the next request. */
int camera_fault_add(struct camera *cam, const struct fault *f);
enum fault_kind camera_fault_take(struct camera *cam, const char *method, int *seconds);
void camera_faults_clear(struct camera *cam);

/* Discovery faults: one kind at a time, for count replies (-1 = until
 * cleared); take returns the kind that applies to the next reply. The
 * flood and spoof faults' arguments (odp_flood_ms, odp_spoof_*) are set
 * by the caller; a set ends a flood under way (odp_fault_gen). */
void camera_odp_fault_set(struct camera *cam, enum odp_fault_kind kind, int count);
enum odp_fault_kind camera_odp_fault_take(struct camera *cam);

/* Randomness from OpenSSL: n characters of [A-Za-z0-9] or of lowercase hex,
 * NUL-terminated (out has n + 1 bytes). */
void camera_random_alnum(char *out, size_t n);
void camera_random_hex(char *out, size_t n);

/* Lowercase or uppercase hex digests of a string. out has 2*len+1 bytes. */
void camera_md5_hex(const char *s, int upper, char out[33]);
void camera_sha256_hex(const char *s, size_t len, char out[65]);

#endif
