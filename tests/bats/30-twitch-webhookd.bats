#!/usr/bin/env bats
# twitch-webhookd: EventSub webhook deliveries made with curl and signed
# with `openssl dgst -sha256 -hmac` (independent of our C code), and by
# twitch-trigger --webhook.

bats_require_minimum_version 1.5.0
load helpers/common
load helpers/twitch

SECRET=s3rvitor-test-secret

setup() {
	export TWITCH_EVENTSUB_SECRET=$SECRET
	T=$BATS_TEST_TMPDIR
}

# start_webhookd ARGS...: on 127.0.0.1:0; sets ADDR and URL.
start_webhookd() {
	start_bg wh twitch-webhookd --listen 127.0.0.1:0 --port-file "$T/wh.port" "$@"
	ADDR=$(port_file_addr "$T/wh.port") || fail "webhookd did not start: $(cat "$T/wh.err")"
	URL="http://$ADDR/eventsub"
}

# start_webhookd_gated ARGS...: a webhookd whose stdout nobody reads until
# open_gate; what is read then ends in reader.out. This is the issue's
# `| (sleep 5; cat)`, with the sleep replaced by a gate so the test never
# depends on timing.
start_webhookd_gated() {
	mkfifo "$T/wh.out" "$T/gate"
	start_bg reader bash -c 'exec 4<"$1"; read -r _ <"$2"; exec cat <&4' \
		_ "$T/wh.out" "$T/gate"
	start_webhookd "$@"
}

open_gate() {
	timeout 5 bash -c 'echo go >"$1"' _ "$T/gate"
}

now_ts() {
	date -u +%Y-%m-%dT%H:%M:%S.%NZ
}

# ts_at SECONDS: a timestamp SECONDS from now (negative: in the past).
ts_at() {
	date -u -d "@$(($(date +%s) + $1))" +%Y-%m-%dT%H:%M:%S.123456789Z
}

# body_follow ID_SUFFIX: a channel.follow v2 notification body (file).
body_follow() {
	local f="$T/body-$1.json"
	printf '%s' '{"subscription":{"id":"f1c2d3e4-0000-4a5b-8c9d-112233445566","status":"enabled","type":"channel.follow","version":"2","condition":{"broadcaster_user_id":"1337","moderator_user_id":"1337"},"transport":{"method":"webhook","callback":"https://alerts.example.org/eventsub"},"created_at":"2026-03-01T10:00:00.000000000Z","cost":0},"event":{"user_id":"424242","user_login":"pixelpanda","user_name":"PixelPanda","broadcaster_user_id":"1337","broadcaster_user_login":"servitorbot","broadcaster_user_name":"ServitorBot","followed_at":"2026-03-14T18:22:04.987654321Z"}}' >"$f"
	echo "$f"
}

# sign ID TS FILE [SECRET]: the Twitch-Eventsub-Message-Signature value.
sign() {
	eventsub_sign "$1" "$2" "$3" "${4:-$SECRET}"
}

# post TYPE ID TS FILE [curl options...]: a signed delivery; prints the
# HTTP status, the answer body goes to $T/resp.
post() {
	local type=$1 id=$2 ts=$3 file=$4
	shift 4
	post_signed "$type" "$id" "$ts" "$file" "$(sign "$id" "$ts" "$file")" "$@"
}

# post_signed TYPE ID TS FILE SIGNATURE [curl options...]: an empty
# TYPE, ID, TS or SIGNATURE leaves that header out.
post_signed() {
	local type=$1 id=$2 ts=$3 file=$4 sig=$5 h=()
	shift 5
	[ -z "$id" ] || h+=(-H "Twitch-Eventsub-Message-Id: $id")
	[ -z "$type" ] || h+=(-H "Twitch-Eventsub-Message-Type: $type")
	[ -z "$ts" ] || h+=(-H "Twitch-Eventsub-Message-Timestamp: $ts")
	[ -z "$sig" ] || h+=(-H "Twitch-Eventsub-Message-Signature: $sig")
	timeout 10 curl -sS --max-time 5 -o "$T/resp" -w '%{http_code}' \
		-H "Content-Type: application/json" \
		-H "Twitch-Eventsub-Message-Retry: 0" \
		-H "Twitch-Eventsub-Subscription-Type: channel.follow" \
		-H "Twitch-Eventsub-Subscription-Version: 2" \
		"${h[@]}" "$@" --data-binary "@$file" "${POST_URL:-$URL}"
}

