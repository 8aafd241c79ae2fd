-- Streams of a camera: a few seconds of live frames, a recording saved
-- with ffprobe's opinion of it, a download, and a tone on the speaker.
-- Against a vigi-sim it starts, unless VIGI_HOST names a camera.
--
--   lua5.4 examples/stream.lua
--   VIGI_HOST=192.0.2.7 VIGI_PASSWORD=... lua5.4 examples/stream.lua
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = "lua/?.so;" .. package.cpath
local vigi = require "vigi"

local host, port, password = os.getenv("VIGI_HOST"), nil, os.getenv("VIGI_PASSWORD")
local sim
if not host then
  sim = assert(require("vigi.sim").start())
  host, port, password = sim.host, sim.port, sim.password
  print(("started vigi-sim on %s:%d (stream port %d)"):format(host, port, sim.stream))
end
local cam = assert(vigi.connect { host = host, port = port, password = password })

-- Live frames: whole access units and G.711 packets, with their pts.
local s = assert(cam:preview { resolution = "HD" })
local video, audio, bytes = 0, 0, 0
for f in s:frames() do
  if f.kind == "video" then
    video, bytes = video + 1, bytes + #f.data
    if f.keyframe then print(("keyframe at %.2f s, %d bytes, %s"):format(f.pts, #f.data, f.codec)) end
    if f.pts >= 2 then break end
  elseif f.kind == "audio" then
    audio = audio + 1
  elseif f.kind == "error" then
    print("stream error: " .. tostring(f.error))
  end
end
s:close()
print(("2 s of preview: %d video frames (%d bytes), %d audio packets"):format(video, bytes, audio))

-- A recording ffprobe can read.
local file = os.tmpname() .. ".h264"
local r = assert(cam:record { seconds = 3, file = file })
print(("recorded %s: %d frames, %.1f s, %d bytes"):format(file, r.frames, r.seconds, r.bytes))
os.execute("ffprobe -v error -show_entries stream=codec_name,width,height -of compact " .. file ..
  " 2>/dev/null || echo '(ffprobe not installed)'")
os.remove(file)

-- A download of the first minute of today, resumable.
local t0 = os.time() - os.time() % 86400
local clip = os.tmpname() .. ".bin"
local d, err = cam:download { start_time = t0, end_time = t0 + 60, event_type = { "MotionDetection" },
  file = clip, resume = true, progress = function(got, total)
    io.write(("\rdownloading %d / %s bytes"):format(got, tostring(total))) io.flush()
  end }
print()
if d then print(("downloaded %d bytes to %s"):format(d.bytes, clip)) else print(err) end
os.remove(clip)

-- One second of a 440 Hz tone on the camera's speaker.
local pcm = {}
for i = 0, 7999 do
  local v = math.floor(8000 * math.sin(2 * math.pi * 440 * i / 8000))
  pcm[#pcm + 1] = string.pack("<i2", v)
end
local t = assert(cam:talk { mode = "half_duplex" })
assert(t:send_pcm(table.concat(pcm)))
t:close()
print("sent one second of tone to the speaker")

cam:close()
if sim then sim:stop() end
