-- Reference documentation made from methods.lua: docs/api.md (markdown())
-- and the text of `vigi methods` (describe()). The output depends on the
-- rows alone and walks them in order, so it is the same on every run and
-- docs/api.md can be checked for staleness by comparison.
local methods = require "vigi.methods"

local _M = {}

local concat = table.concat

local ACCESS = {
  read = "read: no side effect, safe to resend",
  write = "write: changes a setting",
  action = "action: acts on the device (not safe to resend)",
  auth = "auth: logs in, used by the connection itself",
  stream = "stream: the answer stays open and carries messages",
}

local function _code(s) return "`" .. s .. "`" end
local function _plain(s) return s end

-- "0..100", "exactly 4", "at least 1", "at most 8", with a unit in the
-- plural ("items") that a bound of 1 makes singular.
local function _bounds(min, max, unit)
  local function u(n)
    if not unit then return "" end
    return " " .. (n == 1 and unit:gsub("s$", "") or unit)
  end
  if min and max then
    if min == max then return "exactly " .. min .. u(min) end
    return min .. ".." .. max .. u(max)
  end
  if min then return "at least " .. min .. u(min) end
  if max then return "at most " .. max .. u(max) end
  return nil
end

local function _type(spec)
  if spec.type == "array" and spec.items then return "array of " .. spec.items.type end
  return spec.type
end

