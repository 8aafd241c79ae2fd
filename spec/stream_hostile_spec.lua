-- A hostile peer on the stream port (docs/design.md, "Deadlines and
-- bounds"): vigi-sim's hostile faults (docs/sim.md) flood notifications,
-- trickle garbage, or send giant pictures, each while withholding every
-- answer. For each: the call returns within its deadline plus a margin,
-- the process's memory grows by less than a stated bound, the error is the
-- right kind, and nothing raises.
local helper = require "spec.helper"
local vigi = require "vigi"
local core = require "vigi.core"

local MARGIN = 1                 -- seconds past a deadline that still prove the point
local RSS_BOUND = 64 * 1024      -- KiB of peak growth allowed

local rss = require "spec.support.rss"

-- fn() run with the clock and the peak RSS watched: seconds, peak growth
-- (KiB), and fn's results (pcall's: ok first).
local function watched(fn)
  local m = rss.measure(fn)
  if m.raised ~= nil then return m.seconds, math.floor(m.growth / 1024), false, m.raised end
  return m.seconds, math.floor(m.growth / 1024), true, m[1], m[2]
end

-- Asserts what every attack must show.
local function kept(took, peak, deadline, ok, ...)
  assert.is_true(ok, "raised: " .. tostring((...)))
  assert.is_true(took < deadline + MARGIN, string.format("returned after %.2f s (deadline %g s)", took, deadline))
  assert.is_true(peak < RSS_BOUND, string.format("peak RSS grew by %d KiB", peak))
  return ...
end

describe("a hostile stream peer", function()
  local sim, cam
  setup(function() sim = helper.start_sim() end)
  teardown(function() sim:stop() end)
  before_each(function()
    sim:reset()
    sim:stream_config { speed = 0 }
    sim:stream_fault { fault = "none" }
    cam = assert(vigi.connect(sim:options()))
  end)
  after_each(function() cam:close() end)

  describe("flooding notifications instead of answering", function()
    before_each(function() sim:stream_fault { fault = "notify_flood", after = 0 } end)

    for _, case in ipairs {
      { "preview", function(c) return c:preview { timeout = 1 } end },
      { "playback", function(c) return c:playback { start_time = 1, end_time = 2, timeout = 1 } end },
      { "talk", function(c) return c:talk { timeout = 1 } end },
      { "download", function(c)
        return c:download { start_time = 1, end_time = 2, file = "/dev/null", timeout = 1 }
      end },
      { "record", function(c) return c:record { seconds = 1, file = "/dev/null", timeout = 1 } end },
    } do
      it(case[1] .. " returns a timeout error by its deadline", function()
        local took, peak, ok, r, err = watched(function() return case[2](cam) end)
        kept(took, peak, 1, ok, r, err)
        assert.is_nil(r)
        assert.equal("timeout", err.kind)
        assert.matches("timeout 1 s", err.message)
      end)
    end

    it("s:next(timeout) keeps its deadline under a flood for the session", function()
      sim:stream_fault { fault = "notify_flood", after = 3 }
      local s = assert(cam:preview {})
      local took, peak, ok = watched(function()
        local deadline = core.now() + 1
        local notes = 0
        while core.now() < deadline do
          local item, err = s:next(deadline - core.now())
          if not item then assert.equal("timeout", err) break end
          if item.kind == "notification" then notes = notes + 1 end
        end
        assert.is_true(notes > 0)
      end)
      kept(took, peak, 1, ok)
      -- close waits for stop's answer (never sent) at most 2 s
      took = watched(function() s:close() end)
      assert.is_true(took < 2 + MARGIN)
    end)
  end)

  it("a garbage byte every 0.5 s does not feed the stall watchdog", function()
    sim:stream_fault { fault = "garbage_trickle", after = 3 }
    local s = assert(cam:preview { stall = 2 })
    for _ = 1, 3 do assert(s:next(5)) end
    -- what the sim had queued before the trickle comes first, then nothing
    local took, peak, ok, item, err = watched(function()
      while true do
        local it, e = s:next()
        if not it then return it, e or s.error end
      end
    end)
    kept(took, peak, 2, ok, item, err)
    assert.is_nil(item)
    assert.equal("timeout", err.kind)
    assert.matches("stalled", err.message)
    assert.is_true(s.conn.demux_stats.garbage > 0)
    s:close()
  end)

  it("giant pictures while force_iframe waits: the queue is bounded in bytes", function()
    local s = assert(cam:preview {})
    for _ = 1, 3 do assert(s:next(5)) end
    sim:stream_fault { fault = "giant_frames", after = 0 }
    local took, peak, ok, r, err = watched(function() return s:force_iframe(nil, { timeout = 2 }) end)
    kept(took, peak, 2, ok, r, err)
    assert.is_nil(r)
    assert.equal("timeout", err.kind)
    assert.is_true(s.stats.dropped > 0, "nothing dropped")
    assert.is_true(s.queue.bytes <= s.max_queue_bytes)
    -- the frames that stayed are whole 3.8 MiB pictures
    local f = assert(s:next(1))
    assert.equal("video", f.kind)
    assert.is_true(#f.data > 3.8 * 1024 * 1024)
    s:close()
  end)

  describe("addresses and options that cannot be used", function()
    it("a camera given by host name streams (the name is resolved)", function()
      local c = assert(vigi.connect(sim:options { host = "localhost" }))
      local ok, s, err = pcall(c.preview, c, {})
      assert.is_true(ok, tostring(s))
      assert.truthy(s, tostring(err))
      local f = assert(s:next(5))
      while f.kind ~= "video" do f = assert(s:next(5)) end
      assert.equal("H264", f.codec)
      s:close()
      c:close()
    end)

    it("refuses IPv6 addresses, bad names and bad ports with errors, never raising", function()
      local streamconn = require "vigi.stream.conn"
      for _, o in ipairs {
        { host = "::1", port = sim.stream, kind = "network" },
        { host = "a/b", port = sim.stream, kind = "network" },
        { host = "127.0.0.1", port = "99999", kind = "protocol" },
        { host = "127.0.0.1", port = "x", kind = "protocol" },
      } do
        local ok, conn, err = pcall(streamconn.open, o)
        assert.is_true(ok, tostring(conn))
        assert.is_nil(conn)
        assert.equal(o.kind, err.kind, tostring(err))
      end
    end)

    it("refuses NaN and infinite numbers as `invalid`, before anything is sent", function()
      local before = sim:stream_state().requests
      for _, call in ipairs {
        function() return cam:preview { timeout = 0 / 0 } end,
        function() return cam:preview { stall = 0 / 0 } end,
        function() return cam:preview { max_queue_bytes = math.huge } end,
        function() return cam:record { seconds = 0 / 0, file = "/dev/null" } end,
        function() return cam:download { start_time = 1, end_time = 2, file = "/dev/null", quiet = -1 } end,
      } do
        local ok, r, err = pcall(call)
        assert.is_true(ok, tostring(r))
        assert.is_nil(r)
        assert.equal("invalid", err.kind)
      end
      assert.equal(before, sim:stream_state().requests)
      local s = assert(cam:preview {})
      local item, err = s:next(0 / 0)
      assert.is_nil(item)
      assert.equal("invalid", err.kind)
      s:close()
    end)
  end)
end)
