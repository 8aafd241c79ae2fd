-- vigi: the TP-Link VIGI camera OpenAPI from Lua.
--
--   local vigi = require "vigi"
--   local cam = assert(vigi.connect{ host = "192.0.2.7", password = pw })
--   print(cam:getDeviceInfo().model)
local camera = require "vigi.camera"
local json = require "vigi.json"
local wait = require "vigi.wait"

local _M = {}

_M.VERSION = "scm-1" -- spec/build_spec.lua checks it against the rockspec

-- connect{ host=, port=20443, password= | password_md5=, username="admin",
--          timeout=10, connect_timeout=5, path_suffix="", token_refresh=1500,
--          tls = { verify=false, cafile=, pin="sha256//..." }, log=, lazy=,
--          stream_port= (else getStreamPort), transport= ("curl" | "resty") }
_M.connect = camera.connect

-- discover{ timeout=2, hosts={ "10.1.2.7", "10.1.3.0/24" }, broadcast=,
--           port=23001, retries=2, interval=, rate=5000, on_device=,
--           expect= (stop once this many devices answered),
--           max_devices=4096, max_probes=65536, control_port= }
--   -> devices, stats   (a device's ip is its reply's source address)
_M.discover = require("vigi.discover").discover

_M.methods = require("vigi.methods").list
_M.errors = require "vigi.errors"
_M.null = json.null
_M.sleep = wait.sleep

-- run(fn) / spawn(fn): many cameras at once in one Lua state (run.lua).
local run = require "vigi.run"
_M.run, _M.spawn = run.run, run.spawn

return _M
