-- Running the shell's code so that nothing it does can end the shell.
--
--   guard.call(fn, opts, ...) -> true, results | false, err, co
--
-- runs fn(...) in a coroutine of its own, inside the task that calls it
-- (a vigi.run task). Its waits go through wait.lua as usual: the calling
-- task waits on their behalf, so the runner's other tasks (event watchers)
-- go on meanwhile. An error ends only that coroutine and comes back as
-- (false, err, co), on every Lua version: on 5.1 a pcall cannot be waited
-- across, a coroutine can. results is a table with n.
--
-- opts.sigfd: a descriptor that is readable when Ctrl-C was pressed
-- (core.term.catch); the calling task then watches it too, and a Ctrl-C
-- (or SIGTERM, SIGHUP) raises guard.INTERRUPTED at the point where fn waits, or, for code that
-- computes without waiting, at its next thousand instructions (a count
-- hook). The objects fn was using stay as they are: a camera call cut
-- short is abandoned, and the next call on that camera starts afresh.
--
-- guard.stop_all() makes every guarded coroutine that waits end with
-- guard.STOPPED (the shell closing).
local core = require "vigi.core"
local wait = require "vigi.wait"

local term = core.term

local _M = {}

_M.INTERRUPTED = setmetatable({}, { __tostring = function() return "interrupted" end })
_M.STOPPED = setmetatable({}, { __tostring = function() return "stopped: the shell is closing" end })

local WAIT = {}   -- what a guarded coroutine yields when it waits
local RAISE = {}  -- what it is resumed with to raise at its wait

local unpack_ = table.unpack or unpack -- luacheck: ignore 143
local function pack(...) return { n = select("#", ...), ... } end
local NONE = { n = 0 }

-- Whether the running coroutine can yield here. 5.1 has no
-- coroutine.isyieldable: a yield fails across a C function (pcall, a
-- gsub callback), out of a generic for's iterator or out of a metamethod,
-- which its stack shows: a C frame, the iterator's name, or a Lua
-- function called without a name other than by a tail call (where a
-- metamethod hides among calls such as t[k](), which then wait in place).
local yieldable = coroutine.isyieldable
if not yieldable then
  yieldable = function()
    local level = 3
    while true do
      local info = debug.getinfo(level, "nS")
      if not info then return true end
      if info.what == "C" or info.name == "(for generator)" then return false end
      if info.what == "Lua" and info.namewhat == "" then
        local up = debug.getinfo(level + 1, "S")
        if up and up.what ~= "tail" then return false end
      end
      level = level + 1
    end
  end
end

-- Ctrl-C since the last look, or the shell told to end.
local function signalled()
  return term.sigints() > 0 or term.ending()
end

local live = setmetatable({}, { __mode = "k" }) -- guarded coroutine -> its caller
local stopping = false

local function check_stop()
  if stopping then error(_M.STOPPED, 0) end
end

-- A copy of `set` with sigfd added.
local function with_fd(set, fd, into)
  local n = set.n or 0
  for i = 1, 2 * n do into[i] = set[i] end
  into[2 * n + 1], into[2 * n + 2] = fd, 1
  for i = 2 * n + 3, #into do into[i] = nil end
  into.n = n + 1
  return into
end

local function make_waiter(sigfd)
  local scratch = {}
  return function(set, timeout)
    check_stop()
    if not yieldable() then
      -- Where the coroutine cannot yield, wait in place (as a plain
      -- script does); the other tasks wait with it.
      if sigfd then
        core.poll(with_fd(set, sigfd, scratch), timeout)
        if signalled() then error(_M.INTERRUPTED, 0) end
        return
      end
      core.poll(set, timeout)
      return
    end
    local a, b = coroutine.yield(WAIT, set, timeout)
    if a == RAISE then error(b, 0) end
  end
end

local function hook()
  if signalled() then error(_M.INTERRUPTED, 0) end
end

function _M.call(fn, opts, ...)
  local sigfd = opts and opts.sigfd
  local caller = coroutine.running()
  local co = coroutine.create(fn)
  live[co] = caller
  wait.attach(co, make_waiter(sigfd), function() wait.wake(caller) end)
  if sigfd then debug.sethook(co, hook, "", 1000) end
  local args, scratch = pack(...), {}
  while true do
    local r = pack(coroutine.resume(co, unpack_(args, 1, args.n)))
    if not r[1] or coroutine.status(co) == "dead" then
      wait.detach(co)
      live[co] = nil
      if not r[1] then return false, r[2], co end
      return true, pack(unpack_(r, 2, r.n))
    end
    if r[2] == WAIT then
      local set, timeout = r[3], r[4]
      wait.wait(sigfd and with_fd(set, sigfd, scratch) or set, timeout)
      if stopping then
        args = pack(RAISE, _M.STOPPED)
      elseif sigfd and signalled() then
        args = pack(RAISE, _M.INTERRUPTED)
      else
        args = NONE
      end
    else
      -- Some other yield (a bare coroutine.yield): pass it to the runner.
      args = pack(coroutine.yield(unpack_(r, 2, r.n)))
    end
  end
end

-- End every guarded coroutine at its wait (their callers are woken).
function _M.stop_all()
  stopping = true
  for _, caller in pairs(live) do wait.wake(caller) end
end

function _M.reset() stopping = false end

return _M
