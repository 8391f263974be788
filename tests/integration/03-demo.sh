#!/bin/sh
# 03-demo.sh ABYSS - the README's demo command (scripts/demo.sh, what `make
# demo` runs) end to end, as a user runs it: exit 0, every simulated hole
# estimated, and, when mosquitto is installed, every hole's depth published
# by `abyss listen`.
set -u
BIN=${1:-build/abyss}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fails=$((fails + 1)); }

DEMO_OUT="$tmp/demo" sh scripts/demo.sh "$BIN" >"$tmp/log" 2>&1
rc=$?
if [ $rc -eq 0 ]; then ok "demo: exit 0"; else
	bad "demo: exit $rc"; tail -20 "$tmp/log" | sed 's/^/     /'; fi
if grep -q '12 of 12 holes estimated' "$tmp/log"; then ok "demo: 12 of 12 simulated holes estimated"; else
	bad "demo: simulated holes not all estimated"; fi
if [ -x "${ABYSS_MOSQUITTO:-/usr/sbin/mosquitto}" ]; then
	if grep -q 'results   12 of 12 holes (0 without a result' "$tmp/log"; then
		ok "demo: the service published a result for each of the 12 holes"
	else
		bad "demo: results missing from the service"; grep -n 'results' "$tmp/log" | sed 's/^/     /'
	fi
	n=$(wc -l <"$tmp/demo/published.txt" 2>/dev/null || echo 0)
	if [ "$n" -eq 12 ]; then ok "demo: 12 depth payloads seen on the broker"; else
		bad "demo: $n depth payloads seen on the broker, expected 12"; fi
else
	echo "skip: mosquitto is not installed: the service part of the demo is not checked"
fi
[ $fails -eq 0 ] && echo "ok: $0" || echo "FAIL: $0 ($fails failed)"
[ $fails -eq 0 ]
