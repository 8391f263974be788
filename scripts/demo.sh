#!/bin/sh
# demo.sh ABYSS - the main job end to end on built-in data:
#  1. simulate holes with exact ground truth (Setitec v9 files and the
#     matching MQTT Result/Trace/Heads messages);
#  2. estimate the files and show estimated against true positions;
#  3. real files from ../shared/data with both estimators, when present;
#  4. the real-time service: a private mosquitto on a free loopback port,
#     `abyss listen`, and `abyss publish` sending the simulated holes' messages;
#     show the published depths, the end-to-end latency and the metrics.
set -eu
BIN=${1:-build/abyss}
OUT=${DEMO_OUT:-build/demo}
DATA=${ABYSS_DATA:-../shared/data}
rm -rf "$OUT"
mkdir -p "$OUT"

echo "== 1. simulate 12 holes (CFRP 8 mm on Ti 12 mm, MDB-like program, realistic noise)"
"$BIN" simulate --out "$OUT/holes" --count 12 --seed 42 --format both >/dev/null
echo "   wrote $(ls "$OUT"/holes/*.xls | wc -l) Setitec files, their MQTT messages and truth to $OUT/holes"
echo
echo "== 2. abyss estimate --method gradient $OUT/holes/*.xls"
"$BIN" estimate -q --format csv -o "$OUT/estimates.csv" "$OUT"/holes/*.xls || true
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
echo "== 4. the real-time service: mosquitto + abyss listen + abyss publish"
if ! command -v mosquitto_sub >/dev/null 2>&1 || ! command -v curl >/dev/null 2>&1; then
	echo "   mosquitto-clients or curl missing: run 'make deps' for this part"
	exit 0
fi
. tests/integration/lib.sh
if ! broker_start; then
	echo "   mosquitto is not available: run 'make deps' for this part"
	exit 0
fi
LPID=
SPID=
demo_cleanup() {
	[ -n "$LPID" ] && kill "$LPID" 2>/dev/null && wait "$LPID" 2>/dev/null
	[ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
	broker_cleanup
}
trap demo_cleanup EXIT
HTTP=$(broker__free_port)
KP=ResultManagement.Results.0.ResultContent.DepthEstimation.KeyPoints
DE=ResultManagement.Results.0.ResultContent.DepthEstimation.DepthEstimation
cat >"$OUT/abyss.yaml" <<YAML
mqtt:
  broker: {host: 127.0.0.1, port: $BROKER_PORT}
  listener:
    root: OPCPUBSUB
    result: ResultManagement
    trace: ResultManagement/Trace
    heads: AssetManagement/Heads
  estimation: {keypoints: $KP, depth_estimation: $DE}
abyss:
  estimator: {method: gradient}
  spool: {path: $OUT/spool.db}
  http: {listen: "127.0.0.1:$HTTP"}
  logging: {format: logfmt, level: warning}
YAML
echo "   broker 127.0.0.1:$BROKER_PORT, service config $OUT/abyss.yaml"
"$BIN" listen --config "$OUT/abyss.yaml" >"$OUT/listen.log" 2>&1 &
LPID=$!
i=0
until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP/readyz")" = 200 ]; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 "$LPID" 2>/dev/null; then
		echo "   abyss listen did not become ready; its log:"
		tail -n 20 "$OUT/listen.log"
		exit 1
	fi
	sleep 0.1
done
echo "   abyss listen is ready (pid $LPID)"
mosquitto_sub -h 127.0.0.1 -p "$BROKER_PORT" -q 1 -v -t "OPCPUBSUB/+/+/$DE" >"$OUT/published.txt" 2>/dev/null &
SPID=$!
sleep 0.3
echo "   abyss publish: 12 holes x (Result, Trace, Heads), shuffled, 3 tools, waiting for the results"
"$BIN" publish --port "$BROKER_PORT" --qos 1 --tools 3 --wait-results --quiet "$OUT"/holes/sim_*/ | sed 's/^/   /' || true
sleep 0.3
echo
echo "   published depth payloads (first 4 of $(wc -l <"$OUT/published.txt")):"
head -n 4 "$OUT/published.txt" | sed -e "s|/$DE| (depth)|" -e 's/^/   /'
echo
echo "   metrics at http://127.0.0.1:$HTTP/metrics, for example:"
curl -s "http://127.0.0.1:$HTTP/metrics" |
	grep -E '^abyss_(holes_published_total|holes_matched_total|messages_received_total)' | sed 's/^/     /'
kill "$LPID"
wait "$LPID" 2>/dev/null
LPID=
echo "   abyss listen stopped cleanly (SIGTERM)."
echo
echo "Results: $OUT/estimates.csv, $OUT/published.txt. Next: 'build/abyss --help', docs/operations.md."
