-- The globals of the shell: cam, vigi, connect, help, methods, watch,
-- unwatch, sleep, print, and sim with --sim. Everything else falls
-- through to Lua's own globals; what the user defines stays here.
--
--   env.new(sh) -> env        sh: the shell (lua/vigi/shell/init.lua): out(),
--                             password(), connect options, cameras,
--                             subscriptions, secrets
local vigi = require "vigi"
local core = require "vigi.core"
local json = require "vigi.json"
local errors = require "vigi.errors"
local methods = require "vigi.methods"
local apidoc = require "vigi.apidoc"
local streamapi = require "vigi.stream.api"
local camera = require "vigi.camera"
local transport = require "vigi.transport"
local guard = require "vigi.shell.guard"

local _M = {}

local Camera = camera.Camera

_M.HELP = [[
  cam                           the camera; cam:<TAB> lists its methods
  cam:getDeviceInfo()           a call: results print as Lua tables,
                                a refusal as `nil` and the error's line
  help(cam.setSpeakerVolume)    what a method takes (or help "name")
  methods("motion")             the methods whose name or group matches
  watch("MotionDetection", ...) print events as they come, the prompt stays
                                usable (all types when none are named)
  unwatch()                     stop watching
  connect(host [, options])     another camera, as vigi.connect; the
                                password from VIGI_PASSWORD or asked for
  sleep(seconds)                wait, while events print
  vigi                          the module: vigi.discover{...}, vigi.spawn(fn)
  Tab completes names, methods, and inside { } a method's parameters and
  their values. Ctrl-C stops the running call, Ctrl-D leaves.]]

-- function -> method name, for help(cam.method)
local by_function
local function method_of(fn)
  if not by_function then
    by_function = {}
    for name in pairs(methods.by_name) do
      if Camera[name] then by_function[Camera[name]] = name end
    end
    for _, row in ipairs(streamapi.list) do
      if Camera[row.name] then by_function[Camera[row.name]] = row.name end
    end
    for _, name in ipairs { "subscribe", "on", "off", "listen", "call", "record", "talk", "close", "login" } do
      if Camera[name] then by_function[Camera[name]] = name end
    end
  end
  return by_function[fn]
end

-- What one parameter takes, short: "on"|"off", 1..100, string, {...}.
local function takes(spec)
  if spec.enum then
    local v = {}
    for i, e in ipairs(spec.enum) do v[i] = string.format("%q", e) end
    if #v > 6 then return table.concat(v, "|", 1, 5) .. "|..." end
    return table.concat(v, "|")
  end
  if (spec.type == "int" or spec.type == "float") and spec.min and spec.max then
    return spec.min .. ".." .. spec.max
  end
  if spec.type == "array" then return "{ " .. (spec.items and takes(spec.items) or "...") .. ", ... }" end
  if spec.type == "object" then return "{ ... }" end
  if spec.type == "bool" then return "true|false" end
  return spec.type
end

-- cam:setMotionDetectionSwitch{ enabled = "on"|"off", sensitivity = 1..100, ... }
function _M.signature(row)
  if not row.params or #row.params == 0 then return "cam:" .. row.name .. "()" end
  local parts = {}
  for i, spec in ipairs(row.params) do parts[i] = spec.name .. " = " .. takes(spec) end
  local one = "cam:" .. row.name .. "{ " .. table.concat(parts, ", ") .. " }"
  if #one <= 78 then return one end
  return "cam:" .. row.name .. "{\n  " .. table.concat(parts, ",\n  ") .. "\n}"
end

local function stream_row(name)
  for _, row in ipairs(streamapi.list) do
    if row.name == name then return row end
  end
  return nil
end

-- The camera's Lua methods, and how the stream ones are called (their
-- request's parameters follow, from stream/api.lua).
local LUA_METHODS = {
  preview = "cam:preview{ resolution = \"HD\" } -> session: s:next(), s:frames(), s:close()",
  playback = "cam:playback{ start_time = t0, end_time = t1 } -> session (docs/streams.md)",
  download = "cam:download{ start_time = t0, end_time = t1, file = \"clip.bin\" }",
  subscribe = "cam:subscribe{ event_types = {...}, heartbeat = 15 } -> subscription: sub:next(), sub:close()",
  on = "cam:on(event_type, fn): call fn for each event (a subscription to all types)",
  off = "cam:off(event_type [, fn])",
  listen = "cam:listen(seconds): deliver events to the cam:on callbacks",
  call = "cam:call(name [, params]): any method by name",
  record = "cam:record{ seconds = 5, file = \"out.h264\" }",
  talk = "cam:talk{ file = \"hello.wav\" } or cam:talk{} then t:send_pcm(pcm)",
  close = "cam:close()",
  login = "cam:login(): log in again now",
}

local function help_text(what)
  local name = type(what) == "string" and what or (type(what) == "function" and method_of(what))
  if name then
    local row = methods.by_name[name] or stream_row(name)
    if row then
      local text = _M.signature(row) .. "  (" .. row.section .. ")\n" .. apidoc.describe(row)
      if LUA_METHODS[name] then text = LUA_METHODS[name] .. "\n" .. text end
      return text
    end
    if LUA_METHODS[name] then return LUA_METHODS[name] end
    return "no method " .. name .. "; methods(\"" .. name:sub(1, 6) .. "\") may find it"
  end
  if getmetatable(what) == Camera then
    return tostring(what) .. ": a camera with the " .. #methods.list
      .. " control methods of the document\n(methods() lists them), and subscribe, on, off, listen,"
      .. " preview, playback,\nrecord, download, talk, call, close"
  end
  if type(what) == "function" then return "a function; help(cam.method) describes the camera's" end
  return _M.HELP
