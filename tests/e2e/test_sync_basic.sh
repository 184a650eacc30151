#!/usr/bin/env bash
# test_sync_basic.sh: sync over mutual TLS with a real hub on a loopback port: records made while the hub is
# down stay in the outbox (sync exits 5 and says why), drain when it is back, and the agents and the hub then
# hold the same records, each facility only its own; the daemon (`run`) backs off while the hub is away,
# drains by itself when it comes back, syncs soon after a new local record and stops cleanly on SIGTERM.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/sync_lib.sh"

step "a hub, two agents of f1 and one of f2"
new_hub
new_agent n1 f1 a1
new_agent n2 f1 a2
new_agent m1 f2 b1
start_hub
DOWN_URL=$HUB_URL
stop_hub

step "records made while the hub is down stay in the outbox; sync exits 5 and says why"
R1=$(record a1 "一件目")
R2=$(record a1 "二件目" --set media=USB)
R3=$(record a1 "三件目")
BEFORE=$(snapshot a1)
run agent a1 --hub-url "$DOWN_URL" sync
assert_rc 5
assert_contains "$ERR" "$DOWN_URL" "the message names the hub"
assert_contains "$ERR" "is the hub running" "the message says what to check"
assert_eq "$BEFORE" "$(snapshot a1)" "a1 after a failed sync"
assert_eq 3 "$(outbox a1)" "a1's outbox after a failed sync"
run agent a1 list --format tsv
assert_lines 3 "$OUT" "a1's records after a failed sync"

step "the hub is back: sync drains the outbox"
start_hub
sync_agent a1
assert_ok
assert_contains "$OUT" "synced with $HUB_URL: sent 3, received 0"
assert_contains "$OUT" "outbox empty"
assert_eq 0 "$(outbox a1)" "a1's outbox after the sync"
run agent a1 status
assert_contains "$OUT" "outbox:          0 changes waiting"
assert_contains "$OUT" "acknowledged:    3"
assert_not_contains "$OUT" "last exchange:   never" "a1's status"
assert_same_state a1 f1
H=$(hub dump --facility f1)
assert_eq 3 "$(records_in "$H")" "records of f1 at the hub"
for r in "$R1" "$R2" "$R3"; do assert_contains "$H" "$r" "the hub's dump of f1"; done
run hub status
assert_ok
assert_match "$OUT" "n1 +facility f1 +acknowledged up to 3 " "the hub knows n1 of f1"
L=$(hub_sync_lines)
assert_eq 3 "$(sum_field in "$L")" "changes the hub applied"
assert_contains "$L" "node=n1 facility=f1" "the hub's log names the node and facility from the certificate"

step "a sync with nothing to send changes nothing"
BEFORE=$(snapshot a1 | grep -v '^last exchange:')
HB=$(hub dump)
sync_agent a1
assert_ok
assert_contains "$OUT" "sent 0, received 0"
assert_eq "$BEFORE" "$(snapshot a1 | grep -v '^last exchange:')" "a1 after an empty sync"
assert_eq "$HB" "$(hub dump)" "the hub after an empty sync"

step "the other agent of f1 receives the records; the agent of f2 does not"
R4=$(record b1 "別の施設")
sync_agent a2
assert_ok
assert_contains "$OUT" "sent 0, received 3"
assert_same_state a2 f1
assert_eq "$(agent a1 dump)" "$(agent a2 dump)" "a2's dump against a1's"
sync_agent b1
assert_ok
assert_contains "$OUT" "sent 1, received 0"
assert_same_state b1 f2
B=$(agent b1 dump)
assert_eq 1 "$(records_in "$B")" "records on b1"
assert_contains "$B" "$R4"
assert_not_contains "$B" "$R1" "b1's dump"
assert_not_contains "$(hub dump --facility f1)" "$R4" "the hub's dump of f1"

step "the operator's commands while the hub serves leave the hub's store alone"
# Several connection threads have opened the store by now. A command of another process that opens and
# closes the store must find the hub's locks and leave its WAL and shared-memory files in place; if the
# hub has lost its locks, the last-connection cleanup of that process checkpoints and deletes them under
# the running hub, and later commits fail or damage hub.db.
run hub status
assert_ok
[[ -e "$T/hub/hub.db-wal" && -e "$T/hub/hub.db-shm" ]] ||
	fail "kiroku-hub status deleted the serving hub's hub.db-wal/hub.db-shm: the hub holds no lock on hub.db"

