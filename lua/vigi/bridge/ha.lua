-- Home Assistant MQTT discovery: the config messages that make a camera
-- appear in Home Assistant with no YAML, one device per camera.
--
--   <discovery prefix>/<component>/<node>/<object>/config
--
-- Every entity is available when both the bridge (its MQTT will) and its
-- camera are: a bridge that dies takes all its cameras' entities with it.
-- The payloads are plain data here; the bridge encodes and publishes them
-- (retained), again after every reconnection to the broker and whenever
-- Home Assistant says it came online (<discovery prefix>/status).
local controls = require "vigi.bridge.controls"
local json = require "vigi.json"

local _M = {}

-- The device of a camera: its identity in Home Assistant's device
-- registry. `info` is getDeviceInfo's answer; `mac_shared` says that
-- another camera of this bridge reports the same MAC (a simulated fleet
-- does): then the MAC is no identity and is left out of `connections`.
function _M.device(t, info, mac_shared)
  info = type(info) == "table" and info or {}
  local d = {
    identifiers = { t.node },
    name = t.name,
    manufacturer = "TP-Link",
    model = type(info.model) == "string" and ("VIGI " .. info.model:gsub("^VIGI%s*", "")) or nil,
    sw_version = type(info.swVer) == "string" and info.swVer:match("^%s*(.-)%s*$") or nil,
    hw_version = type(info.hwVer) == "string" and info.hwVer or nil,
  }
  local mac = _M.mac(info.mac)
  if mac and not mac_shared then d.connections = { { "mac", mac } } end
  return d
end

-- "00-0A-EB-01-88-11" (as cameras write it) -> "00:0a:eb:01:88:11", or nil.
function _M.mac(s)
  if type(s) ~= "string" then return nil end
  local hex = s:gsub("[%-:%.]", ""):lower()
  if not hex:match("^%x+$") or #hex ~= 12 then return nil end
  return (hex:gsub("(%x%x)", "%1:"):sub(1, 17))
end

-- The topics of one camera: t = { prefix =, discovery =, name =, node =,
-- bridge_availability = }.
local function base(t, component, object, name)
  return {
    name = name,
    unique_id = t.node .. "_" .. object,
    object_id = t.node .. "_" .. object,
    availability = {
      { topic = t.bridge_availability },
      { topic = t.prefix .. "/" .. t.name .. "/availability" },
    },
    availability_mode = "all",
    device = t.device,
    origin = { name = "vigi", sw_version = t.version },
    _topic = t.discovery .. "/" .. component .. "/" .. t.node .. "/" .. object .. "/config",
  }
end

-- configs(t, events, ctrls, presets) -> list of { topic =, config = table }
-- t: as base() plus device; events: the event types bridged; ctrls: the
-- controls the camera answered for; presets: its preset points.
function _M.configs(t, events, ctrls, presets)
  local out = {}
  local function put(c)
    local topic = c._topic
    c._topic = nil
    out[#out + 1] = { topic = topic, config = c }
  end
  local cam = t.prefix .. "/" .. t.name
  for _, ev in ipairs(events) do
    local d = controls.by_event[ev]
    local c = base(t, "binary_sensor", "event_" .. ev:lower(), d and d.name or ev)
    c.state_topic = cam .. "/event/" .. ev
    c.payload_on, c.payload_off = "ON", "OFF"
    c.device_class = d and d.class or nil
    c.json_attributes_topic = cam .. "/event/" .. ev .. "/json"
    put(c)
  end
  for _, ctl in ipairs(ctrls) do
    local c = base(t, ctl.component, ctl.id, ctl.name)
    c.command_topic = cam .. "/" .. ctl.id .. "/set"
    c.entity_category = ctl.category
    if ctl.component ~= "button" then c.state_topic = cam .. "/" .. ctl.id end
    if ctl.component == "switch" then
      c.payload_on, c.payload_off = "ON", "OFF"
      c.state_on, c.state_off = "ON", "OFF"
    elseif ctl.component == "number" then
      c.min, c.max, c.step, c.mode = ctl.min, ctl.max, ctl.step, "slider"
    elseif ctl.component == "select" then
      local names = setmetatable({}, json.array_mt) -- [] when there is none
      for i, p in ipairs(presets or {}) do names[i] = p.name end
      c.options = names
    elseif ctl.component == "button" then
      c.payload_press = "PRESS"
    end
    put(c)
  end
  -- Diagnostics: event gaps (a subscription lost and made again), and the
  -- camera's status with the reason it is offline. The status stays
  -- available while the camera is not: it is what says why.
  local g = base(t, "sensor", "event_gaps", "Event gaps")
  g.state_topic = cam .. "/gap"
  g.value_template = "{{ value_json.count }}"
  g.json_attributes_topic = cam .. "/gap"
  g.entity_category = "diagnostic"
  g.state_class = "total_increasing"
  put(g)
  local s = base(t, "sensor", "status", "Status")
  s.availability = { { topic = t.bridge_availability } }
  s.availability_mode = nil
  s.state_topic = cam .. "/status"
  s.value_template = "{{ value_json.state }}"
  s.json_attributes_topic = cam .. "/status"
  s.entity_category = "diagnostic"
  put(s)
  return out
end

-- What Home Assistant requires of each component's config (its MQTT
-- discovery schemas), for the specs and for a check before publishing.
_M.REQUIRED = {
  binary_sensor = { "state_topic" },
  sensor = { "state_topic" },
  switch = { "command_topic" },
  number = { "command_topic" },
  button = { "command_topic" },
  select = { "command_topic", "options" },
}

return _M
