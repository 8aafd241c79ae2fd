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
PKG_LUA  := $(if $(filter luajit,$(LUA)),luajit,$(LUA))
LUA_INC  := $(shell pkg-config --cflags $(PKG_LUA) 2>/dev/null)
CORE_SRC := csrc/lua_core.c csrc/lua_http.c csrc/http.c csrc/crypto.c
CORE_HDR := $(wildcard csrc/*.h)
CORE_SO  := lua/vigi/core.so
BUSTED   := busted --lua=$(LUA)

export LUA_PATH  := $(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;;
export LUA_CPATH := $(CURDIR)/lua/?.so;;

# For another Lua, the core goes to build/<lua>/ so that both can coexist.
ifneq ($(LUA),lua5.4)
CORE_SO := build/$(LUA)/vigi/core.so
endif

.PHONY: all deps test test-lua check demo rock clean help bench asan

all: $(CORE_SO) sim/vigi-sim

$(CORE_SO): $(CORE_SRC) $(CORE_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -std=gnu99 -fPIC -shared $(LUA_INC) -o $@ $(CORE_SRC) -lcurl -lcrypto

-include sim/build.mk

# Sanitizer builds (ASan + UBSan) of the sim and of the core, for the specs.
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
asan: build/asan/vigi-sim build/asan/vigi/core.so

build/asan/vigi-sim: $(SIM_SRCS) sim/camera_json.c $(wildcard sim/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(SIM_CFLAGS) -O1 $(SAN) -o $@ $(SIM_SRCS) sim/camera_json.c $(SIM_LIBS)

build/asan/vigi/core.so: $(CORE_SRC) $(CORE_HDR)
	@mkdir -p $(dir $@)
	$(CC) -O1 -g $(SAN) $(WARN) -std=gnu99 -fPIC -shared $(LUA_INC) -o $@ $(CORE_SRC) -lcurl -lcrypto

deps:
	@tools/install-deps

check: all
	luacheck -q lua bin/vigi spec tools bench examples sim/*.lua
	cppcheck -q --error-exitcode=1 --enable=warning,portability --inline-suppr csrc sim/*.c

test: deps
	@tools/run-tests

test-lua: all
	$(BUSTED) spec

demo: deps all
	@$(LUA) examples/tour.lua

# Debian keeps curl.h and the libraries under the multiarch directories.
MULTIARCH := $(shell $(CC) -dumpmachine)
rock:
	luarocks --lua-version=5.4 make --deps-mode=none --tree=build/rock vigi-scm-1.rockspec \
	  CURL_INCDIR=/usr/include/$(MULTIARCH) CURL_LIBDIR=/usr/lib/$(MULTIARCH) \
	  OPENSSL_LIBDIR=/usr/lib/$(MULTIARCH)

bench: all
	@tools/install-deps bench
	@for b in bench/*; do if [ -x "$$b" ]; then "$$b" || exit 1; fi; done

clean:
	rm -rf build lua/vigi/core.so $(SIM_CLEAN)

help:
	@sed -n '3,8p' Makefile
