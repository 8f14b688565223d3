#!/usr/bin/env bats
# End to end, with the real RabbitMQ: Twitch's webhook deliveries (played
# by twitch-trigger --webhook, plus retries signed with openssl) through
# twitch-webhookd | amqp-pub -> RabbitMQ -> amqp-sub | ws-broadcast to
# WebSocket clients; and the same layout through scripts/servitor-amqp.
# Each test has its own exchange (helpers/amqp.bash new_exchange).

bats_require_minimum_version 1.5.0
load helpers/common
load helpers/amqp

SECRET=s3rvitor-e2e-secret

setup_file() {
	amqp_setup_file
}

setup() {
	T=$BATS_TEST_TMPDIR
	export TWITCH_EVENTSUB_SECRET=$SECRET
}

teardown() {
	amqp_teardown
}


# exchange_bound X KEY: a queue is bound to exchange X with KEY.
exchange_bound() {
	rmqctl -q list_bindings source_name routing_key | grep -qxF "$1	$2"
}

# retry ID: one webhook delivery of a follow with Twitch message id ID,
# POSTed twice (Twitch retries until it gets a 2xx in time).
retry() {
	local ts body sig i
	ts=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)
	body="$T/retry-$1.json"
	printf '%s' '{"subscription":{"id":"f1c2d3e4-0000-4a5b-8c9d-112233445566","status":"enabled","type":"channel.follow","version":"2","condition":{"broadcaster_user_id":"1337","moderator_user_id":"1337"},"transport":{"method":"webhook","callback":"https://alerts.example.org/eventsub"},"created_at":"2026-03-01T10:00:00.000000000Z","cost":0},"event":{"user_id":"424242","user_login":"pixelpanda","user_name":"PixelPanda","broadcaster_user_id":"1337","broadcaster_user_login":"glowcaster","broadcaster_user_name":"GlowCaster","followed_at":"2026-03-14T18:22:04.987654321Z"}}' >"$body"
	sig=$(printf '%s%s' "$1" "$ts" | cat - "$body" |
		openssl dgst -sha256 -hmac "$SECRET" -r | cut -d' ' -f1)
	for i in 1 2; do
		timeout 10 curl -sf --max-time 10 -o /dev/null -H 'Content-Type: application/json' \
			-H "Twitch-Eventsub-Message-Id: $1" \
			-H "Twitch-Eventsub-Message-Timestamp: $ts" \
			-H "Twitch-Eventsub-Message-Signature: sha256=$sig" \
			-H 'Twitch-Eventsub-Message-Type: notification' \
			-H 'Twitch-Eventsub-Subscription-Type: channel.follow' \
			-H 'Twitch-Eventsub-Subscription-Version: 2' \
			--data-binary "@$body" "http://$WH/eventsub" || return 1
	done
}

@test "1,000 mixed events, webhook -> amqp-pub -> RabbitMQ -> amqp-sub -> ws-broadcast -> ws-listen: each exactly once" {
	new_exchange
	# the overlay edge: amqp-sub | ws-broadcast (through a FIFO)
	mkfifo "$T/sub.out"
	start_bg_stdin wsb "$T/sub.out" ws-broadcast -v --listen 127.0.0.1:0 \
		--port-file "$T/wsb.port" --max-queue 16777216
	start_sub sub -e "$AMQP_X" -b '#'
	WS=$(port_file_addr "$T/wsb.port")
	start_bg l ws-listen -c 1005 "ws://$WS/"
	start_bg all ws-listen "ws://$WS/"
	wait_until 15 healthz_jq "$WS" -e '.clients == 2'
	# the listener host: twitch-webhookd | tee sent | amqp-pub
	mkfifo "$T/wh.out" "$T/tee.out"
	start_bg_stdin pub "$T/tee.out" amqp-pub -e "$AMQP_X"
	start_bg_stdin tee "$T/wh.out" tee "$T/sent"
	start_bg wh twitch-webhookd --listen 127.0.0.1:0 --port-file "$T/wh.port"
	WH=$(port_file_addr "$T/wh.port")
	# Twitch: 1,000 random deliveries, then 5 more delivered twice each
	run -0 --separate-stderr timeout 120 twitch-trigger --random --count 1000 \
		--webhook "http://$WH/eventsub"
	for i in 1 2 3 4 5; do
		retry "e2e-retry-$i-$$" || fail "retry $i"
	done
	wait_lines "$T/sent" 1005 30
	# the broker redelivers: 50 lines a second time into the exchange
	head -n 50 "$T/sent" >"$T/again"
	run -0 --separate-stderr timeout 60 amqp-pub -e "$AMQP_X" <"$T/again"
	wait_bg l 60 || fail "ws-listen got $(wc -l <"$T/l.out") of 1005: $(tail -3 "$T/wsb.err")"
	wait_until 30 healthz_jq "$WS" -e '.events == 1005 and .duplicates == 50' ||
		fail "healthz: $(healthz "$WS")"
	stop_bg all
	# every id once, the same ids as webhookd printed, and nothing else
	run -0 bash -c "jq -r .id '$T/l.out' | sort | uniq -d | wc -l"
	assert_output 0
	run -0 bash -c "jq -r .id '$T/all.out' | sort -u | wc -l"
	assert_output 1005
	assert_equal "$(wc -l <"$T/all.out")" 1005
	run -0 bash -c "diff <(jq -r .id '$T/sent' | sort) <(jq -r .id '$T/all.out' | sort)"
	# webhookd dropped the retries, ws-broadcast the redeliveries
	assert_equal "$(wc -l <"$T/sent")" 1005
	run -0 bash -c "grep -c '\"id\":\"e2e-retry-' '$T/all.out'"
	assert_output 5
	# mixed types, unchanged from source to client
	run -0 jq -rs 'map(.type) | unique | length' "$T/all.out"
	[ "$output" -ge 8 ] || fail "only $output types"
	run -0 jq -se 'all(.source == "eventsub-webhook")' "$T/all.out"
	run -0 bash -c "diff <(sort '$T/sent') <(sort '$T/all.out')"
}

