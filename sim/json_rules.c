/* Validation rules: see json_rules.h. */
#include "json_rules.h"

#include <math.h>
#include <stdarg.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum rtype { T_ANY, T_INT, T_FLOAT, T_STRING, T_BOOL, T_ARRAY, T_OBJECT, T_BAD };

struct pattern {
	const cJSON *rule;
	regex_t re;
};

struct rules {
	struct pattern *pats;
	size_t npats, cap;
};

struct rules *rules_new(void)
{
	return calloc(1, sizeof(struct rules));
}

void rules_free(struct rules *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->npats; i++)
		regfree(&r->pats[i].re);
	free(r->pats);
	free(r);
}

static enum rtype type_of(const cJSON *rule)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(rule, "type");
	if (!t)
		return T_ANY;
	if (!cJSON_IsString(t))
		return T_BAD;
	static const char *const names[] = {"", "int", "float", "string", "bool", "array", "object"};
	for (int i = 1; i < 7; i++)
		if (strcmp(t->valuestring, names[i]) == 0)
			return (enum rtype)i;
	return T_BAD;
}

/* ---- numbers ---- */

/* Numeric strings: "-12" for an int; "-12", "-1.5" or ".5" for a float.
 * No exponent, no sign "+", no spaces, no hex. */
static int digits(const char **p)
{
	const char *s = *p;
	while (**p >= '0' && **p <= '9')
		(*p)++;
	return *p > s;
}

static int numeric_text(const char *s, int integral)
{
	const char *p = s;
	if (*p == '-')
		p++;
	int whole = digits(&p);
	if (integral)
		return whole && *p == '\0';
	if (*p == '.') {
		p++;
		if (!digits(&p))
			return 0;
	} else if (!whole) {
		return 0;
	}
	return *p == '\0';
}

static int number_of(const cJSON *v, int integral, double *out)
{
	if (cJSON_IsNumber(v)) {
		*out = v->valuedouble;
		return isfinite(*out) ? 0 : -1;
	}
	if (cJSON_IsString(v) && numeric_text(v->valuestring, integral)) {
		*out = strtod(v->valuestring, NULL);
		return isfinite(*out) ? 0 : -1;
	}
	return -1;
}

int rules_number(const cJSON *v, double *out)
{
	return number_of(v, 0, out);
}

/* ---- compiling ---- */

static int ignored_key(const char *k)
{
	static const char *const keys[] = {
		"description", "doc", "note", "comment", "unit", "default", "example", NULL
	};
	if (k[0] == '_')
		return 1;
	for (int i = 0; keys[i]; i++)
		if (strcmp(k, keys[i]) == 0)
			return 1;
	return 0;
}

static int bad(char *err, size_t errsz, const char *where, const char *what)
{
	snprintf(err, errsz, "%s: %s", where, what);
	return -1;
}

static int is_count(const cJSON *v)
{
	return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble == floor(v->valuedouble);
}

static int add_pattern(struct rules *r, const cJSON *rule, const char *pat,
		       const char *where, char *err, size_t errsz)
{
	if (r->npats == r->cap) {
		size_t n = r->cap ? r->cap * 2 : 16;
		struct pattern *p = realloc(r->pats, n * sizeof *p);
		if (!p)
			return bad(err, errsz, where, "out of memory");
		r->pats = p;
		r->cap = n;
	}
	int rc = regcomp(&r->pats[r->npats].re, pat, REG_EXTENDED | REG_NOSUB);
	if (rc != 0) {
		char msg[128], what[256];
		regerror(rc, &r->pats[r->npats].re, msg, sizeof msg);
		snprintf(what, sizeof what, "bad pattern \"%s\": %s", pat, msg);
		return bad(err, errsz, where, what);
	}
	r->pats[r->npats].rule = rule;
	r->npats++;
	return 0;
}

