/* The generic method engine: camera.json's state and methods, and the
 * answers of its get / set / set_regions / action methods. Special methods
 * (doAuth, subscribeMsg) are listed here but answered elsewhere.
 *
 * camera.json:
 *   {"state": {"<key>": <any>},
 *    "methods": {"<wireName>": {"kind": "get"|"set"|"set_regions"|"action"|"special",
 *       "state": "<key>", "params": {"<field>": <rule>}, "required": [...],
 *       "one_of": [...], "together": [...], "map": {"<field>": "<dotted path in state[key]>"},
 *       "array": "<field>", "result": <any>, "form": "media",
 *       "links": {"<field>": ["<stateKey>.<dotted.path>"]}, "example": <ignored>}},
 *    "notes": <ignored>}
 * Rules are described in json_rules.h.
 */
#ifndef SIM_ENGINE_H
#define SIM_ENGINE_H

#include <stddef.h>
#include <cjson/cJSON.h>

/* The camera's error codes (docs/sim.md has the table). */
#define SIM_E_INVALID_PARAMS  (-40106)
#define SIM_E_UNKNOWN_METHOD  (-40210)
#define SIM_E_BAD_TOKEN       (-40401)
#define SIM_E_LOGIN_FAILED    (-10020)
#define SIM_E_LOCKED          (-10022)
#define SIM_E_UNSUPPORTED     (-10030)

enum method_kind { MK_GET, MK_SET, MK_SET_REGIONS, MK_ACTION, MK_SPECIAL };

struct method {
	const char *name;
	enum method_kind kind;
	const char *state_key;          /* NULL if none */
	const cJSON *params;            /* {"field": rule} or NULL */
	const cJSON *required, *one_of, *together, *map, *links, *result;
	const char *array;              /* set_regions: the array field */
	int media;                      /* "form": "media" */
};

struct engine;

/* Parse and check camera.json text. origin names it in messages.
 * Returns NULL with a message in err. */
struct engine *engine_load(const char *text, size_t len, const char *origin,
			   char *err, size_t errsz);
void engine_free(struct engine *e);

/* A new engine with its own state (a fresh copy of the initial one) that
 * shares proto's parsed description, methods and rules: a fleet parses
 * camera.json once. proto must outlive the clone; freeing the clone leaves
 * proto alone. NULL when out of memory. */
struct engine *engine_clone(const struct engine *proto);

const struct method *engine_find(const struct engine *e, const char *name);
size_t engine_count(const struct engine *e);

/* The current state (one object, key -> value), and back to the initial one. */
const cJSON *engine_state(const struct engine *e);
void engine_reset_state(struct engine *e);
/* The state for C code that keeps a part of it (preset.c); the object stays
 * valid until engine_reset_state() or engine_free(). */
cJSON *engine_state_mut(struct engine *e);

/* Check params (absent, null or an object) against m's "params",
 * "required", "one_of" (at least one of) and "together" (all or none). Returns 0, or -1 with a message naming the field. */
int engine_check_params(const struct engine *e, const struct method *m,
			const cJSON *params, char *msg, size_t msgsz);

/* Answer a call of a non-special method: validate, apply (all or nothing),
 * and return the JSON answer (malloc'd, *len bytes). echo is the method
 * name as the client sent it. NULL only when out of memory. */
char *engine_call(struct engine *e, const struct method *m, const char *echo,
		  const cJSON *params, size_t *len);

/* An error answer {"method":echo,"errCode":code,"msg":msg}, or in the media
 * form {"error_code":code,"msg":msg}. m and msg may be NULL. */
char *engine_error(const struct method *m, const char *echo, int code,
		   const char *msg, size_t *len);

/* Print a JSON value compactly (malloc'd), with its length. */
char *engine_print(const cJSON *v, size_t *len);

#endif
