-- The camera's stream methods: preview, playback, record, download, talk.
--
--   local s = assert(cam:preview{ resolution = "HD" })
--   assert(cam:record{ seconds = 5, file = "out.h264" })
--   assert(cam:download{ start_time = t0, end_time = t1, file = "clip.bin", resume = true })
--
-- Sessions themselves are stream/init.lua's; talk is stream/talk.lua's.
local core = require "vigi.core"
local errors = require "vigi.errors"
local stream = require "vigi.stream"
local talk = require "vigi.stream.talk"
local wait = require "vigi.wait"

local _M = {}
local M = {}
_M.camera_methods = M

local function opts_table(o, what)
  if o ~= nil and type(o) ~= "table" then error(what .. ": expects a table of options", 3) end
  return o or {}
end

-- cam:preview{ resolution = "HD" | resolutions = { "HD" }, share =, timeout =,
--              stall =, on_notification =, max_frame = } -> session | nil, err
function M.preview(cam, o)
  o = opts_table(o, "preview")
  local res = o.resolutions or (o.resolution and { o.resolution }) or nil
  return stream.open(cam, "preview", { resolutions = res }, o)
end

-- A client id for playback when none is given: unique per process.
local function client_id()
  return "vigi-" .. core.random_hex(8)
end

-- cam:playback{ start_time =, end_time =, event_type = | event_type_exclude =,
--               scale = "+1/1", client_id = } -> session | nil, err
function M.playback(cam, o)
  o = opts_table(o, "playback")
  return stream.open(cam, "playback", {
    client_id = o.client_id or client_id(), scale = o.scale or "+1/1",
    event_type = o.event_type, event_type_exclude = o.event_type_exclude,
    start_time = o.start_time, end_time = o.end_time,
  }, o)
end

-- cam:record{ seconds = 5, file = "out.h264" | sink = function(data, frame),
--             audio_file =, resolution =, progress = function(done_s, total_s) }
-- -> { file, frames, bytes, seconds, codec } | nil, err
-- The file is the video's Annex-B elementary stream, from the first
-- keyframe, `seconds` of media time long (frames by their pts). The
-- recording keeps a deadline on the clock: `seconds` + 2 x `timeout` (the
-- answer and the first keyframe each get a timeout), whatever the camera
-- sends (frames whose time does not advance included).
function M.record(cam, o)
  o = opts_table(o, "record")
  local seconds = o.seconds
  if type(seconds) ~= "number" or not (seconds > 0 and seconds < 1e9) then
    return errors.fail("invalid", "record: `seconds` must be a positive number", { field = "seconds" })
  end
  if type(o.file) ~= "string" and type(o.sink) ~= "function" then
    return errors.fail("invalid", "record: give `file` (a path) or `sink` (a function)", { field = "file" })
  end
  local timeout = o.timeout or cam.timeout
  local deadline, derr = wait.deadline(type(timeout) == "number" and seconds + 2 * timeout or timeout,
    "record: timeout")
  if not deadline then return nil, derr end
  local out, aout
  if o.file then
    local f, ferr = io.open(o.file, "wb")
    if not f then return errors.fail("invalid", "record: cannot write " .. tostring(ferr)) end
    out = f
  end
  if o.audio_file then
    local f, ferr = io.open(o.audio_file, "wb")
    if not f then
      if out then out:close() end
      return errors.fail("invalid", "record: cannot write " .. tostring(ferr))
    end
    aout = f
  end
  local function finish(...)
    if out then out:close() end
    if aout then aout:close() end
    return ...
  end
  -- Audio is read only when it is written.
  local s, err = M.preview(cam, setmetatable({ audio = o.audio_file ~= nil }, { __index = o }))
  if not s then return finish(nil, err) end
  local r = { file = o.file, frames = 0, bytes = 0, seconds = 0, codec = s.codecs.video, lost = 0 }
  local t0
  local done, failure = false, nil
  while not done and not failure do
    local f, ferr = s:next(wait.left(deadline))
    if not f then
      if ferr == "timeout" then
        failure = errors.new("timeout", string.format(
          "record: %.1f of %g s of video within %g s", r.seconds, seconds, seconds + 2 * timeout))
      else
        failure = s.error or errors.new("network", string.format(
          "record: the stream ended after %.1f of %g s", r.seconds, seconds))
      end
    elseif f.kind == "video" then
      if not t0 and f.keyframe then t0 = f.pts end
      if t0 then
        local at = f.pts - t0
        if at >= seconds then
          done = true
        else
          if out then out:write(f.data) end
          if o.sink then o.sink(f.data, f) end
          r.frames, r.bytes, r.seconds, r.codec = r.frames + 1, r.bytes + #f.data, at, f.codec
          r.lost = r.lost + (f.lost or 0)
          if o.progress then o.progress(at, seconds) end
        end
      end
    elseif f.kind == "audio" and aout and t0 then
      aout:write(f.data)
    end
  end
  s:close()
  if failure then return finish(nil, failure) end
  return finish(r)
