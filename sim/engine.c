/* The generic method engine: see engine.h. */
#include "engine.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_rules.h"

struct engine {
	cJSON *doc;             /* camera.json as parsed; methods point into it */
	cJSON *initial;         /* doc's "state", never changed */
	cJSON *state;           /* the live copy */
	struct method *methods; /* sorted by name */
	size_t nmethods;
	struct rules *rules;
	int clone;              /* doc, methods and rules belong to another engine */
};

/* ---- loading ---- */

static int ignored_key(const char *k)
{
	return k[0] == '_' || strcmp(k, "example") == 0 || strcmp(k, "description") == 0 ||
	       strcmp(k, "doc") == 0 || strcmp(k, "note") == 0 || strcmp(k, "notes") == 0 ||
	       strcmp(k, "comment") == 0;
}

static int names_list(const cJSON *v, const cJSON *params)
{
	if (!cJSON_IsArray(v))
		return 0;
	const cJSON *n;
	cJSON_ArrayForEach(n, v) {
		if (!cJSON_IsString(n) || !cJSON_GetObjectItemCaseSensitive(params, n->valuestring))
			return 0;
	}
	return 1;
}

/* A method being loaded, and where its complaint goes. */
struct mload {
	struct engine *e;
	struct method *m;
	char where[300];        /* "<origin>: method <name>", before each complaint */
	char *err;
	size_t errsz;
};

