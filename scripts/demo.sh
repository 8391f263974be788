#!/bin/sh
# demo.sh ABYSS - the main job end to end on built-in data: simulate holes
# with known ground truth (Setitec v9 files and, where the MQTT writer is
# available, the matching Result/Trace/Heads messages), estimate them, and
# show estimated against true positions. Real files are estimated too when
# ../shared/data is present.
set -eu
BIN=${1:-build/abyss}
OUT=build/demo
DATA=${ABYSS_DATA:-../shared/data}
rm -rf "$OUT"
mkdir -p "$OUT"

echo "== 1. simulate 12 holes (CFRP 8 mm on Ti 12 mm, MDB-like program, realistic noise)"
fmt=both
"$BIN" simulate --out "$OUT/holes" --count 12 --seed 42 --format both >/dev/null 2>&1 || {
	fmt=xls
	"$BIN" simulate --out "$OUT/holes" --count 12 --seed 42 --format xls >/dev/null
}
echo "   wrote $(ls "$OUT"/holes/*.xls | wc -l) Setitec files (+ truth) to $OUT/holes (format: $fmt)"
echo
echo "== 2. abyss estimate --method gradient $OUT/holes"
"$BIN" estimate -q --format csv -o "$OUT/estimates.csv" "$OUT/holes" || true
echo
printf "%-22s %21s %21s %21s\n" "" "entry (mm)" "transition (mm)" "exit (mm)"
printf "%-22s %10s %10s %10s %10s %10s %10s\n" "hole" "true" "estimated" "true" "estimated" "true" "estimated"
tail -n +2 "$OUT/estimates.csv" | while IFS=, read -r path method mid rid n e t x d1 d2 tot status reason; do
	base=${path%.xls}
	[ -f "$base.truth.json" ] || continue
	te=$(sed -n 's/.*"entry_mm": \([-0-9.]*\).*/\1/p' "$base.truth.json")
	tt=$(sed -n 's/.*"transition_mm": \[\([-0-9.]*\).*/\1/p' "$base.truth.json")
	tx=$(sed -n 's/.*"exit_mm": \([-0-9.]*\).*/\1/p' "$base.truth.json")
	printf "%-22s %10.3f %10s %10.3f %10s %10.3f %10s\n" "$(basename "$path")" \
		"$te" "${e:--}" "${tt:-0}" "${t:--}" "$tx" "${x:--}"
done
awk -F, 'NR > 1 && $12 == "ok" { ok++ } NR > 1 { n++ } END { printf "\n   %d of %d holes estimated\n", ok, n }' "$OUT/estimates.csv"

if [ -d "$DATA/abyss/test_data/MDB" ]; then
	echo
	echo "== 3. real holes: $DATA/abyss/test_data/MDB (CFRP/Ti coupons), both estimators"
	"$BIN" estimate -q --method compat "$DATA/abyss/test_data/MDB" || true
	"$BIN" estimate -q --method gradient "$DATA/abyss/test_data/MDB" || true
fi
echo
echo "Results: $OUT/estimates.csv. Next: 'build/abyss estimate --help', 'build/abyss inspect FILE.xls'."
