#!/bin/sh
# 02-cli.sh ABYSS - the command line as a user meets it: help, exit codes,
# estimate on simulated holes against their truth, formats, the file and
# MQTT paths giving the same result, errors with file:line:col, and (when
# ../shared/data is present) the original's reference values.
set -u
BIN=${1:-build/abyss}
DATA=${ABYSS_DATA:-../shared/data}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fails=$((fails + 1)); }
expect_rc() { # want name cmd...
	want=$1; name=$2; shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" -eq "$want" ]; then ok "$name (exit $rc)"; else
		bad "$name: exit $rc, expected $want"; sed 's/^/     /' "$tmp/err" | head -5; fi
}

# help and usage errors
for c in inspect estimate convert simulate bench model listen publish; do
	expect_rc 0 "$c --help" "$BIN" "$c" --help
	grep -q "usage: abyss $c" "$tmp/out" || bad "$c --help prints its usage"
done
expect_rc 0 "--help" "$BIN" --help
expect_rc 2 "no command" "$BIN"
expect_rc 2 "unknown command" "$BIN" frobnicate
expect_rc 2 "unknown option" "$BIN" estimate --frob x
expect_rc 2 "bad method" "$BIN" estimate --method magic x
expect_rc 2 "ml without a model" "$BIN" estimate --method ml "$tmp"
expect_rc 3 "missing input" "$BIN" estimate "$tmp/does-not-exist"

# simulated holes: estimate, compare with the truth
expect_rc 0 "simulate" "$BIN" simulate --out "$tmp/sim" --count 6 --seed 7
n=$(ls "$tmp"/sim/*.xls | wc -l)
[ "$n" -eq 6 ] && ok "simulate wrote 6 holes" || bad "simulate wrote $n holes"
expect_rc 0 "estimate csv" "$BIN" estimate -q -f csv -o "$tmp/est.csv" "$tmp/sim"
rows=$(tail -n +2 "$tmp/est.csv" | grep -c ',ok,')
[ "$rows" -eq 6 ] && ok "6 holes estimated" || bad "$rows of 6 holes estimated"
for f in "$tmp"/sim/*.xls; do
	b=${f%.xls}
	tx=$(sed -n 's/.*"exit_mm": \([-0-9.]*\).*/\1/p' "$b.truth.json")
	ex=$(grep "^$f," "$tmp/est.csv" | cut -d, -f8)
	awk -v a="$tx" -v b="$ex" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(b != "" && d < 0.5) }' ||
		bad "exit of $(basename "$f"): estimated '$ex', true $tx"
done
ok "exits within 0.5 mm of the truth"
expect_rc 0 "estimate json" "$BIN" estimate -q -f json "$tmp/sim"
grep -q '"entry": {"mm": [0-9]' "$tmp/out" && ok "json has entry positions" || bad "json output"
expect_rc 0 "estimate -j 1 same as -j 2" sh -c "'$BIN' estimate -q -j 1 -f csv '$tmp/sim' > '$tmp/j1' && '$BIN' estimate -q -j 2 -f csv '$tmp/sim' > '$tmp/j2' && cmp -s '$tmp/j1' '$tmp/j2'"

# file and messages of the same hole give the same estimate
first=$(ls "$tmp"/sim/*.xls | head -n 1)
expect_rc 0 "convert --to mqtt" "$BIN" convert --to mqtt -o "$tmp/msgs" "$first"
a=$("$BIN" estimate -q -f csv "$first" | tail -n 1 | cut -d, -f6-11)
b=$("$BIN" estimate -q -f csv "$tmp/msgs" | tail -n 1 | cut -d, -f6-11)
[ -n "$a" ] && [ "$a" = "$b" ] && ok "file and its messages: same estimate ($a)" ||
	bad "file '$a' vs messages '$b'"
expect_rc 0 "convert --to csv" "$BIN" convert --to csv -o "$tmp/h.csv" "$first"
lines=$(wc -l <"$tmp/h.csv")
[ "$lines" -gt 100 ] && ok "csv has $lines lines" || bad "csv has $lines lines"

# bad input: clear errors, no crash
printf 'not a drill file\n\001\002\003' >"$tmp/garbage.xls"
expect_rc 3 "inspect garbage" "$BIN" inspect "$tmp/garbage.xls"
grep -q "garbage.xls" "$tmp/err" && ok "error names the file" || bad "error names the file"
expect_rc 1 "estimate with one bad file" "$BIN" estimate "$first" "$tmp/garbage.xls"
grep -q "1 failed" "$tmp/err" && ok "summary counts the failure" || bad "summary counts the failure"
head -c 30000 "$first" >"$tmp/truncated.xls"
expect_rc 1 "estimate a truncated file" "$BIN" estimate -q "$tmp/truncated.xls"

# the original's reference values on real files
mdb=$DATA/abyss/test_data/MDB/17070141_17070141_ST_753_55.xls
if [ -f "$mdb" ]; then
	line=$("$BIN" estimate -q -m compat -f csv "$mdb" | tail -n 1)
	e=$(echo "$line" | cut -d, -f6)
	t=$(echo "$line" | cut -d, -f7)
	[ "$e" = "4.569" ] && [ "$t" = "5.010" ] && ok "compat on MDB 753_55: entry $e, transition $t" ||
		bad "compat on MDB 753_55: '$line'"
	expect_rc 1 "data_20250626 truncated Trace" "$BIN" estimate "$DATA/abyss/src/abyss/test_data/data_20250626"
	grep -q 'Trace.json:1:20000' "$tmp/err" && ok "truncated JSON error has line:col" || bad "truncated JSON error position"
	VEC=${ABYSS_VECTORS:-../shared/vectors}/patchtsmixer
	if [ -d "$VEC/original" ]; then
		# the original's 3-point estimator with the reference weights and
		# stand-in statistics of vectors/patchtsmixer/pipeline/result.json
		line=$("$BIN" estimate -q -m ml --model "$VEC/original" \
			--reference "$VEC/pipeline/ref_standin.csv" -f csv "$mdb" | tail -n 1)
		x=$(echo "$line" | cut -d, -f8)
		[ "$x" = "18.054" ] && ok "ml exit on MDB 753_55: $x (pipeline reference 18.054425)" ||
			bad "ml on MDB 753_55: '$line'"
		# without reference statistics: the hole's own, documented
		line=$("$BIN" estimate -q -m ml --model "$VEC/original" -f csv "$mdb" | tail -n 1)
		x=$(echo "$line" | cut -d, -f8)
		[ -n "$x" ] && echo "$line" | grep -q ',ok,' && ok "ml without ref_15T.csv: exit $x" ||
			bad "ml without ref_15T.csv: '$line'"
		expect_rc 3 "ml with a named reference that is missing" "$BIN" estimate -q -m ml \
			--model "$VEC/original" --reference "$tmp/nope.csv" "$mdb"
	fi
else
	echo "skip real-data checks: $DATA not found (set ABYSS_DATA)"
fi

[ "$fails" -eq 0 ] && echo "cli: all checks passed" || echo "cli: $fails checks failed"
[ "$fails" -eq 0 ]
