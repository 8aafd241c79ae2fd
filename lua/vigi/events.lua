-- Subscriptions: subscribeMsg's multipart push as an iterator and as
-- callbacks, kept alive by a watchdog (WIRE-NOTES §2).
--
--   local sub = assert(cam:subscribe{ event_types = { "MotionDetection" }, heartbeat = 15 })
--   for ev in sub:events() do print(ev.kind, ev.event_type, ev.time) end
--
-- Each subscription is one long POST on a connection of its own, so that
-- control calls go on meanwhile. Its body is fed to the C multipart reader
-- as it arrives, read through the camera's transport (transport.lua's
-- stream reader: libcurl, or a cosocket inside nginx). When no part
-- (event or heartbeat) came for `watchdog` times the heartbeat, or the
-- connection drops, or the stream breaks the protocol, the subscription
-- is made again, after a backoff that doubles up to a cap with jitter,
-- logging in again if the token aged out; then a `gap` item says from
-- when to when events may have been missed.
local core = require "vigi.core"
local json = require "vigi.json"
local errors = require "vigi.errors"
local auth = require "vigi.auth"
local wait = require "vigi.wait"

local _M = {}

-- The event types of the document (4.13.1); others are passed through.
_M.TYPES = {
  "MotionDetection", "TamperDetection", "CrossLineDetection", "InvasionDetection",
  "AreaEntryDetection", "AreaLeaveDetection", "PeopleDetection", "VehicleDetection",
  "DropAndTakeDetection", "LoiterDetection", "SceneChangeDetection", "AudioAnomalyDetection",
}

local DEFAULTS = { heartbeat = 15, watchdog = 2.5, backoff_min = 0.5, backoff_max = 30,
                   max_part = 64 * 1024 }

-- "MotionDetection_people_enhance" -> "MotionDetection", "people"
function _M.split_type(name)
  local base, enhance = tostring(name):match("^(.-)_(%a+)_enhance$")
  if base and base ~= "" then return base, enhance end
  return name, nil
end

local h_abort

local Sub = {}
Sub.__index = Sub
Sub.__name = "vigi.subscription"

function Sub:__tostring()
  return string.format("vigi.subscription{%s, %s}", self.cam._where, self.state)
end

-- Opens the push connection and reads up to the first part, which says
-- whether the camera accepted. Returns true, or nil, err.
function Sub:_open(deadline)
  local cam = self.cam
  local ok, err = cam:_ensure_token(deadline)
  if not ok then return nil, err end
  if not cam._transport then return errors.fail("network", self.what .. ": the camera was closed") end
  self.http = self.http or cam._transport:stream()
  local body = '{"method":"subscribeMsg","params":' ..
    json.encode_params(self.params, self.row.params) .. '}'
  local started, serr = self.http:start {
    url = cam._base .. cam:_token_path(), body = body,
    connect_timeout = math.min(cam.connect_timeout, math.max(0.001, deadline - core.now())),
    timeout = 0, verify = cam.tls.verify, cafile = cam.tls.cafile, pin = cam.tls.pin,
    max_body = self.opts.max_part * 4,
  }
  if not started then return errors.fail("network", self.what .. ": " .. tostring(serr)) end
  self.reader, self.plain, self.accepted = nil, nil, false
  self.last_part = core.now()
  -- Wait for the answer to the subscription itself.
  while not self.accepted do
    if core.now() >= deadline then
      h_abort(self)
      return errors.fail("timeout", self.what .. ": no answer to the subscription in time")
    end
    local item, e = self:_pump(deadline)
    if e then return nil, e end
    if item == "ended" then
      return errors.fail("network", self.what .. ": the camera closed the subscription at once")
    end
  end
  return true
end

function h_abort(self) if self.http then self.http:abort() end end

local function api_failed(self, doc)
  local code = tonumber(doc.errCode or doc.error_code)
  return errors.new("api", self.what .. ": the camera refused the subscription" ..
    (code and (" (error " .. code .. ")") or ""), { code = code, method = "subscribeMsg" })
end

