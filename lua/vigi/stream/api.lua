-- The requests of the stream interface (the document's section 5), as
-- data in methods.lua's row format, so that check.lua refuses a bad
-- parameter before anything is sent and `vigi methods` can list them.
--
-- Each row adds `verb` ("get" or "do") and `key`: the request body is
-- {"method":<verb>,<key>:<params>}; with `wrap`, the params go one level
-- down, {<key>:{<wrap>:<params>}}; with `literal`, that JSON text stands
-- for the params (stop takes none). Times are epoch seconds; the document
-- sends them as strings, so they are given as numbers or numeric strings
-- and sent as strings (wire = "string").
local methods = require "vigi.methods"

local _M = {}

-- Playback and download filter on these (5.2, 5.3), "Timing" included.
local EVENT_TYPES = methods.EVENT_TYPES
_M.EVENT_TYPES = EVENT_TYPES

local function time(name, required, doc)
  return { name = name, type = "int", wire = "string", min = 0, max = 4294967295,
           required = required, doc = doc }
end

local function events(name, doc)
  return { name = name, type = "array", items = { type = "string", enum = EVENT_TYPES }, doc = doc }
end

local SCALE = { name = "scale", type = "string", pattern = "^[+-]%d+/%d+$", format = "+n/m",
                doc = "rate and direction; cameras support only +1/1" }

_M.list = {
  { name = "preview", verb = "get", key = "preview", section = "5.1",
    summary = "Live video and audio of the camera.",
    params = {
      { name = "resolutions", type = "array", max_items = 4,
        items = { type = "string", enum = { "HD", "VGA" } },
        doc = "the stream to get (required on cameras with several)" },
    } },
  { name = "playback", verb = "get", key = "playback", section = "5.2",
    summary = "Recorded video and audio between two times.",
    params = {
      { name = "client_id", type = "string", min_len = 1, max_len = 64,
        doc = "chosen by the client, unique per client" },
      SCALE,
      events("event_type", "recordings of these event types"),
      events("event_type_exclude", "all recordings but these event types"),
      time("start_time", true, "start, epoch seconds"),
      time("end_time", true, "end, epoch seconds"),
    } },
  { name = "download", verb = "get", key = "download", section = "5.3",
    summary = "The bytes of a recording file, resumable.",
    params = {
      { name = "client_id", type = "int", min = 0, max = 32, doc = "0..32" },
      { name = "file_id", type = "string", max_len = 128, doc = "from getMediaList" },
      events("event_type", "recordings of these event types"),
      { name = "media_type", type = "string", enum = { "video" }, doc = "only \"video\"" },
      time("start_time", true, "start, epoch seconds"),
      time("end_time", true, "end, epoch seconds"),
      { name = "range", type = "string", pattern = "^%d+%-%d*$", format = "x- or x-y",
        doc = "bytes to send, for resuming" },
    } },
  { name = "stop", verb = "do", key = "stop", section = "5.4",
    literal = '"null"', -- the document's own form
    summary = "End a session." },
  { name = "play", verb = "do", key = "play", section = "5.5.1",
    summary = "Change a playback's window, rate or event types.",
    params = {
      time("start_time", false, "new start, epoch seconds"),
      time("end_time", false, "new end, epoch seconds"),
      SCALE,
      events("event_type", "recordings of these event types"),
      events("event_type_exclude", "all recordings but these event types"),
    } },
  { name = "force_iframe", verb = "do", key = "video", wrap = "force_iframe", section = "5.6.1",
    summary = "Make the camera send a keyframe now.",
    params = {
      { name = "stream_type", type = "string", enum = { "main", "minor", "default" },
        doc = "main or minor stream" },
    } },
  { name = "talk", verb = "get", key = "talk", section = "5.7",
    summary = "Send audio to the camera's speaker.",
    params = {
      { name = "mode", type = "string", required = true, enum = { "half_duplex", "aec" },
        doc = "half_duplex, or aec (full duplex)" },
    } },
}

_M.by_name = {}
for _, row in ipairs(_M.list) do
  row.group, row.access = "stream", "stream"
  _M.by_name[row.name] = row
end
-- event_type and event_type_exclude exclude each other (5.2).
_M.by_name.playback.exclusive = { "event_type", "event_type_exclude" }
_M.by_name.play.exclusive = { "event_type", "event_type_exclude" }

return _M
