-- A short tour of a camera: log in, read a few things, change a setting
-- and read it back, and see a bad parameter refused before it is sent.
--
--   lua5.4 examples/tour.lua                 -- against a vigi-sim it starts
--   VIGI_HOST=192.0.2.7 VIGI_PASSWORD=... lua5.4 examples/tour.lua
--
-- (Run from the checkout after `make`, or with vigi installed.)
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = "lua/?.so;" .. package.cpath
local vigi = require "vigi"

local host, port, password = os.getenv("VIGI_HOST"), nil, os.getenv("VIGI_PASSWORD")
local sim
if not host then
  sim = assert(require("vigi.sim").start())
  host, port, password = sim.host, sim.port, sim.password
  print(("started vigi-sim, a simulated camera, on %s:%d"):format(host, port))
end

local function show(label, value) print(("  %-22s %s"):format(label, tostring(value))) end

local cam = assert(vigi.connect { host = host, port = port, password = password })
print(("logged in to %s (%s login)"):format(host, cam.login_form))

local info = assert(cam:getDeviceInfo())
print("device")
show("model", info.model)
show("alias", info.alias)
show("firmware", info.swVer)
show("MAC", info.mac)

local status = assert(cam:getDeviceStatus())
show("uptime (s)", status.uptime)

local tz = assert(cam:getTimezone())
show("time zone", tz.timezone .. " " .. tostring(tz.area))

print("motion detection")
local md = assert(cam:getMotionDetectionSwitch())
show("before", ("enabled=%s sensitivity=%s"):format(md.enabled, md.sensitivity))
assert(cam:setMotionDetectionSwitch { enabled = "on", sensitivity = 80 })
md = assert(cam:getMotionDetectionSwitch())
show("after set", ("enabled=%s sensitivity=%s"):format(md.enabled, md.sensitivity))

print("a bad parameter is refused before anything is sent")
local ok, err = cam:setSpeakerVolume { volume = 150 }
show("setSpeakerVolume 150", ok and "accepted?!" or tostring(err))

print("live video (two seconds)")
local s, serr = cam:preview { resolution = "HD" }
if s then
  local frames, keys, bytes, codec = 0, 0, 0, "?"
  for f in s:frames() do
    if f.kind == "video" then
      frames, bytes, codec = frames + 1, bytes + #f.data, f.codec
      if f.keyframe then keys = keys + 1 end
      if f.pts >= 2 then break end
    elseif f.kind == "error" then
      show("stream", tostring(f.error))
    end
  end
  s:close()
  show("frames", ("%d %s frames, %d keyframes, %d bytes"):format(frames, codec, keys, bytes))
else
  show("stream", tostring(serr))
end

local n = 0
for _, row in ipairs(vigi.methods) do if row.access == "read" then n = n + 1 end end
print(("%d methods in all, %d of them read-only; `bin/vigi methods` lists them"):format(#vigi.methods, n))

print("to try calls by hand: bin/vigi shell --sim (docs/shell.md)")

cam:close()
if sim then sim:stop() end
