-- Talk keeps its deadlines (docs/design.md, "Deadlines and bounds"),
-- against vigi-sim over TCP: a camera that stops reading the talk channel
-- (the sim's `deaf` fault: nothing more is read, a small receive buffer)
-- makes send_pcm, t:close and cam:talk{ file } return `timeout` within
-- their deadline, without raising, and with what waits unacknowledged in
-- the socket bounded.
local helper = require "spec.helper"
local vigi = require "vigi"
local core = require "vigi.core"

-- n samples of a 440 Hz tone, 16-bit little-endian.
local function tone(n)
  local t = {}
  for i = 0, n - 1 do
    local v = math.floor(12000 * math.sin(2 * math.pi * 440 * i / 8000))
    t[#t + 1] = string.char(v % 256, math.floor(v / 256) % 256)
  end
  return table.concat(t)
end

local PACKET = 16 + 160 -- "$" header, RTP header, 20 ms of G.711

describe("talk deadlines", function()
  local sim, cam
  -- What the sim received on a talk session.
  local function record_of(t)
    for _, r in ipairs(sim:talk().sessions) do
      if r.session_id == t.session.id then return r end
    end
    error("no record of talk session " .. tostring(t.session.id))
  end
  setup(function() sim = helper.start_sim() end)
  teardown(function() sim:stop() end)
  before_each(function()
    sim:reset()
    cam = assert(vigi.connect(sim:options()))
  end)
  after_each(function()
    sim:stream_fault { fault = "none" }
    cam:close()
  end)

  it("a camera that stops reading: send_pcm returns timeout by its deadline, the backlog bounded", function()
    sim:stream_fault { fault = "deaf", after = 10 }
    local t = assert(cam:talk { timeout = 0.5 })
    local t0 = core.now()
    local ok, err = t:send_pcm(tone(8000 * 3)) -- 3 s of audio: deadline 3 + 0.5 s
    local took = core.now() - t0
    assert.is_nil(ok)
    assert.equal("timeout", err.kind)
    assert.is_true(took < 3.5 + 1, "returned after " .. took .. " s")
    assert.truthy(err.message:find("does not read", 1, true), err.message)
    assert.is_true(err.packets < 150)
    -- what waits for the camera: max_lag (1 s) of audio and one write, not
    -- whatever the kernel would take (minutes of audio on loopback)
    local waiting = t.conn:unacked()
    assert.is_true(waiting <= 50 * PACKET + 4 * PACKET, "unacknowledged: " .. waiting)
    assert.is_true(#record_of(t).packets < err.packets)
    -- close: its own deadline, the session closed either way
    t0 = core.now()
    local cok, cerr = t:close(0.5)
    assert.is_true(core.now() - t0 < 0.5 + 1)
    assert.is_nil(cok)
    assert.equal("timeout", cerr.kind)
    assert.is_true(t.closed)
    assert.equal("invalid", select(2, t:send_pcm(tone(160))).kind)
  end)

  it("a camera that reads: the deadline counts the audio's own time", function()
    local t = assert(cam:talk {})
    local t0 = core.now()
    assert(t:send_pcm(tone(8000), 0.2)) -- 1 s of audio, 0.2 s to spare
    assert.is_true(core.now() - t0 > 0.9)
    assert(t:close(0.5))
    assert.equal(50, #record_of(t).packets)
  end)

  it("cam:talk{ file } against a deaf camera: timeout within timeout + the file's time + timeout", function()
    local wav = require "vigi.stream.wav"
    local file = os.tmpname() .. ".wav"
    local f = assert(io.open(file, "wb"))
    f:write(wav.encode(tone(8000 * 2)))
    f:close()
    sim:stream_fault { fault = "deaf", after = 5 }
    local t0 = core.now()
    local r, err = cam:talk { file = file, timeout = 0.5 }
    local took = core.now() - t0
    assert.is_nil(r)
    assert.equal("timeout", err.kind)
    assert.is_true(took < 0.5 + 2 + 0.5 + 1, "returned after " .. took .. " s")
    os.remove(file)
  end)

  it("inside vigi.run, other tasks go on while send_pcm waits for a deaf camera", function()
    sim:stream_fault { fault = "deaf", after = 10 }
    local ticks, result = 0, nil
    vigi.run(function()
      vigi.spawn(function()
        while not result do
          ticks = ticks + 1
          require("vigi.wait").sleep(0.05)
        end
      end)
      local t = assert(cam:talk { timeout = 0.3 })
      result = { t:send_pcm(tone(8000 * 2)) }
      t:close(0.2)
    end)
    assert.is_nil(result[1])
    assert.equal("timeout", result[2].kind)
    assert.is_true(ticks > 20, "the other task ran " .. ticks .. " times")
  end)

  it("refuses a timeout that is not a finite number >= 0, before anything is sent", function()
    local t = assert(cam:talk {})
    for _, bad in ipairs { 0 / 0, math.huge, -1, "1" } do
      local ok, err = t:send_pcm(tone(160), bad)
      assert.is_nil(ok)
      assert.equal("invalid", err.kind)
    end
    assert.equal(0, t.packets)
    local _, err = cam:talk { max_lag = 0 }
    assert.equal("invalid", err.kind)
    assert(t:close())
  end)
end)
