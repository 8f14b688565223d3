#!/usr/bin/env bats
# What people run: make demo (scripts/demo), the launchers
# (scripts/servitor-local; servitor-amqp is in 90-pipelines, it needs the
# broker), and the systemd units (scripts/systemd/), checked with
# systemd-analyze verify after a real `make install` into a DESTDIR.

bats_require_minimum_version 1.5.0
load helpers/common
load helpers/twitch

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

# --- scripts/nginx/twitch-webhookd.conf: nginx terminating TLS in front of
# twitch-webhookd, as shipped but for the listen ports, the certificate
# paths and the upstream port. Requests are signed with openssl
# (eventsub_sign, independent of our C code).

# conf_sub FILE FROM TO: replace the one line of FILE that is FROM (a sed
# regex for the whole line but its indent) with TO. Fails unless exactly
# one line matched: a change in the shipped file's shape fails the test.
conf_sub() {
	local f=$1 from=$2 to=$3 w="$T/conf_sub.w"
	: >"$w"
	sed -i "s|^\([[:space:]]*\)$from\$|\1$to|w $w" "$f"
	[ "$(wc -l <"$w")" -eq 1 ] ||
		fail "${f##*/}: $(wc -l <"$w") lines are '$from', not 1"
}

# start_front: twitch-webhookd on a free port, and nginx with the shipped
# site file in front of it on another (never 80 or 443), with the run's
# test certificate (it names alerts.example.org too). Sets WH (twitch-webhookd's address), NP (nginx's port), NGX
# (nginx's directory) and V6 (1 when nginx listens on [::1] too).
start_front() {
	# (Debian puts nginx in /usr/sbin, outside a user's PATH)
	command -v nginx >/dev/null || PATH="$PATH:/usr/sbin"
	require_cmd nginx openssl
	start_bg wh twitch-webhookd --listen 127.0.0.1:0 --port-file "$T/wh.port"
	WH=$(port_file_addr "$T/wh.port") || fail "twitch-webhookd did not start: $(cat "$T/wh.err")"
	NGX="$T/nginx"
	mkdir -p "$NGX"
	NP=$(free_port)
	V6=0
	"$PY" -c 'import socket, sys
socket.socket(socket.AF_INET6).bind(("::1", int(sys.argv[1])))' "$NP" 2>/dev/null && V6=1
	local site="$NGX/twitch-webhookd.conf" v6="# no IPv6 loopback here" user=
	[ "$V6" = 0 ] || v6="listen [::1]:$NP ssl;"
	cp "$SV_TOP/scripts/nginx/twitch-webhookd.conf" "$site"
	conf_sub "$site" 'listen 443 ssl;' "listen 127.0.0.1:$NP ssl;"
	conf_sub "$site" 'listen \[::\]:443 ssl;' "$v6"
	conf_sub "$site" 'ssl_certificate /etc/letsencrypt/live/alerts\.example\.org/fullchain\.pem;' \
		"ssl_certificate $SV_CERTS/server.pem;"
	conf_sub "$site" 'ssl_certificate_key /etc/letsencrypt/live/alerts\.example\.org/privkey\.pem;' \
		"ssl_certificate_key $SV_CERTS/server.key;"
	conf_sub "$site" 'server 127\.0\.0\.1:8081;' "server $WH;"
	# idle upstream connections end on nginx's side first: before
	# twitch-webhookd's default --timeout
	local ka idle
	ka=$(sed -n 's/^[[:space:]]*keepalive_timeout \([0-9]*\)s;$/\1/p' "$site")
	idle=$(twitch-webhookd --help | sed -n 's/.*--timeout .*(default \([0-9]*\)).*/\1/p')
	[ -n "$ka" ] && [ -n "$idle" ] && [ "$ka" -lt "$idle" ] ||
		fail "upstream keepalive_timeout '$ka' s is not under twitch-webhookd's --timeout '$idle' s"
	# nothing else listens: a test never takes 80 or 443
	if grep -E '^[[:space:]]*listen[[:space:]]' "$site" | grep -v ":$NP ssl;\$"; then
		fail "the site file listens elsewhere too"
	fi
	# as root, nginx runs its workers as www-data, who could not enter
	# the test's directory (for the request bodies it buffers)
	[ "$(id -u)" -ne 0 ] || user="user root;"
	cat >"$NGX/nginx.conf" <<-CONF
		$user
		worker_processes 1;
		pid $NGX/nginx.pid;
		error_log $NGX/error.log notice;
		events {
			worker_connections 64;
		}
		http {
			access_log $NGX/access.log;
			client_body_temp_path $NGX/client_body;
			proxy_temp_path $NGX/proxy;
			fastcgi_temp_path $NGX/fastcgi;
			uwsgi_temp_path $NGX/uwsgi;
			scgi_temp_path $NGX/scgi;
			include $site;
		}
	CONF
	NGINX=(nginx -e "$NGX/error.log" -p "$NGX/" -c "$NGX/nginx.conf")
	run -0 --separate-stderr timeout 20 "${NGINX[@]}" -t
	[[ "$stderr" == *"syntax is ok"* && "$stderr" == *"test is successful"* ]] || fail "nginx -t: $stderr"
	[[ "$stderr" != *"[warn]"* ]] || fail "nginx -t warns: $stderr"
	start_bg nginx "${NGINX[@]}" -g 'daemon off;'
	wait_until 10 front_curl /healthz -f ||
		fail "nginx did not start: $(cat "$T/nginx.err" "$NGX/error.log")"
}

