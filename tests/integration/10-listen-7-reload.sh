#!/bin/sh
# 10-listen-7-reload.sh ABYSS - SIGHUP: a hot change (log level, estimator,
# duplicate policy) is applied and logged, a restart-only change (broker
# port) is logged as needing a restart and not applied, a broken file
# changes nothing; the service keeps working throughout. With python3, a
# datagram socket as NOTIFY_SOCKET checks the systemd protocol: READY=1
# after the subscription, RELOADING=1/READY=1 around a reload, WATCHDOG=1,
# STOPPING=1.
. "$(dirname "$0")/listen-lib.sh"
lsn_setup || exit 0
"$BIN" simulate --format mqtt --out "$LSN_TMP/sim" --count 2 --seed 71 2>/dev/null
lsn_conf a
NPID=
if command -v python3 >/dev/null; then
	python3 - "$LSN_TMP/notify.sock" "$LSN_TMP/notify.out" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(20)
with open(sys.argv[2], "a") as f:
    try:
        while True:
            d = s.recv(4096).decode()
            f.write(d.replace("\n", " ") + "\n")
            f.flush()
            if "STOPPING=1" in d:
                break
    except Exception:
        pass
PY
	NPID=$!
	i=0
	while [ ! -S "$LSN_TMP/notify.sock" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	export NOTIFY_SOCKET="$LSN_TMP/notify.sock" WATCHDOG_USEC=1000000
fi
lsn_start a || { bad "start"; lsn_finish "$0"; }
unset NOTIFY_SOCKET WATCHDOG_USEC
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
if [ -n "$NPID" ]; then
	wait "$NPID"
	check "sd_notify: READY=1" grep -q '^READY=1' "$LSN_TMP/notify.out"
	check "sd_notify: RELOADING=1 on SIGHUP" grep -q '^RELOADING=1' "$LSN_TMP/notify.out"
	check "sd_notify: WATCHDOG=1" grep -q '^WATCHDOG=1' "$LSN_TMP/notify.out"
	check "sd_notify: STOPPING=1 last" sh -c "tail -1 '$LSN_TMP/notify.out' | grep -q '^STOPPING=1'"
fi
lsn_finish "$0"