int rules_compile(struct rules *r, const cJSON *rule, const char *where,
		  char *err, size_t errsz)
{
	char sub[512];
	if (!cJSON_IsObject(rule))
		return bad(err, errsz, where, "a rule must be an object");
	enum rtype t = type_of(rule);
	if (t == T_BAD)
		return bad(err, errsz, where, "unknown \"type\"");
	const cJSON *k;
	cJSON_ArrayForEach(k, rule) {
		const char *key = k->string;
		if (strcmp(key, "type") == 0 || ignored_key(key))
			continue;
		if (strcmp(key, "min") == 0 || strcmp(key, "max") == 0) {
			if (!cJSON_IsNumber(k))
				return bad(err, errsz, where, "\"min\"/\"max\" must be numbers");
		} else if (strcmp(key, "min_len") == 0 || strcmp(key, "max_len") == 0 ||
			   strcmp(key, "min_items") == 0 || strcmp(key, "max_items") == 0) {
			if (!is_count(k))
				return bad(err, errsz, where, "lengths and counts must be integers >= 0");
		} else if (strcmp(key, "enum") == 0) {
			if (!cJSON_IsArray(k) || cJSON_GetArraySize(k) == 0)
				return bad(err, errsz, where, "\"enum\" must be a non-empty array");
		} else if (strcmp(key, "pattern") == 0) {
			if (!cJSON_IsString(k))
				return bad(err, errsz, where, "\"pattern\" must be a string");
			if (add_pattern(r, rule, k->valuestring, where, err, errsz) < 0)
				return -1;
		} else if (strcmp(key, "items") == 0) {
			snprintf(sub, sizeof sub, "%s.items", where);
			if (rules_compile(r, k, sub, err, errsz) < 0)
				return -1;
		} else if (strcmp(key, "fields") == 0) {
			if (!cJSON_IsObject(k))
				return bad(err, errsz, where, "\"fields\" must be an object");
			const cJSON *f;
			cJSON_ArrayForEach(f, k) {
				snprintf(sub, sizeof sub, "%s.fields.%s", where, f->string);
				if (rules_compile(r, f, sub, err, errsz) < 0)
					return -1;
			}
		} else if (strcmp(key, "required") == 0) {
			if (!cJSON_IsArray(k))
				return bad(err, errsz, where, "\"required\" must be an array of names");
			const cJSON *n;
			const cJSON *fields = cJSON_GetObjectItemCaseSensitive(rule, "fields");
			cJSON_ArrayForEach(n, k) {
				if (!cJSON_IsString(n))
					return bad(err, errsz, where, "\"required\" must be an array of names");
				if (fields && !cJSON_GetObjectItemCaseSensitive(fields, n->valuestring))
					return bad(err, errsz, where, "\"required\" names a field not in \"fields\"");
			}
		} else {
			snprintf(sub, sizeof sub, "unknown key \"%s\" in a rule", key);
			return bad(err, errsz, where, sub);
		}
	}
	return 0;
}

/* ---- checking ---- */

static const regex_t *pattern_of(const struct rules *r, const cJSON *rule)
{
	for (size_t i = 0; i < r->npats; i++)
		if (r->pats[i].rule == rule)
			return &r->pats[i].re;
	return NULL;
}