# front_curl PATH [curl options...]: an HTTPS request through nginx to
# alerts.example.org, verified with the test CA; prints the HTTP status,
# the body goes to $T/resp. FRONT_IP=::1 goes over IPv6.
front_curl() {
	local path=$1
	shift
	timeout 15 curl -sS --max-time 10 --cacert "$SV_CERTS/ca.pem" \
		--resolve "alerts.example.org:$NP:${FRONT_IP:-127.0.0.1}" \
		-o "$T/resp" -w '%{http_code}' "$@" "https://alerts.example.org:$NP$path"
}

# front_post TYPE ID FILE [curl options...]: FILE POSTed to /eventsub
# through nginx as a delivery signed now (or with the signature
# FRONT_SIG); prints the HTTP status.
front_post() {
	local type=$1 id=$2 file=$3 ts
	shift 3
	ts=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)
	front_curl /eventsub -H "Content-Type: application/json" \
		-H "Twitch-Eventsub-Message-Id: $id" \
		-H "Twitch-Eventsub-Message-Retry: 0" \
		-H "Twitch-Eventsub-Message-Type: $type" \
		-H "Twitch-Eventsub-Message-Timestamp: $ts" \
		-H "Twitch-Eventsub-Message-Signature: ${FRONT_SIG:-$(eventsub_sign "$id" "$ts" "$file" "$TWITCH_EVENTSUB_SECRET")}" \
		-H "Twitch-Eventsub-Subscription-Type: channel.raid" \
		-H "Twitch-Eventsub-Subscription-Version: 1" \
		"$@" --data-binary "@$file"
}

# raid_body FILE [PAD]: a channel.raid notification body, with an event
# field "pad" of PAD x's (default 0).
raid_body() {
	local pad=
	[ "${2:-0}" -eq 0 ] || pad=$(head -c "$2" /dev/zero | tr '\0' x)
	printf '%s' '{"subscription":{"id":"7a1b2c3d-0000-4e5f-8a9b-0c1d2e3f4a5b","status":"enabled","type":"channel.raid","version":"1","condition":{"to_broadcaster_user_id":"1337"},"transport":{"method":"webhook","callback":"https://alerts.example.org/eventsub"},"created_at":"2026-03-01T10:00:00.000000000Z","cost":0},"event":{"from_broadcaster_user_id":"4242","from_broadcaster_user_login":"lanternfish","from_broadcaster_user_name":"Lanternfish","to_broadcaster_user_id":"1337","to_broadcaster_user_login":"glowcaster","to_broadcaster_user_name":"Glowcaster","viewers":87,"pad":"'"$pad"'"}}' >"$1"
}

