-- json.lua: exact, repeatable request bodies; tolerant decoding.
local json = require "vigi.json"

describe("json.encode", function()
  local cases = {
    { "integers print without a fraction", 75, "75" },
    { "integral floats too", 75.0, "75" },
    { "fractions in their shortest exact form", 0.2, "0.2" },
    { "and exact when they need every digit", 0.1 + 0.2, "0.30000000000000004" },
    { "negative", -3, "-3" },
    { "strings are escaped", 'a"b\\c\n\1', '"a\\"b\\\\c\\n\\u0001"' },
    { "UTF-8 passes through", "Zürich", '"Zürich"' },
    { "booleans", true, "true" },
    { "null", json.null, "null" },
    { "sequences are arrays", { 1, 2, 3 }, "[1,2,3]" },
    { "keys are sorted", { b = 1, a = 2, c = { z = 1, y = 2 } }, '{"a":2,"b":1,"c":{"y":2,"z":1}}' },
    { "an empty table is an object", {}, "{}" },
    { "json.array() is an array even when empty", json.array(), "[]" },
  }
  for _, c in ipairs(cases) do
    it(c[1], function() assert.equal(c[3], json.encode(c[2])) end)
  end

  it("follows a spec: an empty table for an array field is []", function()
    local specs = { { name = "event_type", type = "array", items = { type = "string" } },
                    { name = "heartbeat", type = "int" } }
    assert.equal('{"event_type":[],"heartbeat":15}',
      json.encode_params({ event_type = {}, heartbeat = 15 }, specs))
  end)

  it("follows nested specs", function()
    local specs = { { name = "set_region_info", type = "array", items = {
      type = "object", fields = { { name = "points_x", type = "array" } } } } }
    assert.equal('{"set_region_info":[{"points_x":[]}]}',
      json.encode_params({ set_region_info = { { points_x = {} } } }, specs))
  end)

  it("refuses what JSON cannot hold", function()
    assert.has_error(function() json.encode(0 / 0) end)
    assert.has_error(function() json.encode(math.huge) end)
    assert.has_error(function() json.encode({ [true] = 1 }) end)
    assert.has_error(function() json.encode(print) end)
  end)
end)

describe("json.decode", function()
  it("decodes objects", function()
    local v = json.decode('{"errCode":0,"result":{"a":[1,"2",null]}}')
    assert.equal(0, v.errCode)
    assert.equal("2", v.result.a[2])
    assert.equal(json.null, v.result.a[3])
  end)

  it("gives integers back as integers where the Lua has them", function()
    local v = json.decode('{"volume":50,"x":0.5,"list":[1,2.5,-3]}')
    assert.equal("50", tostring(v.volume))
    assert.equal(0.5, v.x)
    assert.equal("-3", tostring(v.list[3]))
  end)

  it("returns nil and a message for garbage, never raises", function()
    for _, s in ipairs { "", "{", "<html>", '{"a":}', "\0\1\2", ("["):rep(1000) } do
      local v, err = json.decode(s)
      assert.is_nil(v)
      assert.is_string(err)
    end
  end)
end)
