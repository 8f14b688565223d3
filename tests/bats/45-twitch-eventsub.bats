#!/usr/bin/env bats
# twitch-eventsub: EventSub subscriptions through Helix, against the fake
# Helix API (tests/fakes/twitch-api.py, written from twitch-protocols.md
# sections 1.11, 2.2, 3.0 and 7).

bats_require_minimum_version 1.5.0
load helpers/common
load helpers/twitch

setup() {
	start_fake_twitch
	USER_TOKEN=$(seed_user glowcaster | jq -r .access_token)
}

# The last Helix request to PATH with METHOD, as JSON.
last_request() {
	fake_requests "[.[] | select(.method == \"$1\" and .path == \"$2\")] | last"
}

@test "create: a websocket subscription with the user token and the broadcaster looked up" {
	run -0 --separate-stderr timeout 10 twitch-eventsub create -t channel.subscribe -b glowcaster --session AgoQ42
	assert_equal "${#lines[@]}" 1
	jq -e '.id and .status == "enabled" and .type == "channel.subscribe" and .version == "1"
	    and .condition == {"broadcaster_user_id":"512345678"}
	    and .transport.method == "websocket" and .transport.session_id == "AgoQ42"' <<<"$output"
	# Helix saw the login lookup and the create, with both headers
	run -0 last_request GET /helix/users
	jq -e '.query.login == ["glowcaster"]' <<<"$output"
	run -0 last_request POST /helix/eventsub/subscriptions
	jq -e --arg t "$USER_TOKEN" '.headers.authorization == "Bearer " + $t
	    and .headers["client-id"] == env.TWITCH_CLIENT_ID
	    and (.headers["content-type"] | startswith("application/json"))
	    and .json.transport == {"method":"websocket","session_id":"AgoQ42"}' <<<"$output"
}

@test "create: the condition each type needs is filled in" {
	# channel.follow v2: the moderator is the token's user
	run -0 --separate-stderr timeout 10 twitch-eventsub create -t follow -b glowcaster --session s1
	jq -e '.type == "channel.follow" and .version == "2" and .condition ==
	    {"broadcaster_user_id":"512345678","moderator_user_id":"512345678"}' <<<"$output"
	# channel.raid: raids into the channel
	run -0 --separate-stderr timeout 10 twitch-eventsub create -t raid -b glowcaster --session s1
	jq -e '.condition == {"to_broadcaster_user_id":"512345678"}' <<<"$output"
	# channel.chat.notification: the chatting user is the token's user
	run -0 --separate-stderr timeout 10 twitch-eventsub create -t channel.chat.notification -b 512345678 --session s1
	jq -e '.condition == {"broadcaster_user_id":"512345678","user_id":"512345678"}' <<<"$output"
	# --condition on top: raids out of another channel (a login is looked up)
	run -0 --separate-stderr timeout 10 twitch-eventsub create -t raid -b glowcaster --session s2 \
		--condition to_broadcaster_user_id= --condition from_broadcaster_user_id=lanternfish
	jq -e '.condition == {"from_broadcaster_user_id":"31415926"}' <<<"$output"
	# a user id is used as given
	run -0 fake_requests '[.[] | select(.path == "/helix/users") | .query] | last'
	assert_equal "$output" '{"login":["lanternfish"]}'
}

@test "create --version V is the subscription version (as in Twitch's CLI); -V and --version elsewhere print ours" {
	run -0 --separate-stderr timeout 10 twitch-eventsub create -t follow --version 2 -b glowcaster --session s1
	jq -e '.type == "channel.follow" and .version == "2"' <<<"$output"
	run -0 last_request POST /helix/eventsub/subscriptions
	jq -e '.json.version == "2"' <<<"$output"
	# before the command word too, and as --version=V
	run -65 --separate-stderr timeout 10 twitch-eventsub --version=1 create -t follow -b glowcaster --session s2
	[[ "$stderr" == *"410 Gone"* ]] || fail "$stderr"
	run -64 --separate-stderr twitch-eventsub create -t follow -b glowcaster --session s3 --version
	run -0 --separate-stderr twitch-eventsub --version
	[[ "$output" == "twitch-eventsub "[0-9]* ]] || fail "$output"
	run -0 --separate-stderr twitch-eventsub create -V
	[[ "$output" == "twitch-eventsub "[0-9]* ]] || fail "$output"
}

