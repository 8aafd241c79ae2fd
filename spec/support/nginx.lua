-- A real nginx with its lua module, for the specs that run vigi inside
-- OpenResty: one worker, daemonized, in a temp dir of its own, on a free
-- port, with the LuaJIT core of the checkout.
local helper = require "spec.helper"
local core = require "vigi.core"

local M = {}

M.NGINX = "/usr/sbin/nginx"
M.MODULES = { "/usr/lib/nginx/modules/ndk_http_module.so", "/usr/lib/nginx/modules/ngx_http_lua_module.so" }

-- os.execute's success, in Lua 5.1 and 5.2+ alike.
function M.run(cmd)
  local a, _, code = os.execute(cmd)
  if type(a) == "number" then return a == 0 end
  return a == true and (code == nil or code == 0)
end

M.read = helper.read_file

function M.write(path, s)
  local f = assert(io.open(path, "w"))
  f:write(s)
  f:close()
end

local function conf(dir, root, port, o)
  local function at(l) return (l:gsub("%$dir", dir)) end
  local lua_path = {}
  for _, d in ipairs(o.lua_dirs or {}) do lua_path[#lua_path + 1] = at(d) .. "/?.lua;" end
  local lines = {
    "load_module " .. M.MODULES[1] .. ";",
    "load_module " .. M.MODULES[2] .. ";",
    "worker_processes 1;",
    "daemon on;",
    "pid " .. dir .. "/nginx.pid;",
    "error_log " .. dir .. "/error.log " .. (o.log_level or "info") .. ";",
  }
  for _, l in ipairs(o.main or {}) do lines[#lines + 1] = at(l) end
  local rest = {
    "events { worker_connections 256; }",
    "http {",
    "  access_log " .. (o.access_log and (dir .. "/access.log") or "off") .. ";",
    "  client_body_temp_path " .. dir .. "/tmp/body;",
    "  proxy_temp_path " .. dir .. "/tmp/proxy;",
    "  fastcgi_temp_path " .. dir .. "/tmp/fastcgi;",
    "  uwsgi_temp_path " .. dir .. "/tmp/uwsgi;",
    "  scgi_temp_path " .. dir .. "/tmp/scgi;",
    string.format('  lua_package_path "%s%s/lua/?.lua;%s/lua/?/init.lua;%s/?.lua;;";',
      table.concat(lua_path), root, root, root),
    string.format('  lua_package_cpath "%s/build/luajit/?.so;;";', root),
  }
  for _, l in ipairs(rest) do lines[#lines + 1] = l end
  for _, l in ipairs(o.http or {}) do lines[#lines + 1] = "  " .. at(l) end
  lines[#lines + 1] = "  server {"
  lines[#lines + 1] = "    listen 127.0.0.1:" .. port .. ";"
  for _, l in ipairs(o.server or {}) do lines[#lines + 1] = "    " .. at(l) end
  lines[#lines + 1] = "  }"
  lines[#lines + 1] = "}"
  return table.concat(lines, "\n") .. "\n"
end

local Nginx = {}
Nginx.__index = Nginx

function Nginx:url(path) return "http://127.0.0.1:" .. self.port .. path end
function Nginx:error_log() return M.read(self.dir .. "/error.log") or "" end

-- Stops nginx (waiting up to 5 s for it to go) and removes its dir, unless
-- VIGI_KEEP_NGINX_DIR is set.
function Nginx:stop()
  local pid = M.read(self.dir .. "/nginx.pid")
  pid = pid and tonumber(pid:match("%d+"))
  if pid then
    M.run("kill " .. pid .. " 2>/dev/null")
    local stop = core.now() + 5
    while M.run("kill -0 " .. pid .. " 2>/dev/null") and core.now() < stop do M.run("sleep 0.05") end
  end
  if os.getenv("VIGI_KEEP_NGINX_DIR") then print("nginx dir kept: " .. self.dir)
  else M.run("rm -rf " .. helper.quote(self.dir)) end
end

-- start{ main =, http =, server = (lines of the conf's main, http and
-- server blocks; "$dir" in them stands for nginx's dir), lua_dirs = { dirs for require }, log_level =,
-- access_log = true, prepare = function(dir) end (before nginx starts) }
-- -> nginx { dir, port, root }. Raises with a message saying what to do.
function M.start(o)
  local f = io.open(M.MODULES[2], "r")
  if f then f:close() end
  assert(f and M.run("test -x " .. M.NGINX),
    "nginx or its lua module is missing (" .. M.NGINX .. ", " .. M.MODULES[2] .. "): run tools/install-deps")
  assert(M.run("make -s LUA=luajit build/luajit/vigi/core.so >/dev/null"),
    "cannot build the core for LuaJIT (make LUA=luajit build/luajit/vigi/core.so)")
  local self = setmetatable({ root = helper.sh("pwd"):gsub("%s+$", "") }, Nginx)
  self.dir = helper.sh("mktemp -d /tmp/vigi-nginx.XXXXXX"):gsub("%s+$", "")
  M.run("chmod 755 " .. helper.quote(self.dir) .. "; mkdir -p " .. helper.quote(self.dir .. "/tmp"))
  if o.prepare then o.prepare(self.dir) end
  -- A free port: nginx refuses to start on a taken one, so try a few.
  math.randomseed(os.time() + math.floor(core.now() * 1000) % 100000)
  for _ = 1, 10 do
    self.port = math.random(20000, 32000) -- below the ephemeral range
    M.write(self.dir .. "/nginx.conf", conf(self.dir, self.root, self.port, o))
    if M.run(string.format("env -u LD_PRELOAD -u LUA_PATH -u LUA_CPATH %s -p %s -c %s 2>>%s", M.NGINX,
        helper.quote(self.dir), helper.quote(self.dir .. "/nginx.conf"), helper.quote(self.dir .. "/error.log"))) then
      return self
    end
  end
  error("nginx did not start; see " .. self.dir .. "/error.log:\n" .. self:error_log())
end

return M
