-- The `vigi` command. Each verb is a function of (args, opts) returning an
-- exit status; main() parses the options common to all of them.
local json = require "vigi.json"
local printable = require "vigi.cli.printable"

local _M = {}

-- Everything printed that came from a camera (names, models, event types,
-- answers, its messages inside errors) goes through these: an escape
-- sequence in a device name must not drive the user's terminal.
local text, json_text = printable.text, printable.json
_M.text, _M.json_text = text, json_text

local USAGE = [[
usage: vigi <verb> [options] ...

verbs:
  methods [PATTERN]            list the control methods and their parameters
  call HOST METHOD [PARAMS]    call one method and print its result as JSON;
                               PARAMS is one JSON object or key=value pairs
                               (values are read as JSON when they parse)
  events HOST [TYPE ...]       print events as they come (all types when none
                               are given; --json: one JSON object a line);
                               reconnects by itself and says when it lost some
  record HOST -o FILE [--seconds N]
                               save N s (10) of live video (H.264/H.265
                               Annex-B; --audio FILE also keeps G.711 audio)
  download HOST -o FILE --start T --end T [--resume] [--event TYPE]
                               save a recording (epoch seconds); --resume
                               continues a partial FILE; --audio FILE keeps
                               the audio of an RTP download; --max-bytes N
                               (4G) stops a download that would write more;
                               --quiet-end S: no data for S s ends one that
                               has no size
  talk HOST FILE.wav           play a WAV file (8 kHz mono) on the camera
  shell [HOST | --sim]         a Lua prompt with `cam` bound: completion,
                               history, results as tables (docs/shell.md);
                               --sim starts a vigi-sim and connects to it
  discover [--host H|CIDR ...] find cameras: by broadcast on every interface,
                               or by unicast to the addresses and ranges given;
                               --timeout S (2), --broadcast (also broadcast
                               when hosts are given), --odp-port N (23001),
                               --json (one JSON object per device, as found)
  bridge --config FILE         cameras on MQTT with Home Assistant discovery
                               (docs/bridge.md); --sim N [--broker H:P]: a
                               demo with N simulated cameras

options:
  -p, --port N          control port (20443)
  -u, --user NAME       user name (admin)
  -t, --timeout S       seconds per call (10)
      --stream-port N   stream (RTSP) port, instead of asking getStreamPort
      --path-suffix S   appended to the stok path (some firmware wants /ds)
      --cafile FILE     verify the camera's certificate against FILE
      --pin sha256//..  accept only this public key
  -v, --verbose         log each request to stderr (never secrets)
  -h, --help

The password comes from VIGI_PASSWORD, or is asked for on the terminal.
]]

local function eprint(...) io.stderr:write(text(table.concat({ ... }, " "), true), "\n") end
_M.eprint = eprint

-- Whether a shell command succeeded: 5.1 gives the exit status, 5.2+ true or nil.
function _M.ran(cmd)
  local r = os.execute(cmd)
  return r == true or r == 0
end

function _M.stderr_is_tty() return _M.ran("test -t 2") end

