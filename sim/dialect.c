/* Firmware dialects: see dialect.h. */
#include "dialect.h"

#include <cjson/cJSON.h>

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

char *dialect_trailing_commas(const char *json, size_t len, size_t *out_len)
{
	/* At most two bytes more per byte of input. */
	char *out = cJSON_malloc(3 * len + 1);
	if (!out)
		return NULL;
	size_t n = 0;
	int in_string = 0, escaped = 0;
	char last = 0;          /* the last byte written outside whitespace */
	for (size_t i = 0; i < len; i++) {
		char c = json[i];
		if (in_string) {
			if (escaped)
				escaped = 0;
			else if (c == '\\')
				escaped = 1;
			else if (c == '"')
				in_string = 0;
		} else if (c == '"') {
			in_string = 1;
		} else if ((c == '}' || c == ']') && last != '{' && last != '[' && last != ',') {
			out[n++] = ',';
			out[n++] = '\n';
		}
		out[n++] = c;
		if (!is_space(c))
			last = c;
	}
	out[n] = '\0';
	*out_len = n;
	return out;
}
