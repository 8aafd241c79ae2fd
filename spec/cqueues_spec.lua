-- vigi inside a cqueues controller: two cameras' subscriptions and a
-- preview run concurrently, each vigi wait yielding to the controller.
local helper = require "spec.helper"
local vigi = require "vigi"
local core = require "vigi.core"

local ok_cq, cqueues = pcall(require, "cqueues")

describe("cqueues", function()
  if not ok_cq then
    it("needs lua-cqueues (tools/install-deps installs it)", function() error(cqueues) end)
    return
  end

  local sim, sim2
  setup(function()
    sim = helper.start_sim()
    sim2 = helper.start_sim()
  end)
  teardown(function()
    sim:stop()
    sim2:stop()
  end)

  it("runs two subscriptions and a preview concurrently in one controller", function()
    local cq = cqueues.new()
    local events, frames, marks = { 0, 0 }, 0, {}
    for i, sm in ipairs { sim, sim2 } do
      cq:wrap(function()
        local cam = assert(vigi.connect(sm:options()))
        assert(cam:setMsgpushInterval { event_interval = 0 })
        local sub = assert(cam:subscribe { event_types = { "MotionDetection" }, heartbeat = 5 })
        marks[#marks + 1] = "subscribed " .. i
        while events[i] < 3 do
          local ev = sub:next(5)
          if not ev then break end
          if ev.kind == "event" then events[i] = events[i] + 1 end
        end
        sub:close()
        cam:close()
      end)
    end
    cq:wrap(function()
      local cam = assert(vigi.connect(sim:options()))
      local s = assert(cam:preview {})
      while frames < 50 do -- s:next(): Lua 5.1 cannot yield inside a for iterator
        local f = s:next()
        if not f then break end
        if f.kind == "video" then
          frames = frames + 1
          if frames == 1 then marks[#marks + 1] = "first frame" end
        end
      end
      s:close()
      cam:close()
    end)
    cq:wrap(function()
      cqueues.sleep(0.5) -- the subscriptions are open by now; wake them
      for _, sm in ipairs { sim, sim2 } do
        sm:admin("POST", "event", { event_type = "MotionDetection", count = 3 })
      end
    end)
    local t0 = core.now()
    assert(cq:loop(15))
    assert.is_true(core.now() - t0 < 10)
    assert.equal(50, frames)
    assert.same({ 3, 3 }, events)
    assert.equal(3, #marks)
  end)

  it("a vigi sleep yields to the controller", function()
    local cq = cqueues.new()
    local order = {}
    cq:wrap(function() vigi.sleep(0.2) order[#order + 1] = "vigi" end)
    cq:wrap(function() cqueues.sleep(0.1) order[#order + 1] = "cqueues" end)
    assert(cq:loop())
    -- a blocking vigi.sleep would have let the cqueues one end second
    assert.same({ "cqueues", "vigi" }, order)
  end)

  it("polls a subscription and a stream session as cqueues pollables", function()
    local cq = cqueues.new()
    local event_after, frame_after
    cq:wrap(function()
      local cam = assert(vigi.connect(sim:options()))
      assert(cam:setMsgpushInterval { event_interval = 0 })
      local sub = assert(cam:subscribe { event_types = { "MotionDetection" }, heartbeat = 5 })
      cq:wrap(function()
        cqueues.sleep(0.3)
        sim:admin("POST", "event", { event_type = "MotionDetection", count = 1 })
      end)
      -- cqueues waits on the subscription itself (30 s at most); vigi then
      -- reads without waiting. Without a real descriptor this would take
      -- the whole 30 s.
      local t0 = core.now()
      while not event_after and core.now() - t0 < 40 do
        cqueues.poll(sub:pollable(), 30)
        local ev = sub:next(0)
        if ev and ev.kind == "event" then event_after = core.now() - t0 end
      end
      local s = assert(cam:preview {})
      t0 = core.now()
      while not frame_after and core.now() - t0 < 40 do
        cqueues.poll(s, 30)
        local f = s:next(0)
        if f and f.kind == "video" then frame_after = core.now() - t0 end
      end
      s:close()
      sub:close()
      cam:close()
    end)
    assert(cq:loop(90))
    assert.is_true(event_after < 15, "event after " .. tostring(event_after) .. " s")
    assert.is_true(frame_after < 15, "frame after " .. tostring(frame_after) .. " s")
  end)
end)
