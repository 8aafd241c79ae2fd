-- bench/lib.lua: helpers shared by the benchmarks of bench/ (shell words,
-- the machine, the environment, statistics and the result table). Not a
-- benchmark itself: `make bench` runs only the executable files of bench/.
-- A benchmark loads it from its own directory:
--
--   local dir = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
--   local lib = dofile(dir .. "/lib.lua")
local lib = {}

-- A word for sh, single-quoted.
function lib.quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- Everything a command prints on stdout (stderr is left alone), without
-- the trailing newline; nil if it could not be started.
function lib.read(cmd)
  local p = io.popen(cmd, "r")
  if not p then return nil end
  local out = p:read("a")
  p:close()
  return (out:gsub("\n+$", ""))
end

-- Whether a program is on the PATH (or, for a path, is there and runs).
function lib.have(prog)
  return os.execute("command -v " .. lib.quote(prog) .. " >/dev/null 2>&1") == true
end

-- The machine in one table: cpus, cpu (the model line), kernel, load (the
-- 1-minute load average when the benchmark starts: other work skews figures).
function lib.machine()
  local m = { cpus = tonumber(lib.read("nproc 2>/dev/null") or "") }
  local f = io.open("/proc/cpuinfo", "r")
  if f then
    for line in f:lines() do
      local model = line:match("^model name%s*:%s*(.-)%s*$")
      if model then m.cpu = model break end
    end
    f:close()
  end
  m.cpu = m.cpu or "unknown"
  m.kernel = lib.read("uname -srm 2>/dev/null") or "unknown"
  local l = io.open("/proc/loadavg", "r")
  if l then m.load = tonumber(l:read("l"):match("^(%S+)")) l:close() end
  return m
end

-- The machine as the one line every benchmark prints.
function lib.machine_line(m)
  m = m or lib.machine()
  return string.format("machine: %s CPUs, %s, %s, load %s", tostring(m.cpus), m.cpu, m.kernel,
    m.load and string.format("%.2f", m.load) or "unknown")
end

-- The environment variable `name` as a positive integer, else `default`.
function lib.env_int(name, default)
  local v = os.getenv(name)
  if v == nil or v == "" then return default end
  local n = tonumber(v)
  if not n or n < 1 or n ~= math.floor(n) then
    io.stderr:write(string.format("%s=%s is not a positive integer; using %d\n", name, v, default))
    return default
  end
  return math.floor(n)
end

-- The environment variable `name` as a comma-separated list of positive
-- integers ("100,1000"), else the list `default`.
function lib.env_ints(name, default)
  local v = os.getenv(name)
  if v == nil or v == "" then return default end
  local list = {}
  for word in v:gmatch("[^,%s]+") do
    local n = tonumber(word)
    if not n or n < 1 or n ~= math.floor(n) then
      io.stderr:write(string.format("%s=%s is not a list of positive integers; using %s\n", name, v,
        table.concat(default, ",")))
      return default
    end
    list[#list + 1] = math.floor(n)
  end
  if #list == 0 then return default end
  return list
end

-- The Python interpreter for a peer: $BENCH_PYTHON, else /usr/bin/python3
-- (Debian's, the one its python3-* packages are for), else python3 on the PATH.
function lib.python()
  local p = os.getenv("BENCH_PYTHON")
  if p and p ~= "" then return p end
  local f = io.open("/usr/bin/python3", "r")
  if f then f:close() return "/usr/bin/python3" end
  return "python3"
end

-- The value at nearest rank p (0..100) of the numbers in `list` (not
-- changed); NaN for an empty list.
function lib.percentile(list, p)
  local s = {}
  for i, v in ipairs(list) do s[i] = v end
  if #s == 0 then return 0 / 0 end
  table.sort(s)
  return s[math.max(1, math.ceil(p / 100 * #s))]
end

-- The median of an odd count, the lower middle one of an even count (a
-- value that was measured, never an average of two).
function lib.median(list) return lib.percentile(list, 50) end

-- Statistics of one measured loop: `lat` holds each call's latency in
-- seconds, `elapsed` the wall time of the whole loop. Percentiles are by
-- nearest rank.
function lib.stats(lat, elapsed)
  local s = {}
  for i, v in ipairs(lat) do s[i] = v end
  table.sort(s)
  local function pct(p)
    if #s == 0 then return 0 / 0 end
    return s[math.max(1, math.ceil(p / 100 * #s))]
  end
  return {
    n = #s, elapsed = elapsed,
    rate = elapsed > 0 and #s / elapsed or 0 / 0,
    p50 = pct(50) * 1000, p99 = pct(99) * 1000, max = (s[#s] or 0 / 0) * 1000,
  }
end

-- Prints rows (tables keyed by column key) under a header line. cols:
-- { {key =, title =, fmt = (string.format pattern or function), left = bool}, ... }
-- A missing value (or NaN) prints as "-".
function lib.print_table(cols, rows, out)
  out = out or io.stdout
  local cells, width = {}, {}
  for c, col in ipairs(cols) do width[c] = #col.title end
  for r, row in ipairs(rows) do
    cells[r] = {}
    for c, col in ipairs(cols) do
      local v = row[col.key]
      local text
      if v == nil then text = "-"
      elseif type(col.fmt) == "function" then text = col.fmt(v, row)
      elseif col.fmt and type(v) == "number" then
        text = v ~= v and "-" or string.format(col.fmt, v)
      else text = tostring(v) end
      cells[r][c] = text
      if #text > width[c] then width[c] = #text end
    end
  end
  local function line(texts)
    local parts = {}
    for c, col in ipairs(cols) do
      local w = width[c]
      parts[c] = col.left and string.format("%-" .. w .. "s", texts[c])
        or string.format("%" .. w .. "s", texts[c])
    end
    out:write((table.concat(parts, "  "):gsub("%s+$", "")), "\n")
  end
  local titles = {}
  for c, col in ipairs(cols) do titles[c] = col.title end
  line(titles)
  local rule = {}
  for c in ipairs(cols) do rule[c] = string.rep("-", width[c]) end
  line(rule)
  for r in ipairs(rows) do line(cells[r]) end
end

return lib