end

-- "x-y/n", "x-", "x-y", "x-/n" -> x, y, n (y and n may be nil)
local function parse_range(s)
  if type(s) ~= "string" then return nil end
  local x, y, n = s:match("^%s*(%d+)%s*%-%s*(%d*)%s*/?%s*(%d*)%s*$")
  if not x then return nil end
  return tonumber(x), tonumber(y), tonumber(n)
end

local function file_size(path)
  local f = io.open(path, "rb")
  if not f then return 0 end
  local n = f:seek("end")
  f:close()
  return n or 0
end

-- The SSRC of a data frame that reads as an RTP packet of one of the
-- payload types the answer declared (version 2, a whole header), or nil.
local function rtp_ssrc(data, pts)
  if #data < 12 then return nil end
  local b0, b1 = data:byte(1, 2)
  if b0 < 128 or b0 >= 192 or not pts[b1 % 128] then return nil end
  return data:sub(9, 12)
end

-- The framing of a download from its first data frames (WIRE-NOTES §3):
-- "rtp" when the first reads as RTP and so does the second (the same
-- SSRC when on the same channel); "raw" as soon as one does not; nil
-- while one more frame is needed (`final`: none will come, decide on the
-- first alone). Random file bytes pass the first test about once in 700
-- and the second about never.
local function framing_of(held, pts, final)
  local a = held[1] and rtp_ssrc(held[1].data, pts)
  if not a then return "raw" end
  if not held[2] then return final and "rtp" or nil end
  local b = rtp_ssrc(held[2].data, pts)
  if not b or (held[2].channel == held[1].channel and a ~= b) then return "raw" end
  return "rtp"
end

-- The most a download writes unless `max_bytes` says otherwise: a camera
-- that never stops sending must not fill the disk (docs/limits.md).
local MAX_DOWNLOAD_BYTES = 4 * 1024 * 1024 * 1024
_M.MAX_DOWNLOAD_BYTES = MAX_DOWNLOAD_BYTES

