#!/bin/sh
# run.sh - `make bench`: parser and estimator throughput on the real files,
# side by side with the original Python parser's approach when Debian's
# python3-pandas is installed; the neural engine beside PyTorch and ONNX
# Runtime when they are installed (bench/peers.sh); the service end to end
# through a local mosquitto beside the broker's own ceiling (bench/e2e.sh).
# Prints figures; asserts nothing. BENCH_SKIP="nn e2e" leaves parts out.
set -u
BIN=${BIN:-build/abyss}
DATA=${ABYSS_DATA:-../shared/data}
if [ ! -d "$DATA" ]; then
	echo "bench: $DATA not found (set ABYSS_DATA); simulating holes instead"
	DATA=build/bench-sim
	"$BIN" simulate --out "$DATA" --count 200 --seed 1 --format xls >/dev/null || exit 1
fi
echo "== machine: $(nproc) cores, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)"
echo "== abyss $("$BIN" --version | cut -d' ' -f2), data: $DATA"
"$BIN" bench parse "$DATA"
"$BIN" bench estimate "$DATA"
if /usr/bin/python3 -c 'import pandas' 2>/dev/null; then
	echo "== the original parser's approach (pandas, 1 thread), same files:"
	find "$DATA" -iname '*.xls' -print0 | xargs -0 /usr/bin/python3 bench/python_parse.py
else
	echo "== python3-pandas not installed: no comparison with the original parser"
fi
case " ${BENCH_SKIP:-} " in
*" nn "*) ;;
*)
	echo "== neural engine (one thread; PyTorch and ONNX Runtime in the same run when installed)"
	ABYSS=$BIN sh bench/peers.sh 1 3
	;;
esac
case " ${BENCH_SKIP:-} " in
*" e2e "*) ;;
*)
	echo "== service end to end (abyss publish -> mosquitto -> abyss listen)"
	BIN=$BIN sh bench/e2e.sh
	;;
esac
