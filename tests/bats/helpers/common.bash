# Loaded by every test file: libraries, environment, and small helpers.
# shellcheck shell=bash

bats_load_library bats-support
bats_load_library bats-assert

export LC_ALL=C
export HOME="$BATS_TEST_TMPDIR"
export SERVITOR_LOG_FORMAT=
export SERVITOR_LOG=
export SERVITOR_HOME="$BATS_TEST_TMPDIR/servitor"
# Reconnect quickly in tests; the real defaults are 1 s doubling to 60 s.
export SERVITOR_RETRY_MIN_MS=${SERVITOR_RETRY_MIN_MS:-50}
export SERVITOR_RETRY_MAX_MS=${SERVITOR_RETRY_MAX_MS:-400}
# Nothing in a test may reach the internet by accident.
unset TWITCH_TOKEN TWITCH_APP_TOKEN TWITCH_CLIENT_ID TWITCH_CLIENT_SECRET \
	TWITCH_CLIENT_SECRET_FILE TWITCH_EVENTSUB_SECRET AMQP_URL
export TWITCH_ID_URL=http://127.0.0.1:9/ TWITCH_API_URL=http://127.0.0.1:9/
export TWITCH_IRC_URL=ws://127.0.0.1:9/ TWITCH_EVENTSUB_WS_URL=ws://127.0.0.1:9/
export TWITCH_PUBSUB_URL=ws://127.0.0.1:9/

: "${SV_BIN:?SV_BIN must name the directory of the binaries under test}"
PATH="${SV_WRAPBIN:+$SV_WRAPBIN:}$SV_BIN:$PATH"
SV_TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
SV_FIXTURES="$SV_TOP/tests/bats/fixtures"
SV_FAKES="$SV_TOP/tests/fakes"
PY=/usr/bin/python3
export SV_TOP SV_FIXTURES SV_FAKES PY

load "$BATS_TEST_DIRNAME/helpers/servers.bash"

# require_cmd CMD...: skip the test when a command is missing; with
# SV_TEST_STRICT=1 (CI) a missing dependency fails it instead.
require_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 && continue
		if [ "${SV_TEST_STRICT:-}" = 1 ]; then
			fail "required command '$c' is missing"
		fi
		skip "required command '$c' is missing"
	done
}

# assert_ndjson FILE: every line of FILE is one compact JSON object.
assert_ndjson() {
	local n=0 line
	while IFS= read -r line || [ -n "$line" ]; do
		n=$((n + 1))
		printf '%s' "$line" | jq -e 'type == "object"' >/dev/null ||
			fail "line $n of $1 is not a JSON object: $line"
		[ "$(printf '%s' "$line" | jq -c .)" = "$line" ] ||
			fail "line $n of $1 is not compact: $line"
	done <"$1"
}

# assert_no_secret SECRET FILE...: the secret appears in none of the files.
assert_no_secret() {
	local s=$1 f
	shift
	for f in "$@"; do
		[ -e "$f" ] || continue
		if grep -qF -- "$s" "$f"; then
			fail "secret found in $f"
		fi
	done
}

default_teardown() {
	stop_all_bg
	if [ -z "${BATS_TEST_COMPLETED:-}" ]; then
		dump_bg_logs
	fi
}

teardown() {
	default_teardown
}
