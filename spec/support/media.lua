-- Files the stream specs write and read back: temporary names, digests,
-- and ffprobe's count of the frames a file decodes to.
local helper = require "spec.helper"
local core = require "vigi.core"

local M = {}

-- A name for a temporary file ending in `ext` (the file does not exist).
function M.tmpname(ext)
  local n = os.tmpname()
  os.remove(n)
  return n .. ext
end

-- The file's SHA-256 (hex) and its size.
function M.sha256_file(path)
  local f = assert(io.open(path, "rb"))
  local data = f:read("*a")
  f:close()
  return core.sha256_hex(data), #data
end

-- ffprobe_frames(path [, format]) -> frames decoded, codec name, ffprobe's
-- output. format: "h264" (default) or "hevc", an elementary stream.
function M.ffprobe_frames(path, format)
  local out = helper.sh(string.format(
    "ffprobe -v error -f %s -count_frames -select_streams v:0 -show_entries stream=nb_read_frames,codec_name " ..
    "-of default=nw=1 %s 2>&1", format or "h264", helper.quote(path)))
  return tonumber(out:match("nb_read_frames=(%d+)")), out:match("codec_name=(%w+)"), out
end

return M
