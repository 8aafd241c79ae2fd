-- Two-way talk: G.711 RTP to the camera's speaker at real-time pace
-- (WIRE-NOTES §3 and §4 "Talk channel").
--
--   local t = assert(cam:talk{ mode = "half_duplex" })
--   t:send_pcm(samples)   -- 16-bit little-endian mono PCM at 8 kHz
--   t:close()
--   assert(cam:talk{ file = "hello.wav" })   -- sends the file, then closes
--
-- Packets are 20 ms (160 samples) by default, PT 8 (A-law) or 0 (µ-law),
-- sequence numbers and timestamps from random starts, marker on the first.
-- send_pcm returns once the audio has been sent at real-time pace, waiting
-- through wait.lua, so that it yields inside vigi.run.
local core = require "vigi.core"
local errors = require "vigi.errors"
local wait = require "vigi.wait"
local stream = require "vigi.stream"
local wav = require "vigi.wav"

local _M = {}

local Talk = {}
Talk.__index = Talk
Talk.__name = "vigi.talk"

local RATE = 8000
local HEADER = 4 + 12 -- interleave header and RTP header of every packet

function Talk:__tostring()
  return string.format("vigi.talk{%s on channel %d, %d packets}", tostring(self.session.id),
    self.channel, self.packets)
end

-- Sends whole packets from `data` ("$"-framed, each HEADER + samples
-- bytes), each at its due time: packet k of the session goes at t0 + k *
-- period. Late packets go at once (catching up), never dropped.
function Talk:_paced(data)
  local size = HEADER + self.samples
  local period = self.samples / RATE
  local i, n = 1, #data
  while i <= n do
    local now = core.now()
    self.t0 = self.t0 or now
    local due = self.t0 + self.packets * period
    if due > now then wait.sleep(due - now) end
    -- Everything due by now goes in one write.
    local count = math.max(1, math.floor((core.now() - self.t0) / period) - self.packets + 1)
    local j = math.min(n, i + count * size - 1)
    local ok, err = self.conn:send(data:sub(i, j), core.now() + self.session.answer_timeout)
    if not ok then return nil, err end
    self.packets = self.packets + math.floor((j - i + 1) / size)
    i = j + 1
  end
  return true
end

-- t:send_g711(bytes): G.711 bytes of the session's law.
function Talk:send_g711(bytes)
  if self.closed then return errors.fail("invalid", "talk: the session is closed") end
  if type(bytes) ~= "string" then error("talk: send_g711 expects a string", 2) end
  return self:_paced(self.packer:pack(bytes))
end

-- t:send_pcm(samples): 16-bit little-endian mono PCM at 8 kHz.
function Talk:send_pcm(pcm)
  if type(pcm) ~= "string" then error("talk: send_pcm expects a string", 2) end
  if #pcm % 2 ~= 0 then
    return errors.fail("invalid", "talk: PCM must be whole 16-bit samples (an even number of bytes)")
  end
  return self:send_g711(core.g711_encode(pcm, self.law))
end

-- t:close(): what is left goes as a last short packet, then stop.
function Talk:close()
  if self.closed then return true end
  local rest = self.packer and self.packer:flush() or ""
  local ok, err = true, nil
  if #rest > 0 and self.conn.tcp then ok, err = self:_paced(rest) end
  self.closed = true
  self.session:close()
  return ok, err
end
Talk.__close = Talk.close

local LAWS = { alaw = "alaw", ulaw = "ulaw", PCMA = "alaw", PCMU = "ulaw" }

-- talk.open(cam, opts) -> talk | summary (with `file`) | nil, err
-- opts: mode ("half_duplex"), law ("alaw"), samples (per packet, 160),
-- share (a preview session whose connection to use), file (a WAV file).
function _M.open(cam, o)
  if o ~= nil and type(o) ~= "table" then error("talk: expects a table of options", 2) end
  o = o or {}
  local law = LAWS[o.law or "alaw"]
  if not law then
    return errors.fail("invalid", "talk: `law` must be \"alaw\" or \"ulaw\"", { field = "law" })
  end
  local samples = o.samples or 160
  if type(samples) ~= "number" or samples < 8 or samples > 8000 or samples % 1 ~= 0 then
    return errors.fail("invalid", "talk: `samples` per packet must be an integer 8..8000", { field = "samples" })
  end
  local audio
  if o.file then
    local a, werr = wav.read(o.file)
    if not a then return nil, werr end
    audio = a
  end
  local s, err = stream.open(cam, "talk", { mode = o.mode or "half_duplex" }, o)
  if not s then return nil, err end
  -- The answer names the channel in `interleaved`, or (real firmware)
  -- does not, and then it is the lowest even id free on the connection,
  -- which stream.open already chose.
  local channel = s.channels[1]
  local self = setmetatable({
    session = s, conn = s.conn, channel = channel, law = law, samples = samples, packets = 0,
    -- SSRC, first sequence number and timestamp: the packer's random picks
    packer = core.talk_packer { channel = channel, law = law, samples = samples },
  }, Talk)
  if not audio then return self end
  local ok, serr
  if audio.g711 and audio.law == law then ok, serr = self:send_g711(audio.g711)
  elseif audio.g711 then ok, serr = self:send_pcm(core.g711_decode(audio.g711, audio.law))
  else ok, serr = self:send_pcm(audio.pcm) end
  local cok, cerr = self:close()
  if not ok then return nil, serr end
  if not cok then return nil, cerr end
  return { file = o.file, packets = self.packets, seconds = self.packets * samples / RATE }
end

return _M
