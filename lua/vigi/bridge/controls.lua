-- What the bridge exposes of a camera, as data: the detections (their
-- event type, their switch methods, how Home Assistant should show them)
-- and the controls (a getter, a setter or an action, the field, and how
-- an MQTT payload maps to parameters). Ranges are not written here: they
-- come from the method table (methods.lua), and the setter's check
-- refuses a value out of range before anything is sent.
local methods = require "vigi.methods"
local errors = require "vigi.errors"

local _M = {}

-- The detections of the document (4.8, 4.13.1): event type, the stem of
-- its switch methods (set<stem>Switch / get<stem>Switch), a name, and the
-- Home Assistant binary_sensor device_class its event state gets.
_M.DETECTIONS = {
  { event = "MotionDetection", stem = "MotionDetection", name = "Motion", class = "motion" },
  { event = "PeopleDetection", stem = "PeopleDetection", name = "People", class = "occupancy" },
  { event = "VehicleDetection", stem = "VehicleDetection", name = "Vehicle", class = "motion" },
  { event = "TamperDetection", stem = "TamperDetection", name = "Tamper", class = "tamper" },
  { event = "CrossLineDetection", stem = "CrosslineDetection", name = "Line crossing", class = "motion" },
  { event = "InvasionDetection", stem = "InvasionDetection", name = "Intrusion", class = "motion" },
  { event = "AreaEntryDetection", stem = "AreaEntryDetection", name = "Area entry", class = "occupancy" },
  { event = "AreaLeaveDetection", stem = "AreaLeaveDetection", name = "Area leave", class = "motion" },
  { event = "DropAndTakeDetection", stem = "DropAndTakeDetection", name = "Object left or taken",
    class = "problem" },
  { event = "LoiterDetection", stem = "LoiterDetection", name = "Loitering", class = "presence" },
  { event = "SceneChangeDetection", stem = "SceneChangeDetection", name = "Scene change", class = "tamper" },
  { event = "AudioAnomalyDetection", stem = "AudioAnomalyDetection", name = "Audio anomaly", class = "sound" },
}
_M.by_event = {}
for _, d in ipairs(_M.DETECTIONS) do _M.by_event[d.event] = d end

-- Groups of controls a configuration may name; "reboot" is left out of
-- the default: the document says only that doSoftReset "resets the
-- device", so a button for it must be asked for.
_M.GROUPS = { "detections", "sensitivity", "volume", "alarm", "presets", "reboot" }
_M.DEFAULT_GROUPS = { "detections", "sensitivity", "volume", "alarm", "presets" }

local function param(method, field)
  local row = methods.by_name[method]
  for _, p in ipairs(row and row.params or {}) do
    if p.name == field then return p end
  end
  return nil
end