-- Turns one part's body into queued items.
function Sub:_part(body)
  self.last_part = core.now()
  local doc = json.decode(body)
  if type(doc) ~= "table" then
    self.stats.bad_parts = self.stats.bad_parts + 1
    return
  end
  if not self.accepted then
    if doc.result == "failed" or (tonumber(doc.errCode or doc.error_code) or 0) ~= 0 then
      return api_failed(self, doc)
    end
    self.accepted = true
    self.first = doc -- the camera's answer to the subscription itself
    return
  end
  if doc.Heartbeat ~= nil or doc.heartbeat ~= nil then
    self.stats.heartbeats = self.stats.heartbeats + 1
    return
  end
  if doc.event_type == nil then
    self.stats.bad_parts = self.stats.bad_parts + 1
    return
  end
  local base, enhance = _M.split_type(doc.event_type)
  self.stats.events = self.stats.events + 1
  self.queue[#self.queue + 1] = { kind = "event", event_type = base, enhance = enhance,
    name = doc.event_type, time = tonumber(doc.time), raw = doc }
end

-- One step of the connection: reads what arrived and feeds it on; when
-- nothing did, the reader waits until the deadline or the watchdog.
-- Returns "ended" when the transfer is over, or nil, err on a failure
-- that is not worth reconnecting for (a refused subscription).
function Sub:_pump(deadline)
  local h = self.http
  local done, chunk = h:read(math.min(deadline, self.last_part + self.watchdog_after))
  if self.closed then return "ended" end -- closed by another task meanwhile
  if chunk ~= "" then
    if not self.reader and not self.plain then
      local _, ct = h:headers()
      local boundary = ct and core.multipart_boundary(ct)
      if boundary then
        self.reader = core.multipart(boundary, { max_part = self.opts.max_part })
      else
        self.plain = "" -- a plain JSON answer: the subscription failed
      end
    end
    if self.plain then
      self.plain = self.plain .. chunk
      if #self.plain > self.opts.max_part then self.plain = self.plain:sub(1, self.opts.max_part) end
    else
      local parts, kind, msg = self.reader:feed(chunk)
      if not parts then
        self.stats.protocol_errors = self.stats.protocol_errors + 1
        self.broken = tostring(kind) .. ": " .. tostring(msg)
        h:abort()
        return "ended"
      end
      for _, body in ipairs(parts) do
        local e = self:_part(body)
        if e then h:abort() return nil, e end
      end
    end
  end
  if done then
    local r = h:result()
    if self.plain or (r.outcome == "ok" and not self.reader) then
      local doc = json.decode(self.plain or r.body or "")
      if r.status == 401 or r.status == 403 or
          (type(doc) == "table" and auth.TOKEN_ERRORS[auth.code_of(doc)]) then
        self.cam:_drop_token() -- log in again on the next attempt
        return "ended"
      end
      if type(doc) == "table" then return nil, api_failed(self, doc) end
    end
    return "ended"
  end
end

