-- Discovery: ODP requests by broadcast and by unicast sweep, answers
-- collected into devices (WIRE-NOTES §1).
--
--   local devices, stats = vigi.discover{ hosts = { "10.1.3.0/24" }, timeout = 1 }
--
-- One non-blocking UDP socket does everything. Probes are paced (`rate`
-- per second) and repeated (`retries` more rounds, `interval` apart) to the
-- targets that have not answered. A unicast probe's serial is base + its
-- index among the targets, so that a reply is matched to the probe it
-- answers without a table of 65,534 entries; a broadcast probe has a serial
-- of its own, and replies carrying another serial are accepted while the
-- window is open, as the document allows. Devices are keyed by MAC.
-- Everything that is not a good reply is counted in stats.rejected by
-- kind, never returned as a device. Waiting goes through wait.lua.
--
-- Anyone on the LAN can answer (docs/design.md, "Deadlines and bounds"):
-- the deadline is checked on the clock at every turn of every loop, so a
-- flood of replies cannot hold the call past it; at most `max_devices`
-- devices are kept (replies of more are counted in stats.dropped); and a
-- device's address is where its reply came from, never what the reply
-- says: the address it claims is kept as `claimed_ip`, and a mismatch sets
-- `spoofed`. A connection made from a device's `ip` and `port` therefore
-- goes to the host that answered, whatever the reply wrote.
local core = require "vigi.core"
local json = require "vigi.json"
local errors = require "vigi.errors"
local ipv4 = require "vigi.ipv4"
local wait = require "vigi.wait"

local _M = {}

_M.PORT = 23001
_M.CONTROL_PORT = 20443
-- A sweep larger than this is refused unless max_probes says otherwise.
_M.MAX_PROBES = 65536
-- Devices kept by one call unless max_devices says otherwise; replies of
-- more are counted and dropped.
_M.MAX_DEVICES = 4096
-- Datagrams read in one go before the sweep looks at its clock, its
-- probes and its end conditions again.
local READ_BATCH = 256

local expired = wait.expired

local DEFAULTS = { timeout = 2, port = _M.PORT, retries = 2, rate = 5000 }

local function invalid(msg) return errors.fail("invalid", "discover: " .. msg) end

