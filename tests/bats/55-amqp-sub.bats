#!/usr/bin/env bats
# amqp-sub: messages out of RabbitMQ as lines, acknowledged only after the
# write, against the real broker.

bats_require_minimum_version 1.5.0
load helpers/common
load helpers/amqp

setup_file() {
	amqp_setup_file
}

teardown() {
	amqp_teardown
}

# publish Q FILE: lines of FILE into queue Q through the default exchange.
publish() {
	timeout 60 amqp-pub -e '' -r "$1" <"$2"
}

@test "SIGKILL mid-stream on a durable queue: the next amqp-sub gets every unacked message" {
	local q n
	q=$(tname)
	lines 3000 "$BATS_TEST_TMPDIR/in"
	durable_queue "$q" ''
	publish "$q" "$BATS_TEST_TMPDIR/in"
	mkfifo "$BATS_TEST_TMPDIR/fifo"
	# a reader that slows down after 500 lines, so the kill lands mid-stream
	start_bg reader "$PY" -c '
import sys, time
n = 0
with open(sys.argv[1]) as f, open(sys.argv[2], "w") as o:
    for line in f:
        o.write(line)
        o.flush()
        n += 1
        if n > 500:
            time.sleep(0.002)' "$BATS_TEST_TMPDIR/fifo" "$BATS_TEST_TMPDIR/part1"
	start_bg sub sh -c "exec amqp-sub -q '$q' --no-declare --prefetch 50 >'$BATS_TEST_TMPDIR/fifo'"
	wait_lines "$BATS_TEST_TMPDIR/part1" 700 30
	kill -KILL "$(bg_pid sub)"
	wait_bg sub 10 || true
	wait_bg reader 60
	n=$(wc -l <"$BATS_TEST_TMPDIR/part1")
	[ "$n" -lt 3000 ] || fail "the kill came too late ($n lines)"
	wait_until 20 queue_consumers_is "$q" 0
	n=$(queue_messages "$q")
	[ "$n" -gt 0 ]
	start_sub rest -q "$q" --no-declare -c "$n"
	wait_bg rest 60
	cat "$BATS_TEST_TMPDIR/part1" "$BATS_TEST_TMPDIR/rest.out" | sort -u >"$BATS_TEST_TMPDIR/got"
	sort "$BATS_TEST_TMPDIR/in" >"$BATS_TEST_TMPDIR/want"
	run -0 diff "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
}

@test "-c N: exits after N, the prefetched rest stays queued; --no-ack -c N loses it" {
	local q n
	q=$(tname)
	AMQP_CLEAN_QUEUES+=("$q")
	lines 100 "$BATS_TEST_TMPDIR/in"
	durable_queue "$q" ''
	publish "$q" "$BATS_TEST_TMPDIR/in"
	run -0 --separate-stderr timeout 20 amqp-sub -q "$q" --no-declare -c 10
	assert_equal "${#lines[@]}" 10
	assert_equal "$output" "$(head -n 10 "$BATS_TEST_TMPDIR/in")"
	assert_equal "$(queue_messages "$q")" 90
	run -0 --separate-stderr timeout 20 amqp-sub -q "$q" --no-declare --no-ack -c 10
	assert_equal "${#lines[@]}" 10
	wait_until 10 queue_consumers_is "$q" 0
	# what the broker had pushed beyond the 10 is gone
	n=$(queue_messages "$q")
	[ "$n" -lt 90 ] || fail "--no-ack lost nothing? $n left"
}

@test "a closed stdout stops without acknowledging the unwritten message, exit 0" {
	local q n w
	q=$(tname)
	AMQP_CLEAN_QUEUES+=("$q")
	lines 50 "$BATS_TEST_TMPDIR/in"
	durable_queue "$q" ''
	publish "$q" "$BATS_TEST_TMPDIR/in"
	run -0 --separate-stderr bash -c "set -o pipefail; timeout 20 amqp-sub -v -q '$q' --no-declare --prefetch 1 | head -n 3"
	assert_equal "${#lines[@]}" 3
	w=$(sed -n 's/.*info: \([0-9]*\) messages written.*/\1/p' <<<"$stderr")
	[ -n "$w" ] || fail "$stderr"
	[[ "$stderr" != *error* ]] || fail "$stderr"
	wait_until 10 queue_consumers_is "$q" 0
	n=$(queue_messages "$q")
	assert_equal "$n" $((50 - w))
}

