/* http.c: control calls through libcurl's multi interface (see http.h). */
#include "http.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <time.h>

#define MAX_SOCKS 8
/* Header bytes of one answer, interim (1xx) answers and trailers
 * included: libcurl keeps every trailer line it is sent (its own 300 KiB
 * limit counts headers only), so a peer sending trailers without end
 * would grow it until the deadline. */
#define MAX_HEAD_BYTES (64u * 1024u)

struct http_client {
  CURLM *multi;
  CURL *easy;
  int running;                 /* the easy handle is in the multi */
  struct curl_slist *headers;

  /* request body, copied so the caller's string may go away */
  char *req;
  size_t req_len, req_pos;
  int may_resend;
  int sent_body;

  /* answer body: bytes [take_off, len) have not been taken yet */
  char *buf;
  size_t len, cap, take_off, max_body;
  int too_big;
  size_t head_bytes;           /* header lines so far (on_header) */
  int head_too_big;

  /* what libcurl wants us to wait on */
  http_waitfd socks[MAX_SOCKS];
  int nsocks;
  long long timer_at_ms;       /* monotonic; -1: no timer */
  long long deadline_ms;       /* monotonic end of the whole call; -1: none */

  http_result res;
  char errbuf[CURL_ERROR_SIZE];
  char ctype[128];
};

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* libcurl tells us which sockets to watch; we keep a small table. */
static int on_socket(CURL *e, curl_socket_t s, int what, void *ud, void *sp) {
  http_client *c = ud;
  int i;
  (void)e; (void)sp;
  for (i = 0; i < c->nsocks; i++)
    if (c->socks[i].fd == (int)s) break;
  if (what == CURL_POLL_REMOVE) {
    if (i < c->nsocks) c->socks[i] = c->socks[--c->nsocks];
    return 0;
  }
  if (i == c->nsocks) {
    if (c->nsocks == MAX_SOCKS) return -1; /* cannot happen for one transfer */
    c->nsocks++;
  }
  c->socks[i].fd = (int)s;
  c->socks[i].events = (what & CURL_POLL_IN ? 1 : 0) | (what & CURL_POLL_OUT ? 2 : 0);
  return 0;
}

static int on_timer(CURLM *m, long timeout_ms, void *ud) {
  http_client *c = ud;
  (void)m;
  c->timer_at_ms = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
  return 0;
}

static size_t on_read(char *dst, size_t size, size_t n, void *ud) {
  http_client *c = ud;
  size_t room = size * n, left = c->req_len - c->req_pos;
  size_t k = left < room ? left : room;
  memcpy(dst, c->req + c->req_pos, k);
  c->req_pos += k;
  if (k) c->sent_body = 1;
  return k;
}

/* libcurl asks to rewind only to resend the body on a new connection after
 * a reused one died. The camera may already have acted on it, so only
 * read-only calls allow that. */
static int on_seek(void *ud, curl_off_t off, int origin) {
  http_client *c = ud;
  if (c->sent_body && !c->may_resend) return CURL_SEEKFUNC_FAIL;
  if (origin != SEEK_SET || off < 0 || (size_t)off > c->req_len)
    return CURL_SEEKFUNC_FAIL;
  c->req_pos = (size_t)off;
  return CURL_SEEKFUNC_OK;
}

static size_t on_write(char *src, size_t size, size_t n, void *ud) {
  http_client *c = ud;
  size_t k = size * n;
  if (c->take_off) { /* drop what was taken, keep the rest at the front */
    memmove(c->buf, c->buf + c->take_off, c->len - c->take_off);
    c->len -= c->take_off;
    c->take_off = 0;
  }
  if (k > c->max_body || c->len > c->max_body - k) {
    c->too_big = 1;
    return 0; /* CURLE_WRITE_ERROR */
  }
  if (c->len + k + 1 > c->cap) {
    size_t cap = c->cap ? c->cap : 4096;
    char *nb;
    while (cap < c->len + k + 1) cap *= 2;
    nb = realloc(c->buf, cap);
    if (!nb) return 0;
    c->buf = nb;
    c->cap = cap;
  }
  memcpy(c->buf + c->len, src, k);
  c->len += k;
  c->buf[c->len] = '\0';
  return k;
}

static size_t on_header(char *src, size_t size, size_t n, void *ud) {
  http_client *c = ud;
  size_t k = size * n;
  (void)src;
  c->head_bytes += k;
  if (c->head_bytes > MAX_HEAD_BYTES) {
    c->head_too_big = 1;
    return 0; /* CURLE_WRITE_ERROR */
  }
  return k;
}

