-- Subscribe to a camera's events and print them as they come; against a
-- vigi-sim it starts, events are injected through its test-only admin path.
--
--   lua5.4 examples/events.lua
--   VIGI_HOST=192.0.2.7 VIGI_PASSWORD=... lua5.4 examples/events.lua
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = "lua/?.so;" .. package.cpath
local vigi = require "vigi"

local host, port, password = os.getenv("VIGI_HOST"), nil, os.getenv("VIGI_PASSWORD")
local sim
if not host then
  sim = assert(require("vigi.sim").start())
  host, port, password = sim.host, sim.port, sim.password
  print(("started vigi-sim on %s:%d"):format(host, port))
end

local cam = assert(vigi.connect { host = host, port = port, password = password })
local sub = assert(cam:subscribe { event_types = { "MotionDetection", "PeopleDetection" }, heartbeat = 5 })
print("subscribed; waiting for events (10 s)")

if sim then
  -- a simulated camera needs someone to walk past it
  assert(cam:setMsgpushInterval { event_interval = 0 })
  for _, t in ipairs { "MotionDetection", "PeopleDetection", "MotionDetection_people_enhance" } do
    os.execute(("curl -sk -X POST https://%s:%d/__sim__/event -d '{\"event_type\":\"%s\"}' >/dev/null")
      :format(host, port, t))
  end
end

local n = 0
local stop = os.time() + 10
while os.time() < stop do
  local ev = sub:next(stop - os.time())
  if not ev then break end
  if ev.kind == "event" then
    n = n + 1
    print(("%s  %-18s %s"):format(os.date("%H:%M:%S", ev.time), ev.event_type, ev.enhance or ""))
    if sim and n == 3 then break end
  elseif ev.kind == "gap" then
    print(("-- lost from %s to %s (%s)"):format(os.date("%H:%M:%S", ev.from), os.date("%H:%M:%S", ev.to), ev.reason))
  end
end
sub:close()
cam:close()
if sim then sim:stop() end
