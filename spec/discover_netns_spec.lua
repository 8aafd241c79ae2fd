-- Broadcast discovery for real: two network namespaces joined by a veth
-- pair, with private addresses that exist only inside them. vigi-sim
-- answers in one; vigi.discover broadcasts from the other. Needs root and
-- iproute2 (CI has both); otherwise the spec says why it skipped.
local json = require "vigi.json"

-- Names unique to this process (runs for several Lua versions may overlap).
local function own_pid()
  local f = io.open("/proc/self/stat")
  local pid = f and f:read("*l"):match("^%d+")
  if f then f:close() end
  return pid
end
local SUFFIX = own_pid() or tostring(math.random(100000, 999999))
local NS_CLIENT, NS_CAMERA = "vigi-c-" .. SUFFIX, "vigi-s-" .. SUFFIX
local NET = "10.231.77."

local function sh(cmd) return os.execute(cmd .. " >/dev/null 2>&1") end
local function ok(r) return r == true or r == 0 end

local function can_use_netns()
  local p = io.popen("id -u")
  local uid = p:read("*l")
  p:close()
  if uid ~= "0" then return false, "not root" end
  if not ok(sh("command -v ip")) then return false, "no ip command (iproute2)" end
  if not ok(sh("ip netns add " .. NS_CLIENT)) then return false, "ip netns add failed" end
  return true
end

local function setup_pair()
  local steps = {
    "ip netns add " .. NS_CAMERA,
    "ip link add vc" .. SUFFIX .. " type veth peer name vs" .. SUFFIX,
    "ip link set vc" .. SUFFIX .. " netns " .. NS_CLIENT,
    "ip link set vs" .. SUFFIX .. " netns " .. NS_CAMERA,
    "ip -n " .. NS_CLIENT .. " addr add " .. NET .. "1/24 dev vc" .. SUFFIX,
    "ip -n " .. NS_CAMERA .. " addr add " .. NET .. "2/24 dev vs" .. SUFFIX,
    "ip -n " .. NS_CLIENT .. " link set lo up",
    "ip -n " .. NS_CAMERA .. " link set lo up",
    "ip -n " .. NS_CLIENT .. " link set vc" .. SUFFIX .. " up",
    "ip -n " .. NS_CAMERA .. " link set vs" .. SUFFIX .. " up",
    -- 255.255.255.255 leaves by the route's interface: the veth, inside the namespace
    "ip -n " .. NS_CLIENT .. " route add default dev vc" .. SUFFIX,
  }
  for _, s in ipairs(steps) do assert(ok(sh(s)), "netns set-up failed: " .. s) end
end

local function teardown_pair()
  sh("ip netns pids " .. NS_CAMERA .. " | xargs -r kill")
  sh("ip netns del " .. NS_CLIENT)
  sh("ip netns del " .. NS_CAMERA)
end

describe("broadcast discovery across a veth pair in network namespaces", function()
  local usable, why = can_use_netns()
  if not usable then
    it("is skipped: " .. why, function()
      print("\ndiscover_netns_spec: skipped, " .. why)
      pending(why)
    end)
    return
  end

  setup(function()
    setup_pair()
    local cmd = "ip netns exec " .. NS_CAMERA .. " sim/vigi-sim --address " .. NET ..
      "2 --control-port 0 --odp-port 23001 --odp-any --password secret >/dev/null 2>&1 &"
    assert(ok(os.execute(cmd)))
    os.execute("sleep 0.5")
  end)
  teardown(teardown_pair)

  it("finds the camera by broadcast, with no address given", function()
    -- The client runs on the Lua that runs this spec, with its module paths.
    local lua = jit and "luajit" or _VERSION:gsub("^Lua ", "lua")
    local script = string.format("package.path=%q; package.cpath=%q;", package.path, package.cpath) ..
      "local v=require'vigi'; local j=require'vigi.json';" ..
      "local l,s=v.discover{timeout=1.5}; print(j.encode({list=l,stats=s}))"
    local p = io.popen("ip netns exec " .. NS_CLIENT .. " " .. lua .. " -e " .. require("spec.helper").quote(script))
    local out = p:read("*a")
    p:close()
    local r = assert(json.decode(out), "no JSON from the client: " .. out)
    assert.equal(1, #r.list)
    assert.equal(NET .. "2", r.list[1].ip)
    assert.equal(NET .. "2", r.list[1].from)
    assert.is_true(r.stats.sent >= 2)   -- 255.255.255.255 and the veth's broadcast
  end)
end)
