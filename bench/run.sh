#!/bin/sh
# run.sh - `make bench`: parser and estimator throughput on the real files,
# side by side with the original Python parser's approach when Debian's
# python3-pandas is installed. Prints figures; asserts nothing.
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
