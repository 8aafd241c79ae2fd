-- A subscription's connection: one long HTTPS answer read on vigi's own
-- TLS client (csrc/tlsclient.c) instead of a libcurl transfer. A
-- subscription lasts for hours and needs only a byte stream; this
-- connection costs a fraction of a libcurl one (one TLS context shared by
-- all, OpenSSL's buffers released between records, no transfer buffers:
-- docs/design.md, "Many cameras: memory"). The answer is read by
-- http1.lua, as inside nginx.
--
-- The interface of transport.lua's streamed answers:
--   s:start(req)          req: url, body, connect_timeout, verify, cafile, pin
--   s:read(wake) -> done, chunk   the next bytes of the body, waiting at
--                         most until `wake` ("" when none came); the
--                         connect, the handshake and the request go on
--                         across reads, until connect_timeout
--   s:headers() -> status, content_type;  s:result();  s:abort();  s:close()
--   s:waitset(set) -> n, -1   the socket (a cqueues pollable's)
--   s:buffered()          bytes received and not yet handed out
local core = require "vigi.core"
local wait = require "vigi.wait"
local http1 = require "vigi.http1"

local _M = {}

-- The request's bytes until they are out: they carry the token (in the
-- path), which no field of a stream may hold (a dump of a subscription
-- shows its fields).
local outgoing = setmetatable({}, { __mode = "k" })

local Conn = setmetatable({}, { __index = http1.Reader })
Conn.__index = Conn

-- What the connection has, waiting at most until the deadline
-- (http1.lua's contract).
function Conn:fill(deadline)
  local tls = self.tls
  while true do
    local data, err, how = tls:recv()
    if data then
      self.got = self.got + #data
      return data
    end
    if err == "closed" then return nil, "closed" end
    if err ~= "again" then return nil, how or err end
    local left = deadline - core.now()
    if left <= 0 then return nil, "timeout" end
    tls:waitset(self.set, how)
    wait.wait(self.set, left)
  end
end

local Stream = {}
Stream.__index = Stream
Stream.__name = "vigi.tlsstream"

-- new(o): o.host and o.port of the camera, o.address() -> the IP literal to
-- connect to | nil, message (transport.lua's: the host, or the address its
-- control calls reached).
function _M.new(o)
  return setmetatable({ o = o, set = {}, tls = core.tls() }, Stream)
end

function Stream:start(req)
  self:abort()
  self.started, self.res, self.status, self.ctype = core.now(), nil, 0, nil
  self.settings = { verify = req.verify, cafile = req.cafile, pin = req.pin,
                    connect_timeout = req.connect_timeout or 5 }
  outgoing[self] = http1.request(self.o.authority, req)
  self.phase, self.conn, self.sent, self.want = "connect", nil, 1, 2
  return true
end

function Stream:_end(outcome, message, tls)
  self.tls:close()
  if self.conn then self.conn:release() end
  outgoing[self] = nil
  self.conn, self.phase = nil, "ended"
  self.res = { outcome = outcome, error = message, status = self.status or 0, body = "",
               connects = 1, tls = tls, content_type = self.ctype }
  return true, ""
end

-- Waits, until until_ at the latest, for what TLS asked (how: 1 read,
-- 2 write); false when until_ has passed.
function Stream:_await(tls, how, until_)
  if core.now() >= until_ then return false end
  self.want = how
  tls:waitset(self.set, how)
  wait.wait(self.set, until_ - core.now())
  return true
end

-- The connect, the handshake and the request, until `until_`: true when
-- the request is out, false when until_ came first, or nil, outcome,
-- message [, tls cause].
function Stream:_open(until_)
  local tls, req = self.tls, self.settings
  if self.phase == "connect" then
    local ip, why = self.o.address()
    if not ip then return nil, "network", why end
    local name = self.o.name
    local ok, kind, msg = tls:connect { ip = ip, port = self.o.port, name = name,
      verify = req.verify, cafile = req.cafile, pin = req.pin }
    if not ok then return nil, kind, msg end
    self.phase = "handshake"
  end
  while self.phase == "handshake" do
    local ok, err, how, cause = tls:handshake()
    if ok then
      self.phase = "send"
    elseif err ~= "again" then
      return nil, err, (cause and "TLS handshake: " or "") .. tostring(how), cause
    elseif not self:_await(tls, how, until_) then
      return false
    end
  end
  local bytes = outgoing[self] or ""
  while self.sent <= #bytes do
    local n, err, how = tls:send(bytes, self.sent)
    if n then
      self.sent = self.sent + n
    elseif err ~= "again" then
      return nil, "network", "sending the request: " .. tostring(how)
    elseif not self:_await(tls, how, until_) then
      return false
    end
  end
  self.phase, self.want, outgoing[self] = "answer", 1, nil
  self.conn = setmetatable({ tls = tls, set = self.set, got = 0 }, Conn)
  return true
end

-- read(wake) -> done, chunk: the next bytes of the body, waiting at most
-- until `wake` for them ("" when none came).
function Stream:read(wake)
  if self.res then return true, "" end
  if not self.conn then
    local cdeadline = self.started + self.settings.connect_timeout
    local until_ = math.min(cdeadline, wake)
    local ok, outcome, msg, cause = self:_open(until_)
    if ok == false then
      if until_ < cdeadline then return false, "" end
      return self:_end("timeout", "no connection within the connect timeout")
    end
    if not ok then return self:_end(outcome, msg, cause) end
  end
  return self.conn:step(self, wake)
end

function Stream:headers() return self.status or 0, self.ctype end

function Stream:result()
  return self.res or { outcome = "network", error = "not finished", status = 0, body = "" }
end

-- Whether received bytes wait (decrypted in TLS, or read and not yet
-- handed out): a poller must not wait for the socket then.
function Stream:buffered()
  local c = self.conn
  return self.tls:pending() or (c ~= nil and c:buffered())
end

-- The socket, for a pollable (events.lua): what the connection waits for.
function Stream:waitset(set)
  if self.phase == "ended" or not self.phase or self.tls:fd() < 0 then
    set.n = 0
    return 0, -1
  end
  return self.tls:waitset(set, self.want or 1)
end

function Stream:abort()
  self.tls:close()
  if self.conn then self.conn:release() end
  self.conn, outgoing[self] = nil, nil
  if self.settings and not self.res then
    self.res = { outcome = "network", error = "aborted", status = 0, body = "" }
  end
  self.phase = "ended"
end

Stream.close = Stream.abort

return _M
