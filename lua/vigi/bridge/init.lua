-- vigi bridge: cameras on MQTT, with Home Assistant discovery
-- (docs/bridge.md). One vigi.run process: the broker connection is one
-- task, each camera two; every socket is waited on by the same epoll.
--
--   local bridge = require "vigi.bridge"
--   local cfg = assert(require("vigi.bridge.config").load("bridge.conf"))
--   bridge.run(cfg, { log = function(line) io.stderr:write(line, "\n") end })
--
-- Topics, under the prefix (default "vigi"):
--   <prefix>/bridge/availability      online / offline (retained; the MQTT will)
--   <prefix>/<camera>/availability    online / offline (retained)
--   <prefix>/<camera>/status          {"state","reason","since"} (retained)
--   <prefix>/<camera>/event/<Type>    ON, then OFF after the hold time (retained)
--   <prefix>/<camera>/event/<Type>/json  each event (not retained)
--   <prefix>/<camera>/gap             {"count","from","to","reason"} (retained)
--   <prefix>/<camera>/<control>       a control's state (retained)
--   <prefix>/<camera>/<control>/set   commands, from anyone
--   <prefix>/<camera>/error           a command refused or failed (not retained)
local vigi = require "vigi"
local broker = require "vigi.bridge.broker"
local camera = require "vigi.bridge.camera"
local config = require "vigi.bridge.config"

local _M = {}

local Bridge = {}
Bridge.__index = Bridge

function Bridge:log(fmt, ...)
  if self._log then self._log(string.format(fmt, ...)) end
end

-- Cameras of this bridge by the MAC they report: a MAC that two of them
-- share (a simulated fleet) is no device identity in Home Assistant.
function Bridge:claim_mac(cam)
  local mac = cam.info and require("vigi.bridge.ha").mac(cam.info.mac)
  cam.mac = mac
  if not mac then return end
  local others = self.macs[mac] or {}
  self.macs[mac] = others
  local was_shared = next(others) ~= nil and not others[cam]
  others[cam] = true
  if was_shared then
    -- the first to claim it published it as its own: publish again
    for other in pairs(others) do
      if other ~= cam then other:publish_discovery() end
    end
  end
end

function Bridge:mac_shared(cam)
  local others = cam.mac and self.macs[cam.mac]
  if not others then return false end
  for other in pairs(others) do
    if other ~= cam then return true end
  end
  return false
end

-- A message from the broker: a command, or Home Assistant's birth.
function Bridge:dispatch(topic, payload)
  if topic == self.ha_status then
    if payload == "online" then self.broker:republish() end
    return
  end
  local name, id = topic:match("^[^/]+/([^/]+)/([^/]+)/set$")
  local cam = name and self.cams[name]
  if cam then cam:enqueue(id, payload) end
end

-- run(cfg, opts) -> nil, err when it cannot start; otherwise runs until
-- the process ends. opts: log = function(line), verbose (log every camera
-- request), getenv (where password_env names are looked up).
function _M.run(cfg, opts)
  opts = opts or {}
  local self = setmetatable({
    cfg = cfg, cams = {}, macs = {}, _log = opts.log, verbose = opts.verbose,
    getenv = opts.getenv,
    availability_topic = cfg.prefix .. "/bridge/availability",
    ha_status = cfg.discovery_prefix .. "/status",
  }, Bridge)
  local b = cfg.broker
  local password, perr = config.secret(b, "broker", opts.getenv)
  if perr then return nil, perr end
  local br, berr = broker.new {
    host = b.host, port = b.port, keepalive = b.keepalive, client_id = b.client_id,
    username = b.username, password = password, tls = b.tls,
    retry_min = b.retry_min, retry_max = b.retry_max,
    will = { topic = self.availability_topic, payload = "offline" },
    on_message = function(topic, payload) self:dispatch(topic, payload) end,
    log = function(line) self:log("%s", line) end,
  }
  if not br then return nil, berr end
  self.broker = br
  br:publish(self.availability_topic, "online", true) -- sent first at every connection
  br:subscribe(cfg.prefix .. "/+/+/set")
  if cfg.discovery then br:subscribe(self.ha_status) end
  for _, cc in ipairs(cfg.cameras) do self.cams[cc.name] = camera.new(self, cc) end
  self:log("bridging %d camera(s) to mqtt://%s:%d under %s/", #cfg.cameras, b.host, b.port, cfg.prefix)
  vigi.run(function()
    vigi.spawn(function() br:run() end)
    for _, cc in ipairs(cfg.cameras) do
      local cam = self.cams[cc.name]
      vigi.spawn(function() cam:run() end)
    end
  end)
  return true
end

return _M