step "an edit travels both ways"
run agent a2 edit "$R2" --set containment="回収済み"
assert_ok
sync_agent a2
assert_ok
assert_contains "$OUT" "sent 1,"
sync_agent a1
assert_ok
assert_contains "$OUT" "received 1"
run agent a1 show "$R2"
assert_contains "$OUT" "回収済み" "a1's show of the record a2 edited"
assert_same_state a1 f1
assert_same_state a2 f1

step "the daemon backs off while the hub is away"
HUB_LISTEN_PORT=$HUB_PORT
URL=$HUB_URL
stop_hub
R5=$(record a1 "停止中の記録1")
R6=$(record a1 "停止中の記録2")
DLOG="$T/a1.daemon.log"
# The binary itself in the background (not the agent function, whose subshell would get the signals).
"$KIROKU_AGENT" --data-dir "$T/a1" --hub-url "$URL" --sync-interval 5 run >"$T/a1.daemon.out" 2>"$DLOG" &
DPID=$!
track_pid "$DPID"
wait_for 30 "the daemon's first failed attempt" log_has "$DLOG" 'sync failed \(attempt 1, next in [0-9]+s\)'
wait_for 30 "the daemon's second failed attempt" log_has "$DLOG" 'sync failed \(attempt 2, next in [0-9]+s\)'
assert_contains "$(cat "$DLOG")" "started: node n1 of facility f1" "the daemon's log"
assert_contains "$(grep 'attempt 1' "$DLOG")" "$URL" "the daemon's failure line names the hub"
alive "$DPID" || fail "the daemon exited while the hub was away"
# Back-off starts at 5 s and is capped by the interval (5 s here), with ±20 % jitter.
for s in $(sed -n 's/.*sync failed (attempt [0-9]*, next in \([0-9]*\)s).*/\1/p' "$DLOG"); do
	((s >= 4 && s <= 6)) || fail "a back-off of ${s}s with --sync-interval 5: $(cat "$DLOG")"
done
assert_eq 2 "$(outbox a1)" "a1's outbox while the hub is away"

step "the hub comes back where it was: the daemon drains the outbox by itself"
T0=$(now_ms)
start_hub
[[ "$HUB_URL" == "$URL" ]] || fail "the hub came back at $HUB_URL, not $URL"
wait_for 30 "the daemon's sync after the hub came back" log_has "$DLOG" 'sync ok: sent 2,'
echo "drained $(($(now_ms) - T0)) ms after the hub came back"
assert_contains "$(cat "$DLOG")" "hub reachable again after" "the daemon's log"
assert_eq 0 "$(outbox a1)" "a1's outbox after the daemon's sync"
assert_same_state a1 f1
for r in "$R5" "$R6"; do assert_contains "$(hub dump --facility f1)" "$r" "the hub's dump of f1"; done

step "a new local record is synced soon, without waiting for the interval"
R7=$(record a1 "稼働中の記録")
wait_for 20 "the daemon's sync of a new record" log_has "$DLOG" 'sync ok: sent 1,'
assert_contains "$(cat "$DLOG")" "new local records: syncing now" "the daemon's log"
assert_contains "$(hub dump --facility f1)" "$R7" "the hub's dump of f1"
assert_same_state a1 f1

step "SIGTERM stops the daemon cleanly"
kill -TERM "$DPID"
T0=$(now_ms)
while alive "$DPID"; do
	(($(now_ms) - T0 < 15000)) || fail "the daemon did not stop within 15 s of SIGTERM"
	sleep 0.05
done
DRC=0
wait "$DPID" || DRC=$?
assert_eq 0 "$DRC" "the daemon's exit code after SIGTERM"
assert_contains "$(tail -n 1 "$DLOG")" "stopping" "the daemon's last log line"

step "every agent of f1 ends with the hub's state"
sync_agent a2
assert_ok
assert_contains "$OUT" "received 3"
assert_same_state a2 f1
assert_eq 6 "$(records_in "$(hub dump --facility f1)")" "records of f1 at the hub"
stop_hub

echo "PASS"
