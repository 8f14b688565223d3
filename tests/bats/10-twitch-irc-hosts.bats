#!/usr/bin/env bats
# twitch-irc-hosts: IRC parsing and event mapping (--replay), and the live
# connection against tests/fakes/irc-server.py.

bats_require_minimum_version 1.5.0
load helpers/common

FX="$BATS_TEST_DIRNAME/fixtures/irc"

# golden FIXTURE ARGS...: replay the fixture and compare with FIXTURE.ndjson
# (time removed: host events without tmi-sent-ts are stamped on receipt).
golden() {
	local f=$1
	shift
	run -0 --separate-stderr timeout 10 twitch-irc-hosts --replay "$FX/$f.txt" "$@"
	diff -u "$FX/$f.ndjson" <(printf '%s\n' "${lines[@]}" | jq -c 'del(.time)') ||
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
