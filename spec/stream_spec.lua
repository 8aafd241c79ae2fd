-- Streams end to end against vigi-sim over TCP: digest variants, preview
-- frames, record checked by ffprobe, playback and play, download with
-- resume, talk decoded by the sim, and every stream fault of the sim.
local helper = require "spec.helper"
local vigi = require "vigi"
local core = require "vigi.core"

local media = require "spec.support.media"
local tmpname, sha256_file, ffprobe_frames = media.tmpname, media.sha256_file, media.ffprobe_frames

-- Frames of a session until `n` video frames (or an end or error).
local function take(s, n, seconds)
  local got, notes, fail = {}, {}, nil
  local stop = core.now() + (seconds or 10)
  while #got < n and core.now() < stop do
    local item, err = s:next(stop - core.now())
    if not item then fail = err or s.error break end
    if item.kind == "video" then got[#got + 1] = item
    elseif item.kind == "notification" then notes[#notes + 1] = item end
  end
  return got, notes, fail
end

describe("streams", function()
  local sim, cam
  setup(function() sim = helper.start_sim() end)
  teardown(function() sim:stop() end)
  before_each(function()
    sim:reset()
    sim:stream_config { speed = 0, qop = "auth", algorithm = "MD5", video_codec = "H264" }
    sim:stream_fault { fault = "none" }
    cam = assert(vigi.connect(sim:options()))
  end)
  after_each(function() cam:close() end)

  describe("connection", function()
    it("finds the stream port through getStreamPort when none is given", function()
      local c = assert(vigi.connect(sim:options { stream_port = false }))
      local s = assert(c:preview { resolution = "HD" })
      assert.equal(sim.stream, c.stream_port)
      s:close()
      c:close()
    end)

    for _, v in ipairs {
      { qop = "none", algorithm = "MD5" }, { qop = "auth", algorithm = "MD5" },
      { qop = "none", algorithm = "SHA-256" }, { qop = "auth", algorithm = "SHA-256", opaque = true },
      { qop = "auth", algorithm = "SHA-256", quoted_only = true },
    } do
      it(string.format("authenticates with digest qop=%s algorithm=%s%s", v.qop, v.algorithm,
        v.quoted_only and " (quoted values only)" or ""), function()
        sim:stream_config(v)
        local s = assert(cam:preview { resolution = "HD" })
        local frames = take(s, 3)
        assert.equal(3, #frames)
        -- every later request carries its own Authorization (nc counting up)
        assert(s:force_iframe())
        assert(s:force_iframe())
        s:close()
        assert.equal(0, sim:stream_state().auth_failures)
      end)
    end

    it("reports a wrong password as an auth error, without the password", function()
      local c = assert(vigi.connect(sim:options()))
      -- the control port keeps the right password; the stream side gets another
      sim:stream_config { username = "someone-else" }
      local s, err = c:preview {}
      assert.is_nil(s)
      assert.equal("auth", err.kind)
      assert.is_nil(tostring(err):find(helper.PASSWORD, 1, true))
      c:close()
    end)

    it("goes on after a stale nonce without asking again", function()
      local s = assert(cam:preview {})
      sim:stream_fault { fault = "stale_nonce" }
      assert(s:force_iframe())
      assert.is_true(s.conn.stats.auth_rounds >= 2)
      assert.equal(5, #take(s, 5))
      s:close()
    end)

    it("accepts bare (not enveloped) answers", function()
      sim:stream_config { bare_responses = true }
      local s = assert(cam:preview {})
      assert.equal(5, #take(s, 5))
      s:close()
    end)

    it("refuses bad parameters before anything is sent", function()
      local before = sim:stream_state().requests
      local s, err = cam:playback { start_time = 10 } -- no end_time
      assert.is_nil(s)
      assert.equal("invalid", err.kind)
      s, err = cam:playback { start_time = 1, end_time = 2, event_type = { "Nope" } }
      assert.is_nil(s)
      assert.equal("invalid", err.kind)
      s, err = cam:playback { start_time = 1, end_time = 2, event_type = { "Timing" },
                              event_type_exclude = {} }
      assert.is_nil(s)
      assert.equal("invalid", err.kind)
      s, err = cam:preview { resolution = "8K" }
      assert.is_nil(s)
      assert.equal("invalid", err.kind)
      assert.equal(before, sim:stream_state().requests)
    end)
  end)

  describe("preview", function()
    it("gives whole frames: H.264 access units and G.711 audio, pts rising", function()
      local s = assert(cam:preview { resolution = "HD" })
      local video, audio, last = 0, 0, -1
      local first
      while video < 50 do
        local f = assert(s:next(5))
        if f.kind == "video" then
          video = video + 1
          first = first or f
          assert.equal("H264", f.codec)
          assert.equal("\0\0\0\1", f.data:sub(1, 4))
          assert.is_true(f.pts > last)
          last = f.pts
        elseif f.kind == "audio" then
          audio = audio + 1
          assert.equal("PCMA", f.codec)
          assert.equal(160, #f.data)
        end
      end
      assert.is_true(audio > 0)
      -- 25 frames a second
      assert.near(49 / 25, last - first.pts, 0.001)
      s:close()
      local st = sim:stream_state()
      assert.is_true(st.sessions[1] == nil or st.sessions[1].stopped)
    end)

    it("puts SPS and PPS before every keyframe", function()
      local s = assert(cam:preview {})
      local keys = 0
      for _, f in ipairs(take(s, 60)) do
        if f.keyframe then
          keys = keys + 1
          -- NAL types 7 and 8 come before the IDR (5)
          local types, at = {}, 1
          while true do -- (a plain search: Lua 5.1 patterns cannot hold "\0")
            local i = f.data:find("\0\0\1", at, true)
            if not i then break end
            types[#types + 1] = f.data:byte(i + 3) % 32
            at = i + 3
          end
          assert.equal(7, types[1])
          assert.equal(8, types[2])
        end
      end
      assert.is_true(keys >= 2)
      s:close()
    end)

    it("force_iframe makes the next frame a keyframe, out of the usual GOP", function()
      sim:stream_config { speed = 1 } -- paced, so that few frames are on their way
      local s = assert(cam:preview {})
      take(s, 3)
      assert(s:force_iframe { stream_type = "main" })
      local key
      for _, f in ipairs(take(s, 3)) do key = key or (f.keyframe and f) end
      assert.truthy(key, "no keyframe within 3 frames")
      -- the clip's own keyframes fall on whole seconds
      local frac = key.pts % 1
      assert.is_true(frac > 0.01 and frac < 0.99, "keyframe at " .. key.pts)
      s:close()
    end)

    for _, codec in ipairs { "H264", "H265" } do
      it("records 5 seconds of " .. codec .. " that ffprobe reads frame by frame", function()
        sim:stream_config { video_codec = codec }
        local file = tmpname(codec == "H264" and ".h264" or ".h265")
        local calls = 0
        local r = assert(cam:record { seconds = 5, file = file, progress = function() calls = calls + 1 end })
        assert.equal(125, r.frames)
        assert.equal(codec, r.codec)
        assert.is_true(calls > 0)
        local n, name, out = ffprobe_frames(file, codec == "H264" and "h264" or "hevc")
        assert.equal(125, n, out)
        assert.equal(codec == "H264" and "h264" or "hevc", name)
        os.remove(file)
      end)
    end
  end)

  describe("playback", function()
    local T0 = 1700000000
    it("ends at end_time with the end notification", function()
      local s = assert(cam:playback { start_time = T0, end_time = T0 + 2 })
      local video, ended = 0, nil
      for f in s:frames() do
        if f.kind == "video" then video = video + 1
        elseif f.kind == "notification" then ended = f
        elseif f.kind == "error" then error(tostring(f.error)) end
      end
      assert.equal("stream_end", ended.event_type)
      assert.equal(50, video)
      assert.is_nil(s.error)
      s:close()
    end)

    it("play moves the window", function()
      sim:stream_config { speed = 4 } -- paced, so that few frames are on their way
      local s = assert(cam:playback { start_time = T0, end_time = T0 + 60 })
      take(s, 5)
      assert(s:play { start_time = T0 + 30, end_time = T0 + 31 })
      local window = sim:stream_state().sessions[1].window
      assert.equal(T0 + 30, tonumber(window.start))
      assert.equal(T0 + 31, tonumber(window["end"]))
      local video = 0
      for f in s:frames() do
        if f.kind == "video" then video = video + 1 end
      end
      -- one second of the new window, after the few already on their way
      assert.is_true(video >= 25 and video <= 25 + 4, "frames after play: " .. video)
      s:close()
    end)
  end)

  describe("download", function()
    it("saves the recording byte for byte", function()
      local file = tmpname(".ts")
      local seen = 0
      local r = assert(cam:download { start_time = 1, end_time = 2, event_type = { "MotionDetection" },
                                      file = file, progress = function(got) seen = got end })
      local want = sim:stream_file()
      local sum, size = sha256_file(file)
      assert.equal(want.size, size)
      assert.equal(want.sha256, sum)
      assert.equal(want.size, r.total)
      assert.equal(size, seen)
      os.remove(file)
    end)

    it("reports a cut download as incomplete and resumes it", function()
      local file = tmpname(".ts")
      sim:stream_fault { fault = "cut_mid_frame", after = 10 }
      local r, err = cam:download { start_time = 1, end_time = 2, file = file }
      assert.is_nil(r)
      assert.equal("network", err.kind)
      assert.matches("resume", err.message)
      local _, partial = sha256_file(file)
      local want = sim:stream_file()
      assert.is_true(partial > 0 and partial < want.size)
      sim:stream_fault { fault = "none" }
      r = assert(cam:download { start_time = 1, end_time = 2, file = file, resume = true })
      assert.equal(partial, r.resumed_from)
      local sum, size = sha256_file(file)
      assert.equal(want.size, size)
      assert.equal(want.sha256, sum)
      os.remove(file)
    end)
  end)

  describe("talk", function()
    -- One second of a 440 Hz tone at 8 kHz.
    local function tone(n)
      local t = {}
      for i = 0, n - 1 do
        local v = math.floor(12000 * math.sin(2 * math.pi * 440 * i / 8000))
        t[#t + 1] = string.char(v % 256, math.floor(v / 256) % 256)
      end
      return table.concat(t)
    end
    local function samples(pcm)
      local t = {}
      for i = 1, #pcm - 1, 2 do
        local lo, hi = pcm:byte(i, i + 1)
        local v = lo + hi * 256
        t[#t + 1] = v >= 32768 and v - 65536 or v
      end
      return t
    end
    local function unhex(h) return (h:gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end)) end

    it("sends G.711 the sim decodes back to the PCM, at real-time pace", function()
      local t = assert(cam:talk { mode = "half_duplex" })
      local pcm = tone(8000)
      local t0 = core.now()
      assert(t:send_pcm(pcm))
      local took = core.now() - t0
      assert(t:close())
      assert.is_true(took > 0.9, "sent in " .. took .. " s") -- paced, not a burst
      local got = sim:talk().sessions[1]
      assert.equal(0, got.channel)
      assert.equal(50, #got.packets)
      for i, p in ipairs(got.packets) do
        assert.equal(8, p.pt)
        assert.equal(i == 1, p.marker)
        assert.equal(160, p.len)
        if i > 1 then
          assert.equal((got.packets[i - 1].seq + 1) % 65536, p.seq)
          assert.equal((got.packets[i - 1].timestamp + 160) % 4294967296, p.timestamp)
        end
      end
      local sent, back = samples(pcm), samples(unhex(got.pcm_hex))
      assert.equal(#sent, #back)
      for i = 1, #sent do
        -- A-law keeps about 1/32 of the magnitude, never worse than 16
        assert.is_true(math.abs(sent[i] - back[i]) <= 16 + math.abs(sent[i]) / 16,
          string.format("sample %d: %d came back as %d", i, sent[i], back[i]))
      end
    end)

    it("plays a WAV file, and refuses one that is not 8 kHz mono", function()
      local wav = require "vigi.stream.wav"
      local file = tmpname(".wav")
      local f = assert(io.open(file, "wb"))
      f:write(wav.encode(tone(1600)))
      f:close()
      local r = assert(cam:talk { file = file })
      assert.equal(10, r.packets)
      -- the same file claiming 44,100 Hz (bytes 25..28 hold the rate)
      local data = wav.encode(tone(1600))
      f = assert(io.open(file, "wb"))
      f:write(data:sub(1, 24) .. string.char(0x44, 0xAC, 0, 0) .. data:sub(29))
      f:close()
      local bad, err = cam:talk { file = file }
      assert.is_nil(bad)
      assert.equal("invalid", err.kind)
      assert.matches("ffmpeg", err.message)
      os.remove(file)
    end)

    it("shares a connection with a preview", function()
      local s = assert(cam:preview {})
      local t = assert(cam:talk { share = s })
      assert.equal(s.conn, t.conn)
      assert.equal(2, t.channel) -- 0-1 is the preview's
      assert(t:send_pcm(tone(1600)))
      assert(t:close())
      assert.equal(5, #take(s, 5))
      s:close()
    end)
  end)

  describe("faults", function()
    it("a cut in the middle of a frame ends the iterator with a network error", function()
      sim:stream_fault { fault = "cut_mid_frame", after = 10 }
      local s = assert(cam:preview {})
      local last
      for f in s:frames() do last = f end
      assert.equal("error", last.kind)
      assert.equal("network", last.error.kind)
      s:close()
    end)

    it("skips and counts garbage between frames", function()
      sim:stream_fault { fault = "garbage", after = 5 }
      local s = assert(cam:preview {})
      assert.equal(30, #take(s, 30))
      assert.is_true(s.conn.demux:stats().garbage > 0)
      s:close()
    end)

    it("skips and counts frames on channels no session reserved", function()
      sim:stream_fault { fault = "stray_channel", after = 5 }
      local s = assert(cam:preview {})
      assert.equal(30, #take(s, 30))
      assert.is_true(s.conn.demux:stats().stray > 0)
      s:close()
    end)

    it("a frame announcing 65,535 bytes then a close: an error, memory bounded", function()
      sim:stream_fault { fault = "huge_frame", after = 5 }
      local s = assert(cam:preview { max_frame = 256 * 1024 })
      local _, _, err = take(s, 1000, 5)
      assert.equal("network", err.kind)
      local peak = s.conn.demux and s.conn.demux:peak() or s.conn.peak
      assert.is_true(peak > 0 and peak <= 256 * 1024, "assembly buffer peaked at " .. tostring(peak))
      s:close()
    end)

    it("a stall ends with a timeout within the stall limit", function()
      sim:stream_fault { fault = "stall", after = 5 }
      local s = assert(cam:preview { stall = 0.5 })
      local t0 = core.now()
      local _, _, err = take(s, 1000, 5)
      assert.equal("timeout", err.kind)
      assert.is_true(core.now() - t0 < 5) -- the stall limit, not take()'s own 5 s
      s:close()
    end)

    it("a codec change notification switches the frames to the new codec", function()
      sim:stream_fault { fault = "codec_change", after = 10 }
      local s = assert(cam:preview {})
      local got, notes = take(s, 60)
      assert.equal(1, #notes)
      assert.equal("channel_preview_params", notes[1].event_type)
      assert.equal("H265", got[#got].codec)
      s:close()
    end)
  end)

  describe("the vigi command", function()
    local function vigi_cmd(args)
      local out = helper.sh(string.format("VIGI_PASSWORD=%s bin/vigi %s -p %d --stream-port %d %s 2>&1; echo \"rc=$?\"",
        helper.PASSWORD, args[1], sim.port, sim.stream, table.concat(args, " ", 2)))
      return out, tonumber(out:match("rc=(%d+)%s*$"))
    end

    it("records, downloads and talks", function()
      local file = tmpname(".h264")
      local out, rc = vigi_cmd { "record", sim.host, "--seconds", "2", "-o", file }
      assert.equal(0, rc, out)
      assert.matches("50 H264 frames", out)
      assert.equal(50, (ffprobe_frames(file, "h264")))
      os.remove(file)

      file = tmpname(".ts")
      out, rc = vigi_cmd { "download", sim.host, "--start", "1", "--end", "2", "-o", file }
      assert.equal(0, rc, out)
      assert.equal(sim:stream_file().sha256, (sha256_file(file)))
      os.remove(file)

      file = tmpname(".wav")
      local f = assert(io.open(file, "wb"))
      f:write(require("vigi.stream.wav").encode(string.rep("\0\0", 800)))
      f:close()
      out, rc = vigi_cmd { "talk", sim.host, file }
      assert.equal(0, rc, out)
      assert.matches("5 packets", out)
      os.remove(file)
    end)

    it("says what is missing", function()
      local out, rc = vigi_cmd { "download", sim.host, "-o", "/tmp/x" }
      assert.equal(2, rc)
      assert.truthy(out:find("--start and --end", 1, true), out)
      out, rc = vigi_cmd { "record", sim.host }
      assert.equal(2, rc)
      assert.truthy(out:find("-o FILE", 1, true), out)
    end)
  end)
end)
