#!/bin/sh
# eval_series.sh - precision of the gradient (and compat) estimator on the
# real series and accuracy on simulated holes; prints the Markdown tables of
# docs/gradient-eval.md. Usage: sh scripts/eval_series.sh [NSIM]
# Needs the Setitec parser (include/abyss/setitec.h) and $ABYSS_DATA
# (default ../shared/data).
set -eu
BUILD=${BUILD:-build}
DATA=${ABYSS_DATA:-$(cd "$(dirname "$0")/.." && pwd)/../shared/data}
NSIM=${1:-200}
if [ ! -f include/abyss/setitec.h ]; then
	echo "eval_series: the Setitec parser is not in this tree yet" >&2
	exit 1
fi
make --no-print-directory -j2 "$BUILD/libabyss.a" >/dev/null
mkdir -p "$BUILD/eval"
${CC:-gcc} -std=c11 -O2 -D_GNU_SOURCE -Iinclude -o "$BUILD/eval/eval_series" \
	tests/eval/eval_series.c "$BUILD/libabyss.a" -fopenmp -ljansson -lm -lpthread

A=$DATA/abyss
T=$A/test_data/TUHH
set --
for d in "$T"/0*_V*; do
	[ -d "$d" ] && set -- "$@" "$(basename "$d" | sed 's/^0*[0-9]*_//')=$d"
done
set -- "$@" "MDB=$A/test_data/MDB" "HAM_lower=$A/test_data/HAM_lower" \
	"UNK=$A/test_data/UNK" "mdb-mql-1=$A/src/abyss/dev_data/mdb-mql-1"
for d in "$A/src/abyss/test_data" "$A/src/abyss/test_data/data0" \
	"$A/src/abyss/test_data/data_20241218" \
	"$A/src/abyss/test_data/data_20250326"; do
	[ -d "$d" ] && set -- "$@" "$(basename "$d")=$d"
done

echo "## Real series"
echo
"$BUILD/eval/eval_series" "$@"
"$BUILD/eval/eval_series" "mdb-mql-1=$A/src/abyss/dev_data/mdb-mql-1@10"
echo
echo "## Simulated holes"
echo
"$BUILD/eval/eval_series" --sim "$NSIM"
