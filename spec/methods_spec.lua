-- The method table against the vendor document: every row well formed,
-- every documented example accepted, docs/api.md up to date.
local methods = require "vigi.methods"
local check = require "vigi.check"
local apidoc = require "vigi.apidoc"
local cjson = require "cjson"
local helper = require "spec.helper"

local function read(path) return helper.read_file(path) or error("cannot read " .. path) end

-- JSON null (cjson.null) as nil, so that a null request reads as "none".
local function denull(v)
  if v == cjson.null then return nil end
  return v
end

local examples = cjson.decode(read("spec/fixtures/doc-examples.json"))

-- Section 4 of the document: its groups, in order, with their number of
-- methods.
local GROUPS = {
  { "special", 2 }, { "system", 6 }, { "dateTime", 4 }, { "audio", 5 },
  { "video", 3 }, { "dayNightMode", 2 }, { "sdCard", 2 }, { "event", 43 },
  { "ptz", 8 }, { "playback", 3 }, { "download", 1 }, { "StreamPort", 1 },
  { "msgPush", 3 }, { "recordSchedule", 2 }, { "alarm", 1 },
}

local ROW_KEYS = {
  name = "string", group = "string", section = "string", summary = "string",
  access = "string", result = "boolean", pair = "string", alias = "string",
  params = "table", one_of = "table", together = "table", result_key = "string",
}
local ACCESS = { read = true, write = true, action = true, auth = true, stream = true }

-- Which spec keys each type may carry (beyond the common ones).
local COMMON = { name = true, type = true, required = true, doc = true,
                 enum = true, secret = true }
local BY_TYPE = {
  int = { min = true, max = true, wire = true },
  float = { min = true, max = true, wire = true },
  string = { min_len = true, max_len = true, pattern = true, format = true, rewrite = true },
  bool = {},
  array = { items = true, min_items = true, max_items = true },
  object = { fields = true },
}

local function le(a, b) return a == nil or b == nil or a <= b end

