#!/usr/bin/env bash
# test_usb_exchange.sh: facilities with no network at all, served end to end by change-set files carried
# between the agents and the hub: offline records, import at the hub, the return trip, replays, files out
# of order, acknowledgements that trim the outbox, and a concurrent edit that becomes one conflict.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# The hub position an export reached, from "... (hub positions A to B, ...)".
position_reached() {
	sed -n 's/.*hub positions [0-9]* to \([0-9]*\),.*/\1/p' <<<"$OUT"
}

step "hub: help and version"
run "$KIROKU_HUB" --version
assert_ok
assert_match "$OUT" '^kiroku-hub [0-9]+\.[0-9]+\.[0-9]+$' "--version"
for cmd in init import-changes export-changes list show conflicts status; do
	run "$KIROKU_HUB" "$cmd" --help
	assert_ok
	assert_contains "$OUT" "Usage: kiroku-hub $cmd" "$cmd --help"
	assert_contains "$OUT" "Exit codes:" "$cmd --help"
done
run hub status
assert_rc 3
assert_contains "$ERR" "kiroku-hub init"

step "hub and three agents, offline"
run hub init
assert_ok
run hub init
assert_rc 4
assert_contains "$ERR" "already exists"
run agent a1 init --node n1 --facility f1
assert_ok
run agent a2 init --node n2 --facility f1
assert_ok
run agent b1 init --node m1 --facility f2
assert_ok

step "each agent records"
run agent a1 record incident --set category=紛失 --set media=USB --set occurred_at=2026-11-20T15:10 \
	--set description="USBメモリを紛失"
assert_ok
R1=$OUT
run agent a1 record incident --set category=誤送付・誤送信 --set occurred_at=2026-11-21T10:00 --set description="FAXの誤送信"
assert_ok
run agent a2 record incident --set category=漏えい --set occurred_at=2026-11-22T08:45 --set description="名簿の置き忘れ"
assert_ok
run agent b1 record incident --set category=マルウェア --set occurred_at=2026-11-23T13:00 --set description="不審なメールの添付を開いた"
assert_ok
B1=$OUT

step "each agent exports"
for a in a1 a2 b1; do
	run agent $a export-changes "$T/$a-1.krcs"
	assert_ok
	assert_contains "$OUT" "wrote"
	[[ "$(stat -c %a "$T/$a-1.krcs")" == 600 ]] || fail "an exported file should be mode 600"
done

step "the hub imports, naming the facility of nodes it does not know"
HUB_BEFORE=$(hub list --all --system --format tsv)
run hub import-changes "$T/a1-1.krcs"
assert_rc 4
assert_contains "$ERR" 'node "n1" is not known to this hub yet'
assert_contains "$ERR" "--facility"
assert_eq "$HUB_BEFORE" "$(hub list --all --system --format tsv)" "the hub after a refused import"
run hub import-changes --facility f1 "$T/a1-1.krcs"
assert_ok
assert_contains "$OUT" "applied 2 changes, 0 already present, 0 conflicts opened"
assert_contains "$OUT" "node n1 (facility f1): acknowledged up to change 2"
run hub import-changes --facility f1 "$T/a2-1.krcs"
assert_ok
assert_contains "$OUT" "applied 1 changes"
run hub import-changes --facility f2 "$T/b1-1.krcs"
assert_ok
run hub list --format tsv
assert_lines 4 "$OUT" "hub list"

step "importing the same file twice changes nothing"
HUB_BEFORE=$(hub list --all --system --format tsv)
run hub import-changes "$T/a1-1.krcs"
assert_ok
assert_contains "$OUT" "applied 0 changes, 2 already present"
assert_eq "$HUB_BEFORE" "$(hub list --all --system --format tsv)" "the hub after a replay"

step "a node's changes can't be claimed for another facility"
run hub import-changes --facility f2 "$T/a1-1.krcs"
assert_rc 4
assert_contains "$ERR" 'belongs to facility "f1"'
assert_eq "$HUB_BEFORE" "$(hub list --all --system --format tsv)" "the hub after a refused import"

step "a hub export is not an agent's change-set"
run hub export-changes --facility f1 "$T/f1-1.krcs"
assert_ok
assert_contains "$OUT" "wrote 3 changes for facility f1 (hub positions 0 to"
assert_contains "$OUT" "that is everything for f1"
P1=$(position_reached)
[[ -n "$P1" ]] || fail "no position in the export's output"
run hub import-changes "$T/f1-1.krcs"
assert_rc 4
assert_contains "$ERR" "is a hub's export"
run hub export-changes "$T/nofacility.krcs"
assert_rc 1
assert_contains "$ERR" "--facility"
run hub export-changes --facility f2 "$T/f2-1.krcs"
assert_ok
assert_contains "$OUT" "wrote 1 changes for facility f2"

