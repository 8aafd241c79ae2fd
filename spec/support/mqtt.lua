-- For the bridge's specs: a real mosquitto broker on a free loopback port
-- with a configuration of its own (no persistence, everything in a
-- temporary directory), the Debian mosquitto clients to watch and publish
-- (independent of the binding under test), and the bridge itself started
-- as `vigi bridge --config FILE` in a process of its own.
local core = require "vigi.core"
local wait = require "vigi.wait"
local helper = require "spec.helper"

local M = {}
local q = helper.quote

local function sh(cmd) return helper.sh(cmd) end

local function read_file(path) return helper.read_file(path) or "" end
M.read_file = read_file

local function write_file(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end
M.write_file = write_file

function M.tmpdir()
  return (sh("mktemp -d /tmp/vigi-bridge-spec.XXXXXX"):gsub("%s+$", ""))
end

-- Whether a process runs (a zombie, ended but not yet reaped by its new
-- parent, does not).
local function alive(pid)
  if not pid then return false end
  local stat = read_file("/proc/" .. pid .. "/stat")
  local state = stat:match("^%d+ %b() (%a)")
  return state ~= nil and state ~= "Z"
end
M.alive = alive

-- Starts `cmd` in the background with its output in `log`; returns its pid.
local function spawn(cmd, log)
  local out = sh("exec " .. cmd .. " >" .. q(log) .. " 2>&1 & echo $!")
  return tonumber(out:match("%d+"))
end

local Broker = {}
Broker.__index = Broker

-- Starts mosquitto on `port` (or a free one): true once it listens.
function Broker:_start(port)
  for _ = 1, 20 do
    local p = port or math.random(20000, 59000)
    write_file(self.dir .. "/mosquitto.conf", table.concat({
      "listener " .. p .. " 127.0.0.1",
      "allow_anonymous true",
      "persistence false",
      "log_dest stderr",
      "log_type error",
      "log_type warning",
      "log_type notice",
      "log_type information",
      "",
    }, "\n"))
    local log = self.dir .. "/mosquitto.log"
    self.pid = spawn("env -u LD_PRELOAD mosquitto -c " .. q(self.dir .. "/mosquitto.conf"), log)
    local stop = core.now() + 3
    while core.now() < stop do
      local text = read_file(log)
      if text:find("running", 1, true) then
        self.port = p
        return true
      end
      if not alive(self.pid) then break end
      wait.sleep(0.02)
    end
    os.execute("kill " .. self.pid .. " 2>/dev/null")
    if port then
      -- the same port again (a restart): it may take a moment to be free
      wait.sleep(0.2)
    end
  end
  error("mosquitto did not start: " .. read_file(self.dir .. "/mosquitto.log"))
end

function M.start_broker()
  local self = setmetatable({ dir = M.tmpdir() }, Broker)
  self:_start()
  return self
end

function Broker:kill()
  if self.pid then os.execute("kill -9 " .. self.pid .. " 2>/dev/null") end
  while alive(self.pid) do wait.sleep(0.02) end
  self.pid = nil
end

function Broker:restart()
  self:kill()
  self:_start(self.port)
end

function Broker:stop()
  self:kill()
  os.execute("rm -rf " .. q(self.dir))
end

-- Messages on `topic` (a filter), for `secs` seconds or until `count`:
-- a list of { retain = bool, time = unix seconds, topic =, payload = }.
local function parse(text)
  local out = {}
  for line in text:gmatch("[^\n]+") do
    local r, t, topic, payload = line:match("^([01])|([%d%.]+)|([^|]*)|(.*)$")
    if r then
      out[#out + 1] = { retain = r == "1", time = tonumber(t), topic = topic, payload = payload }
    end
  end
  return out
end

local function sub_cmd(port, topic, secs, count, retained_only)
  return "env -u LD_PRELOAD mosquitto_sub -h 127.0.0.1 -p " .. port .. " -t " .. q(topic) ..
    " -F '%r|%U|%t|%p' -W " .. math.max(1, math.ceil(secs)) ..
    (count and (" -C " .. count) or "") .. (retained_only and " --retained-only" or "")
end

function Broker:sub(topic, secs, count)
  return parse(sh(sub_cmd(self.port, topic, secs, count) .. " 2>/dev/null"))
end

-- What the broker keeps under `topic` (a filter) now: the retained
-- messages a new subscriber gets at once (they all come right after the
-- subscription is acknowledged, so a short look sees them).
function Broker:retained(topic)
  local w = self:watch(topic, 5)
  wait.sleep(0.2)
  local out = {}
  for _, m in ipairs(w:messages()) do
    if m.retain then out[#out + 1] = m end
  end
  w:stop()
  return out
end

-- The same as a map: topic -> payload.
function Broker:snapshot(topic)
  local map = {}
  for _, m in ipairs(self:retained(topic)) do map[m.topic] = m.payload end
  return map
end

-- A subscriber in the background: :messages() reads what it got so far,
-- :wait(n, secs) until it has n.
local Watch = {}
Watch.__index = Watch

function Broker:watch(topic, secs, count)
  local file = os.tmpname()
  local pid = spawn(sub_cmd(self.port, topic, secs or 30, count), file)
  local w = setmetatable({ file = file, pid = pid }, Watch)
  -- the subscription is in place once the broker has it; a short pause
  -- is enough on loopback, and retained messages come first anyway
  wait.sleep(0.2)
  return w
end

function Watch:messages() return parse(read_file(self.file)) end

function Watch:wait(n, secs, pred)
  local stop = core.now() + secs
  while true do
    local got = self:messages()
    local k = 0
    for _, m in ipairs(got) do if not pred or pred(m) then k = k + 1 end end
    if k >= n or core.now() >= stop then return got end
    wait.sleep(0.05)
  end
end

function Watch:stop()
  if self.pid then os.execute("kill " .. self.pid .. " 2>/dev/null") end
  self.pid = nil
  os.remove(self.file)
end

function Broker:pub(topic, payload, retain)
  sh("env -u LD_PRELOAD mosquitto_pub -h 127.0.0.1 -p " .. self.port .. " -t " .. q(topic) ..
    " -m " .. q(payload) .. (retain and " -r" or "") .. " 2>&1")
end

-- Waits until `pred()` is true (checked every 50 ms) or `secs` passed.
function M.eventually(secs, pred)
  local stop = core.now() + secs
  while core.now() < stop do
    local v = pred()
    if v then return v end
    wait.sleep(0.05)
  end
  return pred()
end

-- The interpreter running the specs, for the bridge's own process.
local function lua_binary()
  if jit then return "luajit" end
  return "lua" .. _VERSION:match("%d+%.%d+")
end

local Bridge = {}
Bridge.__index = Bridge

-- start_bridge(config_text) -> bridge: `vigi bridge --config` on a file
-- holding config_text, with this checkout's modules.
function M.start_bridge(text, dir)
  dir = dir or M.tmpdir()
  local conf = dir .. "/bridge.conf"
  write_file(conf, text)
  -- the C modules built for this Lua first (where .busted finds them)
  local cdir = jit and "build/luajit" or ({ ["Lua 5.1"] = "build/lua5.1", ["Lua 5.3"] = "build/lua5.3" })[_VERSION]
    or "lua"
  local cpath = cdir .. "/?.so;" .. package.cpath
  local env = "env -u LD_PRELOAD LUA_PATH=" .. q(package.path) .. " LUA_CPATH=" .. q(cpath)
  local log = dir .. "/bridge.log"
  -- bin/vigi would load the modules built for Lua 5.4; this launcher
  -- takes the ones of the Lua running the specs
  local launcher = dir .. "/vigi.lua"
  write_file(launcher, 'os.exit(require("vigi.cli").main(arg))\n')
  local pid = spawn(env .. " " .. lua_binary() .. " " .. q(launcher) .. " bridge --config " .. q(conf), log)
  return setmetatable({ pid = pid, log = log, dir = dir }, Bridge)
end

function Bridge:output() return read_file(self.log) end

-- kill -9: as if the bridge died.
function Bridge:kill()
  if self.pid then os.execute("kill -9 " .. self.pid .. " 2>/dev/null") end
  while alive(self.pid) do wait.sleep(0.02) end
  self.pid = nil
end

function Bridge:stop()
  if self.pid then os.execute("kill " .. self.pid .. " 2>/dev/null") end
  while alive(self.pid) do wait.sleep(0.02) end
  self.pid = nil
end

return M
