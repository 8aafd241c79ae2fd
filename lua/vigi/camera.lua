-- A camera: the control connection, the stok lifecycle, call(), and one
-- function per row of methods.lua.
--
-- Token policy (WIRE-NOTES §2): log in at connect; log in again before the
-- token ages out (token_refresh, 25 minutes); on a token error (HTTP
-- 401/403, -40401, -10002) log in once and retry the call once; never loop.
-- Account policy (DESIGN principle 8): a refused login (wrong password,
-- locked account, a challenge vigi cannot answer, the stream port refusing
-- the digest) is kept on the camera, and from then on nothing is sent to
-- the camera (calls, token renewals, subscriptions, streams) until the
-- user logs in again with cam:login. See docs/protocol.md, "Keeping the
-- owner's account safe".
-- Resend policy (WIRE-NOTES §4): a request that may have reached the
-- camera is never sent twice, except read-only calls.
local core = require "vigi.core"
local json = require "vigi.json"
local errors = require "vigi.errors"
local methods = require "vigi.methods"
local check = require "vigi.check"
local auth = require "vigi.auth"
local transport = require "vigi.transport"
local wait = require "vigi.wait"
local events = require "vigi.events"
local streamconn = require "vigi.stream.conn"
local codes = require "vigi.codes"
local hostname = require "vigi.host"

local _M = {}

local Camera = {}
Camera.__index = Camera
Camera.__name = "vigi.camera"

-- Secrets live here, not in the camera table, so that printing or dumping
-- a camera never shows them: the password, its MD5 and the stok. Weak
-- keys: they go with the camera.
local secrets = setmetatable({}, { __mode = "k" })

-- The login form that worked, per "host:port", for the whole process: a
-- camera whose form is known is not probed again (WIRE-NOTES §4).
local known_forms = {}
local LOGIN_MODES = { auto = true, md5 = true, challenge = true }

local TOKEN_ERRORS = auth.TOKEN_ERRORS

local DEFAULTS = {
  port = 20443, username = "admin", timeout = 10, connect_timeout = 5,
  path_suffix = "", token_refresh = 25 * 60, max_answer = 4 * 1024 * 1024,
  idle_close = 30,
}

local function arg_error(msg) error("vigi.connect: " .. msg, 3) end

-- Numeric options: a wrong type is a mistake in the program (it raises); a
-- number out of range, NaN or infinite is refused as `invalid`, since it
-- may well come from a computation or a configuration file. `max` bounds
-- timeouts to what the transport can hold (30 days).
local MAX_SECONDS = 30 * 86400
local NUMBERS = {
  { name = "port", integer = true, min = 1, max = 65535 },
  { name = "stream_port", integer = true, min = 1, max = 65535 },
  { name = "timeout", min = 0, max = MAX_SECONDS, seconds = true },
  { name = "connect_timeout", min = 0, max = MAX_SECONDS, seconds = true },
  { name = "token_refresh", min = 0, max = math.huge, seconds = true },
  { name = "max_answer", integer = true, min = 1, max = 2 ^ 30 }, -- the C core takes at most 1 GiB
  { name = "idle_close", integer = true, min = 0, max = MAX_SECONDS },
}

local function bad_option(msg) return errors.fail("invalid", "vigi.connect: " .. msg) end

