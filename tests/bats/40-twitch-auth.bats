#!/usr/bin/env bats
# twitch-auth: device and browser logins, the token store, refresh and
# rotation, validation, status and revocation, against the fake id
# server (tests/fakes/twitch-api.py, written from twitch-protocols.md 6).

bats_require_minimum_version 1.5.0
load helpers/common
load helpers/twitch

STORE=

setup() {
	STORE="$SERVITOR_HOME/tokens.json"
}

# wait_status NAME WANT [SECONDS]: NAME (from start_bg) exits with WANT.
wait_status() {
	local st=0
	wait_bg "$1" "${3:-20}" || st=$?
	[ "$st" -eq "$2" ] || fail "$1 exited $st, want $2: $(cat "$BATS_TEST_TMPDIR/$1.err")"
}

@test "login: device code flow through authorization_pending to success" {
	start_fake_twitch --device-interval 1 --approve-after 2
	run -0 --separate-stderr timeout 20 twitch-auth login
	jq -e '.kind == "user" and .source == "store" and .login == "glowcaster"
	    and .user_id == "512345678" and .refreshable == true
	    and .expires_in > 14000 and (.scopes | index("moderator:read:followers"))' <<<"$output"
	# the instructions are on stderr: the verification URL and the code
	code=$(fake_ctl /_fake/state | jq -r '.devices[0].user_code')
	[[ "$stderr" == *"https://www.twitch.tv/activate?public=true&device-code=$code"* ]] ||
		fail "no verification URL on stderr: $stderr"
	[[ "$stderr" == *"enter the code $code"* ]] || fail "no user code: $stderr"
	# one device authorization, then polls: pending, granted
	run -0 fake_requests '[.[] | select(.path | startswith("/oauth2/")) | "\(.path) \(.status)"]'
	assert_equal "$output" '["/oauth2/device 200","/oauth2/token 400","/oauth2/token 200","/oauth2/validate 200"]'
	run -0 fake_requests '[.[] | select(.path == "/oauth2/token") | .form.grant_type] | unique'
	assert_equal "$output" '["urn:ietf:params:oauth:grant-type:device_code"]'
	# the store: 0600 in a 0700 directory, the user entry complete
	assert_equal "$(stat -c %a "$STORE")" 600
	assert_equal "$(stat -c %a "$SERVITOR_HOME")" 700
	jq -e '.version == 1 and (.user | .access_token and .refresh_token
	    and .login == "glowcaster" and .user_id == "512345678"
	    and .client_id == env.TWITCH_CLIENT_ID and .expires_at > now
	    and (.scopes | length) > 3) and .app == null' "$STORE"
}

@test "login: slow_down adds 5 s to the polling interval" {
	start_fake_twitch --device-interval 1 --slow-down 1 --approve-after 2
	run -0 --separate-stderr timeout 30 twitch-auth login -v
	[[ "$stderr" == *"slow_down: polling every 6 s"* ]] || fail "$stderr"
	run -0 fake_requests '[.[] | select(.path == "/oauth2/device" or .path == "/oauth2/token") | .time]'
	# device at t0, first poll after ~1 s (slow_down), the next after ~6 s
	run -0 jq -e '(.[1] - .[0]) >= 0.9 and (.[1] - .[0]) < 3
	    and (.[2] - .[1]) >= 5.9 and (.[2] - .[1]) < 8' <<<"$output"
	jq -e '.user.login == "glowcaster"' "$STORE"
}

@test "login: a denied device code is exit 77 and stores nothing" {
	start_fake_twitch --device-interval 1
	start_bg login twitch-auth login
	wait_until 10 grep -q 'enter the code' "$BATS_TEST_TMPDIR/login.err"
	code=$(fake_ctl /_fake/state | jq -r '.devices[0].user_code')
	fake_ctl /_fake/device "{\"user_code\":\"$code\",\"action\":\"deny\"}"
	wait_status login 77
	grep -q 'no longer valid' "$BATS_TEST_TMPDIR/login.err"
	[ ! -s "$BATS_TEST_TMPDIR/login.out" ] || fail "stdout: $(cat "$BATS_TEST_TMPDIR/login.out")"
	[ ! -e "$STORE" ] || fail "a store was written"
}

