-- Find cameras and read each one's model over the control API.
--
--   lua5.4 examples/discover.lua                       -- against a fleet of vigi-sims it starts
--   VIGI_HOSTS=10.1.3.0/24 VIGI_PASSWORD=... lua5.4 examples/discover.lua
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = "lua/?.so;" .. package.cpath
local vigi = require "vigi"

local hosts, password, port = os.getenv("VIGI_HOSTS"), os.getenv("VIGI_PASSWORD"), nil
local sim
if not hosts then
  sim = assert(require("vigi.sim").start { "--fleet", "5", "--odp-port", "0" })
  hosts, password, port = "127.0.1.0/29", sim.password, sim.odp
  print(("started a fleet of %d simulated cameras on 127.0.1.1-5"):format(sim.fleet))
end

local list, stats = vigi.discover {
  hosts = { hosts }, port = port, timeout = 2,
  on_device = function(d) print(("found %-15s %s %s"):format(d.ip, d.mac, d.device_model)) end,
}
assert(list, stats)
print(("%d camera(s), %d probes sent, %d answers"):format(#list, stats.sent, stats.received))

for _, d in ipairs(list) do
  -- d.ip is the address the reply came from, never the one written in it
  -- (d.claimed_ip): the password goes only to a host that answered. A reply
  -- whose claim differs is flagged; say so, and still talk to the source.
  if d.spoofed then
    print(("%-15s its reply claims to be %s"):format(d.ip, tostring(d.claimed_ip)))
  end
  local cam, err = vigi.connect { host = d.ip, port = sim and sim.port or d.port, password = password }
  if cam then
    local info = assert(cam:getDeviceInfo())
    print(("%-15s alias %q, firmware %s"):format(d.ip, info.alias, info.swVer))
    cam:close()
  else
    print(d.ip, tostring(err))
  end
end
if sim then sim:stop() end
