# listen-lib.sh - helpers for the 10-listen-*.sh scripts (POSIX sh): a
# private broker (lib.sh), `abyss listen` instances with their own config,
# spool and HTTP port, a subscriber that records what the service publishes,
# and publishing of test_data / simulated message folders.
#
#   . tests/integration/listen-lib.sh      (BIN = $1 or build/abyss)
#   lsn_setup || exit 0                     # skips without mosquitto
#   lsn_conf a 'workers: {count: 2}'        # abyss: lines, indented by us
#   lsn_start a; sub_start; pub_hole DIR TB TOOL; sub_wait 2 10
#   lsn_stop a                              # SIGTERM, returns its status
set -u
here=$(dirname "$0")
. "$here/lib.sh"
BIN=${1:-build/abyss}
DATA=${ABYSS_DATA:-../shared/data}
TD=$DATA/abyss/src/abyss/test_data
KP=ResultManagement.Results.0.ResultContent.DepthEstimation.KeyPoints
DE=ResultManagement.Results.0.ResultContent.DepthEstimation.DepthEstimation
LSN_TMP=
SUB_PID=
fails=0

ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fails=$((fails + 1)); }
check() { # name condition...
	_cn=$1; shift
	if "$@"; then ok "$_cn"; else bad "$_cn"; fi
}

