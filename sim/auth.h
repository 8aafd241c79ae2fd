/* doAuth, both ways the firmware does it (WIRE-NOTES §2 and §4):
 *   md5:        {"password":"<MD5 hex>","passwdType":"md5"}
 *   challenge:  probe {"params":null} -> -10020 + "authenticate" {realm,
 *               nonce, algorithm, uri, method}; then {"nonce":N,"response":R}
 *               with R = hex(SHA256(hex(SHA256(user:realm:password)) ":" N
 *               ":" hex(SHA256(method:uri)))).
 * and the lockout after cfg.lockout consecutive failures. */
#ifndef SIM_AUTH_H
#define SIM_AUTH_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "camera.h"

#define AUTH_REALM   "VIGI"
#define AUTH_URI     "/"
#define AUTH_METHOD  "POST"

/* The JSON answer (malloc'd, *len bytes) of a doAuth call whose "params"
 * is params (NULL when absent). echo is the method name as sent. */
char *auth_do(struct camera *cam, const char *echo, const cJSON *params, size_t *len);

#endif
