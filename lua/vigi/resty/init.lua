-- vigi inside OpenResty (nginx with the lua module): its I/O goes through
-- cosockets, so a camera call, a subscription or a preview suspends only
-- the request (or timer) that makes it, never the worker.
--
-- This file decides whether the cosocket transport can be used, gives
-- wait.lua its waiter for nginx, and makes the transport object that
-- camera.lua uses (the same shape as transport.lua's libcurl one):
--
--   t:perform(req) -> result   one control call (resty/http.lua)
--   t:stream()     -> reader   a streamed answer, for subscriptions
--   t.kind = "resty"           stream/conn.lua then uses resty/tcp.lua
--
-- The C readers (multipart, demux) are the same as outside nginx; only
-- the bytes come from a cosocket instead of a file descriptor.
local errors = require "vigi.errors"

local _M = {}

-- Phases of ngx_lua where cosockets (and ngx.sleep) work.
local COSOCKET_PHASES = {
  rewrite = true, access = true, content = true, timer = true,
  ssl_cert = true, ssl_session_fetch = true, ssl_client_hello = true,
  preread = true,
}

-- ngx, when running inside nginx; nil elsewhere. Looked up at call time:
-- the module may be loaded outside nginx (by transport.lua's choice).
local function ngx_api()
  local ngx = rawget(_G, "ngx")
  if type(ngx) == "table" and type(ngx.socket) == "table" and ngx.socket.tcp then return ngx end
  return nil
end

-- true when the code runs in nginx, in a phase where cosockets work.
function _M.usable()
  local ngx = ngx_api()
  if not ngx or type(ngx.get_phase) ~= "function" then return false end
  return COSOCKET_PHASES[ngx.get_phase()] == true
end

-- The waiter wait.lua uses inside nginx: sleeping is ngx.sleep, which
-- suspends this request only. Waiting on file descriptors cannot be done
-- without blocking the worker, so it is refused: it would mean a libcurl
-- or plain-socket object is used inside nginx.
function _M.waiter(set, timeout)
  if (set.n or 0) > 0 then
    error("vigi: inside nginx this would block the worker on a file descriptor; the camera " ..
      "uses the libcurl transport (made outside a cosocket phase, e.g. in init_by_lua, or " ..
      "with transport = \"curl\"): make it where cosockets work, or pass transport = \"resty\"", 3)
  end
  if timeout < 0 then error("vigi.wait: nothing to wait for and no deadline", 3) end
  ngx_api().sleep(timeout)
  return true
end

-- wait.lua's host test: the waiter when this coroutine runs in a phase
-- where ngx.sleep works, else nil (init phases: plain polling).
function _M.host()
  if _M.usable() then return _M.waiter end
  return nil
end

-- TLS options a cosocket can honour: verify (with nginx's
-- lua_ssl_trusted_certificate), not a per-camera CA file nor a pin.
function _M.check_tls(tls)
  if tls.pin then
    return errors.fail("invalid", "tls.pin is not supported by the resty (nginx cosocket) " ..
      "transport: nginx cannot check a public key pin; use tls.verify = true with " ..
      "lua_ssl_trusted_certificate in nginx.conf, or the libcurl transport outside nginx")
  end
  if tls.cafile then
    return errors.fail("invalid", "tls.cafile is not supported by the resty (nginx cosocket) " ..
      "transport: put the file in nginx.conf (lua_ssl_trusted_certificate " .. tls.cafile ..
      "; lua_ssl_verify_depth 2) and give tls.verify = true")
  end
  return true
end

local Transport = {}
Transport.__index = Transport
Transport.__name = "vigi.transport.resty"
Transport.kind = "resty"

-- new{ host=, port=, tls = { verify = } } -> transport | nil, err
function _M.new(o)
  if not ngx_api() then
    return errors.fail("invalid", "transport = \"resty\" needs nginx with the lua module " ..
      "(ngx.socket.tcp); outside nginx leave `transport` unset")
  end
  local ok, err = _M.check_tls(o.tls or {})
  if not ok then return nil, err end
  local http = require "vigi.resty.http"
  return setmetatable({ peer = http.peer(o.host, o.port, o.tls or {}) }, Transport)
end

function Transport:perform(req)
  if self.closed then return { outcome = "network", error = "closed", status = 0, body = "", connects = 0 } end
  return require("vigi.resty.http").perform(self.peer, req)
end

function Transport:stream()
  return require("vigi.resty.http").stream(self.peer)
end

-- Connections are in nginx's pool (per worker) or owned by a request:
-- nothing is held here.
function Transport:close() self.closed = true end

return _M
