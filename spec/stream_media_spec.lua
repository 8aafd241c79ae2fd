-- vigi-sim --media FILE: a clip of the user's, streamed frame for frame.
-- The clips are made here with ffmpeg (nothing large in the tree); what
-- the client records decodes to the same frames as the file.
local helper = require "spec.helper"
local vigi = require "vigi"

local function have(prog)
  local ok = os.execute("command -v " .. prog .. " >/dev/null 2>&1")
  return ok == true or ok == 0 -- Lua 5.1 and LuaJIT answer with the status
end

-- The MD5 of every decoded frame, in order (ffmpeg -f framemd5).
local function frame_md5s(path, format)
  local out = helper.sh(string.format("ffmpeg -v error -nostdin -f %s -i %s -f framemd5 - 2>&1", format,
    helper.quote(path)))
  local list = {}
  for line in out:gmatch("[^\n]+") do
    if not line:find("^#") then list[#list + 1] = line:match("(%x+)%s*$") end
  end
  return list, out
end

local function encode(args, path)
  local cmd = "ffmpeg -v error -nostdin -y -f lavfi -i testsrc2=size=320x240:rate=25 -t 2 " .. args ..
    " " .. helper.quote(path) .. " 2>&1"
  return helper.sh(cmd)
end

describe("vigi-sim --media", function()
  if not have("ffmpeg") then
    it("needs ffmpeg (tools/install-deps installs it)", function() error("ffmpeg not found") end)
    return
  end
  local dir = os.tmpname()
  os.remove(dir)
  os.execute("mkdir -p " .. helper.quote(dir))
  teardown(function() os.execute("rm -rf " .. helper.quote(dir)) end)

  local CLIPS = {
    { name = "H.264", codec = "H264", format = "h264",
      args = "-c:v libx264 -preset veryfast -g 25 -bf 0 -pix_fmt yuv420p -f h264" },
    -- several slices a picture: a picture is every slice up to the next first one
    { name = "H.264 in 4 slices", codec = "H264", format = "h264",
      args = "-c:v libx264 -preset veryfast -g 25 -bf 0 -x264-params slices=4 -pix_fmt yuv420p -f h264" },
    { name = "H.265", codec = "H265", format = "hevc",
      args = "-c:v libx265 -preset ultrafast -x265-params log-level=none:keyint=25:bframes=0 -f hevc" },
  }
  for i, clip in ipairs(CLIPS) do
    it("streams an " .. clip.name .. " file frame-identical to the file", function()
      local src, got = dir .. "/clip" .. i, dir .. "/got" .. i
      local why = encode(clip.args, src)
      local want = frame_md5s(src, clip.format)
      assert.equal(50, #want, why)
      local sim = helper.start_sim { "--media", src, "--stream-speed", "0" }
      finally(function() sim:stop() end)
      local cam = assert(vigi.connect(sim:options { stream_port = sim.stream }))
      local r = assert(cam:record { seconds = 2, file = got })
      cam:close()
      assert.equal(clip.codec, r.codec)
      assert.equal(50, r.frames)
      assert.equal(0, r.lost)
      local have_md5, log = frame_md5s(got, clip.format)
      assert.same(want, have_md5, log)
    end)
  end

  it("plays the file at --media-fps, and every camera of a fleet streams it", function()
    local src = dir .. "/clip30"
    encode("-c:v libx264 -preset veryfast -g 30 -bf 0 -r 30 -pix_fmt yuv420p -f h264", src)
    local sim = helper.start_sim { "--media", src, "--media-fps", "30", "--stream-speed", "0", "--fleet", "2" }
    finally(function() sim:stop() end)
    for i = 1, 2 do
      local cam = assert(vigi.connect { host = sim.addresses[i], port = sim.port, password = helper.PASSWORD,
                                        stream_port = sim.stream })
      local s = assert(cam:preview {})
      local pts = {}
      while #pts < 3 do
        local f = assert(s:next(5))
        if f.kind == "video" then pts[#pts + 1] = f.pts end
      end
      s:close()
      cam:close()
      assert.near(1 / 30, pts[2] - pts[1], 1e-4)
      assert.near(1 / 30, pts[3] - pts[2], 1e-4)
    end
  end)

  it("refuses a file it cannot stream, saying why", function()
    local bad = dir .. "/not-video"
    local f = assert(io.open(bad, "wb"))
    f:write(string.rep("not an elementary stream\n", 100))
    f:close()
    for _, args in ipairs { { "--media", bad }, { "--media", dir .. "/missing" }, { "--media-fps", "0" } } do
      local out = helper.sh(string.format("%s --control-port 0 --odp-port 0 %s 2>&1 </dev/null; echo rc=$?",
        require("vigi.sim").binary(), table.concat(args, " ")))
      assert.truthy(out:find("rc=[12]\n$"), out)
      assert.truthy(out:find("media", 1, true), out)
      assert.falsy(out:find('"pid"', 1, true), out)
    end
  end)
end)
