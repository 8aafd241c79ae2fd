-- Stream sessions: preview, playback and download (WIRE-NOTES §3).
--
--   local s = assert(cam:preview{ resolution = "HD" })
--   for f in s:frames() do ... end   -- whole frames, notifications, then nil
--   s:close()                        -- sends stop for its session
--
-- A session is opened by one request on a MULTITRANS connection
-- (stream/conn.lua); the answer names its channels and codecs, which become
-- tracks of the connection's C demux. Frames then arrive whole (one Lua
-- string per access unit) and queue in the session until read.
local core = require "vigi.core"
local json = require "vigi.json"
local errors = require "vigi.errors"
local check = require "vigi.check"
local streamapi = require "vigi.stream.api"
local wait = require "vigi.wait"
local queue = require "vigi.queue"

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

-- The end of a playback or a download. The document names no end
-- notification (WIRE-NOTES §3), so any notification whose event_type or
-- status says so ends it: a word of it (split at anything not a letter
-- and at camelCase humps, in any case) is one of these. "stream_end"
-- (vigi-sim), "playback_end", "downloadFinished", "EOF", status
-- "complete" do; "weekend", "pending", "append" do not.
local END_WORDS = { finish = true, finished = true, ["end"] = true, ended = true, eof = true,
                    complete = true, completed = true }
local function says_end(v)
  if type(v) ~= "string" or #v > 128 then return false end
  local words = v:gsub("(%l)(%u)", "%1 %2"):lower()
  for w in words:gmatch("%a+") do
    if END_WORDS[w] then return true end
  end
  return false
end

-- is_end(params) -> true when a notification's params say the stream ended.
function _M.is_end(params)
  return type(params) == "table" and (says_end(params.event_type) or says_end(params.status))
end

-- Queue limits of a session, unless its options say otherwise
-- (docs/limits.md): items, and bytes of frame data and notification text.
local MAX_QUEUE = 512
local MAX_QUEUE_BYTES = 16 * 1024 * 1024
_M.MAX_QUEUE, _M.MAX_QUEUE_BYTES = MAX_QUEUE, MAX_QUEUE_BYTES

-- A network string for a log line: short, control characters escaped.
local function printable(s)
  s = tostring(s or "")
  local cut = #s > 200
  s = s:sub(1, 200):gsub("[%c\128-\255]", function(c) return string.format("\\x%02x", c:byte()) end)
  return cut and (s .. "...") or s
end

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

-- The codecs of an av_config entry: video and audio as demux names, and
-- the RTP payload types the answer declares (`pts`).
local function codecs_of(av)
  av = type(av) == "table" and av or {}
  if av[1] ~= nil then av = type(av[1]) == "table" and av[1] or {} end
  local extra = type(av.extra_data) == "table" and av.extra_data or {}
  local video = VIDEO_CODECS[tostring(av.video_codec)]
  if not video and type(extra.video_rtpmap) == "string" then
    local name = extra.video_rtpmap:match("^%s*%d+%s+([%w]+)/")
    video = VIDEO_CODECS[name or ""] or PT_CODECS[tonumber(extra.video_rtpmap:match("^%s*(%d+)")) or -1]
  end
  local fmtp = type(extra.video_fmtp) == "string" and extra.video_fmtp or nil
  local pts = {}
  for _, k in ipairs { "video_rtpmap", "audio_rtpmap" } do
    local pt = type(extra[k]) == "string" and tonumber(extra[k]:match("^%s*(%d+)"))
    if pt and pt < 128 then pts[pt] = true end
  end
  if next(pts) == nil then
    for pt in pairs(PT_CODECS) do pts[pt] = true end
  end
  return { video = video or "H264", audio = AUDIO_CODECS[tostring(av.audio_codec)] or "PCMA",
           fmtp = fmtp, pts = pts }
end

