/* vigi-sim: a simulated TP-Link VIGI camera for the tests and benchmarks
 * of the vigi client. Options, start-up, the ready line; docs/sim.md tells
 * the whole story. */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "camera.h"
#include "chunked.h"
#include "engine.h"
#include "fleet.h"
#include "log.h"
#include "loop.h"
#include "odp_packet.h"
#include "stream.h"
#include "stream_media.h"
#include "httpd.h"
#include "tls.h"

/* camera.json, embedded at build time (camera_json.c is generated). */
extern const unsigned char sim_camera_json[];
extern const unsigned long sim_camera_json_len;

struct options {
	const char *address;
	int control_port;
	int odp_port, odp_port_given, odp_any;
	int fleet;
	const char *fleet_base;
	const char *cert, *key, *cert_out, *camera_json;
	int check;
	int exit_with_parent;
	struct camera_config cfg;
	int stream_port, stream_port_given;
	struct stream_settings stream;
	const char *media;
	int media_fps, codec_given;
};

static int parse_int(const char *s, int lo, int hi, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

/* ---- the options: one row each ---- */

/* How a row reads its value. */
enum arg_kind {
	A_FLAG,         /* no value: the int field becomes 1 */
	A_STR,          /* the value as it is (a const char * field) */
	A_INT,          /* a whole number in lo..hi */
	A_TEXT,         /* a string of lo bytes or more that fits the char array */
	A_CHOICE,       /* one of words: the int field becomes its index */
	A_FUNC,         /* read by fn */
	A_ACT           /* no value: fn runs (arg is NULL) */
};

/* What an A_FUNC reader returns: 0, or -1 for a bad value (said as such),
 * or -2 when it said what is wrong itself. */
typedef int (*arg_fn)(struct options *o, const char *arg);

struct arg_row {
	const char *name;
	enum arg_kind kind;
	size_t off, size;               /* the field of struct options */
	int lo, hi;
	const char *const *words;       /* A_CHOICE, NULL-terminated */
	arg_fn fn;
	const char *help;               /* its lines of --help (NULL: none) */
};

#define FIELD(f)        offsetof(struct options, f), sizeof(((struct options *)0)->f)
#define FLAG(n, f, h)           {n, A_FLAG, FIELD(f), 0, 0, NULL, NULL, h}
#define STR(n, f, h)            {n, A_STR, FIELD(f), 0, 0, NULL, NULL, h}
#define INT(n, f, lo, hi, h)    {n, A_INT, FIELD(f), lo, hi, NULL, NULL, h}
#define TEXT(n, f, min, h)      {n, A_TEXT, FIELD(f), min, 0, NULL, NULL, h}
#define CHOICE(n, f, w, h)      {n, A_CHOICE, FIELD(f), 0, 0, w, NULL, h}
#define FUNC(n, fn, h)          {n, A_FUNC, 0, 0, 0, 0, NULL, fn, h}
#define ACT(n, fn, h)           {n, A_ACT, 0, 0, 0, 0, NULL, fn, h}

/* A_CHOICE writes an int; these enums are stored as one. */
_Static_assert(sizeof(enum auth_mode) == sizeof(int), "enum auth_mode is an int");
_Static_assert(sizeof(enum tz_spelling) == sizeof(int), "enum tz_spelling is an int");

static const char *const w_qop[] = {"none", "auth", NULL};
static const char *const w_algo[] = {"MD5", "SHA-256", NULL};
static const char *const w_auth[] = {"md5", "challenge", NULL};          /* enum auth_mode */
static const char *const w_tokerr[] = {"errcode", "http401", NULL};
static const char *const w_tz[] = {"both", "Timezone", "TimeZone", NULL}; /* enum tz_spelling */
static const char *const w_codec[] = {"H264", "H265", NULL};

static void usage(FILE *f);

static int arg_port_given(int *port, int *given, const char *arg)
{
	*given = 1;
	return parse_int(arg, 0, 65535, port);
}

static int arg_odp_port(struct options *o, const char *arg)
{
	return arg_port_given(&o->odp_port, &o->odp_port_given, arg);
}

static int arg_stream_port(struct options *o, const char *arg)
{
	return arg_port_given(&o->stream_port, &o->stream_port_given, arg);
}

static int arg_speed(struct options *o, const char *arg)
{
	char *end;
	double d = strtod(arg, &end);
	if (end == arg || *end || !(d >= 0 && d <= 1000))
		return -1;
	o->stream.speed = d;
	return 0;
}

static int arg_codec(struct options *o, const char *arg)
{
	o->codec_given = 1;
	for (int i = 0; w_codec[i]; i++)
		if (strcmp(arg, w_codec[i]) == 0) {
			o->stream.h265 = i;
			return 0;
		}
	return -1;
}

static int arg_stream_set(struct options *o, const char *arg)
{
	const char *why = stream_settings_set(&o->stream, arg);
	if (!why)
		return 0;
	fprintf(stderr, "vigi-sim: %s\n", why);
	return -2;
}

static int arg_unknown_code(struct options *o, const char *arg)
{
	int *code = &o->cfg.unknown_method_code;
	return parse_int(arg, -99999999, 99999999, code) < 0 || *code == 0 ? -1 : 0;
}

static int arg_verbose(struct options *o, const char *arg)
{
	(void)o;
	(void)arg;
	sim_verbose = 1;
	return 0;
}

static int arg_chunked(struct options *o, const char *arg)
{
	(void)o;
	(void)arg;
	http_chunked = 1;
	return 0;
}

static int arg_help(struct options *o, const char *arg)
{
	(void)o;
	(void)arg;
	usage(stdout);
	exit(0);
}

/* In the order of --help. A new option is one row here. */
static const struct arg_row arg_rows[] = {
	STR("address", address,
	    "  --address A             listen address (default 127.0.0.1)\n"),
	INT("control-port", control_port, 0, 65535,
	    "  --control-port P        HTTPS control port (default 20443, 0 = any free)\n"),
	FUNC("odp-port", arg_odp_port,
	     "  --odp-port P            discovery (UDP) port (default 23001, 0 = any free)\n"),
	FLAG("odp-any", odp_any,
	     "  --odp-any               bind discovery to the wildcard address (broadcasts)\n"),
	INT("fleet", fleet, 1, FLEET_MAX,
	    "  --fleet N               run N cameras (1..4096) on 127.0.1.1, 127.0.1.2, ...\n"),
	STR("fleet-base", fleet_base,
	    "  --fleet-base A          first address of the fleet (default 127.0.1.1)\n"),
	TEXT("username", cfg.username, 1,
	     "  --username U            user of the challenge login (default admin)\n"),
	TEXT("password", cfg.password, 0,
	     "  --password P            camera password (default secret)\n"),
	CHOICE("auth", cfg.auth, w_auth,
	       "  --auth md5|challenge    doAuth flavour (default md5)\n"),
	FLAG("stok-top", cfg.stok_top,
	     "  --stok-top              put stok at the top level of the doAuth answer\n"),
	FLAG("close-after-answer", cfg.close_after_answer,
	     "  --close-after-answer    close the connection after every answer\n"),
	INT("token-lifetime", cfg.token_lifetime, 0, 1000000000,
	    "  --token-lifetime S      token lifetime in seconds (default 1800)\n"),
	CHOICE("token-error", cfg.token_http401, w_tokerr,
	       "  --token-error errcode|http401  how a bad token is answered (default errcode)\n"),
	INT("lockout", cfg.lockout, 0, 1000000,
	    "  --lockout N             failed logins that lock the account (default 5, 0 = never)\n"),
	INT("lock-seconds", cfg.lock_seconds, 0, 1000000000,
	    "  --lock-seconds S        how long the lock lasts (default 600)\n"),
	CHOICE("tz-spelling", cfg.tz, w_tz,
	       "  --tz-spelling both|Timezone|TimeZone  time-zone method names (default both)\n"),
	FLAG("trailing-commas", cfg.trailing_commas,
	     "  --trailing-commas       write every JSON answer and part with trailing commas\n"),
	ACT("chunked", arg_chunked,
	    "  --chunked               send answers and the subscribeMsg push in chunked encoding\n"),
	FUNC("unknown-method-code", arg_unknown_code,
	     "  --unknown-method-code N errCode of an unknown method (default -40210)\n"),
	FUNC("stream-port", arg_stream_port,
	     "  --stream-port P         stream (MULTITRANS) port (default 20554, or any free\n"
	     "                          one with --control-port 0; 0 = any free)\n"),
	CHOICE("digest-qop", stream.qop_auth, w_qop,
	       "  --digest-qop none|auth  digest qop of the stream port (default none)\n"),
	CHOICE("digest-algorithm", stream.sha256, w_algo,
	       "  --digest-algorithm MD5|SHA-256  digest algorithm (default MD5)\n"),
	FUNC("stream-speed", arg_speed,
	     "  --stream-speed X        media pace: 1 real time (default), 10 ten times\n"
	     "                          faster, 0 as fast as the client reads\n"),
	FUNC("stream-codec", arg_codec,
	     "  --stream-codec H264|H265  video codec of new sessions (default H264, or\n"
	     "                          the --media file's)\n"),
	STR("media", media,
	    "  --media FILE            stream this H.264 or H.265 Annex-B file (looped)\n"
	    "                          instead of the built-in clip of its codec\n"),
	INT("media-fps", media_fps, 1, 120,
	    "  --media-fps N           its pictures a second (default 25)\n"),
	FUNC("stream-set", arg_stream_set,
	     "  --stream-set KEY=VALUE  a stream_config key at start (docs/sim.md), e.g.\n"
	     "                          download_framing=rtp; repeatable\n"),
	STR("cert", cert,
	    "  --cert FILE --key FILE  use this certificate and key (PEM)\n"),
	STR("key", key, NULL),
	STR("cert-out", cert_out,
	    "  --cert-out FILE         write the certificate (PEM) to FILE\n"),
	STR("camera-json", camera_json,
	    "  --camera-json FILE      use FILE instead of the built-in camera.json\n"),
	FLAG("check", check,
	     "  --check                 load camera.json, report, and exit\n"),
	FLAG("exit-with-parent", exit_with_parent,
	     "  --exit-with-parent      end (as on SIGTERM) when the process that started\n"
	     "                          it ends, however it ended\n"),
	ACT("verbose", arg_verbose,
	    "  --verbose               log to stderr\n"),
	ACT("help", arg_help, "  --help\n"),
};
#define ARG_ROWS (sizeof arg_rows / sizeof arg_rows[0])

static void usage(FILE *f)
{
	fputs("usage: vigi-sim [options]\n", f);
	for (size_t i = 0; i < ARG_ROWS; i++)
		if (arg_rows[i].help)
			fputs(arg_rows[i].help, f);
}

/* One option's value into o: 0, -1 (bad value) or -2 (already said). */
static int arg_apply(const struct arg_row *row, struct options *o, const char *arg)
{
	char *field = (char *)o + row->off;
	switch (row->kind) {
	case A_FLAG:
		*(int *)field = 1;
		return 0;
	case A_STR:
		*(const char **)field = arg;
		return 0;
	case A_INT:
		return parse_int(arg, row->lo, row->hi, (int *)field);
	case A_TEXT:
		if (strlen(arg) < (size_t)row->lo || strlen(arg) >= row->size)
			return -1;
		strcpy(field, arg);
		return 0;
	case A_CHOICE:
		for (int i = 0; row->words[i]; i++)
			if (strcmp(arg, row->words[i]) == 0) {
				*(int *)field = i;
				return 0;
			}
		return -1;
	case A_FUNC:
	case A_ACT:
		return row->fn(o, arg);
	}
	return -1;
}

static int parse_args(int argc, char **argv, struct options *o)
{
	struct option opts[ARG_ROWS + 1];
	memset(opts, 0, sizeof opts);
	for (size_t i = 0; i < ARG_ROWS; i++) {
		const struct arg_row *row = &arg_rows[i];
		opts[i].name = row->name;
		opts[i].has_arg = row->kind == A_FLAG || row->kind == A_ACT ? no_argument
									      : required_argument;
		opts[i].val = 256 + (int)i;
	}
	int opt;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt < 256 || opt >= 256 + (int)ARG_ROWS) {
			usage(stderr);
			return -1;
		}
		const struct arg_row *row = &arg_rows[opt - 256];
		int rc = arg_apply(row, o, optarg);
		if (rc == -1)
			fprintf(stderr, "vigi-sim: bad value for --%s: %s\n", row->name, optarg);
		if (rc < 0)
			return -1;
	}
	if (optind < argc) {
		fprintf(stderr, "vigi-sim: unexpected argument %s\n", argv[optind]);
		return -1;
	}
	return 0;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap);
	while (buf) {
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (n < cap)
			break;
		char *p = realloc(buf, cap * 2);
		if (!p) {
			free(buf);
			buf = NULL;
			break;
		}
		buf = p;
		cap *= 2;
	}
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

