-- The bridge's pieces that need no network: its configuration (checks,
-- defaults, secrets from the environment or a file, never inline), the
-- controls' payloads, and the Home Assistant configs.
local config = require "vigi.bridge.config"
local controls = require "vigi.bridge.controls"
local ha = require "vigi.bridge.ha"
local json = require "vigi.json"

local function cam(t)
  local c = { name = "door", host = "192.0.2.7", password_env = "DOOR_PW" }
  for k, v in pairs(t or {}) do c[k] = v end
  return c
end

describe("bridge configuration", function()
  it("fills the defaults and hands shared settings to every camera", function()
    local cfg = assert(config.check { cameras = { cam() }, hold = 3 })
    assert.equal("vigi", cfg.prefix)
    assert.equal("homeassistant", cfg.discovery_prefix)
    assert.equal(1883, cfg.broker.port)
    assert.equal(3, cfg.cameras[1].hold)
    assert.equal(15, cfg.cameras[1].heartbeat)
    assert.equal(12, #cfg.cameras[1].events)
    assert.same(controls.DEFAULT_GROUPS, cfg.cameras[1].controls)
  end)

  -- one row per refusal: the configuration, and a word of the message
  local refused = {
    { { cameras = { cam { password = "hunter2" } } }, "never written in the configuration" },
    { { cameras = { cam() }, broker = { username = "u", password = "p" } }, "password_env" },
    { { cameras = { cam { password_env = false } } }, "non-empty string" },
    { { cameras = { cam { password_env = "A", password_file = "/f" } } }, "not both" },
    { { cameras = { { name = "x", host = "192.0.2.7" } } }, "password_env" },
    { { cameras = { cam { name = "a/b" } } }, "topic level" },
    { { cameras = { cam { name = "bridge" } } }, "bridge's own topic" },
    { { cameras = { cam(), cam() } }, "given twice" },
    { { cameras = { cam { host = "http://x" } } }, "`host`" },
    { { cameras = { cam { port = 70000 } } }, "`port`" },
    { { cameras = { cam { events = { "Nope" } } } }, "not one of" },
    { { cameras = { cam { controls = { "everything" } } } }, "not one of" },
    { { cameras = { cam() }, hold = 0 / 0 }, "`hold`" },
    { { cameras = { cam() }, prefix = "a/b" }, "`prefix`" },
    { { cameras = { cam() }, colour = "blue" }, "unknown setting" },
    { { cameras = {} }, "at least one camera" },
    { { cameras = { cam() }, broker = { port = 0 } }, "`port`" },
    { { cameras = { cam() }, broker = { password_env = "X" } }, "needs a `username`" },
    { { cameras = { cam() }, broker = { tls = {} } }, "cafile" },
    { { cameras = { cam() }, broker = { client_id = string.rep("x", 24) } }, "client_id" },
  }
  for i, row in ipairs(refused) do
    it("refuses case " .. i .. " (" .. row[2] .. ")", function()
      local cfg, err = config.check(row[1])
      assert.is_nil(cfg)
      assert.equal("invalid", err.kind)
      assert.truthy(err.message:find(row[2], 1, true), err.message)
    end)
  end

  it("reads a file that returns a table, or sets globals, with nothing else reachable", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write('cameras = { { name = "a", host = "127.0.0.1", password_env = "PW" } }\nprefix = "cams"\n')
    f:close()
    local cfg = assert(config.load(path))
    assert.equal("cams", cfg.prefix)
    f = assert(io.open(path, "w"))
    f:write('return { cameras = { { name = "a", host = "127.0.0.1", password_env = os.getenv("X") } } }')
    f:close()
    local none, err = config.load(path)
    assert.is_nil(none)
    assert.truthy(err.message:find("os", 1, true), err.message)
    os.remove(path)
    none, err = config.load(path)
    assert.is_nil(none)
    assert.truthy(err.message:find("cannot read", 1, true))
  end)

  it("takes a secret from the environment or the first line of a file, and says which is missing", function()
    local env = { DOOR_PW = "from-env" }
    local getenv = function(k) return env[k] end
    assert.equal("from-env", config.secret({ password_env = "DOOR_PW" }, "camera door", getenv))
    local v, err = config.secret({ password_env = "OTHER" }, "camera door", getenv)
    assert.is_nil(v)
    assert.truthy(err.message:find("OTHER, which is not set", 1, true))
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write("from-file\nignored\n")
    f:close()
    assert.equal("from-file", config.secret({ password_file = path }, "camera door"))
    os.remove(path)
    v, err = config.secret({ password_file = path }, "camera door")
    assert.is_nil(v)
    assert.truthy(err.message:find("cannot read its password file", 1, true))
    assert.is_nil((config.secret({}, "broker")))
  end)
end)

describe("bridge controls", function()
  local by_id = {}
  for _, c in ipairs(controls.ALL) do by_id[c.id] = c end

  it("maps switch, number, select and button payloads to calls", function()
    assert.same({ "setMotionDetectionSwitch", { enabled = "off" } },
      { controls.command(by_id.motion_detection, "OFF") })
    assert.same({ "setCrosslineDetectionSwitch", { enabled = "on" } },
      { controls.command(by_id.cross_line_detection, "on") })
    assert.same({ "setSpeakerVolume", { volume = 30 } }, { controls.command(by_id.speaker_volume, "30") })
    assert.same({ "setSpeakerVolume", { volume = 30 } }, { controls.command(by_id.speaker_volume, "30.0") })
    assert.same({ "manualAlarm", { act = "start" }, "ON" }, { controls.command(by_id.alarm, "ON") })
    local presets = { { id = 3, name = "gate" } }
    assert.same({ "gotoPresetPoint", { id = 3 }, "gate" }, { controls.command(by_id.preset, "gate", presets) })
    assert.same({ "doSoftReset" }, { controls.command(by_id.reboot, "PRESS") })
  end)

  it("refuses payloads that mean nothing for the control, as invalid", function()
    for _, row in ipairs {
      { "motion_detection", "maybe" }, { "speaker_volume", "loud" }, { "speaker_volume", "nan" },
      { "speaker_volume", "inf" }, { "preset", "nowhere" }, { "reboot", "now" },
    } do
      local m, err = controls.command(by_id[row[1]], row[2], {})
      assert.is_nil(m)
      assert.equal("invalid", err.kind)
      assert.truthy(err.message:find("nothing was sent", 1, true))
    end
  end)

  it("reads states from a getter's answer, wrapped or not", function()
    assert.equal("ON", controls.state(by_id.motion_detection, { enabled = "on" }))
    assert.equal("OFF", controls.state(by_id.motion_detection, { motion_detection = { enabled = "off" } }))
    assert.equal("75", controls.state(by_id.motion_sensitivity, { sensitivity = "75" }))
    assert.is_nil(controls.state(by_id.motion_detection, { enabled = "sometimes" }))
    assert.is_nil(controls.state(by_id.motion_detection, {}))
    assert.same({ { id = 3, name = "vigi-test" } },
      controls.presets { id = { "3" }, name = { "vigi-test" }, position_pan = { "0.2" } })
  end)

  it("takes its ranges from the method table", function()
    assert.equal(1, by_id.motion_sensitivity.min)
    assert.equal(100, by_id.motion_sensitivity.max)
    assert.equal(0, by_id.speaker_volume.min)
    -- the detections whose setter has no sensitivity get no number
    assert.is_nil(by_id.cross_line_sensitivity)
  end)
end)

describe("Home Assistant configs", function()
  local t = { prefix = "vigi", discovery = "homeassistant", name = "door", node = "vigi_door",
              version = "scm-1", bridge_availability = "vigi/bridge/availability" }

  it("says which MAC, model and firmware the device has", function()
    local d = ha.device(t, { model = "C540V", swVer = " 2.3.0 Build 1 ", mac = "00-0A-EB-01-88-11" })
    assert.equal("VIGI C540V", d.model)
    assert.equal("2.3.0 Build 1", d.sw_version)
    assert.same({ { "mac", "00:0a:eb:01:88:11" } }, d.connections)
    assert.is_nil(ha.device(t, { mac = "00-0A-EB-01-88-11" }, true).connections)
    assert.is_nil(ha.mac("not a mac"))
  end)

  it("holds every field each component requires, and encodes as JSON", function()
    t.device = ha.device(t, {})
    local list = ha.configs(t, { "MotionDetection", "AudioAnomalyDetection" }, controls.ALL, {})
    for _, item in ipairs(list) do
      local component = item.topic:match("^homeassistant/([%w_]+)/vigi_door/[%w_]+/config$")
      assert.truthy(component, item.topic)
      for _, field in ipairs(ha.REQUIRED[component]) do
        assert.truthy(item.config[field] ~= nil, item.topic .. " lacks " .. field)
      end
      local text = json.encode(item.config)
      assert.truthy(json.decode(text))
      if component == "select" then assert.truthy(text:find('"options":[]', 1, true)) end
    end
    assert.equal("sound", list[2].config.device_class)
  end)
end)
