#!/bin/sh
# 10-listen-3-broker.sh ABYSS - the broker stops mid-stream for ~5 s and
# comes back (same port, persistence): with a persistent session, the spool
# and its dedupe, every hole's result arrives exactly once. Results are
# published at QoS 2 here: at QoS 1 a result whose PUBACK is lost in the
# restart is (correctly, at-least-once) delivered twice. The subscriber
# takes QoS 2 too: its own QoS 1 deliveries would repeat across the restart.
. "$(dirname "$0")/listen-lib.sh"
lsn_setup || exit 0
"$BIN" simulate --format mqtt --out "$LSN_TMP/sim" --count 10 --seed 21 2>/dev/null
LSN_PUBQOS=2 lsn_conf a
lsn_start a || { bad "start"; lsn_finish "$0"; }
# a persistent subscriber, so that it gets what was queued for it
: >"$LSN_TMP/out"
mosquitto_sub -h 127.0.0.1 -p "$BROKER_PORT" -q 2 -v -c -i "abyss-it-sub$$" \
	-t "OPCPUBSUB/+/+/$KP" -t "OPCPUBSUB/+/+/$DE" >>"$LSN_TMP/out" 2>/dev/null &
SUB_PID=$!
sub_ready || bad "the result subscriber did not come up"

nh=0
for d in "$LSN_TMP"/sim/sim_*/; do
	nh=$((nh + 1))
	pub_hole "$d" TB "$(basename "$d")"
	if [ $nh -eq 5 ]; then
		broker_stop TERM # mid-stream: results of the last holes in flight
		sleep 1
		check "readyz 503 while the broker is away" [ "$(curl -s -o /dev/null -w '%{http_code}' "$(lsn_url a /readyz)")" = 503 ]
		sleep 4
		broker_restart || bad "broker_restart"
		j=0
		while [ $j -lt 100 ] && ! curl -sf -o /dev/null "$(lsn_url a /readyz)"; do
			sleep 0.1
			j=$((j + 1))
		done
		check "ready again after the broker returns" curl -sf -o /dev/null "$(lsn_url a /readyz)"
	fi
done
sub_wait 20 20
sleep 1
check "20 payloads for 10 holes" [ "$(sub_count)" -eq 20 ]
good=1
for d in "$LSN_TMP"/sim/sim_*/; do
	t=$(basename "$d")
	[ "$(grep -c "^OPCPUBSUB/TB/$t/" "$LSN_TMP/out")" -eq 2 ] || { good=0; echo "  $t: $(grep -c "^OPCPUBSUB/TB/$t/" "$LSN_TMP/out") payloads"; }
done
check "every hole exactly once" [ $good -eq 1 ]
check "reconnect counted" [ "$(lsn_metric a abyss_mqtt_reconnects_total)" -ge 1 ]
check "spool empty at the end" [ "$(lsn_metric a abyss_spool_depth)" = 0 ]
lsn_stop a
check "SIGTERM: exit 0" [ $? -eq 0 ]
lsn_finish "$0"