@test "scripts/servitor-amqp: pub (webhook source) and sub (ws-broadcast) through RabbitMQ" {
	new_exchange
	WSP=$(free_port)
	WHP=$(free_port)
	export SERVITOR_BIN="$SV_BIN" SERVITOR_EXCHANGE="$AMQP_X"
	start_bg sub env SERVITOR_LISTEN="127.0.0.1:$WSP" SERVITOR_BIND='channel.#' \
		"$SV_TOP/scripts/servitor-amqp" sub
	WS=127.0.0.1:$WSP
	wait_until 20 healthz "$WS" || fail "$(cat "$T/sub.err")"
	# amqp-sub consumes once its queue is bound to the exchange
	wait_until 20 exchange_bound "$AMQP_X" 'channel.#'
	start_bg pub env SERVITOR_SOURCES=webhook SERVITOR_WEBHOOK_LISTEN="127.0.0.1:$WHP" \
		"$SV_TOP/scripts/servitor-amqp" pub
	WH=127.0.0.1:$WHP
	wait_until 20 curl -sf --max-time 10 "http://$WH/healthz" || fail "$(cat "$T/pub.err")"
	start_bg l ws-listen -c 20 "ws://$WS/"
	wait_until 10 healthz_jq "$WS" -e '.clients == 1'
	run -0 --separate-stderr timeout 60 twitch-trigger follow --count 15 --webhook "http://$WH/eventsub"
	run -0 --separate-stderr timeout 60 twitch-trigger cheer --count 5 --webhook "http://$WH/eventsub"
	# stream.* is not bound: never reaches this edge
	run -0 --separate-stderr timeout 60 twitch-trigger streamup --webhook "http://$WH/eventsub"
	wait_bg l 30 || fail "got $(wc -l <"$T/l.out")"
	run -0 jq -r .type "$T/l.out"
	assert_equal "$(sort <<<"$output" | uniq -c | awk '{print $1, $2}')" $'5 channel.cheer\n15 channel.follow'
	stop_bg pub TERM
	stop_bg sub TERM
	assert_equal "$(cat "$T/pub.status") $(cat "$T/sub.status")" "0 0"
	run ! pgrep -f "ws-broadcast --listen 127.0.0.1:$WSP"
	run ! pgrep -f "twitch-webhookd --listen 127.0.0.1:$WHP"
}

@test "scripts/servitor-amqp pub: SIGTERM while events wait in the pipe; every delivery answered 2xx reaches the queue" {
	local q
	q=$(tname)
	new_exchange
	durable_queue "$q" "$AMQP_X" '#'
	# amqp-pub reaches the broker through a proxy, frozen below: its window
	# of 1,000 unconfirmed lines fills and the rest waits in the pipe
	start_proxy proxy
	WHP=$(free_port)
	start_bg pub env SERVITOR_BIN="$SV_BIN" SERVITOR_EXCHANGE="$AMQP_X" SERVITOR_SOURCES=webhook \
		SERVITOR_WEBHOOK_LISTEN="127.0.0.1:$WHP" SERVITOR_AMQP_URLS="amqp://guest:guest@127.0.0.1:$PROXY_PORT" \
		"$SV_TOP/scripts/servitor-amqp" pub
	WH=127.0.0.1:$WHP
	wait_until 20 curl -sf --max-time 5 "http://$WH/healthz" || fail "$(cat "$T/pub.err")"
	kill -HUP "$(bg_pid proxy)"
	run -0 --separate-stderr timeout 120 twitch-trigger follow --count 1200 --webhook "http://$WH/eventsub"
	# every delivery was answered 2xx, so Twitch will not send it again
	run -0 healthz_jq "$WH" -e '.verified == 1200 and .busy == 0'
	kill -TERM "$(bg_pid pub)"
	# stopping must not drop what waits behind the full window
	kill -USR2 "$(bg_pid proxy)"
	wait_bg pub 60 || fail "servitor-amqp pub exited $(cat "$T/pub.status" 2>/dev/null): $(tail -5 "$T/pub.err")"
	assert_equal "$(cat "$T/pub.status")" 0
	assert_equal "$(queue_messages "$q")" 1200
}