-- The credentials of connect and of cam:login, checked the same way.
local function check_credentials(o, fn)
  if o.password ~= nil and type(o.password) ~= "string" then
    error(fn .. ": `password` must be a string", 3)
  end
  if o.password_md5 ~= nil and (type(o.password_md5) ~= "string" or
      not o.password_md5:match("^%x+$") or #o.password_md5 ~= 32) then
    error(fn .. ": `password_md5` must be 32 hex digits", 3)
  end
end

local function credentials(o)
  return {
    password = o.password,
    md5 = o.password_md5 and o.password_md5:upper() or core.md5_hex(o.password, true),
  }
end

-- check_options(o) -> true | nil, err; raises on misuse.
local function check_options(o)
  if type(o) ~= "table" then arg_error("expects a table of options") end
  if type(o.host) ~= "string" or o.host == "" then arg_error("`host` (a string) is required") end
  if o.password == nil and o.password_md5 == nil then
    arg_error("give `password` (or `password_md5`)")
  end
  check_credentials(o, "vigi.connect")
  for _, n in ipairs(NUMBERS) do
    if o[n.name] ~= nil and type(o[n.name]) ~= "number" then
      arg_error("`" .. n.name .. "` must be a number")
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
  if o.login ~= nil and not LOGIN_MODES[o.login] then
    arg_error("`login` must be \"auto\", \"md5\" or \"challenge\"")
  end
  for _, n in ipairs(NUMBERS) do
    local v = o[n.name]
    if v ~= nil then
      local ok
      if n.integer then
        ok = v >= n.min and v <= n.max and v == math.floor(v)
      else -- seconds: finite (wait.deadline refuses NaN and infinities) and > 0
        ok = wait.deadline(v) ~= nil and v > n.min and v <= n.max
      end
      if not ok then
        local range = n.integer and ("an integer " .. n.min .. ".." .. string.format("%d", n.max))
          or n.max == math.huge and "a finite number of seconds > 0"
          or ("a number of seconds > 0 and at most " .. n.max)
        return bad_option("`" .. n.name .. "` = " .. tostring(v) .. " is not " .. range)
      end
    end
  end
  local kind, why = hostname.check(o.host)
  if not kind then
    local shown = o.host:sub(1, 60):gsub("[%c\\\"]", function(c) return string.format("\\%d", c:byte()) end)
    return bad_option("`host` = \"" .. shown .. (#o.host > 60 and "...\"" or "\"") .. " " .. why)
  end
  return true
end

local function stderr_log(line) io.stderr:write("vigi: ", line, "\n") end

-- connect(opts) -> camera | nil, err
function _M.connect(o)
  local valid, verr = check_options(o)
  if not valid then return nil, verr end
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
  self.login_mode = o.login or "auto"
  secrets[self] = credentials(o)
  self.stats = { calls = 0, logins = 0, token_renewals = 0, resent = 0 }
  if not o.lazy then
    local ok, err = self:_login(core.now() + self.timeout, { connect = true })
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
  if secrets[self] then secrets[self].stok = nil end
end
Camera.__gc = Camera.close
Camera.__close = Camera.close

function Camera:log(fmt, ...)
  if self._log then self._log(string.format(fmt, ...)) end
end

-- Whether a call of this access changes something on the camera: when its
-- answer is lost after it was sent, the camera may have applied it.
local CHANGES = { write = true, action = true }
local MAYBE_APPLIED = "; the request had been sent, so the camera may have applied it " ..
  "(read the setting back to know)"

-- One POST. `access` ("read", "write", "action", "probe", "auth") decides
-- whether libcurl may resend it. Returns the decoded answer, or nil, err;
-- a token error comes back as the answer with status 401/403. `timeout`
-- is the call's own, named in a timeout error (default: the time this
-- request had).
function Camera:_post(path, body, access, what, deadline, timeout)
  local t = self._transport
  if not t then return errors.fail("network", what .. ": the camera was closed") end
  local left = deadline - core.now()
  if left ~= left then
    -- NaN compares false with everything: it would wait forever.
    return errors.fail("invalid", what .. ": the timeout is not a number of seconds")
  end
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
    fresh_connect = fresh, idle_close = self.idle_close,
  }
  local t0 = core.now()
  local r = t:perform(req)
  local again = deadline - core.now()
  if r.outcome == "network" and resendable and again > 0 then
    -- A read-only call is harmless to send again once, on a new
    -- connection, in what is left of the call's time (never more).
    self.stats.resent = self.stats.resent + 1
    self:log("%s: %s; sending again (read-only)", what, tostring(r.error))
    req.fresh_connect = true
    req.timeout, req.connect_timeout = again, math.min(self.connect_timeout, again)
    r = t:perform(req)
  end
  if not req.fresh_connect and self.stats.calls > 0 then
    self._closes_after_answer = (r.connects or 0) > 0
  end
  self.stats.calls = self.stats.calls + 1
  self:log("%s: HTTP %d, %d bytes, %.1f ms%s", what, r.status or 0, #(r.body or ""),
    (core.now() - t0) * 1000, (r.connects or 0) > 0 and ", new connection" or "")
  if r.outcome ~= "ok" then
    local err = transport.error_of(r, what, timeout or tonumber(string.format("%.3g", left)))
    -- A setter whose answer was cut, timed out, too big or broken after
    -- it went out: the camera may have acted on it, and the caller must
    -- know.
    if CHANGES[access] and r.sent_body and not err.maybe_applied
        and (r.outcome == "network" or r.outcome == "timeout" or r.outcome == "too_big"
             or r.outcome == "protocol") then
      err.maybe_applied = true
      err.message = err.message .. MAYBE_APPLIED
    end
    return nil, err
  end
  if r.status == 401 or r.status == 403 then return { _token_error = true, status = r.status } end
  if r.status ~= 200 then
    return errors.fail("protocol", string.format("%s: the camera answered HTTP %d", what, r.status),
      { status = r.status })
  end
  local resp = json.decode(r.body)
  if type(resp) ~= "table" then
    local changes = CHANGES[access] or nil
    return errors.fail("protocol", what .. ": the answer is not a JSON object" ..
      (changes and MAYBE_APPLIED or ""), { maybe_applied = changes })
  end
  return resp
end

local code_of = auth.code_of

-- The token path of control calls, "/stok=<stok><suffix>", or nil
-- without a token. The stok stays in `secrets`; other modules ask here.
function Camera:_token_path()
  local stok = secrets[self] and secrets[self].stok
  return stok and ("/stok=" .. stok .. self.path_suffix) or nil
end

-- Forgets the token (the camera refused it), so that the next call logs
-- in. With `path`, only when the token is still the one of that path:
-- another task may have logged in meanwhile.
function Camera:_drop_token(path)
  local s = secrets[self]
  if s and (path == nil or path == self:_token_path()) then s.stok = nil end
end

-- The refused login that stops everything (principle 8), as a new error
-- value each time (callers may add to it), or nil. Every automatic path
-- asks here before it sends: _ensure_token (calls, token renewals,
-- subscriptions) and _stream_connection (streams).
function Camera:_auth_refusal()
  local e = self._refused
  if not e then return nil end
  local copy = {}
  for k, v in pairs(e) do copy[k] = v end
  return setmetatable(copy, getmetatable(e))
end

-- Keeps an `auth` error as the camera's refusal, and says in its message
-- what follows. At connect (`connect`), the camera is dropped instead.
function Camera:_refuse(err, connect)
  if connect then
    err.message = err.message .. "; vigi sends nothing more, since repeated failed " ..
      "logins lock the account: check the password, then connect again"
  else
    err.message = err.message .. "; nothing more is sent to this camera until " ..
      "cam:login{ password = ... } (or cam:login() to try the same one again), since " ..
      "repeated failed logins lock the account"
    self._refused = err
  end
  self:log("%s", err.message)
  return nil, err
end

-- Credentials in flight: a login (`_login_busy`, one at a time) and the
-- stream requests (`_streams_busy`, a set), each marked { co, deadline }.
-- _await_auth waits while another task's login (and with `streams`, a
-- stream request) is in flight, so that two tasks of a camera (vigi.run,
-- cqueues, OpenResty) never send the password at once: the second one
-- then finds the token, or the refusal. A mark counts until its own
-- deadline at most, so a task abandoned midway holds no one up beyond it.
function Camera:_await_auth(deadline, streams)
  local me = coroutine.running()
  while true do
    local now, till = core.now(), nil
    local b = self._login_busy
    if b and b.co ~= me and b.deadline > now then till = b.deadline end
    if streams and self._streams_busy then
      for m in pairs(self._streams_busy) do
        if m.deadline <= now then
          self._streams_busy[m] = nil
        elseif m.co ~= me then
          till = math.max(till or 0, m.deadline)
        end
      end
    end
    if not till or now >= math.min(deadline, till) then return end
    wait.sleep(math.min(0.02, math.min(deadline, till) - now))
  end