static struct engine *load_engine(const char *path)
{
	char err[512];
	struct engine *e;
	if (path) {
		size_t len = 0;
		char *text = read_file(path, &len);
		if (!text) {
			fprintf(stderr, "vigi-sim: cannot read %s: %s\n", path, strerror(errno));
			return NULL;
		}
		e = engine_load(text, len, path, err, sizeof err);
		free(text);
	} else {
		e = engine_load((const char *)sim_camera_json, sim_camera_json_len, "camera.json (built in)",
				err, sizeof err);
	}
	if (!e)
		fprintf(stderr, "vigi-sim: %s\n", err);
	return e;
}

/* Up to the hard limit of open files: a thousand clients need a thousand
 * fds, and a fleet two per camera. Returns the limit now in force. */
static unsigned long long raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return ~0ull;   /* unknown: let the sockets say */
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	return rl.rlim_cur == RLIM_INFINITY ? ~0ull : (unsigned long long)rl.rlim_cur;
}

/* The ready line: {"address","fleet","addresses","control","odp","stream",
 * "pin","pid"} ("fleet" and "addresses" only with --fleet). */
static int print_ready(const struct fleet *f, int stream_port, const struct tls_ident *tls)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return -1;
	cJSON_AddStringToObject(o, "address", f->cams[0]->address);
	if (f->is_fleet) {
		cJSON_AddNumberToObject(o, "fleet", (double)f->n);
		cJSON *a = cJSON_AddArrayToObject(o, "addresses");
		for (size_t i = 0; a && i < f->n; i++)
			cJSON_AddItemToArray(a, cJSON_CreateString(f->cams[i]->address));
	}
	cJSON_AddNumberToObject(o, "control", f->control_port);
	cJSON_AddNumberToObject(o, "odp", f->odp_port);
	cJSON_AddNumberToObject(o, "stream", stream_port);
	cJSON_AddStringToObject(o, "pin", tls->pin);
	cJSON_AddNumberToObject(o, "pid", (double)getpid());
	char *line = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!line)
		return -1;
	printf("%s\n", line);
	fflush(stdout);
	cJSON_free(line);
	return 0;
}

