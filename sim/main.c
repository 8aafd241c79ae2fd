/* vigi-sim: a simulated TP-Link VIGI camera for the tests and benchmarks
 * of the vigi client. Options, start-up, the ready line; docs/sim.md tells
 * the whole story. */
#define _GNU_SOURCE
#include <errno.h>
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

static void usage(FILE *f)
{
	fputs(
"usage: vigi-sim [options]\n"
"  --address A             listen address (default 127.0.0.1)\n"
"  --control-port P        HTTPS control port (default 20443, 0 = any free)\n"
"  --odp-port P            discovery (UDP) port (default 23001, 0 = any free)\n"
"  --odp-any               bind discovery to the wildcard address (broadcasts)\n"
"  --fleet N               run N cameras (1..4096) on 127.0.1.1, 127.0.1.2, ...\n"
"  --fleet-base A          first address of the fleet (default 127.0.1.1)\n"
"  --username U            user of the challenge login (default admin)\n"
"  --password P            camera password (default secret)\n"
"  --auth md5|challenge    doAuth flavour (default md5)\n"
"  --stok-top              put stok at the top level of the doAuth answer\n"
"  --close-after-answer    close the connection after every answer\n"
"  --token-lifetime S      token lifetime in seconds (default 1800)\n"
"  --token-error errcode|http401  how a bad token is answered (default errcode)\n"
"  --lockout N             failed logins that lock the account (default 5, 0 = never)\n"
"  --lock-seconds S        how long the lock lasts (default 600)\n"
"  --tz-spelling both|Timezone|TimeZone  time-zone method names (default both)\n"
"  --trailing-commas       write every JSON answer and part with trailing commas\n"
"  --chunked               send answers and the subscribeMsg push in chunked encoding\n"
"  --unknown-method-code N errCode of an unknown method (default -40210)\n"
"  --stream-port P         stream (MULTITRANS) port (default 20554, or any free\n"
"                          one with --control-port 0; 0 = any free)\n"
"  --digest-qop none|auth  digest qop of the stream port (default none)\n"
"  --digest-algorithm MD5|SHA-256  digest algorithm (default MD5)\n"
"  --stream-speed X        media pace: 1 real time (default), 10 ten times\n"
"                          faster, 0 as fast as the client reads\n"
"  --stream-codec H264|H265  video codec of new sessions (default H264, or\n"
"                          the --media file's)\n"
"  --media FILE            stream this H.264 or H.265 Annex-B file (looped)\n"
"                          instead of the built-in clip of its codec\n"
"  --media-fps N           its pictures a second (default 25)\n"
"  --stream-set KEY=VALUE  a stream_config key at start (docs/sim.md), e.g.\n"
"                          download_framing=rtp; repeatable\n"
"  --cert FILE --key FILE  use this certificate and key (PEM)\n"
"  --cert-out FILE         write the certificate (PEM) to FILE\n"
"  --camera-json FILE      use FILE instead of the built-in camera.json\n"
"  --check                 load camera.json, report, and exit\n"
"  --exit-with-parent      end (as on SIGTERM) when the process that started\n"
"                          it ends, however it ended\n"
"  --verbose               log to stderr\n"
"  --help\n", f);
}

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