lsn_cleanup() {
	for f in "$LSN_TMP"/*.pid; do
		[ -f "$f" ] || continue
		p=$(cat "$f")
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	[ -n "$SUB_PID" ] && kill "$SUB_PID" 2>/dev/null && wait "$SUB_PID" 2>/dev/null
	broker_cleanup
	[ -n "$LSN_TMP" ] && [ -z "${LSN_KEEP:-}" ] && rm -rf "$LSN_TMP"
}

lsn_setup() { # extra broker config lines...
	broker_available || return 1
	for c in mosquitto_pub mosquitto_sub curl; do
		if ! command -v $c >/dev/null; then
			echo "skip: $c not installed"
			return 1
		fi
	done
	LSN_TMP=$(mktemp -d /tmp/abyss-listen-XXXXXX) || return 1
	broker_start "$@" || { echo "FAIL broker_start"; exit 1; }
	trap lsn_cleanup EXIT
	return 0
}

# lsn_conf NAME [abyss-section lines...]: config with its own spool, HTTP
# port and client id; Heads on only when LSN_HEADS is set.
lsn_conf() {
	name=$1; shift
	port=$(broker__free_port)
	echo "$port" >"$LSN_TMP/$name.http"
	{
		echo "mqtt:"
		echo "  broker: {host: 127.0.0.1, port: $BROKER_PORT, keepalive: 10}"
		echo "  listener:"
		echo "    root: OPCPUBSUB"
		echo "    result: ResultManagement"
		echo "    trace: ResultManagement/Trace"
		[ -n "${LSN_HEADS:-}" ] && echo "    heads: AssetManagement/Heads"
		echo "    duplicate_handling: ignore"
		echo "abyss:"
		echo "  spool: {path: $LSN_TMP/$name.spool.db}"
		echo "  http: {listen: \"127.0.0.1:$port\"}"
		echo "  correlator: {heads_grace: 0.3}"
		echo "  mqtt: {client_id: abyss-it-$name, reconnect_min: 0.2, reconnect_max: 1, publish_qos: ${LSN_PUBQOS:-1}}"
		for l in "$@"; do echo "  $l"; done
	} >"$LSN_TMP/$name.yaml"
}

lsn_url() { echo "http://127.0.0.1:$(cat "$LSN_TMP/$1.http")$2"; }

# Starts instance NAME; waits (<= 10 s) for /readyz 200.
lsn_start() {
	name=$1
	"$BIN" listen --config "$LSN_TMP/$name.yaml" --shutdown-timeout 5 \
		${LSN_LOGLEVEL:+--log-level $LSN_LOGLEVEL} \
		>>"$LSN_TMP/$name.log" 2>&1 &
	echo $! >"$LSN_TMP/$name.pid"
	i=0
	while [ $i -lt 100 ]; do
		code=$(curl -s -o /dev/null -w '%{http_code}' "$(lsn_url "$name" /readyz)")
		[ "$code" = 200 ] && return 0
		kill -0 "$(cat "$LSN_TMP/$name.pid")" 2>/dev/null || break
		sleep 0.1
		i=$((i + 1))
	done
	echo "lsn_start $name: not ready; log:"
	tail -20 "$LSN_TMP/$name.log"
	return 1
}

lsn_pid() { cat "$LSN_TMP/$1.pid"; }

# SIGTERM (or $2) and wait; prints nothing, returns the exit status.
lsn_stop() {
	p=$(lsn_pid "$1")
	kill -"${2:-TERM}" "$p" 2>/dev/null
	wait "$p"
	st=$?
	rm -f "$LSN_TMP/$1.pid"
	return $st
}

# lsn_metric NAME 'series text': the value of that exact series (0 if none).
lsn_metric() {
	v=$(curl -s "$(lsn_url "$1" /metrics)" | awk -v s="$2" 'index($0, s " ") == 1 { print $2 }')
	echo "${v:-0}"
}

# Records everything published on the two result topics, one line each:
# "topic payload".
sub_start() {
	: >"$LSN_TMP/out"
	mosquitto_sub -h 127.0.0.1 -p "$BROKER_PORT" -q 1 -v -i "abyss-it-sub$$" \
		-t "OPCPUBSUB/+/+/$KP" -t "OPCPUBSUB/+/+/$DE" >>"$LSN_TMP/out" 2>/dev/null &
	SUB_PID=$!
	sub_ready || bad "the result subscriber did not come up"
}

# After a subscriber on the result topics was started: returns once it
# receives, i.e. once its subscription is in place (a fixed sleep lost the
# first result now and then, when the service answered before the
# subscriber had subscribed). The probes are results of tool PROBE, which
# sub_count and the per-hole counts leave out; the service does not
# subscribe to result topics.
sub_ready() {
	_sr=0
	while [ $_sr -lt 100 ]; do
		mosquitto_pub -h 127.0.0.1 -p "$BROKER_PORT" -q 1 \
			-t "OPCPUBSUB/PROBE/probe/$KP" -m probe 2>/dev/null
		sleep 0.1
		grep -q "^OPCPUBSUB/PROBE/" "$LSN_TMP/out" && return 0
		_sr=$((_sr + 1))
	done
	return 1
}
sub_count() { grep -vc "^OPCPUBSUB/PROBE/" "$LSN_TMP/out" | tr -d ' '; }

# sub_wait N SECONDS: until N lines were received (returns 1 on timeout).
sub_wait() {
	i=0
	while [ $i -lt $(($2 * 10)) ]; do
		[ "$(sub_count)" -ge "$1" ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

pub() { # FILE TOPIC
	mosquitto_pub -h 127.0.0.1 -p "$BROKER_PORT" -q 1 -t "$2" -f "$1"
}

# pub_hole DIR TB TOOL [order]: order rt (default) or tr (trace first).
pub_hole() {
	r=$1/ResultManagement.json
	[ -f "$r" ] || r=$1/Result.json
	if [ "${4:-rt}" = tr ]; then
		pub "$1/Trace.json" "OPCPUBSUB/$2/$3/ResultManagement/Trace"
		pub "$r" "OPCPUBSUB/$2/$3/ResultManagement"
	else
		pub "$r" "OPCPUBSUB/$2/$3/ResultManagement"
		pub "$1/Trace.json" "OPCPUBSUB/$2/$3/ResultManagement/Trace"
	fi
	if [ -n "${LSN_HEADS:-}" ] && [ -f "$1/Heads.json" ]; then
		pub "$1/Heads.json" "OPCPUBSUB/$2/$3/AssetManagement/Heads"
	fi
}

# Lines of the recorded output for tool TB/TOOL and endpoint KP or DE.
sub_lines() { grep -c "^OPCPUBSUB/$1/$2 " "$LSN_TMP/out"; }

lsn_finish() { # name of the script
	if [ "$fails" -eq 0 ]; then
		echo "ok: $1"
		exit 0
	fi
	echo "FAIL: $1 ($fails failed)"
	for f in "$LSN_TMP"/*.log; do
		[ -f "$f" ] || continue
		echo "--- $f"
		tail -30 "$f"
	done
	exit 1
}