static void options_init(struct options *o)
{
	memset(o, 0, sizeof *o);
	o->address = "127.0.0.1";
	o->control_port = 20443;
	o->odp_port = ODP_PORT;
	strcpy(o->cfg.username, "admin");
	strcpy(o->cfg.password, "secret");
	o->cfg.auth = AUTH_MD5;
	o->cfg.token_lifetime = 1800;
	o->cfg.lockout = 5;
	o->cfg.lock_seconds = 600;
	o->cfg.tz = TZ_BOTH;
	o->cfg.unknown_method_code = SIM_E_UNKNOWN_METHOD;
	o->stream.speed = 1;
}

/* What follows from the options once all are read. -1: end now. */
static int options_settle(struct options *o)
{
	if (o->exit_with_parent) {
		/* A sim started in a session of its own (`vigi shell --sim`) is
		 * out of reach of the terminal's signals: if its parent is killed,
		 * nothing else would stop it. The parent waits for the ready line,
		 * so it is alive here unless it already ended (then: end now). */
		pid_t parent = getppid();
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
			return -1;
	}
	if (!o->stream.username[0])     /* --stream-set username=... wins */
		snprintf(o->stream.username, sizeof o->stream.username, "%s", o->cfg.username);
	if (!o->stream_port_given)
		o->stream_port = o->control_port == 0 ? 0 : STREAM_DEFAULT_PORT;
	return 0;
}

