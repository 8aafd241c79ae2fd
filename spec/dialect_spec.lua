-- Firmware dialects and the control call's edges, against vigi-sim: answers
-- written with trailing commas, "no such method" under any code, both
-- time-zone spellings, deadlines named as given, setters whose answer was
-- lost, options and hosts refused before anything is sent, and the checks
-- that follow the document.
local helper = require "spec.helper"
local vigi = require "vigi"
local core = require "vigi.core"
local codes = require "vigi.codes"

local function read(path) return helper.read_file(path) or error("cannot read " .. path) end

-- A control request by curl, outside the client: the sim's raw answer.
local function raw(sim, path, body)
  return helper.sh(string.format("env -u LD_PRELOAD curl -sk --max-time 5 https://%s:%d%s -d %s",
    sim.host, sim.port, path, helper.quote(body)))
end

describe("a camera that writes trailing commas (--trailing-commas)", function()
  local sim, cam
  setup(function()
    sim = helper.start_sim { "--trailing-commas" }
    cam = assert(vigi.connect(sim:options()))
  end)
  teardown(function()
    cam:close()
    sim:stop()
  end)

  it("writes them where the document's examples have them", function()
    local hash = core.md5_hex(helper.PASSWORD, true)
    local answer = raw(sim, "/", '{"method":"doAuth","params":{"password":"' .. hash ..
      '","passwdType":"md5"}}')
    assert.truthy(answer:find(",\n}", 1, true), answer)
    assert.is_nil(require("cjson.safe").decode(answer))
  end)

  it("is read: getters, setters, refusals", function()
    local info = assert(cam:getDeviceInfo())
    assert.is_string(info.model)
    assert(cam:setSpeakerVolume { volume = 33 })
    assert.equal(33, tonumber(assert(cam:getSpeakerVolume()).volume))
    local ok, err = cam:call("noSuchMethod")
    assert.is_nil(ok)
    assert.equal("api", err.kind) -- the refusal was read, not "not JSON"
    assert.equal(-40210, err.code)
  end)

  it("is read on the subscription's parts too", function()
    assert(cam:setMsgpushInterval { event_interval = 0 }) -- every event, none held back
    local sub = assert(cam:subscribe { event_types = { "MotionDetection" }, heartbeat = 1 })
    assert.equal(2, sim:admin("POST", "event", { event_type = "MotionDetection", count = 2 }).sent)
    local got = 0
    local deadline = core.now() + 5
    while got < 2 and core.now() < deadline do
      local ev = sub:next(1)
      if ev and ev.kind == "event" then
        assert.equal("MotionDetection", ev.event_type)
        got = got + 1
      end
    end
    assert.equal(2, got)
    assert.equal(0, sub.stats.protocol_errors)
    assert.equal(0, sub.stats.bad_parts)
    sub:close()
  end)
end)

describe("method not found under any code, and both time-zone spellings", function()
  local sim
  setup(function()
    sim = helper.start_sim { "--unknown-method-code", "-40106", "--tz-spelling", "TimeZone" }
  end)
  teardown(function() sim:stop() end)
  before_each(function()
    sim:config { tz_spelling = "TimeZone", unknown_method_code = -40106 }
    sim:reset()
  end)

  it("has both spellings as camera functions", function()
    for _, name in ipairs { "setTimezone", "setTimeZone", "getTimezone", "getTimeZone" } do
      assert.is_function(require("vigi.camera").Camera[name], name)
    end
  end)

  -- Each case: the spelling the sim knows, the one called first, then the
  -- other; the first call costs two requests, every later one exactly one.
  for _, known in ipairs { "TimeZone", "Timezone" } do
    local other = known == "TimeZone" and "Timezone" or "TimeZone"
    it("reads and sets the time zone on a camera that knows only ..." .. known, function()
      sim:config { tz_spelling = known }
      local cam = assert(vigi.connect(sim:options()))
      -- the unknown spelling first: refused (-40106), then the other
      local tz = assert(cam["get" .. other](cam))
      assert.is_string(tz.timezone)
      local c = sim:counters()
      assert.equal(1, c.calls["get" .. other])
      assert.equal(1, c.calls["get" .. known])
      -- the second call, under either spelling, sends one request
      sim:reset()
      assert(cam["get" .. other](cam))
      assert(cam["get" .. known](cam))
      c = sim:counters()
      assert.equal(2, c.requests)
      assert.equal(2, c.calls["get" .. known])
      assert.is_nil(c.calls["get" .. other])
      -- the setter learns on its own, once
      sim:reset()
      assert(cam["set" .. other](cam, { timezone = "UTC+02:00", area = "Europe/Amsterdam" }))
      assert(cam["set" .. known](cam, { timezone = "UTC+01:00", area = "Europe/Amsterdam" }))
      assert(cam["set" .. other](cam, { timezone = "UTC+03:00", area = "Europe/Moscow" }))
      c = sim:counters()
      assert.equal(1, c.calls["set" .. other])
      assert.equal(3, c.calls["set" .. known])
      assert.equal("UTC+03:00", assert(cam:getTimezone()).timezone)
      cam:close()
    end)
  end

  it("sends the spelling asked for first when the camera knows both", function()
    sim:config { tz_spelling = "both" }
    local cam = assert(vigi.connect(sim:options()))
    assert(cam:getTimeZone())
    assert(cam:getTimezone())
    local c = sim:counters()
    assert.equal(2, c.calls.getTimeZone)
    assert.is_nil(c.calls.getTimezone)
    cam:close()
  end)

  it("keeps an unknown code as an api error carrying it", function()
    sim:config { unknown_method_code = -12345 }
    local cam = assert(vigi.connect(sim:options()))
    local ok, err = cam:call("noSuchMethod")
    assert.is_nil(ok)
    assert.equal("api", err.kind)
    assert.equal(-12345, err.code)
    assert.equal("noSuchMethod", err.method)
    assert.is_nil(err.message:find("known as", 1, true))
    assert.truthy(tostring(err):find("-12345", 1, true))
    cam:close()
  end)

  it("names a known code as what the family knows it as, never as certain", function()
    local cam = assert(vigi.connect(sim:options()))
    local _, err = cam:call("noSuchMethod")
    assert.equal(-40106, err.code)
    assert.truthy(err.message:find('known as "' .. codes.text(-40106) .. '"', 1, true), err.message)
    cam:close()
  end)
end)

