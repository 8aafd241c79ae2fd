-- HTTP/1.1 answers read from a byte stream: the status line and headers
-- (interim 1xx answers skipped), then a body framed by Content-Length,
-- chunked encoding or the end of the connection; and the bytes of a POST.
-- Shared by the nginx transport (resty/http.lua, over cosockets) and by
-- subscriptions on vigi's own TLS connection (tlsstream.lua).
--
-- The wire is read by the C reader (csrc/httpresp.c, core.httpresp):
-- status line, headers, interim answers, Content-Length, chunked bodies
-- with their extensions and trailers, the end of the connection; with its
-- limits (docs/limits.md). What stays here is the policy: the deadline,
-- looked at on the clock between reads, and the errors as values.
--
-- A reader is a table with `got` (bytes received in all) and a method
-- fill(deadline) -> data | nil, err that returns what the connection has,
-- waiting at most until the deadline (err "timeout", "closed" at the end
-- of the stream, or another failure). Each fill is fed to the C reader at
-- once: body bytes it gives wait in `pending` until body() hands them out,
-- so that nothing the connection gave is ever held twice.
local core = require "vigi.core"

local _M = {}

local LIMITS = {
  max_head = 64 * 1024,          -- status lines and headers of an answer,
                                 -- interim (1xx) answers included
  max_interim = 16,              -- interim (1xx) answers before the final one
  max_trailer = 64 * 1024,       -- the trailers of a chunked body
  max_chunk_line = 4096,         -- a chunk-size line with its extensions
}

local Reader = {}
Reader.__index = Reader
_M.Reader = Reader

-- The C reader of this answer, made at the first read.
function Reader:_parser()
  local p = self.parser
  if not p then
    p = core.httpresp(LIMITS)
    self.parser, self.pending = p, ""
  end
  return p
end

-- Reads once from the connection into the C reader: true | nil, err [, message].
function Reader:_read(deadline)
  local data, err = self:fill(deadline)
  if not data then return nil, err end
  local body, kind, msg = self.parser:feed(data)
  if not body then return nil, kind, msg end
  if body ~= "" then self.pending = self.pending .. body end
  return true
end

-- read_head(deadline) -> true (self.status, self.headers, self.version,
-- self.keep) | nil, err [, message]. Interim 1xx answers are skipped, up
-- to their limits: a peer that keeps sending them gets a protocol error,
-- and one that keeps sending anything meets the deadline, checked on the
-- clock after every read (at least one read per call, so that a deadline
-- already due still takes what has arrived). Resumable after a timeout.
function Reader:read_head(deadline)
  local p = self:_parser()
  local filled = false
  while true do
    local status, headers, version, keep = p:head()
    if status then
      self.status, self.headers, self.version, self.keep = status, headers, version, keep
      return true
    end
    if filled and core.now() >= deadline then return nil, "timeout" end
    filled = true
    local ok, err, msg = self:_read(deadline)
    if not ok then return nil, err, msg end
  end
end

-- body(deadline) -> piece | nil, "done" | nil, err [, message]
-- Resumable after a timeout; the deadline is checked as in read_head.
function Reader:body(deadline)
  local p = self:_parser()
  local filled = false
  while true do
    local piece = self.pending
    if piece ~= "" then
      self.pending = ""
      return piece
    end
    if p:done() then return nil, "done" end
    local kind, msg = p:error()
    if kind then return nil, kind, msg end
    if filled and core.now() >= deadline then return nil, "timeout" end
    filled = true
    local ok, err, emsg = self:_read(deadline)
    if not ok then
      if err ~= "closed" then return nil, err, emsg end
      -- the peer's close: the end of an answer framed by it, or too early
      local ended, ekind, why = p:eof()
      if ended then return nil, "done" end
      if ekind == "closed" then return nil, "closed" end
      return nil, ekind, why
    end
  end
end

-- Whether the connection can carry another request: the answer ended,
-- the peer keeps it, and it sent nothing beyond the answer.
function Reader:reusable()
  local p = self.parser
  return self.keep and p ~= nil and p:done() and p:extra() == 0 and self.pending == ""
end

-- Whether received body bytes wait to be handed out.
function Reader:buffered() return self.pending ~= nil and self.pending ~= "" end

-- One step of a long answer (a subscription's) for the stream object of
-- either transport: the head once (kept as stream.status, stream.ctype),
-- then a piece of the body by `wake`. Returns false and the piece ("" when
-- nothing came by then), or, at the end, what stream:_end(outcome, msg)
-- returns.
function Reader:step(stream, wake)
  if not self.status then
    local ok, err, msg = self:read_head(wake)
    if not ok then
      if err == "timeout" then return false, "" end
      return stream:_end(err == "protocol" and "protocol" or "network", msg or tostring(err))
    end
    stream.status, stream.ctype = self.status, self.headers["content-type"]
  end
  local piece, err, msg = self:body(wake)
  if piece then return false, piece end
  if err == "timeout" then return false, "" end
  if err == "done" then return stream:_end("ok") end
  return stream:_end(err == "protocol" and "protocol" or "network", msg or tostring(err))
end

-- Frees the C reader's buffer now rather than at collection.
function Reader:release()
  if self.parser then self.parser:close() end
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
