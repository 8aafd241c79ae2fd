/* lua_mqtt.c: the module vigi.mqtt, class "vigi.mqtt.client": an MQTT
 * client through libmosquitto, driven from Lua without threads and
 * without blocking. It is a module of its own (lua/vigi/mqtt.so), built
 * only where libmosquitto is installed: the rest of vigi never loads it.
 *
 *   local mqtt = require "vigi.mqtt"
 *   local c = mqtt.client{ id = "vigi-bridge", clean = true,
 *                          max_payload = 65536, max_queue = 1 MiB, max_out = 16 MiB }
 *   c:credentials(user, password)      before connect; never shown again
 *   c:will(topic, payload, qos, retain)
 *   c:tls{ cafile =, capath =, certfile =, keyfile =, insecure = }
 *   c:connect(host, port, keepalive)   -> true | nil, message   (starts it)
 *   c:reconnect()                      -> true | nil, message   (same broker)
 *   c:waitset(set) -> n, -1            the socket and what to wait for
 *   c:step()       -> true | nil, message: reads, writes, keeps alive
 *   c:want_write() -> bool            bytes wait for the socket
 *   c:take()       -> item | nil       what happened, in order:
 *       { kind = "connect", rc = n, message = "..." }  (rc 0: accepted)
 *       { kind = "disconnect", rc = n, message = "..." }
 *       { kind = "message", topic =, payload =, retain = bool, qos = n }
 *   c:publish(topic, payload, qos, retain) -> mid | nil, message
 *   c:subscribe(pattern, qos)          -> mid | nil, message
 *   c:disconnect(), c:close() (also __gc, __close; safe twice)
 *   c:stats() -> { queued =, dropped_big =, dropped_full =, dropped_out =, pending_out = }
 *   mqtt.version() -> "2.0.11"
 *
 * libmosquitto calls back (on_connect, on_disconnect, on_message) from
 * inside mosquitto_loop_read and friends. The callbacks here never touch
 * Lua: they copy what they are given into a queue of this object, which
 * c:take() hands over afterwards. So no Lua runs in the middle of a C
 * call, nothing yields across C (LuaJIT, 5.1), and Lua waits on the
 * socket through wait.lua like every other object of vigi.
 *
 * Bounds (the broker forwards what any of its clients publish): a message
 * whose payload is over max_payload is dropped and counted; so is one that
 * would take the queue over max_queue bytes. What libmosquitto holds to
 * send is estimated (bytes published while the socket still had bytes to
 * write); past max_out a publish is refused: the broker is not reading. */
#include "lua_aux.h"
#include "lua_sock.h"

#include <errno.h>
#include <mosquitto.h>
#include <stdlib.h>
#include <string.h>

#define CLASS "vigi.mqtt.client"

enum { ITEM_CONNECT, ITEM_DISCONNECT, ITEM_MESSAGE };

typedef struct item {
  struct item *next;
  int kind, rc, qos, retain;
  size_t topic_len, payload_len;
  char *topic, *payload; /* malloc'ed, NUL-terminated */
} item;

typedef struct {
  vigi_object o;
  struct mosquitto *m;
  item *head, *tail;
  size_t queued, max_queue, max_payload, pending_out, max_out;
  unsigned long dropped_big, dropped_full, dropped_out;
} lmqtt;

static lmqtt *check(lua_State *L) { return vigi_checkopen(L, 1, CLASS); }

static int fail(lua_State *L, int rc) {
  lua_pushnil(L);
  if (rc == MOSQ_ERR_ERRNO) lua_pushstring(L, strerror(errno));
  else lua_pushstring(L, mosquitto_strerror(rc));
  lua_pushinteger(L, rc);
  return 3;
}

static void push_item(lmqtt *c, item *it) {
  it->next = NULL;
  if (c->tail) c->tail->next = it;
  else c->head = it;
  c->tail = it;
}

static void free_item(item *it) {
  free(it->topic);
  free(it->payload);
  free(it);
}

/* Connection items are a few bytes each and at most one per attempt, so
 * they are always queued; only messages count against the limits. */
static void on_connect(struct mosquitto *m, void *ud, int rc) {
  lmqtt *c = ud;
  item *it = calloc(1, sizeof *it);
  (void)m;
  if (!it) return;
  it->kind = ITEM_CONNECT;
  it->rc = rc;
  push_item(c, it);
}

static void on_disconnect(struct mosquitto *m, void *ud, int rc) {
  lmqtt *c = ud;
  item *it = calloc(1, sizeof *it);
  (void)m;
  if (!it) return;
  it->kind = ITEM_DISCONNECT;
  it->rc = rc;
  push_item(c, it);
}

