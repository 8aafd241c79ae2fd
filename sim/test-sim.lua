#!/usr/bin/env lua5.4
-- Self-test of vigi-sim from the outside: the control plane with curl,
-- discovery and the stream port with small python3 helpers:
--
--   lua5.4 sim/test-sim.lua [path/to/vigi-sim]
--
-- Starts the simulated camera on a free loopback port (built-in
-- camera.json), runs every check below against it, stops it, and prints
-- "N passed, N failed". Exit status 0 only if all passed.
-- Needs: curl, sha256sum, lua-cjson; python3 for the discovery round trip
-- and the stream port (skipped without it).

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
  and type(ready.stream) == "number" and ready.stream > 0
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
  and a.result.streamPort == tostring(math.floor(ready.stream)), cjson.encode(a))
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
-- a token that differs from the real one in its first character
local forged = (stok:sub(1, 1) == "A" and "B" or "A") .. stok:sub(2)
st, a = call(forged, "getStreamPort")
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

-- the event generator: 10 events/s for 0.5 s reach a subscription, with seq
admin("reset")
call(stok, "setMsgpushInterval", { event_interval = 0 })
sh(string.format("curl -sS -N -m 1.5 --cacert %s %s -d %s >%s/gen 2>/dev/null & sleep 0.4",
  q(cert), q(BASE .. "/stok=" .. stok),
  q('{"method":"subscribeMsg","params":{"event_type":["all"],"heartbeat":60}}'), q(dir)))