@test "login: SIGTERM while waiting for the user is exit 75, nothing stored" {
	start_fake_twitch --device-interval 1
	start_bg login twitch-auth login
	wait_until 10 grep -q 'enter the code' "$BATS_TEST_TMPDIR/login.err"
	stop_bg login TERM
	assert_equal "$(cat "$BATS_TEST_TMPDIR/login.status")" 75
	grep -q 'interrupted: not logged in' "$BATS_TEST_TMPDIR/login.err"
	[ ! -e "$STORE" ]
}

@test "login: a device code that expires unapproved is exit 75" {
	start_fake_twitch --device-interval 1 --device-expires 2
	run -75 --separate-stderr timeout 15 twitch-auth login
	[[ "$stderr" == *"expired before it was authorized"* ]] || fail "$stderr"
	assert_equal "$output" ""
	[ ! -e "$STORE" ]
}

@test "login --scopes takes several scopes at once, comma or space separated" {
	start_fake_twitch --device-interval 1 --approve-after 1
	run -0 --separate-stderr timeout 15 twitch-auth login \
		--scopes 'channel:read:subscriptions,bits:read moderator:read:followers'
	run -0 fake_requests '[.[] | select(.path == "/oauth2/device") | .form.scopes]'
	assert_equal "$output" '["channel:read:subscriptions bits:read moderator:read:followers"]'
	run -0 jq -c '.user.scopes' "$STORE"
	assert_equal "$output" '["bits:read","channel:read:subscriptions","moderator:read:followers"]'
}

@test "login --browser: authorization code flow through the local redirect listener" {
	start_fake_twitch
	# a display and an xdg-open that notes what it was asked to open
	mkdir -p "$BATS_TEST_TMPDIR/xbin"
	printf '#!/bin/sh\nprintf "%%s\\n" "$1" >"%s/opened"\n' "$BATS_TEST_TMPDIR" >"$BATS_TEST_TMPDIR/xbin/xdg-open"
	chmod +x "$BATS_TEST_TMPDIR/xbin/xdg-open"
	PATH="$BATS_TEST_TMPDIR/xbin:$PATH" DISPLAY=:99 start_bg login twitch-auth login --browser --port 0 --scopes bits:read
	wait_until 10 grep -q '/oauth2/authorize?' "$BATS_TEST_TMPDIR/login.err"
	url=$(grep -o 'http://[^ ]*/oauth2/authorize?[^ ]*' "$BATS_TEST_TMPDIR/login.err")
	wait_file "$BATS_TEST_TMPDIR/opened"
	assert_equal "$(cat "$BATS_TEST_TMPDIR/opened")" "$url"
	[[ "$url" == *"response_type=code"* && "$url" == *"client_id=$TWITCH_CLIENT_ID"* &&
		"$url" == *"scope=bits%3Aread"* && "$url" == *"redirect_uri=http%3A%2F%2Flocalhost%3A"* ]] ||
		fail "authorize URL: $url"
	state=$(sed -n 's/.*[?&]state=\([^&]*\).*/\1/p' <<<"$url")
	[[ "$state" =~ ^[A-Za-z0-9_-]{22}$ ]] || fail "state: $state"
	# the "browser": the fake approves and redirects to our listener
	run -0 curl -sS -L --max-time 10 "$url"
	[[ "$output" == *"authorized"* ]] || fail "page: $output"
	wait_status login 0
	jq -e '.login == "glowcaster"' "$BATS_TEST_TMPDIR/login.out"
	jq -e '.user.login == "glowcaster" and .user.scopes == ["bits:read"]' "$STORE"
	# the code was exchanged with the secret and the same redirect URI
	run -0 fake_requests '[.[] | select(.path == "/oauth2/token") | .form
	    | [.grant_type, .client_secret == env.TWITCH_CLIENT_SECRET, (.redirect_uri | test("^http://localhost:[0-9]+$"))]]'
	assert_equal "$output" '[["authorization_code",true,true]]'
}

