-- The owner's account (DESIGN principle 8, docs/protocol.md "Keeping the
-- owner's account safe"): a password goes out once per user action; after
-- a refused login nothing is sent until the user logs in again; a login
-- spends no doAuth it does not need. Counted by vigi-sim over real sockets.
local helper = require "spec.helper"
local vigi = require "vigi"
local core = require "vigi.core"

local function doauths(l) return l.probe + l.md5 + l.challenge end

-- Refused attempts of every kind the sim counts: control logins and
-- stream digests.
local function refusals(sim)
  return sim:counters().logins.failed + sim:stream_state().auth_failures
end

describe("the owner's account", function()
  local sim
  setup(function() sim = helper.start_sim { "--lockout", "3" } end)
  teardown(function() sim:stop() end)
  before_each(function()
    sim:reset(true)
    sim:config { auth = "md5", lockout = 3, lock_seconds = 600, password = helper.PASSWORD }
    sim:stream_config { username = "admin" }
  end)

  describe("a wrong password", function()
    it("at connect is one failed login; no probe counts as one", function()
      local cam, err = vigi.connect(sim:options { password = "wrong" })
      assert.is_nil(cam)
      assert.equal("auth", err.kind)
      assert.equal(-10020, err.code)
      assert.truthy(err.message:find("connect again", 1, true), err.message)
      local l = sim:counters().logins
      assert.equal(1, l.failed)
      assert.equal(1, l.md5)          -- the failure is the password's, not a probe's
      assert.is_true(l.probe <= 1)
    end)

    it("is kept: later calls send nothing until cam:login{ password = ... }", function()
      local cam = assert(vigi.connect(sim:options { password = "wrong", lazy = true }))
      local ok, err = cam:getDeviceInfo()
      assert.is_nil(ok)
      assert.equal("auth", err.kind)
      assert.equal(1, sim:counters().logins.failed)
      local requests = sim:counters().requests
      for _ = 1, 3 do
        local t0 = core.now()
        local again, aerr = cam:getDeviceInfo()
        assert.is_nil(again)
        assert.equal("auth", aerr.kind)
        assert.equal(-10020, aerr.code)
        assert.truthy(aerr.message:find("nothing more is sent", 1, true), aerr.message)
        assert.is_true(core.now() - t0 < 0.5)
      end
      -- nor a subscription, nor a stream, nor the doAuth of a renewal
      local sub, serr = cam:subscribe { event_types = { "all" } }
      assert.is_nil(sub)
      assert.equal("auth", serr.kind)
      local s, perr = cam:preview {}
      assert.is_nil(s)
      assert.equal("auth", perr.kind)
      assert.equal(requests, sim:counters().requests)
      assert.equal(0, sim:stream_state().requests)
      -- the user's own login: once with what was stored, then a new password
      local again, lerr = cam:login()
      assert.is_nil(again)
      assert.equal("auth", lerr.kind)
      assert.equal(2, sim:counters().logins.failed)
      assert.is_true(cam:login { password = helper.PASSWORD })
      assert(cam:getDeviceInfo())
      assert(cam:getSpeakerVolume())
      assert.equal(2, sim:counters().logins.failed)
      cam:close()
    end)

    it("refuses bad cam:login arguments before sending anything", function()
      local cam = assert(vigi.connect(sim:options()))
      assert.has_error(function() cam:login(5) end)
      assert.has_error(function() cam:login { password = 5 } end)
      assert.has_error(function() cam:login { password_md5 = "abc" } end)
      local ok, err = cam:login { timeout = 0 / 0 }
      assert.is_nil(ok)
      assert.equal("invalid", err.kind)
      cam:close()
    end)

    it("after a token renewal is one failed login, and then nothing is sent", function()
      local cam = assert(vigi.connect(sim:options()))
      assert(cam:getDeviceInfo())
      sim:password("changed-on-the-camera")   -- tokens revoked too
      local ok, err = cam:getDeviceInfo()     -- token error, one login, refused
      assert.is_nil(ok)
      assert.equal("auth", err.kind)
      local requests = sim:counters().requests
      for _ = 1, 3 do assert.is_nil(cam:getDeviceInfo()) end
      assert.equal(requests, sim:counters().requests)
      assert.equal(1, sim:counters().logins.failed)
      cam:close()
    end)
  end)

  it("reports a locked account, and sends nothing afterwards", function()
    for _ = 1, 3 do assert.is_nil(vigi.connect(sim:options { password = "wrong" })) end
    local cam = assert(vigi.connect(sim:options { lazy = true }))
    local ok, err = cam:getDeviceInfo()
    assert.is_nil(ok)
    assert.is_true(err.locked)
    assert.equal(-10022, err.code)
    local before = sim:counters()
    local _, again = cam:getDeviceInfo()
    assert.is_true(again.locked)
    assert.equal(before.requests, sim:counters().requests)
    assert.equal(3, before.logins.failed)
    cam:close()
  end)

  it("keeps a digest refused by the stream port as the camera's refusal", function()
    sim:stream_config { username = "operator" }   -- the stream port wants another user
    local cam = assert(vigi.connect(sim:options()))
    local s, err = cam:preview {}
    assert.is_nil(s)
    assert.equal("auth", err.kind)
    assert.equal(1, sim:stream_state().auth_failures)
    local requests = sim:counters().requests
    local _, cerr = cam:getDeviceInfo()
    assert.equal("auth", cerr.kind)
    local _, perr = cam:preview {}
    assert.equal("auth", perr.kind)
    assert.equal(requests, sim:counters().requests)
    assert.equal(1, sim:stream_state().auth_failures)
    sim:stream_config { username = "admin" }
    assert.is_true(cam:login())
    s = assert(cam:preview {})
    assert(s:next(5))
    s:close()
    cam:close()
  end)

  it("takes a doAuth hash in lower case and sends it in upper case", function()
    local cam = assert(vigi.connect(sim:options()))
    assert.is_true(cam:doAuth { password = core.md5_hex(helper.PASSWORD), passwdType = "md5" })
    assert(cam:getDeviceInfo())
    assert.equal(0, sim:counters().logins.failed)
    -- by name too: a login, kept when refused like any other
    local ok, err = cam:call("doAuth", { password = core.md5_hex("wrong"), passwdType = "md5" })
    assert.is_nil(ok)
    assert.equal("auth", err.kind)
    local requests = sim:counters().requests
    assert.equal("auth", select(2, cam:getDeviceInfo()).kind)
    assert.equal(requests, sim:counters().requests)
    cam:close()
  end)

  describe("login economy", function()
    it("sends no probe once the form is known for this host:port", function()
      assert(vigi.connect(sim:options())):close()
      sim:reset()
      local cam = assert(vigi.connect(sim:options()))
      for _ = 1, 10 do assert(cam:getDeviceInfo()) end
      local l = sim:counters().logins
      assert.same({ 0, 1 }, { l.probe, l.md5 })
      assert.equal(1, doauths(l))
      assert.equal("md5", cam.login_form)
      cam:close()
    end)

    it("sends no probe with login = \"md5\"", function()
      local other = helper.start_sim()   -- an address this process has not seen
      local cam = assert(vigi.connect(other:options { login = "md5" }))
      assert(cam:getDeviceInfo())
      local l = other:counters().logins
      assert.same({ 0, 1 }, { l.probe, l.md5 })
      cam:close()
      other:stop()
    end)

    it("sends no password when login = \"challenge\" finds no challenge", function()
      local cam, err = vigi.connect(sim:options { login = "challenge" })
      assert.is_nil(cam)
      assert.equal("auth", err.kind)
      local l = sim:counters().logins
      assert.same({ 1, 0, 0 }, { l.probe, l.md5, l.failed })
    end)

    it("refuses a login option it does not know", function()
      assert.has_error(function() vigi.connect(sim:options { login = "sha1" }) end)
    end)

    it("against a camera that closes after each answer: only the doAuth that carries the password",
      function()
        local closing = helper.start_sim { "--close-after-answer" }
        for round = 1, 2 do
          closing:reset()
          local cam = assert(vigi.connect(closing:options()))
          for _ = 1, 10 do assert(cam:getDeviceInfo()) end
          assert(cam:setSpeakerVolume { volume = 20 })
          local l = closing:counters().logins
          assert.equal(1, l.md5)
          -- a probe only at the first login to this address in the process
          assert.is_true(l.probe <= (round == 1 and 1 or 0))
          assert.equal(l.md5 + l.probe, doauths(l))
          assert.is_true(cam._closes_after_answer)   -- learnt from the transfers
          cam:close()
        end
        closing:stop()
      end)
  end)

  -- The password changes on the camera while a subscription, a preview
  -- and a polling loop run in one vigi.run. The camera counts exactly one
  -- refused attempt in all (a failed doAuth or a refused stream digest),
  -- and every API answers `auth` in time. Shorter than a real outage, but
  -- with tokens living 1 s, renewals every 0.3 s before the change and a
  -- subscription backoff of 0.05..0.2 s, the loops come back here more
  -- often in a few seconds than in minutes at the defaults.
  it("after a password change on the camera: one refused attempt in all", function()
    sim:config { token_lifetime = 1, lockout = 5 }
    local cam = assert(vigi.connect(sim:options { token_refresh = 0.3, timeout = 2 }))
    local stop, changed_at = false, nil
    local polls, streams, items = {}, {}, {}
    vigi.run(function()
      vigi.spawn(function()   -- a polling loop
        while not stop do
          local t0 = core.now()
          local ok, err = cam:getDeviceInfo()
          polls[#polls + 1] = { at = t0, took = core.now() - t0, kind = not ok and err.kind }
          vigi.sleep(0.2)
        end
      end)
      vigi.spawn(function()   -- a subscription
        local sub = assert(cam:subscribe { event_types = { "all" }, heartbeat = 1,
          backoff_min = 0.05, backoff_max = 0.2 })
        items.sub = sub
        while not stop do
          local item, why = sub:next(0.5)
          if item and item.kind == "error" then items[#items + 1] = item.error.kind end
          if not item and why ~= "timeout" then break end
        end
        sub:close()
      end)
      vigi.spawn(function()   -- a preview, opened again whenever it ends
        while not stop do
          local t0 = core.now()
          local s, err = cam:preview { timeout = 2 }
          if s then
            while not stop and s:next(0.5) do end
            s:close()
          else
            streams[#streams + 1] = { at = t0, took = core.now() - t0, kind = err.kind }
            vigi.sleep(0.2)
          end
        end
      end)
      vigi.sleep(1.5)   -- everything runs, tokens are renewed
      assert.equal(0, refusals(sim))
      changed_at = core.now()
      sim:password("changed-on-the-camera")
      sim:stream_fault { fault = "cut_mid_frame", after = 0 }   -- the preview drops
      vigi.sleep(4)
      stop = true
      if items.sub then items.sub:close() end
    end)
    sim:stream_fault { fault = "none" }
    assert.equal(1, refusals(sim))
    assert.is_true(#polls > 15)
    for _, p in ipairs(polls) do
      if p.at > changed_at + 0.5 then
        assert.equal("auth", p.kind)
        assert.is_true(p.took < 2 + 1)
      elseif p.at < changed_at then
        assert.is_false(p.kind)
      end
    end
    assert.is_true(#streams > 5)
    for _, p in ipairs(streams) do
      assert.equal("auth", p.kind)
      assert.is_true(p.took < 2 + 1)
    end
    for _, kind in ipairs(items) do assert.equal("auth", kind) end
    -- every API, asked now, answers auth at once and sends nothing
    local requests = sim:counters().requests
    local t0 = core.now()
    assert.equal("auth", select(2, cam:getDeviceInfo()).kind)
    assert.equal("auth", select(2, cam:subscribe { event_types = { "all" } }).kind)
    assert.equal("auth", select(2, cam:preview {}).kind)
    assert.is_true(core.now() - t0 < 1)
    assert.equal(requests, sim:counters().requests)
    -- until the owner gives the new password
    assert.is_true(cam:login { password = "changed-on-the-camera" })
    assert(cam:getDeviceInfo())
    assert.equal(1, refusals(sim))
    cam:close()
  end)
end)
