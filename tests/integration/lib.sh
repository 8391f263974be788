# lib.sh - a private mosquitto broker for integration scripts (POSIX sh).
#
#   . tests/integration/lib.sh
#   broker_available || exit 0          # prints why and skips when missing
#   broker_start ['extra config line' ...]
#   ... use $BROKER_PORT (on 127.0.0.1), $BROKER_DIR, $BROKER_PID ...
#   broker_stop KILL; broker_restart    # same port, persistence restored
#   broker_cleanup                      # stop and remove $BROKER_DIR
#
# The broker listens on a free loopback port with a config in a temp
# directory, persistence on (saved at a clean stop; add 'autosave_interval 1'
# and 'autosave_on_changes true' to survive SIGKILL), anonymous access
# unless the extra lines say otherwise, and a queue large enough for
# backpressure tests. broker_start installs broker_cleanup as the EXIT trap.
# The C tests (tests/unit/test_mq.c) have their own copy of this harness.

MOSQUITTO=${ABYSS_MOSQUITTO:-/usr/sbin/mosquitto}
BROKER_PORT=
BROKER_PID=
BROKER_DIR=

broker_available() {
	if [ ! -x "$MOSQUITTO" ]; then
		echo "skip: $MOSQUITTO is not installed (apt-get install mosquitto)"
		return 1
	fi
	return 0
}

# A port nothing listens on now (the kernel's pick; a random one otherwise).
broker__free_port() {
	if command -v python3 >/dev/null 2>&1; then
		python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
	else
		awk -v s="$$" 'BEGIN { srand(s); print 20000 + int(rand() * 40000) }'
	fi
}

broker__write_conf() { # extra lines in "$@"
	{
		echo "listener $BROKER_PORT 127.0.0.1"
		echo "persistence true"
		echo "persistence_location $BROKER_DIR/"
		echo "max_queued_messages 100000"
		echo "log_dest stderr"
		echo "log_type error"
		echo "log_type warning"
		echo "log_type notice"
		echo "log_type information"
		[ "$(id -u)" = 0 ] && echo "user root"
		anon=1
		for l in "$@"; do
			case $l in allow_anonymous*) anon=0 ;; esac
			echo "$l"
		done
		[ $anon = 1 ] && echo "allow_anonymous true"
	} >"$BROKER_DIR/mosquitto.conf"
}

# Starts the broker on the configured port; waits (<= 5 s) until it says it
# is running. Returns 1 if it exited (port taken, bad config) or hung.
broker__spawn() {
	before=$(grep -c ' running$' "$BROKER_DIR/broker.log" 2>/dev/null)
	before=${before:-0}
	"$MOSQUITTO" -c "$BROKER_DIR/mosquitto.conf" >>"$BROKER_DIR/broker.log" 2>&1 &
	BROKER_PID=$!
	i=0
	while [ $i -lt 100 ]; do
		if ! kill -0 "$BROKER_PID" 2>/dev/null; then
			wait "$BROKER_PID" 2>/dev/null
			BROKER_PID=
			return 1
		fi
		now=$(grep -c ' running$' "$BROKER_DIR/broker.log" 2>/dev/null)
		[ "${now:-0}" -gt "$before" ] && return 0
		sleep 0.05
		i=$((i + 1))
	done
	kill -9 "$BROKER_PID" 2>/dev/null
	wait "$BROKER_PID" 2>/dev/null
	BROKER_PID=
	return 1
}

broker_start() { # extra config lines...
	broker_available || return 1
	BROKER_DIR=$(mktemp -d /tmp/abyss-broker-XXXXXX) || return 1
	trap broker_cleanup EXIT
	tries=0
	while [ $tries -lt 5 ]; do
		BROKER_PORT=$(broker__free_port)
		broker__write_conf "$@"
		broker__spawn && return 0
		tries=$((tries + 1))
	done
	echo "broker_start: mosquitto did not start; log:" >&2
	cat "$BROKER_DIR/broker.log" >&2
	return 1
}

broker_stop() { # [signal name, default TERM]
	if [ -n "$BROKER_PID" ]; then
		kill -"${1:-TERM}" "$BROKER_PID" 2>/dev/null || true
		# mosquitto can miss a SIGTERM that lands during its start-up:
		# 5 s, then SIGKILL, so no script hangs on it
		_bs=0
		while kill -0 "$BROKER_PID" 2>/dev/null && [ $_bs -lt 50 ]; do
			# a zombie still answers kill -0: reap it if it exited
			if ! ps -o stat= -p "$BROKER_PID" 2>/dev/null | grep -qv Z; then
				break
			fi
			sleep 0.1
			_bs=$((_bs + 1))
		done
		# "|| true": scripts with set -e source this (a gone process
		# makes kill fail, and wait returns the broker's status)
		kill -KILL "$BROKER_PID" 2>/dev/null || true
		wait "$BROKER_PID" 2>/dev/null || true
		BROKER_PID=
	fi
}

# Same port, same directory: a persistent session survives.
broker_restart() {
	broker_stop "${1:-TERM}"
	i=0
	while [ $i -lt 20 ]; do
		broker__spawn && return 0
		sleep 0.1
		i=$((i + 1))
	done
	echo "broker_restart: mosquitto did not come back on $BROKER_PORT" >&2
	return 1
}

broker_cleanup() {
	broker_stop TERM
	if [ -n "$BROKER_DIR" ] && [ -d "$BROKER_DIR" ]; then
		rm -rf "$BROKER_DIR"
	fi
	BROKER_DIR=
}
