-- vigi.run, vigi.spawn, vigi.sleep: tasks interleave (two cameras' calls
-- overlap in time), subscriptions and streams run side by side, and
-- waiting costs no CPU (no busy-waiting).
local helper = require "spec.helper"
local vigi = require "vigi"
local core = require "vigi.core"

-- CPU seconds of this process (user + system).
local function cpu() return os.clock() end

describe("vigi.run", function()
  it("runs tasks side by side: the shorter sleep, started second, ends first", function()
    local order = {}
    vigi.run(function()
      vigi.spawn(function() vigi.sleep(0.2) order[#order + 1] = "a" end)
      vigi.spawn(function() vigi.sleep(0.1) order[#order + 1] = "b" end)
    end)
    -- one after the other would give a, b
    assert.same({ "b", "a" }, order)
  end)

  it("returns what the main function returned, and join gives a task's results", function()
    local a, b = vigi.run(function(x)
      local t = vigi.spawn(function() vigi.sleep(0.05) return x * 2, "done" end)
      return t:join()
    end, 21)
    assert.equal(42, a)
    assert.equal("done", b)
  end)

  it("names a task and its state when printed", function()
    local before, after = vigi.run(function()
      local t = vigi.spawn(function() vigi.sleep(0.01) end)
      local s = tostring(t)
      t:join()
      return s, tostring(t)
    end)
    assert.equal("vigi.task{2, running}", before)
    assert.equal("vigi.task{2, done}", after)
  end)

  it("ends with the error a task raised", function()
    assert.has_error(function()
      vigi.run(function()
        vigi.spawn(function() vigi.sleep(0.01) error("boom") end)
        vigi.sleep(1)
      end)
    end)
    -- and a new run works afterwards
    assert.equal(1, vigi.run(function() return 1 end))
  end)

  it("refuses spawn outside run, and run inside run", function()
    assert.has_error(function() vigi.spawn(function() end) end)
    assert.has_error(function() vigi.run(function() vigi.run(function() end) end) end)
  end)

  describe("with cameras", function()
    local sim, sim2
    setup(function()
      sim = helper.start_sim()
      sim2 = helper.start_sim()
    end)
    teardown(function()
      sim:stop()
      sim2:stop()
    end)
    before_each(function()
      sim:reset(true)
      sim2:reset(true)
    end)

    it("overlaps two cameras' calls in time", function()
      local slow_start, slow_end, fast = nil, nil, {}
      sim:fault { kind = "stall", method = "getDeviceInfo", seconds = 1 }
      vigi.run(function()
        vigi.spawn(function()
          local cam = assert(vigi.connect(sim:options { timeout = 0.6 }))
          slow_start = core.now()
          local r, err = cam:getDeviceInfo()
          slow_end = core.now()
          assert.is_nil(r)
          assert.equal("timeout", err.kind)
          cam:close()
        end)
        vigi.spawn(function()
          local cam = assert(vigi.connect(sim2:options()))
          vigi.sleep(0.1) -- let the slow call start
          for _ = 1, 10 do
            assert(cam:getDeviceInfo())
            fast[#fast + 1] = core.now()
          end
          cam:close()
        end)
      end)
      assert.equal(10, #fast)
      -- the fast camera's calls all happened while the slow one waited
      for _, t in ipairs(fast) do
        assert.is_true(t > slow_start and t < slow_end)
      end
    end)

    it("reads a preview and two subscriptions at once", function()
      local frames, events = 0, { 0, 0 }
      vigi.run(function()
        local cam = assert(vigi.connect(sim:options()))
        local cam2 = assert(vigi.connect(sim2:options()))
        assert(cam:setMsgpushInterval { event_interval = 0 })
        assert(cam2:setMsgpushInterval { event_interval = 0 })
        for i, c in ipairs { cam, cam2 } do
          vigi.spawn(function()
            local sub = assert(c:subscribe { event_types = { "MotionDetection" }, heartbeat = 5 })
            while events[i] < 3 do
              local ev = sub:next(5)
              if not ev then break end
              if ev.kind == "event" then events[i] = events[i] + 1 end
            end
            sub:close()
          end)
        end
        vigi.spawn(function()
          local s = assert(cam:preview {})
          -- s:next(), not `for f in s:frames()`: Lua 5.1 cannot yield
          -- from inside a for iterator (docs/streams.md)
          while frames < 50 do
            local f = s:next()
            if not f then break end
            if f.kind == "video" then frames = frames + 1 end
          end
          s:close()
        end)
        vigi.sleep(0.3)
        for _, sm in ipairs { sim, sim2 } do
          sm:admin("POST", "event", { event_type = "MotionDetection", count = 3 })
        end
      end)
      assert.equal(50, frames)
      assert.same({ 3, 3 }, events)
    end)

    it("sub:close() from another task ends a wait at once", function()
      local got, took = "unset", nil
      vigi.run(function()
        local cam = assert(vigi.connect(sim:options()))
        local sub = assert(cam:subscribe { event_types = { "MotionDetection" }, heartbeat = 30 })
        vigi.spawn(function()
          local t0 = core.now()
          got = sub:next(20)
          took = core.now() - t0
        end)
        vigi.sleep(0.2)
        sub:close()
        cam:close()
      end)
      assert.is_nil(got)
      -- far from the 20 s it would wait without the wake
      assert.is_true(took < 10, "the reader waited " .. tostring(took) .. " s")
    end)

    it("s:close() from another task ends a stream's iterator at once, stop answered", function()
      local n, took = 0, nil
      vigi.run(function()
        local cam = assert(vigi.connect(sim:options()))
        local s = assert(cam:preview {})
        vigi.spawn(function()
          local t0 = core.now()
          while true do
            local f = s:next()
            if not f then break end
            if f.kind == "video" then n = n + 1 end
          end
          took = core.now() - t0
        end)
        vigi.sleep(0.5)
        s:close()
        cam:close()
      end)
      assert.is_true(n > 0)
      -- ended by the close, not by the camera (it would stream for ever)
      assert.is_true(took < 10, "the reader went on for " .. tostring(took) .. " s")
      local st = sim:stream_state()
      assert.is_true(st.sessions[1].stopped, "stop reached the camera")
    end)

    it("does not busy-wait: 100 subscriptions waiting 5 s use under 5% of a CPU", function()
      local used, wall
      vigi.run(function()
        local cam = assert(vigi.connect(sim:options()))
        local subs = {}
        for i = 1, 100 do
          subs[i] = assert(cam:subscribe { event_types = { "MotionDetection" }, heartbeat = 30 })
        end
        local c0, t0 = cpu(), core.now()
        for i = 1, 100 do
          vigi.spawn(function() subs[i]:next(5) end)
        end
        vigi.spawn(function() vigi.sleep(5) end):join()
        used, wall = cpu() - c0, core.now() - t0
        for i = 1, 100 do subs[i]:close() end
        cam:close()
      end)
      assert.is_true(wall >= 4.9)
      assert.is_true(used < 0.05 * wall, string.format("%.3f s of CPU in %.2f s", used, wall))
    end)
  end)
end)
