#!/usr/bin/env bats
# ws-broadcast: stdin lines to WebSocket clients, with filters, replay,
# dedupe, tokens, slow-client limits, the page and /healthz. Clients are
# ws-listen and an independent one (python3-websockets and raw sockets,
# tests/fakes/ws-peer.py).

bats_require_minimum_version 1.5.0
load helpers/common

PEER="$SV_FAKES/ws-peer.py"

setup() {
	FIFO="$BATS_TEST_TMPDIR/in"
	mkfifo "$FIFO"
}

# wsb ARGS...: ws-broadcast reading a FIFO that a background writer holds
# open (so input ends only with end_input); sets ADDR.
wsb() {
	rm -f "$BATS_TEST_TMPDIR/wsb.port"
	start_bg hold bash -c 'exec sleep 600 >"$1"' _ "$FIFO"
	start_bg_stdin wsb "$FIFO" ws-broadcast -v --listen 127.0.0.1:0 \
		--port-file "$BATS_TEST_TMPDIR/wsb.port" "$@"
	ADDR=$(port_file_addr "$BATS_TEST_TMPDIR/wsb.port")
}

feed() {
	printf '%s\n' "$@" >"$FIFO"
}

end_input() {
	stop_bg hold
}


# raw_http REQUEST: the whole answer to REQUEST (printf escapes), sent
# over bash's /dev/tcp, so nothing interprets the answer.
raw_http() {
	timeout 10 bash -c 'exec 3<>"/dev/tcp/${1%:*}/${1##*:}" &&
		printf "$2" >&3 && cat <&3' _ "$ADDR" "$1"
}

# wait_clients N: until ws-broadcast counts N clients.
wait_clients() {
	wait_until 15 healthz_jq "$ADDR" -e ".clients == $1"
}

# ev ID TYPE [JQ]: an envelope with that id and type, changed by JQ.
ev() {
	twitch-trigger "$2" | jq -c --arg id "$1" ".id = \$id | ${3:-.}"
}

@test "every client gets every line in order; at end of input 1001 and exit 0" {
	wsb
	start_bg l1 ws-listen -c 5 "ws://$ADDR/"
	start_bg l2 ws-listen "ws://$ADDR/any/path"
	start_bg py "$PY" "$PEER" client "ws://$ADDR/" --count 5
	wait_clients 3
	twitch-trigger --random --count 5 --seed 3 >"$BATS_TEST_TMPDIR/sent"
	cat "$BATS_TEST_TMPDIR/sent" >"$FIFO"
	wait_bg l1
	run -0 diff "$BATS_TEST_TMPDIR/sent" "$BATS_TEST_TMPDIR/l1.out"
	end_input
	wait_bg wsb
	wait_bg l2
	run -0 diff "$BATS_TEST_TMPDIR/sent" "$BATS_TEST_TMPDIR/l2.out"
	wait_bg py
	run -0 bash -c "grep '^msg ' '$BATS_TEST_TMPDIR/py.out' | cut -c5- | diff '$BATS_TEST_TMPDIR/sent' -"
	run grep -x 'close 1001 server going away' "$BATS_TEST_TMPDIR/py.out"
	assert_success
	run grep -c . "$BATS_TEST_TMPDIR/wsb.out"
	assert_output 0
}

@test "?types= filters by event type (CLI aliases too); ?channel= by broadcaster" {
	wsb
	start_bg types ws-listen -c 2 "ws://$ADDR/?types=channel.raid,follow"
	start_bg bob ws-listen -c 2 "ws://$ADDR/?channel=Bob"
	start_bg both ws-listen -c 1 "ws://$ADDR/?types=channel.cheer&channel=bob"
	wait_clients 3
	feed "$(ev 1 follow '.event.broadcaster_user_login = "alice"')" \
		"$(ev 2 cheer '.event.broadcaster_user_login = "bob"')" \
		"$(ev 3 raid '.event.to_broadcaster_user_login = "bob"')" \
		"$(ev 4 sub '.event.broadcaster_user_login = "carol"')"
	wait_bg types
	wait_bg bob
	wait_bg both
	run -0 jq -r .id "$BATS_TEST_TMPDIR/types.out"
	assert_equal "$output" $'1\n3'
	run -0 jq -r .id "$BATS_TEST_TMPDIR/bob.out"
	assert_equal "$output" $'2\n3'
	run -0 jq -r .id "$BATS_TEST_TMPDIR/both.out"
	assert_equal "$output" 2
}

