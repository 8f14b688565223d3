#!/usr/bin/env bats
# amqp-pub: stdin lines into RabbitMQ with confirms, nothing lost, against
# the real broker (and tests/fakes/tcp-proxy.py to cut the network).

bats_require_minimum_version 1.5.0
load helpers/common
load helpers/amqp

setup_file() {
	amqp_setup_file
}

teardown() {
	amqp_teardown
}

@test "round trip: 10,000 lines through amqp-pub, the broker and amqp-sub" {
	new_exchange
	lines 10000 "$BATS_TEST_TMPDIR/in"
	start_sub sub -e "$AMQP_X" -c 10000
	run -0 timeout 120 amqp-pub -e "$AMQP_X" <"$BATS_TEST_TMPDIR/in"
	wait_bg sub 120
	sort -u "$BATS_TEST_TMPDIR/sub.out" >"$BATS_TEST_TMPDIR/got"
	sort "$BATS_TEST_TMPDIR/in" >"$BATS_TEST_TMPDIR/want"
	run -0 diff "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
}

@test "routing: -k type to two consumers bound to channel.# and stream.#" {
	new_exchange
	lines 40 "$BATS_TEST_TMPDIR/in"
	start_sub chan -e "$AMQP_X" -b 'channel.#' -c 30
	start_sub stream -e "$AMQP_X" -b 'stream.#' -c 10
	run -0 timeout 30 amqp-pub -e "$AMQP_X" -k type <"$BATS_TEST_TMPDIR/in"
	wait_bg chan 30
	wait_bg stream 30
	run -0 jq -e -s 'length == 30 and all(.type | startswith("channel."))' "$BATS_TEST_TMPDIR/chan.out"
	run -0 jq -e -s 'length == 10 and all(.type == "stream.online")' "$BATS_TEST_TMPDIR/stream.out"
}

@test "message properties: application/json, persistent, message_id = id, type, timestamp" {
	local q
	q=$(tname)
	new_exchange
	durable_queue "$q" "$AMQP_X" '#'
	run -0 timeout 20 amqp-pub -e "$AMQP_X" \
		<<<$'{"id":"abc-1","type":"channel.raid","n":1}\n{"type":"stream.online"}'
	run -0 --separate-stderr timeout 20 "$PY" "$SV_FAKES/amqp-peek.py" "$q"
	jq -e --argjson now "$(date +%s)" '
	  .properties.content_type == "application/json" and
	  .properties.delivery_mode == 2 and
	  .properties.message_id == "abc-1" and
	  .properties.type == "channel.raid" and
	  ((.properties.timestamp - $now) | fabs) < 120 and
	  .routing_key == "channel.raid" and
	  .body == "{\"id\":\"abc-1\",\"type\":\"channel.raid\",\"n\":1}"' <<<"$output" ||
		fail "$output"
	run -0 --separate-stderr timeout 20 "$PY" "$SV_FAKES/amqp-peek.py" "$q"
	jq -e '(.properties | has("message_id") | not) and .properties.type == "stream.online"' \
		<<<"$output" || fail "$output"
	run -1 --separate-stderr timeout 20 "$PY" "$SV_FAKES/amqp-peek.py" "$q"
}

@test "-r KEY, -k dotted path, and the fallback key with a warning" {
	new_exchange
	start_sub fixed -e "$AMQP_X" -b fixed.key -c 1
	start_sub nested -e "$AMQP_X" -b alice -c 1
	start_sub fallback -e "$AMQP_X" -b nowhere -c 1
	run -0 timeout 20 amqp-pub -e "$AMQP_X" -r fixed.key <<<'{"n":1}'
	run -0 --separate-stderr timeout 20 amqp-pub -e "$AMQP_X" -k event.user --default-key nowhere \
		<<<$'{"n":2,"event":{"user":"alice"}}\n{"n":3}'
	[[ "$stderr" == *"line 2: nothing at 'event.user'; routing key 'nowhere'"* ]] || fail "$stderr"
	wait_bg fixed 20
	wait_bg nested 20
	wait_bg fallback 20
	assert_equal "$(cat "$BATS_TEST_TMPDIR/fixed.out")" '{"n":1}'
	assert_equal "$(cat "$BATS_TEST_TMPDIR/nested.out")" '{"n":2,"event":{"user":"alice"}}'
	assert_equal "$(cat "$BATS_TEST_TMPDIR/fallback.out")" '{"n":3}'
}

