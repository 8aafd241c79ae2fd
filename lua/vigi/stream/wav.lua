-- WAV files for talk: 8 kHz mono, 16-bit PCM or G.711 (A-law, µ-law).
-- Anything else is refused with the command that converts it.
local errors = require "vigi.errors"

local _M = {}

local CONVERT = "convert it with: ffmpeg -i IN -ar 8000 -ac 1 -c:a pcm_s16le OUT.wav"
-- A talk file is a few minutes at most; this bounds what is read.
_M.MAX_BYTES = 64 * 1024 * 1024

local function u16(s, i) local a, b = s:byte(i, i + 1) return a + b * 256 end
local function u32(s, i) local a, b, c, d = s:byte(i, i + 3) return a + b * 256 + c * 65536 + d * 16777216 end

local function bad(path, why)
  return errors.fail("invalid", string.format("talk: %s: %s; %s", path, why, CONVERT))
end

-- parse(bytes, name) -> { pcm = s } | { g711 = s, law = "alaw"|"ulaw" } | nil, err
function _M.parse(data, path)
  path = path or "WAV data"
  if #data < 12 or data:sub(1, 4) ~= "RIFF" or data:sub(9, 12) ~= "WAVE" then
    return bad(path, "not a WAV file")
  end
  local i, fmt = 13, nil
  while i + 8 <= #data + 1 do
    local id, size = data:sub(i, i + 3), u32(data, i + 4)
    local body = i + 8
    if id == "fmt " then
      if size < 16 or body + 15 > #data then return bad(path, "short fmt chunk") end
      fmt = { tag = u16(data, body), channels = u16(data, body + 2), rate = u32(data, body + 4),
              bits = u16(data, body + 14) }
      if fmt.tag == 0xFFFE and size >= 26 then fmt.tag = u16(data, body + 24) end -- extensible
    elseif id == "data" then
      if not fmt then return bad(path, "data before fmt") end
      local payload = data:sub(body, body + size - 1) -- a short file keeps what it has
      if fmt.channels ~= 1 or fmt.rate ~= 8000 then
        return bad(path, string.format("%d Hz, %d channel(s); talk needs 8000 Hz mono",
          fmt.rate, fmt.channels))
      end
      if fmt.tag == 1 and fmt.bits == 16 then return { pcm = payload:sub(1, #payload - #payload % 2) } end
      if fmt.tag == 6 and fmt.bits == 8 then return { g711 = payload, law = "alaw" } end
      if fmt.tag == 7 and fmt.bits == 8 then return { g711 = payload, law = "ulaw" } end
      return bad(path, string.format("format %d with %d-bit samples; talk needs 16-bit PCM or G.711",
        fmt.tag, fmt.bits))
    end
    i = body + size + size % 2 -- chunks are padded to even sizes
  end
  return bad(path, "no data chunk")
end

-- read(path) -> as parse
function _M.read(path)
  local f, err = io.open(path, "rb")
  if not f then return errors.fail("invalid", "talk: cannot read " .. tostring(err)) end
  local data = f:read(_M.MAX_BYTES + 1) or ""
  f:close()
  if #data > _M.MAX_BYTES then return bad(path, "larger than 64 MiB") end
  return _M.parse(data, path)
end

-- encode(pcm) -> a WAV file's bytes (8 kHz mono 16-bit), for tests and tools.
function _M.encode(pcm)
  local function le(n, w)
    local t = {}
    for k = 1, w do t[k] = string.char(n % 256) n = math.floor(n / 256) end
    return table.concat(t)
  end
  return "RIFF" .. le(36 + #pcm, 4) .. "WAVE" .. "fmt " .. le(16, 4) .. le(1, 2) .. le(1, 2) ..
    le(8000, 4) .. le(16000, 4) .. le(2, 2) .. le(16, 2) .. "data" .. le(#pcm, 4) .. pcm
end

return _M
