-- Write the table of error codes into docs/protocol.md, from
-- lua/vigi/codes.lua (run from the top of the tree):
--   lua5.4 tools/gen-codes-doc.lua
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
local codes = require "vigi.codes"
local path = "docs/protocol.md"
local f = assert(io.open(path, "rb"))
local text = f:read("*a")
f:close()
local new = assert(codes.refresh(text), path .. " has no error-code markers")
f = assert(io.open(path, "wb"))
f:write(new)
f:close()
