-- One MULTITRANS connection (WIRE-NOTES §3): TCP to the stream port,
-- digest authentication, requests matched to their answers by CSeq, and
-- everything the camera sends read by the C demux into messages and whole
-- frames, which go to the session they belong to.
--
-- Several sessions may share a connection (a preview and a talk). Whoever
-- waits on the connection (a session's iterator, a request waiting for its
-- answer) reads for all of them: items for another session wait in that
-- session's queue, bounded in items and in bytes (stream/init.lua; beyond it
-- the oldest are dropped and counted).
--
-- The peer is untrusted (docs/design.md, "Deadlines and bounds"): every
-- read checks its deadline on the clock at every turn, not only when the
-- socket would block, so a camera that floods cannot hold a call past it;
-- and what feeds the stall watchdog (`last_item_at`) is valid progress (a
-- whole frame, an answer to a request, a notification that parses), never
-- a byte.
--
-- The socket is the C core's, waited on through wait.lua (Plain below),
-- or inside nginx a cosocket (resty/tcp.lua) whose bytes the demux is fed.
local core = require "vigi.core"
local json = require "vigi.json"
local errors = require "vigi.errors"
local wait = require "vigi.wait"

local _M = {}

local Conn = {}
Conn.__index = Conn
Conn.__name = "vigi.stream.conn"

local MAX_AUTH_ROUNDS = 3 -- first prompt, a stale nonce, and one more stale

function Conn:__tostring()
  return "vigi.stream.conn{" .. self.where .. (self.tcp and "" or ", closed") .. "}"
end

local function fail(self, kind, msg, fields)
  return errors.fail(kind, self.where .. ": " .. msg, fields)
end

