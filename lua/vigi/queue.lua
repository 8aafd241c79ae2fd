-- First in, first out: items pushed at the tail, taken from the head,
-- both in constant time (table.remove(t, 1) moves every item left).
-- `bytes` keeps the sum of the items' weights, for queues bounded in
-- bytes; a queue made without a weigh function weighs nothing.
--
--   local q = queue.new(function(item) return #item.data end)
--   q:push(item); q:len(); q:peek(); q:pop() -> item | nil
local _M = {}

local Queue = {}
Queue.__index = Queue
Queue.__name = "vigi.queue"

local function nothing() return 0 end

function _M.new(weigh)
  return setmetatable({ head = 1, tail = 0, bytes = 0, weigh = weigh or nothing }, Queue)
end

function Queue:len() return self.tail - self.head + 1 end

function Queue:push(item)
  local tail = self.tail + 1
  self.tail = tail
  self[tail] = item
  self.bytes = self.bytes + self.weigh(item)
end

-- The oldest item without taking it, or nil.
function Queue:peek()
  if self.head > self.tail then return nil end
  return self[self.head]
end

-- Takes the oldest item, or nil when there is none.
function Queue:pop()
  local head = self.head
  if head > self.tail then return nil end
  local item = self[head]
  self[head] = nil
  self.head = head + 1
  self.bytes = self.bytes - self.weigh(item)
  return item
end

return _M