@test "--replay N: a new client first gets the last N matching events" {
	wsb --replay 2
	feed "$(ev a follow)" "$(ev b cheer)" "$(ev c follow)" "$(ev d raid)" "$(ev e follow)"
	wait_until 10 healthz_jq "$ADDR" -e ".events == 5"
	run -0 --separate-stderr timeout 10 ws-listen -c 2 "ws://$ADDR/"
	assert_equal "$(jq -r .id <<<"$output")" $'d\ne'
	run -0 --separate-stderr timeout 10 ws-listen -c 2 "ws://$ADDR/?types=channel.follow"
	assert_equal "$(jq -r .id <<<"$output")" $'c\ne'
	# replayed first, then live
	start_bg l ws-listen -c 2 "ws://$ADDR/?types=channel.raid"
	wait_lines "$BATS_TEST_TMPDIR/l.out" 1
	feed "$(ev f raid)"
	wait_bg l
	assert_equal "$(jq -r .id "$BATS_TEST_TMPDIR/l.out")" $'d\nf'
}

@test "an id already sent is dropped (--dedupe), --dedupe 0 sends it again" {
	wsb
	start_bg l ws-listen -c 3 "ws://$ADDR/"
	wait_clients 1
	feed "$(ev x follow)" "$(ev x follow)" "$(ev y cheer)" "$(ev x raid)" "$(ev z cheer)"
	wait_bg l
	assert_equal "$(jq -r .id "$BATS_TEST_TMPDIR/l.out")" $'x\ny\nz'
	run -0 healthz_jq "$ADDR" -r .duplicates
	assert_output 2
	end_input
	wait_bg wsb
	stop_all_bg
	rm -f "$FIFO" && mkfifo "$FIFO"
	wsb --dedupe 0
	start_bg l2 ws-listen -c 2 "ws://$ADDR/"
	wait_clients 1
	feed "$(ev x follow)" "$(ev x follow)"
	wait_bg l2
	assert_equal "$(jq -r .id "$BATS_TEST_TMPDIR/l2.out")" $'x\nx'
}

@test "--token-file: without the token 401 (exit 77), with it events flow; never logged" {
	printf 'T0ps3cret-token\n' >"$BATS_TEST_TMPDIR/token"
	wsb --token-file "$BATS_TEST_TMPDIR/token" -v -v
	run -77 --separate-stderr timeout 10 ws-listen "ws://$ADDR/"
	[[ "$stderr" == *"HTTP 401"* ]] || fail "$stderr"
	run -77 --separate-stderr timeout 10 ws-listen "ws://$ADDR/?token=T0ps3cret-tokeX"
	run -77 --separate-stderr timeout 10 ws-listen "ws://$ADDR/?token=T0ps3cret-token-longer"
	start_bg l ws-listen -c 1 "ws://$ADDR/?types=channel.follow&token=T0ps3cret%2Dtoken"
	wait_clients 1
	feed "$(ev t1 follow)"
	wait_bg l
	assert_equal "$(jq -r .id "$BATS_TEST_TMPDIR/l.out")" t1
	# the page and /healthz need no token
	run -0 curl --max-time 10 -sf -o /dev/null "http://$ADDR/"
	assert_no_secret T0ps3cret-token "$BATS_TEST_TMPDIR/wsb.err" "$BATS_TEST_TMPDIR/l.err"
}

@test "--origin: browsers from other origins get 403; clients without Origin pass" {
	wsb --origin http://localhost:8080 --origin https://overlay.example
	run -1 --separate-stderr timeout 10 "$PY" "$PEER" client "ws://$ADDR/" --origin https://evil.example
	assert_output 'status 403'
	start_bg ok "$PY" "$PEER" client "ws://$ADDR/" --origin https://overlay.example --count 1 --close 1000
	start_bg none ws-listen -c 1 "ws://$ADDR/"
	wait_clients 2
	feed "$(ev o1 follow)"
	wait_bg ok
	wait_bg none
	run grep -c '^msg ' "$BATS_TEST_TMPDIR/ok.out"
	assert_output 1
}

