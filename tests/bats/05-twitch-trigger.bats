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

# --- --webhook: deliveries as Twitch sends them, checked by a fake
# receiver in Python (tests/fakes/webhook-sink.py) and by openssl.

SECRET=s3rvitor-test-secret

# start_sink ARGS...: the fake receiver; sets URL. Requests land in
# $BATS_TEST_TMPDIR/sink.log, one JSON object per line.
start_sink() {
	export TWITCH_EVENTSUB_SECRET=$SECRET
	rm -f "$BATS_TEST_TMPDIR/sink.port" "$BATS_TEST_TMPDIR/sink.log"
	start_bg sink "$PY" "$SV_FAKES/webhook-sink.py" --listen 127.0.0.1:0 \
		--port-file "$BATS_TEST_TMPDIR/sink.port" --log "$BATS_TEST_TMPDIR/sink.log" "$@"
	URL="http://$(port_file_addr "$BATS_TEST_TMPDIR/sink.port")/eventsub"
}

# sink_req N: the Nth request the sink received.
sink_req() {
	sed -n "${1}p" "$BATS_TEST_TMPDIR/sink.log"
}

@test "--webhook: a notification with every Twitch header, signed as Twitch signs" {
	start_sink
	run -0 --separate-stderr timeout 20 twitch-trigger follow --user pixelpanda -w "$URL"
	assert_equal "$output" ""
	req=$(sink_req 1)
	run -0 jq -e '.signature_ok and .path == "/eventsub" and
	  .headers["Content-Type"] == "application/json" and
	  (.headers["Twitch-Eventsub-Message-Id"] | test("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")) and
	  .headers["Twitch-Eventsub-Message-Retry"] == "0" and
	  .headers["Twitch-Eventsub-Message-Type"] == "notification" and
	  (.headers["Twitch-Eventsub-Message-Timestamp"] | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\\.[0-9]{9}Z$")) and
	  .headers["Twitch-Eventsub-Subscription-Type"] == "channel.follow" and
	  .headers["Twitch-Eventsub-Subscription-Version"] == "2"' <<<"$req"
	# the signature, recomputed by openssl over id, timestamp and body
	id=$(jq -r '.headers["Twitch-Eventsub-Message-Id"]' <<<"$req")
	ts=$(jq -r '.headers["Twitch-Eventsub-Message-Timestamp"]' <<<"$req")
	jq -j .body <<<"$req" >"$BATS_TEST_TMPDIR/body"
	want=$(printf '%s%s' "$id" "$ts" | cat - "$BATS_TEST_TMPDIR/body" |
		openssl dgst -sha256 -hmac "$SECRET" -r | cut -d' ' -f1)
	assert_equal "$(jq -r '.headers["Twitch-Eventsub-Message-Signature"]' <<<"$req")" "sha256=$want"
	# the body: the subscription, its condition from the event, the event
	run -0 jq -e --arg url "$URL" '
	  keys_unsorted == ["subscription","event"] and
	  (.subscription | keys_unsorted == ["id","status","type","version","condition","transport","created_at","cost"]) and
	  .subscription.status == "enabled" and .subscription.type == "channel.follow" and
	  .subscription.version == "2" and .subscription.cost == 0 and
	  .subscription.condition == {"broadcaster_user_id": .event.broadcaster_user_id,
	                              "moderator_user_id": .event.broadcaster_user_id} and
	  .subscription.transport == {"method":"webhook","callback":$url} and
	  .event.user_login == "pixelpanda" and (.event.followed_at | type == "string")' "$BATS_TEST_TMPDIR/body"
}

@test "--webhook: the condition each type needs; --random skips channel.host" {
	start_sink
	run -0 timeout 20 twitch-trigger raid -w "$URL"
	run -0 jq -e '.body | fromjson | .subscription.condition ==
	  {"to_broadcaster_user_id": .event.to_broadcaster_user_id}' <<<"$(sink_req 1)"
	run -0 timeout 20 twitch-trigger cheer -w "$URL"
	run -0 jq -e '.body | fromjson | .subscription.condition ==
	  {"broadcaster_user_id": .event.broadcaster_user_id}' <<<"$(sink_req 2)"
	run -0 timeout 60 twitch-trigger --random --seed 3 -c 40 -w "$URL"
	assert_equal "$(wc -l <"$BATS_TEST_TMPDIR/sink.log")" 42
	run -0 jq -e -s 'all(.[]; .signature_ok) and
	  ([.[].headers["Twitch-Eventsub-Message-Id"]] | unique | length) == 42 and
	  all(.[]; .headers["Twitch-Eventsub-Subscription-Type"] != "channel.host")' "$BATS_TEST_TMPDIR/sink.log"
	run -64 --separate-stderr twitch-trigger host -w "$URL"
	[[ "$stderr" == *"not an EventSub type"* ]] || fail "$stderr"
}

@test "--verify: a signed challenge, and the answer checked as Twitch does" {
	start_sink
	run -0 timeout 20 twitch-trigger stream.online --verify -w "$URL"
	req=$(sink_req 1)
	run -0 jq -e '.signature_ok and
	  .headers["Twitch-Eventsub-Message-Type"] == "webhook_callback_verification" and
	  (.body | fromjson | keys_unsorted == ["challenge","subscription"] and
	   .subscription.status == "webhook_callback_verification_pending" and
	   .subscription.type == "stream.online" and (.challenge | length) > 10)' <<<"$req"
	stop_bg sink
	start_sink --challenge wrong
	run -76 --separate-stderr timeout 20 twitch-trigger stream.online --verify -w "$URL"
	[[ "$stderr" == *"answered the challenge"*"with"* ]] || fail "$stderr"
	stop_bg sink
	start_sink --challenge json
	run -76 --separate-stderr timeout 20 twitch-trigger stream.online --verify -w "$URL"
	[[ "$stderr" == *"not as text/plain"* ]] || fail "$stderr"
}

@test "--revoke: a revocation with its status and no event" {
	start_sink
	run -0 timeout 20 twitch-trigger cheer --revoke authorization_revoked -w "$URL"
	run -0 jq -e '.signature_ok and .headers["Twitch-Eventsub-Message-Type"] == "revocation" and
	  (.body | fromjson | keys_unsorted == ["subscription"] and
	   .subscription.status == "authorization_revoked" and .subscription.type == "channel.cheer")' <<<"$(sink_req 1)"
}

@test "--webhook: 429/503 retried with the same id; other answers end with their code" {
	start_sink --fail-first 2
	run -0 timeout 20 twitch-trigger follow -w "$URL"
	assert_equal "$(wc -l <"$BATS_TEST_TMPDIR/sink.log")" 3
	run -0 jq -e -s '([.[].headers["Twitch-Eventsub-Message-Id"]] | unique | length) == 1 and
	  [.[].headers["Twitch-Eventsub-Message-Retry"]] == ["0","1","2"] and all(.[]; .signature_ok)' \
	    "$BATS_TEST_TMPDIR/sink.log"
	stop_bg sink
	start_sink --fail-first 100
	run -69 --separate-stderr timeout 20 twitch-trigger follow -w "$URL"
	assert_equal "$(wc -l <"$BATS_TEST_TMPDIR/sink.log")" 5
	stop_bg sink
	start_sink --status 500
	run -69 --separate-stderr timeout 20 twitch-trigger follow -w "$URL"
	[[ "$stderr" == *"answered 500"* ]] || fail "$stderr"
	stop_bg sink
	start_sink --status 400
	run -76 --separate-stderr timeout 20 twitch-trigger follow -w "$URL"
	# the receiver knows another secret: 403, 77
	TWITCH_EVENTSUB_SECRET=not-the-same-secret run -77 --separate-stderr timeout 20 twitch-trigger follow -w "$URL"
	[[ "$stderr" == *"answered 403"* ]] || fail "$stderr"
	assert_no_secret not-the-same-secret <(echo "$stderr")
	# nobody listening: 69 at once
	run -69 --separate-stderr timeout 20 twitch-trigger follow -w http://127.0.0.1:$(closed_port)/eventsub
}

@test "--webhook: the secret from the environment or --secret-file, else 78" {
	start_sink
	unset TWITCH_EVENTSUB_SECRET
	run -78 --separate-stderr timeout 10 twitch-trigger follow -w "$URL"
	[[ "$stderr" == *"no secret"* ]] || fail "$stderr"
	run -78 --separate-stderr env TWITCH_EVENTSUB_SECRET=short timeout 10 twitch-trigger follow -w "$URL"
	run -66 --separate-stderr timeout 10 twitch-trigger follow -w "$URL" --secret-file "$BATS_TEST_TMPDIR/none"
	printf '%s\n' "$SECRET" >"$BATS_TEST_TMPDIR/secret"
	run -0 --separate-stderr timeout 10 twitch-trigger follow -w "$URL" --secret-file "$BATS_TEST_TMPDIR/secret"
	run -0 jq -e .signature_ok <<<"$(sink_req 1)"
}

@test "--webhook at debug level: headers are logged, the secret never" {
	start_sink
	printf '%s\n' "$SECRET" >"$BATS_TEST_TMPDIR/secret"
	run -0 --separate-stderr env SERVITOR_LOG=debug timeout 20 twitch-trigger follow -w "$URL"
	[[ "$stderr" == *"debug: http > Twitch-Eventsub-Message-Signature: sha256="* ]] || fail "$stderr"
	assert_no_secret "$SECRET" <(printf '%s' "$stderr")
	run -0 --separate-stderr env -u TWITCH_EVENTSUB_SECRET SERVITOR_LOG=debug timeout 20 \
		twitch-trigger stream.online --verify -vv --secret-file "$BATS_TEST_TMPDIR/secret" -w "$URL"
	[[ "$stderr" == *"debug: http > Twitch-Eventsub-Message-Type: webhook_callback_verification"* ]] || fail "$stderr"
	assert_no_secret "$SECRET" <(printf '%s' "$stderr")
	# a receiver that refuses the secret: the error path is clean too
	run -77 --separate-stderr env TWITCH_EVENTSUB_SECRET=not-the-same-secret SERVITOR_LOG=debug \
		timeout 20 twitch-trigger follow -w "$URL"
	assert_no_secret not-the-same-secret <(printf '%s' "$stderr")
	run -0 jq -s -e 'length == 3 and (.[0:2] | all(.signature_ok)) and (.[2].signature_ok | not)' \
		"$BATS_TEST_TMPDIR/sink.log"
}

@test "--webhook over TLS: the CA of SSL_CERT_FILE is trusted, others are not" {
	start_sink --cert "$SV_CERTS/server.pem" --key "$SV_CERTS/server.key"
	URL="https://localhost:${URL#http://127.0.0.1:}"
	run -0 env SSL_CERT_FILE="$SV_CERTS/ca.pem" timeout 20 twitch-trigger follow -w "$URL"
	run -69 --separate-stderr timeout 20 twitch-trigger follow -w "$URL"
	assert_equal "$(wc -l <"$BATS_TEST_TMPDIR/sink.log")" 1
}

@test "--webhook options: misuse is exit 64" {
	run -64 --separate-stderr twitch-trigger follow --verify
	[[ "$stderr" == *"need --webhook"* ]] || fail "$stderr"
	run -64 --separate-stderr twitch-trigger follow --revoke user_removed
	run -64 --separate-stderr twitch-trigger follow --secret-file /dev/null
	run -64 --separate-stderr twitch-trigger follow -w http://x/ --verify --revoke user_removed
	run -64 --separate-stderr twitch-trigger follow -w ftp://x/
	run -64 --separate-stderr twitch-trigger follow -w http://x/ --revoke 'Not A Status'
}

@test "SIGTERM while blocked on a slow reader: no half line, exit 0" {
	mkfifo "$BATS_TEST_TMPDIR/fifo"
	start_bg reader cat "$BATS_TEST_TMPDIR/fifo"
	start_bg trig bash -c 'exec twitch-trigger --random --count 1000000 >"$1"' _ "$BATS_TEST_TMPDIR/fifo"
	# let the reader open the FIFO and read a little, then freeze it so
	# the writer blocks in the kernel on the full pipe
	wait_file "$BATS_TEST_TMPDIR/reader.out" 10
	kill -STOP "$(bg_pid reader)"
	wait_until 10 grep -q pipe_write "/proc/$(bg_pid trig)/wchan" ||
		fail "twitch-trigger never blocked on the pipe"
	kill -TERM "$(bg_pid trig)"
	kill -CONT "$(bg_pid reader)"
	wait_bg trig 10 || true
	assert_equal "$(cat "$BATS_TEST_TMPDIR/trig.status")" 0
	stop_bg reader
	assert_ndjson "$BATS_TEST_TMPDIR/reader.out"
	[ ! -s "$BATS_TEST_TMPDIR/trig.err" ] || fail "$(cat "$BATS_TEST_TMPDIR/trig.err")"
}
