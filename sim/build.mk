# vigi-sim, the simulated camera. Included by the top Makefile; on its own:
#   make -f sim/build.mk sim/vigi-sim        (from the repository root)
# Needs: a C compiler, OpenSSL (libssl-dev), cJSON (libcjson-dev), lua5.4.

SIM_SRCS := sim/main.c sim/loop.c sim/log.c sim/tls.c sim/httpd.c \
            sim/camera.c sim/auth.c sim/control.c sim/admin.c sim/push.c sim/preset.c \
            sim/engine.c sim/json_rules.c sim/crc32.c sim/odp_packet.c sim/odp.c sim/fleet.c \
            sim/listen.c sim/stream.c sim/stream_session.c sim/stream_reply.c sim/stream_send.c \
            sim/stream_pace.c sim/stream_fault.c sim/stream_admin.c sim/stream_digest.c sim/stream_media.c \
            sim/stream_talk.c \
            sim/dialect.c sim/chunked.c
SIM_HDRS := $(wildcard sim/*.h)
SIM_OBJS := $(SIM_SRCS:.c=.o) sim/camera_json.o

SIM_CC     ?= $(CC)
SIM_CFLAGS ?= -std=gnu11 -Wall -Wextra -Werror -O2 -g
SIM_LIBS   ?= -lssl -lcrypto -lcjson -lm
SIM_LUA    ?= lua5.4

# The stream media (sim/media/README.md) are built in too: stream_media.c
# pulls them in with the assembler's .incbin, paths relative to the
# repository root, where every compile runs.
SIM_MEDIA := sim/media/clip.h264 sim/media/clip.h265 sim/media/tone.alaw sim/media/recording.ts

# camera.json is built in (--camera-json FILE overrides it at run time).
SIM_CAMERA_JSON ?= sim/camera.json

SIM_CLEAN := sim/vigi-sim $(SIM_OBJS) sim/camera_json.c

sim/vigi-sim: $(SIM_OBJS)
	$(SIM_CC) $(SIM_CFLAGS) -o $@ $(SIM_OBJS) $(SIM_LIBS)

$(SIM_SRCS:.c=.o): sim/%.o: sim/%.c $(SIM_HDRS)
	$(SIM_CC) $(SIM_CFLAGS) -c -o $@ $<

sim/stream_media.o: $(SIM_MEDIA)

sim/camera_json.c: $(SIM_CAMERA_JSON) sim/embed.lua
	$(SIM_LUA) sim/embed.lua $(SIM_CAMERA_JSON) $@ sim_camera_json

sim/camera_json.o: sim/camera_json.c
	$(SIM_CC) $(SIM_CFLAGS) -c -o $@ $<

.PHONY: sim-clean
sim-clean:
	rm -f $(SIM_CLEAN)
