-- A hostile peer on the control port and on subscriptions (libcurl
-- transport), over real sockets: answers that never end while bytes keep
-- flowing (vigi-sim's control faults endless_1xx, endless_headers,
-- endless_trailers, trickle, bad_chunk, and the push fault trickle), a camera that
-- goes away while a subscription reconnects, TLS refusals (a key that
-- changed, a port that does not speak TLS) and a password changed on the
-- camera. Each case checks that the call returned within its deadline
-- plus a margin, that the process's resident memory grew by less than a
-- bound, the error's kind, that nothing raised, and for refusals that
-- nothing was tried again. The resty transport's cases are in
-- resty_spec.lua.
local helper = require "spec.helper"
local rss = require "spec.support.rss"
local vigi = require "vigi"
local core = require "vigi.core"

local MARGIN = 1              -- seconds past a deadline that still count as "within"
local MEMORY = 64 * rss.MiB   -- growth of the resident set a case may cause

-- Reads sub:next until an item of `kind` (and `error_kind`), an end, or
-- `seconds`; returns that item, or nil and what next returned last.
local function await_item(sub, kind, seconds)
  local stop = core.now() + seconds
  while core.now() < stop do
    local item, err = sub:next(stop - core.now())
    if item and item.kind == kind then return item end
    if not item and err ~= "timeout" then return nil, err end
  end
  return nil, "none in " .. seconds .. " s"
end

local function within(m, deadline, what)
  assert.is_nil(m.raised, what .. " raised: " .. tostring(m.raised))
  assert.is_true(m.seconds <= deadline + MARGIN,
    string.format("%s returned after %.2f s, its deadline was %g s", what, m.seconds, deadline))
  assert.is_true(m.growth < MEMORY, string.format("%s grew the process by %.1f MiB", what, m.growth / rss.MiB))
end

describe("a control port that never ends its answer", function()
  local sim, cam
  setup(function()
    sim = helper.start_sim()
    cam = assert(vigi.connect(sim:options()))
  end)
  teardown(function() cam:close() sim:stop() end)

  -- Endless 1xx answers, headers and trailers pass the 64 KiB of header
  -- lines an answer may have (a protocol error, at once); a trickle meets
  -- the deadline. The endless ones get a long deadline: were they read
  -- until it (libcurl keeps every trailer), memory would show it.
  for kind, case in pairs { endless_1xx = { "protocol", 5 }, endless_headers = { "protocol", 5 },
                            endless_trailers = { "protocol", 5 }, trickle = { "timeout", 1 },
                            bad_chunk = { "protocol", 5 } } do
    local expected, timeout = case[1], case[2]
    it(kind .. ": a call keeps its deadline and its memory bound", function()
      -- count 4: the read-only call's one resend meets the fault too
      sim:fault { kind = kind, method = "getDeviceInfo", count = 4 }
      local m = rss.measure(function() return cam:getDeviceInfo(nil, { timeout = timeout }) end)
      within(m, timeout, "getDeviceInfo")
      assert.is_nil(m[1])
      assert.equal(expected, m[2].kind, tostring(m[2]))
      sim:reset()
    end)

    it(kind .. ": opening a subscription keeps its deadline and its memory bound", function()
      sim:fault { kind = kind, method = "subscribeMsg", count = 4 }
      local m = rss.measure(function() return cam:subscribe { timeout = timeout } end)
      within(m, timeout, "subscribe")
      assert.is_nil(m[1])
      assert.equal(expected, m[2].kind, tostring(m[2]))
      sim:reset()
    end)
  end
end)

describe("a subscription that reconnects", function()
  local sim, cam
  before_each(function()
    sim = helper.start_sim()
    cam = assert(vigi.connect(sim:options()))
  end)
  after_each(function() cam:close() sim:stop() end)

  it("keeps next()'s deadline while its camera trickles garbage instead of parts", function()
    local sub = assert(cam:subscribe { heartbeat = 1, backoff_min = 0.1, backoff_max = 0.5 })
    -- this subscription and every new one: a byte every 100 ms, never a part
    sim:admin("POST", "push_fault", { kind = "trickle" })
    local m = rss.measure(function()
      local worst = 0
      for _ = 1, 5 do
        local t0 = core.now()
        local item, err = sub:next(1)
        assert.is_nil(item)
        assert.equal("timeout", err)
        worst = math.max(worst, core.now() - t0)
      end
      return worst
    end)
    within(m, 5, "five next(1)")
    assert.is_true(m[1] <= 1 + MARGIN, string.format("a next(1) took %.2f s", m[1]))
    -- bytes kept coming, yet the watchdog saw no part: the subscription was made again
    assert.is_true(sub.stats.reconnects >= 1)
    assert.equal("reconnecting", sub.state)
    -- the camera comes back: the recovery goes on across calls, and ends with one gap
    sim:admin("POST", "push_fault", { kind = "none" })
    local gap = await_item(sub, "gap", 10)
    assert.is_table(gap)
    assert.equal("silence", gap.reason)
    sub:close()
  end)

  it("keeps next() and run() deadlines while the camera is gone", function()
    local sub = assert(cam:subscribe { heartbeat = 1, backoff_min = 0.1, backoff_max = 2 })
    sim:stop()
    local m = rss.measure(function() return sub:next(1) end)
    within(m, 1, "next(1)")
    assert.is_nil(m[1])
    m = rss.measure(function() return sub:run(2) end)
    within(m, 2, "run(2)")
    assert.is_true(m.seconds >= 1.9)
    m = rss.measure(function() return sub:next(0) end)
    within(m, 0, "next(0)")
    sub:close()
  end)

  it("goes on with a recovery across many short next() calls", function()
    local sub = assert(cam:subscribe { heartbeat = 1, backoff_min = 0.1 })
    sim:admin("POST", "push_fault", { kind = "drop" })
    local gap
    local stop = core.now() + 10
    while not gap and core.now() < stop do
      local item = sub:next(0.02)
      if item and item.kind == "gap" then gap = item end
    end
    assert.is_table(gap, "no gap with next(0.02)")
    sim:admin("POST", "event", { event_type = "MotionDetection" })
    assert.is_table(await_item(sub, "event", 5))
    sub:close()
  end)
end)

