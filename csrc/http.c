/* http.c: control calls through libcurl's multi interface (see http.h). */
#include "http.h"

#include <curl/curl.h>
#include <malloc.h>
#include <sys/socket.h>
#include <sys/stat.h>
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
/* libcurl's receive buffer for one transfer (its default is 16 KiB):
 * answers are a few KiB, and a thousand transfers at once each hold one.
 * The upload buffer gets libcurl's least (16 KiB; 64 KiB by default):
 * requests are a few hundred bytes. */
#define RECV_BUFFER 8192L
#define SEND_BUFFER 16384L
/* See http_waitset. */
#define UNWOKEN_MS 20

/* Every client of a pool shares its multi handle: one connection cache,
 * one DNS cache, one timer, one table of sockets (a multi costs some
 * 35 KiB, most of it its socket hash, and two descriptors). Each client
 * keeps its own easy handle, TLS session cache and settings, so cameras
 * keep their pins and verification apart: libcurl reuses a cached
 * connection, or a session, only for a transfer whose TLS settings
 * (verification, CA file, pin) are the same. */
struct http_pool {
  CURLM *multi;
  long long timer_at_ms;       /* monotonic; -1: no timer */
  int refs;                    /* clients, and the owner's reference */
  int clients;
  int running;                 /* transfers in the multi */
  http_client *first;          /* every client, for the idle sweep */
  http_client *stepping;       /* the client whose step is running */
  http_client *keeper;         /* the client that waits for the timer */
  http_client *woken;          /* clients another step changed (->wake_next) */
  long long swept_ms;          /* last sweep; at most one a second */
  long long dead_until_ms;     /* connections were ended: the janitor runs till then */
  size_t trimmed_free;         /* the allocator's free bytes after the last trim */
  CURL *janitor;               /* see http_pool_sweep */
};

struct http_client {
  http_pool *pool;
  http_client *prev, *next;
  CURL *easy;
  int running;                 /* the easy handle is in the multi */
  int done;                    /* its transfer ended, maybe in another's step */
  CURLcode rc;                 /* how it ended */
  int queued;                  /* in the pool's woken list */
  http_client *wake_next;
  long long idle_since_ms;     /* end of the last transfer; -1: none since */
  int conn_fd;                 /* the socket of its kept connection, or -1 */
  ino_t conn_ino;              /* and its inode, which tells it from another */
  long idle_close_ms;          /* close the kept connection after this; 0: never */
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

/* A transfer moved on in another client's step (libcurl runs every
 * transfer whose timer is due at each step): its client may be waiting
 * on sockets it no longer uses, or for an end that came already, so it
 * is queued to be woken (http_woken). */
static void wake(http_client *c) {
  if (c->pool->stepping == c || c->queued) return;
  c->queued = 1;
  c->wake_next = c->pool->woken;
  c->pool->woken = c;
}

static void unqueue(http_client *c) {
  http_client **pp = &c->pool->woken;
  if (!c->queued) return;
  while (*pp && *pp != c) pp = &(*pp)->wake_next;
  if (*pp) *pp = c->wake_next;
  c->queued = 0;
  c->wake_next = NULL;
}

/* One waiting client at a time waits for the pool's timer as well as for
 * its own sockets (were every client to, each timer of each transfer
 * would wake them all). When it is done, another running client takes
 * the timer over and is woken to wait for it. */
static void release_keeper(http_client *c) {
  http_pool *p = c->pool;
  http_client *o;
  if (p->keeper != c) return;
  p->keeper = NULL;
  for (o = p->first; o; o = o->next)
    if (o != c && o->running && !o->done) {
      p->keeper = o;
      wake(o);
      break;
    }
}

/* libcurl tells us which sockets to watch, per transfer: each client
 * keeps a small table of its own. */
static int on_socket(CURL *e, curl_socket_t s, int what, void *ud, void *sp) {
  http_client *c = NULL;
  int i;
  (void)ud; (void)sp;
  if (curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&c) != CURLE_OK || !c) return 0;
  for (i = 0; i < c->nsocks; i++)
    if (c->socks[i].fd == (int)s) break;
  if (what == CURL_POLL_REMOVE) {
    if (i < c->nsocks) c->socks[i] = c->socks[--c->nsocks];
    wake(c);
    return 0;
  }
  if (i == c->nsocks) {
    if (c->nsocks == MAX_SOCKS) return -1; /* cannot happen for one transfer */
    c->nsocks++;
  }
  c->socks[i].fd = (int)s;
  c->socks[i].events = (what & CURL_POLL_IN ? 1 : 0) | (what & CURL_POLL_OUT ? 2 : 0);
  wake(c);
  return 0;
}

