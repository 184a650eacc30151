# sync_lib.sh: helpers of the sync end-to-end tests (test_sync_*.sh): a hub that serves on a random loopback
# port, agents with certificates from the hub's CA, and the processes a test starts, which are all killed
# (kill -9, by the PID recorded when they were started) when the test ends, however it ends.
#
# Sourced after lib.sh. Layout under $T: hub/ (store, CA, hub certificate), certs/ (issued node certificates),
# one directory per agent (store, agent.crt, agent.key, hub-ca.crt), hub.N.log (stderr of the N-th hub started).
#
# Timeouts are generous, for the sanitizer build, but bounded: a wait that runs out fails the test with what
# it was waiting for.

# The Debian python3 with cbor2 (not a pyenv one earlier in PATH).
PY3=/usr/bin/python3

HUB_PID=""
HUB_PORT=""
HUB_URL=""
HUB_LOG=""
HUB_RUNS=0
STARTED_PIDS=()

# Remembers a process the test started, so that it is killed at the end.
track_pid() {
	STARTED_PIDS+=("$1")
}

# is_child PID: PID is (still) a child of this shell: not already reaped, its number not reused by another.
is_child() {
	[[ "$(ps -o ppid= -p "$1" 2>/dev/null | tr -d ' ')" == "$$" ]]
}

# Kills (-9) the recorded processes that are still this shell's children, and reaps them.
kill_started() {
	local p
	for p in "${STARTED_PIDS[@]}"; do
		if is_child "$p"; then
			kill -9 "$p" 2>/dev/null || true
			wait "$p" 2>/dev/null || true
		fi
	done
	STARTED_PIDS=()
}

sync_finish() {
	local rc=$?
	set +e
	kill_started
	if [[ $rc != 0 ]]; then
		local f
		for f in "$T"/hub.*.log "$T"/*.daemon.log; do
			[[ -s "$f" ]] || continue
			echo "--- last lines of $(basename "$f"):" >&2
			tail -n 30 "$f" >&2
		done
	fi
	# finish (lib.sh) reports sanitizer findings, removes $T and exits with the status it finds in $?.
	(exit $rc)
	finish
}
trap sync_finish EXIT
trap 'exit 130' INT TERM

# now_ms: a monotonic-enough clock for measuring waits.
now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# wait_for SECONDS WHAT CMD...: runs CMD every 0.1 s until it succeeds; fails the test after SECONDS.
wait_for() {
	local secs=$1 what=$2
	shift 2
	local deadline=$(($(now_ms) + secs * 1000))
	until "$@" >/dev/null 2>&1; do
		if (($(now_ms) > deadline)); then
			fail "waited ${secs}s for $what"
		fi
		sleep 0.1
	done
}

# log_has FILE PATTERN: FILE has a line matching the extended regular expression PATTERN.
log_has() {
	grep -qE "$2" "$1" 2>/dev/null
}

# alive PID: the process is a child of this shell and has not ended (is not a zombie).
alive() {
	local state
	is_child "$1" || return 1
	state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	[[ -n "$state" && "$state" != Z* ]]
}

# new_hub: creates the hub's store and CA in $T/hub.
new_hub() {
	run hub init
	assert_ok
	run hub ca init
	assert_ok
}

# start_hub [ENV=VALUE ...]: starts `kiroku-hub serve` on a free loopback port (or on $HUB_LISTEN_PORT when
# set: a hub that comes back where its agents expect it), with the given environment added, and waits for its
# "listening on" line. Sets HUB_PID, HUB_PORT, HUB_URL and HUB_LOG (its stderr, a new file for each start:
# hub.1.log, hub.2.log, ...).
start_hub() {
	HUB_RUNS=$((HUB_RUNS + 1))
	HUB_LOG="$T/hub.$HUB_RUNS.log"
	local out="$T/hub.$HUB_RUNS.out"
	: >"$out"
	env "$@" "$KIROKU_HUB" --data-dir "$T/hub" serve --listen "127.0.0.1:${HUB_LISTEN_PORT:-0}" >"$out" 2>"$HUB_LOG" &
	HUB_PID=$!
	track_pid "$HUB_PID"
	local deadline=$(($(now_ms) + 30000))
	until grep -q '^listening on ' "$out"; do
		if ! alive "$HUB_PID"; then
			fail "the hub exited before listening: $(cat "$HUB_LOG")"
		fi
		if (($(now_ms) > deadline)); then
			fail "the hub did not say it was listening within 30 s"
		fi
		sleep 0.05
	done
	HUB_PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$out")
	[[ -n "$HUB_PORT" ]] || fail "no port in the hub's line: $(cat "$out")"
	HUB_URL="https://127.0.0.1:$HUB_PORT"
	export HUB_PID HUB_PORT HUB_URL HUB_LOG
}

# stop_hub: SIGTERM, and the hub must stop by itself with exit 0 within 30 s.
stop_hub() {
	local rc=0 deadline=$(($(now_ms) + 30000))
	kill -TERM "$HUB_PID"
	while alive "$HUB_PID"; do
		(($(now_ms) < deadline)) || fail "the hub did not stop within 30 s of SIGTERM"
		sleep 0.05
	done
	wait "$HUB_PID" || rc=$?
	[[ $rc == 0 ]] || fail "the hub exited with $rc after SIGTERM"
	log_has "$HUB_LOG" 'stopped$' || fail "the hub did not log that it stopped"
}

# kill_hub: kill -9 the hub.
kill_hub() {
	kill -9 "$HUB_PID" 2>/dev/null || true
	wait "$HUB_PID" 2>/dev/null || true
}

# issue_cert NODE FACILITY [ARGS...]: a client certificate from the hub's CA in $T/certs/NODE.{crt,key}.
issue_cert() {
	local node=$1 facility=$2
	shift 2
	run hub cert issue --for-node "$node" --facility "$facility" "$@" "$T/certs"
	assert_ok
}

# new_agent NODE FACILITY [DIR]: an agent's store in $T/DIR (default: NODE) with a certificate from the hub's
# CA and the hub's CA certificate where the agent looks for them by default.
new_agent() {
	local node=$1 facility=$2 dir=${3:-$1}
	run agent "$dir" init --node "$node" --facility "$facility"
	assert_ok
	issue_cert "$node" "$facility"
	cp "$T/certs/$node.crt" "$T/$dir/agent.crt"
	cp "$T/certs/$node.key" "$T/$dir/agent.key"
	cp "$T/hub/ca.crt" "$T/$dir/hub-ca.crt"
}

# sync_agent DIR [ARGS...]: one `kiroku-agent sync` of the agent in $T/DIR against the running hub, through run.
sync_agent() {
	local dir=$1
	shift
	run agent "$dir" --hub-url "$HUB_URL" sync "$@"
}

# record DIR DESCRIPTION [--set ...]: a new incident on the agent in $T/DIR; prints its id.
record() {
	local dir=$1 desc=$2
	shift 2
	agent "$dir" record incident --set category=紛失 --set occurred_at=2026-11-20T15:10 --set description="$desc" "$@"
}

# outbox DIR: the number of changes waiting in the agent's outbox.
outbox() {
	agent "$1" status | sed -n 's/^outbox: *\([0-9][0-9]*\) changes waiting.*/\1/p'
}

