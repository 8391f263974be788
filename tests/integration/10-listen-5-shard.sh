#!/bin/sh
# 10-listen-5-shard.sh ABYSS - two instances on one broker with shard 0/2
# and 1/2 (distinct client ids, spools, HTTP ports): every hole is handled
# by exactly one of them, none lost, none doubled, and both get work.
. "$(dirname "$0")/listen-lib.sh"
lsn_setup || exit 0
"$BIN" simulate --format mqtt --out "$LSN_TMP/sim" --count 4 --seed 51 2>/dev/null
lsn_conf s0 'shard: {index: 0, count: 2}'
lsn_conf s1 'shard: {index: 1, count: 2}'
lsn_start s0 || bad "start shard 0"
lsn_start s1 || bad "start shard 1"
sub_start
# 16 tools (4 holes x 4 toolboxes): both shards get some
n=0
for tb in TBA TBB TBC TBD; do
	for d in "$LSN_TMP"/sim/sim_*/; do
		pub_hole "$d" "$tb" "$(basename "$d")"
		n=$((n + 1))
	done
done
sub_wait $((2 * n)) 20
sleep 0.5
check "$((2 * n)) payloads for $n holes" [ "$(sub_count)" -eq $((2 * n)) ]
good=1
for tb in TBA TBB TBC TBD; do
	for d in "$LSN_TMP"/sim/sim_*/; do
		c=$(grep -c "^OPCPUBSUB/$tb/$(basename "$d")/" "$LSN_TMP/out")
		[ "$c" -eq 2 ] || { good=0; echo "  $tb/$(basename "$d"): $c payloads"; }
	done
done
check "every hole exactly once" [ $good -eq 1 ]
m0=$(lsn_metric s0 abyss_holes_matched_total)
m1=$(lsn_metric s1 abyss_holes_matched_total)
echo "     shard 0 matched $m0, shard 1 matched $m1"
check "the shards split the holes ($m0 + $m1 = $n)" [ $((m0 + m1)) -eq $n ]
check "both shards got work" [ "$m0" -gt 0 -a "$m1" -gt 0 ]
lsn_stop s0
check "shard 0: SIGTERM exit 0" [ $? -eq 0 ]
lsn_stop s1
check "shard 1: SIGTERM exit 0" [ $? -eq 0 ]
lsn_finish "$0"
