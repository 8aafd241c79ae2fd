-- The stream port's digest answer names the algorithm only when the
-- camera's challenge did (strict out, RFC 7616 §3.3): what decides is the
-- challenge's parameters as core.digest_challenge reads them
-- (has_algorithm), not the word "algorithm" anywhere in the header, so a
-- realm holding the word does not make the answer name one.
--
-- vigi-sim's realm is fixed, so the camera here is a small loopback
-- server (python3, on 127.0.0.1 only): it prompts with the challenge it
-- is given, prints the Authorization header of each request it gets, and
-- answers the second request with success.
local core = require "vigi.core"
local streamconn = require "vigi.stream.conn"

local CAMERA = [[
import signal, socket, sys
signal.alarm(20)
challenge = sys.argv[1]
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
print(s.getsockname()[1], flush=True)
c, _ = s.accept()
f = c.makefile("rb")
for n in range(2):
    head = {}
    while True:
        line = f.readline().decode().strip()
        if not line:
            break
        k, _, v = line.partition(":")
        head[k.strip().lower()] = v.strip()
    f.read(int(head.get("content-length", "0")))
    print(head.get("authorization", "-"), flush=True)
    cseq = head["cseq"]
    if n == 0:
        c.sendall(("RTSP/1.0 401 Unauthorized\r\nCSeq: %s\r\nWWW-Authenticate: %s\r\n\r\n"
                   % (cseq, challenge)).encode())
    else:
        body = '{"type":"response","seq":"%s","params":{"error_code":0}}' % cseq
        c.sendall(("RTSP/1.0 200 OK\r\nCSeq: %s\r\nContent-Length: %d\r\n\r\n%s"
                   % (cseq, len(body), body)).encode())
c.recv(1)
]]

local function sh_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- One request through a stream connection to a camera that prompts with
-- `challenge`: the Authorization header the client answered with.
local function answer_to(challenge)
  local camera = assert(io.popen("exec python3 -c " .. sh_quote(CAMERA) .. " " .. sh_quote(challenge), "r"))
  local port = tonumber(camera:read("*l"))
  assert(port, "the camera did not start")
  local conn = assert(streamconn.open { host = "127.0.0.1", port = port, username = "admin",
                                        password = "pw", deadline = core.now() + 5 })
  local params, err = conn:request("probe", '{"method":"get"}', nil, core.now() + 5)
  conn:close()
  local first, second = camera:read("*l"), camera:read("*l")
  camera:close()
  assert.is_table(params, err and err.message)
  assert.equal("-", first)
  return second
end

describe("a stream connection's digest answer", function()
  it("does not name the algorithm when only the realm holds the word", function()
    local h = answer_to('Digest realm="algorithm=SHA-256", nonce="n1"')
    assert.truthy(h:find('realm="algorithm=SHA-256"', 1, true), h)
    assert.falsy(h:find(", algorithm=", 1, true), h)
  end)

  it("names the algorithm the camera named", function()
    local h = answer_to('Digest realm="VIGI", nonce="n1", algorithm=MD5')
    assert.truthy(h:find(', algorithm="MD5"', 1, true), h)
  end)
end)