@test "a slow client that never reads is closed with 1008 and does not delay the others" {
	wsb --max-queue 65536
	# a raw client with a tiny receive window that reads nothing until
	# the file "go" exists
	start_bg slow "$PY" "$PEER" raw "$ADDR" --handshake --rcvbuf 4096 \
		--wait-file "$BATS_TEST_TMPDIR/go" --timeout 5
	start_bg fast ws-listen -c 300 "ws://$ADDR/"
	wait_clients 2
	pad=$(head -c 10000 /dev/zero | tr '\0' x)
	for i in $(seq 300); do
		printf '{"id":"%d","type":"t","event":{"pad":"%s"}}\n' "$i" "$pad"
	done >"$FIFO"
	# the fast one has everything while the slow one still reads nothing
	wait_bg fast 20
	assert_equal "$(wc -l <"$BATS_TEST_TMPDIR/fast.out")" 300
	wait_until 10 grep -q 'closed with 1008' "$BATS_TEST_TMPDIR/wsb.err"
	touch "$BATS_TEST_TMPDIR/go"
	wait_bg slow 20
	run grep -x 'close 1008 send queue full' "$BATS_TEST_TMPDIR/slow.out"
	assert_success
	# what the slow client did get is whole messages, in order
	run -0 bash -c "grep '^msg ' '$BATS_TEST_TMPDIR/slow.out' | cut -c5- | jq -r .id | awk '\$1 != NR { exit 1 }'"
}

@test "an event larger than --max-queue still reaches a client with nothing queued" {
	wsb --max-queue 1024
	start_bg l ws-listen -c 2 "ws://$ADDR/"
	wait_clients 1
	feed "$(ev big follow ".event.pad = \"$(head -c 3000 /dev/zero | tr '\0' y)\"")" "$(ev small follow)"
	wait_bg l
	assert_equal "$(jq -r .id "$BATS_TEST_TMPDIR/l.out")" $'big\nsmall'
	run grep -c 1008 "$BATS_TEST_TMPDIR/wsb.err"
	assert_output 0
}

@test "bad input lines are warned about and skipped; --strict exits 65, --keep-open or not; a read error 74" {
	wsb
	start_bg l ws-listen -c 2 "ws://$ADDR/"
	wait_clients 1
	feed "$(ev g1 follow)" 'not json' '[1,2]' "$(ev g2 follow)"
	wait_bg l
	assert_equal "$(jq -r .id "$BATS_TEST_TMPDIR/l.out")" $'g1\ng2'
	run grep -c 'line [23]: .*skipped' "$BATS_TEST_TMPDIR/wsb.err"
	assert_output 2
	end_input
	wait_bg wsb
	stop_all_bg
	run -65 --separate-stderr bash -c "printf '%s\n' '{\"id\":\"1\"}' 'oops' '{\"id\":\"2\"}' |
		timeout 10 ws-broadcast --strict --listen 127.0.0.1:0"
	[[ "$stderr" == *"line 2"* ]] || fail "$stderr"
	# --keep-open serves on after the end of input, not after bad input;
	# and the log says which it was
	run -65 --separate-stderr bash -c "printf '%s\n' '{\"id\":\"1\"}' 'oops' '{\"id\":\"2\"}' |
		timeout 10 ws-broadcast --strict --keep-open -v --listen 127.0.0.1:0"
	[[ "$stderr" == *"error: line 2"* ]] || fail "$stderr"
	[[ "$stderr" == *"info: bad input: closing 0 clients"* ]] || fail "$stderr"
	[[ "$stderr" != *"end of input"* ]] || fail "$stderr"
	# a read error (stdin a directory) is not the end of input either
	run -74 --separate-stderr timeout 10 ws-broadcast --keep-open -v --listen 127.0.0.1:0 </
	[[ "$stderr" == *"error: read from stdin: Is a directory"* ]] || fail "$stderr"
	[[ "$stderr" == *"info: input error: closing 0 clients"* ]] || fail "$stderr"
	[[ "$stderr" != *"end of input"* ]] || fail "$stderr"
}