static int on_timer(CURLM *m, long timeout_ms, void *ud) {
  http_pool *p = ud;
  (void)m;
  p->timer_at_ms = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
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

/* The multi's cache holds every camera's kept connection; libcurl's
 * default (four per transfer in progress) would close most of them. */
static void set_maxconnects(http_pool *p) {
  curl_multi_setopt(p->multi, CURLMOPT_MAXCONNECTS, (long)(p->clients * 2 + 16));
}

http_pool *http_pool_new(void) {
  http_pool *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->multi = curl_multi_init();
  if (!p->multi) { free(p); return NULL; }
  p->refs = 1;
  p->timer_at_ms = -1;
  p->swept_ms = -1;
  curl_multi_setopt(p->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(p->multi, CURLMOPT_SOCKETDATA, p);
  curl_multi_setopt(p->multi, CURLMOPT_TIMERFUNCTION, on_timer);
  curl_multi_setopt(p->multi, CURLMOPT_TIMERDATA, p);
  set_maxconnects(p);
  /* One connection per camera (host and port), as with a multi handle of
   * its own: a call that needs a new one (a login's, after the probe)
   * closes the camera's idle one instead of leaving it in the cache, and
   * two camera objects of one address take turns. */
  curl_multi_setopt(p->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 1L);
  return p;
}

void http_pool_release(http_pool *p) {
  if (!p || --p->refs > 0) return;
  if (p->janitor) curl_easy_cleanup(p->janitor);
  curl_multi_cleanup(p->multi); /* closes the cached connections */
  free(p);
}

static void collect(http_pool *p);

/* Closing one client's connection. libcurl (7.88) has no call for it:
 * a cached connection is closed when a transfer that looks for one to
 * reuse finds it dead (at most once a second), or too old for that
 * transfer's CURLOPT_MAXAGE_CONN. So the client's connection is ended
 * here (shutdown: the camera sees it closed now), and the janitor, a
 * transfer that looks for a connection and connects to a Unix socket
 * that cannot be one (/dev/null: refused at once, nothing is sent
 * anywhere), makes libcurl find it dead and free it. The socket is the
 * one libcurl named at the end of the client's last transfer, checked by
 * its inode before anything is done to it: a descriptor number closed
 * meanwhile may belong to another connection now. Every easy handle's
 * own max age is a day, so that no camera's call closes another camera's
 * connection by age: idle_close is each camera's. */
#define MAX_AGE_S 86400L

static void forget_conn(http_client *c) {
  c->conn_fd = -1;
  c->conn_ino = 0;
}

/* After a transfer: the socket of the connection it left in the cache. */
static void note_conn(http_client *c) {
  curl_socket_t fd = CURL_SOCKET_BAD;
  struct stat st;
  forget_conn(c);
  if (curl_easy_getinfo(c->easy, CURLINFO_ACTIVESOCKET, &fd) == CURLE_OK && fd != CURL_SOCKET_BAD &&
      fstat((int)fd, &st) == 0 && S_ISSOCK(st.st_mode)) {
    c->conn_fd = (int)fd;
    c->conn_ino = st.st_ino;
  }
}

/* Ends the client's kept connection, if it is still the one noted.
 * Returns whether it did. */
static int end_conn(http_client *c) {
  struct stat st;
  int ended = 0;
  if (c->conn_fd >= 0 && fstat(c->conn_fd, &st) == 0 && S_ISSOCK(st.st_mode) &&
      st.st_ino == c->conn_ino)
    ended = shutdown(c->conn_fd, SHUT_RDWR) == 0;
  forget_conn(c);
  return ended;
}

static void collect(http_pool *p);

/* libcurl frees the connections found dead (see above). */
static void run_janitor(http_pool *p) {
  int still = 0;
  if (!p->janitor) {
    p->janitor = curl_easy_init();
    if (!p->janitor) return;
    curl_easy_setopt(p->janitor, CURLOPT_URL, "http://localhost/");
    curl_easy_setopt(p->janitor, CURLOPT_UNIX_SOCKET_PATH, "/dev/null");
    curl_easy_setopt(p->janitor, CURLOPT_CONNECT_ONLY, 1L);
    curl_easy_setopt(p->janitor, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(p->janitor, CURLOPT_PROXY, "");
    curl_easy_setopt(p->janitor, CURLOPT_MAXAGE_CONN, MAX_AGE_S);
  }
  if (curl_multi_add_handle(p->multi, p->janitor) != CURLM_OK) return;
  curl_multi_socket_action(p->multi, CURL_SOCKET_TIMEOUT, 0, &still);
  collect(p);
  curl_multi_remove_handle(p->multi, p->janitor); /* if it has not ended yet */
}

/* libcurl looks for dead connections at most once a second, whoever
 * asks (any transfer that connects): a janitor run may find it too soon,
 * so it runs at every sweep for a while after a connection was ended. */
static void ended(http_pool *p) {
  p->dead_until_ms = now_ms() + 2500;
  run_janitor(p);
}

/* A burst of handshakes (a fleet connecting at once) leaves the heap full
 * of holes: every handshake's buffers were live at the same time, and the
 * connections' lasting state sits between them, so the allocator cannot
 * give the pages back by itself. When free memory inside the heap grew by
 * TRIM_STEP since the last look, its free pages go back to the system
 * (glibc: malloc_trim, which also releases pages inside the heap). */
#define TRIM_STEP ((size_t)4 << 20)
static void trim_heap(http_pool *p) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  struct mallinfo2 m = mallinfo2();
  if (m.fordblks < p->trimmed_free) p->trimmed_free = m.fordblks;
  if (m.fordblks >= p->trimmed_free + TRIM_STEP) {
    malloc_trim(0);
    p->trimmed_free = m.fordblks;
  }
#else
  (void)p;
#endif
}

/* At most once a second: the connections idle for their client's
 * idle_close are ended and freed, and the heap's free pages given back. */
void http_pool_sweep(http_pool *p) {
  long long now = now_ms();
  http_client *c;
  int n = 0;
  if (p->swept_ms >= 0 && now - p->swept_ms < 1000) return;
  p->swept_ms = now;
  for (c = p->first; c; c = c->next)
    if (!c->running && c->conn_fd >= 0 && c->idle_close_ms > 0 &&
        now - c->idle_since_ms >= c->idle_close_ms)
      n += end_conn(c);
  if (n) ended(p);
  else if (now < p->dead_until_ms) run_janitor(p);
  trim_heap(p);
}

http_client *http_new(http_pool *p) {
  http_client *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->easy = curl_easy_init();
  if (!c->easy) { free(c); return NULL; }
  c->pool = p;
  p->refs++;
  p->clients++;
  c->next = p->first;
  if (p->first) p->first->prev = c;
  p->first = c;
  set_maxconnects(p);
  c->deadline_ms = -1;
  c->idle_since_ms = -1;
  forget_conn(c);

  curl_easy_setopt(c->easy, CURLOPT_PRIVATE, (char *)c);
  curl_easy_setopt(c->easy, CURLOPT_MAXAGE_CONN, MAX_AGE_S);
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
  curl_easy_setopt(c->easy, CURLOPT_BUFFERSIZE, RECV_BUFFER);
  curl_easy_setopt(c->easy, CURLOPT_UPLOAD_BUFFERSIZE, SEND_BUFFER);
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
  http_pool *p;
  if (!c) return;
  p = c->pool;
  if (c->running) http_abort(c);
  unqueue(c);
  /* a closed camera leaves no connection behind in the shared cache */
  if (end_conn(c)) ended(p);
  curl_easy_cleanup(c->easy);
  if (c->prev) c->prev->next = c->next;
  else p->first = c->next;
  if (c->next) c->next->prev = c->prev;
  p->clients--;
  set_maxconnects(p);
  curl_slist_free_all(c->headers);
  free(c->req);
  free(c->buf);
  free(c);
  http_pool_release(p);
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
  http_pool_sweep(c->pool);

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
  c->idle_close_ms = r->idle_close_ms;

  c->done = 0;
  c->idle_since_ms = -1;
  c->pool->stepping = c;
  if (curl_multi_add_handle(c->pool->multi, e) != CURLM_OK) {
    c->pool->stepping = NULL;
    *err = "libcurl refused the transfer";
    return -1;
  }
  c->pool->stepping = NULL;
  c->running = 1;
  c->pool->running++;
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
     * counted), should it come before MAX_HEAD_BYTES; a bad chunk is a
     * receive error too, told apart only by its message. */
    if (strstr(c->errbuf, "Too large")) return HTTP_ETOOBIG;
    return strstr(c->errbuf, "chunk") ? HTTP_EPROTO : HTTP_ENETWORK;
  case CURLE_WEIRD_SERVER_REPLY:
  case CURLE_BAD_CONTENT_ENCODING:
    return HTTP_EPROTO;
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
  note_conn(c); /* while the handle is in the multi: libcurl finds it there */
  c->pool->stepping = c;
  curl_multi_remove_handle(c->pool->multi, c->easy); /* the connection stays cached */
  c->pool->stepping = NULL;
  release_keeper(c);
  c->running = 0;
  c->pool->running--;
  c->done = 0;
  c->nsocks = 0;
  c->idle_since_ms = now_ms();
}

/* Finished transfers, whoever's step finished them: each is marked on
 * its client, which finishes it at its own next step. */
static void collect(http_pool *p) {
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(p->multi, &left)) != NULL) {
    http_client *o = NULL;
    if (m->msg != CURLMSG_DONE) continue;
    if (m->easy_handle == p->janitor) {
      curl_multi_remove_handle(p->multi, p->janitor);
      continue;
    }
    if (curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&o) == CURLE_OK && o) {
      o->done = 1;
      o->rc = m->data.result;
      wake(o);
    }
  }
}

