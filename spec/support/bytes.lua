-- Bytes and bits for the specs, the same on Lua 5.1, LuaJIT, 5.3 and 5.4:
-- a subset of string.pack/unpack, and the bit operations the packet
-- builders need, in plain arithmetic (no `bit`/`bit32` library, no 5.3
-- operators, so that every Lua parses the specs that use them).
--
--   bytes.pack(">BBI2I4I4", ...), bytes.unpack("<i2", s, pos)
--   bytes.band(a, b), bytes.bor(a, b, ...), bytes.shl(a, n), bytes.shr(a, n)
--   bytes.fromhex("7c 85") == "\124\133" ("\x7c" is not an escape on 5.1)
--
-- pack/unpack take the options < > = ! (alignment, ignored), B b H h
-- I[n] i[n] c<n> s<n>, and spaces; n is 1..6 (exact in a double). They
-- are string.pack/unpack where the Lua has them; bytes.lua_pack and
-- bytes.lua_unpack are always the plain-Lua ones (spec/bytes_spec.lua
-- checks that the two agree). The bit operations take integers 0..2^32-1.
local _M = {}

local floor, char, byte = math.floor, string.char, string.byte

-- Options of a format, as { kind, size } items, and its byte order.
local function options(fmt)
  local items, little = {}, false
  local i = 1
  while i <= #fmt do
    local c = fmt:sub(i, i)
    local n = fmt:match("^%d+", i + 1)
    local next_i = i + 1 + (n and #n or 0)
    n = tonumber(n)
    if c == "<" or c == "=" then little = true
    elseif c == ">" then little = false
    elseif c == "B" or c == "b" then items[#items + 1] = { c == "b" and "i" or "I", 1, little }
    elseif c == "H" or c == "h" then items[#items + 1] = { c == "h" and "i" or "I", 2, little }
    elseif c == "L" or c == "l" or c == "j" or c == "J" then
      error("bytes: option " .. c .. " is not portable; give a size (I4, i6)")
    elseif c == "I" or c == "i" or c == "s" then
      -- s without a size would be size_t: 8 bytes, more than a double holds.
      n = n or (c == "s" and 8 or 4)
      if n > 6 then error("bytes: integers of more than 6 bytes are not exact on every Lua") end
      items[#items + 1] = { c, n, little }
    elseif c == "c" then items[#items + 1] = { "c", assert(n, "bytes: c needs a size"), little }
    elseif c ~= "!" and c ~= " " then -- ! (alignment): the specs never need it
      error("bytes: unsupported format option " .. c)
    end
    i = next_i
  end
  return items
end

local function int_bytes(v, size, little, signed)
  assert(type(v) == "number" and v == floor(v), "bytes: integer expected")
  local range = 256 ^ size
  if signed then
    assert(v >= -range / 2 and v < range / 2, "bytes: integer overflow")
    if v < 0 then v = v + range end
  else
    assert(v >= 0 and v < range, "bytes: unsigned overflow")
  end
  local t = {}
  for k = 1, size do
    t[k] = v % 256
    v = floor(v / 256)
  end
  if not little then
    for k = 1, floor(size / 2) do t[k], t[size + 1 - k] = t[size + 1 - k], t[k] end
  end
  return char((unpack or table.unpack)(t))
end

local function bytes_int(s, pos, size, little, signed)
  assert(pos + size - 1 <= #s, "bytes: data string too short")
  local v = 0
  for k = 0, size - 1 do
    local b = byte(s, little and pos + size - 1 - k or pos + k)
    v = v * 256 + b
  end
  if signed and v >= 256 ^ size / 2 then v = v - 256 ^ size end
  return floor(v) -- an integer on 5.3+, like string.unpack's
end

function _M.lua_pack(fmt, ...)
  local out, args = {}, { ... }
  for k, o in ipairs(options(fmt)) do
    local kind, size, little = o[1], o[2], o[3]
    local v = args[k]
    if kind == "I" or kind == "i" then
      out[#out + 1] = int_bytes(v, size, little, kind == "i")
    elseif kind == "c" then
      assert(type(v) == "string" and #v <= size, "bytes: string longer than given size")
      out[#out + 1] = v .. string.rep("\0", size - #v)
    else -- s: length, then the string
      out[#out + 1] = int_bytes(#v, size, little, false) .. v
    end
  end
  return table.concat(out)
end

function _M.lua_unpack(fmt, s, pos)
  pos = pos or 1
  local out = {}
  for _, o in ipairs(options(fmt)) do
    local kind, size, little = o[1], o[2], o[3]
    if kind == "I" or kind == "i" then
      out[#out + 1] = bytes_int(s, pos, size, little, kind == "i")
      pos = pos + size
    elseif kind == "c" then
      assert(pos + size - 1 <= #s, "bytes: data string too short")
      out[#out + 1] = s:sub(pos, pos + size - 1)
      pos = pos + size
    else
      local len = bytes_int(s, pos, size, little, false)
      pos = pos + size
      assert(pos + len - 1 <= #s, "bytes: data string too short")
      out[#out + 1] = s:sub(pos, pos + len - 1)
      pos = pos + len
    end
  end
  out[#out + 1] = pos
  return (unpack or table.unpack)(out, 1, #out)
end

_M.pack = string.pack or _M.lua_pack
_M.unpack = string.unpack or _M.lua_unpack

-- Hex digits (spaces between bytes allowed) to the bytes they spell.
function _M.fromhex(h)
  local s = h:gsub("%s", "")
  assert(#s % 2 == 0 and not s:find("%X"), "bytes: not hex: " .. h)
  return (s:gsub("%x%x", function(x) return char(tonumber(x, 16)) end))
end

-- Bit operations on 0..2^32-1, bit by bit.
local function check32(v)
  assert(type(v) == "number" and v == floor(v) and v >= 0 and v < 2 ^ 32, "bytes: expected an integer 0..2^32-1")
  return v
end

local function bitwise(a, b, keep)
  a, b = check32(a), check32(b)
  local r, bit = 0, 1
  while a > 0 or b > 0 do
    local x, y = a % 2, b % 2
    if keep(x, y) then r = r + bit end
    a, b, bit = floor(a / 2), floor(b / 2), bit * 2
  end
  return floor(r)
end

function _M.band(a, b, ...)
  local r = bitwise(a, b, function(x, y) return x == 1 and y == 1 end)
  if ... then return _M.band(r, ...) end
  return r
end

function _M.bor(a, b, ...)
  local r = bitwise(a, b, function(x, y) return x == 1 or y == 1 end)
  if ... then return _M.bor(r, ...) end
  return r
end

function _M.bxor(a, b)
  return bitwise(a, b, function(x, y) return x ~= y end)
end

function _M.shl(a, n) return floor(check32(a) * 2 ^ n % 2 ^ 32) end
function _M.shr(a, n) return floor(check32(a) / 2 ^ n) end

return _M
