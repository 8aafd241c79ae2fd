-- Errors are values (docs/design.md, principle 5).
--
-- Every runtime failure is returned as `nil, err`, where err is a table with
-- a `kind` from a small fixed vocabulary, a readable `message`, and for api
-- failures the camera's `code` and the `method` that failed. tostring(err)
-- gives one line. Nothing here ever formats a secret: callers pass only
-- what is safe to show.
local _M = {}

-- The vocabulary. A user branches on these, so they never change meaning.
_M.KINDS = {
  timeout  = "the camera did not answer in time",
  auth     = "authentication failed",
  api      = "the camera refused the call",
  protocol = "the camera sent something that does not follow the protocol",
  network  = "the connection failed",
  invalid  = "the call was refused before anything was sent",
}

local mt = {
  __name = "vigi.error",
  __tostring = function(e)
    local s = e.kind .. ": " .. e.message
    if e.code ~= nil then s = s .. " (code " .. tostring(e.code) .. ")" end
    return s
  end,
}

-- Make an error value. `fields` may add code, method, field, rule, hint...
function _M.new(kind, message, fields)
  assert(_M.KINDS[kind], "unknown error kind: " .. tostring(kind))
  local e = { kind = kind, message = message }
  if fields then
    for k, v in pairs(fields) do e[k] = v end
  end
  return setmetatable(e, mt)
end

-- Shorthand for the common `return nil, err` form.
function _M.fail(kind, message, fields)
  return nil, _M.new(kind, message, fields)
end

function _M.is(v)
  return getmetatable(v) == mt
end

return _M
