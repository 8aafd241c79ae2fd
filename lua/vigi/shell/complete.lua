-- Tab completion for the shell, from the text typed so far.
--
--   complete(text, env) -> start, candidates
--
-- text is the line up to the cursor; env the shell's globals. The
-- fragment being completed starts at `start` in text, and each candidate
-- is a whole replacement for text:sub(start). What is completed:
--
--   globals and keywords               pri       -> print
--   fields of a table                  vigi.con  -> connect
--   methods of an object               cam:setMo -> setMotionDetectionRegion ...
--   inside { } after a camera method,  cam:setMotionDetectionSwitch{ sens -> sensitivity
--   its parameter names, nested ones   cam:setMotionDetectionRegion{ set_region_info = { { poi
--   too, and their enum values         ...{ enabled = "o -> on, off
--
-- Parameters come from the method table (methods.lua, and stream/api.lua
-- for the stream requests), so completion knows what check.lua accepts.
-- Nothing here calls a function of the values it walks: only tables, and
-- metatables' __index when it is a table, are looked into.
local methods = require "vigi.methods"
local streamapi = require "vigi.stream.api"
local KEYWORDS = require("vigi.shell.show").KEYWORDS

local _M = {}

-- The row of a method name: a control method, or a stream request of the
-- same name as the camera's function (preview, playback, download, ...).
local stream_rows = {}
for _, row in ipairs(streamapi.list) do stream_rows[row.name] = row end

-- The camera's Lua methods that take options rather than a request's
-- parameters (events.lua, stream/media.lua): the options worth offering.
local SUBSCRIBE_TYPES = methods.by_name.subscribeMsg.params[1].items
local function number(name) return { name = name, type = "float" } end
local lua_rows = {
  subscribe = { params = {
    { name = "event_types", type = "array", items = SUBSCRIBE_TYPES },
    number("heartbeat"), number("timeout"), number("watchdog"), number("backoff_min"), number("backoff_max"),
  } },
  preview = { params = {
    { name = "resolution", type = "string", enum = { "HD", "VGA" } },
    stream_rows.preview.params[1], number("timeout"), number("stall"),
  } },
}

function _M.row(name)
  return methods.by_name[name] or lua_rows[name] or stream_rows[name]
end

-- Functions of the shell whose string arguments are event types.
local EVENT_ARGS = { watch = true }

local function starts(s, prefix) return s:sub(1, #prefix) == prefix end

local function sorted_unique(list)
  table.sort(list)
  local out = {}
  for i, v in ipairs(list) do
    if v ~= list[i - 1] then out[#out + 1] = v end
  end
  return out
end

-- The brackets still open at the end of text, innermost last, each with
-- the position of the last comma at its own level; and the quote opened
-- and not closed (with its position), if any.
local function scan(text)
  local stack, quote, qpos = {}, nil, nil
  local i, n = 1, #text
  while i <= n do
    local c = text:sub(i, i)
    if quote then
      if c == "\\" then i = i + 1
      elseif c == quote then quote = nil end
    elseif c == '"' or c == "'" then
      quote, qpos = c, i
    elseif c == "-" and text:sub(i, i + 1) == "--" then
      break -- a comment: nothing after it is code
    elseif c == "{" or c == "(" or c == "[" then
      stack[#stack + 1] = { char = c, pos = i, sep = i }
    elseif c == "}" or c == ")" or c == "]" then
      stack[#stack] = nil
    elseif (c == "," or c == ";") and stack[#stack] then
      stack[#stack].sep = i
    end
    i = i + 1
  end
  return stack, quote and qpos
end

local function find_spec(fields, name)
  for _, spec in ipairs(fields or {}) do
    if spec.name == name then return spec end
  end
  return nil
end

-- What the table opened by stack[i] holds: { fields = specs } for a
-- method's parameters or an object, { items = spec } for an array.
local function shape_at(text, stack, i)
  local open = stack[i]
  if not open or open.char ~= "{" then return nil end
  local before = text:sub(1, open.pos - 1)
  local method = before:match("[%a_][%w_]*%s*:%s*([%a_][%w_]*)%s*%(?%s*$")
    or before:match(":%s*call%s*%(%s*[\"']([%a_][%w_]*)[\"']%s*,%s*$")
  if method then
    local row = _M.row(method)
    return row and { fields = row.params or {} }
  end
  local parent = shape_at(text, stack, i - 1)
  if not parent then return nil end
  local name = before:match("([%a_][%w_]*)%s*=%s*$")
  local spec
  if name and parent.fields then
    spec = find_spec(parent.fields, name)
  elseif parent.items and before:match("[{,;]%s*$") then
    spec = parent.items -- an element of an array
  end
  if not spec then return nil end
  if spec.type == "object" then return { fields = spec.fields or {} } end
  if spec.type == "array" and spec.items then return { items = spec.items } end
  return nil
end

local function values_of(spec)
  if not spec then return nil end
  if spec.enum then return spec.enum end
  if spec.type == "bool" then return { true, false } end
  return nil
end

-- Candidates for a value of `spec`: after a quote, the bare strings;
-- otherwise each value as Lua text.
local function value_candidates(spec, quote, frag)
  local out = {}
  for _, v in ipairs(values_of(spec) or {}) do
    local text
    if quote then
      text = type(v) == "string" and v or nil
    else
      text = type(v) == "string" and string.format("%q", v) or tostring(v)
    end
    if text and starts(text, frag) then out[#out + 1] = text end
  end
  return out
end

local function param_context(text)
  local stack, qpos = scan(text)
  local shape = shape_at(text, stack, #stack)
  if not shape then return nil end
  local open = stack[#stack]
  local seg_start = open.sep + 1
  local seg = text:sub(seg_start)
  if shape.fields then
    local frag = seg:match("^%s*([%a_][%w_]*)$") or (seg:match("^%s*$") and "")
    if frag then
      local out = {}
      for _, spec in ipairs(shape.fields) do
        if starts(spec.name, frag) then out[#out + 1] = spec.name end
      end
      return #text - #frag + 1, out
    end
    local name, eq_rest = seg:match("^%s*([%a_][%w_]*)%s*=(.*)$")
    if not name then return nil end
    local spec = find_spec(shape.fields, name)
    if qpos then
      return qpos + 1, value_candidates(spec, true, text:sub(qpos + 1))
    end
    local frag2 = eq_rest:match("^%s*([%w_]*)$")
    if not frag2 then return nil end
    return #text - #frag2 + 1, value_candidates(spec, false, frag2)
  end
  -- an element of an array of plain values
  if qpos then return qpos + 1, value_candidates(shape.items, true, text:sub(qpos + 1)) end
  local frag = seg:match("^%s*([%w_]*)$")
  if not frag then return nil end
  return #text - #frag + 1, value_candidates(shape.items, false, frag)
end

-- Index without calling anything: raw fields, then __index tables.
local function peek(v, k)
  local seen = 0
  while v ~= nil and seen < 16 do
    if type(v) == "table" then
      local x = rawget(v, k)
      if x ~= nil then return x end
    elseif type(v) ~= "string" and type(v) ~= "userdata" then
      return nil
    end
    local mt = getmetatable(v)
    local idx = type(mt) == "table" and rawget(mt, "__index") or nil
    if type(idx) ~= "table" then return nil end
    v, seen = idx, seen + 1
  end
  return nil
end

-- Every key of v, its __index tables' too, with the value.
local function each_key(v, fn)
  local seen = 0
  while v ~= nil and seen < 16 do
    if type(v) == "table" then
      for k, x in next, v do
        if type(k) == "string" then fn(k, x) end
      end
    end
    local mt = getmetatable(v)
    local idx = type(mt) == "table" and rawget(mt, "__index") or nil
    if type(idx) ~= "table" then return end
    v, seen = idx, seen + 1
  end
end

local function identifier(k)
  return k:match("^[%a_][%w_]*$") and not KEYWORDS[k]
end

local function expression_context(text, env)
  local chain = text:match("[%a_][%w_%.:]*$") or ""
  if text:sub(-1):match("[%.:]") and chain == "" then return nil end
  local base, sep, frag = chain:match("^(.*)([%.:])([%w_]*)$")
  local out = {}
  local function offer(k)
    if identifier(k) and starts(k, frag) and (k:sub(1, 1) ~= "_" or frag:sub(1, 1) == "_") then
      out[#out + 1] = k
    end
  end
  if not base then
    frag = chain
    each_key(env, offer)
    for k in next, _G do if type(k) == "string" then offer(k) end end
    for k in pairs(KEYWORDS) do if starts(k, frag) then out[#out + 1] = k end end
  else
    if base:find(":", 1, true) then return nil end
    local v = env
    for name in base:gmatch("[^%.]+") do
      if not identifier(name) then return nil end
      v = peek(v, name)
      if v == nil then return nil end
    end
    each_key(v, function(k, x)
      if sep == "." or type(x) == "function" then offer(k) end
    end)
  end
  return #text - #frag + 1, out
end

-- watch("Mo -> MotionDetection
local function string_arg_context(text)
  local stack, qpos = scan(text)
  local open = stack[#stack]
  if not qpos or not open or open.char ~= "(" then return nil end
  local fn = text:sub(1, open.pos - 1):match("([%a_][%w_]*)%s*$")
  if not EVENT_ARGS[fn] then return nil end
  return qpos + 1, value_candidates(SUBSCRIBE_TYPES, true, text:sub(qpos + 1))
end

function _M.complete(text, env)
  local start, out = param_context(text)
  if not start then start, out = string_arg_context(text) end
  if not start then start, out = expression_context(text, env) end
  if not start then return #text + 1, {} end
  return start, sorted_unique(out)
end

-- For GNU readline: line is the whole buffer, the word to replace is
-- line:sub(from, to) (readline's idea of a word), the cursor at `to`.
-- Returns replacements of that word.
function _M.for_readline(line, from, to, env)
  local text = line:sub(1, to)
  local start, cands = _M.complete(text, env)
  local out = {}
  for _, c in ipairs(cands) do
    if start >= from then
      out[#out + 1] = text:sub(from, start - 1) .. c
    elseif text:sub(start, from - 1) == c:sub(1, from - start) then
      out[#out + 1] = c:sub(from - start + 1)
    end
  end
  return out
end

return _M