@test "-e '': the default exchange, routing key = queue name" {
	local q
	q=$(tname)
	AMQP_CLEAN_QUEUES+=("$q")
	start_sub sub -e '' -q "$q" -c 2
	run -0 timeout 20 amqp-pub -e '' -r "$q" <<<$'{"a":1}\n{"a":2}'
	wait_bg sub 20
	assert_equal "$(cat "$BATS_TEST_TMPDIR/sub.out")" $'{"a":1}\n{"a":2}'
}

@test "bad lines: warned with their number and skipped; --strict exits 65 after confirming the rest" {
	new_exchange
	start_sub sub -e "$AMQP_X" -c 3
	printf '%s\n' '{"type":"a","n":1}' 'not json' '[1,2]' '{"type":"a","n":2}' \
		"{\"type\":\"a\",\"long\":\"$(printf 'x%.0s' {1..200})\"}" '{"type":"a","n":3}' \
		>"$BATS_TEST_TMPDIR/in"
	run -0 --separate-stderr timeout 20 amqp-pub -e "$AMQP_X" --max-line 100 <"$BATS_TEST_TMPDIR/in"
	[[ "$stderr" == *"line 2: invalid JSON"*"skipped"* ]] || fail "$stderr"
	[[ "$stderr" == *"line 3: not a JSON object; skipped"* ]] || fail "$stderr"
	[[ "$stderr" == *"line 5: longer than 100 bytes; skipped"* ]] || fail "$stderr"
	wait_bg sub 20
	assert_equal "$(jq -c .n "$BATS_TEST_TMPDIR/sub.out" | tr '\n' ' ')" "1 2 3 "

	start_sub strict -e "$AMQP_X" -c 1
	run -65 --separate-stderr timeout 20 amqp-pub -e "$AMQP_X" --strict <"$BATS_TEST_TMPDIR/in"
	[[ "$stderr" == *"error: line 2: invalid JSON"* ]] || fail "$stderr"
	wait_bg strict 20
	assert_equal "$(jq -c .n "$BATS_TEST_TMPDIR/strict.out")" 1
}

@test "a broker that refuses the login: exit 77, the password never shown" {
	run -77 --separate-stderr timeout 20 amqp-pub -u amqp://guest:Wr0ngSecret@localhost:5672 <<<'{"a":1}'
	[[ "$stderr" == *"403: ACCESS_REFUSED"* ]] || fail "$stderr"
	[[ "$stderr" != *Wr0ngSecret* ]] || fail "password in the log: $stderr"
	printf 'An0therSecret\n' >"$BATS_TEST_TMPDIR/pw"
	run -77 --separate-stderr timeout 20 amqp-pub -vv -u amqp://guest@localhost:5672 \
		--password-file "$BATS_TEST_TMPDIR/pw" <<<'{"a":1}'
	[[ "$stderr" != *An0therSecret* ]] || fail "password in the log: $stderr"
	run -66 --separate-stderr amqp-pub --password-file "$BATS_TEST_TMPDIR/nope" </dev/null
}

