-- spec/support/bytes.lua, the specs' portable string.pack and bit
-- operations: known bytes on every Lua, and the same results as
-- string.pack/unpack and the 5.3 operators where the Lua has them.
local bytes = require "spec.support.bytes"

describe("spec support: bytes", function()
  local cases = {
    { ">BBI2I4I4", { 0x80, 0xe0, 0xfffe, 0xffffff00, 0x1234abcd },
      "\128\224\255\254\255\255\255\000\018\052\171\205" },
    { "<i2i2", { 8, -32256 }, "\008\000\000\130" },
    { "<i2", { -1 }, "\255\255" },
    { ">I2", { 3000 }, "\011\184" },
    { ">s2", { "abc" }, "\000\003abc" },
    { ">c1BI2", { "$", 2, 172 }, "$\002\000\172" },
    { ">BBBBI2I2I4I4", { 1, 0, 0x12, 0, 1, 2, 0xCAFEBABE, 0 },
      "\001\000\018\000\000\001\000\002\202\254\186\190\000\000\000\000" },
    { "<I3 i1 b", { 0x010203, -128, 127 }, "\003\002\001\128\127" },
  }

  for _, c in ipairs(cases) do
    local fmt, values, want = c[1], c[2], c[3]
    it("packs and unpacks " .. fmt, function()
      for _, impl in ipairs { { bytes.pack, bytes.unpack }, { bytes.lua_pack, bytes.lua_unpack } } do
        local pack, unpack_bytes = impl[1], impl[2]
        local s = pack(fmt, (table.unpack or unpack)(values))
        assert.equal(want, s)
        local got = { unpack_bytes(fmt, "xx" .. s, 3) }
        assert.equal(#s + 3, table.remove(got))
        assert.same(values, got)
      end
    end)
  end

  it("refuses what it cannot do exactly", function()
    assert.has_error(function() bytes.lua_pack(">I8", 1) end)
    assert.has_error(function() bytes.lua_pack(">s", "x") end)
    assert.has_error(function() bytes.lua_pack(">B", 256) end)
    assert.has_error(function() bytes.lua_pack(">i2", 32768) end)
    assert.has_error(function() bytes.lua_pack(">B", 1.5) end)
    assert.has_error(function() bytes.lua_unpack(">I4", "abc") end)
    assert.has_error(function() bytes.lua_pack(">Q", 1) end)
  end)

  it("spells bytes in hex", function()
    assert.equal("\124\133\000\255", bytes.fromhex("7c 85 00 FF"))
    assert.equal("", bytes.fromhex(""))
    assert.has_error(function() bytes.fromhex("7c8") end)
    assert.has_error(function() bytes.fromhex("zz") end)
  end)

  it("gives integers where the Lua has them", function()
    local v = bytes.lua_unpack(">I4", "\255\255\255\255")
    assert.equal(0xffffffff, v)
    if math.type then assert.equal("integer", math.type(v)) end
  end)

  it("does the bit operations of 32-bit values", function()
    assert.equal(0x80, bytes.band(0xdeadbeef, 0x80))
    assert.equal(0x6f, bytes.band(0xdeadbeef, 0x7f))
    assert.equal(0x9c, bytes.bor(0x80, 0x1c))
    assert.equal(0xc1, bytes.bor(0x80, 0x40, 1))
    assert.equal(0x0f, bytes.band(0xff, 0x3f, 0x0f))
    assert.equal(0xffffffff, bytes.bxor(0xdeadbeef, 0x21524110))
    assert.equal(0x100000, bytes.shl(1, 20))
    assert.equal(0xadbeef00, bytes.shl(0xdeadbeef, 8))
    assert.equal(0xdead, bytes.shr(0xdeadbeef, 16))
    assert.has_error(function() bytes.band(-1, 1) end)
    assert.has_error(function() bytes.bor(2 ^ 32, 1) end)
  end)

  -- Against the 5.3 operators, compiled only where they parse.
  local ops = (loadstring or load)(
    "return function(a, b, n) return a & b, a | b, a ~ b, (a << n) & 0xffffffff, a >> n end")
  local native = ops and ops()
  if not native then
    pending("agrees with the 5.3 bit operators: " .. (jit and jit.version or _VERSION) .. " has none")
    return
  end
  it("agrees with the 5.3 bit operators", function()
    local seed = 12345
    local function rand32()
      seed = (seed * 1103515245 + 12345) % 2147483648
      return seed * 2 + seed % 2
    end
    for _ = 1, 500 do
      local a, b, n = rand32(), rand32(), rand32() % 32
      local want = { native(a, b, n) }
      assert.same(want, { bytes.band(a, b), bytes.bor(a, b), bytes.bxor(a, b), bytes.shl(a, n), bytes.shr(a, n) })
    end
  end)
end)