@test "GET / serves the page, /healthz JSON, other paths 404, POST 405, HEAD no body" {
	wsb
	run -0 curl --max-time 10 -sf -D "$BATS_TEST_TMPDIR/h" "http://$ADDR/"
	[[ "$output" == *"new WebSocket("* ]] || fail "not the page"
	run grep -i '^content-type: text/html' "$BATS_TEST_TMPDIR/h"
	assert_success
	run -0 curl --max-time 10 -sfI "http://$ADDR/"
	run -0 healthz_jq "$ADDR" -e '.status == "ok" and .clients == 0 and .events == 0 and (.test_types | index("channel.cheer") != null)'
	run -0 curl --max-time 10 -s -o /dev/null -w '%{http_code}' "http://$ADDR/nope"
	assert_output 404
	run -0 curl --max-time 10 -s -o /dev/null -w '%{http_code}' -X POST -d x "http://$ADDR/"
	assert_output 405
	# HEAD: every answer's head, never a body (RFC 9110 9.3.2)
	raw_http 'HEAD / HTTP/1.1\r\nHost: x\r\n\r\n' >"$BATS_TEST_TMPDIR/a"
	run -0 head -n 1 "$BATS_TEST_TMPDIR/a"
	assert_output $'HTTP/1.1 200 OK\r'
	run -0 bash -c "grep -i '^content-length:' '$BATS_TEST_TMPDIR/a' | tr -d '\r'"
	assert_output "Content-Length: $(wc -c <"$SV_TOP/share/overlay/index.html")"
	run -0 bash -c "sed '1,/^\r\$/d' '$BATS_TEST_TMPDIR/a' | wc -c"
	assert_output 0
	raw_http 'HEAD /nope HTTP/1.1\r\nHost: x\r\n\r\n' >"$BATS_TEST_TMPDIR/a"
	run -0 head -n 1 "$BATS_TEST_TMPDIR/a"
	assert_output $'HTTP/1.1 404 Not Found\r'
	run -0 grep -qi $'^content-length: 10\r$' "$BATS_TEST_TMPDIR/a"
	run -0 bash -c "sed '1,/^\r\$/d' '$BATS_TEST_TMPDIR/a' | wc -c"
	assert_output 0
	# /healthz is answered by ws-broadcast itself, not the site: the same
	raw_http 'HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n' >"$BATS_TEST_TMPDIR/a"
	run -0 head -n 1 "$BATS_TEST_TMPDIR/a"
	assert_output $'HTTP/1.1 200 OK\r'
	run -0 grep -qi $'^content-type: application/json' "$BATS_TEST_TMPDIR/a"
	run -0 bash -c "sed '1,/^\r\$/d' '$BATS_TEST_TMPDIR/a' | wc -c"
	assert_output 0
	feed "$(ev h1 follow)"
	wait_until 10 healthz_jq "$ADDR" -e '.events == 1'
}

@test "--static DIR serves files and never anything outside DIR" {
	mkdir -p "$BATS_TEST_TMPDIR/www/sub"
	echo '<p>hello</p>' >"$BATS_TEST_TMPDIR/www/index.html"
	echo 'body {}' >"$BATS_TEST_TMPDIR/www/sub/a.css"
	echo 'SECRET' >"$BATS_TEST_TMPDIR/secret.txt"
	ln -s ../secret.txt "$BATS_TEST_TMPDIR/www/link.txt"
	wsb --static "$BATS_TEST_TMPDIR/www"
	run -0 curl --max-time 10 -sf "http://$ADDR/"
	assert_output '<p>hello</p>'
	run -0 curl --max-time 10 -sf -D "$BATS_TEST_TMPDIR/h" "http://$ADDR/sub/a.css"
	assert_output 'body {}'
	run grep -i '^content-type: text/css' "$BATS_TEST_TMPDIR/h"
	assert_success
	local p
	for p in /../secret.txt /sub/../../secret.txt /%2e%2e/secret.txt /sub%2f..%2f..%2fsecret.txt \
		/link.txt /.%2e/secret.txt //etc/passwd /sub/ '/..%5csecret.txt'; do
		run -0 curl --max-time 10 -s --path-as-is -o "$BATS_TEST_TMPDIR/body" -w '%{http_code}' "http://$ADDR$p"
		assert_equal "$output" 404
		run grep -q SECRET "$BATS_TEST_TMPDIR/body"
		assert_failure
	done
	run -0 healthz_jq "$ADDR" -r .status
	assert_output ok
}

