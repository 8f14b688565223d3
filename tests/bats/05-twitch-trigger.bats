#!/usr/bin/env bats
# twitch-trigger: synthetic events in the exact envelope and event shape.

bats_require_minimum_version 1.5.0
load helpers/common

FIELDS="$BATS_TEST_DIRNAME/fixtures/eventsub/fields.json"

# The envelope of every line is as DESIGN.md section 2 says.
envelope_ok() {
	jq -e '
	  (keys_unsorted == ["id","type","version","source","time","event"]) and
	  (.id | test("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")) and
	  (.source == "trigger") and
	  (.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$")) and
	  (.event | type == "object")' >/dev/null
}

@test "every type: envelope, version and the exact EventSub field list" {
	local type want got line
	for type in $(jq -r 'keys[] | select(startswith("_") | not)' "$FIELDS"); do
		run -0 --separate-stderr timeout 10 twitch-trigger "$type"
		[ "${#lines[@]}" -eq 1 ] || fail "$type: expected one line, got ${#lines[@]}"
		line=${lines[0]}
		printf '%s' "$line" | envelope_ok || fail "$type: bad envelope: $line"
		[ "$(printf '%s' "$line" | jq -r .type)" = "$type" ] || fail "$type: wrong type"
		want=$(jq -c --arg t "$type" '.[$t] | sort' "$FIELDS")
		got=$(printf '%s' "$line" | jq -c '.event | keys | sort')
		[ "$got" = "$want" ] || fail "$type: fields $got, want $want"
	done
}

@test "versions follow EventSub: follow is v2, the rest v1" {
	run -0 --separate-stderr twitch-trigger channel.follow
	assert_equal "$(jq -r .version <<<"$output")" 2
	run -0 --separate-stderr twitch-trigger channel.raid
	assert_equal "$(jq -r .version <<<"$output")" 1
}

@test "value types: ids are decimal strings, counts are numbers, times RFC 3339" {
	run -0 --separate-stderr twitch-trigger --random --count 200 --seed 7
	printf '%s\n' "${lines[@]}" >"$BATS_TEST_TMPDIR/ev.ndjson"
	assert_ndjson "$BATS_TEST_TMPDIR/ev.ndjson"
	# every *user_id that is not null is a string of digits
	run -0 jq -e -s '[.[].event | to_entries[] | select(.key | endswith("user_id"))
	    | .value | select(. != null)] | all(type == "string" and test("^[0-9]+$"))' \
	    "$BATS_TEST_TMPDIR/ev.ndjson"
	run -0 jq -e -s '[.[] | select(.type == "channel.cheer") | .event.bits] | length > 0 and all(type == "number")' \
	    "$BATS_TEST_TMPDIR/ev.ndjson"
	run -0 jq -e -s '[.[] | select(.type == "channel.follow") | .event.followed_at]
	    | all(test("^[0-9-]{10}T[0-9:]{8}\\.[0-9]{9}Z$"))' "$BATS_TEST_TMPDIR/ev.ndjson"
	run -0 jq -e -s '[.[] | select(.type == "channel.subscribe" or .type == "channel.subscription.gift") | .event.tier]
	    | all(. == "1000" or . == "2000" or . == "3000")' "$BATS_TEST_TMPDIR/ev.ndjson"
	# --random covers many types, not just one
	run -0 jq -s '[.[].type] | unique | length' "$BATS_TEST_TMPDIR/ev.ndjson"
	[ "$output" -ge 8 ] || fail "only $output distinct types in 200 random events"
}

@test "ids are unique across a run" {
	run -0 --separate-stderr twitch-trigger channel.follow --count 500
	assert_equal "${#lines[@]}" 500
	run -0 bash -c "printf '%s\n' \"\${@}\" | jq -r .id | sort -u | wc -l" _ "${lines[@]}"
	assert_equal "$output" 500
}

