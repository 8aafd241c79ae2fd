-- Discovery (ODP, WIRE-NOTES §1) of vigi-sim, from the outside: requests
-- and replies go through a small python3 helper (socket + zlib), so that
-- neither the packets nor the CRC come from the sim's own code or from the
-- client's. Admin calls go through curl.
local cjson = require "cjson.safe"
local vigisim = require "vigi.sim"

local MAGIC = 0x77805D05
local HEADER = ">BBBBI2I2I4I4"

local helper = require "spec.helper"
local bytes = require "spec.support.bytes"
local q, sh = helper.quote, helper.sh

-- argv: port wait expect, then (host fill hex) for each packet to send
-- (fill 1: put zlib's CRC in; 0: send as is). Sends them in order from one
-- socket on 127.0.0.1, then prints one line per datagram that comes back
-- within `wait` seconds, stopping at `expect` of them:
-- "<source address> <zlib CRC of it with the magic in its checksum field> <hex>".
local PY = [[
import socket, struct, sys, zlib
port, wait, expect = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
MAGIC = struct.pack(">I", 0x77805D05)
def crc(p):
    return zlib.crc32(p[:12] + MAGIC + p[16:]) & 0xffffffff
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.bind(("127.0.0.1", 0))
s.settimeout(wait)
args = sys.argv[4:]
for i in range(0, len(args), 3):
    host, fill, pkt = args[i], args[i + 1], bytes.fromhex(args[i + 2])
    if fill == "1":
        pkt = pkt[:12] + struct.pack(">I", crc(pkt)) + pkt[16:]
    s.sendto(pkt, (host, port))
n = 0
try:
    while n < expect:
        d, a = s.recvfrom(65535)
        n += 1
        print(a[0], crc(d) if len(d) >= 16 else 0, d.hex())
except socket.timeout:
    pass
]]

local function tohex(s) return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end
local function fromhex(h) return (h:gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end)) end

-- A request: fields default to a valid unicast discovery request.
local function request(t)
  t = t or {}
  local payload = t.payload or "{}"
  local len = t.length or #payload
  return bytes.pack(HEADER, t.version or 1, 0, t.flags or 0x12, 0, t.opcode or 1, len,
    t.serial or 0x01020304, 0) .. payload
end