static void on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg) {
  lmqtt *c = ud;
  size_t tlen = msg->topic ? strlen(msg->topic) : 0;
  size_t plen = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0;
  item *it;
  (void)m;
  if (plen > c->max_payload) {
    c->dropped_big++;
    return;
  }
  if (c->queued + tlen + plen > c->max_queue) {
    c->dropped_full++;
    return;
  }
  it = calloc(1, sizeof *it);
  if (!it) return;
  it->topic = malloc(tlen + 1);
  it->payload = malloc(plen + 1);
  if (!it->topic || !it->payload) {
    free_item(it);
    return;
  }
  if (tlen) memcpy(it->topic, msg->topic, tlen);
  it->topic[tlen] = 0;
  if (plen) memcpy(it->payload, msg->payload, plen);
  it->payload[plen] = 0;
  it->topic_len = tlen;
  it->payload_len = plen;
  it->kind = ITEM_MESSAGE;
  it->qos = msg->qos;
  it->retain = msg->retain;
  c->queued += tlen + plen;
  push_item(c, it);
}

/* A number of bytes in 1..2^30 (a fraction is cut off). */
static size_t opt_size(lua_State *L, const char *k, size_t def) {
  return (size_t)vigi_opt_number(L, 1, k, (lua_Number)def, 1, 1073741824.0);
}

/* mqtt.client{ id =, clean = true, max_payload =, max_queue =, max_out = } */
static int l_client(lua_State *L) {
  const char *id;
  int clean;
  lmqtt *c;
  lua_settop(L, 1);
  if (lua_isnil(L, 1)) {
    lua_newtable(L);
    lua_replace(L, 1);
  }
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_getfield(L, 1, "id");
  id = luaL_optstring(L, -1, NULL); /* id stays on the stack while it is used */
  clean = vigi_opt_boolean(L, 1, "clean", 1);
  c = vigi_newobject(L, CLASS, sizeof *c);
  c->max_payload = opt_size(L, "max_payload", 64 * 1024);
  c->max_queue = opt_size(L, "max_queue", 1024 * 1024);
  c->max_out = opt_size(L, "max_out", 16 * 1024 * 1024);
  c->m = mosquitto_new(id, clean ? true : false, c);
  if (!c->m) {
    lua_pushnil(L);
    lua_pushstring(L, errno == EINVAL ? "mqtt: a client id is needed when clean is false"
                                      : strerror(errno));
    return 2;
  }
  mosquitto_connect_callback_set(c->m, on_connect);
  mosquitto_disconnect_callback_set(c->m, on_disconnect);
  mosquitto_message_callback_set(c->m, on_message);
  return 1;
}

