# RabbitMQ helpers for the amqp-* tests: a setup_file check that fails
# loudly when the broker is down, unique names, queue inspection, and
# clean-up of what a test declared durable.
# shellcheck shell=bash

# amqp_setup_file: fail (never skip) the whole file without a broker.
amqp_setup_file() {
	require_cmd rabbitmqctl
	if ! /usr/bin/python3 -c 'import socket; socket.create_connection(("127.0.0.1", 5672), 3)' 2>/dev/null; then
		echo "# RabbitMQ is not reachable on localhost:5672:" \
			"start it with scripts/start-rabbitmq.sh (.ci/run does)" >&3
		return 1
	fi
}

# tname [SUFFIX]: a name no other test or run uses (kcat make_topic_name).
tname() {
	echo "t-$BATS_TEST_NUMBER-$$${1:+-$1}"
}

# queue_messages NAME: ready plus unacknowledged messages in NAME.
queue_messages() {
	rabbitmqctl -q list_queues name messages | awk -v q="$1" '$1 == q { print $2 }'
}

# queue_consumers NAME
queue_consumers() {
	rabbitmqctl -q list_queues name consumers | awk -v q="$1" '$1 == q { print $2 }'
}

# AMQP_CLEAN_QUEUES / AMQP_CLEAN_EXCHANGES: deleted by amqp_teardown.
AMQP_CLEAN_QUEUES=()
AMQP_CLEAN_EXCHANGES=()

amqp_teardown() {
	local q x
	stop_all_bg
	# A test that stopped the broker must never leave it down.
	if [ -n "${AMQP_RESTARTED:-}" ]; then
		rabbitmqctl -q start_app >/dev/null 2>&1
		rabbitmqctl -q await_startup --timeout 60 >/dev/null 2>&1
	fi
	for q in "${AMQP_CLEAN_QUEUES[@]}"; do
		rabbitmqctl -q delete_queue "$q" >/dev/null 2>&1
	done
	for x in "${AMQP_CLEAN_EXCHANGES[@]}"; do
		rabbitmqctl -q eval "rabbit_exchange:delete(rabbit_misc:r(<<\"/\">>, exchange, <<\"$x\">>), false, <<\"tests\">>)." >/dev/null 2>&1
	done
	AMQP_CLEAN_QUEUES=()
	AMQP_CLEAN_EXCHANGES=()
	if [ -z "${BATS_TEST_COMPLETED:-}" ]; then
		dump_bg_logs
	fi
}

# new_exchange: a unique exchange name, deleted after the test.
new_exchange() {
	AMQP_X=$(tname x)
	AMQP_CLEAN_EXCHANGES+=("$AMQP_X")
}

# durable_queue NAME EXCHANGE KEY...: declare a durable queue bound with
# the keys, through amqp-sub itself (Debian's amqp-tools cannot bind),
# and have it deleted after the test.
durable_queue() {
	local q=$1 x=$2 k args=()
	shift 2
	for k in "$@"; do
		args+=(-b "$k")
	done
	AMQP_CLEAN_QUEUES+=("$q")
	start_bg "mkq-$q" amqp-sub -v -q "$q" -e "$x" "${args[@]}"
	wait_until 20 grep -q consuming "$BATS_TEST_TMPDIR/mkq-$q.err" || {
		cat "$BATS_TEST_TMPDIR/mkq-$q.err" >&3
		return 1
	}
	stop_bg "mkq-$q"
}

# start_sub NAME ARGS...: amqp-sub in the background, ready once it
# consumes (its queue is bound, so nothing published later is missed).
start_sub() {
	local name=$1
	shift
	start_bg "$name" amqp-sub -v "$@"
	wait_until 20 grep -q consuming "$BATS_TEST_TMPDIR/$name.err" || {
		cat "$BATS_TEST_TMPDIR/$name.err" >&3
		return 1
	}
}

# start_proxy NAME ARGS...: tests/fakes/tcp-proxy.py in front of the
# broker; PROXY_PORT is set.
start_proxy() {
	local name=$1
	shift
	start_bg "$name" "$PY" "$SV_FAKES/tcp-proxy.py" --listen 127.0.0.1:0 \
		--port-file "$BATS_TEST_TMPDIR/$name.port" "$@"
	PROXY_PORT=$(port_file_addr "$BATS_TEST_TMPDIR/$name.port") || return 1
	PROXY_PORT=${PROXY_PORT##*:}
}

# lines N FILE: N distinct NDJSON events of mixed types.
lines() {
	"$PY" - "$1" >"$2" <<'PYEOF'
import sys
types = ["channel.follow", "channel.raid", "stream.online", "channel.cheer"]
for i in range(int(sys.argv[1])):
    print('{"id":"id-%07d","type":"%s","version":"1","source":"trigger",'
          '"time":"2026-11-28T21:04:05.123Z","event":{"n":%d}}'
          % (i, types[i % len(types)], i))
PYEOF
}

# queue_has NAME N: at least N messages in NAME (for wait_until).
queue_has() {
	local n
	n=$(queue_messages "$1")
	[ -n "$n" ] && [ "$n" -ge "$2" ]
}
