-- Many cameras in one Lua state: what they share (one libcurl multi, one
-- TLS context for subscriptions) keeps each camera's token, pin and
-- connection its own; idle connections close and come back resumed; a
-- camera costs two descriptors.
local helper = require "spec.helper"
local vigi = require "vigi"
local core = require "vigi.core"
local wait = require "vigi.wait"

-- A pin of no key: 32 zero bytes.
local WRONG_PIN = "sha256//" .. string.rep("A", 43) .. "="

local function sockets()
  local p = assert(io.popen("ls -l /proc/" .. helper.pid() .. "/fd 2>/dev/null", "r"))
  local n = 0
  for line in p:lines() do
    if line:find("socket:", 1, true) then n = n + 1 end
  end
  p:close()
  return n
end

-- Connections ended earlier are freed by libcurl at its next look (at
-- most once a second): after it, the count is this test's.
local function settled()
  wait.sleep(1.1)
  core.http_sweep()
  return sockets()
end

describe("a fleet in one Lua state", function()
  local sim
  setup(function() sim = helper.start_sim { "--fleet", "5" } end)
  teardown(function() sim:stop() end)

  local function options(i, extra)
    local o = { host = sim.addresses[i], port = sim.port, password = helper.PASSWORD, timeout = 5 }
    for k, v in pairs(extra or {}) do o[k] = v end
    return o
  end

  it("keeps pins apart: of two cameras, only the one with the wrong pin fails", function()
    for _, order in ipairs { { "right", "wrong" }, { "wrong", "right" } } do
      local cams, errs = {}, {}
      for _, which in ipairs(order) do
        -- both on one address: one cache could mix them up
        local cam, err = vigi.connect(options(1, { tls = { pin = which == "right" and sim.pin or WRONG_PIN } }))
        cams[which], errs[which] = cam, err
      end
      assert.is_nil(cams.wrong)
      assert.equal("network", errs.wrong.kind)
      assert.equal("pin", errs.wrong.tls)
      local right = assert(cams.right, tostring(errs.right))
      assert(right:getDeviceInfo())
      local sub = assert(right:subscribe { event_types = { "MotionDetection" } })
      sub:close()
      -- and a subscription with the wrong pin fails alone, as a TLS refusal
      local other = assert(vigi.connect(options(2, { tls = { pin = sim.pin } })))
      other.tls.pin = WRONG_PIN
      local none, serr = other:subscribe { event_types = { "MotionDetection" } }
      assert.is_nil(none)
      assert.equal("pin", serr.tls)
      assert(right:getDeviceInfo())
      other:close()
      right:close()
    end
  end)

  it("keeps tokens apart: a camera whose token expired logs in again alone", function()
    local a = assert(vigi.connect(options(1)))
    local b = assert(vigi.connect(options(2)))
    assert(a:getDeviceInfo())
    assert(b:getDeviceInfo())
    helper.admin_at(sim, sim.addresses[2], "POST", "expire_tokens")
    assert(a:getDeviceInfo())
    assert(b:getDeviceInfo())
    assert.equal(1, a.stats.logins)
    assert.equal(2, b.stats.logins)
    a:close()
    b:close()
  end)

  it("closes an idle control connection and reopens it transparently, resuming TLS", function()
    local cam = assert(vigi.connect(options(3, { idle_close = 1 })))
    finally(function() cam:close() end)
    assert(cam:getDeviceInfo())
    local before = helper.admin_at(sim, sim.addresses[3], "GET", "counters")
    wait.sleep(2.2)
    local info = assert(cam:getDeviceInfo())
    assert.equal("C100", info.model)
    local after = helper.admin_at(sim, sim.addresses[3], "GET", "counters")
    assert.equal(1, after.connections - before.connections)
    assert.equal(1, after.tls_resumed - before.tls_resumed)
  end)

  it("keeps an idle connection with idle_close = 0, while another camera's closes", function()
    local keep = assert(vigi.connect(options(4, { idle_close = 0 })))
    local other = assert(vigi.connect(options(2, { idle_close = 1 })))
    finally(function() keep:close() other:close() end)
    assert(keep:getDeviceInfo())
    assert(other:getDeviceInfo())
    local before = helper.admin_at(sim, sim.addresses[4], "GET", "counters")
    local before2 = helper.admin_at(sim, sim.addresses[2], "GET", "counters")
    wait.sleep(2.2)
    assert(other:getDeviceInfo())
    assert(keep:getDeviceInfo())
    local after = helper.admin_at(sim, sim.addresses[4], "GET", "counters")
    local after2 = helper.admin_at(sim, sim.addresses[2], "GET", "counters")
    assert.equal(0, after.connections - before.connections)
    assert.equal(1, after2.connections - before2.connections)
  end)

  it("closes a camera's connection when the camera is closed", function()
    local cam = assert(vigi.connect(options(1)))
    assert(cam:getDeviceInfo())
    local base = settled()
    cam:close()
    assert.equal(base - 1, settled())
  end)

  it("refuses a bad idle_close before sending anything", function()
    local cam, err = vigi.connect(options(1, { idle_close = -1 }))
    assert.is_nil(cam)
    assert.equal("invalid", err.kind)
  end)

  it("holds a camera with its subscription on two descriptors, all connecting at once", function()
    local first = assert(vigi.connect(options(5))) -- the shared parts exist from here on
    local base = settled()
    local cams, subs, errs = {}, {}, {}
    vigi.run(function()
      for i = 1, 4 do
        vigi.spawn(function()
          local cam, err = vigi.connect(options(i))
          if not cam then errs[#errs + 1] = err return end
          assert(cam:getDeviceInfo())
          local sub, serr = cam:subscribe { event_types = { "MotionDetection" } }
          if not sub then errs[#errs + 1] = serr return end
          cams[i], subs[i] = cam, sub
        end)
      end
    end)
    assert.same({}, errs)
    assert.equal(8, sockets() - base)
    for i = 1, 4 do
      subs[i]:close()
      cams[i]:close()
    end
    first:close()
  end)
end)
