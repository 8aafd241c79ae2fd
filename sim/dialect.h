/* Firmware dialects of the answers (docs/sim.md, "Dialects"): the ways a
 * camera may write its JSON that the vendor document shows and a client
 * must read. */
#ifndef SIM_DIALECT_H
#define SIM_DIALECT_H

#include <stddef.h>

/* json (len bytes of JSON text, as cJSON prints it) with a comma and a
 * newline before every '}' and ']' that closes a non-empty object or
 * array, outside strings: {"a":[1,2]} -> {"a":[1,2,\n],\n}, as several of
 * the document's response examples are printed. Returns a NUL-terminated
 * string from cJSON_malloc (free it with cJSON_free) and its length in
 * *out_len, or NULL when out of memory. */
char *dialect_trailing_commas(const char *json, size_t len, size_t *out_len);

#endif