/* libcurl's timer is the pool's: whichever client steps when it is due
 * runs it, for every transfer whose time came (a transfer finished there
 * is marked on its own client, above). */
static void run_timer(http_pool *p) {
  int still = 0;
  if (p->timer_at_ms >= 0 && now_ms() >= p->timer_at_ms) {
    p->timer_at_ms = -1;
    curl_multi_socket_action(p->multi, CURL_SOCKET_TIMEOUT, 0, &still);
  }
}

int http_step(http_client *c) {
  int still = 0, i, n;
  http_waitfd socks[MAX_SOCKS];
  http_pool *p = c->pool;

  if (!c->running) return HTTP_DONE;
  unqueue(c);
  /* Act on every socket of this transfer; libcurl finds out itself which
   * are ready (ev_bitmask 0), which keeps the waiting side free to poll
   * as it likes. */
  p->stepping = c;
  n = c->nsocks;
  memcpy(socks, c->socks, sizeof socks);
  for (i = 0; i < n && !c->done; i++)
    curl_multi_socket_action(p->multi, socks[i].fd, 0, &still);
  run_timer(p);
  collect(p);
  p->stepping = NULL;
  if (c->done) {
    finish(c, c->rc);
    return HTTP_DONE;
  }
  if (c->deadline_ms >= 0 && now_ms() >= c->deadline_ms) {
    snprintf(c->errbuf, sizeof c->errbuf, "the call's deadline passed");
    finish(c, CURLE_OPERATION_TIMEDOUT); /* the connection is not reused */
    return HTTP_DONE;
  }
  return HTTP_AGAIN;
}