static int fail(char *msg, size_t msgsz, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *msg, size_t msgsz, const char *name, const char *fmt, ...)
{
	char what[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	snprintf(msg, msgsz, "invalid parameter '%s': %s", name, what);
	return -1;
}

static const cJSON *get(const cJSON *rule, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(rule, key);
}

static int in_enum_numeric(const cJSON *en, double v)
{
	const cJSON *e;
	cJSON_ArrayForEach(e, en) {
		double d;
		if (rules_number(e, &d) == 0 && d == v)
			return 1;
	}
	return 0;
}

static int in_enum_exact(const cJSON *en, const cJSON *v)
{
	const cJSON *e;
	cJSON_ArrayForEach(e, en) {
		if (cJSON_Compare(e, v, 1))
			return 1;
	}
	return 0;
}

/* "a", "b" or "c" — for messages; cut short when long. */
static void enum_text(const cJSON *en, char *buf, size_t sz)
{
	size_t n = 0;
	buf[0] = '\0';
	const cJSON *e;
	cJSON_ArrayForEach(e, en) {
		char *s = cJSON_PrintUnformatted(e);
		if (!s)
			break;
		int w = snprintf(buf + n, sz - n, "%s%s", n ? ", " : "", s);
		cJSON_free(s);
		if (w < 0 || (size_t)w >= sz - n) {
			if (sz > 4)
				strcpy(buf + sz - 4, "...");
			return;
		}
		n += (size_t)w;
	}
}

static int check_number(const cJSON *rule, const cJSON *v, int integral,
			const char *name, char *msg, size_t msgsz)
{
	double d;
	if (number_of(v, integral, &d) < 0)
		return fail(msg, msgsz, name, "must be %s", integral ? "an integer" : "a number");
	if (integral && d != floor(d))
		return fail(msg, msgsz, name, "must be an integer");
	const cJSON *mn = get(rule, "min"), *mx = get(rule, "max");
	if ((mn && d < mn->valuedouble) || (mx && d > mx->valuedouble)) {
		if (mn && mx)
			return fail(msg, msgsz, name, "must be between %.17g and %.17g",
				    mn->valuedouble, mx->valuedouble);
		if (mn)
			return fail(msg, msgsz, name, "must be at least %.17g", mn->valuedouble);
		return fail(msg, msgsz, name, "must be at most %.17g", mx->valuedouble);
	}
	const cJSON *en = get(rule, "enum");
	if (en && !in_enum_numeric(en, d)) {
		char list[160];
		enum_text(en, list, sizeof list);
		return fail(msg, msgsz, name, "must be one of %s", list);
	}
	return 0;
}

static int check_string(const struct rules *r, const cJSON *rule, const cJSON *v,
			const char *name, char *msg, size_t msgsz)
{
	if (!cJSON_IsString(v))
		return fail(msg, msgsz, name, "must be a string");
	size_t len = strlen(v->valuestring);
	const cJSON *mn = get(rule, "min_len"), *mx = get(rule, "max_len");
	if (mn && len < (size_t)mn->valuedouble)
		return fail(msg, msgsz, name, "must be at least %.0f bytes long", mn->valuedouble);
	if (mx && len > (size_t)mx->valuedouble)
		return fail(msg, msgsz, name, "must be at most %.0f bytes long", mx->valuedouble);
	const regex_t *re = get(rule, "pattern") ? pattern_of(r, rule) : NULL;
	if (re) {
		if (regexec(re, v->valuestring, 0, NULL, 0) != 0)
			return fail(msg, msgsz, name, "does not match %s",
				    get(rule, "pattern")->valuestring);
	}
	const cJSON *en = get(rule, "enum");
	if (en && !in_enum_exact(en, v)) {
		char list[160];
		enum_text(en, list, sizeof list);
		return fail(msg, msgsz, name, "must be one of %s", list);
	}
	return 0;
}

int rules_check(const struct rules *r, const cJSON *rule, const cJSON *v,
		const char *name, char *msg, size_t msgsz)
{
	char sub[256];
	const cJSON *en = get(rule, "enum");
	switch (type_of(rule)) {
	case T_INT:
		return check_number(rule, v, 1, name, msg, msgsz);
	case T_FLOAT:
		return check_number(rule, v, 0, name, msg, msgsz);
	case T_STRING:
		return check_string(r, rule, v, name, msg, msgsz);
	case T_BOOL:
		if (!cJSON_IsBool(v))
			return fail(msg, msgsz, name, "must be true or false");
		break;
	case T_ARRAY: {
		if (!cJSON_IsArray(v))
			return fail(msg, msgsz, name, "must be an array");
		int n = cJSON_GetArraySize(v);
		const cJSON *mn = get(rule, "min_items"), *mx = get(rule, "max_items");
		if (mn && n < mn->valuedouble)
			return fail(msg, msgsz, name, "must have at least %.0f items", mn->valuedouble);
		if (mx && n > mx->valuedouble)
			return fail(msg, msgsz, name, "must have at most %.0f items", mx->valuedouble);
		const cJSON *items = get(rule, "items");
		if (items) {
			int i = 0;
			const cJSON *it;
			cJSON_ArrayForEach(it, v) {
				snprintf(sub, sizeof sub, "%s[%d]", name, i++);
				if (rules_check(r, items, it, sub, msg, msgsz) < 0)
					return -1;
			}
		}
		break;
	}
	case T_OBJECT: {
		if (!cJSON_IsObject(v))
			return fail(msg, msgsz, name, "must be an object");
		const cJSON *fields = get(rule, "fields");
		if (fields) {
			const cJSON *f;
			cJSON_ArrayForEach(f, v) {
				const cJSON *fr = f->string ? get(fields, f->string) : NULL;
				snprintf(sub, sizeof sub, "%s.%s", name, f->string ? f->string : "");
				if (!fr)
					return fail(msg, msgsz, sub, "unknown field");
				if (rules_check(r, fr, f, sub, msg, msgsz) < 0)
					return -1;
			}
		}
		const cJSON *req = get(rule, "required"), *n;
		cJSON_ArrayForEach(n, req) {
			if (!get(v, n->valuestring)) {
				snprintf(sub, sizeof sub, "%s.%s", name, n->valuestring);
				return fail(msg, msgsz, sub, "is required");
			}
		}
		break;
	}
	case T_ANY:
	case T_BAD:
		break;
	}
	if (en && !in_enum_exact(en, v)) {
		char list[160];
		enum_text(en, list, sizeof list);
		return fail(msg, msgsz, name, "must be one of %s", list);
	}
	return 0;
}