-- Tracks for a media session: first channel video, second audio.
function Session:_track(codecs, d)
  d = d or self.conn:reader()
  self.codecs = codecs
  if self.kind == "talk" then return end -- the client sends on its channel
  if self.kind == "download" and self.framing ~= "rtp" then
    -- File bytes until the first frames show RTP (stream/media.lua, _use_rtp).
    for i = 1, #self.channels do d:track(self.channels[i], { kind = "data", codec = "raw", session = self.id }) end
    return
  end
  d:track(self.channels[1], { kind = "video", codec = codecs.video, clock = 90000,
                              fmtp = codecs.fmtp, session = self.id })
  -- audio = false: its packets are skipped in the reader, no item made
  -- (a recording without audio_file: two thirds of a camera's items).
  if self.channels[2] and self.audio ~= false then
    d:track(self.channels[2], { kind = "audio", codec = codecs.audio, clock = 8000, session = self.id })
  end
end

-- A download whose first frames turned out RTP (stream/media.lua): its channels
-- become video and audio tracks, and the packets already read as data go
-- through them. Returns the frames those packets made.
function Session:_use_rtp(packets)
  self.framing = "rtp"
  -- The camera may have hung up already: then the held packets get a
  -- demux of their own.
  local own = self.conn:reader()
  local d = own or core.demux { max_frame = self.max_frame }
  self:_track(self.codecs, d)
  local frames = {}
  for _, p in ipairs(packets or {}) do
    local a, b = d:push(p.channel, p.data)
    frames[#frames + 1] = a
    frames[#frames + 1] = b
  end
  if d ~= own then d:close() end
  return frames
end

-- What an item weighs in the queue: its bytes, and a little for the table.
local function weight(item)
  return #(item.data or item.raw or "") + 64
end

-- Items in, from the connection (any reader may have read them). The
-- queue is bounded in items and in bytes: past either, the oldest go
-- (nobody is reading this session: keep the newest), counted.
function Session:_push(item)
  local q = self.queue
  q:push(item)
  while q:len() > 1 and (q:len() > self.max_queue or q.bytes > self.max_queue_bytes) do
    local old = q:pop()
    self.stats.dropped = self.stats.dropped + 1
    self.stats.dropped_bytes = self.stats.dropped_bytes + weight(old)
    -- A dropped frame is garbage the collector has not met yet: with
    -- pictures of megabytes arriving faster than a cycle ends, the heap
    -- grew to several times the queue's limit (and more on Lua 5.3). Once
    -- a queue's worth has been dropped, a full cycle frees it; this runs
    -- only while nobody reads the session, and costs little beside
    -- megabytes of frames.
    self.dropped_unswept = (self.dropped_unswept or 0) + weight(old)
    if self.dropped_unswept >= self.max_queue_bytes then
      self.dropped_unswept = 0
      collectgarbage()
    end
  end
end

function Session:_notify(note)
  local p = note.params
  if p.event_type == "channel_preview_params" and type(p.av_config) == "table" and self.kind ~= "download" then
    -- The codec changed: later frames are read with the new one.
    self:_track(codecs_of(p.av_config))
    note.codecs = self.codecs
  end
  if _M.is_end(p) then
    note["end"] = true
    self.ending = note
    if self.cam and self.cam.log then
      self.cam:log("%s: the camera ended %s %s: %s", self.conn.where, self.kind, self.id, printable(note.raw))
    end
  end
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
  if item.kind == "video" or item.kind == "audio" or item.kind == "data" then
    self.stats.frames = self.stats.frames + (item.kind == "data" and 0 or 1)
    self.stats.bytes = self.stats.bytes + #item.data
    self.got_data = true
  end
  return item
end

-- The stall watchdog's limit: `stall` seconds without valid progress.
function Session:_stall_deadline()
  return self.conn.last_item_at + self.stall
end

function Session:next(timeout)
  self.reader_co = coroutine.running() -- for close() from another task
  local q = self.queue
  local user_deadline, derr = wait.deadline(timeout, "next: timeout")
  if not user_deadline then return nil, derr end
  local polled = false
  while true do
    if self.closed then return nil end
    local queued = q:pop()
    if queued then return handed(self, queued) end
    if self.ending then self:_finish(nil) end
    if self.finished then return nil, self.error end
    -- The clock at every turn (docs/design.md): not only when the socket
    -- would block.
    if polled and wait.expired(user_deadline) then return nil, "timeout" end
    polled = true
    -- Nothing is queued, so a frame of this session read now may go
    -- straight to the caller (the common case, without the queue).
    local item, err = self.conn:pump(math.min(user_deadline, self:_stall_deadline()), self.id)
    if item and item ~= true then return handed(self, item) end
    if not item then
      if err.kind ~= "timeout" then
        self:_connection_ended(err)
      elseif wait.expired(self:_stall_deadline()) then
        self:_fail_connection(errors.new("timeout", string.format(
          "%s: nothing usable from the camera for %g s (stalled)", self.conn.where, self.stall)))
      end
    end
  end
end

-- A broken connection ends every session on it.
function Session:_fail_connection(err)
  for _, s in ipairs(self.conn:others(self)) do s:_finish(err) end
  self:_finish(err)
  self.conn:close()
end

-- The connection ended. For a playback or a download that got data, the
-- camera closing between two items is one of the ways it says the end
-- (WIRE-NOTES §3): the session ends without error, `outcome` "closed".
-- A close in the middle of an item, or anything else, is an error.
function Session:_connection_ended(err)
  if err.closed and not err.partial and self.got_data and
     (self.kind == "playback" or self.kind == "download") then
    self.outcome = "closed"
    for _, s in ipairs(self.conn:others(self)) do s:_finish(err) end
    self:_finish(nil)
    self.conn:close()
    return
  end
  self:_fail_connection(err)
end

-- A cqueues pollable (pollfd, events, timeout), for code that polls a
-- session itself: `cqueues.poll(s)`, then `s:next(0)`. (So no field of a
-- session may be called `events`, `pollfd` or `timeout`.) The timeout is 0
-- while items wait in the queue or bytes in the reader, which the socket's
-- readiness would not show.
function Session:pollfd() return self.conn:pollfd() end
function Session.events() return "r" end
function Session:timeout()
  if self.queue:len() > 0 or self.finished or self.conn:buffered() > 0 then return 0 end
  return wait.left(self:_stall_deadline())
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

-- A timeout error says the call's own timeout.
local function with_timeout(err, timeout)
  if err and err.kind == "timeout" and timeout then
    err.message = string.format("%s (timeout %g s)", err.message, timeout)
  end
  return err
end

-- One request about this session (Session header).
function Session:_request(name, params, timeout)
  if self.finished then return errors.fail("invalid", name .. ": the session has ended") end
  timeout = timeout or self.answer_timeout
  local deadline, derr = wait.deadline(timeout, name .. ": timeout")
  if not deadline then return nil, derr end
  local body, err = _M.body(name, params)
  if not body then return nil, err end
  local r, rerr = self.conn:request(name, body, self.id, deadline)
  if not r then return nil, with_timeout(rerr, timeout) end
  return r
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
  return self:_close(core.now() + 2)
end

-- The same with the caller's deadline for stop (stream/talk.lua): true, or
-- nil, err when stop got no answer (the session is closed either way).
function Session:_close(deadline)
  if self.closed then return true end
  self.closed = true
  local ok, err = true, nil
  if not self.finished and self.conn:is_open() then
    self.conn:detach(self) -- its frames are no longer wanted while stop goes out
    local body = _M.body("stop")
    ok, err = self.conn:request("stop", body, self.id, deadline)
  end
  self:_finish(nil)
  if self.conn:empty() then self.conn:close() end
  -- A task waiting in next() sees the end now, not at its deadline.
  wait.wake(self.reader_co)
  if not ok then return nil, err end
  return true
end
Session.stop = Session.close
Session.__gc = function(self) if not self.closed and self.conn then self.conn:close() end end
Session.__close = Session.close

-- The request body of a stream request: {"method":"get","preview":{...}}.
-- Checks the parameters first. Returns the JSON text, or nil, err.
function _M.body(name, params)
  local row = assert(streamapi.by_name[name], name)
  local inner = row.literal
  if not inner then
    local checked, err = check.params(row, params)
    if not checked then return nil, err end
    local pair = row.exclusive
    if pair and checked ~= true and checked[pair[1]] ~= nil and checked[pair[2]] ~= nil then
      return errors.fail("invalid", string.format("%s: give %s or %s, not both",
        name, pair[1], pair[2]), { method = name, field = pair[2], rule = "exclusive" })
    end
    inner = json.encode_params(checked == true and {} or checked, row.params)
    if row.wrap then inner = '{"' .. row.wrap .. '":' .. inner .. '}' end
  end
  return '{"method":"' .. row.verb .. '","' .. row.key .. '":' .. inner .. '}'
end


-- A number option: nil, or a finite number in lo..hi (an integer when
-- `int`); anything else is `invalid`, NaN and infinities included.
local function number_opt(kind, opts, name, lo, hi, int)
  local v = opts[name]
  if v == nil then return true end
  if type(v) ~= "number" or v ~= v or v < lo or v > hi or (int and v % 1 ~= 0) then
    return errors.fail("invalid", string.format("%s: `%s` must be a%s number %s..%s, not %s",
      kind, name, int and "n integer" or "", tostring(lo), tostring(hi), tostring(v)), { field = name })
  end
  return true
end

_M.number_opt = number_opt -- stream/media.lua checks its own options with it

-- open(cam, kind, params, opts) -> session, answer | nil, err
-- opts: share (a session whose connection to use), timeout, stall,
-- on_notification, max_frame, max_queue, max_queue_bytes, audio (false:
-- the audio channel is not read into items).
-- `timeout` bounds the whole open: getStreamPort, the connection, the
-- digest rounds and the answer.
function _M.open(cam, kind, params, opts)
  opts = opts or {}
  local timeout = opts.timeout or cam.timeout
  local deadline, derr = wait.deadline(timeout, kind .. ": timeout")
  if not deadline then return nil, derr end
  for _, o in ipairs {
    { "stall", 0.001, 1e9 }, { "max_frame", 4096, 1073741824, true },
    { "max_queue", 1, 1e9, true }, { "max_queue_bytes", 0, 1e15, true },
  } do
    local ok, err = number_opt(kind, opts, o[1], o[2], o[3], o[4])
    if not ok then return nil, err end
  end
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
    -- The time left, and the deadline for the connect (camera.lua).
    conn, err = cam:_stream_connection(setmetatable({ timeout = wait.left(deadline), deadline = deadline },
      { __index = opts }))
    if not conn then return nil, with_timeout(err, timeout) end
    owns = true
  end
  local answer, err = conn:request(kind, body, nil, deadline)
  if not answer then
    if owns then conn:close() end
    return nil, with_timeout(err, timeout)
  end
  local self = setmetatable({
    cam = cam, conn = conn, kind = kind, id = tostring(answer.session_id or ""),
    answer = answer, queue = queue.new(weight), answer_timeout = timeout,
    stall = opts.stall or timeout, on_notification = opts.on_notification,
    max_queue = opts.max_queue or MAX_QUEUE, max_queue_bytes = opts.max_queue_bytes or MAX_QUEUE_BYTES,
    max_frame = opts.max_frame, audio = opts.audio,
    stats = { frames = 0, bytes = 0, notifications = 0, dropped = 0, dropped_bytes = 0 },
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
