#!/bin/sh
# 10-listen-4-kill.sh ABYSS - the service is SIGKILLed mid-stream, three
# ways: with half a hole received (the inbox brings the Result back), between
# holes while more arrive (the broker's persistent session queues them), and
# with results waiting in the spool because the broker went away. After each
# restart every hole's result arrives, none twice. (A kill in the
# millisecond between the broker taking a result and our reading its PUBACK
# would publish that result again: QoS 1 is at-least-once; docs/operations.md.)
. "$(dirname "$0")/listen-lib.sh"
lsn_setup || exit 0
"$BIN" simulate --format mqtt --out "$LSN_TMP/sim" --count 12 --seed 31 2>/dev/null
lsn_conf a
lsn_start a || { bad "start"; lsn_finish "$0"; }
: >"$LSN_TMP/out"
mosquitto_sub -h 127.0.0.1 -p "$BROKER_PORT" -q 2 -v -c -i "abyss-it-sub$$" \
	-t "OPCPUBSUB/+/+/$KP" -t "OPCPUBSUB/+/+/$DE" >>"$LSN_TMP/out" 2>/dev/null &
SUB_PID=$!
sub_ready || bad "the result subscriber did not come up"

set -- $(ls -d "$LSN_TMP"/sim/sim_*/)
tool() { basename "$1"; }
# part 1 (inbox): the service has received hole 1's Result (acknowledged to
# the broker) when it is killed; the Trace and holes 2-4 arrive while it is
# down. The Result must come back from the inbox.
pub "$1/ResultManagement.json" "OPCPUBSUB/TB/$(tool "$1")/ResultManagement"
i=0
while [ $i -lt 50 ] && [ "$(lsn_metric a 'abyss_messages_received_total{type="result"}')" -lt 1 ]; do
	sleep 0.1
	i=$((i + 1))
done
lsn_stop a KILL
pub "$1/Trace.json" "OPCPUBSUB/TB/$(tool "$1")/ResultManagement/Trace"
for d in "$2" "$3" "$4"; do pub_hole "$d" TB "$(tool "$d")"; done
lsn_start a || bad "restart after SIGKILL"
sub_wait 8 15
check "part 1: 8 payloads for 4 holes (Result from the inbox)" [ "$(sub_count)" -eq 8 ]
check "part 1: the inbox was re-read" grep -q 'inbox: re-reading' "$LSN_TMP/a.log"

# part 2: holes 5-8 live and published, kill -9, holes 9-10 while down
for d in "$5" "$6" "$7" "$8"; do pub_hole "$d" TB "$(tool "$d")"; done
sub_wait 16 15
# ... and acknowledged: the spool is empty (a kill between the broker
# taking a result and our reading its PUBACK - up to 40 ms when the
# broker's Nagle holds a second PUBACK - would publish it again)
i=0
while [ $i -lt 50 ] && [ "$(lsn_metric a abyss_spool_depth)" != 0 ]; do
	sleep 0.1
	i=$((i + 1))
done
lsn_stop a KILL
for d in "$9" "${10}"; do pub_hole "$d" TB "$(tool "$d")"; done
lsn_start a || bad "restart after the second SIGKILL"
sub_wait 20 15
check "part 2: 20 payloads for 10 holes" [ "$(sub_count)" -eq 20 ]

# part 3 (spool): the service is frozen (SIGSTOP) while hole 11 is sent,
# so the messages wait in its socket; the broker stops; the service thaws,
# reads them, estimates and spools the result but cannot publish it; it is
# killed; broker and service come back: the result goes out from the spool,
# and the broker's redelivery of the unacknowledged messages is caught by
# the spool's dedupe.
kill -STOP "$(lsn_pid a)"
pub_hole "${11}" TB "$(tool "${11}")"
sleep 0.3
broker_stop TERM
kill -CONT "$(lsn_pid a)"
i=0
while [ $i -lt 50 ] && ! grep -q "hole=TB/$(tool "${11}")#" "$LSN_TMP/a.log"; do
	sleep 0.1
	i=$((i + 1))
done
lsn_stop a KILL
broker_restart || bad "broker_restart"
lsn_start a || bad "restart after the third SIGKILL"
check "part 3: the result came from the spool" grep -q 'spool: messages from a previous run will be published first" messages=2' "$LSN_TMP/a.log"
pub_hole "${12}" TB "$(tool "${12}")"
sub_wait 24 15
sleep 1
check "part 3: 24 payloads for 12 holes" [ "$(sub_count)" -eq 24 ]
good=1
for d in "$LSN_TMP"/sim/sim_*/; do
	t=$(basename "$d")
	c=$(grep -c "^OPCPUBSUB/TB/$t/" "$LSN_TMP/out")
	[ "$c" -eq 2 ] || { good=0; echo "  $t: $c payloads"; }
done
check "every hole exactly once" [ $good -eq 1 ]
lsn_stop a
check "SIGTERM: exit 0" [ $? -eq 0 ]
lsn_finish "$0"