local set = admin("event_rate", { per_camera = 10, seconds = 0.5, event_type = "TamperDetection" })
os.execute("sleep 1.3")
local rate = get("/__sim__/event_rate")
local seqs = {}
for s in sh("cat " .. q(dir) .. "/gen"):gmatch('{"event_type":"TamperDetection","time":%d+,"seq":(%d+)}') do
  seqs[#seqs + 1] = tonumber(s)
end
admin("reset")
local off = get("/__sim__/event_rate")
check("event_rate: 5 events, evenly, through the subscription",
  set and set.ok and set.running and rate and not rate.running and rate.emitted == 5 and rate.sent == 5
  and rate.elapsed >= 0.35 and rate.elapsed < 0.6 and table.concat(seqs, ",") == "1,2,3,4,5"
  and off and off.per_camera == 0 and off.emitted == 0,
  cjson.encode({ set = set, rate = rate, seqs = seqs, off = off }))
call(stok, "setMsgpushInterval", { event_interval = 60 })

-- the stream port: digest, preview, download, talk (python3: socket, hashlib)
if os.execute("command -v python3 >/dev/null") then
  admin("reset")
  admin("stream_config", { speed = 0, qop = "auth", algorithm = "SHA-256" })
  -- luacheck: push no max line length
  local out = sh("python3 -S -c " .. q([==[
import hashlib, json, re, struct, socket, sys
port = int(sys.argv[1]); uri = "rtsp://127.0.0.1:%d/multitrans" % port
s = socket.create_connection(("127.0.0.1", port), timeout=5)
buf = b""; cseq = 0; chal = {}; nc = 0
def need(n):
    global buf
    while len(buf) < n:
        d = s.recv(65536)
        if not d: raise EOFError
        buf += d
def message():
    global buf
    need(1)
    if buf[:1] == b"$":
        need(4); n = struct.unpack(">H", buf[2:4])[0]; need(4 + n)
        f = (buf[1], buf[4:4 + n]); buf = buf[4 + n:]; return f
    while b"\r\n\r\n" not in buf: need(len(buf) + 1)
    head, buf = buf.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    h = dict((k.lower(), v.strip()) for k, v in (l.split(":", 1) for l in lines[1:]))
    n = int(h.get("content-length", 0)); need(n)
    body = json.loads(buf[:n]) if n else None; buf = buf[n:]
    return (lines[0], h, body)
def H(x): return hashlib.sha256(x.encode()).hexdigest()
def request(params, session=None):
    global cseq, nc
    cseq += 1
    body = json.dumps({"type": "request", "seq": str(cseq), "params": params})
    head = "MULTITRANS %s RTSP/1.0\r\nCSeq: %d\r\nContent-Type: application/json\r\nContent-Length: %d\r\n" % (uri, cseq, len(body))
    if chal:
        nc += 1; cn = "0a4f113b"
        ha1 = H("admin:%s:secret" % chal["realm"]); ha2 = H("MULTITRANS:" + uri)
        r = H("%s:%s:%08x:%s:auth:%s" % (ha1, chal["nonce"], nc, cn, ha2))
        head += 'Authorization: Digest username="admin", realm="%s", nonce="%s", uri="%s", qop="auth", nc="%08x", cnonce="%s", response="%s", algorithm="SHA-256"\r\n' % (chal["realm"], chal["nonce"], uri, nc, cn, r)
    if session: head += "Session: %s\r\n" % session
    s.sendall((head + "\r\n" + body).encode())
    while True:
        m = message()
        if isinstance(m[0], str) and m[0].startswith("RTSP/1.0"): return int(m[0].split()[1]), m[1], m[2]
st, h, b = request({"method": "get", "preview": {"resolutions": ["HD"]}})
print("challenge", st, 'qop="auth"' in h.get("www-authenticate", ""))
chal = dict(re.findall(r'(\w+)="([^"]*)"', h["www-authenticate"]))
st, h, b = request({"method": "get", "preview": {"resolutions": ["HD"]}})
p = b["params"]
print("preview", st, p["error_code"], p["interleaved"][0]["interleaved_id"], "sprop-parameter-sets=" in p["av_config"][0]["extra_data"]["video_fmtp"])
pics = 0; audio = 0; types = set()
while pics < 30:
    m = message()
    if m[0] == 0:
        pics += m[1][1] >> 7; types.add(m[1][12] & 0x1f)
    elif m[0] == 1: audio += 1
print("media", pics, audio > 0, 24 in types, 28 in types)
st, h, b = request({"method": "do", "stop": "null"}, b["params"]["session_id"])
print("stop", st, b["params"]["error_code"])
st, h, b = request({"method": "get", "download": {"client_id": 1, "start_time": "1", "end_time": "2", "media_type": "video"}})
sid = b["params"]["session_id"]; ch = int(b["params"]["interleaved"][0]["interleaved_id"].split("-")[0])
data = b""; end = None
while end is None:
    m = message()
    if m[0] == ch: data += m[1]
    elif isinstance(m[0], str) and m[0].startswith("MULTITRANS"): end = m[2]["params"]
print("download", len(data), hashlib.sha256(data).hexdigest(), end["event_type"], end["reason"], end["session_id"] == sid)
st, h, b = request({"method": "do", "stop": "null"}, sid)
st, h, b = request({"method": "get", "talk": {"mode": "half_duplex"}})
print("talk", st, b["params"]["error_code"], "interleaved" in b["params"])
for i in range(3):
    pkt = struct.pack(">BBHII", 0x80, (0x80 if i == 0 else 0) | 8, 7 + i, 160 * i, 99) + bytes([0xd5]) * 160
    s.sendall(b"$" + bytes([0]) + struct.pack(">H", len(pkt)) + pkt)
st, h, b = request({"method": "do", "stop": "null"}, b["params"]["session_id"])
print("talkstop", st)
]==]) .. " " .. math.floor(ready.stream) .. " 2>&1")
  -- luacheck: pop
  local lines = {}
  for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
  check("stream: 401 with a qop=\"auth\" challenge", lines[1] == "challenge 401 True", out)
  check("stream: preview answer", lines[2] == "preview 200 0 0-1 True", lines[2])
  check("stream: pictures and audio, STAP-A and FU-A", lines[3] == "media 30 True True True", lines[3])
  check("stream: stop", lines[4] == "stop 200 0", lines[4])
  local file = get("/__sim__/stream_file")
  check("stream: download is the recording file, then stream_end",
    file and lines[5] == string.format("download %d %s stream_end file_end True", file.size, file.sha256), lines[5])
  check("stream: talk answer names no channel", lines[6] == "talk 200 0 False", lines[6])
  local t = get("/__sim__/talk")
  local ts = t and t.sessions and t.sessions[#t.sessions]
  check("stream: talk audio received on channel 0", lines[7] == "talkstop 200" and ts and ts.channel == 0
    and #ts.packets == 3 and ts.packets[1].marker == true and ts.bytes == 480
    and ts.pcm_hex:sub(1, 8) == "08000800", t and cjson.encode(t):sub(1, 300))
  local ss = get("/__sim__/stream_state")
  check("stream: state", ss and ss.requests == 7 and ss.auth_failures == 0 and #ss.sessions == 3,
    ss and cjson.encode(ss))
  admin("reset")
  local cfg = get("/__sim__/stream_config")
  check("stream: reset restores the config", cfg and cfg.qop == "none" and cfg.speed == 1, cfg and cjson.encode(cfg))
end

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
