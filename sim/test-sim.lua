#!/usr/bin/env lua5.4
-- Self-test of vigi-sim's control plane, from the outside, with curl:
--
--   lua5.4 sim/test-sim.lua [path/to/vigi-sim]
--
-- Starts the simulated camera on a free loopback port (built-in
-- camera.json), runs every check below against it, stops it, and prints
-- "N passed, N failed". Exit status 0 only if all passed.
-- Needs: curl, sha256sum, lua-cjson; python3 for the discovery round trip
-- (skipped without it).

local cjson = require "cjson"

local SIM = arg[1] or "sim/vigi-sim"
local PASSWORD = "secret"

local passed, failed = 0, 0
local function check(name, ok, detail)
  if ok then
    passed = passed + 1
  else
    failed = failed + 1
    io.write("FAIL ", name, detail and (": " .. tostring(detail)) or "", "\n")
  end
end

local function sh(cmd)
  local p = assert(io.popen(cmd, "r"))
  local out = p:read("a")
  p:close()
  return out
end

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function sha256(s) return (sh("printf %s " .. q(s) .. " | sha256sum"):match("^(%x+)")) end
local function md5(s) return (sh("printf %s " .. q(s) .. " | md5sum"):match("^(%x+)")) end

-- ---- the simulated camera ----

local dir = sh("mktemp -d"):gsub("%s+$", "")
local ready_file, cert = dir .. "/ready", dir .. "/cert.pem"
local pid = sh(string.format("%s --control-port 0 --odp-port 0 --cert-out %s --lockout 3 >%s 2>%s/log & echo $!",
  q(SIM), q(cert), q(ready_file), q(dir))):match("%d+")

local ready
for _ = 1, 100 do
  local f = io.open(ready_file)
  local line = f and f:read("l")
  if f then f:close() end
  if line then ready = cjson.decode(line); break end
  os.execute("sleep 0.05")
end
if not ready then
  io.write("FAIL vigi-sim did not start\n", sh("cat " .. q(dir) .. "/log"))
  io.write("0 passed, 1 failed\n")
  os.exit(1)
end
local BASE = string.format("https://127.0.0.1:%d", ready.control)

-- ---- requests ----

-- POST body to path; returns status, decoded JSON (or nil), raw body, curl rc.
local function post(path, body, extra)
  local out = sh(string.format("curl -sS --cacert %s %s -w '\\n%%{http_code}' %s -d %s 2>/dev/null; echo \" $?\"",
    q(cert), extra or "", q(BASE .. path), q(type(body) == "table" and cjson.encode(body) or body)))
  local raw, status, rc = out:match("^(.*)\n(%d+) (%d+)\n$")
  local ok, doc = pcall(cjson.decode, raw or "")
  return tonumber(status), ok and doc or nil, raw, tonumber(rc)
end

local function get(path)
  local out = sh(string.format("curl -sS --cacert %s %s", q(cert), q(BASE .. path)))
  local ok, doc = pcall(cjson.decode, out)
  return ok and doc or nil
end

local function admin(path, body) return select(2, post("/__sim__/" .. path, body or "{}")) end

local HASH = md5(PASSWORD):upper()
local function login()
  local _, a = post("/", { method = "doAuth", params = { password = HASH, passwdType = "md5" } })
  return a and (a.stok or (a.result and a.result.stok))
end

local function call(stok, method, params, extra)
  return post("/stok=" .. stok, { method = method, params = params }, extra)
end

-- ---- checks ----

check("ready line", type(ready.control) == "number" and type(ready.odp) == "number" and ready.address == "127.0.0.1"
  and tostring(ready.pin):match("^sha256//[%w+/]+=*$") and ready.pid == tonumber(pid), cjson.encode(ready))