http_client *http_new(void) {
  http_client *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->multi = curl_multi_init();
  c->easy = curl_easy_init();
  if (!c->multi || !c->easy) { http_free(c); return NULL; }
  c->timer_at_ms = -1;
  c->deadline_ms = -1;
  curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
  curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_timer);
  curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
  /* One camera, one connection: keep just it. */
  curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, 1L);

  curl_easy_setopt(c->easy, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075700 /* 7.87.0 */
  /* A transfer whose timeout comes while libcurl's resolver thread is in
   * getaddrinfo() would otherwise wait for that thread (as long as the
   * system's resolver takes, past the call's deadline): it is left to end
   * by itself instead (docs/design.md, "Host names without blocking"). */
  curl_easy_setopt(c->easy, CURLOPT_QUICK_EXIT, 1L);
#endif
  curl_easy_setopt(c->easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
  curl_easy_setopt(c->easy, CURLOPT_PROXY, ""); /* cameras are reached directly */
  curl_easy_setopt(c->easy, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(c->easy, CURLOPT_SSL_SESSIONID_CACHE, 1L);
  curl_easy_setopt(c->easy, CURLOPT_ERRORBUFFER, c->errbuf);
  curl_easy_setopt(c->easy, CURLOPT_READFUNCTION, on_read);
  curl_easy_setopt(c->easy, CURLOPT_READDATA, c);
  curl_easy_setopt(c->easy, CURLOPT_SEEKFUNCTION, on_seek);
  curl_easy_setopt(c->easy, CURLOPT_SEEKDATA, c);
  curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, c);
  curl_easy_setopt(c->easy, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c->easy, CURLOPT_HEADERDATA, c);
  curl_easy_setopt(c->easy, CURLOPT_POST, 1L);
  return c;
}

void http_free(http_client *c) {
  if (!c) return;
  if (c->running) curl_multi_remove_handle(c->multi, c->easy);
  if (c->easy) curl_easy_cleanup(c->easy);
  if (c->multi) curl_multi_cleanup(c->multi);
  curl_slist_free_all(c->headers);
  free(c->req);
  free(c->buf);
  free(c);
}

static void reset_result(http_client *c) {
  memset(&c->res, 0, sizeof c->res);
  c->errbuf[0] = '\0';
  c->ctype[0] = '\0';
  c->len = c->take_off = 0;
  c->too_big = 0;
  c->head_bytes = 0;
  c->head_too_big = 0;
  c->sent_body = 0;
}

int http_start(http_client *c, const http_request *r, const char **err) {
  char ct[160];
  struct curl_slist *h = NULL;
  CURL *e = c->easy;

  if (c->running) http_abort(c);
  reset_result(c);

  free(c->req);
  c->req = malloc(r->body_len ? r->body_len : 1);
  if (!c->req) { *err = "out of memory"; return -1; }
  memcpy(c->req, r->body, r->body_len);
  c->req_len = r->body_len;
  c->req_pos = 0;
  c->may_resend = r->may_resend;
  c->max_body = r->max_body ? r->max_body : (size_t)4 << 20;

  snprintf(ct, sizeof ct, "Content-Type: %s",
           r->content_type ? r->content_type : "application/json");
  h = curl_slist_append(h, ct);
  /* No 100-continue round trip: cameras answer small bodies at once. */
  if (h) h = curl_slist_append(h, "Expect:");
  if (!h) { *err = "out of memory"; return -1; }
  curl_slist_free_all(c->headers);
  c->headers = h;

  if (curl_easy_setopt(e, CURLOPT_URL, r->url) != CURLE_OK) {
    *err = "bad url";
    return -1;
  }
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, r->connect_timeout_ms);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, r->timeout_ms);
  /* libcurl starts its total timeout again when it resends a read-only
   * request on a new connection by itself (a kept-alive one found dead):
   * the call's own deadline is kept here too, across such resends. */
  c->deadline_ms = r->timeout_ms > 0 ? now_ms() + r->timeout_ms : -1;
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, r->verify ? 1L : 0L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, r->verify ? 2L : 0L);
  curl_easy_setopt(e, CURLOPT_CAINFO, r->cafile);
  if (r->pin && curl_easy_setopt(e, CURLOPT_PINNEDPUBLICKEY, r->pin) != CURLE_OK) {
    *err = "libcurl does not support tls.pin here";
    return -1;
  }
  if (!r->pin) curl_easy_setopt(e, CURLOPT_PINNEDPUBLICKEY, NULL);
  curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, r->fresh_connect ? 1L : 0L);

  if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
    *err = "libcurl refused the transfer";
    return -1;
  }
  c->running = 1;
  return 0;
}

/* A handshake that failed because the connection closed or was reset is
 * the network's doing (worth another try); any other failure is the
 * peer's TLS refusing ours (an alert, not TLS at all, no common
 * protocol), which another try would meet again. libcurl tells them apart
 * only in its message. */
static int handshake_cut(const char *msg) {
  return strstr(msg, "SSL_ERROR_SYSCALL") || strstr(msg, "reset by peer") ||
         strstr(msg, "unexpected eof") || strstr(msg, "Broken pipe");
}

