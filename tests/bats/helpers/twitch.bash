# The fake Twitch id server and Helix API (tests/fakes/twitch-api.py), and
# token store seeding, for every test that needs a Twitch token.
# Load it after helpers/common: `load helpers/twitch`.
# shellcheck shell=bash

# The fake's default confidential client (see twitch-api.py).
FAKE_CLIENT_ID=srvtestclient0123456789abcdefgh
FAKE_CLIENT_SECRET=srvtestsecret9876543210zyxwvuts

# start_fake_twitch [--tls] [fake options...]: start the fake as the
# background process "twitch" and point the tools at it: exports
# TWITCH_ID_URL, TWITCH_API_URL, TWITCH_CLIENT_ID, TWITCH_CLIENT_SECRET
# (unless the options name clients) and FAKE_TWITCH (its base URL, for
# fake_ctl). With --tls it also listens with the per-run CA's
# certificate and FAKE_TWITCH_TLS is its https:// base URL.
start_fake_twitch() {
	local tls=() args=() custom_client=0 a
	for a in "$@"; do
		case $a in
		--tls)
			tls=(--tls-listen 127.0.0.1:0
				--tls-port-file "$BATS_TEST_TMPDIR/twitch.tls-port"
				--cert "$SV_CERTS/server.pem" --key "$SV_CERTS/server.key")
			continue
			;;
		--client) custom_client=1 ;;
		esac
		args+=("$a")
	done
	start_bg twitch "$PY" "$SV_FAKES/twitch-api.py" --listen 127.0.0.1:0 \
		--port-file "$BATS_TEST_TMPDIR/twitch.port" "${tls[@]}" "${args[@]}"
	local addr
	addr=$(port_file_addr "$BATS_TEST_TMPDIR/twitch.port") ||
		fail "the fake Twitch server did not start"
	export FAKE_TWITCH="http://$addr"
	export TWITCH_ID_URL="$FAKE_TWITCH" TWITCH_API_URL="$FAKE_TWITCH/helix"
	if [ ${#tls[@]} -gt 0 ]; then
		export FAKE_TWITCH_TLS
		FAKE_TWITCH_TLS="https://$(port_file_addr "$BATS_TEST_TMPDIR/twitch.tls-port")"
	fi
	if [ $custom_client -eq 0 ]; then
		export TWITCH_CLIENT_ID=$FAKE_CLIENT_ID
		export TWITCH_CLIENT_SECRET=$FAKE_CLIENT_SECRET
	fi
}

# fake_ctl PATH [JSON]: call the fake's control interface (POST with
# JSON, default {}; the read-only paths accept POST too). Prints the answer.
fake_ctl() {
	curl -sS --fail-with-body --max-time 10 -X POST \
		-H 'Content-Type: application/json' --data "${2:-{\}}" \
		"$FAKE_TWITCH$1"
}

# fake_requests JQ [JQ ARGS...]: apply a jq filter to the requests the
# fake received, e.g. fake_requests '[.[] | .form.token == $t]' --arg t X.
fake_requests() {
	curl -sS --fail --max-time 10 "$FAKE_TWITCH/_fake/requests" |
		jq -c "${@:2}" "$1"
}

# fake_token [JSON]: mint a token at the fake without a flow, e.g.
# fake_token '{"login":"glowcaster","scopes":["bits:read"]}' or
# fake_token '{"kind":"app"}'. Prints the fake's JSON answer.
fake_token() {
	fake_ctl /_fake/token "${1:-{\}}"
}

# seed_store KIND TOKEN_JSON [EXPIRES_IN]: write the token (an answer of
# fake_token) into $SERVITOR_HOME/tokens.json as twitch-auth would, with
# the given remaining lifetime in seconds (negative: already expired).
seed_store() {
	local kind=$1 tok=$2 exp=${3:-3600} f="$SERVITOR_HOME/tokens.json"
	mkdir -p "$SERVITOR_HOME"
	chmod 700 "$SERVITOR_HOME"
	[ -s "$f" ] || echo '{"version":1}' >"$f"
	jq --arg kind "$kind" --argjson t "$tok" --argjson exp "$exp" '
	    .[$kind] = ({client_id: $t.client_id, access_token: $t.access_token,
	      refresh_token: $t.refresh_token, scopes: ($t.scopes // []),
	      login: $t.login, user_id: $t.user_id,
	      expires_at: ((now | floor) + $exp),
	      obtained_at: ((now | floor) + $exp - 14400)}
	      | with_entries(select(.value != null)))' "$f" >"$f.new"
	mv "$f.new" "$f"
	chmod 600 "$f"
}

# seed_user LOGIN [EXPIRES_IN] [SCOPES_JSON]: mint a user token and store
# it; prints the minted token JSON.
seed_user() {
	local tok
	tok=$(fake_token "{\"login\":\"$1\",\"scopes\":${3:-[\"bits:read\",\"channel:read:subscriptions\",\"moderator:read:followers\",\"user:read:chat\"]}}") ||
		return 1
	seed_store user "$tok" "${2:-3600}"
	printf '%s\n' "$tok"
}

# store_get JQ: a value from the token store.
store_get() {
	jq -r "$1" "$SERVITOR_HOME/tokens.json"
}

# eventsub_sign ID TIMESTAMP FILE SECRET: the Twitch-Eventsub-Message-Signature
# of a delivery of FILE, with openssl (independent of our C code):
# sha256= and the hex HMAC-SHA256 of ID, TIMESTAMP and the body.
eventsub_sign() {
	printf '%s%s' "$1" "$2" | cat - "$3" |
		openssl dgst -sha256 -hmac "$4" -r | cut -d' ' -f1 |
		sed 's/^/sha256=/'
}
