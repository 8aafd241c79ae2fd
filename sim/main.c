/* vigi-sim: a simulated TP-Link VIGI camera for the tests and benchmarks
 * of the vigi client. Options, start-up, the ready line; docs/sim.md tells
 * the whole story. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "camera.h"
#include "control.h"
#include "engine.h"
#include "httpd.h"
#include "log.h"
#include "loop.h"
#include "tls.h"

/* camera.json, embedded at build time (camera_json.c is generated). */
extern const unsigned char sim_camera_json[];
extern const unsigned long sim_camera_json_len;

struct options {
	const char *address;
	int control_port;
	const char *cert, *key, *cert_out, *camera_json;
	int check;
	struct camera_config cfg;
};

static void usage(FILE *f)
{
	fputs(
"usage: vigi-sim [options]\n"
"  --address A             listen address (default 127.0.0.1)\n"
"  --control-port P        HTTPS control port (default 20443, 0 = any free)\n"
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
"  --cert FILE --key FILE  use this certificate and key (PEM)\n"
"  --cert-out FILE         write the certificate (PEM) to FILE\n"
"  --camera-json FILE      use FILE instead of the built-in camera.json\n"
"  --check                 load camera.json, report, and exit\n"
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
		O_CERTOUT, O_JSON, O_CHECK, O_VERBOSE, O_HELP
	};
	static const struct option opts[] = {
		{"address", required_argument, 0, O_ADDRESS},
		{"control-port", required_argument, 0, O_PORT},
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
		{"cert", required_argument, 0, O_CERT},
		{"key", required_argument, 0, O_KEY},
		{"cert-out", required_argument, 0, O_CERTOUT},
		{"camera-json", required_argument, 0, O_JSON},
		{"check", no_argument, 0, O_CHECK},
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
		case O_CERT: o->cert = optarg; break;
		case O_KEY: o->key = optarg; break;
		case O_CERTOUT: o->cert_out = optarg; break;
		case O_JSON: o->camera_json = optarg; break;
		case O_CHECK: o->check = 1; break;
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

/* Up to the hard limit of open files: a thousand clients need a thousand fds. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	struct options o;
	memset(&o, 0, sizeof o);
	o.address = "127.0.0.1";
	o.control_port = 20443;
	strcpy(o.cfg.username, "admin");
	strcpy(o.cfg.password, "secret");
	o.cfg.auth = AUTH_MD5;
	o.cfg.token_lifetime = 1800;
	o.cfg.lockout = 5;
	o.cfg.lock_seconds = 600;
	o.cfg.tz = TZ_BOTH;
	if (parse_args(argc, argv, &o) < 0)
		return 2;

	struct engine *engine = load_engine(o.camera_json);
	if (!engine)
		return 1;
	if (o.check) {
		printf("camera.json: %zu methods, OK\n", engine_count(engine));
		engine_free(engine);
		return 0;
	}

	raise_fd_limit();
	char err[512];
	int rc = 1;
	struct tls_ident tls;
	struct loop *lp = loop_new();
	struct camera *cam = calloc(1, sizeof *cam);
	struct http_server *ctl = NULL;
	if (!lp || !cam || loop_catch_signals(lp) < 0) {
		fprintf(stderr, "vigi-sim: cannot start: %s\n", strerror(errno));
		engine_free(engine);
		free(cam);
		loop_free(lp);
		return 1;
	}
	if (camera_init(cam, lp, o.address, &o.cfg, engine) < 0) {
		fprintf(stderr, "vigi-sim: out of memory\n");
		engine_free(engine);
		free(cam);
		loop_free(lp);
		return 1;
	}
	if (tls_ident_init(&tls, o.address, o.cert, o.key, err, sizeof err) < 0) {
		fprintf(stderr, "vigi-sim: %s\n", err);
		goto out_cam;
	}
	if (o.cert_out && tls_write_cert(&tls, o.cert_out, err, sizeof err) < 0) {
		fprintf(stderr, "vigi-sim: %s\n", err);
		goto out_tls;
	}
	ctl = http_listen(lp, o.address, o.control_port, tls.ctx, &control_hooks, cam,
			  err, sizeof err);
	if (!ctl) {
		fprintf(stderr, "vigi-sim: %s\n", err);
		goto out_tls;
	}

	printf("{\"address\":\"%s\",\"control\":%d,\"pin\":\"%s\",\"pid\":%ld}\n",
	       o.address, http_server_port(ctl), tls.pin, (long)getpid());
	fflush(stdout);
	sim_log("ready: %zu methods, auth %s", engine_count(engine),
		o.cfg.auth == AUTH_CHALLENGE ? "challenge" : "md5");

	rc = loop_run(lp) < 0 ? 1 : 0;
	sim_log("stopping");

	http_server_free(ctl);
out_tls:
	tls_ident_free(&tls);
out_cam:
	camera_free(cam);
	free(cam);
	loop_free(lp);
	return rc;
}
