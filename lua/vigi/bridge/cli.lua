-- `vigi bridge`: the command's side of the bridge (lua/vigi/cli/init.lua hands
-- the verb over here).
--
--   vigi bridge --config bridge.conf
--   vigi bridge --sim 3 [--broker 127.0.0.1:1883] [--prefix vigi]   (a demo)
local _M = {}

local function stamp(line)
  io.stderr:write(os.date("%Y-%m-%d %H:%M:%S "), line, "\n")
  io.stderr:flush()
end

-- "host:port" or "host" (1883).
local function broker_of(s)
  if not s then return "127.0.0.1", 1883 end
  local host, port = s:match("^%[?([^%]]+)%]?:(%d+)$")
  if not host then host, port = s, "1883" end
  port = tonumber(port)
  if not port or port < 1 or port > 65535 then return nil end
  return host, port
end

-- A configuration for N cameras of a vigi-sim fleet started here. The
-- sim's password is not a secret; it reaches the bridge as if from the
-- environment, like any camera's.
local function sim_config(n, opts)
  local sim, err = require("vigi.sim").start { "--fleet", tostring(n) }
  if not sim then return nil, err end
  local host, port = broker_of(opts.broker)
  if not host then return nil, "--broker: HOST:PORT expected" end
  local cameras = {}
  for i, ip in ipairs(sim.addresses or { sim.host }) do
    cameras[i] = { name = "sim" .. i, host = ip, port = sim.port, password_env = "VIGI_SIM_PASSWORD" }
  end
  local t = { broker = { host = host, port = port }, cameras = cameras, prefix = opts.prefix }
  local user = os.getenv("VIGI_MQTT_USER")
  if user then t.broker.username, t.broker.password_env = user, "VIGI_MQTT_PASSWORD" end
  return t, sim
end

function _M.main(opts, words, cli)
  local eprint = cli.eprint
  local config = require "vigi.bridge.config"
  -- `--sim` is a flag (the shell's too): the count is the word after it
  local count = opts.sim and words[2]
  if words[count and 3 or 2] then eprint("vigi bridge: unexpected " .. words[count and 3 or 2]) return 2 end
  local cfg, err, sim
  local getenv = os.getenv
  if opts.config then
    if opts.sim then eprint("vigi bridge: give --config or --sim, not both") return 2 end
    cfg, err = config.load(opts.config)
  elseif opts.sim then
    local n = tonumber(count or "1")
    if not n or n < 1 or n > 4096 or n ~= math.floor(n) then
      eprint("vigi bridge: --sim N: a number of cameras from 1 to 4096") return 2
    end
    local t
    t, sim = sim_config(n, opts)
    if not t then eprint("vigi bridge: " .. tostring(sim)) return 1 end
    getenv = function(name)
      if name == "VIGI_SIM_PASSWORD" then return sim.password end
      return os.getenv(name)
    end
    cfg, err = config.check(t)
  else
    eprint("vigi bridge: give --config FILE (or --sim N for a demo with simulated cameras)")
    return 2
  end
  if not cfg then
    eprint("vigi bridge: " .. tostring(err))
    if sim then sim:stop() end
    return 1
  end
  local ok, rerr = require("vigi.bridge").run(cfg, { log = stamp, verbose = opts.verbose, getenv = getenv })
  if sim then sim:stop() end
  if not ok then eprint("vigi bridge: " .. tostring(rerr)) return 1 end
  return 0
end

return _M
