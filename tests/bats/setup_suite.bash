# One-time suite setup: fail loudly if the binaries are missing, make the
# test CA, and build the valgrind/wrapper directory when SV_WRAPPER is set.
# shellcheck shell=bash

setup_suite() {
	: "${SV_BIN:?SV_BIN must be set (run the suite with make check)}"
	local top t
	top=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	if ! ls "$SV_BIN"/twitch-trigger >/dev/null 2>&1; then
		echo "setup_suite: no binaries in $SV_BIN" >&2
		return 1
	fi
	if [ -z "${SV_CERTS:-}" ] || [ ! -s "$SV_CERTS/ca.pem" ]; then
		export SV_CERTS="$BATS_RUN_TMPDIR/certs"
	fi
	"$top/scripts/gen-test-certs.sh" "$SV_CERTS" >/dev/null || {
		echo "setup_suite: gen-test-certs.sh failed" >&2
		return 1
	}
	if [ -n "${SV_WRAPPER:-}" ]; then
		export SV_WRAPBIN="$BATS_RUN_TMPDIR/wrapbin"
		mkdir -p "$SV_WRAPBIN"
		for t in "$SV_BIN"/*; do
			printf '#!/bin/sh\nexec %s %s "$@"\n' "$SV_WRAPPER" "$t" \
				>"$SV_WRAPBIN/${t##*/}"
			chmod +x "$SV_WRAPBIN/${t##*/}"
		done
	fi
}