/* The complaint "<where>: <what>" into err; returns -1. */
static int bad(struct mload *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(struct mload *x, const char *fmt, ...)
{
	char what[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	snprintf(x->err, x->errsz, "%s: %s", x->where, what);
	return -1;
}

static int read_kind(struct mload *x, const cJSON *k)
{
	static const char *const kinds[] = {"get", "set", "set_regions", "action", "special"};
	for (int i = 0; i < 5; i++)
		if (cJSON_IsString(k) && strcmp(k->valuestring, kinds[i]) == 0) {
			x->m->kind = (enum method_kind)i;
			return 0;
		}
	return bad(x, "unknown \"kind\"");
}

static int read_params(struct mload *x, const cJSON *k)
{
	if (!cJSON_IsObject(k))
		return bad(x, "\"params\" must be an object of rules");
	const cJSON *f;
	cJSON_ArrayForEach(f, k) {
		char w[400];
		snprintf(w, sizeof w, "%s: params.%s", x->where, f->string);
		if (rules_compile(x->e->rules, f, w, x->err, x->errsz) < 0)
			return -1;
	}
	x->m->params = k;
	return 0;
}

/* The keys whose value is kept as it is (checked once all are read). */
static const cJSON **kept_key(struct method *m, const char *key)
{
	if (strcmp(key, "required") == 0)
		return &m->required;
	if (strcmp(key, "one_of") == 0)
		return &m->one_of;
	if (strcmp(key, "together") == 0)
		return &m->together;
	if (strcmp(key, "map") == 0)
		return &m->map;
	if (strcmp(key, "links") == 0)
		return &m->links;
	if (strcmp(key, "result") == 0)
		return &m->result;
	return NULL;
}

/* One key of the method's definition. */
static int read_key(struct mload *x, const cJSON *k)
{
	struct method *m = x->m;
	const char *key = k->string;
	const cJSON **kept = kept_key(m, key);
	if (kept) {
		*kept = k;
	} else if (strcmp(key, "kind") == 0) {
		return read_kind(x, k);
	} else if (strcmp(key, "params") == 0) {
		return read_params(x, k);
	} else if (strcmp(key, "state") == 0) {
		if (!cJSON_IsString(k))
			return bad(x, "\"state\" must be a string");
		m->state_key = k->valuestring;
	} else if (strcmp(key, "array") == 0) {
		if (!cJSON_IsString(k))
			return bad(x, "\"array\" must be a string");
		m->array = k->valuestring;
	} else if (strcmp(key, "form") == 0) {
		if (!cJSON_IsString(k) || strcmp(k->valuestring, "media") != 0)
			return bad(x, "\"form\" can only be \"media\"");
		m->media = 1;
	} else if (!ignored_key(key)) {
		return bad(x, "unknown key \"%s\"", key);
	}
	return 0;
}

/* required, one_of, together, map and links name fields of params. */
static int check_names(struct mload *x)
{
	const struct method *m = x->m;
	const cJSON *k, *p;
	if (m->required && !names_list(m->required, m->params))
		return bad(x, "\"required\" must list names from \"params\"");
	if (m->one_of && !names_list(m->one_of, m->params))
		return bad(x, "\"one_of\" must list names from \"params\"");
	if (m->together && !names_list(m->together, m->params))
		return bad(x, "\"together\" must list names from \"params\"");
	if (m->map && !cJSON_IsObject(m->map))
		return bad(x, "\"map\" must be an object");
	cJSON_ArrayForEach(k, m->map) {
		if (!cJSON_IsString(k) || !*k->valuestring ||
		    !cJSON_GetObjectItemCaseSensitive(m->params, k->string))
			return bad(x, "\"map\" must map names from \"params\" to paths");
	}
	if (m->links && !cJSON_IsObject(m->links))
		return bad(x, "\"links\" must be an object");
	cJSON_ArrayForEach(k, m->links) {
		if (!cJSON_IsArray(k) || !cJSON_GetObjectItemCaseSensitive(m->params, k->string))
			return bad(x, "\"links\" must map names from \"params\" to lists of paths");
		cJSON_ArrayForEach(p, k) {
			if (!cJSON_IsString(p) || !*p->valuestring)
				return bad(x, "\"links\" paths must be non-empty strings");
		}
	}
	return 0;
}

/* What each kind needs. */
static int check_kind(struct mload *x)
{
	const struct method *m = x->m;
	switch (m->kind) {
	case MK_GET:
		if (!m->state_key)
			return bad(x, "a get needs \"state\"");
		if (!cJSON_GetObjectItemCaseSensitive(x->e->initial, m->state_key))
			return bad(x, "state key \"%s\" is not in \"state\"", m->state_key);
		break;
	case MK_SET:
		if (!m->state_key)
			return bad(x, "a set needs \"state\"");
		break;
	case MK_SET_REGIONS: {
		if (!m->state_key || !m->array)
			return bad(x, "a set_regions needs \"state\" and \"array\"");
		const cJSON *r = cJSON_GetObjectItemCaseSensitive(m->params, m->array);
		const cJSON *t = r ? cJSON_GetObjectItemCaseSensitive(r, "type") : NULL;
		if (!cJSON_IsString(t) || strcmp(t->valuestring, "array") != 0)
			return bad(x, "\"array\" must name a params field of type array");
		break;
	}
	case MK_ACTION:
	case MK_SPECIAL:
		break;
	}
	return 0;
}

static int load_method(struct engine *e, const cJSON *def, struct method *m,
		       const char *origin, char *err, size_t errsz)
{
	struct mload x = {e, m, "", err, errsz};
	snprintf(x.where, sizeof x.where, "%s: method %s", origin, def->string);
	memset(m, 0, sizeof *m);
	m->name = def->string;
	if (!cJSON_IsObject(def))
		return bad(&x, "must be an object");
	const cJSON *k;
	cJSON_ArrayForEach(k, def) {
		if (read_key(&x, k) < 0)
			return -1;
	}
	if (!cJSON_GetObjectItemCaseSensitive(def, "kind"))
		return bad(&x, "\"kind\" is missing");
	if (check_names(&x) < 0 || check_kind(&x) < 0)
		return -1;
	/* A set writes into state[key]: make sure it is there. */
	if (m->state_key && !cJSON_GetObjectItemCaseSensitive(e->initial, m->state_key))
		cJSON_AddItemToObject(e->initial, m->state_key, cJSON_CreateObject());
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct method *)a)->name, ((const struct method *)b)->name);
}