@test "a missing broker with --no-retry: exit 69 at once; without: 69 after --drain-timeout" {
	local port
	port=$(free_port)
	run -69 --separate-stderr timeout 20 amqp-pub --no-retry -u "amqp://127.0.0.1:$port" <<<'{"a":1}'
	[[ "$stderr" == *"Connection refused"* ]] || fail "$stderr"
	run -69 --separate-stderr timeout 20 amqp-pub --drain-timeout 0.5 -u "amqp://127.0.0.1:$port" <<<'{"a":1}'
	[[ "$stderr" == *"1 messages not confirmed within the drain timeout"* ]] || fail "$stderr"
	# nothing read, nothing to lose: EOF is a clean exit even without a broker
	run -0 timeout 20 amqp-pub -u "amqp://127.0.0.1:$port" </dev/null
}

@test "bad URLs and option conflicts: exit 64" {
	run -64 --separate-stderr amqp-pub -u http://localhost </dev/null
	[[ "$stderr" == *"not an amqp:// or amqps:// URL"* ]] || fail "$stderr"
	run -64 --separate-stderr amqp-pub -u 'amqp://u:S3cretPw@host:notaport' </dev/null
	[[ "$stderr" != *S3cretPw* ]] || fail "$stderr"
	run -64 amqp-pub -r a -k b </dev/null
	run -64 amqp-pub --cacert /dev/null -u amqp://localhost </dev/null
	run -64 amqp-pub --window 0 </dev/null
	AMQP_URL=ftp://x run -64 amqp-pub </dev/null
}

@test "failover: the second -u is used when the first is down" {
	local port
	port=$(free_port)
	new_exchange
	start_sub sub -e "$AMQP_X" -c 1
	run -0 --separate-stderr timeout 20 amqp-pub -v -u "amqp://127.0.0.1:$port" \
		-u amqp://localhost:5672 -e "$AMQP_X" <<<'{"a":1}'
	[[ "$stderr" == *"trying the next broker"* ]] || fail "$stderr"
	wait_bg sub 20
	assert_equal "$(cat "$BATS_TEST_TMPDIR/sub.out")" '{"a":1}'
}

@test "--mandatory: an unroutable line is an error; with --strict exit 65" {
	new_exchange
	run -0 --separate-stderr timeout 20 amqp-pub -e "$AMQP_X" --mandatory -r nobody <<<'{"a":1}'
	[[ "$stderr" == *"line 1: returned by the broker: 312 NO_ROUTE"* ]] || fail "$stderr"
	run -65 --separate-stderr timeout 20 amqp-pub -e "$AMQP_X" --mandatory --strict -r nobody <<<'{"a":1}'
}

@test "an exchange of another type: exit 78 with the broker's reason" {
	run -78 --separate-stderr timeout 20 amqp-pub -e amq.direct <<<'{"a":1}'
	[[ "$stderr" == *"406: PRECONDITION_FAILED"* ]] || fail "$stderr"
}

# frozen_pub DRAIN_ARGS...: amqp-pub through a proxy whose link is then
# frozen, fed 100 lines it has read (nothing unread in its FIFO), and sent
# SIGTERM; the test then thaws the link or not.
frozen_pub() {
	start_proxy proxy
	mkfifo "$BATS_TEST_TMPDIR/fifo"
	start_bg_stdin pub "$BATS_TEST_TMPDIR/fifo" amqp-pub -v -e "$AMQP_X" \
		-u "amqp://127.0.0.1:$PROXY_PORT" "$@"
	exec 5>"$BATS_TEST_TMPDIR/fifo"
	wait_until 20 grep -q "connected to" "$BATS_TEST_TMPDIR/pub.err"
	kill -HUP "$(bg_pid proxy)"
	lines 100 /dev/fd/5
	wait_until 20 fifo_drained "$BATS_TEST_TMPDIR/fifo" || fail "amqp-pub did not read its input"
	kill -TERM "$(bg_pid pub)"
	wait_until 20 grep -q "stopping: waiting up to .* s for 100 confirms" "$BATS_TEST_TMPDIR/pub.err" ||
		fail "no drain started: $(cat "$BATS_TEST_TMPDIR/pub.err")"
}

