/* Preset points: setPresetPoint and removePresetPoint change the list that
 * getPresetPoint shows. camera.json describes these two as actions (their
 * params are checked by its rules); the list lives in state "presetPoint"
 * as parallel arrays {"id":["3"],"name":[...],"position_pan":[...],
 * "position_tilt":[...],"position_zoom":[...]}, strings as the document
 * shows them. */
#ifndef SIM_PRESET_H
#define SIM_PRESET_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "engine.h"

#define PRESET_STATE "presetPoint"

/* Does name get the preset treatment? (needs the state to be there) */
int preset_handles(struct engine *e, const char *name);

/* The answer of setPresetPoint / removePresetPoint (malloc'd). */
char *preset_call(struct engine *e, const struct method *m, const char *echo,
		  const cJSON *params, size_t *len);

#endif