struct engine *engine_load(const char *text, size_t len, const char *origin,
			   char *err, size_t errsz)
{
	struct engine *e = calloc(1, sizeof *e);
	if (!e || !(e->rules = rules_new())) {
		snprintf(err, errsz, "out of memory");
		free(e);
		return NULL;
	}
	const char *end = NULL;
	e->doc = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	if (!e->doc) {
		size_t off = end && end >= text ? (size_t)(end - text) : 0;
		snprintf(err, errsz, "%s: not valid JSON (near byte %zu)", origin, off);
		goto bad;
	}
	e->initial = cJSON_GetObjectItemCaseSensitive(e->doc, "state");
	const cJSON *methods = cJSON_GetObjectItemCaseSensitive(e->doc, "methods");
	if (!cJSON_IsObject(e->doc) || !cJSON_IsObject(e->initial) || !cJSON_IsObject(methods)) {
		snprintf(err, errsz, "%s: needs an object with \"state\" and \"methods\" objects", origin);
		goto bad;
	}
	size_t n = (size_t)cJSON_GetArraySize(methods);
	e->methods = calloc(n ? n : 1, sizeof *e->methods);
	if (!e->methods) {
		snprintf(err, errsz, "out of memory");
		goto bad;
	}
	const cJSON *def;
	cJSON_ArrayForEach(def, methods) {
		if (load_method(e, def, &e->methods[e->nmethods], origin, err, errsz) < 0)
			goto bad;
		e->nmethods++;
	}
	qsort(e->methods, e->nmethods, sizeof *e->methods, by_name);
	for (size_t i = 1; i < e->nmethods; i++)
		if (strcmp(e->methods[i - 1].name, e->methods[i].name) == 0) {
			snprintf(err, errsz, "%s: method %s is defined twice", origin, e->methods[i].name);
			goto bad;
		}
	e->state = cJSON_Duplicate(e->initial, 1);
	if (!e->state) {
		snprintf(err, errsz, "out of memory");
		goto bad;
	}
	return e;
bad:
	engine_free(e);
	return NULL;
}

struct engine *engine_clone(const struct engine *proto)
{
	struct engine *e = malloc(sizeof *e);
	if (!e)
		return NULL;
	*e = *proto;
	e->clone = 1;
	e->state = cJSON_Duplicate(proto->initial, 1);
	if (!e->state) {
		free(e);
		return NULL;
	}
	return e;
}

void engine_free(struct engine *e)
{
	if (!e)
		return;
	cJSON_Delete(e->state);
	if (!e->clone) {
		cJSON_Delete(e->doc);
		free(e->methods);
		rules_free(e->rules);
	}
	free(e);
}

const struct method *engine_find(const struct engine *e, const char *name)
{
	struct method key;
	memset(&key, 0, sizeof key);
	key.name = name;
	return bsearch(&key, e->methods, e->nmethods, sizeof key, by_name);
}

size_t engine_count(const struct engine *e)
{
	return e->nmethods;
}

const cJSON *engine_state(const struct engine *e)
{
	return e->state;
}

cJSON *engine_state_mut(struct engine *e)
{
	return e->state;
}

void engine_reset_state(struct engine *e)
{
	cJSON *fresh = cJSON_Duplicate(e->initial, 1);
	if (!fresh)
		return;
	cJSON_Delete(e->state);
	e->state = fresh;
}

/* ---- answers ---- */

char *engine_print(const cJSON *v, size_t *len)
{
	char *s = cJSON_PrintUnformatted(v);
	*len = s ? strlen(s) : 0;
	return s;
}

char *engine_error(const struct method *m, const char *echo, int code,
		   const char *msg, size_t *len)
{
	cJSON *a = cJSON_CreateObject();
	if (!a)
		return NULL;
	if (m && m->media) {
		cJSON_AddNumberToObject(a, "error_code", code);
	} else {
		if (echo)
			cJSON_AddStringToObject(a, "method", echo);
		cJSON_AddNumberToObject(a, "errCode", code);
	}
	if (msg)
		cJSON_AddStringToObject(a, "msg", msg);
	char *s = engine_print(a, len);
	cJSON_Delete(a);
	return s;
}

