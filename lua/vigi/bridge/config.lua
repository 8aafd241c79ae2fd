-- The bridge's configuration: a Lua file holding one table (docs/bridge.md).
--
--   return {
--     broker = { host = "127.0.0.1", port = 1883, username = "vigi", password_env = "MQTT_PASSWORD" },
--     cameras = {
--       { name = "garage", host = "192.0.2.7", password_file = "/etc/vigi/garage.pass" },
--     },
--   }
--
-- The file is data: it runs with an empty environment (no os, no io, no
-- require), so it cannot do anything but build tables. Secrets are never
-- in it: a password comes from an environment variable (`password_env`)
-- or from a file (`password_file`, its first line), so that the
-- configuration can be shown, shared and kept in version control. The
-- check refuses what it does not know, naming where it is, before
-- anything connects.
local errors = require "vigi.errors"
local controls = require "vigi.bridge.controls"
local hostname = require "vigi.host"

local _M = {}

local DEFAULTS = {
  prefix = "vigi", discovery_prefix = "homeassistant", discovery = true,
  hold = 10, heartbeat = 15, poll = 60, password_check = 10,
  retry_min = 1, retry_max = 300,
}
local BROKER_DEFAULTS = { host = "127.0.0.1", port = 1883, keepalive = 30,
  retry_min = 0.5, retry_max = 30, client_id = "vigi-bridge" }

-- Everything of a camera entry; (c) marks what may also be given at the
-- top, for every camera.
local CAMERA_KEYS = {
  name = true, host = true, port = true, username = true, password_env = true, password_file = true,
  tls = true, path_suffix = true, timeout = true, connect_timeout = true,
  hold = "c", events = "c", controls = "c", heartbeat = "c", poll = "c",
}
local TOP_KEYS = {
  broker = true, cameras = true, prefix = true, discovery_prefix = true, discovery = true,
  password_check = true, retry_min = true, retry_max = true,
  hold = true, events = true, controls = true, heartbeat = true, poll = true,
}
local BROKER_KEYS = {
  host = true, port = true, username = true, password_env = true, password_file = true,
  tls = true, client_id = true, keepalive = true, retry_min = true, retry_max = true,
}
local TLS_BROKER_KEYS = { cafile = true, capath = true, certfile = true, keyfile = true, insecure = true }
local TLS_CAMERA_KEYS = { verify = true, cafile = true, pin = true }

local function bad(where, msg) return errors.fail("invalid", where .. ": " .. msg) end

-- A name that is one MQTT topic level and one Home Assistant object id.
local function topic_word(s) return type(s) == "string" and #s >= 1 and #s <= 64 and s:match("^[%w_%-]+$") end

local function unknown_keys(t, known, where)
  for k in pairs(t) do
    if not known[k] then
      if k == "password" or k == "password_md5" then
        return bad(where, "a password is never written in the configuration: give `password_env` " ..
          "(the name of an environment variable) or `password_file` (a file whose first line is it)")
      end
      return bad(where, "unknown setting `" .. tostring(k) .. "`")
    end
  end
  return true
end

local function number(t, k, where, min, max, integer)
  local v = t[k]
  if v == nil then return true end
  if type(v) ~= "number" or v ~= v or v < min or v > max or (integer and v ~= math.floor(v)) then
    return bad(where, "`" .. k .. "` must be " .. (integer and "an integer" or "a number") ..
      " from " .. min .. " to " .. max)
  end
  return true
end

local function string_field(t, k, where)
  if t[k] ~= nil and (type(t[k]) ~= "string" or t[k] == "") then
    return bad(where, "`" .. k .. "` must be a non-empty string")
  end
  return true
end

local function check_list(v, allowed, what, where)
  if type(v) ~= "table" then return bad(where, "`" .. what .. "` must be a list") end
  local set = {}
  for _, a in ipairs(allowed) do set[a] = true end
  for _, x in ipairs(v) do
    if not set[x] then
      return bad(where, "`" .. what .. "`: " .. tostring(x) .. " is not one of " .. table.concat(allowed, ", "))
    end
  end
  return true
end

local EVENT_NAMES = {}
for i, d in ipairs(controls.DETECTIONS) do EVENT_NAMES[i] = d.event end

