-- examples/openresty/vigi_app.lua inside a real nginx, given a wrong
-- password: its event watcher (a timer that tries vigi.connect again every
-- 10 s) stops at the auth error and says so, and no request sends the
-- refused password again. The camera counts one failed login in all.
local helper = require "spec.helper"
local core = require "vigi.core"
local json = require "vigi.json"

local NGINX = "/usr/sbin/nginx"
local MODULES = { "/usr/lib/nginx/modules/ndk_http_module.so", "/usr/lib/nginx/modules/ngx_http_lua_module.so" }

local function run(cmd)
  local a, _, code = os.execute(cmd)
  if type(a) == "number" then return a == 0 end
  return a == true and (code == nil or code == 0)
end

local function read(path)
  local f = io.open(path, "r")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

local function write(path, s)
  local f = assert(io.open(path, "w"))
  f:write(s)
  f:close()
end

-- The example's own handlers and watcher, with its settings given as the
-- environment it reads (nginx's `env NAME=value`).
local function nginx_conf(dir, root, port, sim, password)
  return table.concat({
    "load_module " .. MODULES[1] .. ";",
    "load_module " .. MODULES[2] .. ";",
    "worker_processes 1;",
    "daemon on;",
    "pid " .. dir .. "/nginx.pid;",
    "error_log " .. dir .. "/error.log notice;",
    "env VIGI_HOST=" .. sim.host .. ";",
    "env VIGI_PORT=" .. sim.port .. ";",
    "env VIGI_STREAM_PORT=" .. sim.stream .. ";",
    "env VIGI_PASSWORD=" .. password .. ";",
    "events { worker_connections 64; }",
    "http {",
    "  access_log off;",
    "  client_body_temp_path " .. dir .. "/tmp/body;",
    "  proxy_temp_path " .. dir .. "/tmp/proxy;",
    "  fastcgi_temp_path " .. dir .. "/tmp/fastcgi;",
    "  uwsgi_temp_path " .. dir .. "/tmp/uwsgi;",
    "  scgi_temp_path " .. dir .. "/tmp/scgi;",
    string.format('  lua_package_path "%s/examples/openresty/?.lua;%s/lua/?.lua;%s/lua/?/init.lua;;";',
      root, root, root),
    string.format('  lua_package_cpath "%s/build/luajit/?.so;;";', root),
    "  lua_socket_log_errors off;",
    '  init_worker_by_lua_block { require("vigi_app").start_watch() }',
    "  server {",
    "    listen 127.0.0.1:" .. port .. ";",
    '    location = /info { content_by_lua_block { require("vigi_app").info() } }',
    "  }",
    "}",
  }, "\n") .. "\n"
end

describe("the OpenResty example", function()
  local sim, dir, port, started

  setup(function()
    assert(run("test -x " .. NGINX) and read(MODULES[2]) ~= nil,
      "nginx or its lua module is missing: run tools/install-deps")
    local root = helper.sh("pwd"):gsub("%s+$", "")
    assert(run("make -s LUA=luajit build/luajit/vigi/core.so >/dev/null"))
    sim = helper.start_sim()
    dir = helper.sh("mktemp -d /tmp/vigi-resty-example.XXXXXX"):gsub("%s+$", "")
    run("chmod 755 " .. helper.quote(dir) .. "; mkdir -p " .. helper.quote(dir .. "/tmp"))
    math.randomseed(os.time() + math.floor(core.now() * 1000) % 100000)
    for _ = 1, 10 do
      port = math.random(20000, 32000)
      write(dir .. "/nginx.conf", nginx_conf(dir, root, port, sim, "not-the-password"))
      if run(string.format("env -u LD_PRELOAD -u LUA_PATH -u LUA_CPATH %s -p %s -c %s 2>>%s", NGINX,
          helper.quote(dir), helper.quote(dir .. "/nginx.conf"), helper.quote(dir .. "/error.log"))) then
        started = true
        break
      end
    end
    assert(started, "nginx did not start: " .. (read(dir .. "/error.log") or ""))
  end)

  teardown(function()
    local pid = dir and read(dir .. "/nginx.pid")
    pid = pid and pid:match("%d+")
    if pid then run("kill " .. pid .. " 2>/dev/null") end
    if dir then run("sleep 0.2; rm -rf " .. helper.quote(dir)) end
    if sim then sim:stop() end
  end)

  it("stops its watcher at a refused login, and no request sends the password again", function()
    local log
    local stop = core.now() + 10
    repeat
      run("sleep 0.1")
      log = read(dir .. "/error.log") or ""
    until log:find("not watching events any more", 1, true) or core.now() > stop
    assert.truthy(log:find("not watching events any more", 1, true), log)
    for _ = 1, 3 do
      local out = helper.sh(string.format("env -u LD_PRELOAD curl -s --max-time 10 http://127.0.0.1:%d/info", port))
      local answer = assert(json.decode(out), out)
      assert.equal("auth", answer.kind)
      assert.truthy(answer.hint:find("not tried again", 1, true))
    end
    local l = sim:counters().logins
    assert.equal(1, l.failed)
    assert.equal(1, l.md5)
  end)
end)
