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

-- Answers as the document prints them: trailing commas before } and ],
-- accepted on every answer, without accepting anything else cjson refuses.
describe("json.decode, trailing commas", function()
  local function fixture(name)
    local f = assert(io.open("spec/fixtures/doc-trailing-commas/" .. name .. ".txt"))
    local s = f:read("*a")
    f:close()
    return s
  end

  -- The document's own response examples that end objects or arrays with
  -- a comma (spec/fixtures/doc-trailing-commas/README.md), and what they say.
  local examples = {
    { "setDeviceAlias", '{"errCode":0,"method":"setDeviceAlias"}' },
    { "doSoftReset", '{"errCode":0,"method":"doSoftReset"}' },
    { "setTimezone", '{"errCode":0,"method":"setTimezone"}' },
    { "getEventEnhanceCapability", '{"errCode":0,"method":"getEventEnhanceCapability",'
      .. '"result":{"people_enhance_ver":"63","vehicle_enhance_ver":"63"}}' },
    { "getPTZCapability", '{"errCode":0,"method":"getPTZCapability","result":{"speed_x_max":'
      .. '"1.000000","speed_y_max":"1.000000","speed_z_max":"1.000000"}}' },
    { "getStreamPort", '{"errCode":0,"method":"getStreamPort","result":{"streamPort":"554"}}' },
    { "download", '{"av_config":[{"audio_bitwidth":"16","audio_channels":"1","audio_codec":'
      .. '"G711alaw","audio_sampling_rate":"8","channel":0,"video_codec":"H264"}],"error_code":0,'
      .. '"interleaved":[{"channel":0,"interleaved_id":"0-1"}],"range":"x-y/n","session_id":"xxx"}' },
  }
  for _, c in ipairs(examples) do
    it("reads the document's " .. c[1] .. " answer", function()
      local text = fixture(c[1])
      assert.is_nil(require("cjson.safe").decode(text)) -- it does need the fallback
      local v, err = json.decode(text)
      assert.is_nil(err)
      assert.equal(c[2], json.encode(v))
    end)
  end

  local accepted = {
    { "an object", '{"a":1,}', '{"a":1}' },
    { "an array", "[1,2,]", "[1,2]" },
    { "with whitespace around", '{ "a" : [ 1 , 2 ,\r\n\t] ,\n }', '{"a":[1,2]}' },
    { "nested, at every level", '{"a":{"b":[{"c":1,},],},}', '{"a":{"b":[{"c":1}]}}' },
    { "after a string", '["x",]', '["x"]' },
    { "after true, false, null", '[true,false,null,]', '[true,false,null]' },
    { "commas and brackets inside strings stay", '{"s":",}",}', '{"s":",}"}' },
    { "an escaped quote does not end a string", '{"s":"a\\",]",}', '{"s":"a\\",]"}' },
    { "an escaped backslash does", '{"s":"a\\\\",}', '{"s":"a\\\\"}' },
    { "a top-level array of objects", '[{"a":1,},{"b":2,},]', '[{"a":1},{"b":2}]' },
  }
  for _, c in ipairs(accepted) do
    it("accepts a trailing comma: " .. c[1], function()
      local v, err = json.decode(c[2])
      assert.is_nil(err)
      assert.equal(c[3], json.encode(v))
    end)
  end

  -- Only a comma that follows a value and closes a container is dropped;
  -- everything else cjson refuses stays refused, with cjson's message.
  local refused = {
    { "an empty object with a comma", "{,}" },
    { "an empty array with a comma", "[,]" },
    { "two commas", "[1,,]" },
    { "two commas in an object", '{"a":1,,}' },
    { "a missing value", '{"a":,}' },
    { "a key without a value", '{"a",}' },
    { "a comma alone", ",]" },
    { "garbage after the value", '{"a":1,}x' },
    { "a second value", '{"a":1,}{}' },
    { "a comment", '{"a":1,/* c */}' },
    { "a line comment", '{"a":1,}// c' },
    { "single quotes", "{'a':1,}" },
    { "an unterminated string", '{"a":"1,}' },
    { "an unclosed object", '{"a":1,' },
    { "nesting past the depth limit", ("[1,"):rep(100) .. ("]"):rep(100) },
    { "NaN", '{"a":NaN}' },
    { "NaN with a trailing comma", '{"a":NaN,}' },
    { "Infinity", '{"a":Infinity}' },
    { "-inf", '[-inf]' },
    { "a hex number", '{"a":0x10}' },
  }
  for _, c in ipairs(refused) do
    it("refuses " .. c[1], function()
      local v, err = json.decode(c[2])
      assert.is_nil(v)
      assert.is_string(err)
    end)
  end

  it("keeps cjson's message when the fallback does not help", function()
    local _, want = require("cjson.safe").decode("[1,,]")
    local _, err = json.decode("[1,,]")
    assert.equal(want, err)
  end)

  it("takes time linear in the answer's size, whatever it holds", function()
    local core = require "vigi.core"
    local hostile = {
      "[" .. ("1," .. (" "):rep(50)):rep(20000) .. "]",                  -- 1 MiB, all trailing-comma work
      "[" .. (",         "):rep(100000) .. "]",                          -- commas after nothing
      '{"s":"' .. ('\\",]'):rep(200000) .. '",}',                         -- escapes and brackets in a string
      ("," .. (" "):rep(1000)):rep(1000) .. "}",                          -- commas before whitespace, no value
    }
    for _, s in ipairs(hostile) do
      local t0 = core.now()
      json.decode(s)
      assert.is_true(core.now() - t0 < 2, "took " .. (core.now() - t0) .. " s for " .. #s .. " bytes")
    end
  end)

  it("is the one decoder: no other module decodes JSON itself", function()
    local p = assert(io.popen("grep -l cjson lua/vigi/*.lua"))
    local users = p:read("*a")
    p:close()
    assert.equal("lua/vigi/json.lua\n", users)
  end)
end)

-- One number formatter: a number in a request body (json.encode) and a
-- number sent as a string (check.lua, for a string parameter or a time
-- the document sends as a string) are the same text.
describe("json.number", function()
  local check = require "vigi.check"
  local methods = require "vigi.methods"
  local cases = {
    { 1 / 3, "0.3333333333333333" },      -- shortest that reads back, not 15 digits
    { 0.1, "0.1" },
    { 0.1 + 0.2, "0.30000000000000004" },
    { 1e21, "1e+21" },
    { -0.0, "0" },
    { 75.0, "75" },                        -- integral floats without ".0"
    { 1e15, "1000000000000000" },
    { 2 ^ 53, "9007199254740992" },
    { 2 ^ 53 + 2, "9007199254740994" },
    { -2 ^ 53, "-9007199254740992" },
    { 2 ^ 62, "4.611686018427388e+18" },   -- a float past 2^53
    { 1e-7, "1e-07" },
    { 1.7976931348623157e308, "1.7976931348623157e+308" },
  }
  if math.maxinteger then -- integers of 5.3+ print whole, every digit
    cases[#cases + 1] = { math.maxinteger, "9223372036854775807" }
    cases[#cases + 1] = { math.mininteger, "-9223372036854775808" }
  end

  local function sent_as_string(v)
    local send = assert(check.params(methods.by_name.setDeviceAlias, { alias = v }))
    return send.alias
  end

  for _, c in ipairs(cases) do
    it(c[2] .. ": the same in a body and as a string", function()
      assert.equal(c[2], json.number(c[1]))
      assert.equal(c[2], json.encode(c[1]))
      assert.equal(c[2], sent_as_string(c[1]))
      assert.equal(c[1], tonumber(c[2])) -- reads back as the same number
    end)
  end

  it("refuses what JSON cannot hold", function()
    assert.has_error(function() json.number(0 / 0) end)
    assert.has_error(function() json.number(-math.huge) end)
  end)
end)