-- The rule of one spec as text; `q` quotes literal values (code spans in
-- Markdown, nothing in plain text).
local function _rule(spec, q)
  local parts = {}
  local function add(s) if s then parts[#parts + 1] = s end end
  if spec.type == "int" or spec.type == "float" then
    add(_bounds(spec.min, spec.max))
    if spec.wire == "string" then add("sent as a string") end
  elseif spec.type == "string" then
    add(_bounds(spec.min_len, spec.max_len, "bytes"))
    if spec.pattern then add("format " .. (spec.format or q(spec.pattern))) end
    if spec.rewrite then add(spec.rewrite.doc) end
  elseif spec.type == "bool" then
    add("true or false")
  elseif spec.type == "array" then
    add(_bounds(spec.min_items, spec.max_items, "items"))
    local items = spec.items
    if items and items.type == "object" then
      add("each an object, fields below")
    elseif items then
      local r = _rule(items, q)
      if r ~= "" then add("each " .. r) end
    end
  elseif spec.type == "object" and spec.fields then
    add("fields below")
  end
  if spec.enum then
    local values = {}
    for i, v in ipairs(spec.enum) do values[i] = q(tostring(v)) end
    add("one of " .. concat(values, ", "))
  end
  if spec.secret then add("never shown in messages") end
  return concat(parts, "; ")
end

-- Every parameter, nested ones included, in order, with its path:
-- "set_region_info[].points_x".
local function _flatten(specs, prefix, out)
  out = out or {}
  for _, spec in ipairs(specs or {}) do
    local path = prefix and prefix .. "." .. spec.name or spec.name
    out[#out + 1] = { path = path, spec = spec }
    if spec.type == "array" and spec.items and spec.items.fields then
      _flatten(spec.items.fields, path .. "[]", out)
    elseif spec.type == "object" and spec.fields then
      _flatten(spec.fields, path, out)
    end
  end
  return out
end

local function _call(row)
  if not row.params then return "cam:" .. row.name .. "()" end
  local args = {}
  for i, spec in ipairs(row.params) do args[i] = spec.name .. " = ..." end
  return "cam:" .. row.name .. "{ " .. concat(args, ", ") .. " }"
end

local function _result(row)
  if not row.result then return "none" end
  return "data, in " .. _code(row.result_key or "result")
end

-- Text for a Markdown table cell: no line breaks, no bare |, and outside
-- code spans no * < > that Markdown would read as markup.
local function _cell(s)
  s = s:gsub("\n", " ")
  local out, pos = {}, 1
  while pos <= #s do
    local a, b = s:find("`[^`]*`", pos)
    local plain = s:sub(pos, a and a - 1 or #s)
    out[#out + 1] = plain:gsub("([|*<>])", "\\%1")
    if not a then break end
    out[#out + 1] = s:sub(a, b):gsub("|", "\\|")
    pos = b + 1
  end
  return concat(out)
end

-- A markdown anchor as GitHub makes it from a heading of a method name.
local function _anchor(name) return "#" .. name:lower() end

local function _groups()
  local groups, by = {}, {}
  for _, row in ipairs(methods.list) do
    local g = by[row.group]
    if not g then
      g = { name = row.group, section = row.section:match("^(%d+%.%d+)"), rows = {} }
      by[row.group] = g
      groups[#groups + 1] = g
    end
    g.rows[#g.rows + 1] = row
  end
  return groups
end

-- A few lines of text (one string, lines joined by "\n") describing one
-- method: its name and summary, then each parameter with its rule. Used by
-- `vigi methods`.
function _M.describe(row)
  local lines = {
    row.name .. ": " .. row.summary,
    "  " .. row.access .. ", result: " .. _result(row):gsub("`", "")
      .. ", document section " .. row.section
      .. (row.alias and ", also spelt " .. row.alias .. " (cam:" .. row.alias .. " too)" or ""),
  }
  local params = _flatten(row.params)
  if #params == 0 then lines[#lines + 1] = "  no parameters" end
  for _, p in ipairs(params) do
    local rule = _rule(p.spec, _plain)
    lines[#lines + 1] = "  " .. p.path .. " (" .. _type(p.spec)
      .. (p.spec.required and ", required" or "") .. ")"
      .. (rule ~= "" and ": " .. rule or "")
      .. (p.spec.doc and " - " .. p.spec.doc or "")
  end
  if row.one_of then
    lines[#lines + 1] = "  give at least one of: " .. concat(row.one_of, ", ")
  end
  if row.together then
    lines[#lines + 1] = "  give all or none of: " .. concat(row.together, ", ")
  end
  return concat(lines, "\n")
end

local function _method(out, row)
  local function w(s) out[#out + 1] = s end
  w("### " .. row.name)
  w("")
  w(row.summary)
  w("")
  w("```lua")
  w(_call(row))
  w("```")
  w("")
  w("- Access: " .. ACCESS[row.access])
  w("- Result: " .. _result(row))
  if row.pair then w("- Read back with: [" .. row.pair .. "](" .. _anchor(row.pair) .. ")") end
  if row.alias then
    w("- Also spelt " .. _code(row.alias) .. " by the document, and " .. _code("cam:" .. row.alias)
      .. " works too. The spelling called is sent first; if the camera refuses it (whatever"
      .. " the code), the other is sent once, and the one that worked is kept for that camera")
  end
  if row.one_of then w("- Give at least one of: " .. _code(concat(row.one_of, "`, `"))) end
  if row.together then w("- Give all or none of: " .. _code(concat(row.together, "`, `"))) end
  w("- Document: section " .. row.section)
  w("")
  local params = _flatten(row.params)
  if #params == 0 then
    w("No parameters.")
  else
    w("| Parameter | Type | Rule | Required | Description |")
    w("|---|---|---|---|---|")
    for _, p in ipairs(params) do
      local rule = _rule(p.spec, _code)
      w("| " .. _code(p.path) .. " | " .. _type(p.spec) .. " | "
        .. (rule ~= "" and _cell(rule) or "any") .. " | "
        .. (p.spec.required and "yes" or "no") .. " | "
        .. _cell(p.spec.doc or "") .. " |")
    end
  end
  w("")
end

-- The whole of docs/api.md.
function _M.markdown()
  local out = {}
  local function w(s) out[#out + 1] = s end
  local groups = _groups()
  w("# Control methods")
  w("")
  w("Generated from `lua/vigi/methods.lua` by `tools/gen-api-doc.lua`: edit")
  w("those, not this file.")
  w("")
  w("These are the " .. #methods.list .. " control methods of section 4 of the VIGI OpenAPI")
  w("document. Each is a method of a camera object, named as on the wire:")
  w("`cam:setSpeakerVolume{ volume = 50 }`. The parameters are checked before")
  w("anything is sent; a refusal comes back as `nil, err` with `err.kind ==")
  w("\"invalid\"` and names the parameter and the rule.")
  w("")
  w("- int and float parameters take a Lua number or a numeric string (`50`,")
  w("  `\"50\"`, `\"0.2\"`), checked on their value and sent as given.")
  w("- string parameters take a Lua string; a Lua number is sent as its decimal")
  w("  string (`150` as `\"150\"`).")
  w("- arrays are Lua sequences; `{}` is an empty array.")
  w("- Unknown parameter names are refused.")
  w("- Access says what a call does: read (safe to resend after a network")
  w("  error), write, action, auth, stream.")
  w("")
  w("## Contents")
  w("")
  for _, g in ipairs(groups) do
    local links = {}
    for i, row in ipairs(g.rows) do
      links[i] = "[" .. row.name .. "](" .. _anchor(row.name) .. ")"
        .. (row.alias and " (also " .. row.alias .. ")" or "")
    end
    w("- **" .. g.name .. "** (" .. g.section .. "): " .. concat(links, ", "))
  end
  w("")
  for _, g in ipairs(groups) do
    w("## " .. g.name .. " (" .. g.section .. ")")
    w("")
    for _, row in ipairs(g.rows) do _method(out, row) end
  end
  -- One newline at the end, none doubled.
  while out[#out] == "" do out[#out] = nil end
  return concat(out, "\n") .. "\n"
end

return _M
