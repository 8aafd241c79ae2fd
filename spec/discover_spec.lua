-- Discovery end to end over UDP on loopback: vigi-sim cameras (one, and a
-- fleet), sim faults, and a hostile peer. Never a broadcast here: that is
-- proven inside network namespaces (discover_netns_spec.lua).
local helper = require "spec.helper"
local vigi = require "vigi"
local ipv4 = require "vigi.ipv4"

local function sum(t)
  local n = 0
  for _, v in pairs(t) do n = n + v end
  return n
end

describe("ipv4", function()
  it("parses and formats addresses", function()
    assert.equal(2130706433, ipv4.parse("127.0.0.1"))
    assert.equal("127.0.1.200", ipv4.format(ipv4.parse("127.0.1.200")))
    for _, bad in ipairs { "127.0.0", "256.1.1.1", "a.b.c.d", "1.2.3.4.5", "", "1..2.3", "1.2.3.",
                           ".1.2.3", "010.1.2.3", "1.2.3.04", "0x1.2.3.4", "1.2.3.4 ", " 1.2.3.4",
                           "1.2.3.1000", "-1.2.3.4", "+1.2.3.4", "1.2.3.4/24" } do
      assert.is_nil(ipv4.parse(bad), bad)
    end
    assert.equal(0, ipv4.parse("0.0.0.0"))
    assert.equal(4294967295, ipv4.parse("255.255.255.255"))
  end)

  it("expands CIDR ranges without network and broadcast addresses", function()
    local cases = {
      { "10.1.3.0/24", "10.1.3.1", "10.1.3.254" },
      { "10.1.3.77/24", "10.1.3.1", "10.1.3.254" },
      { "10.1.0.0/16", "10.1.0.1", "10.1.255.254" },
      { "10.1.3.4/31", "10.1.3.4", "10.1.3.5" },
      { "10.1.3.4/32", "10.1.3.4", "10.1.3.4" },
      { "10.1.3.4", "10.1.3.4", "10.1.3.4" },
    }
    for _, c in ipairs(cases) do
      local first, last = ipv4.range(c[1])
      assert.equal(c[2], ipv4.format(first))
      assert.equal(c[3], ipv4.format(last))
    end
    for _, bad in ipairs { "10.1.3.0/33", "camera.local", "10.1.3.0/024", "10.1.3.0/08", "10.1.3.0/",
                           "/24", "10.1.3.0/24/1", "010.1.3.0/24", "10.1.3.0/-1", "10.1.3.0/2 4" } do
      assert.is_nil(ipv4.range(bad), bad)
    end
    assert.equal("10.0.0.1", ipv4.format((ipv4.range("10.1.3.0/8"))))
    assert.equal(1, (ipv4.range("0.0.0.0/0")))
  end)
end)