step "the return trip"
run agent a1 import-changes "$T/f1-1.krcs"
assert_ok
assert_contains "$OUT" "outbox: 0 waiting"
run agent a2 import-changes "$T/f1-1.krcs"
assert_ok
assert_contains "$OUT" "outbox: 0 waiting"
run agent b1 import-changes "$T/f2-1.krcs"
assert_ok
run agent b1 import-changes "$T/f1-1.krcs"
assert_rc 4
assert_contains "$ERR" 'export for facility "f1"'

step "both f1 agents list the same records; the f2 agent none of them"
L1=$(agent a1 list --all --format tsv)
L2=$(agent a2 list --all --format tsv)
assert_lines 3 "$L1" "a1's list"
assert_eq "$L1" "$L2" "a2's list against a1's"
assert_eq "$L1" "$(hub list --all --facility f1 --format tsv)" "the hub's list of f1 against a1's"
LB=$(agent b1 list --all --format tsv)
assert_lines 1 "$LB" "b1's list"
assert_contains "$LB" "$B1"
assert_not_contains "$LB" "$R1" "b1's list"
run agent b1 show "$R1"
assert_rc 2

step "a hub file imported twice changes nothing"
BEFORE_LIST=$(agent a1 list --all --format tsv)
BEFORE_STATUS=$(agent a1 status | grep -v '^last exchange:')
run agent a1 import-changes "$T/f1-1.krcs"
assert_ok
assert_contains "$OUT" "applied 0 changes"
assert_eq "$BEFORE_LIST" "$(agent a1 list --all --format tsv)" "a1's records after a replay"
assert_eq "$BEFORE_STATUS" "$(agent a1 status | grep -v '^last exchange:')" "a1's status after a replay"

step "the hub's acknowledgements trimmed the outboxes"
for a in a1 a2 b1; do
	run agent $a export-changes "$T/$a-again.krcs"
	assert_ok
	assert_contains "$OUT" "nothing to export: the outbox is empty"
	[[ ! -e "$T/$a-again.krcs" ]] || fail "an empty export should write no file"
	run agent $a status
	assert_contains "$OUT" "outbox:          0 changes waiting"
done

step "hub files imported out of order are refused"
run agent a2 record incident --set category=その他 --set occurred_at=2026-11-24T09:00 --set description="施錠忘れ"
assert_ok
R3=$OUT
run agent a2 export-changes "$T/a2-2.krcs"
assert_ok
run hub import-changes "$T/a2-2.krcs"
assert_ok
assert_contains "$OUT" "node n2 (facility f1): acknowledged up to change 2"
run hub export-changes --facility f1 --since "$P1" "$T/f1-2.krcs"
assert_ok
assert_contains "$OUT" "wrote 1 changes for facility f1 (hub positions $P1 to"
P2=$(position_reached)
run agent a3 init --node n3 --facility f1
assert_ok
BEFORE=$(snapshot a3)
run agent a3 import-changes "$T/f1-2.krcs"
assert_rc 6
assert_contains "$ERR" "start after position $P1"
assert_contains "$ERR" "applied up to 0"
assert_contains "$ERR" "--since 0"
assert_eq "$BEFORE" "$(snapshot a3)" "a3 after a refused import"
run agent a3 import-changes "$T/f1-1.krcs"
assert_ok
run agent a3 import-changes "$T/f1-2.krcs"
assert_ok
assert_contains "$OUT" "hub position: $P2"
run agent a1 import-changes "$T/f1-2.krcs"
assert_ok
run agent a2 import-changes "$T/f1-2.krcs"
assert_ok
L1=$(agent a1 list --all --format tsv)
assert_lines 4 "$L1" "a1's list"
assert_contains "$L1" "$R3"
assert_eq "$L1" "$(agent a2 list --all --format tsv)" "a2's list against a1's"
assert_eq "$L1" "$(agent a3 list --all --format tsv)" "a3's list against a1's"

step "overlapping change-sets from one node: each change is applied once"
run agent a1 edit "$R1" --set containment="回収を試みた"
assert_ok
run agent a1 export-changes "$T/a1-2.krcs"
assert_ok
run agent a1 edit "$R1" --set recurrence_prevention="持出し手順の見直し"
assert_ok
# Nothing was acknowledged in between, so this file holds the change of a1-2 again and one more.
run agent a1 export-changes "$T/a1-3.krcs"
assert_ok
assert_contains "$OUT" "wrote 2 changes"
run hub import-changes "$T/a1-2.krcs"
assert_ok
run hub import-changes "$T/a1-3.krcs"
assert_ok
assert_contains "$OUT" "applied 1 changes, 1 already present"

