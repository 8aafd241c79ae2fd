-- Waiting inside cqueues (wahern's continuation queues): a vigi call made
-- in a coroutine that a cqueues controller runs yields to that controller
-- instead of blocking it. wait.lua finds this by itself once cqueues is
-- loaded; nothing to configure:
--
--   local cq = require("cqueues").new()
--   cq:wrap(function() local cam = vigi.connect{...} ... end)
--   cq:loop()
--
-- cqueues keeps every descriptor it was shown until told otherwise, and
-- fails its whole loop on one closed behind its back (libcurl closes its
-- sockets when it likes). So it is never shown vigi's sockets: each wait
-- gets an epoll of its own (core.poller) holding the wait set, cqueues
-- polls that one descriptor, and is told to forget it before it closes.
local cqueues = require "cqueues"
local core = require "vigi.core"

local _M = {}

local Pollable = {}
Pollable.__index = Pollable
function Pollable:pollfd() return self.fd end
function Pollable.events() return "r" end
function Pollable.timeout() return nil end

-- The waiter wait.lua uses for coroutines of a cqueues controller.
function _M.waiter(set, timeout)
  local n = set.n or 0
  if n == 0 then
    cqueues.poll(timeout >= 0 and timeout or nil)
    return true
  end
  local p = assert(core.poller())
  for i = 1, n do p:watch(set[2 * i - 1], set[2 * i]) end
  local fd = p:fd()
  if timeout >= 0 then
    cqueues.poll(setmetatable({ fd = fd }, Pollable), timeout)
  else
    cqueues.poll(setmetatable({ fd = fd }, Pollable))
  end
  cqueues.cancel(fd)
  p:close()
  return true
end

return _M
