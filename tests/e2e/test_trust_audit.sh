#!/usr/bin/env bash
# test_trust_audit.sh: the hub's audit log. Enrolments, a revocation and the tokens issued are appended as they
# happen, each entry chained to the one before by its SHA-256; `audit verify` passes on the log as written
# and prints an anchor. An entry edited in the store, an entry deleted, and the last entry deleted with the
# recorded head rewritten (caught only with the anchor) are each detected, the entry named, exit 4; the
# rest of the store is left as it was. Restoring the original log makes it pass again.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/sync_lib.sh"
source "$(dirname "$0")/trust_lib.sh"

DB="$T/hub/hub.db"
sql() {
	sqlite3 "$DB" "$@"
}

step "actions at the hub are appended to the audit log"
new_hub
start_hub
new_token f1 --name "光が丘小学校"
enroll a1 n1 "$TOKEN"
assert_ok
new_token f1
enroll a2 n2 "$TOKEN"
assert_ok
run hub node revoke n2 --reason lost
assert_ok
stop_hub
run hub audit list
assert_ok
assert_lines 5 "$OUT" "audit entries"
assert_eq "token.issue node.enrol token.issue node.enrol node.revoke" "$(cut -f4 <<<"$OUT" | tr '\n' ' ' | sed 's/ $//')" "the actions in order"
assert_match "$(sed -n 1p <<<"$OUT")" $'^1\t[0-9T:-]+Z\toperator:[^\t]+\ttoken.issue\ttoken=[0-9a-f]{16} facility=f1 name=光が丘小学校' "entry 1"
assert_match "$(sed -n 2p <<<"$OUT")" $'^2\t[^\t]+\tnode:n1\tnode.enrol\tnode=n1 facility=f1 serial=[0-9a-f]+ ' "entry 2"

step "audit verify: intact, with an anchor"
run hub audit verify
assert_ok
assert_contains "$OUT" "audit log intact: 5 entries"
ANCHOR=$(sed -n 's/^anchor: //p' <<<"$OUT")
assert_match "$ANCHOR" '^5:[0-9a-f]{64}$' "the anchor"
run hub audit verify --anchor "$ANCHOR"
assert_ok
cp "$DB" "$T/hub.db.orig"
STATE=$(hub_trust_state | grep -v '^audit|')

step "one entry edited: detected, named"
sql "UPDATE audit_log SET detail = replace(detail, 'facility=f1', 'facility=f9') WHERE id = 2"
run hub audit verify
assert_rc 4
assert_contains "$OUT" "TAMPERED first bad entry 2"
assert_contains "$ERR" "audit entry 2 was changed"
assert_eq "$STATE" "$(hub_trust_state | grep -v '^audit|')" "the rest of the store"
cp "$T/hub.db.orig" "$DB"

step "one entry deleted: detected, named"
sql "DELETE FROM audit_log WHERE id = 3"
run hub audit verify
assert_rc 4
assert_contains "$OUT" "TAMPERED first bad entry 3"
assert_contains "$ERR" "audit entry 3 was removed"
assert_eq "$STATE" "$(hub_trust_state | grep -v '^audit|')" "the rest of the store"
cp "$T/hub.db.orig" "$DB"

step "an entry edited with its hash recomputed by hand: the next entry's link names it"
sql "UPDATE audit_log SET actor = 'operator:nobody', hash = randomblob(32) WHERE id = 1"
run hub audit verify
assert_rc 4
assert_contains "$ERR" "audit entry 1 was"
cp "$T/hub.db.orig" "$DB"

step "the last entry deleted: detected; with the recorded head rewritten too, the anchor catches it"
sql "DELETE FROM audit_log WHERE id = 5"
run hub audit verify
assert_rc 4
assert_contains "$ERR" "audit entry 5 was removed"
sql "UPDATE meta SET value = (SELECT '4 ' || lower(hex(hash)) FROM audit_log WHERE id = 4) WHERE key = 'audit_head'"
run hub audit verify
assert_ok
run hub audit verify --anchor "$ANCHOR"
assert_rc 4
assert_contains "$ERR" "audit entry 5"
cp "$T/hub.db.orig" "$DB"

step "restored: intact again"
run hub audit verify --anchor "$ANCHOR"
assert_ok
run hub audit verify --anchor "5:$(printf '0%.0s' {1..64})"
assert_rc 4
run hub audit verify --anchor "garbage"
assert_rc 1
echo "PASS"