@test "SIGTERM drains: 100 lines read while the link is frozen are confirmed once it thaws, exit 0" {
	local q
	q=$(tname)
	new_exchange
	durable_queue "$q" "$AMQP_X" '#'
	frozen_pub
	# still waiting, and nothing has reached the broker yet
	bg_running pub || fail "amqp-pub exited before its confirms came"
	assert_equal "$(queue_messages "$q")" 0
	kill -USR2 "$(bg_pid proxy)"
	wait_bg pub 20 || fail "pub exited $?"
	exec 5>&-
	assert_equal "$(queue_messages "$q")" 100
	grep -q "100 lines read, 100 confirmed" "$BATS_TEST_TMPDIR/pub.err" ||
		fail "$(cat "$BATS_TEST_TMPDIR/pub.err")"
}

@test "SIGTERM with the link frozen past --drain-timeout 1: exit 69, saying what is unconfirmed" {
	local st=0 t0
	new_exchange
	frozen_pub --drain-timeout 1
	t0=$SECONDS
	wait_bg pub 20 || st=$?
	exec 5>&-
	assert_equal "$st" 69
	# no close handshake with a link that does not answer
	[ $((SECONDS - t0)) -le 4 ] || fail "took $((SECONDS - t0)) s to exit"
	grep -q "error: 100 messages not confirmed within the drain timeout (1.0 s), from line 1 on: amqp://127.0.0.1:$PROXY_PORT did not confirm them in time; they may or may not have reached the broker" \
		"$BATS_TEST_TMPDIR/pub.err" || fail "$(cat "$BATS_TEST_TMPDIR/pub.err")"
}

@test "nack: a queue at max-length 5 with reject-publish; each nack logged, exit 0; --strict exits 69" {
	local q
	q=$(tname)
	new_exchange
	durable_queue "$q" "$AMQP_X" '#'
	queue_policy "$q" "$(tname p)" '{"max-length":5,"overflow":"reject-publish"}'
	lines 8 "$BATS_TEST_TMPDIR/in"
	run -0 --separate-stderr timeout 20 amqp-pub -v -e "$AMQP_X" <"$BATS_TEST_TMPDIR/in"
	assert_equal "$(grep -c 'error: line [0-9]*: the broker refused it (nack)$' <<<"$stderr")" 3
	[[ "$stderr" == *"line 6: the broker refused it (nack)"*"line 7: "*"line 8: "* ]] || fail "$stderr"
	[[ "$stderr" == *"8 lines read, 5 confirmed, 0 republished, 3 nacked"* ]] || fail "$stderr"
	assert_equal "$(queue_messages "$q")" 5
	# the queue is full now: every line is refused
	run -69 --separate-stderr timeout 20 amqp-pub -e "$AMQP_X" --strict <"$BATS_TEST_TMPDIR/in"
	assert_equal "$(grep -c 'error: line [0-9]*: the broker refused it (nack)$' <<<"$stderr")" 8
	assert_equal "$(queue_messages "$q")" 5
}

@test "a URL with a user but no password: a warning that 'guest' is sent; none with a password" {
	local q
	q=$(tname)
	run -0 --separate-stderr timeout 20 amqp-pub -e '' -r "$q" -u amqp://guest@localhost:5672 <<<'{"a":1}'
	assert_equal "$stderr" "amqp-pub: warn: amqp://localhost:5672: the URL names the user 'guest' but no password, so the password 'guest' is sent (give it in the URL or with --password-file)"
	printf 'guest\n' >"$BATS_TEST_TMPDIR/pw"
	run -0 --separate-stderr timeout 20 amqp-pub -e '' -r "$q" -u amqp://guest@localhost:5672 \
		--password-file "$BATS_TEST_TMPDIR/pw" <<<'{"a":1}'
	assert_equal "$stderr" ""
	run -0 --separate-stderr timeout 20 amqp-pub -e '' -r "$q" -u amqp://guest:guest@localhost:5672 <<<'{"a":1}'
	assert_equal "$stderr" ""
	# amqp-sub shares the URL handling, AMQP_URL too (the queue is missing: 69)
	AMQP_URL=amqp://guest@localhost:5672 run -69 --separate-stderr timeout 20 amqp-sub -q "$q" --no-declare
	[[ "$stderr" == "amqp-sub: warn: amqp://localhost:5672: the URL names the user 'guest' but no password"* ]] || fail "$stderr"
}

