-- The multipart binding of vigi.core: the document's example push stream
-- (section 4.13.1, written out as the camera sends it) through
-- core.multipart, fed at every chunk size, and the errors by name. The
-- C reader's own cases are in spec/c/multipart_test.c.
local core = require "vigi.core"

local OK = '{"result":"success","errCode":0}'
local HB = '{"Heartbeat":"30"}'
local EV = '{"event_type":"TamperDetection","time":1723175020}'

local STREAM = table.concat {
  "----boundary--\r\n",
  "Content-Type: application/json Content-Length: 32\r\n",
  "\r\n",
  OK, "\r\n",
  "----boundary--\r\n",
  "Content-Type: application/json\r\n",
  "Content-Length: 18\r\n",
  "\r\n",
  HB, "\r\n",
  "----boundary--\r\n",
  "Content-Type: application/json Content-Length: 50\r\n",
  "\r\n",
  EV, "\r\n",
}

local NOLEN = table.concat {
  "preamble, ignored\r\n",
  "----boundary--\r\n",
  "Content-Type: application/json\r\n",
  "\r\n",
  OK, "\r\n",
  "----boundary--\r\n",
  "content-type: application/json\r\n",
  "\r\n",
  HB, "\r\n",
  "----boundary--\r\n",
  "\r\n",
  EV, "\r\n",
  "----boundary----\r\n",
}

-- Where the first part's body ends in STREAM.
local FIRST = STREAM:find(OK, 1, true) + #OK - 1

local function lf(s) return (s:gsub("\r\n", "\n")) end

-- Feeds s in chunks of size n; returns the parts, the last error (if
-- any) and the most bytes the reader held.
local function play(s, n, opts)
  local r = core.multipart("--boundary--", opts)
  local parts, most = {}, 0
  for i = 1, #s, n do
    local got, kind, msg = r:feed(s:sub(i, i + n - 1))
    if not got then
      r:close()
      return parts, kind, msg, most
    end
    for _, p in ipairs(got) do parts[#parts + 1] = p end
    if r:buffered() > most then most = r:buffered() end
  end
  local got, kind, msg = r:feed("") -- an error held back behind parts
  r:close()
  if not got then return parts, kind, msg, most end
  return parts, nil, nil, most
end

local ROWS = {
  { name = "the document's stream, CRLF", input = STREAM, parts = { OK, HB, EV } },
  { name = "the document's stream, LF", input = lf(STREAM), parts = { OK, HB, EV } },
  { name = "no Content-Length, CRLF", input = NOLEN, parts = { OK, HB, EV } },
  { name = "no Content-Length, LF", input = lf(NOLEN), parts = { OK, HB, EV } },
  { name = "a part over max_part", input = STREAM, opts = { max_part = 40 }, parts = { OK, HB }, err = "protocol" },
  { name = "no Content-Length, a part over max_part", input = NOLEN, opts = { max_part = 40 },
    parts = { OK, HB }, err = "protocol" },
  { name = "garbage instead of a delimiter",
    input = "----boundary--\r\nContent-Length: 2\r\n\r\n{}\r\ngarbage\r\n", parts = { "{}" }, err = "protocol" },
  { name = "a header block that never ends",
    input = "----boundary--\r\n" .. string.rep("X-Pad: 0123456789\r\n", 30), opts = { max_header = 256 },
    parts = {}, err = "protocol" },
}

describe("core.multipart", function()
  for _, row in ipairs(ROWS) do
    it(row.name .. ", at every chunk size", function()
      for n = 1, #row.input do
        local parts, kind, msg, most = play(row.input, n, row.opts)
        assert.same(row.parts, parts)
        assert.equal(row.err, kind)
        if row.err then assert.is_string(msg) end
        assert.is_true(most <= 256 + 65536 + 80)
      end
    end)
  end

  it("returns the parts before an error, then the error, and sticks to it", function()
    local r = core.multipart("--boundary--")
    assert.same({ OK }, r:feed(STREAM:sub(1, FIRST) .. "\r\njunk\r\n"))
    local got, kind, msg = r:feed("")
    assert.is_nil(got)
    assert.equal("protocol", kind)
    assert.matches("^multipart: ", msg)
    assert.same({ nil, "protocol", msg }, { r:feed(STREAM) })
  end)

  it("holds an incomplete part and says so", function()
    local r = core.multipart("--boundary--")
    assert.same({}, r:feed(STREAM:sub(1, 60)))
    assert.equal(60 - 16, r:buffered()) -- the delimiter line is dropped
    assert.same({ OK }, r:feed(STREAM:sub(61, FIRST + 2)))
    assert.equal(0, r:buffered())
    assert.is_false(r:done())
    assert.same({}, r:feed("----boundary----\r\nepilogue"))
    assert.is_true(r:done())
    assert.matches("^vigi.multipart{", tostring(r))
    r:close()
    r:close()
    assert.equal("vigi.multipart{closed}", tostring(r))
    assert.has_error(function() r:feed("x") end)
  end)

  it("raises on bad arguments", function()
    assert.has_error(function() core.multipart() end)
    assert.has_error(function() core.multipart("b", { max_part = 0 }) end)
    assert.has_error(function() core.multipart("b", { max_part = 0 / 0 }) end)
    assert.has_error(function() core.multipart("b", { max_header = "x" }) end)
    assert.has_error(function() core.multipart("b", "opts") end)
  end)

  -- The boundary comes from the peer's Content-Type: one that cannot be a
  -- boundary is a protocol error as a value, never a raise inside sub:next.
  it("refuses a boundary that cannot be one as a value", function()
    for _, b in ipairs { "", string.rep("b", 71), "ab\0cd", "a\r\nb", "\27[2J" } do
      local r, kind, msg = core.multipart(b)
      assert.is_nil(r)
      assert.equal("protocol", kind)
      assert.matches("^multipart: ", msg)
    end
  end)
end)

describe("core.multipart_boundary", function()
  local rows = {
    { "multipart/mixed;boundary=--boundary--", "--boundary--" },
    { "multipart/mixed; Boundary = \"--boundary--\" ; charset=utf-8", "--boundary--" },
    { "MULTIPART/MIXED; charset=utf-8; BOUNDARY=abc", "abc" },
    { "application/json", nil },
    { "multipart/mixed", nil },
  }
  for _, row in ipairs(rows) do
    it(row[1], function() assert.same({ row[2] }, { core.multipart_boundary(row[1]) }) end)
  end

  -- nil alone: not multipart; nil and a message: a boundary that cannot be used
  for _, ct in ipairs { "multipart/mixed; boundary=", "multipart/mixed;boundary=ab\0cd",
                        "multipart/mixed;boundary=\"a\27[31mb\"", "multipart/mixed;boundary=\"open" } do
    it("refuses " .. ("%q"):format(ct) .. " with a message", function()
      local b, msg = core.multipart_boundary(ct)
      assert.is_nil(b)
      assert.matches("^multipart: .*boundary", msg)
    end)
  end
end)
