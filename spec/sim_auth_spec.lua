-- vigi-sim's login switches (docs/sim.md, "doAuth" and the admin path),
-- from the outside with curl: the lockout after N counted failures and its
-- lock time, probes counted apart from failed logins, doAuth counted by
-- kind, and a password change at run time.
local cjson = require "cjson.safe"
local helper = require "spec.helper"
local q, sh = helper.quote, helper.sh

-- os.execute's success, in Lua 5.1 and 5.2+ alike.
local function run(cmd)
  local a, _, code = os.execute(cmd)
  if type(a) == "number" then return a == 0 end
  return a == true and (code == nil or code == 0)
end

local function md5(s) return (sh("printf %s " .. q(s) .. " | md5sum"):match("^(%x+)")):upper() end

describe("vigi-sim logins", function()
  local sim, base

  local function post(path, body)
    local out = sh(string.format("curl -sk --max-time 10 -d %s %s", q(cjson.encode(body)), q(base .. path)))
    return cjson.decode(out)
  end
  local function doauth(password)
    return post("/", { method = "doAuth", params = { password = md5(password), passwdType = "md5" } })
  end
  local function probe() return post("/", { method = "doAuth", params = cjson.null }) end
  local function config() return sim:admin("GET", "config") end

  setup(function()
    sim = helper.start_sim { "--lockout", "2", "--lock-seconds", "1" }
    base = string.format("https://%s:%d", sim.host, sim.port)
  end)
  teardown(function() sim:stop() end)
  before_each(function()
    sim:reset(true)
    sim:config { auth = "md5", lockout = 2, lock_seconds = 1, password = helper.PASSWORD }
  end)

  it("takes --lockout and --lock-seconds from the command line", function()
    local c = config()
    assert.same({ 2, 1, false, 0 }, { c.lockout, c.lock_seconds, c.locked, c.failures })
  end)

  it("counts probes apart from failed logins, and doAuth by kind", function()
    for _ = 1, 3 do assert.equal(-40106, probe().errCode) end
    assert.equal(-10020, doauth("wrong").errCode)
    assert.equal(1, config().failures)
    assert.equal(0, doauth(helper.PASSWORD).errCode)
    sim:config { auth = "challenge" }
    assert.equal(-10020, probe().errCode)   -- the challenge, no failure
    assert.equal(-10020, post("/", { method = "doAuth",
      params = { nonce = "00", response = "00" } }).errCode)
    local l = sim:counters().logins
    assert.same({ probe = 4, md5 = 2, challenge = 1, ok = 1, failed = 2, locked = 0 }, l)
  end)

  it("locks after N counted failures for the lock time; probes then say so, uncounted", function()
    assert.equal(-10020, doauth("wrong").errCode)
    assert.equal(-10020, doauth("wrong").errCode)
    assert.is_true(config().locked)
    assert.equal(-10022, doauth(helper.PASSWORD).errCode)   -- even the right one
    assert.equal(-10022, probe().errCode)
    local l = sim:counters().logins
    assert.same({ 2, 2, 1 }, { l.failed, l.locked, l.probe })
    os.execute("sleep 1.2")
    assert.equal(0, doauth(helper.PASSWORD).errCode)
    assert.is_false(config().locked)
  end)

  it("changes the password at run time: old tokens and subscriptions end", function()
    local stok = doauth(helper.PASSWORD).result.stok
    local call = function(s) return post("/stok=" .. s, { method = "getDeviceAlias" }) end
    assert.equal(0, call(stok).errCode)
    local out = os.tmpname()
    local pid = sh(string.format("curl -skN --max-time 20 -d %s %s > %s 2>/dev/null & echo $!",
      q('{"method":"subscribeMsg","params":{"event_type":["all"],"heartbeat":1}}'),
      q(base .. "/stok=" .. stok), q(out))):match("%d+")
    local t0 = os.time()
    while sim:counters().push.subscriptions < 1 and os.time() - t0 < 5 do os.execute("sleep 0.05") end
    local r = sim:password("changed")
    assert.same({ true, 1, 1 }, { r.ok, r.tokens_revoked, r.subscriptions_closed })
    -- the subscriber's curl ends (its connection was closed)
    local ended = false
    for _ = 1, 100 do
      if not run("kill -0 " .. pid .. " 2>/dev/null") then ended = true break end
      os.execute("sleep 0.05")
    end
    os.execute("kill " .. pid .. " 2>/dev/null")
    os.remove(out)
    assert.is_true(ended)
    assert.equal(-40401, call(stok).errCode)
    assert.equal(-10020, doauth(helper.PASSWORD).errCode)
    assert.equal(0, doauth("changed").errCode)
    local bad = sim:admin("POST", "password", { password = "x", extra = 1 })
    assert.truthy(bad.error)
    assert.truthy(sim:admin("POST", "password", {}).error)
  end)
end)
