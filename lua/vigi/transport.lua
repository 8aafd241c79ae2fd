-- A camera's HTTPS transport, and its failed outcomes as error values.
--
-- new() makes the transport object a camera holds:
--   t:perform(req) -> result   one request, to its end
--   t:stream()     -> reader   a streamed answer (subscriptions)
--   t:close(), t.kind          "curl" or "resty"
-- The default drives the C core's libcurl client (vigi.http) for calls,
-- and reads a subscription on vigi's own TLS connection (tlsstream.lua),
-- waiting only through wait.lua. Inside nginx, where cosockets work, resty/init.lua's takes
-- its place: same result tables, so the policy in camera.lua and
-- events.lua does not know which one runs.
local core = require "vigi.core"
local wait = require "vigi.wait"
local errors = require "vigi.errors"
local hostname = require "vigi.host"
local tlsstream = require "vigi.tlsstream"

local _M = {}

-- Every vigi.http shares one libcurl multi handle, and a step of one may
-- move another's transfer on (csrc/http.c): the task waiting on that one
-- is woken, to step it and wait on what it needs now.
local waiting = setmetatable({}, { __mode = "k" }) -- vigi.http -> its waiting coroutine

local function wake(list)
  for i = 1, #list do
    local co = waiting[list[i]]
    if co then wait.wake(co) end
  end
end

-- perform(h, req) -> result table (see csrc/lua_http.c): drives one
-- vigi.http request to its end.
function _M.perform(h, req)
  local ok, err = h:start(req)
  if not ok then return { outcome = "internal", error = err, status = 0, body = "" } end
  local set, co = {}, coroutine.running()
  -- Only a waker-less wait (no vigi.run) takes the shared timer always.
  local timer = not wait.wakeable()
  while true do
    local done, woken = h:step()
    if woken then wake(woken) end
    if done then break end
    local n, timeout = h:waitset(set, timer)
    if n == 0 and timeout < 0 then timeout = 0.01 end -- libcurl always has a timer; be safe
    waiting[h] = co
    wait.wait(set, timeout)
    waiting[h] = nil
  end
  return h:result()
end

local Curl = {}
Curl.__index = Curl
Curl.__name = "vigi.transport.curl"
Curl.kind = "curl"

-- One vigi.http per camera: its kept-alive connection and TLS session.
function Curl:perform(req) return _M.perform(self.h, req) end

-- A subscription's long answer, on a connection of its own: vigi's own
-- TLS client (tlsstream.lua), to the address the control calls reach.
function Curl:stream()
  local host, h = self.host, self.h
  local name = hostname.check(host) == "name"
  return tlsstream.new {
    port = self.port, name = name and host or nil,
    authority = (host:find(":", 1, true) and ("[" .. host .. "]") or host) .. ":" .. self.port,
    address = function()
      if not name then return host end
      local ip = h:primary_ip()
      if ip then return ip end
      return nil, "no control call has reached " .. host .. " yet: its address is not known"
    end,
  }
end

function Curl:close() self.h:close() end

-- new(choice, { host=, port=, tls= }) -> transport | nil, err
-- choice: "curl", "resty", or nil: resty inside nginx in a phase where
-- cosockets work (content, access, rewrite, timer, ...), else curl.
function _M.new(choice, o)
  if choice == nil then
    choice = rawget(_G, "ngx") and require("vigi.resty").usable() and "resty" or "curl"
  end
  if choice == "resty" then return require("vigi.resty").new(o) end
  return setmetatable({ h = core.http(), host = o.host, port = math.floor(o.port) }, Curl)
end

-- What a TLS refusal says, by cause (the result's `tls`): what happened
-- and what to do. Never retried by vigi: the same peer would refuse again,
-- and a key that changed may be another device at the camera's address.
local TLS_ADVICE = {
  pin = "the camera's public key does not match tls.pin: another device may be answering " ..
    "at this address, or the camera has a new key (after a reset or a firmware update). " ..
    "Check the camera, then pin its new key (README, TLS)",
  ca = "TLS verification failed (%s). Cameras ship self-signed certificates: %s",
  handshake = "the TLS handshake was refused (%s): is this the camera's HTTPS control port " ..
    "(20443)? A port that does not speak TLS, or a TLS version or cipher the camera does not " ..
    "share, ends here",
}

-- A failed outcome as an error value. `what` names the call ("getX on
-- host:port"); `timeout` is the call's own, for the message. A TLS
-- refusal is a `network` error with `tls` = "pin", "ca" or "handshake".
function _M.error_of(r, what, timeout)
  local o = r.outcome
  if o == "timeout" then
    return errors.new("timeout", string.format(
      "%s: no answer within %g s; is the camera reachable and the port right?", what, timeout))
  elseif o == "tls_trust" or o == "tls_handshake" then
    local cause = r.tls or (o == "tls_trust" and "ca" or "handshake")
    local msg = TLS_ADVICE[cause]:format(tostring(r.error),
      r.hint or "give tls.cafile or tls.pin, or tls.verify = false")
    return errors.new("network", what .. ": " .. msg, { tls = cause })
  elseif o == "no_resend" then
    return errors.new("network", what .. ": the connection was lost after the request " ..
      "was sent; it was not sent again because the camera may have applied it " ..
      "(read the setting back to know)", { maybe_applied = true })
  elseif o == "too_big" then
    return errors.new("protocol", what .. ": the answer is larger than the limit (" ..
      tostring(r.error) .. ")")
  elseif o == "protocol" then
    return errors.new("protocol", what .. ": the answer breaks HTTP (" .. tostring(r.error) .. ")")
  end
  return errors.new("network", what .. ": " .. tostring(r.error or o))
end

return _M
