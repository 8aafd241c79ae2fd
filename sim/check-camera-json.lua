#!/usr/bin/env lua5.4
-- Self-check of sim/camera.json, the data that drives the simulated camera.
--
--   lua5.4 sim/check-camera-json.lua sim/camera.json
--
-- Verifies that the file describes exactly the 86 control methods of section 4
-- of the vendor document, that every method entry is well formed for its kind,
-- that every state key, map path and link path exists, that every rule is well
-- formed, that each method's example request (the document's own) passes its
-- rules, that removing a required field or adding an unknown one is rejected,
-- and that "set then get" returns what was set.
--
-- Exit status 0 when all checks pass, 1 with one line per problem otherwise.
-- Warnings (stderr, exit status unaffected) point at document examples that
-- fall outside the document's own ranges; they are kept on purpose.

local cjson = require "cjson"

local path = arg[1] or "sim/camera.json"

local errors, warnings = {}, {}
local function fail(fmt, ...) errors[#errors + 1] = string.format(fmt, ...) end
local function warn(fmt, ...) warnings[#warnings + 1] = string.format(fmt, ...) end

---------------------------------------------------------------------------
-- The 86 method names of section 4 (4.1.1 doAuth .. 4.15.1 manualAlarm).
-- Time-zone calls under their command-row spelling.
---------------------------------------------------------------------------
local EXPECTED = {
  "doAuth", "getModuleList",
  "getDeviceInfo", "setDeviceAlias", "getDeviceAlias", "doSoftReset", "searchSystemLog", "getDeviceStatus",
  "setTimezone", "getTimezone", "setSystemTime", "getSystemTime",
  "setSpeakerVolume", "getSpeakerVolume", "setMicrophoneVolume", "getMicrophoneVolume", "getAudioCapability",
  "setResolution", "getResolution", "getVideoCapability",
  "setDayNightMode", "getDayNightMode",
  "formatSdCard", "getSdCardStatus",
  "setMotionDetectionSwitch", "getMotionDetectionSwitch", "setMotionDetectionRegion", "getMotionDetectionRegion",
  "setCrosslineDetectionSwitch", "getCrosslineDetectionSwitch",
  "setCrosslineDetectionRegion", "getCrosslineDetectionRegion",
  "setInvasionDetectionSwitch", "getInvasionDetectionSwitch",
  "setInvasionDetectionRegion", "getInvasionDetectionRegion",
  "setTamperDetectionSwitch", "getTamperDetectionSwitch",
  "setPeopleDetectionSwitch", "getPeopleDetectionSwitch", "setPeopleDetectionRegion", "getPeopleDetectionRegion",
  "setVehicleDetectionSwitch", "getVehicleDetectionSwitch",
  "setVehicleDetectionRegion", "getVehicleDetectionRegion",
  "setAreaEntryDetectionSwitch", "getAreaEntryDetectionSwitch",
  "setAreaEntryDetectionRegion", "getAreaEntryDetectionRegion",
  "setAreaLeaveDetectionSwitch", "getAreaLeaveDetectionSwitch",
  "setAreaLeaveDetectionRegion", "getAreaLeaveDetectionRegion",
  "setDropAndTakeDetectionSwitch", "getDropAndTakeDetectionSwitch",
  "setDropAndTakeDetectionRegion", "getDropAndTakeDetectionRegion",
  "setLoiterDetectionSwitch", "getLoiterDetectionSwitch", "setLoiterDetectionRegion", "getLoiterDetectionRegion",
  "setSceneChangeDetectionSwitch", "getSceneChangeDetectionSwitch",
  "setAudioAnomalyDetectionSwitch", "getAudioAnomalyDetectionSwitch",
  "getEventEnhanceCapability",
  "getPresetPoint", "motorMove", "cruiseMove", "stopMove", "setPresetPoint", "removePresetPoint",
  "gotoPresetPoint", "getPTZCapability",
  "searchVideoCalendar", "searchVideoList", "getUserId",
  "getMediaList",
  "getStreamPort",
  "subscribeMsg", "setMsgpushInterval", "getMsgpushInterval",
  "setRecordSchedule", "getRecordSchedule",
  "manualAlarm",
}
local SPECIAL = { doAuth = true, subscribeMsg = true }

---------------------------------------------------------------------------
-- JSON helpers (lua-cjson decodes {} and [] alike; an empty table passes
-- as either an object or an array).
---------------------------------------------------------------------------
local null = cjson.null

local function is_table(v) return type(v) == "table" end

local function is_array(v)
  if type(v) ~= "table" then return false end
  local n = 0
  for k in pairs(v) do
    if math.type(k) ~= "integer" or k < 1 then return false end
    n = n + 1
  end
  for i = 1, n do if v[i] == nil then return false end end
  return true
end

local function is_object(v)
  if type(v) ~= "table" then return false end
  for k in pairs(v) do if type(k) ~= "string" then return false end end
  return true
end

local function sorted_keys(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = k end
  table.sort(ks, function(a, b) return tostring(a) < tostring(b) end)
  return ks
end

local function deep_copy(v)
  if type(v) ~= "table" then return v end
  local r = {}
  for k, x in pairs(v) do r[k] = deep_copy(x) end
  return r
end

local function deep_equal(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) ~= "table" then return a == b end
  for k, x in pairs(a) do if not deep_equal(x, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

local function split_path(p)
  local segs = {}
  for seg in string.gmatch(p, "[^.]+") do segs[#segs + 1] = seg end
  return segs
end

-- Value at a dotted path inside an object; nil when any step is missing.
local function get_path(root, p)
  local cur = root
  for _, seg in ipairs(split_path(p)) do
    if not is_object(cur) then return nil end
    cur = cur[seg]
    if cur == nil then return nil end
  end
  return cur
end

-- Write at a dotted path, creating intermediate objects (the engine's "set").
local function set_path(root, p, v)
  local segs = split_path(p)
  local cur = root
  for i = 1, #segs - 1 do
    if not is_table(cur[segs[i]]) then cur[segs[i]] = {} end
    cur = cur[segs[i]]
  end
  cur[segs[#segs]] = v
end

local function valid_path_syntax(p)
  if type(p) ~= "string" or p == "" or p:sub(1, 1) == "." or p:sub(-1) == "." or p:find("..", 1, true) then
    return false
  end
  for _, seg in ipairs(split_path(p)) do
    if not seg:match("^[%w_]+$") then return false end
  end
  return true
end

---------------------------------------------------------------------------
-- A small POSIX ERE matcher: literals, ".", bracket expressions with ranges
-- and "^" negation, groups, "|", "*", "+", "?", "{n}", "{n,}", "{n,m}", "^",
-- "$", and "\" before a special character. Anything else is refused so the
-- file stays within what every regcomp() handles the same way.
---------------------------------------------------------------------------
local function re_compile(pat)
  local pos, n = 1, #pat
  local parse_alt

  local function peek(o) o = o or 0; return pat:sub(pos + o, pos + o) end

  local function parse_atom()
    local c = peek()
    if c == "(" then
      pos = pos + 1
      local node = parse_alt()
      if peek() ~= ")" then error("missing ')'") end
      pos = pos + 1
      return node
    elseif c == "[" then
      pos = pos + 1
      local set = { neg = false, ranges = {} }
      if peek() == "^" then set.neg = true; pos = pos + 1 end
      local first = true
      while true do
        if pos > n then error("unterminated '['") end
        local ch = peek()
        if ch == "]" and not first then pos = pos + 1; break end
        if ch == "[" and (peek(1) == ":" or peek(1) == "." or peek(1) == "=") then
          error("[: :], [. .] and [= =] are not used here")
        end
        if ch == "\\" then error("backslash inside a bracket expression is literal in POSIX; avoid it") end
        pos = pos + 1
        local lo = ch:byte()
        if peek() == "-" and peek(1) ~= "]" and peek(1) ~= "" then
          local hi = peek(1):byte()
          pos = pos + 2
          if hi < lo then error("inverted range in bracket expression") end
          set.ranges[#set.ranges + 1] = { lo, hi }
        else
          set.ranges[#set.ranges + 1] = { lo, lo }
        end
        first = false
      end
      return { t = "set", set = set }
    elseif c == "." then
      pos = pos + 1; return { t = "any" }
    elseif c == "^" then
      pos = pos + 1; return { t = "bol" }
    elseif c == "$" then
      pos = pos + 1; return { t = "eol" }
    elseif c == "\\" then
      local e = peek(1)
      if e == "" or not e:match("[%^%$%.%[%]%(%)|%*%+%?{}\\]") then
        error("unsupported escape '\\" .. e .. "'")
      end
      pos = pos + 2
      return { t = "char", c = e:byte() }
    elseif c == "*" or c == "+" or c == "?" or c == "{" then
      error("quantifier without operand at " .. pos)
    else
      pos = pos + 1
      return { t = "char", c = c:byte() }
    end
  end

  local function parse_seq()
    local seq = {}
    while pos <= n do
      local c = peek()
      if c == "|" or c == ")" then break end
      local atom = parse_atom()
      local mn, mx = 1, 1
      local q = peek()
      if q == "*" then mn, mx = 0, math.huge; pos = pos + 1
      elseif q == "+" then mn, mx = 1, math.huge; pos = pos + 1
      elseif q == "?" then mn, mx = 0, 1; pos = pos + 1
      elseif q == "{" then
        local a, b, after = pat:match("^{(%d+)(,?%d*)}()", pos)
        if not a then error("bad interval at " .. pos) end
        mn = tonumber(a)
        if b == "" then mx = mn elseif b == "," then mx = math.huge else mx = tonumber(b:sub(2)) end
        if mx < mn then error("interval {m,n} with n < m") end
        pos = after
      end
      if peek():match("^[%*%+%?{]$") then error("stacked quantifiers at " .. pos) end
      seq[#seq + 1] = { node = atom, min = mn, max = mx }
    end
    return seq
  end

  function parse_alt()
    local alts = { parse_seq() }
    while peek() == "|" do
      pos = pos + 1
      alts[#alts + 1] = parse_seq()
    end
    return { t = "group", alts = alts }
  end

  local ok, res = pcall(function()
    local ast = parse_alt()
    if pos <= n then error("unexpected '" .. peek() .. "' at " .. pos) end
    return ast
  end)
  if not ok then return nil, (tostring(res):gsub("^.-:%d+: ", "")) end
  return res
end

local match_seq
local function match_node(node, s, i, k)
  local t = node.t
  if t == "char" then
    return s:byte(i) == node.c and k(i + 1)
  elseif t == "any" then
    return i <= #s and k(i + 1)
  elseif t == "set" then
    local b = s:byte(i)
    if not b then return false end
    local hit = false
    for _, r in ipairs(node.set.ranges) do
      if b >= r[1] and b <= r[2] then hit = true; break end
    end
    if node.set.neg then hit = not hit end
    return hit and k(i + 1)
  elseif t == "bol" then
    return i == 1 and k(i)
  elseif t == "eol" then
    return i == #s + 1 and k(i)
  else -- group
    for _, alt in ipairs(node.alts) do
      if match_seq(alt, 1, s, i, k) then return true end
    end
    return false
  end
end

function match_seq(seq, idx, s, i, k)
  local item = seq[idx]
  if not item then return k(i) end
  local function rep(count, j)
    if count < item.max then
      local hit = match_node(item.node, s, j, function(j2)
        if j2 == j and count >= item.min then return false end -- no empty loops
        return rep(count + 1, j2)
      end)
      if hit then return true end
    end
    return count >= item.min and match_seq(seq, idx + 1, s, j, k)
  end
  return rep(0, i)
end

-- regexec() semantics: a match anywhere (patterns here carry their own ^...$).
local function re_search(ast, s)
  for start = 1, #s + 1 do
    if match_node(ast, s, start, function() return true end) then return true end
  end
  return false
end

local re_cache = {}
local function re_get(pat)
  local c = re_cache[pat]
  if c == nil then
    local ast, err = re_compile(pat)
    c = ast or { err = err }
    re_cache[pat] = c
  end
  if c.err then return nil, c.err end
  return c
end

---------------------------------------------------------------------------
-- Rules: well-formedness and validation.
---------------------------------------------------------------------------
local RULE_KEYS = {
  int    = { type = 1, min = 1, max = 1, enum = 1 },
  float  = { type = 1, min = 1, max = 1, enum = 1 },
  string = { type = 1, min_len = 1, max_len = 1, enum = 1, pattern = 1 },
  bool   = { type = 1 },
  array  = { type = 1, items = 1, min_items = 1, max_items = 1 },
  object = { type = 1, fields = 1, required = 1 },
}

-- A numeric value from a JSON number or a numeric string, as the engine reads it.
local function numeric_value(v, kind)
  if type(v) == "number" then
    if v ~= v or v == math.huge or v == -math.huge then return nil, "not a finite number" end
    if kind == "int" and v ~= math.floor(v) then return nil, "not an integer" end
    return v
  elseif type(v) == "string" then
    local ok
    if kind == "int" then
      ok = v:match("^%-?%d+$")
    else
      ok = v:match("^%-?%d+$") or v:match("^%-?%d+%.%d+$") or v:match("^%-?%.%d+$")
    end
    if not ok then return nil, "not a numeric string" end
    return tonumber(v)
  end
  return nil, "expected a number or a numeric string"
end

local validate -- forward

local function show(v)
  if math.type(v) == "float" and v == math.floor(v) and math.abs(v) < 2^53 then
    return string.format("%d", v)
  end
  return tostring(v)
end

local function check_rule(rule, where)
  if not is_object(rule) then fail("%s: rule is not an object", where); return end
  local ty = rule.type
  local allowed = RULE_KEYS[ty]
  if not allowed then fail("%s: unknown rule type %s", where, tostring(ty)); return end
  for _, k in ipairs(sorted_keys(rule)) do
    if not allowed[k] then fail("%s: key '%s' not allowed for type %s", where, k, ty) end
  end
  local function num(k, int_only)
    local v = rule[k]
    if v == nil then return nil end
    if type(v) ~= "number" or (int_only and v ~= math.floor(v)) then
      fail("%s: %s must be a%s number", where, k, int_only and "n integer" or ""); return nil
    end
    return v
  end
  if ty == "int" or ty == "float" then
    local mn, mx = num("min", ty == "int"), num("max", ty == "int")
    if mn and mx and mn > mx then fail("%s: min > max", where) end
  elseif ty == "string" then
    local a, b = num("min_len", true), num("max_len", true)
    if a and a < 0 then fail("%s: min_len < 0", where) end
    if a and b and a > b then fail("%s: min_len > max_len", where) end
    if rule.pattern ~= nil then
      local p = rule.pattern
      if type(p) ~= "string" then
        fail("%s: pattern must be a string", where)
      else
        local _, err = re_get(p)
        if err then fail("%s: pattern %q: %s", where, p, err) end
        if p:sub(1, 1) ~= "^" or p:sub(-1) ~= "$" or p:sub(-2, -2) == "\\" then
          fail("%s: pattern %q must be anchored with ^...$", where, p)
        end
      end
    end
  elseif ty == "array" then
    local a, b = num("min_items", true), num("max_items", true)
    if a and a < 0 then fail("%s: min_items < 0", where) end
    if a and b and a > b then fail("%s: min_items > max_items", where) end
    if rule.items == nil then fail("%s: array rule without items", where)
    else check_rule(rule.items, where .. "[]") end
  elseif ty == "object" then
    if not is_object(rule.fields) or next(rule.fields) == nil then
      fail("%s: object rule needs non-empty fields", where)
    else
      for _, f in ipairs(sorted_keys(rule.fields)) do check_rule(rule.fields[f], where .. "." .. f) end
    end
    if rule.required ~= nil then
      if not is_array(rule.required) then fail("%s: required must be an array", where)
      else
        for _, f in ipairs(rule.required) do
          if not (is_object(rule.fields) and rule.fields[f]) then
            fail("%s: required field '%s' has no rule", where, tostring(f))
          end
        end
      end
    end
  end
  if rule.enum ~= nil then
    if not is_array(rule.enum) or #rule.enum == 0 then
      fail("%s: enum must be a non-empty array", where)
    else
      local seen = {}
      for _, e in ipairs(rule.enum) do
        local key = type(e) .. ":" .. tostring(e)
        if seen[key] then fail("%s: duplicate enum value %s", where, tostring(e)) end
        seen[key] = true
        -- Each enum value must pass the rest of its own rule.
        local r2 = deep_copy(rule); r2.enum = nil
        local ok, msg = validate(r2, e, "enum")
        if not ok then fail("%s: enum value %s: %s", where, tostring(e), msg) end
      end
    end
  end
end

function validate(rule, v, where)
  local ty = rule.type
  if v == nil or v == null then return false, where .. ": null/missing value" end
  if ty == "int" or ty == "float" then
    local x, err = numeric_value(v, ty)
    if not x then return false, where .. ": " .. err end
    if rule.min and x < rule.min then return false, string.format("%s: %s < min %s", where, show(v), show(rule.min)) end
    if rule.max and x > rule.max then return false, string.format("%s: %s > max %s", where, show(v), show(rule.max)) end
    if rule.enum then
      for _, e in ipairs(rule.enum) do if tonumber(e) == x then return true end end
      return false, where .. ": " .. show(v) .. " not in enum"
    end
    return true
  elseif ty == "string" then
    if type(v) ~= "string" then return false, where .. ": expected a string" end
    if rule.min_len and #v < rule.min_len then return false, where .. ": shorter than min_len" end
    if rule.max_len and #v > rule.max_len then return false, where .. ": longer than max_len" end
    if rule.enum then
      local hit = false
      for _, e in ipairs(rule.enum) do if e == v then hit = true; break end end
      if not hit then return false, string.format("%s: %q not in enum", where, v) end
    end
    if rule.pattern then
      local ast = re_get(rule.pattern)
      if not ast then return false, where .. ": bad pattern" end
      if not re_search(ast, v) then return false, string.format("%s: %q does not match %s", where, v, rule.pattern) end
    end
    return true
  elseif ty == "bool" then
    if type(v) ~= "boolean" then return false, where .. ": expected true/false" end
    return true
  elseif ty == "array" then
    if not is_array(v) then return false, where .. ": expected an array" end
    if rule.min_items and #v < rule.min_items then return false, where .. ": fewer than min_items" end
    if rule.max_items and #v > rule.max_items then return false, where .. ": more than max_items" end
    for i, x in ipairs(v) do
      local ok, msg = validate(rule.items, x, where .. "[" .. i .. "]")
      if not ok then return false, msg end
    end
    return true
  elseif ty == "object" then
    if not is_object(v) then return false, where .. ": expected an object" end
    for _, k in ipairs(sorted_keys(v)) do
      if not rule.fields[k] then return false, where .. ": unknown field '" .. k .. "'" end
    end
    for _, k in ipairs(rule.required or {}) do
      if v[k] == nil then return false, where .. ": missing required field '" .. k .. "'" end
    end
    for _, k in ipairs(sorted_keys(v)) do
      local ok, msg = validate(rule.fields[k], v[k], where .. "." .. k)
      if not ok then return false, msg end
    end
    return true
  end
  return false, where .. ": unknown rule type"
end

-- Validation of a request's params against a method entry, as the engine does it.
local function validate_params(m, params)
  if params == nil or params == null then params = nil end
  if m.params == nil then
    if params ~= nil and next(params) ~= nil then return false, "method takes no params" end
    return true
  end
  params = params or {}
  if not is_object(params) then return false, "params is not an object" end
  for _, k in ipairs(sorted_keys(params)) do
    if not m.params[k] then return false, "unknown param '" .. k .. "'" end
  end
  for _, k in ipairs(m.required or {}) do
    if params[k] == nil then return false, "missing required param '" .. k .. "'" end
  end
  if m.one_of then
    local any = false
    for _, k in ipairs(m.one_of) do if params[k] ~= nil then any = true end end
    if not any then return false, "none of one_of present: " .. table.concat(m.one_of, ", ") end
  end
  if m.together then
    local have = 0
    for _, k in ipairs(m.together) do if params[k] ~= nil then have = have + 1 end end
    if have ~= 0 and have ~= #m.together then
      return false, "together: all or none of " .. table.concat(m.together, ", ")
    end
  end
  for _, k in ipairs(sorted_keys(params)) do
    local ok, msg = validate(m.params[k], params[k], k)
    if not ok then return false, msg end
  end
  return true
end

---------------------------------------------------------------------------
-- The validator checks itself on a few cases before it judges the file.
---------------------------------------------------------------------------
local function selftest()
  local cases = {
    { { type = "int", min = 0, max = 10 }, 3, true }, { { type = "int", min = 0, max = 10 }, "3", true },
    { { type = "int" }, "3x", false }, { { type = "int" }, 3.5, false }, { { type = "int" }, "3.0", false },
    { { type = "int", min = 0, max = 10 }, 11, false }, { { type = "int", min = 1 }, "0", false },
    { { type = "float", min = -1, max = 1 }, "0.2", true }, { { type = "float", min = -1, max = 1 }, "-1", true },
    { { type = "float", min = -1, max = 1 }, "1.5", false }, { { type = "float" }, "0x10", false },
    { { type = "string" }, 3, false }, { { type = "string", enum = { "on", "off" } }, "on", true },
    { { type = "string", enum = { "on", "off" } }, "ON", false },
    { { type = "string", pattern = "^UTC[+-]([01][0-9]|2[0-3]):[0-5][0-9]$" }, "UTC-00:00", true },
    { { type = "string", pattern = "^UTC[+-]([01][0-9]|2[0-3]):[0-5][0-9]$" }, "UTC+24:00", false },
    { { type = "string", pattern = "^UTC[+-]([01][0-9]|2[0-3]):[0-5][0-9]$" }, "xUTC+01:00", false },
    { { type = "string", pattern = "^[0-9A-Fa-f]{32}$" }, string.rep("a", 32), true },
    { { type = "string", pattern = "^[0-9A-Fa-f]{32}$" }, string.rep("a", 33), false },
    { { type = "string", pattern = "^(ab|c)*d?$" }, "abcabd", true },
    { { type = "string", pattern = "^(ab|c)*d?$" }, "abb", false },
    { { type = "string", pattern = "^[^x]{2,3}$" }, "yyy", true },
    { { type = "string", pattern = "^[^x]{2,3}$" }, "yxy", false },
    { { type = "array", items = { type = "int" }, max_items = 2 }, { 1, 2, 3 }, false },
    { { type = "array", items = { type = "int" } }, { a = 1 }, false },
    { { type = "object", fields = { a = { type = "int" } }, required = { "a" } }, { a = 1 }, true },
    { { type = "object", fields = { a = { type = "int" } }, required = { "a" } }, { b = 1 }, false },
    { { type = "bool" }, true, true }, { { type = "bool" }, "true", false },
  }
  for i, c in ipairs(cases) do
    local ok = validate(c[1], c[2], "t")
    if ok ~= c[3] then
      io.stderr:write(string.format("validator self-test %d failed\n", i))
      os.exit(2)
    end
  end
end
selftest()

---------------------------------------------------------------------------
-- Load the file.
---------------------------------------------------------------------------
local fh, ferr = io.open(path, "rb")
if not fh then io.stderr:write("cannot open " .. tostring(path) .. ": " .. tostring(ferr) .. "\n"); os.exit(1) end
local text = fh:read("a")
fh:close()
local okj, doc = pcall(cjson.decode, text)
if not okj then io.stderr:write(path .. ": invalid JSON: " .. tostring(doc) .. "\n"); os.exit(1) end
if not is_object(doc) then io.stderr:write(path .. ": top level is not an object\n"); os.exit(1) end

for _, k in ipairs(sorted_keys(doc)) do
  if k ~= "state" and k ~= "methods" and k ~= "notes" then fail("top level: unknown key '%s'", k) end
end
local state, methods = doc.state, doc.methods
if not is_object(state) then fail("top level: 'state' missing or not an object"); state = {} end
if not is_object(methods) then fail("top level: 'methods' missing or not an object"); methods = {} end
if doc.notes ~= nil then
  if not is_object(doc.notes) then fail("notes: not an object")
  else
    for _, k in ipairs(sorted_keys(doc.notes)) do
      if type(doc.notes[k]) ~= "string" then fail("notes.%s: not a string", k) end
      if not k:match("^_") and methods[k] == nil then fail("notes.%s: no such method", k) end
    end
  end
end

---------------------------------------------------------------------------
-- Method names and count.
---------------------------------------------------------------------------
local count = 0
for _ in pairs(methods) do count = count + 1 end
if count ~= 86 then fail("expected exactly 86 methods, found %d", count) end
local expected_set = {}
for _, name in ipairs(EXPECTED) do
  expected_set[name] = true
  if methods[name] == nil then fail("missing method %s", name) end
end
for _, name in ipairs(sorted_keys(methods)) do
  if not expected_set[name] then fail("unexpected method %s (not in section 4)", name) end
end

---------------------------------------------------------------------------
-- Per-method structure.
---------------------------------------------------------------------------
local KIND_KEYS = {
  get         = { kind = 1, state = 1, form = 1, example = 1 },
  set         = { kind = 1, state = 1, params = 1, required = 1, one_of = 1, together = 1, map = 1,
                  links = 1, example = 1 },
  set_regions = { kind = 1, state = 1, params = 1, required = 1, one_of = 1, together = 1, array = 1, example = 1 },
  action      = { kind = 1, params = 1, required = 1, one_of = 1, together = 1, result = 1, form = 1, example = 1 },
  special     = { kind = 1, params = 1, required = 1, one_of = 1, together = 1, example = 1 },
}

local kinds = {}
local state_used = {}
local getters_of = {} -- state key -> list of getter names

local function check_name_list(name, m, key)
  local v = m[key]
  if v == nil then return end
  if not is_array(v) or #v == 0 then fail("%s: %s must be a non-empty array", name, key); return end
  local seen = {}
  for _, f in ipairs(v) do
    if type(f) ~= "string" then fail("%s: %s holds a non-string", name, key)
    else
      if seen[f] then fail("%s: %s lists '%s' twice", name, key, f) end
      seen[f] = true
      if not (is_object(m.params) and m.params[f]) then fail("%s: %s names '%s', which has no rule", name, key, f) end
    end
  end
end

for _, name in ipairs(sorted_keys(methods)) do
  local m = methods[name]
  if not is_object(m) then fail("%s: entry is not an object", name); goto continue end
  local kind = m.kind
  local allowed = KIND_KEYS[kind]
  if not allowed then fail("%s: unknown kind %s", name, tostring(kind)); goto continue end
  kinds[kind] = (kinds[kind] or 0) + 1
  for _, k in ipairs(sorted_keys(m)) do
    if not allowed[k] then fail("%s: key '%s' not allowed for kind %s", name, k, kind) end
  end
  if (kind == "special") ~= (SPECIAL[name] == true) then
    fail("%s: kind 'special' is reserved for doAuth and subscribeMsg", name)
  end
  if m.example == nil then fail("%s: no 'example' (use null for a request without params)", name) end
  if m.form ~= nil and m.form ~= "media" then fail("%s: form must be \"media\"", name) end
  if m.form ~= nil and name ~= "getMediaList" then fail("%s: form is only for getMediaList", name) end

  -- state key
  if kind == "get" or kind == "set" or kind == "set_regions" then
    local key = m.state
    if type(key) ~= "string" then fail("%s: kind %s needs a state key", name, kind)
    elseif state[key] == nil then fail("%s: state key '%s' does not exist", name, key)
    elseif not is_object(state[key]) then fail("%s: state '%s' is not an object", name, key)
    else
      state_used[key] = true
      if kind == "get" then
        getters_of[key] = getters_of[key] or {}
        table.insert(getters_of[key], name)
      end
    end
  end

  -- params
  if m.params ~= nil then
    if not is_object(m.params) or next(m.params) == nil then fail("%s: params must be a non-empty object", name)
    else
      for _, f in ipairs(sorted_keys(m.params)) do check_rule(m.params[f], name .. ".params." .. f) end
    end
  elseif kind == "set" or kind == "set_regions" then
    fail("%s: kind %s needs params", name, kind)
  end
  check_name_list(name, m, "required")
  check_name_list(name, m, "one_of")
  check_name_list(name, m, "together")
  if m.one_of and #m.one_of < 2 then fail("%s: one_of needs at least two names", name) end
  if m.together and #m.together < 2 then fail("%s: together needs at least two names", name) end

  if kind == "get" and m.example ~= null then fail("%s: a getter's example must be null", name) end

  if kind == "set" and is_object(state[m.state]) then
    if m.map ~= nil then
      if not is_object(m.map) then fail("%s: map is not an object", name)
      else
        for _, f in ipairs(sorted_keys(m.map)) do
          local p = m.map[f]
          if not (is_object(m.params) and m.params[f]) then fail("%s: map names '%s', which has no rule", name, f) end
          if not valid_path_syntax(p) then fail("%s: map.%s: bad path %s", name, f, tostring(p))
          elseif get_path(state[m.state], p) == nil then
            fail("%s: map.%s: path '%s' does not exist in state '%s'", name, f, p, m.state)
          end
        end
      end
    end
    if m.links ~= nil then
      if not is_object(m.links) then fail("%s: links is not an object", name)
      else
        for _, f in ipairs(sorted_keys(m.links)) do
          if not (is_object(m.params) and m.params[f]) then fail("%s: links names '%s', which has no rule", name, f) end
          local list = m.links[f]
          if not is_array(list) or #list == 0 then fail("%s: links.%s must be a non-empty array", name, f)
          else
            for _, lp in ipairs(list) do
              local key, rest = tostring(lp):match("^([^.]+)%.(.+)$")
              if not key or not valid_path_syntax(rest) then fail("%s: links.%s: bad path %s", name, f, tostring(lp))
              elseif state[key] == nil then fail("%s: links.%s: state key '%s' does not exist", name, f, key)
              elseif get_path(state[key], rest) == nil then
                fail("%s: links.%s: path '%s' does not exist in state '%s'", name, f, rest, key)
              else
                state_used[key] = true
              end
            end
          end
        end
      end
    end
  end

  if kind == "set_regions" then
    local a = m.array
    local r = is_object(m.params) and type(a) == "string" and m.params[a]
    if not r then fail("%s: array must name one of the params", name)
    elseif r.type ~= "array" or not is_object(r.items) or r.items.type ~= "object" then
      fail("%s: params.%s must be an array of objects", name, a)
    end
    if is_object(state[m.state]) then
      for _, k in ipairs(sorted_keys(state[m.state])) do
        if not k:match("^region_info_%d+$") then
          fail("%s: state '%s' has key '%s', not region_info_N", name, m.state, k)
        end
      end
    end
  end

  if kind == "action" and m.result ~= nil and not is_object(m.result) then
    fail("%s: result must be an object", name)
  end
  ::continue::
end

for _, key in ipairs(sorted_keys(state)) do
  if not state_used[key] then fail("state '%s' is used by no method", key) end
end

---------------------------------------------------------------------------
-- Examples: the document's request must validate; variants must not.
---------------------------------------------------------------------------
local examples_checked = 0
for _, name in ipairs(sorted_keys(methods)) do
  local m = methods[name]
  if not (is_object(m) and KIND_KEYS[m.kind]) then goto continue end
  local ex = m.example
  if ex ~= null and ex ~= nil and not is_object(ex) then
    fail("%s: example must be null or an object", name); goto continue
  end
  if ex == null then ex = nil end
  if ex == nil and m.required and #m.required > 0 then
    fail("%s: example is null but the method has required params", name)
  end
  do
    local ok, msg = validate_params(m, ex)
    if not ok then fail("%s: document example rejected: %s", name, msg) end
    examples_checked = examples_checked + 1
  end
  if ex ~= nil then
    local bad = deep_copy(ex); bad.__not_a_param__ = 1
    if validate_params(m, bad) then fail("%s: an unknown param is accepted", name) end
    for _, r in ipairs(m.required or {}) do
      local miss = deep_copy(ex); miss[r] = nil
      if validate_params(m, miss) then fail("%s: missing required '%s' is accepted", name, r) end
    end
    if m.one_of then
      local none = deep_copy(ex)
      for _, k in ipairs(m.one_of) do none[k] = nil end
      if validate_params(m, none) then fail("%s: a request with none of one_of is accepted", name) end
    end
  elseif m.params == nil then
    if validate_params(m, { x = 1 }) then fail("%s: params accepted by a method that takes none", name) end
  end
  ::continue::
end

---------------------------------------------------------------------------
-- "Set then get": apply each setter's example to a copy of the state the way
-- the engine does, and read it back through the getters of that state key.
---------------------------------------------------------------------------
for _, name in ipairs(sorted_keys(methods)) do
  local m = methods[name]
  if not (is_object(m) and (m.kind == "set" or m.kind == "set_regions")) then goto continue end
  if not is_object(state[m.state]) then goto continue end
  local ex = m.example
  if not is_object(ex) then fail("%s: a setter needs an example request", name); goto continue end
  local getters = getters_of[m.state]
  if not getters then warn("%s: no getter reads state '%s'", name, m.state) end

  local st = deep_copy(state)
  if m.kind == "set" then
    for _, f in ipairs(sorted_keys(m.params)) do
      local p = (m.map and m.map[f]) or f
      if get_path(state[m.state], p) == nil then
        warn("%s: '%s' has no place in the initial state '%s' yet (a set creates '%s')", name, f, m.state, p)
      end
    end
    for f, v in pairs(ex) do
      set_path(st[m.state], (m.map and m.map[f]) or f, deep_copy(v))
      for _, lp in ipairs((m.links and m.links[f]) or {}) do
        local key, rest = lp:match("^([^.]+)%.(.+)$")
        if key and st[key] then set_path(st[key], rest, deep_copy(v)) end
      end
    end
    for _, g in ipairs(getters or {}) do
      local res = st[methods[g].state]
      for f, v in pairs(ex) do
        local p = (m.map and m.map[f]) or f
        if not deep_equal(get_path(res, p), v) then
          fail("%s then %s: '%s' does not read back at '%s'", name, g, f, p)
        end
      end
    end
    for f, v in pairs(ex) do
      for _, lp in ipairs((m.links and m.links[f]) or {}) do
        local key, rest = lp:match("^([^.]+)%.(.+)$")
        if key and st[key] and not deep_equal(get_path(st[key], rest), v) then
          fail("%s: link '%s' does not read back", name, lp)
        end
      end
    end
  else
    local items = ex[m.array]
    local repl = {}
    for i, item in ipairs(items or {}) do repl["region_info_" .. i] = deep_copy(item) end
    st[m.state] = repl
    for _, g in ipairs(getters or {}) do
      local res = st[methods[g].state]
      for i, item in ipairs(items or {}) do
        if not deep_equal(res["region_info_" .. i], item) then
          fail("%s then %s: region_info_%d does not read back", name, g, i)
        end
      end
    end
  end
  ::continue::
end

---------------------------------------------------------------------------
-- Warnings: initial state values outside the setters' own rules.
---------------------------------------------------------------------------
for _, name in ipairs(sorted_keys(methods)) do
  local m = methods[name]
  if not (is_object(m) and is_object(m.params) and is_object(state[m.state or ""])) then goto continue end
  if m.kind == "set" then
    for _, f in ipairs(sorted_keys(m.params)) do
      local p = (m.map and m.map[f]) or f
      local v = get_path(state[m.state], p)
      if v ~= nil then
        local ok, msg = validate(m.params[f], v, m.state .. "." .. p)
        if not ok then warn("initial state vs %s: %s", name, msg) end
      end
    end
  elseif m.kind == "set_regions" then
    local r = m.params[m.array]
    for _, k in ipairs(sorted_keys(state[m.state])) do
      local ok, msg = validate(r.items, state[m.state][k], m.state .. "." .. k)
      if not ok then warn("initial state vs %s: %s", name, msg) end
    end
  end
  ::continue::
end

---------------------------------------------------------------------------
-- Report.
---------------------------------------------------------------------------
for _, w in ipairs(warnings) do io.stderr:write("warning: " .. w .. "\n") end
if #errors > 0 then
  for _, e in ipairs(errors) do io.stderr:write("error: " .. e .. "\n") end
  io.stderr:write(string.format("%s: %d problem(s)\n", path, #errors))
  os.exit(1)
end
local parts = {}
for _, k in ipairs({ "get", "set", "set_regions", "action", "special" }) do
  parts[#parts + 1] = string.format("%s %d", k, kinds[k] or 0)
end
print(string.format("%s: OK, %d methods (%s), %d state keys, %d example requests validated",
  path, count, table.concat(parts, ", "), #sorted_keys(state), examples_checked))
