#!/bin/sh
# e2e.sh - the end-to-end benchmark (issue 3 §9): a private mosquitto, the
# broker's own ceiling with the same payloads (abyss publish --echo: N
# Result/Trace/Heads triples published and received back by a subscriber),
# then, when the binary has `abyss listen`, the service with the gradient
# estimator driven by `abyss publish --rate R --duration D --wait-results`
# at increasing rates: holes/s, p50/p99 latency, the service's resident
# memory. Prints figures and the verdict against the goal (2,000 holes/s,
# p99 < 50 ms, < 64 MB); asserts nothing, exits 0 unless setup fails.
#
#   sh bench/e2e.sh [INPUT...]     (default: test_data/data0 from
#                                   $ABYSS_DATA, else simulated holes)
# Environment: BIN (build/abyss), E2E_N (holes for the ceiling, 3000),
# E2E_DURATION (s per rate, 5), E2E_RATES ("250 500 1000 2000 3000"),
# E2E_QOS (publisher QoS, 1: see docs/publish.md on Nagle), E2E_TOOLS (5), E2E_WORKERS (2),
# E2E_CONCURRENCY (1), E2E_WAIT (s to wait for late results, 2).
# Columns: pub_cpu is the load generator's CPU share, svc_us the service's
# CPU time (all threads) per result.
set -u
BIN=${BIN:-build/abyss}
DATA=${ABYSS_DATA:-../shared/data}
N=${E2E_N:-3000}
DUR=${E2E_DURATION:-5}
RATES=${E2E_RATES:-"250 500 1000 2000 3000"}
QOS=${E2E_QOS:-1}
TOOLS=${E2E_TOOLS:-5}
WORKERS=${E2E_WORKERS:-2}
CONC=${E2E_CONCURRENCY:-1}
WAIT=${E2E_WAIT:-2}
. tests/integration/lib.sh
broker_available || exit 0
[ -x "$BIN" ] || { echo "e2e: $BIN not built (make)"; exit 1; }
tmp=$(mktemp -d /tmp/abyss-e2e-XXXXXX)
svc=
cleanup() {
	[ -n "$svc" ] && kill "$svc" 2>/dev/null && wait "$svc" 2>/dev/null
	broker_cleanup
	rm -rf "$tmp"
}
broker_start "set_tcp_nodelay true" || exit 1
trap cleanup EXIT INT TERM

if [ $# -gt 0 ]; then
	set -- "$@"
elif [ -d "$DATA/abyss/src/abyss/test_data/data0" ]; then
	mkdir -p "$tmp/in/data0"
	for f in Result.json Trace.json Heads.json; do
		[ -f "$DATA/abyss/src/abyss/test_data/data0/$f" ] &&
			ln -s "$(cd "$DATA/abyss/src/abyss/test_data/data0" && pwd)/$f" "$tmp/in/data0/$f"
	done
	set -- "$tmp/in"
else
	"$BIN" simulate --format mqtt --out "$tmp/in" --count 4 --seed 3 >/dev/null 2>&1 ||
		{ echo "e2e: simulate failed"; exit 1; }
	set -- "$tmp/in"
fi

jget() { # key file: the first number after "key":
	sed -n "s/.*\"$1\": \([-0-9.e+]*\).*/\1/p" "$2" | head -n 1
}

echo "== machine: $(nproc) cores, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)"
echo "== abyss $("$BIN" --version | cut -d' ' -f2), mosquitto $("$MOSQUITTO" -h 2>/dev/null | sed -n 's/^mosquitto version //p' | head -n 1), inputs: $*"

# 1. the broker's ceiling: same payloads, one publisher, one subscriber
"$BIN" publish -p "$BROKER_PORT" --echo --no-sleep --count "$N" --qos "$QOS" \
	--tools "$TOOLS" --concurrency "$CONC" --rewrite-timestamps --json --quiet "$@" >"$tmp/ceil.json" 2>"$tmp/ceil.err"
if [ -s "$tmp/ceil.json" ]; then
	sent=$(jget holes_sent "$tmp/ceil.json")
	msgs=$(jget msgs_sent "$tmp/ceil.json")
	bytes=$(jget bytes_sent "$tmp/ceil.json")
	tot=$(jget total_s "$tmp/ceil.json")
	res=$(jget results "$tmp/ceil.json")
	awk -v s="$sent" -v m="$msgs" -v b="$bytes" -v t="$tot" -v r="$res" \
		-v p50="$(jget p50 "$tmp/ceil.json")" -v p99="$(jget p99 "$tmp/ceil.json")" 'BEGIN {
		printf "broker ceiling: %d holes (%d messages, %.1f KB/hole) echoed back in %.2f s: %.0f holes/s, %.0f messages/s, %.1f MB/s (p50 %.1f ms, p99 %.1f ms under flat-out load)\n",
			r, m, b / (s > 0 ? s : 1) / 1000, t, r / t, r * (m / (s > 0 ? s : 1)) / t, b / t / 1e6, p50, p99 }'
