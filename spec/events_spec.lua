-- Subscriptions end to end against vigi-sim: events in order, enhance
-- names, recovery from silence and drops with exactly one gap, control
-- calls meanwhile, and the push interval.
local helper = require "spec.helper"
local vigi = require "vigi"
local core = require "vigi.core"
local events = require "vigi.events"

describe("event names", function()
  it("splits xxx_yyy_enhance into the type and the enhancement", function()
    assert.same({ "MotionDetection", "people" }, { events.split_type("MotionDetection_people_enhance") })
    assert.same({ "LineCrossing", "vehicle" }, { events.split_type("LineCrossing_vehicle_enhance") })
    assert.same({ "TamperDetection" }, { events.split_type("TamperDetection") })
    assert.same({ "Odd_thing" }, { events.split_type("Odd_thing") })
  end)
end)

describe("subscriptions", function()
  local sim, cam
  setup(function() sim = helper.start_sim() end)
  teardown(function() sim:stop() end)
  before_each(function()
    sim:reset(true)
    sim:admin("POST", "push_fault", { kind = "none" })
    cam = assert(vigi.connect(sim:options()))
    -- the document's example interval (60 s) would filter bursts of a type
    assert(cam:setMsgpushInterval { event_interval = 0 })
  end)
  after_each(function() cam:close() end)

  local function inject(t) return sim:admin("POST", "event", t) end

  -- Items until n events arrived (or the time is up), gaps collected apart.
  local function collect(sub, n, seconds)
    local got, gaps = {}, {}
    local stop = core.now() + seconds
    while #got < n and core.now() < stop do
      local item = sub:next(stop - core.now())
      if not item then break end
      if item.kind == "event" then got[#got + 1] = item
      elseif item.kind == "gap" then gaps[#gaps + 1] = item end
    end
    return got, gaps
  end

  it("delivers 1,000 injected events in order, none lost, none doubled", function()
    local sub = assert(cam:subscribe { event_types = { "MotionDetection", "PeopleDetection" }, heartbeat = 5 })
    inject { event_type = "MotionDetection", count = 1000, seq = true }
    local got, gaps = collect(sub, 1000, 15)
    assert.equal(1000, #got)
    assert.equal(0, #gaps)
    for i, ev in ipairs(got) do
      assert.equal(i, ev.raw.seq)
      assert.equal("MotionDetection", ev.event_type)
      assert.is_number(ev.time)
    end
    sub:close()
  end)

  it("splits enhance names and passes unknown types through", function()
    local sub = assert(cam:subscribe { event_types = { "all" }, heartbeat = 5 })
    inject { event_type = "MotionDetection_people_enhance" }
    inject { event_type = "SomethingNew" }
    local got = collect(sub, 2, 5)
    assert.equal(2, #got)
    assert.equal("MotionDetection", got[1].event_type)
    assert.equal("people", got[1].enhance)
    assert.equal("MotionDetection_people_enhance", got[1].name)
    assert.equal("SomethingNew", got[2].event_type)
    sub:close()
  end)

  for _, fault in ipairs { "silence", "drop", "garbage" } do
    it("recovers from " .. fault .. " by itself with exactly one gap", function()
      local sub = assert(cam:subscribe { event_types = { "all" }, heartbeat = 1, backoff_min = 0.1 })
      inject { event_type = "MotionDetection", seq = true }
      assert.equal(1, #collect(sub, 1, 5))
      sim:admin("POST", "push_fault", { kind = fault })
      -- wait for the gap, then events after it arrive
      local gap
      local stop = core.now() + 10
      while not gap and core.now() < stop do
        local item = sub:next(stop - core.now())
        if item and item.kind == "gap" then gap = item end
      end
      assert.is_table(gap, "no gap item after " .. fault)
      assert.is_true(gap.to >= gap.from)
      sim:admin("POST", "push_fault", { kind = "none" })
      inject { event_type = "TamperDetection", seq = true }
      local got, gaps = collect(sub, 1, 5)
      assert.equal(1, #got)
      assert.equal("TamperDetection", got[1].event_type)
      assert.equal(0, #gaps)
      sub:close()
    end)
  end

  it("counts an unusable boundary as a protocol break and subscribes again", function()
    -- the first answer's head announces a boundary of 100 bytes (RFC 2046
    -- allows 70): nothing raises, the break is counted, the next try works
    sim:admin("POST", "push_fault", { kind = "bad_boundary" })
    local none, err = cam:subscribe { event_types = { "all" }, heartbeat = 1 }
    assert.is_nil(none)
    assert.equal("protocol", err.kind)
    -- and when a subscription is made again after a drop
    local sub = assert(cam:subscribe { event_types = { "all" }, heartbeat = 1, backoff_min = 0.1 })
    sim:admin("POST", "push_fault", { kind = "bad_boundary" })
    sim:admin("POST", "push_fault", { kind = "drop" })
    local gap
    local stop = core.now() + 10
    while not gap and core.now() < stop do
      local item = sub:next(stop - core.now())
      if item and item.kind == "gap" then gap = item end
    end
    assert.is_table(gap, "no gap item after the unusable boundary")
    -- the loss was the drop; the attempt that met the boundary is counted
    assert.equal("dropped", gap.reason)
    assert.equal(1, sub.stats.protocol_errors)
    inject { event_type = "TamperDetection", seq = true }
    local got = collect(sub, 1, 5)
    assert.equal("TamperDetection", got[1].event_type)
    sub:close()
  end)

  it("leaves control calls working during a subscription", function()
    local sub = assert(cam:subscribe { event_types = { "all" }, heartbeat = 5 })
    assert(cam:setSpeakerVolume { volume = 12 })
    inject { event_type = "MotionDetection" }
    assert.equal(12, assert(cam:getSpeakerVolume()).volume)
    assert.equal(1, #collect(sub, 1, 5))
    sub:close()
  end)

  it("honours the message push interval", function()
    assert(cam:setMsgpushInterval { event_interval = 60 })
    local sub = assert(cam:subscribe { event_types = { "all" }, heartbeat = 5 })
    inject { event_type = "MotionDetection", count = 3 }
    inject { event_type = "TamperDetection" }
    local got = collect(sub, 3, 1.5)
    assert.equal(2, #got) -- one MotionDetection within the interval, then the other type
    assert.equal("MotionDetection", got[1].event_type)
    assert.equal("TamperDetection", got[2].event_type)
    sub:close()
  end)

  it("runs callbacks, and ends at once when closed", function()
    local seen = {}
    local sub = assert(cam:subscribe { event_types = { "all" }, heartbeat = 5 })
    sub:on("MotionDetection", function(ev) seen[#seen + 1] = ev end)
    sub:on("*", function() sub:close() end)
    inject { event_type = "MotionDetection" }
    local t0 = core.now()
    sub:run(5)
    assert.equal(1, #seen)
    assert.is_true(core.now() - t0 < 4)
    assert.is_nil(sub:next(1))
  end)

  it("is printed by `vigi events` as JSON lines", function()
    local out = os.tmpname()
    local cmd = string.format("VIGI_PASSWORD=%s bin/vigi events %s -p %d MotionDetection --json >%s 2>/dev/null &",
      helper.PASSWORD, sim.host, sim.port, out)
    os.execute(cmd)
    local stop = core.now() + 5
    while core.now() < stop and ((sim:counters().push or {}).subscriptions or 0) < 1 do vigi.sleep(0.05) end
    inject { event_type = "MotionDetection", seq = true }
    local line
    while core.now() < stop and not line do
      local f = io.open(out)
      line = f and f:read("*l")
      if f then f:close() end
      if not line then vigi.sleep(0.05) end
    end
    os.execute("env -u LD_PRELOAD pkill -f 'bin/vigi events " .. sim.host .. " -p " .. sim.port .. "'")
    os.remove(out)
    assert.is_string(line, "vigi events printed nothing")
    local ev = require("vigi.json").decode(line)
    assert.equal("event", ev.kind)
    assert.equal("MotionDetection", ev.event_type)
  end)

  it("reports a subscription the camera refuses as an api error", function()
    sim:admin("POST", "push_fault", { kind = "refuse" })
    local sub, err = cam:subscribe { event_types = { "all" } }
    assert.is_nil(sub)
    assert.equal("api", err.kind)
    assert.equal("subscribeMsg", err.method)
    assert.is_number(err.code)
  end)

  it("refuses bad options before sending anything", function()
    local before = sim:calls("subscribeMsg")
    local sub, err = cam:subscribe { event_types = { "NoSuchEvent" } }
    assert.is_nil(sub)
    assert.equal("invalid", err.kind)
    sub, err = cam:subscribe { heartbeat = 0 }
    assert.is_nil(sub)
    assert.equal("invalid", err.kind)
    assert.equal(before, sim:calls("subscribeMsg"))
  end)
end)

-- A camera that answers in chunked transfer encoding (vigi-sim --chunked):
-- small chunks of odd sizes with extensions, a trailer at the end; the
-- push's parts cut across chunks. Control calls (libcurl) and the
-- subscription (vigi's own TLS connection, read by csrc/httpresp.c) work.
describe("a camera answering in chunks", function()
  local sim, cam
  setup(function()
    sim = helper.start_sim { "--chunked" }
    cam = assert(vigi.connect(sim:options()))
  end)
  teardown(function() cam:close() sim:stop() end)

  it("answers control calls and delivers every event in order", function()
    assert.equal("C100", assert(cam:getDeviceInfo()).model)
    assert(cam:setMsgpushInterval { event_interval = 0 })
    local sub = assert(cam:subscribe { event_types = { "MotionDetection" }, heartbeat = 1 })
    sim:admin("POST", "event", { event_type = "MotionDetection", count = 200, seq = true })
    local got, stop = {}, core.now() + 10
    while #got < 200 and core.now() < stop do
      local item = sub:next(stop - core.now())
      if not item then break end
      assert.are_not.equal("gap", item.kind)
      if item.kind == "event" then got[#got + 1] = item.raw.seq end
    end
    assert.equal(200, #got)
    for i, seq in ipairs(got) do assert.equal(i, seq) end
    sub:close()
  end)

  it("ends a subscription whose chunk size is not one with a protocol error", function()
    sim:fault { kind = "bad_chunk", method = "subscribeMsg", seconds = 10 }
    local t0 = core.now()
    local sub, err = cam:subscribe { timeout = 2 }
    assert.is_nil(sub)
    assert.equal("protocol", err.kind, tostring(err))
    assert.is_true(core.now() - t0 < 2 + 1)
  end)
end)