/* Enough open files for every camera's sockets, or -1 (said). */
static int fd_limit_check(const struct fleet_options *fo)
{
	unsigned long long limit = raise_fd_limit();
	size_t cams = fo->n ? (size_t)fo->n : 1;
	size_t need = fleet_fds(fo) + cams + 16;        /* + stream listeners */
	if (limit >= need)
		return 0;
	fprintf(stderr, "vigi-sim: %zu cameras need at least %zu open files; the limit is %llu "
		"(raise it with ulimit -n)\n", cams, need, limit);
	return -1;
}

/* --media: the file replaces the built-in clip of its codec, and its codec
 * is the sessions' unless --stream-codec says. -1 (said) if it does not
 * parse. */
static int media_load(struct options *o)
{
	char err[512] = "";
	if (!o->media)
		return 0;
	int codec = sm_init() < 0 ? -1 : sm_load_media(o->media, o->media_fps ? (unsigned)o->media_fps : 25u,
						       err, sizeof err);
	if (codec < 0) {
		fprintf(stderr, "vigi-sim: %s\n", err[0] ? err : "the built-in media do not parse");
		return -1;
	}
	if (!o->codec_given)
		o->stream.h265 = codec == SM_H265;
	return 0;
}

/* What a running sim holds. */
struct sim {
	struct loop *lp;
	struct fleet fleet;
	struct tls_ident tls;
	const char **names;
	int stream_port;
};

