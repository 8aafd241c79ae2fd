-- The handlers of examples/openresty/nginx.conf: one camera per worker,
-- made at its first use, shared by every request (its connections live in
-- nginx's pool, so concurrent requests do not queue behind each other).
-- luacheck: globals ngx
local vigi = require "vigi"
local cjson = require "cjson"

local _M = {}

local cam
-- A refused login (wrong password, locked account): kept, so that no
-- request and no timer of this worker sends the password again, since
-- repeated failures lock the camera's account. Fix VIGI_PASSWORD and
-- reload nginx to try again.
local refused

-- The camera, logged in; nil, err when it cannot be reached. vigi picks
-- the cosocket transport by itself in a request or a timer.
local function camera()
  if cam then return cam end
  if refused then return nil, refused end
  local c, err = vigi.connect {
    host = os.getenv("VIGI_HOST") or "127.0.0.1",
    port = tonumber(os.getenv("VIGI_PORT") or "") or 20443,
    stream_port = tonumber(os.getenv("VIGI_STREAM_PORT") or ""),
    password = os.getenv("VIGI_PASSWORD") or "secret",
    timeout = 5,
  }
  if not c then
    if err.kind == "auth" then refused = err end
    return nil, err
  end
  cam = c
  return cam
end

local function reply(status, t)
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  ngx.say(cjson.encode(t))
end

local function failed(err)
  -- errors carry no secrets (never the password, its hash or the token)
  reply(err.kind == "invalid" and 400 or 502, { error = err.message, kind = err.kind, code = err.code,
    hint = err.kind == "auth" and "the password is not tried again: fix VIGI_PASSWORD, then reload nginx" or nil })
end

-- GET /info: getDeviceInfo as JSON.
function _M.info()
  local c, err = camera()
  if not c then return failed(err) end
  local info, ierr = c:getDeviceInfo()
  if not info then return failed(ierr) end
  reply(200, info)
end

-- POST /motion?enabled=on&sensitivity=75: checked before anything is sent.
function _M.motion()
  local c, err = camera()
  if not c then return failed(err) end
  local args = ngx.req.get_uri_args()
  local ok, serr = c:setMotionDetectionSwitch { enabled = args.enabled, sensitivity = args.sensitivity }
  if not ok then return failed(serr) end
  reply(200, { ok = true })
end

-- GET /events?types=MotionDetection,PeopleDetection: one JSON line per
-- event (and per gap) as the camera pushes them, until the client leaves.
function _M.events()
  local c, err = camera()
  if not c then return failed(err) end
  local types = {}
  for t in (ngx.var.arg_types or "all"):gmatch("[%w_]+") do types[#types + 1] = t end
  local sub, serr = c:subscribe { event_types = types, heartbeat = 15 }
  if not sub then return failed(serr) end
  -- Ending the request closes its cosockets, the subscription's too.
  ngx.on_abort(function() ngx.exit(499) end)
  ngx.header["Content-Type"] = "application/x-ndjson"
  ngx.flush(true)
  for ev in sub:events() do
    local line
    if ev.kind == "event" then
      line = { event_type = ev.event_type, enhance = ev.enhance, time = ev.time }
    elseif ev.kind == "gap" then
      line = { gap = true, from = ev.from, to = ev.to }
    end
    if line then
      ngx.say(cjson.encode(line))
      if not ngx.flush(true) then break end
    end
  end
  sub:close()
end

-- GET /preview?frames=100: reads that many frames of the main stream and
-- says what came (a real service would pass the frames on).
function _M.preview()
  local c, err = camera()
  if not c then return failed(err) end
  local want = tonumber(ngx.var.arg_frames) or 100
  local s, perr = c:preview { resolution = ngx.var.arg_resolution }
  if not s then return failed(perr) end
  local t = { frames = 0, video = 0, audio = 0, keyframes = 0, bytes = 0 }
  for f in s:frames() do
    if f.kind == "error" then t.error = f.error.message break end
    if f.kind == "video" or f.kind == "audio" then
      t.frames, t[f.kind], t.bytes = t.frames + 1, t[f.kind] + 1, t.bytes + #f.data
      if f.kind == "video" then
        t.codec = f.codec
        if f.keyframe then t.keyframes = t.keyframes + 1 end
      end
      if t.frames >= want then break end
    end
  end
  s:close()
  reply(200, t)
end

-- An auth error ends the watch for good: trying again would send a
-- refused password, and repeated failures lock the camera's account. So
-- does a TLS refusal (err.tls): the same peer would refuse again.
local function stop_watching(err)
  ngx.log(ngx.ERR, "vigi: ", tostring(err), "; not watching events any more, and not " ..
    "trying again: ", err.tls and "check the camera and its certificate" or
    "fix VIGI_PASSWORD (or unlock the camera)", ", then reload nginx")
end
local function final(err) return type(err) == "table" and (err.kind == "auth" or err.tls ~= nil) end

-- A subscription in a timer, for the life of the worker: vigi makes it
-- again after a loss by itself, and says so with a gap. When the camera
-- cannot be reached, the timer tries again in 10 s; when it refuses the
-- login or TLS refuses it, never.
local function watch(premature)
  if premature then return end
  local c, err = camera()
  if not c and final(err) then return stop_watching(err) end
  if not c then
    ngx.log(ngx.WARN, "vigi: ", tostring(err), "; trying again in 10 s")
    return ngx.timer.at(10, watch)
  end
  local sub, serr = c:subscribe { event_types = { "all" } }
  if not sub and final(serr) then return stop_watching(serr) end
  if not sub then
    ngx.log(ngx.WARN, "vigi: ", tostring(serr), "; trying again in 10 s")
    return ngx.timer.at(10, watch)
  end
  while not ngx.worker.exiting() do
    local ev, why = sub:next(5) -- a bounded wait, to notice the worker's exit
    if ev and ev.kind == "event" then
      ngx.log(ngx.NOTICE, "vigi event: ", ev.event_type, ev.enhance and (" (" .. ev.enhance .. ")") or "")
    elseif ev and ev.kind == "gap" then
      ngx.log(ngx.WARN, "vigi: events may have been lost from ", ev.from, " to ", ev.to)
    elseif ev and ev.kind == "error" and final(ev.error) then
      sub:close()
      return stop_watching(ev.error)
    elseif not ev and why ~= "timeout" then
      -- the subscription ended: an auth error or a TLS refusal stops,
      -- anything else waits 10 s
      sub:close()
      if final(why) then return stop_watching(why) end
      ngx.log(ngx.WARN, "vigi: the subscription ended (", tostring(why), "); again in 10 s")
      return ngx.timer.at(10, watch)
    end
  end
  sub:close()
end

function _M.start_watch()
  if os.getenv("VIGI_HOST") or os.getenv("VIGI_PORT") then ngx.timer.at(0, watch) end
end

return _M
