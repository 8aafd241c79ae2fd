-- The ODP and UDP bindings of vigi.core: golden packets both ways, every
-- rejection by name, and a round trip between two sockets on 127.0.0.1
-- (loopback only: nothing here leaves the machine).
local core = require "vigi.core"
local wait = require "vigi.wait"

-- Bytes from hex, spaces allowed.
local function unhex(s)
  return (s:gsub("%s", ""):gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end))
end

-- The golden vectors of spec/c/odp_test.c, written out from WIRE-NOTES
-- §1; checksums computed independently with Python's zlib.crc32
-- over the packet with 0x77805D05 in the checksum field.
local REQUEST = unhex "01 00 22 00 0001 0002 12345678 fb76d633 7b7d"
local REPLY_JSON = '{"error_code":0,"result":{"ip":"192.0.2.7","mac":"AABBCCDDEEFF"}}'
local REPLY = unhex "01 00 11 01 0001 0041 0a0b0c0d 1265c8e1" .. REPLY_JSON

local function with_byte(s, i, b) return s:sub(1, i - 1) .. string.char(b) .. s:sub(i + 1) end

describe("core.odp_request / odp_reply", function()
  it("encode the golden vectors", function()
    assert.equal(REQUEST, core.odp_request(0x12345678, true, "{}"))
    assert.equal(REQUEST, core.odp_request(0x12345678, true)) -- "{}" by default
    assert.equal(REPLY, core.odp_reply(0x0A0B0C0D, false, REPLY_JSON))
  end)

  it("set the mode flags", function()
    assert.equal(0x12, core.odp_request(1, false):byte(3))
    assert.equal(0x21, core.odp_reply(1, true):byte(3))
  end)

  it("raise on bad arguments", function()
    assert.has_error(function() core.odp_request(-1, true) end)
    assert.has_error(function() core.odp_request(2 ^ 32, true) end)
    assert.has_error(function() core.odp_request("x", true) end)
    assert.has_error(function() core.odp_request(1, true, {}) end)
    assert.has_error(function() core.odp_request(1, true, string.rep("x", 8193)) end)
    assert.has_error(function() core.odp_reply(1, true, "{}", { result = 256 }) end)
    assert.has_error(function() core.odp_reply(1, true, "{}", { opcode = 70000 }) end)
    assert.has_error(function() core.odp_reply(1, true, "{}", "opts") end)
    assert.has_error(function() core.odp_decode(nil) end)
  end)
end)

describe("core.odp_decode", function()
  it("decodes the golden reply", function()
    local kind, p = core.odp_decode(REPLY)
    assert.equal("reply", kind)
    assert.same({ serial = 0x0A0B0C0D, flags = 0x11, result = 1, payload = REPLY_JSON, bare_magic = false }, p)
  end)

  it("accepts the bare magic in place of the CRC", function()
    local pkt = REPLY:sub(1, 12) .. unhex "77805d05" .. REPLY:sub(17)
    assert.equal(pkt, core.odp_reply(0x0A0B0C0D, false, REPLY_JSON, { bare_magic = true }))
    local kind, p = core.odp_decode(pkt)
    assert.equal("reply", kind)
    assert.is_true(p.bare_magic)
    assert.equal(REPLY_JSON, p.payload)
  end)

  it("reports compressed or encrypted replies as unsupported, unparsed", function()
    for _, flags in ipairs { 0x15, 0x19, 0x2d } do
      local kind, p = core.odp_decode(core.odp_reply(42, false, "\0\1\2", { flags = flags }))
      assert.equal("unsupported", kind)
      assert.same({ serial = 42, flags = flags }, p)
    end
  end)

  -- One row per rejection: the packet, the reason's name.
  local REJECTED = {
    { "", "short" },
    { REPLY:sub(1, 15), "short" },
    { core.odp_reply(1, false, string.rep(" ", 8193)), "too_big" },
    { REPLY .. " ", "length" },
    { REPLY:sub(1, -2), "length" },
    { with_byte(REPLY, 20, 0x20), "crc" },
    { with_byte(REPLY, 16, 0), "crc" },
    { REQUEST, "request" },                                       -- our own broadcast
    { core.odp_reply(1, false, "{}", { flags = 0x13 }), "request" },
    { core.odp_reply(1, false, "{}", { flags = 0x10 }), "request" },
    { core.odp_reply(1, false, "{}", { version = 2 }), "version" },
    { core.odp_reply(1, false, "{}", { opcode = 2 }), "opcode" },
    { core.odp_reply(1, false, "{}", { result = 0xFF }), "result" },
    { core.odp_reply(1, false, "{}", { result = 0 }), "result" },
  }
  for i, row in ipairs(REJECTED) do
    it("rejects case " .. i .. " as " .. row[2], function()
      local kind, reason = core.odp_decode(row[1])
      assert.is_nil(kind)
      assert.equal(row[2], reason)
    end)
  end

  it("accepts the largest payload", function()
    local big = string.rep("x", 8192)
    local kind, p = core.odp_decode(core.odp_reply(3, false, big))
    assert.equal("reply", kind)
    assert.equal(big, p.payload)
  end)

  it("refuses every truncation and every changed byte of a reply", function()
    for n = 0, #REPLY - 1 do
      assert.is_nil((core.odp_decode(REPLY:sub(1, n))))
    end
    for i = 1, #REPLY do
      local b = REPLY:byte(i)
      assert.is_nil((core.odp_decode(with_byte(REPLY, i, (b + 1) % 256))))
    end
  end)
end)

