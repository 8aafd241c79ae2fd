-- A camera: the control connection, the stok lifecycle, call(), and one
-- function per row of methods.lua.
--
-- Token policy (WIRE-NOTES §2): log in at connect; log in again before the
-- token ages out (token_refresh, 25 minutes); on a token error (HTTP
-- 401/403, -40401, -10002) log in once and retry the call once; never loop.
-- Resend policy (WIRE-NOTES §4): a request that may have reached the
-- camera is never sent twice, except read-only calls.
local core = require "vigi.core"
local json = require "vigi.json"
local errors = require "vigi.errors"
local methods = require "vigi.methods"
local check = require "vigi.check"
local auth = require "vigi.auth"
local transport = require "vigi.transport"
local events = require "vigi.events"
local streamconn = require "vigi.streamconn"

local _M = {}

local Camera = {}
Camera.__index = Camera
Camera.__name = "vigi.camera"

-- Secrets live here, not in the camera table, so that printing or dumping
-- a camera never shows them. Weak keys: they go with the camera.
local secrets = setmetatable({}, { __mode = "k" })

local TOKEN_ERRORS = auth.TOKEN_ERRORS
-- Codes by which a camera says it has no such method.
local NO_SUCH_METHOD = { [-40210] = true, [-10030] = true }
local CODE_TEXT = {
  [-40106] = "invalid parameters",
  [-40210] = "no such method",
  [-40401] = "token invalid or expired",
  [-10002] = "token invalid or expired",
  [-10020] = "login failed",
  [-10022] = "account locked",
  [-10030] = "not supported",
}

local DEFAULTS = {
  port = 20443, username = "admin", timeout = 10, connect_timeout = 5,
  path_suffix = "", token_refresh = 25 * 60, max_answer = 4 * 1024 * 1024,
}

local function arg_error(msg) error("vigi.connect: " .. msg, 3) end