end

local function event_line(ev, where)
  local t = os.date("%H:%M:%S", ev.time or os.time())
  if ev.kind == "event" then
    return string.format("-- %s  %s%s  (%s)", t, tostring(ev.event_type),
      ev.enhance and (" (" .. ev.enhance .. ")") or "", where)
  elseif ev.kind == "gap" then
    return string.format("-- subscription lost (%s) from %s to %s on %s: events may be missing",
      tostring(ev.reason), os.date("%H:%M:%S", ev.from), os.date("%H:%M:%S", ev.to), where)
  end
  return "-- " .. tostring(ev.error or ev.kind) .. " (" .. where .. ")"
end

-- A POST to the sim's admin path (docs/sim.md), through the client's own
-- HTTPS (the sim is on this machine, its certificate self-signed).
local function sim_admin(sim, path, body)
  local h = core.http()
  local r = transport.perform(h, {
    url = string.format("https://%s:%d/__sim__/%s", sim.host, sim.port, path),
    body = json.encode(body), timeout = 5, connect_timeout = 5, verify = false,
  })
  h:close()
  if r.outcome ~= "ok" or r.status ~= 200 then
    return errors.fail("network", "the sim's admin path answered " .. tostring(r.status or r.outcome))
  end
  return json.decode(r.body)
end

function _M.new(sh)
  local env = setmetatable({}, { __index = _G })
  -- The module, with spawn made safe: a task that raises prints its error
  -- instead of ending the shell.
  local v = {}
  for k, x in pairs(vigi) do v[k] = x end
  v.spawn = function(fn, ...)
    if type(fn) ~= "function" then error("vigi.spawn: expects a function", 2) end
    local args = { n = select("#", ...), ... }
    return vigi.spawn(function()
      local ok, err = guard.call(fn, nil, (table.unpack or unpack)(args, 1, args.n)) -- luacheck: ignore 143
      if not ok and err ~= guard.STOPPED then sh.out("-- a spawned task failed: " .. tostring(err)) end
    end)
  end
  env.vigi = v

  function env.print(...)
    local parts = {}
    for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
    sh.out(table.concat(parts, "\t"))
  end

  function env.help(what)
    if what == nil then
      sh.out(_M.HELP .. (sh.sim and "\n  sim:event(\"MotionDetection\")  the simulated camera sends an event" or ""))
      return
    end
    sh.out(help_text(what))
  end

  function env.methods(pattern)
    pattern = pattern and tostring(pattern):lower()
    local n = 0
    local function list(rows)
      for _, row in ipairs(rows) do
        if not pattern or row.name:lower():find(pattern, 1, true)
            or (row.group or ""):lower():find(pattern, 1, true) then
          sh.out(apidoc.describe(row))
          n = n + 1
        end
      end
    end
    list(methods.list)
    list(streamapi.list)
    if n == 0 then sh.out("no method matches " .. tostring(pattern)) end
  end

  function env.sleep(seconds) vigi.sleep(seconds) end

  function env.connect(host, o)
    if type(host) == "table" then o, host = host, host.host end
    if type(host) ~= "string" then error("connect(host [, options]): host must be a string", 2) end
    local opts = {}
    for k, x in pairs(sh.connect_defaults or {}) do opts[k] = x end
    for k, x in pairs(o or {}) do opts[k] = x end
    opts.host = host
    if opts.password == nil and opts.password_md5 == nil then
      local pw, err = sh.password()
      if not pw then return nil, err end
      opts.password = pw
    end
    sh.secret(opts.password)
    sh.secret(opts.password_md5)
    local c, err = vigi.connect(opts)
    if not c then return nil, err end
    sh.cameras[#sh.cameras + 1] = c
    if rawget(env, "cam") == nil then env.cam = c end
    return c
  end

  function env.watch(...)
    local args = { ... }
    local c = rawget(env, "cam")
    if getmetatable(args[1]) == Camera then c = table.remove(args, 1) end
    if not c then return errors.fail("invalid", "watch: no camera; connect(host) first") end
    if #args == 0 then args = { "all" } end
    local sub, err = c:subscribe { event_types = args }
    if not sub then return nil, err end
    sh.subscriptions[#sh.subscriptions + 1] = sub
    local where = c._where or tostring(c)
    vigi.spawn(function()
      local ok, werr = guard.call(function()
        while true do
          local ev = sub:next()
          if not ev then return end
          sh.out(event_line(ev, where))
        end
      end)
      if not ok and werr ~= guard.STOPPED then sh.out("-- watch ended: " .. tostring(werr)) end
    end)
    sh.out("-- watching " .. table.concat(args, ", ") .. " on " .. where .. "; unwatch() stops")
  end

  function env.unwatch()
    local n = #sh.subscriptions
    for i = n, 1, -1 do
      sh.subscriptions[i]:close()
      sh.subscriptions[i] = nil
    end
    sh.out("-- " .. n .. " watch" .. (n == 1 and "" or "es") .. " stopped")
  end

  if sh.sim then
    local sim = sh.sim
    -- sim:event("MotionDetection" [, count]): the simulated camera sends it.
    sim.event = function(_, event_type, count)
      local ok, err = sim_admin(sim, "event", { event_type = event_type or "MotionDetection", count = count })
      if not ok then return nil, err end
    end
    env.sim = sim
  end
  return env
end

return _M
