#!/bin/sh
# run.sh TEST... - run the unit test binaries in $BUILD/tests, replay the fuzz
# corpora, run the integration scripts, and print one closing line
# "N passed, N failed" (test cases, summed over binaries).
# ABYSS_VALGRIND=1 runs the unit tests under valgrind.
set -u
BUILD=${BUILD:-build}
passed=0
failed=0
failed_names=""
log=$(mktemp)
trap 'rm -f "$log"' EXIT

run_one() { # name cmd...
	name=$1
	shift
	"$@" >"$log" 2>&1
	rc=$?
	cat "$log"
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
	p=${p:-0}
	f=${f:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1 # crashed, or a script failed
	fi
	if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
		p=1 # a script or replay without cmocka output that succeeded
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	[ "$f" -ne 0 ] && failed_names="$failed_names $name"
}

VG=""
if [ "${ABYSS_VALGRIND:-0}" = 1 ]; then
	VG="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect"
fi

for t in "$@"; do
	# shellcheck disable=SC2086
	run_one "$t" $VG "$BUILD/tests/$t"
done

# Fuzz corpora: every file that ever crashed a target stays a regression test.
for r in "$BUILD"/fuzz/replay_*; do
	[ -x "$r" ] || continue
	target=${r##*/replay_}
	dir=tests/fuzz/corpus/$target
	[ -d "$dir" ] || continue
	# shellcheck disable=SC2086
	run_one "fuzz-replay-$target" $VG "$r" "$dir"
done

# Integration scripts (real broker etc.) are not run under valgrind.
if [ -z "$VG" ] && [ "${ABYSS_SKIP_INTEGRATION:-0}" != 1 ]; then
	for s in tests/integration/[0-9]*.sh; do
		[ -f "$s" ] || continue
		run_one "$s" sh "$s" "$BUILD/abyss"
	done
fi

echo
[ -n "$failed_names" ] && echo "failed:$failed_names"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
