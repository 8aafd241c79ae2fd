-- The stream demux of vigi.core (core.demux): hand-made MULTITRANS byte
-- streams mixing RTSP messages and interleaved RTP, fed whole, byte by
-- byte and at other chunk sizes, with the items expected; the counters;
-- G.711 and the talk packetizer. The C readers' own cases are in
-- spec/c/rtp_test.c and spec/c/g711_test.c.
local core = require "vigi.core"
local B = require "spec.support.bytes"
local pack, unpack, band, bor = B.pack, B.unpack, B.band, B.bor
local H = B.fromhex -- H"7c 85": "\x" escapes are not Lua 5.1's

local SSRC = 0x1234abcd

-- One RTP packet: version 2, payload type pt (96 unless given).
local function rtp(marker, seq, ts, payload, pt)
  return pack(">BBI2I4I4", 0x80, bor(marker and 0x80 or 0, pt or 96), seq % 0x10000,
    ts % 0x100000000, SSRC) .. payload
end

-- One interleaved frame.
local function frame(ch, bytes) return "$" .. string.char(ch) .. pack(">I2", #bytes) .. bytes end

local SC = "\0\0\0\1"
local SPS = H"67 64 00 32 ac"
local PPS = H"68 ea 8f 2c"
local IDR = H"65 88 84 00"
local P1 = H"41 9a 02"
local STAP = H"18" .. pack(">s2", SPS) .. pack(">s2", PPS)
local FMTP = "a=fmtp:96 packetization-mode=1; profile-level-id=640032; "
  .. "sprop-parameter-sets=Z2QAMqzGuAoALWhAAAD6QAAnGgE=,aOqPLA=="
local FMTP_SPS = H"67 64 00 32 ac c6 b8 0a 00 2d 68 40 00 00 fa 40 00 27 1a 01"

local RESPONSE = "RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Type: application/json\r\n"
  .. "Content-Length: 45\r\n\r\n"
  .. '{"error_code":0,"session_id":"7","seq":"1"}\r\n'
local NOTIFY = "MULTITRANS rtsp://192.0.2.7/multitrans RTSP/1.0\nCSEQ: 9\nContent-Length: 23\n\n"
  .. '{"type":"notification"}'
local ALAW = string.rep(H"d5", 160)

-- A stream: a response, then video (STAP-A with SPS and PPS, an IDR in
-- three FU-A fragments, a P slice), audio on channel 2, a notification
-- in between, a frame on a channel nobody reserved, download bytes on
-- channel 4.
local STREAM = table.concat {
  "\r\n", -- garbage before the first item
  RESPONSE,
  frame(0, rtp(false, 100, 90000, STAP)),
  frame(0, rtp(false, 101, 90000, H"7c 85" .. H"88 84")),
  frame(2, rtp(true, 7, 8000, ALAW, 8)),
  frame(0, rtp(false, 102, 90000, H"7c 05" .. H"11")),
  NOTIFY,
  frame(0, rtp(true, 103, 90000, H"7c 45" .. H"22 33")),
  frame(9, rtp(true, 1, 1, "x")),
  frame(0, rtp(true, 104, 93000, P1)),
  frame(2, rtp(false, 8, 8160, ALAW, 8)),
  frame(4, "\0\1\2\3download"),
}

local function tracks(d)
  assert.equal(0, d:track(0, { kind = "video", codec = "H264", session = "7" }))
  d:track(2, { kind = "audio", codec = "PCMA", clock = 8000, session = "7" })
  d:track(4, { codec = "raw", session = "dl" })
end

local function expected()
  return {
    { kind = "message", response = true, status = 200, reason = "OK",
      body = '{"error_code":0,"session_id":"7","seq":"1"}\r\n',
      headers = { cseq = "1", ["content-type"] = "application/json", ["content-length"] = "45" } },
    { kind = "audio", codec = "PCMA", channel = 2, session = "7", pts = 0.0, timestamp = 8000, seq = 7,
      keyframe = true, lost = 0, data = ALAW },
    { kind = "message", response = false, method = "MULTITRANS", uri = "rtsp://192.0.2.7/multitrans",
      body = '{"type":"notification"}', headers = { cseq = "9", ["content-length"] = "23" } },
    { kind = "video", codec = "H264", channel = 0, session = "7", pts = 0.0, timestamp = 90000, seq = 103,
      keyframe = true, lost = 0,
      data = SC .. SPS .. SC .. PPS .. SC .. H"65 88 84 11 22 33" },
    { kind = "video", codec = "H264", channel = 0, session = "7", pts = 3000 / 90000, timestamp = 93000, seq = 104,
      keyframe = false, lost = 0, data = SC .. P1 },
    { kind = "audio", codec = "PCMA", channel = 2, session = "7", pts = 0.02, timestamp = 8160, seq = 8,
      keyframe = true, lost = 0, data = ALAW },
    { kind = "data", channel = 4, session = "dl", data = "\0\1\2\3download" },
  }
end

-- Feeds s in chunks of n bytes, taking every item after each chunk.
local function play(s, n, opts, setup)
  local d = core.demux(opts)
  ;(setup or tracks)(d)
  local items, most = {}, 0
  for i = 1, #s, n do
    d:feed(s:sub(i, i + n - 1))
    if d:buffered() > most then most = d:buffered() end
    while true do
      local item, kind, msg = d:next()
      if not item then
        if kind then items.error = { kind, msg } end
        break
      end
      items[#items + 1] = item
    end
  end
  return items, d, most
end

describe("core.demux", function()
  it("splits messages and frames, fed whole", function()
    local items, d = play(STREAM, #STREAM)
    assert.same(expected(), items)
    assert.same({ garbage = 2, stray = 1, lost = 0, duplicates = 0, bad_rtp = 0, oversized = 0, unsupported = 0,
      frames = 4, data = 1, messages = 2, bytes = #STREAM }, d:stats())
    assert.equal(0, d:buffered())
    assert.is_true(d:peak() >= #(items[4].data))
    d:close()
  end)

  it("gives the same items at every chunk size", function()
    local want = expected()
    for n = 1, 64 do
      local items, d, most = play(STREAM, n)
      assert.same(want, items, "chunk " .. n)
      assert.equal(2, d:stats().garbage)
      -- Never more than the largest item (an audio frame) and one chunk.
      assert.is_true(most < 4 + 12 + 160 + n, "held " .. most)
    end
  end)

  it("ends an access unit when the timestamp changes without a marker", function()
    local s = frame(0, rtp(false, 1, 0, P1)) .. frame(0, rtp(false, 2, 0, P1))
      .. frame(0, rtp(false, 3, 3000, IDR)) .. frame(0, rtp(true, 4, 6000, P1))
    local items = play(s, 1)
    assert.equal(3, #items)
    assert.equal(SC .. P1 .. SC .. P1, items[1].data)
    assert.equal(2, items[1].seq)
    assert.equal(3000, items[2].timestamp)
    assert.is_true(items[2].keyframe)
    assert.equal(SC .. IDR, items[2].data)
    assert.equal(SC .. P1, items[3].data)
  end)

  it("takes packets by hand (push): data items that turned out RTP", function()
    local d = core.demux()
    d:track(0, { kind = "data", codec = "raw", session = "7" })
    d:feed(frame(0, rtp(false, 1, 0, P1)) .. frame(0, rtp(false, 2, 0, P1)))
    local a, b = d:next(), d:next()
    assert.equal("data", a.kind)
    -- the channel becomes video; the two packets go through it by hand
    d:track(0, { kind = "video", codec = "H264", session = "7" })
    assert.equal(0, select("#", d:push(0, a.data)))
    assert.equal(0, select("#", d:push(0, b.data)))
    -- a new timestamp ends the unit: the pending one out, the packet taken
    local f1, f2 = d:push(0, rtp(true, 3, 3000, IDR))
    assert.equal(SC .. P1 .. SC .. P1, f1.data)
    assert.equal(SC .. IDR, f2.data)
    assert.is_true(f2.keyframe)
    assert.equal(0, select("#", d:push(5, a.data))) -- no track there
    d:close()
  end)

  it("puts the fmtp's SPS and PPS before an IDR that lacks them", function()
    local s = frame(0, rtp(true, 1, 0, IDR)) .. frame(0, rtp(true, 2, 3000, P1))
    local items = play(s, #s, nil, function(d)
      assert.equal(2, d:track(0, { codec = "H264", fmtp = FMTP }))
    end)
    assert.equal(SC .. FMTP_SPS .. SC .. PPS .. SC .. IDR, items[1].data)
    assert.equal(SC .. P1, items[2].data)
    local d = core.demux()
    local n, msg = d:track(0, { codec = "H264", fmtp = "sprop-parameter-sets=aOqPLA==,%%%%" })
    assert.equal(1, n)
    assert.matches("malformed", msg)
    -- the document's own example, with its name broken across a line
    assert.equal(2, d:track(0, { codec = "H264", fmtp = "a=fmtp:96 packetization-mode=1; " ..
      "profile-level-id=640032;\nsprop-parameter- sets=Z2QAMqzGuAoALWhAAAD6QAAnGgE=,aOqPLA==" }))
    d:close()
  end)

  it("counts loss, duplicates and wraps", function()
    local s = table.concat {
      frame(0, rtp(true, 65534, 0xffffff00, P1)),
      frame(0, rtp(true, 65535, 0xffffff00 + 3000, P1)),
      frame(0, rtp(true, 0, 0xffffff00 + 6000, P1)), -- both wrap here
      frame(0, rtp(true, 0, 0xffffff00 + 6000, P1)), -- duplicate
      frame(0, rtp(false, 1, 9000, H"7c 81 01")), -- FU-A start ...
      frame(0, rtp(true, 3, 9000, H"7c 41 02")), -- ... its middle lost: unit dropped
      frame(0, rtp(true, 4, 12000, P1)),
    }
    local items, d = play(s, 3)
    assert.equal(4, #items)
    assert.same({ 0, 0, 0, 1 }, { items[1].lost, items[2].lost, items[3].lost, items[4].lost })
    assert.equal(0xffffff00 + 6000 - 0x100000000, items[3].timestamp)
    assert.near(6000 / 90000, items[3].pts, 1e-9)
    assert.near((12000 + 0x100 + 0) / 90000, items[4].pts, 1e-9)
    local st = d:stats()
    assert.equal(1, st.lost)
    assert.equal(1, st.duplicates)
    assert.equal(4, st.frames)
  end)

  it("drops access units over max_frame, and its memory stays under it", function()
    local max = 8192
    local parts = {}
    for au = 0, 3 do
      local big = au % 2 == 0
      local n = big and 5 or 1
      for i = 1, n do
        local s, e = i == 1 and 0x80 or 0, i == n and 0x40 or 0
        parts[#parts + 1] = frame(0, rtp(i == n, #parts + 1, au * 3000,
          H"7c" .. string.char(bor(s, e, 1)) .. string.rep(H"55", 3000)))
      end
    end
    local items, d = play(table.concat(parts), 1000, { max_frame = max })
    assert.equal(2, #items)
    assert.equal(4 + 1 + 3000, #items[1].data)
    assert.equal(2, d:stats().oversized)
    assert.is_true(d:peak() <= max)
  end)

  it("skips frames of unknown channels, then reads them once tracked", function()
    local d = core.demux()
    d:feed(frame(5, rtp(true, 1, 0, ALAW, 8)))
    assert.is_nil(d:next())
    d:track(5, { codec = "PCMU" })
    d:feed(frame(5, rtp(true, 2, 160, ALAW, 0)))
    local item = d:next()
    assert.equal("PCMU", item.codec)
    assert.equal("audio", item.kind)
    assert.is_nil(item.session)
    d:untrack(5)
    d:feed(frame(5, rtp(true, 3, 320, ALAW, 0)))
    assert.is_nil(d:next())
    assert.equal(2, d:stats().stray)
    assert.equal(1, d:stats().frames)
  end)

  it("counts malformed RTP and unsupported packet types", function()
    local s = frame(0, H"40 00") .. frame(0, rtp(true, 1, 0, H"19 00")) .. frame(0, rtp(true, 2, 3000, P1))
    local items, d = play(s, #s)
    assert.equal(1, #items)
    assert.equal(1, d:stats().bad_rtp)
    assert.equal(1, d:stats().unsupported)
  end)

  it("reports stream errors, sticky", function()
    local d = core.demux { max_body = 100 }
    d:feed("RTSP/1.0 200 OK\r\nContent-Length: 101\r\n\r\n")
    local item, kind, msg = d:next()
    assert.is_nil(item)
    assert.equal("protocol", kind)
    assert.is_string(msg)
    d:feed(frame(0, "x"))
    local _, kind2, msg2 = d:next()
    assert.equal("protocol", kind2)
    assert.equal(msg, msg2)
  end)

  it("reads a socket straight into its buffer", function()
    local a = assert(core.udp { address = "127.0.0.1", port = 0 })
    local b = assert(core.udp { address = "127.0.0.1", port = 0 })
    local _, port = a:getsockname()
    local d = core.demux()
    tracks(d)
    local n, err = d:recv(a:fd())
    assert.is_nil(n)
    assert.equal("again", err)
    local bytes = RESPONSE .. frame(4, "abc")
    assert(b:sendto(bytes, "127.0.0.1", port))
    for _ = 1, 100 do
      n = d:recv(a:fd())
      if n then break end
      core.poll({ a:fd(), 1, n = 1 }, 0.05)
    end
    assert.equal(#bytes, n)
    assert.equal("message", d:next().kind)
    assert.equal("abc", d:next().data)
    assert.equal(#bytes, d:stats().bytes)
    n, err = d:recv(1023, 10) -- no such descriptor
    assert.is_nil(n)
    assert.is_string(err)
    a:close()
    b:close()
  end)

  it("raises on bad arguments, closes twice", function()
    local d = core.demux()
    assert.has_error(function() core.demux { max_frame = "big" } end)
    assert.has_error(function() core.demux { max_frame = 10 } end)
    assert.has_error(function() d:track(256, { codec = "H264" }) end)
    assert.has_error(function() d:track(0, { codec = "VP8" }) end)
    assert.has_error(function() d:track(0, { codec = "H264", kind = "audio" }) end)
    assert.has_error(function() d:track(0, { codec = "H264", clock = -1 }) end)
    assert.has_error(function() d:feed({}) end)
    assert.matches("^vigi.demux{", tostring(d))
    d:close()
    d:close()
    assert.equal("vigi.demux{closed}", tostring(d))
    assert.has_error(function() d:next() end)
  end)
end)

describe("core.g711", function()
  it("encodes the standard's code points", function()
    assert.equal(H"d5 55", core.g711_encode(H"00 00 ff ff", "alaw"))
    assert.equal(H"ff 7f", core.g711_encode(H"00 00 ff ff", "ulaw"))
    assert.equal(pack("<i2i2", 8, -32256), core.g711_decode(H"d5 2a", "alaw"))
    assert.equal(pack("<i2i2", 0, -32124), core.g711_decode(H"ff 00", "ulaw"))
    assert.has_error(function() core.g711_encode("\0", "alaw") end)
    assert.has_error(function() core.g711_encode("\0\0", "opus") end)
  end)

  it("round-trips within the quantization step", function()
    local pcm = {}
    for x = -32768, 32767, 7 do pcm[#pcm + 1] = pack("<i2", x) end
    pcm = table.concat(pcm)
    for _, law in ipairs { "alaw", "ulaw" } do
      local back = core.g711_decode(core.g711_encode(pcm, law), law)
      assert.equal(#pcm, #back)
      for i = 1, #pcm, 2 do
        local x, y = unpack("<i2", pcm, i), unpack("<i2", back, i)
        local bound = math.max(8, math.floor(math.abs(x) / 16) + 8)
        if law == "ulaw" and math.abs(x) > 32635 then bound = 644 end
        assert(math.abs(x - y) <= bound, law .. " " .. x .. " -> " .. y)
      end
    end
  end)
end)

describe("core.talk_packer", function()
  it("makes whole packets with the header fields of the talk channel", function()
    local p = core.talk_packer { channel = 2, law = "ulaw", ssrc = 0xdeadbeef, seq = 65535, timestamp = 1000 }
    assert.equal("", p:pack(string.rep(H"ff", 100)))
    local out = p:pack(string.rep(H"ff", 300)) -- 400 samples: two packets, 80 kept
    assert.equal(2 * 176, #out)
    local d = core.demux()
    d:track(2, { codec = "PCMU" })
    d:feed(out)
    local want = { { 65535, 1000 }, { 0, 1160 } }
    for i = 1, 2 do
      local o = (i - 1) * 176
      local dollar, ch, len, b0, b1, seq, ts, ssrc = unpack(">c1BI2BBI2I4I4", out, o + 1)
      assert.same({ "$", 2, 172, 0x80 }, { dollar, ch, len, b0 })
      assert.equal(i == 1 and 0x80 or 0, band(b1, 0x80)) -- marker on the first packet only
      assert.equal(0, band(b1, 0x7f))
      assert.same(want[i], { seq, ts })
      assert.equal(0xdeadbeef, ssrc)
      assert.equal(string.rep(H"ff", 160), d:next().data)
    end
    assert.same({ seq = 1, timestamp = 1320, packets = 2, ssrc = 0xdeadbeef, buffered = 80 }, p:state())
    local last = p:flush()
    assert.equal(16 + 80, #last)
    assert.equal("", p:flush())
    assert.equal(3, p:state().packets)
    assert.equal(1400, p:state().timestamp)
  end)

  it("defaults to A-law, 160 samples, channel 0, random ssrc and seq", function()
    local p = core.talk_packer()
    local out = p:pack(string.rep(H"d5", 160))
    assert.equal(176, #out)
    assert.equal(0, out:byte(2))
    assert.equal(bor(0x80, 8), out:byte(6))
    assert.has_error(function() core.talk_packer { law = "opus" } end)
    assert.has_error(function() core.talk_packer { samples = 0 } end)
  end)
end)

-- A real encoder's output: ffmpeg's H.264 (B-frames, two slices per
-- picture, an IDR every 10 frames, the SPS/PPS left only before the first)
-- cut into access units at its AUDs, packetized here as a camera does
-- (small NAL units in STAP-A, large ones in FU-A, marker on the last
-- packet), read back, and counted by ffprobe, in full and from the second
-- keyframe on (which decodes only with the parameter sets put back).
describe("core.demux with ffmpeg's H.264", function()
  local function sh(cmd)
    local p = assert(io.popen(cmd .. " 2>/dev/null", "r"))
    local out = p:read("*a")
    p:close()
    return out
  end
  local have = sh("command -v ffmpeg && command -v ffprobe") ~= ""
  local test = have and it or pending

  local function nals(annexb)
    local out, pos = {}, 1
    local s = annexb:find("\0\0\1", pos, true)
    while s do
      local e = annexb:find("\0\0\1", s + 3, true)
      local nal = annexb:sub(s + 3, e and e - 1 or #annexb)
      if e and nal:sub(-1) == "\0" then nal = nal:sub(1, -2) end -- a 4-byte start code follows
      out[#out + 1] = nal
      s = e
    end
    return out
  end

  local function packetize(units, mtu)
    local out, seq = {}, 4000
    local function send(marker, ts, payload)
      seq = seq + 1
      out[#out + 1] = frame(0, rtp(marker, seq, ts, payload))
    end
    for i, au in ipairs(units) do
      local ts = i * 3600
      local stap = {}
      local function flush_stap(marker)
        if #stap == 1 then send(marker, ts, stap[1])
        elseif #stap > 1 then
          local parts = { H"18" }
          for _, n in ipairs(stap) do parts[#parts + 1] = pack(">s2", n) end
          send(marker, ts, table.concat(parts))
        end
        stap = {}
      end
      for j, nal in ipairs(au) do
        local last = j == #au
        if #nal < 200 then
          stap[#stap + 1] = nal
          if last then flush_stap(true) end
        else
          flush_stap(false)
          if #nal <= mtu then send(last, ts, nal)
          else
            local ind, typ = string.char(bor(band(nal:byte(1), 0xe0), 28)), band(nal:byte(1), 0x1f)
            local pos = 2
            while pos <= #nal do
              local piece = nal:sub(pos, pos + mtu - 1)
              local s = pos == 2 and 0x80 or 0
              pos = pos + #piece
              local e = pos > #nal and 0x40 or 0
              send(last and e ~= 0, ts, ind .. string.char(bor(s, e, typ)) .. piece)
            end
          end
        end
      end
    end
    return table.concat(out)
  end

  local function count(path)
    return tonumber(sh("ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames "
      .. "-of csv=p=0 " .. path))
  end

  test("gives every access unit, each decodable from any keyframe", function()
    local dir = sh("mktemp -d"):gsub("%s+$", "")
    finally(function() os.execute("rm -rf '" .. dir .. "'") end)
    assert(os.execute("ffmpeg -v error -f lavfi -i testsrc=size=320x240:rate=25 -frames:v 30 -c:v libx264 "
      .. "-bf 2 -x264-params aud=1:keyint=10:min-keyint=10:scenecut=0:slices=2 -f h264 -y " .. dir .. "/in.264"))
    local f = assert(io.open(dir .. "/in.264", "rb"))
    local clip = f:read("*a")
    f:close()
    local units = {}
    for _, nal in ipairs(nals(clip)) do
      local t = band(nal:byte(1), 0x1f)
      if t == 9 or #units == 0 then units[#units + 1] = {} end
      -- x264 repeats SPS and PPS before every IDR; a camera may not.
      if #units == 1 or (t ~= 7 and t ~= 8) then table.insert(units[#units], nal) end
    end
    assert.equal(30, #units)
    local stream = packetize(units, 1000)
    local items, d = play(stream, 1500, { max_frame = 1048576 })
    assert.equal(30, #items)
    assert.same({ lost = 0, bad = 0, oversized = 0 },
      { lost = d:stats().lost, bad = d:stats().bad_rtp, oversized = d:stats().oversized })
    local keys, all, cut = {}, {}, {}
    for i, item in ipairs(items) do
      all[#all + 1] = item.data
      if item.keyframe then keys[#keys + 1] = i end
    end
    assert.same({ 1, 11, 21 }, keys)
    -- The later IDRs came without SPS/PPS; the demux put them back.
    assert.equal(7, band(units[1][2]:byte(1), 0x1f))
    for _, k in ipairs { 11, 21 } do
      assert.not_equal(7, band(units[k][2]:byte(1), 0x1f))
      assert.truthy(items[k].data:find(SC .. units[1][2] .. SC .. units[1][3], 1, true))
    end
    for i = keys[2], #items do cut[#cut + 1] = items[i].data end
    local function write(name, parts)
      local o = assert(io.open(dir .. "/" .. name, "wb"))
      o:write(table.concat(parts))
      o:close()
      return dir .. "/" .. name
    end
    assert.equal(count(dir .. "/in.264"), count(write("all.264", all)))
    assert.equal(#cut, count(write("cut.264", cut)))
    -- The first access unit carries its own SPS and PPS: nothing added.
    assert.equal(#table.concat(units[1], "\0\0\0\1") + 4, #items[1].data)
  end)
end)
