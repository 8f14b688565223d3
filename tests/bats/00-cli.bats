#!/usr/bin/env bats
# Conventions every tool shares: --help, --version, usage errors, and the
# documentation (a man page per tool whose SYNOPSIS options match --help).

bats_require_minimum_version 1.5.0
load helpers/common

tools() {
	local f
	for f in "$SV_TOP"/cmd/*.c; do
		f=${f##*/}
		echo "${f%.c}"
	done
}

@test "every tool: --help on stdout, exit 0, starts with usage" {
	local t
	for t in $(tools); do
		run -0 --separate-stderr "$t" --help
		[[ "${lines[0]}" == "usage: $t"* ]] || fail "$t --help: ${lines[0]}"
		assert_equal "$stderr" ""
		run -0 --separate-stderr "$t" -h
		[[ "${lines[0]}" == "usage: $t"* ]] || fail "$t -h"
	done
}

@test "every tool: --version names the tool and the version" {
	local t
	for t in $(tools); do
		run -0 --separate-stderr "$t" --version
		[[ "$output" =~ ^$t\ [0-9]+\.[0-9]+\.[0-9]+ ]] || fail "$t --version: $output"
	done
}

@test "every tool: an unknown option is exit 64 with a help pointer" {
	local t
	for t in $(tools); do
		run -64 --separate-stderr "$t" --no-such-option
		assert_equal "$output" ""
		[[ "$stderr" == *"Try '$t --help'."* ]] || fail "$t: $stderr"
	done
}

@test "every tool: a bad --log-format is exit 64" {
	local t
	for t in $(tools); do
		run -64 --separate-stderr "$t" --log-format=xml
		[[ "$stderr" == *"--log-format"* ]] || fail "$t: $stderr"
	done
}

@test "every tool has a man page, and every long option of --help is in it" {
	local t opt
	for t in $(tools); do
		[ -f "$SV_TOP/man/$t.1" ] || fail "no man/$t.1"
		run -0 --separate-stderr "$t" --help
		for opt in $(grep -oE -- '--[a-z][a-z0-9-]*' <<<"$output" | sort -u); do
			grep -qF -- "Fl \\${opt#-}" "$SV_TOP/man/$t.1" ||
				grep -qF -- "$opt" "$SV_TOP/man/$t.1" ||
				fail "$t: $opt is in --help but not in man/$t.1"
		done
	done
}

@test "every man page has the sections users look for, and lints clean" {
	require_cmd mandoc
	local p s
	for p in "$SV_TOP"/man/*.1; do
		for s in NAME SYNOPSIS DESCRIPTION OPTIONS ENVIRONMENT "EXIT STATUS" EXAMPLES "SEE ALSO"; do
			grep -q "^\.Sh $s\$" "$p" || fail "${p##*/}: no $s section"
		done
		grep -q '^\.It 64$' "$p" || fail "${p##*/}: EXIT STATUS lacks 64"
	done
	run -0 mandoc -Tlint -Wwarning "$SV_TOP"/man/*.1 "$SV_TOP"/man/*.7
}

@test "servitor.7 lists every exit code of the house table" {
	local c
	for c in 0 64 65 66 69 70 71 74 75 76 77 78; do
		grep -q "^\.It $c\$" "$SV_TOP/man/servitor.7" || fail "servitor.7 lacks $c"
	done
}

@test "the README mentions every tool" {
	local t
	for t in $(tools); do
		grep -q -- "$t" "$SV_TOP/README.md" || fail "README.md does not mention $t"
	done
}

@test "SERVITOR_LOG=debug and --log-format=json give JSON log records on stderr" {
	run -0 --separate-stderr env SERVITOR_LOG=debug twitch-trigger follow --log-format=json
	[ -n "$stderr" ] || fail "no debug record"
	while IFS= read -r l; do
		jq -e '.level and .prog == "twitch-trigger" and .msg and .time' <<<"$l" >/dev/null ||
			fail "not a JSON log record: $l"
	done <<<"$stderr"
	run -0 --separate-stderr twitch-trigger follow -q
	assert_equal "$stderr" ""
}

@test "a bad SERVITOR_LOG or SERVITOR_LOG_FORMAT is warned about once, not ignored" {
	run -0 --separate-stderr env SERVITOR_LOG=loud twitch-trigger follow
	assert_equal "$stderr" "twitch-trigger: warn: SERVITOR_LOG: expected error, warn, info or debug, got 'loud'; using warn"
	jq -e '.type == "channel.follow"' <<<"$output"
	run -0 --separate-stderr env SERVITOR_LOG_FORMAT=xml twitch-trigger follow
	assert_equal "$stderr" "twitch-trigger: warn: SERVITOR_LOG_FORMAT: expected text or json, got 'xml'; using text"
}
