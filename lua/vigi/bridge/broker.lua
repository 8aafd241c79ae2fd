-- The bridge's MQTT connection: vigi.mqtt (libmosquitto) driven as one
-- vigi.run task that waits on the broker's socket through wait.lua, like
-- every camera's sockets.
--
--   local b = broker.new{ host =, port =, keepalive =, client_id =, username =, password =,
--                         tls =, will = { topic =, payload = }, retry_min =, retry_max =,
--                         on_connect = fn(), on_message = fn(topic, payload), log = fn(line) }
--   vigi.spawn(function() b:run() end)     -- connects, reconnects, pumps
--   b:publish(topic, payload, retain)
--
-- Retained messages are kept here as the bridge's state (topic -> last
-- payload, in the order first published) and published again after every
-- (re)connection: a broker that restarted without persistence has lost
-- them, and Home Assistant needs discovery and states back. Messages that
-- are not retained (an event's JSON) are not kept: while the broker is
-- away they are counted in stats.unsent, not queued.
local core = require "vigi.core"
local wait = require "vigi.wait"

local _M = {}

-- The binding, or nil and a message that says what to install.
function _M.binding()
  local ok, mqtt = pcall(require, "vigi.mqtt")
  if ok then return mqtt end
  return nil, "the MQTT binding vigi.mqtt is not built: it needs libmosquitto " ..
    "(Debian: apt-get install libmosquitto-dev, then make; or, for a rock: cd csrc/mqtt && luarocks make)"
end

local Broker = {}
Broker.__index = Broker
Broker.__name = "vigi.bridge.broker"

function Broker:__tostring()
  return string.format("vigi.bridge.broker{%s:%d, %s}", self.host, self.port,
    self.connected and "connected" or "not connected")
end

function Broker:log(fmt, ...)
  if self._log then self._log(string.format(fmt, ...)) end
end

function _M.new(o)
  local mqtt, err = _M.binding()
  if not mqtt then return nil, err end
  local c, cerr = mqtt.client { id = o.client_id, clean = true, max_payload = o.max_payload,
    max_queue = o.max_queue, max_out = o.max_out }
  if not c then return nil, cerr end
  local ok, e
  if o.username then
    ok, e = c:credentials(o.username, o.password)
    if not ok then c:close() return nil, "mqtt credentials: " .. tostring(e) end
  end
  if o.will then
    ok, e = c:will(o.will.topic, o.will.payload, 1, true)
    if not ok then c:close() return nil, "mqtt will: " .. tostring(e) end
  end
  if o.tls then
    ok, e = c:tls(o.tls)
    if not ok then c:close() return nil, "mqtt tls: " .. tostring(e) end
  end
  return setmetatable({
    c = c, host = o.host, port = o.port or 1883, keepalive = o.keepalive or 30,
    retry_min = o.retry_min or 0.5, retry_max = o.retry_max or 30,
    connect_timeout = o.connect_timeout or 10,
    subscriptions = {}, retained = {}, order = {},
    on_connect = o.on_connect, on_message = o.on_message, _log = o.log,
    connected = false, closed = false,
    stats = { connects = 0, published = 0, unsent = 0, refused = 0, messages = 0 },
  }, Broker)
end

-- Topics to subscribe to, at every connection.
function Broker:subscribe(pattern)
  self.subscriptions[#self.subscriptions + 1] = pattern
  if self.connected then self.c:subscribe(pattern, 0) end
end

-- publish(topic, payload, retain) -> true | false (not connected, or
-- refused: counted).
function Broker:publish(topic, payload, retain)
  if retain then
    if self.retained[topic] == nil then self.order[#self.order + 1] = topic end
    self.retained[topic] = payload
  end
  if not self.connected then
    self.stats.unsent = self.stats.unsent + 1
    return false
  end
  local mid, err = self.c:publish(topic, payload, 0, retain)
  if not mid then
    self.stats.refused = self.stats.refused + 1
    self:log("mqtt: %s not published: %s", topic, tostring(err))
    return false
  end
  self.stats.published = self.stats.published + 1
  -- Bytes left for the socket: the pump waits for it to be writable.
  if self.c:want_write() then wait.wake(self.pump_co) end
  return true
end

-- Everything retained, again, in the order first published.
function Broker:republish()
  if not self.connected then return end
  for _, topic in ipairs(self.order) do
    local mid = self.c:publish(topic, self.retained[topic], 0, true)
    if mid then self.stats.published = self.stats.published + 1 end
  end
  if self.c:want_write() then wait.wake(self.pump_co) end
end

-- Hands over what the binding queued; returns false once the connection
-- is over (lost, or refused by the broker).
function Broker:_drain()
  local alive = true
  while true do
    local it = self.c:take()
    if not it then return alive end
    if it.kind == "message" then
      self.stats.messages = self.stats.messages + 1
      if self.on_message then self.on_message(it.topic, it.payload) end
    elseif it.kind == "connect" then
      if it.rc == 0 then
        self.connected = true
        self.stats.connects = self.stats.connects + 1
        self:log("mqtt: connected to %s:%d", self.host, self.port)
        for _, p in ipairs(self.subscriptions) do self.c:subscribe(p, 0) end
        self:republish()
        if self.on_connect then self.on_connect() end
      else
        self:log("mqtt: %s:%d refused the connection: %s", self.host, self.port, it.message)
        alive = false
      end
    else
      if self.connected then self:log("mqtt: connection lost: %s", it.message) end
      self.connected = false
      alive = false
    end
  end
end

-- Drives one connection until it is over.
function Broker:_pump()
  local set = {}
  local started = core.now()
  while not self.closed do
    local n = self.c:waitset(set)
    if n == 0 then break end
    -- At least once a second: libmosquitto's keepalive (loop_misc) runs on
    -- the clock, not on the socket.
    wait.wait(set, 1)
    if self.closed then break end
    local ok = self.c:step()
    local alive = self:_drain()
    if not ok or not alive then break end
    if not self.connected and core.now() - started > self.connect_timeout then
      self:log("mqtt: no answer from %s:%d in %g s", self.host, self.port, self.connect_timeout)
      break
    end
  end
  if self.connected then self.connected = false end
  if not self.closed then self.c:disconnect() self:_drain() end
end

-- The task: connects, pumps, and reconnects after a backoff (doubling from
-- retry_min to retry_max, with jitter) until close().
function Broker:run()
  self.pump_co = coroutine.running()
  local delay = self.retry_min
  local started = false
  while not self.closed do
    local ok, err
    if started then ok, err = self.c:reconnect()
    else ok, err = self.c:connect(self.host, self.port, self.keepalive) end
    if ok then
      started = true
      local before = self.stats.connects
      self:_pump()
      if self.stats.connects > before then delay = self.retry_min end
    else
      self:log("mqtt: cannot connect to %s:%d: %s", self.host, self.port, tostring(err))
    end
    if self.closed then break end
    wait.sleep(delay * (0.5 + 0.5 * math.random()))
    delay = math.min(delay * 2, self.retry_max)
  end
end

function Broker:close()
  if self.closed then return end
  self.closed = true
  if self.connected then
    self.c:disconnect()
    self.c:step()
  end
  self.connected = false
  self.c:close()
  wait.wake(self.pump_co)
end

return _M
