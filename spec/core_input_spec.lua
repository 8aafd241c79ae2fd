-- The C core's raw functions refuse numbers that are not durations or
-- sizes: NaN compares false with every bound, so a NaN timeout used to
-- become a wait without end (core.poll({ n = 0 }, 0/0) never returned).
-- They are internal, so a refusal is an argument error; the Lua layers
-- above check user options and return `invalid`.
local core = require "vigi.core"
local wait = require "vigi.wait"

local NAN, INF = 0 / 0, math.huge

-- Runs `code` in a child Lua with this one's paths, killed after 5 s: a
-- regression here is a hang, which must fail the spec, not stall it.
local function child(code)
  local lua = jit and "luajit" or _VERSION:gsub("^Lua ", "lua")
  local script = string.format("package.path=%q; package.cpath=%q; ", package.path, package.cpath) .. code
  local p = io.popen("timeout 5 " .. lua .. " -e " .. require("spec.helper").quote(script) .. " 2>&1; echo rc=$?")
  local out = p:read("*a")
  p:close()
  return out
end

describe("the C core's numbers", function()
  it("core.poll refuses a NaN or infinite timeout at once", function()
    local out = child([[
      local core = require "vigi.core"
      for _, t in ipairs { 0/0, math.huge, -math.huge } do
        local ok, e = pcall(core.poll, { n = 0 }, t)
        io.write(tostring(ok), " ", tostring(e):match("timeout: a finite number") and "named" or e, "\n")
      end]])
    assert.equal("false named\nfalse named\nfalse named\nrc=0\n", out)
  end)

  it("core.poll still takes a negative timeout as none and 0 as a look", function()
    assert.equal(0, core.poll({ n = 0 }, 0))
    local u = assert(core.udp { address = "127.0.0.1" })
    local _, port = u:getsockname()
    assert(u:sendto("x", "127.0.0.1", port))
    assert.equal(1, core.poll({ u:fd(), 1, n = 1 }, -1))
    u:close()
  end)

  it("a poller's wait refuses a NaN or infinite timeout", function()
    local p = core.poller()
    for _, t in ipairs { NAN, INF, -INF } do
      assert.has_error(function() p:wait(t, {}) end)
    end
    assert.equal(0, p:wait(0, {}))
    p:close()
  end)

  it("vigi.http refuses NaN, infinite or negative timeouts and sizes", function()
    local bad = {
      { timeout = NAN }, { timeout = INF }, { timeout = -1 }, { connect_timeout = NAN },
      { connect_timeout = -INF }, { timeout = "soon" }, { max_body = NAN }, { max_body = INF },
      { max_body = -1 }, { max_body = 1.5 }, { max_body = 2 ^ 31 },
    }
    for _, o in ipairs(bad) do
      o.url = "https://127.0.0.1:1/"
      local h = core.http()
      assert.has_error(function() h:start(o) end)
      h:close()
    end
  end)

  it("vigi.udp refuses a NaN port or buffer", function()
    assert.has_error(function() core.udp { port = NAN } end)
    assert.has_error(function() core.udp { rcvbuf = INF } end)
  end)

  it("wait.wait takes math.huge as no timeout and refuses NaN", function()
    local u = assert(core.udp { address = "127.0.0.1" })
    local _, port = u:getsockname()
    assert(u:sendto("x", "127.0.0.1", port))
    local set = {}
    u:waitset(set)
    local t0 = core.now()
    wait.wait(set, wait.left(math.huge)) -- a call without a deadline waits for its socket
    assert.is_true(core.now() - t0 < 1)
    assert.has_error(function() wait.wait(set, NAN) end)
    u:close()
  end)
end)
