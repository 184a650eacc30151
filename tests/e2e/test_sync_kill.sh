#!/usr/bin/env bash
# test_sync_kill.sh: kill -9 on either side of a sync loses nothing and duplicates nothing (invariant 1).
#   - The hub is killed after it committed a change-set and before it answered (the test hook
#     KIROKU_TEST_SLEEP_AFTER_COMMIT_MS holds the answer back): the agent's sync fails and keeps its outbox;
#     the restarted hub skips the replayed changes.
#   - An agent with a large outbox (several batches) is killed in the middle of a sync, several times at
#     different points; another agent is killed while it downloads; the next syncs complete the exchange.
# Afterwards every agent and the hub hold the same records, as many as were recorded, and the hub journaled
# each change once.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/sync_lib.sh"

# start_sync DIR: `kiroku-agent sync` of $T/DIR in the background (the binary itself, so that SYNC_PID is
# the agent's own PID); its stdout and stderr go to $T/DIR.sync.{out,err}.
start_sync() {
	local dir=$1
	"$KIROKU_AGENT" --data-dir "$T/$dir" --hub-url "$HUB_URL" sync >"$T/$dir.sync.out" 2>"$T/$dir.sync.err" &
	SYNC_PID=$!
	track_pid "$SYNC_PID"
}

# kill_sync: kill -9 the background sync; it must still have been running (it was killed mid-sync).
kill_sync() {
	alive "$SYNC_PID" || fail "the sync had already ended before the kill: $(cat "$T"/*.sync.out "$T"/*.sync.err)"
	kill -9 "$SYNC_PID"
	wait "$SYNC_PID" 2>/dev/null || true
}

# sync_lines_of NODE: how many sync lines the current hub has logged for NODE.
sync_lines_of() {
	grep -cE " sync node=$1 " "$HUB_LOG" || true
}

# position DIR: the hub-journal position the agent in $T/DIR has applied.
position() {
	agent "$1" status | sed -n 's/^hub position: *\([0-9]*\).*/\1/p'
}

# wait_until SECONDS WHAT TEST: evaluates the arithmetic TEST as often as it can (each check runs the agent
# once, a few ms) until it holds.
wait_until() {
	local secs=$1 what=$2 test=$3 deadline=$(($(now_ms) + $1 * 1000))
	until eval "(($test))"; do
		(($(now_ms) < deadline)) || fail "waited ${secs}s for $what"
	done
}

has_sync_lines() {
	(($(sync_lines_of "$1") >= $2))
}

# wait_sync_lines NODE N: waits until the hub has logged N sync requests of NODE. (A line is logged when the
# hub has merged a request and is about to answer it, even if the agent is gone by then: count from the
# number logged before the agent started, not from 0.)
wait_sync_lines() {
	wait_for 60 "the hub's answer number $2 to $1" has_sync_lines "$1" "$2"
}

new_hub

step "the hub is killed between its commit and its answer"
new_agent n1 f1 a1
for i in 1 2 3 4 5; do record a1 "記録$i" >/dev/null; done
BEFORE=$(agent a1 dump)
start_hub KIROKU_TEST_SLEEP_AFTER_COMMIT_MS=3000
start_sync a1
# The merge of five changes takes milliseconds; the hub then sleeps 3 s before answering. Kill it as soon as
# the five records are committed (as another process reading the hub's store sees them).
hub_has_five() {
	(($(records_in "$(hub dump --facility f1)") == 5))
}
wait_for 30 "the hub's commit of a1's five changes" hub_has_five
alive "$SYNC_PID" || fail "the agent's sync ended although the hub holds its answer back: $(cat "$T/a1.sync.err")"
kill_hub
RC=0
wait "$SYNC_PID" || RC=$?
OUT=$(cat "$T/a1.sync.out")
ERR=$(cat "$T/a1.sync.err")
assert_rc 5
assert_contains "$ERR" "$HUB_URL" "the agent's message names the hub"
assert_eq 5 "$(outbox a1)" "a1's outbox after the hub died"
assert_eq "$BEFORE" "$(agent a1 dump)" "a1's records after the hub died"

step "the restarted hub skips the changes it had committed; nothing is lost or doubled"
start_hub
sync_agent a1
assert_ok
assert_contains "$OUT" "sent 5, received 0"
assert_eq 0 "$(outbox a1)" "a1's outbox"
L=$(hub_sync_lines)
assert_contains "$L" "node=n1 facility=f1" "the second hub's log"
assert_match "$(head -n 1 <<<"$L")" "status=200 in=0 skipped=5 " "the second hub's first answer: the replay"
assert_eq 0 "$(sum_field in "$L")" "changes the second hub applied"
assert_same_state a1 f1
assert_eq 5 "$(records_in "$(hub dump --facility f1)")" "records of f1 at the hub"
run hub status
assert_match "$OUT" "n1 +facility f1 +acknowledged up to 5 " "the hub's node list"