static int ok_or_fail(lua_State *L, int rc) {
  if (rc != MOSQ_ERR_SUCCESS) return fail(L, rc);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_credentials(lua_State *L) {
  lmqtt *c = check(L);
  return ok_or_fail(L, mosquitto_username_pw_set(c->m, luaL_optstring(L, 2, NULL),
                                                 luaL_optstring(L, 3, NULL)));
}

static int l_will(lua_State *L) {
  lmqtt *c = check(L);
  size_t plen;
  const char *topic = luaL_checkstring(L, 2);
  const char *payload = luaL_checklstring(L, 3, &plen);
  int qos = (int)luaL_optinteger(L, 4, 0);
  luaL_argcheck(L, qos >= 0 && qos <= 2, 4, "qos 0, 1 or 2");
  return ok_or_fail(L, mosquitto_will_set(c->m, topic, (int)plen, payload, qos,
                                          lua_toboolean(L, 5) ? true : false));
}

/* c:tls{ cafile =, capath =, certfile =, keyfile =, insecure = } */
static int l_tls(lua_State *L) {
  lmqtt *c = check(L);
  const char *cafile, *capath, *certfile, *keyfile;
  int rc, insecure;
  luaL_checktype(L, 2, LUA_TTABLE);
  cafile = vigi_opt_string(L, 2, "cafile", NULL);
  capath = vigi_opt_string(L, 2, "capath", NULL);
  certfile = vigi_opt_string(L, 2, "certfile", NULL);
  keyfile = vigi_opt_string(L, 2, "keyfile", NULL);
  insecure = vigi_opt_boolean(L, 2, "insecure", 0);
  rc = mosquitto_tls_set(c->m, cafile, capath, certfile, keyfile, NULL);
  if (rc == MOSQ_ERR_SUCCESS && insecure) rc = mosquitto_tls_insecure_set(c->m, true);
  return ok_or_fail(L, rc);
}

/* c:connect(host, port, keepalive): starts a connection; the socket is
 * connecting or connected when it returns (a name is resolved by the
 * system's resolver first). The CONNACK comes later, as a connect item. */
static int l_connect(lua_State *L) {
  lmqtt *c = check(L);
  const char *host = luaL_checkstring(L, 2);
  lua_Integer port = luaL_optinteger(L, 3, 1883);
  lua_Integer keepalive = luaL_optinteger(L, 4, 60);
  luaL_argcheck(L, port >= 1 && port <= 65535, 3, "port 1..65535");
  luaL_argcheck(L, keepalive >= 5 && keepalive <= 65535, 4, "keepalive 5..65535 s");
  c->pending_out = 0;
  return ok_or_fail(L, mosquitto_connect_async(c->m, host, (int)port, (int)keepalive));
}

static int l_reconnect(lua_State *L) {
  lmqtt *c = check(L);
  c->pending_out = 0;
  return ok_or_fail(L, mosquitto_reconnect_async(c->m));
}

/* c:waitset(set) -> n, -1: the socket (read, and write when there is
 * something to send); n = 0 when there is no socket. */
static int l_waitset(lua_State *L) {
  lmqtt *c = check(L);
  int fd = mosquitto_socket(c->m);
  luaL_checktype(L, 2, LUA_TTABLE);
  if (fd < 0) {
    lua_pushinteger(L, 0);
    lua_setfield(L, 2, "n");
    lua_pushinteger(L, 0);
    lua_pushinteger(L, -1);
    return 2;
  }
  return vigi_sock_waitset_events(L, fd, mosquitto_want_write(c->m) ? 3 : 1);
}

/* c:step(): what mosquitto_loop does after its select, without the
 * select: read what is there (a spurious read costs one EAGAIN; it also
 * moves a TLS handshake on), write what waits, keep the connection alive.
 * A lost connection queues a disconnect item and returns nil, message. */
static int l_step(lua_State *L) {
  lmqtt *c = check(L);
  int rc;
  if (mosquitto_socket(c->m) < 0) return fail(L, MOSQ_ERR_NO_CONN);
  rc = mosquitto_loop_read(c->m, 1);
  if (rc == MOSQ_ERR_SUCCESS && mosquitto_socket(c->m) >= 0 && mosquitto_want_write(c->m))
    rc = mosquitto_loop_write(c->m, 1);
  if (rc == MOSQ_ERR_SUCCESS && mosquitto_socket(c->m) >= 0) rc = mosquitto_loop_misc(c->m);
  if (!mosquitto_want_write(c->m)) c->pending_out = 0;
  return ok_or_fail(L, rc);
}

/* c:want_write(): whether bytes wait to be sent (the socket was full). */
static int l_want_write(lua_State *L) {
  lmqtt *c = check(L);
  lua_pushboolean(L, mosquitto_socket(c->m) >= 0 && mosquitto_want_write(c->m));
  return 1;
}

static int l_take(lua_State *L) {
  lmqtt *c = check(L);
  item *it = c->head;
  if (!it) return 0;
  c->head = it->next;
  if (!c->head) c->tail = NULL;
  lua_createtable(L, 0, 5);
  if (it->kind == ITEM_MESSAGE) {
    c->queued -= it->topic_len + it->payload_len;
    lua_pushliteral(L, "message");
    lua_setfield(L, -2, "kind");
    lua_pushlstring(L, it->topic, it->topic_len);
    lua_setfield(L, -2, "topic");
    lua_pushlstring(L, it->payload, it->payload_len);
    lua_setfield(L, -2, "payload");
    lua_pushboolean(L, it->retain);
    lua_setfield(L, -2, "retain");
    lua_pushinteger(L, it->qos);
    lua_setfield(L, -2, "qos");
  } else {
    if (it->kind == ITEM_CONNECT) {
      lua_pushliteral(L, "connect");
      lua_setfield(L, -2, "kind");
      lua_pushstring(L, mosquitto_connack_string(it->rc));
    } else {
      lua_pushliteral(L, "disconnect");
      lua_setfield(L, -2, "kind");
      lua_pushstring(L, it->rc == 0 ? "disconnected as asked" : mosquitto_strerror(it->rc));
    }
    lua_setfield(L, -2, "message");
    lua_pushinteger(L, it->rc);
    lua_setfield(L, -2, "rc");
  }
  free_item(it);
  return 1;
}

/* c:publish(topic, payload, qos, retain) -> mid | nil, message */
static int l_publish(lua_State *L) {
  lmqtt *c = check(L);
  size_t tlen, plen;
  const char *topic = luaL_checklstring(L, 2, &tlen);
  const char *payload = luaL_optlstring(L, 3, "", &plen);
  int qos = (int)luaL_optinteger(L, 4, 0);
  int mid = 0, rc;
  luaL_argcheck(L, qos >= 0 && qos <= 2, 4, "qos 0, 1 or 2");
  if (plen > 256 * 1024 * 1024) return fail(L, MOSQ_ERR_PAYLOAD_SIZE);
  if (!mosquitto_want_write(c->m)) c->pending_out = 0;
  if (c->pending_out + tlen + plen > c->max_out) {
    c->dropped_out++;
    lua_pushnil(L);
    lua_pushfstring(L, "the broker is not reading: %d bytes wait to be sent", (int)c->pending_out);
    return 2;
  }
  rc = mosquitto_publish(c->m, &mid, topic, (int)plen, payload, qos, lua_toboolean(L, 5) ? true : false);
  if (rc != MOSQ_ERR_SUCCESS) return fail(L, rc);
  if (mosquitto_want_write(c->m)) c->pending_out += tlen + plen;
  else c->pending_out = 0;
  lua_pushinteger(L, mid);
  return 1;
}

static int l_subscribe(lua_State *L) {
  lmqtt *c = check(L);
  const char *pattern = luaL_checkstring(L, 2);
  int qos = (int)luaL_optinteger(L, 3, 0);
  int mid = 0, rc;
  luaL_argcheck(L, qos >= 0 && qos <= 2, 3, "qos 0, 1 or 2");
  rc = mosquitto_subscribe(c->m, &mid, pattern, qos);
  if (rc != MOSQ_ERR_SUCCESS) return fail(L, rc);
  lua_pushinteger(L, mid);
  return 1;
}

static int l_disconnect(lua_State *L) {
  lmqtt *c = check(L);
  return ok_or_fail(L, mosquitto_disconnect(c->m));
}

static int l_stats(lua_State *L) {
  lmqtt *c = check(L);
  lua_createtable(L, 0, 5);
  vigi_set_number(L, "queued", (lua_Number)c->queued);
  vigi_set_number(L, "dropped_big", (lua_Number)c->dropped_big);
  vigi_set_number(L, "dropped_full", (lua_Number)c->dropped_full);
  vigi_set_number(L, "dropped_out", (lua_Number)c->dropped_out);
  vigi_set_number(L, "pending_out", (lua_Number)c->pending_out);
  return 1;
}

static int l_close(lua_State *L) {
  lmqtt *c = vigi_closing(L, CLASS);
  item *it;
  if (!c) return 0;
  if (c->m) mosquitto_destroy(c->m); /* closes the socket; calls nothing back */
  c->m = NULL;
  while ((it = c->head) != NULL) {
    c->head = it->next;
    free_item(it);
  }
  c->tail = NULL;
  c->queued = 0;
  return 0;
}

static int l_tostring(lua_State *L) {
  lmqtt *c = vigi_tostring_open(L, CLASS);
  if (c) lua_pushfstring(L, CLASS "{socket %d}", mosquitto_socket(c->m));
  return 1;
}

static int l_version(lua_State *L) {
  int major, minor, rev;
  mosquitto_lib_version(&major, &minor, &rev);
  lua_pushfstring(L, "%d.%d.%d", major, minor, rev);
  return 1;
}

int luaopen_vigi_mqtt(lua_State *L);
int luaopen_vigi_mqtt(lua_State *L) {
  static int initialised;
  static const luaL_Reg methods[] = {
    {"credentials", l_credentials}, {"will", l_will}, {"tls", l_tls},
    {"connect", l_connect}, {"reconnect", l_reconnect}, {"waitset", l_waitset},
    {"step", l_step}, {"want_write", l_want_write}, {"take", l_take}, {"publish", l_publish}, {"subscribe", l_subscribe},
    {"disconnect", l_disconnect}, {"stats", l_stats}, {"close", l_close},
    {"__gc", l_close}, {"__close", l_close}, {"__tostring", l_tostring},
    {NULL, NULL}
  };
  static const luaL_Reg funcs[] = {
    {"client", l_client}, {"version", l_version}, {NULL, NULL}
  };
  /* Once per process; libmosquitto's cleanup is left to the exit. */
  if (!initialised) {
    mosquitto_lib_init();
    initialised = 1;
  }
  vigi_newclass(L, CLASS, methods);
  luaL_newlib(L, funcs);
  return 1;
}
