-- Writes the seed corpus of fuzz/odp_decode.c: one packet per path through
-- odp_decode (valid, bare magic, unsupported, each rejection), so that the
-- fuzzer starts past the checksum instead of having to find a CRC by luck.
-- Run from the checkout after `make`: lua5.4 fuzz/make-corpus.lua
package.cpath = "lua/?.so;" .. package.cpath
local core = require "vigi.core"

local dir = "fuzz/corpus/odp_decode/"
local json = '{"error_code":0,"result":{"device_name":"C540V","device_type":"SMART.IPCAMERA",'
  .. '"device_model":"C540V","ip":"192.0.2.7","mac":"AABBCCDDEEFF","factory_default":false,'
  .. '"http_port":443}}'

local seeds = {
  ["reply-unicast"] = core.odp_reply(0x0A0B0C0D, false, json),
  ["reply-broadcast"] = core.odp_reply(0x01020304, true, json),
  ["reply-empty-payload"] = core.odp_reply(1, false, ""),
  ["reply-bare-magic"] = core.odp_reply(5, false, json, { bare_magic = true }),
  ["reply-compress"] = core.odp_reply(6, false, json, { flags = 0x15 }),
  ["reply-encrypt"] = core.odp_reply(7, true, json, { flags = 0x29 }),
  ["reply-result-err"] = core.odp_reply(8, false, '{"error_code":-1}', { result = 0xFF }),
  ["reply-version-2"] = core.odp_reply(9, false, json, { version = 2 }),
  ["reply-opcode-2"] = core.odp_reply(10, false, json, { opcode = 2 }),
  ["request-broadcast"] = core.odp_request(0x12345678, true, "{}"),
  -- One byte over the limit, so that the fuzzer's inputs may grow past it.
  ["reply-too-big"] = core.odp_reply(11, false, string.rep("x", 8193)),
  ["short"] = core.odp_request(1, false, "{}"):sub(1, 15),
}

for name, bytes in pairs(seeds) do
  local f = assert(io.open(dir .. name, "wb"))
  f:write(bytes)
  f:close()
end