describe("control calls: deadlines and lost answers", function()
  local sim, cam
  setup(function()
    sim = helper.start_sim()
    cam = assert(vigi.connect(sim:options { timeout = 5 }))
  end)
  teardown(function()
    cam:close()
    sim:stop()
  end)

  it("names the call's own timeout when it runs out", function()
    sim:fault { kind = "stall", method = "getDeviceInfo", seconds = 10 }
    local t0 = core.now()
    local ok, err = cam:getDeviceInfo(nil, { timeout = 1 })
    assert.is_nil(ok)
    assert.equal("timeout", err.kind)
    assert.truthy(err.message:find("within 1 s", 1, true), err.message)
    assert.is_true(core.now() - t0 < 1 + 1)
  end)

  it("says a setter cut mid-answer may have been applied, and sends it once", function()
    local before = sim:calls("setSpeakerVolume")
    sim:fault { kind = "close_mid", method = "setSpeakerVolume" }
    local ok, err = cam:setSpeakerVolume { volume = 20 }
    assert.is_nil(ok)
    assert.equal("network", err.kind)
    assert.is_true(err.maybe_applied)
    assert.truthy(err.message:find("may have applied", 1, true), err.message)
    assert.equal(before + 1, sim:calls("setSpeakerVolume"))
    assert.equal(20, tonumber(assert(cam:getSpeakerVolume()).volume)) -- it was
  end)

  it("says a setter timing out after it was sent may have been applied", function()
    sim:fault { kind = "stall", method = "setSpeakerVolume", seconds = 10 }
    local ok, err = cam:setSpeakerVolume({ volume = 21 }, { timeout = 1 })
    assert.is_nil(ok)
    assert.equal("timeout", err.kind)
    assert.is_true(err.maybe_applied)
  end)

  it("says a setter whose answer is unreadable may have been applied", function()
    sim:fault { kind = "non_json", method = "setSpeakerVolume" }
    local ok, err = cam:setSpeakerVolume { volume = 22 }
    assert.is_nil(ok)
    assert.equal("protocol", err.kind)
    assert.is_true(err.maybe_applied)
  end)

  it("says a setter whose answer breaks HTTP may have been applied, and sends it once", function()
    local before = sim:calls("setSpeakerVolume")
    sim:fault { kind = "bad_chunk", method = "setSpeakerVolume" }
    local ok, err = cam:setSpeakerVolume { volume = 23 }
    assert.is_nil(ok)
    assert.equal("protocol", err.kind)
    assert.is_true(err.maybe_applied)
    assert.truthy(err.message:find("chunked", 1, true), err.message)
    assert.equal(before + 1, sim:calls("setSpeakerVolume"))
  end)

  it("says nothing of the kind for a getter", function()
    sim:fault { kind = "non_json", method = "getSpeakerVolume" }
    local ok, err = cam:getSpeakerVolume()
    assert.is_nil(ok)
    assert.equal("protocol", err.kind)
    assert.is_nil(err.maybe_applied)
  end)

  it("refuses a per-call timeout that is NaN, infinite or negative, sending nothing", function()
    local before = sim:counters().requests
    for _, t in ipairs { 0 / 0, math.huge, -math.huge, -1, "1" } do
      local t0 = core.now()
      local ok, err = cam:getDeviceInfo(nil, { timeout = t })
      assert.is_nil(ok)
      assert.equal("invalid", err.kind)
      assert.truthy(err.message:find("getDeviceInfo", 1, true), err.message)
      assert.is_true(core.now() - t0 < 1)
    end
    -- a NaN that reaches a request anyway (a login's deadline) is refused there
    local ok, err = cam:doAuth(nil, { timeout = 0 / 0 })
    assert.is_nil(ok)
    assert.equal("invalid", err.kind)
    assert.equal(before, sim:counters().requests)
  end)
end)

describe("vigi.connect refuses bad options before anything is sent", function()
  local function refused(opts, what)
    opts.password = opts.password or "x"
    opts.host = opts.host or "127.0.0.1"
    opts.port = opts.port or 9 -- nothing listens: a connection attempt would say so
    local t0 = core.now()
    local cam, err = vigi.connect(opts)
    assert(cam == nil, what .. " was accepted")
    assert.equal("invalid", err.kind, what .. ": " .. tostring(err))
    assert.is_true(core.now() - t0 < 1, what)
    return err
  end

  it("refuses numbers that are NaN, infinite or out of range", function()
    local nan, inf = 0 / 0, math.huge
    local cases = {
      { timeout = nan }, { timeout = inf }, { timeout = 0 }, { timeout = -1 },
      { timeout = 31 * 86400 }, { connect_timeout = nan }, { connect_timeout = inf },
      { token_refresh = nan }, { token_refresh = inf }, { token_refresh = 0 },
      { port = 0 }, { port = 65536 }, { port = 443.5 }, { port = nan }, { port = inf },
      { stream_port = nan }, { stream_port = 70000 },
      { max_answer = nan }, { max_answer = 0 }, { max_answer = inf },
    }
    for _, opts in ipairs(cases) do
      local k, v = next(opts)
      local err = refused(opts, k .. " = " .. tostring(v))
      assert.truthy(err.message:find("`" .. k .. "`", 1, true), err.message)
    end
  end)

  it("refuses hosts that are not an address or a name", function()
    for _, host in ipairs { "localhost/#", "localhost/", "localhost?x", "user@localhost",
        "localhost:20443", "local host", "[::1]", "fe80::1%eth0", "010.1.2.3", "1.2.3",
        "256.1.1.1", "0x7f000001", "127.1", "-cam.lan", "cam..lan", "cam_1.lan", ":::",
        "1::2::3", "https://127.0.0.1", "127.0.0.1\n", ("a"):rep(64) .. ".lan" } do
      local err = refused({ host = host }, "host " .. host)
      assert.truthy(err.message:find("`host`", 1, true), err.message)
      assert.is_nil(err.message:find("\n", 1, true))
    end
  end)

  it("takes IPv4 and IPv6 literals and host names", function()
    for _, host in ipairs { "127.0.0.1", "::1", "::ffff:127.0.0.1", "fe80::1:2", "localhost",
        "cam-1.lan", "cam-1.lan.", "deadbeef" } do
      local cam, err = vigi.connect { host = host, password = "x", lazy = true }
      assert(cam, host .. ": " .. tostring(err))
      cam:close()
    end
  end)

  it("reads IPv4 literals as inet_pton does, in discovery too", function()
    local ipv4 = require "vigi.ipv4"
    assert.equal(167838211, ipv4.parse("10.1.2.3"))
    assert.equal(0, ipv4.parse("0.0.0.0"))
    for _, bad in ipairs { "010.1.2.3", "10.01.2.3", "10.1.2.03", "10.1.2.0003", "10.1.2.3 " } do
      assert.is_nil(ipv4.parse(bad), bad)
    end
  end)
end)

describe("checks that match the document", function()
  local sim, cam
  setup(function()
    sim = helper.start_sim()
    cam = assert(vigi.connect(sim:options()))
  end)
  teardown(function()
    cam:close()
    sim:stop()
  end)

  it("takes getVideoCapability's 1920x1080 and sends the document's 1920*1080", function()
    local caps = assert(cam:getVideoCapability())
    local wanted = caps.main.resolutions[4]:gsub("%*", "x") -- as a person reads it
    assert(cam:setResolution { main_resolution = wanted })
    assert.equal(caps.main.resolutions[4], assert(cam:getResolution()).main.resolutions)
  end)

  it("formats card 1 only", function()
    local before = sim:calls("formatSdCard")
    local ok, err = cam:formatSdCard { card_index = 2 }
    assert.is_nil(ok)
    assert.equal("invalid", err.kind)
    assert.equal("card_index", err.field)
    assert.equal(before, sim:calls("formatSdCard"))
    assert(cam:formatSdCard { card_index = 1 })
  end)
end)

describe("docs/protocol.md", function()
  it("lists the error codes of lua/vigi/codes.lua", function()
    local text = read("docs/protocol.md")
    assert(codes.refresh(text), "docs/protocol.md lost its error-code markers")
    assert(codes.refresh(text) == text,
      "docs/protocol.md's error codes are stale: run `lua5.4 tools/gen-codes-doc.lua`")
  end)

  it("has each code once", function()
    local seen = {}
    for _, c in ipairs(codes.list) do
      assert.is_nil(seen[c.code], tostring(c.code))
      seen[c.code] = true
      for _, k in ipairs(c.from) do assert.is_string(codes.SOURCES[k], k) end
    end
  end)
end)