-- md5 doAuth
local _, a = post("/", { method = "doAuth", params = cjson.null })
check("md5 probe is -40106", a and a.errCode == -40106)
local stok = login()
check("md5 login gives a 32-char stok", stok and #stok == 32 and stok:match("^%w+$"), stok)
_, a = post("/", { method = "doAuth", params = { password = HASH:lower(), passwdType = "md5" } })
check("lowercase hash accepted", a and a.errCode == 0)
_, a = post("/", { method = "doAuth", params = { password = md5("nope"), passwdType = "md5" } })
check("wrong password is -10020", a and a.errCode == -10020 and a.authenticate == nil)

-- the method engine
local st, b
st, a = call(stok, "getStreamPort")
check("get", st == 200 and a and a.errCode == 0 and a.method == "getStreamPort"
  and a.result.streamPort == "554", cjson.encode(a))
_, a = call(stok, "setDeviceAlias", { alias = "bench cam" })
check("set", a and a.errCode == 0 and a.result == nil)
_, a = call(stok, "getDeviceAlias")
check("get after set", a and a.result and a.result.alias == "bench cam")
_, a = call(stok, "getDeviceInfo")
check("set writes its links", a and a.result and a.result.alias == "bench cam")
_, a = call(stok, "setDeviceAlias", { alias = "" })
check("too short is -40106 naming the field", a and a.errCode == -40106 and tostring(a.msg):find("alias"), a and a.msg)
_, a = call(stok, "setDeviceAlias", { alias = "x", color = 1 })
check("unknown field is -40106", a and a.errCode == -40106 and tostring(a.msg):find("color"))
_, a = call(stok, "setDeviceAlias", {})
check("missing required is -40106", a and a.errCode == -40106)
_, a = call(stok, "getDeviceAlias")
check("refused set changes nothing", a and a.result and a.result.alias == "bench cam")
_, a = call(stok, "getStreamPort", { x = 1 })
check("get with params is -40106", a and a.errCode == -40106)
_, a = call(stok, "searchSystemLog", { start_time = "1691976514", end_time = 1692581314, log_type = "all" })
check("numeric strings accepted for int", a and a.errCode == 0 and a.result and a.result.total == 2)
_, a = call(stok, "searchSystemLog", { start_time = "1.5", end_time = 1, log_type = "all" })
check("non-integral string refused for int", a and a.errCode == -40106)
_, a = call(stok, "setMotionDetectionRegion", { set_region_info = { { points_num = 4,
  points_x = { 1, 2, 3, 4 }, points_y = { "5", 6, 7, 8 } } } })
check("set_regions", a and a.errCode == 0)
_, a = call(stok, "getMotionDetectionRegion")
check("set_regions replaces the regions", a and a.result and a.result.region_info_1
  and a.result.region_info_1.points_y[1] == "5" and a.result.region_info_2 == nil, cjson.encode(a))
_, a = call(stok, "getMediaList", { start_time = "1", end_time = "2",
  event_type = { "MotionDetection" }, media_type = { "video" } })
check("media form", a and a.error_code == 0 and type(a.media) == "table" and a.errCode == nil)
_, a = call(stok, "setPresetPoint", { id = "5", name = "door" })
check("setPresetPoint answers what it stored", a and a.errCode == 0 and a.result
  and a.result.id == 5 and a.result.name == "door", cjson.encode(a))
_, a = call(stok, "getPresetPoint")
local listed = a and a.result and table.concat(a.result.id, ",")
call(stok, "removePresetPoint", { id = { "5" } })
_, b = call(stok, "getPresetPoint")
check("presets are stored and removed", listed and listed:find("5") and b and b.result
  and not table.concat(b.result.id, ","):find("5"), listed)
_, a = call(stok, "noSuchMethod")
check("unknown method is -40210", a and a.errCode == -40210)

-- tokens
st, a = call("A" .. stok:sub(2), "getStreamPort")
check("bad token is HTTP 200 + -40401", st == 200 and a and a.errCode == -40401)
st, a = post("/", { method = "getStreamPort" })
check("no token is HTTP 200 + -40401", st == 200 and a and a.errCode == -40401)
_, a = post("/stok=" .. stok .. "/ds", { method = "getStreamPort" })
check("/stok=.../ds accepted", a and a.errCode == 0)
admin("config", { token_error = "http401" })
st, a = call("bad", "getStreamPort")
check("token_error http401", st == 401 and a and a.errCode == -40401)
admin("config", { token_error = "errcode" })
admin("expire_tokens")
_, a = call(stok, "getStreamPort")
check("expire_tokens", a and a.errCode == -40401)
stok = login()

-- time-zone spelling
_, a = call(stok, "getTimeZone")
check("getTimeZone is getTimezone", a and a.errCode == 0 and a.method == "getTimeZone")
admin("config", { tz_spelling = "Timezone" })
_, a = call(stok, "getTimeZone")
_, b = call(stok, "getTimezone")
check("tz_spelling Timezone", a and a.errCode == -40210 and b and b.errCode == 0)
admin("config", { tz_spelling = "TimeZone" })
_, a = call(stok, "getTimeZone")
_, b = call(stok, "getTimezone")
check("tz_spelling TimeZone", a and a.errCode == 0 and b and b.errCode == -40210)
admin("config", { tz_spelling = "both" })

-- stok at the top level
admin("config", { stok_top = true })
_, a = post("/", { method = "doAuth", params = { password = HASH, passwdType = "md5" } })
check("stok_top", a and a.errCode == 0 and type(a.stok) == "string" and a.result == nil)
admin("config", { stok_top = false })

-- challenge doAuth
admin("config", { auth = "challenge" })
_, a = post("/", { method = "doAuth" })
local au = a and a.authenticate
check("challenge probe", a and a.errCode == -10020 and au and au.realm and au.algorithm == "SHA-256"
  and #au.nonce == 32 and au.uri == "/" and au.method == "POST", cjson.encode(a))
local function response(nonce, password)
  return sha256(sha256("admin:" .. au.realm .. ":" .. password) .. ":" .. nonce .. ":"
    .. sha256(au.method .. ":" .. au.uri))
end
_, a = post("/", { method = "doAuth", params = { nonce = au.nonce, response = response(au.nonce, PASSWORD) } })
check("challenge login", a and a.errCode == 0 and a.result and #a.result.stok == 32, cjson.encode(a))
_, a = post("/", { method = "doAuth", params = { nonce = au.nonce, response = response(au.nonce, PASSWORD) } })
check("a nonce is single use", a and a.errCode == -10020 and a.authenticate == nil)
_, a = post("/", { method = "doAuth", params = { password = HASH, passwdType = "md5" } })
check("md5 form in challenge mode is -10030", a and a.errCode == -10030)
local c0 = get("/__sim__/counters")
-- failures so far: the wrong md5 password and the reused nonce
check("probes and -10030 are not failures", c0 and c0.logins.failed == 2 and c0.logins.probe == 2,
  c0 and cjson.encode(c0.logins))

-- lockout (3 in this run)
admin("config", { auth = "md5" })
admin("unlock")
for _ = 1, 3 do post("/", { method = "doAuth", params = { password = md5("bad"), passwdType = "md5" } }) end
_, a = post("/", { method = "doAuth", params = { password = HASH, passwdType = "md5" } })
check("locked after 3 failures, even with the right password", a and a.errCode == -10022)
_, a = post("/", { method = "doAuth" })
check("locked: the probe says so too", a and a.errCode == -10022)
admin("unlock")
check("unlock", login() ~= nil)

-- counters and reset
admin("reset")
call(stok, "getStreamPort")
call(stok, "getStreamPort")
call(stok, "whatever")
post("/", "not json")
local c = get("/__sim__/counters")
check("counters", c and c.calls.getStreamPort == 2 and c.calls.whatever == 1 and c.requests == 4
  and c.connections == 4, c and cjson.encode(c))
admin("reset", { state = true })
_, a = call(stok, "getStreamPort")
check("reset with state clears tokens", a and a.errCode == -40401)
stok = login()
_, a = call(stok, "getDeviceAlias")
check("reset with state restores the state", a and a.result and a.result.alias ~= "bench cam")
check("admin state", (get("/__sim__/state") or {}).streamPort ~= nil)

-- discovery: counters, faults, and one round trip through python3 (socket + zlib)
c = get("/__sim__/counters")
check("counters have odp", c and c.odp and c.odp.requests == 0 and c.odp.ignored == 0, c and cjson.encode(c))
local f = get("/__sim__/fleet")
check("fleet totals of one camera are its counters", f and f.odp and c and f.requests == c.requests
  and f.odp.requests == c.odp.requests and f.odp.replies == c.odp.replies and f.odp.ignored == c.odp.ignored
  and f.calls.getStreamPort == c.calls.getStreamPort, f and cjson.encode(f))
a = admin("odp_fault", { kind = "foreign_serial", count = -1 })
check("odp_fault set", a and a.kind == "foreign_serial" and a.count == -1, a and cjson.encode(a))
_, a = post("/__sim__/odp_fault", { kind = "loud" })
check("odp_fault refuses an unknown kind", a and a.error and a.error:find("kind"))
a = admin("odp_fault", { kind = "none" })
check("odp_fault cleared", a and a.kind == "none")
if os.execute("command -v python3 >/dev/null") then
  local out = sh("python3 -S -c " .. q([[
import socket, struct, sys, zlib
m = struct.pack(">I", 0x77805D05)
h = struct.pack(">BBBBHHI", 1, 0, 0x12, 0, 1, 2, 0xA1B2C3D4)
p = h + struct.pack(">I", zlib.crc32(h + m + b"{}")) + b"{}"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.sendto(p, ("127.0.0.1", int(sys.argv[1])))
d = s.recv(65535)
ok = struct.unpack(">I", d[12:16])[0] == zlib.crc32(d[:12] + m + d[16:])
print(d[2], d[3], struct.unpack(">I", d[8:12])[0], ok, d[16:].decode())
]]) .. " " .. math.floor(ready.odp) .. " 2>&1")
  local flags, result, serial, ok, json = out:match("^(%d+) (%d+) (%d+) (%a+) (.-)%s*$")
  local doc = json and cjson.decode(json)
  check("discovery reply", flags == "17" and result == "1" and tonumber(serial) == 0xA1B2C3D4 and ok == "True"
    and doc and doc.result.ip == "127.0.0.1" and doc.result.mac == "000AEB018811", out)
  check("discovery counted", ((get("/__sim__/counters") or {}).odp or {}).replies == 1)
end

-- HTTP errors
st, a = post("/", "{not json")
check("bad JSON is HTTP 400 with JSON", st == 400 and a and a.errCode == -40106)
st = post("/nope", { method = "doAuth" })
check("unknown path is 404", st == 404)
local s405 = sh(string.format("curl -s -o /dev/null -w '%%{http_code}' --cacert %s %s", q(cert), q(BASE .. "/")))
check("GET is 405", s405 == "405", s405)

-- one request per connection, with TLS resumption
admin("config", { close_after_answer = true })
admin("reset")
local two = sh(string.format("curl -sS --cacert %s %s -d %s --next --cacert %s %s -d %s",
  q(cert), q(BASE .. "/stok=" .. stok), q('{"method":"getStreamPort"}'),
  q(cert), q(BASE .. "/stok=" .. stok), q('{"method":"getStreamPort"}')))
c = get("/__sim__/counters")
check("close_after_answer: two answers", select(2, two:gsub('"errCode":0', "")) == 2, two)
check("close_after_answer: two connections, the second resumed",
  c and c.connections == 2 and c.tls_handshakes == 2 and c.tls_resumed == 1, c and cjson.encode(c))
admin("config", { close_after_answer = false })
admin("reset")
sh(string.format("curl -sS --cacert %s %s -d %s --next --cacert %s %s -d %s",
  q(cert), q(BASE .. "/stok=" .. stok), q('{"method":"getStreamPort"}'),
  q(cert), q(BASE .. "/stok=" .. stok), q('{"method":"getStreamPort"}')))
c = get("/__sim__/counters")
check("keep-alive: one connection", c and c.connections == 1 and c.requests == 2, c and cjson.encode(c))

-- faults
admin("fault", { kind = "http500", method = "getStreamPort" })
st = call(stok, "getDeviceAlias")
check("a fault waits for its method", st == 200)
st, a = call(stok, "getStreamPort")
check("fault http500", st == 500 and a == nil)
st = call(stok, "getStreamPort")
check("a fault fires count times", st == 200)
admin("fault", { kind = "non_json" })
local raw
st, a, raw = call(stok, "getStreamPort")
check("fault non_json", st == 200 and a == nil and raw ~= "", raw)
admin("fault", { kind = "close_mid" })
local _, cut, _, rc = call(stok, "getDeviceInfo")
check("fault close_mid", rc == 18 and cut == nil, rc)
admin("fault", { kind = "stall", seconds = 2 })
local function now_ms() return tonumber(sh("date +%s%N")) // 1000000 end
sh(string.format("(curl -sS -m 5 --cacert %s %s -d %s > %s/stalled 2>&1; echo $? >> %s/stalled) >/dev/null 2>&1 &",
  q(cert), q(BASE .. "/stok=" .. stok), q('{"method":"getStreamPort"}'), q(dir), q(dir)))
os.execute("sleep 0.3")
local t0 = now_ms()
_, a = call(stok, "getStreamPort")
local took = now_ms() - t0
check("a stalled request does not block another connection", a and a.errCode == 0 and took < 1000, took)
os.execute("sleep 2.2")
local stalled = sh("cat " .. q(dir) .. "/stalled")
check("fault stall: no answer, then closed", stalled:match("52%s*$") ~= nil, stalled)

-- subscribeMsg
local stream = sh(string.format("curl -sS -N -i -m 1.6 --cacert %s %s -d %s 2>/dev/null",
  q(cert), q(BASE .. "/stok=" .. stok),
  q('{"method":"subscribeMsg","params":{"event_type":["MotionDetection"],"heartbeat":1}}')))
check("subscribeMsg headers", stream:find("Content-Type: multipart/mixed;boundary=--boundary--\r\n", 1, true)
  and not stream:lower():find("content-length: %d+\r\n\r\n%-%-%-%-"), stream)
check("subscribeMsg first part", stream:find("\r\n\r\n----boundary--\r\nContent-Type: application/json\r\n"
  .. "Content-Length: 32\r\n\r\n{\"result\":\"success\",\"errCode\":0}\r\n", 1, true), stream)
check("subscribeMsg heartbeat", stream:find("----boundary--\r\nContent-Type: application/json\r\n"
  .. "Content-Length: 17\r\n\r\n{\"Heartbeat\":\"1\"}\r\n", 1, true), stream)
_, a = call(stok, "subscribeMsg", { event_type = { "Nothing" }, heartbeat = 1 })
check("subscribeMsg refusal", a and a.result == "failed" and a.errCode == -40106)

-- ---- the end ----
os.execute("kill " .. pid)
local gone = false
for _ = 1, 50 do
  if not os.execute("kill -0 " .. pid .. " 2>/dev/null") then gone = true; break end
  os.execute("sleep 0.05")
end
check("stops on SIGTERM", gone)
os.execute("rm -rf " .. q(dir))
io.write(string.format("%d passed, %d failed\n", passed, failed))
os.exit(failed == 0 and 0 or 1)
