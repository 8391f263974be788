#!/bin/sh
# 10-listen-7-reload.sh ABYSS - SIGHUP: a hot change (log level, estimator,
# duplicate policy) is applied and logged, a restart-only change (broker
# port) is logged as needing a restart and not applied, a broken file
# changes nothing; the service keeps working throughout.
. "$(dirname "$0")/listen-lib.sh"
lsn_setup || exit 0
"$BIN" simulate --format mqtt --out "$LSN_TMP/sim" --count 2 --seed 71 2>/dev/null
lsn_conf a
lsn_start a || { bad "start"; lsn_finish "$0"; }
sub_start
cp "$LSN_TMP/a.yaml" "$LSN_TMP/a.orig"
{
	sed "s/port: $BROKER_PORT/port: 1/; s/duplicate_handling: ignore/duplicate_handling: replace/" "$LSN_TMP/a.orig"
	echo "  estimator: {method: compat}"
	echo "  logging: {level: debug}"
} >"$LSN_TMP/a.yaml"
kill -HUP "$(lsn_pid a)"
sleep 0.5
check "hot key applied" grep -q 'msg=applied key=mqtt.listener.duplicate_handling' "$LSN_TMP/a.log"
check "estimator change applied" grep -q 'msg=applied key=abyss.estimator.method' "$LSN_TMP/a.log"
check "restart key reported" grep -q 'msg="changed, needs a restart" key=mqtt.broker.port' "$LSN_TMP/a.log"
d=$(ls -d "$LSN_TMP"/sim/sim_*/ | head -1)
pub_hole "$d" TB one
sub_wait 2 10
check "still connected to the old port, hole published" [ "$(sub_count)" -eq 2 ]
check "debug level now on" grep -q 'level=debug msg="hole matched"' "$LSN_TMP/a.log"
echo "mqtt: [broken" >"$LSN_TMP/a.yaml"
kill -HUP "$(lsn_pid a)"
sleep 0.5
check "broken file: reload refused" grep -q 'reload failed: configuration unchanged' "$LSN_TMP/a.log"
d=$(ls -d "$LSN_TMP"/sim/sim_*/ | sed -n 2p)
pub_hole "$d" TB two
sub_wait 4 10
check "still working after a failed reload" [ "$(sub_count)" -eq 4 ]
lsn_stop a
check "SIGTERM: exit 0" [ $? -eq 0 ]
lsn_finish "$0"
