#!/usr/bin/env bash
# test_sync_conflict.sh: two agents of one facility edit the same field while both are offline (invariants 3
# and 4). After both have synced, and synced once more each, both agents and the hub hold the same winner, the
# edits of other fields are all kept, and the hub lists exactly one conflict holding both values and both
# nodes; the entry reaches both agents. Then an edit and a delete that did not see each other: one more conflict.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/sync_lib.sh"

# record_dump DUMP ID: the lines of one record in a canonical dump.
record_dump() {
	awk -v id="$2" '/^[^ ]/ { on = ($1 == id) } on' <<<"$1"
}

# assert_converged: a1, a2 and the hub hold the same records of f1.
assert_converged() {
	assert_same_state a1 f1
	assert_same_state a2 f1
}

step "a hub and two agents of f1 that share a record"
new_hub
new_agent n1 f1 a1
new_agent n2 f1 a2
start_hub
R=$(record a1 "元の内容" --set media=USB)
R2=$(record a1 "消される記録")
sync_agent a1
assert_ok
sync_agent a2
assert_ok
assert_contains "$OUT" "received 2"
assert_converged
stop_hub

step "both edit the same field offline, and each one field of its own"
V1="職員室で発見（n1の記載）"
V2="教室で発見（n2の記載）"
run agent a1 edit "$R" --set description="$V1" --set containment="n1の措置"
assert_ok
run agent a2 edit "$R" --set description="$V2" --set recurrence_prevention="n2の再発防止策"
assert_ok

step "both sync, then both sync once more"
start_hub
sync_agent a1
assert_ok
assert_contains "$OUT" "sent 1,"
sync_agent a2
assert_ok
assert_contains "$OUT" "sent 1,"
assert_match "$(hub_sync_lines | tail -n 1)" "node=n2 .*status=200 in=1 skipped=0 conflicts=1 " "the hub's log of n2's sync"
sync_agent a1
assert_ok
sync_agent a2
assert_ok
assert_converged
H=$(hub dump --facility f1)
assert_eq "$(record_dump "$(agent a1 dump)" "$R")" "$(record_dump "$H" "$R")" "the record on a1 and at the hub"
assert_eq "$(record_dump "$(agent a2 dump)" "$R")" "$(record_dump "$H" "$R")" "the record on a2 and at the hub"

step "exactly one conflict, holding both values"
run hub conflicts --format tsv
assert_ok
assert_lines 1 "$OUT" "the hub's conflicts"
IFS=$'\t' read -r CID CFAC CREC CFIELD CTYPE CSTATUS WINNER WNODE _ LOSER LNODE _ <<<"$OUT"
assert_eq "f1 $R description open" "$CFAC $CREC $CFIELD $CSTATUS" "the conflict entry"
[[ "$WNODE $LNODE" == "n1 n2" || "$WNODE $LNODE" == "n2 n1" ]] || fail "the conflict's nodes: $WNODE $LNODE"
[[ "$WINNER|$LOSER" == "$V1|$V2" || "$WINNER|$LOSER" == "$V2|$V1" ]] || fail "the conflict's values: $WINNER / $LOSER"
echo "winner: $WNODE ($WINNER), kept as the loser: $LNODE ($LOSER)"

step "the winner is the field's value everywhere, and the other fields' edits are all kept"
for d in a1 a2; do
	run agent $d show "$R" --lang en
	assert_ok
	assert_match "$OUT" "\(description\): $WINNER" "$d's show"
	assert_contains "$OUT" "n1の措置" "$d's show keeps n1's containment"
	assert_contains "$OUT" "n2の再発防止策" "$d's show keeps n2's recurrence prevention"
	assert_contains "$OUT" "$CID" "$d's show names the conflict"
	run agent $d status
	assert_contains "$OUT" "conflicts open:  1" "$d's status"
done
run hub show "$R" --lang en
assert_ok
assert_match "$OUT" "\(description\): $WINNER" "the hub's show"
assert_contains "$(record_dump "$H" "$R")" "description=\"$WINNER\" @" "the hub's dump of the record"

step "syncing again changes nothing"
BEFORE=$(hub dump)
CBEFORE=$(hub conflicts --format tsv)
for d in a1 a2; do
	sync_agent $d
	assert_ok
	assert_contains "$OUT" "sent 0, received 0"
done
assert_eq "$BEFORE" "$(hub dump)" "the hub's records after more syncs"
assert_eq "$CBEFORE" "$(hub conflicts --format tsv)" "the hub's conflicts after more syncs"

step "an edit and a delete that did not see each other: one more conflict"
stop_hub
run agent a1 delete "$R2"
assert_ok
run agent a2 edit "$R2" --set description="削除と同時の編集"
assert_ok
start_hub
for d in a1 a2 a1 a2; do
	sync_agent $d
	assert_ok
done
assert_converged
run hub conflicts --format tsv
assert_ok
assert_lines 2 "$OUT" "the hub's conflicts"
IFS=$'\t' read -r _ CFAC CREC CFIELD CTYPE CSTATUS _ <<<"$(grep -v "^$CID" <<<"$OUT")"
assert_eq "f1 $R2 delete open" "$CFAC $CREC $CTYPE $CSTATUS" "the second conflict entry"
assert_eq "$(agent a1 dump)" "$(agent a2 dump)" "a1's dump against a2's"
stop_hub

echo "PASS"
