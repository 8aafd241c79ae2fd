-- Drives one HTTPS request of the C core (vigi.http) to its end, waiting
-- only through wait.lua, and turns libcurl's outcome into error values.
local wait = require "vigi.wait"
local errors = require "vigi.errors"

local _M = {}

-- perform(h, req) -> result table (see csrc/lua_http.c)
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

-- A failed outcome as an error value. `what` names the call ("getX on
-- host:port"); `resendable` says whether the request was read-only.
function _M.error_of(r, what, timeout)
  local o = r.outcome
  if o == "timeout" then
    return errors.new("timeout", string.format(
      "%s: no answer within %g s; is the camera reachable and the port right?", what, timeout))
  elseif o == "tls_trust" then
    return errors.new("network", what .. ": TLS verification failed (" .. tostring(r.error) ..
      "). Cameras ship self-signed certificates: give tls.cafile or tls.pin, " ..
      "or tls.verify = false", { tls = true })
  elseif o == "no_resend" then
    return errors.new("network", what .. ": the connection was lost after the request " ..
      "was sent; it was not sent again because the camera may have applied it " ..
      "(read the setting back to know)", { maybe_applied = true })
  elseif o == "too_big" then
    return errors.new("protocol", what .. ": the answer is larger than the limit")
  end
  return errors.new("network", what .. ": " .. tostring(r.error or o))
end

return _M
