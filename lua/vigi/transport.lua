-- A camera's HTTPS transport, and its failed outcomes as error values.
--
-- new() makes the transport object a camera holds:
--   t:perform(req) -> result   one request, to its end
--   t:stream()     -> reader   a streamed answer (subscriptions)
--   t:close(), t.kind          "curl" or "resty"
-- The default drives the C core's libcurl client (vigi.http), waiting only
-- through wait.lua. Inside nginx, where cosockets work, resty.lua's takes
-- its place: same result tables, so the policy in camera.lua and
-- events.lua does not know which one runs.
local core = require "vigi.core"
local wait = require "vigi.wait"
local errors = require "vigi.errors"

local _M = {}

-- perform(h, req) -> result table (see csrc/lua_http.c): drives one
-- vigi.http request to its end.
function _M.perform(h, req)
  local ok, err = h:start(req)
  if not ok then return { outcome = "internal", error = err, status = 0, body = "" } end
  local set = {}
  while not h:step() do
    local n, timeout = h:waitset(set)
    if n == 0 and timeout < 0 then timeout = 0.01 end -- libcurl always has a timer; be safe
    wait.wait(set, timeout)
  end
  return h:result()
end

-- A streamed answer through vigi.http: start(req); read(wake) -> done,
-- chunk, waiting at most until `wake` when nothing came; headers(),
-- result(), abort(), close() as vigi.http's.
local CurlStream = {}
CurlStream.__index = CurlStream

function CurlStream:start(req) return self.h:start(req) end

function CurlStream:read(wake)
  local h = self.h
  local done = h:step()
  local chunk = h:take()
  -- Wait only when this step brought nothing: what came may be all the
  -- caller was waiting for.
  if chunk == "" and not done then
    local _, tmo = h:waitset(self.set)
    if tmo >= 0 then wake = math.min(wake, core.now() + tmo) end
    wait.wait(self.set, math.max(0, wake - core.now()))
  end
  return done, chunk
end

function CurlStream:headers() return self.h:headers() end
function CurlStream:result() return self.h:result() end
function CurlStream:abort() self.h:abort() end
function CurlStream:close() self.h:close() end

local Curl = {}
Curl.__index = Curl
Curl.__name = "vigi.transport.curl"
Curl.kind = "curl"

-- One vigi.http per camera: its kept-alive connection and TLS session.
function Curl:perform(req) return _M.perform(self.h, req) end
function Curl.stream() return setmetatable({ h = core.http(), set = {} }, CurlStream) end
function Curl:close() self.h:close() end

-- new(choice, { host=, port=, tls= }) -> transport | nil, err
-- choice: "curl", "resty", or nil: resty inside nginx in a phase where
-- cosockets work (content, access, rewrite, timer, ...), else curl.
function _M.new(choice, o)
  if choice == nil then
    choice = rawget(_G, "ngx") and require("vigi.resty").usable() and "resty" or "curl"
  end
  if choice == "resty" then return require("vigi.resty").new(o) end
  return setmetatable({ h = core.http() }, Curl)
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
