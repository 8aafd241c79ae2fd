-- The error codes known for this camera family, as data: camera.lua's
-- messages and the table of docs/protocol.md ("Error codes") are made from
-- this list, so the two cannot drift apart.
--
-- The VIGI document defines only 0. Every other code here was learnt from
-- somewhere else (`from` names where), so a message says what a code is
-- known as in the family, never what the camera meant by it. A code that
-- is not here stays an `api` error carrying the code.
local _M = {}

-- Where the knowledge of a code comes from.
_M.SOURCES = {
  tapo = "the Tapo family's clients (pytapo and its ports)",
  field = "VIGI firmware in the field (C540V, C340I, firmware 2.2-2.3)",
  tplink = "other TP-Link firmware (token errors)",
  sim = "vigi-sim",
}

-- code, what it is known as, where from (keys of SOURCES), and what
-- vigi-sim answers it for (nil: the sim never does). `no_method`: a way
-- firmware of the family says it has no such method.
_M.list = {
  { code = -40401, text = "invalid or expired token (stok)", from = { "tapo", "sim" },
    sim = "a bad, missing or expired token" },
  { code = -40210, text = "function not supported", from = { "tapo", "sim" }, no_method = true,
    sim = "an unknown method (the default; `--unknown-method-code` changes it)" },
  { code = -40106, text = "parameter to get/do does not exist", from = { "tapo", "sim" },
    sim = "invalid parameters (the answer's `msg` names the field)" },
  { code = -40105, text = "method does not exist", from = { "tapo" }, no_method = true },
  { code = -40101, text = "parameter to set does not exist", from = { "tapo" } },
  { code = -40209, text = "invalid login credentials", from = { "tapo" } },
  { code = -64302, text = "preset not found", from = { "tapo" } },
  { code = -64321, text = "preset deleted", from = { "tapo" } },
  { code = -64303, text = "patrol mode is on", from = { "tapo" } },
  { code = -64304, text = "pan/tilt limit reached", from = { "tapo" } },
  { code = -64324, text = "privacy mode is on", from = { "tapo" } },
  { code = -71103, text = "user not authorized", from = { "tapo" } },
  { code = -10002, text = "invalid or expired token", from = { "tplink" } },
  { code = -10020, text = "login failed (with `authenticate`: the login challenge)",
    from = { "field", "sim" }, sim = "a failed login; with `authenticate`, the challenge" },
  { code = -10022, text = "account locked after repeated failed logins", from = { "field", "sim" },
    sim = "a locked account" },
  { code = -10030, text = "call not supported", from = { "field", "sim" }, no_method = true,
    sim = "an unsupported login form" },
}

_M.by_code = {}
for _, c in ipairs(_M.list) do _M.by_code[c.code] = c end

-- What `code` is known as in the family, or nil for a code not listed.
function _M.text(code)
  local c = _M.by_code[code]
  return c and c.text
end

-- Whether `code` is one by which the family says "no such method".
function _M.no_method(code)
  local c = _M.by_code[code]
  return c ~= nil and c.no_method == true
end

-- The table of docs/protocol.md, between its two marker lines.
_M.BEGIN = "<!-- error codes: made from lua/vigi/codes.lua by tools/gen-codes-doc.lua -->"
_M.END = "<!-- end of error codes -->"

function _M.markdown()
  local out = {
    _M.BEGIN,
    "| code | known in the family as | from | vigi-sim answers it for |",
    "|---|---|---|---|",
  }
  for _, c in ipairs(_M.list) do
    local from = {}
    for i, k in ipairs(c.from) do from[i] = _M.SOURCES[k] end
    out[#out + 1] = string.format("| %d | %s | %s | %s |", c.code, c.text,
      table.concat(from, "; "), c.sim or "")
  end
  out[#out + 1] = _M.END
  return table.concat(out, "\n") .. "\n"
end

-- docs/protocol.md's text with its table replaced by markdown(), or nil
-- when the markers are missing.
function _M.refresh(text)
  local a = text:find(_M.BEGIN, 1, true)
  local _, b = text:find(_M.END, 1, true)
  if not a or not b then return nil end
  return text:sub(1, a - 1) .. _M.markdown() .. (text:sub(b + 1):gsub("^\n", "", 1))
end

return _M
