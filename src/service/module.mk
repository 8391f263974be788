# src/service: the daemon's pure core (config, correlator, spool, payloads).
# Linked into the abyss binary and the unit tests, not into libabyss.
APP_LDLIBS += -lcyaml -lyaml -lsqlite3
# The config fuzz target's replay binary compiles src/service/config.c itself
# (replay binaries link only libabyss), so it needs the YAML libraries too.
$(BUILD)/fuzz/replay_config: LDLIBS += -lcyaml -lyaml
$(BUILD)/fuzz/replay_config: LDLIBS += -lsqlite3
$(BUILD)/fuzz/replay_config: src/service/config.c src/service/correlator.c \
	src/service/spool.c
$(BUILD)/fuzz/replay_correlator: src/service/correlator.c
