-- The control methods of the VIGI OpenAPI document, section 4, as data.
--
-- One row per method, in the document's order. Camera functions, parameter
-- checks (check.lua), the `vigi methods` command and docs/api.md are all
-- generated from these rows, so adding a method is adding a row.
--
-- Row fields:
--   name     wire name, spelled as the document's command row
--   group    the document's 4.x section name
--   section  the section number in the document
--   summary  one line
--   access   "read"   no side effect: safe to resend after a network error
--            "write"  changes a setting
--            "action" has an effect beyond settings (reboot, format, move)
--            "auth"   doAuth;  "stream": subscribeMsg (a long-lived answer)
--   result   true when the answer carries data (in `result`, or in
--            `result_key` when the document puts it elsewhere)
--   pair     for a setter, the getter that reads back what it set
--   alias    the other spelling the document also uses (WIRE-NOTES §2)
--   params   ordered parameter specs; nil when the request has none
--   one_of   names of which at least one must be given
--   together names that must be given all or none
--
-- Parameter spec fields: name, type ("int", "float", "string", "bool",
-- "array", "object"), required, min/max (numbers), enum, min_len/max_len
-- (bytes), pattern (an anchored Lua pattern) with format (how to say it to a
-- person), items (spec of array elements), min_items/max_items, fields
-- (ordered specs of an object), wire = "string" (a number the document
-- sends as a string: numbers given are converted), rewrite = { from, to,
-- doc } (a string matching the Lua pattern `from` is rewritten by gsub to
-- `to` before it is checked and sent: another form of the same value that
-- the document also prints), secret (the value is never shown in a
-- message), doc.
--
-- Ranges and enums come from the Request tables; where the document's own
-- example disagrees, the row says so in a comment.
local _M = {}

local ON_OFF = { "on", "off" }
local VALIDITY = { "high", "medium", "low" }

-- The event types of the document, written once: the detections
-- (4.13.1); searchVideoList, getMediaList and the stream requests (4.10.2,
-- 4.11.1, 5.2, 5.3) add "Timing", subscribeMsg (4.13.1) adds "all".
-- stream/api.lua and events.lua take theirs from here.
local DETECTION_TYPES = {
  "MotionDetection", "TamperDetection", "CrossLineDetection",
  "InvasionDetection", "AreaEntryDetection", "AreaLeaveDetection",
  "PeopleDetection", "VehicleDetection", "DropAndTakeDetection",
  "LoiterDetection", "SceneChangeDetection", "AudioAnomalyDetection",
}

local function with(first, list)
  local t = { first }
  for i = 1, #list do t[i + 1] = list[i] end
  return t
end

local EVENT_TYPES = with("Timing", DETECTION_TYPES)
local SUBSCRIBE_TYPES = with("all", DETECTION_TYPES)
_M.DETECTION_TYPES, _M.EVENT_TYPES, _M.SUBSCRIBE_TYPES = DETECTION_TYPES, EVENT_TYPES, SUBSCRIBE_TYPES

-- The time-zone areas of the document's appendix "area about setTimeZone".
local AREAS = {
  "Pacific/Wake", "Pacific/Midway", "Pacific/Honolulu", "America/Anchorage",
  "America/Los_Angeles", "America/Phoenix", "America/Chihuahua",
  "America/Denver", "America/Tegucigalpa", "America/Chicago",
  "America/Mexico_City", "Canada/Saskatchewan", "America/Bogota",
  "America/New_York", "America/Indiana/Indianapolis", "America/Caracas",
  "America/Asuncion", "America/Halifax", "America/Cuiaba", "America/La_Paz",
  "America/Santiago", "Canada/Newfoundland", "America/Sao_Paulo",
  "America/Buenos_Aires", "America/Cayenne", "America/Godthab",
  "America/Montevideo", "Atlantic/South_Georgia", "Atlantic/Azores",
  "Atlantic/Cape_Verde", "Africa/Casablanca", "UTC", "Europe/London",
  "Atlantic/Reykjavik", "Europe/Amsterdam", "Europe/Belgrade",
  "Europe/Brussels", "Europe/Sarajevo", "Africa/Algiers", "Europe/Athens",
  "Asia/Beirut", "Africa/Cairo", "Asia/Damascus", "Africa/Harare",
  "Europe/Vilnius", "Asia/Jerusalem", "Asia/Amman", "Asia/Baghdad",
  "Europe/Minsk", "Asia/Kuwait", "Africa/Nairobi", "Asia/Istanbul",
  "Europe/Moscow", "Asia/Tehran", "Asia/Muscat", "Asia/Baku", "Asia/Tbilisi",
  "Asia/Yerevan", "Asia/Kabul", "Asia/Karachi", "Asia/Yekaterinburg",
  "Asia/Tashkent", "Asia/Kolkata", "Asia/Colombo", "Asia/Katmandu",
  "Asia/Dhaka", "Asia/Rangoon", "Asia/Bangkok", "Asia/Novosibirsk",
  "Asia/Krasnoyarsk", "Asia/Hong_Kong", "Asia/Kuala_Lumpur",
  "Australia/Perth", "Asia/Taipei", "Asia/Ulaanbaatar", "Asia/Irkutsk",
  "Asia/Tokyo", "Asia/Seoul", "Asia/Yakutsk", "Australia/Adelaide",
  "Australia/Darwin", "Australia/Brisbane", "Australia/Canberra",
  "Pacific/Guam", "Australia/Hobart", "Asia/Vladivostok", "Pacific/Noumea",
  "Asia/Magadan", "Pacific/Auckland", "Pacific/Fiji", "Asia/Kamchatka",
  "Pacific/Tongatapu",
}