static int parse_args(int argc, char **argv, struct options *o)
{
	enum {
		O_ADDRESS = 256, O_PORT, O_USER, O_PASS, O_AUTH, O_STOKTOP, O_CLOSE,
		O_LIFETIME, O_TOKERR, O_LOCKOUT, O_LOCKSEC, O_TZ, O_CERT, O_KEY,
		O_CERTOUT, O_JSON, O_CHECK, O_VERBOSE, O_HELP, O_ODPPORT, O_ODPANY, O_FLEET,
		O_FLEETBASE, O_SPORT, O_QOP, O_ALGO, O_SPEED, O_SCODEC,
		O_COMMAS, O_UNKNOWNCODE, O_SSET, O_MEDIA, O_MEDIAFPS, O_PARENT,
		O_CHUNKED
	};
	static const struct option opts[] = {
		{"address", required_argument, 0, O_ADDRESS},
		{"control-port", required_argument, 0, O_PORT},
		{"odp-port", required_argument, 0, O_ODPPORT},
		{"odp-any", no_argument, 0, O_ODPANY},
		{"fleet", required_argument, 0, O_FLEET},
		{"fleet-base", required_argument, 0, O_FLEETBASE},
		{"stream-port", required_argument, 0, O_SPORT},
		{"digest-qop", required_argument, 0, O_QOP},
		{"digest-algorithm", required_argument, 0, O_ALGO},
		{"stream-speed", required_argument, 0, O_SPEED},
		{"stream-codec", required_argument, 0, O_SCODEC},
		{"media", required_argument, 0, O_MEDIA},
		{"media-fps", required_argument, 0, O_MEDIAFPS},
		{"stream-set", required_argument, 0, O_SSET},
		{"username", required_argument, 0, O_USER},
		{"password", required_argument, 0, O_PASS},
		{"auth", required_argument, 0, O_AUTH},
		{"stok-top", no_argument, 0, O_STOKTOP},
		{"close-after-answer", no_argument, 0, O_CLOSE},
		{"token-lifetime", required_argument, 0, O_LIFETIME},
		{"token-error", required_argument, 0, O_TOKERR},
		{"lockout", required_argument, 0, O_LOCKOUT},
		{"lock-seconds", required_argument, 0, O_LOCKSEC},
		{"tz-spelling", required_argument, 0, O_TZ},
		{"trailing-commas", no_argument, 0, O_COMMAS},
		{"chunked", no_argument, 0, O_CHUNKED},
		{"unknown-method-code", required_argument, 0, O_UNKNOWNCODE},
		{"cert", required_argument, 0, O_CERT},
		{"key", required_argument, 0, O_KEY},
		{"cert-out", required_argument, 0, O_CERTOUT},
		{"camera-json", required_argument, 0, O_JSON},
		{"check", no_argument, 0, O_CHECK},
		{"exit-with-parent", no_argument, 0, O_PARENT},
		{"verbose", no_argument, 0, O_VERBOSE},
		{"help", no_argument, 0, O_HELP},
		{0, 0, 0, 0}
	};
	struct camera_config *k = &o->cfg;
	int opt, li = 0;
	while ((opt = getopt_long(argc, argv, "", opts, &li)) != -1) {
		switch (opt) {
		case O_ADDRESS: o->address = optarg; break;
		case O_PORT:
			if (parse_int(optarg, 0, 65535, &o->control_port) < 0)
				goto bad;
			break;
		case O_ODPPORT:
			if (parse_int(optarg, 0, 65535, &o->odp_port) < 0)
				goto bad;
			o->odp_port_given = 1;
			break;
		case O_ODPANY: o->odp_any = 1; break;
		case O_FLEET:
			if (parse_int(optarg, 1, FLEET_MAX, &o->fleet) < 0)
				goto bad;
			break;
		case O_FLEETBASE: o->fleet_base = optarg; break;
		case O_SPORT:
			if (parse_int(optarg, 0, 65535, &o->stream_port) < 0)
				goto bad;
			o->stream_port_given = 1;
			break;
		case O_QOP:
			if (strcmp(optarg, "none") == 0)
				o->stream.qop_auth = 0;
			else if (strcmp(optarg, "auth") == 0)
				o->stream.qop_auth = 1;
			else
				goto bad;
			break;
		case O_ALGO:
			if (strcmp(optarg, "MD5") == 0)
				o->stream.sha256 = 0;
			else if (strcmp(optarg, "SHA-256") == 0)
				o->stream.sha256 = 1;
			else
				goto bad;
			break;
		case O_SPEED: {
			char *end;
			double d = strtod(optarg, &end);
			if (end == optarg || *end || !(d >= 0 && d <= 1000))
				goto bad;
			o->stream.speed = d;
			break;
		}
		case O_MEDIA:
			o->media = optarg;
			break;
		case O_MEDIAFPS:
			if (parse_int(optarg, 1, 120, &o->media_fps) < 0)
				goto bad;
			break;
		case O_SCODEC:
			o->codec_given = 1;
			if (strcmp(optarg, "H264") == 0)
				o->stream.h265 = 0;
			else if (strcmp(optarg, "H265") == 0)
				o->stream.h265 = 1;
			else
				goto bad;
			break;
		case O_SSET: {
			const char *why = stream_settings_set(&o->stream, optarg);
			if (why) {
				fprintf(stderr, "vigi-sim: %s\n", why);
				return -1;
			}
			break;
		}
		case O_USER:
			if (!*optarg || strlen(optarg) >= sizeof k->username)
				goto bad;
			strcpy(k->username, optarg);
			break;
		case O_PASS:
			if (strlen(optarg) >= sizeof k->password)
				goto bad;
			strcpy(k->password, optarg);
			break;
		case O_AUTH:
			if (strcmp(optarg, "md5") == 0)
				k->auth = AUTH_MD5;
			else if (strcmp(optarg, "challenge") == 0)
				k->auth = AUTH_CHALLENGE;
			else
				goto bad;
			break;
		case O_STOKTOP: k->stok_top = 1; break;
		case O_CLOSE: k->close_after_answer = 1; break;
		case O_LIFETIME:
			if (parse_int(optarg, 0, 1000000000, &k->token_lifetime) < 0)
				goto bad;
			break;
		case O_TOKERR:
			if (strcmp(optarg, "errcode") == 0)
				k->token_http401 = 0;
			else if (strcmp(optarg, "http401") == 0)
				k->token_http401 = 1;
			else
				goto bad;
			break;
		case O_LOCKOUT:
			if (parse_int(optarg, 0, 1000000, &k->lockout) < 0)
				goto bad;
			break;
		case O_LOCKSEC:
			if (parse_int(optarg, 0, 1000000000, &k->lock_seconds) < 0)
				goto bad;
			break;
		case O_TZ:
			if (strcmp(optarg, "both") == 0)
				k->tz = TZ_BOTH;
			else if (strcmp(optarg, "Timezone") == 0)
				k->tz = TZ_ONLY_TIMEZONE;
			else if (strcmp(optarg, "TimeZone") == 0)
				k->tz = TZ_ONLY_TIMEZONE_CAMEL;
			else
				goto bad;
			break;
		case O_COMMAS: k->trailing_commas = 1; break;
		case O_CHUNKED: http_chunked = 1; break;
		case O_UNKNOWNCODE:
			if (parse_int(optarg, -99999999, 99999999, &k->unknown_method_code) < 0 ||
			    k->unknown_method_code == 0)
				goto bad;
			break;
		case O_CERT: o->cert = optarg; break;
		case O_KEY: o->key = optarg; break;
		case O_CERTOUT: o->cert_out = optarg; break;
		case O_JSON: o->camera_json = optarg; break;
		case O_CHECK: o->check = 1; break;
		case O_PARENT: o->exit_with_parent = 1; break;
		case O_VERBOSE: sim_verbose = 1; break;
		case O_HELP: usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vigi-sim: unexpected argument %s\n", argv[optind]);
		return -1;
	}
	return 0;
bad:
	fprintf(stderr, "vigi-sim: bad value for --%s: %s\n", opts[li].name, optarg);
	return -1;
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

int main(int argc, char **argv)
{
	struct options o;
	memset(&o, 0, sizeof o);
	o.address = "127.0.0.1";
	o.control_port = 20443;
	o.odp_port = ODP_PORT;
	strcpy(o.cfg.username, "admin");
	strcpy(o.cfg.password, "secret");
	o.cfg.auth = AUTH_MD5;
	o.cfg.token_lifetime = 1800;
	o.cfg.lockout = 5;
	o.cfg.lock_seconds = 600;
	o.cfg.tz = TZ_BOTH;
	o.cfg.unknown_method_code = SIM_E_UNKNOWN_METHOD;
	o.stream.speed = 1;
	if (parse_args(argc, argv, &o) < 0)
		return 2;
	if (o.exit_with_parent) {
		/* A sim started in a session of its own (`vigi shell --sim`) is
		 * out of reach of the terminal's signals: if its parent is killed,
		 * nothing else would stop it. The parent waits for the ready line,
		 * so it is alive here unless it already ended (then: end now). */
		pid_t parent = getppid();
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
			return 1;
	}
	if (!o.stream.username[0])      /* --stream-set username=... wins */
		snprintf(o.stream.username, sizeof o.stream.username, "%s", o.cfg.username);
	if (!o.stream_port_given)
		o.stream_port = o.control_port == 0 ? 0 : STREAM_DEFAULT_PORT;

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
	unsigned long long limit = raise_fd_limit();
	size_t need = fleet_fds(&fo) + (fo.n ? (size_t)fo.n : 1) + 16;  /* + stream listeners */
	if (limit < need) {
		fprintf(stderr, "vigi-sim: %zu cameras need at least %zu open files; the limit is %llu "
			"(raise it with ulimit -n)\n", fo.n ? (size_t)fo.n : 1, need, limit);
		engine_free(engine);
		return 1;
	}

	char err[512] = "";
	if (o.media) {
		int codec = sm_init() < 0 ? -1 : sm_load_media(o.media, o.media_fps ? (unsigned)o.media_fps : 25u,
								 err, sizeof err);
		if (codec < 0) {
			fprintf(stderr, "vigi-sim: %s\n", err[0] ? err : "the built-in media do not parse");
			engine_free(engine);
			return 1;
		}
		if (!o.codec_given)
			o.stream.h265 = codec == SM_H265;
	}
	int rc = 1;
	struct tls_ident tls;
	struct fleet fleet;
	const char **names = NULL;
	memset(&tls, 0, sizeof tls);
	memset(&fleet, 0, sizeof fleet);
	struct loop *lp = loop_new();
	if (!lp || loop_catch_signals(lp) < 0) {
		fprintf(stderr, "vigi-sim: cannot start: %s\n", strerror(errno));
		engine_free(engine);
		loop_free(lp);
		return 1;
	}
	uint64_t t0 = loop_clock_ms();
	if (fleet_init(&fleet, lp, engine, &fo, err, sizeof err) < 0) {
		fprintf(stderr, "vigi-sim: %s\n", err);
		goto out;
	}
	names = calloc(fleet.n, sizeof *names);
	if (!names) {
		fprintf(stderr, "vigi-sim: out of memory\n");
		goto out;
	}
	for (size_t i = 0; i < fleet.n; i++)
		names[i] = fleet.cams[i]->address;
	if (tls_ident_init(&tls, names, fleet.n, o.cert, o.key, err, sizeof err) < 0) {
		fprintf(stderr, "vigi-sim: %s\n", err);
		goto out;
	}
	if (o.cert_out && tls_write_cert(&tls, o.cert_out, err, sizeof err) < 0) {
		fprintf(stderr, "vigi-sim: %s\n", err);
		goto out;
	}
	if (fleet_listen(&fleet, tls.ctx, &fo, err, sizeof err) < 0) {
		fprintf(stderr, "vigi-sim: %s\n", err);
		goto out;
	}
	for (size_t i = 0; i < fleet.n; i++)
		http_server_set_cert(fleet.ctl[i], tls_ident_cert(&tls, i));
	int stream_port = stream_listen_all(lp, fleet.cams, fleet.n, o.stream_port,
					    o.stream_port_given, &o.stream, err, sizeof err);
	if (stream_port < 0) {
		fprintf(stderr, "vigi-sim: %s\n", err);
		goto out;
	}
	if (print_ready(&fleet, stream_port, &tls) < 0) {
		fprintf(stderr, "vigi-sim: out of memory\n");
		goto out;
	}
	sim_log("ready: %zu camera(s) in %llu ms, %zu methods, auth %s", fleet.n,
		(unsigned long long)(loop_clock_ms() - t0), engine_count(engine),
		o.cfg.auth == AUTH_CHALLENGE ? "challenge" : "md5");

	rc = loop_run(lp) < 0 ? 1 : 0;
	sim_log("stopping");
out:
	stream_free_all();
	fleet_free(&fleet);     /* frees the engine, whatever happened */
	free(names);
	tls_ident_free(&tls);
	loop_free(lp);
	return rc;
}