@test "bad handshakes get 400 (426 for another version) and the server goes on" {
	wsb
	run -0 "$PY" "$PEER" raw "$ADDR" --send '\x16\x03\x01\x00\xa5garbage\r\n\r\n'
	assert_output 'status HTTP/1.1 400 Bad Request'
	run -0 "$PY" "$PEER" raw "$ADDR" --send 'hello there\r\n\r\n'
	assert_output 'status HTTP/1.1 400 Bad Request'
	run -0 "$PY" "$PEER" raw "$ADDR" --send 'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n'
	assert_output 'status HTTP/1.1 400 Bad Request'
	run -0 "$PY" "$PEER" raw "$ADDR" --send 'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n'
	assert_output 'status HTTP/1.1 400 Bad Request'
	run -0 "$PY" "$PEER" raw "$ADDR" --send 'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n'
	assert_output 'status HTTP/1.1 426 Upgrade Required'
	run -0 "$PY" "$PEER" raw "$ADDR" --send 'GET / HTTP/1.1\r\nHost: x\r\n folded: header\r\n\r\n'
	assert_output 'status HTTP/1.1 400 Bad Request'
	run -0 "$PY" "$PEER" raw "$ADDR" --send "GET /$(head -c 20000 /dev/zero | tr '\0' a) HTTP/1.1\r\n\r\n"
	assert_output 'status HTTP/1.1 431 Request Header Fields Too Large'
	# a head that arrives a byte at a time is parsed once it is whole
	run -0 "$PY" "$PEER" raw "$ADDR" --trickle --timeout 1 --send 'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'
	assert_output 'status HTTP/1.1 101 Switching Protocols'
	run -0 "$PY" "$PEER" raw "$ADDR" --trickle --send 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'
	assert_output 'status HTTP/1.1 200 OK'
	run -0 healthz_jq "$ADDR" -r .status
	assert_output ok
}

@test "bad frames: unmasked 1002, invalid UTF-8 1007, oversized 1009" {
	wsb
	run -0 "$PY" "$PEER" raw "$ADDR" --handshake --frame 810568656c6c6f
	assert_line 'close 1002 '
	# "\xff\xfe" masked with aabbccdd
	run -0 "$PY" "$PEER" raw "$ADDR" --handshake --frame 8182aabbccdd5545
	assert_line 'close 1007 '
	# a text frame announcing 2^63-1 bytes, and one of 1 MiB (over 64 KiB)
	run -0 "$PY" "$PEER" raw "$ADDR" --handshake --frame 81ff7fffffffffffffff0000000041
	assert_line 'close 1009 '
	run -0 "$PY" "$PEER" raw "$ADDR" --handshake --frame 82ff0000000000100000aabbccdd41
	assert_line 'close 1009 '
	# a masked, valid message is fine (and ignored); a close is echoed
	run -0 "$PY" "$PEER" raw "$ADDR" --handshake --masked-text hi --frame 88820000000003e8
	assert_line 'close 1000 '
	run -0 healthz_jq "$ADDR" -r .clients
	assert_output 0
}

@test "interop (python3-websockets): fragmented message, ping, close handshake" {
	wsb
	run -0 --separate-stderr timeout 20 "$PY" "$PEER" client "ws://$ADDR/" \
		--fragment 'a|b|c' --send 'plain' --ping --close 1000 --reason bye
	assert_equal "$output" $'open\npong\nclose 1000 bye'
	start_bg py "$PY" "$PEER" client "ws://$ADDR/" --count 2 --close 1000
	wait_until 10 grep -q '^open' "$BATS_TEST_TMPDIR/py.out"
	feed "$(ev i1 follow)" "$(ev i2 cheer)"
	wait_bg py
	run -0 bash -c "grep '^msg ' '$BATS_TEST_TMPDIR/py.out' | cut -c5- | jq -r .id"
	assert_output $'i1\ni2'
}

@test "--ping-interval: a silent client is dropped, one that answers stays" {
	wsb --ping-interval 0.5
	start_bg silent "$PY" "$PEER" raw "$ADDR" --handshake --timeout 8
	start_bg polite "$PY" "$PEER" raw "$ADDR" --handshake --pong --timeout 8
	wait_until 10 grep -q 'no answer to ping; dropped' "$BATS_TEST_TMPDIR/wsb.err"
	wait_clients 1
	run -0 grep -c '^ping' "$BATS_TEST_TMPDIR/polite.out"
	feed "$(ev p1 follow)"
	wait_until 10 grep -q '^msg ' "$BATS_TEST_TMPDIR/polite.out"
}

@test "SIGTERM closes clients with 1001 and exits 0" {
	wsb
	start_bg py "$PY" "$PEER" client "ws://$ADDR/"
	wait_clients 1
	stop_bg wsb TERM
	assert_equal "$(cat "$BATS_TEST_TMPDIR/wsb.status")" 0
	wait_bg py
	run grep -x 'close 1001 server going away' "$BATS_TEST_TMPDIR/py.out"
	assert_success
}

