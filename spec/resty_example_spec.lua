-- examples/openresty/vigi_app.lua inside a real nginx, given a wrong
-- password: its event watcher (a timer that tries vigi.connect again every
-- 10 s) stops at the auth error and says so, and no request sends the
-- refused password again. The camera counts one failed login in all.
local helper = require "spec.helper"
local core = require "vigi.core"
local json = require "vigi.json"

local nginx = require "spec.support.nginx"

describe("the OpenResty example", function()
  local sim, server

  setup(function()
    sim = helper.start_sim()
    -- the example's own handlers and watcher, with its settings given as
    -- the environment it reads (nginx's `env NAME=value`)
    server = nginx.start {
      log_level = "notice",
      main = {
        "env VIGI_HOST=" .. sim.host .. ";",
        "env VIGI_PORT=" .. sim.port .. ";",
        "env VIGI_STREAM_PORT=" .. sim.stream .. ";",
        "env VIGI_PASSWORD=not-the-password;",
      },
      lua_dirs = { helper.sh("pwd"):gsub("%s+$", "") .. "/examples/openresty" },
      http = {
        "lua_socket_log_errors off;",
        'init_worker_by_lua_block { require("vigi_app").start_watch() }',
      },
      server = { 'location = /info { content_by_lua_block { require("vigi_app").info() } }' },
    }
  end)

  teardown(function()
    if server then server:stop() end
    if sim then sim:stop() end
  end)

  it("stops its watcher at a refused login, and no request sends the password again", function()
    local log
    local stop = core.now() + 10
    repeat
      nginx.run("sleep 0.1")
      log = server:error_log() or ""
    until log:find("not watching events any more", 1, true) or core.now() > stop
    assert.truthy(log:find("not watching events any more", 1, true), log)
    for _ = 1, 3 do
      local out = helper.sh("env -u LD_PRELOAD curl -s --max-time 10 " .. server:url("/info"))
      local answer = assert(json.decode(out), out)
      assert.equal("auth", answer.kind)
      assert.truthy(answer.hint:find("not tried again", 1, true))
    end
    local l = sim:counters().logins
    assert.equal(1, l.failed)
    assert.equal(1, l.md5)
  end)
end)
