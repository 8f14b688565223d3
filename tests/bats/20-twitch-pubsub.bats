#!/usr/bin/env bats
# twitch-pubsub: EventSub WebSocket against tests/fakes/eventsub-ws.py (the
# fake EventSub server and Helix in one process, so Helix only accepts
# sessions the server connected), and legacy PubSub against
# tests/fakes/pubsub-server.py.

bats_require_minimum_version 1.5.0
load helpers/common
load helpers/twitch

PSFX="$BATS_TEST_DIRNAME/fixtures/pubsub"
ALL_TYPES=channel.follow,channel.subscribe,channel.subscription.message,channel.subscription.gift,channel.cheer,channel.raid,channel.channel_points_custom_reward_redemption.add,stream.online

# start_es [fake options...]: the fake as "es". Exports what
# start_fake_twitch does (FAKE_TWITCH for fake_ctl, the id and Helix URLs,
# the client) and ES_URL, the WebSocket URL (wss://localhost:PORT/ws with
# --ws-tls). Keepalives may be as short as 1 s, pings go every 0.5 s.
start_es() {
	local scheme=ws a addr
	for a in "$@"; do
		[ "$a" = --ws-tls ] && scheme=wss
	done
	ES_LOG="$BATS_TEST_TMPDIR/es.log"
	start_bg es "$PY" "$SV_FAKES/eventsub-ws.py" --listen 127.0.0.1:0 \
		--port-file "$BATS_TEST_TMPDIR/es.port" \
		--ws-port-file "$BATS_TEST_TMPDIR/es.ws-port" --ws-log "$ES_LOG" \
		--cert "$SV_CERTS/server.pem" --key "$SV_CERTS/server.key" \
		--keepalive-min 1 --ping-interval 0.5 "$@"
	addr=$(port_file_addr "$BATS_TEST_TMPDIR/es.port") ||
		fail "the fake EventSub server did not start"
	export FAKE_TWITCH="http://$addr"
	export TWITCH_ID_URL="$FAKE_TWITCH" TWITCH_API_URL="$FAKE_TWITCH/helix"
	export TWITCH_CLIENT_ID=$FAKE_CLIENT_ID TWITCH_CLIENT_SECRET=$FAKE_CLIENT_SECRET
	addr=$(port_file_addr "$BATS_TEST_TMPDIR/es.ws-port") || fail "no WebSocket port"
	ES_URL="$scheme://$addr/ws"
	[ "$scheme" = wss ] && ES_URL="wss://localhost:${addr##*:}/ws"
	export ES_URL ES_LOG
}

# es_send JSON: the messages of /_fake/ws/send (fails on an error).
es_send() {
	fake_ctl /_fake/ws/send "$1" >"$BATS_TEST_TMPDIR/send.out" || {
		cat "$BATS_TEST_TMPDIR/send.out" >&2
		return 1
	}
}

# es_log JQ: a jq filter over the fake's log as one array.
es_log() {
	jq -s -c "$@" "$ES_LOG"
}

# es_subs N [CONN]: at least N subscriptions were created (on CONN).
es_subs() {
	[ "$(es_log --argjson c "${2:-0}" '[.[] | select(.event == "subscribed" and ($c == 0 or .conn == $c))] | length')" -ge "$1" ]
}

