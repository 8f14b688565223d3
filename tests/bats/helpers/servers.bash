# Background processes, ports and waiting, for tests that need a server.
# shellcheck shell=bash

SV_BG_NAMES=()

# start_bg NAME CMD...: run CMD in the background with stdout and stderr in
# $BATS_TEST_TMPDIR/NAME.out and NAME.err. fd 3 is closed for it: bats
# waits on fd 3 and would hang on a child that keeps it open.
start_bg() {
	local name=$1
	shift
	"$@" 3>&- >"$BATS_TEST_TMPDIR/$name.out" \
		2>"$BATS_TEST_TMPDIR/$name.err" &
	echo $! >"$BATS_TEST_TMPDIR/$name.pid"
	SV_BG_NAMES+=("$name")
}

# start_bg_stdin NAME INPUT CMD...: the same, with stdin from INPUT (a
# file or a FIFO).
start_bg_stdin() {
	local name=$1 input=$2
	shift 2
	"$@" 3>&- <"$input" >"$BATS_TEST_TMPDIR/$name.out" \
		2>"$BATS_TEST_TMPDIR/$name.err" &
	echo $! >"$BATS_TEST_TMPDIR/$name.pid"
	SV_BG_NAMES+=("$name")
}

bg_pid() {
	cat "$BATS_TEST_TMPDIR/$1.pid"
}

bg_running() {
	kill -0 "$(bg_pid "$1")" 2>/dev/null
}

# stop_bg NAME [SIGNAL]: signal (default TERM), wait up to 5 s, then KILL.
# The exit status is left in $BATS_TEST_TMPDIR/NAME.status.
stop_bg() {
	local name=$1 sig=${2:-TERM} pid i status
	[ -f "$BATS_TEST_TMPDIR/$name.pid" ] || return 0
	pid=$(bg_pid "$name")
	if kill -0 "$pid" 2>/dev/null; then
		kill -"$sig" "$pid" 2>/dev/null
		for ((i = 0; i < 100; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.05
		done
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	fi
	# (not `wait; status=$?`: under bats' errexit a non-zero exit
	# status would end the test right here)
	status=0
	wait "$pid" 2>/dev/null || status=$?
	echo "$status" >"$BATS_TEST_TMPDIR/$name.status"
	rm -f "$BATS_TEST_TMPDIR/$name.pid"
	return 0
}

# wait_bg NAME [SECONDS]: wait for NAME to exit by itself; its status is
# left in NAME.status and returned (so under errexit call it as
# `wait_bg NAME || true` and read NAME.status; not through `run`, whose
# subshell cannot wait for the test shell's children).
# A timeout kills it and returns 124.
wait_bg() {
	local name=$1 secs=${2:-10} pid status
	pid=$(bg_pid "$name")
	if ! wait_until "$secs" bash -c "! kill -0 $pid 2>/dev/null"; then
		stop_bg "$name" KILL
		return 124
	fi
	status=0
	wait "$pid" 2>/dev/null || status=$?
	echo "$status" >"$BATS_TEST_TMPDIR/$name.status"
	rm -f "$BATS_TEST_TMPDIR/$name.pid"
	return "$status"
}

stop_all_bg() {
	local n
	for n in "${SV_BG_NAMES[@]}"; do
		stop_bg "$n"
	done
	SV_BG_NAMES=()
}

dump_bg_logs() {
	local f
	for f in "$BATS_TEST_TMPDIR"/*.err; do
		[ -s "$f" ] || continue
		echo "# --- ${f##*/} (last 40 lines)" >&3
		tail -n 40 "$f" | sed 's/^/# /' >&3
	done
}

# healthz ADDR: the JSON of http://ADDR/healthz; fails when there is
# no answer, or an HTTP error.
healthz() {
	curl -sSf --max-time 10 "http://$1/healthz"
}

# healthz_jq ADDR JQ-ARGS...: jq JQ-ARGS over healthz ADDR; with -e, a
# test for wait_until or run.
healthz_jq() {
	local addr=$1
	shift
	healthz "$addr" | jq "$@"
}

# wait_until SECONDS CMD...: poll CMD every 50 ms until it succeeds; fail
# (return 1) after SECONDS.
wait_until() {
	local secs=$1 end
	shift
	end=$((SECONDS + secs))
	while ! "$@" >/dev/null 2>&1; do
		if [ "$SECONDS" -ge "$end" ]; then
			return 1
		fi
		sleep 0.05
	done
}

# wait_lines FILE N [SECONDS]: until FILE has at least N lines.
wait_lines() {
	local f=$1 n=$2 secs=${3:-10}
	wait_until "$secs" bash -c "[ \"\$(wc -l <'$f' 2>/dev/null || echo 0)\" -ge $n ]"
}

# wait_file FILE [SECONDS]: until FILE exists and is not empty.
wait_file() {
	wait_until "${2:-10}" test -s "$1"
}

# free_port: a port the kernel just gave out on 127.0.0.1 (for third-party
# servers that cannot report their own port; ours take --listen :0).
free_port() {
	/usr/bin/python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# closed_port: a loopback port nothing listens on, for "unreachable"
# tests (a fixed one such as 9 may have a service on some hosts).
closed_port() {
	free_port
}

# port_file_addr FILE: wait for a --port-file and print its content.
port_file_addr() {
	wait_file "$1" 10 || return 1
	head -n 1 "$1"
}
