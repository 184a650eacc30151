#!/usr/bin/env bash
# test_recover.sh: backup, restore and `kiroku-agent recover` (docs/design.md "Recovery").
#   - A PC's store is restored from a backup taken while a change was still waiting; after the backup the PC had
#     made and synced more changes, so the hub knows numbers the restored store reuses for new records. The
#     plain sync is refused, saying what to do, and changes nothing at the hub (a reused number is not taken for
#     a replay). `recover` takes every record back, drops the waiting change the hub already had, renumbers the
#     new ones after the hub's, and syncs: nothing lost, nothing doubled, every replica the same. Run again, it
#     changes nothing.
#   - A PC reinstalled with a blank store and the same identity: `sync` says to recover; `recover` brings back
#     its facility's records and its own history, and a record made before the recovery is renumbered.
#   - The hub's backup restores to a hub that serves the same records.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/sync_lib.sh"

# journal_of NODE: the hub's journal ranges of NODE, "first-last" per row, in order.
journal_of() {
	sqlite3 -batch -noheader "$T/hub/hub.db" "SELECT first_seq || '-' || last_seq FROM journal WHERE origin = '$1' ORDER BY first_seq" | tr '\n' ' '
}
meta_of() {
	sqlite3 -batch -noheader "$T/$1/agent.db" "SELECT value FROM meta WHERE key = '$2'"
}
ids_of() {
	grep -oE '^[0-9A-Z]{26}' <<<"$1" | sort
}

new_hub
new_agent n1 f1 p1
new_agent n2 f1 p2
start_hub

step "p1 records and syncs; a backup is taken while change 4 still waits"
R1=$(record p1 "記録1")
R2=$(record p1 "記録2")
R3=$(record p1 "記録3")
sync_agent p1
assert_ok
Q1=$(record p2 "別の端末の記録")
sync_agent p2
assert_ok
sync_agent p1
assert_ok
R4=$(record p1 "記録4 (バックアップ時に未送信)")
run agent p1 backup "$T/p1-backup.db"
assert_ok
assert_contains "$OUT" "integrity check: ok"
assert_eq 1 "$(outbox p1)" "the backup's outbox"

step "after the backup p1 makes and syncs changes 5..7, then its disk dies"
R5=$(record p1 "記録5")
sync_agent p1
assert_ok
run agent p1 edit "$R1" --set containment="バックアップ後の対応"
assert_ok
R6=$(record p1 "記録6")
sync_agent p1
assert_ok
sync_agent p2
assert_ok
run agent p2 edit "$R5" --set containment="p2が対応"
assert_ok
sync_agent p2
assert_ok
assert_eq "1-3 4-5 6-7 " "$(journal_of n1)" "n1's changes at the hub"
HUB_BEFORE=$(hub dump --facility f1)

step "restore: the backup replaces the store (the documented steps)"
rm -f "$T/p1/agent.db" "$T/p1/agent.db-wal" "$T/p1/agent.db-shm"
cp "$T/p1-backup.db" "$T/p1/agent.db"
chmod 600 "$T/p1/agent.db"
run agent p1 status
assert_ok
RESTORED=$(agent p1 dump)
assert_eq "$(printf '%s\n' "$R1" "$R2" "$R3" "$R4" "$Q1" | sort)" "$(ids_of "$RESTORED")" "records of the restored store"

step "the restored PC records two incidents under the numbers 5 and 6, which the hub holds for other changes"
X1=$(record p1 "復元後の記録1")
X2=$(record p1 "復元後の記録2")
assert_eq 6 "$(meta_of p1 last_seq)" "the restored store's last change"

step "a plain sync is refused: the reused numbers are not replays; the hub changes nothing"
sync_agent p1
assert_rc 6
assert_contains "$ERR" "restored from a backup"
assert_contains "$ERR" "kiroku-agent recover"
assert_eq "$HUB_BEFORE" "$(hub dump --facility f1)" "the hub's records after the refused sync"
assert_eq "1-3 4-5 6-7 " "$(journal_of n1)" "n1's changes at the hub after the refused sync"