local ALL = {}
local function add(c) ALL[#ALL + 1] = c end

for _, d in ipairs(_M.DETECTIONS) do
  local id = d.event:gsub("Detection$", ""):gsub("(%l)(%u)", "%1_%2"):lower()
  add { id = id .. "_detection", group = "detections", component = "switch", name = d.name .. " detection",
        get = "get" .. d.stem .. "Switch", set = "set" .. d.stem .. "Switch", field = "enabled",
        category = "config" }
  local p = param("set" .. d.stem .. "Switch", "sensitivity")
  if p then
    add { id = id .. "_sensitivity", group = "sensitivity", component = "number",
          name = d.name .. " sensitivity", get = "get" .. d.stem .. "Switch", set = "set" .. d.stem .. "Switch",
          field = "sensitivity", min = p.min, max = p.max, step = 1, category = "config" }
  end
end
for _, v in ipairs { { "speaker", "Speaker" }, { "microphone", "Microphone" } } do
  local set = "set" .. v[2] .. "Volume"
  local p = param(set, "volume")
  add { id = v[1] .. "_volume", group = "volume", component = "number", name = v[2] .. " volume",
        get = "get" .. v[2] .. "Volume", set = set, field = "volume", min = p.min, max = p.max, step = 1,
        category = "config" }
end
-- manualAlarm has no getter: its state is the last command the camera took.
add { id = "alarm", group = "alarm", component = "switch", name = "Alarm", action = "manualAlarm",
      field = "act", on = "start", off = "stop" }
add { id = "preset", group = "presets", component = "select", name = "PTZ preset",
      get = "getPresetPoint", action = "gotoPresetPoint" }
add { id = "reboot", group = "reboot", component = "button", name = "Soft reset", action = "doSoftReset",
      category = "config" }

_M.ALL = ALL

-- The controls of the groups named in `groups` (a list), in table order.
function _M.list(groups)
  local on = {}
  for _, g in ipairs(groups) do on[g] = true end
  local out = {}
  for _, c in ipairs(ALL) do
    if on[c.group] then out[#out + 1] = c end
  end
  return out
end

-- A field of a getter's result: at its top, or inside its one table
-- member (firmware that wraps the settings in an object of their name).
local function field_of(result, field)
  if type(result) ~= "table" then return nil end
  if result[field] ~= nil then return result[field] end
  local only
  for _, v in pairs(result) do
    if type(v) == "table" then
      if only then return nil end
      only = v
    end
  end
  return only and only[field]
end

-- The presets of getPresetPoint's answer (parallel arrays `id`, `name`),
-- as a list of { id = n, name = s } in the camera's order.
function _M.presets(result)
  local ids, names = field_of(result, "id"), field_of(result, "name")
  local out = {}
  if type(ids) ~= "table" or type(names) ~= "table" then return out end
  for i = 1, #ids do
    local id = tonumber(ids[i])
    if id and type(names[i]) == "string" then out[#out + 1] = { id = id, name = names[i] } end
  end
  return out
end

-- state(control, result) -> the MQTT payload of the control's state from
-- its getter's result, or nil when the result does not hold it.
function _M.state(c, result)
  if c.component == "select" then return nil end -- the last preset chosen, kept by the caller
  local v = field_of(result, c.field)
  if v == nil then return nil end
  if c.component == "switch" then
    if v == "on" or v == true or v == 1 or v == "1" then return "ON" end
    if v == "off" or v == false or v == 0 or v == "0" then return "OFF" end
    return nil
  end
  local n = tonumber(v)
  if not n then return nil end
  if n == math.floor(n) then return string.format("%d", n) end
  return tostring(n)
end

local function refused(c, payload, why)
  local shown = tostring(payload):sub(1, 40):gsub("[%c\"\\]", "?")
  return errors.fail("invalid", string.format('%s: "%s" %s; nothing was sent', c.id, shown, why))
end

-- command(control, payload, presets) -> method, params, state | nil, err
-- What a payload on the control's command topic asks of the camera: the
-- method to call, its parameters, and the state to publish when the call
-- has no getter to read back. A payload that cannot mean anything for the
-- control is `invalid` here; a number out of range is the setter's check's
-- `invalid` (nothing is sent in either case).
function _M.command(c, payload, presets)
  local p = tostring(payload):match("^%s*(.-)%s*$")
  if c.component == "switch" then
    local up = p:upper()
    if up ~= "ON" and up ~= "OFF" then return refused(c, payload, "is not ON or OFF") end
    if c.action then
      return c.action, { [c.field] = up == "ON" and c.on or c.off }, up
    end
    return c.set, { [c.field] = up == "ON" and "on" or "off" }
  elseif c.component == "number" then
    local n = tonumber(p)
    if not n or n ~= n or n == math.huge or n == -math.huge then
      return refused(c, payload, "is not a number")
    end
    if n == math.floor(n) and math.abs(n) < 2 ^ 31 then
      n = math.tointeger and math.tointeger(n) or n
    end
    return c.set, { [c.field] = n }
  elseif c.component == "select" then
    for _, pr in ipairs(presets or {}) do
      if pr.name == p then return c.action, { id = pr.id }, pr.name end
    end
    return refused(c, payload, "is not a preset of this camera")
  elseif c.component == "button" then
    if p ~= "PRESS" then return refused(c, payload, "is not PRESS") end
    return c.action, nil
  end
  return refused(c, payload, "cannot be set")
end

return _M
