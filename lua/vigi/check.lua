-- Parameter checking: a call's params against its row of methods.lua, before
-- anything is sent, so that a mistake is named here and not by an errCode.
--
--   local send, err = check.params(row, params)
--
-- `send` is the params table to put on the wire, or `true` when there is
-- nothing to send (params nil or empty): the request then goes without a
-- "params" member. On refusal: nil and an "invalid" error (errors.lua) with
-- `method`, `field` (a path such as "set_region_info[2].points_x[3]", or
-- "params" for rules about the call as a whole) and `rule` (such as
-- "range 0..100", "one of on, off", "required", "unknown parameter").
--
-- Values, per WIRE-NOTES §2 "Types":
--   int, float  a Lua number or a numeric string ("3", "-0.5"); the range is
--               checked on its value and it is sent as given. A spec with
--               wire = "string" sends numbers as their decimal string.
--   string      a Lua string; a Lua number is accepted and sent as its
--               decimal string (150 -> "150", 0.5 -> "0.5", never "150.0").
--               A spec's `rewrite` turns another form of the value into
--               the one sent (1920x1080 -> 1920*1080) before the checks.
--   array       a Lua sequence (keys 1..n, no holes); {} is an empty array.
--   object      a table with the spec's field names.
-- Parameters the row does not know are refused.
--
-- The caller's table is never changed: `send` is a copy (tables inside are
-- copied too, as conversions may apply at any depth). Arrays in it carry
-- check.array_mt so that an encoder can write an empty one as [] not {}.
--
-- A `params` that is neither nil nor a table is a programming error: it
-- raises at level 3, the code that called the function that called
-- check.params (the user's `cam:method(...)` line when that function makes
-- no tail call into the checker).
local errors = require "vigi.errors"
local json = require "vigi.json"

local _M = {}

local type, pairs, ipairs, next, tostring, tonumber, error, setmetatable =
      type, pairs, ipairs, next, tostring, tonumber, error, setmetatable
local floor, huge = math.floor, math.huge
local fmt, concat, sort = string.format, table.concat, table.sort

_M.array_mt = json.array_mt

-- Beyond 2^53 a double no longer holds every integer.
local MAX_EXACT = 2 ^ 53
-- Values are shown in messages up to this many bytes.
local MAX_SHOWN = 40
-- Enums longer than this are shown by their first values and their count.
local MAX_LISTED = 10

local INT_STRING = "^%-?%d+$"
local FLOAT_STRINGS = { "^%-?%d+%.?%d*$", "^%-?%.%d+$" }

local function _finite(n)
  return n == n and n ~= huge and n ~= -huge
end

-- The decimal string of a number, as a request body writes it (json.lua).
local _decimal = json.number

local function _show(spec, v)
  if spec.secret then return "(hidden)" end
  local t = type(v)
  if t == "string" then
    local s = v
    if #s > MAX_SHOWN then s = s:sub(1, MAX_SHOWN) .. "..." end
    s = s:gsub("[%c\"\\]", function(c) return fmt("\\%d", c:byte()) end)
    return '"' .. s .. '"'
  elseif t == "number" then
    return _finite(v) and _decimal(v) or tostring(v)
  elseif t == "boolean" then
    return tostring(v)
  end
  return "a " .. t
end