step "recover: everything back, the waiting change dropped, the new ones renumbered 8 and 9, then synced"
run agent p1 --hub-url "$HUB_URL" recover
assert_ok
echo "$OUT"
assert_contains "$OUT" "the hub holds this node's changes 1..7"
assert_contains "$OUT" "1 changes waiting here were already at the hub"
assert_contains "$OUT" "2 changes made on this store under numbers the hub holds other changes for: renumbered 8..9"
assert_contains "$OUT" "outbox empty"
assert_eq "1-3 4-5 6-7 8-9 " "$(journal_of n1)" "n1's changes at the hub: each once"
assert_eq 9 "$(meta_of p1 last_seq)" "p1's last change"
assert_eq 9 "$(meta_of p1 acked)" "p1's acknowledged change"
assert_eq 0 "$(outbox p1)" "p1's outbox"
assert_same_state p1 f1
D=$(agent p1 dump)
assert_eq "$(printf '%s\n' "$R1" "$R2" "$R3" "$R4" "$R5" "$R6" "$X1" "$X2" "$Q1" | sort)" "$(ids_of "$D")" "p1's records"
run agent p1 show "$R1"
assert_contains "$OUT" "バックアップ後の対応" "R1's edit made after the backup, taken back"
run agent p1 show "$R5"
assert_contains "$OUT" "p2が対応" "p2's edit of R5"
sync_agent p2
assert_ok
assert_same_state p2 f1

step "recover again: nothing changes"
BEFORE=$(agent p1 dump)
run agent p1 --hub-url "$HUB_URL" recover
assert_ok
assert_not_contains "$OUT" "renumbered"
assert_not_contains "$OUT" "already at the hub"
assert_contains "$OUT" "sent 0, received 0"
assert_eq "$BEFORE" "$(agent p1 dump)" "p1's records after a second recover"
assert_eq "1-3 4-5 6-7 8-9 " "$(journal_of n1)" "n1's changes at the hub"

step "a PC reinstalled with a blank store and the same identity"
new_agent n3 f1 p3
S1=$(record p3 "p3の記録1")
S2=$(record p3 "p3の記録2")
sync_agent p3
assert_ok
cp "$T/p3/agent.crt" "$T/p3/agent.key" "$T/p3/hub-ca.crt" "$T/"
rm -rf "$T/p3"
run agent p3 init --node n3 --facility f1
assert_ok
cp "$T/agent.crt" "$T/agent.key" "$T/hub-ca.crt" "$T/p3/"
sync_agent p3
assert_rc 2
assert_contains "$ERR" "this store looks older than the hub's view of it"
assert_contains "$ERR" "kiroku-agent recover"
Y1=$(record p3 "再インストール後の記録")
run agent p3 --hub-url "$HUB_URL" recover
assert_ok
echo "$OUT"
assert_contains "$OUT" "the hub holds this node's changes 1..2"
assert_contains "$OUT" "1 changes made on this store under numbers the hub holds other changes for: renumbered 3..3"
assert_eq "1-2 3-3 " "$(journal_of n3)" "n3's changes at the hub"
assert_same_state p3 f1
D=$(agent p3 dump)
for id in "$S1" "$S2" "$Y1" "$R1" "$X2" "$Q1"; do
	assert_contains "$D" "$id" "p3's records after the recovery"
done

step "an interrupted recovery: killed at once, then run again"
rm -rf "$T/p3"
run agent p3 init --node n3 --facility f1
assert_ok
cp "$T/agent.crt" "$T/agent.key" "$T/hub-ca.crt" "$T/p3/"
# (Without the sanitizers' leak check at exit: a kill that lands while it runs leaves a report file that is no
# finding.)
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	"$KIROKU_AGENT" --data-dir "$T/p3" --hub-url "$HUB_URL" recover >/dev/null 2>&1 &
PID=$!
sleep 0.0$((RANDOM % 10))
kill -9 "$PID" 2>/dev/null || true
wait "$PID" 2>/dev/null || true
run agent p3 --hub-url "$HUB_URL" recover
assert_ok
assert_same_state p3 f1
assert_eq 3 "$(meta_of p3 last_seq)" "p3's last change"

step "the hub's backup restores to a hub serving the same records"
run hub backup "$T/hub-backup.db"
assert_ok
stop_hub
HUB_DUMP=$(hub dump)
mv "$T/hub/hub.db" "$T/hub.db.old"
rm -f "$T/hub/hub.db-wal" "$T/hub/hub.db-shm"
cp "$T/hub-backup.db" "$T/hub/hub.db"
chmod 600 "$T/hub/hub.db"
assert_eq "$HUB_DUMP" "$(hub dump)" "the restored hub's records"
start_hub
for d in p1 p2 p3; do
	sync_agent "$d"
	assert_ok
	assert_contains "$OUT" "sent 0"
	assert_same_state "$d" f1
done
stop_hub
echo "PASS"
