-- The one place that waits (docs/design.md, principle 2).
--
-- Objects of the C core never block: when they would, they describe what
-- they wait for as a "wait set", a table of fd, events pairs (events: 1
-- read, 2 write; set.n pairs) plus a longest wait in seconds. wait() then
-- hands the wait set to whoever runs the current coroutine:
--
--   vigi.run's runner      (run.lua registers its tasks with attach)
--   a host loop            (cqueues: cqueues.lua, found by `hosts` below)
--   nginx (OpenResty)      sleeps are ngx.sleep; a wait on descriptors is
--                          refused, as it would block the worker (resty/init.lua)
--   nobody                 a plain script or the REPL: it polls in place
--
-- No other file sleeps or polls.
local core = require "vigi.core"

local _M = {}

local running = coroutine.running
local http_sweep = core.http_sweep

-- A scheduler registers itself for the coroutines it runs:
-- schedulers[co] = function(set, timeout) ... end, which yields; and,
-- when it can, wakers[co] = function() ... end, which ends that
-- coroutine's wait early (for close() from another task).
local schedulers = setmetatable({}, { __mode = "k" })
local wakers = setmetatable({}, { __mode = "k" })

function _M.attach(co, waiter, waker) schedulers[co], wakers[co] = waiter, waker end
function _M.detach(co) schedulers[co], wakers[co] = nil, nil end

-- wake(co): the coroutine's current wait returns now (a spurious return,
-- as wait() allows), when its scheduler can do that. An object closed by
-- one task while another waits on it calls this, so that the waiting one
-- sees the close at once instead of at its deadline. Returns true if the
-- scheduler could.
function _M.wake(co)
  local w = co and wakers[co]
  if w and co ~= running() then w() return true end
  return false
end

-- Whether the running coroutine's wait can be ended early by wake():
-- a task of vigi.run. Elsewhere (a plain script, cqueues) an object that
-- another's progress may move on must wait for that progress's clock too.
function _M.wakeable()
  local co = running()
  return co ~= nil and wakers[co] ~= nil
end

-- Host loops that run coroutines of their own: each is a function(co)
-- returning a waiter for that coroutine, or nil when the coroutine is not
-- one of the host's. Asked in order, for coroutines no scheduler
-- attached. cqueues is known: once the program has loaded it, a vigi call
-- in a controller's coroutine yields to the controller (cqueues.lua).
_M.hosts = {
  function()
    local cq = package.loaded.cqueues
    if cq and cq.running and cq.running() then return require("vigi.cqueues").waiter end
    return nil
  end,
  -- Inside nginx, in a phase where cosockets work: ngx.sleep. Elsewhere
  -- (init phases) nginx has no loop to yield to, and polling is left.
  function()
    if rawget(_G, "ngx") then return require("vigi.resty").host() end
    return nil
  end,
}

local function current_waiter()
  local co, main = running()
  if not co or main then return nil end -- 5.2+: the main thread
  local w = schedulers[co]
  if w then return w end
  for i = 1, #_M.hosts do
    w = _M.hosts[i](co)
    if w then return w end
  end
  return nil
end

-- wait(set, timeout): returns when a socket of the set may be ready or
-- the timeout (seconds; negative, nil or math.huge: none) passed. Spurious
-- returns are allowed: callers step their object and ask again. A NaN
-- timeout is a mistake of the caller (left(deadline) never gives one).
function _M.wait(set, timeout)
  timeout = timeout or -1
  if timeout ~= timeout then error("vigi.wait: the timeout is NaN", 2) end
  -- Housekeeping rides on waits, at most once a second: idle control
  -- connections closed, freed memory returned (csrc/http.c's sweep).
  http_sweep()
  if timeout == math.huge then timeout = -1 end -- left(math.huge): no deadline
  local waiter = current_waiter()
  if waiter then return waiter(set, timeout) end
  if (set.n or 0) == 0 and timeout < 0 then
    error("vigi.wait: nothing to wait for and no deadline", 2)
  end
  return core.poll(set, timeout)
end

-- The deadline rule (docs/design.md, "Deadlines"). A call that takes a
-- timeout turns it into one absolute deadline on the monotonic clock at
-- its entry, and passes the deadline down. Every loop checks the clock at
-- every turn, whether or not bytes arrived, and no wait outlasts the
-- deadline: a peer that keeps sending cannot keep a call going. What feeds
-- a watchdog is a whole item (a frame, a part, an answer), never a byte.
--
-- deadline(timeout [, what]) -> deadline | nil, err
-- timeout: seconds, a finite number >= 0; nil means no deadline
-- (math.huge). NaN, infinities and negatives are refused as `invalid`,
-- naming `what`: a NaN compares false with everything and would make a
-- loop wait forever.
function _M.deadline(timeout, what)
  if timeout == nil then return math.huge end
  if type(timeout) ~= "number" or timeout ~= timeout or timeout < 0 or timeout == math.huge then
    return nil, require("vigi.errors").new("invalid", (what or "timeout") ..
      " must be a finite number of seconds >= 0, not " .. tostring(timeout))
  end
  return core.now() + timeout
end

-- Seconds left before a deadline, never negative.
function _M.left(deadline)
  local left = deadline - core.now()
  return left > 0 and left or 0
end

-- Whether the deadline has passed.
function _M.expired(deadline)
  return core.now() >= deadline
end

-- sleep(seconds) through the same place.
local empty = { n = 0 }
function _M.sleep(seconds)
  return _M.wait(empty, seconds > 0 and seconds or 0)
end

_M.now = core.now

return _M
