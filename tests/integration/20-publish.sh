#!/bin/sh
# 20-publish.sh ABYSS - `abyss publish` against a real mosquitto, with
# mosquitto_sub capturing what arrives: message count and topics, shuffled
# order, rate limiting, timestamp rewriting, unique ResultIds, --echo, and
# --wait-results without a service (every hole reported missing, exit 1).
# Inputs are simulated holes, so the script needs no shared data.
set -u
BIN=${1:-build/abyss}
. tests/integration/lib.sh
broker_available || exit 0
if ! command -v mosquitto_sub >/dev/null 2>&1 || ! command -v python3 >/dev/null 2>&1; then
	echo "skip: mosquitto_sub or python3 missing"
	exit 0
fi
tmp=$(mktemp -d)
fails=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fails=$((fails + 1)); }
cleanup() { broker_cleanup; rm -rf "$tmp"; }
broker_start || exit 1
trap cleanup EXIT

"$BIN" simulate --out "$tmp/in" --count 3 --seed 5 >/dev/null 2>&1 ||
	{ bad "simulate inputs"; exit 1; }

# capture N messages (topic line, then the pretty-printed JSON) into $1
capture() { # file count
	mosquitto_sub -p "$BROKER_PORT" -t 'OPCPUBSUB/#' -v -C "$2" -W 20 >"$1" 2>/dev/null &
	sub=$!
	sleep 0.3
}

# A python checker over a capture: splits messages at topic lines.
cat >"$tmp/check.py" <<'EOF'
import json, re, sys
mode, path = sys.argv[1], sys.argv[2]
msgs, cur = [], None
for line in open(path, encoding="latin-1"):
    m = re.match(r"^(OPCPUBSUB/\S+) (\{.*)$", line.rstrip("\n"))
    if m:
        cur = [m.group(1), m.group(2) + "\n"]
        msgs.append(cur)
    elif cur is not None:
        cur[1] += line
docs = [(t, json.loads(p)) for t, p in msgs]
def rid(doc):
    for k, v in doc["Messages"]["Payload"].items():
        if k.endswith("ResultMetaData.ResultId"):
            return str(v["Value"])
def stamps(doc):
    out = [doc["Messages"]["Timestamp"]]
    out += [v["SourceTimestamp"] for v in doc["Messages"]["Payload"].values()]
    return out
if mode == "topics":
    for t, d in docs:
        print(t)
elif mode == "rids":
    for t, d in docs:
        if t.endswith("/ResultManagement"):
            print(rid(d))
elif mode == "order":
    print(" ".join(t.rsplit("/", 1)[-1] if "Trace" not in t and "Heads" not in t else t.rsplit("/", 1)[-1] for t, d in docs))
elif mode == "stamps":
    for t, d in docs:
        for s in stamps(d):
            print(s)
elif mode == "mids":
    for t, d in docs:
        print(d["MessageId"])
EOF
check() { python3 "$tmp/check.py" "$@"; }

# 1. count, topics, ResultIds, MessageIds
capture "$tmp/c1" 30
"$BIN" publish -p "$BROKER_PORT" --count 10 --tools 3 --seed 1 --quiet "$tmp/in" >"$tmp/out1" 2>&1 ||
	{ bad "publish --count 10 failed: $(cat "$tmp/out1")"; }
wait $sub
n=$(check topics "$tmp/c1" | wc -l)
[ "$n" -eq 30 ] && ok "10 holes -> 30 messages" || bad "10 holes gave $n messages"
wrong=$(check topics "$tmp/c1" | grep -cvE '^OPCPUBSUB/ILLL50203377[1-3]/setitec00[1-3]/(ResultManagement|ResultManagement/Trace|AssetManagement/Heads)$')
[ "$wrong" -eq 0 ] && ok "topics {root}/ILLL50203377<i>/setitec00<i>/{suffix}, i<=3" || bad "$wrong topics outside the pool"
for s in ResultManagement ResultManagement/Trace AssetManagement/Heads; do
	c=$(check topics "$tmp/c1" | grep -c "/setitec00[0-9]/$s\$")
	[ "$c" -eq 10 ] || bad "$c messages on .../$s (want 10)"
done
keys=$(check topics "$tmp/c1" | cut -d/ -f2,3 | sort -u | wc -l)
[ "$keys" -ge 2 ] && ok "random tool keys ($keys distinct)" || bad "only $keys tool key"
u=$(check rids "$tmp/c1" | sort -u | wc -l)
[ "$u" -eq 10 ] && ok "10 unique ResultIds" || bad "$u unique ResultIds of 10"
u=$(check mids "$tmp/c1" | sort -u | wc -l)
[ "$u" -eq 30 ] && ok "30 unique MessageIds" || bad "$u unique MessageIds of 30"
# the messages still decode to holes, with the new ResultId
mkdir -p "$tmp/dec"
python3 - "$tmp/c1" "$tmp/dec" <<'EOF'
import re, sys
msgs, cur = [], None
for line in open(sys.argv[1], encoding="latin-1"):
    m = re.match(r"^(OPCPUBSUB/\S+) (\{.*)$", line.rstrip("\n"))
    if m:
        cur = [m.group(1), m.group(2) + "\n"]; msgs.append(cur)
    elif cur is not None:
        cur[1] += line