@test "network cut (proxy): reconnect and republish, every line arrives" {
	local q
	q=$(tname)
	new_exchange
	durable_queue "$q" "$AMQP_X" '#'
	start_proxy proxy
	lines 3000 "$BATS_TEST_TMPDIR/in"
	mkfifo "$BATS_TEST_TMPDIR/fifo"
	start_bg_stdin pub "$BATS_TEST_TMPDIR/fifo" amqp-pub -v -e "$AMQP_X" \
		-u "amqp://127.0.0.1:$PROXY_PORT" --drain-timeout 60
	exec 5>"$BATS_TEST_TMPDIR/fifo"
	head -n 1000 "$BATS_TEST_TMPDIR/in" >&5
	wait_until 20 grep -q "connected to" "$BATS_TEST_TMPDIR/pub.err"
	kill -USR1 "$(bg_pid proxy)"
	wait_until 20 grep -q "reconnecting" "$BATS_TEST_TMPDIR/pub.err"
	# the rest is read while the link is down (until the window is full)
	# (it writes to the inherited fd 5, so amqp-pub sees no early EOF)
	start_bg feed sh -c "sed -n '1001,\$p' '$BATS_TEST_TMPDIR/in' >&5"
	exec 5>&-
	kill -USR2 "$(bg_pid proxy)"
	wait_bg feed 60 || fail "feed exited $?"
	wait_bg pub 60 || fail "pub exited $?"
	grep -q "reconnected to" "$BATS_TEST_TMPDIR/pub.err"
	start_sub check -q "$q" --no-declare -c "$(queue_messages "$q")"
	wait_bg check 60
	sort -u "$BATS_TEST_TMPDIR/check.out" >"$BATS_TEST_TMPDIR/got"
	sort "$BATS_TEST_TMPDIR/in" >"$BATS_TEST_TMPDIR/want"
	run -0 diff "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
}

@test "a frozen link is noticed by heartbeats and replaced" {
	new_exchange
	start_proxy proxy
	start_sub sub -e "$AMQP_X" -c 2
	mkfifo "$BATS_TEST_TMPDIR/fifo"
	start_bg_stdin pub "$BATS_TEST_TMPDIR/fifo" amqp-pub -v -e "$AMQP_X" --heartbeat 1 \
		-u "amqp://127.0.0.1:$PROXY_PORT"
	exec 5>"$BATS_TEST_TMPDIR/fifo"
	echo '{"n":1}' >&5
	wait_lines "$BATS_TEST_TMPDIR/sub.out" 1 20
	kill -HUP "$(bg_pid proxy)"
	echo '{"n":2}' >&5
	wait_until 20 grep -q "heartbeat" "$BATS_TEST_TMPDIR/pub.err"
	kill -USR2 "$(bg_pid proxy)"
	exec 5>&-
	wait_bg pub 60 || fail "pub exited $?"
	wait_bg sub 20
	grep -qx '{"n":2}' "$BATS_TEST_TMPDIR/sub.out"
}

