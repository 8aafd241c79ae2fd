/* Preset points: see preset.h. */
#include "preset.h"

#include <stdio.h>
#include <string.h>

#include "json_rules.h"

static const char *const columns[] = {
	"id", "name", "position_pan", "position_tilt", "position_zoom", NULL
};

static cJSON *list(struct engine *e)
{
	cJSON *p = cJSON_GetObjectItemCaseSensitive(engine_state_mut(e), PRESET_STATE);
	if (!cJSON_IsObject(p))
		return NULL;
	for (int i = 0; columns[i]; i++) {
		cJSON *col = cJSON_GetObjectItemCaseSensitive(p, columns[i]);
		if (!col) {
			col = cJSON_CreateArray();
			if (!col)
				return NULL;
			cJSON_AddItemToObject(p, columns[i], col);
		}
		if (!cJSON_IsArray(col))
			return NULL;
	}
	return p;
}

int preset_handles(struct engine *e, const char *name)
{
	return (strcmp(name, "setPresetPoint") == 0 || strcmp(name, "removePresetPoint") == 0) &&
	       list(e) != NULL;
}

static cJSON *column(cJSON *p, int i)
{
	return cJSON_GetObjectItemCaseSensitive(p, columns[i]);
}

/* Index of preset id in the list, or -1. */
static int find(cJSON *p, double id)
{
	cJSON *ids = column(p, 0);
	int i = 0;
	const cJSON *v;
	cJSON_ArrayForEach(v, ids) {
		double d;
		if (rules_number(v, &d) == 0 && d == id)
			return i;
		i++;
	}
	return -1;
}

static void remove_at(cJSON *p, int at)
{
	for (int c = 0; columns[c]; c++)
		if (at < cJSON_GetArraySize(column(p, c)))
			cJSON_DeleteItemFromArray(column(p, c), at);
}

static void store(cJSON *p, double id, const cJSON *name)
{
	char idtext[32];
	int at = find(p, id);
	if (at >= 0) {
		cJSON_ReplaceItemInArray(column(p, 1), at, cJSON_Duplicate(name, 1));
		return;
	}
	/* Keep the list in id order. */
	int n = cJSON_GetArraySize(column(p, 0)), pos = n;
	for (int i = 0; i < n; i++) {
		double d;
		if (rules_number(cJSON_GetArrayItem(column(p, 0), i), &d) == 0 && d > id) {
			pos = i;
			break;
		}
	}
	snprintf(idtext, sizeof idtext, "%.0f", id);
	cJSON *cells[5] = {
		cJSON_CreateString(idtext), cJSON_Duplicate(name, 1),
		cJSON_CreateString("0.000000"), cJSON_CreateString("0.000000"),
		cJSON_CreateString("0.000000")
	};
	for (int c = 0; columns[c]; c++) {
		cJSON *col = column(p, c);
		if (!cells[c])
			continue;
		if (pos < cJSON_GetArraySize(col))
			cJSON_InsertItemInArray(col, pos, cells[c]);
		else
			cJSON_AddItemToArray(col, cells[c]);
	}
}

char *preset_call(struct engine *e, const struct method *m, const char *echo,
		  const cJSON *params, size_t *len)
{
	char msg[512];
	cJSON *p = list(e);
	if (!p || engine_check_params(e, m, params, msg, sizeof msg) < 0)
		return engine_error(m, echo, SIM_E_INVALID_PARAMS, p ? msg : "no preset list", len);

	cJSON *a = cJSON_CreateObject();
	if (!a)
		return NULL;
	cJSON_AddStringToObject(a, "method", echo);
	cJSON_AddNumberToObject(a, "errCode", 0);
	if (strcmp(m->name, "setPresetPoint") == 0) {
		double id = 0;
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(params, "name");
		if (rules_number(cJSON_GetObjectItemCaseSensitive(params, "id"), &id) < 0 ||
		    !cJSON_IsString(name)) {
			cJSON_Delete(a);
			return engine_error(m, echo, SIM_E_INVALID_PARAMS,
					    "missing parameter 'id' or 'name'", len);
		}
		store(p, id, name);
		cJSON *r = cJSON_AddObjectToObject(a, "result");
		cJSON_AddItemToObject(r, "name", cJSON_Duplicate(name, 1));
		cJSON_AddNumberToObject(r, "id", id);
	} else {
		const cJSON *v;
		cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(params, "id")) {
			double id;
			int at;
			if (rules_number(v, &id) == 0 && (at = find(p, id)) >= 0)
				remove_at(p, at);
		}
	}
	char *s = engine_print(a, len);
	cJSON_Delete(a);
	return s;
}