/* The transfer's sockets and its deadline; for the keeper, the pool's
 * timer too. */
int http_waitset(http_client *c, http_waitfd *fds, int max, long *timeout_ms, int timer) {
  int i, n = c->nsocks < max ? c->nsocks : max;
  http_pool *p = c->pool;
  long long at = -1;
  for (i = 0; i < n; i++) fds[i] = c->socks[i];
  if (c->running && !c->done && (!p->keeper || p->keeper == c)) p->keeper = c;
  if (c->running && !c->done && (p->keeper == c || timer)) at = p->timer_at_ms;
  /* Another transfer's step may also end this one (libcurl runs every
   * transfer whose timer is due): a caller that cannot be woken looks
   * again every UNWOKEN_MS while others run. */
  if (c->running && timer && p->running > 1 && (at < 0 || at > now_ms() + UNWOKEN_MS))
    at = now_ms() + UNWOKEN_MS;
  if (c->running && c->deadline_ms >= 0 && (at < 0 || c->deadline_ms < at)) at = c->deadline_ms;
  if (c->done) at = 0;
  if (at < 0) {
    *timeout_ms = -1;
  } else {
    long long left = at - now_ms();
    *timeout_ms = left < 0 ? 0 : (long)left;
  }
  return n;
}

const http_result *http_result_get(http_client *c) { return &c->res; }

void http_drop_body(http_client *c) {
  free(c->buf);
  c->buf = NULL;
  c->len = c->cap = c->take_off = 0;
  c->res.body = "";
  c->res.body_len = 0;
}

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
  c->pool->stepping = c;
  curl_multi_remove_handle(c->pool->multi, c->easy);
  c->pool->stepping = NULL;
  release_keeper(c);
  c->running = 0;
  c->pool->running--;
  c->done = 0;
  c->nsocks = 0;
}

int http_busy(const http_client *c) { return c->running; }

http_client *http_woken(http_pool *p) {
  http_client *c = p->woken;
  if (c) unqueue(c);
  return c;
}

http_pool *http_pool_of(const http_client *c) { return c->pool; }

const char *http_primary_ip(http_client *c) {
  char *ip = NULL;
  if (curl_easy_getinfo(c->easy, CURLINFO_PRIMARY_IP, &ip) != CURLE_OK) return NULL;
  return ip;
}
