-- Start and stop vigi-sim, the simulated camera, from Lua: for the demo,
-- the examples and your own tests.
--
--   local sim = require("vigi.sim").start{ "--auth", "challenge" }
--   local cam = vigi.connect{ host = sim.host, port = sim.port, password = sim.password }
--   ...
--   sim:stop()
local json = require "vigi.json"

local _M = {}

local Sim = {}
Sim.__index = Sim
Sim.__name = "vigi.sim"

local function quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function exists(path)
  local f = io.open(path, "r")
  if f then f:close() return true end
  return false
end

-- package.searchpath, which Lua 5.1 lacks.
local function searchpath(name, path)
  if package.searchpath then return package.searchpath(name, path) end
  local file = name:gsub("%.", "/")
  for pattern in path:gmatch("[^;]+") do
    local candidate = pattern:gsub("%?", file)
    if exists(candidate) then return candidate end
  end
  return nil
end

-- The binary: $VIGI_SIM, else sim/vigi-sim of the checkout this module is
-- loaded from, else vigi-sim on the PATH.
function _M.binary()
  local env = os.getenv("VIGI_SIM")
  if env and env ~= "" then return env end
  local init = searchpath("vigi", package.path)
  local root = init and (init:match("^(.*)/lua/vigi/init%.lua$")
    or (init:match("^lua/vigi/init%.lua$") and "."))
  if root and exists(root .. "/sim/vigi-sim") then return root .. "/sim/vigi-sim" end
  return "vigi-sim"
end

-- start(args [, opts]) -> sim | nil, message. args: extra command-line
-- options. The sim listens on 127.0.0.1, on free ports (control and
-- discovery), with password "secret", unless args say otherwise.
-- opts.session: the sim runs in a session of its own, so that Ctrl-C at
-- the terminal does not stop it (`vigi shell --sim`). Nothing of the
-- terminal is left to it (stdin is /dev/null), and it ends with this
-- process however this one ends (--exit-with-parent): out of the
-- terminal's reach, it would otherwise outlive a killed shell.
function _M.start(args, opts)
  local argv = { _M.binary(), "--address", "127.0.0.1", "--control-port", "0" }
  local password = "secret"
  local session = opts and opts.session
  for i, a in ipairs(args or {}) do
    argv[#argv + 1] = a
    if a == "--password" then password = args[i + 1] end
  end
  if session then argv[#argv + 1] = "--exit-with-parent" end
  local given = {}
  for _, a in ipairs(argv) do given[a] = true end
  if not given["--password"] then
    argv[#argv + 1] = "--password"
    argv[#argv + 1] = password
  end
  -- Discovery on a free port too, so that sims never compete for 23001.
  if not given["--odp-port"] then
    argv[#argv + 1] = "--odp-port"
    argv[#argv + 1] = "0"
  end
  local words = {}
  for i, a in ipairs(argv) do words[i] = quote(a) end
  local log = os.getenv("VIGI_SIM_LOG") or "/dev/null"
  local pipe = io.popen("exec " .. (session and "setsid " or "") .. table.concat(words, " ")
    .. (session and " </dev/null" or "") .. " 2>>" .. quote(log), "r")
  local line = pipe and pipe:read("*l")
  if not line then
    if pipe then pipe:close() end
    return nil, "vigi-sim did not start (" .. argv[1] .. "); build it with `make`"
  end
  local ready = json.decode(line)
  if type(ready) ~= "table" then
    pipe:close()
    return nil, "vigi-sim printed something unexpected: " .. line:sub(1, 200)
  end
  ready.pipe, ready.host, ready.password = pipe, ready.address, password
  ready.port = math.floor(ready.control) -- decoded JSON numbers may be floats
  ready.stream = ready.stream and math.floor(ready.stream)
  return setmetatable(ready, Sim)
end

function Sim:stop()
  if self.pipe then
    os.execute("kill " .. math.floor(self.pid) .. " 2>/dev/null")
    self.pipe:close()
    self.pipe = nil
  end
end
Sim.__gc = Sim.stop
Sim.__close = Sim.stop

function Sim:__tostring()
  return string.format("vigi.sim{%s:%d%s}", self.host, self.port, self.pipe and "" or ", stopped")
end

return _M