describe("discover", function()
  it("refuses bad options before sending anything", function()
    local nan, inf = 0 / 0, math.huge
    local cases = {
      { hosts = { "not-an-address" } }, { hosts = { "10.0.0.0/8" } },
      { timeout = -1 }, { on_device = 5 }, { hosts = "10.1.1.1/24/2" },
      -- NaN compares false with everything: a deadline of NaN never comes
      { timeout = nan }, { timeout = inf }, { timeout = "1" }, { rate = nan }, { rate = 0 },
      { interval = inf }, { retries = 1.5 }, { port = 0 }, { port = 70000 },
      { control_port = nan }, { max_devices = 0 }, { max_devices = nan }, { expect = -1 },
    }
    for _, o in ipairs(cases) do
      local list, err = vigi.discover(o)
      assert.is_nil(list)
      assert.equal("invalid", err.kind)
    end
  end)

  describe("against one vigi-sim", function()
    local sim
    setup(function() sim = helper.start_sim { "--odp-port", "0" } end)
    teardown(function() sim:stop() end)
    before_each(function() sim:admin("POST", "odp_fault", { kind = "none" }) end)

    local function find(extra)
      local o = { hosts = { sim.host }, port = sim.odp, timeout = 1, retries = 1 }
      for k, v in pairs(extra or {}) do o[k] = v end
      return vigi.discover(o)
    end

    it("finds it by unicast, with every field", function()
      local seen = {}
      local list, stats = find { on_device = function(d) seen[#seen + 1] = d end }
      assert.equal(1, #list)
      local d = list[1]
      assert.equal(sim.host, d.ip)
      assert.equal(sim.host, d.from)
      assert.matches("^%x+$", d.mac)
      assert.equal(12, #d.mac)
      assert.is_string(d.device_model)
      assert.is_string(d.device_name)
      assert.equal(20443, d.port)
      assert.is_boolean(d.factory_default)
      assert.equal(d, seen[1])
      assert.equal(1, stats.received)
      assert.equal(0, sum(stats.rejected))
    end)

    it("collapses duplicate replies into one device", function()
      sim:admin("POST", "odp_fault", { kind = "duplicate", count = -1 })
      -- a second, silent target keeps the window open for the duplicate
      local list, stats = find { hosts = { sim.host, "127.0.0.2" }, timeout = 0.5 }
      assert.equal(1, #list)
      assert.is_true(stats.duplicates >= 1)
    end)

    it("accepts a reply whose checksum field is the bare magic", function()
      sim:admin("POST", "odp_fault", { kind = "bare_magic", count = -1 })
      local list = find()
      assert.equal(1, #list)
    end)

    local rejected = {
      { fault = "bad_crc", kind = "crc" },
      { fault = "oversized", kind = "too_big" },
      { fault = "foreign_serial", kind = "serial" },
    }
    for _, r in ipairs(rejected) do
      it("counts a " .. r.fault .. " reply as rejected (" .. r.kind .. ") and returns no device", function()
        sim:admin("POST", "odp_fault", { kind = r.fault, count = -1 })
        local list, stats = find { timeout = 0.5 }
        assert.equal(0, #list)
        assert.is_true((stats.rejected[r.kind] or 0) >= 1)
      end)
    end

    it("reports an encrypted reply as an unsupported device, unparsed", function()
      sim:admin("POST", "odp_fault", { kind = "encrypt", count = -1 })
      local list, stats = find { timeout = 0.5 }
      assert.equal(1, #list)
      assert.is_true(list[1].unsupported)
      assert.equal(1, stats.unsupported)
    end)

    -- The process's resident memory, in KiB: now, and the peak since the
    -- last reset_peak() (where the kernel allows resetting it).
    local function vm(field)
      for line in io.lines("/proc/self/status") do
        local v = line:match("^" .. field .. ":%s+(%d+)")
        if v then return tonumber(v) end
      end
    end
    local function reset_peak()
      local f = io.open("/proc/self/clear_refs", "w")
      if f then f:write("5") f:close() end
    end

    -- A flood of valid replies, each with a MAC of its own, from the
    -- camera's address: the call ends at its deadline, keeps at most
    -- max_devices of them and counts the rest.
    local function flooded(extra)
      sim:admin("POST", "odp_fault", { kind = "flood", seconds = 5 })
      collectgarbage()
      collectgarbage()
      local rss0 = vm("VmRSS")
      reset_peak()
      local t0 = require("vigi.core").now()
      -- a second, silent target keeps the window open until the deadline
      local list, stats = find(extra)
      local took = require("vigi.core").now() - t0
      local grown = math.max(vm("VmHWM"), vm("VmRSS")) - rss0
      sim:admin("POST", "odp_fault", { kind = "none" }) -- ends the flood
      return list, stats, took, grown
    end

    it("keeps its deadline and max_devices under a flood of distinct replies", function()
      local list, stats, took, grown = flooded { hosts = { sim.host, "127.0.0.2" }, timeout = 1,
                                                 max_devices = 500 }
      assert.is_true(took < 1 + 1, "returned after " .. took .. " s")
      assert.equal(500, #list)
      assert.equal(500, stats.devices)
      assert.is_true(stats.dropped > 0)
      assert.equal(stats.received, stats.devices + stats.dropped + stats.duplicates + sum(stats.rejected))
      assert.is_true(grown < 64 * 1024, "resident memory grew by " .. grown .. " KiB")
    end)

    it("keeps at most 4096 devices by default under a flood, in bounded memory", function()
      local list, stats, took, grown = flooded { hosts = { sim.host, "127.0.0.2" }, timeout = 1 }
      assert.is_true(took < 1 + 1, "returned after " .. took .. " s")
      assert.is_true(#list <= 4096)
      assert.is_true(#list > 1)
      assert.equal("timeout", stats.ended)
      assert.is_true(grown < 64 * 1024, "resident memory grew by " .. grown .. " KiB")
    end)

    it("ends a flooded unicast sweep as soon as every target answered", function()
      local list, stats, took = flooded { timeout = 2 }
      assert.equal("all_answered", stats.ended)
      assert.is_true(took < 2, "returned after " .. took .. " s") -- before its deadline
      assert.is_true(#list >= 1 and #list <= 256)
    end)

    it("takes a device's address from where its reply came, not from what it says", function()
      sim:admin("POST", "odp_fault", { kind = "spoof", ip = "10.9.0.0", port = 8443, count = -1 })
      local list, stats = find()
      assert.equal(1, #list)
      local d = list[1]
      assert.equal(sim.host, d.ip)
      assert.equal(sim.host, d.from)
      assert.equal("10.9.0.0", d.claimed_ip)
      assert.is_true(d.spoofed)
      assert.equal(1, stats.spoofed)
      -- a reply that lies about its address is not believed about its port
      assert.equal(8443, d.claimed_port)
      assert.equal(20443, d.port)
      -- the user's control_port wins over anything
      assert.equal(9443, find({ control_port = 9443 })[1].port)
    end)

    it("takes the control port a truthful reply claims, unless told otherwise", function()
      sim:admin("POST", "odp_fault", { kind = "spoof", ip = sim.host, port = 8443, count = -1 })
      local list, stats = find()
      assert.is_false(list[1].spoofed)
      assert.equal(sim.host, list[1].claimed_ip)
      assert.equal(8443, list[1].port)
      assert.equal(0, stats.spoofed)
      assert.equal(9443, find({ control_port = 9443 })[1].port)
    end)

    it("gives up at the timeout when the camera is silent, probing again meanwhile", function()
      sim:admin("POST", "odp_fault", { kind = "silent", count = -1 })
      local t0 = require("vigi.core").now()
      local list, stats = find { timeout = 0.6, retries = 2 }
      assert.equal(0, #list)
      assert.equal(3, stats.sent)
      assert.is_true(require("vigi.core").now() - t0 < 1.5)
    end)
  end)

  describe("against a hostile peer", function()
    local function with_peer(mode, fn)
      -- the shell says its pid, then becomes the peer: that pid is the peer's
      local p = assert(io.popen("echo $$; exec lua5.4 spec/fixtures/odp_peer.lua 127.0.0.9 " .. mode, "r"))
      local pid = assert(tonumber(p:read("*l")))
      local port = tonumber(p:read("*l"))
      local ok, e = pcall(fn, port)
      os.execute("kill " .. pid)
      p:close()
      assert(ok, e)
    end

    local cases = {
      { "short", "short" }, { "request", "request" }, { "json", "json" },
      { "not_object", "fields" }, { "error_code", "error_code" }, { "no_mac", "fields" },
      { "result_err", "result" },
    }
    for _, c in ipairs(cases) do
      it("counts a '" .. c[1] .. "' answer as rejected (" .. c[2] .. ")", function()
        with_peer(c[1], function(port)
          local list, stats = vigi.discover { hosts = { "127.0.0.9" }, port = port, timeout = 1, retries = 0 }
          assert.equal(0, #list)
          assert.equal(1, stats.rejected[c[2]])
        end)
      end)
    end

    it("keeps only the good answer out of a burst of bad ones", function()
      with_peer("mixed", function(port)
        -- a second, silent target keeps the window open for the whole burst
        local list, stats = vigi.discover { hosts = { "127.0.0.9", "127.0.0.2" }, port = port,
                                            timeout = 1, retries = 0 }
        assert.equal(1, #list)
        assert.equal("AABBCCDDEE01", list[1].mac)
        assert.equal(1, stats.rejected.short)
        assert.equal(1, stats.rejected.request)
        assert.equal(1, stats.rejected.json)
        assert.equal(1, stats.rejected.serial)
        assert.equal(1, stats.duplicates)
      end)
    end)
  end)

  describe("a fleet of 200 cameras", function()
    local sim
    setup(function() sim = helper.start_sim { "--fleet", "200", "--odp-port", "0" } end)
    teardown(function() sim:stop() end)

    it("is found completely by a unicast sweep of 127.0.1.0/24", function()
      local list, stats = vigi.discover { hosts = { "127.0.1.0/24" }, port = sim.odp, timeout = 3 }
      assert.equal(200, #list)
      local macs, ips = {}, {}
      for _, d in ipairs(list) do
        assert.is_nil(macs[d.mac])
        macs[d.mac], ips[d.ip] = true, true
      end
      for i = 1, 200 do assert.is_true(ips["127.0.1." .. i], "127.0.1." .. i .. " not found") end
      assert.equal(0, sum(stats.rejected))
      assert.is_true(stats.sent >= 254)
    end)

    it("probes an address given twice (alone and in a list) once", function()
      local hosts = { "127.0.1.5", "127.0.1.0/30" }
      for i = 1, 200 do hosts[#hosts + 1] = "127.0.1." .. i end
      local list, stats = vigi.discover { hosts = hosts, port = sim.odp, timeout = 3 }
      assert.equal(200, #list)
      assert.equal(200, stats.sent) -- every target answered: one round, then done
    end)

    it("stops as soon as the expected number of devices answered", function()
      local t0 = require("vigi.core").now()
      local list = vigi.discover { hosts = { "127.0.1.0/24", "127.0.9.0/24" }, port = sim.odp,
                                   timeout = 5, expect = 200 }
      assert.equal(200, #list)
      assert.is_true(require("vigi.core").now() - t0 < 4)
    end)

    it("is listed by `vigi discover`, as a table and as JSON lines", function()
      local function run(extra)
        local p = io.popen(string.format("bin/vigi discover --host 127.0.1.0/24 --odp-port %d " ..
          "--timeout 3 %s 2>/dev/null", sim.odp, extra))
        local lines = {}
        for line in p:lines() do lines[#lines + 1] = line end
        p:close()
        return lines
      end
      local json = require "vigi.json"
      local lines = run("--json")
      assert.equal(200, #lines)
      for _, line in ipairs(lines) do assert.matches("^127%.0%.1%.", json.decode(line).ip) end
      lines = run("")
      assert.equal(201, #lines) -- a header, then one row per camera
      assert.matches("^IP", lines[1])
    end)
  end)
end)
