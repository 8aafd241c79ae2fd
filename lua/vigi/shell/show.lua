-- Values as readable, stable Lua text, for the shell (lua/vigi/shell/init.lua).
--
--   show(v [, opts]) -> text
--
-- Tables print as Lua constructors: the sequence part in order, then the
-- other keys sorted (numbers, then strings, then the rest), on one line
-- when it fits in `width`, else one entry a line, indented by two. The
-- same value always prints the same text, whatever the order of pairs().
-- Long strings are cut (with their length in bytes), binary ones shown as
-- their first bytes in hex, tables met again on their own path print as
-- <cycle>, and values under names that hold secrets (password, stok,
-- token, ...) as <hidden>. Objects with a __tostring (a camera, a stream,
-- an error) print as that one line. A camera's answer comes from the
-- network, so what it can make the shell print is bounded: string length,
-- depth, entries per table and entries in all (docs/limits.md).
local json = require "vigi.json"

local _M = {}

_M.defaults = {
  width = 78,         -- a table fits on one line up to this many columns
  max_string = 200,   -- longer strings are cut to this many bytes
  max_depth = 8,      -- deeper tables print as {...}
  max_entries = 100,  -- per table; the rest is counted
  max_total = 2000,   -- entries in all, per value shown
}

-- Names whose string values are secrets (matched in lower case).
local SECRET_NAMES = { "pass", "pwd", "secret", "stok", "token", "nonce", "credential" }

function _M.secret_name(k)
  if type(k) ~= "string" then return false end
  local l = k:lower()
  for _, s in ipairs(SECRET_NAMES) do
    if l:find(s, 1, true) then return true end
  end
  return false
end

local KEYWORDS = {}
for w in ([[and break do else elseif end false for function goto if in
  local nil not or repeat return then true until while]]):gmatch("%a+") do KEYWORDS[w] = true end
_M.KEYWORDS = KEYWORDS

local function is_identifier(s)
  return type(s) == "string" and s:match("^[%a_][%w_]*$") ~= nil and not KEYWORDS[s]
end

-- Bytes that do not print: controls other than tab and line ends, DEL,
-- and bytes that are not part of valid UTF-8.
local function odd_bytes(s)
  local n, i, len = 0, 1, #s
  while i <= len do
    local c = s:byte(i)
    if c < 0x80 then
      if (c < 32 and c ~= 9 and c ~= 10 and c ~= 13) or c == 127 then n = n + 1 end
      i = i + 1
    else
      local need = (c >= 0xF0 and c <= 0xF4 and 3) or (c >= 0xE0 and 2) or (c >= 0xC2 and c < 0xE0 and 1) or 0
      local ok = need > 0
      for j = 1, need do
        local d = s:byte(i + j)
        if not d or d < 0x80 or d > 0xBF then ok = false break end
      end
      if ok then i = i + need + 1 else n = n + 1 i = i + 1 end
    end
  end
  return n
end

local ESCAPES = { ["\\"] = "\\\\", ['"'] = '\\"', ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }

local function escape(s)
  return (s:gsub('[%c\\"\127]', function(c)
    return ESCAPES[c] or string.format("\\%03d", c:byte())
  end))
end

-- The first `n` bytes of s, not cutting a UTF-8 sequence.
local function head(s, n)
  if #s <= n then return s end
  while n > 0 do
    local c = s:byte(n + 1)
    if not c or c < 0x80 or c >= 0xC0 then break end
    n = n - 1
  end
  return s:sub(1, n)
end

