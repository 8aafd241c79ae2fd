-- HTTP/1.1 answers read from a byte stream: the status line and headers
-- (interim 1xx answers skipped), then a body framed by Content-Length,
-- chunked encoding or the end of the connection; and the bytes of a POST.
-- Shared by the nginx transport (resty/http.lua, over cosockets) and by
-- subscriptions on vigi's own TLS connection (tlsstream.lua).
--
-- A reader is a table with `buf` (bytes received, not yet taken),
-- `pieces` (bytes received after those, a list with its `bytes` count,
-- joined to buf only when a reader needs them: a peer sending a few bytes
-- a read must not make each read copy the buffer), `got` (bytes received
-- in all) and a method fill(deadline) -> true | nil, err that appends what
-- the connection has to pieces, waiting at most until the deadline (err
-- "timeout", "closed" at the end of the stream, or another failure).
-- Every limit is in bytes (docs/limits.md), and every loop looks at the
-- clock after each fill: a peer that keeps sending meets the deadline.
local core = require "vigi.core"

local _M = {}

local MAX_HEAD = 64 * 1024       -- status line and headers of an answer, interim
                                 -- (1xx) answers included; its trailers apart
local MAX_INTERIM = 16           -- interim (1xx) answers before the final one
local MAX_CHUNK_LINE = 4096      -- a chunk-size line with its extensions

local Reader = {}
Reader.__index = Reader
_M.Reader = Reader

-- The buffer with every piece read so far, as one string.
function Reader:joined()
  local p = self.pieces
  if #p > 0 then
    self.buf = self.buf .. table.concat(p)
    self.pieces = { bytes = 0 }
  end
  return self.buf
end

