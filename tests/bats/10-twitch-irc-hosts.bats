#!/usr/bin/env bats
# twitch-irc-hosts: IRC parsing and event mapping (--replay), and the live
# connection against tests/fakes/irc-server.py.

bats_require_minimum_version 1.5.0
load helpers/common

FX="$BATS_TEST_DIRNAME/fixtures/irc"

# golden FIXTURE ARGS...: replay the fixture and compare with FIXTURE.ndjson.
# The time of an event whose line has tmi-sent-ts is in the golden file;
# a line without one (the host formats) is stamped on receipt, so there
# only the shape of the time is checked before it is dropped.
golden() {
	local f=$1
	shift
	run -0 --separate-stderr timeout 10 twitch-irc-hosts --replay "$FX/$f.txt" --raw "$@"
	diff -u "$FX/$f.ndjson" <(printf '%s\n' "${lines[@]}" | jq -c '
	    if (.raw | test("^@([^ ]*;)?tmi-sent-ts=")) then .
	    elif (.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[.][0-9]{3}Z$")) then del(.time)
	    else . end | del(.raw)') ||
		fail "output differs from $f.ndjson"
}

@test "replay: raids and hosts (all four host formats) match the golden file" {
	golden raids-hosts --events all
}

@test "replay: subs, resubs, gifts and cheers match the golden file" {
	golden subs-gifts-cheers --events all
}

@test "raid: every EventSub field IRC carries, from the tags, with tmi-sent-ts as time" {
	run -0 --separate-stderr twitch-irc-hosts --replay "$FX/raids-hosts.txt" -c 1
	run -0 jq -e '.type == "channel.raid" and .version == "1" and .source == "irc"
	    and .id == "2b3c4d5e-6f70-4819-a2b3-c4d5e6f70819"
	    and .time == "2026-03-14T18:30:00.250Z"
	    and .event.from_broadcaster_user_login == "lanternfish"
	    and .event.from_broadcaster_user_name == "LanternFish"
	    and .event.from_broadcaster_user_id == "31415926"
	    and .event.to_broadcaster_user_id == "512345678"
	    and .event.to_broadcaster_user_login == "glowcaster"
	    and .event.viewers == 87
	    and (.event | has("to_broadcaster_user_name") | not)' <<<"$output"
}

@test "default events are host and raid only; unraid, chat and PING are not events" {
	run -0 --separate-stderr twitch-irc-hosts --replay "$FX/raids-hosts.txt"
	run -0 jq -s -r 'map(.type) | unique | join(",")' <<<"$output"
	assert_output "channel.host,channel.raid"
	run -0 --separate-stderr twitch-irc-hosts --replay "$FX/subs-gifts-cheers.txt"
	assert_output ""
}

@test "--events selects kinds; a bad kind is a usage error" {
	run -0 --separate-stderr twitch-irc-hosts --replay "$FX/subs-gifts-cheers.txt" -e cheer
	run -0 jq -s -r 'map(.type) | unique | join(",")' <<<"$output"
	assert_output "channel.cheer"
	run -0 --separate-stderr twitch-irc-hosts --replay "$FX/subs-gifts-cheers.txt" -e sub,gift
	run -0 jq -s -r 'map(.type) | unique | join(",")' <<<"$output"
	assert_output "channel.subscribe,channel.subscription.gift"
	run -64 --separate-stderr twitch-irc-hosts --replay "$FX/raids-hosts.txt" -e raid,follows
	[[ "$stderr" == *"unknown event 'follows'"* ]] || fail "$stderr"
}

@test "a community gift is one gift event plus a sub per recipient, not N gift alerts" {
	run -0 --separate-stderr twitch-irc-hosts --replay "$FX/subs-gifts-cheers.txt" -e gift
	run -0 jq -s -c '[.[] | [.type, .event.total // .event.user_login, .event.is_gift // null]]' <<<"$output"
	assert_output '[["channel.subscription.gift",2,null],["channel.subscribe","tea_kettle",true],["channel.subscribe","pixelpanda",true],["channel.subscription.gift",1,null],["channel.subscribe","nightowl42",true]]'
}

@test "the same line twice gives the same id; different lines different ids" {
	printf '%s\n' ':tmi.twitch.tv HOSTTARGET #a :b 5' >"$BATS_TEST_TMPDIR/one.txt"
	run -0 --separate-stderr twitch-irc-hosts --replay "$BATS_TEST_TMPDIR/one.txt"
	id1=$(jq -r .id <<<"$output")
	run -0 --separate-stderr twitch-irc-hosts --replay "$BATS_TEST_TMPDIR/one.txt"
	assert_equal "$(jq -r .id <<<"$output")" "$id1"
	printf '%s\n' ':tmi.twitch.tv HOSTTARGET #a :c 5' >"$BATS_TEST_TMPDIR/two.txt"
	run -0 --separate-stderr twitch-irc-hosts --replay "$BATS_TEST_TMPDIR/two.txt"
	[ "$(jq -r .id <<<"$output")" != "$id1" ] || fail "same id for different lines"
}

@test "host repeats count line time: seconds apart one event, an hour apart two (replay as live)" {
	local t=1773513000000
	{
		printf '@tmi-sent-ts=%s :tmi.twitch.tv HOSTTARGET #lanternfish :glowcaster 87\r\n' "$t"
		printf '@tmi-sent-ts=%s :tmi.twitch.tv HOSTTARGET #lanternfish :glowcaster 88\r\n' $((t + 5000))
		printf '@tmi-sent-ts=%s :tmi.twitch.tv HOSTTARGET #lanternfish :glowcaster 40\r\n' $((t + 3600000))
		printf '@tmi-sent-ts=%s :tmi.twitch.tv HOSTTARGET #lanternfish :glowcaster 41\r\n' $((t + 3600000 + 29000))
		printf '@tmi-sent-ts=%s :tmi.twitch.tv HOSTTARGET #lanternfish :pixelpanda 9\r\n' $((t + 3600000 + 29500))
	} >"$BATS_TEST_TMPDIR/hosts.txt"
	run -0 --separate-stderr timeout 10 twitch-irc-hosts --replay "$BATS_TEST_TMPDIR/hosts.txt"
	run -0 jq -s -c 'map([.time, .event.to_broadcaster_user_login, .event.viewers])' <<<"$output"
	assert_output '[["2026-03-14T18:30:00.000Z","glowcaster",87],["2026-03-14T19:30:00.000Z","glowcaster",40],["2026-03-14T19:30:29.500Z","pixelpanda",9]]'
}

@test "--raw adds the original line; --irc prints every message as JSON" {
	run -0 --separate-stderr twitch-irc-hosts --replay "$FX/raids-hosts.txt" --raw -c 1
	assert_equal "$(jq -r .raw <<<"$output")" "$(sed -n 5p "$FX/raids-hosts.txt")"
	run -0 --separate-stderr twitch-irc-hosts --replay "$FX/raids-hosts.txt" --irc
	assert_equal "${#lines[@]}" "$(grep -c . "$FX/raids-hosts.txt")"
	local all=("${lines[@]}")
	run -0 jq -e '.command == "USERNOTICE" and .tags["system-msg"] == "87 raiders from LanternFish have joined!"
	    and .prefix == "tmi.twitch.tv" and .params == ["#glowcaster"]' <<<"${all[4]}"
	run -0 jq -e '.command == "PING" and .prefix == null and .params == ["tmi.twitch.tv"] and .tags == {}' <<<"${all[-1]}"
}

@test "CHANNEL arguments filter a replay" {
	run -0 --separate-stderr twitch-irc-hosts --replay "$FX/raids-hosts.txt" '#Quietfox'
	run -0 jq -s -c 'map(.event.from_broadcaster_user_login)' <<<"$output"
	assert_output '["quietfox"]'
}

@test "malformed lines are skipped with a warning and counted; good lines still come" {
	{
		printf '@only-tags\r\n'
		printf ': CMD\r\n'
		printf 'BAD-COMMAND x\r\n'
		printf '\377\376 garbage\r\n'
		sed -n 5p "$FX/raids-hosts.txt"
	} >"$BATS_TEST_TMPDIR/bad.txt"
	run -0 --separate-stderr twitch-irc-hosts --replay "$BATS_TEST_TMPDIR/bad.txt" -v
	assert_equal "$(jq -r .type <<<"$output")" channel.raid
	[[ "$stderr" == *"line 1: "*"skipped"* ]] || fail "$stderr"
	[[ "$stderr" == *"line 3: bad command; skipped"* ]] || fail "$stderr"
	[[ "$stderr" == *"4 malformed lines skipped"* ]] || fail "$stderr"
}

@test "an 8 KiB-tag line parses; a line over 16 KiB is skipped, not fatal" {
	{
		printf '@x=%s;msg-id=raid;msg-param-viewerCount=5;login=big;room-id=1 :tmi.twitch.tv USERNOTICE #c\r\n' "$(head -c 8190 /dev/zero | tr '\0' a)"
		printf '@x=%s :tmi.twitch.tv USERNOTICE #c\r\n' "$(head -c 20000 /dev/zero | tr '\0' a)"
		printf '@msg-id=raid;msg-param-viewerCount=6;login=after;room-id=1 :tmi.twitch.tv USERNOTICE #c\r\n'
	} >"$BATS_TEST_TMPDIR/big.txt"
	run -0 --separate-stderr twitch-irc-hosts --replay "$BATS_TEST_TMPDIR/big.txt"
	run -0 jq -s -c 'map(.event.viewers)' <<<"$output"
	assert_output '[5,6]'
}

@test "--replay - reads stdin; a missing file is 66; | head -1 is quiet 0" {
	run -0 --separate-stderr bash -c 'twitch-irc-hosts --replay - <"$1"' _ "$FX/raids-hosts.txt"
	assert_equal "${#lines[@]}" 7
	run -66 --separate-stderr twitch-irc-hosts --replay "$BATS_TEST_TMPDIR/nope.txt"
	[[ "$stderr" == *"nope.txt"* ]]
	run -0 bash -c 'for i in $(seq 300); do cat "$1"; done | twitch-irc-hosts --replay - -e all 2>"$2" | head -n 1 >/dev/null; echo "${PIPESTATUS[1]}"' _ "$FX/subs-gifts-cheers.txt" "$BATS_TEST_TMPDIR/err"
	assert_output 0
	[ ! -s "$BATS_TEST_TMPDIR/err" ] || fail "$(cat "$BATS_TEST_TMPDIR/err")"
}

@test "usage errors: no channel, bad channel, --replay with --url" {
	run -64 --separate-stderr twitch-irc-hosts
	[[ "$stderr" == *"missing CHANNEL"* ]]
	run -64 --separate-stderr twitch-irc-hosts 'bad channel!'
	run -64 --separate-stderr twitch-irc-hosts --replay x --url ws://127.0.0.1:1/
	run -64 --separate-stderr twitch-irc-hosts -c 0 chan
}

# ---- live: against tests/fakes/irc-server.py ---------------------------------

# start_irc [fake options...]: the fake chat server as "irc"; IRC_URL is
# its ws:// URL (wss:// when the options include --tls-cert).
start_irc() {
	local scheme=ws a
	for a in "$@"; do
		[ "$a" = --tls-cert ] && scheme=wss
	done
	start_bg irc "$PY" "$SV_FAKES/irc-server.py" --listen 127.0.0.1:0 \
		--port-file "$BATS_TEST_TMPDIR/irc.port" --log "$BATS_TEST_TMPDIR/irc.log" "$@"
	IRC_URL="$scheme://$(port_file_addr "$BATS_TEST_TMPDIR/irc.port")/"
	[ "$scheme" = wss ] && IRC_URL="wss://localhost:${IRC_URL##*:}"
	export IRC_URL
}

# irc_log JQ: what the fake saw, filtered.
irc_log() {
	jq -c "$@" "$BATS_TEST_TMPDIR/irc.log"
}

@test "live: anonymous login, CAP then NICK justinfan, JOIN, events" {
	start_irc --replay "$FX/raids-hosts.txt"
	run -0 --separate-stderr timeout 20 twitch-irc-hosts --url "$IRC_URL" -c 2 '#GlowCaster'
	run -0 jq -s -c 'map(.event.from_broadcaster_user_login)' <<<"$output"
	assert_output '["lanternfish","kazuki_plays"]'
	run -0 irc_log -s '[.[] | select(.conn == 1 and .line) | .line]'
	run -0 jq -e '.[0] == "CAP REQ :twitch.tv/tags twitch.tv/commands"
	    and (.[1] | test("^NICK justinfan[0-9]+$")) and .[2] == "JOIN #glowcaster"
	    and (map(select(startswith("PASS"))) | length == 0)' <<<"$output"
}

@test "live: TWITCH_TOKEN logs in as the token's login; the token never shows" {
	load helpers/twitch
	start_fake_twitch --user glowcaster_bot:600700800
	tok=$(fake_token '{"login":"glowcaster_bot","scopes":["chat:read"]}')
	export TWITCH_TOKEN
	TWITCH_TOKEN=$(jq -r .access_token <<<"$tok")
	start_irc --replay "$FX/raids-hosts.txt" --token "$TWITCH_TOKEN" --login glowcaster_bot
	run -0 --separate-stderr timeout 20 twitch-irc-hosts --url "$IRC_URL" -c 1 -vv glowcaster
	assert_equal "$(jq -r .type <<<"$output")" channel.raid
	run -0 irc_log -s -r '[.[] | select(.line) | .line] | join("|")'
	[[ "$output" == "CAP REQ :twitch.tv/tags twitch.tv/commands|PASS ***|NICK glowcaster_bot|JOIN #glowcaster"* ]] || fail "$output"
	run -0 irc_log -s '[.[] | select(.pass_ok != null) | .pass_ok] == [true]'
	assert_output true
	printf '%s\n' "$stderr" >"$BATS_TEST_TMPDIR/stderr.txt"
	assert_no_secret "$TWITCH_TOKEN" "$BATS_TEST_TMPDIR/stderr.txt" "$BATS_TEST_TMPDIR/irc.log"
	[[ "$stderr" == *"PASS oauth:***"* ]] || fail "debug log should show a masked PASS"
}

@test "live: a stored user token and no --nick: NICK is the stored login, checked by the server" {
	load helpers/twitch
	start_fake_twitch
	tok=$(seed_user lanternfish)
	start_irc --replay "$FX/raids-hosts.txt" --id-url "$FAKE_TWITCH"
	run -0 --separate-stderr timeout 20 twitch-irc-hosts --url "$IRC_URL" -c 1 -v glowcaster
	assert_equal "$(jq -r .type <<<"$output")" channel.raid
	run -0 irc_log -s -c '[.[] | select(.event == "login") | [.nick, .token_login, .ok]]'
	assert_output '[["lanternfish","lanternfish",true]]'
	run -0 irc_log -s -r '[.[] | select(.line) | .line] | join("|")'
	[[ "$output" == "CAP REQ :twitch.tv/tags twitch.tv/commands|PASS ***|NICK lanternfish|JOIN #glowcaster"* ]] || fail "$output"
	[[ "$stderr" == *"logged in as lanternfish"* ]] || fail "$stderr"
	printf '%s\n' "$stderr" >"$BATS_TEST_TMPDIR/stderr.txt"
	assert_no_secret "$(jq -r .access_token <<<"$tok")" "$BATS_TEST_TMPDIR/stderr.txt" "$BATS_TEST_TMPDIR/irc.log"
}

@test "live: 'Login authentication failed' with a stored token: one refresh and a new login; refused again: 77" {
	load helpers/twitch
	start_fake_twitch
	tok=$(seed_user lanternfish)
	start_irc --replay "$FX/raids-hosts.txt" --id-url "$FAKE_TWITCH" --refuse-logins 1
	run -0 --separate-stderr timeout 20 twitch-irc-hosts --url "$IRC_URL" -c 1 glowcaster
	assert_equal "$(jq -r .type <<<"$output")" channel.raid
	[[ "$stderr" == *"connection 1: login refused; refreshing the token"* ]] || fail "$stderr"
	run -0 irc_log -s -c '[.[] | select(.event == "login") | [.conn, .nick, .ok]]'
	assert_output '[[1,"lanternfish",false],[2,"lanternfish",true]]'
	# the second login used a refreshed token, now in the store
	run -0 fake_requests '[.[] | select(.path == "/oauth2/token" and .form.grant_type == "refresh_token")] | length'
	assert_output 1
	[ "$(store_get .user.access_token)" != "$(jq -r .access_token <<<"$tok")" ] || fail "the token was not refreshed"

	# refused after the refresh too: no second refresh, exit 77
	stop_bg irc
	rm -f "$BATS_TEST_TMPDIR/irc.port" "$BATS_TEST_TMPDIR/irc.log"
	fake_ctl /_fake/reset >/dev/null
	start_irc --id-url "$FAKE_TWITCH" --refuse-logins 2
	run -77 --separate-stderr timeout 20 twitch-irc-hosts --url "$IRC_URL" glowcaster
	[[ "$stderr" == *"login as lanternfish refused by the chat server: Login authentication failed (run 'twitch-auth login' for a new token)"* ]] || fail "$stderr"
	run -0 irc_log -s -c '[.[] | select(.event == "login") | .ok]'
	assert_output '[false,false]'
	run -0 fake_requests '[.[] | select(.path == "/oauth2/token")] | length'
	assert_output 1
}

@test "live: TWITCH_IRC_URL is the server without --url; --url wins over it" {
	start_irc --replay "$FX/raids-hosts.txt"
	TWITCH_IRC_URL=$IRC_URL run -0 --separate-stderr timeout 20 twitch-irc-hosts --no-retry -v -c 1 glowcaster
	assert_equal "$(jq -r .type <<<"$output")" channel.raid
	[[ "$stderr" == *"connecting to $IRC_URL"* ]] || fail "$stderr"
	TWITCH_IRC_URL=ws://127.0.0.1:$(closed_port)/ run -0 --separate-stderr timeout 20 twitch-irc-hosts --no-retry --url "$IRC_URL" -c 1 glowcaster
	assert_equal "$(jq -r .type <<<"$output")" channel.raid
	run -0 irc_log -s '[.[] | select(.event == "connect")] | length'
	assert_output 2
}

@test "live: HOSTTARGET '-' logs 'stopped hosting', and a new host from that channel is news again" {
	printf '%s\n' ':tmi.twitch.tv HOSTTARGET #lanternfish :glowcaster 87' \
		':tmi.twitch.tv HOSTTARGET #lanternfish :- 0' \
		':tmi.twitch.tv HOSTTARGET #lanternfish :glowcaster 12' >"$BATS_TEST_TMPDIR/hosts.txt"
	start_irc --replay "$BATS_TEST_TMPDIR/hosts.txt"
	run -0 --separate-stderr timeout 20 twitch-irc-hosts --url "$IRC_URL" -v -c 2 lanternfish
	run -0 jq -s -c 'map([.event.from_broadcaster_user_login, .event.viewers])' <<<"$output"
	assert_output '[["lanternfish",87],["lanternfish",12]]'
	[[ "$stderr" == *"twitch-irc-hosts: info: lanternfish stopped hosting"* ]] || fail "$stderr"
}

@test "live: a refused login is exit 77 with a clear message" {
	load helpers/twitch
	start_fake_twitch --user glowcaster_bot:600700800
	tok=$(fake_token '{"login":"glowcaster_bot"}')
	export TWITCH_TOKEN
	TWITCH_TOKEN=$(jq -r .access_token <<<"$tok")
	start_irc --token "not-$TWITCH_TOKEN" --login glowcaster_bot
	run -77 --separate-stderr timeout 20 twitch-irc-hosts --url "$IRC_URL" glowcaster
	[[ "$stderr" == *"refused by the chat server: Login authentication failed"* ]] || fail "$stderr"
	assert_equal "$output" ""
}

@test "live: PING is answered with PONG carrying the same parameter" {
	start_irc --ping
	start_bg hosts twitch-irc-hosts --url "$IRC_URL" glowcaster
	wait_until 10 grep -q '"event": "pong"' "$BATS_TEST_TMPDIR/irc.log"
	run -0 irc_log -s -r '[.[] | select(.line and (.line | startswith("PONG"))) | .line][0]'
	assert_output "PONG tmi.twitch.tv"
	stop_bg hosts
	assert_equal "$(cat "$BATS_TEST_TMPDIR/hosts.status")" 0
}

@test "live: silence gets our own PING; no PONG means reconnect" {
	start_irc
	start_bg hosts twitch-irc-hosts --url "$IRC_URL" --ping-interval 0.5 glowcaster
	wait_until 10 grep -q '"line": "PING tmi.twitch.tv"' "$BATS_TEST_TMPDIR/irc.log"
	stop_bg hosts
	run -0 irc_log -s '[.[] | select(.line == "PING tmi.twitch.tv")] | length > 0'
}

@test "live: several channels are joined and events of each come out" {
	cat "$FX/raids-hosts.txt" >"$BATS_TEST_TMPDIR/both.txt"
	sed 's/#glowcaster/#lanternfish/; s/room-id=512345678/room-id=31415926/' \
		"$FX/raids-hosts.txt" | grep USERNOTICE | grep msg-id=raid | head -1 |
		sed 's/id=2b3c4d5e-6f70-4819-a2b3-c4d5e6f70819/id=00000000-6f70-4819-a2b3-c4d5e6f70819/' >>"$BATS_TEST_TMPDIR/both.txt"
	start_irc --replay "$BATS_TEST_TMPDIR/both.txt"
	run -0 --separate-stderr timeout 20 twitch-irc-hosts --url "$IRC_URL" -e raid -c 3 glowcaster lanternfish
	run -0 jq -s -c 'map(.event.to_broadcaster_user_login) | sort' <<<"$output"
	assert_output '["glowcaster","glowcaster","lanternfish"]'
	run -0 irc_log -s -r '[.[] | select(.line and (.line | startswith("JOIN"))) | .line][0]'
	assert_output "JOIN #glowcaster,#lanternfish"
}

@test "live: RECONNECT opens a new connection, rejoins, drops the old; nothing lost or doubled" {
	start_irc --replay "$FX/raids-hosts.txt" --reconnect-after 1
	start_bg hosts twitch-irc-hosts --url "$IRC_URL" glowcaster
	wait_until 15 grep -q '"conn": 2, "t": [0-9.]*}$\|"event": "replayed", "count": 8, "channels": \["glowcaster"\], "conn": 2' "$BATS_TEST_TMPDIR/irc.log"
	wait_until 10 bash -c "grep -q '\"event\": \"closed\", \"conn\": 1' '$BATS_TEST_TMPDIR/irc.log'"
	wait_lines "$BATS_TEST_TMPDIR/hosts.out" 5 10
	stop_bg hosts
	# both connections replayed everything: each event printed once
	run -0 jq -s -c 'map(.id) | [length, (unique | length)]' "$BATS_TEST_TMPDIR/hosts.out"
	assert_output '[5,5]'
	run -0 irc_log -s -c '[.[] | select(.conn == 2 and .line) | .line][-1]'
	assert_output '"JOIN #glowcaster"'
}

@test "live: a dropped connection (no close frame) is reconnected and rejoined" {
	start_irc --replay "$FX/raids-hosts.txt" --drop-after 2
	start_bg hosts twitch-irc-hosts --url "$IRC_URL" glowcaster
	wait_lines "$BATS_TEST_TMPDIR/hosts.out" 5 15
	stop_bg hosts
	assert_equal "$(cat "$BATS_TEST_TMPDIR/hosts.status")" 0
	run -0 jq -s -c 'map(.id) | [length, (unique | length)]' "$BATS_TEST_TMPDIR/hosts.out"
	assert_output '[5,5]'
	run -0 irc_log -s '[.[] | select(.line == "JOIN #glowcaster") | .conn] == [1,2]'
	assert_output true
	grep -q "connection 1: .*reconnecting in" "$BATS_TEST_TMPDIR/hosts.err" || fail "no reconnect logged"
}

@test "live: wss:// with the test CA through SSL_CERT_FILE; an unknown CA is refused" {
	start_irc --replay "$FX/raids-hosts.txt" --tls-cert "$SV_CERTS/server.pem" --tls-key "$SV_CERTS/server.key"
	run -0 --separate-stderr env SSL_CERT_FILE="$SV_CERTS/ca.pem" timeout 20 \
		twitch-irc-hosts --url "$IRC_URL" -c 1 glowcaster
	assert_equal "$(jq -r .type <<<"$output")" channel.raid
	run -69 --separate-stderr timeout 20 twitch-irc-hosts --url "$IRC_URL" --no-retry glowcaster
	[[ "$stderr" == *"certificate"* ]] || fail "$stderr"
}

@test "live: malformed lines from the server are skipped, the rest goes on" {
	{
		printf '@only-tags\n'
		printf 'BAD-COMMAND #glowcaster\n'
		sed -n 5p "$FX/raids-hosts.txt"
	} >"$BATS_TEST_TMPDIR/bad.txt"
	# the fake replays lines whose 2nd word names the channel
	printf '@x :tmi.twitch.tv #glowcaster\n' >>"$BATS_TEST_TMPDIR/bad.txt"
	start_irc --replay "$BATS_TEST_TMPDIR/bad.txt" --batch 1
	run -0 --separate-stderr timeout 20 twitch-irc-hosts --url "$IRC_URL" -c 1 glowcaster
	assert_equal "$(jq -r .type <<<"$output")" channel.raid
	[[ "$stderr" == *"malformed line from the server"* ]] || fail "$stderr"
}

@test "live: JOINs are paced at 20 per window; over 100 channels opens a second connection" {
	local chans=() i
	for i in $(seq 1 105); do chans+=("chan$i"); done
	start_irc
	SERVITOR_IRC_JOIN_WINDOW_MS=700 start_bg hosts twitch-irc-hosts --url "$IRC_URL" "${chans[@]}"
	wait_until 20 bash -c "jq -s -e '[.[] | select(.line and (.line | startswith(\"JOIN\"))) | .line | split(\",\") | length] | add == 105' '$BATS_TEST_TMPDIR/irc.log'"
	stop_bg hosts
	# never more than 20 channels per window, 100 on connection 1, 5 on 2
	run -0 irc_log -s -c '[.[] | select(.line and (.line | startswith("JOIN")))] | map(.line | split(",") | length) | max'
	assert_output 20
	run -0 irc_log -s -c '[.[] | select(.line and (.line | startswith("JOIN")))] | group_by(.conn) | map(map(.line | split(",") | length) | add)'
	assert_output '[100,5]'
	run -0 irc_log -s -c '[.[] | select(.line and (.line | startswith("JOIN"))) | .t] | [.[0], .[1]] | .[1] - .[0] >= 0.6'
	assert_output true
}

@test "live: --no-retry on an unreachable server is 69; SIGTERM is a clean 0" {
	run -69 --separate-stderr timeout 20 twitch-irc-hosts --url ws://127.0.0.1:$(closed_port)/ --no-retry glowcaster
	[[ "$stderr" == *"127.0.0.1"* ]] || fail "$stderr"
	start_irc
	start_bg hosts twitch-irc-hosts --url "$IRC_URL" glowcaster
	wait_until 10 grep -q 'JOIN #glowcaster' "$BATS_TEST_TMPDIR/irc.log"
	stop_bg hosts
	assert_equal "$(cat "$BATS_TEST_TMPDIR/hosts.status")" 0
	wait_until 5 grep -q '"event": "closed"' "$BATS_TEST_TMPDIR/irc.log"
}

@test "live: unreachable without --no-retry keeps retrying with backoff" {
	start_bg hosts twitch-irc-hosts --url ws://127.0.0.1:$(closed_port)/ glowcaster
	wait_until 10 bash -c "[ \$(grep -c 'reconnecting in' '$BATS_TEST_TMPDIR/hosts.err') -ge 3 ]"
	stop_bg hosts
	assert_equal "$(cat "$BATS_TEST_TMPDIR/hosts.status")" 0
}

@test "live: the stored token is validated again every interval; one Twitch stops accepting is refreshed" {
	load helpers/twitch
	start_fake_twitch --user glowcaster_bot:600700800
	tok=$(seed_user glowcaster_bot)
	access=$(jq -r .access_token <<<"$tok")
	start_irc --token "$access" --login glowcaster_bot
	SERVITOR_VALIDATE_SECONDS=1 start_bg hosts twitch-irc-hosts --url "$IRC_URL" -v glowcaster
	# validated TOKEN N: the fake saw at least N validations of TOKEN
	validated() {
		test "$(fake_requests '[.[] | select(.path == "/oauth2/validate"
		    and .headers.authorization == "OAuth " + $t)] | length' --arg t "$1")" -ge "$2"
	}
	stored_token_is_not() {
		test "$(store_get .user.access_token)" != "$1"
	}
	# at start, then about once a second
	wait_until 15 validated "$access" 3
	# Twitch revokes the token: the next validation refreshes it, the tool goes on
	fake_ctl /_fake/expire "{\"access_token\":\"$access\"}" >/dev/null
	wait_until 15 stored_token_is_not "$access"
	run -0 fake_requests '[.[] | select(.path == "/oauth2/token" and .form.grant_type == "refresh_token")] | length'
	assert_output 1
	fresh=$(store_get .user.access_token)
	wait_until 15 validated "$fresh" 2
	kill -0 "$(bg_pid hosts)" || fail "twitch-irc-hosts ended: $(cat "$BATS_TEST_TMPDIR/hosts.err")"
	assert_no_secret "$access" "$BATS_TEST_TMPDIR/hosts.err"
	assert_no_secret "$fresh" "$BATS_TEST_TMPDIR/hosts.err"
}