end

-- _login(deadline, how) -> true | nil, err: one login, the password sent
-- at most once. how.connect: the login of vigi.connect; how.md5: the hash
-- of an explicit cam:doAuth{...}, sent in the MD5 form without probe.
-- The form: the hash's, the one pinned by `login`, or the one that worked
-- before on this host:port; else the probe's answer picks it.
function Camera:_login(deadline, how)
  how = how or {}
  local where = "doAuth on " .. self._where
  local function post(body, access)
    local resp, err = self:_post("/", body, access, where, deadline)
    if resp and resp._token_error then
      return errors.fail("auth", where .. ": the camera answered HTTP " .. resp.status)
    end
    return resp, err
  end
  local s = secrets[self]
  s.stok = nil
  local pinned = self.login_mode ~= "auto" and self.login_mode or nil
  local form = how.md5 and "md5" or pinned or known_forms[self._where]
  local secret = how.md5 and { md5 = how.md5 } or s
  local mark = { co = coroutine.running(), deadline = deadline }
  self._login_busy = mark
  local stok, got = auth.login(post, secret, self.username, where, form, pinned ~= nil)
  if not stok and form and not pinned and not how.md5 and got.code == auth.UNSUPPORTED then
    -- The form remembered for this address is not this camera's (another
    -- camera, or new firmware): the camera said so without counting a
    -- failed login (-10030), so the probe decides, once.
    known_forms[self._where] = nil
    self:log("%s: the camera does not take the %s form any more; asking it", where, form)
    stok, got = auth.login(post, secret, self.username, where, nil, false)
  end
  if self._login_busy == mark then self._login_busy = nil end
  if not stok then
    if got.kind == "auth" then return self:_refuse(got, how.connect) end
    self:log("%s: %s", where, tostring(got))
    return nil, got
  end
  s.stok, self._stok_at, self.login_form = stok, core.now(), got
  known_forms[self._where] = got
  self.stats.logins = self.stats.logins + 1
  self:log("%s: logged in (%s form)", where, got)
  return true