-- Whether the pieces not yet joined hold the end of a head: the last
-- bytes of the buffer before them count, for a "\r\n\r\n" across a join.
function Reader:_head_ends()
  local p = self.pieces
  local last = p[#p]
  if not last then return false end
  local before = #p > 1 and p[#p - 1] or self.buf
  return (before:sub(-3) .. last):find("\r\n\r\n", 1, true) ~= nil
end

local function framing(self)
  local h = self.headers
  local te, cl = h["transfer-encoding"], h["content-length"]
  local conn_tokens = (h.connection or ""):lower()
  self.keep = not conn_tokens:find("close", 1, true) and
    (self.version ~= "1.0" or conn_tokens:find("keep-alive", 1, true) ~= nil)
  if self.status == 204 or self.status == 304 then
    self.mode, self.left = "length", 0
  elseif te and te:lower():find("chunked", 1, true) then
    self.mode, self.chunk = "chunked", "size"
  elseif cl then
    local n = tonumber(cl:match("^%s*(%d+)"))
    if not n then return nil, "protocol", "bad Content-Length: " .. cl:sub(1, 40) end
    self.mode, self.left = "length", n
  else
    self.mode, self.keep = "close", false
  end
  return true
end

-- read_head(deadline) -> true (self.status, self.headers) | nil, err [, message]
-- Interim 1xx answers are skipped, up to MAX_INTERIM of them and MAX_HEAD
-- bytes in all: a peer that keeps sending them gets a protocol error, and
-- one that keeps sending anything meets the deadline, checked on the
-- clock after every read (at least one read per call, so that a deadline
-- already due still takes what has arrived). Resumable after a timeout.
function Reader:read_head(deadline)
  local filled = false
  while true do
    local e = self:joined():find("\r\n\r\n", 1, true)
    if e then
      local head = self.buf:sub(1, e + 1)
      self.buf = self.buf:sub(e + 4)
      self.head_bytes = (self.head_bytes or 0) + e + 3
      local version, status = head:match("^HTTP/1%.(%d) (%d%d%d)")
      if not status then return nil, "protocol", "the answer is not HTTP/1.x" end
      status = tonumber(status)
      if status >= 200 then
        local headers = {}
        for name, value in head:gmatch("\r\n([^:\r\n]+):[ \t]*([^\r\n]*)") do
          name = name:lower()
          headers[name] = headers[name] and (headers[name] .. ", " .. value) or value
        end
        self.status, self.headers, self.version = status, headers, "1." .. version
        return framing(self)
      end
      self.interim = (self.interim or 0) + 1
      if self.interim > MAX_INTERIM or self.head_bytes > MAX_HEAD then
        return nil, "protocol", "more than " .. MAX_INTERIM .. " interim (1xx) answers, or 64 KiB of them"
      end
    elseif #self.buf + (self.head_bytes or 0) > MAX_HEAD then
      return nil, "protocol", "the answer's head is larger than 64 KiB"
    else
      -- read until a head may have ended or the bound is reached; join
      -- (and search the whole buffer) only then
      repeat
        if filled and core.now() >= deadline then return nil, "timeout" end
        local ok, err = self:fill(deadline)
        if not ok then return nil, err end
        filled = true
      until self:_head_ends() or #self.buf + self.pieces.bytes + (self.head_bytes or 0) > MAX_HEAD
    end
  end
end

-- The next bytes of the body from the buffer: piece | nil, "done" |
-- nil (more needed) | nil, "protocol", message.
function Reader:_take()
  local buf = self:joined()
  if self.mode == "length" then
    if self.left == 0 then return nil, "done" end
    if buf == "" then return nil end
    local piece = #buf <= self.left and buf or buf:sub(1, self.left)
    self.buf, self.left = buf:sub(#piece + 1), self.left - #piece
    return piece
  elseif self.mode == "close" then
    if buf == "" then return nil end
    self.buf = ""
    return buf
  end
  while true do -- chunked: size line, data, CRLF, ..., 0, trailers, empty line
    local state = self.chunk
    if state == "data" then
      if buf == "" then return nil end
      local piece = #buf <= self.left and buf or buf:sub(1, self.left)
      self.buf, self.left = buf:sub(#piece + 1), self.left - #piece
      if self.left == 0 then self.chunk = "crlf" end
      return piece
    elseif state == "done" then
      return nil, "done"
    elseif state == "crlf" then
      if #buf < 2 then return nil end
      if buf:sub(1, 2) ~= "\r\n" then return nil, "protocol", "a chunk does not end with CRLF" end
      buf = buf:sub(3)
      self.chunk = "size"
    else -- "size" or "trailer": one line
      local e = buf:find("\r\n", 1, true)
      if not e then
        if #buf > MAX_CHUNK_LINE then return nil, "protocol", "a chunk line is too long" end
        self.buf = buf
        return nil
      end
      local line = buf:sub(1, e - 1)
      buf = buf:sub(e + 2)
      if state == "trailer" then
        if line == "" then self.chunk = "done" end
        self.trailer_bytes = (self.trailer_bytes or 0) + e + 1
        if self.trailer_bytes > MAX_HEAD then
          return nil, "protocol", "the answer's trailers are larger than 64 KiB"
        end
      else
        local n = tonumber(line:match("^%s*(%x+)") or "", 16)
        if not n then return nil, "protocol", "bad chunk size" end
        if n == 0 then self.chunk = "trailer" else self.chunk, self.left = "data", n end
      end
    end
    self.buf = buf
  end
end

-- body(deadline) -> piece | nil, "done" | nil, err [, message]
-- Resumable after a timeout; the deadline is checked as in read_head.
function Reader:body(deadline)
  local filled = false
  while true do
    local piece, err, msg = self:_take()
    if piece or err then return piece, err, msg end
    if filled and core.now() >= deadline then return nil, "timeout" end
    filled = true
    local ok, ferr = self:fill(deadline)
    if not ok then
      if ferr == "closed" and self.mode == "close" then return nil, "done" end
      return nil, ferr
    end
  end
end

-- request(authority, req) -> the bytes of req (url, body, content_type) as a
-- POST with Content-Length.
function _M.request(authority, req)
  local body = req.body or ""
  return table.concat {
    "POST ", req.url:match("^%a+://[^/]+(/.*)$") or "/", " HTTP/1.1\r\n",
    "Host: ", authority, "\r\n",
    "Accept: */*\r\n",
    "Content-Type: ", req.content_type or "application/json", "\r\n",
    "Content-Length: ", #body, "\r\n\r\n", body,
  }
end

return _M
