-- Many cameras at once in one Lua state: discover them, then one task per
-- camera (vigi.run / vigi.spawn) reads its model and listens for events
-- while the others do the same.
--
--   lua5.4 examples/fleet.lua                        -- against 20 vigi-sims it starts
--   VIGI_HOSTS=10.1.3.0/24 VIGI_PASSWORD=... lua5.4 examples/fleet.lua
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = "lua/?.so;" .. package.cpath
local vigi = require "vigi"

local hosts, password, odp_port, port = os.getenv("VIGI_HOSTS"), os.getenv("VIGI_PASSWORD"), nil, nil
local sim
if not hosts then
  sim = assert(require("vigi.sim").start { "--fleet", "20" })
  hosts, password, odp_port, port = "127.0.1.0/27", sim.password, sim.odp, sim.port
  print(("started %d simulated cameras on 127.0.1.1-%d"):format(sim.fleet, sim.fleet))
end

local t0 = os.time()
vigi.run(function()
  local devices = assert(vigi.discover { hosts = { hosts }, port = odp_port, timeout = 1 })
  print(("%d camera(s) found"):format(#devices))
  for _, d in ipairs(devices) do
    vigi.spawn(function()
      -- d.ip: where the reply came from (what a reply claims is d.claimed_ip)
      local cam, err = vigi.connect { host = d.ip, port = port or d.port, password = password }
      if not cam then print(d.ip, err) return end
      local info = assert(cam:getDeviceInfo())
      print(("%-15s %s %s"):format(d.ip, info.model, info.swVer))
      -- Each task waits for its camera's events; the others go on meanwhile.
      local sub = assert(cam:subscribe { event_types = { "all" }, heartbeat = 5 })
      local ev = sub:next(3)
      if ev and ev.kind == "event" then print(("%-15s %s"):format(d.ip, ev.event_type)) end
      sub:close()
      cam:close()
    end)
  end
  if sim then
    -- someone walks past the first camera
    vigi.sleep(1)
    os.execute(("curl -sk -X POST https://%s:%d/__sim__/event -d '{\"event_type\":\"MotionDetection\"}' >/dev/null")
      :format(devices[1].ip, port))
  end
end)
print(("all done in about %d s (each camera waited 3 s, side by side)"):format(os.time() - t0))
if sim then sim:stop() end
