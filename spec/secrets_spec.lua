-- No password or password hash in any log line, error, traceback, object
-- dump or command output, whatever happens on the way.
local helper = require "spec.helper"
local vigi = require "vigi"
local core = require "vigi.core"

-- A password of its own: "secret" would match this file's name in tracebacks.
local PASSWORD = "Pa55-vigi-Xq7"
local FORBIDDEN = {
  PASSWORD,
  core.md5_hex(PASSWORD, true),
  core.md5_hex(PASSWORD),
  core.sha256_hex("admin:VIGI:" .. PASSWORD),  -- the challenge login's inner hash
  core.md5_hex("admin:VIGI:" .. PASSWORD),     -- the stream digest's HA1
}

-- Everything reachable from a value through fields, as text: keys and
-- values, recursively, and metatables with their __index tables.
local function dump(v, seen, out)
  seen, out = seen or {}, out or {}
  if type(v) == "table" and not seen[v] then
    seen[v] = true
    for k, x in pairs(v) do dump(k, seen, out) dump(x, seen, out) end
    local mt = getmetatable(v)
    if type(mt) == "table" then
      dump(mt, seen, out)
      if mt.__tostring then out[#out + 1] = tostring(v) end
    end
  elseif type(v) ~= "table" then
    out[#out + 1] = tostring(v)
  end
  return table.concat(out, "\n")
end

local function assert_clean(text, where)
  for _, secret in ipairs(FORBIDDEN) do
    assert(not text:find(secret, 1, true), "a secret appears in " .. where)
  end
end

describe("secrets", function()
  local sim
  setup(function() sim = helper.start_sim { "--password", PASSWORD } end)
  teardown(function() sim:stop() end)

  it("never appear in logs, errors or objects, in either login form", function()
    local lines = {}
    local function log(line) lines[#lines + 1] = line end
    local errs = {}
    for _, form in ipairs { "md5", "challenge" } do
      sim:reset(true)
      sim:config { auth = form }
      local cam = assert(vigi.connect(sim:options { log = log, password = PASSWORD }))
      assert(cam:getDeviceInfo())
      assert(cam:setDeviceAlias { alias = "secret-free" })
      local _, e = cam:setSpeakerVolume { volume = 101 }
      errs[#errs + 1] = e
      sim:expire_tokens()
      assert(cam:getSpeakerVolume())
      sim:fault { kind = "close_mid", method = "setSpeakerVolume" }
      _, e = cam:setSpeakerVolume { volume = 3 }
      errs[#errs + 1] = e
      assert_clean(dump(cam), "the camera object")
      assert_clean(tostring(cam), "tostring(camera)")
      cam:close()
      local _, bad = vigi.connect(sim:options { log = log, password = PASSWORD .. "x" })
      errs[#errs + 1] = bad
    end
    -- a traceback raised from inside a call
    local ok, tb = xpcall(function()
      local cam = assert(vigi.connect(sim:options { log = log, password = PASSWORD }))
      cam:call(42)
    end, debug.traceback)
    assert.is_false(ok)
    assert.is_true(#lines > 10)
    assert_clean(table.concat(lines, "\n"), "the log")
    assert_clean(dump(errs), "an error value")
    assert_clean(tb, "a traceback")
  end)

  it("are in no field of a camera, a subscription or a stream session, the stok neither", function()
    for _, form in ipairs { "md5", "challenge" } do
      sim:reset(true)
      sim:config { auth = form }
      local cam = assert(vigi.connect(sim:options { password = PASSWORD, stream_port = sim.stream }))
      local stok = assert(cam:_token_path()):match("^/stok=(.+)$")
      assert.truthy(#stok >= 16)
      local sub = assert(cam:subscribe { event_types = { "all" }, heartbeat = 1 })
      local s = assert(cam:preview {})
      assert(s:next(5))
      local secrets = { stok }
      for _, x in ipairs(FORBIDDEN) do secrets[#secrets + 1] = x end
      for what, obj in pairs { camera = cam, subscription = sub, session = s } do
        local text = dump(obj)
        for _, secret in ipairs(secrets) do
          assert(not text:find(secret, 1, true), "a secret appears in the " .. what)
        end
        assert.is_nil(rawget(obj, "_stok"))
      end
      s:close()
      sub:close()
      cam:close()
    end
  end)

  it("never appear in the output of the vigi command, even verbose", function()
    sim:reset(true)
    local cmd = string.format("VIGI_PASSWORD=%s bin/vigi call %s getDeviceInfo -p %d -v 2>&1",
      PASSWORD, sim.host, sim.port)
    local p = assert(io.popen(cmd, "r"))
    local out = p:read("*a")
    p:close()
    assert.truthy(out:find("model", 1, true))
    assert_clean(out, "vigi call output")
  end)
end)