end

-- cam:login{ password = | password_md5 =, timeout = } -> true | nil, err
-- A login the user asks for: with the credentials given (kept for later
-- logins and streams), or with those of connect when there are none. It
-- lifts a refusal (a failed or locked login) and sends the password once.
function Camera:login(o)
  if o ~= nil and type(o) ~= "table" then error("login: expects a table of options (or nothing)", 2) end
  o = o or {}
  check_credentials(o, "login")
  local deadline, derr = wait.deadline(o.timeout or self.timeout, "login: timeout")
  if not deadline then return nil, derr end
  self:_await_auth(deadline, true)
  if o.password ~= nil or o.password_md5 ~= nil then secrets[self] = credentials(o) end
  self._refused = nil
  return self:_login(deadline)
end

-- The camera's refusal as an `api` error. A known code is named as what
-- it is known as in the family (codes.lua), never as certain. `other`:
-- the first spelling's refusal, when the other spelling was tried too.
local function api_error(name, resp, code, other)
  local text = codes.text(code)
  local msg = name .. ": the camera refused the call" ..
    (text and ('; in this camera family the code is known as "' .. text .. '"') or "")
  local detail = resp.msg or resp.message or resp.err_msg
  if type(detail) == "string" and detail ~= "" then msg = msg .. " (" .. detail:sub(1, 200) .. ")" end
  if other then
    msg = msg .. string.format("; %s was refused too (code %s)", other.wire, tostring(other.code))
  end
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
  -- doAuth carries the password: it is a login, never a plain call.
  if name == "doAuth" then return self:doAuth(params, opts) end
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
  local deadline, derr = wait.deadline(timeout, name .. ": `timeout`")
  if not deadline then return nil, derr end
  local access = row and row.access or "action"
  -- A method the document spells two ways: the spelling this camera
  -- answered to, once known, else the one asked for.
  local known = row and row.alias and self._spelling[row.name]
  local wire = known or name
  local body_of = function(wire_name)
    if params == nil then return '{"method":' .. json.encode(wire_name) .. '}' end
    return '{"method":' .. json.encode(wire_name) .. ',"params":' ..
      json.encode_params(params, row and row.params) .. '}'
  end
  local renewed, refused = false, nil
  while true do
    local ok, lerr = self:_ensure_token(deadline)
    if not ok then return nil, lerr end
    local what = wire .. " on " .. self._where
    local path = self:_token_path()
    local resp, err = self:_post(path, body_of(wire), access, what, deadline, timeout)
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
      self:_drop_token(path)
    elseif code ~= nil and code ~= 0 then
      if row and row.alias and not known and not refused then
        -- The document spells the time-zone calls two ways (WIRE-NOTES §2),
        -- and firmware says "no such method" with codes of its own: any
        -- refusal of the first spelling gets one try of the other. A
        -- refused call was not applied, so a setter may go again.
        refused = { wire = wire, code = code, resp = resp }
        wire = (wire == row.name) and row.alias or row.name
      elseif refused and codes.no_method(code) and not codes.no_method(refused.code) then
        -- Both refused, the second as unknown: the first refusal is the
        -- one that says what is wrong.
        return api_error(refused.wire, refused.resp, refused.code,
          { wire = wire, code = code })
      else
        return api_error(wire, resp, code, refused)
      end
    else
      if row and row.alias then self._spelling[row.name] = wire end
      return result_of(resp, row)
    end
  end
