-- Stream sessions: preview, playback and download (WIRE-NOTES §3).
--
--   local s = assert(cam:preview{ resolution = "HD" })
--   for f in s:frames() do ... end   -- whole frames, notifications, then nil
--   s:close()                        -- sends stop for its session
--
-- A session is opened by one request on a MULTITRANS connection
-- (streamconn.lua); the answer names its channels and codecs, which become
-- tracks of the connection's C demux. Frames then arrive whole (one Lua
-- string per access unit) and queue in the session until read.
local core = require "vigi.core"
local json = require "vigi.json"
local errors = require "vigi.errors"
local check = require "vigi.check"
local streamapi = require "vigi.streamapi"
local wait = require "vigi.wait"

local _M = {}

local Session = {}
Session.__index = Session
Session.__name = "vigi.stream"
_M.Session = Session

-- Codec names of av_config (5.1) and the RTP payload types of the
-- document's appendix, for answers that name no codec.
local VIDEO_CODECS = { H264 = "H264", H265 = "H265", HEVC = "H265" }
local AUDIO_CODECS = { G711alaw = "PCMA", G711ulaw = "PCMU", PCMA = "PCMA", PCMU = "PCMU" }
local PT_CODECS = { [96] = "H264", [98] = "H264", [8] = "PCMA", [0] = "PCMU" }

-- Notifications that end a playback or a download. The document names
-- none; these are what cameras and vigi-sim send (docs/protocol.md).
local END_EVENTS = { stream_end = true, playback_end = true, download_end = true,
                     play_end = true, eof = true }
_M.END_EVENTS = END_EVENTS

function Session:__tostring()
  return string.format("vigi.stream{%s %s on %s%s}", self.kind, tostring(self.id),
    self.conn.where, self.finished and ", ended" or "")
end

