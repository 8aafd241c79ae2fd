-- One camera of the bridge: its connection, its availability, its events
-- as state topics, its controls as command topics. Two vigi.run tasks per
-- camera: `run` (connects, reads and sets, times the event holds, watches
-- the subscription) and `read_events` (takes the subscription's items).
--
-- Availability: online while the event subscription is open and the last
-- read of the camera worked; offline, with the reason in <camera>/status,
-- otherwise. A camera that cannot be reached is tried again with a backoff
-- (retry_min doubling to retry_max, with jitter); a lost subscription makes
-- itself again (events.lua) and says so with a gap.
--
-- Account safety (docs/design.md, principle 8): the bridge never sends a
-- password again by itself after a login failed. A camera keeps a refused
-- login and answers every later call, token renewal and subscription
-- recovery with the same `auth` error without sending anything; the
-- bridge then closes it and leaves it offline with the reason. The next
-- attempt waits until the camera's password source gives another password
-- (a password file edited: it is read again every password_check
-- seconds) or the bridge is started again.
local vigi = require "vigi"
local core = require "vigi.core"
local json = require "vigi.json"
local wait = require "vigi.wait"
local queue = require "vigi.queue"
local controls = require "vigi.bridge.controls"
local ha = require "vigi.bridge.ha"
local config = require "vigi.bridge.config"

local _M = {}

local Cam = {}
Cam.__index = Cam
Cam.__name = "vigi.bridge.camera"

-- Commands waiting for a camera, at most; more are refused on the error
-- topic (anyone who may publish on the broker can send them).
_M.MAX_INBOX = 32

function Cam:__tostring() return "vigi.bridge.camera{" .. self.name .. ", " .. self.status .. "}" end

function _M.new(bridge, cc)
  local self = setmetatable({
    bridge = bridge, cfg = cc, name = cc.name,
    topic = bridge.cfg.prefix .. "/" .. cc.name,
    status = "starting", inbox = queue.new(), off_at = {}, on = {}, gaps = 0,
    states = {}, presets = {}, ctrls = {}, by_id = {},
    stats = { events = 0, commands = 0, refused = 0, connects = 0, auth_failures = 0 },
  }, Cam)
  self.types = {}
  for _, ev in ipairs(cc.events) do self.types[ev] = true end
  return self
end

function Cam:log(fmt, ...) self.bridge:log("%s: " .. fmt, self.name, ...) end

function Cam:publish(sub, payload, retain)
  return self.bridge.broker:publish(self.topic .. sub, payload, retain)
end

-- status: "online", "offline" (reason), "login_failed" (reason).
function Cam:set_status(status, reason)
  if status == self.status and reason == self.reason then return end
  local was = self.status
  self.status, self.reason = status, reason
  if (status == "online") ~= (was == "online") or was == "starting" then
    self:publish("/availability", status == "online" and "online" or "offline", true)
  end
  self:publish("/status", json.encode { state = status, reason = reason or "", since = os.time() }, true)
  self:log("%s%s", status, reason and (": " .. reason) or "")
end

-- Wakes the camera's main task (a command, an event hold, a loss).
function Cam:wake() wait.wake(self.co) end

function Cam:enqueue(id, payload)
  if not self.cam then
    self.stats.refused = self.stats.refused + 1
    self:report(id, payload, { kind = "network", message = "the camera is not connected (" ..
      tostring(self.reason or self.status) .. "); nothing was sent" })
    return
  end
  if self.inbox:len() >= _M.MAX_INBOX then
    self.stats.refused = self.stats.refused + 1
    self:report(id, payload, { kind = "invalid", message = "too many commands waiting for this camera; refused" })
    return
  end
  self.inbox:push({ id = id, payload = payload })
  self:wake()
end

-- A command refused or failed, on <camera>/error (not retained).
function Cam:report(id, payload, err)
  self:publish("/error", json.encode {
    control = id, payload = tostring(payload):sub(1, 64),
    kind = err.kind, message = err.message, time = os.time(),
  }, false)
end

-- Ends the camera's session: the main task returns `err` from serve.
function Cam:lose(err)
  if self.lost then return end
  self.lost = err
  if self.sub then self.sub:close() end
  self:wake()
end

-- A salted digest of a password that failed: to know, without keeping
-- it, whether the source now gives another one.
local SALT = core.random_hex and core.random_hex(16) or tostring(os.time())
local function fingerprint(pw) return core.sha256_hex(SALT .. pw) end

local function connect_options(cc, pw, log)
  return {
    host = cc.host, port = cc.port, username = cc.username, password = pw,
    timeout = cc.timeout, connect_timeout = cc.connect_timeout, path_suffix = cc.path_suffix,
    tls = cc.tls, log = log,
  }
end

-- Reads every getter the controls need (once each) and publishes the
-- states that changed. `first`: the controls the camera answers for are
-- those whose getter worked and holds the field. Returns true, or nil,
-- err when the camera could not be read (network, timeout, auth).
function Cam:read_states(first)
  local results, failed = {}, {}
  local list = first and controls.list(self.cfg.controls) or self.ctrls
  for _, c in ipairs(list) do
    if c.get and results[c.get] == nil and not failed[c.get] then
      local r, err = self.cam:call(c.get)
      if r then results[c.get] = r
      elseif err.kind == "api" or err.kind == "protocol" then failed[c.get] = true
      else return nil, err end
    end
  end
  if first then
    self.ctrls, self.by_id = {}, {}
  end
  for _, c in ipairs(list) do
    local keep = true
    if c.component == "select" then
      local r = results[c.get]
      keep = r ~= nil
      if r then
        local presets = controls.presets(r)
        local changed = #presets ~= #self.presets
        for i, p in ipairs(presets) do
          changed = changed or self.presets[i].name ~= p.name or self.presets[i].id ~= p.id
        end
        self.presets = presets
        if changed and not first then self:publish_discovery() end
      end
    elseif c.get then
      local s = results[c.get] and controls.state(c, results[c.get])
      keep = s ~= nil
      if s and s ~= self.states[c.id] then
        self.states[c.id] = s
        self:publish("/" .. c.id, s, true)
      end
    end
    if first and keep then
      self.ctrls[#self.ctrls + 1] = c
      self.by_id[c.id] = c
    end
  end
  return true
end

-- Discovery configs of this camera (retained), when discovery is on.
function Cam:publish_discovery()
  local cfg = self.bridge.cfg
  if not cfg.discovery or not self.info then return end
  local t = {
    prefix = cfg.prefix, discovery = cfg.discovery_prefix, name = self.name,
    node = cfg.prefix .. "_" .. self.name, version = vigi.VERSION,
    bridge_availability = self.bridge.availability_topic,
  }
  t.device = ha.device(t, self.info, self.bridge:mac_shared(self))
  local events = {}
  for _, ev in ipairs(self.cfg.events) do events[#events + 1] = ev end
  for _, item in ipairs(ha.configs(t, events, self.ctrls, self.presets)) do
    self.bridge.broker:publish(item.topic, json.encode(item.config), true)
  end
end

function Cam:on_event(item)
  local ev = item.event_type
  self.stats.events = self.stats.events + 1
  if not self.types[ev] then return end
  self:publish("/event/" .. ev .. "/json", json.encode {
    event_type = ev, enhance = item.enhance, name = item.name, time = item.time,
    seq = type(item.raw) == "table" and item.raw.seq or nil,
  }, false)
  if not self.on[ev] then
    self.on[ev] = true
    self:publish("/event/" .. ev, "ON", true)
  end
  self.off_at[ev] = core.now() + self.cfg.hold
  self:wake()
end

-- The second task: the subscription's items.
function Cam:read_events(sub)
  while not sub.closed and not self.lost do
    local item, err = sub:next()
    if not item then
      if type(err) == "table" then self:lose(err) end
      break
    end
    if item.kind == "event" then
      self:on_event(item)
    elseif item.kind == "gap" then
      self.gaps = self.gaps + 1
      self:publish("/gap", json.encode { count = self.gaps, from = item.from, to = item.to,
        reason = item.reason }, true)
      self.next_read = 0 -- the camera may have changed meanwhile: read it again
      self:wake()
    elseif item.kind == "error" then
      -- A final error ends the subscription: an `auth` refusal (the camera
      -- sends no password again), or a TLS refusal. The session ends with
      -- it, and run() decides what comes next.
      local e = item.error
      if item.final or (type(e) == "table" and e.kind == "auth") then self:lose(e) break end
      self:log("subscription: %s", tostring(e))
    end
  end
end

function Cam:command(cmd)
  local c = self.by_id[cmd.id]
  self.stats.commands = self.stats.commands + 1
  if not c then
    return self:report(cmd.id, cmd.payload, { kind = "invalid",
      message = cmd.id .. ": no such control on this camera; nothing was sent" })
  end
  local method, params, state = controls.command(c, cmd.payload, self.presets)
  if not method then return self:report(cmd.id, cmd.payload, params) end
  local r, err = self.cam:call(method, params)
  if not r then
    self:report(cmd.id, cmd.payload, err)
    if err.kind == "auth" then return self:lose(err) end
    if not err.maybe_applied then return end
  end
  if r and state then
    self.states[c.id] = state
    self:publish("/" .. c.id, state, true)
  end
  -- Read back what the camera now holds (the setter's own getter).
  if c.get and c.component ~= "select" then
    local got, gerr = self.cam:call(c.get)
    if not got then
      if gerr.kind == "auth" then self:lose(gerr) end
      return
    end
    for _, other in ipairs(self.ctrls) do
      if other.get == c.get then
        local s = controls.state(other, got)
        if s then
          self.states[other.id] = s
          self:publish("/" .. other.id, s, true)
        end
      end
    end
  end
end

-- Availability from the subscription and the last read.
function Cam:update_status()
  if self.sub.state ~= "open" then
    self:set_status("offline", "event subscription lost (" .. tostring(self.sub.lost_why or "dropped") ..
      "); reconnecting")
  elseif self.read_error then
    self:set_status("offline", tostring(self.read_error))
  else
    self:set_status("online")
  end
end

-- One session with a connected camera; returns the error that ended it.
function Cam:serve(cam)
  self.cam, self.lost = cam, nil
  local info, err = cam:getDeviceInfo()
  if not info then return err end
  self.info = info
  local ok, rerr = self:read_states(true)
  if not ok then return rerr end
  local events = {}
  for _, ev in ipairs(self.cfg.events) do events[#events + 1] = ev end
  local sub, serr = cam:subscribe { event_types = events, heartbeat = self.cfg.heartbeat }
  if not sub then return serr end
  self.sub = sub
  self.bridge:claim_mac(self)
  self:publish_discovery()
  for _, ev in ipairs(self.cfg.events) do
    if not self.on[ev] then self:publish("/event/" .. ev, "OFF", true) end
  end
  if self.gaps == 0 then self:publish("/gap", json.encode { count = 0 }, true) end
  self:set_status("online")
  vigi.spawn(function() self:read_events(sub) end)
  self.next_read = core.now() + self.cfg.poll
  while not self.lost do
    while self.inbox:len() > 0 and not self.lost do self:command(self.inbox:pop()) end
    local now = core.now()
    local next_at = now + 1 -- the subscription's state is looked at every second
    for ev, at in pairs(self.off_at) do
      if at <= now then
        self.off_at[ev], self.on[ev] = nil, nil
        self:publish("/event/" .. ev, "OFF", true)
      elseif at < next_at then
        next_at = at
      end
    end
    if not self.lost and now >= self.next_read then
      local rok, e = self:read_states(false)
      if not rok and e.kind == "auth" then self:lose(e) end
      self.read_error = not rok and e or nil
      self.next_read = core.now() + (rok and self.cfg.poll or math.min(self.cfg.poll, 5))
    end
    if self.lost then break end
    self:update_status()
    if self.inbox:len() == 0 then wait.sleep(math.max(0, next_at - core.now())) end
  end
  sub:close()
  self.sub = nil
  return self.lost
end

-- The main task: connect, serve, and what to do after.
function Cam:run()
  self.co = coroutine.running()
  local cfg = self.bridge.cfg
  local delay = cfg.retry_min
  local failed -- fingerprint of the password a login refused
  self:set_status("offline", "connecting")
  while not self.bridge.stopping do
    local pw, perr = config.secret(self.cfg, "camera " .. self.name, self.bridge.getenv)
    if not pw then
      self:set_status("offline", perr and perr.message or "no password")
      wait.sleep(cfg.password_check)
    elseif failed and failed == fingerprint(pw) then
      -- the same password the camera refused: never again by itself
      wait.sleep(cfg.password_check)
    else
      local log
      if self.bridge.verbose then log = function(line) self:log("%s", line) end end
      local tried = fingerprint(pw)
      local cam, err = vigi.connect(connect_options(self.cfg, pw, log))
      if cam then
        failed = nil
        self.stats.connects = self.stats.connects + 1
        err = self:serve(cam)
        self.cam = nil
        cam:close()
        delay = cfg.retry_min
      end
      if err.kind == "auth" then
        self.stats.auth_failures = self.stats.auth_failures + 1
        failed = tried
        self:set_status("login_failed", err.message .. "; not tried again until its password changes")
      elseif err.kind == "invalid" then
        -- a setting the camera's options refuse: trying again cannot help
        self:set_status("offline", err.message)
        return
      else
        self:set_status("offline", tostring(err))
        wait.sleep(delay * (0.5 + 0.5 * math.random()))
        delay = math.min(delay * 2, cfg.retry_max)
      end
    end
  end
end

return _M