-- The socket of a connection outside nginx: the C core's non-blocking
-- TCP socket, waited on through wait.lua. resty/tcp.lua has the same
-- interface over a cosocket: connect, send, recv (into the demux), close.
-- Plain alone also has pollfd and wait: a descriptor the demux may read
-- itself (Conn:_read's fast path), and the wait for it.
local Plain = {}
Plain.__index = Plain

-- Waits until the socket may be readable (or writable); nil once the
-- deadline has passed.
function Plain:wait(deadline, want_write)
  local left = deadline - core.now()
  if left <= 0 then return nil end
  self.tcp:waitset(self.set, want_write)
  wait.wait(self.set, left)
  return true
end

-- The address to connect to: an IPv4 dotted quad as it is, a host name
-- looked up, anything else refused. The lookup runs in a thread of its
-- own (resolve.h) and is waited for here, like a socket, until the
-- deadline: a slow resolver holds neither the call past its deadline nor
-- vigi.run's other tasks. A lookup given up at the deadline ends by itself.
-- -> ip | nil, kind, message
local function address_of(host, deadline)
  local a, b, c, d = host:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  if a and tonumber(a) < 256 and tonumber(b) < 256 and tonumber(c) < 256 and tonumber(d) < 256 then
    return host
  end
  if host:find(":", 1, true) then
    return nil, "network", "the stream port is reached over IPv4; " .. host .. " is an IPv6 address"
  end
  local lookup, why = core.resolve(host)
  if not lookup then return nil, "network", "cannot resolve " .. host .. ": " .. tostring(why) end
  local set = {}
  while true do
    local ip, err = lookup:result()
    if ip then lookup:close() return ip end
    if err ~= "again" then
      lookup:close()
      return nil, "network", "cannot resolve " .. host .. ": " .. tostring(err)
    end
    if wait.expired(deadline) then
      lookup:close()
      return nil, "timeout", "no address for " .. host .. " in time (the system's name resolver is slow)"
    end
    lookup:waitset(set)
    wait.wait(set, wait.left(deadline))
  end
end
_M.address_of = address_of

-- connect(host, port, deadline) -> sock | nil, kind, message
function Plain.connect(host, port, deadline)
  local ip, kind, aerr = address_of(host, deadline)
  if not ip then return nil, kind, aerr end
  if wait.expired(deadline) then return nil, "timeout", "no time left to connect" end
  local tcp, err = core.tcp_connect(ip, port)
  if not tcp then return nil, "network", "cannot connect: " .. tostring(err) end
  local self = setmetatable({ tcp = tcp, set = {} }, Plain)
  while true do
    local ok, cerr = tcp:connected()
    if ok then break end
    if cerr ~= "again" then
      self:close()
      return nil, "network", "cannot connect: " .. tostring(cerr) ..
        "; is the stream port right (getStreamPort)?"
    end
    if not self:wait(deadline, true) then
      self:close()
      return nil, "timeout", "no TCP connection within the connect timeout"
    end
  end
  self.fd = tcp:fd()
  return self
end

-- Writes all of data before the deadline: true | nil, kind, message,
-- bytes of data that went (a write cut by its deadline may end mid-frame).
function Plain:send(data, deadline)
  local i, n = 1, #data
  while i <= n do
    local sent, err = self.tcp:send(data, i)
    if sent then
      i = i + sent
    elseif err == "again" then
      if not self:wait(deadline, true) then
        return nil, "timeout", "the camera does not take data (send timed out)", i - 1
      end
    else
      return nil, "network", "send failed: " .. tostring(err), i - 1
    end
  end
  return true
end

-- Bytes written that the camera has not acknowledged (tcp.h).
function Plain:unacked()
  return self.tcp:unacked()
end

-- Reads what came into the demux, or waits for it once: the bytes read
-- (0 after a wait) | nil, "timeout" | nil, "closed" | nil, message.
function Plain:recv(demux, deadline)
  local n, err = demux:recv(self.fd)
  if n then return n end
  if err == "again" then
    if not self:wait(deadline) then return nil, "timeout" end
    return 0
  end
  return nil, err
end

-- The descriptor a poller may wait on (nil once closed).
function Plain:pollfd() return self.tcp and self.fd end

function Plain:close()
  if self.tcp then self.tcp:close() self.tcp = nil end
end

-- open{ host=, port=, username=, password=, connect_timeout=, deadline=,
--       max_frame=, transport=, on_auth_refused= } -> conn | nil, err
-- transport "resty": the socket is an nginx cosocket (resty/tcp.lua).
-- deadline: the caller's (the connect ends by it, or by connect_timeout
-- if sooner). password: a string, or a function that gives it when it is
-- needed. on_auth_refused(err): called when the camera refuses the
-- credentials, so that the camera keeps the refusal (nothing sends them
-- again, principle 8). Other fields are for others (the table stays open).
function _M.open(o)
  local port = tonumber(o.port)
  if type(o.host) ~= "string" or o.host == "" then
    return errors.fail("invalid", "stream: no camera address")
  end
  if not port or port % 1 ~= 0 or port < 1 or port > 65535 then
    -- getStreamPort's answer comes from the network
    return errors.fail("protocol", "stream: " .. o.host .. ": no usable stream port (" ..
      tostring(o.port):sub(1, 40) .. ")")
  end
  port = math.floor(port)
  local self = setmetatable({
    host = o.host, port = port, where = o.host .. ":" .. port .. " (stream)",
    username = o.username or "admin",
    cseq = 0, sessions = {}, pending = {}, nc = 0, last_item_at = core.now(),
    stats = { requests = 0, auth_rounds = 0, notifications = 0, stray_messages = 0 },
  }, Conn)
  -- The password stays in a closure, out of the object's fields.
  local password = o.password
  self._password = type(password) == "function" and password or function() return password end
  self.on_auth_refused = o.on_auth_refused
  local sockets = o.transport == "resty" and require("vigi.resty.tcp") or Plain
  local deadline = math.min(o.deadline or math.huge, core.now() + (o.connect_timeout or 5))
  local tcp, kind, msg = sockets.connect(o.host, port, deadline)
  if not tcp then return fail(self, kind, msg) end
  self.tcp = tcp
  self.demux = core.demux { max_frame = o.max_frame }
  return self
end

