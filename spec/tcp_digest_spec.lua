-- The stream port's two C helpers through vigi.core: Digest
-- authentication (core.digest_challenge, core.digest_authorization)
-- against the RFC vectors and the camera's quoting (WIRE-NOTES §4), and
-- the vigi.tcp client against a loopback echo server (python3, on
-- 127.0.0.1 only). The C parts' own cases are in spec/c/digest_test.c and
-- spec/c/tcp_test.c.
local core = require "vigi.core"
local wait = require "vigi.wait"

-- RFC 7616 §3.9.1.
local RFC7616 = {
  username = "Mufasa", password = "Circle of Life", realm = "http-auth@example.org",
  nonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", uri = "/dir/index.html", method = "GET",
  qop = "auth", nc = 1, cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
  opaque = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS",
}

local function with(t, extra)
  local r = {}
  for k, v in pairs(t) do r[k] = v end
  for k, v in pairs(extra) do
    if v == false then r[k] = nil else r[k] = v end
  end
  return r
end

-- The quoted value of parameter `name` in an Authorization value.
local function param(h, name)
  return h:match("[ ,]" .. name .. '="([^"]*)"')
end

describe("core.digest_authorization", function()
  it("gives RFC 2617's worked example, every value quoted", function()
    local h = core.digest_authorization {
      username = "Mufasa", password = "Circle Of Life", realm = "testrealm@host.com",
      nonce = "dcd98b7102dd2f0e8b11d0f600bfb0c093", uri = "/dir/index.html", method = "GET",
      qop = "auth", nc = 1, cnonce = "0a4f113b", opaque = "5ccc069c403ebaf9f0171e9517f40e41",
    }
    assert.equal('Digest username="Mufasa", realm="testrealm@host.com", ' ..
      'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", ' ..
      'response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41", ' ..
      'qop="auth", nc="00000001", cnonce="0a4f113b"', h)
  end)

  it("gives RFC 7616's MD5 and SHA-256 examples", function()
    local md5 = core.digest_authorization(with(RFC7616, { algorithm = "MD5" }))
    assert.equal("8ca523f5e9506fed4657c9700eebdbec", param(md5, "response"))
    assert.equal("MD5", param(md5, "algorithm"))
    local sha = core.digest_authorization(with(RFC7616, { algorithm = "SHA-256" }))
    assert.equal("753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
      param(sha, "response"))
  end)

  it("quotes qop, nc and algorithm, as the camera wants", function()
    local h = core.digest_authorization(with(RFC7616, { algorithm = "sha-256", nc = 255 }))
    assert.truthy(h:find('algorithm="SHA-256"', 1, true))
    assert.truthy(h:find('qop="auth"', 1, true))
    assert.truthy(h:find('nc="000000ff"', 1, true))
    assert.falsy(h:find("qop=auth", 1, true) or h:find("nc=0", 1, true)
      or h:find("algorithm=S", 1, true))
    assert.equal("ffffffff", param(core.digest_authorization(with(RFC7616, { nc = 0xffffffff })), "nc"))
  end)

  it("answers without qop with H(HA1:nonce:HA2) and no nc or cnonce", function()
    local h = core.digest_authorization {
      username = "Mufasa", password = "Circle Of Life", realm = "testrealm@host.com",
      nonce = "dcd98b7102dd2f0e8b11d0f600bfb0c093", uri = "/dir/index.html", method = "GET",
    }
    assert.equal("670fd8c2df070c60b045671b8b24ff02", param(h, "response"))
    assert.is_nil(param(h, "nc"))
    assert.is_nil(param(h, "cnonce"))
    assert.is_nil(param(h, "qop"))
    assert.is_nil(param(h, "algorithm"))
  end)

  it("makes a fresh 16-digit cnonce when qop is set and none is given", function()
    local a = core.digest_authorization(with(RFC7616, { cnonce = false }))
    local b = core.digest_authorization(with(RFC7616, { cnonce = false }))
    assert.truthy(param(a, "cnonce"):match("^%x+$"))
    assert.equal(16, #param(a, "cnonce"))
    assert.not_equal(param(a, "cnonce"), param(b, "cnonce"))
    assert.not_equal(param(a, "response"), param(b, "response"))
  end)

  it("refuses bad values with nil and a message that never shows the password", function()
    local secret = "hunter2-" .. string.rep("z", 300)
    local cases = {
      { { password = secret }, "password too long" },
      { { password = "hunter2", username = string.rep("u", 257) }, "username too long" },
      { { password = "hunter2", username = "admin\r\nX: 1" }, "username holds a control character" },
      { { password = "hunter2", algorithm = "SHA-512-256" }, "unsupported algorithm" },
      { { password = "hunter2", qop = "auth-int" }, "unsupported qop" },
    }
    for _, c in ipairs(cases) do
      local h, err = core.digest_authorization(with(RFC7616, c[1]))
      assert.is_nil(h)
      assert.truthy(err:find(c[2], 1, true), err)
      assert.falsy(err:find("hunter2", 1, true))
    end
  end)

  it("raises on a field of the wrong type, naming the field only", function()
    for _, c in ipairs {
      { { password = 1234 }, "password" },
      { { username = false }, "username" },
      { { realm = {} }, "realm" },
      { { nc = 0 }, "nc" },
      { { nc = 1.5 }, "nc" },
      { { nc = 2 ^ 32 }, "nc" },
      { { nc = "1" }, "nc" },
      { { password = "hun\0ter2" }, "password" },
    } do
      local ok, err = pcall(core.digest_authorization, with(RFC7616, c[1]))
      assert.is_false(ok)
      assert.truthy(tostring(err):find(c[2], 1, true), err)
      assert.falsy(tostring(err):find("hun", 1, true))
    end
    assert.has_error(function() core.digest_authorization("x") end)
    assert.has_error(function() core.digest_authorization(with(RFC7616, { method = false })) end)
  end)
end)

describe("core.digest_challenge", function()
  local rows = {
    { 'Digest realm="TP-LINK IP-Camera", nonce="b5ee0c9cb96f28a4d1d0c3b4e0a6f1a2"',
      { realm = "TP-LINK IP-Camera", nonce = "b5ee0c9cb96f28a4d1d0c3b4e0a6f1a2", algorithm = "MD5",
        has_algorithm = false, stale = false } },
    { 'Digest realm="testrealm@host.com", qop="auth,auth-int", ' ..
      'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"',
      { realm = "testrealm@host.com", nonce = "dcd98b7102dd2f0e8b11d0f600bfb0c093", qop = "auth",
        opaque = "5ccc069c403ebaf9f0171e9517f40e41", algorithm = "MD5", has_algorithm = false,
        stale = false } },
    { 'digest REALM="r", Nonce=n2, opaque="o", qop="auth,auth-int", algorithm=SHA-256, stale=true',
      { realm = "r", nonce = "n2", opaque = "o", qop = "auth", algorithm = "SHA-256", has_algorithm = true,
        stale = true } },
    { 'Digest realm="a \\"b\\"", nonce="n", algorithm="md5-SESS", stale=FALSE, foo=bar',
      { realm = 'a "b"', nonce = "n", algorithm = "MD5-sess", has_algorithm = true, stale = false } },
    { ' , Digest ,realm=r,,nonce=n , algorithm=SHA-256-sess,',
      { realm = "r", nonce = "n", algorithm = "SHA-256-sess", has_algorithm = true, stale = false } },
    { 'Basic realm="b", Digest realm="d", nonce="n"',
      { realm = "d", nonce = "n", algorithm = "MD5", has_algorithm = false, stale = false } },
    -- Whether the camera named the algorithm is read from the parameters,
    -- not from the text: a realm or another scheme's parameter holding
    -- the word is not a named algorithm.
    { 'Digest realm="algorithm=SHA-256", nonce="n", opaque="algorithm"',
      { realm = "algorithm=SHA-256", nonce = "n", opaque = "algorithm", algorithm = "MD5",
        has_algorithm = false, stale = false } },
    { 'Basic realm="x", algorithm=SHA-256, Digest realm="d", nonce="n"',
      { realm = "d", nonce = "n", algorithm = "MD5", has_algorithm = false, stale = false } },
  }
  for i, row in ipairs(rows) do
    it("reads challenge " .. i, function()
      assert.same(row[2], core.digest_challenge(row[1]))
    end)
  end

  it("says why it cannot answer", function()
    for _, row in ipairs {
      { "", "no Digest challenge" },
      { 'Basic realm="x"', "no Digest challenge" },
      { 'Digest realm="x", nonce="y", qop="auth-int"', "auth-int" },
      { 'Digest realm="x", nonce="y", algorithm=SHA-1', "unsupported algorithm" },
      { 'Digest realm="x"', "without nonce" },
      { 'Digest nonce="y"', "without realm" },
      { 'Digest realm="x", nonce="y', "unterminated" },
      { 'Digest realm="x", nonce="' .. string.rep("n", 257) .. '"', "nonce too long" },
    } do
      local c, err = core.digest_challenge(row[1])
      assert.is_nil(c)
      assert.truthy(err:find(row[2], 1, true), err)
    end
    assert.has_error(function() core.digest_challenge() end)
  end)

  it("feeds its result straight into digest_authorization", function()
    local c = core.digest_challenge('Digest realm="http-auth@example.org", qop="auth, auth-int", ' ..
      'algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", ' ..
      'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"')
    local h = core.digest_authorization {
      username = "Mufasa", password = "Circle of Life", realm = c.realm, nonce = c.nonce,
      uri = "/dir/index.html", method = "GET", algorithm = c.algorithm, qop = c.qop, nc = 1,
      cnonce = RFC7616.cnonce, opaque = c.opaque,
    }
    assert.equal("753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
      param(h, "response"))
  end)
end)

-- A loopback echo server, one thread per connection: echoes what it
-- gets; "bye" is answered with "bye" and a close; "quit" ends it. It prints its port and a port that
-- was free a moment ago (nobody listens there), and gives up by itself
-- after 60 s, so that a failed spec leaves nothing behind.
local SERVER = [[
import os, signal, socket, threading
signal.alarm(60)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(8)
f = socket.socket()
f.bind(("127.0.0.1", 0))
free = f.getsockname()[1]
f.close()
print(s.getsockname()[1], free, flush=True)
def serve(c):
    while True:
        d = c.recv(65536)
        if not d:
            break
        if d.startswith(b"quit"):
            os._exit(0)
        if d.startswith(b"bye"):
            c.sendall(b"bye")
            break
        c.sendall(d)
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
]]

local function sh_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function wait_for(t, want_write)
  local set = {}
  t:waitset(set, want_write)
  wait.wait(set, 5)
end

-- Readable, or (when it has more to send) writable; whichever comes.
local function wait_for_any(t, sending)
  local set = {}
  t:waitset(set)
  if sending then
    set[3], set[4], set.n = set[1], 2, 2
  end
  wait.wait(set, 1)
end

local function connect(port)
  local t, err = core.tcp_connect("127.0.0.1", port)
  if not t then return nil, err end
  local deadline = core.now() + 5
  while true do
    local ok, cerr = t:connected()
    if ok then return t end
    if cerr ~= "again" then return nil, cerr, t end
    assert(core.now() < deadline, "no connection in 5 s")
    wait_for(t, true)
  end
end

local function send_all(t, data)
  local i = 1
  while i <= #data do
    local n, err = t:send(data, i)
    if n then i = i + n
    elseif err == "again" then wait_for(t, true)
    else error("send: " .. err) end
  end
end

-- Reads until n bytes came, or the stream ended (then with "closed").
local function read_n(t, n)
  local got, have, deadline = {}, 0, core.now() + 5
  while have < n do
    local s, err = t:recv()
    if s then
      got[#got + 1] = s
      have = have + #s
    elseif err == "again" then
      assert(core.now() < deadline, "no data in 5 s")
      wait_for(t)
    else
      return table.concat(got), err
    end
  end
  return table.concat(got)
end

describe("vigi.tcp", function()
  local server, port, free

  setup(function()
    server = assert(io.popen("exec python3 -c " .. sh_quote(SERVER), "r"))
    local line = server:read("*l")
    port, free = line:match("^(%d+) (%d+)$")
    port, free = tonumber(port), tonumber(free)
    assert(port and free, "echo server did not start")
  end)

  teardown(function()
    local t = connect(port)
    if t then
      send_all(t, "quit")
      t:close()
    end
    server:close()
  end)

  it("raises on bad arguments", function()
    assert.has_error(function() core.tcp_connect("localhost", port) end)
    assert.has_error(function() core.tcp_connect("127.1", port) end)
    assert.has_error(function() core.tcp_connect("127.0.0.1", 0) end)
    assert.has_error(function() core.tcp_connect("127.0.0.1", 65536) end)
    assert.has_error(function() core.tcp_connect(nil, port) end)
    assert.has_error(function() core.tcp_connect("127.0.0.1", "x") end)
  end)

  it("connects, sends and receives", function()
    local t = assert(connect(port))
    assert.is_true(t:connected())
    assert.equal(5, t:send("hello"))
    assert.equal("hello", read_n(t, 5))
    -- 4 MiB each way, more than the socket buffers hold: sends may take
    -- part of what they are given, reads come in pieces. Both sides go on
    -- together, or the echo server would stall.
    local big = string.rep("0123456789abcdef", 262144)
    local i, got, have = 1, {}, 0
    local deadline = core.now() + 10
    while have < #big do
      assert(core.now() < deadline, "echo of 128 KiB not back in 10 s")
      local moved = false
      if i <= #big then
        local n, err = t:send(big, i)
        if n then
          assert.is_true(n >= 1 and n <= #big - i + 1)
          i, moved = i + n, true
        else
          assert.equal("again", err)
        end
      end
      local data, err = t:recv()
      if data then
        got[#got + 1] = data
        have, moved = have + #data, true
      else
        assert.equal("again", err)
      end
      if not moved then wait_for_any(t, i <= #big) end
    end
    assert.equal(big, table.concat(got))
    t:close()
  end)

  it("sends data:sub(i, j) by string.sub's rules", function()
    local t = assert(connect(port))
    local s = "0123456789"
    assert.equal(3, t:send(s, 3, 5))
    assert.equal("234", read_n(t, 3))
    assert.equal(3, t:send(s, -3))
    assert.equal("789", read_n(t, 3))
    assert.equal(0, t:send(s, 8, 2))
    assert.equal(0, t:send(""))
    assert.equal(10, t:send(s, 0, 100))
    assert.equal(s, read_n(t, 10))
    assert.equal(2, t:send(s, -100, 2))
    assert.equal("01", read_n(t, 2))
    assert.has_error(function() t:send(nil) end)
    assert.has_error(function() t:send(s, "x") end)
    t:close()
  end)

  it("says again on an empty socket and honours max", function()
    local t = assert(connect(port))
    local data, err = t:recv()
    assert.is_nil(data)
    assert.equal("again", err)
    t:send("abcdef")
    wait_for(t)
    assert.equal("ab", t:recv(2))
    assert.equal("cdef", read_n(t, 4))
    assert.has_error(function() t:recv(0) end)
    assert.has_error(function() t:recv(65537) end)
    t:close()
  end)

  it("says closed at the end of the stream", function()
    local t = assert(connect(port))
    send_all(t, "bye")
    local data, err = read_n(t, 4)
    assert.equal("bye", data)
    assert.equal("closed", err)
    assert.same({ nil, "closed" }, { t:recv() })
    t:close()
  end)

  it("reports a refused connection, and keeps saying so", function()
    local t, err, pending = connect(free)
    assert.is_nil(t)
    assert.equal("Connection refused", err)
    if pending then -- the refusal came through connected(): asked again, same answer
      assert.same({ nil, "Connection refused" }, { pending:connected() })
      assert.truthy(tostring(pending):find("failed", 1, true))
      pending:close()
    end
  end)

  it("fills a wait set like vigi.udp's", function()
    local t = assert(connect(port))
    local set = {}
    local n, timeout = t:waitset(set)
    assert.same({ 1, -1 }, { n, timeout })
    assert.same({ t:fd(), 1, n = 1 }, set)
    t:waitset(set, true)
    assert.same({ t:fd(), 2, n = 1 }, set)
    assert.has_error(function() t:waitset() end)
    t:close()
  end)

  it("names itself, closes twice, refuses use after close", function()
    local t = assert(connect(port))
    assert.equal("vigi.tcp{127.0.0.1:" .. port .. "}", tostring(t))
    assert.is_true(t:fd() >= 0)
    local mt = getmetatable(t)
    assert.equal("vigi.tcp", mt.__name)
    -- (Lua 5.1 makes each registered C function a new object: compare kinds)
    assert.is_function(mt.__gc)
    assert.is_function(mt.__close)
    t:close()
    t:close()
    assert.equal("vigi.tcp{closed}", tostring(t))
    assert.has_error(function() t:send("x") end)
    assert.has_error(function() t:recv() end)
    assert.has_error(function() t:fd() end)
    assert.has_error(function() t:connected() end)
  end)
end)