local function check_secret_source(t, where, required)
  if t.password_env ~= nil and t.password_file ~= nil then
    return bad(where, "give `password_env` or `password_file`, not both")
  end
  local ok, err = string_field(t, "password_env", where)
  if not ok then return nil, err end
  ok, err = string_field(t, "password_file", where)
  if not ok then return nil, err end
  if required and t.password_env == nil and t.password_file == nil then
    return bad(where, "give `password_env` (an environment variable) or `password_file`")
  end
  return true
end

local function check_camera(c, i, top, seen)
  local where = "cameras[" .. i .. "]"
  if type(c) ~= "table" then return bad(where, "must be a table") end
  if type(c.name) == "string" then where = where .. " (" .. c.name .. ")" end
  local ok, err = unknown_keys(c, CAMERA_KEYS, where)
  if not ok then return nil, err end
  if not topic_word(c.name) then
    return bad(where, "`name` must be 1..64 letters, digits, '_' or '-' (it is an MQTT topic level)")
  end
  if c.name == "bridge" then return bad(where, "`bridge` is the bridge's own topic; choose another name") end
  if seen[c.name] then return bad(where, "the name `" .. c.name .. "` is given twice") end
  seen[c.name] = true
  if type(c.host) ~= "string" or not hostname.check(c.host) then
    return bad(where, "`host` must be an address or a host name")
  end
  for _, f in ipairs {
    function() return number(c, "port", where, 1, 65535, true) end,
    function() return number(c, "timeout", where, 0.1, 3600) end,
    function() return number(c, "connect_timeout", where, 0.1, 3600) end,
    function() return string_field(c, "username", where) end,
    function() return check_secret_source(c, where, true) end,
  } do
    ok, err = f()
    if not ok then return nil, err end
  end
  if c.path_suffix ~= nil and type(c.path_suffix) ~= "string" then
    return bad(where, "`path_suffix` must be a string")
  end
  if c.tls ~= nil then
    if type(c.tls) ~= "table" then return bad(where, "`tls` must be a table") end
    ok, err = unknown_keys(c.tls, TLS_CAMERA_KEYS, where .. ".tls")
    if not ok then return nil, err end
  end
  local out = {}
  for k, v in pairs(c) do out[k] = v end
  for k, scope in pairs(CAMERA_KEYS) do
    if scope == "c" and out[k] == nil then out[k] = top[k] end
  end
  return out
end

-- Settings every camera may take from the top, checked in either place.
local function check_shared(t, where)
  local ok, err
  for _, f in ipairs {
    function() return number(t, "hold", where, 0, 86400) end,
    function() return number(t, "heartbeat", where, 1, 60, true) end,
    function() return number(t, "poll", where, 0.5, 86400) end,
  } do
    ok, err = f()
    if not ok then return nil, err end
  end
  if t.events ~= nil then
    ok, err = check_list(t.events, EVENT_NAMES, "events", where)
    if not ok then return nil, err end
  end
  if t.controls ~= nil then
    ok, err = check_list(t.controls, controls.GROUPS, "controls", where)
    if not ok then return nil, err end
  end
  return true
end

