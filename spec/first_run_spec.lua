-- `make demo` and `make test` as the very first command on a machine
-- without the packages. Nothing is really uninstalled: a copy of the build
-- files runs with stand-ins on its PATH. Their pkg-config knows no Lua
-- until their installer (INSTALL_DEPS) has run; their compiler records its
-- arguments and writes empty outputs. The compile line of the core must
-- carry the Lua flags that pkg-config gives only after the install.
local helper = require "spec.helper"

local sh, quote = helper.sh, helper.quote

local function write(path, text, mode)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  if mode then assert(os.execute("chmod " .. mode .. " " .. quote(path))) end
end

local function read(path) return helper.read_file(path) or "" end

-- A fresh copy of what the build reads, and the stand-ins; returns the
-- directory of the copy and that of the stand-ins' state.
local function fresh_machine()
  local root = sh("mktemp -d"):gsub("%s+$", "")
  local tree, fake = root .. "/tree", root .. "/fake"
  assert(os.execute("mkdir -p " .. quote(tree .. "/examples") .. " " .. quote(tree .. "/tools")
    .. " " .. quote(fake .. "/bin")))
  assert(os.execute("cp -r Makefile csrc sim " .. quote(tree)))
  assert(os.execute("rm -f " .. quote(tree) .. "/sim/*.o " .. quote(tree) .. "/sim/vigi-sim "
    .. quote(tree) .. "/sim/camera_json.c"))
  -- what demo and test run once everything is built
  write(tree .. "/examples/tour.lua", 'print("the tour ran")\n')
  write(tree .. "/tools/run-tests", '#!/bin/sh\nmake -s all && echo "the tests ran"\n', "+x")

  write(fake .. "/bin/pkg-config", table.concat({
    "#!/bin/sh",
    "# knows nothing until the installer ran",
    'if [ -f "' .. fake .. '/installed" ]; then',
    '  echo "pkg-config $* (installed)" >> "' .. fake .. '/log"',
    '  echo "-I' .. fake .. '/include/$2"',
    "else",
    '  echo "pkg-config $* (nothing installed)" >> "' .. fake .. '/log"',
    "  exit 1",
    "fi", "" }, "\n"), "+x")
  write(fake .. "/install-deps", table.concat({
    "#!/bin/sh",
    'echo "install-deps $*" >> "' .. fake .. '/log"',
    'touch "' .. fake .. '/installed"', "" }, "\n"), "+x")
  write(fake .. "/bin/cc", table.concat({
    "#!/bin/sh",
    'if [ "$1" = -dumpmachine ]; then echo x86_64-linux-gnu; exit 0; fi',
    'echo "cc $*" >> "' .. fake .. '/log"',
    "out=",
    'while [ $# -gt 0 ]; do if [ "$1" = -o ]; then out=$2; fi; shift; done',
    '[ -n "$out" ] && mkdir -p "$(dirname "$out")" && : > "$out"', "" }, "\n"), "+x")
  return root, tree, fake
end

-- make TARGET in the copy, as the first command; its output, status and
-- the stand-ins' log.
local function first_make(target)
  local root, tree, fake = fresh_machine()
  local out = sh(string.format("cd %s && env PATH=%s:\"$PATH\" MAKEFLAGS= MAKELEVEL= "
    .. "make %s INSTALL_DEPS=%s CC=cc 2>&1; echo \"exit=$?\"",
    quote(tree), quote(fake .. "/bin"), target, quote(fake .. "/install-deps")))
  local log = read(fake .. "/log")
  sh("rm -rf " .. quote(root))
  return out, tonumber(out:match("exit=(%d+)%s*$")), log, fake
end

-- The compile line of the core, from the log.
local function core_line(log)
  for line in log:gmatch("[^\n]+") do
    if line:find("-shared", 1, true) and line:find("vigi/core.so", 1, true) then return line end
  end
  return nil
end

describe("the first command on a machine without the packages", function()
  for _, case in ipairs {
    { target = "demo", ran = "the tour ran" },
    { target = "test", ran = "the tests ran" },
  } do
    it("make " .. case.target .. " installs, then builds with the Lua flags, then runs", function()
      local out, status, log, fake = first_make(case.target)
      assert.equal(0, status, out .. "\n" .. log)
      assert.truthy(out:find(case.ran, 1, true), out)
      local installed = log:find("install-deps", 1, true)
      assert(installed, "the installer did not run:\n" .. log)
      local line = core_line(log)
      assert(line, "the core was not compiled:\n" .. log)
      assert.truthy(line:find("-I" .. fake .. "/include/lua5.4", 1, true), line)
      -- pkg-config was asked for the compile after the install
      assert.is_true((log:find("(installed)", 1, true) or 0) > installed, log)
    end)
  end
end)
