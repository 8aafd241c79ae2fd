-- A minimal HTTP/1.1 client over nginx cosockets (ngx.socket.tcp), for a
-- camera's control calls and subscriptions inside nginx (resty/init.lua).
--
-- Only what a camera needs: a POST with Content-Length over TLS, and an
-- answer read by http1.lua (the C reader, csrc/httpresp.c): this file
-- holds only the socket calls. Every
-- socket operation waits through the cosocket with the time left to the
-- call's deadline, so the worker serves other requests meanwhile.
--
-- Connections are kept alive in nginx's connection pool (per worker),
-- not in the camera: a cosocket belongs to the request that made it, and
-- a camera object may serve many requests. The result tables have the
-- shape of csrc/lua_http.c's, so camera.lua and transport.error_of treat
-- both transports alike; the resend policy is the same too (see perform).
local core = require "vigi.core"
local http1 = require "vigi.http1"

local _M = {}

local KEEPALIVE_MS = 60 * 1000   -- idle time of a kept connection in the pool
local POOL_SIZE = 4              -- kept connections per camera and worker
local READ_SIZE = 65536

local function ngx_api() return rawget(_G, "ngx") end

-- Cosocket timeouts are milliseconds; 0 would mean nginx's default.
local function ms_until(deadline)
  local ms = math.floor((deadline - core.now()) * 1000)
  return ms < 1 and 1 or ms
end
_M.ms_until = ms_until

-- peer(host, port, tls) -> what every connection to one camera shares.
function _M.peer(host, port, tls)
  local verify = tls.verify == true
  local v6 = host:find(":", 1, true) ~= nil
  local address = v6 or host:match("^[%d%.]+$") ~= nil
  local bracketed = v6 and ("[" .. host .. "]") or host
  return {
    host = bracketed, port = math.floor(port), verify = verify,
    authority = bracketed .. ":" .. math.floor(port),
    -- SNI and the name the certificate is checked against: a host name;
    -- an address only when verifying (then nginx checks it).
    server_name = (verify or not address) and host or nil,
    -- Verified and unverified connections never share a pool entry.
    pool = string.format("vigi:%s:%d:%s", host, math.floor(port), verify and "verify" or "noverify"),
  }
end

-- The answer is read by http1.lua's reader, over the cosocket's fill.
local Conn = setmetatable({}, { __index = http1.Reader })
Conn.__index = Conn

-- connect(peer, deadline, fresh, pool) -> conn | nil, outcome, message [, tls].
-- fresh: a new connection even when the pool holds one (the pool has no
-- such switch, so kept ones are taken out and closed; they are few).
local function new_conn(sock, reused)
  return setmetatable({ sock = sock, got = 0, reused = reused }, Conn)
end

local function connect(peer, deadline, fresh, pool)
  local tcp = ngx_api().socket.tcp
  for _ = 0, POOL_SIZE do
    local sock = tcp()
    sock:settimeout(ms_until(deadline))
    local ok, err = sock:connect(peer.host, peer.port, { pool = pool or peer.pool, pool_size = POOL_SIZE })
    if not ok then
      return nil, err == "timeout" and "timeout" or "network", "cannot connect: " .. tostring(err)
    end
    local reused = (sock:getreusedtimes() or 0) > 0
    if not reused then
      -- The last session is offered for resumption, as libcurl does.
      -- pcall: lua-resty-core 0.1.25 raises (an assert in its socket.lua)
      -- instead of returning an error when a verifying handshake fails
      -- without having had to wait; that is a refusal like any other.
      local ok_call, session, herr = pcall(sock.sslhandshake, sock, peer.session, peer.server_name,
        peer.verify)
      if not ok_call then
        herr = (peer.verify and "certificate verify failed (" or "failed (") .. tostring(session) .. ")"
        session = nil
      end
      if not session then
        sock:close()
        herr = tostring(herr)
        -- A verification failure is "<code>: <reason>". nginx says only
        -- "handshake failed" for every other failure (with a code left
        -- over from an earlier verification in front, at times), a peer
        -- that refused ours and one that merely closed alike; its error
        -- log says which. So that one stays a network error (retried by
        -- a subscription), and only a verification is a TLS refusal.
        local trust = peer.verify and not herr:find("handshake failed", 1, true) and
          (herr:match("^%d+:") or herr:find("certificate", 1, true))
        if trust then return nil, "tls_trust", "TLS handshake: " .. herr, "ca" end
        return nil, herr == "timeout" and "timeout" or "network", "TLS handshake: " .. herr ..
          (herr:find("handshake failed", 1, true) and " (nginx's error log says why)" or "")
      end
      peer.session = session
      return new_conn(sock, false)
    end
    if not fresh then return new_conn(sock, true) end
    sock:close()
  end
  return nil, "network", "cannot get a new connection"
end

function Conn:send(data, deadline)
  self.sock:settimeout(ms_until(deadline))
  local n, err = self.sock:send(data)
  if not n then return nil, err end
  return true
end

-- What the socket has (at least one byte), for http1.lua's reader.
-- receiveany loses nothing on a timeout, so every read here can resume.
function Conn:fill(deadline)
  self.sock:settimeout(ms_until(deadline))
  local data, err = self.sock:receiveany(READ_SIZE)
  if not data then return nil, err end
  self.got = self.got + #data
  return data
end

-- Back to the pool when the answer was read to its end and the camera
-- keeps the connection; closed otherwise.
function Conn:finish()
  local keep = self:reusable()
  self:release()
  if keep and self.sock:setkeepalive(KEEPALIVE_MS) then return end
  self.sock:close()
end

