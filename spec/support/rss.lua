-- Resident memory of the process running the specs, for the hostile-peer
-- cases that bound what a peer can make vigi hold (docs/design.md,
-- "Deadlines and bounds"). Linux: /proc/self/status.
local M = {}

local function status_kib(field)
  local f = io.open("/proc/self/status", "r")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return tonumber(s:match(field .. ":%s*(%d+)"))
end

local function pack(...) return { n = select("#", ...), ... } end

-- Resident set now, in KiB.
function M.kib() return status_kib("VmRSS") end

-- measure(fn, ...) -> { seconds =, growth =, n =, [1..n] = fn's results,
-- raised = its error if it raised }. growth: the peak growth of the
-- resident set during the call, in bytes: the kernel's high-water mark,
-- reset before the call (clear_refs 5); where that cannot be done, the
-- growth at the end.
function M.measure(fn, ...)
  collectgarbage()
  collectgarbage()
  local f = io.open("/proc/self/clear_refs", "w")
  local reset = f and f:write("5") and f:close()
  local before = M.kib()
  local core = require "vigi.core"
  local t0 = core.now()
  local res = pack(pcall(fn, ...))
  local seconds = core.now() - t0
  local peak = reset and status_kib("VmHWM") or M.kib()
  local out = { seconds = seconds, growth = math.max(0, (peak - before) * 1024), n = res.n - 1 }
  if not res[1] then out.raised = res[2] end
  for i = 2, res.n do out[i - 1] = res[i] end
  return out
end

M.MiB = 1024 * 1024

return M
