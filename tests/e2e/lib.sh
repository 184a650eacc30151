# lib.sh: helpers of the end-to-end tests (sourced by tests/e2e/test_*.sh; needs bash and set -euo pipefail).
#
# Each test works in its own directory ($T, made with mktemp -d and removed on exit). `run CMD ...` runs a
# command without stopping the test, keeping its exit code in $RC, its stdout in $OUT and its stderr in
# $ERR; it fails the test at once if a sanitizer reported anything. The assert_* helpers print what was
# expected and what came, then exit 1.

: "${KIROKU_AGENT:?set KIROKU_AGENT to the kiroku-agent binary (ctest does)}"
: "${KIROKU_HUB:?set KIROKU_HUB to the kiroku-hub binary (ctest does)}"

T=$(mktemp -d "${TMPDIR:-/tmp}/kiroku-e2e.XXXXXX")
# Sanitizer reports (a build with KIROKU_SANITIZE=ON) go to files, so that a report from a command whose
# output is only compared still fails the test, at the latest when it ends.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$T/sanitizer"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$T/sanitizer:print_stacktrace=1"

sanitizer_reports() {
	compgen -G "$T/sanitizer.*" >/dev/null
}

finish() {
	local rc=$?
	if sanitizer_reports; then
		echo "FAIL: sanitizer reports:" >&2
		cat "$T"/sanitizer.* >&2
		rc=1
	fi
	rm -rf "$T"
	exit $rc
}
trap finish EXIT
# An empty configuration file, so that a /etc/kiroku/*.conf on the machine plays no part.
: >"$T/empty.conf"
export KIROKU_CONFIG="$T/empty.conf"
export LC_ALL=C.UTF-8

STEP=""
RC=0
OUT=""
ERR=""

# Names the step being tested, for the failure messages.
step() {
	STEP="$*"
	echo "--- $STEP"
}

fail() {
	echo "FAIL${STEP:+ [$STEP]}: $*" >&2
	if [[ -n "$OUT" ]]; then printf 'last stdout:\n%s\n' "$OUT" >&2; fi
	if [[ -n "$ERR" ]]; then printf 'last stderr:\n%s\n' "$ERR" >&2; fi
	exit 1
}

run() {
	local o="$T/.out" e="$T/.err"
	set +e
	"$@" >"$o" 2>"$e"
	RC=$?
	set -e
	OUT=$(cat "$o")
	ERR=$(cat "$e")
	if sanitizer_reports || grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$e"; then
		fail "sanitizer report from: $*"
	fi
}

# agent DIR ARGS...: kiroku-agent on the store in $T/DIR.
agent() {
	local dir=$1
	shift
	"$KIROKU_AGENT" --data-dir "$T/$dir" "$@"
}

# hub ARGS...: kiroku-hub on the store in $T/hub.
hub() {
	"$KIROKU_HUB" --data-dir "$T/hub" "$@"
}

assert_rc() {
	local want=$1
	[[ "$RC" == "$want" ]] || fail "expected exit code $want, got $RC"
}

# assert_ok: the last run succeeded.
assert_ok() { assert_rc 0; }

assert_eq() {
	local want=$1 got=$2 what=${3:-value}
	[[ "$want" == "$got" ]] || fail "$what: expected
  [$want]
got
  [$got]"
}

# assert_contains HAYSTACK NEEDLE [WHAT]
assert_contains() {
	local hay=$1 needle=$2 what=${3:-output}
	[[ "$hay" == *"$needle"* ]] || fail "$what: expected it to contain [$needle], got
  [$hay]"
}

assert_not_contains() {
	local hay=$1 needle=$2 what=${3:-output}
	[[ "$hay" != *"$needle"* ]] || fail "$what: expected it not to contain [$needle], got
  [$hay]"
}

assert_match() {
	local text=$1 re=$2 what=${3:-output}
	[[ "$text" =~ $re ]] || fail "$what: expected to match /$re/, got [$text]"
}

# assert_lines N TEXT [WHAT]: TEXT has exactly N lines (an empty text has 0).
assert_lines() {
	local want=$1 text=$2 what=${3:-output} n=0
	if [[ -n "$text" ]]; then n=$(printf '%s\n' "$text" | wc -l); fi
	[[ "$n" == "$want" ]] || fail "$what: expected $want lines, got $n:
  [$text]"
}

# snapshot DIR: what an agent's store shows (every record, deleted too, and the status): compared before
# and after an operation that must change nothing.
snapshot() {
	local dir=$1
	agent "$dir" list --all --format tsv
	agent "$dir" status
}
