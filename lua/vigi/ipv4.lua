-- IPv4 addresses and CIDR ranges as numbers, without bit operators (so
-- that the same code runs on Lua 5.1, LuaJIT and 5.4).
local _M = {}

-- One part of a dotted quad: 0..255 in decimal, without leading zeros.
local function part(p)
  if #p > 3 or (#p > 1 and p:sub(1, 1) == "0") then return nil end
  local n = tonumber(p)
  return n <= 255 and n or nil
end

-- "10.1.2.3" -> 167838211, or nil. The form inet_pton(3) reads, and only
-- that: "010.1.2.3" is refused, as other readers take 010 for octal 8.
function _M.parse(s)
  if type(s) ~= "string" then return nil end
  local a, b, c, d = s:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  if not a then return nil end
  a, b, c, d = part(a), part(b), part(c), part(d)
  if not (a and b and c and d) then return nil end
  return ((a * 256 + b) * 256 + c) * 256 + d
end

function _M.format(n)
  local d = n % 256; n = (n - d) / 256
  local c = n % 256; n = (n - c) / 256
  local b = n % 256
  local a = (n - b) / 256
  return string.format("%d.%d.%d.%d", a, b, c, d)
end

-- "10.1.3.0/24" or "10.1.2.7" -> first, last (numbers), or nil, message.
-- The network and broadcast addresses of a range of 4 or more are left
-- out: no camera answers there, and a probe there is a broadcast.
function _M.range(s)
  if type(s) ~= "string" then return nil, "not a string" end
  local addr, bits = s:match("^([%d.]+)/(%d+)$")
  if not addr then
    local n = _M.parse(s)
    if not n then return nil, "not an IPv4 address or CIDR range" end
    return n, n
  end
  local n = _M.parse(addr)
  -- the prefix as strict as the address: 0..32, no leading zero
  bits = (#bits == 1 or (#bits == 2 and bits:sub(1, 1) ~= "0")) and tonumber(bits)
  if not n or not bits or bits > 32 then return nil, "not an IPv4 address or CIDR range" end
  local size = 2 ^ (32 - bits)
  local first = n - n % size
  local last = first + size - 1
  if size >= 4 then first, last = first + 1, last - 1 end
  return first, last
end

return _M