@test "--keep-open serves after the end of input, replaying" {
	wsb --keep-open --replay 5
	feed "$(ev k1 follow)" "$(ev k2 raid)"
	end_input
	wait_until 10 grep -q 'end of input' "$BATS_TEST_TMPDIR/wsb.err"
	run -0 --separate-stderr timeout 10 ws-listen -c 2 "ws://$ADDR/"
	assert_equal "$(jq -r .id <<<"$output")" $'k1\nk2'
	run -0 healthz_jq "$ADDR" -r .input
	assert_output closed
	stop_bg wsb TERM
	assert_equal "$(cat "$BATS_TEST_TMPDIR/wsb.status")" 0
}

@test "stdin from a file: every event, then exit 0" {
	twitch-trigger --random --count 3 >"$BATS_TEST_TMPDIR/file"
	run -0 --separate-stderr timeout 10 ws-broadcast --listen 127.0.0.1:0 <"$BATS_TEST_TMPDIR/file"
	run -0 --separate-stderr timeout 10 ws-broadcast --listen 127.0.0.1:0 </dev/null
}

@test "usage and set-up errors" {
	run -64 --separate-stderr ws-broadcast --listen nonsense
	[[ "$stderr" == *"--listen"* ]] || fail "$stderr"
	run -64 --separate-stderr ws-broadcast --max-queue 10
	run -64 --separate-stderr ws-broadcast --replay -1
	run -64 --separate-stderr ws-broadcast --origin evil.example
	run -64 --separate-stderr ws-broadcast --ping-interval 0
	run -64 --separate-stderr ws-broadcast extra
	run -66 --separate-stderr ws-broadcast --listen 127.0.0.1:0 --token-file "$BATS_TEST_TMPDIR/none" </dev/null
	run -66 --separate-stderr ws-broadcast --listen 127.0.0.1:0 --static "$BATS_TEST_TMPDIR/none" </dev/null
	wsb
	run -69 --separate-stderr timeout 10 ws-broadcast --listen "$ADDR" </dev/null
}

@test "GET /dashboard and /overlay.json are built in; --static DIR files win, the built-in pages fill in" {
	wsb
	run -0 curl --max-time 10 -sf "http://$ADDR/dashboard"
	[[ "$output" == *"servitor dashboard"* ]] || fail "not the dashboard"
	run -0 bash -c "curl --max-time 10 -sf -D '$BATS_TEST_TMPDIR/h' http://$ADDR/overlay.json | jq -e '.alerts[\"channel.cheer\"].text'"
	run grep -i '^content-type: application/json' "$BATS_TEST_TMPDIR/h"
	assert_success
	# the installed copies are the embedded ones
	run -0 bash -c "curl --max-time 10 -sf http://$ADDR/ | cmp - '$SV_TOP/share/overlay/index.html'"
	end_input
	wait_bg wsb
	stop_all_bg
	rm -f "$FIFO" && mkfifo "$FIFO"
	mkdir -p "$BATS_TEST_TMPDIR/www"
	echo '{"duration":2}' >"$BATS_TEST_TMPDIR/www/overlay.json"
	echo '<p>my dashboard</p>' >"$BATS_TEST_TMPDIR/www/dashboard.html"
	wsb --static "$BATS_TEST_TMPDIR/www"
	run -0 curl --max-time 10 -sf "http://$ADDR/overlay.json"
	assert_output '{"duration":2}'
	run -0 curl --max-time 10 -sf "http://$ADDR/dashboard?token=x"
	assert_output '<p>my dashboard</p>'
	run -0 curl --max-time 10 -sf "http://$ADDR/"
	[[ "$output" == *"new WebSocket("* ]] || fail "no built-in overlay"
	run -0 curl --max-time 10 -s -o /dev/null -w '%{http_code}' "http://$ADDR/other.json"
	assert_output 404
}