local function show_string(s, o)
  local odd = odd_bytes(s)
  if odd > 0 and (odd * 8 > #s or odd > 32) then
    local hex = s:sub(1, 16):gsub(".", function(c) return string.format("%02x ", c:byte()) end)
    return (string.format("<%d bytes: %s%s>", #s, hex, #s > 16 and "..." or ""):gsub(" >$", ">"))
  end
  if #s > o.max_string then
    return '"' .. escape(head(s, o.max_string)) .. '..." (' .. #s .. " bytes)"
  end
  if odd > 0 then
    -- a few odd bytes in text: escape them one by one
    return '"' .. escape(s):gsub("[\128-\255]", function(c) return string.format("\\%03d", c:byte()) end) .. '"'
  end
  return '"' .. escape(s) .. '"'
end

local function show_number(n)
  if n ~= n then return "0/0" end
  if n == math.huge then return "math.huge" end
  if n == -math.huge then return "-math.huge" end
  return tostring(n)
end

-- Sort order of keys: numbers, strings, booleans, the rest; within a
-- kind by value (or by text for the rest).
local RANK = { number = 1, string = 2, boolean = 3 }
local function key_less(a, b)
  local ta, tb = type(a), type(b)
  local ra, rb = RANK[ta] or 4, RANK[tb] or 4
  if ra ~= rb then return ra < rb end
  if ta == "number" or ta == "string" then
    if ta == "number" and (a ~= a or b ~= b) then return b ~= b and a == a end
    return a < b
  end
  if ta == "boolean" then return (not a) and b end
  return tostring(a) < tostring(b)
end

local function has_tostring(v)
  local mt = getmetatable(v)
  return type(mt) == "table" and rawget(mt, "__tostring") ~= nil
end

local function object_text(v)
  local ok, s = pcall(tostring, v)
  if not ok or type(s) ~= "string" then return "<" .. type(v) .. ">" end
  return s
end

local render

local function show_key(k, o, state)
  if is_identifier(k) then return k end
  if type(k) == "string" then return "[" .. show_string(k, o) .. "]" end
  if type(k) == "number" then return "[" .. show_number(k) .. "]" end
  return "[" .. render(k, o, state, "", 99) .. "]"
end

local function show_table(t, o, state, indent, depth)
  if state.path[t] then return "<cycle>" end
  if depth > o.max_depth then return "{...}" end
  state.path[t] = true
  local n = 0
  while rawget(t, n + 1) ~= nil do n = n + 1 end
  local keys = {}
  for k in next, t do
    if not (type(k) == "number" and k >= 1 and k <= n and k % 1 == 0) then keys[#keys + 1] = k end
  end
  table.sort(keys, key_less)
  local inner = indent .. "  "
  local items, multiline, total = {}, false, n + #keys
  local shown = 0
  local function add(text)
    items[#items + 1] = text
    if text:find("\n", 1, true) then multiline = true end
  end
  local function room()
    if shown >= o.max_entries or state.budget <= 0 then return false end
    shown, state.budget = shown + 1, state.budget - 1
    return true
  end
  for i = 1, n do
    if not room() then break end
    add(render(rawget(t, i), o, state, inner, depth + 1))
  end
  for _, k in ipairs(keys) do
    if not room() then break end
    local v = rawget(t, k)
    local text
    if _M.secret_name(k) and (type(v) == "string" or type(v) == "number") then
      text = "<hidden>"
    else
      text = render(v, o, state, inner, depth + 1)
    end
    add(show_key(k, o, state) .. " = " .. text)
  end
  state.path[t] = nil
  if shown < total then add("... (" .. (total - shown) .. " more)") end
  if #items == 0 then
    return getmetatable(t) == json.array_mt and "{} --[[array]]" or "{}"
  end
  local one = "{ " .. table.concat(items, ", ") .. " }"
  if not multiline and #indent + #one <= o.width then return one end
  return "{\n" .. inner .. table.concat(items, ",\n" .. inner) .. "\n" .. indent .. "}"
end

function render(v, o, state, indent, depth)
  local tv = type(v)
  if tv == "string" then return show_string(v, o) end
  if tv == "number" then return show_number(v) end
  if tv == "nil" or tv == "boolean" then return tostring(v) end
  if v == json.null then return "vigi.null" end
  if has_tostring(v) then return "<" .. object_text(v) .. ">" end
  if tv == "table" then return show_table(v, o, state, indent, depth) end
  return "<" .. tv .. ">"
end

local function options(opts)
  local o = {}
  for k, d in pairs(_M.defaults) do o[k] = opts and opts[k] or d end
  return o
end

-- show(v [, opts]) -> text (possibly several lines, no final newline).
-- An object with a __tostring prints as its text, without the brackets
-- it gets inside a table.
function _M.show(v, opts)
  if has_tostring(v) then return object_text(v) end
  local o = options(opts)
  return render(v, o, { path = {}, budget = o.max_total }, "", 1)
end

-- The results of one evaluation, as the shell prints them: each value
-- shown, separated by tabs; `nil, err` as "nil" and the error's line.
function _M.results(r, opts)
  local parts = {}
  for i = 1, r.n do parts[i] = _M.show(r[i], opts) end
  return table.concat(parts, "\t")
end

return _M