function Conn:close()
  self:release()
  pcall(self.sock.close, self.sock)
end

-- What a failed verification should say inside nginx (transport.error_of).
local TRUST_HINT = "inside nginx, list the camera's certificate (or its CA) in " ..
  "lua_ssl_trusted_certificate, or give tls.verify = false"

local function failed(outcome, message, connects, tls)
  return { outcome = outcome, error = message, status = 0, body = "", connects = connects or 0,
           hint = outcome == "tls_trust" and TRUST_HINT or nil, tls = tls }
end

local function request_bytes(peer, req) return http1.request(peer.authority, req) end

-- One try. Returns the result, or nil, connects when a kept connection
-- turned out closed before any byte of an answer came back: the request
-- may or may not have reached the camera.
local function attempt(peer, req, deadline, fresh)
  local cdeadline = math.min(deadline, core.now() + (req.connect_timeout or 5))
  local conn, outcome, msg, tls = connect(peer, cdeadline, fresh)
  if not conn then return failed(outcome, msg, 0, tls) end
  local connects = conn.reused and 0 or 1
  local ok, err
  ok, err, msg = conn:send(request_bytes(peer, req), deadline)
  if ok then ok, err, msg = conn:read_head(deadline) end
  if not ok then
    conn:close()
    if err == "timeout" then return failed("timeout", "no answer in time", connects) end
    if conn.reused and conn.got == 0 and err ~= "protocol" then return nil, connects end
    return failed(err == "protocol" and "protocol" or "network",
      msg or ("the connection failed: " .. tostring(err)), connects)
  end
  local parts, size, max = {}, 0, req.max_body or 4 * 1024 * 1024
  while true do
    local piece, berr, bmsg = conn:body(deadline)
    if not piece then
      if berr == "done" then break end
      conn:close()
      if berr == "timeout" then return failed("timeout", "the answer did not end in time", connects) end
      return failed(berr == "protocol" and "protocol" or "network",
        bmsg or ("reading the answer: " .. tostring(berr)), connects)
    end
    size = size + #piece
    if size > max then
      conn:close()
      return failed("too_big", "the answer is larger than " .. max .. " bytes", connects)
    end
    parts[#parts + 1] = piece
    if core.now() >= deadline then -- pieces that keep coming do not extend the call
      conn:close()
      return failed("timeout", "the answer did not end in time", connects)
    end
  end
  conn:finish()
  return { outcome = "ok", status = conn.status, body = table.concat(parts), connects = connects,
           content_type = conn.headers["content-type"], sent_body = true }
end

-- perform(peer, req) -> result. req as for vigi.http's start: url, body,
-- timeout, connect_timeout, may_resend, fresh_connect, max_body.
-- A kept connection found closed before the answer: a read-only request
-- is sent once more on a new connection; any other is not (the camera
-- may have applied it), and the outcome says so.
function _M.perform(peer, req)
  local deadline = core.now() + (req.timeout or 10)
  local r, connects = attempt(peer, req, deadline, req.fresh_connect)
  if r then return r end
  if not req.may_resend then
    return failed("no_resend", "the kept connection was closed before the answer", connects)
  end
  local again, more = attempt(peer, req, deadline, true)
  if again then
    again.connects = again.connects + connects
    return again
  end
  return failed("network", "the camera closed a new connection before answering", connects + more)
end

-- A streamed answer (a subscription), read piece by piece on a connection
-- of its own, with the interface of transport.lua's libcurl reader:
-- start(req), read(wake) -> done, chunk, headers(), result(), abort(), close().
local Stream = {}
Stream.__index = Stream

function _M.stream(peer) return setmetatable({ peer = peer }, Stream) end

function Stream:start(req)
  self:abort()
  self.req, self.started, self.res, self.status, self.ctype = req, core.now(), nil, 0, nil
  return true
end

function Stream:_end(outcome, message, tls)
  if self.conn then self.conn:close() self.conn = nil end
  self.res = failed(outcome, message, 1, tls)
  self.res.status, self.res.content_type = self.status or 0, self.ctype
  return true, ""
end

-- read(wake) -> done, chunk: the next bytes of the body, waiting at most
-- until `wake` for them ("" when none came).
function Stream:read(wake)
  if self.res then return true, "" end
  local conn = self.conn
  if not conn then
    local req = self.req
    local cdeadline = self.started + (req.connect_timeout or 5)
    local outcome, msg, tls
    -- A pool name no connection is ever kept in: a subscription always
    -- gets a connection of its own, and it is closed at the end.
    -- The caller's wake bounds the connect too: cut by it, the connect is
    -- made again at the next read, until the connect deadline.
    local until_ = math.min(cdeadline, wake)
    conn, outcome, msg, tls = connect(self.peer, until_, true, self.peer.pool .. ":stream")
    if not conn then
      if outcome == "timeout" and until_ < cdeadline then return false, "" end
      return self:_end(outcome, msg, tls)
    end
    self.conn = conn
    local ok, err = conn:send(request_bytes(self.peer, req), math.max(cdeadline, core.now() + 1))
    if not ok then return self:_end(err == "timeout" and "timeout" or "network", "sending: " .. tostring(err)) end
  end
  return conn:step(self, wake)
end

function Stream:headers() return self.status or 0, self.ctype end
function Stream:result() return self.res or { outcome = "network", error = "not finished", status = 0, body = "" } end

function Stream:abort()
  if self.conn then self.conn:close() self.conn = nil end
  if self.req and not self.res then self.res = { outcome = "network", error = "aborted", status = 0, body = "" } end
end
Stream.close = Stream.abort

return _M
