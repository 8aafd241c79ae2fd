-- Two-way talk: G.711 RTP to the camera's speaker at real-time pace
-- (WIRE-NOTES §3 and §4 "Talk channel").
--
--   local t = assert(cam:talk{ mode = "half_duplex" })
--   t:send_pcm(samples [, timeout])   -- 16-bit little-endian mono PCM at 8 kHz
--   t:close([timeout])
--   assert(cam:talk{ file = "hello.wav" })   -- sends the file, then closes
--
-- Packets are 20 ms (160 samples) by default, PT 8 (A-law) or 0 (µ-law),
-- sequence numbers and timestamps from random starts, marker on the first.
-- send_pcm returns once the audio has been sent at real-time pace, waiting
-- through wait.lua, so that it yields inside vigi.run.
--
-- Every call keeps one deadline (docs/design.md, "Deadlines and bounds"),
-- taken at its entry: the audio's own duration plus `timeout` (the
-- session's, unless given). A camera that stops reading cannot hold a call
-- past it: the audio it has not acknowledged is kept under `max_lag`
-- seconds (nothing more is written meanwhile; the kernel's buffers, which
-- on loopback hold minutes of audio, are not where it piles up), and at
-- the deadline the call returns a `timeout` error, without raising.
local core = require "vigi.core"
local errors = require "vigi.errors"
local wait = require "vigi.wait"
local stream = require "vigi.stream"
local wav = require "vigi.stream.wav"

local _M = {}

local Talk = {}
Talk.__index = Talk
Talk.__name = "vigi.stream.talk"

local RATE = 8000
local HEADER = core.TALK_OVERHEAD -- interleave header and RTP header of every packet (rtp.h)
local MAX_LAG = 1     -- seconds of audio the camera may leave unacknowledged
_M.MAX_LAG = MAX_LAG

function Talk:__tostring()
  return string.format("vigi.talk{%s on channel %d, %d packets}", tostring(self.session.id),
    self.channel, self.packets)
end

-- The deadline of a call that sends `seconds` of audio: its entry, plus
-- the audio's time, plus `timeout` (default the session's).
function Talk:_deadline(seconds, timeout, what)
  if timeout == nil then timeout = self.session.answer_timeout end
  local deadline, err = wait.deadline(timeout, what .. ": timeout")
  if not deadline then return nil, err end
  return deadline + seconds, timeout
end

-- Whether the camera has left more than max_lag seconds of audio
-- unacknowledged (the socket cannot tell inside nginx: then never).
function Talk:_behind(size, period)
  local q = self.conn:unacked()
  return q ~= nil and q > math.max(size, math.floor(self.max_lag / period) * size)
end

