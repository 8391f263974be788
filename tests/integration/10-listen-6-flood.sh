#!/bin/sh
# 10-listen-6-flood.sh ABYSS - a flood far beyond capacity with small
# limits: 2,000 unmatched Results and 300 unmatched 96 KB Traces (about
# 30 MB) as fast as mosquitto_pub can send them, then real holes. The
# resident memory (VmRSS from /proc) stays under the cap, the evictions are
# counted (abyss_drops_total{reason="buffer_full"}), and the service still
# answers and estimates afterwards.
. "$(dirname "$0")/listen-lib.sh"
case "${BUILD:-build}" in
*asan* | *tsan* | *san*)
	# the cap is on resident memory, and a sanitizer's shadow memory and
	# quarantine count there (180 MB before the first message): the cap
	# would pause reading at once. `make test` runs this on the real build.
	echo "skip: the memory-cap flood needs a build without sanitizers ($BUILD)"
	exit 0
	;;
esac
command -v python3 >/dev/null || { echo "skip: python3 needed to build the flood"; exit 0; }
lsn_setup || exit 0
CAP_KB=$((64 * 1024))
"$BIN" simulate --format mqtt --out "$LSN_TMP/sim" --count 3 --seed 61 2>/dev/null
d1=$(ls -d "$LSN_TMP"/sim/sim_*/ | head -1)
python3 - "$d1" "$LSN_TMP" <<'PY'
import json, sys, datetime
src, out = sys.argv[1], sys.argv[2]
def shifted(path, n, fname):
    doc = json.load(open(path))
    with open(out + "/" + fname, "w") as f:
        for i in range(n):
            t = (datetime.datetime(2030, 1, 1) + datetime.timedelta(seconds=100 * i)).strftime("%Y-%m-%dT%H:%M:%SZ")
            for v in doc["Messages"]["Payload"].values():
                v["SourceTimestamp"] = t
            f.write(json.dumps(doc, separators=(",", ":")) + "\n")
shifted(src + "/ResultManagement.json", 2000, "results.txt")
shifted(src + "/Trace.json", 300, "traces.txt")
PY
lsn_conf a 'limits: {max_pending_messages: 50, max_pending_bytes: 2097152, max_message_bytes: 1048576, memory_cap_mb: 64}' \
	'workers: {count: 1, queue: 2}'
lsn_start a || { bad "start"; lsn_finish "$0"; }
sub_start
pid=$(lsn_pid a)
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
peak=0
mosquitto_pub -h 127.0.0.1 -p "$BROKER_PORT" -q 1 -t OPCPUBSUB/FLOOD/r/ResultManagement -l <"$LSN_TMP/results.txt" &
p1=$!
mosquitto_pub -h 127.0.0.1 -p "$BROKER_PORT" -q 1 -t OPCPUBSUB/FLOOD/t/ResultManagement/Trace -l <"$LSN_TMP/traces.txt" &
p2=$!
while kill -0 $p1 2>/dev/null || kill -0 $p2 2>/dev/null; do
	r=$(rss "$pid")
	[ "${r:-0}" -gt "$peak" ] && peak=$r
	sleep 0.05
done
wait $p1 $p2
# let it read what the broker still holds
i=0
while [ $i -lt 100 ]; do
	got=$(( $(lsn_metric a 'abyss_messages_received_total{type="result"}') + $(lsn_metric a 'abyss_messages_received_total{type="trace"}') ))
	r=$(rss "$pid")
	[ "${r:-0}" -gt "$peak" ] && peak=$r
	[ "$got" -ge 2300 ] && break
	sleep 0.1
	i=$((i + 1))
done
echo "     received $got messages, peak VmRSS $peak kB (cap $CAP_KB kB)"
check "all 2300 flood messages read" [ "$got" -ge 2300 ]
check "peak RSS under the cap" [ "$peak" -gt 0 -a "$peak" -lt $CAP_KB ]
dropped=$(lsn_metric a 'abyss_drops_total{reason="buffer_full"}')
echo "     buffer_full drops: $dropped"
check "evictions counted" [ "$dropped" -ge 2000 ]
check "livez after the flood" [ "$(curl -s "$(lsn_url a /livez)")" = ok ]
for d in "$LSN_TMP"/sim/sim_*/; do pub_hole "$d" TB "$(basename "$d")"; done
sub_wait 6 15
check "real holes still estimated after the flood" [ "$(sub_count)" -eq 6 ]
lsn_stop a
check "SIGTERM: exit 0" [ $? -eq 0 ]
lsn_finish "$0"
