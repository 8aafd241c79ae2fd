-- `vigi shell`: a Lua prompt for trying a camera out (docs/shell.md).
--
--   vigi shell HOST [options]     connects, binds `cam`, and reads lines
--   vigi shell --sim              the same against a vigi-sim it starts
--
-- Each line is run as Lua (as an expression first, so that `cam:getX()`
-- prints its result), in an environment of its own (shell/env.lua);
-- results print through shell/show.lua. The read loop is a vigi.run task:
-- it waits for stdin, Ctrl-C and the sockets of the running call at once
-- through wait.lua, so event watchers (watch()) print while the prompt
-- waits, and Ctrl-C ends the call, not the shell (shell/guard.lua).
-- On a terminal, lines are edited with GNU readline when its Lua binding
-- is installed (lua-readline), with history and completion
-- (shell/input.lua, shell/complete.lua); otherwise, and when stdin is not
-- a terminal, lines are read as they are (a script can be piped in).
local vigi = require "vigi"
local core = require "vigi.core"
local errors = require "vigi.errors"
local show = require "vigi.shell.show"
local guard = require "vigi.shell.guard"
local complete = require "vigi.shell.complete"

local term = core.term

local _M = {}

local PROMPT, MORE = "vigi> ", ">> "

-- Lua's own chunks, in an environment, on every version.
local function load_in(src, env)
  if setfenv and loadstring then -- luacheck: ignore 143
    local f, err = loadstring(src, "=stdin") -- luacheck: ignore 143
    if f then setfenv(f, env) end -- luacheck: ignore 143
    return f, err
  end
  return load(src, "=stdin", "t", env)
end

-- An expression first (its values are printed), else statements. Under
-- LuaJIT the chunk is not compiled to machine code: compiled loops do not
-- run the count hook by which Ctrl-C stops a computation.
function _M.compile(src, env)
  local f, err = load_in("return " .. src, env)
  if not f then f, err = load_in(src, env) end
  if f and jit then jit.off(f, true) end
  return f, err
end

-- Whether a compile error only says that the chunk is not finished.
function _M.incomplete(err)
  return type(err) == "string" and err:find("<eof>'?$") ~= nil
end

-- Where the history is kept: $XDG_STATE_HOME/vigi/history.
function _M.history_path()
  local base = os.getenv("XDG_STATE_HOME")
  if not base or base == "" then
    local home = os.getenv("HOME")
    if not home or home == "" then return nil end
    base = home .. "/.local/state"
  end
  return base .. "/vigi/history"
end