describe("TLS refusals", function()
  it("a wrong pin at connect is named, and tried once", function()
    local sim = helper.start_sim()
    sim:reset()
    local other_key = "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
    local cam, err = vigi.connect(sim:options { tls = { pin = other_key } })
    assert.is_nil(cam)
    assert.equal("network", err.kind)
    assert.equal("pin", err.tls)
    assert.truthy(err.message:find("new key", 1, true), err.message)
    assert.equal(1, sim:counters().connections)
    sim:stop()
  end)

  -- The camera's address answers with another key (or no TLS at all)
  -- while a subscription is open: a new sim on the same port, or a server
  -- that does not speak TLS. The subscription ends with the refusal.
  local function refused(replace)
    local sim = helper.start_sim()
    local cam = assert(vigi.connect(sim:options { tls = { pin = sim.pin } }))
    local sub = assert(cam:subscribe { heartbeat = 1, backoff_min = 0.1, backoff_max = 0.2 })
    local port = sim.port
    sim:stop()
    local attempts, stop_other = replace(port)
    finally(function() sub:close() cam:close() stop_other() end)
    local m = rss.measure(await_item, sub, "error", 5)
    within(m, 5, "the refusal")
    local item = m[1]
    assert.is_table(item, tostring(m[2]))
    assert.is_true(item.final)
    -- the end, not retried: nothing more is tried, whatever the backoff
    local t0 = core.now()
    local after, err = sub:next(1)
    assert.is_nil(after)
    assert.equal(item.error, err)
    assert.is_true(core.now() - t0 < 0.5)
    vigi.sleep(0.5)
    assert.equal(1, attempts())
    return item.error
  end

  it("a subscription whose camera's key changed ends with tls = \"pin\", tried once", function()
    local err = refused(function(port)
      local other = helper.start_sim { "--control-port", tostring(port), "--stream-port", "0" }
      return function() return other:counters().connections end, function() other:stop() end
    end)
    assert.equal("network", err.kind)
    assert.equal("pin", err.tls)
  end)

  it("a subscription whose address stops speaking TLS ends with tls = \"handshake\", tried once", function()
    local count = os.tmpname()
    local err = refused(function(port)
      local p = assert(io.popen("exec python3 spec/support/not_tls.py " .. port .. " " .. count, "r"))
      local pid = assert((p:read("*l") or ""):match("^ready %d+ (%d+)$"), "the server did not start")
      return function()
        local f = io.open(count)
        local n = f and tonumber(f:read("*a"))
        if f then f:close() end
        return n
      end, function()
        if pid then os.execute("kill " .. pid) pid = nil p:close() os.remove(count) end
      end
    end)
    assert.equal("network", err.kind)
    assert.equal("handshake", err.tls)
    assert.truthy(err.message:find("wrong version number", 1, true), err.message)
  end)
end)

describe("a password changed on the camera", function()
  local sim
  before_each(function() sim = helper.start_sim() end)
  after_each(function() sim:stop() end)

  -- The token stops working and the old password no longer logs in.
  local function change_password()
    sim:config { password = "changed" }
    sim:expire_tokens()
    sim:reset()
    sim:admin("POST", "push_fault", { kind = "drop" })
  end

  it("ends a subscription with an auth item after one failed login", function()
    local cam = assert(vigi.connect(sim:options()))
    local sub = assert(cam:subscribe { heartbeat = 1, backoff_min = 0.1, backoff_max = 0.2 })
    change_password()
    local item = await_item(sub, "error", 5)
    assert.is_table(item)
    assert.equal("auth", item.error.kind)
    local none, err = sub:next(1)
    assert.is_nil(none)
    assert.equal("auth", err.kind)
    vigi.sleep(0.5)
    assert.equal(1, sim:counters().logins.failed)
    cam:close()
  end)

  it("makes `vigi events` exit non-zero with the auth error", function()
    local out, rc, pidf = os.tmpname(), os.tmpname(), os.tmpname()
    os.execute(string.format("(VIGI_PASSWORD=%s sh -c 'echo $$ >%s; exec bin/vigi events %s -p %d' " ..
      ">/dev/null 2>%s; echo $? >%s) &", helper.PASSWORD, pidf, sim.host, sim.port, out, rc))
    local code
    finally(function() -- should it still run
      local f = io.open(pidf)
      local pid = f and tonumber(f:read("*a"))
      if f then f:close() end
      if pid and not code then os.execute("kill " .. pid .. " 2>/dev/null") end
      os.remove(pidf)
    end)
    local stop = core.now() + 5
    while core.now() < stop and ((sim:counters().push or {}).subscriptions or 0) < 1 do vigi.sleep(0.05) end
    change_password()
    stop = core.now() + 10
    while core.now() < stop and not code do
      local f = io.open(rc)
      code = f and tonumber(f:read("*a"))
      if f then f:close() end
      if not code then vigi.sleep(0.1) end
    end
    local f = io.open(out)
    local stderr = f:read("*a")
    f:close()
    os.remove(out)
    os.remove(rc)
    assert.equal(1, code, "vigi events did not exit: " .. stderr)
    assert.truthy(stderr:find("vigi: auth: ", 1, true), stderr)
    assert.equal(1, sim:counters().logins.failed)
  end)
end)
