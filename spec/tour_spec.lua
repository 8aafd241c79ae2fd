-- The first run: the tour (what `make demo` runs) shows a refused or
-- failed step as its error line and goes on; it fails only when it could
-- not log in at all.
local helper = require "spec.helper"

-- Runs the tour against host:port; its output and exit status.
local function tour(host, port)
  local out = helper.sh(string.format("env VIGI_HOST=%s VIGI_PORT=%d VIGI_PASSWORD=%s " ..
    "lua5.4 examples/tour.lua 2>&1; echo \"exit=$?\"", host, port, helper.PASSWORD))
  return out, tonumber(out:match("exit=(%d+)%s*$"))
end

describe("the tour", function()
  it("goes on past a refused call and a failed one", function()
    local sim = helper.start_sim()
    -- getTimezone refused under both spellings, the motion switch's
    -- answer broken
    sim:fault { kind = "http500", method = "getTimezone" }
    sim:fault { kind = "non_json", method = "setMotionDetectionSwitch" }
    local out, status = tour(sim.host, sim.port)
    sim:stop()
    assert.equal(0, status, out)
    assert.truthy(out:find("time zone%s+error: protocol: getTimezone"), out)
    assert.truthy(out:find("motion detection%s+error: protocol: setMotionDetectionSwitch"), out)
    -- and every later step still ran
    assert.truthy(out:find("setSpeakerVolume 150%s+invalid:"), out)
    assert.truthy(out:find("frames%s+%d+ H264 frames"), out)
    assert.truthy(out:find("2 step%(s%) of the tour were refused or failed"), out)
  end)

  it("fails when it cannot log in", function()
    local out, status = tour("127.0.0.1", 9)
    assert.is_true(status ~= 0, out)
    assert.truthy(out:find("could not log in to 127.0.0.1", 1, true), out)
  end)
end)
