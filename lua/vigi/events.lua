-- Subscriptions: subscribeMsg's multipart push as an iterator and as
-- callbacks, kept alive by a watchdog (WIRE-NOTES §2).
--
--   local sub = assert(cam:subscribe{ event_types = { "MotionDetection" }, heartbeat = 15 })
--   for ev in sub:events() do print(ev.kind, ev.event_type, ev.time) end
--
-- Each subscription is one long POST on a connection of its own, so that
-- control calls go on meanwhile. Its body is fed to the C multipart reader
-- as it arrives, read through the camera's transport (transport.lua's
-- stream reader: libcurl, or a cosocket inside nginx). When no valid part
-- (event or heartbeat) came for `watchdog` times the heartbeat, or the
-- connection drops, or the stream breaks the protocol, the subscription
-- is made again, after a backoff that doubles up to a cap with jitter,
-- logging in again if the token aged out; then a `gap` item says from
-- when to when events may have been missed.
--
-- Recovery is a state the subscription is in, not a loop: each next()
-- advances it (a backoff pause, an open attempt that goes on across
-- calls) only as far as its own deadline allows. Two failures end the
-- subscription instead of being retried: a TLS refusal (the same peer
-- would refuse again, and a key that changed may be another device) and
-- an `auth` error (the password is not sent again by itself). Then an
-- item { kind = "error", error = err, final = true } comes, and after it
-- next() returns nil, err.
local core = require "vigi.core"
local json = require "vigi.json"
local errors = require "vigi.errors"
local auth = require "vigi.auth"
local wait = require "vigi.wait"
local transport = require "vigi.transport"
local methods = require "vigi.methods"
local queue = require "vigi.queue"

local _M = {}

-- The event types of the document (4.13.1); others are passed through.
_M.TYPES = methods.DETECTION_TYPES

local DEFAULTS = { heartbeat = 15, watchdog = 2.5, backoff_min = 0.5, backoff_max = 30,
                   max_part = 64 * 1024 }

-- "MotionDetection_people_enhance" -> "MotionDetection", "people"
function _M.split_type(name)
  local base, enhance = tostring(name):match("^(.-)_(%a+)_enhance$")
  if base and base ~= "" then return base, enhance end
  return name, nil
end

-- Failures a recovery never retries: a TLS refusal, and any `auth` error
-- (a failed or locked login, or one the camera remembers as such).
function _M.terminal(err)
  return type(err) == "table" and (err.kind == "auth" or (err.kind == "network" and err.tls ~= nil))
end
local terminal = _M.terminal

local Sub = {}
Sub.__index = Sub
Sub.__name = "vigi.subscription"

function Sub:__tostring()
  return string.format("vigi.subscription{%s, %s}", self.cam._where, self.state)
end

local function h_abort(self) if self.http then self.http:abort() end end

-- The first half of an open attempt: a token (a login, if one is due,
-- within `deadline`), then the subscription request, sent on the
-- connection of its own. Returns true, or nil, err.
function Sub:_start(deadline)
  local cam = self.cam
  local ok, err = cam:_ensure_token(deadline)
  if not ok then return nil, err end
  if not cam._transport then return errors.fail("network", self.what .. ": the camera was closed") end
  self.http = self.http or cam._transport:stream()
  local body = '{"method":"subscribeMsg","params":' ..
    json.encode_params(self.params, self.row.params) .. '}'
  local started, serr = self.http:start {
    url = cam._base .. cam:_token_path(), body = body,
    connect_timeout = math.min(cam.connect_timeout, math.max(0.001, self.attempt_until - core.now())),
    timeout = 0, verify = cam.tls.verify, cafile = cam.tls.cafile, pin = cam.tls.pin,
    max_body = self.opts.max_part * 4,
  }
  if not started then return errors.fail("network", self.what .. ": " .. tostring(serr)) end
  self.reader, self.plain, self.accepted, self.broken, self.ended_with = nil, nil, false, nil, nil
  self.last_part = core.now()
  self.started = true
  return true
end

local function api_failed(self, doc)
  local code = tonumber(doc.errCode or doc.error_code)
  return errors.new("api", self.what .. ": the camera refused the subscription" ..
    (code and (" (error " .. code .. ")") or ""), { code = code, method = "subscribeMsg" })
end

-- Why an attempt's transfer ended before the camera accepted: the
-- transport's failure (a TLS refusal among them), the stream's, or else
-- a camera that closed at once.
function Sub:_why_ended()
  local r = self.ended_with
  if r and r.outcome ~= "ok" then return transport.error_of(r, self.what, self.open_timeout) end
  if self.broken then
    return errors.new("protocol", self.what .. ": the answer is not a multipart stream (" .. self.broken .. ")")
  end
  if r and r.outcome == "ok" and not self.reader then -- a plain answer, _pump found no refusal in it
    local doc = json.decode(self.plain or r.body or "")
    if r.status == 401 or r.status == 403 or (type(doc) == "table" and auth.TOKEN_ERRORS[auth.code_of(doc)]) then
      return errors.new("network", self.what .. ": the camera refused the token; logging in again")
    end
    return errors.new("protocol", self.what .. ": the answer is neither a multipart stream nor JSON")
  end
  return errors.new("network", self.what .. ": the camera closed the subscription at once")