-- The unicast targets: sorted, merged { first, last, offset } ranges, so
-- that an address given twice (alone and in a range) is probed once, and
-- lookups are a binary search whatever the number of entries.
local function targets_of(hosts, max)
  local raw = {}
  for _, h in ipairs(hosts) do
    local first, last = ipv4.range(h)
    if not first then
      return nil, "hosts: " .. tostring(h) .. " is " .. tostring(last) ..
        " (give addresses like 10.1.2.7 or ranges like 10.1.3.0/24)"
    end
    raw[#raw + 1] = { first = first, last = last }
  end
  table.sort(raw, function(a, b) return a.first < b.first end)
  local ranges, total = {}, 0
  for _, r in ipairs(raw) do
    local cur = ranges[#ranges]
    if cur and r.first <= cur.last + 1 then
      if r.last > cur.last then cur.last = r.last end
    else
      ranges[#ranges + 1] = { first = r.first, last = r.last }
    end
  end
  for _, r in ipairs(ranges) do
    r.offset = total
    total = total + (r.last - r.first + 1)
  end
  if total > max then
    return nil, string.format("hosts: %d addresses is more than max_probes (%d); " ..
      "split the sweep or raise max_probes", total, max)
  end
  return ranges, total
end

-- The range holding a value, by binary search on `key` ("first" for
-- addresses, "offset" for indexes).
local function find_range(ranges, v, key)
  local lo, hi = 1, #ranges
  while lo <= hi do
    local mid = math.floor((lo + hi) / 2)
    if ranges[mid][key] > v then hi = mid - 1
    elseif mid < #ranges and ranges[mid + 1][key] <= v then lo = mid + 1
    else return ranges[mid] end
  end
end

-- index (0-based) of an address among the targets, or nil.
local function index_of(ranges, n)
  local r = find_range(ranges, n, "first")
  if r and n <= r.last then return r.offset + (n - r.first) end
end

local function address_at(ranges, i)
  local r = find_range(ranges, i, "offset")
  return r.first + (i - r.offset)
end

-- A numeric option: nil (absent) or a number in lo..hi (a whole one when
-- `whole`); NaN and infinities fail every test, so they are refused too.
local function number_opt(o, k, lo, hi, whole)
  local v = o[k]
  if v == nil then return true end
  if type(v) ~= "number" or not (v >= lo and v <= hi) or (whole and v ~= math.floor(v)) then
    return false, "`" .. k .. "` must be " .. (whole and "a whole number" or "a number") ..
      (hi == math.huge and (" >= " .. lo) or (" in " .. lo .. ".." .. hi)) .. ", not " .. tostring(v)
  end
  return true
end

local NUMBERS = {
  -- name, lo, hi, whole; timeout is checked by wait.deadline
  { "port", 1, 65535, true }, { "control_port", 1, 65535, true },
  { "retries", 0, 1000, true }, { "rate", 1e-3, 1e9 }, { "interval", 0, 1e9 },
  { "max_probes", 1, 2 ^ 32, true }, { "max_devices", 1, 2 ^ 31, true },
  { "expect", 0, 2 ^ 31, true },
}

local function check_options(o)
  if o ~= nil and type(o) ~= "table" then error("discover: expects a table of options", 3) end
  o = o or {}
  local opts = {}
  for k, v in pairs(DEFAULTS) do opts[k] = o[k] == nil and v or o[k] end
  for _, n in ipairs(NUMBERS) do
    local ok, msg = number_opt(o, n[1], n[2], n[3], n[4])
    if not ok then return invalid(msg) end
  end
  local deadline, derr = wait.deadline(opts.timeout, "discover: `timeout`")
  if not deadline then return nil, derr end
  opts.deadline = deadline
  if o.on_device ~= nil and type(o.on_device) ~= "function" then
    return invalid("`on_device` must be a function")
  end
  if o.hosts ~= nil and type(o.hosts) ~= "table" then
    return invalid("`hosts` must be a list of addresses and CIDR ranges")
  end
  opts.hosts = o.hosts or {}
  if type(opts.hosts) == "string" then opts.hosts = { opts.hosts } end
  opts.broadcast = o.broadcast
  if opts.broadcast == nil then opts.broadcast = #opts.hosts == 0 end
  opts.interval = o.interval or opts.timeout / (opts.retries + 1)
  opts.max_probes = o.max_probes or _M.MAX_PROBES
  opts.max_devices = o.max_devices or _M.MAX_DEVICES
  opts.control_port = o.control_port -- nil: the reply's, or CONTROL_PORT (device_of)
  opts.on_device, opts.payload, opts.expect = o.on_device, o.payload or "{}", o.expect
  return opts
end

-- The port a reply claims for the control API, when it is one.
local function port_of(v)
  v = tonumber(v)
  if v and v >= 1 and v <= 65535 and v == math.floor(v) then return v end
end

-- The device of a reply from address `from`, or nil, the rejection kind.
-- Its `ip` is `from`: the address inside the reply is only a claim
-- (`claimed_ip`), and one that differs marks the device `spoofed`. Its
-- `port` is the user's `control_port` when given; else the port the reply
-- claims (`claimed_port`), unless the reply is spoofed (a reply that lies
-- about its address is not believed about its port either); else 20443.
-- Either way it is a port on `ip`, the host that answered.
local function device_of(payload, from, control_port)
  local doc = json.decode(payload)
  if type(doc) ~= "table" then return nil, "json" end
  local code = tonumber(doc.error_code or doc.errCode)
  if code and code ~= 0 then return nil, "error_code" end
  local r = doc.result
  if type(r) ~= "table" or type(r.mac) ~= "string" then return nil, "fields" end
  local mac = r.mac:upper():gsub("[^%x]", "")
  if #mac ~= 12 then return nil, "fields" end
  -- What the reply says of itself. An "ip" that is there but is not this
  -- source's address (or not an address at all) is a lie or a relay.
  local said_ip = r.ip ~= json.null and r.ip or nil
  local claimed_ip = type(said_ip) == "string" and said_ip or nil
  local spoofed = said_ip ~= nil and claimed_ip ~= from and
    (claimed_ip == nil or ipv4.parse(claimed_ip) ~= ipv4.parse(from))
  local said_port = r.openapi_port or r.control_port
  local claimed_port = tonumber(said_port) or (type(said_port) == "string" and said_port or nil)
  return {
    ip = from,
    claimed_ip = claimed_ip,
    spoofed = spoofed,
    mac = mac,
    device_name = r.device_name,
    device_type = r.device_type,
    device_model = r.device_model,
    factory_default = r.factory_default == true,
    http_port = tonumber(r.http_port),
    port = control_port or (not spoofed and port_of(claimed_port)) or _M.CONTROL_PORT,
    claimed_port = claimed_port,
    from = from,
  }
end

-- One call's sweep: the socket, the targets, the round being sent, what
-- has answered. discover() makes one and runs it; each step below is a
-- method, and every field the steps share is named here.
local Sweep = {}
Sweep.__index = Sweep

-- Serials: unicast probe i carries base + i; broadcasts carry bcast.
function Sweep.new(opts, sock, ranges, total)
  local rnd = tonumber(core.random_hex(4), 16)
  local self = setmetatable({
    opts = opts, sock = sock, ranges = ranges, total = total,
    deadline = opts.deadline, start = core.now(),
    base = rnd, bcast = (rnd + 2 ^ 31) % 2 ^ 32,
    bcast_addrs = {},
    answered = {}, answered_n = 0, -- target index -> true
    by_mac = {}, list = {},        -- the devices, by MAC ("@ip" if unsupported) and in order
    rounds_left = opts.retries + 1,
    next_round_at = nil,
    -- the round being sent: unicast indexes (cursor of round_len), then
    -- the broadcast addresses (bq); pacing counts probes since round_start
    cursor = nil, round_len = nil, bq = nil, round_start = nil, sent_at_start = nil,
    set = {}, -- the wait set, reused
    stats = { sent = 0, received = 0, duplicates = 0, devices = 0, unsupported = 0,
              unsent = 0, spoofed = 0, dropped = 0, rejected = {} },
  }, Sweep)
  self.next_round_at = self.start
  if opts.broadcast then
    self.bcast_addrs[1] = "255.255.255.255"
    for _, ifc in ipairs(core.interfaces()) do
      if ifc.broadcast then self.bcast_addrs[#self.bcast_addrs + 1] = ifc.broadcast end
    end
  end
  return self
end

function Sweep:reject(kind)
  local r = self.stats.rejected
  r[kind] = (r[kind] or 0) + 1
end

function Sweep:start_round(now)
  self.rounds_left = self.rounds_left - 1
  self.cursor, self.round_len, self.bq = 0, self.total, 1
  self.round_start, self.sent_at_start = now, 0
  self.next_round_at = now + self.opts.interval
end

function Sweep:round_done()
  return self.cursor == nil or (self.cursor >= self.round_len and self.bq > #self.bcast_addrs)
end

-- One probe; false when the socket is full (to be sent again later).
function Sweep:send_probe(serial, broadcast, ip)
  local pkt = core.odp_request(serial, broadcast, self.opts.payload)
  local ok, e = self.sock:sendto(pkt, ip, self.opts.port)
  if ok then self.stats.sent = self.stats.sent + 1 return true end
  if e == "again" then return false end
  -- An unreachable address (no route) is the sweep's business, not fatal.
  self:reject("send_error")
  return true
end

-- Sends what pacing allows now; returns false when the socket is full.
-- Answers are read between bursts: a long burst alone would let them
-- overflow the socket's receive buffer, and the kernel would drop them.
function Sweep:send_some(now)
  local allowed = math.floor((now - self.round_start) * self.opts.rate) + 1 - self.sent_at_start
  local burst = 0
  while allowed > 0 and self.cursor < self.round_len and not expired(self.deadline) do
    local i = self.cursor
    if not self.answered[i] then
      local ip = ipv4.format(address_at(self.ranges, i))
      if not self:send_probe((self.base + i) % 2 ^ 32, false, ip) then return false end
      self.sent_at_start = self.sent_at_start + 1
      allowed = allowed - 1
      burst = burst + 1
      if burst == 64 then burst = 0 self:drain() end
    end
    self.cursor = self.cursor + 1
  end
  while self.cursor >= self.round_len and self.bq <= #self.bcast_addrs and not expired(self.deadline) do
    if not self:send_probe(self.bcast, true, self.bcast_addrs[self.bq]) then return false end
    self.bq = self.bq + 1
  end
  return true
end

-- A device found: kept, or counted as dropped past max_devices (a peer
-- making up MACs cannot make the list, or the time to build it, grow).
function Sweep:keep(key, dev)
  if #self.list >= self.opts.max_devices then self.stats.dropped = self.stats.dropped + 1 return false end
  self.by_mac[key] = dev
  self.list[#self.list + 1] = dev
  return true
end

-- The user's on_device, once a kept device is counted.
function Sweep:tell(dev)
  if self.opts.on_device then self.opts.on_device(dev) end
end

-- Which target a reply from `from` answers (its index), or nil; and
-- whether the reply may be taken: a unicast probe's answer must echo its
-- serial; in broadcast mode any serial is accepted while the window is
-- open (WIRE-NOTES §1).
function Sweep:match(from, serial)
  local from_n = ipv4.parse(from)
  local idx = from_n and index_of(self.ranges, from_n)
  if not self.opts.broadcast and not (idx and serial == (self.base + idx) % 2 ^ 32) then
    self:reject(idx and "serial" or "foreign")
    return nil, false
  end
  if idx and not self.answered[idx] then
    self.answered[idx] = true
    self.answered_n = self.answered_n + 1
  end
  return idx, true
end

function Sweep:on_packet(data, from)
  local stats = self.stats
  stats.received = stats.received + 1
  local kind, p = core.odp_decode(data)
  if kind == nil then self:reject(p) return end
  local _, ok = self:match(from, p.serial)
  if not ok then return end
  if kind == "unsupported" then
    local key = "@" .. from
    if self.by_mac[key] then stats.duplicates = stats.duplicates + 1 return end
    local dev = { ip = from, from = from, unsupported = true, flags = p.flags }
    if self:keep(key, dev) then
      stats.unsupported = stats.unsupported + 1
      self:tell(dev)
    end
    return
  end
  local dev, why = device_of(p.payload, from, self.opts.control_port)
  if not dev then self:reject(why) return end
  if self.by_mac[dev.mac] then stats.duplicates = stats.duplicates + 1 return end
  if self:keep(dev.mac, dev) then
    stats.devices = stats.devices + 1
    if dev.spoofed then stats.spoofed = stats.spoofed + 1 end
    self:tell(dev)
  end
end

-- Reads what has arrived, up to READ_BATCH datagrams and never past the
-- deadline; returns true when it stopped with more perhaps waiting.
function Sweep:drain()
  for _ = 1, READ_BATCH do
    if expired(self.deadline) then return false end
    local data, from = self.sock:recvfrom(65536)
    if not data then return false end
    self:on_packet(data, from)
  end
  return true
end

-- Why the sweep may end now, or nil: every unicast target answered, or
-- as many devices as expected.
function Sweep:finished()
  if not self.opts.broadcast and self.answered_n == self.total then return "all_answered" end
  if self.opts.expect and #self.list >= self.opts.expect then return "expected" end
end

-- Waits until the next probe is due, the next round, or the end.
function Sweep:wait_for_work(blocked)
  local wake = self.deadline
  if not self:round_done() and not blocked then
    wake = math.min(wake, self.round_start + self.sent_at_start / self.opts.rate)
  elseif self:round_done() and self.rounds_left > 0 then
    wake = math.min(wake, self.next_round_at)
  end
  self.sock:waitset(self.set, blocked)
  wait.wait(self.set, wait.left(wake))
end

-- Rounds of probes and reading until the deadline or nothing is left to
-- wait for; returns why it ended.
function Sweep:run()
  while true do
    local now = core.now()
    if now >= self.deadline then return "timeout" end
    if self:round_done() and self.rounds_left > 0 and now >= self.next_round_at then
      self:start_round(now)
    end
    local blocked = false
    if not self:round_done() then blocked = not self:send_some(now) end
    local more = self:drain()
    local ended = self:finished()
    if ended then return ended end
    -- not at all while datagrams may be waiting
    if not more then self:wait_for_work(blocked) end
  end
end

-- discover(opts) -> devices, stats | nil, err
function _M.discover(o)
  local opts, err = check_options(o)
  if not opts then return nil, err end
  local ranges, total = targets_of(opts.hosts, opts.max_probes)
  if not ranges then return invalid(total) end
  local sock, serr = core.udp { broadcast = opts.broadcast }
  if not sock then return errors.fail("network", "discover: cannot open a UDP socket: " .. tostring(serr)) end

  local sweep = Sweep.new(opts, sock, ranges, total)
  local ended = sweep:run()
  local stats = sweep.stats
  -- Probes the deadline left unsent: the sweep needed more time (or rate).
  if ended == "timeout" and not sweep:round_done() then stats.unsent = sweep.round_len - sweep.cursor end
  stats.ended = ended
  sock:close()
  stats.elapsed = core.now() - sweep.start
  return sweep.list, stats
end

return _M
