#!/usr/bin/env bash
# test_corruption.sh: damaged stores and damaged change-sets.
#   - A change-set whose bytes were damaged on the way (a byte changed at a random place, or cut short) is
#     refused whole with a reason; the hub's records, journal and node list do not change. (A damaged set that
#     still decodes, a byte changed inside a text value, is a different valid set: CBOR carries no checksum; TLS's
#     record MAC is what detects damage on the wire.)
#   - A hub store damaged on disk (bytes overwritten inside its pages): `kiroku-hub serve` refuses to start,
#     saying the store is damaged and to restore a backup; the restored backup serves again.
#   - The same for an agent: `kiroku-agent run` refuses to start.
set -euo pipefail
source "$(dirname "$0")/../e2e/lib.sh"
source "$(dirname "$0")/../e2e/sync_lib.sh"
source "$(dirname "$0")/faults_lib.sh"

PAD=$(printf '%03000d' 0 | tr 0 c)
new_hub
new_agent n1 f1 a1
start_hub
for i in $(seq 20); do record_ok a1 "base $i $PAD" || fail "record failed"; done
sync_agent a1
assert_ok

step "change-sets damaged in transit are refused whole"
# A node of its own, whose sets are damaged: a damaged set that still decodes (a byte changed inside a text value
# or a record id: CBOR has no checksum; on the wire TLS's AEAD is what catches damage) is accepted as the changes
# it now says, so this node's changes are not checked against its store afterwards.
new_agent n9 f1 z9
for i in 1 2 3 4 5; do record_ok z9 "z9 $i $PAD" || fail "record failed"; done
run agent z9 export-changes "$T/good.krcs"
assert_ok
SIZE=$(stat -c %s "$T/good.krcs")
hub_state() {
	hub dump --facility f1
	sql "$T/hub/hub.db" 'SELECT max(id) FROM journal; SELECT node, last_seq FROM nodes ORDER BY node'
}
BEFORE=$(hub_state)
REFUSED=0
ACCEPTED=0
for ((k = 1; k <= 16; k++)); do
	cp "$T/good.krcs" "$T/bad.krcs"
	if ((k % 4 == 0)); then
		truncate -s $((RANDOM % SIZE)) "$T/bad.krcs"
		what="cut to $(stat -c %s "$T/bad.krcs") of $SIZE bytes"
	else
		# One byte changed: in the first 2 KB (the envelope, the changes' heads, ids, sequence numbers, field
		# names) or anywhere.
		off=$((k % 2 ? RANDOM % (SIZE < 2048 ? SIZE : 2048) : (RANDOM * 32768 + RANDOM) % SIZE))
		printf "$(printf '\\x%02x' $((RANDOM % 256)))" | dd of="$T/bad.krcs" bs=1 seek="$off" conv=notrunc status=none
		what="byte $off changed"
	fi
	cmp -s "$T/good.krcs" "$T/bad.krcs" && continue
	curl_sync n9 "$T/bad.krcs"
	if [[ "$CODE" == 200 ]]; then
		"$PY3" -c 'import cbor2,sys; cbor2.loads(open(sys.argv[1],"rb").read())' "$T/bad.krcs" 2>/dev/null ||
			fail "the hub accepted a change-set that is not well-formed CBOR ($what)"
		echo "$what: still a well-formed change-set: accepted as what it now says"
		ACCEPTED=$((ACCEPTED + 1))
		BEFORE=$(hub_state)
		continue
	fi
	REFUSED=$((REFUSED + 1))
	[[ "$CODE" =~ ^(400|403|409|413)$ ]] || fail "a damaged change-set got HTTP $CODE ($what): $BODY"
	[[ -n "$BODY" ]] || fail "no reason for refusing a damaged change-set ($what)"
	assert_eq "$BEFORE" "$(hub_state)" "the hub after a damaged change-set ($what)"
	echo "$what: HTTP $CODE: $BODY"
done
((REFUSED > 0)) || fail "no damaged change-set was refused"
echo "$REFUSED damaged change-sets refused whole, nothing of them applied; $ACCEPTED still well-formed"

step "a damaged hub store: serve refuses to start and says what to do"
run hub backup "$T/hub-backup.db"
assert_ok
stop_hub
# Garbage over the start of every fourth page after the first (page p starts at (p - 1) * page size): the
# database header (page 1) stays readable, so the file still opens as a kiroku store; the b-trees do not hold.
damage() {
	local db=$1 pages pagesize p
	pages=$(sql "$db" 'PRAGMA page_count')
	pagesize=$(sql "$db" 'PRAGMA page_size')
	for ((p = 2; p <= pages; p += 4)); do
		head -c 64 /dev/urandom | dd of="$db" bs=1 seek=$(((p - 1) * pagesize)) conv=notrunc status=none
	done
}
damage "$T/hub/hub.db"
run timeout -k 5 30 "$KIROKU_HUB" --data-dir "$T/hub" serve --listen 127.0.0.1:0
[[ $RC != 0 ]] || fail "serve started on a damaged store"
assert_contains "$ERR" "damaged"
assert_contains "$ERR" "backup"
echo "serve on a damaged store: $ERR"
cp "$T/hub-backup.db" "$T/hub/hub.db"
rm -f "$T/hub/hub.db-wal" "$T/hub/hub.db-shm"
start_hub
sync_agent a1
assert_ok

step "a damaged agent store: run refuses to start and says what to do"
run agent a1 backup "$T/a1-backup.db"
assert_ok
damage "$T/a1/agent.db"
run timeout -k 5 30 "$KIROKU_AGENT" --data-dir "$T/a1" --hub-url "$HUB_URL" --web-port 0 run
[[ $RC != 0 ]] || fail "run started on a damaged store"
assert_contains "$ERR" "damaged"
assert_contains "$ERR" "backup"
echo "run on a damaged store: $ERR"
cp "$T/a1-backup.db" "$T/a1/agent.db"
rm -f "$T/a1/agent.db-wal" "$T/a1/agent.db-shm"
run agent a1 --hub-url "$HUB_URL" recover
assert_ok
stop_hub
check_invariants f1:a1:n1
echo "PASS: damaged change-sets refused whole, damaged stores refused at start"
