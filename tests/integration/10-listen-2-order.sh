#!/bin/sh
# 10-listen-2-order.sh ABYSS - shuffled arrival (Trace before Result) and
# duplicates: the same message twice before the match (correlator, policy
# ignore) and a whole hole re-sent after its result went out (spool dedupe
# by tool + ResultId). Every hole gives exactly one keypoints and one depth
# payload, keypoints first. Simulated holes: no data needed.
. "$(dirname "$0")/listen-lib.sh"
lsn_setup || exit 0
"$BIN" simulate --format mqtt --out "$LSN_TMP/sim" --count 8 --seed 11 2>/dev/null
lsn_conf a 'workers: {count: 2}'
lsn_start a || { bad "start"; lsn_finish "$0"; }
sub_start

nh=0
for d in "$LSN_TMP"/sim/sim_*/; do
	t=$(basename "$d")
	nh=$((nh + 1))
	case $nh in
	1) # the Result twice, then the Trace
		pub "$d/ResultManagement.json" "OPCPUBSUB/TB/$t/ResultManagement"
		pub_hole "$d" TB "$t" ;;
	2 | 4 | 6) pub_hole "$d" TB "$t" tr ;;
	*) pub_hole "$d" TB "$t" ;;
	esac
done
sub_wait 16 20
check "16 payloads for 8 holes" [ "$(sub_count)" -eq 16 ]
# the second hole again, whole, after its result was published
d2=$(ls -d "$LSN_TMP"/sim/sim_*/ | sed -n 2p)
pub_hole "$d2" TB "$(basename "$d2")"
# and the third's Trace alone, a late duplicate of a matched message
d3=$(ls -d "$LSN_TMP"/sim/sim_*/ | sed -n 3p)
pub "$d3/Trace.json" "OPCPUBSUB/TB/$(basename "$d3")/ResultManagement/Trace"
i=0
while [ $i -lt 50 ] && [ "$(lsn_metric a 'abyss_drops_total{reason="duplicate"}')" -lt 2 ]; do
	sleep 0.1
	i=$((i + 1))
done
sleep 0.5
check "still 16 payloads after the re-send" [ "$(sub_count)" -eq 16 ]
good=1
for d in "$LSN_TMP"/sim/sim_*/; do
	t=$(basename "$d")
	[ "$(grep -c "^OPCPUBSUB/TB/$t/" "$LSN_TMP/out")" -eq 2 ] || good=0
	first=$(grep "^OPCPUBSUB/TB/$t/" "$LSN_TMP/out" | head -1 | cut -d' ' -f1)
	[ "$first" = "OPCPUBSUB/TB/$t/$KP" ] || good=0
done
check "each hole once, keypoints first" [ $good -eq 1 ]
check "correlator duplicate counted" [ "$(lsn_metric a 'abyss_duplicates_total{policy="ignore"}')" -ge 1 ]
check "duplicate drops: correlator + spool dedupe" [ "$(lsn_metric a 'abyss_drops_total{reason="duplicate"}')" -ge 2 ]
check "8 holes matched + 1 re-sent" [ "$(lsn_metric a abyss_holes_matched_total)" -eq 9 ]
lsn_stop a
check "SIGTERM: exit 0" [ $? -eq 0 ]
lsn_finish "$0"