names = {"ResultManagement": "Result.json", "Trace": "Trace.json", "Heads": "Heads.json"}
for t, p in msgs[:3]:
    open(sys.argv[2] + "/" + names[t.rsplit("/", 1)[-1]], "w").write(p)
EOF
if "$BIN" estimate -q -f csv "$tmp/dec" >"$tmp/est" 2>&1; then ok "a published hole decodes and estimates"; else
	bad "published hole does not estimate: $(head -3 "$tmp/est")"; fi

# 2. shuffled order differs from sorted for a seed; --no-shuffle keeps it
capture "$tmp/c2" 60
"$BIN" publish -p "$BROKER_PORT" --count 20 --tool-key TB1/T1 --seed 7 --quiet "$tmp/in" >/dev/null 2>&1
wait $sub
sorted=$(yes "ResultManagement Trace Heads" | head -n 20 | tr '\n' ' ' | sed 's/ $//')
got=$(check order "$tmp/c2")
[ -n "$got" ] && [ "$got" != "$sorted" ] && ok "--seed 7: shuffled order" || bad "order not shuffled: $got"
capture "$tmp/c3" 60
"$BIN" publish -p "$BROKER_PORT" --count 20 --tool-key TB1/T1 --no-shuffle --quiet "$tmp/in" >/dev/null 2>&1
wait $sub
got=$(check order "$tmp/c3")
[ "$got" = "$sorted" ] && ok "--no-shuffle: Result, Trace, Heads" || bad "--no-shuffle order: $got"
capture "$tmp/c4" 60
"$BIN" publish -p "$BROKER_PORT" --count 20 --tool-key TB1/T1 --seed 7 --quiet "$tmp/in" >/dev/null 2>&1
wait $sub
[ "$(check order "$tmp/c4")" = "$(check order "$tmp/c2")" ] && ok "same seed, same order" || bad "a seed does not reproduce the order"

