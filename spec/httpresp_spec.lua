-- core.httpresp, the binding of csrc/httpresp.c: the head as a Lua table,
-- body bytes out of every feed, trailers, the peer's close, bytes past the
-- end, sticky errors as values, and options checked. The reader's own
-- cases (every limit, malformed answers) are in spec/c/httpresp_test.c.
local core = require "vigi.core"

local CHUNKED = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n" ..
  "Set-Thing: a\r\nset-thing: b\r\nX-Folded: one\r\n two\r\n\r\n" ..
  "3;x=\"a;b\"\r\n{\"a\r\nA\r\n\":[1,2,3]}\r\n0;end\r\nX-Sum: 7\r\n\r\nNEXT"

-- Feeds s in pieces of n bytes: the body, the reader.
local function read(s, n)
  local r, body = core.httpresp(), {}
  for i = 1, #s, n do body[#body + 1] = assert(r:feed(s:sub(i, i + n - 1))) end
  return table.concat(body), r
end

describe("core.httpresp", function()
  it("gives the same head, body and trailers at every piece size", function()
    for n = 1, #CHUNKED do
      local body, r = read(CHUNKED, n)
      assert.equal('{"a":[1,2,3]}', body)
      local status, headers, version, keep, reason = r:head()
      assert.equal(200, status)
      assert.same({ ["transfer-encoding"] = "chunked", ["set-thing"] = "a, b", ["x-folded"] = "one   two" }, headers)
      assert.equal("1.1", version)
      assert.is_true(keep)
      assert.equal("OK", reason)
      assert.same({ ["x-sum"] = "7" }, r:trailers())
      assert.is_true(r:done())
      assert.equal(4, r:extra())
      r:close()
    end
  end)

  it("has no head before the final one, and ends a close-framed body at the close", function()
    local r = core.httpresp()
    assert.equal("", r:feed("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\n"))
    assert.is_nil(r:head())
    assert.equal("body", r:feed("\r\nbody"))
    assert.is_false(r:done())
    assert.is_true(r:eof())
    assert.is_true(r:done())
    assert.is_false(select(4, r:head()))
  end)

  it("says closed when the peer closes before the end", function()
    local r = core.httpresp()
    assert.equal("ab", r:feed("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab"))
    local ok, kind, msg = r:eof()
    assert.is_nil(ok)
    assert.equal("closed", kind)
    assert.truthy(msg:find("closed before the answer ended", 1, true), msg)
  end)

  it("returns the body before an error, then the error, for good", function()
    local r = core.httpresp()
    assert.equal("ok", r:feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\nzz\r\n"))
    local kind, msg = r:error()
    assert.equal("protocol", kind)
    assert.equal("HTTP answer: a chunk size that is not hex digits", msg)
    local body, k2 = r:feed("0\r\n\r\n")
    assert.is_nil(body)
    assert.equal("protocol", k2)
    assert.is_false(r:done())
  end)

  it("takes its limits as options, and refuses what is out of range", function()
    local r = core.httpresp { max_head = 64, max_interim = 0 }
    local body, kind, msg = r:feed("HTTP/1.1 100 Continue\r\n\r\n")
    assert.is_nil(body)
    assert.equal("protocol", kind)
    assert.truthy(msg:find("interim", 1, true))
    r = core.httpresp { max_body = 3 }
    assert.equal("abc", r:feed("HTTP/1.1 200 OK\r\n\r\nabcd"))
    assert.equal("protocol", select(2, r:feed("")))
    assert.has_error(function() core.httpresp { max_head = 0 } end)
    assert.has_error(function() core.httpresp { max_body = -1 } end)
    assert.matches("vigi.httpresp{status=0", tostring(core.httpresp()))
    r:close()
    r:close()
    assert.equal("vigi.httpresp{closed}", tostring(r))
    assert.has_error(function() r:feed("x") end, "vigi.httpresp: used after close")
  end)
end)
