#!/bin/sh
# 05-broker-harness.sh - checks tests/integration/lib.sh itself with the
# mosquitto command-line clients: a round trip, then a persistent session
# (QoS 1) that survives a broker restart. Skips when mosquitto is missing.
set -u
here=$(dirname "$0")
. "$here/lib.sh"
broker_available || exit 0
if ! command -v mosquitto_pub >/dev/null || ! command -v mosquitto_sub >/dev/null; then
	echo "skip: mosquitto-clients not installed"
	exit 0
fi
fail() { echo "FAIL: $*"; exit 1; }

broker_start || fail "broker_start"
echo "broker on 127.0.0.1:$BROKER_PORT"

# Round trip.
out=$(mosquitto_sub -h 127.0.0.1 -p "$BROKER_PORT" -t 'h/#' -C 1 -W 5 &
	sleep 0.3
	mosquitto_pub -h 127.0.0.1 -p "$BROKER_PORT" -t h/x -m hello
	wait)
[ "$out" = hello ] || fail "round trip gave '$out'"

# Persistent session across a restart: subscribe once with a fixed id and
# clean_session false, go away, publish, restart the broker, come back.
mosquitto_sub -h 127.0.0.1 -p "$BROKER_PORT" -i abyss-harness -c -q 1 \
	-t 'p/#' -W 1 >/dev/null 2>&1
mosquitto_pub -h 127.0.0.1 -p "$BROKER_PORT" -q 1 -t p/x -m kept ||
	fail "publish"
broker_restart || fail "broker_restart"
out=$(mosquitto_sub -h 127.0.0.1 -p "$BROKER_PORT" -i abyss-harness -c -q 1 \
	-t 'p/#' -C 1 -W 5)
[ "$out" = kept ] || fail "persistent session lost the message ('$out')"

broker_cleanup
echo "ok: broker harness"