@test "--count N prints N events and exits 0" {
	run -0 --separate-stderr twitch-trigger --random -c 7
	assert_equal "${#lines[@]}" 7
	assert_equal "$stderr" ""
}

@test "Twitch CLI aliases name the same types" {
	run -0 --separate-stderr twitch-trigger follow
	assert_equal "$(jq -r .type <<<"$output")" channel.follow
	run -0 --separate-stderr twitch-trigger add-redemption
	assert_equal "$(jq -r .type <<<"$output")" channel.channel_points_custom_reward_redemption.add
}

@test "given values land in their fields" {
	run -0 --separate-stderr twitch-trigger channel.cheer --user bitbard --broadcaster some_one \
	    --amount 250 --message 'Cheer250 hi'
	run -0 jq -e '.event.user_login == "bitbard" and .event.user_name == "BitBard"
	    and .event.broadcaster_user_login == "some_one" and .event.broadcaster_user_name == "Some_One"
	    and .event.bits == 250 and .event.message == "Cheer250 hi" and .event.is_anonymous == false' <<<"$output"
	run -0 --separate-stderr twitch-trigger raid --user lanternfish --viewers 87
	run -0 jq -e '.event.from_broadcaster_user_login == "lanternfish" and .event.viewers == 87
	    and .event.to_broadcaster_user_login == "glowcaster"' <<<"$output"
	run -0 --separate-stderr twitch-trigger channel.subscription.message --amount 24 --tier 3000 --message 'Two years'
	run -0 jq -e '.event.cumulative_months == 24 and .event.tier == "3000"
	    and .event.message.text == "Two years" and (.event.message.emotes | type == "array")' <<<"$output"
	run -0 --separate-stderr twitch-trigger channel.host --user quietfox --broadcaster glowcaster --viewers 3
	run -0 jq -e '.event == {"from_broadcaster_user_login":"quietfox","to_broadcaster_user_login":"glowcaster","viewers":3}' <<<"$output"
}

@test "the same login always gets the same user id" {
	run -0 --separate-stderr twitch-trigger follow --user pixelpanda --count 2
	a=$(jq -r .event.user_id <<<"${lines[0]}")
	b=$(jq -r .event.user_id <<<"${lines[1]}")
	assert_equal "$a" "$b"
	run -0 --separate-stderr twitch-trigger raid --user pixelpanda
	assert_equal "$(jq -r .event.from_broadcaster_user_id <<<"$output")" "$a"
}

@test "anonymous gifts and cheers carry null users, as EventSub does" {
	run -0 --separate-stderr twitch-trigger channel.subscription.gift --anonymous --amount 5
	run -0 jq -e '.event.user_id == null and .event.user_login == null and .event.user_name == null
	    and .event.is_anonymous == true and .event.cumulative_total == null and .event.total == 5' <<<"$output"
	run -0 --separate-stderr twitch-trigger channel.cheer --anonymous
	run -0 jq -e '.event.is_anonymous == true and .event.user_id == null' <<<"$output"
}

@test "UTF-8 display names and messages pass through intact" {
	run -0 --separate-stderr twitch-trigger follow --user kazuki_plays
	assert_equal "$(jq -r .event.user_name <<<"$output")" "$(printf '\343\201\213\343\201\232\343\201\215')"
	run -0 --separate-stderr twitch-trigger cheer --message 'Cheer1 ünïcødé ✨'
	assert_equal "$(jq -r .event.message <<<"$output")" 'Cheer1 ünïcødé ✨'
}

@test "--seed makes values repeatable (ids stay unique)" {
	run -0 --separate-stderr twitch-trigger --random --count 20 --seed 42
	a=$(printf '%s\n' "${lines[@]}" | jq -c 'del(.id, .time, .event.followed_at, .event.redeemed_at, .event.started_at, .event.id, .event.reward.id)')
	run -0 --separate-stderr twitch-trigger --random --count 20 --seed 42
	b=$(printf '%s\n' "${lines[@]}" | jq -c 'del(.id, .time, .event.followed_at, .event.redeemed_at, .event.started_at, .event.id, .event.reward.id)')
	assert_equal "$a" "$b"
}

