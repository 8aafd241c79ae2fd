-- The stream verbs of the `vigi` command: record, download, talk. Progress
-- goes to stderr on a terminal; results and errors say what happened.
local _M = {}

-- A progress line redrawn in place, at most ten times a second.
local function progress_line(enabled)
  local last = 0
  local core = require "vigi.core"
  return {
    show = function(text)
      if not enabled then return end
      local now = core.now()
      if now - last < 0.1 then return end
      last = now
      io.stderr:write("\r\27[K", text)
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

  function verbs.download(opts, words)
    if not opts.output then eprint("vigi: download needs -o FILE") return 2 end
    local t0, t1 = tonumber(opts.start), tonumber(opts.end_time)
    if not t0 or not t1 then eprint("vigi: download needs --start and --end (epoch seconds)") return 2 end
    return with_camera(opts, words[2], function(cam)
      local bar = progress_line(is_tty())
      local r, err = cam:download {
        start_time = t0, end_time = t1, event_type = opts.event, file = opts.output,
        resume = opts.resume or false,
        progress = function(got, total)
          bar.show(total and string.format("downloading %s / %s (%d%%)", size_text(got), size_text(total),
            math.floor(got * 100 / math.max(total, 1))) or ("downloading " .. size_text(got)))
        end,
      }
      bar.done()
      if not r then eprint("vigi: " .. tostring(err)) return 1 end
      eprint(string.format("vigi: %s: %d bytes%s", r.file, r.bytes,
        r.resumed_from > 0 and string.format(" (resumed at %d)", r.resumed_from) or ""))
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
