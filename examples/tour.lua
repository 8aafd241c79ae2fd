-- A short tour of a camera: log in, read a few things, change a setting
-- and read it back, and see a bad parameter refused before it is sent.
--
--   lua5.4 examples/tour.lua                 -- against a vigi-sim it starts
--   VIGI_HOST=192.0.2.7 VIGI_PASSWORD=... lua5.4 examples/tour.lua
--   (VIGI_PORT too, when the control port is not 20443)
--
-- (Run from the checkout after `make`, or with vigi installed.)
--
-- Cameras differ: a call this one refuses, or a step that fails, is shown
-- as its error line and the tour goes on. It ends with a non-zero status
-- only when it could not log in at all.
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = "lua/?.so;" .. package.cpath
local vigi = require "vigi"

local host, port, password = os.getenv("VIGI_HOST"), tonumber(os.getenv("VIGI_PORT") or ""),
  os.getenv("VIGI_PASSWORD")
local sim
if not host then
  local err
  sim, err = require("vigi.sim").start()
  if not sim then
    io.stderr:write("could not start vigi-sim: ", tostring(err), "\n")
    os.exit(1)
  end
  host, port, password = sim.host, sim.port, sim.password
  print(("started vigi-sim, a simulated camera, on %s:%d"):format(host, port))
end

local function show(label, value) print(("  %-22s %s"):format(label, tostring(value))) end

-- One step of the tour: fn(cam) returns nil, err for a refusal or a failed
-- call (shown as the step's error line); a Lua error inside it (an answer
-- shaped unlike the document's) is shown the same way.
local failures = 0
local function step(label, fn, cam)
  local ok, res, err = pcall(fn, cam)
  if not ok then err = res end
  if not ok or (res == nil and err ~= nil) then
    failures = failures + 1
    show(label, "error: " .. tostring(err))
  end
end

local cam, cerr = vigi.connect { host = host, port = port, password = password }
if not cam then
  io.stderr:write("could not log in to ", host, ": ", tostring(cerr), "\n")
  if sim then sim:stop() end
  os.exit(1)
end
print(("logged in to %s (%s login)"):format(host, cam.login_form))

print("device")
step("device info", function(c)
  local info, err = c:getDeviceInfo()
  if not info then return nil, err end
  show("model", info.model)
  show("alias", info.alias)
  show("firmware", info.swVer)
  show("MAC", info.mac)
  return true
end, cam)

step("uptime (s)", function(c)
  local status, err = c:getDeviceStatus()
  if not status then return nil, err end
  show("uptime (s)", status.uptime)
  return true
end, cam)

step("time zone", function(c)
  local tz, err = c:getTimezone()
  if not tz then return nil, err end
  show("time zone", tostring(tz.timezone) .. " " .. tostring(tz.area))
  return true
end, cam)

print("motion detection")
step("motion detection", function(c)
  local md, err = c:getMotionDetectionSwitch()
  if not md then return nil, err end
  show("before", ("enabled=%s sensitivity=%s"):format(md.enabled, md.sensitivity))
  local ok, serr = c:setMotionDetectionSwitch { enabled = "on", sensitivity = 80 }
  if not ok then return nil, serr end
  md, err = c:getMotionDetectionSwitch()
  if not md then return nil, err end
  show("after set", ("enabled=%s sensitivity=%s"):format(md.enabled, md.sensitivity))
  return true
end, cam)

print("a bad parameter is refused before anything is sent")
local ok, err = cam:setSpeakerVolume { volume = 150 }
show("setSpeakerVolume 150", ok and "accepted?!" or tostring(err))

print("live video (two seconds)")
step("stream", function(c)
  local s, serr = c:preview { resolution = "HD" }
  if not s then return nil, serr end
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
  return true
end, cam)

local n = 0
for _, row in ipairs(vigi.methods) do if row.access == "read" then n = n + 1 end end
print(("%d methods in all, %d of them read-only; `bin/vigi methods` lists them"):format(#vigi.methods, n))
if failures > 0 then
  print(("%d step(s) of the tour were refused or failed on this camera (shown above)"):format(failures))
end

print("to try calls by hand: bin/vigi shell --sim (docs/shell.md)")

cam:close()
if sim then sim:stop() end
