-- doAuth and its two forms (WIRE-NOTES §2 and §4).
--
-- A login whose form is not known starts with the probe
-- {"method":"doAuth","params":null}: it costs no failed attempt. Its
-- answer picks the form: an `authenticate` object means the challenge form
-- (SHA-256 over user, realm, password, nonce), -10022 means the account is
-- locked, anything else the MD5 form. A login whose form is known (the
-- caller remembers it per camera, or the user pinned it) sends the MD5
-- form at once; the challenge form always asks for its nonce first, since
-- the nonce is what the camera answers the probe with.
-- The password is tried exactly once per login, and a failed or locked
-- login is never retried here: repeated failures lock the account.
-- camera.lua keeps a failure, so that nothing else sends it again.
--
-- Nothing in this file puts a secret into a message, a log line or an
-- error: bodies that carry credentials are built and sent, never shown.
local core = require "vigi.core"
local json = require "vigi.json"
local errors = require "vigi.errors"

local _M = {}

local LOGIN_FAILED, LOCKED, UNSUPPORTED = -10020, -10022, -10030
_M.UNSUPPORTED = UNSUPPORTED

_M.PROBE = '{"method":"doAuth","params":null}'

-- The error code of an answer, as an integer (JSON decoders may hand back
-- -40401.0), or nil.
function _M.code_of(resp)
  local n = tonumber(resp.errCode or resp.error_code)
  if n and math.tointeger then n = math.tointeger(n) or n end
  return n
end
local code_of = _M.code_of

-- Codes by which a camera says the token is bad or expired (WIRE-NOTES §2).
_M.TOKEN_ERRORS = { [-40401] = true, [-10002] = true }

local function stok_of(resp)
  local s = resp.stok
  if s == nil and type(resp.result) == "table" then s = resp.result.stok end
  return s
end

-- The error of a refused login. The messages say what the camera said;
-- camera.lua adds what happens next (nothing is sent until the user logs
-- in again).
local function failed(resp, where, form)
  local code = code_of(resp)
  if code == LOCKED then
    return errors.fail("auth", where .. ": the account is locked after repeated failed " ..
      "logins; wait for the lock to expire (or unlock it on the camera)",
      { code = code, method = "doAuth", locked = true })
  elseif code == LOGIN_FAILED then
    return errors.fail("auth", where .. ": wrong password (or user name)",
      { code = code, method = "doAuth" })
  elseif code == UNSUPPORTED then
    return errors.fail("auth", where .. ": the camera does not take the " .. tostring(form) ..
      " login form; connect with login = \"auto\" (the default)",
      { code = code, method = "doAuth", form = form })
  end
  return errors.fail("auth", where .. ": login refused", { code = code, method = "doAuth" })
end

local function challenge_body(secret, username, a)
  local alg = tostring(a.algorithm or "SHA-256"):upper():gsub("-", "")
  if alg ~= "SHA256" then return nil, alg end
  local sha = core.sha256_hex
  local ha1 = sha(username .. ":" .. tostring(a.realm or "") .. ":" .. secret.password)
  local ha2 = sha(tostring(a.method or "POST") .. ":" .. tostring(a.uri or "/"))
  local response = sha(ha1 .. ":" .. tostring(a.nonce) .. ":" .. ha2)
  return '{"method":"doAuth","params":{"nonce":' .. json.encode(a.nonce) ..
         ',"response":"' .. response .. '"}}'
end

local function md5_body(secret)
  return '{"method":"doAuth","params":{"password":"' .. secret.md5 .. '","passwdType":"md5"}}'
end

-- login(post, secret, username, where [, form [, pinned]]) -> stok, form | nil, err
-- post(body, access) sends a doAuth body to "/" and returns the decoded
-- answer or nil, err; access "probe" may be resent, "auth" never.
-- form: nil (probe, and the answer picks), "md5" (no probe: the MD5 form
-- at once) or "challenge" (the probe, whose answer must be a challenge
-- when `pinned`; else an answer without one goes on as nil does).
function _M.login(post, secret, username, where, form, pinned)
  local resp, err, body
  if form == "md5" then
    resp = {}
  else
    resp, err = post(_M.PROBE, "probe")
    if not resp then return nil, err end
  end
  if type(resp.authenticate) == "table" then
    local a = resp.authenticate
    if a.nonce == nil then
      return errors.fail("protocol", where .. ": the login challenge has no nonce")
    end
    if not secret.password then
      return errors.fail("auth", where .. ": this camera logs in by challenge, which needs " ..
        "the plain password; give `password` instead of `password_md5`", { method = "doAuth" })
    end
    local alg
    body, alg = challenge_body(secret, username, a)
    if not body then
      return errors.fail("auth", where .. ": the camera asks for a login digest with " ..
        "algorithm " .. tostring(alg) .. ", which is not supported", { method = "doAuth" })
    end
    form = "challenge"
  elseif code_of(resp) == LOCKED then
    return failed(resp, where)
  elseif form == "challenge" and pinned then
    return errors.fail("auth", where .. ": the camera did not answer with a login challenge " ..
      "(login = \"challenge\"); connect with login = \"auto\" (the default)",
      { method = "doAuth", form = form })
  else
    body, form = md5_body(secret), "md5"
  end
  resp, err = post(body, "auth")
  if not resp then return nil, err end
  if code_of(resp) ~= 0 then return failed(resp, where, form) end
  local stok = stok_of(resp)
  if type(stok) ~= "string" or not stok:match("^[%w%-_]+$") then
    return errors.fail("protocol", where .. ": the login succeeded but the answer holds no usable stok")
  end
  return stok, form
end

return _M