@test "?replay=N: this client's own history on connect (0: none), over --replay" {
	wsb --replay 3
	feed "$(ev r1 follow)" "$(ev r2 cheer)" "$(ev r3 follow)" "$(ev r4 raid)"
	wait_until 10 healthz_jq "$ADDR" -e ".events == 4"
	run -0 --separate-stderr timeout 10 ws-listen -c 4 "ws://$ADDR/?replay=4"
	assert_equal "$(jq -r .id <<<"$output")" $'r1\nr2\nr3\nr4'
	start_bg none ws-listen -c 1 "ws://$ADDR/?replay=0"
	wait_clients 1
	feed "$(ev r5 follow)"
	wait_bg none
	assert_equal "$(jq -r .id "$BATS_TEST_TMPDIR/none.out")" r5
	run -0 curl --max-time 10 -s -o /dev/null -w '%{http_code}' -H 'Upgrade: websocket' -H 'Connection: Upgrade' \
		-H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' -H 'Sec-WebSocket-Version: 13' \
		"http://$ADDR/?replay=5000"
	assert_output 400
}

# control CLIENT URL MESSAGE... : a python3-websockets client that sends
# each message and reads COUNT answers (CLIENT.out: "msg ..." lines).
control() {
	local name=$1 url=$2 count=$3 m args=()
	shift 3
	for m in "$@"; do
		args+=(--send "$m")
	done
	start_bg "$name" "$PY" "$PEER" client "$url" "${args[@]}" --count "$count" --close 1000
}

msgs() {
	grep '^msg ' "$BATS_TEST_TMPDIR/$1.out" | cut -c5-
}

@test "control: a token holder's replay reaches every matching client again, marked, despite the dedupe" {
	printf 'c0ntrol-T0ken\n' >"$BATS_TEST_TMPDIR/token"
	wsb --token-file "$BATS_TEST_TMPDIR/token"
	T=c0ntrol-T0ken
	start_bg overlay ws-listen -c 3 "ws://$ADDR/?token=$T"
	start_bg raids ws-listen -c 1 "ws://$ADDR/?token=$T&types=raid"
	wait_clients 2
	feed "$(ev f1 follow)" "$(ev c1 cheer)"
	wait_lines "$BATS_TEST_TMPDIR/overlay.out" 2
	control dash "ws://$ADDR/?token=$T&replay=0" 3 '{"op":"replay","id":"c1"}' \
		'{"op":"replay","id":"gone"}'
	wait_bg dash
	wait_bg overlay
	# the event again, whole, with "replay":true, then the answers
	run -0 bash -c "grep '^msg ' '$BATS_TEST_TMPDIR/dash.out' | cut -c5- | jq -c '[.id, .replay, .op, .ok, .error]'"
	assert_equal "$output" $'["c1",true,null,null,null]\n["c1",null,"replay",true,null]\n["gone",null,"replay",false,"no event with this id in the history"]'
	run -0 jq -c '[.id, .replay]' "$BATS_TEST_TMPDIR/overlay.out"
	assert_equal "$output" $'["f1",null]\n["c1",null]\n["c1",true]'
	# the same bytes as the first time, plus the mark
	assert_equal "$(sed -n 3p "$BATS_TEST_TMPDIR/overlay.out" | jq -c 'del(.replay)')" "$(sed -n 2p "$BATS_TEST_TMPDIR/overlay.out")"
	# a ?types=raid client got nothing of it; a live raid still arrives
	feed "$(ev d1 raid)"
	wait_bg raids
	assert_equal "$(jq -r .id "$BATS_TEST_TMPDIR/raids.out")" d1
	# replays are not history: a new client gets the originals only
	run -0 --separate-stderr timeout 10 ws-listen -c 3 "ws://$ADDR/?token=$T&replay=3"
	assert_equal "$(jq -c '[.id, .replay]' <<<"$output")" $'["f1",null]\n["c1",null]\n["d1",null]'
	run -0 healthz_jq "$ADDR" -c '[.events, .duplicates, .control]'
	assert_output '[3,0,true]'
	assert_no_secret "$T" "$BATS_TEST_TMPDIR/wsb.err"
}