# es_keepalives_after_subs N: the fake sent at least N keepalives on
# connection 1 after its last subscription was created.
es_keepalives_after_subs() {
	[ "$(es_log '(map(select(.event == "subscribed" and .conn == 1)) | last | .t) as $t
	    | [.[] | select(.event == "sent" and .conn == 1 and .kind == "session_keepalive" and .t > $t)] | length')" -ge "$1" ]
}

# es_posts: how many subscriptions Helix was asked to create.
es_posts() {
	fake_requests '[.[] | select(.method == "POST" and .path == "/helix/eventsub/subscriptions")] | length'
}

# notif ID [TYPE]: a notification SPEC.
notif() {
	printf '{"notification":"%s","id":"%s"}' "${2:-channel.subscribe}" "$1"
}

# ids FILE: the ids of the events in FILE, as a JSON array.
ids() {
	jq -s -c 'map(.id)' "$1"
}

# listen NAME [twitch-pubsub options...]: twitch-pubsub in the background
# against the fake, for glowcaster.
listen() {
	local name=$1
	shift
	start_bg "$name" twitch-pubsub -b glowcaster --url "$ES_URL" "$@"
}

setup() {
	mkdir -p "$SERVITOR_HOME"
}

# ---- EventSub WebSocket -------------------------------------------------------

@test "welcome, a subscription per type at once, each common type as an event" {
	start_es
	seed_user glowcaster 3600 '["bits:read","channel:read:redemptions","channel:read:subscriptions","moderator:read:followers"]' >/dev/null
	listen ps -t "$ALL_TYPES" -v
	wait_until 20 es_subs 8 || fail "not subscribed"
	local t specs=() i=0
	for t in ${ALL_TYPES//,/ }; do
		specs+=("$(notif "m-$i" "$t")")
		i=$((i + 1))
	done
	es_send "{\"messages\":[$(IFS=,; echo "${specs[*]}")]}"
	wait_lines "$BATS_TEST_TMPDIR/ps.out" 8
	wait_until 10 grep -q '"event": "pong"' "$ES_LOG" || fail "no ping answered"
	stop_bg ps
	assert_equal "$(cat "$BATS_TEST_TMPDIR/ps.status")" 0
	assert_ndjson "$BATS_TEST_TMPDIR/ps.out"
	run -0 jq -s -c 'map([.id, .type, .version, .source])' "$BATS_TEST_TMPDIR/ps.out"
	assert_output '[["m-0","channel.follow","2","eventsub-ws"],["m-1","channel.subscribe","1","eventsub-ws"],["m-2","channel.subscription.message","1","eventsub-ws"],["m-3","channel.subscription.gift","1","eventsub-ws"],["m-4","channel.cheer","1","eventsub-ws"],["m-5","channel.raid","1","eventsub-ws"],["m-6","channel.channel_points_custom_reward_redemption.add","1","eventsub-ws"],["m-7","stream.online","1","eventsub-ws"]]'
	# the event is Twitch's, unchanged; the time the message's, in ms
	run -0 jq -s -e '.[2].event.message.emotes == [{"begin":18,"end":24,"id":"30259"}]
	    and .[5].event.viewers == 87 and .[3].event.is_anonymous == true
	    and all(.[]; .time | test("^[0-9-]{10}T[0-9:]{8}\\.[0-9]{3}Z$"))' "$BATS_TEST_TMPDIR/ps.out"
	# Helix: one POST per type, the condition each needs, this session
	sid=$(es_log -r '[.[] | select(.event == "welcome")][0].session')
	run -0 fake_requests '[.[] | select(.method == "POST") | .json
	    | select(.transport == {"method":"websocket","session_id":$s}) | [.type, .version, .condition]]' --arg s "$sid"
	assert_output '[["channel.follow","2",{"broadcaster_user_id":"512345678","moderator_user_id":"512345678"}],["channel.subscribe","1",{"broadcaster_user_id":"512345678"}],["channel.subscription.message","1",{"broadcaster_user_id":"512345678"}],["channel.subscription.gift","1",{"broadcaster_user_id":"512345678"}],["channel.cheer","1",{"broadcaster_user_id":"512345678"}],["channel.raid","1",{"to_broadcaster_user_id":"512345678"}],["channel.channel_points_custom_reward_redemption.add","1",{"broadcaster_user_id":"512345678"}],["stream.online","1",{"broadcaster_user_id":"512345678"}]]'
	# within the welcome window; never a frame of ours
	run -0 es_log '([.[] | select(.event == "subscribed") | .t] | max) - ([.[] | select(.event == "welcome") | .t] | min) < 10'
	assert_output true
	run -0 es_log '[.[] | select(.event == "client frame")] | length'
	assert_output 0
	run -0 es_log -r '[.[] | select(.event == "connect")][0].path'
	assert_output "/ws?keepalive_timeout_seconds=30"
}

@test "the fake enforces Twitch's rules: a client frame is closed with 4001, an unused session with 4003" {
	start_es --welcome-window 0.5
	run -0 timeout 20 "$PY" - "$ES_URL" <<'PYEOF'
import asyncio, sys, websockets
async def main(url):
    async with websockets.connect(url) as ws:
        await ws.recv()                      # session_welcome
        await ws.send("hello")               # inbound traffic
        await ws.wait_closed()
        print(ws.close_code)
    async with websockets.connect(url) as ws:
        await ws.recv()
        await ws.wait_closed()               # nothing subscribed
        print(ws.close_code)
asyncio.run(main(sys.argv[1]))
PYEOF
	assert_output $'4001\n4003'
	# and Helix refuses a session it does not know
	seed_user glowcaster >/dev/null
	run -65 --separate-stderr timeout 10 twitch-eventsub create -t cheer -b glowcaster --session nosuchsession
	[[ "$stderr" == *"400 Bad Request: websocket transport session does not exist"* ]] || fail "$stderr"
}

@test "--types TYPE:VERSION; an unknown type is subscribed as v1 on broadcaster_user_id and passed through" {
	start_es
	seed_user glowcaster 3600 '["channel:read:ads","moderator:read:followers"]' >/dev/null
	listen ps -t channel.ad_break.begin,follow:2
	wait_until 20 es_subs 2 || fail "not subscribed"
	es_send '{"messages":[{"notification":"channel.ad_break.begin","id":"ad-1","event":{"broadcaster_user_id":"512345678","duration_seconds":60,"is_automatic":true}}]}'
	wait_lines "$BATS_TEST_TMPDIR/ps.out" 1
	stop_bg ps
	run -0 jq -c '[.type, .version, .event]' "$BATS_TEST_TMPDIR/ps.out"
	assert_output '["channel.ad_break.begin","1",{"broadcaster_user_id":"512345678","duration_seconds":60,"is_automatic":true}]'
	run -0 fake_requests -c '[.[] | select(.method == "POST") | .json | [.type, .version, .condition]]'
	assert_output '[["channel.ad_break.begin","1",{"broadcaster_user_id":"512345678"}],["channel.follow","2",{"broadcaster_user_id":"512345678","moderator_user_id":"512345678"}]]'
}

@test "session_reconnect in a burst: nothing lost, nothing doubled, no new subscriptions, old closed after the new welcome" {
	start_es
	seed_user glowcaster >/dev/null
	listen ps -v
	wait_until 20 es_subs 3 || fail "not subscribed"
	# old: n1-n3, the reconnect, n4-n6; new: n5 and n6 again, n7-n9
	es_send "{\"messages\":[$(notif n1),$(notif n2 channel.subscription.gift),$(notif n3),
	    {\"reconnect\":true},$(notif n4),$(notif n5 channel.subscription.message),$(notif n6),
	    {\"on\":\"new\",\"notification\":\"channel.subscription.message\",\"id\":\"n5\"},
	    {\"on\":\"new\",\"notification\":\"channel.subscribe\",\"id\":\"n6\"},
	    {\"on\":\"new\",\"notification\":\"channel.subscribe\",\"id\":\"n7\"},
	    {\"on\":\"new\",\"notification\":\"channel.subscription.gift\",\"id\":\"n8\"},
	    {\"on\":\"new\",\"notification\":\"channel.subscribe\",\"id\":\"n9\"}]}"
	wait_lines "$BATS_TEST_TMPDIR/ps.out" 9
	wait_until 10 bash -c "grep -q '\"event\": \"closed\", \"conn\": 1\\|\"conn\": 1, \"event\": \"closed\"' '$ES_LOG'"
	# a notification after the switch still comes, once
	es_send "{\"messages\":[$(notif n10)]}"
	wait_lines "$BATS_TEST_TMPDIR/ps.out" 10
	stop_bg ps
	run -0 ids "$BATS_TEST_TMPDIR/ps.out"
	assert_output '["n1","n2","n3","n4","n5","n6","n7","n8","n9","n10"]'
	# subscriptions carried over: Helix was not called again
	run -0 es_posts
	assert_output 3
	run -0 es_log -r '[.[] | select(.event == "connect")][1].path'
	[[ "$output" == "/ws?reconnect_id="* ]] || fail "the new connection did not use reconnect_url: $output"
	# the old connection was closed by us, normally, after the new welcome
	run -0 es_log '([.[] | select(.event == "closed" and .conn == 1)][0] | [.code, .by]),
	    (([.[] | select(.event == "closed" and .conn == 1)][0].t) >= ([.[] | select(.event == "welcome" and .conn == 2)][0].t))'
	assert_output $'[1000,"client"]\ntrue'
	grep -q "subscriptions carried over" "$BATS_TEST_TMPDIR/ps.err" || fail "$(cat "$BATS_TEST_TMPDIR/ps.err")"
}

@test "keepalives keep a connection up; silence past the keepalive: dead, a new one is made and subscribed" {
	start_es
	seed_user glowcaster >/dev/null
	listen ps --keepalive 2 -v
	wait_until 20 es_subs 3 1 || fail "not subscribed"
	# keepalives alone keep it up past the deadline (2 s + 1 s)
	wait_until 20 bash -c "[ \$(jq -s '[.[] | select(.kind == \"session_keepalive\")] | length' '$ES_LOG') -ge 3 ]"
	run -0 es_log '[.[] | select(.event == "connect")] | length'
	assert_output 1
	es_send "{\"messages\":[$(notif s1),{\"silence\":true}]}"
	wait_until 20 es_subs 3 2 || fail "not subscribed again"
	es_send "{\"messages\":[$(notif s2)]}"
	wait_lines "$BATS_TEST_TMPDIR/ps.out" 2
	stop_bg ps
	run -0 ids "$BATS_TEST_TMPDIR/ps.out"
	assert_output '["s1","s2"]'
	grep -q "connection 1: no message within the keepalive time; reconnecting and subscribing again" "$BATS_TEST_TMPDIR/ps.err" ||
		fail "$(cat "$BATS_TEST_TMPDIR/ps.err")"
	# not before the keepalive window (2 s) was over
	run -0 es_log '([.[] | select(.event == "connect" and .conn == 2)][0].t) - ([.[] | select(.event == "silence")][0].t) >= 2'
	assert_output true
	run -0 es_log -r '[.[] | select(.event == "welcome")] | map(.keepalive) | unique | .[0]'
	assert_output 2
}

@test "revocation: the reason is logged and the rest goes on; authorization_revoked of the last one is exit 77" {
	start_es
	seed_user glowcaster >/dev/null
	listen ps
	wait_until 20 es_subs 3 || fail "not subscribed"
	es_send '{"messages":[{"revocation":"channel.subscribe","status":"user_removed"}]}'
	es_send "{\"messages\":[$(notif r1 channel.subscription.gift)]}"
	wait_lines "$BATS_TEST_TMPDIR/ps.out" 1
	grep -q "subscription channel.subscribe v1 revoked by Twitch: user_removed" "$BATS_TEST_TMPDIR/ps.err" ||
		fail "$(cat "$BATS_TEST_TMPDIR/ps.err")"
	es_send '{"messages":[{"revocation":"channel.subscription.gift","status":"authorization_revoked"},
	    {"revocation":"channel.subscription.message","status":"authorization_revoked"}]}'
	wait_bg ps 10 || true
	assert_equal "$(cat "$BATS_TEST_TMPDIR/ps.status")" 77
	grep -q "every subscription is revoked (authorization_revoked): run 'twitch-auth login'" "$BATS_TEST_TMPDIR/ps.err" ||
		fail "$(cat "$BATS_TEST_TMPDIR/ps.err")"
	# another reason for the last one: nothing left to do, 65
	listen ps2 -t channel.cheer
	wait_until 20 es_subs 4 || fail "not subscribed"
	es_send '{"messages":[{"revocation":"channel.cheer","status":"version_removed"}]}'
	wait_bg ps2 10 || true
	assert_equal "$(cat "$BATS_TEST_TMPDIR/ps2.status")" 65
}

@test "close codes 4000-4007: each named, then a new connection subscribed again" {
	start_es
	seed_user glowcaster >/dev/null
	listen ps -v
	wait_until 20 es_subs 3 1 || fail "not subscribed"
	local code conn=1
	for code in 4000 4001 4002 4003 4004 4005 4006 4007; do
		es_send "{\"conn\":$conn,\"messages\":[{\"close\":$code}]}"
		conn=$((conn + 1))
		wait_until 20 es_subs 3 "$conn" || fail "no subscriptions after $code"
	done
	es_send "{\"messages\":[$(notif after)]}"
	wait_lines "$BATS_TEST_TMPDIR/ps.out" 1
	stop_bg ps
	assert_equal "$(cat "$BATS_TEST_TMPDIR/ps.status")" 0
	local e="$BATS_TEST_TMPDIR/ps.err"
	grep -q "connection 1: closed by the server (4000: internal server error); reconnecting and subscribing again" "$e" || fail "$(cat "$e")"
	grep -q "connection 2: closed by the server (4001: sent inbound traffic): Twitch says this client misbehaved" "$e" || fail "$(cat "$e")"
	grep -q "connection 3: closed by the server (4002: failed ping pong): Twitch says" "$e" || fail "$(cat "$e")"
	grep -q "connection 8: closed by the server (4007: invalid reconnect attempt); reconnecting" "$e" || fail "$(cat "$e")"
	run -0 es_posts
	assert_output 27
}

@test "4003: subscriptions too slow for the welcome window; reconnect at once and subscribe in time" {
	start_es --welcome-window 0.7
	seed_user glowcaster >/dev/null
	fake_ctl /_fake/config '{"delay_ms":{"/helix/eventsub/subscriptions":1200}}' >/dev/null
	listen ps -t channel.cheer -v
	wait_until 20 grep -q '"event": "unused"' "$ES_LOG"
	fake_ctl /_fake/config '{"delay_ms":{}}' >/dev/null
	wait_until 20 es_subs 1 || fail "never subscribed"
	es_send "{\"messages\":[$(notif u1 channel.cheer)]}"
	wait_lines "$BATS_TEST_TMPDIR/ps.out" 1
	stop_bg ps
	grep -q "closed by the server (4003: connection unused)" "$BATS_TEST_TMPDIR/ps.err" ||
		fail "$(cat "$BATS_TEST_TMPDIR/ps.err")"
	# Helix refused the session that was gone: not a fatal refusal
	run -0 fake_requests '[.[] | select(.method == "POST") | .status] | .[0] == 400 and .[-1] == 202'
	assert_output true
}

@test "a bad reconnect_url (4007): the base URL and new subscriptions, the old connection kept until then" {
	start_es
	seed_user glowcaster >/dev/null
	listen ps -v
	wait_until 20 es_subs 3 1 || fail "not subscribed"
	es_send "{\"messages\":[{\"reconnect\":true,\"bad_url\":true},$(notif b1)]}"
	wait_until 20 es_subs 3 3 || fail "not subscribed on the base URL"
	es_send "{\"messages\":[$(notif b2)]}"
	wait_lines "$BATS_TEST_TMPDIR/ps.out" 2
	stop_bg ps
	run -0 ids "$BATS_TEST_TMPDIR/ps.out"
	assert_output '["b1","b2"]'
	run -0 es_log -c '[.[] | select(.event == "closed") | [.conn, .code, .by]]'
	[[ "$output" == '[[2,4007,"server"],[1,1000,"client"]'* ]] || fail "$output"
	run -0 es_log -r '[.[] | select(.event == "connect")][2].path'
	assert_output "/ws?keepalive_timeout_seconds=30"
}

@test "duplicate message ids are printed once; a notification over 10 minutes old is dropped" {
	start_es
	seed_user glowcaster >/dev/null
	listen ps
	wait_until 20 es_subs 3 || fail "not subscribed"
	es_send "{\"messages\":[$(notif d1),$(notif d1),$(notif d2 channel.subscription.gift),$(notif d1),
	    {\"notification\":\"channel.subscribe\",\"id\":\"d3\",\"age\":700},$(notif d2 channel.subscription.gift),$(notif d4)]}"
	wait_lines "$BATS_TEST_TMPDIR/ps.out" 3
	stop_bg ps
	run -0 ids "$BATS_TEST_TMPDIR/ps.out"
	assert_output '["d1","d2","d4"]'
	grep -q "notification d3 of .* is over 10 minutes old; dropped" "$BATS_TEST_TMPDIR/ps.err" ||
		fail "$(cat "$BATS_TEST_TMPDIR/ps.err")"
}

@test "wss:// with the test CA (SSL_CERT_FILE), a reconnect too; an unknown CA is refused" {
	start_es --ws-tls
	seed_user glowcaster >/dev/null
	SSL_CERT_FILE="$SV_CERTS/ca.pem" listen ps -v
	wait_until 20 es_subs 3 || fail "not subscribed"
	es_send "{\"messages\":[$(notif w1),{\"reconnect\":true},{\"on\":\"new\",\"notification\":\"channel.subscribe\",\"id\":\"w2\"}]}"
	wait_lines "$BATS_TEST_TMPDIR/ps.out" 2
	stop_bg ps
	run -0 ids "$BATS_TEST_TMPDIR/ps.out"
	assert_output '["w1","w2"]'
	grep -q "connecting to wss://localhost:[0-9]*/ws?reconnect_id=" "$BATS_TEST_TMPDIR/ps.err" ||
		fail "$(cat "$BATS_TEST_TMPDIR/ps.err")"
	run -69 --separate-stderr timeout 20 twitch-pubsub -b glowcaster --url "$ES_URL" --no-retry
	[[ "$stderr" == *"certificate"* ]] || fail "$stderr"
}

@test "a slow Helix while subscribing is not keepalive silence: the keepalives that came meanwhile count" {
	start_es
	seed_user glowcaster >/dev/null
	# three creates of 1 s each: longer than the keepalive window (2 s)
	fake_ctl /_fake/config '{"delay_ms":{"/helix/eventsub/subscriptions":1000}}' >/dev/null
	listen ps --keepalive 2 -v
	wait_until 20 es_subs 3 1 || fail "not subscribed"
	# three keepalives later the first connection is still the one in use
	wait_until 20 es_keepalives_after_subs 3 || fail "no keepalives: $(cat "$BATS_TEST_TMPDIR/ps.err")"
	es_send "{\"messages\":[$(notif k1)]}"
	wait_lines "$BATS_TEST_TMPDIR/ps.out" 1
	run -0 es_log -c '[.[] | select(.event == "connect")] | length'
	assert_output 1
	run grep -c "keepalive time" "$BATS_TEST_TMPDIR/ps.err"
	assert_output 0
	stop_bg ps
	assert_equal "$(cat "$BATS_TEST_TMPDIR/ps.status")" 0
}

@test "bad frames are skipped with a warning: not JSON, wrong shape, unknown type, binary; a huge frame reconnects" {
	start_es
	seed_user glowcaster >/dev/null
	listen ps -v
	wait_until 20 es_subs 3 1 || fail "not subscribed"
	es_send "{\"messages\":[{\"text\":\"not json {\"},{\"json\":[1,2]},{\"json\":{\"metadata\":{\"message_type\":\"notification\"}}},
	    {\"json\":{\"metadata\":{\"message_id\":\"x\",\"message_type\":\"notification\",\"message_timestamp\":\"2026-01-01T00:00:00Z\"},\"payload\":{}}},
	    {\"unknown\":\"session_frobnicate\"},{\"binary\":\"00ff\"},$(notif g1)]}"
	wait_lines "$BATS_TEST_TMPDIR/ps.out" 1
	es_send '{"messages":[{"huge":2000000}]}'
	wait_until 20 es_subs 3 2 || fail "not subscribed again"
	es_send "{\"messages\":[$(notif g2)]}"
	wait_lines "$BATS_TEST_TMPDIR/ps.out" 2
	stop_bg ps
	assert_equal "$(cat "$BATS_TEST_TMPDIR/ps.status")" 0
	run -0 ids "$BATS_TEST_TMPDIR/ps.out"
	assert_output '["g1","g2"]'
	local e="$BATS_TEST_TMPDIR/ps.err"
	grep -q "connection 1: bad message: not JSON" "$e" || fail "$(cat "$e")"
	grep -q "connection 1: bad message: not a JSON object" "$e" || fail "$(cat "$e")"
	grep -q "connection 1: bad message: notification: no metadata.message_id" "$e" || fail "$(cat "$e")"
	grep -q "connection 1: bad message: notification: no subscription object" "$e" || fail "$(cat "$e")"
	grep -q "message type 'session_frobnicate' unknown; ignored" "$e" || fail "$(cat "$e")"
	grep -q "connection 1: a binary message; skipped" "$e" || fail "$(cat "$e")"
	grep -q "5 bad messages skipped" "$e" || fail "$(cat "$e")"
	# the huge frame: we close with 1009 (too big)
	run -0 es_log -c '[.[] | select(.event == "closed" and .conn == 1) | .code]'
	assert_output '[1009]'
	# with --no-retry it is a protocol violation
	listen ps2 --no-retry
	wait_until 20 es_subs 3 3 || fail "not subscribed"
	es_send '{"conn":3,"messages":[{"huge":2000000}]}'
	wait_bg ps2 10 || true
	assert_equal "$(cat "$BATS_TEST_TMPDIR/ps2.status")" 76
}

@test "limits: over 300 types is a usage error; a fourth connection or the total cost is exit 75, saying which" {
	local t=() i
	for i in $(seq 301); do t+=("x.type$i"); done
	run -64 --separate-stderr twitch-pubsub -b glowcaster -t "$(IFS=,; echo "${t[*]}")"
	[[ "$stderr" == *"more than 300 types"* ]] || fail "$stderr"
	start_es --max-total-cost 1
	seed_user glowcaster >/dev/null
	# three connections of one user are fine, a fourth is refused
	for i in 1 2 3; do listen "c$i" -t channel.cheer; done
	wait_until 20 es_subs 3 || fail "not subscribed"
	run -75 --separate-stderr timeout 20 twitch-pubsub -b glowcaster --url "$ES_URL" -t channel.subscribe
	[[ "$stderr" == *"429 Too Many Requests: number of websocket transports limit exceeded"*"3 connections per user"* ]] || fail "$stderr"
	stop_bg c1
	stop_bg c2
	stop_bg c3
	# cost: stream.online costs 1 (no authorization needed), a second one is over
	run -75 --separate-stderr timeout 20 twitch-pubsub -b glowcaster --url "$ES_URL" -t stream.online,stream.offline
	[[ "$stderr" == *"stream.offline v1: "*"total cost exceeds max_total_cost"* ]] || fail "$stderr"
}

@test "refusals: a missing scope is 77, an unknown broadcaster 65, a refused token 77; the token never shows" {
	start_es
	tok=$(seed_user glowcaster 3600 '["bits:read"]' | jq -r .access_token)
	run -77 --separate-stderr timeout 20 twitch-pubsub -b glowcaster --url "$ES_URL" -vv
	[[ "$stderr" == *"channel.subscribe v1 refused: Helix POST /eventsub/subscriptions: 403 Forbidden"* ]] || fail "$stderr"
	printf '%s\n' "$stderr" >"$BATS_TEST_TMPDIR/stderr.txt"
	assert_no_secret "$tok" "$BATS_TEST_TMPDIR/stderr.txt" "$ES_LOG"
	run -65 --separate-stderr timeout 20 twitch-pubsub -b nosuchuser --url "$ES_URL" -t channel.cheer
	[[ "$stderr" == *"no Twitch user 'nosuchuser'"* ]] || fail "$stderr"
	# a removed version: Helix 410
	run -65 --separate-stderr timeout 20 twitch-pubsub -b glowcaster --url "$ES_URL" -t channel.follow:1
	[[ "$stderr" == *"channel.follow v1 refused"*"410 Gone"* ]] || fail "$stderr"
	run -77 --separate-stderr env TWITCH_TOKEN=not-a-token timeout 20 twitch-pubsub -b glowcaster --url "$ES_URL"
	run -78 --separate-stderr env SERVITOR_HOME="$BATS_TEST_TMPDIR/empty" timeout 20 twitch-pubsub -b glowcaster --url "$ES_URL"
	[[ "$stderr" == *"twitch-auth login"* ]] || fail "$stderr"
}

# pipe_gone: send one more notification; true once the pipeline is done.
pipe_gone() {
	fake_ctl /_fake/ws/send "{\"messages\":[$(notif "p-$RANDOM")]}" >/dev/null 2>&1
	[ -s "$BATS_TEST_TMPDIR/pipe.rc" ]
}

@test "-c N, SIGTERM with close frames, | head -1: all exit 0" {
	start_es
	seed_user glowcaster >/dev/null
	listen ps -c 2
	wait_until 20 es_subs 3 || fail "not subscribed"
	es_send "{\"messages\":[$(notif c1),$(notif c2),$(notif c3)]}"
	wait_bg ps 10 || true
	assert_equal "$(cat "$BATS_TEST_TMPDIR/ps.status")" 0
	run -0 ids "$BATS_TEST_TMPDIR/ps.out"
	assert_output '["c1","c2"]'
	# SIGTERM: a close frame (1000) goes out, status 0
	listen ps2
	wait_until 20 es_subs 6 || fail "not subscribed"
	stop_bg ps2
	assert_equal "$(cat "$BATS_TEST_TMPDIR/ps2.status")" 0
	wait_until 5 bash -c "jq -s -e '[.[] | select(.event == \"closed\" and .conn == 2)][0] | .code == 1000 and .by == \"client\"' '$ES_LOG'"
	# a reader that goes away: quiet 0
	start_bg pipe bash -c 'twitch-pubsub -b glowcaster --url "$1" 2>"$2" | head -n 1 >/dev/null; echo "${PIPESTATUS[0]}" >"$3"' \
		_ "$ES_URL" "$BATS_TEST_TMPDIR/pipe.stderr" "$BATS_TEST_TMPDIR/pipe.rc"
	wait_until 20 es_subs 9 || fail "not subscribed"
	# the second line written after head has gone ends it
	wait_until 10 pipe_gone || fail "still running"
	assert_equal "$(cat "$BATS_TEST_TMPDIR/pipe.rc")" 0
	[ ! -s "$BATS_TEST_TMPDIR/pipe.stderr" ] || fail "$(cat "$BATS_TEST_TMPDIR/pipe.stderr")"
}

@test "--no-retry: unreachable is 69, a lost connection 75; without it, retries with backoff" {
	start_es
	seed_user glowcaster >/dev/null
	run -69 --separate-stderr timeout 20 twitch-pubsub -b glowcaster --url ws://127.0.0.1:$(closed_port)/ws --no-retry
	[[ "$stderr" == *"127.0.0.1"* ]] || fail "$stderr"
	listen ps --no-retry
	wait_until 20 es_subs 3 || fail "not subscribed"
	es_send '{"messages":[{"close":4000}]}'
	wait_bg ps 10 || true
	assert_equal "$(cat "$BATS_TEST_TMPDIR/ps.status")" 75
	start_bg ps2 twitch-pubsub -b glowcaster --url ws://127.0.0.1:$(closed_port)/ws
	wait_until 10 bash -c "[ \$(grep -c 'reconnecting and subscribing again in' '$BATS_TEST_TMPDIR/ps2.err') -ge 3 ]"
	stop_bg ps2
	assert_equal "$(cat "$BATS_TEST_TMPDIR/ps2.status")" 0
}

@test "usage errors are 64" {
	run -64 --separate-stderr twitch-pubsub
	[[ "$stderr" == *"--broadcaster is required"* ]] || fail "$stderr"
	run -64 --separate-stderr twitch-pubsub -b x -t ''
	run -64 --separate-stderr twitch-pubsub -b x -t 'channel.follow:'
	run -64 --separate-stderr twitch-pubsub -b x -t 'Channel Follow'
	run -64 --separate-stderr twitch-pubsub -b x -t channel.host
	[[ "$stderr" == *"not an EventSub type"* ]] || fail "$stderr"
	run -64 --separate-stderr twitch-pubsub -b x --protocol carrier-pigeon
	run -64 --separate-stderr twitch-pubsub -b x --keepalive 0
	run -64 --separate-stderr twitch-pubsub -b x --keepalive 601
	run -64 --separate-stderr twitch-pubsub -b x --protocol pubsub --keepalive 30
	run -64 --separate-stderr twitch-pubsub -b x --ping-interval 10
	run -64 --separate-stderr twitch-pubsub -b x --protocol pubsub --ping-interval 301
	run -64 --separate-stderr twitch-pubsub -b x --protocol pubsub -t stream.online
	[[ "$stderr" == *"PubSub has no topic for stream.online"* ]] || fail "$stderr"
	run -64 --separate-stderr twitch-pubsub -b x --protocol pubsub -t channel.cheer:2
	run -64 --separate-stderr twitch-pubsub -b x -c 0
	run -64 --separate-stderr twitch-pubsub -b x extra
}

# ---- legacy PubSub -------------------------------------------------------------

# start_pubsub [fake options...]: the fake PubSub server as "pubsub",
# PS_URL its URL, PS_LOG its log; the fake id server and Helix too, and a
# user token in TWITCH_TOKEN_VALUE the PubSub fake accepts.
start_pubsub() {
	local addr
	start_fake_twitch
	TWITCH_TOKEN_VALUE=$(seed_user glowcaster | jq -r .access_token)
	PS_LOG="$BATS_TEST_TMPDIR/pubsub.log"
	start_bg pubsub "$PY" "$SV_FAKES/pubsub-server.py" --listen 127.0.0.1:0 \
		--port-file "$BATS_TEST_TMPDIR/pubsub.port" --log "$PS_LOG" \
		--token "${PS_TOKEN:-$TWITCH_TOKEN_VALUE}" "$@"
	addr=$(port_file_addr "$BATS_TEST_TMPDIR/pubsub.port") || fail "no PubSub fake"
	PS_URL="ws://$addr"
	export PS_URL PS_LOG TWITCH_TOKEN_VALUE
}

ps_log() {
	jq -s -c "$@" "$PS_LOG"
}

# dropped_at_least N: twitch-pubsub (run with -vv as "ps") has dropped at
# least N events it had already printed.
dropped_at_least() {
	[ "$(grep -c 'already printed; dropped' "$BATS_TEST_TMPDIR/ps.err")" -ge "$1" ]
}

PS_ALL=channel.subscribe,channel.subscription.message,channel.subscription.gift,channel.cheer,channel.channel_points_custom_reward_redemption.add

@test "pubsub: one LISTEN per topic with a nonce and the bare token; every sub context, cheers and points mapped (golden)" {
	start_pubsub --replay "$PSFX/capture.ndjson" --listens 3
	run -0 --separate-stderr timeout 20 twitch-pubsub --protocol pubsub -b glowcaster --url "$PS_URL" -t "$PS_ALL" -c 14 -vv
	printf '%s\n' "${lines[@]}" >"$BATS_TEST_TMPDIR/out.ndjson"
	assert_ndjson "$BATS_TEST_TMPDIR/out.ndjson"
	diff -u "$PSFX/capture.golden.ndjson" "$BATS_TEST_TMPDIR/out.ndjson" || fail "output differs from capture.golden.ndjson"
	run -0 ps_log '[.[] | select(.event == "listen") | [.topics, .auth_ok, (.nonce | test("^[0-9a-f]{32}$"))]]'
	assert_output '[[["channel-subscribe-events-v1.512345678"],true,true],[["channel-bits-events-v2.512345678"],true,true],[["channel-points-channel-v1.512345678"],true,true]]'
	printf '%s\n' "$stderr" >"$BATS_TEST_TMPDIR/stderr.txt"
	assert_no_secret "$TWITCH_TOKEN_VALUE" "$BATS_TEST_TMPDIR/stderr.txt" "$PS_LOG"
}

@test "pubsub: the default types listen to the subscription topic only; the same capture twice gives the same ids" {
	start_pubsub --replay "$PSFX/capture.ndjson"
	run -0 --separate-stderr timeout 20 twitch-pubsub --protocol pubsub -b glowcaster --url "$PS_URL" -c 11
	first=$(printf '%s\n' "${lines[@]}" | jq -s -c 'map(.id)')
	run -0 jq -s -r 'map(.type) | unique | join(",")' <<<"$output"
	assert_output "channel.subscribe,channel.subscription.gift,channel.subscription.message"
	run -0 ps_log -c '[.[] | select(.event == "listen") | .topics[]]'
	assert_output '["channel-subscribe-events-v1.512345678"]'
	run -0 --separate-stderr timeout 20 twitch-pubsub --protocol pubsub -b 512345678 --url "$PS_URL" -c 11
	assert_equal "$(printf '%s\n' "${lines[@]}" | jq -s -c 'map(.id)')" "$first"
}

@test "pubsub: a channel id needs no Helix lookup" {
	start_pubsub --replay "$PSFX/capture.ndjson"
	run -0 --separate-stderr env TWITCH_API_URL=http://127.0.0.1:$(closed_port)/helix timeout 20 \
		twitch-pubsub --protocol pubsub -b 512345678 --url "$PS_URL" -c 1
	assert_equal "$(jq -r .type <<<"$output")" channel.subscribe
}

@test "pubsub: ERR_BADAUTH is exit 77 (a stored token is refreshed once first); ERR_BADTOPIC is 65" {
	PS_TOKEN=some-other-token start_pubsub
	run -77 --separate-stderr timeout 20 twitch-pubsub --protocol pubsub -b glowcaster --url "$PS_URL"
	[[ "$stderr" == *"PubSub refused LISTEN channel-subscribe-events-v1.512345678: ERR_BADAUTH"*"twitch-auth login"* ]] || fail "$stderr"
	# the stored token was refreshed and tried again, then given up
	run -0 ps_log '[.[] | select(.event == "listen") | .auth_ok]'
	assert_output '[false,false]'
	run -0 fake_requests '[.[] | select(.path == "/oauth2/token") | .form.grant_type]'
	assert_output '["refresh_token"]'
	# TWITCH_TOKEN is used as given: no refresh
	run -77 --separate-stderr env TWITCH_TOKEN="$(store_get .user.access_token)" timeout 20 \
		twitch-pubsub --protocol pubsub -b glowcaster --url "$PS_URL"
	run -0 ps_log '[.[] | select(.event == "listen") | .auth_ok]'
	assert_output '[false,false,false]'
	run -0 fake_requests '[.[] | select(.path == "/oauth2/token") | .form.grant_type]'
	assert_output '["refresh_token"]'
	stop_bg pubsub
	start_bg pubsub2 "$PY" "$SV_FAKES/pubsub-server.py" --listen 127.0.0.1:0 \
		--port-file "$BATS_TEST_TMPDIR/pubsub2.port" --log "$PS_LOG" \
		--token "$(store_get .user.access_token)" --error ERR_BADTOPIC
	run -65 --separate-stderr timeout 20 twitch-pubsub --protocol pubsub -b glowcaster \
		--url "ws://$(port_file_addr "$BATS_TEST_TMPDIR/pubsub2.port")"
	[[ "$stderr" == *"ERR_BADTOPIC"* ]] || fail "$stderr"
}

@test "pubsub: PING with jitter, PONG accepted; no PONG in time means a new connection" {
	start_pubsub
	start_bg ps twitch-pubsub --protocol pubsub -b glowcaster --url "$PS_URL" --ping-interval 0.3
	wait_until 10 bash -c "[ \$(jq -s '[.[] | select(.event == \"ping\")] | length' '$PS_LOG') -ge 3 ]"
	stop_bg ps
	run -0 ps_log '[.[] | select(.event == "connect")] | length'
	assert_output 1
	stop_bg pubsub
	: >"$PS_LOG"
	start_bg pubsub2 "$PY" "$SV_FAKES/pubsub-server.py" --listen 127.0.0.1:0 \
		--port-file "$BATS_TEST_TMPDIR/pubsub2.port" --log "$PS_LOG" \
		--token "$TWITCH_TOKEN_VALUE" --no-pong
	SERVITOR_PONG_TIMEOUT_MS=400 start_bg ps2 twitch-pubsub --protocol pubsub -b glowcaster \
		--url "ws://$(port_file_addr "$BATS_TEST_TMPDIR/pubsub2.port")" --ping-interval 0.3
	wait_until 10 bash -c "jq -s -e '[.[] | select(.event == \"listen\")] | length >= 2' '$PS_LOG'"
	stop_bg ps2
	grep -q "connection 1: no PONG in time; reconnecting" "$BATS_TEST_TMPDIR/ps2.err" ||
		fail "$(cat "$BATS_TEST_TMPDIR/ps2.err")"
}

@test "pubsub: RECONNECT opens a new connection, LISTENs, then closes the old; nothing lost or doubled" {
	start_pubsub --replay "$PSFX/capture.ndjson" --reconnect-after 3
	start_bg ps twitch-pubsub --protocol pubsub -b glowcaster --url "$PS_URL" -vv
	wait_lines "$BATS_TEST_TMPDIR/ps.out" 11
	wait_until 10 bash -c "jq -s -e '[.[] | select(.event == \"closed\" and .conn == 1)] | length == 1' '$PS_LOG'"
	# the new connection got the whole capture again: every one a double
	wait_until 10 bash -c "jq -s -e 'any(.[]; .event == \"replayed\" and .conn == 2)' '$PS_LOG'"
	wait_until 10 dropped_at_least 11
	stop_bg ps
	run -0 jq -s -c 'map(.id) | [length, (unique | length)]' "$BATS_TEST_TMPDIR/ps.out"
	assert_output '[11,11]'
	run -0 ps_log -c '[.[] | select(.event == "listen") | .conn]'
	assert_output '[1,2]'
	grep -q "connection 1: server asks to reconnect" "$BATS_TEST_TMPDIR/ps.err" || fail "$(cat "$BATS_TEST_TMPDIR/ps.err")"
}

@test "pubsub: bad frames are skipped: not JSON, no type, unknown type, a MESSAGE whose message is not JSON" {
	{
		printf '%s\n' 'not json' '{"no":"type"}' '{"type":"FROBNICATE"}' \
			'{"type":"MESSAGE","data":{"topic":"channel-subscribe-events-v1.512345678","message":"{nope"}}' \
			'{"type":"MESSAGE","data":{"topic":"channel-subscribe-events-v1.512345678"}}'
		head -n 1 "$PSFX/capture.ndjson"
	} >"$BATS_TEST_TMPDIR/bad.ndjson"
	start_pubsub --replay "$BATS_TEST_TMPDIR/bad.ndjson"
	run -0 --separate-stderr timeout 20 twitch-pubsub --protocol pubsub -b glowcaster --url "$PS_URL" -c 1 -v
	assert_equal "$(jq -r .type <<<"$output")" channel.subscribe
	[[ "$stderr" == *"bad message: not JSON"* ]] || fail "$stderr"
	[[ "$stderr" == *"bad message: no \"type\" string"* ]] || fail "$stderr"
	[[ "$stderr" == *"frame type 'FROBNICATE' unknown; ignored"* ]] || fail "$stderr"
	[[ "$stderr" == *"data.message is not a JSON object"* ]] || fail "$stderr"
	[[ "$stderr" == *"no data.topic or data.message string"* ]] || fail "$stderr"
}

@test "pubsub: --raw adds the decoded message" {
	start_pubsub --replay "$PSFX/capture.ndjson"
	run -0 --separate-stderr timeout 20 twitch-pubsub --protocol pubsub -b glowcaster --url "$PS_URL" -c 2 --raw
	run -0 jq -s -e '.[1].raw.context == "resub" and .[1].raw.streak_months == 3' <<<"$output"
}
