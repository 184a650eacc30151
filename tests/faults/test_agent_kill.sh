#!/usr/bin/env bash
# test_agent_kill.sh: an agent is killed with SIGKILL FAULT_AGENT_KILLS times (12 bounded, 50 long) at random
# instants, alternately during `kiroku-agent record` (drawn within the time a record takes here: opening the
# store, validating, the commit) and during `kiroku-agent sync` (drawn within the time a sync takes: the
# handshake, a request, the hub holding its answer back 100 ms after its commit, applying the answer); then a
# `run` daemon is killed while it syncs and restarted. After each kill the agent's store must pass quick_check
# and every record whose `record` succeeded must still be there. At the end, invariants 1-3.
set -euo pipefail
source "$(dirname "$0")/../e2e/lib.sh"
source "$(dirname "$0")/../e2e/sync_lib.sh"
source "$(dirname "$0")/faults_lib.sh"

PAD=$(printf '%04000d' 0 | tr 0 z)

new_hub
new_agent n1 f1 a1
new_agent n2 f1 a2
start_hub KIROKU_TEST_SLEEP_AFTER_COMMIT_MS=100

# bg_agent DIR ARGS...: kiroku-agent in the background (the binary itself, so that BG_PID is its PID). In a
# sanitizer build without the leak check at exit: a SIGKILL that lands while LeakSanitizer stops the exiting
# process's threads makes it write "Unable to get registers" to the report file, which is no finding.
bg_agent() {
	local dir=$1
	shift
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		"$KIROKU_AGENT" --data-dir "$T/$dir" "$@" >"$T/bg.out" 2>"$T/bg.err" &
	BG_PID=$!
	track_pid "$BG_PID"
}

# kill_bg: SIGKILL the background agent (a child not yet reaped: its PID cannot have been reused; if it has
# ended already the signal does nothing); sets BG_RC (its exit status) and KILLED (1 if the signal ended it).
kill_bg() {
	kill -9 "$BG_PID" 2>/dev/null || true
	BG_RC=0
	wait "$BG_PID" 2>/dev/null || BG_RC=$?
	KILLED=0
	[[ $BG_RC != 137 ]] || KILLED=1
}

# ids_present DIR: every id whose record succeeded is in the agent's store.
ids_present() {
	local dir=$1 missing
	[[ -s "$T/$dir.ids" ]] || return 0
	missing=$(sort -u "$T/$dir.ids" | comm -23 - <(agent "$dir" dump | grep -oE '^[0-9A-Z]{26}' | sort -u))
	[[ -z "$missing" ]] || fail "$dir lost records whose record command had succeeded: $missing"
}

# Calibration: how long a record and a sync of a small backlog take here (a sanitizer build is several times
# slower); the kills are drawn within those durations.
T0=$(now_ms)
for i in 1 2 3; do record_ok a2 "calibration $i $PAD" || fail "record failed: $(cat "$T/a2.record.err")"; done
REC_MS=$((($(now_ms) - T0) / 3))
T0=$(now_ms)
sync_agent a2
assert_ok
SYNC_MS=$(($(now_ms) - T0))
echo "a record takes about $REC_MS ms here, a sync of three records $SYNC_MS ms"

REC_KILLED=0
REC_DONE=0
SYNC_KILLED=0
SYNC_DONE=0
# Until FAULT_AGENT_KILLS kills have landed while the agent was running (a command that finished first does not
# count), at most four times as many attempts.
for ((k = 1; REC_KILLED + SYNC_KILLED < FAULT_AGENT_KILLS && k <= 4 * FAULT_AGENT_KILLS; k++)); do
	dir=a$((1 + k % 2))
	if ((k % 2)); then
		# Killed while it records.
		bg_agent "$dir" record incident --set category=紛失 --set occurred_at=2026-11-20T15:10 \
			--set description="kill $k $PAD"
		sleep_ms "$(rand_ms 0 "$REC_MS")"
		kill_bg
		if ((KILLED)); then
			REC_KILLED=$((REC_KILLED + 1))
		else
			[[ $BG_RC == 0 ]] || fail "record on $dir failed by itself (exit $BG_RC): $(cat "$T/bg.err")"
			cat "$T/bg.out" >>"$T/$dir.ids"
			REC_DONE=$((REC_DONE + 1))
		fi
	else
		# A backlog of a few records, then killed while it syncs.
		n=$((1 + RANDOM % 6))
		for ((i = 0; i < n; i++)); do
			record_ok "$dir" "backlog $k $i $PAD" || fail "record on $dir failed: $(tail -n 2 "$T/$dir.record.err")"
		done
		bg_agent "$dir" --hub-url "$HUB_URL" sync
		sleep_ms "$(rand_ms 0 "$SYNC_MS")"
		kill_bg
		if ((KILLED)); then
			SYNC_KILLED=$((SYNC_KILLED + 1))
		else
			[[ $BG_RC == 0 ]] || fail "sync of $dir failed by itself (exit $BG_RC): $(cat "$T/bg.err")"
			SYNC_DONE=$((SYNC_DONE + 1))
		fi
	fi
	store_ok "$T/$dir/agent.db" "$dir after kill $k"
	run agent "$dir" status
	assert_ok
	ids_present "$dir"
done
echo "injected $((REC_KILLED + SYNC_KILLED)) agent kills: $REC_KILLED during record ($REC_DONE more records" \
	"finished before the kill came), $SYNC_KILLED during sync ($SYNC_DONE syncs finished first)"
((REC_KILLED + SYNC_KILLED >= FAULT_AGENT_KILLS)) ||
	fail "only $((REC_KILLED + SYNC_KILLED)) of $FAULT_AGENT_KILLS kills landed while the agent was running"

step "a daemon killed while it syncs, then restarted"
for ((i = 0; i < 8; i++)); do record_ok a1 "daemon $i $PAD" >/dev/null; done
"$KIROKU_AGENT" --data-dir "$T/a1" --hub-url "$HUB_URL" --sync-interval 5 --web-port 0 run 2>"$T/a1.daemon.log" &
DPID=$!
track_pid "$DPID"
sleep_ms "$(rand_ms 50 400)"
kill -9 "$DPID"
wait "$DPID" 2>/dev/null || true
store_ok "$T/a1/agent.db" "a1 after the daemon's kill"
"$KIROKU_AGENT" --data-dir "$T/a1" --hub-url "$HUB_URL" --sync-interval 5 --web-port 0 run 2>"$T/a1.daemon.log" &
DPID=$!
track_pid "$DPID"
a1_drained() { [[ "$(outbox a1)" == 0 ]]; }
wait_for 60 "the restarted daemon to send a1's outbox" a1_drained
kill -TERM "$DPID"
wait "$DPID" || fail "the daemon did not stop cleanly"

step "every agent completes its sync"
for d in a1 a2 a1; do sync_until_done "$d" 60; done
stop_hub
check_invariants f1:a1:n1 f1:a2:n2
echo "PASS: $((REC_KILLED + SYNC_KILLED + 1)) agent kills, nothing lost or duplicated"
