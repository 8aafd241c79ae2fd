-- queue.lua: the one first-in first-out queue (stream sessions, event
-- subscriptions, the bridge's commands).
local queue = require "vigi.queue"

describe("queue", function()
  it("hands items back in order, nil when empty", function()
    local q = queue.new()
    assert.is_nil(q:pop())
    for i = 1, 5 do q:push({ n = i }) end
    assert.equal(5, q:len())
    assert.equal(1, q:peek().n)
    for i = 1, 5 do assert.equal(i, q:pop().n) end
    assert.equal(0, q:len())
    assert.is_nil(q:peek())
    assert.is_nil(q:pop())
  end)

  it("keeps the weight of what it holds", function()
    local q = queue.new(function(item) return #item end)
    q:push("abc")
    q:push("de")
    assert.equal(5, q.bytes)
    assert.equal("abc", q:pop())
    assert.equal(2, q.bytes)
    q:pop()
    assert.equal(0, q.bytes)
    assert.equal(0, queue.new().bytes)
  end)

  it("does not keep what it handed out", function()
    local q = queue.new()
    for i = 1, 1000 do q:push(i) q:pop() end
    for k in pairs(q) do assert.equal("string", type(k)) end
  end)
end)
