-- What vigi.connect takes as a camera's `host`: an IPv4 literal (the
-- dotted quad inet_pton(3) reads), an IPv6 literal without brackets, or a
-- host name of letters, digits, '-' and '.'. The host goes into a URL, so
-- anything with URL characters ("/", "#", "?", "@", ":" outside an IPv6
-- literal, "%", spaces, ...) would make libcurl talk to another place
-- than the one named: it is refused instead.
local ipv4 = require "vigi.ipv4"

local _M = {}

-- The longest IPv6 text form (with an IPv4 tail) and the longest name.
local MAX_IPV6, MAX_NAME = 45, 253

-- Groups of 1 to 4 hex digits joined by single colons: how many, or nil.
local function groups(s)
  if s == "" then return 0 end
  local n = 0
  for g in (s .. ":"):gmatch("([^:]*):") do
    if not g:match("^%x%x?%x?%x?$") then return nil end
    n = n + 1
  end
  return n
end

-- An IPv6 literal as inet_pton(3) reads it: eight groups, or fewer and one
-- "::" standing for at least one zero group; an IPv4 tail counts as two.
-- No zone ("%eth0"): inside a URL it would need escaping.
function _M.ipv6(s)
  if type(s) ~= "string" or #s > MAX_IPV6 or s:find("[^%x:.]") then return false end
  local tail = 0
  if s:find(".", 1, true) then
    local head, v4 = s:match("^(.*:)([%d.]+)$")
    if not head or not ipv4.parse(v4) then return false end
    s, tail = head, 2
    if s:sub(-2) ~= "::" then s = s:sub(1, -2) end
  end
  local a, b = s:find("::", 1, true)
  if not a then
    local n = groups(s)
    return n ~= nil and n + tail == 8
  end
  if s:find("::", a + 1, true) then return false end
  local left, right = groups(s:sub(1, a - 1)), groups(s:sub(b + 1))
  return left ~= nil and right ~= nil and left + right + tail <= 7
end

-- A host name: labels of 1..63 letters, digits and '-' (not at either
-- end), 253 bytes at most, a final '.' allowed. A name that reads as a
-- number ("10.1.2.300", "2130706433", "0x7f.1") is refused: resolvers take
-- such names for addresses in forms inet_pton refuses.
function _M.name(s)
  if type(s) ~= "string" then return false end
  s = s:gsub("%.$", "")
  if s == "" or #s > MAX_NAME then return false end
  local last, numeric = nil, true
  for label in (s .. "."):gmatch("([^.]*)%.") do
    if #label < 1 or #label > 63 or label:find("[^A-Za-z0-9-]") or label:find("^-")
        or label:find("-$") then
      return false
    end
    numeric = numeric and (label:find("^%d+$") or label:find("^0[xX]%x*$")) ~= nil
    last = label
  end
  return not numeric and not last:find("^%d+$")
end

-- check(host) -> kind ("ipv4", "ipv6", "name") | nil, why
function _M.check(host)
  if ipv4.parse(host) then return "ipv4" end
  if _M.ipv6(host) then return "ipv6" end
  if _M.name(host) then return "name" end
  return nil, "is not an IPv4 address, an IPv6 address (without brackets) or a host name "
    .. "(letters, digits, '-', '.')"
end

return _M
