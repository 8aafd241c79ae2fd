-- The shell's lines in and out: GNU readline on a terminal, plain lines
-- otherwise, and printing while a prompt is shown.
--
--   local input = require("vigi.shell.input").new{ fd = 0, tty = true,
--     readline = require "readline" (or nil), complete = fn(line, from, to),
--     history = path (or nil), keep = fn(line) -> bool }
--   input:read(prompt) -> line | nil (end of input) | false (Ctrl-C)
--   input:secret(prompt) -> line | nil       echo off on a terminal
--   input:print(text)                        above the prompt if one is shown
--
-- Every read waits through wait.lua, so the task that reads lets the
-- others run (event watchers print while the user types). With readline,
-- that is its callback interface: the task waits until stdin is readable,
-- then readline takes one character (rl_callback_read_char). Ctrl-C is
-- seen through the descriptor of core.term.catch (`sigfd`): at a prompt
-- it drops the line being typed; SIGTERM and SIGHUP end the input.
--
-- The history keeps the lines typed on a terminal, in a file (one line an
-- entry, the last `history_lines` kept), except lines `keep` refuses:
-- lines that hold secrets never reach the file.
local core = require "vigi.core"
local wait = require "vigi.wait"

local term = core.term

local _M = {}

_M.history_lines = 1000
_M.max_line = 1024 * 1024 -- bytes of one line; a longer one is dropped

local Input = {}
Input.__index = Input

