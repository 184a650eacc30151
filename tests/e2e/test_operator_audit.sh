#!/usr/bin/env bash
# test_operator_audit.sh: what the operator does at the hub is in the hash-chained audit log: triage,
# review, every export of review material (and whether it was pseudonymised), change-set exports, backups.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

step "a hub with a year of records"
run hub init
assert_ok
run hub demo-data --facilities 2 --year 2026
assert_ok
run hub incidents --format tsv
assert_ok
ID=$(printf '%s\n' "$OUT" | head -n 1 | cut -f1)
FACILITY=$(printf '%s\n' "$OUT" | head -n 1 | cut -f2)
[[ -n "$ID" && -n "$FACILITY" ]] || fail "no incident in the demo data"

step "operator actions"
run hub triage "$ID" --status triaged --severity high
assert_ok
run hub review "$ID" --state has-issues --comment "発生日時を確認してください"
assert_ok
run hub report --period 2026-04-01..2027-03-31 --out "$T/review"
assert_ok
run hub report --period 2026-04-01..2027-03-31 --out "$T/review-named" --no-pseudonymise
assert_ok
run hub export-changes --facility "$FACILITY" "$T/out.krcs"
assert_ok
run hub backup "$T/backup.db"
assert_ok

step "each is in the audit log, in order, and the chain is intact"
run hub audit list
assert_ok
actions=$(printf '%s\n' "$OUT" | cut -f4 | tr '\n' ' ')
assert_eq "incident.triage record.review report.export report.export changes.export store.backup " "$actions" "audited actions"
assert_contains "$(printf '%s\n' "$OUT" | sed -n 1p)" "$ID status=triaged severity=high"
assert_contains "$(printf '%s\n' "$OUT" | sed -n 3p)" "pseudonymised"
assert_contains "$(printf '%s\n' "$OUT" | sed -n 4p)" "personal fields NOT pseudonymised"
assert_match "$(printf '%s\n' "$OUT" | sed -n 1p | cut -f3)" '^operator:' "actor"
run hub audit verify
assert_ok
assert_contains "$OUT" "audit log intact: 6 entries"

step "a refused triage writes nothing, not even an audit entry"
run hub triage "$ID" --status reported
assert_rc 4
run hub audit list
assert_lines 6 "$OUT" "audit entries"