@test "login --browser: a redirect with a wrong state is refused (77), its code never used" {
	start_fake_twitch
	mkdir -p "$BATS_TEST_TMPDIR/xbin"
	printf '#!/bin/sh\ntouch "%s/opened"\n' "$BATS_TEST_TMPDIR" >"$BATS_TEST_TMPDIR/xbin/xdg-open"
	chmod +x "$BATS_TEST_TMPDIR/xbin/xdg-open"
	PATH="$BATS_TEST_TMPDIR/xbin:$PATH" DISPLAY=:99 start_bg login twitch-auth login --browser --port 0 --no-open
	wait_until 10 grep -q 'redirect URL must be' "$BATS_TEST_TMPDIR/login.err"
	port=$(grep -o 'must be http://localhost:[0-9]*' "$BATS_TEST_TMPDIR/login.err" | grep -o '[0-9]*$')
	# other requests (a favicon) do not end the login
	run -0 curl -sS -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port/favicon.ico"
	assert_equal "$output" 404
	bg_running login
	run -0 curl -sS -o /dev/null -w '%{http_code}' --max-time 5 \
		"http://127.0.0.1:$port/?code=forgedcode123&state=not-our-state"
	assert_equal "$output" 400
	wait_status login 77
	grep -q 'wrong state' "$BATS_TEST_TMPDIR/login.err"
	run -0 fake_requests '[.[] | select(.path == "/oauth2/token")] | length'
	assert_equal "$output" 0
	[ ! -e "$STORE" ]
	[ ! -e "$BATS_TEST_TMPDIR/opened" ] || fail "xdg-open ran despite --no-open"
}

@test "login --browser needs the client secret (78); a denial is 77" {
	start_fake_twitch
	run -78 --separate-stderr env -u TWITCH_CLIENT_SECRET timeout 10 twitch-auth login --browser --port 0 --no-open
	[[ "$stderr" == *"device code flow"* ]] || fail "$stderr"
	fake_ctl /_fake/config '{"authorize":"deny"}'
	start_bg login twitch-auth login --browser --port 0 --no-open
	wait_until 10 grep -q '/oauth2/authorize?' "$BATS_TEST_TMPDIR/login.err"
	url=$(grep -o 'http://[^ ]*/oauth2/authorize?[^ ]*' "$BATS_TEST_TMPDIR/login.err")
	run -0 curl -sS -L --max-time 10 "$url"
	wait_status login 77
	grep -q 'denied' "$BATS_TEST_TMPDIR/login.err"
}

@test "refresh on expiry: a new token, the rotated refresh token persisted" {
	start_fake_twitch
	old=$(seed_user glowcaster -60)
	old_access=$(jq -r .access_token <<<"$old")
	old_refresh=$(jq -r .refresh_token <<<"$old")
	run -0 --separate-stderr timeout 10 twitch-auth token
	new=$output
	[ -n "$new" ] && [ "$new" != "$old_access" ] || fail "token not refreshed: $new"
	# one refresh, with the (URL-encoded) refresh token and the secret
	run -0 fake_requests '[.[] | select(.path == "/oauth2/token") | .form
	    | [.grant_type, .refresh_token == $r, .client_secret == env.TWITCH_CLIENT_SECRET]]' \
		--arg r "$old_refresh"
	assert_equal "$output" '[["refresh_token",true,true]]'
	# the store holds the new access token and the rotated refresh token
	assert_equal "$(store_get .user.access_token)" "$new"
	rotated=$(store_get .user.refresh_token)
	[ "$rotated" != "$old_refresh" ] || fail "refresh token not rotated in the store"
	fake_ctl /_fake/state | jq -e --arg r "$rotated" --arg o "$old_refresh" \
		'(.refresh_tokens | index($r)) and (.refresh_tokens | index($o) | not)'
	assert_equal "$(store_get .user.login)" glowcaster
	jq -e '.user.expires_at > now + 3600' "$STORE"
	# the next refresh works with the persisted token: Twitch now
	# refuses the access token, validation sees 401, twitch-auth refreshes
	fake_ctl /_fake/expire "{\"access_token\":\"$new\"}"
	run -0 --separate-stderr timeout 10 twitch-auth token
	[ "$output" != "$new" ] || fail "not refreshed after a 401"
	assert_equal "$(store_get .user.access_token)" "$output"
	[ "$(store_get .user.refresh_token)" != "$rotated" ]
}