/* The cameras, their certificate, their control and stream listeners:
 * everything up to the ready line. -1 with what went wrong in err. */
static int sim_start(struct sim *s, struct engine *engine, const struct options *o,
		     const struct fleet_options *fo, char *err, size_t errsz)
{
	struct fleet *f = &s->fleet;
	if (fleet_init(f, s->lp, engine, fo, err, errsz) < 0)
		return -1;
	s->names = calloc(f->n, sizeof *s->names);
	if (!s->names) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < f->n; i++)
		s->names[i] = f->cams[i]->address;
	if (tls_ident_init(&s->tls, s->names, f->n, o->cert, o->key, err, errsz) < 0)
		return -1;
	if (o->cert_out && tls_write_cert(&s->tls, o->cert_out, err, errsz) < 0)
		return -1;
	if (fleet_listen(f, s->tls.ctx, fo, err, errsz) < 0)
		return -1;
	for (size_t i = 0; i < f->n; i++)
		http_server_set_cert(f->ctl[i], tls_ident_cert(&s->tls, i));
	s->stream_port = stream_listen_all(s->lp, f->cams, f->n, o->stream_port, o->stream_port_given,
					   &o->stream, err, errsz);
	return s->stream_port < 0 ? -1 : 0;
}

/* Whatever sim_start got to, freed (the fleet frees the engine, whatever
 * happened). */
static void sim_stop(struct sim *s)
{
	stream_free_all();
	fleet_free(&s->fleet);
	free(s->names);
	tls_ident_free(&s->tls);
	loop_free(s->lp);
}

int main(int argc, char **argv)
{
	struct options o;
	options_init(&o);
	if (parse_args(argc, argv, &o) < 0)
		return 2;
	if (options_settle(&o) < 0)
		return 1;
	struct engine *engine = load_engine(o.camera_json);
	if (!engine)
		return 1;
	if (o.check) {
		printf("camera.json: %zu methods, OK\n", engine_count(engine));
		engine_free(engine);
		return 0;
	}
	struct fleet_options fo = {
		.address = o.address, .base = o.fleet_base, .n = o.fleet,
		.control_port = o.control_port, .odp_port = o.odp_port,
		.odp_port_given = o.odp_port_given, .odp_any = o.odp_any, .cfg = &o.cfg,
	};
	if (fd_limit_check(&fo) < 0 || media_load(&o) < 0) {
		engine_free(engine);
		return 1;
	}
	struct sim sim;
	memset(&sim, 0, sizeof sim);
	sim.lp = loop_new();
	if (!sim.lp || loop_catch_signals(sim.lp) < 0) {
		fprintf(stderr, "vigi-sim: cannot start: %s\n", strerror(errno));
		engine_free(engine);
		loop_free(sim.lp);
		return 1;
	}
	char err[512] = "";
	uint64_t t0 = loop_clock_ms();
	int rc = 1;
	if (sim_start(&sim, engine, &o, &fo, err, sizeof err) < 0) {
		fprintf(stderr, "vigi-sim: %s\n", err);
	} else if (print_ready(&sim.fleet, sim.stream_port, &sim.tls) < 0) {
		fprintf(stderr, "vigi-sim: out of memory\n");
	} else {
		sim_log("ready: %zu camera(s) in %llu ms, %zu methods, auth %s", sim.fleet.n,
			(unsigned long long)(loop_clock_ms() - t0), engine_count(engine),
			o.cfg.auth == AUTH_CHALLENGE ? "challenge" : "md5");
		rc = loop_run(sim.lp) < 0 ? 1 : 0;
		sim_log("stopping");
	}
	sim_stop(&sim);
	return rc;
}