describe("vigi.udp", function()
  local a, b
  before_each(function()
    a = assert(core.udp { address = "127.0.0.1" })
    b = assert(core.udp { address = "127.0.0.1", rcvbuf = 65536 })
  end)
  after_each(function()
    a:close()
    b:close()
  end)

  -- Receives one datagram on u, waiting through vigi.wait for at most 2 s.
  local function receive(u)
    local set = {}
    local deadline = core.now() + 2
    while true do
      local data, ip, port = u:recvfrom()
      if data then return data, ip, port end
      assert.equal("again", ip)
      assert.truthy(core.now() < deadline, "no datagram within 2 s")
      u:waitset(set)
      wait.wait(set, deadline - core.now())
    end
  end

  it("carries a request and its reply between two sockets", function()
    local aip, aport = a:getsockname()
    local _, bport = b:getsockname()
    assert.equal("127.0.0.1", aip)
    assert.is_true(aport > 0 and bport > 0 and aport ~= bport)

    assert.is_true(a:sendto(core.odp_request(77, false), "127.0.0.1", bport))
    local data, ip, port = receive(b)
    assert.equal(core.odp_request(77, false), data)
    assert.equal("127.0.0.1", ip)
    assert.equal(aport, port)

    assert.is_true(b:sendto(core.odp_reply(77, false, REPLY_JSON), ip, port))
    local kind, p = core.odp_decode((receive(a)))
    assert.equal("reply", kind)
    assert.equal(77, p.serial)
    assert.equal(REPLY_JSON, p.payload)
  end)

  it("says again on an empty socket", function()
    local data, err = a:recvfrom()
    assert.is_nil(data)
    assert.equal("again", err)
  end)

  it("cuts a datagram to max, like recvfrom(2)", function()
    local _, aport = a:getsockname()
    assert.is_true(b:sendto("0123456789", "127.0.0.1", aport))
    local set = {}
    a:waitset(set)
    wait.wait(set, 2)
    assert.equal("0123", (a:recvfrom(4)))
  end)

  it("describes what it waits for", function()
    local set = {}
    local n, tmo = a:waitset(set)
    assert.equal(1, n)
    assert.equal(-1, tmo)
    assert.same({ a:fd(), 1, n = 1 }, set)
    a:waitset(set, true)
    assert.same({ a:fd(), 2, n = 1 }, set)
  end)

  it("raises on bad arguments", function()
    assert.has_error(function() a:sendto("x", "localhost", 9) end)
    assert.has_error(function() a:sendto("x", "127.1", 9) end)
    assert.has_error(function() a:sendto("x", "::1", 9) end)
    assert.has_error(function() a:sendto("x", "127.0.0.1", 0) end)
    assert.has_error(function() a:sendto("x", "127.0.0.1", 65536) end)
    assert.has_error(function() a:sendto(nil, "127.0.0.1", 9) end)
    assert.has_error(function() a:recvfrom(0) end)
    assert.has_error(function() a:recvfrom(65537) end)
    assert.has_error(function() a:waitset() end)
    assert.has_error(function() core.udp { address = "localhost" } end)
    assert.has_error(function() core.udp { port = 65536 } end)
    assert.has_error(function() core.udp { port = 1.5 } end)
    assert.has_error(function() core.udp { rcvbuf = "big" } end)
    assert.has_error(function() core.udp "x" end)
  end)

  it("fails to bind an address in use, without raising", function()
    local _, aport = a:getsockname()
    local u, err = core.udp { address = "127.0.0.1", port = aport }
    assert.is_nil(u)
    assert.is_string(err)
  end)

  it("closes twice, then refuses use", function()
    assert.matches("^vigi%.udp{127%.0%.0%.1:%d+}$", tostring(a))
    a:close()
    a:close()
    assert.equal("vigi.udp{closed}", tostring(a))
    assert.has_error(function() a:recvfrom() end)
  end)
end)

describe("core.interfaces", function()
  it("lists broadcast-capable IPv4 interfaces, never loopback", function()
    for _, ifc in ipairs(core.interfaces()) do
      assert.is_string(ifc.name)
      assert.matches("^%d+%.%d+%.%d+%.%d+$", ifc.address)
      assert.matches("^%d+%.%d+%.%d+%.%d+$", ifc.broadcast)
      assert.not_equal("127", ifc.address:match("^%d+"))
    end
  end)
end)