@test "three processes refreshing at once all succeed, with one refresh, and the store stays valid" {
	start_fake_twitch
	seed_user glowcaster -60 >/dev/null
	# a slow token endpoint keeps the first refresh in flight while the
	# others want theirs
	fake_ctl /_fake/config '{"delay_ms":{"/oauth2/token":800}}'
	start_bg a twitch-auth token
	start_bg b twitch-auth token
	start_bg c twitch-auth token
	wait_status a 0
	wait_status b 0
	wait_status c 0
	a=$(cat "$BATS_TEST_TMPDIR/a.out")
	[ -n "$a" ] || fail "no token"
	assert_equal "$(cat "$BATS_TEST_TMPDIR/b.out")" "$a"
	assert_equal "$(cat "$BATS_TEST_TMPDIR/c.out")" "$a"
	run -0 fake_requests '[.[] | select(.path == "/oauth2/token")] | length'
	assert_equal "$output" 1
	jq -e --arg a "$a" '.user.access_token == $a' "$STORE"
	assert_equal "$(stat -c %a "$STORE")" 600
	[ -z "$(find "$SERVITOR_HOME" -name '.tokens.json.*')" ] || fail "temp file left"
	# the stored refresh token is the live one
	fake_ctl /_fake/state | jq -e --arg r "$(store_get .user.refresh_token)" '.refresh_tokens | index($r)'
}

@test "a token about to expire is refreshed ahead of time, once; a fresh one is not" {
	start_fake_twitch
	old=$(seed_user glowcaster 60)
	old_access=$(jq -r .access_token <<<"$old")
	# 60 s left of a 4 h token: inside the refresh margin (5 min)
	run -0 --separate-stderr timeout 10 twitch-auth token
	new=$output
	[ -n "$new" ] && [ "$new" != "$old_access" ] || fail "not refreshed ahead of expiry: $new"
	assert_equal "$(store_get .user.access_token)" "$new"
	jq -e '.user.expires_at > now + 3600' "$STORE"
	# the new token has hours left: used as it is, no second refresh
	run -0 --separate-stderr timeout 10 twitch-auth token
	assert_output "$new"
	run -0 fake_requests '[.[] | select(.path == "/oauth2/token") | .form.grant_type]'
	assert_output '["refresh_token"]'
}

@test "a refresh ahead of expiry that cannot reach Twitch keeps the token that still works" {
	start_fake_twitch
	tok=$(seed_user glowcaster 60)
	fake_ctl /_fake/fail '{"path":"/oauth2/token","status":503,"count":1}'
	run -0 --separate-stderr timeout 10 twitch-auth token
	assert_equal "$output" "$(jq -r .access_token <<<"$tok")"
	[[ "$stderr" == *"cannot renew the user token yet"*"503"* ]] || fail "$stderr"
	# once it has expired, there is no going on without a refresh
	seed_user glowcaster -5 >/dev/null
	fake_ctl /_fake/fail '{"path":"/oauth2/token","status":503,"count":1}'
	run -69 --separate-stderr timeout 10 twitch-auth token
	assert_equal "$output" ""
}

@test "a refused refresh (invalid_grant) is exit 77 with a login hint" {
	start_fake_twitch
	tok=$(seed_user glowcaster -60)
	fake_ctl /_fake/expire "{\"refresh_token\":$(jq .refresh_token <<<"$tok")}"
	run -77 --separate-stderr timeout 10 twitch-auth token
	assert_equal "$output" ""
	[[ "$stderr" == *"Invalid refresh token"* ]] || fail "$stderr"
	[[ "$stderr" == *"run 'twitch-auth login' again"* ]] || fail "$stderr"
}

