-- Write docs/api.md from lua/vigi/methods.lua:
--   lua5.4 tools/gen-api-doc.lua > docs/api.md
-- (from the top of the tree; LUA_PATH='lua/?.lua;lua/?/init.lua;;').
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
io.write(require("vigi.apidoc").markdown())
