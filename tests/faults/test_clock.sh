#!/usr/bin/env bash
# test_clock.sh: wrong clocks. Agent a1's clock runs a year ahead, a2's a year behind (KIROKU_FAKE_CLOCK_OFFSET_MS
# shifts a process's wall clock), the hub's is right.
#   - the hub reports each node's skew: `node list` (+365.0d / -365.0d), `status`, and a line in its log;
#   - HLC order holds: an edit made after seeing a write wins over it, even when its writer's clock is a year
#     behind the first writer's (the behind agent's clock is pulled forward by what it receives); no conflict is
#     opened for it (it saw the value it replaced);
#   - two writes that did not see each other are still decided by (HLC, node) and the loser is kept in a conflict
#     entry, whatever the clocks say;
#   - every replica converges (invariants 1-3).
set -euo pipefail
source "$(dirname "$0")/../e2e/lib.sh"
source "$(dirname "$0")/../e2e/sync_lib.sh"
source "$(dirname "$0")/faults_lib.sh"

YEAR_MS=31536000000
AHEAD="KIROKU_FAKE_CLOCK_OFFSET_MS=$YEAR_MS"
BEHIND="KIROKU_FAKE_CLOCK_OFFSET_MS=-$YEAR_MS"

# on CLOCK DIR ARGS...: the agent in $T/DIR with its wrong clock, through run.
on() {
	local clock=$1 dir=$2
	shift 2
	run env "$clock" "$KIROKU_AGENT" --data-dir "$T/$dir" "$@"
}
# on_record CLOCK DIR DESCRIPTION: records an incident; prints its id; keeps it in $T/DIR.ids.
on_record() {
	on "$1" "$2" record incident --set category=紛失 --set occurred_at=2026-11-20T15:10 --set description="$3"
	assert_ok
	echo "$OUT" >>"$T/$2.ids"
	ID=$OUT
}
on_sync() {
	on "$1" "$2" --hub-url "$HUB_URL" sync
	assert_ok
}
# skew_of NODE: the node's skew in ms from `node list --format tsv` (column 8).
skew_of() {
	hub node list --format tsv | awk -F '\t' -v n="$1" '$1 == n { print $8 }'
}
# about_year SKEW_MS SIGN: SKEW_MS is SIGN one year, give or take a minute.
about_year() {
	local want=$(($2 * YEAR_MS)) got=$1
	((got - want < 60000 && want - got < 60000))
}

new_hub
new_agent n1 f1 a1
new_agent n2 f1 a2
start_hub

step "the agent a year behind records and syncs: the hub reports it behind"
on_record "$BEHIND" a2 "一年遅れの端末"
R_BEHIND=$ID
on_sync "$BEHIND" a2
S=$(skew_of n2)
about_year "$S" -1 || fail "n2's skew should be about -1 year, is $S ms"
run hub node list
assert_match "$OUT" "n2 .*-365\\.0d" "node list shows n2 a year behind"
run hub status
assert_match "$OUT" "n2 +facility f1 .*clock -3153[0-9]{7} ms" "status shows n2's skew"
log_has "$HUB_LOG" "clock: node n2 runs 876[0-9.]* hours behind" || fail "the hub did not log n2's skew"

step "the agent a year ahead records and syncs: the hub reports it ahead"
on_record "$AHEAD" a1 "一年進んだ端末"
R_AHEAD=$ID
on_sync "$AHEAD" a1
S=$(skew_of n1)
about_year "$S" 1 || fail "n1's skew should be about +1 year, is $S ms"
run hub node list
assert_match "$OUT" "n1 .*\\+365\\.0d" "node list shows n1 a year ahead"
log_has "$HUB_LOG" "clock: node n1 runs 876[0-9.]* hours ahead" || fail "the hub did not log n1's skew"

step "the agent a year behind edits the record written a year ahead, after seeing it: its edit wins"
on_sync "$BEHIND" a2
on "$BEHIND" a2 edit "$R_AHEAD" --set description="遅れた端末が後から修正"
assert_ok
on_sync "$BEHIND" a2
on_sync "$AHEAD" a1
run hub show "$R_AHEAD" --lang en
assert_contains "$OUT" "遅れた端末が後から修正" "the record at the hub after the later edit"
on "$AHEAD" a1 show "$R_AHEAD" --lang en
assert_contains "$OUT" "遅れた端末が後から修正" "the record on the agent a year ahead"
assert_eq 0 "$(hub conflicts --format tsv | wc -l)" "conflicts opened for an edit that saw what it replaced"

step "the agent a year ahead edits the record written a year behind: its edit wins too"
on "$AHEAD" a1 edit "$R_BEHIND" --set description="進んだ端末が修正"
assert_ok
on_sync "$AHEAD" a1
on_sync "$BEHIND" a2
on "$BEHIND" a2 show "$R_BEHIND" --lang en
assert_contains "$OUT" "進んだ端末が修正" "the record on the agent a year behind"

step "writes that did not see each other: decided by (HLC, node), the loser kept in a conflict entry"
on "$AHEAD" a1 edit "$R_BEHIND" --set containment="進んだ端末の対応"
assert_ok
on "$BEHIND" a2 edit "$R_BEHIND" --set containment="遅れた端末の対応"
assert_ok
on_sync "$BEHIND" a2
on_sync "$AHEAD" a1
on_sync "$BEHIND" a2
C=$(hub conflicts --format tsv)
assert_lines 1 "$C" "open conflicts"
echo "conflict: $C"
# Both writers had seen the same version, so the larger HLC wins; the behind agent's HLC was pulled a year
# forward by what it had received, so either may win: what matters is that every replica agrees and the loser
# is kept.
WINNER=$(cut -f 7 <<<"$C")
LOSER=$(cut -f 10 <<<"$C")
[[ "$WINNER$LOSER" == "進んだ端末の対応遅れた端末の対応" || "$WINNER$LOSER" == "遅れた端末の対応進んだ端末の対応" ]] ||
	fail "the conflict should hold both values, holds [$WINNER] and [$LOSER]"
run hub show "$R_BEHIND" --lang en
assert_contains "$OUT" "$WINNER" "the record at the hub holds the winner"

step "the HLCs of each record's fields only grow along what each writer saw"
# The versions in a dump are HLC/node: the later edit of R_AHEAD's description (by n2) carries a larger HLC than
# the original (by n1), although n2's wall clock is two years behind n1's.
D=$(hub dump --facility f1)
ORIG_HLC=$(awk -v id="$R_AHEAD" '$1 == id { f = 1; next } /^[^ ]/ { f = 0 } f && /^  category=/ { print }' <<<"$D" |
	sed -n 's/.* @\([0-9]*\)\/n1 .*/\1/p')
EDIT_HLC=$(awk -v id="$R_AHEAD" '$1 == id { f = 1; next } /^[^ ]/ { f = 0 } f && /^  description=/ { print }' <<<"$D" |
	sed -n 's/.* @\([0-9]*\)\/n2 .*/\1/p')
[[ -n "$ORIG_HLC" && -n "$EDIT_HLC" ]] || fail "cannot find the versions of $R_AHEAD in the dump:
$(grep -A8 "$R_AHEAD" <<<"$D")"
((EDIT_HLC > ORIG_HLC)) || fail "the later edit's HLC $EDIT_HLC is not after the original's $ORIG_HLC"

step "invariants"
stop_hub
check_invariants f1:a1:n1 f1:a2:n2
echo "PASS: clocks a year ahead and a year behind: HLC order holds, skews reported, replicas converge"
