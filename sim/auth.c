/* doAuth: see auth.h. */
#include "auth.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "log.h"

static char *answer(cJSON *a, size_t *len)
{
	char *s = a ? engine_print(a, len) : NULL;
	cJSON_Delete(a);
	return s;
}

static cJSON *head(const char *echo, int code)
{
	cJSON *a = cJSON_CreateObject();
	if (!a)
		return NULL;
	cJSON_AddStringToObject(a, "method", echo);
	cJSON_AddNumberToObject(a, "errCode", code);
	return a;
}

static char *error(const char *echo, int code, const char *msg, size_t *len)
{
	cJSON *a = head(echo, code);
	if (a && msg)
		cJSON_AddStringToObject(a, "msg", msg);
	return answer(a, len);
}

static char *locked(struct camera *cam, const char *echo, size_t *len)
{
	char msg[96];
	uint64_t left = cam->locked_until - loop_now(cam->lp);
	cam->cnt.login_locked++;
	snprintf(msg, sizeof msg, "account locked, %llu s left",
		 (unsigned long long)((left + 999) / 1000));
	return error(echo, SIM_E_LOCKED, msg, len);
}

static char *success(struct camera *cam, const char *echo, size_t *len)
{
	char stok[33];
	camera_login_ok(cam);
	camera_token_issue(cam, stok);
	cam->cnt.login_ok++;
	sim_log("doAuth: ok");
	cJSON *a = head(echo, 0);
	if (!a)
		return NULL;
	if (cam->cfg.stok_top)
		cJSON_AddStringToObject(a, "stok", stok);
	else
		cJSON_AddStringToObject(cJSON_AddObjectToObject(a, "result"), "stok", stok);
	return answer(a, len);
}

static char *failure(struct camera *cam, const char *echo, size_t *len)
{
	cam->cnt.login_failed++;
	int now_locked = camera_login_failed(cam);
	sim_log("doAuth: failed%s", now_locked ? ", account now locked" : "");
	return error(echo, SIM_E_LOGIN_FAILED, "login failed", len);
}

static char *challenge(struct camera *cam, const char *echo, size_t *len)
{
	char nonce[33];
	camera_nonce_issue(cam, nonce);
	cJSON *a = head(echo, SIM_E_LOGIN_FAILED);
	if (!a)
		return NULL;
	cJSON *au = cJSON_AddObjectToObject(a, "authenticate");
	cJSON_AddStringToObject(au, "realm", AUTH_REALM);
	cJSON_AddStringToObject(au, "nonce", nonce);
	cJSON_AddStringToObject(au, "algorithm", "SHA-256");
	cJSON_AddStringToObject(au, "uri", AUTH_URI);
	cJSON_AddStringToObject(au, "method", AUTH_METHOD);
	return answer(a, len);
}

/* The response the client must send for nonce. */
static void expected_response(const struct camera *cam, const char *nonce, char out[65])
{
	char ha1[65], ha2[65], buf[512];
	int n = snprintf(buf, sizeof buf, "%s:%s:%s", cam->cfg.username, AUTH_REALM,
			 cam->cfg.password);
	camera_sha256_hex(buf, (size_t)n, ha1);
	n = snprintf(buf, sizeof buf, "%s:%s", AUTH_METHOD, AUTH_URI);
	camera_sha256_hex(buf, (size_t)n, ha2);
	n = snprintf(buf, sizeof buf, "%s:%s:%s", ha1, nonce, ha2);
	camera_sha256_hex(buf, (size_t)n, out);
}

char *auth_do(struct camera *cam, const char *echo, const cJSON *params, size_t *len)
{
	int probe = !params || cJSON_IsNull(params) ||
		    (cJSON_IsObject(params) && params->child == NULL);
	if (probe) {
		cam->cnt.login_probe++;
		if (camera_locked(cam))
			return locked(cam, echo, len);
		if (cam->cfg.auth == AUTH_CHALLENGE)
			return challenge(cam, echo, len);
		return error(echo, SIM_E_INVALID_PARAMS, "missing parameter 'password'", len);
	}
	if (!cJSON_IsObject(params))
		return error(echo, SIM_E_INVALID_PARAMS, "invalid parameter 'params': must be an object", len);

	const cJSON *nonce = cJSON_GetObjectItemCaseSensitive(params, "nonce");
	const cJSON *resp = cJSON_GetObjectItemCaseSensitive(params, "response");
	if (nonce || resp) {
		cam->cnt.login_challenge++;
		if (camera_locked(cam))
			return locked(cam, echo, len);
		if (cam->cfg.auth != AUTH_CHALLENGE)
			return error(echo, SIM_E_UNSUPPORTED, "challenge login is not supported", len);
		if (!cJSON_IsString(nonce) || !cJSON_IsString(resp))
			return error(echo, SIM_E_INVALID_PARAMS,
				     "invalid parameter: 'nonce' and 'response' must be strings", len);
		char want[65];
		expected_response(cam, nonce->valuestring, want);
		/* Take the nonce whatever the answer: it is single use. */
		int fresh = camera_nonce_take(cam, nonce->valuestring);
		if (fresh && strcmp(resp->valuestring, want) == 0)
			return success(cam, echo, len);
		return failure(cam, echo, len);
	}

	const cJSON *pw = cJSON_GetObjectItemCaseSensitive(params, "password");
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(params, "passwdType");
	if (!pw)
		return error(echo, SIM_E_INVALID_PARAMS, "missing parameter 'password'", len);
	cam->cnt.login_md5++;
	if (camera_locked(cam))
		return locked(cam, echo, len);
	if (cam->cfg.auth != AUTH_MD5)
		return error(echo, SIM_E_UNSUPPORTED, "md5 login is not supported", len);
	if (!cJSON_IsString(pw))
		return error(echo, SIM_E_INVALID_PARAMS, "invalid parameter 'password': must be a string", len);
	if (!cJSON_IsString(type) || strcmp(type->valuestring, "md5") != 0)
		return error(echo, SIM_E_INVALID_PARAMS,
			     "invalid parameter 'passwdType': must be \"md5\"", len);
	if (strlen(pw->valuestring) == 32 &&
	    strcasecmp(pw->valuestring, cam->cfg.password_md5) == 0)
		return success(cam, echo, len);
	return failure(cam, echo, len);
}
