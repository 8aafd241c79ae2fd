-- Turn a file into a C source that defines it as a byte array, so that
-- vigi-sim carries camera.json inside:
--   lua5.4 sim/embed.lua IN OUT NAME
-- defines `const unsigned char NAME[]` (NUL-terminated) and `NAME_len`.
local inp, out, name = arg[1], arg[2], arg[3]
assert(inp and out and name, "usage: embed.lua IN OUT NAME")
local f = assert(io.open(inp, "rb"))
local data = f:read("a")
f:close()

local parts = {
  "/* Generated from " .. inp .. " by sim/embed.lua; do not edit. */\n",
  "const unsigned long " .. name .. "_len = " .. #data .. "UL;\n",
  "const unsigned char " .. name .. "[] = {\n",
}
local line = {}
for i = 1, #data do
  line[#line + 1] = string.format("%d,", data:byte(i))
  if #line == 24 then
    parts[#parts + 1] = table.concat(line) .. "\n"
    line = {}
  end
end
line[#line + 1] = "0"
parts[#parts + 1] = table.concat(line) .. "\n};\n"

local tmp = out .. ".tmp"
local o = assert(io.open(tmp, "wb"))
o:write(table.concat(parts))
o:close()
assert(os.rename(tmp, out))
