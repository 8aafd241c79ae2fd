-- vigi inside nginx (OpenResty): a real nginx with the lua module, one
-- worker, locations that call vigi-sim through the cosocket transport
-- (resty/init.lua). Checked: answers of control calls, events streamed to the
-- HTTP client as the sim injects them, preview frames, and that a stalled
-- camera call does not hold up another request of the same worker.
-- curl is the HTTP client, so the spec does not depend on vigi's own.
local helper = require "spec.helper"
local vigi = require "vigi"
local core = require "vigi.core"
local json = require "vigi.json"

local nginx = require "spec.support.nginx"
local run, read, write = nginx.run, nginx.read, nginx.write

local function sleep(s) run("sleep " .. s) end

-- Waits (up to `seconds`) until fn() is true; returns its last value.
local function eventually(fn, seconds)
  local stop = core.now() + seconds
  local v = fn()
  while not v and core.now() < stop do
    sleep(0.05)
    v = fn()
  end
  return v
end

-- The handlers nginx runs, one module in the temp dir. One camera per
-- worker, made at the first request and shared by all: connections live
-- in nginx's pool, so a camera may serve many requests at once.
local APP = [[
local vigi = require "vigi"
local cjson = require "cjson"
local core = require "vigi.core"

local _M = {}
local OPTS = %s
local cam

local function camera()
  if not cam then cam = assert(vigi.connect(OPTS)) end
  return cam
end

local function reply(t) ngx.header["Content-Type"] = "application/json" ngx.say(cjson.encode(t)) end

function _M.info()
  local info, err = camera():getDeviceInfo()
  if not info then ngx.status = 502 return reply { error = tostring(err) } end
  reply { model = info.model, transport = cam._transport.kind }
end

function _M.slow()
  local t0 = core.now()
  local info, err = camera():getDeviceInfo()
  reply { model = info and info.model, error = err and tostring(err), seconds = core.now() - t0 }
end

function _M.events()
  local n = tonumber(ngx.var.arg_n) or 3
  local sub, err = camera():subscribe { event_types = { "MotionDetection" }, heartbeat = 1 }
  if not sub then ngx.status = 502 return reply { error = tostring(err) } end
  ngx.say("subscribed")
  ngx.flush(true)
  local got = 0
  while got < n do
    local ev = sub:next(10)
    if not ev then break end
    if ev.kind == "event" then
      got = got + 1
      ngx.say(cjson.encode { event_type = ev.event_type, n = got })
      ngx.flush(true)
    end
  end
  sub:close()
  ngx.say("done")
end

function _M.preview()
  local s, err = camera():preview {}
  if not s then ngx.status = 502 return reply { error = tostring(err) } end
  local t = { frames = 0, video = 0, audio = 0, keyframes = 0 }
  for f in s:frames() do
    if f.kind == "error" then t.error = tostring(f.error) break end
    if f.kind == "video" or f.kind == "audio" then
      t.frames = t.frames + 1
      t[f.kind] = t[f.kind] + 1
      if f.kind == "video" and f.keyframe then t.keyframes = t.keyframes + 1 end
      if t.frames >= 50 then break end
    end
  end
  s:close()
  reply(t)
end

-- A call (or a subscription's opening) with timeout = 1 against a camera
-- whose answer never ends: how long it took, how much the worker grew.
function _M.hostile()
  local rss = require "spec.support.rss"
  local c = camera()
  local m = rss.measure(function()
    if ngx.var.arg_call == "subscribe" then return c:subscribe { timeout = 1 } end
    return c:getDeviceInfo(nil, { timeout = 1 })
  end)
  local err = m[2]
  reply { seconds = m.seconds, growth = m.growth, raised = m.raised and tostring(m.raised),
          answered = m[1] ~= nil, kind = err and err.kind, message = err and err.message }
end

-- A subscription to a camera verified against nginx's trusted certificate
-- (port given), read until an error item; the spec puts a camera with
-- another certificate at its address meanwhile.
function _M.tls_events()
  local o = {}
  for k, v in pairs(OPTS) do o[k] = v end
  o.port, o.tls = tonumber(ngx.var.arg_port), { verify = true }
  local c, err = vigi.connect(o)
  local sub = c and c:subscribe { heartbeat = 1, backoff_min = 0.1, backoff_max = 0.2 }
  if not sub then ngx.status = 502 return reply { error = tostring(err) } end
  ngx.say("subscribed")
  ngx.flush(true)
  local stop, item = core.now() + 10, nil
  repeat item = sub:next(math.max(0, stop - core.now())) until (item and item.kind == "error") or core.now() >= stop
  local _, after = sub:next(1)
  c:close()
  if not item then return ngx.say(cjson.encode { error = "no error item in 10 s" }) end
  ngx.say(cjson.encode { kind = item.error.kind, tls = item.error.tls, final = item.final,
                         after = after and after.kind })
end

-- Options the cosocket transport cannot honour, and the libcurl one used
-- where it would block the worker: each must fail clearly.
function _M.refused()
  local o = {}
  for k, v in pairs(OPTS) do o[k] = v end
  local out = {}
  o.tls = { verify = true }
  local c, err = vigi.connect(o)
  out.verify = c and "connected" or { kind = err.kind, tls = err.tls, message = err.message }
  o.tls = { pin = "sha256//AAAA" }
  c, err = vigi.connect(o)
  out.pin = c and "connected" or { kind = err.kind, message = err.message }
  o.tls, o.transport, o.lazy = nil, "curl", true
  c = assert(vigi.connect(o))
  local ok, perr = pcall(c.getDeviceInfo, c)
  c:close()
  out.curl = ok and "answered" or tostring(perr)
  reply(out)
end

return _M
]]

local LOCATIONS = {}
for _, name in ipairs { "info", "slow", "events", "preview", "refused", "hostile", "tls_events" } do
  LOCATIONS[#LOCATIONS + 1] = string.format(
    "location = /%s { content_by_lua_block { require('resty_spec_app').%s() } }", name, name)
end

describe("inside nginx (resty transport)", function()
  local sim, server, dir

  local function url(path) return server:url(path) end

  -- GET path with curl: body, seconds taken.
  local function get(path, max)
    local t0 = core.now()
    local out = helper.sh(string.format("env -u LD_PRELOAD curl -s --max-time %d %s", max or 10,
      helper.quote(url(path))))
    return out, core.now() - t0
  end

  -- The same in the background: its body goes to dir/<name>.body (written
  -- as it arrives), its time to dir/<name>.meta when done.
  local function get_bg(path, name)
    run(string.format("(env -u LD_PRELOAD curl -sN --max-time 20 -o %s " ..
      "-w '%%{http_code} %%{time_total}' %s > %s 2>&1 &)",
      helper.quote(dir .. "/" .. name .. ".body"), helper.quote(url(path)),
      helper.quote(dir .. "/" .. name .. ".meta")))
  end

  setup(function()
    sim = helper.start_sim()
    -- bursts of one type would be filtered by the example's 60 s interval
    local cam = assert(vigi.connect(sim:options()))
    assert(cam:setMsgpushInterval { event_interval = 0 })
    cam:close()
    local opts = string.format("{ host = %q, port = %d, stream_port = %d, password = %q, timeout = 5 }",
      sim.host, sim.port, sim.stream, helper.PASSWORD)
    server = nginx.start {
      access_log = true,
      lua_dirs = { "$dir" },
      http = { "lua_ssl_trusted_certificate $dir/trusted.pem;", "lua_ssl_verify_depth 2;" },
      server = LOCATIONS,
      prepare = function(d)
        -- A certificate nginx trusts, naming 127.0.0.1 as nginx checks it (a DNS name)
        assert(run(string.format("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes " ..
          "-keyout %s -out %s -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=DNS:127.0.0.1,IP:127.0.0.1 " ..
          ">/dev/null 2>&1", helper.quote(d .. "/trusted.key"), helper.quote(d .. "/trusted.pem"))),
          "openssl could not make a certificate")
        write(d .. "/resty_spec_app.lua", APP:format(opts))
      end,
    }
    dir = server.dir
  end)

  teardown(function()
    if server then server:stop() end
    if sim then sim:stop() end
  end)

  local function error_log() return server:error_log() end

  it("answers a control call through cosockets", function()
    local out = get("/info")
    local t = json.decode(out)
    assert.is_table(t, out .. "\n" .. error_log())
    assert.equal("C100", t.model)
    assert.equal("resty", t.transport)
    -- again: the kept connection from nginx's pool
    assert.equal("C100", json.decode(get("/info")).model)
  end)

  it("serves a second request while a camera call of the same worker stalls", function()
    assert(get("/info")) -- the camera is logged in before the stall is queued
    local before = sim:calls("getDeviceInfo")
    sim:fault { kind = "stall", method = "getDeviceInfo", seconds = 4 }
    get_bg("/slow", "slow")
    -- the stalled call reached the camera
    assert.truthy(eventually(function() return sim:calls("getDeviceInfo") > before end, 3))
    local out = get("/info")
    assert.equal("C100", json.decode(out).model, out)
    -- /info was answered while /slow still waits for its camera: the
    -- worker was not blocked by the stalled call
    assert.equal("", read(dir .. "/slow.meta") or "")
    local meta = eventually(function()
      local m = read(dir .. "/slow.meta")
      return m and m ~= "" and m
    end, 10)
    assert.truthy(meta, "/slow did not end")
    local code, total = meta:match("^(%d+) ([%d%.]+)")
    assert.equal("200", code)
    assert.is_true(tonumber(total) >= 3.9, "/slow took only " .. total .. " s")
    -- the stall closed the connection; the read-only call was sent again
    local slow = json.decode(read(dir .. "/slow.body"))
    assert.equal("C100", slow.model, read(dir .. "/slow.body"))
  end)

  it("streams events to the HTTP client as the camera pushes them", function()
    get_bg("/events?n=3", "events")
    assert.truthy(eventually(function()
      return (read(dir .. "/events.body") or ""):find("subscribed", 1, true)
    end, 5), "no subscription: " .. (read(dir .. "/events.body") or "") .. error_log())
    -- the open subscription holds no worker: a control call answers at once
    local _, took = get("/info")
    assert.is_true(took < 5, "/info took " .. took .. " s while a subscription is open")
    local r = sim:admin("POST", "event", { event_type = "MotionDetection", count = 3 })
    assert.equal(3, r.sent)
    local body = eventually(function()
      local b = read(dir .. "/events.body") or ""
      return b:find("done", 1, true) and b
    end, 8)
    assert.truthy(body, "events did not arrive: " .. (read(dir .. "/events.body") or ""))
    local n = 0
    for line in body:gmatch("[^\n]+") do
      if line:sub(1, 1) == "{" then
        local ev = json.decode(line)
        n = n + 1
        assert.equal("MotionDetection", ev.event_type)
        assert.equal(n, ev.n)
      end
    end
    assert.equal(3, n)
  end)

  it("reads preview frames from the stream port", function()
    local out = get("/preview")
    local t = json.decode(out)
    assert.is_table(t, out .. "\n" .. error_log())
    assert.is_nil(t.error)
    assert.equal(50, t.frames)
    assert.is_true(t.video > 0 and t.keyframes > 0, out)
  end)

  -- A hostile camera (docs/sim.md, control faults): each call returns
  -- within its deadline plus a margin, the worker grows by less than
  -- 64 MiB, and the error says what happened.
  it("keeps a call's deadline and memory bound when the answer never ends", function()
    for _, case in ipairs {
      { "endless_1xx", "protocol" }, { "endless_headers", "protocol" },
      { "endless_trailers", "protocol" }, { "trickle", "timeout" }, { "bad_chunk", "protocol" },
      { "endless_1xx", "protocol", "subscribe" }, { "trickle", "timeout", "subscribe" },
      { "endless_trailers", "protocol", "subscribe" }, { "bad_chunk", "protocol", "subscribe" },
    } do
      local kind, expected, call = case[1], case[2], case[3]
      sim:fault { kind = kind, method = call and "subscribeMsg" or "getDeviceInfo", count = 4 }
      local out = get("/hostile" .. (call and "?call=subscribe" or ""))
      local t = json.decode(out)
      assert.is_table(t, kind .. ": " .. out .. error_log())
      local what = kind .. (call and " (subscribe)" or "")
      assert.is_nil(t.raised, what)
      assert.is_false(t.answered, what)
      assert.equal(expected, t.kind, what .. ": " .. tostring(t.message))
      assert.is_true(t.seconds <= 2, what .. " took " .. t.seconds .. " s with timeout = 1")
      assert.is_true(t.growth < 64 * 1024 * 1024, what .. " grew the worker by " .. t.growth .. " bytes")
      sim:reset()
    end
  end)

  it("ends a subscription whose camera's certificate stops verifying, tried once", function()
    local a = helper.start_sim { "--cert", dir .. "/trusted.pem", "--key", dir .. "/trusted.key" }
    get_bg("/tls_events?port=" .. a.port, "tls")
    assert.truthy(eventually(function()
      return (read(dir .. "/tls.body") or ""):find("subscribed", 1, true)
    end, 5), "no subscription: " .. (read(dir .. "/tls.body") or "") .. error_log())
    local its_port = a.port
    a:stop()
    local b = helper.start_sim { "--control-port", tostring(its_port), "--stream-port", "0" }
    local body = eventually(function()
      local t = read(dir .. "/tls.body") or ""
      return t:find("}", 1, true) and t
    end, 10)
    local t = json.decode(body and body:match("{.*}") or "")
    assert.is_table(t, tostring(body))
    assert.equal("network", t.kind, body)
    assert.equal("ca", t.tls)
    assert.is_true(t.final)
    assert.equal("network", t.after) -- next() after it: nil, the same error
    assert.equal(1, b:counters().connections) -- one handshake, not retried
    b:stop()
  end)

  it("refuses clearly what it cannot do inside nginx", function()
    local t = json.decode(get("/refused"))
    -- the sim's certificate is self-signed: verification fails, with advice for nginx
    assert.equal("network", t.verify.kind)
    assert.equal("ca", t.verify.tls)
    assert.truthy(t.verify.message:find("lua_ssl_trusted_certificate", 1, true), t.verify.message)
    assert.equal("invalid", t.pin.kind)
    assert.truthy(t.pin.message:find("not supported", 1, true))
    -- libcurl inside a request would block the worker on its socket
    assert.truthy(t.curl:find("block the worker", 1, true), t.curl)
  end)

  it("leaves nothing in nginx's error log beyond notices", function()
    for line in error_log():gmatch("[^\n]+") do
      -- (the refused verification above is nginx's to log)
      if line:find("certificate verify error", 1, true) then line = "" end
      -- (and the hostile camera's trickle, a read that timed out)
      if line:find("read timed out", 1, true) and line:find("GET /hostile", 1, true) then line = "" end
      -- (and the subscription's reconnect while its camera was being replaced)
      if line:find("Connection refused", 1, true) and line:find("GET /tls_events", 1, true) then line = "" end
      assert.is_nil(line:find("%[error%]") or line:find("%[alert%]") or line:find("%[crit%]"), line)
    end
  end)
end)

describe("outside nginx", function()
  it("uses libcurl, and refuses transport = \"resty\"", function()
    local sim = helper.start_sim()
    local cam = assert(vigi.connect(sim:options()))
    assert.equal("curl", cam._transport.kind)
    cam:close()
    local c, err = vigi.connect(sim:options { transport = "resty" })
    assert.is_nil(c)
    assert.equal("invalid", err.kind)
    assert.truthy(err.message:find("nginx", 1, true))
    assert.has_error(function() vigi.connect(sim:options { transport = "socket" }) end)
    sim:stop()
  end)
end)

-- The OpenResty reader against a peer whose bytes never pause: a stand-in
-- for nginx's cosocket that always has more (no socket, no scheduling gap
-- that could end a read by chance). The clock alone, or a count, must end
-- each call.
describe("the OpenResty reader, with bytes that never pause", function()
  local http = require "vigi.resty.http"

  -- perform() on a fake cosocket whose receiveany returns feed()'s bytes.
  local function perform(feed, timeout)
    local sock = {
      settimeout = function() end, connect = function() return true end,
      getreusedtimes = function() return 0 end, sslhandshake = function() return {} end,
      send = function(_, d) return #d end, receiveany = function() return feed() end,
      close = function() end, setkeepalive = function() return true end,
    }
    rawset(_G, "ngx", { socket = { tcp = function() return sock end } })
    local peer = http.peer("127.0.0.1", 20443, {})
    local m = require("spec.support.rss").measure(http.perform, peer,
      { url = "https://127.0.0.1:20443/", body = "{}", timeout = timeout })
    rawset(_G, "ngx", nil)
    return m
  end

  local function once_then(first, rest)
    local sent = false
    return function()
      if sent then return rest() end
      sent = true
      return first
    end
  end

  it("ends a body that keeps coming at the deadline", function()
    -- 10 bytes a read, a read every 0.1 ms: the whole body would take 40 s
    local m = perform(once_then("HTTP/1.1 200 OK\r\nContent-Length: 4000000\r\n\r\n", function()
      local t = core.now() + 0.0001
      while core.now() < t do end
      return "xxxxxxxxxx"
    end), 0.2)
    assert.is_nil(m.raised)
    assert.equal("timeout", m[1].outcome)
    assert.is_true(m.seconds < 0.2 + 1, m.seconds)
  end)

  it("reads a chunked answer cut anywhere, with extensions and trailers", function()
    local answer = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n" ..
      "Content-Type: application/json\r\n\r\n4;a=\"x;y\"\r\n{\"er\r\nC\r\nror_code\":0}\r\n" ..
      "0;end\r\nX-Sum: 1\r\n\r\n"
    for size = 1, 9 do
      local at = 1
      local m = perform(function()
        local piece = answer:sub(at, at + size - 1)
        at = at + size
        if piece == "" then return nil, "closed" end
        return piece
      end, 5)
      assert.is_nil(m.raised)
      assert.equal("ok", m[1].outcome, m[1].error)
      assert.equal(200, m[1].status)
      assert.equal('{"error_code":0}', m[1].body)
      assert.equal("application/json", m[1].content_type)
    end
  end)

  it("ends a chunked answer with a bad chunk size with a protocol error", function()
    local m = perform(once_then("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\nzz\r\n",
      function() return nil, "timeout" end), 5)
    assert.is_nil(m.raised)
    assert.equal("protocol", m[1].outcome)
    assert.truthy(m[1].error:find("chunk size", 1, true), m[1].error)
    assert.is_true(m.seconds < 1)
  end)

  for name, case in pairs {
    ["interim answers"] = { "", "HTTP/1.1 100 Continue\r\n\r\n", "interim" },
    ["header lines"] = { "HTTP/1.1 200 OK\r\n", "X-Pad: 0123456789\r\n", "head" },
    ["trailer lines"] = { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n",
                          "X-Trailer: 0123456789\r\n", "trailers" },
  } do
    it("ends " .. name .. " without end with a protocol error", function()
      local m = perform(once_then(case[1], function() return case[2] end), 5)
      assert.is_nil(m.raised)
      assert.equal("protocol", m[1].outcome)
      assert.truthy(m[1].error:find(case[3], 1, true), m[1].error)
      assert.is_true(m.seconds < 5)
      assert.is_true(m.growth < 64 * 1024 * 1024)
    end)
  end
end)