local function _list(values)
  local shown = {}
  for i = 1, math.min(#values, MAX_LISTED) do shown[i] = tostring(values[i]) end
  local s = concat(shown, ", ")
  if #values > MAX_LISTED then
    s = s .. ", ... (" .. #values .. " values, see docs/api.md)"
  end
  return s
end

-- "0..100", "exactly 4", "at least 1", "at most 8": the text of a
-- min/max pair of lengths or counts.
local function _bounds(min, max)
  if min and max then
    if min == max then return "exactly " .. min end
    return min .. ".." .. max
  end
  if min then return "at least " .. min end
  return "at most " .. max
end

local function _fail(ctx, path, rule, text)
  return nil, errors.new("invalid", ctx.method .. ": " .. text,
    { method = ctx.method, field = path, rule = rule })
end

-- A refusal about a given value: "<path> = <value> <problem>".
local function _bad(ctx, spec, path, v, rule, problem)
  return _fail(ctx, path, rule, path .. " = " .. _show(spec, v) .. " " .. problem)
end

local function _range(ctx, spec, path, v, n)
  local min, max = spec.min, spec.max
  if (min and n < min) or (max and n > max) then
    if min and max then
      return _bad(ctx, spec, path, v, "range " .. min .. ".." .. max,
        "is out of range " .. min .. ".." .. max)
    elseif min then
      return _bad(ctx, spec, path, v, "at least " .. min, "is less than " .. min)
    end
    return _bad(ctx, spec, path, v, "at most " .. max, "is more than " .. max)
  end
  return true
end

local function _enum(ctx, spec, path, v, value)
  for _, allowed in ipairs(spec.enum) do
    if allowed == value then return true end
  end
  local list = _list(spec.enum)
  return _bad(ctx, spec, path, v, "one of " .. list, "is not one of " .. list)
end

local CHECKS = {}
local _check

local function _number(ctx, spec, v, path)
  local n
  if type(v) == "number" then
    n = v
  elseif type(v) == "string" then
    local numeric = v:match(INT_STRING)
    if spec.type == "float" then
      numeric = numeric or v:match(FLOAT_STRINGS[1]) or v:match(FLOAT_STRINGS[2])
    end
    if numeric then n = tonumber(v) end
  end
  local what = spec.type == "int" and "an integer" or "a number"
  if n == nil then
    return _bad(ctx, spec, path, v, what, "is not " .. what .. " or a string of one")
  end
  if not _finite(n) then
    return _bad(ctx, spec, path, v, "a finite number", "is not a finite number")
  end
  if spec.type == "int" and (n ~= floor(n) or n <= -MAX_EXACT or n >= MAX_EXACT) then
    return _bad(ctx, spec, path, v, "an integer", "is not an integer")
  end
  local ok, err = _range(ctx, spec, path, v, n)
  if not ok then return nil, err end
  if spec.enum then
    ok, err = _enum(ctx, spec, path, v, n)
    if not ok then return nil, err end
  end
  if spec.wire == "string" and type(v) == "number" then return _decimal(v) end
  return v
end

CHECKS.int = _number
CHECKS.float = _number

function CHECKS.string(ctx, spec, v, path)
  local s = v
  if type(v) == "number" and _finite(v) then
    s = _decimal(v)
  elseif type(v) ~= "string" then
    return _bad(ctx, spec, path, v, "a string", "is not a string")
  end
  if spec.rewrite then s = (s:gsub(spec.rewrite.from, spec.rewrite.to, 1)) end
  if (spec.min_len and #s < spec.min_len) or (spec.max_len and #s > spec.max_len) then
    local bounds = _bounds(spec.min_len, spec.max_len)
    return _bad(ctx, spec, path, v, "length " .. bounds,
      "is " .. #s .. " bytes long, allowed " .. bounds)
  end
  if spec.pattern and not s:match(spec.pattern) then
    local format = spec.format or spec.pattern
    return _bad(ctx, spec, path, v, "format " .. format,
      "does not have the format " .. format)
  end
  if spec.enum then
    local ok, err = _enum(ctx, spec, path, v, s)
    if not ok then return nil, err end
  end
  return s
end

function CHECKS.bool(ctx, spec, v, path)
  if type(v) ~= "boolean" then
    return _bad(ctx, spec, path, v, "a boolean", "is not a boolean (true or false)")
  end
  return v
end

-- The length of a Lua sequence, or nil and why it is not one.
local function _sequence(t)
  local n = 0
  for k in pairs(t) do
    if type(k) ~= "number" or k < 1 or k ~= floor(k) then
      return nil, "key " .. _show({}, k) .. " is not an index"
    end
    n = n + 1
  end
  for i = 1, n do
    if t[i] == nil then return nil, "index " .. i .. " is missing" end
  end
  return n
end

function CHECKS.array(ctx, spec, v, path)
  if type(v) ~= "table" then
    return _bad(ctx, spec, path, v, "an array", "is not an array")
  end
  local n, why = _sequence(v)
  if not n then
    return _fail(ctx, path, "an array", path
      .. " is not an array (" .. why .. "): give a Lua sequence, keys 1..n without holes")
  end
  if (spec.min_items and n < spec.min_items) or (spec.max_items and n > spec.max_items) then
    local bounds = _bounds(spec.min_items, spec.max_items)
    return _fail(ctx, path, "items " .. bounds,
      path .. " has " .. n .. " items, allowed " .. bounds)
  end
  local out = setmetatable({}, _M.array_mt)
  for i = 1, n do
    local item, err = _check(ctx, spec.items, v[i], path .. "[" .. i .. "]")
    if err then return nil, err end
    out[i] = item
  end
  return out
end

-- Check a table against an ordered list of field specs; gives the copy.
-- Unknown names come first: a misspelt name is the likely cause of a
-- "required" refusal that would follow.
local function _fields(ctx, fields, t, prefix)
  local known, names = {}, {}
  for i, f in ipairs(fields) do
    known[f.name] = true
    names[i] = f.name
  end
  local unknown = {}
  for k in pairs(t) do
    if not known[k] then unknown[#unknown + 1] = tostring(k) end
  end
  if #unknown > 0 then
    sort(unknown)
    local path = prefix and prefix .. "." .. unknown[1] or unknown[1]
    return _fail(ctx, path, "unknown parameter",
      "unknown parameter " .. path .. " (known: " .. concat(names, ", ") .. ")")
  end
  local out = {}
  for _, f in ipairs(fields) do
    local path = prefix and prefix .. "." .. f.name or f.name
    local v = t[f.name]
    if v == nil then
      if f.required then return _fail(ctx, path, "required", path .. " is required") end
    else
      local value, err = _check(ctx, f, v, path)
      if err then return nil, err end
      out[f.name] = value
    end
  end
  return out
end

function CHECKS.object(ctx, spec, v, path)
  if type(v) ~= "table" then
    return _bad(ctx, spec, path, v, "an object", "is not an object (a table)")
  end
  if spec.fields then return _fields(ctx, spec.fields, v, path) end
  local out = {}
  for k, x in pairs(v) do out[k] = x end
  return out
end

function _check(ctx, spec, v, path)
  local check = CHECKS[spec.type]
  if not check then
    error("vigi.check: " .. ctx.method .. ": unknown type " .. tostring(spec.type)
      .. " for " .. path)
  end
  return check(ctx, spec, v, path)
end

-- Rules about the call as a whole.
local function _row_rules(ctx, row, given)
  if row.one_of then
    local any = false
    for _, name in ipairs(row.one_of) do any = any or given[name] ~= nil end
    if not any then
      local list = concat(row.one_of, ", ")
      return _fail(ctx, "params", "at least one of " .. list,
        "give at least one of " .. list)
    end
  end
  if row.together then
    local got = {}
    for _, name in ipairs(row.together) do
      if given[name] ~= nil then got[#got + 1] = name end
    end
    if #got > 0 and #got < #row.together then
      local list = concat(row.together, ", ")
      return _fail(ctx, "params", "all or none of " .. list,
        "give all or none of " .. list .. " (got only " .. concat(got, ", ") .. ")")
    end
  end
  return true
end

function _M.params(row, params)
  if type(row) ~= "table" or type(row.name) ~= "string" then
    error("vigi.check.params: row must be a row of vigi.methods", 2)
  end
  if params ~= nil and type(params) ~= "table" then
    error(row.name .. ": params must be a table or nil, got " .. type(params), 3)
  end
  local ctx = { method = row.name }
  params = params or {}
  if not row.params then
    local keys = {}
    for k in pairs(params) do keys[#keys + 1] = tostring(k) end
    if #keys > 0 then
      sort(keys)
      return _fail(ctx, keys[1], "no parameters",
        "takes no parameters, got " .. concat(keys, ", "))
    end
    return true
  end
  local send, err = _fields(ctx, row.params, params, nil)
  if not send then return nil, err end
  local ok
  ok, err = _row_rules(ctx, row, send)
  if not ok then return nil, err end
  if next(send) == nil then return true end
  return send
end

return _M