/* The answer of a successful call; result may be NULL (no result). */
static char *answer_ok(const struct method *m, const char *echo, const cJSON *result, size_t *len)
{
	cJSON *a = cJSON_CreateObject();
	if (!a)
		return NULL;
	if (m->media) {
		if (result)
			cJSON_AddItemReferenceToObject(a, "media", (cJSON *)result);
		else
			cJSON_AddItemToObject(a, "media", cJSON_CreateObject());
		cJSON_AddNumberToObject(a, "error_code", 0);
	} else {
		cJSON_AddStringToObject(a, "method", echo);
		cJSON_AddNumberToObject(a, "errCode", 0);
		if (result)
			cJSON_AddItemReferenceToObject(a, "result", (cJSON *)result);
	}
	char *s = engine_print(a, len);
	cJSON_Delete(a);
	return s;
}

static int is_empty_params(const cJSON *p)
{
	return !p || cJSON_IsNull(p) || (cJSON_IsObject(p) && p->child == NULL);
}

int engine_check_params(const struct engine *e, const struct method *m,
			const cJSON *params, char *msg, size_t msgsz)
{
	if (!params || cJSON_IsNull(params))
		params = NULL;
	else if (!cJSON_IsObject(params)) {
		snprintf(msg, msgsz, "invalid parameter 'params': must be an object");
		return -1;
	}
	const cJSON *f;
	if (params) {
		cJSON_ArrayForEach(f, params) {
			const cJSON *rule = m->params && f->string
				? cJSON_GetObjectItemCaseSensitive(m->params, f->string) : NULL;
			if (!rule) {
				snprintf(msg, msgsz, "unknown parameter '%s'", f->string ? f->string : "");
				return -1;
			}
			if (rules_check(e->rules, rule, f, f->string, msg, msgsz) < 0)
				return -1;
		}
	}
	cJSON_ArrayForEach(f, m->required) {
		if (!params || !cJSON_GetObjectItemCaseSensitive(params, f->valuestring)) {
			snprintf(msg, msgsz, "missing parameter '%s'", f->valuestring);
			return -1;
		}
	}
	if (m->one_of && cJSON_GetArraySize(m->one_of) > 0) {
		int found = 0;
		cJSON_ArrayForEach(f, m->one_of) {
			if (params && cJSON_GetObjectItemCaseSensitive(params, f->valuestring))
				found = 1;
		}
		if (!found) {
			char list[200];
			size_t n = 0;
			list[0] = '\0';
			cJSON_ArrayForEach(f, m->one_of) {
				int w = snprintf(list + n, sizeof list - n, "%s'%s'", n ? ", " : "",
						 f->valuestring);
				if (w < 0 || (size_t)w >= sizeof list - n)
					break;
				n += (size_t)w;
			}
			snprintf(msg, msgsz, "missing parameter: one of %s is required", list);
			return -1;
		}
	}
	if (m->together) {
		int have = 0, n = 0;
		cJSON_ArrayForEach(f, m->together) {
			n++;
			if (params && cJSON_GetObjectItemCaseSensitive(params, f->valuestring))
				have++;
		}
		if (have != 0 && have != n) {
			cJSON_ArrayForEach(f, m->together) {
				if (!params || !cJSON_GetObjectItemCaseSensitive(params, f->valuestring))
					break;
			}
			snprintf(msg, msgsz, "missing parameter '%s': it goes together with %s",
				 f ? f->valuestring : "", have == 1 ? "another parameter" : "others");
			return -1;
		}
	}
	return 0;
}

/* obj[key], made an object if it is missing or not one. */
static cJSON *object_at(cJSON *obj, const char *key)
{
	cJSON *c = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (cJSON_IsObject(c))
		return c;
	cJSON *fresh = cJSON_CreateObject();
	if (!fresh)
		return NULL;
	if (c)
		cJSON_ReplaceItemInObjectCaseSensitive(obj, key, fresh);
	else
		cJSON_AddItemToObject(obj, key, fresh);
	return fresh;
}

/* Store a copy of v at the dotted path inside obj, creating objects on
 * the way. */
static void set_path(cJSON *obj, const char *path, const cJSON *v)
{
	char seg[256];
	const char *p = path;
	for (;;) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		if (n >= sizeof seg)
			n = sizeof seg - 1;
		memcpy(seg, p, n);
		seg[n] = '\0';
		if (!dot) {
			cJSON *copy = cJSON_Duplicate(v, 1);
			if (!copy)
				return;
			cJSON *old = cJSON_GetObjectItemCaseSensitive(obj, seg);
			if (old)
				cJSON_ReplaceItemInObjectCaseSensitive(obj, seg, copy);
			else
				cJSON_AddItemToObject(obj, seg, copy);
			return;
		}
		obj = object_at(obj, seg);
		if (!obj)
			return;
		p = dot + 1;
	}
}

