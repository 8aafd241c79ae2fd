-- The control plane end to end against vigi-sim over TLS: logins, the
-- stok lifecycle, refusals, faults, TLS trust. Methods one by one are in
-- methods_e2e_spec.lua.
local helper = require "spec.helper"
local vigi = require "vigi"
local core = require "vigi.core"

describe("control plane", function()
  local sim
  setup(function() sim = helper.start_sim() end)
  teardown(function() sim:stop() end)
  before_each(function()
    sim:reset(true)
    sim:config { auth = "md5", stok_top = false, tz_spelling = "both", token_error = "errcode" }
  end)

  it("connects, logs in and calls a getter", function()
    local cam = assert(vigi.connect(sim:options()))
    local info = assert(cam:getDeviceInfo())
    assert.is_string(info.model)
    assert.equal("md5", cam.login_form)
    cam:close()
  end)

  it("reads back what a setter set", function()
    local cam = assert(vigi.connect(sim:options()))
    assert(cam:setMotionDetectionSwitch { enabled = "off", sensitivity = 33 })
    local got = assert(cam:getMotionDetectionSwitch())
    assert.equal("off", got.enabled)
    assert.equal(33, tonumber(got.sensitivity))
    cam:close()
  end)

  it("refuses bad parameters before sending anything", function()
    local cam = assert(vigi.connect(sim:options()))
    local before = sim:calls("setSpeakerVolume")
    local ok, err = cam:setSpeakerVolume { volume = 150 }
    assert.is_nil(ok)
    assert.equal("invalid", err.kind)
    assert.equal("volume", err.field)
    assert.truthy(tostring(err):find("volume", 1, true))
    assert.equal(before, sim:calls("setSpeakerVolume"))
    cam:close()
  end)

  it("calls any method by name, and unknown names reach the camera as given", function()
    local cam = assert(vigi.connect(sim:options()))
    local status = assert(cam:call("getDeviceStatus"))
    assert.is_table(status)
    local ok, err = cam:call("noSuchMethodAnywhere")
    assert.is_nil(ok)
    assert.equal("api", err.kind)
    assert.equal("noSuchMethodAnywhere", err.method)
    assert.is_number(err.code)
    cam:close()
  end)

  it("logs in by challenge when the camera asks for it", function()
    sim:config { auth = "challenge" }
    local cam = assert(vigi.connect(sim:options { login = "challenge" }))
    assert.equal("challenge", cam.login_form)
    assert(cam:getDeviceInfo())
    local c = sim:counters()
    assert.equal(1, c.logins.challenge)
    assert.equal(0, c.logins.md5)
    cam:close()
  end)

  it("asks again when the form it knew for this address is refused as unsupported", function()
    assert(vigi.connect(sim:options())):close()  -- md5, now known for this host:port
    sim:reset()
    sim:config { auth = "challenge" }
    local cam = assert(vigi.connect(sim:options()))
    assert.equal("challenge", cam.login_form)
    local l = sim:counters().logins
    -- the MD5 form was answered -10030 (no failed login), then one probe
    assert.same({ 1, 1, 1, 0 }, { l.md5, l.probe, l.challenge, l.failed })
    cam:close()
  end)

  it("accepts the stok at the top level of the answer", function()
    sim:config { stok_top = true }
    local cam = assert(vigi.connect(sim:options()))
    assert(cam:getDeviceInfo())
    cam:close()
  end)

  it("sends calls under a path suffix when asked (firmware that wants /ds)", function()
    local cam = assert(vigi.connect(sim:options { path_suffix = "/ds" }))
    assert(cam:getDeviceAlias())
    cam:close()
  end)

  it("logs in by challenge as the user given", function()
    local other = helper.start_sim { "--auth", "challenge", "--username", "operator" }
    local cam = assert(vigi.connect(other:options { username = "operator" }))
    assert(cam:getDeviceInfo())
    cam:close()
    local _, err = vigi.connect(other:options())  -- as admin: the digest differs
    assert.equal("auth", err.kind)
    other:stop()
  end)

  it("logs in with password_md5 instead of the password", function()
    local cam = assert(vigi.connect(sim:options {
      password = false, password_md5 = core.md5_hex(helper.PASSWORD) }))
    assert(cam:getSpeakerVolume())
    cam:close()
  end)

  for _, form in ipairs { "md5", "challenge" } do
    it("reports a wrong password after exactly one attempt (" .. form .. ")", function()
      sim:config { auth = form }
      local cam, err = vigi.connect(sim:options { password = "wrong" })
      assert.is_nil(cam)
      assert.equal("auth", err.kind)
      assert.truthy(err.message:find("wrong password", 1, true))
      local c = sim:counters()
      assert.equal(1, c.logins[form])
      assert.equal(1, c.logins.failed)
    end)
  end

  it("reports a locked account with its own message and never retries", function()
    sim:config { auth = "md5" }
    for _ = 1, 5 do assert.is_nil(vigi.connect(sim:options { password = "wrong" })) end
    local before = sim:counters().logins
    local cam, err = vigi.connect(sim:options())  -- right password, but locked
    assert.is_nil(cam)
    assert.equal("auth", err.kind)
    assert.is_true(err.locked)
    assert.truthy(err.message:find("locked", 1, true))
    -- one doAuth for this connect: the probe that shows the lock, or (the
    -- form being known for this address) the MD5 form answered -10022
    local after = sim:counters().logins
    local function all(l) return l.probe + l.md5 + l.challenge end
    assert.equal(1, all(after) - all(before))
    assert.equal(5, after.failed)
  end)

  it("hides an expired token from the caller", function()
    local cam = assert(vigi.connect(sim:options()))
    assert(cam:getDeviceInfo())
    sim:expire_tokens()
    assert(cam:setSpeakerVolume { volume = 42 })
    assert.equal(42, tonumber(assert(cam:getSpeakerVolume()).volume))
    local c = sim:counters()
    assert.equal(2, c.logins.ok)
    -- refused once for the token, then sent once more with the new one
    assert.equal(2, c.calls.setSpeakerVolume)
    assert.equal(1, c.token_errors)
    cam:close()
  end)

  it("hides a token error answered as HTTP 401 too", function()
    local cam = assert(vigi.connect(sim:options()))
    sim:config { token_error = "http401" }
    sim:expire_tokens()
    assert(cam:getDayNightMode())
    cam:close()
  end)

  it("renews the token before it ages out", function()
    local cam = assert(vigi.connect(sim:options { token_refresh = 0.2 }))
    assert(cam:getDeviceInfo())
    vigi.sleep(0.3)
    assert(cam:getDeviceInfo())
    local c = sim:counters()
    assert.equal(2, c.logins.ok)
    assert.equal(0, c.token_errors)
    cam:close()
  end)

  it("falls back to the other time-zone spelling and remembers it", function()
    sim:config { tz_spelling = "TimeZone" }
    local cam = assert(vigi.connect(sim:options()))
    assert(cam:setTimezone { timezone = "UTC+02:00", area = "Europe/Amsterdam" })
    assert(cam:setTimezone { timezone = "UTC+01:00", area = "Europe/Amsterdam" })
    local c = sim:counters()
    assert.equal(1, c.calls.setTimezone)
    assert.equal(2, c.calls.setTimeZone)
    cam:close()
  end)

  describe("faults", function()
    local cases = {
      { fault = { kind = "stall", seconds = 30 }, kind = "timeout" },
      { fault = { kind = "close_mid", count = 2 }, kind = "network" },
      { fault = { kind = "non_json" }, kind = "protocol" },
      { fault = { kind = "http500" }, kind = "protocol" },
    }
    for _, case in ipairs(cases) do
      it("turns " .. case.fault.kind .. " into a " .. case.kind .. " error within the deadline", function()
        local cam = assert(vigi.connect(sim:options { timeout = 1 }))
        local f = {}
        for k, v in pairs(case.fault) do f[k] = v end
        f.method = "getDeviceInfo"
        sim:fault(f)
        local t0 = core.now()
        local ok, err = cam:getDeviceInfo()
        assert.is_nil(ok)
        assert.equal(case.kind, err.kind)
        assert.is_true(core.now() - t0 < 2.5)
        -- and the camera is usable afterwards
        assert(cam:getDeviceInfo())
        cam:close()
      end)
    end

    it("sends a getter again only in what is left of the call's own time", function()
      -- two stalls of 1 s, each ended by a close: the first try takes 1 s of
      -- the 1.5 s, so the resend has 0.5 s, not the whole 1.5 s again
      local cam = assert(vigi.connect(sim:options()))
      sim:fault { kind = "stall", method = "getDeviceInfo", count = 2, seconds = 1 }
      local t0 = core.now()
      local ok, err = cam:getDeviceInfo(nil, { timeout = 1.5 })
      local took = core.now() - t0
      assert.is_nil(ok)
      assert.equal("timeout", err.kind)
      assert.is_true(took < 1.5 + 0.3, "took " .. took .. " s")
      sim:fault { kind = "none" }
      cam:close()
    end)

    it("never sends a setter twice when the connection dies after it went out", function()
      local cam = assert(vigi.connect(sim:options()))
      sim:fault { kind = "close_mid", method = "setSpeakerVolume" }
      local ok, err = cam:setSpeakerVolume { volume = 10 }
      assert.is_nil(ok)
      assert.equal("network", err.kind)
      assert.equal(1, sim:calls("setSpeakerVolume"))
      cam:close()
    end)

    it("sends a getter once more when its connection dies", function()
      local cam = assert(vigi.connect(sim:options()))
      sim:fault { kind = "close_mid", method = "getSpeakerVolume" }
      assert(cam:getSpeakerVolume())
      assert.equal(2, sim:calls("getSpeakerVolume"))
      cam:close()
    end)
  end)

  it("gives a network error for a port where nothing listens", function()
    local cam, err = vigi.connect { host = "127.0.0.1", port = 1, password = "x", timeout = 2 }
    assert.is_nil(cam)
    assert.equal("network", err.kind)
  end)

  describe("TLS", function()
    it("accepts the camera's pinned public key", function()
      local cam = assert(vigi.connect(sim:options { tls = { pin = sim.pin } }))
      assert(cam:getDeviceInfo())
      cam:close()
    end)

    it("refuses another public key", function()
      local cam, err = vigi.connect(sim:options {
        tls = { pin = "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" } })
      assert.is_nil(cam)
      assert.equal("network", err.kind)
      assert.equal("pin", err.tls)
    end)

    it("verifies the certificate against a cafile", function()
      local path = os.tmpname()
      local other = helper.start_sim { "--cert-out", path }
      local cam = assert(vigi.connect(other:options { tls = { verify = true, cafile = path } }))
      assert(cam:getDeviceInfo())
      cam:close()
      other:stop()
      os.remove(path)
    end)

    it("refuses a self-signed certificate when asked to verify without a cafile", function()
      local cam, err = vigi.connect(sim:options { tls = { verify = true } })
      assert.is_nil(cam)
      assert.equal("ca", err.tls)
      assert.truthy(err.message:find("tls.pin", 1, true))
    end)
  end)
end)
