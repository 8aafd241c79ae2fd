-- The one place the version is written; lua/vigi/init.lua's VERSION is
-- checked against it by spec/build_spec.lua.
rockspec_format = "3.0"
package = "vigi"
version = "scm-1"
source = {
  url = "git+file://.",
}
description = {
  summary = "TP-Link VIGI camera OpenAPI: discovery, control, events and streams",
  detailed = [[
A Lua module with a C core that speaks the whole VIGI camera OpenAPI:
every control method as a checked Lua function, with authentication and
token renewal handled for you.]],
  license = "MIT",
}
dependencies = {
  "lua >= 5.1",
  "lua-cjson",
}
external_dependencies = {
  CURL = { header = "curl/curl.h" },
  OPENSSL = { header = "openssl/evp.h" },
}
build = {
  type = "builtin",
  modules = {
    ["vigi.core"] = {
      sources = {
        "csrc/crc32.c", "csrc/crypto.c", "csrc/demux.c", "csrc/digest.c", "csrc/g711.c",
        "csrc/http.c", "csrc/httpresp.c", "csrc/lua_httpresp.c",
        "csrc/lua_core.c", "csrc/lua_demux.c", "csrc/lua_digest.c", "csrc/lua_http.c",
        "csrc/lua_multipart.c", "csrc/lua_odp.c", "csrc/lua_poller.c", "csrc/lua_talk.c",
        "csrc/lua_tcp.c", "csrc/lua_term.c", "csrc/lua_udp.c", "csrc/multipart.c", "csrc/net.c", "csrc/odp.c",
        "csrc/rtp.c", "csrc/streamio.c", "csrc/tcp.c", "csrc/resolve.c", "csrc/lua_resolve.c",
        "csrc/lua_tls.c", "csrc/tlsclient.c",
      },
      -- pthread and dl: name lookups in threads (resolve.c); part of libc
      -- since glibc 2.34, separate before
      libraries = { "curl", "ssl", "crypto", "pthread", "dl" },
      incdirs = { "$(CURL_INCDIR)", "$(OPENSSL_INCDIR)" },
      libdirs = { "$(CURL_LIBDIR)", "$(OPENSSL_LIBDIR)" },
    },
    ["vigi"] = "lua/vigi/init.lua",
    ["vigi.errors"] = "lua/vigi/errors.lua",
    ["vigi.json"] = "lua/vigi/json.lua",
    ["vigi.methods"] = "lua/vigi/methods.lua",
    ["vigi.check"] = "lua/vigi/check.lua",
    ["vigi.apidoc"] = "lua/vigi/apidoc.lua",
    ["vigi.wait"] = "lua/vigi/wait.lua",
    ["vigi.run"] = "lua/vigi/run.lua",
    ["vigi.cqueues"] = "lua/vigi/cqueues.lua",
    ["vigi.transport"] = "lua/vigi/transport.lua",
    ["vigi.resty"] = "lua/vigi/resty/init.lua",
    ["vigi.resty.http"] = "lua/vigi/resty/http.lua",
    ["vigi.resty.tcp"] = "lua/vigi/resty/tcp.lua",
    ["vigi.http1"] = "lua/vigi/http1.lua",
    ["vigi.tlsstream"] = "lua/vigi/tlsstream.lua",
    ["vigi.auth"] = "lua/vigi/auth.lua",
    ["vigi.camera"] = "lua/vigi/camera.lua",
    ["vigi.codes"] = "lua/vigi/codes.lua",
    ["vigi.host"] = "lua/vigi/host.lua",
    ["vigi.cli"] = "lua/vigi/cli/init.lua",
    ["vigi.sim"] = "lua/vigi/sim.lua",
    ["vigi.ipv4"] = "lua/vigi/ipv4.lua",
    ["vigi.discover"] = "lua/vigi/discover.lua",
    ["vigi.events"] = "lua/vigi/events.lua",
    ["vigi.stream.api"] = "lua/vigi/stream/api.lua",
    ["vigi.queue"] = "lua/vigi/queue.lua",
    ["vigi.stream.conn"] = "lua/vigi/stream/conn.lua",
    ["vigi.stream"] = "lua/vigi/stream/init.lua",
    ["vigi.stream.media"] = "lua/vigi/stream/media.lua",
    ["vigi.stream.talk"] = "lua/vigi/stream/talk.lua",
    ["vigi.stream.wav"] = "lua/vigi/stream/wav.lua",
    ["vigi.cli.stream"] = "lua/vigi/cli/stream.lua",
    ["vigi.cli.printable"] = "lua/vigi/cli/printable.lua",
    ["vigi.shell"] = "lua/vigi/shell/init.lua",
    ["vigi.shell.show"] = "lua/vigi/shell/show.lua",
    ["vigi.shell.complete"] = "lua/vigi/shell/complete.lua",
    ["vigi.shell.guard"] = "lua/vigi/shell/guard.lua",
    ["vigi.shell.input"] = "lua/vigi/shell/input.lua",
    ["vigi.shell.env"] = "lua/vigi/shell/env.lua",
    -- `vigi bridge`; its MQTT binding is the rock vigi-mqtt (libmosquitto)
    ["vigi.bridge"] = "lua/vigi/bridge/init.lua",
    ["vigi.bridge.broker"] = "lua/vigi/bridge/broker.lua",
    ["vigi.bridge.camera"] = "lua/vigi/bridge/camera.lua",
    ["vigi.bridge.cli"] = "lua/vigi/bridge/cli.lua",
    ["vigi.bridge.config"] = "lua/vigi/bridge/config.lua",
    ["vigi.bridge.controls"] = "lua/vigi/bridge/controls.lua",
    ["vigi.bridge.ha"] = "lua/vigi/bridge/ha.lua",
  },
  install = {
    bin = { vigi = "bin/vigi" },
  },
}