-- 1920x1080 (getVideoCapability's form) -> 1920*1080 (setResolution's).
local RESOLUTION_X = { from = "^(%d+)[xX](%d+)$", to = "%1*%2",
                       doc = "WIDTHxHEIGHT is sent as WIDTH*HEIGHT" }

local UINT32_MAX = 4294967295
local INT32_MAX = 2147483647

-- Builders for the specs the event rows repeat. Each call returns a fresh
-- spec table (enum lists are shared: they are never changed).

local function _onoff(name, doc)
  return { name = name, type = "string", enum = ON_OFF, doc = doc }
end

local function _enabled(what)
  return _onoff("enabled", what .. " detection on or off")
end

-- The four alarm and record switches every detection has, in the
-- document's order.
local function _sound(what)
  return _onoff("sound_alarm_enabled", "sound alarm on " .. what .. " detection")
end

local function _light(what)
  return _onoff("light_alarm_enabled", "light alarm on " .. what .. " detection")
end

local function _push(what)
  return _onoff("msg_push_enabled", "message push on " .. what .. " detection")
end

local function _record(what)
  return _onoff("record_enabled", "recording on " .. what
    .. " detection (needs the record schedule on too)")
end

local function _sensitivity(what)
  return { name = "sensitivity", type = "int", min = 1, max = 100,
           doc = "sensitivity of " .. what .. " detection (higher triggers more easily)" }
end

local function _people()
  return _onoff("people_enhance", "trigger only on people")
end

local function _vehicle()
  return _onoff("vehicle_enhance", "trigger only on vehicles")
end

local function _validity()
  return { name = "enhance_validity", type = "string", enum = VALIDITY,
           doc = "confidence level of people and vehicle enhancement" }
end

local function _threshold(min, max, doc)
  return { name = "threshold", type = "int", min = min, max = max,
           doc = doc or "time threshold" }
end

local function _region_id(what)
  return { name = "id", type = "int", min = 1, max = 4, required = true,
           doc = "id of the " .. what .. " region" }
end

-- Quadrilateral regions: "points_num ... can only be 4".
local function _points_num4()
  return { name = "points_num", type = "int", min = 4, max = 4, required = true,
           doc = "number of points of the region (always 4)" }
end

local function _coords(axis, min_items, max_items)
  return { name = "points_" .. axis, type = "array", required = true,
           min_items = min_items, max_items = max_items,
           items = { type = "int", min = 0, max = 10000 },
           doc = axis .. " coordinates of the points, 0..10000 across the image" }
end

-- set_region_info: the list of regions. The setters clear the old regions
-- before adding these, so an empty list removes them all.
local function _regions(fields, max_items)
  return {
    { name = "set_region_info", type = "array", required = true,
      max_items = max_items,
      items = { type = "object", fields = fields },
      doc = "the regions; replaces all regions set before" },
  }
end

