-- JSON in and out.
--
-- Decoding goes through lua-cjson (fast C, and a depth limit against
-- hostile nesting); an answer cjson refuses gets one more try with its
-- trailing commas dropped (the document's own examples have them).
-- Encoding is ours, because request bodies must be exact
-- and cjson cannot tell an empty array from an empty object: an encoder
-- that follows the method table's parameter specs writes `[]` where the
-- document wants an array, whatever Lua table it was given.
local cjson = require "cjson.safe"

local _M = {}

local decoder = cjson.new()
decoder.decode_max_depth(64)
-- NaN, Infinity, hex and other numbers JSON does not have are refused:
-- a NaN from the wire would compare false with every limit it meets.
decoder.decode_invalid_numbers(false)

-- JSON null, as found in decoded answers; also accepted by encode.
_M.null = cjson.null

-- Marks a Lua table to be written as a JSON array even when empty.
_M.array_mt = { __name = "vigi.json.array" }

function _M.array(t)
  return setmetatable(t or {}, _M.array_mt)
end

-- lua-cjson hands every number back as a float; on Lua 5.3+ that shows
-- as 50.0 where the camera sent 50. Integral values become integers again.
local tointeger = math.tointeger
local function integers(t, depth)
  for k, v in pairs(t) do
    if type(v) == "number" then
      local i = tointeger(v)
      if i then t[k] = i end
    elseif type(v) == "table" and depth < 64 then
      integers(v, depth + 1)
    end
  end
  return t
end

local find, byte, sub, concat = string.find, string.byte, string.sub, table.concat

-- Bytes that may stand between a value and the comma after it.
local SPACE = { [32] = true, [9] = true, [10] = true, [13] = true }
-- What a trailing comma may follow: the end of a value, not "{", "[" or
-- another comma ("{,}", "[1,,]" stay refused).
local NOT_A_VALUE = { [123] = true, [91] = true, [44] = true }

-- s without the commas that close a non-empty object or array ("{"a":1,}",
-- "[1,2,\n]"), or nil when it has none. Commas inside strings stay, escapes
-- included. One pass over s, so a hostile answer costs time linear in its
-- size, which the transport has already bounded.
local function without_trailing_commas(s)
  if not find(s, ",[ \t\r\n]*[%]}]") then return nil end
  local out, n, from, pos = {}, 0, 1, 1
  while true do
    local i = find(s, '[",]', pos)
    if not i then break end
    if byte(s, i) == 34 then
      -- a string: to its closing quote, stepping over escaped characters
      local j = i + 1
      while true do
        local k = find(s, '["\\]', j)
        if not k then return nil end -- unterminated: cjson's message stands
        if byte(s, k) == 92 then j = k + 2 else pos = k + 1 break end
      end
    else
      pos = i + 1
      if find(s, "^[ \t\r\n]*[%]}]", pos) then
        local b = i - 1
        while b > 0 and SPACE[byte(s, b)] do b = b - 1 end
        if b > 0 and not NOT_A_VALUE[byte(s, b)] then
          n = n + 1
          out[n] = sub(s, from, i - 1)
          from = i + 1
        end
      end
    end
  end
  if n == 0 then return nil end
  out[n + 1] = sub(s, from)
  return concat(out)
end

-- decode(s) -> value | nil, message
-- Well-formed JSON goes through cjson alone; only what it refuses is looked
-- at again for trailing commas, so the fallback costs nothing when unused.
function _M.decode(s)
  local v, err = decoder.decode(s)
  if v == nil and err then
    local stripped = type(s) == "string" and without_trailing_commas(s)
    if not stripped then return nil, err end
    v = decoder.decode(stripped)
    if v == nil then return nil, err end
  end
  if tointeger then
    if type(v) == "table" then return integers(v, 1) end
    if type(v) == "number" then return tointeger(v) or v end
  end
  return v
end

local escapes = {
  ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
  ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t",
}
local function escape_char(c)
  return escapes[c] or string.format("\\u%04x", c:byte())
end

local function encode_string(s)
  return '"' .. s:gsub('[%c"\\]', escape_char) .. '"'
end

-- number(n) -> the decimal text of a finite number: integers (and
-- integral floats below 2^53) without a fraction, others in the shortest
-- form that reads back as the same number (0.2, not 0.20000000000000001).
-- The one number formatter: request bodies, and the numbers check.lua
-- sends as strings. Raises on NaN and the infinities (JSON has none).
local math_type = math.type -- nil before 5.3: every number is a float
local function encode_number(n)
  if n ~= n or n == math.huge or n == -math.huge then
    error("vigi.json: cannot encode " .. tostring(n), 0)
  end
  if math_type and math_type(n) == "integer" then return string.format("%d", n) end
  if n == math.floor(n) and n > -2^53 and n < 2^53 then
    return string.format("%d", n)
  end
  for digits = 15, 16 do
    local s = string.format("%." .. digits .. "g", n)
    if tonumber(s) == n then return s end
  end
  return string.format("%.17g", n)
end
_M.number = encode_number

-- A table is a sequence when its keys are exactly 1..#t.
local function is_sequence(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n > 0 and n == #t
end

local encode_value

-- spec (optional) is a parameter spec of methods.lua: its `items` and
-- `fields` guide nested values, its type decides arrays.
local function encode_table(t, spec, depth)
  if depth > 32 then error("vigi.json: value nested too deeply", 0) end
  local as_array
  if spec and spec.type == "array" then as_array = true
  elseif spec and spec.type == "object" then as_array = false
  else as_array = getmetatable(t) == _M.array_mt or is_sequence(t) end
  local out = {}
  if as_array then
    local item = spec and spec.items
    for i = 1, #t do out[i] = encode_value(t[i], item, depth + 1) end
    return "[" .. table.concat(out, ",") .. "]"
  end
  local fields
  if spec and spec.fields then
    fields = {}
    for _, f in ipairs(spec.fields) do fields[f.name] = f end
  end
  local keys = {}
  for k in pairs(t) do
    if type(k) ~= "string" then
      error("vigi.json: object key must be a string, got " .. type(k), 0)
    end
    keys[#keys + 1] = k
  end
  table.sort(keys) -- deterministic bodies: same call, same bytes
  for i, k in ipairs(keys) do
    out[i] = encode_string(k) .. ":" .. encode_value(t[k], fields and fields[k], depth + 1)
  end
  return "{" .. table.concat(out, ",") .. "}"
end

function encode_value(v, spec, depth)
  local tv = type(v)
  if tv == "string" then return encode_string(v)
  elseif tv == "number" then return encode_number(v)
  elseif tv == "boolean" then return v and "true" or "false"
  elseif v == nil or v == _M.null then return "null"
  elseif tv == "table" then return encode_table(v, spec, depth)
  end
  error("vigi.json: cannot encode a " .. tv, 0)
end

-- encode(v [, spec]) -> string. Raises on values JSON cannot hold.
function _M.encode(v, spec)
  return encode_value(v, spec, 0)
end

-- Encode a params table whose fields are described by a list of specs
-- (a row's `params`), as one object.
function _M.encode_params(params, specs)
  return encode_value(params, specs and { type = "object", fields = specs }, 0)
end

return _M