local function check_options(o)
  if type(o) ~= "table" then arg_error("expects a table of options") end
  if type(o.host) ~= "string" or o.host == "" then arg_error("`host` (a string) is required") end
  if o.password == nil and o.password_md5 == nil then
    arg_error("give `password` (or `password_md5`)")
  end
  if o.password ~= nil and type(o.password) ~= "string" then arg_error("`password` must be a string") end
  if o.password_md5 ~= nil and (type(o.password_md5) ~= "string" or not o.password_md5:match("^%x+$")
      or #o.password_md5 ~= 32) then
    arg_error("`password_md5` must be 32 hex digits")
  end
  for _, k in ipairs { "port", "timeout", "connect_timeout", "token_refresh", "stream_port" } do
    if o[k] ~= nil and (type(o[k]) ~= "number" or o[k] <= 0) then
      arg_error("`" .. k .. "` must be a positive number")
    end
  end
  if o.tls ~= nil and type(o.tls) ~= "table" then arg_error("`tls` must be a table") end
  local tls = o.tls or {}
  if tls.pin ~= nil and (type(tls.pin) ~= "string" or not tls.pin:match("^sha256//")) then
    arg_error("`tls.pin` must look like \"sha256//<base64>\"")
  end
  if tls.cafile ~= nil and type(tls.cafile) ~= "string" then arg_error("`tls.cafile` must be a path") end
  if o.transport ~= nil and o.transport ~= "curl" and o.transport ~= "resty" then
    arg_error("`transport` must be \"curl\" or \"resty\" (or unset: chosen by where it runs)")
  end
  if o.log ~= nil and o.log ~= true and o.log ~= false and type(o.log) ~= "function" then
    arg_error("`log` must be a function or a boolean")
  end
end

local function stderr_log(line) io.stderr:write("vigi: ", line, "\n") end

-- connect(opts) -> camera | nil, err
function _M.connect(o)
  check_options(o)
  local self = setmetatable({}, Camera)
  for k, v in pairs(DEFAULTS) do self[k] = o[k] == nil and v or o[k] end
  self.host = o.host
  local tls = o.tls or {}
  self.tls = { verify = tls.verify == true, cafile = tls.cafile, pin = tls.pin }
  self.lazy = o.lazy
  self.stream_port = o.stream_port
  self._log = (o.log == true and stderr_log) or (type(o.log) == "function" and o.log) or nil
  local host = o.host:find(":", 1, true) and ("[" .. o.host .. "]") or o.host
  self._base = "https://" .. host .. ":" .. math.floor(self.port)
  self._where = o.host .. ":" .. math.floor(self.port)
  -- libcurl, or nginx cosockets inside OpenResty (transport.new decides).
  local t, terr = transport.new(o.transport, { host = o.host, port = self.port, tls = self.tls })
  if not t then return nil, terr end
  self._transport = t
  self._spelling = {}  -- method name -> the spelling this camera answers to
  secrets[self] = {
    password = o.password,
    md5 = o.password_md5 and o.password_md5:upper() or core.md5_hex(o.password, true),
  }
  self.stats = { calls = 0, logins = 0, token_renewals = 0, resent = 0 }
  if not o.lazy then
    local ok, err = self:login()
    if not ok then self:close() return nil, err end
  end
  return self
end

function Camera:__tostring()
  return "vigi.camera{" .. self._where .. (self._transport and "" or ", closed") .. "}"
end

function Camera:close()
  if self._events then self._events:close() self._events = nil end
  if self._transport then self._transport:close() self._transport = nil end
  self._stok = nil
end
Camera.__gc = Camera.close
Camera.__close = Camera.close

function Camera:log(fmt, ...)
  if self._log then self._log(string.format(fmt, ...)) end
end

-- One POST. `access` ("read", "write", "action", "probe", "auth") decides
-- whether libcurl may resend it. Returns the decoded answer, or nil, err;
-- a token error comes back as the answer with status 401/403.
function Camera:_post(path, body, access, what, deadline)
  local t = self._transport
  if not t then return errors.fail("network", what .. ": the camera was closed") end
  local left = deadline - core.now()
  if left <= 0 then
    return errors.fail("timeout", what .. ": the deadline passed before the request could be sent")
  end
  local resendable = access == "read" or access == "probe"
  local closing = self._closes_after_answer
  local fresh
  if resendable then
    -- On a camera that hangs up after every answer, offering the old
    -- connection only costs a write into a dead socket and libcurl's retry;
    -- one call in 64 still offers it, to notice a camera that changed.
    self._reads = (self._reads or 0) + 1
    fresh = closing == true and self._reads % 64 ~= 0
  else
    -- A request that could not be resent is never offered a connection the
    -- camera may be closing at that moment: on a camera that hangs up after
    -- every answer (or one not yet known), it gets a fresh connection.
    fresh = closing ~= false
  end
  local req = {
    url = self._base .. path, body = body,
    timeout = left, connect_timeout = math.min(self.connect_timeout, left),
    verify = self.tls.verify, cafile = self.tls.cafile, pin = self.tls.pin,
    may_resend = resendable, max_body = self.max_answer,
    fresh_connect = fresh,
  }
  local t0 = core.now()
  local r = t:perform(req)
  if r.outcome == "network" and resendable then
    -- A read-only call is harmless to send again once, on a new connection.
    self.stats.resent = self.stats.resent + 1
    self:log("%s: %s; sending again (read-only)", what, tostring(r.error))
    req.fresh_connect = true
    r = t:perform(req)
  end
  if not req.fresh_connect and self.stats.calls > 0 then
    self._closes_after_answer = (r.connects or 0) > 0
  end
  self.stats.calls = self.stats.calls + 1
  self:log("%s: HTTP %d, %d bytes, %.1f ms%s", what, r.status or 0, #(r.body or ""),
    (core.now() - t0) * 1000, (r.connects or 0) > 0 and ", new connection" or "")
  if r.outcome ~= "ok" then return nil, transport.error_of(r, what, self.timeout) end
  if r.status == 401 or r.status == 403 then return { _token_error = true, status = r.status } end
  if r.status ~= 200 then
    return errors.fail("protocol", string.format("%s: the camera answered HTTP %d", what, r.status),
      { status = r.status })
  end
  local resp = json.decode(r.body)
  if type(resp) ~= "table" then
    return errors.fail("protocol", what .. ": the answer is not a JSON object")
  end
  return resp
end

local code_of = auth.code_of

-- login() -> true | nil, err. Also what a token error or an old token leads to.
-- md5: log in once with this password hash, in the MD5 form, without probe.
function Camera:login(deadline, md5)
  deadline = deadline or core.now() + self.timeout
  local where = "doAuth on " .. self._where
  local function post(body, access)
    if access == "auth" and self._closes_after_answer == nil then
      -- Learn whether the camera hangs up after every answer before the
      -- password goes out: a second probe on the kept-alive connection
      -- shows it (it needed a new connection or not). Probes are harmless.
      self:_post("/", auth.PROBE, "probe", where, deadline)
    end
    local resp, err = self:_post("/", body, access, where, deadline)
    if resp and resp._token_error then
      return errors.fail("auth", where .. ": the camera answered HTTP " .. resp.status)
    end
    return resp, err
  end
  self._stok = nil
  local secret = md5 and { md5 = md5 } or secrets[self]
  local stok, form = auth.login(post, secret, self.username, where, md5 ~= nil)
  if not stok then
    self:log("%s: %s", where, tostring(form))
    return nil, form
  end
  self._stok, self._stok_at, self.login_form = stok, core.now(), form
  self.stats.logins = self.stats.logins + 1
  self:log("%s: logged in (%s form)", where, form)
  return true
end

local function api_error(name, resp, code)
  local text = CODE_TEXT[code] or "error"
  local detail = resp.msg or resp.message or resp.err_msg
  local msg = string.format("%s: the camera refused the call: %s", name, text)
  if type(detail) == "string" and detail ~= "" then msg = msg .. " (" .. detail:sub(1, 200) .. ")" end
  return errors.fail("api", msg, { code = code, method = name })
end

-- The answer of a successful call: its `result`, or else everything but
-- the envelope; or where the row says (getMediaList answers
-- {"media":..,"error_code":0}).
local function result_of(resp, row)
  if row and row.result_key and resp[row.result_key] ~= nil then return resp[row.result_key] end
  if resp.result ~= nil then return resp.result end
  local t = {}
  for k, v in pairs(resp) do
    if k ~= "method" and k ~= "errCode" and k ~= "error_code" then t[k] = v end
  end
  return t
end

-- call(name, params [, opts]) -> result | nil, err
-- Known methods are checked against methods.lua before anything is sent;
-- other names are sent as given (for firmware extensions).
function Camera:call(name, params, opts)
  if type(name) ~= "string" then error("call: method name must be a string", 2) end
  if opts ~= nil and type(opts) ~= "table" then error("call: options must be a table", 2) end
  local row = methods.by_name[name]
  if row then
    local checked, err = check.params(row, params)
    if not checked then return nil, err end
    -- true: nothing to send, and then the body carries no "params" at all
    params = checked ~= true and checked or nil
  elseif params ~= nil and type(params) ~= "table" then
    error("call: params must be a table", 2)
  end
  local timeout = opts and opts.timeout or self.timeout
  local deadline = core.now() + timeout
  local access = row and row.access or "action"
  local wire = self._spelling[name] or name
  local body_of = function(wire_name)
    if params == nil then return '{"method":' .. json.encode(wire_name) .. '}' end
    return '{"method":' .. json.encode(wire_name) .. ',"params":' ..
      json.encode_params(params, row and row.params) .. '}'
  end
  local renewed, respelled = false, false
  while true do
    local ok, lerr = self:_ensure_token(deadline)
    if not ok then return nil, lerr end
    local what = wire .. " on " .. self._where
    local resp, err = self:_post("/stok=" .. self._stok .. self.path_suffix, body_of(wire),
      access, what, deadline)
    if not resp then return nil, err end
    local code = code_of(resp)
    if resp._token_error or TOKEN_ERRORS[code] then
      -- The camera refused the token, so it did not act on the call:
      -- log in again and send it once more.
      if renewed then
        return errors.fail("auth", what .. ": the camera refused a fresh token", { code = code })
      end
      renewed = true
      self.stats.token_renewals = self.stats.token_renewals + 1
      self._stok = nil
    elseif code ~= nil and code ~= 0 then
      if NO_SUCH_METHOD[code] and row and row.alias and not respelled then
        -- The document spells the time-zone calls two ways (WIRE-NOTES §2).
        respelled = true
        wire = (wire == row.name) and row.alias or row.name
      else
        return api_error(wire, resp, code)
      end
    else
      if wire ~= name then self._spelling[name] = wire end
      return result_of(resp, row)
    end
  end
end

-- One function per method of the document, generated from the table.
for _, row in ipairs(methods.list) do
  if row.name == "doAuth" then
    -- A fresh login, with the credentials given to connect, or with the
    -- document's parameters when given. The stok itself stays private.
    Camera.doAuth = function(self, params, opts)
      if params == nil then return self:login(opts and opts.timeout and core.now() + opts.timeout) end
      local checked, err = check.params(row, params)
      if not checked then return nil, err end
      if checked == true then return self:login() end
      return self:login(opts and opts.timeout and core.now() + opts.timeout, checked.password)
    end
  elseif row.access == "stream" then
    -- subscribeMsg: the push stream is read by cam:subscribe (events);
    -- called on its own it checks that the camera accepts the subscription.
    Camera[row.name] = function(self, params, opts)
      return self:_subscribe_once(params, opts)
    end
  else
    Camera[row.name] = function(self, params, opts)
      return self:call(row.name, params, opts)
    end
  end
end

-- A token that is fresh enough, logging in when there is none or it aged.
function Camera:_ensure_token(deadline)
  if self._stok and core.now() - self._stok_at < self.token_refresh then return true end
  if self._stok then self.stats.token_renewals = self.stats.token_renewals + 1 end
  return self:login(deadline)
end

-- subscribe{ event_types = { ... } or "all", heartbeat = 15, watchdog = 2.5,
--            backoff_min = 0.5, backoff_max = 30 } -> subscription | nil, err
function Camera:subscribe(opts)
  return events.subscribe(self, methods.by_name.subscribeMsg, opts, check)
end

-- Callbacks on a subscription to every event type, made at the first
-- cam:on; cam:listen(seconds) runs them.
function Camera:on(name, fn)
  if not self._events then
    local sub, err = self:subscribe { event_types = { "all" } }
    if not sub then return nil, err end
    self._events = sub
  end
  return self._events:on(name, fn)
end

function Camera:off(name, fn)
  if self._events then self._events:off(name, fn) end
end

function Camera:listen(seconds)
  if self._events then self._events:run(seconds) end
end

-- Sends subscribeMsg, reads the camera's first answer part, and hangs up:
-- a subscription of events.lua, closed as soon as it is open.
function Camera:_subscribe_once(params, opts)
  local sub, err = self:subscribe { params = params or {}, timeout = opts and opts.timeout }
  if not sub then return nil, err end
  local first = sub.first
  sub:close()
  return first
end

-- The stream port: the one given to connect, else getStreamPort's answer
-- (a string on real cameras, WIRE-NOTES §4), asked once.
function Camera:_stream_port(timeout)
  if self.stream_port then return math.floor(self.stream_port) end
  local r, err = self:getStreamPort(nil, { timeout = timeout })
  if not r then return nil, err end
  local port = tonumber(type(r) == "table" and (r.streamPort or (r.StreamPort or {}).streamPort) or r)
  if not port or port < 1 or port > 65535 or port % 1 ~= 0 then
    return errors.fail("protocol", "getStreamPort on " .. self._where .. ": no port in the answer")
  end
  self.stream_port = port
  return port
end

-- A new MULTITRANS connection to the camera (streamconn.lua), with the
-- credentials given to connect: digest needs the plain password.
function Camera:_stream_connection(opts)
  if not self._transport then return errors.fail("network", "stream: the camera was closed") end
  local port, err = self:_stream_port(opts.timeout)
  if not port then return nil, err end
  return streamconn.open {
    host = self.host, port = port, username = opts.username or self.username,
    password = secrets[self].password, connect_timeout = self.connect_timeout,
    max_frame = opts.max_frame, transport = self._transport.kind,
    deadline = opts.deadline, -- the stream call's own (stream.lua)
  }
end

-- Streams (stream.lua, recording.lua, talk.lua) are camera methods too.
for name, fn in pairs(require("vigi.media").camera_methods) do Camera[name] = fn end

_M.Camera = Camera
return _M