@test "broker restart (stop_app/start_app) while streaming 50,000 lines: all in the durable queue" {
	local q n
	q=$(tname)
	new_exchange
	durable_queue "$q" "$AMQP_X" '#'
	lines 50000 "$BATS_TEST_TMPDIR/in"
	mkfifo "$BATS_TEST_TMPDIR/fifo"
	start_bg_stdin pub "$BATS_TEST_TMPDIR/fifo" amqp-pub -v -e "$AMQP_X" --drain-timeout 120
	# feed the lines at a steady pace, so the restart lands mid-stream
	start_bg feed "$PY" -c '
import sys, time
with open(sys.argv[1]) as f, open(sys.argv[2], "w") as o:
    for i, line in enumerate(f):
        o.write(line)
        if i % 1000 == 999:
            o.flush()
            time.sleep(0.15)' "$BATS_TEST_TMPDIR/in" "$BATS_TEST_TMPDIR/fifo"
	wait_until 30 grep -q "connected to" "$BATS_TEST_TMPDIR/pub.err"
	wait_until 30 queue_has "$q" 3000
	AMQP_RESTARTED=1
	rmqctl -q stop_app
	wait_until 30 grep -q "reconnecting" "$BATS_TEST_TMPDIR/pub.err"
	rmqctl -q start_app
	rmqctl -q await_startup --timeout 60
	wait_bg feed 120 || fail "feed exited $?"
	wait_bg pub 180 || fail "pub exited $?"
	grep -q "reconnected to" "$BATS_TEST_TMPDIR/pub.err"
	n=$(queue_messages "$q")
	[ "$n" -ge 50000 ] || fail "only $n messages in $q"
	start_sub check -q "$q" --no-declare -c "$n"
	wait_bg check 120
	sort -u "$BATS_TEST_TMPDIR/check.out" >"$BATS_TEST_TMPDIR/got"
	sort "$BATS_TEST_TMPDIR/in" >"$BATS_TEST_TMPDIR/want"
	run -0 diff "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
}

@test "amqps://: verified against SSL_CERT_FILE or --cacert; client certificates" {
	new_exchange
	start_proxy tls --tls-cert "$SV_CERTS/server.pem" --tls-key "$SV_CERTS/server.key"
	start_sub sub -e "$AMQP_X" -c 2
	SSL_CERT_FILE=$SV_CERTS/ca.pem run -0 timeout 20 amqp-pub -e "$AMQP_X" \
		-u "amqps://localhost:$PROXY_PORT" <<<'{"n":1}'
	run -69 --separate-stderr timeout 20 amqp-pub -e "$AMQP_X" --no-retry \
		-u "amqps://localhost:$PROXY_PORT" <<<'{"n":0}'
	[[ "$stderr" == *"SSL"* ]] || fail "$stderr"
	run -0 timeout 20 amqp-pub -e "$AMQP_X" --cacert "$SV_CERTS/ca.pem" \
		-u "amqps://localhost:$PROXY_PORT" <<<'{"n":2}'
	wait_bg sub 20
	assert_equal "$(cat "$BATS_TEST_TMPDIR/sub.out")" $'{"n":1}\n{"n":2}'

	start_proxy mtls --tls-cert "$SV_CERTS/server.pem" --tls-key "$SV_CERTS/server.key" \
		--client-ca "$SV_CERTS/ca.pem"
	run -69 timeout 20 amqp-pub -e "$AMQP_X" --no-retry --cacert "$SV_CERTS/ca.pem" \
		-u "amqps://localhost:$PROXY_PORT" <<<'{"n":3}'
	run -0 timeout 20 amqp-pub -e "$AMQP_X" --no-retry --cacert "$SV_CERTS/ca.pem" \
		--cert "$SV_CERTS/server.pem" --key "$SV_CERTS/server.key" \
		-u "amqps://localhost:$PROXY_PORT" <<<'{"n":4}'
}

@test "interop: a line from amqp-pub arrives through Debian's amqp-consume" {
	require_cmd amqp-consume
	local q
	q=$(tname)
	new_exchange
	durable_queue "$q" "$AMQP_X" 'interop.#'
	run -0 timeout 20 amqp-pub -e "$AMQP_X" <<<'{"type":"interop.test","n":7}'
	run -0 --separate-stderr timeout 20 amqp-consume -q "$q" -c 1 cat
	assert_equal "$output" '{"type":"interop.test","n":7}'
}