static int classify(http_client *c, CURLcode rc) {
  c->res.tls = NULL;
  switch (rc) {
  case CURLE_OK: return HTTP_OK;
  case CURLE_OPERATION_TIMEDOUT: return HTTP_ETIMEOUT;
  case CURLE_SEND_FAIL_REWIND: return HTTP_ENORESEND;
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    c->res.tls = "pin";
    return HTTP_ETLS_TRUST;
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_ISSUER_ERROR:
    c->res.tls = "ca";
    return HTTP_ETLS_TRUST;
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_SSL_CIPHER:
    if (handshake_cut(c->errbuf)) return HTTP_ENETWORK;
    c->res.tls = "handshake";
    return HTTP_ETLS_HANDSHAKE;
  case CURLE_RECV_ERROR:
    /* libcurl's own limit on an answer's headers (300 KiB, 1xx answers
     * counted), should it come before MAX_HEAD_BYTES. */
    return strstr(c->errbuf, "Too large") ? HTTP_ETOOBIG : HTTP_ENETWORK;
  case CURLE_WRITE_ERROR:
    return c->too_big || c->head_too_big ? HTTP_ETOOBIG : HTTP_EINTERNAL;
  case CURLE_OUT_OF_MEMORY:
  case CURLE_BAD_FUNCTION_ARGUMENT:
  case CURLE_URL_MALFORMAT:
    return HTTP_EINTERNAL;
  default: return HTTP_ENETWORK;
  }
}

static void finish(http_client *c, CURLcode rc) {
  char *ct = NULL;
  http_result *r = &c->res;
  r->outcome = classify(c, rc);
  curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &r->status);
  curl_easy_getinfo(c->easy, CURLINFO_NUM_CONNECTS, &r->connects);
  if (curl_easy_getinfo(c->easy, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct) {
    snprintf(c->ctype, sizeof c->ctype, "%s", ct);
    r->content_type = c->ctype;
  }
  if (r->outcome != HTTP_OK)
    r->error = c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc);
  if (c->head_too_big)
    r->error = "its header lines (interim answers and trailers included) pass 64 KiB";
  else if (c->too_big)
    r->error = "its body passes max_body";
  r->sent_body = c->sent_body;
  r->body = c->buf ? c->buf + c->take_off : "";
  r->body_len = c->len - c->take_off;
  curl_multi_remove_handle(c->multi, c->easy); /* the connection stays cached */
  c->running = 0;
  c->nsocks = 0;
  c->timer_at_ms = -1;
}

int http_step(http_client *c) {
  int still = 0, i, n;
  http_waitfd socks[MAX_SOCKS];
  CURLMsg *m;

  if (!c->running) return HTTP_DONE;
  /* Act on every watched socket; libcurl finds out itself which are ready
   * (ev_bitmask 0), which keeps the waiting side free to poll as it likes. */
  n = c->nsocks;
  memcpy(socks, c->socks, sizeof socks);
  for (i = 0; i < n; i++)
    curl_multi_socket_action(c->multi, socks[i].fd, 0, &still);
  if (c->timer_at_ms >= 0 && now_ms() >= c->timer_at_ms) {
    c->timer_at_ms = -1;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &still);
  }
  while ((m = curl_multi_info_read(c->multi, &still)) != NULL) {
    if (m->msg == CURLMSG_DONE && m->easy_handle == c->easy) {
      finish(c, m->data.result);
      return HTTP_DONE;
    }
  }
  if (c->deadline_ms >= 0 && now_ms() >= c->deadline_ms) {
    snprintf(c->errbuf, sizeof c->errbuf, "the call's deadline passed");
    finish(c, CURLE_OPERATION_TIMEDOUT); /* the connection is not reused */
    return HTTP_DONE;
  }
  return HTTP_AGAIN;
}

int http_waitset(http_client *c, http_waitfd *fds, int max, long *timeout_ms) {
  int i, n = c->nsocks < max ? c->nsocks : max;
  for (i = 0; i < n; i++) fds[i] = c->socks[i];
  long long at = c->timer_at_ms;
  if (c->running && c->deadline_ms >= 0 && (at < 0 || c->deadline_ms < at)) at = c->deadline_ms;
  if (at < 0) {
    *timeout_ms = -1;
  } else {
    long long left = at - now_ms();
    *timeout_ms = left < 0 ? 0 : (long)left;
  }
  return n;
}

const http_result *http_result_get(http_client *c) { return &c->res; }

const char *http_take_body(http_client *c, size_t *len) {
  const char *p = c->buf ? c->buf + c->take_off : "";
  *len = c->len - c->take_off;
  c->take_off = c->len;
  return p;
}

long http_status_now(http_client *c) {
  long status = 0;
  curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
  return status;
}

const char *http_content_type_now(http_client *c) {
  char *ct = NULL;
  if (curl_easy_getinfo(c->easy, CURLINFO_CONTENT_TYPE, &ct) != CURLE_OK) return NULL;
  return ct;
}

void http_abort(http_client *c) {
  if (!c->running) return;
  /* Removing an unfinished transfer makes libcurl close its connection,
   * which is what a half-read answer needs. */
  curl_multi_remove_handle(c->multi, c->easy);
  c->running = 0;
  c->nsocks = 0;
  c->timer_at_ms = -1;
}

int http_busy(const http_client *c) { return c->running; }