step "a node's change-set with a gap is refused at the hub"
run agent a3 record incident --set category=その他 --set occurred_at=2026-11-25T09:00 --set description="一件目"
assert_ok
run agent a3 export-changes "$T/a3-1.krcs"
assert_ok
run hub import-changes --facility f1 "$T/a3-1.krcs"
assert_ok
run hub export-changes --facility f1 --since "$P2" "$T/f1-3.krcs"
assert_ok
run agent a3 import-changes "$T/f1-3.krcs"
assert_ok
run agent a3 record incident --set category=その他 --set occurred_at=2026-11-25T10:00 --set description="二件目"
assert_ok
run agent a3 export-changes "$T/a3-2.krcs"
assert_ok
assert_contains "$OUT" "wrote 1 changes"
# The hub's ack trimmed change 1 from a3's outbox, so a3-2 starts at change 2. A hub that never saw
# change 1 (here a second hub, as a hub restored from an old backup would be) names the change it expects.
run "$KIROKU_HUB" --data-dir "$T/hub2" init
assert_ok
run "$KIROKU_HUB" --data-dir "$T/hub2" import-changes --facility f1 "$T/a3-2.krcs"
assert_rc 6
assert_contains "$ERR" 'sequence gap from node "n3": expected change 1, got 2'
run "$KIROKU_HUB" --data-dir "$T/hub2" list --all --system --format tsv
assert_ok
assert_lines 0 "$OUT" "hub2 after a refused import"
run hub import-changes "$T/a3-2.krcs"
assert_ok

step "a concurrent edit of one field by both f1 agents becomes one conflict at the hub"
run hub export-changes --facility f1 --since "$P2" "$T/f1-4.krcs"
assert_ok
P4=$(position_reached)
for a in a1 a2 a3; do
	run agent $a import-changes "$T/f1-4.krcs"
	assert_ok
done
run agent a1 edit "$R1" --set description="USBメモリを紛失（職員室）"
assert_ok
run agent a2 edit "$R1" --set description="USBメモリを紛失（教室）"
assert_ok
run agent a1 export-changes "$T/a1-4.krcs"
assert_ok
run agent a2 export-changes "$T/a2-4.krcs"
assert_ok
run hub import-changes "$T/a1-4.krcs"
assert_ok
assert_contains "$OUT" "0 conflicts opened"
run hub import-changes "$T/a2-4.krcs"
assert_ok
assert_contains "$OUT" "1 conflicts opened"
run hub conflicts --format tsv
assert_ok
assert_lines 1 "$OUT" "hub conflicts"
IFS=$'\t' read -r CID CFAC CREC CFIELD CTYPE CSTATUS WINNER WNODE _ LOSER LNODE _ <<<"$OUT"
assert_eq "f1 $R1 description value open" "$CFAC $CREC $CFIELD $CTYPE $CSTATUS" "the conflict entry"
[[ "$WNODE $LNODE" == "n1 n2" || "$WNODE $LNODE" == "n2 n1" ]] || fail "conflict nodes: $WNODE $LNODE"
[[ "$WINNER $LOSER" == "USBメモリを紛失（職員室） USBメモリを紛失（教室）" ||
	"$WINNER $LOSER" == "USBメモリを紛失（教室） USBメモリを紛失（職員室）" ]] || fail "conflict values: $WINNER / $LOSER"
run hub conflicts
assert_ok
assert_contains "$OUT" "$CID"
run hub list --system --format tsv
assert_contains "$OUT" "$CID	_conflict	f1"
run hub show "$R1"
assert_contains "$OUT" "事故等の内容 (description): $WINNER"
assert_contains "$OUT" "$CID"

step "after the return trip both agents show the same winner"
run hub export-changes --facility f1 --since "$P4" "$T/f1-5.krcs"
assert_ok
for a in a1 a2; do
	run agent $a import-changes "$T/f1-5.krcs"
	assert_ok
	assert_contains "$OUT" "outbox: 0 waiting"
	run agent $a show "$R1"
	assert_ok
	assert_contains "$OUT" "事故等の内容 (description): $WINNER" "$a's show"
	assert_contains "$OUT" "$CID" "$a's show lists the conflict"
	run agent $a status
	assert_contains "$OUT" "conflicts open:  1"
done
L1=$(agent a1 list --all --format tsv)
assert_eq "$L1" "$(agent a2 list --all --format tsv)" "a2's list against a1's"
assert_eq "$L1" "$(hub list --all --facility f1 --format tsv)" "the hub's list of f1 against a1's"
assert_eq "$(agent a1 show "$R1")" "$(agent a2 show "$R1")" "the record on a1 and a2"
run hub status
assert_contains "$OUT" "conflicts open:  1"
assert_contains "$OUT" "n3"

echo "PASS"