@test "nginx conf: over HTTPS, a signed notification comes out of twitch-webhookd, the challenge is answered" {
	start_front
	local id=3c0ffee0-1111-4222-8333-444455556666
	raid_body "$T/raid.json"
	run -0 front_post notification "$id" "$T/raid.json"
	assert_output 204
	wait_lines "$T/wh.out" 1
	assert_ndjson "$T/wh.out"
	assert_equal "$(jq -r .id "$T/wh.out")" "$id"
	run -0 jq -e '.type == "channel.raid" and .version == "1" and
	    .source == "eventsub-webhook" and .event.viewers == 87' "$T/wh.out"
	assert_equal "$(jq -c .event "$T/wh.out")" "$(jq -c .event "$T/raid.json")"
	# a body nginx buffers to a file (over client_body_buffer_size)
	# reaches twitch-webhookd byte for byte: the signature still holds
	raid_body "$T/big.json" 60000
	run -0 front_post notification 3c0ffee0-1111-4222-8333-777788889999 "$T/big.json"
	assert_output 204
	wait_lines "$T/wh.out" 2
	assert_equal "$(sed -n 2p "$T/wh.out" | jq -r '.event.pad | length')" 60000
	# the challenge: its text, as text/plain
	printf '%s' '{"challenge":"pXq-nginx-7f3a-bananas","subscription":{"id":"0b9e8d7c-6f5e-4d3c-9b2a-1a0f9e8d7c6b","status":"webhook_callback_verification_pending","type":"channel.raid","version":"1","condition":{"to_broadcaster_user_id":"1337"},"transport":{"method":"webhook","callback":"https://alerts.example.org/eventsub"},"created_at":"2026-03-14T18:00:00.111111111Z","cost":1}}' >"$T/chal.json"
	run -0 front_post webhook_callback_verification 5f0c1e2d-3b4a-4c5d-9e6f-7a8b9c0d1e2f "$T/chal.json" \
		-D "$T/hdrs"
	assert_output 200
	assert_equal "$(cat "$T/resp")" pXq-nginx-7f3a-bananas
	grep -qi '^content-type: text/plain' "$T/hdrs" || fail "$(cat "$T/hdrs")"
	# a bad signature is still twitch-webhookd's to refuse
	FRONT_SIG="sha256=$(printf '0%.0s' {1..64})" \
		run -0 front_post notification 3c0ffee0-1111-4222-8333-aaaabbbbcccc "$T/raid.json"
	assert_output 403
	run -0 jq -e '.notifications == 2 and .challenges == 1 and .rejected.signature == 1' \
		< <(healthz "$WH")
	assert_equal "$(wc -l <"$T/wh.out")" 2
	assert_no_secret "$TWITCH_EVENTSUB_SECRET" "$NGX/error.log" "$NGX/access.log"
}

@test "nginx conf: GET /eventsub 403, a body over 64k 413 before twitch-webhookd, /healthz from loopback, else 404" {
	start_front
	# only POST reaches the callback (twitch-webhookd would say 405)
	local m
	for m in GET HEAD PUT DELETE; do
		if [ "$m" = HEAD ]; then
			run -0 front_curl /eventsub -I
		else
			run -0 front_curl /eventsub -X "$m"
		fi
		[ "$output" = 403 ] || fail "$m /eventsub: $output"
	done
	# over client_max_body_size (64k, twitch-webhookd's --max-body):
	# nginx refuses it, twitch-webhookd never sees it
	raid_body "$T/huge.json" 66000
	[ "$(wc -c <"$T/huge.json")" -gt 65536 ] || fail "not over 64k"
	run -0 front_post notification 3c0ffee0-1111-4222-8333-dddd00000001 "$T/huge.json"
	assert_output 413
	run -0 jq -e '.received == 0 and .rejected.too_large == 0 and .printed == 0' < <(healthz "$WH")
	# /healthz from 127.0.0.1: twitch-webhookd's JSON
	run -0 front_curl /healthz -D "$T/hdrs"
	assert_output 200
	grep -qi '^content-type: application/json' "$T/hdrs" || fail "$(cat "$T/hdrs")"
	run -0 jq -e '.status == "ok" and .received == 0 and has("connections")' "$T/resp"
	if [ "$V6" = 1 ]; then
		FRONT_IP=::1 run -0 front_curl /healthz
		assert_output 200
		run -0 jq -e '.status == "ok"' "$T/resp"
	fi
	# any other path is nginx's 404 (twitch-webhookd answers "not found")
	local p
	for p in / /eventsub/ /eventsubx /healthz/ /healthz.json /index.html; do
		run -0 front_curl "$p"
		[ "$output" = 404 ] || fail "$p: $output"
		grep -q '<title>404 Not Found</title>' "$T/resp" || fail "$p: $(cat "$T/resp")"
	done
	[ ! -s "$T/wh.out" ] || fail "printed: $(cat "$T/wh.out")"
}