-- check(t) -> config | nil, err: the table filled with the defaults.
function _M.check(t)
  if type(t) ~= "table" then return bad("configuration", "must be a table") end
  local ok, err = unknown_keys(t, TOP_KEYS, "configuration")
  if not ok then return nil, err end
  local cfg = {}
  for k, v in pairs(DEFAULTS) do cfg[k] = v end
  for k, v in pairs(t) do cfg[k] = v end
  cfg.events = t.events or EVENT_NAMES
  cfg.controls = t.controls or controls.DEFAULT_GROUPS
  ok, err = check_shared(cfg, "configuration")
  if not ok then return nil, err end
  for _, k in ipairs { "prefix", "discovery_prefix" } do
    if not topic_word(cfg[k]) then
      return bad("configuration", "`" .. k .. "` must be 1..64 letters, digits, '_' or '-'")
    end
  end
  ok, err = number(cfg, "password_check", "configuration", 0.1, 86400)
  if not ok then return nil, err end
  ok, err = number(cfg, "retry_min", "configuration", 0.01, 86400)
  if not ok then return nil, err end
  ok, err = number(cfg, "retry_max", "configuration", cfg.retry_min, 86400)
  if not ok then return nil, err end
  -- broker
  local b = t.broker or {}
  if type(b) ~= "table" then return bad("broker", "must be a table") end
  ok, err = unknown_keys(b, BROKER_KEYS, "broker")
  if not ok then return nil, err end
  cfg.broker = {}
  for k, v in pairs(BROKER_DEFAULTS) do cfg.broker[k] = v end
  for k, v in pairs(b) do cfg.broker[k] = v end
  b = cfg.broker
  if type(b.host) ~= "string" or not hostname.check(b.host) then
    return bad("broker", "`host` must be an address or a host name")
  end
  for _, f in ipairs {
    function() return number(b, "port", "broker", 1, 65535, true) end,
    function() return number(b, "keepalive", "broker", 5, 65535, true) end,
    function() return number(b, "retry_min", "broker", 0.01, 3600) end,
    function() return number(b, "retry_max", "broker", b.retry_min, 3600) end,
    function() return string_field(b, "username", "broker") end,
    function() return check_secret_source(b, "broker", false) end,
  } do
    ok, err = f()
    if not ok then return nil, err end
  end
  if (b.password_env or b.password_file) and not b.username then
    return bad("broker", "a broker password needs a `username`")
  end
  if type(b.client_id) ~= "string" or #b.client_id < 1 or #b.client_id > 23 or
      not b.client_id:match("^[%w_%-]+$") then
    return bad("broker", "`client_id` must be 1..23 letters, digits, '_' or '-'")
  end
  if b.tls ~= nil then
    if type(b.tls) ~= "table" then return bad("broker", "`tls` must be a table") end
    ok, err = unknown_keys(b.tls, TLS_BROKER_KEYS, "broker.tls")
    if not ok then return nil, err end
    if not b.tls.cafile and not b.tls.capath then
      return bad("broker.tls", "give `cafile` or `capath` (the certificates the broker's is checked against)")
    end
  end
  -- cameras
  if type(t.cameras) ~= "table" or #t.cameras == 0 then
    return bad("configuration", "`cameras` must list at least one camera")
  end
  cfg.cameras = {}
  local seen = {}
  for i, c in ipairs(t.cameras) do
    local cc, cerr = check_camera(c, i, cfg, seen)
    if not cc then return nil, cerr end
    ok, err = check_shared(cc, "cameras[" .. i .. "] (" .. cc.name .. ")")
    if not ok then return nil, err end
    cfg.cameras[i] = cc
  end
  return cfg
end

-- Runs the file's text with an empty environment; the table is what it
-- returns, or else the globals it set.
local function run_chunk(text, name)
  local env = {}
  local fn, err
  if setfenv then -- Lua 5.1, LuaJIT
    fn, err = loadstring(text, "=" .. name) -- luacheck: ignore 113
    if fn then setfenv(fn, env) end
  else
    fn, err = load(text, "=" .. name, "t", env)
  end
  if not fn then return nil, err end
  local ok, res = pcall(fn)
  if not ok then return nil, res end
  if type(res) == "table" then return res end
  return env
end

local MAX_FILE = 1024 * 1024

-- load(path) -> config | nil, err
function _M.load(path)
  local f, oerr = io.open(path, "rb")
  if not f then return bad("configuration", "cannot read " .. tostring(oerr)) end
  local text = f:read(MAX_FILE + 1) or ""
  f:close()
  if #text > MAX_FILE then return bad(path, "larger than 1 MiB; is it the right file?") end
  if text:byte(1) == 27 then return bad(path, "is compiled Lua; give the text") end
  local t, err = run_chunk(text, path)
  if not t then return bad("configuration", tostring(err)) end
  return _M.check(t)
end

local MAX_SECRET = 4096

-- secret(t, what [, getenv]) -> value | nil (none configured) | nil, err
-- The password of a camera or of the broker, from its source, read now:
-- a file may be changed while the bridge runs (a new password).
function _M.secret(t, what, getenv)
  getenv = getenv or os.getenv
  if t.password_env then
    local v = getenv(t.password_env)
    if v == nil or v == "" then
      return bad(what, "its password comes from the environment variable " .. t.password_env .. ", which is not set")
    end
    return v
  elseif t.password_file then
    local f, err = io.open(t.password_file, "rb")
    if not f then return bad(what, "cannot read its password file: " .. tostring(err)) end
    local text = f:read(MAX_SECRET + 1) or ""
    f:close()
    if #text > MAX_SECRET then return bad(what, "its password file " .. t.password_file .. " is too large") end
    local line = text:match("^([^\r\n]*)")
    if line == "" then return bad(what, "its password file " .. t.password_file .. " is empty") end
    return line
  end
  return nil
end

return _M
