-- The build's facts that must not drift apart.
describe("build", function()
  it("has one version: the rockspec's, also in vigi.VERSION", function()
    local f = assert(io.open("vigi-scm-1.rockspec"))
    local text = f:read("*a")
    f:close()
    local version = text:match('\nversion = "([^"]+)"')
    assert.equal(version, require("vigi").VERSION)
  end)

  it("lists every Lua module in the rockspec", function()
    local f = assert(io.open("vigi-scm-1.rockspec"))
    local text = f:read("*a")
    f:close()
    -- lua/vigi/a/b.lua is vigi.a.b, and a folder's init.lua the folder's name
    local p = assert(io.popen("find lua/vigi -name '*.lua' | sort"))
    local n = 0
    for path in p:lines() do
      local mod = path:gsub("^lua/", ""):gsub("%.lua$", ""):gsub("/init$", ""):gsub("/", ".")
      assert.truthy(text:find('["' .. mod .. '"] = "' .. path .. '"', 1, true),
        mod .. " = " .. path .. " missing from the rockspec")
      n = n + 1
    end
    assert.is_true(n > 40)
    p:close()
  end)

  it("builds the core from every C file of csrc/ in the rockspec too", function()
    local f = assert(io.open("vigi-scm-1.rockspec"))
    local text = f:read("*a")
    f:close()
    local p = assert(io.popen("ls csrc/*.c"))
    for path in p:lines() do
      assert.truthy(text:find('"' .. path .. '"', 1, true), path .. " missing from the rockspec")
    end
    p:close()
  end)
end)