@test "create: a webhook subscription uses an app token and never prints the secret" {
	export TWITCH_EVENTSUB_SECRET=s3rvitor-test-secret
	run -0 --separate-stderr timeout 10 twitch-eventsub -v create -t stream.online -b lanternfish \
		--callback https://alerts.example.org/eventsub
	jq -e '.status == "webhook_callback_verification_pending" and .condition == {"broadcaster_user_id":"31415926"}
	    and .transport == {"method":"webhook","callback":"https://alerts.example.org/eventsub"}' <<<"$output"
	[[ "$output$stderr" != *"$TWITCH_EVENTSUB_SECRET"* ]] || fail "the secret was printed"
	# an app token from client credentials, stored apart from the user's
	run -0 last_request POST /helix/eventsub/subscriptions
	jq -e --arg a "$(store_get .app.access_token)" '.headers.authorization == "Bearer " + $a
	    and .json.transport.secret == env.TWITCH_EVENTSUB_SECRET' <<<"$output"
	assert_equal "$(store_get .user.access_token)" "$USER_TOKEN"
	# the secret from a file; too short or missing is a configuration error
	printf 'another-secret-123\n' >"$BATS_TEST_TMPDIR/secret"
	run -0 --separate-stderr env -u TWITCH_EVENTSUB_SECRET timeout 10 twitch-eventsub create -t stream.offline \
		-b lanternfish --transport webhook --callback https://alerts.example.org/eventsub --secret-file "$BATS_TEST_TMPDIR/secret"
	run -78 --separate-stderr env TWITCH_EVENTSUB_SECRET=short timeout 10 twitch-eventsub create -t stream.offline \
		-b lanternfish --callback https://alerts.example.org/x
	[[ "$stderr" == *"10 to 100"* ]] || fail "$stderr"
	run -78 --separate-stderr env -u TWITCH_EVENTSUB_SECRET timeout 10 twitch-eventsub create -t stream.offline \
		-b lanternfish --callback https://alerts.example.org/x
	run -66 --separate-stderr timeout 10 twitch-eventsub create -t stream.offline \
		-b lanternfish --callback https://alerts.example.org/x --secret-file /nonexistent
}

@test "list: every page (cursor), one subscription per line" {
	fake_ctl /_fake/config '{"page_size":2}'
	local t
	for t in channel.subscribe channel.cheer stream.online stream.offline channel.raid; do
		run -0 timeout 10 twitch-eventsub create -t "$t" -b glowcaster --session s1
	done
	run -0 --separate-stderr timeout 10 twitch-eventsub list --auth user
	assert_equal "${#lines[@]}" 5
	printf '%s\n' "${lines[@]}" >"$BATS_TEST_TMPDIR/list.ndjson"
	assert_ndjson "$BATS_TEST_TMPDIR/list.ndjson"
	run -0 jq -s -c 'map(.type)' "$BATS_TEST_TMPDIR/list.ndjson"
	assert_equal "$output" '["channel.subscribe","channel.cheer","stream.online","stream.offline","channel.raid"]'
	# three pages: the second and third asked with after=<cursor>
	run -0 fake_requests '[.[] | select(.method == "GET" and .path == "/helix/eventsub/subscriptions") | (.query.after != null)]'
	assert_equal "$output" '[false,true,true]'
	# filters: one goes to Helix, the others are applied here
	run -0 --separate-stderr timeout 10 twitch-eventsub list --auth user -t cheer
	assert_equal "${#lines[@]}" 1
	jq -e '.type == "channel.cheer"' <<<"$output"
	run -0 --separate-stderr timeout 10 twitch-eventsub list --auth user -t stream.online --status enabled
	assert_equal "${#lines[@]}" 1
	run -0 --separate-stderr timeout 10 twitch-eventsub list --auth user --status webhook_callback_verification_failed
	assert_equal "$output" ""
	run -0 --separate-stderr timeout 10 twitch-eventsub list --auth user -b glowcaster
	assert_equal "${#lines[@]}" 5
	# by default, list uses the app token when one can be had: no webhooks yet
	run -0 --separate-stderr timeout 10 twitch-eventsub list
	assert_equal "$output" ""
}

