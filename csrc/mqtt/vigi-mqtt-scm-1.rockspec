-- vigi.mqtt: the MQTT binding `vigi bridge` needs (libmosquitto), a rock
-- of its own so that vigi itself never needs libmosquitto. Made from this
-- directory, after vigi-scm-1.rockspec:
--   cd csrc/mqtt && luarocks make
-- (from here, so that luarocks does not take the checkout's lua/ along).
rockspec_format = "3.0"
package = "vigi-mqtt"
version = "scm-1"
source = {
  url = "git+file://.",
}
description = {
  summary = "MQTT for vigi bridge: libmosquitto driven without threads from vigi.run",
  detailed = [[
The module vigi.mqtt: an MQTT client through libmosquitto, the Eclipse
reference client, whose socket is waited on by vigi's own loop.]],
  license = "MIT",
}
dependencies = {
  "lua >= 5.1",
  "vigi",
}
external_dependencies = {
  MOSQUITTO = { header = "mosquitto.h" },
}
build = {
  type = "builtin",
  modules = {
    ["vigi.mqtt"] = {
      sources = { "lua_mqtt.c" },
      libraries = { "mosquitto" },
      incdirs = { "..", "$(MOSQUITTO_INCDIR)" },
      libdirs = { "$(MOSQUITTO_LIBDIR)" },
    },
  },
}