@test "bodies with a newline: JSON is re-serialised, anything else rejected and nacked" {
	local q
	q=$(tname)
	AMQP_CLEAN_QUEUES+=("$q")
	durable_queue "$q" ''
	require_cmd amqp-publish
	printf '{"a":\n 1}\n' | timeout 10 amqp-publish -r "$q"
	printf 'not\njson' | timeout 10 amqp-publish -r "$q"
	printf 'plain text\n' | timeout 10 amqp-publish -r "$q"
	run -0 --separate-stderr timeout 20 amqp-sub -q "$q" --no-declare -c 2
	assert_equal "$output" $'{"a":1}\nplain text'
	[[ "$stderr" == *"has a newline and is not JSON"*"rejected"* ]] || fail "$stderr"
	assert_equal "$(queue_messages "$q")" 0
}

@test "interop: a message from Debian's amqp-publish arrives through amqp-sub" {
	require_cmd amqp-publish
	new_exchange
	start_sub sub -e "$AMQP_X" -b 'channel.#' -c 1
	timeout 10 amqp-publish -e "$AMQP_X" -r channel.follow -b '{"type":"channel.follow"}'
	wait_bg sub 20
	assert_equal "$(cat "$BATS_TEST_TMPDIR/sub.out")" '{"type":"channel.follow"}'
}

@test "SIGTERM while a write blocks: the line in flight is written and acked, the rest requeued, exit 0" {
	local q n
	q=$(tname)
	lines 2000 "$BATS_TEST_TMPDIR/in"
	durable_queue "$q" ''
	publish "$q" "$BATS_TEST_TMPDIR/in"
	mkfifo "$BATS_TEST_TMPDIR/fifo"
	start_blocked_reader reader "$BATS_TEST_TMPDIR/fifo" "$BATS_TEST_TMPDIR/got"
	start_bg sub sh -c "exec amqp-sub -v -q '$q' --no-declare >'$BATS_TEST_TMPDIR/fifo'"
	# the pipe is full: amqp-sub is stuck in the middle of a line
	wait_until 20 fifo_full "$BATS_TEST_TMPDIR/fifo" || fail "the pipe never filled"
	kill -TERM "$(bg_pid sub)"
	kill -USR1 "$(bg_pid reader)"
	wait_bg sub 20 || fail "amqp-sub exited $?"
	wait_bg reader 20 || fail "reader exited $?"
	n=$(wc -l <"$BATS_TEST_TMPDIR/got")
	[ "$n" -gt 300 ] && [ "$n" -lt 2000 ] || fail "$n lines written"
	grep -q "info: $n messages written" "$BATS_TEST_TMPDIR/sub.err" || fail "$(cat "$BATS_TEST_TMPDIR/sub.err")"
	# the last line is whole, and every line written was acknowledged:
	# the queue holds exactly the others
	assert_equal "$(tail -c 1 "$BATS_TEST_TMPDIR/got" | od -An -c | tr -d ' ')" '\n'
	wait_until 10 queue_consumers_is "$q" 0
	assert_equal "$(queue_messages "$q")" $((2000 - n))
	start_sub rest -q "$q" --no-declare -c $((2000 - n))
	wait_bg rest 60
	sort "$BATS_TEST_TMPDIR/got" "$BATS_TEST_TMPDIR/rest.out" >"$BATS_TEST_TMPDIR/all"
	sort "$BATS_TEST_TMPDIR/in" >"$BATS_TEST_TMPDIR/want"
	run -0 diff "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/all"
}

