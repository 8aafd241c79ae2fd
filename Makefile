# vigi: build in tree, test, demo. `make help` lists the targets.
#
#   make              C core at lua/vigi/core.so and the simulated camera
#   make test         everything CI runs (installs missing packages first)
#   make demo         start vigi-sim and take a short tour of a camera
#   make LUA=luajit   build the core for LuaJIT (or lua5.1, lua5.3)

LUA      ?= lua5.4
CC       ?= cc
WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes
CFLAGS   ?= -O2 -g
# pkg-config names: lua5.1, lua5.3, lua5.4 and luajit (Debian's; OpenResty's
# luajit2 installs its luajit.pc too).
PKG_LUA  := $(if $(filter luajit,$(LUA)),luajit,$(LUA))
# Asked when a compile needs it, not when make starts: on a fresh machine
# `make demo` installs pkg-config and the headers (deps) first.
LUA_INC   = $(shell pkg-config --cflags $(PKG_LUA) 2>/dev/null)
# What installs the packages; a test puts a stand-in here.
INSTALL_DEPS ?= tools/install-deps
# Every C file of csrc/ goes into the core. The plain-C ones (no lua.h, no
# libcurl) are also what the C unit tests and the fuzzers link.
CORE_SRC := $(sort $(wildcard csrc/*.c))
PLAIN_SRC := $(filter-out csrc/lua_% csrc/http.c csrc/tlsclient.c,$(CORE_SRC))
CORE_HDR := $(wildcard csrc/*.h)
CORE_SO  := lua/vigi/core.so
BUSTED   := busted --lua=$(LUA)

# For another Lua, the core goes to build/<lua>/ so that both can coexist.
ifneq ($(LUA),lua5.4)
CORE_SO := build/$(LUA)/vigi/core.so
endif

# vigi.mqtt, the MQTT binding of `vigi bridge` (libmosquitto), is a module
# of its own beside the core, built only where libmosquitto's headers are:
# nothing else of vigi needs it. `make mqtt` insists on it.
MQTT_SO  := $(dir $(CORE_SO))mqtt.so
MQTT_SRC := csrc/mqtt/lua_mqtt.c
HAVE_MOSQUITTO := $(shell pkg-config --exists libmosquitto 2>/dev/null && echo yes)

export LUA_PATH  := $(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;;
export LUA_CPATH := $(CURDIR)/$(patsubst %/vigi/core.so,%,$(CORE_SO))/?.so;;

.PHONY: all deps test test-lua check demo demo-run rock clean help bench asan ctest fuzz fuzz-smoke mqtt

all: $(CORE_SO) sim/vigi-sim $(if $(HAVE_MOSQUITTO),$(MQTT_SO))

$(CORE_SO): $(CORE_SRC) $(CORE_HDR)
	@test -n "$(LUA_INC)" || { echo "no Lua headers for $(LUA): pkg-config knows no $(PKG_LUA) (make deps)"; exit 1; }
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -std=gnu99 -fPIC -shared $(LUA_INC) -o $@ $(CORE_SRC) -lcurl -lssl -lcrypto

mqtt: $(MQTT_SO)

$(MQTT_SO): $(MQTT_SRC) csrc/compat.h csrc/lua_aux.h csrc/lua_sock.h
	@test -n "$(LUA_INC)" || { echo "no Lua headers for $(LUA): pkg-config knows no $(PKG_LUA) (make deps)"; exit 1; }
	@pkg-config --exists libmosquitto || { echo "vigi.mqtt needs libmosquitto (Debian: libmosquitto-dev; make deps)"; exit 1; }
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -std=gnu99 -fPIC -shared $(LUA_INC) -Icsrc $$(pkg-config --cflags libmosquitto) \
	  -o $@ $(MQTT_SRC) $$(pkg-config --libs libmosquitto)

-include sim/build.mk

# Sanitizer builds (ASan + UBSan) of the sim and of the core, for the specs.
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
asan: build/asan/vigi-sim build/asan/vigi/core.so

build/asan/vigi-sim: $(SIM_SRCS) sim/camera_json.c $(wildcard sim/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(SIM_CFLAGS) -O1 $(SAN) -o $@ $(SIM_SRCS) sim/camera_json.c $(SIM_LIBS)

build/asan/vigi/core.so: $(CORE_SRC) $(CORE_HDR)
	@mkdir -p $(dir $@)
	$(CC) -O1 -g $(SAN) $(WARN) -std=gnu99 -fPIC -shared $(LUA_INC) -o $@ $(CORE_SRC) -lcurl -lssl -lcrypto

# C unit tests (spec/c/*_test.c), each a small program linked with the
# plain-C parts of the core, under ASan + UBSan.
CTEST_CC  ?= gcc
CTEST_LIB := $(PLAIN_SRC)
CTESTS    := $(patsubst spec/c/%.c,build/ctest/%,$(wildcard spec/c/*_test.c))
# The plain-C sources are compiled once for all the tests (and once for
# all the fuzzers), not once per program: most of the stage's time was
# the same files compiled again under the sanitizers.
CTEST_OBJ := $(patsubst csrc/%.c,build/ctest/lib/%.o,$(CTEST_LIB))

ctest: $(CTESTS)
	@for t in $(CTESTS); do $$t || exit 1; done

build/ctest/lib/%.o: csrc/%.c $(CORE_HDR)
	@mkdir -p $(dir $@)
	$(CTEST_CC) -O1 -g $(SAN) $(WARN) -std=gnu99 -c -o $@ $<

build/ctest/%: spec/c/%.c $(CTEST_OBJ) $(CORE_HDR)
	@mkdir -p $(dir $@)
	$(CTEST_CC) -O1 -g $(SAN) $(WARN) -std=gnu99 -Icsrc -o $@ $< $(CTEST_OBJ) -lcrypto

# libFuzzer, one target per sans-IO reader (fuzz/*.c), each started from
# its seed corpus fuzz/corpus/<target>/. New inputs go to build/fuzz/, so
# the seeds in the tree stay as they are; a crash leaves its input there.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_LIB     := $(PLAIN_SRC)
FUZZ_OBJ     := $(patsubst csrc/%.c,build/fuzz/lib/%.o,$(FUZZ_LIB))
FUZZ_FLAGS   := -g -O1 -fno-sanitize-recover=undefined $(WARN) -std=gnu99
FUZZERS      := $(patsubst fuzz/%.c,build/fuzz/%,$(wildcard fuzz/*.c))

fuzz: $(FUZZERS)
	@for t in $(FUZZERS); do n=$${t##*/}; mkdir -p build/fuzz/corpus/$$n; \
	  echo "fuzz $$n: $(FUZZ_SECONDS) s (log: build/fuzz/$$n.log)"; \
	  $$t -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=build/fuzz/$$n- \
	    build/fuzz/corpus/$$n fuzz/corpus/$$n >build/fuzz/$$n.log 2>&1 \
	    || { tail -40 build/fuzz/$$n.log; exit 1; }; \
	  grep -E '^Done [0-9]+ runs' build/fuzz/$$n.log; done

fuzz-smoke:
	@$(MAKE) -s fuzz FUZZ_SECONDS=10

build/fuzz/lib/%.o: csrc/%.c $(CORE_HDR)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link,address,undefined -c -o $@ $<

build/fuzz/%: fuzz/%.c $(FUZZ_OBJ) $(CORE_HDR) $(wildcard fuzz/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer,address,undefined -Icsrc -o $@ $< $(FUZZ_OBJ) -lcrypto

deps:
	@$(INSTALL_DEPS)

check: all
	luacheck -q lua bin/vigi spec tools/*.lua sim/*.lua fuzz/*.lua bench/* examples .busted
	cppcheck -q --error-exitcode=1 --enable=warning,portability --inline-suppr csrc sim/*.c

test: deps
	@tools/run-tests

test-lua: all
	$(BUSTED) spec

# deps first, then a make of its own: with -j, `demo: deps all` could
# compile before the packages are there.
demo: deps
	@$(MAKE) --no-print-directory demo-run

demo-run: all
	@$(LUA) examples/tour.lua

# Debian keeps curl.h and the libraries under the multiarch directories.
MULTIARCH  = $(shell $(CC) -dumpmachine)
# The rocks are made from a copy of the sources without what `make` built
# in the tree: luarocks takes a lua/ directory along whole, and the
# modules built beside the Lua files (core.so, mqtt.so) are not the rock's.
rock:
	rm -rf build/rock-src && mkdir -p build/rock-src
	tar -c --exclude='*.so' --exclude='*.o' bin csrc lua vigi-scm-1.rockspec | tar -x -C build/rock-src
	cd build/rock-src && luarocks --lua-version=5.4 make --deps-mode=none --tree=$(CURDIR)/build/rock \
	  vigi-scm-1.rockspec CURL_INCDIR=/usr/include/$(MULTIARCH) CURL_LIBDIR=/usr/lib/$(MULTIARCH) \
	  OPENSSL_LIBDIR=/usr/lib/$(MULTIARCH)
ifneq ($(HAVE_MOSQUITTO),)
	cd build/rock-src/csrc/mqtt && luarocks --lua-version=5.4 make --deps-mode=none \
	  --tree=$(CURDIR)/build/rock vigi-mqtt-scm-1.rockspec MOSQUITTO_LIBDIR=/usr/lib/$(MULTIARCH)
endif

bench: all
	@$(INSTALL_DEPS) bench
	@for b in bench/*; do if [ -x "$$b" ]; then "$$b" || exit 1; fi; done

clean:
	rm -rf build lua/vigi/core.so lua/vigi/mqtt.so $(SIM_CLEAN)

help:
	@sed -n '3,8p' Makefile