@test "control: test events of a type for a channel, marked \"test\"; bad messages get an error answer" {
	printf 'tok\n' >"$BATS_TEST_TMPDIR/token"
	wsb --token-file "$BATS_TEST_TMPDIR/token"
	start_bg bob ws-listen -c 1 "ws://$ADDR/?token=tok&channel=bob"
	wait_clients 1
	control dash "ws://$ADDR/?token=tok" 8 '{"op":"test","type":"cheer","channel":"Bob"}' \
		'{"op":"test","type":"channel.raid"}' '{"op":"test","type":"nope"}' \
		'{"op":"jump"}' 'not json' '{"op":"replay"}'
	wait_bg dash
	wait_bg bob
	run -0 jq -c '[.type, .source, .test, .event.broadcaster_user_login, (.event.bits > 0)]' "$BATS_TEST_TMPDIR/bob.out"
	assert_output '["channel.cheer","trigger",true,"bob",true]'
	run -0 bash -c "grep '^msg ' '$BATS_TEST_TMPDIR/dash.out' | cut -c5- | jq -c 'if .op then [.op, .ok, .error] else [.type, .test] end'"
	assert_equal "$output" '["channel.cheer",true]
["test",true,null]
["channel.raid",true]
["test",true,null]
["test",false,"unknown type"]
["error",false,"unknown op"]
["error",false,"not a JSON object"]
["replay",false,"replay needs an \"id\""]'
	# the test answer names the event it sent
	run -0 msgs dash
	assert_equal "$(sed -n 2p <<<"$output" | jq -r .id)" "$(jq -r .id "$BATS_TEST_TMPDIR/bob.out")"
	# tests are not history and not counted as events
	run -0 healthz_jq "$ADDR" -r .events
	assert_output 0
}

@test "control: a binary message, and messages past the round's limit, get an error answer each" {
	printf 'tok\n' >"$BATS_TEST_TMPDIR/token"
	wsb --token-file "$BATS_TEST_TMPDIR/token"
	# a masked binary frame (mask 0: the bytes 01 02 03), then a request
	run -0 timeout 20 "$PY" "$PEER" raw "$ADDR" --handshake --path '/?token=tok' \
		--frame 828300000000010203 --masked-text '{"op":"replay","id":"nope"}' --count 2 --timeout 15
	assert_equal "$(grep '^msg ' <<<"$output" | cut -c5-)" \
		'{"op":"error","ok":false,"error":"binary message: control messages are JSON text"}
{"op":"replay","ok":false,"id":"nope","error":"no event with this id in the history"}'
	# 1100 requests in one write: however many rounds read them, each
	# one is answered, the ones past a round's 1024 with an error
	local hex i frames=()
	hex=$(printf '%s' '{"op":"replay","id":"x"}' | od -An -tx1 | tr -d ' \n')
	for i in $(seq 1100); do
		frames+=(--frame "819800000000$hex")
	done
	run -0 timeout 20 "$PY" "$PEER" raw "$ADDR" --handshake --path '/?token=tok' \
		"${frames[@]}" --count 1100 --then-text '{"op":"replay","id":"sentinel"}' \
		--until '"id":"sentinel"' --timeout 15
	# exactly 1100 answers come before the sentinel's: none missing, none
	# doubled
	assert_equal "$(tail -n 1 <<<"$output" | cut -c5- | jq -r .id)" sentinel
	run -0 bash -c 'grep "^msg " | sed "\$d" | cut -c5- | jq -r .error | sort | uniq -c' <<<"$output"
	local counts=$output
	run -0 bash -c "awk '{ n += \$1 } END { print n }'" <<<"$counts"
	assert_output 1100
	run -1 grep -v -e 'no event with this id in the history$' -e 'too many messages at once$' <<<"$counts"
}

@test "control: without --token-file every client is read-only: messages are ignored and logged" {
	wsb --replay 5
	feed "$(ev k1 follow)"
	wait_until 10 healthz_jq "$ADDR" -e '.events == 1 and .control == false'
	start_bg l ws-listen -c 1 "ws://$ADDR/?replay=0"
	control dash "ws://$ADDR/?replay=0" 1 '{"op":"replay","id":"k1"}' '{"op":"test","type":"follow"}'
	wait_clients 2
	wait_until 10 grep -q 'message ignored: read-only client' "$BATS_TEST_TMPDIR/wsb.err"
	feed "$(ev k2 raid)"
	wait_bg l
	wait_bg dash
	# nothing was replayed or sent: both got only the live event, no answer
	assert_equal "$(jq -r .id "$BATS_TEST_TMPDIR/l.out")" k2
	run -0 msgs dash
	assert_equal "$(jq -r .id <<<"$output")" k2
	run grep -c 'message ignored' "$BATS_TEST_TMPDIR/wsb.err"
	assert_output 1
	run grep -c 'replayed\|test event' "$BATS_TEST_TMPDIR/wsb.err"
	assert_output 0
}