end

-- Advances the open attempt until the camera accepts the subscription,
-- the attempt fails, or `deadline` (the caller's) comes. An attempt lasts
-- across calls, until its own end (self.attempt_until). Returns true
-- (accepted), false (not yet: the caller's deadline came first), or
-- nil, err (this attempt failed).
function Sub:_advance(deadline)
  if not self.started then
    -- A login, when one is due, is one call: it has the caller's time
    -- (not more), and one cut short fails the attempt like any other.
    local ok, err = self:_start(math.min(deadline, self.attempt_until))
    if not ok then return nil, err end
  end
  local polled = false
  while not self.accepted do
    if wait.expired(self.attempt_until) then
      h_abort(self)
      return errors.fail("timeout", string.format("%s: no answer to the subscription within %g s",
        self.what, self.open_timeout))
    end
    if polled and wait.expired(deadline) then return false end
    polled = true
    local item, e = self:_pump(math.min(deadline, self.attempt_until))
    if e then return nil, e end
    if item == "ended" then return nil, self:_why_ended() end
  end
  return true
end

-- Turns one part's body into queued items. Only a part that makes sense
-- (the answer, a heartbeat, an event) feeds the watchdog.
function Sub:_part(body)
  local doc = json.decode(body)
  if type(doc) ~= "table" then
    self.stats.bad_parts = self.stats.bad_parts + 1
    return
  end
  if not self.accepted then
    if doc.result == "failed" or (tonumber(doc.errCode or doc.error_code) or 0) ~= 0 then
      return api_failed(self, doc)
    end
    self.last_part = core.now()
    self.accepted = true
    self.first = doc -- the camera's answer to the subscription itself
    return
  end
  if doc.Heartbeat ~= nil or doc.heartbeat ~= nil then
    self.last_part = core.now()
    self.stats.heartbeats = self.stats.heartbeats + 1
    return
  end
  if doc.event_type == nil then
    self.stats.bad_parts = self.stats.bad_parts + 1
    return
  end
  self.last_part = core.now()
  local base, enhance = _M.split_type(doc.event_type)
  self.stats.events = self.stats.events + 1
  self.queue:push({ kind = "event", event_type = base, enhance = enhance,
    name = doc.event_type, time = tonumber(doc.time), raw = doc })
end

-- One step of the connection: reads what arrived and feeds it on; when
-- nothing did, the reader waits until the deadline or the watchdog.
-- Returns "ended" when the transfer is over (its result kept in
-- self.ended_with), or nil, err on a failure that is not worth
-- reconnecting for (a refused subscription).
function Sub:_pump(deadline)
  local h = self.http
  local done, chunk = h:read(math.min(deadline, self.last_part + self.watchdog_after, core.now() + 3600))
  if self.closed then return "ended" end -- closed by another task meanwhile
  if chunk ~= "" then
    if not self.reader and not self.plain then
      local _, ct = h:headers()
      local boundary, unusable = nil, nil
      if ct then boundary, unusable = core.multipart_boundary(ct) end
      if unusable then
        -- multipart, with a boundary no reader can take: the stream breaks
        -- the protocol (made again, like any other break)
        self.stats.protocol_errors = self.stats.protocol_errors + 1
        self.broken = "protocol: " .. tostring(unusable)
        h:abort()
        return "ended"
      elseif boundary then
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
    self.ended_with = r
    if r.outcome == "ok" and (self.plain or not self.reader) then -- read whole: a plain answer
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

-- The next open attempt, after a pause that doubles at each failure up to
-- backoff_max; jitter (half to all of it) so that a fleet does not retry
-- in step.
function Sub:_backoff()
  self.retry_at = core.now() + self.delay * (0.5 + 0.5 * math.random())
  self.delay = math.min(self.delay * 2, self.opts.backoff_max)
  self.attempt_until, self.started = nil, false
end

-- The connection is lost: recovery begins (next() advances it).
function Sub:_lost(why)
  h_abort(self)
  self.state = "reconnecting"
  self.lost_why, self.lost_at = why, os.time()
  self.delay = self.opts.backoff_min
  self:_backoff()
end

-- Ends the subscription with a failure no recovery should retry.
function Sub:_fail(err)
  self.error = err
  self.state = "failed"
  self.queue:push({ kind = "error", error = err, final = true })
  if self.http then self.http:close() self.http = nil end
end

-- One step of recovery within `deadline`: the pause, or the open attempt.
function Sub:_recover(deadline)
  if not self.attempt_until then
    local now = core.now()
    if now < self.retry_at then
      wait.sleep(math.min(self.retry_at, deadline) - now)
      return
    end
    self.stats.reconnects = self.stats.reconnects + 1
    self.attempt_until, self.started = now + self.open_timeout, false
  end
  local ok, err = self:_advance(deadline)
  if ok == false or self.closed then return end
  if ok then
    self.state = "open"
    self.attempt_until = nil
    self.queue:push({ kind = "gap", from = self.lost_at, to = os.time(), reason = self.lost_why })
    return
  end
  h_abort(self)
  -- (a camera closed by its user will not come back either)
  if terminal(err) or not self.cam._transport then return self:_fail(err) end
  -- refused now though it worked before: report it as an item, go on trying
  if err.kind == "api" then self.queue:push({ kind = "error", error = err }) end
  self.last_error = err
  self:_backoff()
end

-- One step of an open subscription within `deadline`.
function Sub:_read(deadline)
  local ended, err = self:_pump(deadline)
  if err then
    self.queue:push({ kind = "error", error = err })
    ended = "ended"
  end
  local silent = core.now() - self.last_part > self.watchdog_after
  if (ended or silent) and not self.closed then
    self:_lost(silent and "silence" or (self.broken and ("protocol " .. self.broken)) or "dropped")
    self.broken = nil
  end
end

-- next([timeout]) -> item | nil (closed) | nil, "timeout" (the timeout
-- passed) | nil, err (the subscription ended with err, after its item).
-- Returns within the timeout (plus a small bound), whatever the camera
-- does, reconnecting included; next(0) still reads what has arrived, once.
function Sub:next(timeout)
  -- the task reading, so that close() from another task can wake it
  self.reader_co = coroutine.running()
  local deadline, derr = wait.deadline(timeout, "sub:next: timeout")
  if not deadline then return nil, derr end
  local polled = false
  while true do
    local item = self.queue:pop()
    if item then return item end
    if self.error then return nil, self.error end
    if self.closed then return nil end
    if polled and wait.expired(deadline) then return nil, "timeout" end
    polled = true -- next(0) still reads what has arrived, once
    if self.state == "open" then self:_read(deadline) else self:_recover(deadline) end
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

-- Runs the callbacks for `seconds` (or until closed). Returns true, or
-- nil, err when the subscription ended with err (its item dispatched).
function Sub:run(seconds)
  local stop, err = wait.deadline(seconds, "sub:run: seconds")
  if not stop then return nil, err end
  while not self.closed do
    local item = self:next(stop ~= math.huge and wait.left(stop) or nil)
    if not item then
      if self.error then return nil, self.error end
      break
    end
    self:_dispatch(item)
  end
  return true
end

-- A cqueues pollable, for code that polls a subscription itself:
-- `cqueues.poll(sub:pollable())`, then `sub:next(0)`. (A separate object,
-- because cqueues' `events` would collide with sub:events(), the
-- iterator.) The connection's socket changes under a subscription (it is
-- made again), so the descriptor shown is an epoll of its own, re-armed
-- with the connection's wait set at every poll; between attempts it
-- watches nothing, and the timeout says when the next attempt is due.
function Sub:_pollfd()
  if self.closed then return nil end
  self._poller = self._poller or assert(core.poller())
  self._polltmo = nil
  local h = self.http
  if h and h.waitset and (self.state == "open" or self.attempt_until) then
    self._pollset = self._pollset or {}
    local n, tmo = h:waitset(self._pollset)
    for i = 1, n do self._poller:watch(self._pollset[2 * i - 1], self._pollset[2 * i]) end
    self._polltmo = tmo
  end
  return self._poller:fd()
end

function Sub:_polltimeout()
  if self.queue:len() > 0 or self.closed or self.error then return 0 end
  -- bytes received that the socket will not show again
  if self.http and self.http.buffered and self.http:buffered() then return 0 end
  local now = core.now()
  local t
  if self.state == "open" then
    t = self.last_part + self.watchdog_after - now
  elseif self.attempt_until then
    t = math.min(self.attempt_until, self.last_part + self.watchdog_after) - now
  else
    t = self.retry_at - now
  end
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
  local deadline, derr = wait.deadline(opts.timeout or cam.timeout, "subscribe: timeout")
  if not deadline then return nil, derr end
  local self = setmetatable({
    cam = cam, row = row, params = checked ~= true and checked or params, opts = o,
    what = "subscribeMsg on " .. cam._where, queue = queue.new(), handlers = {},
    state = "opening", watchdog_after = o.watchdog * (tonumber(params.heartbeat) or o.heartbeat),
    stats = { events = 0, heartbeats = 0, reconnects = 0, protocol_errors = 0, bad_parts = 0 },
    -- each open attempt's time, the first one's and those of recoveries
    open_timeout = opts.timeout or cam.timeout, attempt_until = deadline, started = false,
    delay = o.backoff_min, retry_at = 0,
  }, Sub)
  local ok, oerr = self:_advance(deadline)
  if not ok then
    self:close()
    return nil, oerr or errors.new("timeout", string.format("%s: no answer to the subscription within %g s",
      self.what, self.open_timeout))
  end
  self.state, self.attempt_until = "open", nil
  return self
end

return _M