# records_in DUMP: how many records a canonical dump holds (its lines that do not start with a space).
records_in() {
	local n
	n=$(grep -c '^[^ ]' <<<"$1" || true)
	echo "${n:-0}"
}

# assert_same_state DIR FACILITY: the agent in $T/DIR and the hub hold the same records for FACILITY, every
# field with the same value and version.
assert_same_state() {
	local dir=$1 facility=$2 a h
	a=$(agent "$dir" dump)
	h=$(hub dump --facility "$facility")
	[[ -n "$a" ]] || fail "$dir's dump is empty"
	[[ "$a" == "$h" ]] || fail "$dir's dump differs from the hub's dump of $facility:
$(diff <(echo "$a") <(echo "$h") | head -n 20)"
}

# hub_sync_lines [LOG]: the hub's per-request sync lines (default: the current hub's log).
hub_sync_lines() {
	grep -E ' sync node=' "${1:-$HUB_LOG}" || true
}

# sum_field NAME LINES: the sum of NAME=N over the lines.
sum_field() {
	local name=$1 lines=$2
	grep -oE " $name=[0-9]+" <<<"$lines" | cut -d= -f2 | awk '{ s += $1 } END { print s + 0 }'
}

# curl_sync NODE FILE [CURL ARGS...]: POSTs FILE to /v1/sync with NODE's certificate (from $T/certs) and the
# content type $CONTENT_TYPE (default application/cbor); sets RC (curl's exit code), CODE (the HTTP status),
# BODY (the answer, NUL bytes dropped; the raw bytes are in $T/.body) and HDRS (the answer's header lines).
curl_sync() {
	local node=$1 file=$2
	shift 2
	rm -f "$T/.body" "$T/.hdrs"
	run curl -sS --max-time 60 --cacert "$T/hub/ca.crt" --cert "$T/certs/$node.crt" --key "$T/certs/$node.key" \
		-H "Content-Type: ${CONTENT_TYPE:-application/cbor}" --data-binary @"$file" -D "$T/.hdrs" -o "$T/.body" \
		-w '%{http_code}' "$@" "$HUB_URL/v1/sync"
	CODE=$OUT
	BODY=$(tr -d '\0' <"$T/.body" 2>/dev/null || true)
	HDRS=$(tr -d '\r' <"$T/.hdrs" 2>/dev/null || true)
}