-- cam:download{ start_time =, end_time =, event_type =, file_id =, client_id =,
--               file = "clip.bin", audio_file =, resume = false, quiet =,
--               max_bytes = 4 GiB, progress = function(got, total, r),
--               on_notification = }
-- -> { file, framing, outcome, bytes, audio_bytes, total, received,
--      resumed_from, frames, audio_frames, notifications } | nil, err
-- Data frames are the file's bytes (framing "raw", written as they come,
-- resumable) or RTP packets (framing "rtp": through the demux into an
-- Annex-B video file from its first keyframe, G.711 audio to audio_file),
-- told apart by the first two frames. `outcome` says how the end was
-- known: "size" (all announced bytes), "notification" (one that says
-- end/finished/eof/complete), "closed" (the camera hung up between two
-- frames), "quiet" (no size announced, and no data for `quiet` seconds,
-- default `stall`). A sized file that stops short is never complete: the
-- error says how many bytes came, the file keeps them, and resume = true
-- continues it. No data for `stall` seconds (default `timeout`) otherwise
-- is a `timeout` error. The files written (file, audio_file, a resumed
-- file's first part included) never pass `max_bytes`: the frame that would
-- is not written, and the download ends with a `protocol` error; a size
-- announced above it is refused before anything is written.
function M.download(cam, o)
  o = opts_table(o, "download")
  if type(o.file) ~= "string" then
    return errors.fail("invalid", "download: `file` (a path) is required", { field = "file" })
  end
  local qok, qerr = stream.number_opt("download", o, "quiet", 0.001, 1e9)
  if not qok then return nil, qerr end
  local mok, merr = stream.number_opt("download", o, "max_bytes", 1, 2 ^ 53, true)
  if not mok then return nil, merr end
  local max_bytes = o.max_bytes or MAX_DOWNLOAD_BYTES
  local have = o.resume and file_size(o.file) or 0
  local s, err = stream.open(cam, "download", {
    client_id = o.client_id, file_id = o.file_id, event_type = o.event_type,
    media_type = o.media_type or "video", start_time = o.start_time, end_time = o.end_time,
    range = have .. "-",
  }, o)
  if not s then return nil, err end
  local x, _, total = parse_range(s.answer.range)
  if x ~= have then
    -- Resume refused ("0-..."), or no range in the answer: start over.
    x = 0
  end
  -- This loop watches the data itself: a stall and the quiet end are
  -- both "no data for a while", told apart by whether a size was given.
  local stall = s.stall
  local quiet = o.quiet or stall
  s.stall = 1e9
  local r = { file = o.file, audio_file = o.audio_file, total = total, resumed_from = x,
              received = 0, bytes = x, audio_bytes = 0, frames = 0, audio_frames = 0, skipped = 0,
              notifications = 0 }
  local held, out, aout, failure, t_key = {}, nil, nil, nil, nil
  local limited -- the failure is max_bytes: returned as it is

  local function open_out(path, mode)
    local f, ferr = io.open(path, mode)
    if not f then failure = errors.new("invalid", "download: cannot write " .. tostring(ferr)) end
    return f
  end
  -- Whether n more bytes would take the files past max_bytes; if so, the
  -- download ends here, with nothing of them written.
  local function over(n)
    if r.bytes + r.audio_bytes + n <= max_bytes then return false end
    local written = r.bytes + r.audio_bytes
    limited = true
    failure = errors.new("protocol", string.format(
      "download: stopped at %d bytes written: the camera sent more than `max_bytes` (%d) allows%s",
      written, max_bytes, r.framing == "rtp" and "; raise max_bytes and download again" or
      string.format("; %s keeps them: raise max_bytes and call again with resume = true to go on", o.file)),
      { bytes = written, max_bytes = max_bytes, frames = r.frames, framing = r.framing })
    return true
  end
  local function write_raw(item)
    if failure or over(#item.data) then return end
    if not out then out = open_out(o.file, x > 0 and "ab" or "wb") end
    if not out then return end
    out:write(item.data)
    r.bytes = r.bytes + #item.data
    if o.progress then o.progress(r.bytes, total, r) end
  end
  local function write_frame(f)
    if failure then return end
    if f.kind == "video" then
      if not t_key and not f.keyframe then r.skipped = r.skipped + 1 return end
      if over(#f.data) then return end
      t_key = true
      out:write(f.data)
      r.frames, r.bytes, r.codec = r.frames + 1, r.bytes + #f.data, f.codec
      if o.progress then o.progress(r.bytes + r.audio_bytes, nil, r) end
    elseif f.kind == "audio" then
      r.audio_frames = r.audio_frames + 1
      if aout and not over(#f.data) then
        aout:write(f.data)
        r.audio_bytes = r.audio_bytes + #f.data
      end
    end
  end
  -- Once the framing is known: files opened, what was held written.
  local function settle(framing)
    r.framing = framing
    if framing == "raw" and total and total > max_bytes then
      -- Refused before a byte is written: the camera says it would pass.
      limited = true
      failure = errors.new("protocol", string.format(
        "download: the camera announces %d bytes, more than `max_bytes` (%d); raise max_bytes to " ..
        "download it (nothing was written)", total, max_bytes),
        { bytes = 0, max_bytes = max_bytes, total = total, framing = "raw" })
    elseif framing == "raw" then
      for _, item in ipairs(held) do write_raw(item) end
    else
      out = open_out(o.file, "wb")
      if out and o.audio_file then aout = open_out(o.audio_file, "wb") end
      if not failure then
        r.bytes = 0
        for _, f in ipairs(s:_use_rtp(held)) do write_frame(f) end
      end
    end
    held = nil
  end

  local outcome, restart
  local last_data = core.now()
  while not outcome and not failure and not restart do
    local unsized = total == nil or r.framing == "rtp"
    local limit = last_data + ((unsized and r.received > 0) and quiet or stall)
    if wait.expired(limit) then
      if unsized and r.received > 0 then
        outcome = "quiet"
      else
        failure = errors.new("timeout", string.format("%s: no data from the camera for %g s (stalled)",
          s.conn.where, stall))
        s:_fail_connection(failure) -- no stop to wait for on a stalled connection
      end
      break
    end
    local item, nerr = s:next(wait.left(limit))
    if item then
      if item.kind == "data" then
        r.received = r.received + #item.data
        last_data = core.now()
        if held then
          held[#held + 1] = item
          local framing = framing_of(held, s.codecs.pts, false)
          if framing == "rtp" and x > 0 then
            restart = true -- a resumed file cannot take RTP
          elseif framing then
            settle(framing)
          end
        elseif r.framing == "raw" then
          write_raw(item)
        else
          -- read as data before the tracks changed
          local a, b = s.conn:push(item.channel, item.data)
          if a then write_frame(a) end
          if b then write_frame(b) end
        end
      elseif item.kind == "video" or item.kind == "audio" then
        r.received = r.received + #item.data
        last_data = core.now()
        write_frame(item)
      elseif item.kind == "notification" then
        r.notifications = r.notifications + 1
        if item["end"] then outcome = "notification" end
      end
      if total and r.framing == "raw" and r.bytes >= total then outcome = "size" end
    elseif nerr ~= "timeout" then
      if errors.is(nerr) then failure = nerr
      elseif s.error then failure = s.error
      else outcome = s.outcome or "closed" end
    end
  end
  if held and #held > 0 and not failure and not restart then
    local framing = framing_of(held, s.codecs.pts, true)
    if framing == "rtp" and x > 0 then restart = true else settle(framing) end
  end
  if out then out:close() end
  if aout then aout:close() end
  s:close()
  if restart then
    -- RTP met a resumed file: a recording cannot be appended to (the
    -- file was not touched); it starts over, once.
    cam:log("download: %s: the camera sends RTP; starting the file over", s.conn.where)
    return M.download(cam, setmetatable({ resume = false }, { __index = o }))
  end
  if limited then return nil, failure end
  r.framing = r.framing or "raw"
  r.outcome, r.ended = outcome, outcome
  local got = string.format("%d of %s bytes", r.bytes, total and tostring(total) or "an unknown number of")
  if r.framing == "raw" and total and r.bytes > total then
    return errors.fail("protocol", "download: the camera sent more than it announced (" .. got .. ")")
  end
  if r.framing == "rtp" then
    if not outcome then
      return errors.fail(failure and failure.kind or "network", string.format(
        "download: incomplete, %d video frames (%s); RTP downloads start over: call again",
        r.frames, failure and failure.message or "the stream ended early"), { frames = r.frames, bytes = r.bytes })
    end
    return r
  end
  if (total and r.bytes < total) or not outcome then
    local why = failure and failure.message or "the stream ended early"
    return errors.fail(failure and failure.kind or "network", string.format(
      "download: incomplete, %s (%s); %s keeps them: call again with resume = true to continue",
      got, why, o.file), { bytes = r.bytes, total = total })
  end
  return r
end

-- cam:talk{ mode = "half_duplex", law = "alaw", file = "hello.wav", share = session }
M.talk = talk.open

return _M
