#!/usr/bin/env bats
# ws-listen: a WebSocket client that prints messages as lines, tested
# against an independent server (python3-websockets, tests/fakes/ws-peer.py).

bats_require_minimum_version 1.5.0
load helpers/common

PEER="$SV_FAKES/ws-peer.py"

# peer NAME ARGS...: a ws-peer.py server in the background; sets ADDR.
peer() {
	local name=$1
	shift
	start_bg "$name" "$PY" "$PEER" server --port-file "$BATS_TEST_TMPDIR/$name.port" "$@"
	ADDR=$(port_file_addr "$BATS_TEST_TMPDIR/$name.port")
	PORT=${ADDR##*:}
}

@test "text messages, one line each, in order; exit 0 when the server closes" {
	peer srv --send one --send 'two words' --send '{"a":1}' --close 1000
	run -0 --separate-stderr timeout 10 ws-listen "ws://$ADDR/some/path?x=1"
	assert_equal "$output" $'one\ntwo words\n{"a":1}'
	wait_lines "$BATS_TEST_TMPDIR/srv.out" 2
	run grep -x 'path /some/path?x=1' "$BATS_TEST_TMPDIR/srv.out"
	assert_success
}

@test "-c N exits 0 after N messages and closes with 1000" {
	peer srv --send a --send b --send c --send d --recv 1
	run -0 --separate-stderr timeout 10 ws-listen -c 2 "ws://$ADDR/"
	assert_equal "$output" $'a\nb'
	wait_lines "$BATS_TEST_TMPDIR/srv.out" 2
	run grep -x 'close 1000 ' "$BATS_TEST_TMPDIR/srv.out"
	assert_success
}

@test "a message with a line break: compact if JSON, else escaped" {
	peer srv --send $'{\n  "a": [1,\n 2]\n}' --send $'line one\nline\\two\r' --close 1000
	run -0 --separate-stderr timeout 10 ws-listen "ws://$ADDR/"
	assert_equal "${lines[0]}" '{"a":[1,2]}'
	assert_equal "${lines[1]}" 'line one\nline\\two\r'
	assert_equal "${#lines[@]}" 2
}

@test "fragmented messages arrive whole; pings are answered" {
	# the peer sends --send messages first, then the --fragment ones
	peer srv --send before --fragment 'frag|men|ted' --fragment 'a|b' --ping --close 1000
	run -0 --separate-stderr timeout 10 ws-listen "ws://$ADDR/"
	assert_equal "$output" $'before\nfragmented\nab'
	run grep -x pong "$BATS_TEST_TMPDIR/srv.out"
	assert_success
}

@test "binary messages: skipped with a warning, or base64 with --binary" {
	# text goes first, then binary
	peer srv --send text --send-binary 00ff10 --close 1000
	run -0 --separate-stderr timeout 10 ws-listen "ws://$ADDR/"
	assert_equal "$output" text
	[[ "$stderr" == *"binary message of 3 bytes skipped"* ]] || fail "$stderr"
	run -0 --separate-stderr timeout 10 ws-listen --binary "ws://$ADDR/"
	assert_equal "$output" $'text\nAP8Q'
}

@test "close codes: 1001 is a normal end (0), 1011 is not (75), a dropped TCP connection is 75" {
	peer srv --send x --close 1001
	run -0 --separate-stderr timeout 10 ws-listen "ws://$ADDR/"
	stop_bg srv
	peer srv2 --send x --close 1011 --reason 'it broke'
	run -75 --separate-stderr timeout 10 ws-listen "ws://$ADDR/"
	assert_equal "$output" x
	[[ "$stderr" == *"closed the connection with 1011: it broke"* ]] || fail "$stderr"
	stop_bg srv2
	# a raw server that answers 101 and hangs up without a close frame
	peer raw --hangup
	run -75 --separate-stderr timeout 10 ws-listen "ws://$ADDR/"
	[[ "$stderr" == *"connection lost"* ]] || fail "$stderr"
}

@test "wss:// with the test CA from SSL_CERT_FILE or --cafile; unverified is 69" {
	peer tls --tls-cert "$SV_CERTS/server.pem" --tls-key "$SV_CERTS/server.key" --send secure --close 1000
	run -0 --separate-stderr env SSL_CERT_FILE="$SV_CERTS/ca.pem" timeout 10 ws-listen "wss://localhost:$PORT/"
	assert_equal "$output" secure
	run -0 --separate-stderr timeout 10 ws-listen --cafile "$SV_CERTS/ca.pem" "wss://127.0.0.1:$PORT/"
	assert_equal "$output" secure
	run -69 --separate-stderr env -u SSL_CERT_FILE timeout 10 ws-listen "wss://localhost:$PORT/"
	assert_equal "$output" ""
	[[ "$stderr" == *"certificate verify failed"* ]] || fail "$stderr"
}

@test "wss:// refuses a certificate for another name" {
	# 127.0.0.2 is loopback too, but not in the certificate
	peer tls --listen 127.0.0.2:0 --tls-cert "$SV_CERTS/server.pem" --tls-key "$SV_CERTS/server.key" --send x
	run -69 --separate-stderr env SSL_CERT_FILE="$SV_CERTS/ca.pem" timeout 10 ws-listen "wss://127.0.0.2:$PORT/"
	[[ "$stderr" == *"certificate verify failed"* ]] || fail "$stderr"
}

@test "IPv6 addresses in brackets" {
	if ! "$PY" -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then
		skip "no IPv6 loopback"
	fi
	peer v6 --listen '[::1]:0' --send six --close 1000
	run -0 --separate-stderr timeout 10 ws-listen "ws://[::1]:$PORT/"
	assert_equal "$output" six
}

@test "cannot connect: 69; bad URL: 64" {
	run -69 --separate-stderr timeout 10 ws-listen --timeout 2 ws://127.0.0.1:1/
	[[ "$stderr" == *"Connection refused"* ]] || fail "$stderr"
	run -69 --separate-stderr timeout 10 ws-listen --timeout 2 ws://no-such-host.invalid/
	run -64 --separate-stderr ws-listen http://127.0.0.1:1/
	[[ "$stderr" == *"not a ws:// or wss:// URL"* ]] || fail "$stderr"
	run -64 --separate-stderr ws-listen 'ws://127.0.0.1:99999/'
	run -64 --separate-stderr ws-listen 'ws://user:pw@127.0.0.1/'
	run -64 --separate-stderr ws-listen 'ws://127.0.0.1/a b'
	run -64 --separate-stderr ws-listen
	run -64 --separate-stderr ws-listen -c 0 ws://127.0.0.1/
	run -64 --separate-stderr ws-listen -H 'Upgrade: h2c' ws://127.0.0.1:1/
	run -64 --separate-stderr ws-listen -H 'no colon' ws://127.0.0.1:1/
}

@test "HTTP answers other than 101: 401 is 77, 404 and redirects are 69" {
	peer s401 --status 401
	run -77 --separate-stderr timeout 10 ws-listen "ws://$ADDR/"
	[[ "$stderr" == *"HTTP 401"* ]] || fail "$stderr"
	stop_bg s401
	peer s404 --status 404
	run -69 --separate-stderr timeout 10 ws-listen "ws://$ADDR/"
	[[ "$stderr" == *"HTTP 404"* ]] || fail "$stderr"
	stop_bg s404
	peer s301 --status 301 --location ws://elsewhere.example/
	run -69 --separate-stderr timeout 10 ws-listen "ws://$ADDR/"
	[[ "$stderr" == *"HTTP 301 redirect to ws://elsewhere.example/ refused"* ]] || fail "$stderr"
}

@test "protocol violations by the server are 76" {
	peer bad --bad-accept
	run -76 --separate-stderr timeout 10 ws-listen "ws://$ADDR/"
	[[ "$stderr" == *"Sec-WebSocket-Accept"* ]] || fail "$stderr"
	stop_bg bad
	# a masked frame from a server: we close with 1002
	peer masked --raw-masked hello
	run -76 --separate-stderr timeout 10 ws-listen "ws://$ADDR/"
	[[ "$stderr" == *"closed with 1002"* ]] || fail "$stderr"
	wait_lines "$BATS_TEST_TMPDIR/masked.out" 1
	run grep -x 'close 1002 ' "$BATS_TEST_TMPDIR/masked.out"
	assert_success
	stop_bg masked
	# invalid UTF-8 in a text message: we close with 1007
	peer utf8 --raw 8102fffe
	run -76 --separate-stderr timeout 10 ws-listen "ws://$ADDR/"
	[[ "$stderr" == *"closed with 1007"* ]] || fail "$stderr"
	wait_lines "$BATS_TEST_TMPDIR/utf8.out" 1
	run grep -x 'close 1007 ' "$BATS_TEST_TMPDIR/utf8.out"
	assert_success
	stop_bg utf8
	# over --max-message: 1009
	peer big --raw 817e0100"$(head -c 256 /dev/zero | od -An -v -tx1 | tr -d ' \n' | sed 's/00/61/g')"
	run -76 --separate-stderr timeout 10 ws-listen --max-message 200 "ws://$ADDR/"
	[[ "$stderr" == *"closed with 1009"* ]] || fail "$stderr"
}

@test "--header sends request headers; @FILE keeps them off the command line" {
	peer srv --show-header X-Test --show-header Authorization --send x --close 1000
	printf 'Authorization: Bearer s3cr3t-t0ken\n' >"$BATS_TEST_TMPDIR/h"
	run -0 --separate-stderr timeout 10 ws-listen -v -v -H 'X-Test: yes' --header "@$BATS_TEST_TMPDIR/h" "ws://$ADDR/"
	assert_equal "$output" x
	run grep -x 'header X-Test yes' "$BATS_TEST_TMPDIR/srv.out"
	assert_success
	run grep -x 'header Authorization Bearer s3cr3t-t0ken' "$BATS_TEST_TMPDIR/srv.out"
	assert_success
	assert_no_secret s3cr3t-t0ken <(printf '%s' "$stderr")
}

@test "SIGTERM closes with 1000 and exits 0" {
	peer srv
	start_bg l ws-listen "ws://$ADDR/"
	wait_lines "$BATS_TEST_TMPDIR/srv.out" 1
	stop_bg l TERM
	assert_equal "$(cat "$BATS_TEST_TMPDIR/l.status")" 0
	wait_lines "$BATS_TEST_TMPDIR/srv.out" 2
	run grep -x 'close 1000 ' "$BATS_TEST_TMPDIR/srv.out"
	assert_success
}

@test "| head -1 ends quietly with status 0" {
	peer srv --stream
	run -0 bash -c 'ws-listen "$1" 2>"$2" | head -n 1 >/dev/null; echo "${PIPESTATUS[0]}"' _ "ws://$ADDR/" "$BATS_TEST_TMPDIR/err"
	assert_output 0
	[ ! -s "$BATS_TEST_TMPDIR/err" ] || fail "stderr: $(cat "$BATS_TEST_TMPDIR/err")"
}
