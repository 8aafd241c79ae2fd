-- The camera's stream methods: preview, playback, record, download, talk.
--
--   local s = assert(cam:preview{ resolution = "HD" })
--   assert(cam:record{ seconds = 5, file = "out.h264" })
--   assert(cam:download{ start_time = t0, end_time = t1, file = "clip.bin", resume = true })
--
-- Sessions themselves are stream.lua's; talk is talk.lua's.
local core = require "vigi.core"
local errors = require "vigi.errors"
local stream = require "vigi.stream"
local talk = require "vigi.talk"

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
-- keyframe, `seconds` of media time long (frames by their pts).
function M.record(cam, o)
  o = opts_table(o, "record")
  local seconds = o.seconds
  if type(seconds) ~= "number" or seconds <= 0 then
    return errors.fail("invalid", "record: `seconds` must be a positive number", { field = "seconds" })
  end
  if type(o.file) ~= "string" and type(o.sink) ~= "function" then
    return errors.fail("invalid", "record: give `file` (a path) or `sink` (a function)", { field = "file" })
  end
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
  local s, err = M.preview(cam, o)
  if not s then return finish(nil, err) end
  local r = { file = o.file, frames = 0, bytes = 0, seconds = 0, codec = s.codecs.video, lost = 0 }
  local t0
  local done = false
  for f in s:frames() do
    if f.kind == "error" then s:close() return finish(nil, f.error) end
    if f.kind == "video" then
      if not t0 and f.keyframe then t0 = f.pts end
      if t0 then
        local at = f.pts - t0
        if at >= seconds then done = true break end
        if out then out:write(f.data) end
        if o.sink then o.sink(f.data, f) end
        r.frames, r.bytes, r.seconds, r.codec = r.frames + 1, r.bytes + #f.data, at, f.codec
        r.lost = r.lost + (f.lost or 0)
        if o.progress then o.progress(at, seconds) end
      end
    elseif f.kind == "audio" and aout and t0 then
      aout:write(f.data)
    end
  end
  s:close()
  if not done then
    return finish(errors.fail("network", string.format(
      "record: the stream ended after %.1f of %g s", r.seconds, seconds)))
  end
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

-- cam:download{ start_time =, end_time =, event_type =, file_id =, client_id =,
--               file = "clip.bin", resume = false, progress = function(got, total) }
-- -> { file, bytes, total, received, resumed_from, ended } | nil, err
-- `ended` says how the end was known: "size" (all announced bytes came) or
-- "notification" (the camera said so, no size announced). A short file is
-- never reported complete: the error says how many bytes came, the file
-- keeps them, and resume = true continues it.
function M.download(cam, o)
  o = opts_table(o, "download")
  if type(o.file) ~= "string" then
    return errors.fail("invalid", "download: `file` (a path) is required", { field = "file" })
  end
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
  local f, ferr = io.open(o.file, x > 0 and "ab" or "wb")
  if not f then s:close() return errors.fail("invalid", "download: cannot write " .. tostring(ferr)) end
  local r = { file = o.file, total = total, resumed_from = x, received = 0, bytes = x }
  local failure
  for item in s:items() do
    if item.kind == "data" then
      f:write(item.data)
      r.bytes, r.received = r.bytes + #item.data, r.received + #item.data
      if o.progress then o.progress(r.bytes, total) end
      if total and r.bytes >= total then r.ended = "size" break end
    elseif item.kind == "notification" and stream.END_EVENTS[item.event_type] then
      r.ended = "notification"
      break
    elseif item.kind == "error" then
      failure = item.error
    end
  end
  f:close()
  s:close()
  local got = string.format("%d of %s bytes", r.bytes, total and tostring(total) or "an unknown number of")
  if total and r.bytes > total then
    return errors.fail("protocol", "download: the camera sent more than it announced (" .. got .. ")")
  end
  if total and r.bytes < total or not r.ended then
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
