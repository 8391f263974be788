#!/bin/sh
# 10-listen-8-ml.sh ABYSS - the ml estimator in the service: the model
# (vectors/patchtsmixer/original, with the pipeline's stand-in reference as
# ref_15T.csv) is loaded at start, and a hole's published keypoints equal
# `abyss estimate -m ml` on the same messages. A model that does not load
# stops the start with a clear error. With one worker and a queue of one,
# three slow holes at once pause MQTT reading and resume it, losing none.
# Skips without the vectors.
. "$(dirname "$0")/listen-lib.sh"
VEC=${ABYSS_VECTORS:-../shared/vectors}/patchtsmixer
if [ ! -f "$VEC/original/model.safetensors" ]; then
	echo "skip: $VEC not found (set ABYSS_VECTORS)"
	exit 0
fi
lsn_setup || exit 0
VEC=$(cd "$VEC" && pwd)
mkdir "$LSN_TMP/model"
ln -s "$VEC/original/config.json" "$VEC/original/model.safetensors" "$LSN_TMP/model/"
ln -s "$VEC/pipeline/ref_standin.csv" "$LSN_TMP/model/ref_15T.csv"

lsn_conf bad "estimator: {method: ml, model: $LSN_TMP/nomodel}"
"$BIN" listen --config "$LSN_TMP/bad.yaml" >"$LSN_TMP/bad.out" 2>&1
check "a model that does not load: exit 3" [ $? -eq 3 ]
check "... naming abyss.estimator.model" grep -q 'abyss.estimator.model' "$LSN_TMP/bad.out"

if [ -f "$TD/data2/Trace.json" ]; then
	src=$TD/data2
else
	"$BIN" simulate --format mqtt --out "$LSN_TMP/sim" --count 1 --seed 81 2>/dev/null
	src=$(ls -d "$LSN_TMP"/sim/sim_*/ | head -1)
	src=${src%/}
fi
lsn_conf a "estimator: {method: ml, model: $LSN_TMP/model}" 'workers: {count: 1, queue: 1}'
lsn_start a || { bad "start with ml"; lsn_finish "$0"; }
sub_start
pub_hole "$src" TB ml
sub_wait 2 20
check "2 payloads" [ "$(sub_count)" -eq 2 ]
"$BIN" estimate -q -m ml --model "$VEC/original" --reference "$VEC/pipeline/ref_standin.csv" \
	-f csv -o "$LSN_TMP/est.csv" "$src" >/dev/null 2>&1
status=$(awk -F, 'NR == 2 { print $12 }' "$LSN_TMP/est.csv")
if [ "$status" = ok ]; then
	e=$(awk -F, 'NR == 2 { printf "%.3f %.3f %.3f", $6, $7, $8 }' "$LSN_TMP/est.csv")
	v=$(grep "^OPCPUBSUB/TB/ml/$KP " "$LSN_TMP/out" | sed 's/.*"Value": \[\([^]]*\)\].*/\1/' |
		awk -F', ' '{ printf "%.3f %.3f %.3f", $1, $2, $3 }')
	check "ml keypoints = abyss estimate -m ml ($v)" [ -n "$v" -a "$v" = "$e" ]
else
	check "ml failure published as ERROR" grep -q "^OPCPUBSUB/TB/ml/$KP .*\"Error\": true}$" "$LSN_TMP/out"
fi
# backpressure: one worker, a queue of one, three slow holes at once
for t in bp1 bp2 bp3; do pub_hole "$src" TB "$t"; done
sub_wait 8 30
check "backpressure: all 3 more holes published" [ "$(sub_count)" -eq 8 ]
check "backpressure: reading paused" grep -q 'pausing MQTT reading' "$LSN_TMP/a.log"
check "backpressure: reading resumed" grep -q 'MQTT reading resumed' "$LSN_TMP/a.log"
check "backpressure: nothing dropped" [ "$(lsn_metric a 'abyss_drops_total{reason="queue_full"}')" -eq 0 ]
lsn_stop a
check "SIGTERM: exit 0" [ $? -eq 0 ]
lsn_finish "$0"