@test "a 429 waits until Ratelimit-Reset and retries" {
	run -0 timeout 10 twitch-eventsub create -t channel.cheer -b glowcaster --session s1
	fake_ctl /_fake/fail '{"path":"/helix/eventsub/subscriptions","method":"GET","status":429,"count":1,"reset_in":1}'
	run -0 --separate-stderr timeout 15 twitch-eventsub list --auth user
	assert_equal "${#lines[@]}" 1
	[[ "$stderr" == *"rate limited (429)"* ]] || fail "$stderr"
	reset=$(fake_ctl /_fake/state | jq '.failures[0].resets[0]')
	run -0 fake_requests '[.[] | select(.method == "GET" and .path == "/helix/eventsub/subscriptions") | [.status, .time]]'
	jq -e --argjson r "$reset" 'length == 2 and .[0][0] == 429 and .[1][0] == 200 and .[1][1] >= $r' <<<"$output"
	# rate limited three times more than we wait for: exit 75
	fake_ctl /_fake/fail '{"path":"/helix/eventsub/subscriptions","method":"GET","status":429,"count":4,"reset_in":0}'
	run -75 --separate-stderr timeout 20 twitch-eventsub list --auth user
	[[ "$stderr" == *"429 Too Many Requests"* ]] || fail "$stderr"
}

@test "an answer that empties the rate-limit bucket makes the next call wait for the reset" {
	fake_ctl /_fake/fail '{"path":"/helix/users","status":200,"reset_in":1,
	    "body":{"data":[{"id":"512345678","login":"glowcaster","display_name":"GlowCaster"}]}}'
	run -0 --separate-stderr timeout 15 twitch-eventsub create -t cheer -b glowcaster --session s1
	reset=$(fake_ctl /_fake/state | jq '.failures[0].resets[0]')
	run -0 fake_requests '[.[] | select(.path == "/helix/eventsub/subscriptions") | .time]'
	jq -e --argjson r "$reset" 'length == 1 and .[0] >= $r' <<<"$output"
}

@test "a 401 from Helix refreshes the token and retries once" {
	fake_ctl /_fake/fail '{"path":"/helix/users","status":401,"count":1,"message":"Invalid OAuth token"}'
	run -0 --separate-stderr timeout 10 twitch-eventsub create -t cheer -b glowcaster --session s1
	new=$(store_get .user.access_token)
	[ "$new" != "$USER_TOKEN" ] || fail "token not refreshed"
	run -0 fake_requests '[.[] | select(.path == "/helix/users") | [.status, .headers.authorization]]'
	jq -e --arg o "Bearer $USER_TOKEN" --arg n "Bearer $new" '. == [[401,$o],[200,$n]]' <<<"$output"
	run -0 fake_requests '[.[] | select(.path == "/oauth2/token") | .form.grant_type]'
	assert_equal "$output" '["refresh_token"]'
	# still 401 after the refresh: exit 77, one retry only
	fake_ctl /_fake/fail '{"path":"/helix/users","status":401,"count":5}'
	run -77 --separate-stderr timeout 10 twitch-eventsub create -t cheer -b glowcaster --session s2
	[[ "$stderr" == *"401 Unauthorized"* ]] || fail "$stderr"
	run -0 fake_requests '[.[] | select(.path == "/helix/users" and .status == 401)] | length'
	assert_equal "$output" 3
}

@test "delete: by id, every listed one with --all, unknown ids are 65" {
	run -0 timeout 10 twitch-eventsub create -t cheer -b glowcaster --session s1
	id1=$(jq -r .id <<<"$output")
	run -0 timeout 10 twitch-eventsub create -t raid -b glowcaster --session s1
	run -0 timeout 10 twitch-eventsub create -t stream.online -b glowcaster --session s1
	run -0 --separate-stderr timeout 10 twitch-eventsub delete --auth user "$id1"
	jq -e --arg id "$id1" '. == {"id":$id,"deleted":true}' <<<"$output"
	run -65 --separate-stderr timeout 10 twitch-eventsub delete --auth user "$id1"
	[[ "$stderr" == *"404 Not Found: subscription not found"* ]] || fail "$stderr"
	run -0 --separate-stderr timeout 10 twitch-eventsub delete --auth user --all -t raid
	assert_equal "${#lines[@]}" 1
	run -0 --separate-stderr timeout 10 twitch-eventsub delete --auth user --all
	assert_equal "${#lines[@]}" 1
	run -0 --separate-stderr timeout 10 twitch-eventsub list --auth user
	assert_equal "$output" ""
}

