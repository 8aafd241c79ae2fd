-- check.params, one row per case: { method, params, expectation }.
--   send = v           accepted; the checker returns v (true: nothing to send)
--   field = f, rule = r  refused with that field and rule
--   rule_prefix = r    refused with a rule starting with r (long enums)
local methods = require "vigi.methods"
local check = require "vigi.check"
local errors = require "vigi.errors"

local function rep(s, n) return string.rep(s, n) end

-- A valid quadrilateral region, changed by `over`, without the field `drop`.
local function region4(over, drop)
  local r = { id = 1, points_num = 4, points_x = { 0, 10000, 10000, 0 },
              points_y = { 0, 0, 10000, 10000 } }
  for k, v in pairs(over or {}) do r[k] = v end
  if drop then r[drop] = nil end
  return r
end

local MEDIA = { start_time = "1688350527", end_time = "1688351757",
                event_type = { "MotionDetection" }, media_type = { "video" } }
local function media(over)
  local p = {}
  for k, v in pairs(MEDIA) do p[k] = v end
  for k, v in pairs(over) do p[k] = v end
  return p
end

local CASES = {
  -- int: range, integral, numeric strings (sent as given)
  { "setSpeakerVolume", { volume = 0 }, send = { volume = 0 } },
  { "setSpeakerVolume", { volume = 100 }, send = { volume = 100 } },
  { "setSpeakerVolume", { volume = -1 }, field = "volume", rule = "range 0..100" },
  { "setSpeakerVolume", { volume = 150 }, field = "volume", rule = "range 0..100" },
  { "setSpeakerVolume", { volume = 1.5 }, field = "volume", rule = "an integer" },
  { "setSpeakerVolume", { volume = "50" }, send = { volume = "50" } },
  { "setSpeakerVolume", { volume = "-1" }, field = "volume", rule = "range 0..100" },
  { "setSpeakerVolume", { volume = "3.0" }, field = "volume", rule = "an integer" },
  { "setSpeakerVolume", { volume = "5x" }, field = "volume", rule = "an integer" },
  { "setSpeakerVolume", { volume = " 5" }, field = "volume", rule = "an integer" },
  { "setSpeakerVolume", { volume = "0x10" }, field = "volume", rule = "an integer" },
  { "setSpeakerVolume", { volume = true }, field = "volume", rule = "an integer" },
  { "setSpeakerVolume", { volume = 0 / 0 }, field = "volume", rule = "a finite number" },
  { "setMsgpushInterval", { event_interval = math.huge }, field = "event_interval",
    rule = "a finite number" },
  { "setMsgpushInterval", { event_interval = -1 }, field = "event_interval",
    rule = "at least 0" },
  { "setSystemTime", { system_time = 946655999 }, field = "system_time",
    rule = "range 946656000..2147483647" },
  { "setSystemTime", { system_time = "1692864317" }, send = { system_time = "1692864317" } },
  { "formatSdCard", { card_index = 0 }, field = "card_index", rule = "range 1..1" },
  -- the cameras have one card
  { "formatSdCard", { card_index = 2 }, field = "card_index", rule = "range 1..1" },
  { "formatSdCard", { card_index = 1 }, send = { card_index = 1 } },
  { "formatSdCard", {}, send = true },
  { "formatSdCard", nil, send = true },
  { "setPresetPoint", { id = "3", name = "door" }, send = { id = "3", name = "door" } },
  { "setPresetPoint", { id = "9", name = "door" }, field = "id", rule = "range 1..8" },
  -- float
  { "motorMove", { x_coord = "0.2", y_coord = "-1" }, send = { x_coord = "0.2", y_coord = "-1" } },
  { "motorMove", { x_coord = 0.2, y_coord = ".5" }, send = { x_coord = 0.2, y_coord = ".5" } },
  { "motorMove", { x_coord = "1.5", y_coord = 0 }, field = "x_coord", rule = "range -1..1" },
  { "motorMove", { x_coord = 0, y_coord = 0, z_coord = -0.1 }, field = "z_coord",
    rule = "range 0..1" },
  { "motorMove", { x_coord = "left", y_coord = 0 }, field = "x_coord", rule = "a number" },
  { "motorMove", { x_coord = "1e-1", y_coord = 0 }, field = "x_coord", rule = "a number" },
  -- string: pattern, enum, length
  { "setTimezone", { timezone = "UTC+08:00", area = "Asia/Taipei" },
    send = { timezone = "UTC+08:00", area = "Asia/Taipei" } },
  { "setTimezone", { timezone = "UTC+8", area = "Asia/Taipei" }, field = "timezone",
    rule = "format UTC+hh:mm or UTC-hh:mm" },
  { "setTimezone", { timezone = "GMT+08:00", area = "Asia/Taipei" }, field = "timezone",
    rule = "format UTC+hh:mm or UTC-hh:mm" },
  { "setTimezone", { timezone = "UTC+08:00", area = "Mars/Olympus" }, field = "area",
    rule_prefix = "one of Pacific/Wake, " },
  { "setDayNightMode", { mode = "dusk" }, field = "mode", rule = "one of auto, day, night" },
  { "setDayNightMode", { mode = "AUTO" }, field = "mode", rule = "one of auto, day, night" },
  { "setDayNightMode", { mode = { "auto" } }, field = "mode", rule = "a string" },
  { "setDeviceAlias", { alias = "" }, field = "alias", rule = "length 1..32" },
  { "setDeviceAlias", { alias = rep("x", 33) }, field = "alias", rule = "length 1..32" },
  { "setDeviceAlias", { alias = rep("x", 32) }, send = { alias = rep("x", 32) } },
  { "doAuth", { password = rep("g", 32), passwdType = "md5" }, field = "password",
    rule = "format 32 hex digits (sent in upper case)" },
  -- a hash in lower case is taken (cam:doAuth upper-cases it)
  { "doAuth", { password = rep("a", 32), passwdType = "md5" },
    send = { password = rep("a", 32), passwdType = "md5" } },
  { "doAuth", { password = rep("A", 31), passwdType = "md5" }, field = "password",
    rule = "length exactly 32" },
  { "doAuth", { password = rep("A", 32), passwdType = "sha256" }, field = "passwdType",
    rule = "one of md5" },
  { "searchVideoCalendar", { start_date = "2021-03", end_date = "202104" },
    field = "start_date", rule = "format yyyymm" },
  { "setResolution", { main_resolution = "2560-1440" }, field = "main_resolution",
    rule = "format WIDTH*HEIGHT, one of getVideoCapability's main resolutions" },
  { "setResolution", { main_resolution = "2560x" }, field = "main_resolution",
    rule = "format WIDTH*HEIGHT, one of getVideoCapability's main resolutions" },
  { "setResolution", { minor_resolution = "640x480x1" }, field = "minor_resolution",
    rule = "format WIDTH*HEIGHT, one of getVideoCapability's minor resolutions" },
  -- getVideoCapability prints 1920x1080; the request is sent as the
  -- document's examples write it
  { "setResolution", { main_resolution = "1920x1080" }, send = { main_resolution = "1920*1080" } },
  { "setResolution", { main_resolution = "1920X1080", minor_resolution = "640x480" },
    send = { main_resolution = "1920*1080", minor_resolution = "640*480" } },
  -- a number for a string is sent as its decimal string
  { "setDeviceAlias", { alias = 12 }, send = { alias = "12" } },
  { "setDeviceAlias", { alias = 12.0 }, send = { alias = "12" } },
  { "setDeviceAlias", { alias = -0.25 }, send = { alias = "-0.25" } },
  { "setDeviceAlias", { alias = 0 / 0 }, field = "alias", rule = "a string" },
  { "searchSystemLog", { start_time = 1691976514, end_time = "1692581314", log_type = "all" },
    send = { start_time = "1691976514", end_time = "1692581314", log_type = "all" } },
  { "searchSystemLog", { start_time = -5, end_time = "1692581314", log_type = "all" },
    field = "start_time", rule = "format decimal seconds since 1970" },
  { "cruiseMove", { coord = "x", coord_speed = 0.5 }, send = { coord = "x", coord_speed = "0.5" } },
  { "cruiseMove", { coord = "x", coord_speed = 1 }, send = { coord = "x", coord_speed = "1" } },
  { "cruiseMove", { coord = "x", coord_speed = "0.5" }, send = { coord = "x", coord_speed = "0.5" } },
  { "cruiseMove", { coord = "x", coord_speed = 2 }, field = "coord_speed", rule = "range 0..1" },
  { "removePresetPoint", { id = { 3, "4" } }, send = { id = { "3", "4" } } },
  { "removePresetPoint", { id = { 9 } }, field = "id[1]", rule = "range 1..8" },
  -- required, unknown, no parameters
  { "setDayNightMode", {}, field = "mode", rule = "required" },
  { "setDayNightMode", nil, field = "mode", rule = "required" },
  { "setTimezone", { timezone = "UTC+00:00" }, field = "area", rule = "required" },
  { "setSpeakerVolume", { volume = 1, loud = true }, field = "loud", rule = "unknown parameter" },
  { "setSpeakerVolume", { Volume = 1 }, field = "Volume", rule = "unknown parameter" },
  { "setSpeakerVolume", { 50 }, field = "1", rule = "unknown parameter" },
  { "getSpeakerVolume", { volume = 1 }, field = "volume", rule = "no parameters" },
  { "getSpeakerVolume", {}, send = true },
  { "getSpeakerVolume", nil, send = true },
  { "doSoftReset", { now = true }, field = "now", rule = "no parameters" },
  -- one_of and together
  { "setResolution", {}, field = "params",
    rule = "at least one of main_resolution, minor_resolution" },
  { "setResolution", { minor_resolution = "640*480" }, send = { minor_resolution = "640*480" } },
  { "setMotionDetectionSwitch", {}, field = "params", rule_prefix = "at least one of enabled, " },
  { "setMotionDetectionSwitch", { sensitivity = 10 }, send = { sensitivity = 10 } },
  { "getMediaList", media({ start_index = 0 }), field = "params",
    rule = "all or none of start_index, max_num" },
  { "getMediaList", media({ max_num = 20 }), field = "params",
    rule = "all or none of start_index, max_num" },
  { "getMediaList", media({ start_index = 0, max_num = 20 }),
    send = media({ start_index = 0, max_num = 20 }) },
  { "getMediaList", media({}), send = media({}) },
  -- arrays and nested objects
  { "getMediaList", media({ event_type = { "Timing", "Sneezing" } }), field = "event_type[2]",
    rule_prefix = "one of Timing, MotionDetection, " },
  { "getMediaList", media({ media_type = {} }), field = "media_type", rule = "items at least 1" },
  { "getMediaList", media({ media_type = "video" }), field = "media_type", rule = "an array" },
  { "setMotionDetectionRegion", { set_region_info = {} }, send = { set_region_info = {} } },
  { "setMotionDetectionRegion", { set_region_info = { { points_num = 4,
      points_x = { 1, 2, 3 }, points_y = { 1, 2, 3, 4 } } } },
    field = "set_region_info[1].points_x", rule = "items exactly 4" },
  { "setMotionDetectionRegion", { set_region_info = { { points_num = 3,
      points_x = { 1, 2, 3, 4 }, points_y = { 1, 2, 3, 4 } } } },
    field = "set_region_info[1].points_num", rule = "range 4..4" },
  { "setMotionDetectionRegion", { set_region_info = { { points_num = 4,
      points_x = { 1, nil, 3, 4 }, points_y = { 1, 2, 3, 4 } } } },
    field = "set_region_info[1].points_x", rule = "an array" },
  { "setMotionDetectionRegion", { set_region_info = { { points_num = 4,
      points_x = { 1, 2, 3, 4, x = 5 }, points_y = { 1, 2, 3, 4 } } } },
    field = "set_region_info[1].points_x", rule = "an array" },
  { "setMotionDetectionRegion", { set_region_info = { [2] = { points_num = 4,
      points_x = { 1, 2, 3, 4 }, points_y = { 1, 2, 3, 4 } } } },
    field = "set_region_info", rule = "an array" },
  { "setMotionDetectionRegion", { set_region_info = { { points_num = 4,
      points_x = { 1, 2, 3, 4 }, points_y = { 1, 2, 3, -4 } } } },
    field = "set_region_info[1].points_y[4]", rule = "range 0..10000" },
  { "setCrosslineDetectionRegion", { set_region_info = {
      { id = 1, points_num = 2, direction = "AtoB", points_x = { 0, 100 }, points_y = { 0, 100 } },
      { id = 2, points_num = 3, points_x = { 0, 5, 10001 }, points_y = { 0, 5, 9 } } } },
    field = "set_region_info[2].points_x[3]", rule = "range 0..10000" },
  { "setCrosslineDetectionRegion", { set_region_info = {
      { id = 1, points_num = 2, direction = "left", points_x = { 0, 100 }, points_y = { 0, 100 } } } },
    field = "set_region_info[1].direction", rule = "one of AtoB, BtoA, both" },
  { "setCrosslineDetectionRegion", { set_region_info = {
      { id = 1, points_num = 6, points_x = { 0, 1, 2, 3, 4, 5 }, points_y = { 0, 1, 2, 3, 4, 5 } } } },
    field = "set_region_info[1].points_num", rule = "range 2..5" },
  { "setPeopleDetectionRegion", { set_region_info = { region4(nil, "id") } },
    field = "set_region_info[1].id", rule = "required" },
  { "setPeopleDetectionRegion", { set_region_info = { region4({ colour = "red" }) } },
    field = "set_region_info[1].colour", rule = "unknown parameter" },
  { "setPeopleDetectionRegion", { set_region_info = { region4(), region4({ id = 5 }) } },
    field = "set_region_info[2].id", rule = "range 1..4" },
  { "setPeopleDetectionRegion", { set_region_info = { region4(), region4(), region4(),
      region4(), region4() } }, field = "set_region_info", rule = "items at most 4" },
  { "setPeopleDetectionRegion", { set_region_info = { "region" } },
    field = "set_region_info[1]", rule = "an object" },
  { "setInvasionDetectionRegion", { set_region_info = { region4({ threshold = "3",
      percentage = "101" }) } }, field = "set_region_info[1].percentage", rule = "range 1..100" },
  { "setDropAndTakeDetectionRegion", { set_region_info = { region4({ threshold = 4 }) } },
    field = "set_region_info[1].threshold", rule = "range 5..20" },
  { "setRecordSchedule", { monday = { "0000-2400:3" } }, field = "monday[1]",
    rule = "format HHMM-HHMM:type, type 1 timing or 2 event" },
  { "setRecordSchedule", { monday = (function()
      local t = {}
      for i = 1, 25 do t[i] = "0000-0100:1" end
      return t
    end)() }, field = "monday", rule = "items at most 24" },
  { "subscribeMsg", { event_type = { "all" } }, send = { event_type = { "all" } } },
  { "subscribeMsg", { event_type = { "all" }, heartbeat = 61 }, field = "heartbeat",
    rule = "range 1..60" },
  { "subscribeMsg", { event_type = { "Timing" } }, field = "event_type[1]",
    rule_prefix = "one of all, MotionDetection, " },
}