# 3. timestamps rewritten to now (UTC, whole seconds)
capture "$tmp/c5" 6
before=$(date -u +%s)
"$BIN" publish -p "$BROKER_PORT" --count 2 --rewrite-timestamps --quiet "$tmp/in" >/dev/null 2>&1
after=$(date -u +%s)
wait $sub
out=$(check stamps "$tmp/c5" | sort -u | python3 -c '
import sys, calendar, time
lo, hi = int(sys.argv[1]), int(sys.argv[2])
bad = [s for s in sys.stdin.read().split() if not (lo <= calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ")) <= hi)]
print(len(bad))' "$before" "$after")
[ "$out" = 0 ] && ok "--rewrite-timestamps: every timestamp is the send time" || bad "$out timestamps not rewritten"
one=$(ls "$tmp"/in/*.xls | head -n 1)
"$BIN" convert --to mqtt -o "$tmp/conv" "$one" >/dev/null 2>&1
want=$(sed -n 's/.*"Timestamp": "\(....-..-..T..:..:..\).*/\1Z/p' "$tmp/conv/Trace.json" | head -n 1)
capture "$tmp/c6" 3
"$BIN" publish -p "$BROKER_PORT" --count 1 --quiet "$one" >/dev/null 2>&1
wait $sub
got=$(check stamps "$tmp/c6" | sort -u)
[ -n "$want" ] && [ "$got" = "$want" ] && ok "without it the input's own timestamp stays ($got)" || bad "timestamps '$got', input has '$want'"

# 4. rate limiting: --rate 50 --duration 2 sends about 100 holes
"$BIN" publish -p "$BROKER_PORT" --rate 50 --duration 2 --json --quiet "$tmp/in" >"$tmp/j" 2>&1
h=$(sed -n 's/.*"holes_sent": \([0-9]*\).*/\1/p' "$tmp/j")
[ -n "$h" ] && [ "$h" -ge 80 ] && [ "$h" -le 120 ] && ok "--rate 50 --duration 2: $h holes" || bad "--rate 50 --duration 2 sent '$h' holes"

# 5. concurrency and --echo (the broker's ceiling): every hole comes back
"$BIN" publish -p "$BROKER_PORT" --echo --no-sleep --count 300 --concurrency 3 --qos 1 --json --quiet "$tmp/in" >"$tmp/e" 2>&1
rc=$?
r=$(sed -n 's/.*"results": \([0-9]*\).*/\1/p' "$tmp/e")
[ "$rc" -eq 0 ] && [ "$r" = 300 ] && ok "--echo: 300 of 300 holes came back over 3 connections" || bad "--echo: rc $rc, '$r' of 300: $(cat "$tmp/e")"

# 6. --wait-results with no service: all missing after the timeout, exit 1
"$BIN" publish -p "$BROKER_PORT" --wait-results --wait-timeout 0.5 --count 4 --json --quiet "$tmp/in" >"$tmp/w" 2>&1
rc=$?
m=$(sed -n 's/.*"missing": \([0-9]*\).*/\1/p' "$tmp/w")
[ "$rc" -eq 1 ] && [ "$m" = 4 ] && ok "--wait-results without a service: 4 missing, exit 1" || bad "--wait-results: rc $rc, missing '$m'"

# 7. --wait-results matches a result by (tool key, ResultId): a fake
# service answers one hole with the depth payload
capture "$tmp/c7" 3
"$BIN" publish -p "$BROKER_PORT" --count 1 --tool-key TB9/T9 --nonce 42 --quiet "$tmp/in" >/dev/null 2>&1
wait $sub
r1=$(check rids "$tmp/c7")
case $r1 in 1????????????) bad "ResultId $r1 has 13 digits" ;; 1???????????) ok "ResultId is 12 digits ($r1)" ;; *) bad "ResultId '$r1'" ;; esac
# the same nonce and seed give the same first ResultId: answer it as a service would
(
	sleep 1
	mosquitto_pub -p "$BROKER_PORT" -t "OPCPUBSUB/TB9/T9/ResultManagement.Results.0.ResultContent.DepthEstimation.DepthEstimation" \
		-m "{\"SourceTimestamp\": \"2026-01-01T00:00:00Z\", \"MachineId\": \"1\", \"ResultId\": \"$r1\", \"HeadId\": null, \"Value\": [1.0, 2.0], \"AlgoVersion\": \"0.2.6\"}"
) &
fake=$!
"$BIN" publish -p "$BROKER_PORT" --count 1 --tool-key TB9/T9 --nonce 42 --wait-results --wait-timeout 5 --json --quiet "$tmp/in" >"$tmp/w2" 2>&1
rc=$?
wait $fake
r=$(sed -n 's/.*"results": \([0-9]*\).*/\1/p' "$tmp/w2")
[ "$rc" -eq 0 ] && [ "$r" = 1 ] && ok "--wait-results: a depth payload with our ResultId counts" || bad "--wait-results match: rc $rc, $(cat "$tmp/w2")"

# 8. limits: the record limit stops a timed run (exit 1, echoes still
# counted); a broker that stops taking messages ends the run (exit 4)
"$BIN" publish -p "$BROKER_PORT" --duration 5 --no-sleep --max-holes 50 --echo --json --quiet "$tmp/in" >"$tmp/mh" 2>"$tmp/mh.err"
rc=$?
h=$(sed -n 's/.*"holes_sent": \([0-9]*\).*/\1/p' "$tmp/mh")
r=$(sed -n 's/.*"results": \([0-9]*\).*/\1/p' "$tmp/mh")
[ "$rc" -eq 1 ] && [ "$h" = 50 ] && [ "$r" = 50 ] && grep -q "record limit" "$tmp/mh.err" &&
	ok "--max-holes 50: stops at 50, all echoed, exit 1" || bad "--max-holes: rc $rc, sent '$h', echoed '$r'"
( sleep 1; kill -STOP "$BROKER_PID" ) &
stopper=$!
"$BIN" publish -p "$BROKER_PORT" --duration 30 --no-sleep --connect-timeout 1 --quiet "$tmp/in" >/dev/null 2>"$tmp/st.err"
rc=$?
wait $stopper
kill -CONT "$BROKER_PID"
[ "$rc" -eq 4 ] && grep -q "took no message" "$tmp/st.err" && ok "stalled broker: gives up with exit 4" || bad "stalled broker: rc $rc $(cat "$tmp/st.err")"

# 9. errors: no broker, bad option
"$BIN" publish -p 1 --connect-timeout 1 --count 1 --quiet "$tmp/in" >"$tmp/nb" 2>&1
rc=$?
[ "$rc" -eq 4 ] && grep -q "no connection" "$tmp/nb" && ok "no broker: exit 4 with a reason" || bad "no broker: rc $rc $(cat "$tmp/nb")"
"$BIN" publish --qos 3 "$tmp/in" >/dev/null 2>&1
[ $? -eq 2 ] && ok "--qos 3: usage error" || bad "--qos 3 accepted"

[ "$fails" -eq 0 ] && echo "20-publish: all passed" || echo "20-publish: $fails failed"
[ "$fails" -eq 0 ]