@test "Helix errors become clear messages and exit codes" {
	run -0 timeout 10 twitch-eventsub create -t cheer -b glowcaster --session s1
	# duplicate: 409
	run -65 --separate-stderr timeout 10 twitch-eventsub create -t cheer -b glowcaster --session s1
	[[ "$stderr" == *"Helix POST /eventsub/subscriptions: 409 Conflict: subscription already exists"* ]] || fail "$stderr"
	# a removed version: 410
	run -65 --separate-stderr timeout 10 twitch-eventsub create -t follow --type-version 1 -b glowcaster --session s1
	[[ "$stderr" == *"410 Gone"* ]] || fail "$stderr"
	# a callback Twitch refuses: 400 and its message
	run -65 --separate-stderr env TWITCH_EVENTSUB_SECRET=0123456789ab timeout 10 twitch-eventsub create \
		-t cheer -b glowcaster --callback http://alerts.example.org/eventsub
	[[ "$stderr" == *"400 Bad Request: invalid callback"* ]] || fail "$stderr"
	run -65 --separate-stderr timeout 10 twitch-eventsub create -t stream.online -b nosuchuser --session s1
	[[ "$stderr" == *"no Twitch user 'nosuchuser'"* ]] || fail "$stderr"
	# a scope the token lacks: 403 is an authorisation failure with a hint
	seed_user glowcaster 3600 '[]' >/dev/null
	run -77 --separate-stderr timeout 10 twitch-eventsub create -t channel.subscribe -b glowcaster --session s1
	[[ "$stderr" == *"403 Forbidden: subscription missing proper authorization"*"--scopes"* ]] || fail "$stderr"
	# Helix unreachable
	run -69 --separate-stderr env TWITCH_API_URL=http://127.0.0.1:$(closed_port)/helix timeout 10 twitch-eventsub list --auth user
}

@test "tokens from the environment: TWITCH_TOKEN for websocket, TWITCH_APP_TOKEN for webhooks" {
	rm -f "$SERVITOR_HOME/tokens.json"
	user=$(fake_token '{"login":"lanternfish","scopes":["bits:read"]}' | jq -r .access_token)
	app=$(fake_token '{"kind":"app"}' | jq -r .access_token)
	run -0 --separate-stderr env TWITCH_TOKEN="$user" timeout 10 twitch-eventsub create -t cheer -b lanternfish --session s9
	jq -e '.condition.broadcaster_user_id == "31415926"' <<<"$output"
	run -0 --separate-stderr env -u TWITCH_CLIENT_SECRET TWITCH_APP_TOKEN="$app" TWITCH_EVENTSUB_SECRET=0123456789ab \
		timeout 10 twitch-eventsub create -t stream.online -b lanternfish --callback https://example.org/cb
	run -0 --separate-stderr env -u TWITCH_CLIENT_SECRET TWITCH_APP_TOKEN="$app" timeout 10 twitch-eventsub list
	assert_equal "${#lines[@]}" 1
	[ ! -e "$SERVITOR_HOME/tokens.json" ] || fail "a store was written"
	# no token anywhere: the user is told what to do
	run -78 --separate-stderr env -u TWITCH_CLIENT_SECRET timeout 10 twitch-eventsub list
	[[ "$stderr" == *"twitch-auth login"* ]] || fail "$stderr"
}

@test "usage errors are 64" {
	run -64 --separate-stderr twitch-eventsub
	run -64 --separate-stderr twitch-eventsub frob
	run -64 --separate-stderr twitch-eventsub create -b glowcaster --session s
	run -64 --separate-stderr twitch-eventsub create -t cheer --session s
	run -64 --separate-stderr twitch-eventsub create -t cheer -b glowcaster
	run -64 --separate-stderr twitch-eventsub create -t cheer -b glowcaster --transport webhook
	run -64 --separate-stderr twitch-eventsub create -t cheer -b glowcaster --transport carrier-pigeon --session s
	run -64 --separate-stderr twitch-eventsub create -t cheer -b glowcaster --session s --callback https://x/
	run -64 --separate-stderr twitch-eventsub create -t host -b glowcaster --session s
	run -64 --separate-stderr twitch-eventsub create -t cheer -b glowcaster --session s --condition novalue
	run -64 --separate-stderr twitch-eventsub list --callback https://x/
	run -64 --separate-stderr twitch-eventsub list --type-version 2
	run -64 --separate-stderr twitch-eventsub list --auth robot
	run -64 --separate-stderr twitch-eventsub delete
	run -64 --separate-stderr twitch-eventsub delete --all someid
	run -64 --separate-stderr twitch-eventsub delete someid -t cheer
}