@test "--interval paces events and runs until stopped without --count" {
	start_bg trig twitch-trigger --random --interval 0.2
	wait_lines "$BATS_TEST_TMPDIR/trig.out" 3 10
	stop_bg trig
	assert_equal "$(cat "$BATS_TEST_TMPDIR/trig.status")" 0
	assert_ndjson "$BATS_TEST_TMPDIR/trig.out"
	[ ! -s "$BATS_TEST_TMPDIR/trig.err" ] || fail "stderr: $(cat "$BATS_TEST_TMPDIR/trig.err")"
}

@test "| head -1 ends quietly with status 0" {
	run -0 bash -c 'twitch-trigger --random --interval 0.05 2>"$1" | head -n 1 >/dev/null; echo "${PIPESTATUS[0]}"' _ "$BATS_TEST_TMPDIR/err"
	assert_output 0
	[ ! -s "$BATS_TEST_TMPDIR/err" ] || fail "stderr: $(cat "$BATS_TEST_TMPDIR/err")"
	run -0 bash -c 'twitch-trigger --random --count 100000 2>"$1" | head -n 1 >/dev/null; echo "${PIPESTATUS[0]}"' _ "$BATS_TEST_TMPDIR/err"
	assert_output 0
	[ ! -s "$BATS_TEST_TMPDIR/err" ] || fail "stderr: $(cat "$BATS_TEST_TMPDIR/err")"
}

@test "a full disk is an I/O error (74), not silence" {
	[ -w /dev/full ] || skip "no /dev/full"
	run -74 --separate-stderr bash -c 'twitch-trigger follow --count 3 >/dev/full'
	assert_equal "$output" ""
	[[ "$stderr" == *"twitch-trigger: error: write to stdout"* ]] || fail "stderr: $stderr"
}

@test "bad arguments: exit 64 and a message with a help pointer" {
	run -64 --separate-stderr twitch-trigger
	assert_equal "$output" ""
	[[ "$stderr" == *"missing TYPE"* ]]
	[[ "$stderr" == *"Try 'twitch-trigger --help'."* ]]
	run -64 --separate-stderr twitch-trigger channel.nope
	[[ "$stderr" == *"unknown type 'channel.nope'"* ]]
	run -64 --separate-stderr twitch-trigger follow --count 0
	run -64 --separate-stderr twitch-trigger follow --count abc
	run -64 --separate-stderr twitch-trigger follow --tier 4000
	[[ "$stderr" == *"--tier"* ]]
	run -64 --separate-stderr twitch-trigger follow --interval -1
	run -64 --separate-stderr twitch-trigger follow --user 'Not A Login'
	run -64 --separate-stderr twitch-trigger follow --random
	run -64 --separate-stderr twitch-trigger follow raid
	run -64 --separate-stderr twitch-trigger --bogus
	[[ "$stderr" == *"Try 'twitch-trigger --help'."* ]]
	run -64 --separate-stderr twitch-trigger follow --message "$(printf 'bad\377utf8')"
}

@test "SIGTERM stops a paced run cleanly with status 0" {
	start_bg trig twitch-trigger --random --interval 30
	wait_lines "$BATS_TEST_TMPDIR/trig.out" 1 10
	stop_bg trig TERM
	assert_equal "$(cat "$BATS_TEST_TMPDIR/trig.status")" 0
	assert_equal "$(wc -l <"$BATS_TEST_TMPDIR/trig.out")" 1
}

@test "--list names every type with its version and CLI alias" {
	run -0 --separate-stderr twitch-trigger --list
	assert_line --partial $'channel.follow\t2\tfollow'
	assert_line --partial $'channel.host\t1\thost'
	assert_equal "${#lines[@]}" 10
}
