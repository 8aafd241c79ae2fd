-- The stream verbs of the `vigi` command: record, download, talk. Progress
-- goes to stderr on a terminal; results and errors say what happened.
local _M = {}

-- A progress line redrawn in place, at most ten times a second.
-- What it shows goes through printable.text, like everything the command
-- prints.
local function progress_line(enabled)
  local last = 0
  local core = require "vigi.core"
  local printable = require "vigi.cli.printable"
  return {
    show = function(line)
      if not enabled then return end
      local now = core.now()
      if now - last < 0.1 then return end
      last = now
      io.stderr:write("\r\27[K", printable.text(line))
    end,
    done = function() if enabled then io.stderr:write("\r\27[K") end end,
  }
end

local function size_text(n)
  if not n then return "?" end
  if n >= 1048576 then return string.format("%.1f MiB", n / 1048576) end
  return string.format("%.0f KiB", n / 1024)
end

function _M.verbs(cli)
  local eprint, connect, is_tty = cli.eprint, cli.connect, cli.stderr_is_tty
  local verbs = {}

  local function with_camera(opts, host, fn)
    if not host then eprint("vigi: a HOST is required (vigi --help)") return 2 end
    local cam, err = connect(opts, host)
    if not cam then eprint("vigi: " .. tostring(err)) return 1 end
    local status = fn(cam)
    cam:close()
    return status
  end

  function verbs.record(opts, words)
    if not opts.output then eprint("vigi: record needs -o FILE") return 2 end
    local seconds = tonumber(opts.seconds or 10)
    if not seconds or seconds <= 0 then eprint("vigi: --seconds must be a positive number") return 2 end
    return with_camera(opts, words[2], function(cam)
      local bar = progress_line(is_tty())
      local r, err = cam:record {
        seconds = seconds, file = opts.output, audio_file = opts.audio, resolution = opts.resolution,
        progress = function(at, total) bar.show(string.format("recording %.1f / %g s", at, total)) end,
      }
      bar.done()
      if not r then eprint("vigi: " .. tostring(err)) return 1 end
      eprint(string.format("vigi: %s: %d %s frames, %.1f s, %s%s", r.file, r.frames, r.codec,
        r.seconds, size_text(r.bytes), r.lost > 0 and (", " .. r.lost .. " packets lost") or ""))
      return 0
    end)
  end

  -- --max-bytes N: bytes, or with a binary suffix (K, M, G, T: KiB ...).
  local function bytes_opt(v)
    if v == nil then return nil end
    local n, unit = tostring(v):match("^(%d+)([KMGTkmgt]?)i?[Bb]?$")
    n = tonumber(n)
    if not n then return false end
    n = n * (({ k = 1024, m = 1024 ^ 2, g = 1024 ^ 3, t = 1024 ^ 4 })[unit:lower()] or 1)
    if n < 1 or n > 2 ^ 53 then return false end
    return n
  end

  -- How a download ended (r.outcome), for people.
  local ENDED = {
    size = "all the announced bytes came",
    notification = "the camera's end notification",
    closed = "the camera hung up after the data",
    quiet = "no more data came for a while: --quiet-end S sets how long",
  }

  -- The progress line of a download: bytes against the size for file
  -- bytes, frames for RTP (whose size is not its packets').
  local function download_progress(got, total, r)
    if r and r.framing == "rtp" then
      return string.format("downloading (RTP) %d %s frames%s, %s", r.frames, r.codec or "video",
        r.audio_frames > 0 and string.format(", %d audio", r.audio_frames) or "", size_text(got))
    elseif total then
      return string.format("downloading %s / %s (%d%%)", size_text(got), size_text(total),
        math.floor(got * 100 / math.max(total, 1)))
    end
    return "downloading " .. size_text(got)
  end

  -- The last line: what was written, and how the end was known.
  local function download_summary(r)
    local what
    if r.framing == "rtp" then
      what = string.format("%d %s frames, %s (RTP, saved as Annex-B video)", r.frames, r.codec or "video",
        size_text(r.bytes))
      if r.audio_file then
        what = what .. string.format("; %s: %d audio packets", r.audio_file, r.audio_frames)
      elseif r.audio_frames > 0 then
        what = what .. string.format("; %d audio packets not kept (--audio FILE keeps them)", r.audio_frames)
      end
    else
      what = string.format("%d bytes (file bytes)%s", r.bytes,
        r.resumed_from > 0 and string.format(", resumed at %d", r.resumed_from) or "")
    end
    return string.format("vigi: %s: %s; ended: %s (%s)", r.file, what, r.outcome,
      ENDED[r.outcome] or "?")
  end

  function verbs.download(opts, words)
    if not opts.output then eprint("vigi: download needs -o FILE") return 2 end
    local t0, t1 = tonumber(opts.start), tonumber(opts.end_time)
    if not t0 or not t1 then eprint("vigi: download needs --start and --end (epoch seconds)") return 2 end
    local max_bytes = bytes_opt(opts.max_bytes)
    if max_bytes == false then
      eprint("vigi: --max-bytes must be a positive number of bytes (a suffix K, M, G or T counts in KiB ...)")
      return 2
    end
    local quiet = opts.quiet_end and tonumber(opts.quiet_end)
    if opts.quiet_end and not (quiet and quiet > 0) then
      eprint("vigi: --quiet-end must be a positive number of seconds")
      return 2
    end
    return with_camera(opts, words[2], function(cam)
      local bar = progress_line(is_tty())
      local r, err = cam:download {
        start_time = t0, end_time = t1, event_type = opts.event, file = opts.output,
        audio_file = opts.audio, resume = opts.resume or false, max_bytes = max_bytes, quiet = quiet,
        progress = function(got, total, so_far) bar.show(download_progress(got, total, so_far)) end,
      }
      bar.done()
      if not r then
        eprint("vigi: " .. tostring(err))
        if type(err) == "table" and err.max_bytes then
          eprint("vigi: --max-bytes N raises the limit" .. (err.framing == "raw" and err.bytes > 0 and
            "; with --resume the download goes on from the bytes kept" or ""))
        elseif type(err) == "table" and err.bytes and not err.frames and err.bytes > 0 then
          eprint("vigi: the same command with --resume goes on from the bytes kept")
        end
        return 1
      end
      eprint(download_summary(r))
      return 0
    end)
  end

  function verbs.talk(opts, words)
    local file = words[3]
    if not file then eprint("vigi: talk needs a WAV file: vigi talk HOST FILE.wav") return 2 end
    return with_camera(opts, words[2], function(cam)
      if is_tty() then io.stderr:write("talking...") end
      local r, err = cam:talk { file = file, law = opts.law }
      if is_tty() then io.stderr:write("\r\27[K") end
      if not r then eprint("vigi: " .. tostring(err)) return 1 end
      eprint(string.format("vigi: sent %s: %.1f s in %d packets", file, r.seconds, r.packets))
      return 0
    end)
  end

  return verbs
end

return _M
