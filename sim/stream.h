/* The stream port of each camera (WIRE-NOTES §3): plain TCP, MULTITRANS
 * requests in RTSP/1.0 framing with digest authentication, JSON bodies,
 * and RTP over the same connection in "$" frames: preview, playback,
 * download, talk, stop, play, force_iframe. docs/sim.md has the whole
 * story (wire forms, error codes, faults, the admin endpoints).
 *
 * Limits, per connection:
 *   STREAM_HEAD_MAX     16 KiB request head          -> 400 and close
 *   STREAM_BODY_MAX     64 KiB request body          -> 413 and close
 *   STREAM_OUT_LOW      media is made only while fewer bytes than this
 *                       are unsent (a slow reader slows the media down)
 *   STREAM_OUT_MAX      4 MiB unsent (answers piling up) -> close
 *   STREAM_SESSIONS     16 sessions
 *   STREAM_IDLE_MS      60 s without a byte from a client that has no
 *                       session                       -> close
 */
#ifndef SIM_STREAM_H
#define SIM_STREAM_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "camera.h"
#include "loop.h"

#define STREAM_HEAD_MAX   (16u * 1024u)
#define STREAM_BODY_MAX   (64u * 1024u)
#define STREAM_OUT_LOW    (64u * 1024u)
#define STREAM_OUT_MAX    (4u * 1024u * 1024u)
#define STREAM_SESSIONS   16
#define STREAM_IDLE_MS    60000u
#define STREAM_MTU        1400u             /* RTP payload bytes at most */
#define STREAM_CHUNK      4096u             /* download bytes per "$" frame */
#define STREAM_DEFAULT_PORT 20554           /* when --control-port is not 0 */

/* Error codes of the stream answers ("error_code" in the body). */
#define STREAM_E_INVALID     (-40106)       /* bad JSON, missing or bad field */
#define STREAM_E_UNKNOWN     (-40210)       /* unknown method */
#define STREAM_E_SESSION     (-40220)       /* no Session header, or not a session of this connection */
#define STREAM_E_NO_CHANNEL  (-40230)       /* too many sessions, or no free channel ids */
#define STREAM_E_KIND        (-40240)       /* not for this kind of session (play on a preview) */

/* The start-up settings (the flags); the admin path changes them later and
 * /__sim__/reset returns to them. */
struct stream_settings {
	int qop_auth;           /* --digest-qop auth */
	int sha256;             /* --digest-algorithm SHA-256 */
	int opaque;             /* send and check an opaque */
	int quoted_only;        /* refuse bare qop / nc / algorithm */
	int bare_responses;     /* answers without the type/seq/params envelope */
	int h265;               /* video codec of new sessions */
	double speed;           /* --stream-speed: 1 real time, 0 as fast as possible */
	char username[64];
	/* Downloads and ends (--stream-set, zero is the default): */
	int dl_rtp;             /* download_framing "rtp": RTP packets, not file bytes */
	int dl_unsized;         /* download_size false: the answer's range has no size */
	int dl_end;             /* download_end: DL_END_NOTIFY, DL_END_QUIET, DL_END_CLOSE */
	char end_event[48];     /* end_event: "" is "stream_end" */
	char end_status[24];    /* end_status: "" sends none */
	int dl_endless;         /* download_endless: a download never ends */
};

enum { DL_END_NOTIFY, DL_END_QUIET, DL_END_CLOSE };

/* --stream-set KEY=VALUE: one key of stream_config (docs/sim.md) into s,
 * VALUE read as JSON when it is JSON (numbers, true, false), else as a
 * string. Returns NULL, or what is wrong. */
const char *stream_settings_set(struct stream_settings *s, const char *key_value);

/* Parse the media and open a stream listener for each camera, each on its
 * own address, all on the same port (0: the one picked on the first
 * address). If port_given is 0 and the port is taken, a free one is used.
 * Sets cam->stream_port (what getStreamPort answers). Returns the bound
 * port, or -1 with a message in err. */
int stream_listen_all(struct loop *lp, struct camera **cams, size_t n, int port,
		      int port_given, const struct stream_settings *s, char *err, size_t errsz);

/* Close every listener and connection (before the cameras are freed). */
void stream_free_all(void);

/* The admin endpoints stream_config, stream_fault, stream_state, talk,
 * stream_file (path without "/__sim__/"). Returns 0 if path is none of
 * them; else the HTTP status, with the answer in *out (may be NULL when
 * out of memory). in is the POST body (NULL for GET or an empty body). */
int stream_admin(struct camera *cam, int get, int post, const char *path, const cJSON *in,
		 cJSON **out);

/* /__sim__/reset: settings back to the start-up ones, no fault, counters
 * and talk records emptied. Live sessions go on. */
void stream_reset(struct camera *cam);

#endif