-- Send packets {host=, bytes=, raw=} in order (one python3 run: it is slow
-- to start) and collect the replies (parsed) that arrive within opts.wait
-- seconds, at most opts.expect of them (default: one per packet).
local function exchange(port, packets, opts)
  opts = opts or {}
  local words = {}
  for _, p in ipairs(packets) do
    words[#words + 1] = q(p.host) .. " " .. (p.raw and "0" or "1") .. " " .. tohex(p.bytes)
  end
  local out = sh(string.format("env -u LD_PRELOAD python3 -S -c %s %d %s %d %s", q(PY), port,
    opts.wait or "1", opts.expect or #packets, table.concat(words, " ")))
  local replies = {}
  for from, crc, hex in out:gmatch("(%S+) (%d+) (%x*)\n") do
    local d = fromhex(hex)
    local r = { from = from, zlib = tonumber(crc), size = #d }
    if #d >= 16 then
      r.version, r.reserved, r.flags, r.result, r.opcode, r.length, r.serial, r.checksum =
        bytes.unpack(HEADER, d)
      r.payload = d:sub(17)
      r.json = cjson.decode(r.payload)
    end
    replies[#replies + 1] = r
  end
  return replies
end

local function admin(sim, verb, path, body, host)
  local cmd = string.format("env -u LD_PRELOAD curl -sk --max-time 5 -X %s https://%s:%d/__sim__/%s",
    verb, host or sim.host, sim.port, path)
  if body then cmd = cmd .. " -H 'Content-Type: application/json' -d " .. q(cjson.encode(body)) end
  return assert(cjson.decode(sh(cmd)))
end

local function odp_counters(sim, host) return admin(sim, "GET", "counters", nil, host).odp end

describe("vigi-sim discovery", function()
  local sim, port
  setup(function()
    sim = assert(vigisim.start { "--odp-port", "0" })
    port = math.floor(sim.odp)
  end)
  teardown(function() sim:stop() end)
  before_each(function() admin(sim, "POST", "reset") end)

  -- One request (fields as request() takes them), or several in a row.
  local function ask(t, opts)
    local packets = {}
    for _, one in ipairs((t and t[1]) and t or { t or {} }) do
      packets[#packets + 1] = { host = sim.host, bytes = request(one) }
    end
    return exchange(port, packets, opts)
  end

  it("names its discovery port in the ready line", function()
    assert.is_number(sim.odp)
    assert.is_true(sim.odp > 0)
    assert.equal("127.0.0.1", sim.address)
    assert.is_nil(sim.fleet)
  end)

  it("answers a request with the document's reply", function()
    local r = ask { serial = 0xCAFEBABE }
    assert.equal(1, #r)
    r = r[1]
    assert.equal("127.0.0.1", r.from)
    assert.equal(1, r.version)
    assert.equal(0x11, r.flags)                 -- REPLY + the request's UNICAST
    assert.equal(0x01, r.result)
    assert.equal(0x0001, r.opcode)
    assert.equal(#r.payload, r.length)
    assert.equal(0xCAFEBABE, r.serial)
    assert.equal(r.zlib, r.checksum)            -- zlib's CRC-32 with the magic in place
    assert.not_equal(MAGIC, r.checksum)
    local keys = {}
    for k in pairs(r.json.result) do keys[#keys + 1] = k end
    table.sort(keys)
    assert.same({ "device_model", "device_name", "device_type", "factory_default", "http_port", "ip", "mac" }, keys)
    assert.equal(0, r.json.error_code)
    local info = admin(sim, "GET", "state").deviceInfo
    assert.same({
      device_name = info.alias, device_type = "SMART.IPCAMERA", device_model = info.model,
      ip = "127.0.0.1", mac = info.mac:gsub("%-", ""):upper(), factory_default = false, http_port = 443,
    }, r.json.result)
    assert.matches("^%x+$", r.json.result.mac)
    assert.equal(12, #r.json.result.mac)
    assert.same({ requests = 1, replies = 1, ignored = 0 }, odp_counters(sim))
  end)

  it("echoes every serial, and the BROADCAST flag", function()
    local serials = { 0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF }
    local reqs = {}
    for i, serial in ipairs(serials) do reqs[i] = { serial = serial } end
    local got = {}
    for i, r in ipairs(ask(reqs)) do got[i] = r.serial end
    assert.same(serials, got)                   -- answered in order, over one socket
    local r = ask({ flags = 0x22, payload = '{"x":1}' })[1]
    assert.equal(0x21, r.flags)
    assert.equal(r.zlib, r.checksum)
  end)

  it("ignores and counts what is not a valid request", function()
    local bad = {
      { name = "bad CRC", bytes = request(), raw = true },
      { name = "short", bytes = request():sub(1, 10) },
      { name = "a reply", bytes = request { flags = 0x11 } },
      { name = "no REQUEST flag", bytes = request { flags = 0x10 } },
      { name = "length disagrees", bytes = request { length = 7 } },
      { name = "version 2", bytes = request { version = 2 } },
      { name = "opcode 2", bytes = request { opcode = 2 } },
      { name = "encrypted", bytes = request { flags = 0x1A } },
      { name = "payload not JSON", bytes = request { payload = "hello" } },
      { name = "payload a JSON array", bytes = request { payload = "[1]" } },
    }
    -- All of them, then a valid one: the sim handles datagrams in order, so
    -- the only reply must be the valid one's.
    local packets = {}
    for i, b in ipairs(bad) do packets[i] = { host = sim.host, bytes = b.bytes, raw = b.raw } end
    packets[#packets + 1] = { host = sim.host, bytes = request { serial = 77 } }
    local r = exchange(port, packets, { expect = 1, wait = "1" })
    assert.equal(1, #r)
    assert.equal(77, r[1].serial)
    r = exchange(port, packets, { expect = 2, wait = "0.3" })  -- nothing more comes
    assert.equal(1, #r)
    assert.same({ requests = 2, replies = 2, ignored = 2 * #bad }, odp_counters(sim))
  end)

  describe("faults", function()
    local function fault(kind, count)
      return admin(sim, "POST", "odp_fault", { kind = kind, count = count })
    end

    it("bad_crc: a checksum that is neither the CRC nor the magic", function()
      fault("bad_crc")
      local r = ask { {}, {} }
      assert.not_equal(r[1].zlib, r[1].checksum)
      assert.not_equal(MAGIC, r[1].checksum)
      assert.equal(0x01020304, r[1].serial)
      assert.equal(r[2].zlib, r[2].checksum)    -- count 1: over
    end)

    it("bare_magic: the checksum field holds the magic", function()
      fault("bare_magic")
      local r = ask()[1]
      assert.equal(MAGIC, r.checksum)
      assert.equal("SMART.IPCAMERA", r.json.result.device_type)
    end)

    it("duplicate: the same reply twice", function()
      fault("duplicate")
      local r = ask({}, { expect = 3, wait = "0.5" })
      assert.equal(2, #r)
      assert.equal(r[1].checksum, r[2].checksum)
      assert.equal(r[1].payload, r[2].payload)
      assert.same({ requests = 1, replies = 2, ignored = 0 }, odp_counters(sim))
    end)

    it("oversized: a 9000-byte payload with a right CRC", function()
      fault("oversized")
      local r = ask()[1]
      assert.equal(9000, r.length)
      assert.equal(9000, #r.payload)
      assert.equal(r.zlib, r.checksum)
      assert.equal("127.0.0.1", r.json.result.ip)
    end)

    it("encrypt: the ENCRYPT flag, a right CRC", function()
      fault("encrypt")
      local r = ask()[1]
      assert.equal(0x19, r.flags)
      assert.equal(r.zlib, r.checksum)
      assert.equal(#r.payload, r.length)
    end)

    it("foreign_serial: the request's serial + 1", function()
      fault("foreign_serial")
      local r = ask { {}, {} }
      assert.equal(0x01020305, r[1].serial)
      assert.equal(0x01020304, r[2].serial)
    end)

    it("silent: counted, not answered", function()
      fault("silent", 2)
      local r = ask({ { serial = 1 }, { serial = 2 }, { serial = 3 } }, { expect = 2, wait = "0.5" })
      assert.equal(1, #r)
      assert.equal(3, r[1].serial)
      assert.same({ requests = 3, replies = 1, ignored = 0 }, odp_counters(sim))
    end)

    it("count -1 lasts until cleared; kind none clears", function()
      local set = fault("foreign_serial", -1)
      assert.same({ ok = true, kind = "foreign_serial", count = -1 }, set)
      for _, r in ipairs(ask { {}, {}, {} }) do assert.equal(0x01020305, r.serial) end
      assert.equal("none", fault("none").kind)
      assert.equal(0x01020304, ask()[1].serial)
    end)

    it("refuses an unknown kind or count", function()
      assert.matches("kind", admin(sim, "POST", "odp_fault", { kind = "nope" }).error)
      assert.matches("count", admin(sim, "POST", "odp_fault", { kind = "silent", count = 0 }).error)
      assert.equal("none", admin(sim, "GET", "odp_fault").kind)
    end)

    it("flood: valid replies with a new MAC each, from its address, for `seconds`", function()
      local set = admin(sim, "POST", "odp_fault", { kind = "flood", seconds = 0.5 })
      assert.same({ ok = true, kind = "flood", count = 1, seconds = 0.5 }, set)
      -- a few hundred are enough to show them distinct; how many arrive in
      -- the window depends on the machine's load, not on the sim
      local r = ask({ serial = 0xABCD }, { expect = 500, wait = "1" })
      assert.equal(500, #r)
      local macs = {}
      for _, one in ipairs(r) do
        assert.equal("127.0.0.1", one.from)
        assert.equal(0xABCD, one.serial)
        assert.equal(0x11, one.flags)
        assert.equal(one.zlib, one.checksum)
        assert.equal("127.0.0.1", one.json.result.ip)
        assert.is_nil(macs[one.json.result.mac])
        macs[one.json.result.mac] = true
      end
      -- it ends by itself: the count of replies stops growing
      os.execute("sleep 0.7")
      local n = odp_counters(sim).replies
      assert.is_true(n >= 500)
      os.execute("sleep 0.3")
      assert.equal(n, odp_counters(sim).replies)
    end)

    it("flood: kind none ends it at once", function()
      admin(sim, "POST", "odp_fault", { kind = "flood", seconds = 60 })
      assert.equal(100, #ask({}, { expect = 100, wait = "1" }))
      fault("none")
      local n = odp_counters(sim).replies
      os.execute("sleep 0.3")
      assert.equal(n, odp_counters(sim).replies)
    end)

    it("spoof: the reply claims another address (and a port) than it comes from", function()
      local set = admin(sim, "POST", "odp_fault", { kind = "spoof", ip = "10.9.0.0", port = 8443 })
      assert.same({ ok = true, kind = "spoof", count = 1, ip = "10.9.0.0", port = 8443 }, set)
      local r = ask { {}, {} }
      assert.equal("127.0.0.1", r[1].from)
      assert.equal("10.9.0.0", r[1].json.result.ip)
      assert.equal(8443, r[1].json.result.openapi_port)
      assert.equal(r[1].zlib, r[1].checksum)
      assert.equal("127.0.0.1", r[2].json.result.ip) -- count 1: over
      assert.is_nil(r[2].json.result.openapi_port)
    end)

    it("refuses flood and spoof arguments out of place or out of range", function()
      local function refused(body, what)
        assert.matches(what, admin(sim, "POST", "odp_fault", body).error)
      end
      refused({ kind = "spoof", seconds = 1 }, "seconds")
      refused({ kind = "flood", ip = "10.0.0.1" }, "ip")
      refused({ kind = "flood", seconds = 0 }, "seconds")
      refused({ kind = "flood", seconds = 61 }, "seconds")
      refused({ kind = "spoof", port = 0 }, "port")
      refused({ kind = "spoof", ip = "" }, "ip")
      assert.equal("none", admin(sim, "GET", "odp_fault").kind)
    end)
  end)
end)

describe("vigi-sim fleet", function()
  local sim, port
  setup(function()
    sim = assert(vigisim.start { "--fleet", "3", "--odp-port", "0" })
    port = math.floor(sim.odp)
  end)
  teardown(function() sim:stop() end)

  it("lists its cameras in the ready line", function()
    assert.equal(3, sim.fleet)
    assert.same({ "127.0.1.1", "127.0.1.2", "127.0.1.3" }, sim.addresses)
    assert.equal("127.0.1.1", sim.address)
  end)

  it("answers on every address, each camera with its own address and MAC", function()
    local packets = {}
    for i, host in ipairs(sim.addresses) do packets[i] = { host = host, bytes = request { serial = i } } end
    local replies = exchange(port, packets)
    assert.equal(3, #replies)
    table.sort(replies, function(a, b) return a.serial < b.serial end)
    local macs = {}
    for i, host in ipairs(sim.addresses) do
      local r = replies[i]
      assert.equal(host, r.from)
      assert.equal(i, r.serial)
      assert.equal(r.zlib, r.checksum)
      assert.equal(host, r.json.result.ip)
      assert.equal("VIGI sim " .. i, r.json.result.device_name)
      assert.matches("^%x%x%x%x%x%x%x%x%x%x%x%x$", r.json.result.mac)
      assert.is_nil(macs[r.json.result.mac], "MAC seen twice")
      macs[r.json.result.mac] = true
      -- the control plane of the same camera shows the same identity
      local info = admin(sim, "GET", "state", nil, host).deviceInfo
      assert.equal(r.json.result.mac, info.mac:gsub("%-", ""))
      assert.equal("VIGI sim " .. i, info.alias)
    end
  end)

  it("keeps counters and faults per camera, totals in /__sim__/fleet", function()
    for _, host in ipairs(sim.addresses) do admin(sim, "POST", "reset", nil, host) end
    admin(sim, "POST", "odp_fault", { kind = "silent" }, "127.0.1.2")
    local packets = {}
    for i, host in ipairs(sim.addresses) do packets[i] = { host = host, bytes = request() } end
    assert.equal(2, #exchange(port, packets, { wait = "0.5" }))
    assert.same({ requests = 1, replies = 1, ignored = 0 }, odp_counters(sim, "127.0.1.1"))
    assert.same({ requests = 1, replies = 0, ignored = 0 }, odp_counters(sim, "127.0.1.2"))
    local total = admin(sim, "GET", "fleet", nil, "127.0.1.3")
    assert.same({ requests = 3, replies = 2, ignored = 0 }, total.odp)
    assert.is_number(total.requests)
  end)
end)

describe("vigi-sim fleet with --odp-any", function()
  local sim, port
  setup(function()
    sim = assert(vigisim.start { "--fleet", "3", "--odp-port", "0", "--odp-any" })
    port = math.floor(sim.odp)
  end)
  teardown(function() sim:stop() end)

  it("answers a broadcast from every camera, each from its own address", function()
    -- 127.255.255.255 is the broadcast address of lo (127.0.0.0/8)
    local r = exchange(port, { { host = "127.255.255.255", bytes = request { flags = 0x22, serial = 9 } } },
      { expect = 4, wait = "0.5" })
    assert.equal(3, #r)
    table.sort(r, function(a, b) return a.from < b.from end)
    for i, host in ipairs(sim.addresses) do
      assert.equal(host, r[i].from)
      assert.equal(host, r[i].json.result.ip)
      assert.equal(0x21, r[i].flags)
      assert.equal(9, r[i].serial)
      assert.equal(r[i].zlib, r[i].checksum)
    end
  end)

  it("answers a request sent to one camera's address from that camera alone", function()
    local r = exchange(port, { { host = "127.0.1.2", bytes = request() } }, { expect = 2, wait = "0.5" })
    assert.equal(1, #r)
    assert.equal("127.0.1.2", r[1].from)
    assert.equal("VIGI sim 2", r[1].json.result.device_name)
  end)
end)
