# src/service: the daemon (config, correlator, spool, payloads, MQTT adapter).
# Linked into the abyss binary and the unit tests, not into libabyss.
APP_LDLIBS += -lcyaml -lyaml -lsqlite3 -lmosquitto
# The config and correlator fuzz targets' replay binaries compile the service
# sources themselves (replay binaries link only libabyss), so they list them
# as prerequisites and add the libraries they need.
$(BUILD)/fuzz/replay_config: LDLIBS += -lcyaml -lyaml -lsqlite3
$(BUILD)/fuzz/replay_config: src/service/config.c src/service/correlator.c \
	src/service/spool.c
$(BUILD)/fuzz/replay_correlator: src/service/correlator.c
$(BUILD)/fuzz/replay_log: src/service/log.c
