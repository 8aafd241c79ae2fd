-- vigi.run / vigi.spawn / vigi.sleep: many cameras in one Lua state.
--
--   vigi.run(function()
--     for _, host in ipairs(hosts) do
--       vigi.spawn(function() local cam = vigi.connect{ ... } ... end)
--     end
--   end)
--
-- Each task is a coroutine. When the C core would block, wait.lua hands
-- the task's wait set to this runner (wait.attach), the task yields, and
-- the runner waits for all tasks at once: one epoll (core.poller) for
-- their sockets, one heap for their deadlines. A task resumes when one
-- of its sockets is ready or its deadline passed; spurious wake-ups are
-- allowed by wait.lua's contract, so a socket shared by two tasks (a
-- stream connection shared by a preview and a talk) wakes both.
--
-- An error raised in any task ends vigi.run with that error (errors that
-- are values, `nil, err`, are the task's own business): a raise is a
-- programming mistake, and a fleet script should not go on half-dead.
local core = require "vigi.core"
local wait = require "vigi.wait"

local _M = {}

local Runner = {}
Runner.__index = Runner

local current -- the runner of the vigi.run in progress (one at a time)

-- Values with their count, so that nils (as in `return nil, err`) survive.
local unpack_ = table.unpack or unpack -- luacheck: ignore 143
local function pack(...) return { n = select("#", ...), ... } end
local function unpack(t) return unpack_(t, 1, t.n) end
local NONE = { n = 0 }

-- A min-heap of { at = deadline, task = t, gen = n } with lazy deletion
-- (entries are reused once popped):
-- an entry whose gen is not its task's current one is stale.
local function heap_push(h, e)
  local i = #h + 1
  h[i] = e
  while i > 1 do
    local p = math.floor(i / 2)
    if h[p].at <= e.at then break end
    h[i], h[p] = h[p], e
    i = p
  end
end

local function heap_pop(h)
  local top, n = h[1], #h
  local last = h[n]
  h[n] = nil
  n = n - 1
  if n == 0 then return top end
  h[1] = last
  local i = 1
  while true do
    local l, r, m = 2 * i, 2 * i + 1, i
    if l <= n and h[l].at < h[m].at then m = l end
    if r <= n and h[r].at < h[m].at then m = r end
    if m == i then break end
    h[i], h[m] = h[m], h[i]
    i = m
  end
  return top
end

local function new_runner()
  return setmetatable({
    poller = assert(core.poller()),
    ready = {}, -- tasks to resume, in order
    spare = {}, -- the list of the round before, empty: the next round's
    heap = {},
    spent = {}, -- heap entries popped, for reuse (a wait makes no garbage)
    waiting = {}, -- fd -> { [task] = events }; kept once made (fds come back)
    nwaits = 0, -- (task, fd) pairs in `waiting`
    by_co = setmetatable({}, { __mode = "k" }), -- coroutine -> task
    tasks = 0, -- alive
    spawned = 0, -- in all: a task's number
    out = {},
  }, Runner)
end

-- A heap entry, spent ones first.
local function entry(self, at, t)
  local spent = self.spent
  local e = spent[#spent]
  if e then spent[#spent] = nil else e = {} end
  e.at, e.task, e.gen = at, t, t.gen
  return e
end

local function spend(self, e)
  e.task = nil
  self.spent[#self.spent + 1] = e
end

-- The task's waits are over: forget its sockets and its deadline.
function Runner:_unwait(t)
  local fds, waiting = t.fds, self.waiting
  for i = #fds, 1, -1 do
    local w = waiting[fds[i]]
    if w and w[t] then
      w[t] = nil
      self.nwaits = self.nwaits - 1
    end
    fds[i] = nil
  end
  t.gen = t.gen + 1 -- its heap entry, if any, goes stale
end

function Runner:_wake(t, ...)
  if t.queued or t.done then return end
  self:_unwait(t)
  t.queued = true
  t.resume_args = select("#", ...) > 0 and pack(...) or nil
  self.ready[#self.ready + 1] = t
end

-- Called in the task, through wait.lua: yields to the runner.
local function task_waiter(set, timeout)
  return coroutine.yield("vigi.wait", set, timeout)
end

function Runner:_park(t, set, timeout)
  t.gen_parked = t.gen
  local n = set.n or 0
  local waiting = self.waiting
  for i = 1, n do
    local fd, ev = set[2 * i - 1], set[2 * i]
    local w = waiting[fd]
    if not w then w = {} waiting[fd] = w end
    if not w[t] then self.nwaits = self.nwaits + 1 end
    w[t] = ev
    t.fds[#t.fds + 1] = fd
    local r, wr = false, false
    for _, e in pairs(w) do
      r, wr = r or e % 2 == 1, wr or e >= 2
    end
    self.poller:watch(fd, (r and 1 or 0) + (wr and 2 or 0))
  end
  if timeout >= 0 then
    heap_push(self.heap, entry(self, core.now() + timeout, t))
  elseif n == 0 then
    error("vigi.run: a task waits for nothing and without a deadline", 0)
  end
end

-- After a resume: the task ended, failed, or waits (no table made for the
-- common case, a wait).
function Runner:_after(t, ok, ...)
  if not ok then
    t.done = true
    self.tasks = self.tasks - 1
    wait.detach(t.co)
    error(debug.traceback(t.co, "vigi.run: a task failed: " .. tostring((...))), 0)
  end
  if coroutine.status(t.co) == "dead" then
    t.done = true
    self.tasks = self.tasks - 1
    wait.detach(t.co)
    t.results = pack(...)
    for _, j in ipairs(t.joiners) do self:_wake(j) end
    return
  end
  local what, set, timeout = ...
  if what == "vigi.wait" then
    self:_park(t, set, timeout)
  elseif what == "vigi.join" then
    -- parked until the joined task ends (it wakes its joiners)
    return
  else
    -- A bare coroutine.yield in a task: let the others run, then go on.
    self:_wake(t)
  end
end

function Runner:_step(t)
  t.queued = false
  local args = t.resume_args
  if args then
    t.resume_args = nil
    return self:_after(t, coroutine.resume(t.co, unpack(args)))
  end
  return self:_after(t, coroutine.resume(t.co))
end

function Runner:spawn(fn, ...)
  local args = pack(...)
  self.spawned = self.spawned + 1
  local t = { fds = {}, gen = 0, joiners = {}, id = self.spawned }
  t.co = coroutine.create(function() return fn(unpack(args)) end)
  wait.attach(t.co, task_waiter, function()
    -- only a task parked on sockets or a deadline; not one in join
    if not t.queued and not t.done and t.gen_parked == t.gen then self:_wake(t) end
  end)
  self.by_co[t.co] = t
  self.tasks = self.tasks + 1
  self:_wake(t)
  return setmetatable(t, _M.Task)
end

-- One round: run what is ready, then wait for sockets and deadlines.
function Runner:_round()
  local ready = self.ready
  self.ready, self.spare = self.spare, ready
  for i = 1, #ready do
    local t = ready[i]
    ready[i] = nil
    self:_step(t)
  end
  if self.tasks == 0 then return end
  local timeout = -1
  local h = self.heap
  if #self.ready > 0 then
    timeout = 0
  else
    while h[1] and h[1].gen ~= h[1].task.gen do spend(self, heap_pop(h)) end
    if h[1] then timeout = math.max(0, h[1].at - core.now())
    elseif self.nwaits == 0 then
      error("vigi.run: every task waits for another (join), none can go on", 0)
    end
  end
  local out, waiting = self.out, self.waiting
  local n = self.poller:wait(timeout, out)
  for i = 1, n or 0 do
    local w = waiting[out[2 * i - 1]]
    -- waking a task forgets it here (nil during a traversal is allowed)
    if w then for t in pairs(w) do self:_wake(t) end end
  end
  local now = core.now()
  while h[1] and (h[1].gen ~= h[1].task.gen or h[1].at <= now) do
    local e = heap_pop(h)
    if e.gen == e.task.gen then self:_wake(e.task) end
    spend(self, e)
  end
end

_M.Task = { __name = "vigi.task" }
_M.Task.__index = _M.Task

-- vigi.task{2, running}: its number in its vigi.run (the main function is
-- 1), and whether it ended.
function _M.Task:__tostring()
  return string.format("vigi.task{%d, %s}", self.id, self.done and "done" or "running")
end

-- task:join() -> what the task's function returned (waiting for its end).
function _M.Task:join()
  local r = current
  if not self.done then
    if not r then error("vigi: join() outside vigi.run", 2) end
    local mine = r.by_co[coroutine.running()]
    if not mine then error("vigi: join() from outside a task", 2) end
    self.joiners[#self.joiners + 1] = mine
    while not self.done do coroutine.yield("vigi.join") end
  end
  return unpack(self.results or NONE)
end

-- vigi.run(fn, ...) -> what fn returned, once fn and every task spawned
-- meanwhile have ended.
function _M.run(fn, ...)
  if type(fn) ~= "function" then error("vigi.run: expects a function", 2) end
  if current then error("vigi.run: already running (use vigi.spawn inside it)", 2) end
  local r = new_runner()
  current = r
  local main = r:spawn(fn, ...)
  local ok, err = pcall(function()
    while r.tasks > 0 do r:_round() end
  end)
  current = nil
  r.poller:close()
  if not ok then error(err, 0) end
  return unpack(main.results or NONE)
end

-- vigi.spawn(fn, ...) -> task, inside vigi.run.
function _M.spawn(fn, ...)
  if type(fn) ~= "function" then error("vigi.spawn: expects a function", 2) end
  if not current then error("vigi.spawn: only inside vigi.run", 2) end
  return current:spawn(fn, ...)
end

-- Whether a vigi.run is in progress.
function _M.running() return current ~= nil end

return _M