step "a large outbox"
new_agent m1 f2 b1
N=600
# Three text fields of 7,000 bytes: about 21 KB a change, so the 4 MiB batches of the wire take about 190
# changes each and the outbox needs four requests.
# A record is one process (a few ms, most of it start-up and the commit's fsync; several times that under
# the sanitizers): four at a time take about a third of the time of one after the other.
BIG=$(printf '%07000d' 0 | tr 0 x)
export BIG KIROKU_AGENT B1_DIR="$T/b1"
T0=$(now_ms)
seq "$N" | xargs -P 4 -I{} sh -c '"$KIROKU_AGENT" --data-dir "$B1_DIR" record incident --set category=漏えい \
	--set occurred_at=2026-11-21T09:00 --set description="大量{} $BIG" --set containment="$BIG" \
	--set recurrence_prevention="$BIG" >/dev/null' || fail "recording $N records failed"
echo "recorded $N records in $(($(now_ms) - T0)) ms"
assert_eq "$N" "$(outbox b1)" "b1's outbox"
B_BEFORE=$(agent b1 dump)
assert_eq "$N" "$(records_in "$B_BEFORE")" "records on b1"

step "the agent is killed after its first acknowledged batch"
# Each answer waits 300 ms after the commit, so every request of the four takes that long at least: the kill
# comes well before the next acknowledgement.
stop_hub
start_hub KIROKU_TEST_SLEEP_AFTER_COMMIT_MS=300
start_sync b1
wait_until 60 "b1's first acknowledged batch" '$(outbox b1) < N'
kill_sync
LEFT1=$(outbox b1)
((LEFT1 > 0 && LEFT1 < N)) || fail "after the first kill b1 should have some of its $N changes left, has $LEFT1"
assert_eq "$B_BEFORE" "$(agent b1 dump)" "b1's records after a kill"

step "the agent is killed while the hub holds an answer back"
SEEN=$(sync_lines_of m1)
start_sync b1
wait_sync_lines m1 $((SEEN + 1))
# The agent applies the answer and sends its next batch, which the hub commits and then holds for 300 ms.
sleep 0.2
kill_sync
LEFT2=$(outbox b1)
((LEFT2 > 0 && LEFT2 <= LEFT1)) || fail "after the second kill b1 should have between 1 and $LEFT1 changes left, has $LEFT2"
assert_eq "$B_BEFORE" "$(agent b1 dump)" "b1's records after a kill"

step "the agent is killed at once"
start_sync b1
sleep 0.$((RANDOM % 5))
kill_sync
assert_eq "$B_BEFORE" "$(agent b1 dump)" "b1's records after a kill"

step "the next sync completes; nothing lost, nothing doubled"
sync_agent b1
assert_ok
assert_contains "$OUT" "outbox empty"
assert_eq 0 "$(outbox b1)" "b1's outbox"
L=$(hub_sync_lines)
assert_eq "$N" "$(sum_field in "$(grep 'node=m1' <<<"$L")")" "changes of m1 the hub applied (each once)"
echo "replayed changes the hub skipped: $(sum_field skipped "$(grep 'node=m1' <<<"$L")")"
assert_same_state b1 f2
assert_eq "$N" "$(records_in "$(hub dump --facility f2)")" "records of f2 at the hub"
run hub status
assert_match "$OUT" "m1 +facility f2 +acknowledged up to $N " "the hub's node list"

step "an agent killed while it downloads a large backlog"
new_agent m2 f2 b2
# The hub still holds each answer back 300 ms: killed as soon as it has applied the first of four answers.
start_sync b2
wait_until 60 "b2's first applied answer" '$(position b2) > 0'
kill_sync
P=$(position b2)
echo "b2 had applied up to hub position $P when it was killed"
sync_agent b2
assert_ok
assert_contains "$OUT" "outbox empty"
P2=$(position b2)
((P2 > P)) || fail "b2 was killed after it had everything (position $P, then $P2)"
assert_same_state b2 f2
assert_eq "$(agent b1 dump)" "$(agent b2 dump)" "b2's dump against b1's"

step "the first agent's records are untouched by all this"
assert_same_state a1 f1
stop_hub

echo "PASS"
