#!/usr/bin/env bats
# What people run: make demo (scripts/demo), the launchers
# (scripts/servitor-local; servitor-amqp is in 90-pipelines, it needs the
# broker), and the systemd units (scripts/systemd/), checked with
# systemd-analyze verify after a real `make install` into a DESTDIR.

bats_require_minimum_version 1.5.0
load helpers/common

setup() {
	T=$BATS_TEST_TMPDIR
	export TWITCH_EVENTSUB_SECRET=s3rvitor-test-secret
}

# the tools the scripts run are the ones under test
export SERVITOR_BIN="$SV_BIN"

@test "make demo: prints the overlay and dashboard URLs; alerts flow there; SIGTERM stops it" {
	start_bg demo env DEMO_LISTEN=127.0.0.1:0 DEMO_INTERVAL=0.2 "$SV_TOP/scripts/demo"
	wait_until 15 grep -q 'dashboard:' "$T/demo.out" || fail "$(cat "$T/demo.err")"
	url=$(sed -n 's/^demo: overlay: *//p' "$T/demo.out")
	[[ "$url" =~ ^http://127\.0\.0\.1:[0-9]+/\?token=[0-9a-f]{32}$ ]] || fail "url: $url"
	run -0 grep -c 'add it to OBS as a Browser Source' "$T/demo.out"
	# the page, and random events on its WebSocket, with the token
	run -0 curl -sf --max-time 10 "$url"
	[[ "$output" == *"new WebSocket("* ]] || fail "not the overlay"
	run -0 --separate-stderr timeout 10 ws-listen -c 2 "ws${url#http}"
	run -0 jq -se 'length == 2 and all(.source == "trigger")' <<<"$output"
	run -0 curl -sf --max-time 10 "$(sed -n 's/^demo: dashboard: *//p' "$T/demo.out")"
	[[ "$output" == *"servitor dashboard"* ]] || fail "not the dashboard"
	# the token is a file only the user can read
	run -0 stat -c %a "$SV_TOP/build/demo/token"
	assert_output 600
	# (Ctrl-C signals the whole process group; a background job here
	# ignores SIGINT, so the test sends what kill(1) sends)
	kids=$(pgrep -d " " -P "$(bg_pid demo)")
	[ -n "$kids" ] || fail "no pipeline under the demo"
	stop_bg demo TERM
	assert_equal "$(cat "$T/demo.status")" 0
	local k
	for k in $kids; do
		wait_until 5 bash -c "! kill -0 $k" || fail "process $k still runs"
	done
}

@test "make demo: a port in use is a clear error with the exit status" {
	start_bg hold "$PY" "$SV_FAKES/ws-peer.py" server --port-file "$T/hold.port"
	addr=$(port_file_addr "$T/hold.port")
	run -69 --separate-stderr env DEMO_LISTEN="$addr" timeout 20 "$SV_TOP/scripts/demo"
	[[ "$stderr" == *"could not start on $addr"* ]] || fail "$stderr"
}

# launch NAME ENV...: servitor-local in the background with these settings
# on free ports (WSPORT, WHPORT).
launch() {
	local name=$1
	shift
	WSPORT=$(free_port)
	WHPORT=$(free_port)
	start_bg "$name" env SERVITOR_LISTEN="127.0.0.1:$WSPORT" \
		SERVITOR_WEBHOOK_LISTEN="127.0.0.1:$WHPORT" "$@" \
		"$SV_TOP/scripts/servitor-local"
	wait_until 15 curl -sf --max-time 10 "http://127.0.0.1:$WSPORT/healthz" || fail "$(cat "$T/$name.err")"
}

@test "servitor-local: twitch-webhookd and twitch-trigger merged into ws-broadcast; SIGTERM stops all, exit 0" {
	printf 'l0cal-token\n' >"$T/token"
	launch sl SERVITOR_SOURCES=webhook,trigger SERVITOR_TRIGGER_INTERVAL=0.3 \
		SERVITOR_TOKEN_FILE="$T/token"
	wait_until 10 curl -sf --max-time 10 "http://127.0.0.1:$WHPORT/healthz"
	start_bg l ws-listen "ws://127.0.0.1:$WSPORT/?token=l0cal-token&types=channel.raid,channel.cheer"
	wait_until 10 healthz_jq "127.0.0.1:$WSPORT" -e '.clients == 1'
	run -0 --separate-stderr timeout 20 twitch-trigger raid --user lanternfish --viewers 42 \
		--webhook "http://127.0.0.1:$WHPORT/eventsub"
	wait_until 10 grep -q '"source":"eventsub-webhook"' "$T/l.out"
	run -0 jq -sce 'map(select(.source == "eventsub-webhook")) | .[0].event.viewers' "$T/l.out"
	assert_output 42
	# random events of the trigger source arrive as well (cheers here)
	wait_until 20 grep -q '"source":"trigger"' "$T/l.out"
	pid=$(bg_pid sl)
	kids=$(pgrep -P "$pid" | wc -l)
	[ "$kids" -ge 2 ] || fail "no children"
	stop_bg sl TERM
	assert_equal "$(cat "$T/sl.status")" 0
	run ! pgrep -f "twitch-webhookd --listen 127.0.0.1:$WHPORT"
	run ! pgrep -f "ws-broadcast --listen 127.0.0.1:$WSPORT"
	assert_no_secret l0cal-token "$T/sl.err"
}

@test "servitor-local: a listener that fails stops the pipeline with its status (for Restart=)" {
	# twitch-webhookd cannot listen: its port is taken
	start_bg hold "$PY" "$SV_FAKES/ws-peer.py" server --port-file "$T/hold.port"
	taken=$(port_file_addr "$T/hold.port")
	WSPORT=$(free_port)
	run -69 --separate-stderr env SERVITOR_SOURCES=webhook,trigger SERVITOR_LISTEN="127.0.0.1:$WSPORT" \
		SERVITOR_WEBHOOK_LISTEN="$taken" timeout 20 "$SV_TOP/scripts/servitor-local"
	[[ "$stderr" == *"a listener exited (69)"* ]] || fail "$stderr"
	run ! pgrep -f "ws-broadcast --listen 127.0.0.1:$WSPORT"
}

@test "servitor-local: the command lines it runs (DESIGN.md flags), and configuration errors exit 78" {
	run -0 env SERVITOR_CHANNEL=glowcaster SERVITOR_BIN=/opt/sv SERVITOR_SOURCES=pubsub,irc \
		"$SV_TOP/scripts/servitor-local" --dry-run
	assert_line "listener: /opt/sv/twitch-pubsub --broadcaster glowcaster --types channel.follow,channel.subscribe,channel.subscription.message,channel.subscription.gift,channel.cheer,channel.raid,channel.channel_points_custom_reward_redemption.add,stream.online,stream.offline"
	assert_line "listener: /opt/sv/twitch-irc-hosts --events host glowcaster"
	assert_line "into: /opt/sv/ws-broadcast --listen 127.0.0.1:8080 --replay 20"
	mkdir -p "$T/creds"
	echo x >"$T/creds/overlay-token"
	echo y >"$T/creds/eventsub-secret"
	run -0 env SERVITOR_CHANNEL=glowcaster SERVITOR_BIN=/opt/sv SERVITOR_SOURCES=irc,webhook \
		CREDENTIALS_DIRECTORY="$T/creds" SERVITOR_PUBSUB_TYPES=channel.cheer \
		"$SV_TOP/scripts/servitor-local" --dry-run
	assert_equal "$output" "listener: /opt/sv/twitch-irc-hosts --events host,raid glowcaster
listener: /opt/sv/twitch-webhookd --listen 127.0.0.1:8081 --secret-file $T/creds/eventsub-secret
into: /opt/sv/ws-broadcast --listen 127.0.0.1:8080 --replay 20 --token-file $T/creds/overlay-token"
	run -0 env SERVITOR_CHANNEL=glowcaster "$SV_TOP/scripts/servitor-local" --dry-run --print
	assert_equal "${#lines[@]}" 1
	assert_line --partial '/twitch-pubsub --broadcaster glowcaster --types '
	run -78 --separate-stderr "$SV_TOP/scripts/servitor-local" --dry-run
	[[ "$stderr" == *"SERVITOR_CHANNEL is not set"* ]] || fail "$stderr"
	run -78 --separate-stderr env SERVITOR_SOURCES=carrier-pigeon "$SV_TOP/scripts/servitor-local"
	# a ws-broadcast that never ends would hold the launcher up for ever
	run -78 --separate-stderr env SERVITOR_CHANNEL=glowcaster \
		SERVITOR_WS_ARGS='--origin http://x --keep-open' "$SV_TOP/scripts/servitor-local" --dry-run
	[[ "$stderr" == *"--keep-open would keep the launcher from ever ending"* ]] || fail "$stderr"
	run -78 --separate-stderr env SERVITOR_WS_ARGS=--keep-open "$SV_TOP/scripts/servitor-amqp" sub --dry-run
	[[ "$stderr" == *"--keep-open would keep the launcher from ever ending"* ]] || fail "$stderr"
	run -64 --separate-stderr "$SV_TOP/scripts/servitor-local" --bogus
	run -0 "$SV_TOP/scripts/servitor-local" --help
	assert_line --partial 'SERVITOR_SOURCES'
	run -64 --separate-stderr "$SV_TOP/scripts/servitor-amqp" neither
	# a broker password in the URLs never reaches the printout
	run -0 env SERVITOR_BIN=/opt/sv SERVITOR_AMQP_URLS='amqp://edge:S3cretPw@rabbit1 amqp://rabbit2' \
		SERVITOR_BIND='channel.#' "$SV_TOP/scripts/servitor-amqp" sub --dry-run
	assert_line 'consumer: /opt/sv/amqp-sub -e twitch -u amqp://edge:***@rabbit1 -u amqp://rabbit2 -b channel.#'
	[[ "$output" != *S3cretPw* ]] || fail "$output"
	run -0 env SERVITOR_BIN=/opt/sv SERVITOR_SOURCES=trigger SERVITOR_AMQP_URLS='amqp://pub:S3cretPw@rabbit1' \
		"$SV_TOP/scripts/servitor-amqp" pub --dry-run
	assert_line 'into: /opt/sv/amqp-pub -e twitch -u amqp://pub:***@rabbit1'
	[[ "$output" != *S3cretPw* ]] || fail "$output"
}

@test "systemd units: systemd-analyze verify is clean on every unit as installed by make install" {
	require_cmd systemd-analyze
	dest="$T/dest"
	# the binaries under test, not a fresh build
	run -0 timeout 300 make -s -C "$SV_TOP" install DESTDIR="$dest" PREFIX=/usr/local \
		BINS="$(echo "$SV_BIN"/*)"
	[ -x "$dest/usr/local/bin/ws-broadcast" ] || fail "nothing installed"
	units=("$dest"/usr/local/lib/systemd/system/*.service)
	[ "${#units[@]}" -eq 3 ] || fail "units: ${units[*]}"
	# verify checks that ExecStart= exists: point it at the installed
	# copies (the only change), and check the Documentation= pages exist
	# here rather than through man(1), which may not be installed
	mkdir -p "$T/units"
	for u in "${units[@]}"; do
		sed "s|^ExecStart=/usr/local/bin/|ExecStart=$dest/usr/local/bin/|" "$u" >"$T/units/${u##*/}"
		for m in $(sed -n 's/^Documentation=//p' "$u"); do
			m=${m#man:}
			sec=${m#*(}
			sec=${sec%)}
			[ -f "$dest/usr/local/share/man/man$sec/${m%(*}.$sec" ] ||
				fail "${u##*/}: no man page $m"
		done
	done
	run -0 --separate-stderr timeout 60 systemd-analyze verify --man=no "$T"/units/*.service
	assert_equal "$stderr" ""
	assert_output ""
	# the ExecStart= of the installed units are under BINDIR, executable
	for u in "${units[@]}"; do
		exe=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$u")
		[ -x "$dest$exe" ] || fail "$exe not installed"
	done
}

@test "systemd units: restart, a dynamic user, hardening, state and secrets outside the unit" {
	local u k
	for u in "$SV_TOP"/scripts/systemd/*.service; do
		for k in Restart=on-failure DynamicUser=yes ProtectSystem=strict NoNewPrivileges=yes \
			PrivateTmp=yes ProtectHome=yes StateDirectory=servitor ConfigurationDirectory=servitor \
			Environment=SERVITOR_HOME=/var/lib/servitor EnvironmentFile=-/etc/servitor/servitor.env \
			CapabilityBoundingSet= RestartPreventExitStatus='64 78' KillMode=mixed; do
			grep -qx -- "$k" "$u" || fail "${u##*/}: no $k"
		done
		# secrets only as credentials, never as values in the unit
		run grep -iE '^Environment=.*(SECRET|TOKEN|PASSWORD)=[^%]' "$u"
		assert_failure
	done
	run -0 grep -x 'LoadCredential=overlay-token:/etc/servitor/overlay.token' \
		"$SV_TOP/scripts/systemd/servitor-local.service" "$SV_TOP/scripts/systemd/servitor-amqp-sub.service"
}