-- Assert that a parameter spec is well formed; `where` names it in failures.
local function well_formed(spec, where, named)
  assert(type(spec) == "table", where .. ": spec is not a table")
  assert(BY_TYPE[spec.type], where .. ": unknown type " .. tostring(spec.type))
  if named then
    assert(type(spec.name) == "string" and spec.name:match("^[%a_][%w_]*$"),
      where .. ": bad name")
    assert(type(spec.doc) == "string" and spec.doc ~= "", where .. ": no doc")
  end
  for k in pairs(spec) do
    assert(COMMON[k] or BY_TYPE[spec.type][k], where .. ": key " .. k
      .. " does not belong on a " .. spec.type)
  end
  assert(spec.required == nil or type(spec.required) == "boolean", where .. ": required")
  assert(le(spec.min, spec.max), where .. ": min > max")
  assert(le(spec.min_len, spec.max_len), where .. ": min_len > max_len")
  assert(le(spec.min_items, spec.max_items), where .. ": min_items > max_items")
  assert(spec.wire == nil or spec.wire == "string", where .. ": wire")
  if spec.rewrite then
    local r = spec.rewrite
    assert(type(r.from) == "string" and r.from:match("^%^.*%$$"), where .. ": rewrite.from anchored")
    assert(type(r.to) == "string" and type(r.doc) == "string", where .. ": rewrite.to, rewrite.doc")
  end
  if spec.enum then
    assert(#spec.enum > 0, where .. ": empty enum")
    local seen = {}
    for _, v in ipairs(spec.enum) do
      assert(not seen[v], where .. ": enum value twice: " .. tostring(v))
      seen[v] = true
      if spec.type == "string" then
        assert(type(v) == "string", where .. ": enum value not a string")
        assert(le(spec.min_len, #v) and le(#v, spec.max_len), where .. ": enum value "
          .. v .. " breaks the length rule")
      end
    end
  end
  if spec.pattern then
    assert(spec.pattern:sub(1, 1) == "^" and spec.pattern:sub(-1) == "$",
      where .. ": pattern not anchored")
    assert(pcall(string.find, "", spec.pattern), where .. ": pattern does not compile")
  end
  if spec.type == "array" then
    assert(spec.items, where .. ": array without items")
    well_formed(spec.items, where .. "[]", false)
  end
  if spec.fields then
    local seen = {}
    for i, f in ipairs(spec.fields) do
      well_formed(f, where .. "." .. tostring(f.name or i), true)
      assert(not seen[f.name], where .. ": field twice: " .. f.name)
      seen[f.name] = true
    end
  end
end

describe("methods", function()
  it("has the 86 control methods of section 4", function()
    assert.equal(86, #methods.list)
  end)

  it("has unique names and aliases, all in by_name", function()
    local seen, n = {}, 0
    for _, row in ipairs(methods.list) do
      for _, name in ipairs({ row.name, row.alias }) do
        assert.is_nil(seen[name], name)
        seen[name] = true
        assert.equal(row, methods.by_name[name])
      end
    end
    for _ in pairs(methods.by_name) do n = n + 1 end
    local count = 0
    for _ in pairs(seen) do count = count + 1 end
    assert.equal(count, n)
  end)

  it("follows the document's groups and section numbers, in order", function()
    local i = 0
    for g, group in ipairs(GROUPS) do
      for m = 1, group[2] do
        i = i + 1
        local row = methods.list[i]
        assert.equal(group[1], row.group, row.name)
        assert.equal("4." .. g .. "." .. m, row.section, row.name)
      end
    end
    assert.equal(#methods.list, i)
  end)

  it("has only the time-zone calls spelt two ways", function()
    local aliased = {}
    for _, row in ipairs(methods.list) do
      if row.alias then aliased[#aliased + 1] = row.name .. "/" .. row.alias end
    end
    assert.same({ "setTimezone/setTimeZone", "getTimezone/getTimeZone" }, aliased)
  end)

  for _, row in ipairs(methods.list) do
    it(row.name .. " is well formed", function()
      for k, v in pairs(row) do
        assert(ROW_KEYS[k], "unknown row key " .. k)
        assert.equal(ROW_KEYS[k], type(v), k)
      end
      assert.truthy(row.name:match("^%l%w+$"))
      assert.truthy(ACCESS[row.access], row.access)
      assert.truthy(row.summary:match("^%u.*%.$"), "summary: one sentence")
      assert.is_nil(row.summary:find("\n"))
      assert.is_boolean(row.result)
      if row.pair then
        local getter = methods.by_name[row.pair]
        assert(getter, "pair " .. row.pair .. " does not exist")
        assert.equal("read", getter.access)
        assert.equal(row.group, getter.group)
        assert.truthy(row.name:match("^set"))
      end
      if row.access == "read" then assert.truthy(row.result) end
      local names = {}
      for i, spec in ipairs(row.params or {}) do
        well_formed(spec, row.name .. "." .. tostring(spec.name or i), true)
        assert.is_nil(names[spec.name], "parameter twice: " .. spec.name)
        names[spec.name] = true
      end
      if row.params then assert.truthy(#row.params > 0) end
      for _, list in ipairs({ row.one_of or {}, row.together or {} }) do
        for _, name in ipairs(list) do
          assert(names[name], name .. " is not a parameter")
        end
      end
    end)
  end

  it("pairs every setter that has a getter of the same name", function()
    for _, row in ipairs(methods.list) do
      local getter = row.name:match("^set(.*)")
      if getter and methods.by_name["get" .. getter] then
        assert.equal("get" .. getter, row.pair, row.name)
      end
    end
  end)
end)

describe("the document's examples", function()
  it("cover exactly the 86 methods", function()
    local n = 0
    for name in pairs(examples) do
      n = n + 1
      assert(methods.by_name[name] and methods.by_name[name].name == name,
        name .. " is not a method row")
    end
    assert.equal(#methods.list, n)
  end)

  for _, row in ipairs(methods.list) do
    local ex = examples[row.name]
    it(row.name .. ": the example request passes the checker", function()
      assert(ex, "no example for " .. row.name)
      local req = denull(ex.request)
      assert.is_table(req)
      assert.truthy(req.method == row.name or req.method == row.alias, req.method)
      local params = denull(req.params)
      assert.equal(row.params == nil, params == nil)
      local send, err = check.params(row, params)
      assert(send, err and tostring(err))
      -- Values go out as the document gives them.
      if params == nil then
        assert.is_true(send)
      else
        assert.same(params, send)
      end
    end)

    it(row.name .. ": the example response agrees with the row", function()
      assert(ex, "no example for " .. row.name)
      assert.is_string(ex.note)
      local resp = denull(ex.response)
      assert.is_table(resp)
      if resp.method ~= nil then
        assert.truthy(resp.method == row.name or resp.method == row.alias, resp.method)
      end
      local data = resp[row.result_key or "result"]
      assert.equal(row.result, type(data) == "table")
    end)
  end
end)

describe("docs/api.md", function()
  it("is the output of apidoc for the current methods.lua", function()
    local ok, current = pcall(read, "docs/api.md")
    assert(ok, "docs/api.md is missing: run "
      .. "`lua5.4 tools/gen-api-doc.lua > docs/api.md`")
    assert(current == apidoc.markdown(), "docs/api.md is stale: run "
      .. "`lua5.4 tools/gen-api-doc.lua > docs/api.md` and commit the result")
  end)

  it("describes every method in a few lines", function()
    for _, row in ipairs(methods.list) do
      local text = apidoc.describe(row)
      assert.is_string(text)
      local lines = {}
      for line in text:gmatch("[^\n]+") do lines[#lines + 1] = line end
      assert.equal(row.name .. ": " .. row.summary, lines[1])
      for _, spec in ipairs(row.params or {}) do
        local found = false
        for _, line in ipairs(lines) do
          found = found or line:find("  " .. spec.name .. " (", 1, true) ~= nil
        end
        assert(found, row.name .. ": " .. spec.name .. " not described")
      end
    end
  end)
end)

describe("one vocabulary", function()
  local streamapi = require "vigi.stream.api"
  local events = require "vigi.events"
  local stream = require "vigi.stream"

  it("event types are written once and shared", function()
    assert.equal(methods.EVENT_TYPES, streamapi.EVENT_TYPES)
    assert.equal(methods.DETECTION_TYPES, events.TYPES)
    assert.equal(methods.SUBSCRIBE_TYPES, methods.by_name.subscribeMsg.params[1].items.enum)
    assert.equal("Timing", methods.EVENT_TYPES[1])
    assert.equal("all", methods.SUBSCRIBE_TYPES[1])
    for i, name in ipairs(methods.DETECTION_TYPES) do
      assert.equal(name, methods.EVENT_TYPES[i + 1])
      assert.equal(name, methods.SUBSCRIBE_TYPES[i + 1])
    end
    -- the bridge's detections add how to show each; the types are these
    local controls = require "vigi.bridge.controls"
    assert.equal(#methods.DETECTION_TYPES, #controls.DETECTIONS)
    for _, name in ipairs(methods.DETECTION_TYPES) do assert.truthy(controls.by_event[name], name) end
  end)

  it("every stream request's body comes from its row, in the document's form", function()
    assert.equal('{"method":"do","stop":"null"}', stream.body("stop"))
    assert.equal('{"method":"do","video":{"force_iframe":{"stream_type":"main"}}}',
      stream.body("force_iframe", { stream_type = "main" }))
    assert.equal('{"method":"get","preview":{"resolutions":["HD"]}}',
      stream.body("preview", { resolutions = { "HD" } }))
    assert.equal('{"method":"get","talk":{"mode":"aec"}}', stream.body("talk", { mode = "aec" }))
    local body, err = stream.body("force_iframe", { stream_type = "side" })
    assert.is_nil(body)
    assert.equal("invalid", err.kind)
    for _, row in ipairs(streamapi.list) do
      assert.truthy(row.literal or row.params, row.name)
    end
  end)
end)
