/* Validation rules of camera.json: one rule checks one JSON value.
 *
 *   {"type": "int"|"float"|"string"|"bool"|"array"|"object",
 *    "min", "max", "enum": [...], "min_len", "max_len", "pattern",
 *    "items": rule, "min_items", "max_items",
 *    "fields": {"name": rule}, "required": ["name"]}
 *
 * - int and float take a JSON number or a numeric string; an int must be
 *   integral, and as a string it is "-?[0-9]+"; a float string is
 *   "-?[0-9]+", "-?[0-9]+.[0-9]+" or "-?.[0-9]+". min/max/enum compare the
 *   numeric value.
 * - string takes JSON strings only; min_len/max_len count bytes; pattern is
 *   a POSIX extended regular expression searched as regexec() does (a match
 *   anywhere: anchor it with ^...$ to match the whole string).
 * - bool takes true/false; array checks every item against "items";
 *   object with "fields" rejects names it does not list.
 * - Without "type" any value passes the other checks ("enum" compares
 *   values exactly).
 * Keys starting with "_" and "description", "doc", "note", "comment",
 * "unit", "default", "example" are ignored; any other key is an error.
 */
#ifndef SIM_JSON_RULES_H
#define SIM_JSON_RULES_H

#include <stddef.h>
#include <cjson/cJSON.h>

struct rules;

struct rules *rules_new(void);
void rules_free(struct rules *r);

/* Check that rule is well formed (recursively) and compile its patterns.
 * The rule must stay alive and unchanged while r is used with it.
 * where names the rule in messages. Returns 0, or -1 with a message. */
int rules_compile(struct rules *r, const cJSON *rule, const char *where,
		  char *err, size_t errsz);

/* Check value against a compiled rule; name is the field's name for the
 * message ("heartbeat", "regions[2].x_coord"). Returns 0, or -1 with msg. */
int rules_check(const struct rules *r, const cJSON *rule, const cJSON *value,
		const char *name, char *msg, size_t msgsz);

/* The numeric value of a JSON number or of a numeric string. 0 or -1. */
int rules_number(const cJSON *v, double *out);

#endif
