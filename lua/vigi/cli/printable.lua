-- Text from the network made safe to print on a terminal.
--
-- A device name, a model, an event type or a camera's message is chosen
-- by whoever answered; written raw, an escape sequence in it drives the
-- terminal (moves the cursor, rewrites earlier lines, sets the window
-- title, ...). Everything the `vigi` command prints that came from a camera
-- goes through here:
--
--   printable.text(s [, keep_newlines])   for lines meant for people
--   printable.json(s)                     for JSON text (one object a line,
--                                         or pretty-printed)
--
-- text: the control characters (C0, DEL, and C1 as UTF-8) and the
-- bidirectional controls (which reorder what is shown) are written as
-- \xNN or \uNNNN, a byte that is not UTF-8 as \xNN, and the backslash as
-- \\ so that what is printed reads back one way; everything else, UTF-8
-- included, passes. json: the encoder already escaped C0 and DEL inside
-- strings; C1 and the bidirectional controls become \u escapes, and a byte
-- that is not UTF-8 becomes \ufffd, so the line stays JSON.
--
-- Plain Lua (5.1 to 5.4, LuaJIT): byte patterns, no utf8 library.
local _M = {}

local byte, format, find, sub, concat = string.byte, string.format, string.find, string.sub, table.concat

-- Length of the UTF-8 sequence at s[i] (lead byte c), or 0 if it is not one.
local function utf8_len(s, i, c)
  local n, lo, hi
  if c >= 0xC2 and c <= 0xDF then n, lo, hi = 2, 0x80, 0xBF
  elseif c == 0xE0 then n, lo, hi = 3, 0xA0, 0xBF
  elseif c == 0xED then n, lo, hi = 3, 0x80, 0x9F -- no surrogates
  elseif c >= 0xE1 and c <= 0xEF then n, lo, hi = 3, 0x80, 0xBF
  elseif c == 0xF0 then n, lo, hi = 4, 0x90, 0xBF
  elseif c >= 0xF1 and c <= 0xF3 then n, lo, hi = 4, 0x80, 0xBF
  elseif c == 0xF4 then n, lo, hi = 4, 0x80, 0x8F
  else return 0 end
  local b = byte(s, i + 1)
  if not b or b < lo or b > hi then return 0 end
  for k = i + 2, i + n - 1 do
    b = byte(s, k)
    if not b or b < 0x80 or b > 0xBF then return 0 end
  end
  return n
end

-- The code point of a sequence that must not reach a terminal as is, or
-- nil: C1 controls (U+0080..U+009F) and the bidirectional controls
-- (U+200E, U+200F, U+202A..U+202E, U+2066..U+2069).
local function unsafe_code(s, i, c, n)
  if n == 2 and c == 0xC2 then
    local b = byte(s, i + 1)
    if b <= 0x9F then return b end
  elseif n == 3 and c == 0xE2 then
    local b1, b2 = byte(s, i + 1, i + 2)
    if b1 == 0x80 and (b2 == 0x8E or b2 == 0x8F or (b2 >= 0xAA and b2 <= 0xAE)) then
      return 0x2000 + (b2 - 0x80)
    end
    if b1 == 0x81 and b2 >= 0xA6 and b2 <= 0xA9 then return 0x2040 + (b2 - 0x80) end
  end
  return nil
end

local NAMED = { [9] = "\\t", [10] = "\\n", [13] = "\\r" }

-- Bytes that need a look: control characters (%c: C0 and DEL; a pattern
-- cannot hold a NUL on 5.1) and everything past ASCII; for text, the
-- backslash too.
local UNSAFE = "[%c\128-\255]"
local UNSAFE_TEXT = "[%c\128-\255\\]"

-- One pass over s: runs of plain ASCII are copied, and every byte or
-- sequence the style must change is written its way.
local function scrub(s, style)
  local out, i, n = {}, 1, #s
  while i <= n do
    local c = byte(s, i)
    if c == 92 and style.backslash then
      out[#out + 1] = "\\\\"
      i = i + 1
    elseif c == 10 and style.newlines then
      out[#out + 1] = "\n"
      i = i + 1
    elseif c < 32 or c == 127 then
      out[#out + 1] = style.control(c)
      i = i + 1
    elseif c < 128 then
      local j = find(s, style.unsafe, i) or n + 1
      out[#out + 1] = sub(s, i, j - 1)
      i = j
    else
      local len = utf8_len(s, i, c)
      if len == 0 then
        out[#out + 1] = style.not_utf8(c)
        i = i + 1
      else
        local code = unsafe_code(s, i, c, len)
        out[#out + 1] = code and format("\\u%04x", code) or sub(s, i, i + len - 1)
        i = i + len
      end
    end
  end
  return concat(out)
end

local function hex_byte(c) return format("\\x%02x", c) end

local TEXT = {
  unsafe = UNSAFE_TEXT, backslash = true, not_utf8 = hex_byte,
  control = function(c) return NAMED[c] or hex_byte(c) end,
}
local TEXT_LINES = setmetatable({ newlines = true }, { __index = TEXT })
local JSON = {
  unsafe = UNSAFE, newlines = true,
  control = function(c) return format("\\u%04x", c) end,
  not_utf8 = function() return "\\ufffd" end,
}

-- text(s [, keep_newlines]) -> s, safe to print. keep_newlines leaves "\n"
-- as it is (for messages of several lines).
function _M.text(s, keep_newlines)
  s = tostring(s)
  if not find(s, UNSAFE_TEXT) then return s end
  return scrub(s, keep_newlines and TEXT_LINES or TEXT)
end

-- json(s) -> s with no byte that could drive a terminal, still JSON when s
-- was. Newlines (the white space of pretty-printed JSON) stay; the
-- encoder leaves no other control byte, and any there is is escaped.
function _M.json(s)
  s = tostring(s)
  if not find(s, UNSAFE) then return s end
  return scrub(s, JSON)
end

return _M