local function label(case)
  local what
  if case.send ~= nil then
    what = "accepts"
  else
    what = "refuses " .. case.field .. ": " .. (case.rule or case.rule_prefix .. "...")
  end
  return case[1] .. " " .. what
end

describe("check.params", function()
  for i, case in ipairs(CASES) do
    it(i .. ". " .. label(case), function()
      local row = assert(methods.by_name[case[1]], case[1])
      local send, err = check.params(row, case[2])
      if case.send ~= nil then
        assert(send, err and tostring(err))
        assert.is_nil(err)
        assert.same(case.send, send)
      else
        assert.is_nil(send)
        assert.truthy(errors.is(err))
        assert.equal("invalid", err.kind)
        assert.equal(row.name, err.method)
        assert.equal(case.field, err.field)
        if case.rule then
          assert.equal(case.rule, err.rule)
        else
          assert.equal(case.rule_prefix, err.rule:sub(1, #case.rule_prefix))
        end
        -- The message names the method and the field ("params" stands for
        -- the call as a whole: the message then says what to give).
        assert.equal(row.name .. ": ", err.message:sub(1, #row.name + 2))
        if case.field == "params" then
          assert.truthy(err.message:find(row.name .. ": give ", 1, true), err.message)
        else
          assert.truthy(err.message:find(case.field, 1, true), err.message)
        end
      end
    end)
  end
end)

describe("check.params messages", function()
  it("say the method, the field, the value and the rule", function()
    local _, err = check.params(methods.by_name.setSpeakerVolume, { volume = 150 })
    assert.equal("setSpeakerVolume: volume = 150 is out of range 0..100", err.message)
    assert.equal("invalid: setSpeakerVolume: volume = 150 is out of range 0..100",
      tostring(err))
  end)

  it("list the known names for an unknown one", function()
    local _, err = check.params(methods.by_name.setTimezone,
      { timezone = "UTC+00:00", area = "UTC", zone = 1 })
    assert.equal("setTimezone: unknown parameter zone (known: timezone, area)", err.message)
  end)

  it("cut long values short", function()
    local _, err = check.params(methods.by_name.setDeviceAlias, { alias = rep("y", 500) })
    assert.truthy(#err.message < 160, err.message)
    assert.truthy(err.message:find('"' .. rep("y", 40) .. '..."', 1, true), err.message)
  end)

  it("never show a password", function()
    local secret = "0123456789abcdefg123456789abcdef"
    local _, err = check.params(methods.by_name.doAuth, { password = secret, passwdType = "md5" })
    assert.equal("password", err.field)
    assert.is_nil(err.message:find(secret, 1, true))
    assert.truthy(err.message:find("(hidden)", 1, true))
  end)
end)

describe("check.params results", function()
  it("leave the caller's table untouched", function()
    local ids = { 3, 4 }
    local params = { id = ids }
    local send = check.params(methods.by_name.removePresetPoint, params)
    assert.same({ id = { "3", "4" } }, send)
    assert.are_not.equal(params, send)
    assert.are_not.equal(ids, send.id)
    assert.same({ 3, 4 }, ids)
  end)

  it("mark arrays, so that an empty one can be sent as []", function()
    local send = check.params(methods.by_name.setMotionDetectionRegion, { set_region_info = {} })
    assert.equal(check.array_mt, getmetatable(send.set_region_info))
    assert.is_nil(next(send.set_region_info))
  end)
end)

describe("check.params misuse", function()
  it("raises on params that are not a table, at the caller", function()
    local row = methods.by_name.setSpeakerVolume
    -- What a generated camera function does: pass the user's params on.
    -- (No tail calls here: they would drop the frames the level counts.)
    local function camera_call(params)
      local send, err = check.params(row, params)
      return send, err
    end
    local line = debug.getinfo(1, "l").currentline + 1
    local ok, msg = pcall(function() local r = camera_call(50); return r end)
    assert.is_false(ok)
    assert.truthy(msg:find("setSpeakerVolume", 1, true), msg)
    assert.truthy(msg:find("must be a table", 1, true), msg)
    assert.truthy(msg:find("check_spec.lua:" .. line .. ":", 1, true), msg)
  end)

  it("raises on a row that is not a row", function()
    assert.has_error(function() check.params("setSpeakerVolume", {}) end)
  end)
end)

describe("check.params on a bool parameter", function()
  local row = { name = "demo", params = { { name = "flag", type = "bool", doc = "a flag" } } }

  it("accepts true and false", function()
    assert.same({ flag = false }, check.params(row, { flag = false }))
    assert.same({ flag = true }, check.params(row, { flag = true }))
  end)

  it("refuses anything else", function()
    local _, err = check.params(row, { flag = "true" })
    assert.equal("a boolean", err.rule)
  end)
end)
