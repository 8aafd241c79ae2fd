-- bin/vigi for whichever Lua runs it (the specs run the shell on each):
-- the modules of the checkout, and the core built for that Lua (.busted).
local core = "lua/?.so"
if jit then core = "build/luajit/?.so"
elseif _VERSION == "Lua 5.1" then core = "build/lua5.1/?.so"
elseif _VERSION == "Lua 5.3" then core = "build/lua5.3/?.so" end
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = core .. ";" .. package.cpath
os.exit(require("vigi.cli").main(arg))