static void apply_set(struct engine *e, const struct method *m, const cJSON *params)
{
	const cJSON *f;
	if (!params)
		return;
	cJSON_ArrayForEach(f, params) {
		/* Looked up each time: a link may have replaced it. */
		cJSON *target = object_at(e->state, m->state_key);
		if (!target)
			return;
		const cJSON *mp = m->map ? cJSON_GetObjectItemCaseSensitive(m->map, f->string) : NULL;
		set_path(target, mp ? mp->valuestring : f->string, f);
		const cJSON *ln = m->links ? cJSON_GetObjectItemCaseSensitive(m->links, f->string) : NULL;
		const cJSON *lp;
		cJSON_ArrayForEach(lp, ln) {
			set_path(e->state, lp->valuestring, f);
		}
	}
}

static void apply_regions(struct engine *e, const struct method *m, const cJSON *params)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(params, m->array);
	cJSON *fresh = cJSON_CreateObject();
	if (!fresh)
		return;
	const cJSON *it;
	int i = 1;
	cJSON_ArrayForEach(it, arr) {
		char key[32];
		snprintf(key, sizeof key, "region_info_%d", i++);
		cJSON_AddItemToObject(fresh, key, cJSON_Duplicate(it, 1));
	}
	cJSON *old = cJSON_GetObjectItemCaseSensitive(e->state, m->state_key);
	if (old)
		cJSON_ReplaceItemInObjectCaseSensitive(e->state, m->state_key, fresh);
	else
		cJSON_AddItemToObject(e->state, m->state_key, fresh);
}

char *engine_call(struct engine *e, const struct method *m, const char *echo,
		  const cJSON *params, size_t *len)
{
	char msg[512];
	const cJSON *state = m->state_key
		? cJSON_GetObjectItemCaseSensitive(e->state, m->state_key) : NULL;

	switch (m->kind) {
	case MK_GET:
		if (m->params) {
			if (engine_check_params(e, m, params, msg, sizeof msg) < 0)
				return engine_error(m, echo, SIM_E_INVALID_PARAMS, msg, len);
		} else if (!is_empty_params(params)) {
			return engine_error(m, echo, SIM_E_INVALID_PARAMS,
					    "invalid parameter 'params': this method takes none", len);
		}
		return answer_ok(m, echo, state, len);
	case MK_SET:
		if (is_empty_params(params) && !m->required && !m->one_of)
			return engine_error(m, echo, SIM_E_INVALID_PARAMS,
					    "missing parameter 'params'", len);
		if (engine_check_params(e, m, params, msg, sizeof msg) < 0)
			return engine_error(m, echo, SIM_E_INVALID_PARAMS, msg, len);
		apply_set(e, m, params);
		state = cJSON_GetObjectItemCaseSensitive(e->state, m->state_key);
		return answer_ok(m, echo, m->media ? state : NULL, len);
	case MK_SET_REGIONS:
		if (engine_check_params(e, m, params, msg, sizeof msg) < 0)
			return engine_error(m, echo, SIM_E_INVALID_PARAMS, msg, len);
		if (!params || !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(params, m->array))) {
			snprintf(msg, sizeof msg, "missing parameter '%s'", m->array);
			return engine_error(m, echo, SIM_E_INVALID_PARAMS, msg, len);
		}
		apply_regions(e, m, params);
		return answer_ok(m, echo, NULL, len);
	case MK_ACTION:
		if (engine_check_params(e, m, params, msg, sizeof msg) < 0)
			return engine_error(m, echo, SIM_E_INVALID_PARAMS, msg, len);
		return answer_ok(m, echo, m->result ? m->result : (m->media ? state : NULL), len);
	case MK_SPECIAL:
		break;
	}
	return engine_error(m, echo, SIM_E_UNKNOWN_METHOD, "not simulated", len);
}
