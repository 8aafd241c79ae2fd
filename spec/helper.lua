-- Shared by the specs: start a vigi-sim on free ports, talk to its admin
-- path, stop it. Every spec that needs a camera starts its own.
local json = require "vigi.json"
local vigisim = require "vigi.sim"

local helper = {}

helper.PASSWORD = "secret"

-- Admin helpers, added to the sims the specs start.
local Admin = {}

-- A word for sh, single-quoted.
function helper.quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
local shell_quote = helper.quote

-- Everything a shell command prints on stdout.
function helper.sh(cmd)
  local p = assert(io.popen(cmd, "r"))
  local out = p:read("*a")
  p:close()
  return out
end

-- A file's whole contents, or nil when it cannot be read.
function helper.read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

-- start_sim{ "--auth", "challenge", ... } -> sim with .host, .port, .pin.
-- VIGI_SIM_ARGS adds options to every sim, e.g. --close-after-answer to run
-- a whole suite against a camera that hangs up after every answer.
function helper.start_sim(args)
  local argv = { "--password", helper.PASSWORD }
  for _, a in ipairs(args or {}) do argv[#argv + 1] = a end
  for a in (os.getenv("VIGI_SIM_ARGS") or ""):gmatch("%S+") do argv[#argv + 1] = a end
  local sim = assert(vigisim.start(argv))
  for k, f in pairs(Admin) do sim[k] = f end
  return sim
end

-- The admin path (docs/sim.md), through the curl command: independent of
-- the client under test.
function Admin:admin(verb, path, body)
  local cmd = string.format("env -u LD_PRELOAD curl -sk --max-time 5 -X %s https://%s:%d/__sim__/%s", verb,
    self.host, self.port, path)
  if body then
    cmd = cmd .. " -H 'Content-Type: application/json' -d " .. shell_quote(json.encode(body))
  end
  local p = assert(io.popen(cmd, "r"))
  local out = p:read("*a")
  p:close()
  if out == "" then return nil end
  return assert(json.decode(out), "admin answer is not JSON: " .. out)
end

-- The admin path of one camera of a fleet (its address).
function helper.admin_at(sim, host, verb, path, body)
  return Admin.admin({ host = host, port = sim.port }, verb, path, body)
end

-- This process's id (for /proc/<pid>/...).
function helper.pid()
  local f = assert(io.open("/proc/self/stat", "r"))
  -- ("*l": Lua 5.1 knows no "n" without its star, and reads no number first)
  local pid = tonumber(f:read("*l"):match("^(%d+)"))
  f:close()
  return pid
end

function Admin:counters() return self:admin("GET", "counters") end
function Admin:state() return self:admin("GET", "state") end
function Admin:reset(full) return self:admin("POST", "reset", full and { state = true } or nil) end
function Admin:config(t) return self:admin("POST", "config", t) end
function Admin:fault(t) return self:admin("POST", "fault", t) end
function Admin:expire_tokens() return self:admin("POST", "expire_tokens") end
function Admin:unlock() return self:admin("POST", "unlock") end
function Admin:password(p) return self:admin("POST", "password", { password = p }) end

-- The stream side (docs/sim.md).
function Admin:stream_config(t) return self:admin("POST", "stream_config", t) end
function Admin:stream_fault(t) return self:admin("POST", "stream_fault", t) end
function Admin:stream_state() return self:admin("GET", "stream_state") end
function Admin:talk() return self:admin("GET", "talk") end
function Admin:stream_file() return self:admin("GET", "stream_file") end

-- Calls of one method the sim received (0 when none).
function Admin:calls(method)
  return self:counters().calls[method] or 0
end

-- Connection options for this sim; `extra` overrides (false removes).
function Admin:options(extra)
  local o = { host = self.host, port = self.port, password = helper.PASSWORD, timeout = 5,
              stream_port = self.stream }
  for k, v in pairs(extra or {}) do
    if v == false then o[k] = nil else o[k] = v end
  end
  return o
end

return helper
