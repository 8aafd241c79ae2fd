-- vigi inside a cqueues controller: two cameras' subscriptions and a
-- preview, each in a coroutine of the controller; every vigi wait yields
-- to cqueues, so they run side by side with any other cqueues code.
--
--   lua5.4 examples/cqueues.lua          -- against vigi-sims it starts (needs lua-cqueues)
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = "lua/?.so;" .. package.cpath
local cqueues = require "cqueues"
local vigi = require "vigi"

local sim = assert(require("vigi.sim").start { "--fleet", "2" })
local cq = cqueues.new()

for _, ip in ipairs(sim.addresses) do
  cq:wrap(function()
    local cam = assert(vigi.connect { host = ip, port = sim.port, password = sim.password })
    local sub = assert(cam:subscribe { event_types = { "all" }, heartbeat = 5 })
    print(ip, "subscribed")
    local ev = sub:next(3)
    print(ip, ev and ev.kind == "event" and ev.event_type or "no event in 3 s")
    sub:close()
    cam:close()
  end)
end

cq:wrap(function()
  local cam = assert(vigi.connect { host = sim.addresses[1], port = sim.port, password = sim.password })
  local s = assert(cam:preview {})
  local n = 0
  for f in s:frames() do
    if f.kind == "video" then n = n + 1 end
    if n == 25 then break end
  end
  s:close()
  print("preview: 25 frames read while the subscriptions waited")
  os.execute(("curl -sk -X POST https://%s:%d/__sim__/event -d '{\"event_type\":\"MotionDetection\"}' >/dev/null")
    :format(sim.addresses[2], sim.port))
  cam:close()
end)

assert(cq:loop())
sim:stop()
