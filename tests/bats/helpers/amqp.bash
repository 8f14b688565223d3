# RabbitMQ helpers for the amqp-* tests: a setup_file check that fails
# loudly when the broker is down, unique names, queue inspection, and
# clean-up of what a test declared durable.
# shellcheck shell=bash

# rmqctl ARGS...: rabbitmqctl, the only way the tests call it. Debian's
# wrapper (/usr/sbin/rabbitmqctl) runs only for root and the rabbitmq
# user, so anyone else goes through `sudo -n` when sudoers allows it
# without a password; otherwise it fails saying what to do.
rmqctl() {
	[ -n "${SV_RMQCTL:-}" ] || rmqctl_find || {
		echo "$SV_RMQCTL_PROBLEM" >&2
		return 1
	}
	# (unquoted on purpose: "sudo -n /usr/sbin/rabbitmqctl" is two words)
	# shellcheck disable=SC2086
	$SV_RMQCTL "$@"
}

# rmqctl_find: set SV_RMQCTL to the command that works for this user,
# else SV_RMQCTL_PROBLEM to the reason and what to do; 1 then.
rmqctl_find() {
	local bin
	bin=$(command -v rabbitmqctl || true)
	[ -n "$bin" ] || [ ! -x /usr/sbin/rabbitmqctl ] || bin=/usr/sbin/rabbitmqctl
	if [ -z "$bin" ]; then
		SV_RMQCTL_PROBLEM="rabbitmqctl is not installed: run 'sudo scripts/install-deps'"
		return 1
	fi
	if [ "$(id -u)" = 0 ] || [ "$(id -un)" = rabbitmq ]; then
		SV_RMQCTL=$bin
	elif command -v sudo >/dev/null 2>&1 && sudo -n -l "$bin" >/dev/null 2>&1; then
		SV_RMQCTL="sudo -n $bin"
	else
		SV_RMQCTL_PROBLEM="the RabbitMQ tests inspect the broker with rabbitmqctl, which Debian lets only root or rabbitmq run; run 'make check' as root, or allow it through sudo without a password: echo '$(id -un) ALL=(root) NOPASSWD: $bin' | sudo tee /etc/sudoers.d/servitor-rabbitmqctl"
		return 1
	fi
	export SV_RMQCTL
}

# amqp_setup_file: fail (never skip) the whole file without a broker, or
# without a way to run rabbitmqctl.
amqp_setup_file() {
	if ! rmqctl_find; then
		echo "# $SV_RMQCTL_PROBLEM" >&3
		return 1
	fi
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

# queue_info NAME FIELD...: the rabbitmqctl list_queues FIELDs of NAME,
# tab-separated; nothing when there is no such queue.
queue_info() {
	local q=$1 out
	shift
	out=$(rmqctl -q list_queues name "$@") || return 1
	awk -v q="$q" 'BEGIN { FS = OFS = "\t" } $1 == q { $1 = ""; print substr($0, 2) }' <<<"$out"
}

# queue_messages NAME: ready plus unacknowledged messages in NAME.
queue_messages() {
	queue_info "$1" messages
}

# queue_consumers NAME
queue_consumers() {
	queue_info "$1" consumers
}

# AMQP_CLEAN_QUEUES / AMQP_CLEAN_EXCHANGES / AMQP_CLEAN_POLICIES: deleted
# by amqp_teardown.
AMQP_CLEAN_QUEUES=()
AMQP_CLEAN_EXCHANGES=()
AMQP_CLEAN_POLICIES=()

amqp_teardown() {
	local q x p
	stop_all_bg
	# A test that stopped the broker must never leave it down.
	if [ -n "${AMQP_RESTARTED:-}" ]; then
		rmqctl -q start_app >/dev/null 2>&1
		rmqctl -q await_startup --timeout 60 >/dev/null 2>&1
	fi
	for p in "${AMQP_CLEAN_POLICIES[@]}"; do
		rmqctl -q clear_policy "$p" >/dev/null 2>&1
	done
	for q in "${AMQP_CLEAN_QUEUES[@]}"; do
		rmqctl -q delete_queue "$q" >/dev/null 2>&1
	done
	for x in "${AMQP_CLEAN_EXCHANGES[@]}"; do
		rmqctl -q eval "rabbit_exchange:delete(rabbit_misc:r(<<\"/\">>, exchange, <<\"$x\">>), false, <<\"tests\">>)." >/dev/null 2>&1
	done
	AMQP_CLEAN_QUEUES=()
	AMQP_CLEAN_EXCHANGES=()
	AMQP_CLEAN_POLICIES=()
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

# queue_policy NAME POLICY DEFINITION: apply a policy to queue NAME alone
# (anchored pattern; tname names need no escaping) and wait until the
# broker shows it in effect; cleared after the test.
queue_policy() {
	local q=$1 p=$2
	AMQP_CLEAN_POLICIES+=("$p")
	rmqctl -q set_policy --apply-to queues --priority 1000 "$p" "^$q\$" "$3" >/dev/null || return 1
	wait_until 20 queue_has_policy "$q" "$p"
}

# queue_has_policy NAME POLICY
queue_has_policy() {
	[ "$(queue_info "$1" policy)" = "$2" ]
}

# fifo_unread FIFO: how many bytes written to FIFO its reader has not
# taken yet (a full pipe holds 65536: the writer blocks).
fifo_unread() {
	"$PY" -c 'import fcntl, os, struct, sys, termios
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_NONBLOCK)
print(struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"1234"))[0])' "$1"
}

# fifo_drained FIFO: its reader took every byte written so far.
fifo_drained() {
	[ "$(fifo_unread "$1")" = 0 ]
}

# fifo_full FIFO: its writer has filled it (for wait_until).
fifo_full() {
	[ "$(fifo_unread "$1")" -ge 61440 ]
}

# start_blocked_reader NAME FIFO OUT: a reader that opens FIFO and reads
# nothing until it gets SIGUSR1, then copies it all to OUT until EOF; so
# the writer blocks once the pipe is full.
start_blocked_reader() {
	start_bg "$1" "$PY" -c 'import shutil, signal, sys
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
with open(sys.argv[1], "rb") as f:
    signal.sigwait([signal.SIGUSR1])
    with open(sys.argv[2], "wb") as o:
        shutil.copyfileobj(f, o)' "$2" "$3"
}

# consumer_prefetch QUEUE: the prefetch count of QUEUE's consumer(s).
consumer_prefetch() {
	local out
	out=$(rmqctl -q list_consumers queue_name prefetch_count) || return 1
	awk -v q="$1" -F '\t' '$1 == q { print $2 }' <<<"$out"
}

# queue_consumers_is QUEUE N: exactly N consumers (for wait_until).
queue_consumers_is() {
	[ "$(queue_consumers "$1")" = "$2" ]
}

# queue_unacked_is QUEUE N: exactly N delivered and unacknowledged.
queue_unacked_is() {
	[ "$(queue_info "$1" messages_unacknowledged)" = "$2" ]
}

# queue_gone QUEUE: the broker has no such queue (for wait_until).
queue_gone() {
	local out
	out=$(rmqctl -q list_queues name) || return 1
	! grep -qxF -- "$1" <<<"$out"
}
