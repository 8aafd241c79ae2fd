-- Downloads in both framings, against vigi-sim over TCP (WIRE-NOTES §3
-- "Download" and "End of a playback or download"): the recording's bytes
-- or RTP packets of it, told apart from the first frames; the end known
-- by the size, a notification of any name that says so, the camera
-- hanging up, or (without a size) the stream going quiet.
local helper = require "spec.helper"
local vigi = require "vigi"
local core = require "vigi.core"

local media = require "spec.support.media"
local tmpname, sha256_file, ffprobe_frames = media.tmpname, media.sha256_file, media.ffprobe_frames

-- The sim's record of the last download session.
local function last_download(sim)
  for _, s in ipairs(sim:stream_state().sessions) do
    if s.kind == "download" then return s end
  end
end

describe("downloads", function()
  local sim, cam, logged
  setup(function() sim = helper.start_sim() end)
  teardown(function() sim:stop() end)
  before_each(function()
    sim:reset()
    sim:stream_config { speed = 0 }
    sim:stream_fault { fault = "none" }
    logged = {}
    cam = assert(vigi.connect(sim:options { log = function(line) logged[#logged + 1] = line end }))
  end)
  after_each(function() cam:close() end)

  describe("RTP-framed, without a size", function()
    before_each(function() sim:stream_config { download_framing = "rtp" } end)

    it("saves playable Annex-B video with every frame the sim sent, audio apart", function()
      local file, afile = tmpname(".h264"), tmpname(".alaw")
      local r = assert(cam:download { start_time = 1700000000, end_time = 1700000004, file = file,
                                      audio_file = afile })
      assert.equal("rtp", r.framing)
      assert.equal("notification", r.outcome)
      local sent = last_download(sim)
      assert.equal("rtp", sent.framing)
      assert.equal(100, sent.frames_sent) -- 4 s at 25 pictures a second
      assert.equal(sent.frames_sent, r.frames)
      local n, _, out = ffprobe_frames(file)
      assert.equal(sent.frames_sent, n, out)
      assert.equal(200, r.audio_frames)   -- 20 ms packets
      local _, asize = sha256_file(afile)
      assert.equal(200 * 160, asize)
      os.remove(file)
      os.remove(afile)
    end)

    it("ends by going quiet: outcome quiet, with the frames it got", function()
      sim:stream_config { download_end = "quiet" }
      local file = tmpname(".h264")
      local t0 = core.now()
      local r = assert(cam:download { start_time = 1, end_time = 3, file = file, quiet = 0.5 })
      assert.equal("quiet", r.outcome)
      assert.equal(50, r.frames)
      assert.equal(50, (ffprobe_frames(file)))
      assert.is_true(core.now() - t0 < 0.5 + 2)
      os.remove(file)
    end)

    it("ends when the camera hangs up after the data", function()
      sim:stream_config { download_end = "close" }
      local file = tmpname(".h264")
      local r = assert(cam:download { start_time = 1, end_time = 3, file = file })
      assert.equal("closed", r.outcome)
      assert.equal(50, (ffprobe_frames(file)))
      os.remove(file)
    end)

    it("starts over when asked to resume: RTP cannot be appended to", function()
      local file = tmpname(".h264")
      local f = assert(io.open(file, "wb"))
      f:write(string.rep("x", 1000))
      f:close()
      local r = assert(cam:download { start_time = 1, end_time = 2, file = file, resume = true })
      assert.equal("rtp", r.framing)
      assert.equal(0, r.resumed_from)
      assert.equal(25, (ffprobe_frames(file)))
      os.remove(file)
    end)
  end)

  describe("raw file bytes", function()
    it("with a size: sha256-identical; a cut resumes to the same bytes", function()
      local file = tmpname(".ts")
      local want = sim:stream_file()
      local r = assert(cam:download { start_time = 1, end_time = 2, file = file })
      assert.equal("raw", r.framing)
      assert.equal("size", r.outcome)
      assert.equal(want.sha256, (sha256_file(file)))
      sim:stream_fault { fault = "cut_mid_frame", after = 5 }
      local bad, err = cam:download { start_time = 1, end_time = 2, file = file }
      assert.is_nil(bad)
      assert.matches("resume = true", err.message)
      sim:stream_fault { fault = "none" }
      r = assert(cam:download { start_time = 1, end_time = 2, file = file, resume = true })
      assert.is_true(r.resumed_from > 0)
      assert.equal(want.sha256, (sha256_file(file)))
      os.remove(file)
    end)

    it("a stall in the middle of a sized transfer is an error naming the bytes, resumable", function()
      local file = tmpname(".ts")
      sim:stream_fault { fault = "stall", after = 5 }
      local t0 = core.now()
      local r, err = cam:download { start_time = 1, end_time = 2, file = file, stall = 0.5, quiet = 0.2 }
      assert.is_nil(r)
      assert.equal("timeout", err.kind)
      assert.is_true(core.now() - t0 < 0.5 + 2)
      assert.is_true(err.bytes > 0 and err.bytes < sim:stream_file().size)
      assert.matches(err.bytes .. " of " .. sim:stream_file().size .. " bytes", err.message)
      assert.matches("resume = true", err.message)
      sim:stream_fault { fault = "none" }
      assert(cam:download { start_time = 1, end_time = 2, file = file, resume = true })
      assert.equal(sim:stream_file().sha256, (sha256_file(file)))
      os.remove(file)
    end)

    it("without a size, ends by going quiet with every byte", function()
      sim:stream_config { download_size = false, download_end = "quiet" }
      local file = tmpname(".ts")
      local r = assert(cam:download { start_time = 1, end_time = 2, file = file, quiet = 0.5 })
      assert.equal("quiet", r.outcome)
      assert.is_nil(r.total)
      assert.equal(sim:stream_file().sha256, (sha256_file(file)))
      os.remove(file)
    end)

    it("ends on an end notification of another name, and logs its text", function()
      sim:stream_config { download_size = false, end_event = "downloadFinished" }
      local file = tmpname(".ts")
      local r = assert(cam:download { start_time = 1, end_time = 2, file = file })
      assert.equal("notification", r.outcome)
      assert.equal(sim:stream_file().sha256, (sha256_file(file)))
      local seen
      for _, line in ipairs(logged) do seen = seen or line:find("downloadFinished", 1, true) end
      assert.truthy(seen, table.concat(logged, "\n"))
      os.remove(file)
    end)

    it("ends on a status that says complete", function()
      sim:stream_config { download_size = false, end_event = "transfer_state", end_status = "complete" }
      local file = tmpname(".ts")
      local r = assert(cam:download { start_time = 1, end_time = 2, file = file, stall = 3 })
      assert.equal("notification", r.outcome)
      assert.equal(sim:stream_file().sha256, (sha256_file(file)))
      os.remove(file)
    end)
  end)

  describe("max_bytes: a camera that never stops sending", function()
    local function size_of(path)
      local f = io.open(path, "rb")
      if not f then return nil end
      local n = f:seek("end")
      f:close()
      return n
    end
    before_each(function() sim:stream_config { download_endless = true } end)

    it("raw bytes without end: a protocol error naming the bytes and the option, file bounded", function()
      local file = tmpname(".ts")
      local t0 = core.now()
      local r, err = cam:download { start_time = 1, end_time = 2, file = file, max_bytes = 300000 }
      assert.is_nil(r)
      assert.equal("protocol", err.kind)
      assert.is_true(core.now() - t0 < 5)
      assert.equal(300000, err.max_bytes)
      assert.is_true(err.bytes <= 300000 and err.bytes > 300000 - 4096, tostring(err.bytes))
      assert.equal(err.bytes, size_of(file))
      assert.truthy(err.message:find(err.bytes .. " bytes written", 1, true), err.message)
      assert.truthy(err.message:find("max_bytes", 1, true), err.message)
      -- what came is the recording, again and again, cut where the limit fell
      local want = sim:stream_file()
      local f = assert(io.open(file, "rb"))
      local head = f:read(want.size)
      f:close()
      assert.equal(want.sha256, core.sha256_hex(head))
      os.remove(file)
    end)

    it("RTP without end: video and audio together stay under max_bytes, the video plays", function()
      sim:stream_config { download_framing = "rtp" }
      local file, afile = tmpname(".h264"), tmpname(".alaw")
      local r, err = cam:download { start_time = 1, end_time = 2, file = file, audio_file = afile,
                                    max_bytes = 400000 }
      assert.is_nil(r)
      assert.equal("protocol", err.kind)
      assert.truthy(err.message:find("max_bytes", 1, true), err.message)
      assert.is_true(size_of(file) + size_of(afile) <= 400000)
      assert.equal(err.bytes, size_of(file) + size_of(afile))
      assert.is_true(err.frames > 25) -- past the second asked for: the camera did not stop
      assert.equal(err.frames, (ffprobe_frames(file)))
      os.remove(file)
      os.remove(afile)
    end)

    it("a size announced above max_bytes is refused before anything is written", function()
      sim:stream_config { download_endless = false }
      local file = tmpname(".ts")
      local r, err = cam:download { start_time = 1, end_time = 2, file = file, max_bytes = 50000 }
      assert.is_nil(r)
      assert.equal("protocol", err.kind)
      assert.truthy(err.message:find(sim:stream_file().size .. " bytes", 1, true), err.message)
      assert.is_nil(size_of(file))
      -- at the size exactly, it goes through
      r = assert(cam:download { start_time = 1, end_time = 2, file = file, max_bytes = sim:stream_file().size })
      assert.equal("size", r.outcome)
      os.remove(file)
    end)

    it("refuses a max_bytes that is no positive integer, before anything is sent", function()
      local before = sim:stream_state().requests
      for _, bad in ipairs { 0, -1, 1.5, 0 / 0, math.huge, "10" } do
        local r, err = cam:download { start_time = 1, end_time = 2, file = "/tmp/x", max_bytes = bad }
        assert.is_nil(r)
        assert.equal("invalid", err.kind)
      end
      assert.equal(before, sim:stream_state().requests)
      assert.equal(4 * 1024 ^ 3, require("vigi.stream.media").MAX_DOWNLOAD_BYTES)
    end)
  end)

  describe("the vigi command", function()
    local json = require "vigi.json"
    local LUA = (jit and "luajit") or ({ ["Lua 5.1"] = "lua5.1", ["Lua 5.3"] = "lua5.3" })[_VERSION] or "lua5.4"
    local function args_of(extra)
      local a = { LUA, "spec/support/vigi_cmd.lua", "download", sim.host, "-p", tostring(sim.port),
                  "--stream-port", tostring(sim.stream), "--start", "1", "--end", "3" }
      for _, x in ipairs(extra) do a[#a + 1] = x end
      return a
    end
    -- Output (stdout and stderr, not a terminal) and exit status.
    local function vigi_download(extra)
      local words = {}
      for i, w in ipairs(args_of(extra)) do words[i] = helper.quote(w) end
      local out = helper.sh(string.format("VIGI_PASSWORD=%s %s 2>&1; echo \"rc=$?\"", helper.PASSWORD,
        table.concat(words, " ")))
      return out, tonumber(out:match("rc=(%d+)%s*$"))
    end

    it("an RTP download: frames, the audio file and how it ended, in plain text", function()
      sim:stream_config { download_framing = "rtp" }
      local file, afile = tmpname(".h264"), tmpname(".alaw")
      local out, rc = vigi_download { "-o", file, "--audio", afile }
      assert.equal(0, rc, out)
      assert.truthy(out:find("50 H264 frames", 1, true), out)
      assert.truthy(out:find(afile .. ": 100 audio packets", 1, true), out)
      assert.truthy(out:find("ended: notification", 1, true), out)
      assert.is_nil(out:find("\27", 1, true)) -- not a terminal: no progress, no escapes
      assert.equal(50, (ffprobe_frames(file)))
      local _, asize = sha256_file(afile)
      assert.equal(100 * 160, asize)
      os.remove(file)
      os.remove(afile)
    end)

    it("on a terminal, the progress line counts frames", function()
      sim:stream_config { download_framing = "rtp", speed = 1 }
      local file = tmpname(".h264")
      local script = tmpname(".json")
      local f = assert(io.open(script, "w"))
      f:write(json.encode { argv = args_of { "-o", file }, env = { TERM = "xterm", VIGI_PASSWORD = helper.PASSWORD },
        steps = { { expect = "downloading \\(RTP\\) [0-9]+ H264 frames, [0-9]+ audio", timeout = 10 },
                  { expect = "50 H264 frames.*ended: notification", timeout = 10 } }, end_timeout = 5 })
      f:close()
      local out = helper.sh("python3 -S spec/support/pty_run.py " .. helper.quote(script))
      local r = assert(json.decode(out), out)
      assert.is_true(r.ok, r.transcript)
      assert.equal(0, r.exit)
      os.remove(script)
      os.remove(file)
    end)

    it("--max-bytes stops a download without end; --resume finishes a cut one", function()
      sim:stream_config { download_endless = true }
      local file = tmpname(".ts")
      local out, rc = vigi_download { "-o", file, "--max-bytes", "200K" }
      assert.equal(1, rc, out)
      assert.truthy(out:find("max_bytes` (204800)", 1, true), out)
      assert.truthy(out:find("--max-bytes N raises the limit", 1, true), out)
      local _, size = sha256_file(file)
      assert.is_true(size <= 204800)
      out, rc = vigi_download { "-o", file, "--max-bytes", "2x" }
      assert.equal(2, rc, out)
      sim:stream_config { download_endless = false }
      sim:stream_fault { fault = "cut_mid_frame", after = 5 }
      out, rc = vigi_download { "-o", file }
      assert.equal(1, rc, out)
      assert.truthy(out:find("with --resume goes on", 1, true), out)
      sim:stream_fault { fault = "none" }
      out, rc = vigi_download { "-o", file, "--resume" }
      assert.equal(0, rc, out)
      assert.truthy(out:find("resumed at", 1, true), out)
      assert.truthy(out:find("ended: size", 1, true), out)
      assert.equal(sim:stream_file().sha256, (sha256_file(file)))
      os.remove(file)
    end)
  end)

  describe("playback", function()
    it("ends on an end notification of another name", function()
      sim:stream_config { end_event = "playback_finished" }
      local s = assert(cam:playback { start_time = 1, end_time = 2 })
      local video, last = 0, nil
      for f in s:frames() do
        if f.kind == "video" then video = video + 1 end
        last = f
      end
      assert.equal(25, video)
      assert.equal("playback_finished", last.event_type)
      assert.is_true(last["end"])
      assert.is_nil(s.error)
      s:close()
    end)
  end)

  describe("the end words", function()
    local stream = require "vigi.stream"
    for _, row in ipairs {
      { { event_type = "stream_end" }, true }, { { event_type = "downloadFinished" }, true },
      { { event_type = "EOF" }, true }, { { event_type = "x", status = "complete" }, true },
      { { event_type = "play_end" }, true }, { { event_type = "record_ended" }, true },
      { { event_type = "weekend" }, false }, { { event_type = "pending" }, false },
      { { event_type = "channel_preview_params" }, false }, { { status = { "end" } }, false },
      { { event_type = 5 }, false }, { {}, false },
    } do
      it(string.format("%s: %s", require("vigi.json").encode(row[1]), tostring(row[2])), function()
        assert.equal(row[2], stream.is_end(row[1]))
      end)
    end
  end)
end)
