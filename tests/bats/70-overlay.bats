#!/usr/bin/env bats
# The overlay and dashboard pages (share/overlay/) in a real browser:
# Debian's chromium, headless, driven by playwright-core (npm, installed
# into build/browser at test time, never committed) through
# tests/browser/overlay.js, against the real ws-broadcast. Screenshots go
# to tests/out/browser/.

bats_require_minimum_version 1.5.0
load helpers/common

DRIVER="$SV_TOP/tests/browser/overlay.js"

setup_file() {
	export SV_NODE_MODULES="$SV_TOP/build/browser/node_modules"
	if [ -x /usr/bin/chromium ] && command -v npm >/dev/null &&
		[ ! -f "$SV_NODE_MODULES/playwright-core/package.json" ]; then
		mkdir -p "$SV_TOP/build/browser"
		echo "# installing playwright-core into build/browser (npm)" >&3
		# (HOME is not set up before the first test: keep npm's cache
		# and logs under build/ rather than in a "~" of the work tree)
		HOME=$BATS_FILE_TMPDIR npm_config_cache=$SV_TOP/build/browser/npm-cache \
			timeout 300 npm install --prefix "$SV_TOP/build/browser" \
			--no-audit --no-fund --no-save --no-update-notifier --loglevel=error \
			playwright-core@1 2>&1 | sed 's/^/# /' >&3 || true
	fi
}

setup() {
	require_cmd node /usr/bin/chromium
	if [ ! -f "$SV_NODE_MODULES/playwright-core/package.json" ]; then
		[ "${SV_TEST_STRICT:-}" = 1 ] && fail "playwright-core could not be installed (npm)"
		skip "playwright-core could not be installed (npm)"
	fi
	SHOTS="${SV_TEST_OUT:-$SV_TOP/tests/out}/browser"
	mkdir -p "$SHOTS"
}

# browse SCENARIO: run one scenario of the driver; its "ok" lines are
# the checks that passed.
browse() {
	run -0 --separate-stderr env NODE_PATH="$SV_NODE_MODULES" \
		timeout 90 node "$DRIVER" "$1" "$SHOTS"
	printf '# %s\n' "${lines[@]}" >&3
}

@test "the overlay connects and an event on stdin is an alert with the right text within 1 s" {
	browse alert
	assert_line --partial 'ok the page connects'
	assert_line 'ok the background is transparent (OBS)'
	assert_line --regexp '^ok the cheer shows as an alert within 1 s .*: PixelPanda cheered 500 bits!$'
	assert_line 'ok a raid uses its template: LanternFish is raiding with 87 viewers!'
	[ -s "$SHOTS/overlay-alert.png" ] || fail "no screenshot"
}

@test "two events queue: the second alert shows after the first, never on top" {
	browse queue
	assert_line --regexp '^ok two events queue: .*BitBard just subscribed at tier 2!$'
}

@test "a display name containing <script> is shown as text, not run" {
	browse escape
	assert_line --partial 'ok a name containing <script> is shown as text'
}

@test "the overlay reconnects after ws-broadcast restarts" {
	browse reconnect
	assert_line 'ok the page reconnects to the restarted ws-broadcast'
	assert_line 'ok and shows the next event: emberwisp is hosting with 12 viewers!'
}

@test "replay on the dashboard shows the alert again on the overlay; test buttons send test alerts" {
	browse replay
	assert_line --partial 'ok the dashboard lists the event: '
	assert_line 'ok the dashboard lists the newest event first'
	assert_line --partial 'ok replay on the dashboard shows the alert again: Tea_Kettle gifted 5 tier'
	assert_line --regexp '^ok a test button shows a test alert: .* cheered [0-9]+ bits!$'
	[ -s "$SHOTS/dashboard.png" ] || fail "no screenshot"
}

@test "overlay.json (from --static DIR): templates, image and sound per type, minimum amounts; ?types= filters" {
	browse config
	assert_line --partial 'ok overlay.json: the cheer template, image and sound; 50 bits under min_bits 100 not shown: 250 from BitBard'
	assert_line "ok overlay.json's types reach ws-broadcast as ?types=: a bits-use event shows, the raid does not"
	assert_line 'ok ?types=raid,bits-use shows the raid and the bits-use event and skips the cheer'
}

@test "without --token-file the dashboard is read-only; its test buttons are the server's types" {
	browse readonly
	assert_line --partial 'ok without a token the dashboard is read-only'
	assert_line --regexp "^ok a test button for each of the server's [0-9]+ test types$"
}