-- One write before the deadline. When the deadline cuts it inside a
-- packet, the rest of that packet (at most one) is kept to go first next
-- time, so that the "$" framing stays whole; the packets after it are
-- not sent (their sequence numbers are a gap the camera sees as loss).
-- Returns the packets begun, and nil, err on failure.
function Talk:_write(chunk, size, deadline)
  local ok, err = self.conn:send(chunk, deadline)
  if ok then return math.floor(#chunk / size) end
  local sent = err.sent
  if sent == nil then
    -- The socket cannot say how much went: the framing is lost.
    self.session:_fail_connection(err)
    return 0, err
  end
  local begun = math.ceil(sent / size)
  if sent < begun * size then self.rest = chunk:sub(sent + 1, begun * size) end
  return begun, err
end

-- Sends whole packets from `data` ("$"-framed, each HEADER + samples
-- bytes), each at its due time: packet k since the pacing started goes at
-- t0 + k * period. Late packets go at once (catching up), never dropped,
-- unless the deadline comes first. The clock is read at every turn.
function Talk:_paced(data, deadline, seconds, timeout)
  local size = HEADER + self.samples
  local period = self.samples / RATE
  local begun = 0
  local function late(err)
    -- The pacing starts again with the next call.
    self.t0, self.paced = nil, 0
    if err and err.kind ~= "timeout" then return nil, err end
    return errors.fail("timeout", string.format(
      "talk: %s: the camera took %.2f of %.2f s of audio within %g s (it does not read what is sent)",
      self.conn.where, begun * period, seconds, seconds + timeout), { packets = begun })
  end
  if self.rest then
    local rest = self.rest
    self.rest = nil
    local _, err = self:_write(rest, size, deadline)
    if err then return late(err) end
  end
  local i, n = 1, #data
  while i <= n do
    if wait.expired(deadline) then return late() end
    local now = core.now()
    self.t0 = self.t0 or now
    local due = self.t0 + self.paced * period
    if due > now then
      wait.sleep(math.min(due - now, wait.left(deadline)))
    elseif self:_behind(size, period) then
      wait.sleep(math.min(period, wait.left(deadline)))
    else
      -- Everything due by now goes in one write.
      local count = math.max(1, math.floor((now - self.t0) / period) - self.paced + 1)
      local j = math.min(n, i + count * size - 1)
      local k, err = self:_write(data:sub(i, j), size, deadline)
      self.paced, self.packets, begun = self.paced + k, self.packets + k, begun + k
      if err then return late(err) end
      i = j + 1
    end
  end
  return true
end

function Talk:_send_g711(bytes, timeout, what)
  if self.closed then return errors.fail("invalid", "talk: the session is closed") end
  local seconds = #bytes / RATE
  local deadline, t = self:_deadline(seconds, timeout, what)
  if not deadline then return nil, t end
  return self:_paced(self.packer:pack(bytes), deadline, seconds, t)
end

-- t:send_g711(bytes [, timeout]): G.711 bytes of the session's law.
function Talk:send_g711(bytes, timeout)
  if type(bytes) ~= "string" then error("talk: send_g711 expects a string", 2) end
  return self:_send_g711(bytes, timeout, "talk: send_g711")
end

-- t:send_pcm(samples [, timeout]): 16-bit little-endian mono PCM at 8 kHz.
function Talk:send_pcm(pcm, timeout)
  if type(pcm) ~= "string" then error("talk: send_pcm expects a string", 2) end
  if #pcm % 2 ~= 0 then
    return errors.fail("invalid", "talk: PCM must be whole 16-bit samples (an even number of bytes)")
  end
  return self:_send_g711(core.g711_encode(pcm, self.law), timeout, "talk: send_pcm")
end

-- t:close([timeout]): what is left goes as a last short packet, then
-- stop; both within one deadline. The session is closed whatever
-- happened; a timeout or a failure is returned.
function Talk:close(timeout)
  if self.closed then return true end
  local rest = self.packer and self.packer:flush() or ""
  local seconds = #rest > 0 and self.samples / RATE or 0
  local deadline, t = self:_deadline(seconds, timeout, "talk: close")
  if not deadline then return nil, t end
  return self:_close_by(rest, deadline, seconds, t)
end

function Talk:_close_by(rest, deadline, seconds, timeout)
  self.closed = true
  local ok, err = true, nil
  if (#rest > 0 or self.rest) and self.conn:is_open() then ok, err = self:_paced(rest, deadline, seconds, timeout) end
  local sok, serr = self.session:_close(deadline)
  if not ok then return nil, err end
  if not sok then return nil, serr end
  return true
end
Talk.__close = function(self) self:close() end

local LAWS = { alaw = "alaw", ulaw = "ulaw", PCMA = "alaw", PCMU = "ulaw" }

-- talk.open(cam, opts) -> talk | summary (with `file`) | nil, err
-- opts: mode ("half_duplex"), law ("alaw"), samples (per packet, 160),
-- share (a preview session whose connection to use), file (a WAV file),
-- timeout, max_lag (seconds of audio the camera may leave
-- unacknowledged, 1). With `file`, the whole call has one deadline:
-- `timeout` for the open, the file's time, and `timeout` more.
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
  local lok, lerr = stream.number_opt("talk", o, "max_lag", 0.02, 3600)
  if not lok then return nil, lerr end
  local timeout = o.timeout or cam.timeout
  local deadline, derr = wait.deadline(timeout, "talk: timeout")
  if not deadline then return nil, derr end
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
    paced = 0, max_lag = o.max_lag or MAX_LAG,
    -- SSRC, first sequence number and timestamp: the packer's random picks
    packer = core.talk_packer { channel = channel, law = law, samples = samples },
  }, Talk)
  if not audio then return self end
  local g711 = audio.g711
  if g711 and audio.law ~= law then g711 = core.g711_encode(core.g711_decode(g711, audio.law), law)
  elseif not g711 then g711 = core.g711_encode(audio.pcm, law) end
  local seconds = #g711 / RATE
  -- One deadline for it all: the open's timeout, the audio, a timeout more.
  deadline = deadline + seconds + timeout
  local ok, serr = self:_paced(self.packer:pack(g711), deadline, seconds, timeout)
  local rest = self.packer:flush()
  local cok, cerr = self:_close_by(ok and rest or "", deadline, seconds, timeout)
  if not ok then return nil, serr end
  if not cok then return nil, cerr end
  return { file = o.file, packets = self.packets, seconds = self.packets * samples / RATE }
end

return _M
