-- Host names on the stream port are looked up without blocking
-- (csrc/resolve.c: a thread per lookup, waited for through wait.lua):
-- the call keeps its deadline, and vigi.run's other tasks go on. Only
-- "localhost" is ever really looked up (from /etc/hosts); a resolver
-- slower than the deadline is a stand-in for core.resolve, so that no
-- test asks a name server anything. spec/c/resolve_test.c tests the
-- threads themselves with a slow resolver of its own.
local helper = require "spec.helper"
local vigi = require "vigi"
local core = require "vigi.core"
local streamconn = require "vigi.stream.conn"

-- A stand-in for core.resolve whose lookup never ends; it counts closes.
local function never_resolving()
  local stub = { started = 0, closed = 0 }
  stub.resolve = function(name)
    stub.started = stub.started + 1
    stub.name = name
    return {
      result = function() return nil, "again" end,
      -- nothing to poll: the wait is the deadline's
      waitset = function(_, set) set.n = 0 return 0, -1 end,
      close = function() stub.closed = stub.closed + 1 end,
    }
  end
  return stub
end

describe("host names on the stream port", function()
  local sim
  setup(function() sim = helper.start_sim() end)
  teardown(function() sim:stop() end)

  it("localhost is looked up in a thread, and the thread ends", function()
    local ip, kind = streamconn.address_of("localhost", core.now() + 5)
    assert.is_nil(kind)
    assert.matches("^127%.", ip)
    local t0 = core.now()
    while core.resolve_in_flight() > 0 and core.now() - t0 < 5 do require("vigi.wait").sleep(0.01) end
    assert.equal(0, core.resolve_in_flight())
  end)

  it("a lookup slower than the deadline: timeout by the deadline, the lookup given up", function()
    local stub = never_resolving()
    local real = core.resolve
    core.resolve = stub.resolve
    local cam = assert(vigi.connect(sim:options { host = "localhost" }))
    local t0 = core.now()
    local ok, s, err = pcall(cam.preview, cam, { timeout = 0.5 })
    local took = core.now() - t0
    core.resolve = real
    assert.is_true(ok, tostring(s))
    assert.is_nil(s)
    assert.equal("timeout", err.kind)
    assert.truthy(err.message:find("localhost", 1, true), err.message)
    assert.is_true(took < 0.5 + 1, "returned after " .. took .. " s")
    assert.equal(1, stub.started)
    assert.equal(1, stub.closed)
    cam:close()
  end)

  it("inside vigi.run, other tasks go on while a name is looked up", function()
    local stub = never_resolving()
    local real = core.resolve
    core.resolve = stub.resolve
    local ticks, err, done = 0, nil, false
    local cam = assert(vigi.connect(sim:options { host = "localhost" }))
    local ok, perr = pcall(vigi.run, function()
      vigi.spawn(function()
        while not done do
          ticks = ticks + 1
          require("vigi.wait").sleep(0.05)
        end
      end)
      local _
      _, err = cam:preview { timeout = 1 }
      done = true
    end)
    core.resolve = real
    assert.is_true(ok, tostring(perr))
    assert.equal("timeout", err.kind)
    assert.is_true(ticks >= 10, "the other task ran " .. ticks .. " times")
    cam:close()
  end)

  it("the core says whether libcurl looks names up without blocking", function()
    -- control calls: docs/design.md, "Host names without blocking"
    assert.equal("boolean", type(core.curl_async_dns))
  end)

  it("a name the resolver does not know is a network error", function()
    local real = core.resolve
    core.resolve = function()
      return { result = function() return nil, "no such host (test)" end,
               waitset = function(_, set) set.n = 0 return 0, -1 end, close = function() end }
    end
    local ip, kind, msg = streamconn.address_of("camera.test", core.now() + 1)
    core.resolve = real
    assert.is_nil(ip)
    assert.equal("network", kind)
    assert.truthy(msg:find("no such host (test)", 1, true), msg)
  end)
end)
