-- The socket of a stream connection (stream/conn.lua) inside nginx: an
-- ngx.socket.tcp cosocket with the interface of streamconn's plain one,
--
--   connect(host, port, deadline) -> sock | nil, kind, message
--   sock:send(data, deadline)     -> true | nil, kind, message
--   sock:recv(demux, deadline)    -> true | nil, "timeout" | nil, "closed" | nil, message
--   sock:close()
--
-- The camera's bytes are handed to the C demux with feed() instead of
-- being read by it from a descriptor; each wait is the cosocket's timeout,
-- so the request waits and the worker does not.
local ms_until = require("vigi.resty.http").ms_until

local _M = {}

local READ_SIZE = 65536

local Sock = {}
Sock.__index = Sock
Sock.__name = "vigi.resty.tcp"

function _M.connect(host, port, deadline)
  local sock = rawget(_G, "ngx").socket.tcp()
  sock:settimeout(ms_until(deadline))
  local ok, err = sock:connect(host:find(":", 1, true) and ("[" .. host .. "]") or host, port)
  if not ok then
    if err == "timeout" then return nil, "timeout", "no TCP connection within the connect timeout" end
    return nil, "network", "cannot connect: " .. tostring(err) .. "; is the stream port right (getStreamPort)?"
  end
  return setmetatable({ sock = sock }, Sock)
end

function Sock:send(data, deadline)
  self.sock:settimeout(ms_until(deadline))
  local n, err = self.sock:send(data)
  if n then return true end
  if err == "timeout" then return nil, "timeout", "the camera does not take data (send timed out)" end
  return nil, "network", "send failed: " .. tostring(err)
end

function Sock:recv(demux, deadline)
  self.sock:settimeout(ms_until(deadline))
  local data, err = self.sock:receiveany(READ_SIZE)
  if not data then return nil, err end
  demux:feed(data)
  return true
end

-- pcall: a session's __gc may close it outside the request that owns it,
-- where nginx refuses socket calls.
function Sock:close()
  if self.sock then pcall(self.sock.close, self.sock) self.sock = nil end
end

return _M
