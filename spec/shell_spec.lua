-- `vigi shell` end to end: the shell runs as a separate process under the
-- Lua that runs this spec, on a pseudo-terminal (spec/support/pty_run.py)
-- or with piped stdin, against a vigi-sim.
local helper = require "spec.helper"
local json = require "vigi.json"
local vigi = require "vigi"
local show = require("vigi.shell.show").show
local complete = require("vigi.shell.complete").complete

local LUA = (jit and "luajit") or ({ ["Lua 5.1"] = "lua5.1", ["Lua 5.3"] = "lua5.3" })[_VERSION] or "lua5.4"
local PASSWORD = "Zq7-shell-pw"

local read_file = helper.read_file

local function tmpdir()
  local d = helper.sh("mktemp -d"):gsub("%s+$", "")
  return d
end

describe("vigi shell", function()
  local sim, state

  setup(function()
    sim = helper.start_sim { "--password", PASSWORD }
    -- every injected event is pushed, however close together
    local cam = assert(vigi.connect(sim:options { password = PASSWORD }))
    assert(cam:setMsgpushInterval { event_interval = 0 })
    cam:close()
  end)
  teardown(function() sim:stop() end)
  before_each(function() state = tmpdir() end)
  after_each(function() os.execute("rm -rf " .. helper.quote(state)) end)

  local function argv()
    return { LUA, "spec/support/vigi_cmd.lua", "shell", sim.host, "-p", tostring(sim.port), "-t", "20" }
  end

  local function expect(p, t) return { expect = p, timeout = t or 5 } end
  -- The first prompt comes after the start and the login; the others at once.
  local FIRST, PROMPT = expect("vigi> ", 10), expect("vigi> ")

  -- A run on a terminal: steps as pty_run.py takes them; env adds to
  -- the environment (false removes), env.argv replaces the command. The
  -- run ends with Ctrl-D at a prompt (typed before the prompt, while the
  -- line runs, the terminal would take it as its own end-of-line), and
  -- the shell must end by it, with status 0. A run that goes wrong fails
  -- within its step's timeout, and the whole run within its deadline,
  -- however the shell misbehaves (pty_run.py kills it).
  local function terminal(steps, env)
    local e = { TERM = "xterm", HOME = state, XDG_STATE_HOME = state, VIGI_PASSWORD = PASSWORD }
    local command = argv()
    for k, v in pairs(env or {}) do
      if k == "argv" then command = v else e[k] = v or nil end
    end
    local last = steps[#steps].expect
    if not (last and last:sub(-2) == "> ") then steps[#steps + 1] = PROMPT end
    steps[#steps + 1] = { send = "\4" } -- Ctrl-D: the shell ends
    local script = { argv = command, env = e, steps = steps, cols = 100, rows = 30, end_timeout = 3,
      deadline = 30 }
    local path = state .. "/script.json"
    local f = assert(io.open(path, "w"))
    f:write(json.encode(script))
    f:close()
    local out = helper.sh("python3 -S spec/support/pty_run.py " .. helper.quote(path))
    local r = assert(json.decode(out), out)
    assert(r.ok, (r.timed_out and "the run outlasted its deadline at step " or "step ") .. tostring(r.failed)
      .. " not met (exit " .. tostring(r.exit) .. "); the terminal showed:\n" .. r.transcript)
    assert(r.exit == 0 and not r.hung_up, "Ctrl-D did not end the shell (exit " .. tostring(r.exit)
      .. (r.hung_up and ", hung up" or "") .. "); the terminal showed:\n" .. r.transcript)
    return r
  end

  local function line(s) return { send = s .. "\r" } end
  local function admin_cmd(path, body)
    return string.format("env -u LD_PRELOAD curl -sk --max-time 5 https://%s:%d/__sim__/%s -d %s",
      sim.host, sim.port, path, helper.quote(json.encode(body)))
  end

  it("completes a method name and a parameter name", function()
    local r = terminal {
      FIRST, { send = "cam:setMotionDetectionS\t" }, expect("cam:setMotionDetectionSwitch"),
      { send = "{ sensi\t" }, expect("{ sensitivity"),
      { send = " = 42 }\r" }, PROMPT,
      line "cam:getMotionDetectionSwitch().sensitivity", expect("\n42\n"),
    }
    assert.truthy(r.transcript:find("cam:setMotionDetectionSwitch{ sensitivity = 42 }", 1, true))
  end)

  it("prints a table readably: sorted keys, one a line, indented", function()
    local r = terminal { FIRST, line "cam:getDeviceInfo()", expect("}\n") }
    local text = r.transcript:match("cam:getDeviceInfo%(%)\n(%b{})")
    assert.truthy(text, r.transcript)
    assert.truthy(text:find('\n  hwVer = "1.0",\n  mac = "00-0A-EB-01-88-11",\n  model = "C100",\n', 1, true), text)
  end)

  it("prints an injected event above the prompt while it waits, and the typed line goes on", function()
    local r = terminal {
      FIRST, line "watch('MotionDetection')", expect("watching MotionDetection"), PROMPT,
      { send = "cam:getDev" }, { sleep = 0.2 },
      { run = admin_cmd("event", { event_type = "MotionDetection" }) },
      expect("MotionDetection  \\("),
      { send = "iceInfo().model\r" }, expect('"C100"'),
    }
    -- the event's line, then the prompt drawn again with what was typed
    assert.truthy(r.transcript:find("%-%- %d%d:%d%d:%d%d  MotionDetection  %(127%.0%.0%.1:%d+%)\n" ..
      "vigi> cam:getDeviceInfo%(%)%.model\n"), r.transcript)
  end)

  it("ends a stalled call on Ctrl-C and answers the next line", function()
    local r = terminal {
      FIRST, { run = admin_cmd("fault", { kind = "stall", method = "getDeviceInfo", seconds = 30 }) },
      line "cam:getDeviceInfo()", { sleep = 0.5 }, { send = "\3" }, expect("interrupted", 5),
      PROMPT, line "1 + 1", expect("\n2\n"),
      line "cam:getDeviceInfo().model", expect('"C100"'),
    }
    -- the call's own deadline is 20 s: Ctrl-C ended it, not its timeout
    assert.is_true(r.waited[2] < 3)
  end)

  it("--sim: starts a vigi-sim that Ctrl-C at the terminal leaves running, and stops it", function()
    local r = terminal({ FIRST, { send = "\3" }, PROMPT, line "cam:getDeviceAlias()", expect("alias = "),
      PROMPT, line "sim.pid", expect("\\n\\d+\\n") },
      { argv = { LUA, "spec/support/vigi_cmd.lua", "shell", "--sim" } })
    assert.truthy(r.transcript:find("connected to 127.0.0.1:%d+ %(C100, "), r.transcript)
    -- At Ctrl-C, readline gave the terminal back before the prompt was
    -- drawn again: when it had turned bracketed paste on, it turned it off.
    -- (It did so through a stream already closed, writing into freed
    -- memory, until lua_term.c's rl_release.)
    local at_ctrl_c = assert(r.raw:match("vigi> (.-)%^C"), r.raw)
    if r.raw:find("\27[?2004h", 1, true) then
      assert.truthy(at_ctrl_c:find("\27[?2004l", 1, true), r.raw)
    end
    -- Ctrl-D ended the shell, and the shell its sim.
    local pid = assert(r.transcript:match("sim%.pid\n(%d+)\n"), r.transcript)
    assert.falsy((read_file("/proc/" .. pid .. "/cmdline") or ""):find("vigi-sim", 1, true))
  end)

  it("keeps the history across two runs", function()
    terminal { FIRST, line "answer = 41", PROMPT }
    local r = terminal { FIRST, { send = "\27[A" }, expect("answer = 41"), { send = " + 1\r" }, PROMPT,
      line "answer", expect("\n42\n") }
    assert.truthy(r.transcript)
    local hist = assert(read_file(state .. "/vigi/history"))
    assert.truthy(hist:find("answer = 41\n", 1, true))
    assert.truthy(hist:find("answer = 41 + 1\n", 1, true))
  end)

  it("shows no secret in its output or its history file", function()
    local typed = { send = PASSWORD .. "\r" }
    local r = terminal({
      expect("camera password: ", 10), typed, PROMPT,
      line "t = { password = 'hunter2', user = 'admin' }", PROMPT, line "t", expect("password = <hidden>"),
      line "cam", expect("vigi.camera{"),
      -- the stok is not in the camera's table, and where it shows, hidden
      line "cam._stok", expect("\\nnil\\n"), line "cam:_token_path()", expect('"/stok=<hidden>"'),
      line "connect(cam.host, { port = cam.port }).host", expect("camera password: "), typed, expect('"127.0.0.1"'),
      line "pw = 'hunter2'", PROMPT,
    }, { VIGI_PASSWORD = false })
    assert.falsy((r.transcript:find(PASSWORD, 1, true)), r.transcript)
    -- nothing like the sim's stoks (32 letters and digits) either
    assert.falsy(r.transcript:find(string.rep("%w", 32)), r.transcript)
    local hist = assert(read_file(state .. "/vigi/history"))
    assert.truthy(hist:find("cam\n", 1, true))
    assert.falsy((hist:find("hunter2", 1, true)), hist)
    assert.falsy((hist:find(PASSWORD, 1, true)), hist)
  end)

  it("runs a script piped to it, with the results it prints on a terminal", function()
    local lines = { "cam:getDeviceInfo()", "cam:setSpeakerVolume{ volume = 150 }", "x = { 1, 'two', { three = 3 } }",
      "x", "for i = 1, 2 do", "print(i)", "end", "#x", "nil + 1" }
    local quoted = {}
    for i, l in ipairs(lines) do quoted[i] = helper.quote(l) end
    local piped = helper.sh(string.format("printf '%%s\\n' %s | VIGI_PASSWORD=%s %s 2>/dev/null; echo \"rc=$?\"",
      table.concat(quoted, " "), helper.quote(PASSWORD), table.concat(argv(), " ")))
    -- a line that raised makes the exit status 1
    assert.truthy(piped:find("rc=1\n$"), piped)
    piped = piped:gsub("rc=1\n$", "")
    assert.truthy(piped:find("nil\tinvalid: setSpeakerVolume: volume = 150 is out of range 0..100\n", 1, true), piped)
    assert.truthy(piped:find('{ 1, "two", { three = 3 } }\n1\n2\n3\nerror: stdin:1: ', 1, true), piped)
    -- the same lines on a terminal, each after its prompt
    local steps = { FIRST }
    for _, l in ipairs(lines) do
      steps[#steps + 1] = line(l)
      steps[#steps + 1] = expect("(vigi|>)> ")
    end
    local shown = terminal(steps).transcript:gsub("^[^\n]*\n", "") -- the banner
    shown = shown:gsub("vigi> [^\n]*\n", ""):gsub(">> [^\n]*\n", ""):gsub("vigi> $", "")
    assert.equal(piped, shown)
  end)

  it("reads plain lines on a terminal when the readline binding is missing", function()
    local r = terminal({ FIRST, line "cam:getDeviceInfo().model", expect('"C100"') },
      { LUA_PATH = "./?.lua" }) -- no system modules: no readline.lua
    assert.truthy(r.transcript)
  end)
end)

describe("vigi shell's printer", function()
  it("prints stably: the same table in any insertion order gives the same text", function()
    local a, b = {}, {}
    for i = 1, 30 do a["k" .. i] = i end
    for i = 30, 1, -1 do b["k" .. i] = i end
    assert.equal(show(a), show(b))
  end)

  it("marks cycles, cuts long strings, shows binary as bytes, hides secrets", function()
    local t = { name = string.rep("x", 500), data = "\0\1\2\3\255", stok = "abc", nested = {} }
    t.nested.back = t
    local text = show(t)
    assert.truthy(text:find('name = "' .. string.rep("x", 200) .. '..." (500 bytes)', 1, true))
    assert.truthy(text:find("data = <5 bytes: 00 01 02 03 ff>", 1, true))
    assert.truthy(text:find("stok = <hidden>", 1, true))
    assert.truthy(text:find("nested = { back = <cycle> }", 1, true))
  end)
end)

describe("vigi shell's completion", function()
  local env = setmetatable({ cam = setmetatable({}, require("vigi.camera").Camera) }, { __index = _G })
  for _, case in ipairs {
    { "cam:setMo", { "setMotionDetectionRegion", "setMotionDetectionSwitch" } },
    { "cam:setMotionDetectionSwitch{ sens", { "sensitivity" } },
    { 'cam:setMotionDetectionSwitch{ enabled = "o', { "off", "on" } },
    { "cam:setMotionDetectionRegion{ set_region_info = { { points_n", { "points_num" } },
    { 'watch("Peo', { "PeopleDetection" } },
  } do
    it("completes " .. case[1], function()
      local _, got = complete(case[1], env)
      assert.same(case[2], got)
    end)
  end
end)