end

-- One function per method of the document, generated from the table.
for _, row in ipairs(methods.list) do
  if row.name == "doAuth" then
    -- A fresh login the user asks for (it lifts a refusal), with the
    -- credentials given to connect, or with the document's parameters
    -- when given: the hash in upper case, as the document sends it. The
    -- stok itself stays private.
    Camera.doAuth = function(self, params, opts)
      local timeout = opts and opts.timeout
      if params == nil then return self:login { timeout = timeout } end
      local checked, err = check.params(row, params)
      if not checked then return nil, err end
      if checked == true then return self:login { timeout = timeout } end
      local deadline, derr = wait.deadline(timeout or self.timeout, "doAuth: timeout")
      if not deadline then return nil, derr end
      self:_await_auth(deadline, true)
      self._refused = nil
      return self:_login(deadline, { md5 = checked.password:upper() })
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
    -- The other spelling of the document (setTimeZone, getTimeZone) is a
    -- camera function too: it is tried first, then the row's.
    if row.alias then
      Camera[row.alias] = function(self, params, opts)
        return self:call(row.alias, params, opts)
      end
    end
  end
end

-- A token that is fresh enough, logging in when there is none or it aged
-- (once: a refused login is kept, and then nothing is sent).
function Camera:_ensure_token(deadline)
  for pass = 1, 2 do
    local refused = self:_auth_refusal()
    if refused then return nil, refused end
    local s = secrets[self]
    if s.stok and core.now() - self._stok_at < self.token_refresh then return true end
    if pass == 2 then
      if s.stok then self.stats.token_renewals = self.stats.token_renewals + 1 end
      return self:_login(deadline)
    end
    -- A login is needed: after the one another task may be making.
    self:_await_auth(deadline, true)
  end
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

-- listen(seconds) -> true | nil, err (the subscription ended: auth, TLS)
function Camera:listen(seconds)
  if not self._events then return true end
  return self._events:run(seconds)
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

-- A new MULTITRANS connection to the camera (stream/conn.lua), with the
-- camera's credentials: digest needs the plain password. Nothing is sent
-- after a refused login, and a digest the stream port refuses becomes the
-- camera's refusal. Each request of the connection carries the
-- credentials, so it waits for a login of another task to end, and a
-- login waits for it: two refusals never cross on the wire.
function Camera:_stream_connection(opts)
  if not self._transport then return errors.fail("network", "stream: the camera was closed") end
  self:_await_auth(core.now() + (opts.timeout or self.timeout))
  local refused = self:_auth_refusal()
  if refused then return nil, refused end
  local port, err = self:_stream_port(opts.timeout)
  if not port then return nil, err end
  local conn, cerr = streamconn.open {
    host = self.host, port = port, username = opts.username or self.username,
    password = function() return secrets[self] and secrets[self].password end,
    connect_timeout = self.connect_timeout,
    max_frame = opts.max_frame, transport = self._transport.kind,
    on_auth_refused = function(e) self:_refuse(e) end,
    deadline = opts.deadline, -- the stream call's own (stream/init.lua)
  }
  if not conn then return nil, cerr end
  local request = conn.request
  conn.request = function(c, what, body, sid, deadline)
    local bound = deadline or core.now() + self.timeout
    self:_await_auth(bound)
    local no = self:_auth_refusal()
    if no then return nil, no end
    local mark = { co = coroutine.running(), deadline = bound }
    self._streams_busy = self._streams_busy or {}
    self._streams_busy[mark] = true
    local answer, rerr = request(c, what, body, sid, deadline)
    self._streams_busy[mark] = nil
    return answer, rerr
  end
  return conn
end

-- The stream methods (stream/media.lua: preview, playback, record, download,
-- talk) are camera methods too.
for name, fn in pairs(require("vigi.stream.media").camera_methods) do Camera[name] = fn end

_M.Camera = Camera
return _M