-- Readable, deterministic JSON for people: sorted keys, two-space indent.
local function pretty(v, indent)
  indent = indent or ""
  if type(v) ~= "table" then return json.encode(v) end
  local inner = indent .. "  "
  local out = {}
  if (#v > 0 or getmetatable(v) == json.array_mt) then
    for i = 1, #v do out[i] = inner .. pretty(v[i], inner) end
    if #out == 0 then return "[]" end
    return "[\n" .. table.concat(out, ",\n") .. "\n" .. indent .. "]"
  end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  for i, k in ipairs(keys) do out[i] = inner .. json.encode(k) .. ": " .. pretty(v[k], inner) end
  if #out == 0 then return "{}" end
  return "{\n" .. table.concat(out, ",\n") .. "\n" .. indent .. "}"
end
_M.pretty = pretty

-- Splits argv into options and positional words.
local OPTS = {
  ["-p"] = "port", ["--port"] = "port", ["-u"] = "user", ["--user"] = "user",
  ["-t"] = "timeout", ["--timeout"] = "timeout", ["--path-suffix"] = "path_suffix",
  ["--cafile"] = "cafile", ["--pin"] = "pin", ["--host"] = "host", ["--odp-port"] = "odp_port",
  ["--stream-port"] = "stream_port", ["--seconds"] = "seconds", ["-o"] = "output",
  ["--output"] = "output", ["--start"] = "start", ["--end"] = "end_time", ["--event"] = "event",
  ["--audio"] = "audio", ["--law"] = "law", ["--resolution"] = "resolution",
  ["--config"] = "config", ["--broker"] = "broker", ["--prefix"] = "prefix",
  ["--max-bytes"] = "max_bytes", ["--quiet-end"] = "quiet_end",
}
-- Options that may be given more than once: a list.
local MULTI = { host = true, event = true }
local FLAGS = { ["-v"] = "verbose", ["--verbose"] = "verbose", ["-h"] = "help", ["--help"] = "help",
  ["--json"] = "json", ["--broadcast"] = "broadcast", ["--resume"] = "resume", ["--sim"] = "sim" }

local function set_opt(opts, name, value)
  if MULTI[name] then
    opts[name] = opts[name] or {}
    table.insert(opts[name], value)
  else
    opts[name] = value
  end
end

function _M.parse(argv)
  local opts, words = {}, {}
  local i = 1
  while i <= #argv do
    local a = argv[i]
    local key, inline = a:match("^(%-%-[%w-]+)=(.*)$")
    if key and OPTS[key] then
      set_opt(opts, OPTS[key], inline)
    elseif OPTS[a] then
      i = i + 1
      if argv[i] == nil then return nil, a .. " needs a value" end
      set_opt(opts, OPTS[a], argv[i])
    elseif FLAGS[a] then
      opts[FLAGS[a]] = true
    elseif a:sub(1, 1) == "-" and #a > 1 and not tonumber(a) then
      return nil, "unknown option " .. a
    else
      words[#words + 1] = a
    end
    i = i + 1
  end
  return opts, words
end

-- key=value words, or one JSON object, into a params table.
function _M.params_of(words, first)
  if words[first] == nil then return nil end
  if words[first]:match("^%s*{") then
    if words[first + 1] then return nil, "give either one JSON object or key=value pairs" end
    local t, err = json.decode(words[first])
    if type(t) ~= "table" then return nil, "PARAMS is not a JSON object: " .. tostring(err) end
    return t
  end
  local t = {}
  for i = first, #words do
    local k, v = words[i]:match("^([%w_]+)=(.*)$")
    if not k then return nil, "expected key=value, got " .. words[i] end
    local decoded = json.decode(v)
    if decoded == nil or decoded == json.null then decoded = v end
    t[k] = decoded
  end
  return t
end

local function read_password()
  local pw = os.getenv("VIGI_PASSWORD")
  if pw then return pw end
  io.stderr:write("camera password: ")
  local tty = _M.ran("stty -echo 2>/dev/null")
  pw = io.read("*l")
  if tty then os.execute("stty echo 2>/dev/null") io.stderr:write("\n") end
  return pw
end

local function connect(opts, host)
  local vigi = require "vigi"
  return vigi.connect {
    host = host, port = tonumber(opts.port), username = opts.user,
    stream_port = tonumber(opts.stream_port),
    password = read_password(), timeout = tonumber(opts.timeout),
    path_suffix = opts.path_suffix, log = opts.verbose or nil,
    tls = (opts.cafile or opts.pin) and { verify = opts.cafile ~= nil, cafile = opts.cafile, pin = opts.pin } or nil,
  }
end

_M.connect = connect

local verbs = {}

function verbs.methods(_, words)
  local methods = require "vigi.methods"
  local apidoc = require "vigi.apidoc"
  local pattern = words[2] and words[2]:lower()
  local n = 0
  local function list(rows)
    for _, row in ipairs(rows) do
      if not pattern or row.name:lower():find(pattern, 1, true) or row.group:lower():find(pattern, 1, true) then
        print(apidoc.describe(row))
        n = n + 1
      end
    end
  end
  list(methods.list)
  -- The stream interface's requests (cam:preview, cam:playback, ...: docs/streams.md).
  list(require("vigi.stream.api").list)
  if n == 0 then eprint("vigi: no method matches " .. words[2]) return 1 end
  return 0
end

function verbs.call(opts, words)
  local host, method = words[2], words[3]
  if not host or not method then eprint(USAGE) return 2 end
  local params, perr = _M.params_of(words, 4)
  if perr then eprint("vigi: " .. perr) return 2 end
  local cam, err = connect(opts, host)
  if not cam then eprint("vigi: " .. tostring(err)) return 1 end
  local fn = cam[method]
  local result
  if type(fn) == "function" and require("vigi.methods").by_name[method] then
    result, err = fn(cam, params)
  else
    result, err = cam:call(method, params)
  end
  cam:close()
  if result == nil then eprint("vigi: " .. tostring(err)) return 1 end
  print(json_text(pretty(result)))
  return 0
end

function verbs.events(opts, words)
  local host = words[2]
  if not host then eprint(USAGE) return 2 end
  local types = {}
  for i = 3, #words do types[#types + 1] = words[i] end
  if #types == 0 then types = { "all" } end
  local cam, err = connect(opts, host)
  if not cam then eprint("vigi: " .. tostring(err)) return 1 end
  local sub
  sub, err = cam:subscribe { event_types = types }
  if not sub then eprint("vigi: " .. tostring(err)) return 1 end
  eprint("vigi: subscribed to " .. table.concat(types, ", ") .. " on " .. host .. "; Ctrl-C ends")
  for ev in sub:events() do
    if ev.final then break end -- an error that ended the subscription: below
    if opts.json then
      local out = { kind = ev.kind, event_type = ev.event_type, enhance = ev.enhance, time = ev.time,
                    from = ev.from, to = ev.to, reason = ev.reason }
      print(json_text(json.encode(out)))
    elseif ev.kind == "event" then
      -- the camera's time: os.date raises on one far out of range
      local ok, at = pcall(os.date, "%Y-%m-%d %H:%M:%S", ev.time or os.time())
      print(string.format("%s  %-24s %s", ok and at or text(ev.time),
        text(ev.event_type), ev.enhance and ("(" .. text(ev.enhance) .. ")") or ""))
    elseif ev.kind == "gap" then
      print(string.format("-- subscription lost (%s) from %s to %s: events may be missing",
        text(ev.reason), os.date("%H:%M:%S", ev.from), os.date("%H:%M:%S", ev.to)))
    else
      print("-- " .. text(ev.error))
    end
    io.stdout:flush()
  end
  -- A TLS refusal or a failed login is not retried: say it and stop.
  if sub.error then eprint("vigi: " .. tostring(sub.error)) return 1 end
  return 0
end

-- A device as one line of the table; what its reply says, escaped.
local function device_line(d)
  if d.unsupported then
    return string.format("%-15s  %-12s  %s", d.ip, "?", "answers in a form not supported (compressed or encrypted)")
  end
  local notes = {}
  if d.factory_default then notes[#notes + 1] = "factory default" end
  if d.spoofed then notes[#notes + 1] = "its reply claims to be " .. text(d.claimed_ip) end
  return string.format("%-15s  %-12s  %-14s  %-24s  %s", d.ip, d.mac, text(d.device_model or "?"),
    text(d.device_name or "?"), table.concat(notes, ", "))
end

function verbs.discover(opts)
  local vigi = require "vigi"
  local tty = _M.stderr_is_tty() -- progress only on a terminal
  local found = 0
  if not opts.json then
    print(string.format("%-15s  %-12s  %-14s  %-24s  %s", "IP", "MAC", "MODEL", "NAME", ""))
  end
  local devices, stats = vigi.discover {
    hosts = opts.host, broadcast = opts.broadcast or nil,
    timeout = tonumber(opts.timeout) or 2, port = tonumber(opts.odp_port),
    on_device = function(d)
      found = found + 1
      if tty then io.stderr:write("\r\27[K") end
      if opts.json then print(json_text(json.encode(d))) else print(device_line(d)) end
      io.stdout:flush()
      if tty then io.stderr:write(string.format("%d found...", found)) end
    end,
  }
  if tty then io.stderr:write("\r\27[K") end
  if not devices then eprint("vigi: " .. tostring(stats)) return 1 end
  local rejected = 0
  for _, n in pairs(stats.rejected) do rejected = rejected + n end
  eprint(string.format("%d device(s); %d probes sent, %d answers, %d duplicates, %d rejected%s",
    #devices, stats.sent, stats.received, stats.duplicates, rejected,
    stats.unsent > 0 and (", " .. stats.unsent .. " probes not sent in time (raise --timeout)") or ""))
  return 0
end

for name, fn in pairs(require("vigi.cli.stream").verbs(_M)) do verbs[name] = fn end

function verbs.shell(opts, words) return require("vigi.shell").main(opts, words) end
function verbs.bridge(opts, words) return require("vigi.bridge.cli").main(opts, words, _M) end

function _M.main(argv)
  local opts, words = _M.parse(argv)
  if not opts then eprint("vigi: " .. words) eprint(USAGE) return 2 end
  local verb = verbs[words[1] or ""]
  if opts.help or not verb then
    io.stdout:write(USAGE)
    return (opts.help and 0) or 2
  end
  local ok, status = pcall(verb, opts, words)
  if not ok then eprint("vigi: " .. tostring(status)) return 1 end
  return status
end

return _M
