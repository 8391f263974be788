#!/bin/sh
# 10-listen-1-data.sh ABYSS - `abyss listen` against a real mosquitto:
# --check-config, readiness, each test_data folder published as MQTT gives
# the documented payloads (keypoints then depth on {root}/{tb}/{tool}/...,
# SUCCESS values equal to `abyss estimate`, ERROR for the single-step hole),
# invalid JSON is counted in /metrics and survived, SIGTERM exits 0.
# Without ../shared/data, simulated holes stand in for the real folders.
. "$(dirname "$0")/listen-lib.sh"
lsn_setup || exit 0
LSN_HEADS=1

# --check-config
lsn_conf a
"$BIN" listen --check-config --config "$LSN_TMP/a.yaml" >"$LSN_TMP/cc" 2>&1
check "check-config: valid file exits 0" [ $? -eq 0 ]
printf 'mqtt:\n  broker: {host: h, port: 70000}\n' >"$LSN_TMP/badconf.yaml"
"$BIN" listen --check-config "$LSN_TMP/badconf.yaml" >"$LSN_TMP/cc" 2>&1
check "check-config: invalid file exits 1" [ $? -eq 1 ]
check "check-config: error names line and key" grep -q 'badconf.yaml:2:.*mqtt.broker.port' "$LSN_TMP/cc"
"$BIN" listen --config "$LSN_TMP/badconf.yaml" >"$LSN_TMP/cc" 2>&1
check "listen with an invalid config exits 3" [ $? -eq 3 ]

lsn_start a || { bad "start"; lsn_finish "$0"; }
check "livez" [ "$(curl -s "$(lsn_url a /livez)")" = ok ]
check "readyz 200 once subscribed" curl -sf -o /dev/null "$(lsn_url a /readyz)"
check "api/status says connected" sh -c "curl -s '$(lsn_url a /api/status)' | grep -q '\"connected\": *true'"
sub_start

if [ -f "$TD/data0/Result.json" ]; then
	real=1
	for d in data0 data1 data2 data_20250326 data_20250623 data_20250626; do
		pub_hole "$TD/$d" TB "$d"
	done
	want=10 # five holes; data_20250626's Trace is truncated JSON
else
	echo "note: $TD absent, using simulated holes"
	real=0
	"$BIN" simulate --format mqtt --out "$LSN_TMP/sim" --count 3 --seed 5 2>/dev/null
	for d in "$LSN_TMP"/sim/sim_*/; do pub_hole "$d" TB "$(basename "$d")"; done
	want=6
fi
printf '{"Messages": {"Payload": ' >"$LSN_TMP/bad.json"
pub "$LSN_TMP/bad.json" OPCPUBSUB/TB/broken/ResultManagement
sub_wait $want 15
check "$want payloads published" [ "$(sub_count)" -eq $want ]
# the broken message comes on its own connection and may arrive after the
# last result: wait for it to be counted before the metric checks below
njson=$([ $real = 1 ] && echo 2 || echo 1)
i=0
while [ "$(lsn_metric a 'abyss_messages_invalid_total{reason="json"}')" -lt "$njson" ] && [ $i -lt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done

# keypoints before depth, for every tool
order_ok=1
for t in $(sed -n 's|^OPCPUBSUB/TB/\([^/]*\)/.*|\1|p' "$LSN_TMP/out" | sort -u); do
	first=$(grep "^OPCPUBSUB/TB/$t/" "$LSN_TMP/out" | head -1 | cut -d' ' -f1)
	[ "$first" = "OPCPUBSUB/TB/$t/$KP" ] || order_ok=0
	[ "$(grep -c "^OPCPUBSUB/TB/$t/" "$LSN_TMP/out")" -eq 2 ] || order_ok=0
done
check "each hole: keypoints then depth, once" [ $order_ok -eq 1 ]

if [ $real = 1 ]; then
	check "data1 (one step): ERROR Not enough steps" grep -qF \
		"OPCPUBSUB/TB/data1/$DE {\"SourceTimestamp\": \"2024-12-11T15:33:29Z\", \"MachineId\": \"23120040\", \"ResultId\": \"2412\", \"HeadId\": null, \"Value\": \"Error in depth estimation: Not enough steps to estimate depth\", \"Error\": true}" "$LSN_TMP/out"
	check "data0: ERROR with the estimator's reason" grep -q \
		"^OPCPUBSUB/TB/data0/$KP .*\"ResultId\": \"2409\".*\"Value\": \"Error in keypoint estimation: exit: .*\"Error\": true}$" "$LSN_TMP/out"
	check "data_20250623: ERROR" grep -q "^OPCPUBSUB/TB/data_20250623/$DE .*\"Error\": true}$" "$LSN_TMP/out"
	check "data_20250626 (truncated Trace): nothing" [ "$(grep -c '^OPCPUBSUB/TB/data_20250626/' "$LSN_TMP/out")" -eq 0 ]
	check "data_20250326: HeadId from Heads" grep -q "^OPCPUBSUB/TB/data_20250326/$KP .*\"HeadId\": \"[^\"]" "$LSN_TMP/out"
	# SUCCESS values equal the batch estimator's on the same folder
	"$BIN" estimate -q -f csv -o "$LSN_TMP/est.csv" "$TD/data2" >/dev/null 2>&1
	e=$(awk -F, 'NR == 2 { printf "%.3f %.3f %.3f", $6, $7, $8 }' "$LSN_TMP/est.csv")
	v=$(grep "^OPCPUBSUB/TB/data2/$KP " "$LSN_TMP/out" | sed 's/.*"Value": \[\([^]]*\)\].*/\1/' |
		awk -F', ' '{ printf "%.3f %.3f %.3f", $1, $2, $3 }')
	check "data2: SUCCESS keypoints = abyss estimate ($v)" [ -n "$v" -a "$v" = "$e" ]
	ver=$("$BIN" --version | cut -d' ' -f2)
	check "data2: AlgoVersion is ours ($ver)" grep -q "^OPCPUBSUB/TB/data2/$DE .*\"AlgoVersion\": \"$ver\"}$" "$LSN_TMP/out"
	check "invalid JSON counted (2)" [ "$(lsn_metric a 'abyss_messages_invalid_total{reason="json"}')" -eq 2 ]
	check "holes counted: 2 success, 3 error" [ "$(lsn_metric a 'abyss_holes_published_total{result="success"}')" -eq 2 \
		-a "$(lsn_metric a 'abyss_holes_published_total{result="error"}')" -eq 3 ]
else
	check "invalid JSON counted (1)" [ "$(lsn_metric a 'abyss_messages_invalid_total{reason="json"}')" -eq 1 ]
fi
check "service still running" kill -0 "$(lsn_pid a)"
check "spool empty after acks" [ "$(lsn_metric a abyss_spool_depth)" = 0 ]
lsn_stop a
check "SIGTERM: exit 0" [ $? -eq 0 ]
check "log lines carry the hole id" grep -q 'hole=TB/[^ ]*#[0-9]' "$LSN_TMP/a.log"
lsn_finish "$0"