-- Replace every plain occurrence of `s` in text.
local function hide(text, s)
  local out, pos = {}, 1
  while true do
    local a, b = text:find(s, pos, true)
    if not a then break end
    out[#out + 1] = text:sub(pos, a - 1)
    out[#out + 1] = "<hidden>"
    pos = b + 1
  end
  out[#out + 1] = text:sub(pos)
  return table.concat(out)
end

-- Names that mark a line as holding a secret (kept out of the history):
-- patterns, matched in lower case.
local SECRET_WORDS = { "pass", "pwd", "secret", "stok", "token", "md5", "%f[%w]pw%f[%W]" }

local function open_readline()
  local f = io.open("/dev/tty", "r") -- the binding reads the controlling terminal
  if not f then return nil end
  f:close()
  local ok, rl = pcall(require, "readline")
  if ok and type(rl) == "table" and rl.handler_install and rl.read_char then return rl end
  return nil
end

local function error_text(err)
  if err == guard.INTERRUPTED then return "interrupted" end
  if errors.is(err) then return tostring(err) end
  return "error: " .. tostring(err)
end

-- main(opts, words): opts and words as cli.parse gives them; words[2] the
-- host. Returns the exit status.
function _M.main(opts, words)
  local tty = term.isatty(0)
  local sh = { cameras = {}, subscriptions = {}, secrets = {} }
  local failures = 0

  function sh.secret(s)
    if type(s) == "string" and #s >= 4 then
      for _, known in ipairs(sh.secrets) do if known == s then return end end
      sh.secrets[#sh.secrets + 1] = s
      if not s:match("^%x+$") or #s ~= 32 then
        sh.secret(core.md5_hex(s, true))
        sh.secret(core.md5_hex(s, false))
      end
    end
  end
  sh.secret(os.getenv("VIGI_PASSWORD"))

  local input
  function sh.out(text)
    for _, s in ipairs(sh.secrets) do text = hide(text, s) end
    -- a camera's token is a credential too (it changes as it is renewed;
    -- the camera keeps it out of its table and gives it only as the path
    -- of its calls)
    for _, c in ipairs(sh.cameras) do
      local path = c:_token_path()
      local stok = path and path:match("^/stok=([%w%-_]+)")
      if stok and #stok >= 4 then text = hide(text, stok) end
    end
    if input then input:print(text) else io.stdout:write(text, "\n") end
  end

  function sh.password()
    local pw = os.getenv("VIGI_PASSWORD")
    if pw then return pw end
    pw = input:secret("camera password: ")
    if not pw then return errors.fail("invalid", "no password: set VIGI_PASSWORD or type it at the prompt") end
    sh.secret(pw)
    return pw
  end

  -- A line that names or holds a secret never reaches the history.
  local function keep(line)
    local l = line:lower()
    for _, w in ipairs(SECRET_WORDS) do
      if l:find(w) then return false end
    end
    for _, s in ipairs(sh.secrets) do
      if line:find(s, 1, true) then return false end
    end
    return true
  end

  sh.connect_defaults = {
    port = tonumber(opts.port), username = opts.user, timeout = tonumber(opts.timeout),
    stream_port = tonumber(opts.stream_port), path_suffix = opts.path_suffix,
    -- log lines (which hold no secret) go above the prompt on a terminal,
    -- to stderr otherwise, as the other verbs' do
    log = opts.verbose and function(l)
      if tty then sh.out("vigi: " .. l) else io.stderr:write("vigi: ", l, "\n") end
    end or nil,
    tls = (opts.cafile or opts.pin) and { verify = opts.cafile ~= nil, cafile = opts.cafile, pin = opts.pin } or nil,
  }

  local host = words[2]
  if opts.sim then
    local sim, err = require("vigi.sim").start({}, { session = true })
    if not sim then io.stderr:write("vigi: ", err, "\n") return 1 end
    sh.sim = sim
    host = sim.host
    sh.connect_defaults.port = sim.port
    sh.connect_defaults.stream_port = sim.stream
    sh.connect_defaults.password = sim.password
    sh.secret(sim.password)
  end

  -- Ctrl-C stops the running line, not the process; SIGTERM and SIGHUP
  -- end the shell cleanly (the sim it started is stopped).
  local sigfd = term.catch(true)
  local env = require("vigi.shell.env").new(sh)
  local rl = tty and open_readline() or nil
  input = require("vigi.shell.input").new {
    fd = 0, tty = tty, sigfd = sigfd, readline = rl, keep = keep,
    history = _M.history_path(),
    complete = function(line, from, to) return complete.for_readline(line, from, to, env) end,
  }

  -- Runs f guarded; prints its results (or its error). Returns ok.
  local interrupted = false
  local function run(f)
    local ok, r = guard.call(f, { sigfd = sigfd })
    input:restore()
    if ok then
      if r.n > 0 then sh.out(show.results(r)) end
      return true
    end
    interrupted = r == guard.INTERRUPTED
    -- on a line of its own: the terminal may have echoed ^C
    sh.out((interrupted and tty and "\n" or "") .. error_text(r))
    return false
  end

  local function banner()
    local what = "not connected; connect(host) makes a camera"
    local cam = rawget(env, "cam")
    if cam then
      local ok, r = guard.call(function() return cam:getDeviceInfo() end, { sigfd = sigfd })
      local info = ok and r[1] or {}
      local model = info.model or info.device_model
      local fw = tostring(info.swVer or info.sw_version or "?"):gsub("%s+$", "")
      what = "connected to " .. cam._where .. (model and (" (" .. model .. ", " .. fw .. ")") or "")
        .. (cam.login_form and (", " .. cam.login_form .. " login") or "")
    end
    io.stderr:write(string.format("vigi %s, %s -- %s. help() for help.\n",
      vigi.VERSION, jit and jit.version or _VERSION, what))
  end

  local status = 0
  local function loop()
    guard.reset()
    if host and not rawget(env, "cam") then
      local ok, r = guard.call(function() return env.connect(host) end, { sigfd = sigfd })
      input:restore()
      local cam = ok and r[1]
      if not cam then
        io.stderr:write("vigi: ", ok and tostring(r[2]) or error_text(r), "\n")
        status = 1
        return
      end
      if sh.sim then
        -- every injected event shows, however close together (docs/sim.md)
        guard.call(function() return cam:setMsgpushInterval { event_interval = 0 } end)
      end
      banner()
    elseif not host then
      banner()
    end
    local pending
    while true do
      local line = input:read(pending and MORE or PROMPT)
      if line == nil then break end
      if line == false then
        pending = nil
      else
        local src = pending and (pending .. "\n" .. line) or line
        if src:match("%S") then
          local f, err = _M.compile(src, env)
          if not f and _M.incomplete(err) then
            pending = src
          else
            pending = nil
            if not f then
              sh.out("error: " .. err)
              failures = failures + 1
            elseif not run(f) then
              failures = failures + 1
            end
            -- Ctrl-C ends a script; SIGTERM and SIGHUP end the shell
            if term.ending() or (not tty and interrupted) then break end
          end
        else
          pending = nil
        end
      end
    end
    if pending then
      sh.out("error: the input ended inside a statement")
      failures = failures + 1
    end
  end

  -- A task the user spawned may still run: stop everything guarded, close
  -- the subscriptions and cameras, and vigi.run ends.
  local function finish()
    input:close()
    guard.stop_all()
    for _, sub in ipairs(sh.subscriptions) do sub:close() end
    for _, c in ipairs(sh.cameras) do c:close() end
  end

  -- A task that raises ends vigi.run (run.lua): say so and go on reading,
  -- a few times at most (a fault of the loop itself would come back).
  for _ = 1, 5 do
    local ok, err = pcall(vigi.run, function()
      loop()
      finish()
    end)
    if ok or status ~= 0 then break end
    input:close()
    sh.out("vigi: " .. tostring(err))
  end

  term.catch(false)
  if sh.sim then sh.sim:stop() end
  if status == 0 and not tty and failures > 0 then status = 1 end
  return status
end

return _M