-- Makes the subscription again after a loss, until it works or closes.
function Sub:_recover(lost_at)
  self.state = "reconnecting"
  local delay = self.opts.backoff_min
  while not self.closed do
    if self.http then self.http:abort() end
    -- jitter: between half and all of the delay, so a fleet does not retry in step
    local pause = delay * (0.5 + 0.5 * math.random())
    self.stats.reconnects = self.stats.reconnects + 1
    wait.sleep(pause)
    if self.closed then return end
    local ok = self:_open(core.now() + self.cam.timeout)
    if ok then
      self.state = "open"
      self.queue[#self.queue + 1] = { kind = "gap", from = lost_at, to = os.time(), reason = self.lost_why }
      return
    end
    delay = math.min(delay * 2, self.opts.backoff_max)
  end
end

-- next([timeout]) -> item | nil (closed, or the timeout passed: then
-- nil, "timeout").
function Sub:next(timeout)
  -- the task reading, so that close() from another task can wake it
  self.reader_co = coroutine.running()
  local deadline = timeout and core.now() + timeout or math.huge
  local polled = false
  while true do
    if #self.queue > 0 then return table.remove(self.queue, 1) end
    if self.closed then return nil end
    if core.now() >= deadline and polled then return nil, "timeout" end
    polled = true -- next(0) still reads what has arrived, once
    local ended, err = self:_pump(math.min(deadline, core.now() + 3600))
    if err then
      -- refused now though it worked before: report it as an item, go on trying
      self.queue[#self.queue + 1] = { kind = "error", error = err }
      ended = "ended"
    end
    local silent = core.now() - self.last_part > self.watchdog_after
    if (ended or silent) and not self.closed then
      self.lost_why = silent and "silence" or (self.broken and ("protocol " .. self.broken)) or "dropped"
      self.broken = nil
      self:_recover(os.time())
    end
  end
end

-- for ev in sub:events() do ... end: items until sub:close().
function Sub:events()
  return function()
    local item = self:next()
    if item then self:_dispatch(item) end
    return item
  end
end

-- Callbacks: sub:on("MotionDetection", fn), sub:on("*", fn), sub:on("gap", fn).
function Sub:on(name, fn)
  self.handlers[name] = self.handlers[name] or {}
  table.insert(self.handlers[name], fn)
  return self
end

function Sub:off(name, fn)
  local list = self.handlers[name]
  if not list then return self end
  for i = #list, 1, -1 do if fn == nil or list[i] == fn then table.remove(list, i) end end
  return self
end

function Sub:_dispatch(item)
  local key = item.kind == "event" and item.event_type or item.kind
  for _, name in ipairs { key, "*" } do
    for _, fn in ipairs(self.handlers[name] or {}) do fn(item) end
  end
end

-- Runs the callbacks for `seconds` (or until closed).
function Sub:run(seconds)
  local stop = seconds and core.now() + seconds or math.huge
  while not self.closed do
    local item = self:next(math.max(0, stop - core.now()))
    if not item then break end
    self:_dispatch(item)
  end
end

-- A cqueues pollable, for code that polls a subscription itself:
-- `cqueues.poll(sub:pollable())`, then `sub:next(0)`. (A separate object,
-- because cqueues' `events` would collide with sub:events(), the
-- iterator.) libcurl's sockets change under a subscription, so the
-- descriptor shown is an epoll of its own, re-armed with libcurl's wait
-- set at every poll.
function Sub:_pollfd()
  local h = self.http and self.http.h -- the libcurl reader's vigi.http
  if not h or self.closed then return nil end
  self._poller = self._poller or assert(core.poller())
  self._pollset = self._pollset or {}
  local n, tmo = h:waitset(self._pollset)
  for i = 1, n do self._poller:watch(self._pollset[2 * i - 1], self._pollset[2 * i]) end
  self._polltmo = tmo
  return self._poller:fd()
end

function Sub:_polltimeout()
  if #self.queue > 0 or self.closed then return 0 end
  local t = self.last_part + self.watchdog_after - core.now()
  if self._polltmo and self._polltmo >= 0 then t = math.min(t, self._polltmo) end
  return math.max(0, t)
end

local Pollable = {}
Pollable.__index = Pollable
function Pollable:pollfd() return self.sub:_pollfd() end
function Pollable.events() return "r" end
function Pollable:timeout() return self.sub:_polltimeout() end

function Sub:pollable()
  self._pollable = self._pollable or setmetatable({ sub = self }, Pollable)
  return self._pollable
end

function Sub:close()
  self.closed = true
  self.state = "closed"
  if self._poller then
    local cq = package.loaded.cqueues
    if cq then cq.cancel(self._poller:fd()) end -- cqueues forgets it first
    self._poller:close()
    self._poller = nil
  end
  if self.http then self.http:close() self.http = nil end
  -- A task waiting in next() sees the close now, not at its deadline.
  wait.wake(self.reader_co)
end
Sub.__gc = Sub.close
Sub.__close = Sub.close

-- subscribe(cam, row, opts) -> sub | nil, err
function _M.subscribe(cam, row, opts, check)
  if opts ~= nil and type(opts) ~= "table" then error("subscribe: expects a table of options", 3) end
  opts = opts or {}
  local o = {}
  for k, v in pairs(DEFAULTS) do o[k] = opts[k] == nil and v or opts[k] end
  -- opts.params: the request's parameters as the document spells them
  -- (cam:subscribeMsg); otherwise they are made from the options.
  local params = opts.params
  if params == nil then
    params = { event_type = opts.event_types or opts.event_type or { "all" }, heartbeat = o.heartbeat }
    if type(params.event_type) == "string" then params.event_type = { params.event_type } end
  end
  local checked, err = check.params(row, params)
  if not checked then return nil, err end
  local self = setmetatable({
    cam = cam, row = row, params = checked ~= true and checked or params, opts = o,
    what = "subscribeMsg on " .. cam._where, queue = {}, handlers = {},
    state = "opening", watchdog_after = o.watchdog * (tonumber(params.heartbeat) or o.heartbeat),
    stats = { events = 0, heartbeats = 0, reconnects = 0, protocol_errors = 0, bad_parts = 0 },
  }, Sub)
  local ok, oerr = self:_open(core.now() + (opts.timeout or cam.timeout))
  if not ok then self:close() return nil, oerr end
  self.state = "open"
  return self
end

return _M