@test "the store must be 0600: readable by others is refused (78) with the fix" {
	start_fake_twitch
	seed_user glowcaster >/dev/null
	for mode in 644 640 604 660; do
		chmod "$mode" "$STORE"
		run -78 --separate-stderr timeout 10 twitch-auth token
		assert_equal "$output" ""
		[[ "$stderr" == *"chmod 600 $STORE"* ]] || fail "$mode: $stderr"
		run -78 --separate-stderr timeout 10 twitch-auth status
	done
	chmod 600 "$STORE"
	run -0 --separate-stderr timeout 10 twitch-auth token
	echo '{"user": ' >"$STORE"
	run -78 --separate-stderr timeout 10 twitch-auth token
	[[ "$stderr" == *"not valid JSON"* ]] || fail "$stderr"
}

@test "no token, refresh token, device code or secret in any output or log, at any verbosity" {
	start_fake_twitch --device-interval 1 --approve-after 1
	local out="$BATS_TEST_TMPDIR/all" i
	: >"$out"
	for i in 0 1 2; do
		local v=() envs=()
		case $i in
		1) v=(-v) ;;
		2) v=(-v -v --log-format=json); envs=(SERVITOR_LOG=debug) ;;
		esac
		env "${envs[@]}" timeout 15 twitch-auth "${v[@]}" login >>"$out" 2>&1 || fail "login $i"
		env "${envs[@]}" timeout 10 twitch-auth "${v[@]}" token 2>>"$out" >/dev/null || fail "token $i"
		fake_ctl /_fake/expire "{\"access_token\":\"$(store_get .user.access_token)\"}" >/dev/null
		env "${envs[@]}" timeout 10 twitch-auth "${v[@]}" token 2>>"$out" >/dev/null || fail "refresh $i"
		env "${envs[@]}" timeout 10 twitch-auth "${v[@]}" validate >>"$out" 2>&1 || fail "validate $i"
		env "${envs[@]}" timeout 10 twitch-auth "${v[@]}" app >>"$out" 2>&1 || fail "app $i"
		env "${envs[@]}" timeout 10 twitch-auth "${v[@]}" token --app 2>>"$out" >/dev/null || fail "token --app $i"
		env "${envs[@]}" timeout 10 twitch-auth "${v[@]}" status >>"$out" 2>&1 || fail "status $i"
		env "${envs[@]}" timeout 10 twitch-eventsub "${v[@]}" list --auth user >>"$out" 2>&1 || fail "eventsub $i"
		env "${envs[@]}" timeout 10 twitch-auth "${v[@]}" revoke --all >>"$out" 2>&1 || fail "revoke $i"
	done
	grep -q 'debug: http > Authorization: OAuth \*\*\*' "$out" ||
		grep -q 'Authorization: OAuth \*\*\*' "$out" || fail "no debug output to check"
	state=$(fake_ctl /_fake/state)
	local s n=0
	while IFS= read -r s; do
		[ -n "$s" ] || continue
		assert_no_secret "$s" "$out" "$BATS_TEST_TMPDIR"/*.err
		n=$((n + 1))
	done < <(jq -r '.tokens[] | .access_token, .refresh_token // empty' <<<"$state"
		jq -r '.devices[].device_code' <<<"$state"
		echo "$TWITCH_CLIENT_SECRET")
	[ "$n" -ge 12 ] || fail "only $n secrets checked"
}

@test "validate and status: JSON about the token, never the token" {
	start_fake_twitch
	tok=$(seed_user glowcaster)
	access=$(jq -r .access_token <<<"$tok")
	run -0 --separate-stderr timeout 10 twitch-auth validate
	jq -e '.valid == true and .kind == "user" and .login == "glowcaster"
	    and .user_id == "512345678" and .expires_in > 3000 and .client_id == env.TWITCH_CLIENT_ID
	    and (.scopes | index("bits:read"))' <<<"$output"
	[[ "$output" != *"$access"* ]] || fail "token in the output"
	run -0 fake_requests '[.[] | select(.path == "/oauth2/validate") | .headers.authorization == "OAuth " + $t]' \
		--arg t "$access"
	assert_equal "$output" '[true]'
	# status reads only the store: no network
	stop_bg twitch
	run -0 --separate-stderr env TWITCH_ID_URL=http://127.0.0.1:$(closed_port) timeout 10 twitch-auth status
	jq -e --arg s "$STORE" '.store == $s and .user.login == "glowcaster"
	    and .user.refreshable == true and .app == null
	    and (.user.expires_at | test("^[0-9-]{10}T[0-9:]{8}Z$"))' <<<"$output"
	[[ "$output" != *"$access"* && "$output" != *"refresh_token"* ]] || fail "secret in status"
	# nothing stored: both null, still exit 0
	rm "$STORE"
	run -0 --separate-stderr timeout 10 twitch-auth status
	jq -e '.user == null and .app == null' <<<"$output"
}

@test "a stored token is validated when a tool starts, and used without refresh" {
	start_fake_twitch
	tok=$(seed_user glowcaster)
	run -0 --separate-stderr timeout 10 twitch-auth token
	assert_equal "$output" "$(jq -r .access_token <<<"$tok")"
	run -0 fake_requests '[.[] | .path]'
	assert_equal "$output" '["/oauth2/validate"]'
}

@test "TWITCH_TOKEN and TWITCH_APP_TOKEN are used as given, validated, never refreshed" {
	start_fake_twitch
	user=$(fake_token '{"login":"lanternfish"}' | jq -r .access_token)
	app=$(fake_token '{"kind":"app"}' | jq -r .access_token)
	run -0 --separate-stderr env TWITCH_TOKEN="oauth:$user" timeout 10 twitch-auth token
	assert_equal "$output" "$user"
	run -0 --separate-stderr env TWITCH_APP_TOKEN="$app" timeout 10 twitch-auth token --app
	assert_equal "$output" "$app"
	run -0 --separate-stderr env TWITCH_TOKEN="$user" timeout 10 twitch-auth validate
	jq -e '.source == "env" and .login == "lanternfish" and (has("refreshable") | not)' <<<"$output"
	[ ! -e "$STORE" ] || fail "a store was written"
	fake_ctl /_fake/expire "{\"access_token\":\"$user\"}"
	run -77 --separate-stderr env TWITCH_TOKEN="$user" timeout 10 twitch-auth token
	[[ "$stderr" == *"TWITCH_TOKEN"*"never refreshed"* ]] || fail "$stderr"
	run -0 fake_requests '[.[] | select(.path == "/oauth2/token")] | length'
	assert_equal "$output" 0
	# a token of another client is a configuration error
	run -78 --separate-stderr env TWITCH_TOKEN="$app" TWITCH_CLIENT_ID=someotherclient timeout 10 twitch-auth token
	[[ "$stderr" == *"issued to client id $FAKE_CLIENT_ID"* ]] || fail "$stderr"
}

@test "app: client credentials stored apart from the user token; token --app gets one when needed" {
	start_fake_twitch
	seed_user glowcaster >/dev/null
	user=$(store_get .user.access_token)
	run -0 --separate-stderr timeout 10 twitch-auth app
	jq -e '.kind == "app" and (has("login") | not) and .scopes == []' <<<"$output"
	jq -e '.app.access_token and (.app | has("refresh_token") | not) and .user.access_token == $u' \
		--arg u "$user" "$STORE"
	app=$(store_get .app.access_token)
	run -0 --separate-stderr timeout 10 twitch-auth token --app
	assert_equal "$output" "$app"
	# without a stored app token, token --app asks for one by itself
	run -0 timeout 10 twitch-auth revoke --app
	run -0 --separate-stderr timeout 10 twitch-auth token --app
	[ -n "$output" ] && [ "$output" != "$app" ]
	assert_equal "$(store_get .app.access_token)" "$output"
	# no secret: no app token
	rm "$STORE"
	run -78 --separate-stderr env -u TWITCH_CLIENT_SECRET timeout 10 twitch-auth token --app
	[[ "$stderr" == *"TWITCH_CLIENT_SECRET"* ]] || fail "$stderr"
	run -78 --separate-stderr env -u TWITCH_CLIENT_SECRET timeout 10 twitch-auth app
}

@test "a public client (no secret) logs in with the device flow and refreshes without a secret" {
	start_fake_twitch --client pubclient0123456789abcdefghijk --device-interval 1 --approve-after 1
	export TWITCH_CLIENT_ID=pubclient0123456789abcdefghijk
	run -0 --separate-stderr timeout 15 twitch-auth login
	access=$(store_get .user.access_token)
	fake_ctl /_fake/expire "{\"access_token\":\"$access\"}"
	run -0 --separate-stderr timeout 10 twitch-auth token
	[ "$output" != "$access" ]
	run -0 fake_requests '[.[] | select(.path == "/oauth2/token" and .form.grant_type == "refresh_token") | .form | has("client_secret")]'
	assert_equal "$output" '[false]'
}

@test "revoke and logout: revoked at Twitch and removed from the store" {
	start_fake_twitch
	tok=$(seed_user glowcaster)
	access=$(jq -r .access_token <<<"$tok")
	run -0 --separate-stderr timeout 10 twitch-auth revoke
	jq -e '.kind == "user" and .revoked == true and .login == "glowcaster"' <<<"$output"
	run -0 fake_requests '[.[] | select(.path == "/oauth2/revoke") | .form | [.client_id == env.TWITCH_CLIENT_ID, .token == $t]]' \
		--arg t "$access"
	assert_equal "$output" '[[true,true]]'
	jq -e '.user == null' "$STORE"
	run -78 --separate-stderr timeout 10 twitch-auth token
	[[ "$stderr" == *"run 'twitch-auth login'"* ]] || fail "$stderr"
	# nothing stored: nothing to do, exit 0
	run -0 --separate-stderr timeout 10 twitch-auth logout
	jq -e '.stored == false' <<<"$output"
	# logout is the same command; --all takes the app token too
	seed_user lanternfish >/dev/null
	run -0 timeout 10 twitch-auth app
	run -0 --separate-stderr timeout 10 twitch-auth logout --all
	assert_equal "${#lines[@]}" 2
	jq -e '.user == null and .app == null' "$STORE"
	run -0 fake_requests '[.[] | select(.path == "/oauth2/revoke")] | length'
	assert_equal "$output" 3
}

@test "revoke keeps the token when Twitch cannot be reached (69)" {
	start_fake_twitch
	seed_user glowcaster >/dev/null
	run -69 --separate-stderr env TWITCH_ID_URL=http://127.0.0.1:$(closed_port) timeout 10 twitch-auth revoke
	jq -e '.user.login == "glowcaster"' "$STORE"
}

@test "over TLS with the test CA; an untrusted certificate is exit 69" {
	start_fake_twitch --tls --device-interval 1 --approve-after 1
	export TWITCH_ID_URL=$FAKE_TWITCH_TLS
	run -0 --separate-stderr env SSL_CERT_FILE="$SV_CERTS/ca.pem" timeout 15 twitch-auth login
	jq -e '.login == "glowcaster"' <<<"$output"
	run -0 --separate-stderr env SSL_CERT_FILE="$SV_CERTS/ca.pem" timeout 10 twitch-auth validate
	run -69 --separate-stderr env -u SSL_CERT_FILE timeout 10 twitch-auth validate
	[[ "$stderr" == *"certificate"* || "$stderr" == *"SSL"* ]] || fail "$stderr"
}

@test "usage: commands and their options" {
	run -64 --separate-stderr twitch-auth
	[[ "$stderr" == *"missing COMMAND"* ]]
	run -64 --separate-stderr twitch-auth frobnicate
	run -64 --separate-stderr twitch-auth token --browser
	run -64 --separate-stderr twitch-auth login --port 4000
	run -64 --separate-stderr twitch-auth login --browser --port 70000
	run -64 --separate-stderr twitch-auth revoke --app --all
	run -64 --separate-stderr twitch-auth status --app
	run -64 --separate-stderr twitch-auth token extra
	run -64 --separate-stderr twitch-auth login --scopes ,
	# no client id anywhere
	run -78 --separate-stderr timeout 10 twitch-auth login
	[[ "$stderr" == *"TWITCH_CLIENT_ID"* ]] || fail "$stderr"
}
