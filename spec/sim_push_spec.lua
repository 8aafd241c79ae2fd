-- subscribeMsg events, heartbeats and push faults of vigi-sim (WIRE-NOTES
-- §2, the document's 4.13), from the outside: subscribers are background
-- curl processes whose raw stream goes to a file, events and faults are
-- injected through the admin path with curl, and the stream is parsed here.
local cjson = require "cjson.safe"
local vigisim = require "vigi.sim"

local helper = require "spec.helper"
local q, sh = helper.quote, helper.sh

local function sleep(s) os.execute("sleep " .. s) end

local function slurp(path) return helper.read_file(path) or "" end

-- Poll fn() every 50 ms until it returns a true value or `seconds` pass.
local function wait_for(fn, seconds)
  local tries = math.floor((seconds or 5) / 0.05)
  for _ = 1, tries do
    local v = fn()
    if v then return v end
    sleep(0.05)
  end
  return fn()
end

local sim, base
local PART_HEAD = "----boundary--\r\nContent-Type: application/json\r\nContent-Length: "

local function post(path, body)
  local out = sh(string.format("curl -sk --max-time 10 -d %s %s", q(body), q(base .. path)))
  return cjson.decode(out), out
end

local function admin(path, tbl)
  return post("/__sim__/" .. path, cjson.encode(tbl or {}))
end

local function counters()
  return cjson.decode(sh("curl -sk --max-time 10 " .. q(base .. "/__sim__/counters")))
end

local stok
local function login()
  local hash = sh("printf %s secret | md5sum | cut -c1-32 | tr a-f A-F"):gsub("%s", "")
  local a = post("/", string.format(
    '{"method":"doAuth","params":{"password":"%s","passwdType":"md5"}}', hash))
  return assert(a and a.result and a.result.stok, "doAuth failed")
end

local function call(method, params)
  local body = cjson.encode({ method = method, params = params })
  return post("/stok=" .. stok, body)
end

-- Subscribers: background curls writing the raw answer to a file.
local subs = {}

local function subscribe(types, heartbeat, opts)
  opts = opts or {}
  local file = os.tmpname()
  local body = cjson.encode({ method = "subscribeMsg",
                              params = { event_type = types, heartbeat = heartbeat } })
  local cmd = string.format("curl -skN --max-time %d %s -i -d %s %s > %s 2>/dev/null & echo $!",
    opts.seconds or 30, opts.curl or "", q(body), q(base .. "/stok=" .. stok), q(file))
  local pid = tonumber(sh(cmd))
  local s = { file = file, pid = pid }
  subs[#subs + 1] = s
  if not opts.nowait then
    assert(wait_for(function() return slurp(file):find('{"result":"success","errCode":0}', 1, true) end),
      "the subscription did not start")
  end
  return s
end

-- os.execute gives true/nil on 5.2+, the exit status (0 is success) on 5.1.
local function alive(s)
  local r = os.execute("kill -0 " .. s.pid .. " 2>/dev/null")
  return r == true or r == 0
end

-- The stream after the HTTP head, parsed strictly into parts. Returns the
-- decoded parts, and whatever is left at the first byte that is not a
-- well-formed part (the empty string if everything is).
local function parts(s, from)
  local raw = slurp(s.file)
  local body_at = raw:find("\r\n\r\n", 1, true)
  local pos = from or (body_at and body_at + 4 or #raw + 1)
  local list = {}
  while pos <= #raw do
    if raw:sub(pos, pos + #PART_HEAD - 1) ~= PART_HEAD then break end
    local len, after = raw:match("^(%d+)\r\n\r\n()", pos + #PART_HEAD)
    if not len then break end
    len = tonumber(len)
    if after + len + 1 > #raw or raw:sub(after + len, after + len + 1) ~= "\r\n" then break end
    local obj = cjson.decode(raw:sub(after, after + len - 1))
    if not obj then break end
    list[#list + 1] = obj
    pos = after + len + 2
  end
  return list, raw:sub(pos), raw
end

local function events_of(list)
  local out = {}
  for _, p in ipairs(list) do
    if p.event_type then out[#out + 1] = p end
  end
  return out
end

describe("vigi-sim subscribeMsg events", function()
  setup(function()
    sim = vigisim.start()
    base = string.format("https://%s:%d", sim.host, sim.port)
    stok = login()
  end)

  teardown(function()
    if sim then sim:stop() end
  end)

  before_each(function()
    admin("push_fault", { kind = "drop" })
    admin("reset", {})
    local a = call("setMsgpushInterval", { event_interval = 0 })
    assert.are.equal(0, a.errCode)
  end)

  after_each(function()
    for _, s in ipairs(subs) do
      if alive(s) then os.execute("kill " .. s.pid .. " 2>/dev/null") end
      os.remove(s.file)
    end
    subs = {}
  end)

  it("answers the multipart head, the first part and string heartbeats", function()
    local s = subscribe({ "MotionDetection" }, 1)
    wait_for(function() return #parts(s) >= 3 end, 4)
    local list, rest, raw = parts(s)
    assert.truthy(raw:find("^HTTP/1.1 200 OK\r\n"))
    assert.truthy(raw:find("Content-Type: multipart/mixed;boundary=--boundary--\r\n", 1, true))
    assert.are.equal("", rest)
    assert.are.same({ result = "success", errCode = 0 }, list[1])
    assert.are.same({ Heartbeat = "1" }, list[2])
    assert.are.same({ Heartbeat = "1" }, list[3])
    assert.truthy(counters().push.heartbeats >= 2)
    assert.are.equal(1, counters().push.subscriptions)
  end)

  it("refuses bad params with plain JSON, not multipart", function()
    for _, params in ipairs({
      '{"event_type":["Nothing"],"heartbeat":5}',
      '{"event_type":["MotionDetection"],"heartbeat":61}',
      '{"heartbeat":5}',
    }) do
      local raw = sh(string.format("curl -sk -i --max-time 5 -d %s %s",
        q('{"method":"subscribeMsg","params":' .. params .. '}'), q(base .. "/stok=" .. stok)))
      assert.falsy(raw:find("multipart", 1, true))
      assert.truthy(raw:find("Content-Type: application/json", 1, true))
      local a = cjson.decode(raw:sub(raw:find("\r\n\r\n", 1, true) + 4))
      assert.are.equal("failed", a.result)
      assert.are.equal(-40106, a.errCode)
    end
    assert.are.equal(0, counters().push.subscriptions)
  end)

  it("pushes injected events in well-formed parts with seq 1..n", function()
    local s = subscribe({ "MotionDetection" }, 60)
    local a = admin("event", { event_type = "MotionDetection", time = 1723175020, count = 5, seq = true })
    assert.are.same({ ok = true, subscriptions = 1, sent = 5, filtered = 0, silenced = 0,
                      overflowed = 0, first_seq = 1 }, a)
    admin("event", { event_type = "MotionDetection", time = 1723175021 })
    wait_for(function() return #parts(s) >= 7 end)
    local list, rest = parts(s)
    assert.are.equal("", rest)
    local ev = events_of(list)
    assert.are.equal(6, #ev)
    for i = 1, 5 do
      assert.are.same({ event_type = "MotionDetection", time = 1723175020, seq = i }, ev[i])
    end
    assert.are.same({ event_type = "MotionDetection", time = 1723175021 }, ev[6])
    -- the exact bytes of a part without seq
    local json = '{"event_type":"MotionDetection","time":1723175021}'
    assert.truthy(slurp(s.file):find(PART_HEAD .. #json .. "\r\n\r\n" .. json .. "\r\n", 1, true))
    -- time defaults to now
    local before = os.time()
    admin("event", { event_type = "MotionDetection" })
    wait_for(function() return #events_of(parts(s)) >= 7 end)
    local t = events_of(parts(s))[7].time
    assert.truthy(t >= before and t <= os.time() + 1)
    assert.are.equal(7, counters().push.events_sent)
  end)

  it("writes 1000 events in order to a slow reader", function()
    local s = subscribe({ "all" }, 60, { curl = "--limit-rate 40k" })
    local a = admin("event", { event_type = "TamperDetection", time = 1, count = 1000, seq = true })
    assert.are.equal(1000, a.sent)
    assert.truthy(wait_for(function() return #parts(s) >= 1001 end, 20))
    local list, rest = parts(s)
    assert.are.equal("", rest)
    local ev = events_of(list)
    assert.are.equal(1000, #ev)
    for i = 1, 1000 do
      assert.are.equal(i, ev[i].seq)
    end
  end)

  it("drops a subscription whose queue passes 4 MiB", function()
    local s = subscribe({ "all" }, 60, { curl = "--limit-rate 10k" })
    local other = subscribe({ "TamperDetection" }, 60)
    local a = admin("event", { event_type = "MotionDetection", time = 1, count = 100000 })
    assert.are.equal(1, a.overflowed)
    assert.truthy(a.sent > 30000 and a.sent < 100000)
    assert.truthy(wait_for(function() return not alive(s) end, 10))
    local c = counters().push
    assert.are.equal(1, c.subscriptions)
    assert.are.equal(1, c.overflows)
    assert.truthy(alive(other))
  end)

  it("matches types: named, enhance variants, all, unknown", function()
    local motion = subscribe({ "MotionDetection", "InvasionDetection" }, 60)
    local all = subscribe({ "all" }, 60)
    local tamper = subscribe({ "TamperDetection" }, 60)
    assert.are.equal(2, admin("event", { event_type = "MotionDetection_people_enhance", time = 5 }).subscriptions)
    assert.are.equal(1, admin("event", { event_type = "SomethingNew", time = 6 }).subscriptions)
    assert.are.equal(2, admin("event", { event_type = "TamperDetection", time = 7 }).subscriptions)
    wait_for(function()
      return #events_of(parts(all)) >= 3 and #events_of(parts(motion)) >= 1 and #events_of(parts(tamper)) >= 1
    end)
    local function types(s)
      local out = {}
      for _, e in ipairs(events_of(parts(s))) do out[#out + 1] = e.event_type end
      return out
    end
    assert.are.same({ "MotionDetection_people_enhance" }, types(motion))
    assert.are.same({ "MotionDetection_people_enhance", "SomethingNew", "TamperDetection" }, types(all))
    assert.are.same({ "TamperDetection" }, types(tamper))
    assert.are.equal(3, counters().push.subscriptions)
  end)

  it("filters events within event_interval, per subscription and type", function()
    assert.are.equal(0, call("setMsgpushInterval", { event_interval = 60 }).errCode)
    local s = subscribe({ "all" }, 60)
    local function sent(type, t) return admin("event", { event_type = type, time = t }).sent end
    assert.are.equal(1, sent("MotionDetection", 1000))
    assert.are.equal(0, sent("MotionDetection", 1030))             -- 30 s later: filtered
    assert.are.equal(1, sent("PeopleDetection", 1030))             -- another type
    assert.are.equal(1, sent("MotionDetection", 1060))             -- 60 s after the last pushed
    assert.are.equal(0, sent("MotionDetection_people_enhance", 1100)) -- same detection
    -- a second subscriber has its own clock
    local s2 = subscribe({ "MotionDetection" }, 60)
    local a = admin("event", { event_type = "MotionDetection", time = 1110 })
    assert.are.equal(1, a.sent)
    assert.are.equal(1, a.filtered)
    wait_for(function() return #events_of(parts(s2)) >= 1 end)
    local times = {}
    for _, e in ipairs(events_of(parts(s))) do times[#times + 1] = string.format("%s@%d", e.event_type, e.time) end
    assert.are.same({ "MotionDetection@1000", "PeopleDetection@1030", "MotionDetection@1060" }, times)
    assert.are.equal(3, counters().push.filtered)
    assert.are.equal(4, counters().push.events_sent)
    -- the interval as a numeric string counts too
    assert.are.equal(0, call("setMsgpushInterval", { event_interval = "0" }).errCode)
    assert.are.equal(2, admin("event", { event_type = "MotionDetection", time = 1111 }).sent)
  end)

  it("silence: nothing more is sent, the connection stays; none resumes", function()
    local s = subscribe({ "all" }, 1)
    wait_for(function() return #parts(s) >= 2 end, 3)
    assert.are.equal(1, admin("push_fault", { kind = "silence" }).subscriptions)
    local n = #parts(s)
    local a = admin("event", { event_type = "MotionDetection", time = 1 })
    assert.are.equal(0, a.sent)
    assert.are.equal(1, a.silenced)
    sleep(2.5)
    assert.are.equal(n, #parts(s))
    assert.truthy(alive(s))
    assert.are.equal(1, counters().push.subscriptions)
    admin("push_fault", { kind = "none" })
    assert.are.equal(1, admin("event", { event_type = "MotionDetection", time = 2 }).sent)
    assert.truthy(wait_for(function() return #parts(s) >= n + 2 end, 3))
    local list, rest = parts(s)
    assert.are.equal("", rest)
    assert.are.same({ event_type = "MotionDetection", time = 2 }, events_of(list)[1])
  end)

  it("drop: closes the subscriptions' connections", function()
    local s1 = subscribe({ "all" }, 60)
    local s2 = subscribe({ "MotionDetection" }, 60)
    assert.are.equal(2, counters().push.subscriptions)
    assert.are.equal(2, admin("push_fault", { kind = "drop" }).subscriptions)
    assert.truthy(wait_for(function() return not alive(s1) and not alive(s2) end, 5))
    assert.are.equal(0, counters().push.subscriptions)
    assert.are.equal(0, admin("event", { event_type = "MotionDetection" }).subscriptions)
  end)

  it("garbage: bytes without a delimiter, then parts as before", function()
    local s = subscribe({ "all" }, 60)
    local _, _, raw0 = parts(s)
    admin("push_fault", { kind = "garbage" })
    admin("event", { event_type = "LoiterDetection", time = 9, seq = true })
    assert.truthy(wait_for(function() return slurp(s.file):find("LoiterDetection", 1, true) end))
    local raw = slurp(s.file)
    local junk = raw:sub(#raw0 + 1, #raw0 + 202)
    assert.truthy(junk:find("^[%w]+\r\n$"))
    assert.falsy(junk:find("--", 1, true))
    local list, rest = parts(s, #raw0 + 203)
    assert.are.equal("", rest)
    assert.are.same({ { event_type = "LoiterDetection", time = 9, seq = 1 } }, list)
    assert.truthy(alive(s))
  end)

  it("oversized: a part claiming 10 MB, 1 MiB of it, then the close", function()
    local s = subscribe({ "all" }, 60)
    assert.are.equal(1, admin("push_fault", { kind = "oversized" }).subscriptions)
    assert.truthy(wait_for(function() return not alive(s) end, 10))
    local list, rest = parts(s)
    assert.are.equal(1, #list)
    assert.are.equal(1, rest:find(PART_HEAD .. "10000000\r\n\r\n", 1, true))
    assert.are.equal(#PART_HEAD + #"10000000\r\n\r\n" + 1024 * 1024, #rest)
    assert.are.equal(0, counters().push.subscriptions)
  end)

  it("sends an unchecked event type as given, JSON-escaped", function()
    local s = subscribe({ "all" }, 60)
    local hostile = '\27]0;x\7\27[31m"\\\1'
    assert.are.equal(1, admin("event", { event_type = hostile, unchecked = true, time = 3 }).subscriptions)
    local list
    assert.truthy(wait_for(function()
      list = events_of(parts(s))
      return #list == 1
    end, 5))
    assert.are.same({ event_type = hostile, time = 3 }, list[1])
    assert.truthy(admin("event", { event_type = "", unchecked = true }).error)
    assert.truthy(admin("event", { event_type = string.rep("x", 64), unchecked = true }).error)
    assert.truthy(admin("event", { event_type = "x", unchecked = 1 }).error)
  end)

  it("refuses bad admin requests", function()
    local _, out = admin("event", { event_type = 'a"b' })
    assert.truthy(out:find("event_type", 1, true))
    assert.truthy(admin("event", {}).error)
    assert.truthy(admin("event", { event_type = "MotionDetection", count = 0 }).error)
    assert.truthy(admin("event", { event_type = "MotionDetection", colour = 1 }).error)
    assert.truthy(admin("push_fault", { kind = "fire" }).error)
  end)
end)