# make_batch N [PAD]: N signed notifications (ids 5e1f0000-...-N, event
# {"n":N}) as curl config blocks $T/batch/ID.cfg, joined into
# $T/batch.cfg; each transfer prints "STATUS ID". One openssl process
# signs them all.
make_batch() {
	local n=$1 pad=${2:-0} d="$T/batch" i id ts body padding= sig file
	mkdir -p "$d"
	ts=$(now_ts)
	if [ "$pad" -gt 0 ]; then
		padding=$(head -c "$pad" /dev/zero | tr '\0' x)
	fi
	for ((i = 1; i <= n; i++)); do
		id=$(printf '5e1f0000-0000-4000-8000-%012d' "$i")
		body='{"subscription":{"id":"s","status":"enabled","type":"channel.cheer","version":"1","condition":{"broadcaster_user_id":"1337"},"transport":{"method":"webhook","callback":"x"},"created_at":"x","cost":0},"event":{"n":'$i',"pad":"'$padding'"}}'
		printf '%s' "$body" >"$d/$i.body"
		printf '%s%s%s' "$id" "$ts" "$body" >"$d/$i.msg"
	done
	(cd "$d" && openssl dgst -sha256 -hmac "$SECRET" -r $(seq -f '%g.msg' 1 "$n")) >"$d/sigs"
	while read -r sig file; do
		i=${file#\*}
		i=${i%.msg}
		id=$(printf '5e1f0000-0000-4000-8000-%012d' "$i")
		cat >"$d/$id.cfg" <<-EOF
			url = "$URL"
			silent
			show-error
			header = "Content-Type: application/json"
			header = "Twitch-Eventsub-Message-Id: $id"
			header = "Twitch-Eventsub-Message-Retry: 0"
			header = "Twitch-Eventsub-Message-Type: notification"
			header = "Twitch-Eventsub-Message-Timestamp: $ts"
			header = "Twitch-Eventsub-Message-Signature: sha256=$sig"
			data-binary = "@$d/$i.body"
			output = "/dev/null"
			write-out = "%{http_code} $id\\n"
			max-time = 5
		EOF
	done <"$d/sigs"
	join_cfg $(seq -f '5e1f0000-0000-4000-8000-%012g' 1 "$n") >"$T/batch.cfg"
}

# join_cfg ID...: the config blocks of these ids as one curl config.
join_cfg() {
	local id first=1
	for id in "$@"; do
		[ $first = 1 ] || echo next
		first=0
		cat "$T/batch/$id.cfg"
	done
}

# run_batch [CONFIG] [curl options]: post a batch, at most 50 at a time;
# "STATUS ID" lines on stdout, curl's messages in $T/curl.err.
run_batch() {
	local cfg=${1:-$T/batch.cfg}
	shift
	timeout 60 curl -sS --parallel --parallel-max 50 "$@" -K "$cfg" 2>>"$T/curl.err"
}

@test "challenge: 200 with the raw challenge as text/plain" {
	start_webhookd
	printf '%s' '{"challenge":"q7Zp-2mXv-88Lk-bananas","subscription":{"id":"0b9e8d7c-6f5e-4d3c-9b2a-1a0f9e8d7c6b","status":"webhook_callback_verification_pending","type":"stream.online","version":"1","condition":{"broadcaster_user_id":"1337"},"transport":{"method":"webhook","callback":"https://alerts.example.org/eventsub"},"created_at":"2026-03-14T18:00:00.111111111Z","cost":1}}' >"$T/chal.json"
	run -0 post webhook_callback_verification 5f0c1e2d-3b4a-4c5d-9e6f-7a8b9c0d1e2f "$(now_ts)" "$T/chal.json" \
		-D "$T/hdrs"
	assert_output 200
	assert_equal "$(cat "$T/resp")" "q7Zp-2mXv-88Lk-bananas"
	grep -qi '^content-type: text/plain' "$T/hdrs" || fail "$(cat "$T/hdrs")"
	grep -qi '^content-length: 22' "$T/hdrs" || fail "$(cat "$T/hdrs")"
	stop_bg wh
	assert_equal "$(cat "$T/wh.status")" 0
	[ ! -s "$T/wh.out" ] || fail "a challenge is not an event: $(cat "$T/wh.out")"
}

@test "valid notification: answered 204 and printed in the envelope" {
	start_webhookd
	local f ts id=9d3b5a1e-4c2f-4e77-8a10-2f6c0b7d1e42
	f=$(body_follow 1)
	ts=$(now_ts)
	run -0 post notification "$id" "$ts" "$f"
	assert_output 204
	wait_lines "$T/wh.out" 1
	assert_ndjson "$T/wh.out"
	run -0 jq -e --arg id "$id" '
	  keys_unsorted == ["id","type","version","source","time","event"] and
	  .id == $id and .type == "channel.follow" and .version == "2" and
	  .source == "eventsub-webhook" and
	  (.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\\.[0-9]{3}Z$"))' "$T/wh.out"
	# time is the message timestamp cut to milliseconds
	assert_equal "$(jq -r .time "$T/wh.out")" "${ts:0:23}Z"
	# event exactly as sent, key order included
	assert_equal "$(jq -c .event "$T/wh.out")" "$(jq -c .event "$f")"
}

@test "bad signature: 403, nothing printed" {
	start_webhookd
	local f g ts id=11111111-2222-4333-8444-555555555555
	f=$(body_follow 1)
	ts=$(now_ts)
	sig=$(sign "$id" "$ts" "$f")
	# the body changed after signing
	g="$T/tampered.json"
	sed 's/pixelpanda/pixelpandb/' "$f" >"$g"
	run -0 post_signed notification "$id" "$ts" "$g" "$sig"
	assert_output 403
	# the signature of another message
	run -0 post_signed notification "$id" "$(now_ts)" "$f" "$sig"
	assert_output 403
	run -0 post_signed notification "$id" "$ts" "$f" "${sig^^}"
	assert_output 403
	run -0 post_signed notification "$id" "$ts" "$f" "${sig#sha256=}"
	assert_output 403
	run -0 post_signed notification "$id" "$ts" "$f" "sha256=$(printf '0%.0s' {1..64})"
	assert_output 403
	run -0 healthz "$ADDR"
	assert_equal "$(jq .rejected.signature <<<"$output")" 5
	stop_bg wh
	[ ! -s "$T/wh.out" ] || fail "printed: $(cat "$T/wh.out")"
}

@test "wrong secret: 403, one warning, and the secret is never logged" {
	start_webhookd -v
	local f ts id=11111111-2222-4333-8444-555555555556
	f=$(body_follow 1)
	ts=$(now_ts)
	run -0 post_signed notification "$id" "$ts" "$f" "$(sign "$id" "$ts" "$f" another-secret-1)"
	assert_output 403
	assert_equal "$(cat "$T/resp")" "bad signature"
	run -0 post_signed notification "$id" "$ts" "$f" "$(sign "$id" "$ts" "$f" another-secret-1)"
	assert_output 403
	stop_bg wh
	[ ! -s "$T/wh.out" ] || fail "printed: $(cat "$T/wh.out")"
	assert_equal "$(grep -c 'warn: rejected a delivery with a bad signature' "$T/wh.err")" 1
	assert_no_secret "$SECRET" "$T/wh.err" "$T/wh.out"
}

@test "missing headers: 403 for each of id, timestamp, signature and type" {
	start_webhookd
	local f ts sig id=11111111-2222-4333-8444-555555555557
	f=$(body_follow 1)
	ts=$(now_ts)
	sig=$(sign "$id" "$ts" "$f")
	run -0 post_signed notification "" "$ts" "$f" "$sig"
	assert_output 403
	run -0 post_signed notification "$id" "" "$f" "$sig"
	assert_output 403
	run -0 post_signed notification "$id" "$ts" "$f" ""
	assert_output 403
	run -0 post_signed "" "$id" "$ts" "$f" "$sig"
	assert_output 403
	assert_equal "$(cat "$T/resp")" "Twitch-Eventsub-Message-* headers missing"
	# header names are case-insensitive: lowercase ones are fine
	run -0 timeout 10 curl -sS -o /dev/null -w '%{http_code}' \
		-H "twitch-eventsub-message-id: $id" -H "twitch-eventsub-message-type: notification" \
		-H "twitch-eventsub-message-timestamp: $ts" \
		-H "twitch-eventsub-message-signature: $(sign "$id" "$ts" "$f")" \
		--data-binary "@$f" "$URL"
	assert_output 204
	run -0 healthz "$ADDR"
	assert_equal "$(jq .rejected.headers <<<"$output")" 4
	wait_lines "$T/wh.out" 1
}

@test "stale and future timestamps: 403; small clock skew is fine" {
	start_webhookd --max-age 60
	local f
	f=$(body_follow 1)
	run -0 post notification 00000000-0000-4000-8000-000000000001 "$(ts_at -120)" "$f"
	assert_output 403
	assert_equal "$(cat "$T/resp")" "timestamp too old"
	run -0 post notification 00000000-0000-4000-8000-000000000002 "$(ts_at 300)" "$f"
	assert_output 403
	assert_equal "$(cat "$T/resp")" "timestamp in the future"
	run -0 post notification 00000000-0000-4000-8000-000000000003 "$(ts_at -30)" "$f"
	assert_output 204
	run -0 post notification 00000000-0000-4000-8000-000000000004 "$(ts_at 30)" "$f"
	assert_output 204
	run -0 post notification 00000000-0000-4000-8000-000000000005 "yesterday" "$f"
	assert_output 400
	run -0 healthz "$ADDR"
	run -0 jq -e '.rejected.stale == 1 and .rejected.future == 1 and .rejected.timestamp == 1' <<<"$output"
	wait_lines "$T/wh.out" 2
	stop_bg wh
	assert_equal "$(wc -l <"$T/wh.out")" 2
}

@test "duplicate ids: answered 204 every time, printed once" {
	start_webhookd
	local f ts id=22222222-2222-4333-8444-555555555555
	f=$(body_follow 1)
	ts=$(now_ts)
	for i in 1 2 3; do
		run -0 post notification "$id" "$ts" "$f"
		assert_output 204
	done
	run -0 post notification 33333333-2222-4333-8444-555555555555 "$ts" "$f"
	assert_output 204
	wait_lines "$T/wh.out" 2
	run -0 healthz "$ADDR"
	run -0 jq -e '.duplicates == 2 and .notifications == 4 and .printed == 2' <<<"$output"
	stop_bg wh
	assert_equal "$(jq -r .id "$T/wh.out" | sort | uniq -d)" ""
	assert_equal "$(wc -l <"$T/wh.out")" 2
}

@test "--dedupe-size bounds the window of remembered ids" {
	start_webhookd --dedupe-size 2
	local f ts
	f=$(body_follow 1)
	ts=$(now_ts)
	for id in a1 a2 a3 a1; do
		run -0 post notification "$id" "$ts" "$f"
		assert_output 204
	done
	wait_lines "$T/wh.out" 4
	assert_equal "$(jq -r .id "$T/wh.out" | paste -sd,)" a1,a2,a3,a1
}

@test "oversized body: 413, with or without Content-Length" {
	start_webhookd --max-body 2048
	local ts id=44444444-2222-4333-8444-555555555555
	ts=$(now_ts)
	head -c 3000 /dev/zero | tr '\0' ' ' >"$T/big.json"
	run -0 post notification "$id" "$ts" "$T/big.json"
	assert_output 413
	# chunked: no length to refuse early, so 413 once the body is in
	run -0 post notification "$id" "$ts" "$T/big.json" -H "Transfer-Encoding: chunked"
	assert_output 413
	# 2048 bytes exactly is fine (and then malformed JSON: 400)
	head -c 2048 /dev/zero | tr '\0' ' ' >"$T/edge.json"
	run -0 post notification "$id" "$ts" "$T/edge.json"
	assert_output 400
	run -0 healthz "$ADDR"
	assert_equal "$(jq .rejected.too_large <<<"$output")" 2
}

@test "malformed JSON, wrong shapes and unknown message types: 400" {
	start_webhookd
	local ts
	ts=$(now_ts)
	printf '%s' '{"subscription":{"type":"channel.follow"' >"$T/b1"
	printf '%s' '[{"subscription":{}}]' >"$T/b2"
	printf '%s' '{"subscription":{"type":"channel.follow","version":"2"}}' >"$T/b3"
	printf '%s' '{"event":{}}' >"$T/b4"
	run -0 post notification m1 "$ts" "$T/b1"
	assert_output 400
	run -0 post notification m2 "$ts" "$T/b2"
	assert_output 400
	run -0 post notification m3 "$ts" "$T/b3"
	assert_output 400
	run -0 post notification m4 "$ts" "$T/b4"
	assert_output 400
	run -0 post gossip m5 "$ts" "$(body_follow 1)"
	assert_output 400
	run -0 healthz "$ADDR"
	run -0 jq -e '.rejected.json == 2 and .rejected.message == 2 and .rejected.type == 1' <<<"$output"
	stop_bg wh
	[ ! -s "$T/wh.out" ] || fail "printed: $(cat "$T/wh.out")"
}

@test "revocation: 204 and a warning with the reason, no event" {
	start_webhookd
	printf '%s' '{"subscription":{"id":"9c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f","status":"authorization_revoked","type":"channel.cheer","version":"1","cost":0,"condition":{"broadcaster_user_id":"512345678"},"transport":{"method":"webhook","callback":"https://alerts.example.org/eventsub"},"created_at":"2026-03-14T18:00:02.402887120Z"}}' >"$T/rev.json"
	run -0 post revocation 6b8c2d0e-1f3a-4e5b-8c7d-9e0f1a2b3c4d "$(now_ts)" "$T/rev.json"
	assert_output 204
	run -0 healthz "$ADDR"
	assert_equal "$(jq .revocations <<<"$output")" 1
	stop_bg wh
	assert_equal "$(cat "$T/wh.status")" 0
	[ ! -s "$T/wh.out" ] || fail "printed: $(cat "$T/wh.out")"
	grep -q 'warn: subscription 9c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f (channel.cheer v1) revoked: authorization_revoked' "$T/wh.err" ||
		fail "$(cat "$T/wh.err")"
}

@test "unknown subscription types pass through; batched events get a line each" {
	start_webhookd
	local ts
	ts=$(now_ts)
	printf '%s' '{"subscription":{"id":"s","status":"enabled","type":"channel.future_thing","version":"3","condition":{},"transport":{"method":"webhook","callback":"x"},"created_at":"x","cost":0},"event":{"z":1,"a":{"nested":[true,null,"\u00e9"]}}}' >"$T/u.json"
	run -0 post notification u1 "$ts" "$T/u.json"
	assert_output 204
	printf '%s' '{"subscription":{"id":"s","status":"enabled","type":"drop.entitlement.grant","version":"1","condition":{},"transport":{"method":"webhook","callback":"x"},"created_at":"x","cost":0},"events":[{"id":"b1","data":{"n":1}},{"id":"b2","data":{"n":2}}]}' >"$T/b.json"
	run -0 post notification u2 "$ts" "$T/b.json"
	assert_output 204
	wait_lines "$T/wh.out" 3
	run -0 jq -e -s '.[0].type == "channel.future_thing" and .[0].version == "3" and
	  .[0].event == {"z":1,"a":{"nested":[true,null,"é"]}} and
	  ([.[1:][] | [.id, .type, .event.n]] == [["b1","drop.entitlement.grant",1],["b2","drop.entitlement.grant",2]])' "$T/wh.out"
}

@test "healthz: JSON counters; other paths 404, other methods 405" {
	start_webhookd --path /hooks/twitch
	local f ts
	f=$(body_follow 1)
	ts=$(now_ts)
	URL="http://$ADDR/hooks/twitch"
	run -0 healthz "$ADDR"
	run -0 jq -e '.status == "ok" and .received == 0 and .printed == 0 and .queued == 0 and
	  (.rejected | keys | sort) == ["future","headers","json","message","signature","stale","timestamp","too_large","too_slow","type"]' <<<"$output"
	run -0 post notification h1 "$ts" "$f"
	assert_output 204
	run -0 post_signed notification h2 "$ts" "$f" sha256=00
	assert_output 403
	wait_lines "$T/wh.out" 1
	run -0 healthz "$ADDR"
	run -0 jq -e '.received == 2 and .verified == 1 and .notifications == 1 and .printed == 1 and .rejected.signature == 1' <<<"$output"
	run -0 timeout 5 curl -sS -o /dev/null -w '%{http_code}' "http://$ADDR/eventsub" --data x
	assert_output 404
	run -0 timeout 5 curl -sS -o /dev/null -w '%{http_code}' -D "$T/h" "$URL"
	assert_output 405
	grep -qi '^allow: POST' "$T/h"
	run -0 timeout 5 curl -sS -o /dev/null -w '%{http_code}' -X POST "http://$ADDR/healthz"
	assert_output 405
}

@test "slow stdout: 1000 deliveries answered at once, none lost" {
	start_webhookd_gated
	make_batch 1000
	SECONDS=0
	run -0 run_batch
	# nobody has read stdout yet, and yet every client got its answer
	[ ! -s "$T/reader.out" ] || fail "the reader was not gated"
	assert_equal "$(grep -c '^204 ' <<<"$output")" 1000
	run -0 healthz "$ADDR"
	run -0 jq -e '.printed < 1000 and .queued > 0 and .notifications == 1000' <<<"$output"
	open_gate
	wait_lines "$T/reader.out" 1000 30
	assert_equal "$(jq -r .id "$T/reader.out" | sort -u | wc -l)" 1000
	assert_equal "$(jq -r .event.n "$T/reader.out" | sort -n | uniq | wc -l)" 1000
	stop_bg wh
	assert_equal "$(cat "$T/wh.status")" 0
}

@test "full queue: 503, and the retries are printed: nothing accepted is lost" {
	start_webhookd_gated --max-queue 8192
	make_batch 100 2000
	run -0 run_batch
	grep '^503 ' <<<"$output" | cut -d' ' -f2 | sort >"$T/busy"
	grep -c '^204 ' <<<"$output" >"$T/ok"
	[ -s "$T/busy" ] || fail "no 503 with a full queue"
	run -0 healthz "$ADDR"
	assert_equal "$(jq .busy <<<"$output")" "$(wc -l <"$T/busy")"
	open_gate
	# Twitch retries what was answered 503: same id, same signature.
	join_cfg $(cat "$T/busy") >"$T/retry.cfg"
	wait_until 20 bash -c '
	  out=$(curl -sS --parallel -K "$1" 2>/dev/null)
	  ! grep -q "^503 " <<<"$out"' _ "$T/retry.cfg"
	wait_lines "$T/reader.out" 100 30
	assert_equal "$(jq -r .id "$T/reader.out" | sort -u | wc -l)" 100
	assert_equal "$(wc -l <"$T/reader.out")" 100
}

# hold_open N: N signed requests whose headers are sent and whose bodies
# are held back (slow-client.py hold); returns once the server has
# accepted every one (and a healthz one): open at the same time, not
# queued in the listen backlog.
hold_open() {
	local n=$1
	start_bg hold "$PY" "$SV_FAKES/slow-client.py" hold "$ADDR" --conns "$n" \
		--ready "$T/ready" --go "$T/go" --for 90
	wait_file "$T/ready" 60 || fail "the client did not open $n connections"
	wait_until 20 healthz_jq "$ADDR" -e ".connections >= $((n + 1))" ||
		fail "not all held at once: $(healthz "$ADDR")"
}

# hold_release N LINES: send the N held bodies; every one is answered
# 204, and the server has printed LINES distinct events in all.
hold_release() {
	local n=$1 lines=$2 st=0
	touch "$T/go"
	wait_bg hold 90 || st=$?
	assert_equal "$st" 0
	assert_equal "$(cat "$T/hold.out")" "204 $n"
	wait_lines "$T/wh.out" "$lines" 30
	assert_equal "$(jq -r .id "$T/wh.out" | sort -u | wc -l)" "$lines"
}

@test "200 concurrent connections: all held open at once, then all answered" {
	start_webhookd
	hold_open 200
	# still taking new requests meanwhile
	run -0 post notification c0 "$(now_ts)" "$(body_follow 1)"
	assert_output 204
	hold_release 200 201
}

@test "--threads 2: 1,100 connections at once, past select()'s 1,024, all answered" {
	# MHD's default select() drops every connection on a descriptor
	# past 1023; the pool must run on epoll (or poll) instead
	start_webhookd --threads 2 --max-conn 1200 --timeout 60
	hold_open 1100
	hold_release 1100 1100
}

@test "SIGTERM: refuses new events, drains the queue, exits 0" {
	start_webhookd_gated
	# 200 KB: more than the pipe holds, so most wait in the queue
	make_batch 300 500
	run -0 run_batch
	assert_equal "$(grep -c '^204 ' <<<"$output")" 300
	kill -TERM "$(bg_pid wh)"
	# while the queue still waits for the reader, new notifications are
	# refused (503: Twitch retries), so none is accepted and then lost
	wait_until 10 healthz_jq "$ADDR" -e '.status == "stopping"'
	run -0 post notification late "$(now_ts)" "$(body_follow 1)"
	assert_output 503
	bg_running wh || fail "exited before the queue was written"
	open_gate
	local st=0
	wait_bg wh 20 || st=$?
	assert_equal "$st" 0
	wait_lines "$T/reader.out" 300 10
	assert_equal "$(jq -r .id "$T/reader.out" | sort -u | wc -l)" 300
}

@test "-c N: exits 0 after N events; beyond N none is accepted" {
	start_webhookd -c 2
	local f ts
	f=$(body_follow 1)
	ts=$(now_ts)
	run -0 post notification c1 "$ts" "$f"
	assert_output 204
	run -0 post notification c2 "$ts" "$f"
	assert_output 204
	# 503 while it shuts down, or nobody listening any more
	run --separate-stderr post notification c3 "$ts" "$f"
	[[ "$output" == 503 || "$output" == 000 ]] || fail "c3: $output"
	local st=0
	wait_bg wh 10 || st=$?
	assert_equal "$st" 0
	assert_equal "$(jq -r .id "$T/wh.out" | paste -sd,)" c1,c2
}

@test "stdout closed by the reader (| head -1): exit 0, quietly" {
	start_bg wh bash -c 'twitch-webhookd --listen 127.0.0.1:0 --port-file "$1" | head -n 1 >"$2"; echo "${PIPESTATUS[0]}" >"$3"' \
		_ "$T/wh.port" "$T/head.out" "$T/pipestatus"
	ADDR=$(port_file_addr "$T/wh.port")
	URL="http://$ADDR/eventsub"
	# one event at a time until a write finds the pipe closed
	wait_until 20 bash -c '
	  n=$(cat "$1/n" 2>/dev/null || echo 0); echo $((n + 1)) >"$1/n"
	  twitch-trigger follow -q -w "$2" 2>/dev/null
	  [ -s "$1/pipestatus" ]' _ "$T" "$URL"
	assert_equal "$(cat "$T/pipestatus")" 0
	assert_equal "$(wc -l <"$T/head.out")" 1
	[ ! -s "$T/wh.err" ] || fail "stderr: $(cat "$T/wh.err")"
}

@test "secret: from the environment or --secret-file, 10 to 100 characters, else 78" {
	unset TWITCH_EVENTSUB_SECRET
	run -78 --separate-stderr timeout 10 twitch-webhookd --listen 127.0.0.1:0
	[[ "$stderr" == *"no secret"* ]] || fail "$stderr"
	run -78 --separate-stderr env TWITCH_EVENTSUB_SECRET=123456789 timeout 10 twitch-webhookd --listen 127.0.0.1:0
	[[ "$stderr" == *"10 to 100 characters, not 9"* ]] || fail "$stderr"
	assert_no_secret 123456789 <(echo "$stderr")
	run -78 --separate-stderr env TWITCH_EVENTSUB_SECRET="$(printf 'x%.0s' {1..101})" timeout 10 twitch-webhookd --listen 127.0.0.1:0
	run -66 --separate-stderr timeout 10 twitch-webhookd --listen 127.0.0.1:0 --secret-file "$T/nope"
	# --secret-file: the first line, and it wins over the environment
	printf '%s\n' 'file-secret-0123' >"$T/secret"
	export TWITCH_EVENTSUB_SECRET=env-secret-0123
	start_webhookd --secret-file "$T/secret"
	local f ts
	f=$(body_follow 1)
	ts=$(now_ts)
	run -0 post_signed notification s1 "$ts" "$f" "$(sign s1 "$ts" "$f" file-secret-0123)"
	assert_output 204
	run -0 post_signed notification s2 "$ts" "$f" "$(sign s2 "$ts" "$f" env-secret-0123)"
	assert_output 403
	stop_bg wh
	assert_no_secret file-secret-0123 "$T/wh.err" "$T/wh.out"
}

@test "TLS with --tls-cert/--tls-key, verified by curl and twitch-trigger" {
	start_webhookd --tls-cert "$SV_CERTS/server.pem" --tls-key "$SV_CERTS/server.key"
	local f ts port=${ADDR##*:}
	f=$(body_follow 1)
	ts=$(now_ts)
	POST_URL="https://localhost:$port/eventsub" run -0 post notification t1 "$ts" "$f" --cacert "$SV_CERTS/ca.pem"
	assert_output 204
	run -0 env SSL_CERT_FILE="$SV_CERTS/ca.pem" timeout 20 twitch-trigger raid -w "https://localhost:$port/eventsub"
	# an untrusted CA is refused by the client
	run -69 --separate-stderr env SSL_CERT_FILE=/dev/null timeout 20 twitch-trigger raid -w "https://localhost:$port/eventsub"
	wait_lines "$T/wh.out" 2
	assert_equal "$(jq -r .type "$T/wh.out" | paste -sd,)" channel.follow,channel.raid
}

@test "IPv6: --listen [::1]:0" {
	if ! /usr/bin/python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
		skip "no IPv6 loopback"
	fi
	start_bg wh twitch-webhookd --listen '[::1]:0' --port-file "$T/wh.port"
	ADDR=$(port_file_addr "$T/wh.port")
	[[ "$ADDR" == "[::1]:"* ]] || fail "$ADDR"
	run -0 timeout 10 twitch-trigger follow -w "http://$ADDR/eventsub"
	wait_lines "$T/wh.out" 1
	assert_equal "$(jq -r .source "$T/wh.out")" eventsub-webhook
}

@test "slow and idle clients cannot hold the server: --max-conn and --timeout" {
	start_webhookd --max-conn 2 --timeout 2
	local port=${ADDR##*:}
	# two idle connections take every slot
	exec {c1}<>"/dev/tcp/127.0.0.1/$port" {c2}<>"/dev/tcp/127.0.0.1/$port"
	run timeout 5 curl -sS --max-time 1 -o /dev/null "http://$ADDR/healthz"
	[ "$status" -ne 0 ] || fail "a third connection was served"
	# the idle timeout frees them
	wait_until 10 curl -sS --max-time 1 -o /dev/null "http://$ADDR/healthz"
	exec {c1}>&- {c2}>&-
	# a body that drips slower than the deadline: the connection is closed
	run -0 timeout 20 /usr/bin/python3 -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"POST /eventsub HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
s.settimeout(0.5)
for i in range(100):
    try:
        s.sendall(b"x")
        if s.recv(4096) == b"":
            print("closed after %d bytes" % (i + 1))
            break
    except socket.timeout:
        continue
    except OSError:
        print("closed after %d bytes" % (i + 1))
        break' "$port"
	[[ "$output" == "closed after "* ]] || fail "$output"
	n=${output##* after }
	n=${n%% *}
	[ "$n" -ge 4 ] && [ "$n" -le 8 ] || fail "closed after $n half-second bytes, want about 2 s"
	run -0 healthz "$ADDR"
	assert_equal "$(jq .rejected.too_slow <<<"$output")" 1
}

# drip_count FILE STATE MIN MAX: how many slow-client lines of FILE are
# STATE ("closed", "open") after MIN to MAX seconds.
drip_count() {
	awk -v st="$2" -v lo="$3" -v hi="$4" \
		'$1 == st && $2 >= lo && $2 <= hi { n++ } END { print n + 0 }' "$1"
}

@test "slow headers: a client dripping them is cut off at --timeout" {
	start_webhookd --timeout 2
	local slow="$SV_FAKES/slow-client.py"
	# one header byte every 0.25 s: MHD's idle timer alone never fires
	start_bg drip "$PY" "$slow" drip "$ADDR" --for 8
	# on a kept-alive connection the deadline starts at the last answer:
	# dripping the second request is cut off too, idling is not counted
	start_bg drip2 "$PY" "$slow" drip "$ADDR" --for 8 --after-request
	start_bg idle "$PY" "$slow" drip "$ADDR" --for 8 --after-request --idle
	wait_until 5 healthz_jq "$ADDR" -e '.connections >= 4' || fail "$(healthz "$ADDR")"
	# meanwhile a normal request is served
	run -0 post notification d1 "$(now_ts)" "$(body_follow 1)"
	assert_output 204
	bg_running drip || fail "the drip ended early: $(cat "$T/drip.out")"
	local n
	for n in drip drip2 idle; do
		wait_bg "$n" 15 || true
		assert_equal "$(cat "$T/$n.status")" 0
		[ "$(drip_count "$T/$n.out" closed 1.5 4)" = 1 ] ||
			fail "$n: want closed after about 2 s: $(cat "$T/$n.out")"
	done
	run -0 healthz "$ADDR"
	assert_equal "$(jq .rejected.too_slow <<<"$output")" 2
	wait_until 5 healthz_jq "$ADDR" -e '.connections == 1' || fail "$(healthz "$ADDR")"
	wait_lines "$T/wh.out" 1
}

@test "slow headers: 50 drippers on every slot are cut off, then a good request is served" {
	start_webhookd --timeout 2 --max-conn 50
	start_bg drip "$PY" "$SV_FAKES/slow-client.py" drip "$ADDR" --conns 50 --for 12
	# every slot taken: a new connection waits in the backlog
	wait_until 5 bash -c '! curl -sS --max-time 0.5 -o /dev/null "http://$1/healthz"' _ "$ADDR"
	SECONDS=0
	run -0 timeout 20 curl -sS --max-time 8 -o /dev/null -w '%{http_code}' "http://$ADDR/healthz"
	assert_output 200
	[ "$SECONDS" -le 5 ] || fail "answered after $SECONDS s"
	wait_bg drip 20 || true
	[ "$(drip_count "$T/drip.out" closed 1.5 5)" = 50 ] ||
		fail "want all 50 closed after about 2 s: $(sort "$T/drip.out" | uniq -c)"
	run -0 healthz "$ADDR"
	assert_equal "$(jq .rejected.too_slow <<<"$output")" 50
}

@test "--max-conn-per-ip: one address cannot take every slot; loopback default none" {
	# behind a proxy every client is 127.0.0.1: no limit by default
	start_webhookd -v
	# logged just after the port file is written: wait for it
	wait_until 5 grep -q "info: listening on http://$ADDR/eventsub (at most 256 connections, no limit per client address)" "$T/wh.err" ||
		fail "$(cat "$T/wh.err")"
	stop_bg wh
	# on another address a quarter of --max-conn
	start_bg wh twitch-webhookd -v --listen :0 --port-file "$T/any.port" --max-conn 40
	port_file_addr "$T/any.port" >/dev/null
	wait_until 5 grep -q "(at most 40 connections, 10 per client address)" "$T/wh.err" || fail "$(cat "$T/wh.err")"
	stop_bg wh
	rm -f "$T/wh.port"
	start_webhookd --max-conn-per-ip 10 --timeout 10
	start_bg drip "$PY" "$SV_FAKES/slow-client.py" drip "$ADDR" --conns 30 --for 5
	# 127.0.0.2 is another client on the loopback network
	wait_until 5 bash -c 'curl -sS --max-time 2 --interface 127.0.0.2 "http://$1/healthz" |
	  jq -e ".connections == 11"' _ "$ADDR" || fail "$(healthz "$ADDR")"
	run timeout 5 curl -sS --max-time 2 -o /dev/null "http://$ADDR/healthz"
	[ "$status" -ne 0 ] || fail "an 11th connection from 127.0.0.1 was served"
	run -0 post notification p1 "$(now_ts)" "$(body_follow 1)" --interface 127.0.0.2
	assert_output 204
	wait_bg drip 10 || true
	assert_equal "$(drip_count "$T/drip.out" closed 0 1)" 20
	assert_equal "$(drip_count "$T/drip.out" open 4.5 15)" 10
}

@test "debug logging (-vv, SERVITOR_LOG=debug) never shows the secret" {
	printf '%s\n' "$SECRET" >"$T/secret"
	unset TWITCH_EVENTSUB_SECRET
	local f ts
	f=$(body_follow 1)
	for how in -vv env; do
		rm -f "$T/wh.port"
		if [ "$how" = env ]; then
			SERVITOR_LOG=debug start_webhookd --secret-file "$T/secret"
		else
			start_webhookd -vv --secret-file "$T/secret"
		fi
		ts=$(now_ts)
		run -0 post notification "s-$how" "$ts" "$f"
		assert_output 204
		run -0 post_signed notification "t-$how" "$ts" "$f" "$(sign "t-$how" "$ts" "$f" wrong-secret-123)"
		assert_output 403
		run -0 env TWITCH_EVENTSUB_SECRET="$SECRET" SERVITOR_LOG=debug timeout 20 twitch-trigger stream.online --verify -w "$URL"
		run -0 env TWITCH_EVENTSUB_SECRET="$SECRET" timeout 20 twitch-trigger cheer --revoke user_removed -w "$URL"
		stop_bg wh
		# debug lines were written, and MHD had nothing to complain of
		grep -q "debug: message s-$how: channel.follow v2" "$T/wh.err" || fail "$(cat "$T/wh.err")"
		if grep -e 'not the first option' -e 'thread pool' "$T/wh.err"; then
			fail "MHD warned at start"
		fi
		assert_no_secret "$SECRET" "$T/wh.err" "$T/wh.out"
	done
	# a pool of threads starts quietly too
	rm -f "$T/wh.port"
	start_webhookd -vv --secret-file "$T/secret" --threads 2
	stop_bg wh
	if grep 'httpd:' "$T/wh.err"; then
		fail "MHD warned at start"
	fi
}

@test "twitch-trigger --webhook: events, the challenge and a revocation end to end" {
	start_webhookd -v
	run -0 --separate-stderr timeout 20 twitch-trigger channel.follow --user pixelpanda --webhook "$URL"
	assert_equal "$output" ""
	run -0 timeout 20 twitch-trigger --random -c 20 -w "$URL"
	run -0 timeout 20 twitch-trigger stream.online --verify -w "$URL"
	run -0 timeout 20 twitch-trigger cheer --revoke user_removed -w "$URL"
	run -77 --separate-stderr env TWITCH_EVENTSUB_SECRET=not-the-secret timeout 20 twitch-trigger follow -w "$URL"
	[[ "$stderr" == *"answered 403"* ]] || fail "$stderr"
	wait_lines "$T/wh.out" 21
	stop_bg wh
	assert_ndjson "$T/wh.out"
	assert_equal "$(wc -l <"$T/wh.out")" 21
	run -0 jq -e -s '.[0].type == "channel.follow" and .[0].event.user_login == "pixelpanda" and
	  all(.[]; .source == "eventsub-webhook" and .type != "channel.host")' "$T/wh.out"
	grep -q 'answered the challenge for stream.online' "$T/wh.err"
	grep -q 'revoked: user_removed' "$T/wh.err"
}

@test "bad options: 64; an address in use: 69" {
	run -64 --separate-stderr twitch-webhookd --tls-cert "$SV_CERTS/server.pem"
	[[ "$stderr" == *"--tls-cert and --tls-key go together"* ]]
	run -64 --separate-stderr twitch-webhookd --path eventsub
	run -64 --separate-stderr twitch-webhookd --max-age 0
	run -64 --separate-stderr twitch-webhookd --max-conn nope
	run -64 --separate-stderr twitch-webhookd extra
	run -64 --separate-stderr timeout 10 twitch-webhookd --listen nonsense
	start_webhookd
	run -69 --separate-stderr timeout 10 twitch-webhookd --listen "$ADDR"
	[[ "$stderr" == *"$ADDR"* ]] || fail "$stderr"
}