-- "0-1" -> { 0, 1 }; "2" -> { 2 }. Channel ids are 0..255 on the wire
-- (the document allows 0..127).
local function channel_range(s)
  s = tostring(s or "")
  local a, b = s:match("^%s*(%d+)%s*%-%s*(%d+)%s*$")
  if not a then a = s:match("^%s*(%d+)%s*$") b = a end
  a, b = tonumber(a), tonumber(b)
  if not a or b < a or b > 255 or b - a > 16 then return nil end
  local list = {}
  for ch = a, b do list[#list + 1] = ch end
  return list
end

-- The channels an answer reserves: interleaved = [{channel, interleaved_id}]
-- (the document), or a bare "a-b" string.
local function channels_of(answer)
  local il = answer.interleaved
  if type(il) == "string" or type(il) == "number" then return channel_range(il) end
  if type(il) == "table" then
    local list = {}
    for _, e in ipairs(il) do
      local r = channel_range(type(e) == "table" and (e.interleaved_id or e.interleaved) or e)
      for _, ch in ipairs(r or {}) do list[#list + 1] = ch end
    end
    if #list > 0 then return list end
  end
  return nil
end

-- The codecs of an av_config entry: video and audio as demux names.
local function codecs_of(av)
  av = type(av) == "table" and (av[1] or av) or {}
  local extra = type(av.extra_data) == "table" and av.extra_data or {}
  local video = VIDEO_CODECS[tostring(av.video_codec)]
  if not video and type(extra.video_rtpmap) == "string" then
    local name = extra.video_rtpmap:match("^%s*%d+%s+([%w]+)/")
    video = VIDEO_CODECS[name or ""] or PT_CODECS[tonumber(extra.video_rtpmap:match("^%s*(%d+)")) or -1]
  end
  local fmtp = type(extra.video_fmtp) == "string" and extra.video_fmtp or nil
  return { video = video or "H264", audio = AUDIO_CODECS[tostring(av.audio_codec)] or "PCMA",
           fmtp = fmtp }
end

-- Tracks for a media session: first channel video, second audio.
function Session:_track(codecs)
  local d = self.conn.demux
  self.codecs = codecs
  if self.kind == "talk" then return end -- the client sends on its channel
  if self.kind == "download" then
    d:track(self.channels[1], { kind = "data", codec = "raw", session = self.id })
    for i = 2, #self.channels do d:track(self.channels[i], { kind = "data", codec = "raw", session = self.id }) end
    return
  end
  d:track(self.channels[1], { kind = "video", codec = codecs.video, clock = 90000,
                              fmtp = codecs.fmtp, session = self.id })
  if self.channels[2] then
    d:track(self.channels[2], { kind = "audio", codec = codecs.audio, clock = 8000, session = self.id })
  end
end

-- Items in, from the connection (any reader may have read them).
function Session:_push(item)
  local q = self.queue
  q.tail = q.tail + 1
  q[q.tail] = item
  if q.tail - q.head + 1 > self.conn.max_queue then
    -- Nobody is reading this session: keep the newest.
    q[q.head] = nil
    q.head = q.head + 1
    self.stats.dropped = self.stats.dropped + 1
  end
end

function Session:_notify(note)
  local p = note.params
  if p.event_type == "channel_preview_params" and type(p.av_config) == "table" and self.kind ~= "download" then
    -- The codec changed: later frames are read with the new one.
    self:_track(codecs_of(p.av_config))
    note.codecs = self.codecs
  end
  if END_EVENTS[p.event_type] then self.ending = note end
  self.stats.notifications = self.stats.notifications + 1
  if self.on_notification then self.on_notification(note) end
  self:_push(note)
end

-- Ends the session (by the camera, an error, or close) once.
function Session:_finish(err)
  if self.finished then return end
  self.finished = true
  self.error = err
  self.conn:detach(self)
end

-- next([timeout]) -> item | nil (ended: then s.error says why, if not
-- normally) | nil, "timeout" (nothing within timeout; the session goes on).
-- Items: frames { kind = "video"|"audio", codec, pts, keyframe, data, lost,
-- ... }, { kind = "data", data } for downloads, { kind = "notification",
-- event_type, params }.
-- A frame handed to the caller is counted.
local function handed(self, item)
  if item.kind == "video" or item.kind == "audio" then
    self.stats.frames = self.stats.frames + 1
    self.stats.bytes = self.stats.bytes + #item.data
  end
  return item
end

function Session:next(timeout)
  self.reader_co = coroutine.running() -- for close() from another task
  local q = self.queue
  local user_deadline = timeout and core.now() + timeout or math.huge
  local polled = false
  while true do
    if self.closed then return nil end
    if q.head <= q.tail then
      local item = q[q.head]
      q[q.head] = nil
      q.head = q.head + 1
      return handed(self, item)
    end
    if self.ending then self:_finish(nil) end
    if self.finished then return nil, self.error end
    local stall_deadline = self.conn.last_item_at + self.stall
    if polled and core.now() >= user_deadline then return nil, "timeout" end
    polled = true
    -- Nothing is queued, so a frame of this session read now may go
    -- straight to the caller (the common case, without the queue).
    local item, err = self.conn:pump(math.min(user_deadline, stall_deadline), self.id)
    if item and item ~= true then return handed(self, item) end
    if not item then
      if err.kind ~= "timeout" then
        self:_fail_connection(err)
      elseif core.now() >= self.conn.last_item_at + self.stall then
        self:_fail_connection(errors.new("timeout", string.format(
          "%s: nothing from the camera for %g s (stalled)", self.conn.where, self.stall)))
      end
    end
  end
end

-- A broken connection ends every session on it.
function Session:_fail_connection(err)
  local others = {}
  for _, s in pairs(self.conn.sessions) do others[#others + 1] = s end
  for _, s in ipairs(others) do s:_finish(err) end
  self:_finish(err)
  self.conn:close()
end

-- A cqueues pollable (pollfd, events, timeout), for code that polls a
-- session itself: `cqueues.poll(s)`, then `s:next(0)`. (So no field of a
-- session may be called `events`, `pollfd` or `timeout`.) The timeout is 0
-- while items wait in the queue or bytes in the reader, which the socket's
-- readiness would not show.
function Session:pollfd() return self.conn.tcp and self.conn.tcp.fd end
function Session.events() return "r" end
function Session:timeout()
  local q, d = self.queue, self.conn.demux
  if q.head <= q.tail or self.finished or (d and d:buffered() > 0) then return 0 end
  return math.max(0, self.conn.last_item_at + self.stall - core.now())
end

-- for f in s:frames() do ... end: frames and notifications until the
-- session ends; when it ended by an error, one last item
-- { kind = "error", error = err } (the error is also s.error).
function Session:frames()
  local told = false
  return function()
    local item = self:next()
    if item then return item end
    if self.error and not told then
      told = true
      return { kind = "error", error = self.error }
    end
    return nil
  end
end
Session.items = Session.frames

-- One request about this session (Session header).
function Session:_request(name, params, timeout)
  if self.finished then return errors.fail("invalid", name .. ": the session has ended") end
  local body, err = _M.body(name, params)
  if not body then return nil, err end
  return self.conn:request(name, body, self.id, core.now() + (timeout or self.answer_timeout))
end

-- s:play{ start_time =, end_time =, scale =, event_type = } (playback)
function Session:play(params, opts)
  return self:_request("play", params or {}, opts and opts.timeout)
end

-- s:force_iframe{ stream_type = "main" }
function Session:force_iframe(params, opts)
  return self:_request("force_iframe", params or { stream_type = "main" }, opts and opts.timeout)
end

-- s:close(): stop for the session (answer awaited up to 2 s), and the
-- connection closed when no other session uses it.
function Session:close()
  if self.closed then return end
  self.closed = true
  if not self.finished and self.conn.tcp then
    self.conn:detach(self) -- its frames are no longer wanted while stop goes out
    local body = _M.body("stop")
    self.conn:request("stop", body, self.id, core.now() + 2)
  end
  self:_finish(nil)
  if self.conn:empty() then self.conn:close() end
  -- A task waiting in next() sees the end now, not at its deadline.
  wait.wake(self.reader_co)
end
Session.stop = Session.close
Session.__gc = function(self) if not self.closed and self.conn then self.conn:close() end end
Session.__close = Session.close

-- The request body of a stream request: {"method":"get","preview":{...}}.
-- Checks the parameters first. Returns the JSON text, or nil, err.
function _M.body(name, params)
  local row = assert(streamapi.by_name[name], name)
  local inner
  if name == "stop" then
    inner = '"null"' -- the document's own form
  elseif name == "force_iframe" then
    local checked, err = check.params(row, params)
    if not checked then return nil, err end
    inner = '{"force_iframe":' .. json.encode_params(checked == true and {} or checked, row.params) .. '}'
  else
    local checked, err = check.params(row, params)
    if not checked then return nil, err end
    for _, pair in ipairs({ row.exclusive }) do
      if checked ~= true and checked[pair[1]] ~= nil and checked[pair[2]] ~= nil then
        return errors.fail("invalid", string.format("%s: give %s or %s, not both",
          name, pair[1], pair[2]), { method = name, field = pair[2], rule = "exclusive" })
      end
    end
    inner = json.encode_params(checked == true and {} or checked, row.params)
  end
  return '{"method":"' .. row.verb .. '","' .. row.key .. '":' .. inner .. '}'
end

local function new_queue() return { head = 1, tail = 0 } end

-- open(cam, kind, params, opts) -> session, answer | nil, err
-- opts: share (a session whose connection to use), timeout, stall,
-- on_notification, max_frame.
function _M.open(cam, kind, params, opts)
  opts = opts or {}
  local body, berr = _M.body(kind, params)
  if not body then return nil, berr end
  local conn, owns
  if opts.share then
    conn, owns = opts.share.conn, false
    if not conn or conn.closed then
      return errors.fail("invalid", kind .. ": the shared session's connection is closed")
    end
  else
    local err
    conn, err = cam:_stream_connection(opts)
    if not conn then return nil, err end
    owns = true
  end
  local timeout = opts.timeout or cam.timeout
  local answer, err = conn:request(kind, body, nil, core.now() + timeout)
  if not answer then
    if owns then conn:close() end
    return nil, err
  end
  local self = setmetatable({
    cam = cam, conn = conn, kind = kind, id = tostring(answer.session_id or ""),
    answer = answer, queue = new_queue(), answer_timeout = timeout,
    stall = opts.stall or timeout, on_notification = opts.on_notification,
    stats = { frames = 0, bytes = 0, notifications = 0, dropped = 0 },
  }, Session)
  self.channels = channels_of(answer)
  if not self.channels then
    -- An answer without channels: the lowest even ids free on the connection.
    local ch = 0
    while conn:reserved(ch) or (kind ~= "talk" and conn:reserved(ch + 1)) do ch = ch + 2 end
    self.channels = kind == "talk" and { ch } or { ch, ch + 1 }
  end
  conn:attach(self)
  self:_track(codecs_of(answer.av_config))
  return self, answer
end

return _M
