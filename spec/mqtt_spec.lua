-- vigi.mqtt, the libmosquitto binding of the bridge, against a real
-- mosquitto: connect without blocking, publish and receive through
-- vigi.run, the will, and the limits of what it queues. Runs on every Lua
-- (the binding is C); the bridge itself is bridge_spec.lua's.
local mqtt_support = require "spec.support.mqtt"
local core = require "vigi.core"
local wait = require "vigi.wait"
local vigi = require "vigi"

describe("the library without the MQTT binding", function()
  it("loads every module but the bridge's connection without vigi.mqtt", function()
    for _, m in ipairs { "vigi", "vigi.cli", "vigi.bridge.config", "vigi.bridge.ha", "vigi.bridge.controls",
                         "vigi.bridge.camera", "vigi.bridge" } do
      require(m)
    end
    assert.is_nil(package.loaded["vigi.mqtt"])
  end)

  it("says what to install when vigi.mqtt is missing", function()
    local saved_loaded, saved_preload = package.loaded["vigi.mqtt"], package.preload["vigi.mqtt"]
    package.loaded["vigi.mqtt"] = nil
    package.preload["vigi.mqtt"] = function() error("module 'vigi.mqtt' not found") end
    local broker = require "vigi.bridge.broker"
    local b, err = broker.new { host = "127.0.0.1" }
    package.preload["vigi.mqtt"], package.loaded["vigi.mqtt"] = saved_preload, saved_loaded
    assert.is_nil(b)
    assert.truthy(err:find("libmosquitto", 1, true), err)
  end)
end)

describe("vigi.mqtt", function()
  local broker, mqtt
  setup(function()
    mqtt = require "vigi.mqtt"
    broker = mqtt_support.start_broker()
  end)
  teardown(function() broker:stop() end)

  -- Drives a client until `done()` (or `secs`), collecting its items.
  local function pump(c, secs, done)
    local set, items = {}, {}
    local stop = core.now() + secs
    while core.now() < stop and not done(items) do
      local n = c:waitset(set)
      if n == 0 then break end
      wait.wait(set, 0.05)
      c:step()
      for it in function() return c:take() end do items[#items + 1] = it end
    end
    return items
  end

  local function find(items, pred)
    for _, it in ipairs(items) do if pred(it) then return it end end
    return nil
  end

  it("reports a refused connection at once, without blocking", function()
    local c = mqtt.client { id = "spec-refused" }
    local t0 = core.now()
    -- a port nobody listens on (the broker's, plus one, is as good as any)
    local ok, err = c:connect("127.0.0.1", broker.port == 65535 and 1 or broker.port + 1, 10)
    if ok then
      local items = pump(c, 2, function(items) return #items > 0 end)
      ok = not find(items, function(it) return it.kind == "disconnect" end)
    end
    assert.is_falsy(ok)
    assert.truthy(core.now() - t0 < 1)
    assert.truthy(err == nil or type(err) == "string")
    c:close()
    c:close() -- safe twice
    assert.equal("vigi.mqtt.client{closed}", tostring(c))
  end)

  it("connects, subscribes and gets what it published, inside vigi.run", function()
    local got
    vigi.run(function()
      local c = mqtt.client { id = "spec-roundtrip" }
      assert(c:connect("127.0.0.1", broker.port, 10))
      local items = pump(c, 3, function(items) return find(items, function(it) return it.kind == "connect" end) end)
      local conn = find(items, function(it) return it.kind == "connect" end)
      assert.equal(0, conn.rc)
      assert(c:subscribe("spec/rt/#", 0))
      -- the SUBACK before the publish: a short pump
      pump(c, 0.2, function() return false end)
      assert(c:publish("spec/rt/a", "hello \0 bytes", 0, false))
      items = pump(c, 3, function(its) return find(its, function(it) return it.kind == "message" end) end)
      got = find(items, function(it) return it.kind == "message" end)
      c:disconnect()
      c:close()
    end)
    assert.equal("spec/rt/a", got.topic)
    assert.equal("hello \0 bytes", got.payload)
    assert.is_false(got.retain)
  end)

  it("leaves its will when it goes without a word", function()
    local c = mqtt.client { id = "spec-will" }
    assert(c:will("spec/will/status", "gone", 1, true))
    assert(c:connect("127.0.0.1", broker.port, 10))
    pump(c, 3, function(items) return find(items, function(it) return it.kind == "connect" end) end)
    c:close() -- the socket closed, no DISCONNECT: the broker sends the will
    assert.truthy(mqtt_support.eventually(3, function()
      local m = broker:retained("spec/will/status")
      return m[1] and m[1].payload == "gone"
    end))
  end)

  it("drops and counts a payload over max_payload, and messages past max_queue", function()
    local c = mqtt.client { id = "spec-limits", max_payload = 1000, max_queue = 3000 }
    assert(c:connect("127.0.0.1", broker.port, 10))
    pump(c, 3, function(items) return find(items, function(it) return it.kind == "connect" end) end)
    assert(c:subscribe("spec/lim/#", 0))
    pump(c, 0.2, function() return false end)
    broker:pub("spec/lim/big", string.rep("x", 5000))
    for i = 1, 10 do broker:pub("spec/lim/m" .. i, string.rep("y", 900)) end
    -- read without taking: the queue fills up to its limit
    local set = {}
    local stop = core.now() + 3
    while core.now() < stop do
      local s = c:stats()
      if s.dropped_big + s.dropped_full >= 1 + 7 then break end
      c:waitset(set)
      wait.wait(set, 0.05)
      c:step()
    end
    local s = c:stats()
    assert.equal(1, s.dropped_big)
    assert.equal(3, math.floor(s.queued / 900))
    assert.equal(7, s.dropped_full)
    local n = 0
    for it in function() return c:take() end do
      if it.kind == "message" then n = n + 1 end
    end
    assert.equal(3, n)
    assert.equal(0, c:stats().queued)
    c:close()
  end)

  it("refuses bad arguments as mistakes", function()
    local c = mqtt.client()
    assert.has_error(function() c:connect("127.0.0.1", 0) end)
    assert.has_error(function() c:publish("t", "p", 3) end)
    assert.has_error(function() mqtt.client { max_queue = -1 } end)
    c:close()
    assert.has_error(function() c:publish("t", "p") end)
  end)
end)