local function quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- The history file: read at start, appended to per line.
local function load_history(self)
  local path = self.history
  local dir = path:match("^(.*)/[^/]*$")
  -- if it cannot be made, the file cannot be opened: the history is then
  -- this session's only
  if dir then os.execute("mkdir -p -m 700 " .. quote(dir) .. " 2>/dev/null") end
  local lines = {}
  local f = io.open(path, "r")
  if f then
    for line in f:lines() do lines[#lines + 1] = line end
    f:close()
  else
    -- readable by its owner only, like a shell's history
    os.execute("umask 077 && : >> " .. quote(path) .. " 2>/dev/null")
  end
  local first = math.max(1, #lines - _M.history_lines + 1)
  if first > 1 then
    -- keep the file short: rewrite it with its last lines
    f = io.open(path, "w")
    if f then
      f:write(table.concat(lines, "\n", first), "\n")
      f:close()
    end
  end
  if self.rl then
    for i = first, #lines do self.rl.add_history(lines[i]) end
  end
end

local function add_history(self, line)
  if line:match("^%s*$") or not self.keep(line) then return end
  if line == self.last_added then return end
  self.last_added = line
  if self.rl then self.rl.add_history(line) end
  if self.history then
    local f = io.open(self.history, "a")
    if f then
      f:write(line, "\n")
      f:close()
    end
  end
end

function _M.new(o)
  local self = setmetatable({
    fd = o.fd or 0, tty = o.tty, sigfd = o.sigfd, rl = o.readline, complete = o.complete,
    history = o.tty and o.history or nil, keep = o.keep or function() return true end,
    buf = "", out = o.out or io.stdout,
  }, Input)
  self.set = { self.fd, 1, n = 1 }
  if self.sigfd then self.set = { self.fd, 1, self.sigfd, 1, n = 2 } end
  if self.rl then
    local rl = self.rl
    -- The history is the shell's (below), not the binding's default file.
    rl.set_options { histfile = "", auto_add = false, completion = true }
    rl.set_readline_name("vigi")
    -- Words end at Lua's punctuation, so that what readline lists is the
    -- name being completed, not the whole expression.
    term.rl_word_breaks(" \t\n\"'`<>=;|&{}()[],:.+-*/%^~#")
    self.on_line = function(line)
      self.got, self.line = true, line
      self:_remove() -- before readline shows the next prompt by itself
    end
    self.completer = function(line, from, to)
      -- readline sets a space to follow a completed word before each
      -- completion; names are followed by `{`, `(`, `:` or ` = ` instead
      rl.set_completion_append_character("")
      local ok, list = pcall(self.complete, line, from, to)
      return ok and type(list) == "table" and list or {}
    end
  end
  if self.history then load_history(self) end
  return self
end

-- readline lets go of the terminal first, while the binding's stream is
-- still open; the binding then closes that stream (lua_term.c says why
-- the order matters). Once only: the binding closes its stream again on a
-- second call.
function Input:_remove()
  if self.rl_on then
    self.rl_on = false
    term.rl_release()
    self.rl.handler_remove()
  end
end

function Input:_write(s)
  self.out:write(s)
  self.out:flush()
end

-- One line from the plain reader, waiting through wait.lua. Returns the
-- line, nil at the end of input, or false on Ctrl-C when `sig`.
function Input:_line(sig)
  while true do
    local nl = self.buf:find("\n", 1, true)
    if nl then
      local line = self.buf:sub(1, nl - 1)
      self.buf = self.buf:sub(nl + 1)
      return (line:gsub("\r$", ""))
    end
    if self.eof then
      if self.buf == "" then return nil end
      local line = self.buf
      self.buf = ""
      return line
    end
    wait.wait(sig and self.set or { self.fd, 1, n = 1 }, -1)
    if sig and self.sigfd then
      if term.ending() then return nil end
      if term.sigints() > 0 then
        self.buf = ""
        -- Ctrl-C drops the line typed; a script it ends
        if not self.tty then return nil end
        return false
      end
    end
    local s = term.read(self.fd, 4096)
    if s == nil then
      self.eof = true
    elseif #self.buf + #s > _M.max_line then
      self.buf = "" -- an endless line: dropped, the reading goes on
      io.stderr:write("vigi: a line longer than ", _M.max_line, " bytes was dropped\n")
    else
      self.buf = self.buf .. s
    end
  end
end

function Input:read(prompt)
  if not self.rl then
    if self.tty then
      self.prompt = prompt
      self:_write(prompt)
    end
    local line = self:_line(true)
    self.prompt = nil
    if line ~= nil and line ~= false then add_history(self, line) return line end
    if self.tty then self:_write("\n") end -- after ^C, or Ctrl-D at the prompt
    return line
  end
  local rl = self.rl
  self.got, self.line, self.prompt = false, nil, prompt
  -- Both calls record the running coroutine as the one readline calls
  -- back into: they are made from the task that calls read_char.
  rl.set_complete_function(self.completer)
  rl.handler_install(prompt, self.on_line)
  self.rl_on = true
  while not self.got do
    wait.wait(self.set, -1)
    local ending = term.ending()
    if ending or term.sigints() > 0 then
      if rl.sigcleanup then rl.sigcleanup() end
      self:_remove()
      self:_write(ending and "\n" or "^C\n")
      self.prompt = nil
      if ending then return nil end
      return false
    end
    if self.rl_on then rl.read_char() end
  end
  self.prompt = nil
  if self.line == nil then return nil end -- readline ended the line itself
  add_history(self, self.line)
  return self.line
end

function Input:secret(prompt)
  if not self.tty then return self:_line(false) end
  -- echo off before the prompt shows: what is typed after it is not echoed
  self.echo_was = term.echo(self.fd, false)
  io.stderr:write(prompt)
  io.stderr:flush()
  local line = self:_line(false)
  self:restore()
  io.stderr:write("\n")
  return line
end

-- The terminal as it was, after a read that was cut short.
function Input:restore()
  if self.echo_was ~= nil then
    term.echo(self.fd, self.echo_was)
    self.echo_was = nil
  end
end

function Input:print(text)
  if self.rl_on then
    if term.rl_hide() then
      self:_write(text .. "\n")
      term.rl_show()
      return
    end
    self:_write("\r\27[K" .. text .. "\n" .. self.prompt)
  elseif self.prompt then
    self:_write("\r\27[K" .. text .. "\n" .. self.prompt)
  else
    self:_write(text .. "\n")
  end
end

function Input:close()
  self:_remove()
  self:restore()
end

return _M
