-- What a camera says reaches the terminal escaped: the `vigi` command
-- prints device names, models, event types and answers from the network
-- through vigi.cli.printable, so an escape sequence in them is shown, never
-- obeyed. End to end: a vigi-sim whose alias and events carry escape
-- sequences, read by bin/vigi.
local helper = require "spec.helper"
local printable = require "vigi.cli.printable"
local vigi = require "vigi"

-- An escape sequence (set the title, clear the screen), a C1 CSI in UTF-8,
-- a right-to-left override: 18 bytes, under the alias's 32.
local HOSTILE = "\27]0;pwn\7\27[2J\194\155X\226\128\174"

-- The first byte that could drive a terminal (a control character other
-- than the newline, a C1 control or a bidirectional control), or nil.
local function raw_control(s)
  local at = s:gsub("\n", " "):find("%c")
  return at or s:find("\194[\128-\159]") or s:find("\226\128[\170-\174]")
end

describe("printable", function()
  it("escapes control characters, C1, bidi controls, bad UTF-8 and the backslash", function()
    assert.equal("plain name", printable.text("plain name"))
    assert.equal("caf\195\169 \230\151\165", printable.text("caf\195\169 \230\151\165")) -- UTF-8 passes
    assert.equal("\\x1b]0;pwn\\x07\\x1b[2J\\u009bX\\u202e", printable.text(HOSTILE))
    assert.equal("a\\tb\\r\\nc\\x00\\x7f\\xff\\\\", printable.text("a\tb\r\nc\0\127\255\\"))
    assert.equal("two\nlines\\r", printable.text("two\nlines\r", true))
    assert.equal("5", printable.text(5))
  end)

  it("keeps JSON text JSON, with nothing a terminal obeys", function()
    local json = require "vigi.json"
    local line = json.encode { name = HOSTILE .. "\255" }
    local safe = printable.json(line)
    assert.is_nil(raw_control(safe))
    assert.equal(HOSTILE, json.decode(safe).name:sub(1, #HOSTILE))
    assert.equal("\239\191\189", json.decode(safe).name:sub(-3)) -- the bad byte: U+FFFD
    assert.equal("{\n  \"a\": 1\n}", printable.json("{\n  \"a\": 1\n}"))
  end)
end)

describe("the vigi command, against a camera with a hostile name", function()
  local sim
  setup(function()
    sim = helper.start_sim { "--odp-port", "0" }
    local cam = assert(vigi.connect(sim:options()))
    assert(cam:setDeviceAlias { alias = HOSTILE })
    cam:close()
  end)
  teardown(function() sim:stop() end)

  local function vigi_cmd(args)
    return helper.sh("VIGI_PASSWORD=" .. helper.PASSWORD .. " bin/vigi " .. args .. " 2>&1")
  end

  it("escapes the name in `vigi discover`, as a table and as JSON", function()
    local base = string.format("discover --host %s --odp-port %d --timeout 1", sim.host, sim.odp)
    local out = vigi_cmd(base)
    assert.is_nil(raw_control(out), out)
    assert.truthy(out:find("\\x1b]0;pwn\\x07\\x1b[2J\\u009bX\\u202e", 1, true), out)
    out = vigi_cmd(base .. " --json")
    assert.is_nil(raw_control(out), out)
    local line = out:match("[^\n]*{[^\n]*")
    assert.equal(HOSTILE, require("vigi.json").decode(line).device_name)
  end)

  it("escapes the answer of `vigi call`", function()
    local out = vigi_cmd(string.format("call %s -p %d getDeviceAlias", sim.host, sim.port))
    assert.is_nil(raw_control(out), out)
    assert.equal(HOSTILE, require("vigi.json").decode(out).alias)
  end)

  it("escapes event types in `vigi events`, as lines and as JSON", function()
    for _, flag in ipairs { "", "--json" } do
      local file = os.tmpname()
      local pid = tonumber(helper.sh(string.format(
        "VIGI_PASSWORD=%s timeout 10 bin/vigi events %s -p %d %s > %s 2>&1 & echo $!",
        helper.PASSWORD, sim.host, sim.port, flag, file)))
      local out = ""
      for _ = 1, 50 do -- until the subscription is up and the event came through
        sim:admin("POST", "event", { event_type = HOSTILE, unchecked = true })
        os.execute("sleep 0.2")
        local f = io.open(file)
        out = f:read("*a")
        f:close()
        if out:find("pwn", 1, true) then break end
      end
      os.execute("kill " .. pid .. " 2>/dev/null")
      os.remove(file)
      assert.truthy(out:find("pwn", 1, true), out)
      assert.is_nil(raw_control(out), out)
    end
  end)
end)