-- The socket's descriptor, for a poller; nil when closed, or where the
-- socket has none a poller can use (nginx's cosockets).
function Conn:pollfd()
  local t = self.tcp
  return t and t.pollfd and t:pollfd() or nil
end

-- Whether the socket is still there (a stop or talk audio can still go).
function Conn:is_open() return self.tcp ~= nil end

-- Bytes read that no item has come out of yet (a poller would not see
-- them: the socket has been read).
function Conn:buffered()
  return self.demux and self.demux:buffered() or 0
end

function Conn:close()
  if self.tcp then
    -- A cqueues loop that polled a session of this connection forgets
    -- its descriptor before it closes (cqueues fails on closed ones).
    local cq, fd = package.loaded.cqueues, self:pollfd()
    if cq and fd then cq.cancel(fd) end
    self.tcp:close()
    self.tcp = nil
  end
  if self.demux then
    -- what the reader counted stays readable after the close
    self.demux_stats, self.peak = self.demux:stats(), self.demux:peak()
    self.demux:close()
    self.demux = nil
  end
  self.closed = true
end
Conn.__gc = Conn.close
Conn.__close = Conn.close

-- Writes all of data before the deadline. A failed write's error has
-- `sent`, the bytes of data that went, where the socket can tell.
function Conn:send(data, deadline)
  if not self.tcp then return fail(self, "network", "the connection is closed", { sent = 0 }) end
  local ok, kind, msg, sent = self.tcp:send(data, deadline)
  if not ok then return fail(self, kind, msg, { sent = sent }) end
  return true
end

-- Bytes sent that the camera has not acknowledged yet; nil where the
-- socket cannot tell (nginx's cosockets).
function Conn:unacked()
  local t = self.tcp
  return t and t.unacked and (t:unacked()) or nil
end

-- Valid progress, for the stall watchdog.
function Conn:_progress() self.last_item_at = core.now() end

-- Reads the next item: a message or a frame. nil, err when the camera
-- closed, the stream broke the protocol, or nothing came before deadline.
-- Items already read come first; then the socket is read once even past
-- the deadline (a poller said it is readable: `s:next(0)`), and after that
-- the clock is checked before every read, whatever the peer sends.
function Conn:_read(deadline)
  local reads = 0
  local fd = self:pollfd() -- a socket of the C core's (not a cosocket)
  -- Right after an item, a read that found the socket empty is not made
  -- again (the demux's hint); after a wait, or a timeout, it is.
  local hint = self.hint
  self.hint = false
  while true do
    local demux = self.demux
    if not demux then return fail(self, "network", "the connection is closed") end
    -- The hot path of a stream: the demux reads its socket itself when
    -- nothing whole is buffered, one call for what was two or three.
    local item, kind, msg = demux:next(fd, hint)
    hint = false
    if item then
      if item.kind ~= "message" then self.last_item_at = core.now() end -- a whole frame: progress
      self.hint = true
      return item
    end
    if kind == "protocol" then return fail(self, "protocol", tostring(msg)) end
    if fd then
      if kind == 0 then -- nothing more: wait for the socket
        if not self.tcp:wait(deadline) then
          return fail(self, "timeout", "no data from the camera in time")
        end
      elseif kind == "closed" then
        -- partial: the camera hung up in the middle of an item
        return fail(self, "network", "the camera closed the connection",
          { closed = true, partial = demux:buffered() > 0 })
      elseif type(kind) ~= "number" then
        return fail(self, "network", "receive failed: " .. tostring(kind))
      elseif wait.expired(deadline) then -- bytes came, no item yet: the clock
        return fail(self, "timeout", "nothing usable from the camera in time")
      end
    else
      local err = self:_recv(deadline, reads)
      if err then return nil, err end
      reads = reads + 1
    end
  end
end

-- A socket that is fed (a cosocket, resty/tcp.lua): one read into the
-- demux. Returns nil, or the error that ends the read.
function Conn:_recv(deadline, reads)
  if reads > 0 and wait.expired(deadline) then
    return select(2, fail(self, "timeout", "nothing usable from the camera in time"))
  end
  local ok, err = self.tcp:recv(self.demux, deadline)
  if ok then return nil end
  if err == "timeout" then
    return select(2, fail(self, "timeout", "no data from the camera in time"))
  elseif err == "closed" then
    -- partial: the camera hung up in the middle of an item
    return select(2, fail(self, "network", "the camera closed the connection",
      { closed = true, partial = self.demux and self.demux:buffered() > 0 }))
  end
  return select(2, fail(self, "network", "receive failed: " .. tostring(err)))
end

-- The parameters of an answer or a notification: enveloped
-- {"type":..,"seq":..,"params":{..}} or bare {..} (WIRE-NOTES §3).
local function unwrap(doc)
  if type(doc) ~= "table" then return nil end
  if type(doc.params) == "table" and (doc.type ~= nil or doc.seq ~= nil) then
    return doc.params, doc.type
  end
  return doc, doc.type
end

-- A camera-sent request: a notification for a session (its Session header
-- or session_id), or for every session when it names none.
function Conn:_notification(item)
  local doc = json.decode(item.body or "")
  local params, typ = unwrap(doc)
  if not params then
    self.stats.stray_messages = self.stats.stray_messages + 1
    return
  end
  self.stats.notifications = self.stats.notifications + 1
  self:_progress()
  -- raw: the body as sent (bounded by the reader's max_body)
  local note = { kind = "notification", event_type = params.event_type, params = params,
                 type = typ, raw = item.body }
  local sid = item.headers.session or params.session_id
  sid = sid and tostring(sid):match("^[^;%s]+")
  for id, s in pairs(self.sessions) do
    if sid == nil or id == sid then s:_notify(note) end
  end
end

-- Puts an item where it belongs. Returns the item when it is the answer
-- to CSeq `want`.
function Conn:_route(item, want)
  if item.kind == "message" then
    if item.response then
      local cseq = tonumber(item.headers.cseq)
      if cseq and cseq == want then self:_progress() return item end
      -- Another task's request on this connection: keep its answer for it.
      if cseq and self.pending[cseq] then self:_progress() self.pending[cseq] = item return end
      self.stats.stray_messages = self.stats.stray_messages + 1
    else
      self:_notification(item)
    end
    return
  end
  local s = self.sessions[item.session]
  if s then s:_push(item) end
end

-- Reads one item for a session's iterator: a frame of session `sid`
-- comes back to the caller; anything else is routed, and then true.
function Conn:pump(deadline, sid)
  local item, err = self:_read(deadline)
  if not item then return nil, err end
  if sid ~= nil and item.session == sid and item.kind ~= "message" then return item end
  self:_route(item)
  return true
end

-- The Authorization header value for the next request, or nil before the
-- camera asked for one.
function Conn:_authorization(uri)
  local c = self.challenge
  if not c then return nil end
  self.nc = self.nc + 1
  -- Strict out: name the algorithm only when the camera did (MD5 is the
  -- default either way, RFC 7616 §3.3).
  return core.digest_authorization {
    username = self.username, password = self._password(), realm = c.realm, nonce = c.nonce,
    uri = uri, method = "MULTITRANS", algorithm = c.has_algorithm and c.algorithm or nil, qop = c.qop,
    nc = c.qop and self.nc or nil, opaque = c.opaque,
  }
end

-- request(what, body_params_json, session_id, deadline) -> answer params | nil, err
-- (`what` names the request in messages: "preview", "stop", ...)
-- `body` is the encoded request params ({"method":..,...}).
function Conn:request(what, body, sid, deadline)
  local uri = "rtsp://" .. self.host .. "/multitrans"
  local rounds = 0
  while true do
    self.cseq = self.cseq + 1
    local cseq = self.cseq
    local payload = '{"type":"request","seq":"' .. cseq .. '","params":' .. body .. '}'
    local head = { "MULTITRANS " .. uri .. " RTSP/1.0", "CSeq: " .. cseq,
                   "Content-Type: application/json", "Content-Length: " .. #payload }
    local authz = self:_authorization(uri)
    if authz then head[#head + 1] = "Authorization: " .. authz end
    if sid then head[#head + 1] = "Session: " .. sid end
    head[#head + 1] = "\r\n"
    self.stats.requests = self.stats.requests + 1
    local ok, serr = self:send(table.concat(head, "\r\n") .. payload, deadline)
    if not ok then return nil, serr end
    local answer
    self.pending[cseq] = true
    local turns = 0
    while not answer do
      -- Another task reading this connection may have taken it already.
      if self.pending[cseq] ~= true then answer = self.pending[cseq] break end
      -- The clock at every turn: a flood of items is no answer.
      turns = turns + 1
      if turns > 1 and wait.expired(deadline) then
        self.pending[cseq] = nil
        return fail(self, "timeout", "no answer to " .. what .. " in time")
      end
      local item, err = self:_read(deadline)
      if not item then
        self.pending[cseq] = nil
        if err.kind == "timeout" then
          err.message = self.where .. ": no answer to " .. what .. " in time"
        end
        return nil, err
      end
      answer = self:_route(item, cseq)
    end
    self.pending[cseq] = nil
    if answer.status == 401 then
      rounds = rounds + 1
      self.stats.auth_rounds = self.stats.auth_rounds + 1
      local header = answer.headers["www-authenticate"] or ""
      local c, cerr = core.digest_challenge(header)
      if not c then
        return fail(self, "protocol", what .. ": unreadable digest challenge (" .. tostring(cerr) .. ")")
      end
      -- A fresh prompt after credentials went out is a refusal, unless the
      -- camera says the nonce only went stale (RFC 7616 §3.3).
      if (authz and not c.stale) or rounds >= MAX_AUTH_ROUNDS then
        local _, e = fail(self, "auth", what .. ": the camera refused the user name or password " ..
          "(digest); check `username` and `password` given to vigi.connect")
        if self.on_auth_refused then self.on_auth_refused(e) end
        return nil, e
      end
      if not self._password() then
        return fail(self, "auth", what .. ": the stream port needs the plain `password` " ..
          "(vigi.connect was given only password_md5)")
      end
      self.challenge, self.nc = c, 0
    elseif answer.status ~= 200 then
      return fail(self, "protocol", string.format("%s: the camera answered RTSP %d %s",
        what, answer.status, answer.reason or ""), { status = answer.status })
    else
      local doc = json.decode(answer.body or "")
      local params = unwrap(doc)
      if type(params) ~= "table" then
        return fail(self, "protocol", what .. ": the answer is not a JSON object")
      end
      local code = tonumber(params.error_code)
      if code and code ~= 0 then
        return fail(self, "api", what .. ": the camera refused the request", { code = code, method = what })
      end
      return params
    end
  end
end

-- Channels reserved by the sessions on this connection.
function Conn:reserved(channel)
  for _, s in pairs(self.sessions) do
    for _, ch in ipairs(s.channels or {}) do if ch == channel then return true end end
  end
  return false
end

function Conn:attach(s) self.sessions[s.id] = s end
function Conn:detach(s)
  self.sessions[s.id] = nil
  for _, ch in ipairs(s.channels or {}) do if self.demux then self.demux:untrack(ch) end end
end
function Conn:empty() return next(self.sessions) == nil end

-- The sessions on this connection but `except`, as a list (a list, so
-- that the caller may end them while it goes through it).
function Conn:others(except)
  local list = {}
  for _, s in pairs(self.sessions) do
    if s ~= except then list[#list + 1] = s end
  end
  return list
end

-- The connection's reader (core.demux), for a session's tracks; nil once
-- the connection is closed.
function Conn:reader() return self.demux end

-- One RTP packet first read as data, given to its channel's track now
-- that it is one (a download found RTP): the frames it completes (0-2).
function Conn:push(channel, packet)
  if not self.demux then return nil end
  return self.demux:push(channel, packet)
end

return _M