else
	echo "broker ceiling: failed: $(cat "$tmp/ceil.err")"
fi

# 2. the service
if ! "$BIN" listen --help >/dev/null 2>&1; then
	echo "abyss listen not available"
	exit 0
fi
hport=$(broker__free_port)
cat >"$tmp/svc.yaml" <<EOF
mqtt:
  broker: {host: 127.0.0.1, port: $BROKER_PORT, keepalive: 30}
  listener:
    root: OPCPUBSUB
    result: ResultManagement
    trace: ResultManagement/Trace
    heads: AssetManagement/Heads
    duplicate_handling: ignore
abyss:
  estimator: {method: gradient}
  workers: {count: $WORKERS, queue: 256}
  spool: {path: $tmp/spool.db}
  http: {listen: "127.0.0.1:$hport"}
  correlator: {heads_grace: 0.2}
  mqtt: {client_id: abyss-e2e, clean_session: true, publish_qos: 1}
EOF
"$BIN" listen --config "$tmp/svc.yaml" >"$tmp/svc.log" 2>&1 &
svc=$!
i=0
while [ $i -lt 100 ]; do
	if command -v curl >/dev/null 2>&1; then
		[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$hport/readyz")" = 200 ] && break
	elif [ $i -ge 20 ]; then
		break
	fi
	kill -0 "$svc" 2>/dev/null || { echo "abyss listen exited:"; tail -5 "$tmp/svc.log"; svc=; exit 1; }
	sleep 0.1
	i=$((i + 1))
done
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$svc/status" 2>/dev/null || echo 0; }
# the service's CPU time so far, in clock ticks (utime + stime)
ticks() { awk '{ print $14 + $15 }' "/proc/$svc/stat" 2>/dev/null || echo 0; }
echo "service: abyss listen (gradient, $WORKERS workers), pid $svc, RSS $(($(rss) / 1024)) MB at start"
printf '%8s %10s %10s %9s %9s %9s %8s %9s %8s %8s\n' rate sent/s results/s p50_ms p99_ms max_ms missing rss_MB pub_cpu svc_us
best=
for R in $RATES; do
	"$BIN" publish -p "$BROKER_PORT" --rate "$R" --duration "$DUR" --wait-results --wait-timeout "$WAIT" \
		--qos "$QOS" --tools "$TOOLS" --concurrency "$CONC" --rewrite-timestamps --json --quiet "$@" \
		>"$tmp/r.json" 2>"$tmp/r.err" &
	pp=$!
	t0=$(ticks)
	peak=0
	while kill -0 $pp 2>/dev/null; do
		r=$(rss)
		[ "${r:-0}" -gt "$peak" ] && peak=$r
		sleep 0.2
	done
	wait $pp
	if [ ! -s "$tmp/r.json" ]; then
		echo "rate $R: publish failed: $(head -c 300 "$tmp/r.err")"
		break
	fi
	line=$(awk -v R="$R" -v s="$(jget holes_sent "$tmp/r.json")" -v e="$(jget elapsed_s "$tmp/r.json")" \
		-v res="$(jget results "$tmp/r.json")" -v m="$(jget missing "$tmp/r.json")" \
		-v p50="$(jget p50 "$tmp/r.json")" -v p99="$(jget p99 "$tmp/r.json")" -v mx="$(jget max "$tmp/r.json")" \
		-v rss="$peak" -v cpu="$(jget cpu_s "$tmp/r.json")" -v tot="$(jget total_s "$tmp/r.json")" \
		-v svc="$(( $(ticks) - t0 ))" -v hz="$(getconf CLK_TCK)" 'BEGIN {
		printf "%8d %10.0f %10.0f %9.1f %9.1f %9.1f %8d %9.1f %7.0f%% %8.0f", R, s / e, res / tot, p50, p99, mx, m, rss / 1024, 100 * cpu / tot, (res > 0 ? svc / hz / res * 1e6 : 0)
		ok = (m <= s * 0.001 && p99 < 50 && rss < 64 * 1024)
		printf "%s\n", ok ? "" : "  (over the goal)"
	}')
	echo "$line"
	case $line in *"over the goal"*) ;; *) best=$R ;; esac
	# saturated: more would only measure queueing
	m=$(jget missing "$tmp/r.json")
	s=$(jget holes_sent "$tmp/r.json")
	[ "${m:-0}" -gt $(( ${s:-0} / 10 )) ] && break
done
echo "service peak RSS (VmHWM): $(awk '/^VmHWM:/ { printf "%.1f MB", $2 / 1024 }' "/proc/$svc/status" 2>/dev/null)"
if [ -n "$best" ]; then
	echo "goal (2,000 holes/s, p99 < 50 ms, < 64 MB): highest rate within it: $best holes/s -> $([ "$best" -ge 2000 ] && echo met || echo NOT met)"
else
	echo "goal (2,000 holes/s, p99 < 50 ms, < 64 MB): NOT met at any rate tried"
fi
