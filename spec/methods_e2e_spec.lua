-- Every control method of the document against vigi-sim: each succeeds
-- with the document's own example, each with parameters is refused with
-- bad ones before anything is sent (the sim's counters prove it), and
-- every setter's getter reads back what was set.
local helper = require "spec.helper"
local vigi = require "vigi"
local json = require "vigi.json"
local methods = require "vigi.methods"

local function read_fixture(path)
  local f = assert(io.open(path))
  local t = assert(json.decode(f:read("*a")))
  f:close()
  return t
end
local EXAMPLES = read_fixture("spec/fixtures/doc-examples.json")

local function example_params(name)
  local req = EXAMPLES[name] and EXAMPLES[name].request
  local p = req and req.params
  if p == json.null then return nil end
  if name == "doAuth" then
    -- the document's hash is of another password than the sim's
    p = { password = require("vigi.core").md5_hex(helper.PASSWORD, true), passwdType = p.passwdType }
  end
  return p
end

local function deepcopy(v)
  if type(v) ~= "table" then return v end
  local t = setmetatable({}, getmetatable(v))
  for k, x in pairs(v) do t[k] = deepcopy(x) end
  return t
end

-- Values that break a spec's rule, each with the rule it breaks.
local function bad_values(spec)
  local out = {}
  local t = spec.type
  if t == "int" or t == "float" then
    if spec.max then out[#out + 1] = spec.max + 1 end
    if spec.min then out[#out + 1] = spec.min - 1 end
    if t == "int" then out[#out + 1] = 1.5 end
    out[#out + 1] = "twelve"
  elseif t == "string" then
    if spec.enum then out[#out + 1] = "no-such-choice" end
    if spec.max_len then out[#out + 1] = ("x"):rep(spec.max_len + 1) end
    if spec.pattern then out[#out + 1] = "!?" end
    out[#out + 1] = { nested = true }
  elseif t == "array" then
    out[#out + 1] = "not an array"
    if spec.max_items then
      local a = {}
      for i = 1, spec.max_items + 1 do a[i] = 1 end
      out[#out + 1] = a
    end
  elseif t == "object" then
    out[#out + 1] = 42
  elseif t == "bool" then
    out[#out + 1] = "maybe"
  end
  return out
end

-- A value of the spec's domain that differs from v, so that a read-back
-- proves the setter wrote something.
local function other_value(spec, v)
  if spec.enum then
    for _, e in ipairs(spec.enum) do if e ~= v then return e end end
  elseif (spec.type == "int" or spec.type == "float") and spec.min and spec.max then
    local n = tonumber(v)
    local m = math.floor((spec.min + spec.max) / 2)
    if n == m then m = spec.min end
    if type(v) == "string" then return tostring(m) end
    return m
  end
  return v
end

local function vary(row, params)
  local out = deepcopy(params)
  for _, spec in ipairs(row.params or {}) do
    if out[spec.name] ~= nil and spec.type ~= "array" and spec.type ~= "object" then
      out[spec.name] = other_value(spec, out[spec.name])
    end
  end
  return out
end

local function same(a, b)
  if type(a) == "table" and type(b) == "table" then
    for k, v in pairs(a) do if not same(v, b[k]) then return false end end
    for k in pairs(b) do if a[k] == nil then return false end end
    return true
  end
  if type(a) == "number" or type(b) == "number" then return tonumber(a) == tonumber(b) end
  return a == b
end

-- Where a getter shows what its setter set, when not under the same names.
local READBACK = {
  setPresetPoint = function(sent, got)
    local at
    for i, id in ipairs(got.id) do if tonumber(id) == tonumber(sent.id) then at = i end end
    assert(at, "getPresetPoint does not list preset " .. tostring(sent.id))
    assert.equal(sent.name, got.name[at])
  end,
  setResolution = function(sent, got)
    if sent.main_resolution then assert.equal(sent.main_resolution, got.main.resolutions) end
    if sent.minor_resolution then assert.equal(sent.minor_resolution, got.minor.resolutions) end
  end,
}

local function assert_read_back(row, sent, got)
  if READBACK[row.name] then return READBACK[row.name](sent, got) end
  if sent.set_region_info then
    for i, region in ipairs(sent.set_region_info) do
      assert(same(region, got["region_info_" .. i]),
        row.pair .. " does not show region " .. i .. " as " .. row.name .. " set it")
    end
    assert.is_nil(got["region_info_" .. (#sent.set_region_info + 1)])
    return
  end
  for k, v in pairs(sent) do
    assert(same(v, got[k]), string.format("%s: %s = %s, but %s shows %s", row.name, k,
      json.encode(v), row.pair, json.encode(got[k])))
  end
end

describe("every control method against vigi-sim", function()
  local sim, cam
  setup(function()
    sim = helper.start_sim()
    cam = assert(vigi.connect(sim:options()))
  end)
  teardown(function()
    cam:close()
    sim:stop()
  end)

  it("covers the 86 methods of the document", function()
    assert.equal(86, #methods.list)
  end)

  for _, row in ipairs(methods.list) do
    local name = row.name
    it(name .. " succeeds with the document's example", function()
      local before = sim:calls(name)
      local res, err = cam[name](cam, example_params(name))
      assert(res, tostring(err))
      if name == "subscribeMsg" then assert.equal("success", res.result) end
      if row.result then
        assert.is_table(res)
        assert.is_not_nil(next(res), name .. " returned an empty result")
      end
      assert.equal(before + 1, sim:calls(name))
    end)

    if row.params then
      it(name .. " refuses bad parameters and sends nothing", function()
        local base = example_params(name) or {}
        local before = sim:calls(name)
        local tries = 0
        local function refused(params, what)
          local ok, err = cam[name](cam, params)
          assert(ok == nil, name .. " accepted " .. what)
          assert.equal("invalid", err.kind)
          assert.equal(name, err.method)
          tries = tries + 1
        end
        local with_unknown = deepcopy(base)
        with_unknown.no_such_parameter = 1
        refused(with_unknown, "an unknown parameter")
        for _, spec in ipairs(row.params) do
          for _, v in ipairs(bad_values(spec)) do
            local p = deepcopy(base)
            p[spec.name] = v
            refused(p, spec.name .. " = " .. json.encode(v))
          end
          if spec.required then
            local p = deepcopy(base)
            p[spec.name] = nil
            refused(p, "no " .. spec.name)
          end
        end
        assert.is_true(tries >= 2)
        assert.equal(before, sim:calls(name))
      end)
    end

    if row.pair then
      it(name .. " is read back by " .. row.pair, function()
        local sent = vary(row, example_params(name))
        assert(cam[name](cam, sent))
        local got = assert(cam[row.pair](cam))
        assert_read_back(row, sent, got)
      end)
    end
  end
end)