@test "default queue: server-named, exclusive, auto-delete; 256 unacked (the --prefetch default) while the reader blocks" {
	local q
	new_exchange
	mkfifo "$BATS_TEST_TMPDIR/fifo"
	start_blocked_reader reader "$BATS_TEST_TMPDIR/fifo" "$BATS_TEST_TMPDIR/got"
	start_bg sub sh -c "exec amqp-sub -v -e '$AMQP_X' >'$BATS_TEST_TMPDIR/fifo'"
	wait_until 20 grep -q consuming "$BATS_TEST_TMPDIR/sub.err" || fail "$(cat "$BATS_TEST_TMPDIR/sub.err")"
	q=$(sed -n 's/.*consuming from "\(.*\)"$/\1/p' "$BATS_TEST_TMPDIR/sub.err")
	[[ "$q" == amq.gen-* ]] || fail "queue '$q'"
	assert_equal "$(queue_info "$q" durable exclusive auto_delete)" "$(printf 'false\ttrue\ttrue')"
	lines 2000 "$BATS_TEST_TMPDIR/in"
	run -0 timeout 60 amqp-pub -e "$AMQP_X" <"$BATS_TEST_TMPDIR/in"
	wait_until 20 fifo_full "$BATS_TEST_TMPDIR/fifo" || fail "the pipe never filled"
	wait_until 20 queue_unacked_is "$q" 256 || fail "unacked: $(queue_info "$q" messages_unacknowledged)"
	# the broker sends no more than the consumer's prefetch
	assert_equal "$(consumer_prefetch "$q")" 256
	# the reader goes: amqp-sub stops on the broken pipe, the queue goes too
	stop_bg reader KILL
	wait_bg sub 20 || fail "amqp-sub exited $?"
	wait_until 10 queue_gone "$q" || fail "$q is still there"
}

@test "broker loss: reconnect, re-declare the exclusive queue, re-bind, continue" {
	new_exchange
	start_proxy proxy
	start_sub sub -e "$AMQP_X" -b 'channel.#' -c 2 -u "amqp://127.0.0.1:$PROXY_PORT"
	run -0 timeout 10 amqp-pub -e "$AMQP_X" <<<'{"type":"channel.follow","n":1}'
	wait_lines "$BATS_TEST_TMPDIR/sub.out" 1 20
	kill -USR1 "$(bg_pid proxy)"
	wait_until 20 grep -q reconnecting "$BATS_TEST_TMPDIR/sub.err"
	kill -USR2 "$(bg_pid proxy)"
	wait_until 20 grep -q "reconnected to" "$BATS_TEST_TMPDIR/sub.err"
	run -0 timeout 10 amqp-pub -e "$AMQP_X" <<<'{"type":"channel.follow","n":2}'
	wait_bg sub 20 || fail "amqp-sub exited $?"
	assert_equal "$(jq -c .n "$BATS_TEST_TMPDIR/sub.out" | tr '\n' ' ')" "1 2 "
}

@test "-q NAME --quorum declares a quorum queue" {
	local q
	q=$(tname)
	AMQP_CLEAN_QUEUES+=("$q")
	start_sub sub -q "$q" --quorum -c 1
	run -0 timeout 10 amqp-pub -e '' -r "$q" <<<'{"q":1}'
	wait_bg sub 20
	assert_equal "$(cat "$BATS_TEST_TMPDIR/sub.out")" '{"q":1}'
	run -0 rmqctl -q list_queues name type
	[[ "$output" == *"$q"*quorum* ]] || fail "$output"
}

@test "errors: missing queue 69, login refused 77, unreachable 69, bad URL 64" {
	local port
	port=$(free_port)
	run -69 --separate-stderr timeout 20 amqp-sub -q "$(tname)" --no-declare
	[[ "$stderr" == *"404: NOT_FOUND"* ]] || fail "$stderr"
	run -77 --separate-stderr timeout 20 amqp-sub -u amqp://guest:Wr0ngSecret@localhost
	[[ "$stderr" != *Wr0ngSecret* ]] || fail "$stderr"
	run -69 --separate-stderr timeout 20 amqp-sub --no-retry -u "amqp://127.0.0.1:$port"
	run -64 --separate-stderr amqp-sub -u amqp:/x
	run -64 --separate-stderr amqp-sub --quorum
	run -78 --separate-stderr timeout 20 amqp-sub -e amq.direct
}