-- The fields of a quadrilateral region: its id (unless with_id is false),
-- its four points, then `extra` in the document's order.
local function _polygon(what, extra, with_id)
  local fields = {}
  if with_id ~= false then fields[#fields + 1] = _region_id(what) end
  fields[#fields + 1] = _points_num4()
  fields[#fields + 1] = _coords("x", 4, 4)
  fields[#fields + 1] = _coords("y", 4, 4)
  for _, f in ipairs(extra or {}) do fields[#fields + 1] = f end
  return fields
end

-- A getter: no parameters, no side effect, data in the answer.
local function _get(name, group, section, summary)
  return { name = name, group = group, section = section, summary = summary,
           access = "read", result = true }
end

_M.list = {
  -- 4.1 Special interface ---------------------------------------------------
  -- The challenge form of doAuth (WIRE-NOTES §4) is handled by the
  -- authentication layer; this row is the document's MD5 form.
  { name = "doAuth", group = "special", section = "4.1.1",
    summary = "Authenticate with the MD5 of the camera password and get the stok token.",
    access = "auth", result = false,   -- stok comes at the top level
    params = {
      { name = "password", type = "string", required = true, secret = true,
        min_len = 32, max_len = 32, pattern = "^%x+$",
        format = "32 hex digits (sent in upper case)", doc = "MD5 of the camera password" },
      { name = "passwdType", type = "string", required = true, enum = { "md5" },
        doc = "hash of the password; only md5" },
    } },
  _get("getModuleList", "special", "4.1.2", "Get the modules the camera supports and their versions."),

  -- 4.2 system ---------------------------------------------------------------
  _get("getDeviceInfo", "system", "4.2.1", "Get the device information (model, MAC, versions)."),
  { name = "setDeviceAlias", group = "system", section = "4.2.2",
    summary = "Set the device alias.",
    access = "write", result = false, pair = "getDeviceAlias",
    params = {
      { name = "alias", type = "string", required = true, min_len = 1, max_len = 32,
        doc = "device alias" },
    } },
  _get("getDeviceAlias", "system", "4.2.3", "Get the device alias."),
  { name = "doSoftReset", group = "system", section = "4.2.4",
    summary = "Reset the device from the local network.",
    access = "action", result = false },
  -- The table gives no types; the example sends the times as strings.
  { name = "searchSystemLog", group = "system", section = "4.2.5",
    summary = "Search the system log between two times.",
    access = "read", result = true,
    params = {
      { name = "start_time", type = "string", required = true, pattern = "^%d+$",
        format = "decimal seconds since 1970", doc = "start of the search" },
      { name = "end_time", type = "string", required = true, pattern = "^%d+$",
        format = "decimal seconds since 1970", doc = "end of the search" },
      { name = "log_type", type = "string", required = true,
        enum = { "all", "alarm", "exception", "operation", "information" },
        doc = "type of log entries" },
    } },
  _get("getDeviceStatus", "system", "4.2.6", "Get the device status (address, link, uptime)."),

  -- 4.3 dateTime -------------------------------------------------------------
  { name = "setTimezone", alias = "setTimeZone", group = "dateTime", section = "4.3.1",
    summary = "Set the time zone.",
    access = "write", result = false, pair = "getTimezone",
    params = {
      { name = "timezone", type = "string", required = true, min_len = 1, max_len = 15,
        pattern = "^UTC[+-]%d%d:%d%d$", format = "UTC+hh:mm or UTC-hh:mm",
        doc = "offset from UTC" },
      { name = "area", type = "string", required = true, min_len = 1, max_len = 63,
        enum = AREAS, doc = "area name, from the document's appendix" },
    } },
  { name = "getTimezone", alias = "getTimeZone", group = "dateTime", section = "4.3.2",
    summary = "Get the time zone.", access = "read", result = true },
  { name = "setSystemTime", group = "dateTime", section = "4.3.3",
    summary = "Set the system time.",
    access = "write", result = false, pair = "getSystemTime",
    params = {
      -- 946656000 is the document's floor; the wire type is a 32-bit int.
      { name = "system_time", type = "int", required = true,
        min = 946656000, max = INT32_MAX, doc = "seconds since 1970" },
    } },
  _get("getSystemTime", "dateTime", "4.3.4", "Get the system time."),

  -- 4.4 audio ----------------------------------------------------------------
  { name = "setSpeakerVolume", group = "audio", section = "4.4.1",
    summary = "Set the speaker volume.",
    access = "write", result = false, pair = "getSpeakerVolume",
    params = {
      { name = "volume", type = "int", min = 0, max = 100, required = true,
        doc = "speaker volume" },
    } },
  _get("getSpeakerVolume", "audio", "4.4.2", "Get the speaker volume."),
  { name = "setMicrophoneVolume", group = "audio", section = "4.4.3",
    summary = "Set the microphone volume.",
    access = "write", result = false, pair = "getMicrophoneVolume",
    params = {
      { name = "volume", type = "int", min = 0, max = 100, required = true,
        doc = "microphone volume" },
    } },
  _get("getMicrophoneVolume", "audio", "4.4.4", "Get the microphone volume."),
  _get("getAudioCapability", "audio", "4.4.5", "Get which audio settings can be configured."),

  -- 4.5 video ----------------------------------------------------------------
  -- The table lists one model's resolutions and says the range comes from
  -- getVideoCapability, so only the WIDTH*HEIGHT form is checked here.
  -- getVideoCapability's table prints them as 1920x1080: that form is
  -- taken too and sent as the document's requests write it, 1920*1080.
  { name = "setResolution", group = "video", section = "4.5.1",
    summary = "Set the resolution of the main and/or minor stream.",
    access = "write", result = false, pair = "getResolution",
    params = {
      { name = "main_resolution", type = "string", pattern = "^%d+%*%d+$",
        rewrite = RESOLUTION_X,
        format = "WIDTH*HEIGHT, one of getVideoCapability's main resolutions",
        doc = "main stream resolution, e.g. 2560*1440, 2304*1296, 2048*1280, 1920*1080, 1280*720" },
      { name = "minor_resolution", type = "string", pattern = "^%d+%*%d+$",
        rewrite = RESOLUTION_X,
        format = "WIDTH*HEIGHT, one of getVideoCapability's minor resolutions",
        doc = "minor stream resolution, e.g. 640*480, 352*288, 320*240" },
    },
    one_of = { "main_resolution", "minor_resolution" } },
  _get("getResolution", "video", "4.5.2", "Get the stream resolutions."),
  _get("getVideoCapability", "video", "4.5.3", "Get the resolutions each stream supports."),

  -- 4.6 dayNightMode ---------------------------------------------------------
  { name = "setDayNightMode", group = "dayNightMode", section = "4.6.1",
    summary = "Set the day/night mode.",
    access = "write", result = false, pair = "getDayNightMode",
    params = {
      { name = "mode", type = "string", required = true, enum = { "auto", "day", "night" },
        doc = "day/night mode (default auto)" },
    } },
  _get("getDayNightMode", "dayNightMode", "4.6.2", "Get the day/night mode."),

  -- 4.7 sdCard ---------------------------------------------------------------
  { name = "formatSdCard", group = "sdCard", section = "4.7.1",
    summary = "Format the SD card.",
    access = "action", result = false,
    params = {
      -- The table says "[1, 2, ...]", but the cameras it describes have one
      -- card: an index past it could only be refused or, worse, misread.
      { name = "card_index", type = "int", min = 1, max = 1,
        doc = "SD card index (the cameras have one card: 1)" },
    } },
  _get("getSdCardStatus", "sdCard", "4.7.2", "Get the status and space of the SD card."),

  -- 4.8 Event Detection ------------------------------------------------------
  { name = "setMotionDetectionSwitch", group = "event", section = "4.8.1",
    summary = "Set the motion detection switches.",
    access = "write", result = false, pair = "getMotionDetectionSwitch",
    params = {
      _enabled("motion"), _sound("motion"), _light("motion"), _push("motion"),
      _record("motion"), _sensitivity("motion"), _people(), _vehicle(), _validity(),
    } },
  _get("getMotionDetectionSwitch", "event", "4.8.2", "Get the motion detection switches."),
  -- Motion regions carry no id and the document gives no region count.
  { name = "setMotionDetectionRegion", group = "event", section = "4.8.3",
    summary = "Set the motion detection regions (replaces the old ones).",
    access = "write", result = false, pair = "getMotionDetectionRegion",
    params = _regions(_polygon("motion", nil, false)) },
  _get("getMotionDetectionRegion", "event", "4.8.4", "Get the motion detection regions."),

  { name = "setCrosslineDetectionSwitch", group = "event", section = "4.8.5",
    summary = "Set the crossline detection switches.",
    access = "write", result = false, pair = "getCrosslineDetectionSwitch",
    params = {
      _enabled("crossline"), _sound("crossline"), _light("crossline"),
      _push("crossline"), _record("crossline"),
    } },
  _get("getCrosslineDetectionSwitch", "event", "4.8.6", "Get the crossline detection switches."),
  -- A line is a polyline of 2 to 5 points; the example pads the coordinate
  -- arrays to 5 entries whatever points_num says, so only 2..5 is checked.
  { name = "setCrosslineDetectionRegion", group = "event", section = "4.8.7",
    summary = "Set the crossline detection lines (replaces the old ones).",
    access = "write", result = false, pair = "getCrosslineDetectionRegion",
    params = _regions({
      _region_id("crossline"),
      { name = "points_num", type = "int", min = 2, max = 5, required = true,
        doc = "number of points of the polyline (at most 5)" },
      { name = "direction", type = "string", enum = { "AtoB", "BtoA", "both" },
        doc = "crossing direction that triggers" },
      _coords("x", 2, 5), _coords("y", 2, 5),
      _sensitivity("crossline"), _people(), _vehicle(), _validity(),
    }, 4) },
  _get("getCrosslineDetectionRegion", "event", "4.8.8", "Get the crossline detection lines."),

  { name = "setInvasionDetectionSwitch", group = "event", section = "4.8.9",
    summary = "Set the invasion detection switches.",
    access = "write", result = false, pair = "getInvasionDetectionSwitch",
    params = {
      _enabled("invasion"), _sound("invasion"), _light("invasion"),
      _push("invasion"), _record("invasion"),
    } },
  -- The document's Request table repeats the setter's fields here, but its
  -- example sends none, as every other getter: the request is NULL.
  _get("getInvasionDetectionSwitch", "event", "4.8.10", "Get the invasion detection switches."),
  -- The example sends threshold and percentage as strings ("3", "60"):
  -- numeric strings are accepted for int (WIRE-NOTES §2 "Types").
  { name = "setInvasionDetectionRegion", group = "event", section = "4.8.11",
    summary = "Set the invasion detection regions (replaces the old ones).",
    access = "write", result = false, pair = "getInvasionDetectionRegion",
    params = _regions(_polygon("invasion", {
      _threshold(0, 10),
      _sensitivity("invasion"),
      { name = "percentage", type = "int", min = 1, max = 100,
        doc = "share of the object inside the region, in percent" },
      _people(), _vehicle(), _validity(),
    }), 4) },
  _get("getInvasionDetectionRegion", "event", "4.8.12", "Get the invasion detection regions."),

  { name = "setTamperDetectionSwitch", group = "event", section = "4.8.13",
    summary = "Set the tamper detection switches.",
    access = "write", result = false, pair = "getTamperDetectionSwitch",
    params = {
      _enabled("tamper"), _sensitivity("tamper"), _sound("tamper"), _light("tamper"),
      _push("tamper"), _record("tamper"),
    } },
  _get("getTamperDetectionSwitch", "event", "4.8.14", "Get the tamper detection switches."),

  { name = "setPeopleDetectionSwitch", group = "event", section = "4.8.15",
    summary = "Set the people detection switches.",
    access = "write", result = false, pair = "getPeopleDetectionSwitch",
    params = {
      _enabled("people"), _sensitivity("people"), _sound("people"), _light("people"),
      _push("people"), _record("people"),
    } },
  _get("getPeopleDetectionSwitch", "event", "4.8.16", "Get the people detection switches."),
  { name = "setPeopleDetectionRegion", group = "event", section = "4.8.17",
    summary = "Set the people detection regions (replaces the old ones).",
    access = "write", result = false, pair = "getPeopleDetectionRegion",
    params = _regions(_polygon("people detection"), 4) },
  _get("getPeopleDetectionRegion", "event", "4.8.18", "Get the people detection regions."),

  { name = "setVehicleDetectionSwitch", group = "event", section = "4.8.19",
    summary = "Set the vehicle detection switches.",
    access = "write", result = false, pair = "getVehicleDetectionSwitch",
    params = {
      _enabled("vehicle"), _sensitivity("vehicle"), _sound("vehicle"), _light("vehicle"),
      _push("vehicle"), _record("vehicle"),
    } },
  _get("getVehicleDetectionSwitch", "event", "4.8.20", "Get the vehicle detection switches."),
  { name = "setVehicleDetectionRegion", group = "event", section = "4.8.21",
    summary = "Set the vehicle detection regions (replaces the old ones).",
    access = "write", result = false, pair = "getVehicleDetectionRegion",
    params = _regions(_polygon("vehicle detection"), 4) },
  _get("getVehicleDetectionRegion", "event", "4.8.22", "Get the vehicle detection regions."),

  { name = "setAreaEntryDetectionSwitch", group = "event", section = "4.8.23",
    summary = "Set the area entry detection switches.",
    access = "write", result = false, pair = "getAreaEntryDetectionSwitch",
    params = {
      _enabled("area entry"), _sound("area entry"), _light("area entry"),
      _push("area entry"), _record("area entry"),
    } },
  _get("getAreaEntryDetectionSwitch", "event", "4.8.24", "Get the area entry detection switches."),
  { name = "setAreaEntryDetectionRegion", group = "event", section = "4.8.25",
    summary = "Set the area entry detection regions (replaces the old ones).",
    access = "write", result = false, pair = "getAreaEntryDetectionRegion",
    params = _regions(_polygon("area entry", {
      _sensitivity("area entry"), _people(), _vehicle(), _validity(),
    }), 4) },
  _get("getAreaEntryDetectionRegion", "event", "4.8.26", "Get the area entry detection regions."),

  { name = "setAreaLeaveDetectionSwitch", group = "event", section = "4.8.27",
    summary = "Set the area leave detection switches.",
    access = "write", result = false, pair = "getAreaLeaveDetectionSwitch",
    params = {
      _enabled("area leave"), _sound("area leave"), _light("area leave"),
      _push("area leave"), _record("area leave"),
    } },
  _get("getAreaLeaveDetectionSwitch", "event", "4.8.28", "Get the area leave detection switches."),
  { name = "setAreaLeaveDetectionRegion", group = "event", section = "4.8.29",
    summary = "Set the area leave detection regions (replaces the old ones).",
    access = "write", result = false, pair = "getAreaLeaveDetectionRegion",
    params = _regions(_polygon("area leave", {
      _sensitivity("area leave"), _people(), _vehicle(), _validity(),
    }), 4) },
  _get("getAreaLeaveDetectionRegion", "event", "4.8.30", "Get the area leave detection regions."),

  { name = "setDropAndTakeDetectionSwitch", group = "event", section = "4.8.31",
    summary = "Set the drop and take detection switches.",
    access = "write", result = false, pair = "getDropAndTakeDetectionSwitch",
    params = {
      _enabled("drop and take"), _sound("drop and take"),
      _light("drop and take"), _push("drop and take"),
      _record("drop and take"),
    } },
  _get("getDropAndTakeDetectionSwitch", "event", "4.8.32", "Get the drop and take detection switches."),
  { name = "setDropAndTakeDetectionRegion", group = "event", section = "4.8.33",
    summary = "Set the drop and take detection regions (replaces the old ones).",
    access = "write", result = false, pair = "getDropAndTakeDetectionRegion",
    params = _regions(_polygon("drop and take", {
      _sensitivity("drop and take"),
      _threshold(5, 20),
      { name = "detect", type = "string", enum = { "take", "drop", "both" },
        doc = "events: take (removed), drop (left behind), both (default)" },
    }), 4) },
  _get("getDropAndTakeDetectionRegion", "event", "4.8.34", "Get the drop and take detection regions."),

  { name = "setLoiterDetectionSwitch", group = "event", section = "4.8.35",
    summary = "Set the loiter detection switches.",
    access = "write", result = false, pair = "getLoiterDetectionSwitch",
    params = {
      _enabled("loiter"), _sound("loiter"), _light("loiter"),
      _push("loiter"), _record("loiter"),
    } },
  _get("getLoiterDetectionSwitch", "event", "4.8.36", "Get the loiter detection switches."),
  { name = "setLoiterDetectionRegion", group = "event", section = "4.8.37",
    summary = "Set the loiter detection regions (replaces the old ones).",
    access = "write", result = false, pair = "getLoiterDetectionRegion",
    params = _regions(_polygon("loiter", {
      _sensitivity("loiter"), _threshold(1, 10),
      _people(), _vehicle(), _validity(),
    }), 4) },
  _get("getLoiterDetectionRegion", "event", "4.8.38", "Get the loiter detection regions."),

  { name = "setSceneChangeDetectionSwitch", group = "event", section = "4.8.39",
    summary = "Set the scene change detection switches.",
    access = "write", result = false, pair = "getSceneChangeDetectionSwitch",
    params = {
      _enabled("scene change"), _sensitivity("scene change"), _sound("scene change"),
      _light("scene change"), _push("scene change"), _record("scene change"),
    } },
  _get("getSceneChangeDetectionSwitch", "event", "4.8.40", "Get the scene change detection switches."),
  { name = "setAudioAnomalyDetectionSwitch", group = "event", section = "4.8.41",
    summary = "Set the audio anomaly detection switches.",
    access = "write", result = false, pair = "getAudioAnomalyDetectionSwitch",
    params = {
      _enabled("audio anomaly"), _sensitivity("audio anomaly"),
      _sound("audio anomaly"), _light("audio anomaly"),
      _push("audio anomaly"), _record("audio anomaly"),
      _threshold(1, 100, "alert threshold"),
    } },
  _get("getAudioAnomalyDetectionSwitch", "event", "4.8.42", "Get the audio anomaly detection switches."),
  _get("getEventEnhanceCapability", "event", "4.8.43",
    "Get which detections support people and vehicle enhancement (bit masks)."),

  -- 4.9 ptz ------------------------------------------------------------------
  _get("getPresetPoint", "ptz", "4.9.1", "Get the preset points."),
  -- The example sends the coordinates as strings ("0.2").
  { name = "motorMove", group = "ptz", section = "4.9.2",
    summary = "Move the pan/tilt (and zoom) to an absolute position.",
    access = "action", result = false,
    params = {
      { name = "x_coord", type = "float", required = true, min = -1, max = 1,
        doc = "horizontal position" },
      { name = "y_coord", type = "float", required = true, min = -1, max = 1,
        doc = "vertical position" },
      { name = "z_coord", type = "float", min = 0, max = 1,
        doc = "zoom position (only with ptz_zoom)" },
    } },
  { name = "cruiseMove", group = "ptz", section = "4.9.3",
    summary = "Move the pan/tilt (or zoom) continuously in one direction.",
    access = "action", result = false,
    params = {
      { name = "coord", type = "string", required = true,
        enum = { "x", "y", "-x", "-y", "z", "-z" },
        doc = "direction; z and -z only with ptz_zoom" },
      -- "Floating-point strings": sent as a string, numbers are converted.
      { name = "coord_speed", type = "float", wire = "string", min = 0, max = 1,
        doc = "speed, at most 1 (see getPTZCapability)" },
    } },
  { name = "stopMove", group = "ptz", section = "4.9.4",
    summary = "Stop the pan/tilt movement.", access = "action", result = false },
  -- The example sends the id as a string ("3").
  { name = "setPresetPoint", group = "ptz", section = "4.9.5",
    summary = "Save the current pan/tilt position as a preset point.",
    access = "write", result = true, pair = "getPresetPoint",
    params = {
      { name = "id", type = "int", required = true, min = 1, max = 8,
        doc = "preset point id" },
      { name = "name", type = "string", required = true, doc = "preset point name" },
    } },
  { name = "removePresetPoint", group = "ptz", section = "4.9.6",
    summary = "Remove preset points.",
    access = "write", result = false,
    params = {
      -- "An array of integer strings": numbers given are converted.
      { name = "id", type = "array", required = true, min_items = 1,
        items = { type = "int", wire = "string", min = 1, max = 8 },
        doc = "ids of the preset points to remove" },
    } },
  { name = "gotoPresetPoint", group = "ptz", section = "4.9.7",
    summary = "Move to a preset point.",
    access = "action", result = false,
    params = {
      { name = "id", type = "int", required = true, min = 1, max = 8,
        doc = "preset point id" },
    } },
  _get("getPTZCapability", "ptz", "4.9.8", "Get the pan/tilt/zoom maximum speeds."),

  -- 4.10 playback ------------------------------------------------------------
  { name = "searchVideoCalendar", group = "playback", section = "4.10.1",
    summary = "Get the days that have recordings, between two months.",
    access = "read", result = true,
    params = {
      { name = "start_date", type = "string", required = true,
        pattern = "^%d%d%d%d%d%d$", format = "yyyymm", doc = "first month" },
      { name = "end_date", type = "string", required = true,
        pattern = "^%d%d%d%d%d%d$", format = "yyyymm", doc = "last month" },
    } },
  { name = "searchVideoList", group = "playback", section = "4.10.2",
    summary = "Get the recordings of one day, by index range.",
    access = "read", result = true,
    params = {
      { name = "date", type = "string", required = true,
        pattern = "^%d%d%d%d%d%d%d%d$", format = "yyyymmdd", doc = "the day" },
      { name = "start_index", type = "int", required = true, min = 0, max = UINT32_MAX,
        doc = "first entry (from 0, included)" },
      { name = "end_index", type = "int", required = true, min = 0, max = UINT32_MAX,
        doc = "last entry (included)" },
      { name = "user_id", type = "int", doc = "user id from getUserId" },
    } },
  _get("getUserId", "playback", "4.10.3", "Get a user id for playback and download."),

  -- 4.11 download ------------------------------------------------------------
  -- The answer is {"media":{...},"error_code":0}: the data is in `media`.
  { name = "getMediaList", group = "download", section = "4.11.1",
    summary = "Get the recording files of a time range, for download.",
    access = "read", result = true, result_key = "media",
    params = {
      { name = "start_time", type = "string", required = true, pattern = "^%d+$",
        format = "decimal seconds since 1970", doc = "start of the search" },
      { name = "end_time", type = "string", required = true, pattern = "^%d+$",
        format = "decimal seconds since 1970", doc = "end of the search" },
      { name = "event_type", type = "array", required = true, min_items = 1,
        items = { type = "string", enum = EVENT_TYPES },
        doc = "event types of the recordings" },
      { name = "media_type", type = "array", required = true, min_items = 1,
        items = { type = "string", enum = { "video" } },
        doc = "media types; only video" },
      { name = "start_index", type = "int", min = 0, doc = "first entry (from 0)" },
      { name = "max_num", type = "int", min = 1, doc = "most entries to return" },
      { name = "user_id", type = "int", doc = "user id from getUserId" },
    },
    together = { "start_index", "max_num" } },

  -- 4.12 StreamPort ----------------------------------------------------------
  _get("getStreamPort", "StreamPort", "4.12.1", "Get the port of the stream interface (RTSP)."),

  -- 4.13 msgPush -------------------------------------------------------------
  -- The heartbeat the document shows when none is asked for is 30 s.
  { name = "subscribeMsg", group = "msgPush", section = "4.13.1",
    summary = "Subscribe to event messages; the answer stays open and carries events and heartbeats.",
    access = "stream", result = false,
    params = {
      { name = "event_type", type = "array", required = true, min_items = 1,
        items = { type = "string", enum = SUBSCRIBE_TYPES },
        doc = "event types to receive (needs msg_push_enabled on each)" },
      { name = "heartbeat", type = "int", min = 1, max = 60,
        doc = "heartbeat interval in seconds" },
    } },
  { name = "setMsgpushInterval", group = "msgPush", section = "4.13.2",
    summary = "Set the least time between two pushed messages of the same type.",
    access = "write", result = false, pair = "getMsgpushInterval",
    params = {
      { name = "event_interval", type = "int", required = true, min = 0,
        doc = "interval in seconds (default 0)" },
    } },
  _get("getMsgpushInterval", "msgPush", "4.13.3",
    "Get the least time between two pushed messages of the same type."),

  -- 4.14 recordSchedule ------------------------------------------------------
  { name = "setRecordSchedule", group = "recordSchedule", section = "4.14.1",
    summary = "Set the weekly record schedule.",
    access = "write", result = false, pair = "getRecordSchedule",
    params = (function()
      local p = { _onoff("enabled", "recording on or off") }
      for _, day in ipairs({ "monday", "tuesday", "wednesday", "thursday",
                             "friday", "saturday", "sunday" }) do
        p[#p + 1] = { name = day, type = "array", max_items = 24,
          items = { type = "string", pattern = "^%d%d%d%d%-%d%d%d%d:[12]$",
                    format = "HHMM-HHMM:type, type 1 timing or 2 event" },
          doc = "periods of " .. day .. " (at most 24)" }
      end
      return p
    end)() },
  _get("getRecordSchedule", "recordSchedule", "4.14.2", "Get the weekly record schedule."),

  -- 4.15 Alarm ---------------------------------------------------------------
  { name = "manualAlarm", group = "alarm", section = "4.15.1",
    summary = "Start or stop the alarm by hand.",
    access = "action", result = true,   -- duration, absent on stop
    params = {
      { name = "act", type = "string", required = true, enum = { "start", "stop" },
        doc = "start or stop the alarm" },
    } },
}

-- A setter whose parameters are all optional must still be given one: an
-- empty set call changes nothing and is surely a mistake.
for _, row in ipairs(_M.list) do
  if row.access == "write" and row.params and not row.one_of then
    local names, any_required = {}, false
    for i, p in ipairs(row.params) do
      names[i] = p.name
      any_required = any_required or p.required == true
    end
    if not any_required then row.one_of = names end
  end
end

_M.by_name = {}
for _, row in ipairs(_M.list) do
  _M.by_name[row.name] = row
  if row.alias then _M.by_name[row.alias] = row end
end

return _M
