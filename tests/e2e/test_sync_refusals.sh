#!/usr/bin/env bash
# test_sync_refusals.sh: what POST /v1/sync answers to bodies a correct agent would not send, posted raw with
# curl and a valid client certificate (invariants 2, 5 and 6): a replay is answered 200 and changes nothing; a
# sequence gap 409 with the expected change in the body and in Kiroku-Expected-Seq; a body over the cap 413;
# garbage and damaged sets 400 with a reason; another facility's records, someone else's change-set and an
# operator-only field 403. After every refusal the hub's dump is unchanged and the hub logged why; the hub
# keeps serving. Last, an agent whose hub lost its changes (restored from an old backup) gets exit 6 from
# `sync` with the change the hub expects.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/sync_lib.sh"

# cs.py OP IN OUT [ARG]: rewrites a change-set file with the Debian python3-cbor2 (an independent CBOR codec).
cat >"$T/cs.py" <<'EOF'
import sys, cbor2
op, src, dst = sys.argv[1:4]
arg = sys.argv[4] if len(sys.argv) > 4 else None
with open(src, 'rb') as f:
    cs = cbor2.loads(f.read())
changes = cs[4]
if op == 'drop':                 # drop the first ARG changes
    cs[4] = changes[int(arg):]
elif op == 'facility':           # every change claims facility ARG
    for c in changes:
        c[4] = arg
elif op == 'record-of':          # the first change writes to the first record of the change-set file ARG
    with open(arg, 'rb') as f:
        changes[0][2] = cbor2.loads(f.read())[4][0][2]
elif op == 'write':              # the last change also writes field=value ARG
    field, value = arg.split('=', 1)
    changes[-1][7].append([field, value, None])
elif op == 'count':              # print the number of changes and the first and last sequence numbers
    print(len(changes), changes[0][1] if changes else 0, changes[-1][1] if changes else 0)
    sys.exit(0)
else:
    sys.exit('unknown op ' + op)
with open(dst, 'wb') as f:
    f.write(cbor2.dumps(cs))
EOF
cs() {
	"$PY3" "$T/cs.py" "$@"
}

# assert_header "NAME: VALUE": the last curl_sync's answer has this header line (name in any case).
assert_header() {
	grep -qixF "$1" <<<"$HDRS" || fail "expected the header [$1] in the answer, got
$HDRS"
}

# refused CODE WHAT [unlogged]: the last curl_sync got HTTP CODE with a reason in the body, the hub logged the
# refusal with its reason (unless "unlogged": the HTTP server answers 413 by itself, without the sync
# handler that logs requests, and logs its own line, checked after the call), and the hub's records are what they were ($HUB_STATE).
refused() {
	local code=$1 what=$2 logged=${3:-logged} before
	assert_ok
	assert_eq "$code" "$CODE" "HTTP status of $what"
	[[ -n "$BODY" ]] || fail "$what: the answer gives no reason"
	if [[ $logged == logged ]]; then
		wait_for 10 "the hub's log line for $what" log_has "$HUB_LOG" "status=$code .*reason=.+"
		before=$(grep -c "status=$code " "$HUB_LOG")
		((before == ${LOGGED[$code]:-0} + 1)) || fail "the hub logged $before refusals $code, expected $((${LOGGED[$code]:-0} + 1))"
		LOGGED[$code]=$before
	fi
	assert_eq "$HUB_STATE" "$(hub dump)" "the hub's records after $what"
}
declare -A LOGGED=()

step "a hub, agents of f1 and f2"
new_hub
new_agent n1 f1 a1
new_agent m1 f2 b1
start_hub
R1=$(record a1 "一件目")
record a1 "二件目" >/dev/null
run agent a1 export-changes "$T/a1-1.cs"
assert_ok
assert_eq "2 1 2" "$(cs count "$T/a1-1.cs" -)" "changes in a1's first file"

step "a change-set posted with curl is merged"
curl_sync n1 "$T/a1-1.cs"
assert_ok
assert_eq 200 "$CODE" "HTTP status"
assert_header "Content-Type: application/cbor"
assert_eq "$(hub_sync_lines | tail -n 1 | grep -oE 'status=200 in=2 skipped=0')" "status=200 in=2 skipped=0" \
	"the hub's log line"
HUB_STATE=$(hub dump)
assert_eq 2 "$(records_in "$HUB_STATE")" "records at the hub"
assert_contains "$HUB_STATE" "$R1"

step "the same change-set posted again: 200, and nothing changes"
curl_sync n1 "$T/a1-1.cs"
assert_ok
assert_eq 200 "$CODE" "HTTP status of a replay"
wait_for 10 "the replay in the hub's log" log_has "$HUB_LOG" 'status=200 in=0 skipped=2 '
assert_eq "$HUB_STATE" "$(hub dump)" "the hub's records after a replay"

step "a sequence gap: 409 with the expected change"
record a1 "三件目" >/dev/null
record a1 "四件目" >/dev/null
run agent a1 export-changes "$T/a1-2.cs"
assert_ok
# Nothing was acknowledged to a1 (curl read the answers), so the file holds changes 1 to 4: keep only 4.
cs drop "$T/a1-2.cs" "$T/a1-gap.cs" 3
assert_eq "1 4 4" "$(cs count "$T/a1-gap.cs" -)" "changes in the file with a gap"
curl_sync n1 "$T/a1-gap.cs"
refused 409 "a sequence gap"
assert_contains "$BODY" "expected change 3" "the 409's reason"
assert_header "Kiroku-Expected-Seq: 3"
assert_contains "$(grep 'status=409' "$HUB_LOG")" "node=n1" "the hub's log of the 409"

step "a body over the cap: 413"
head -c $((16 * 1024 * 1024 + 1)) /dev/zero >"$T/big.bin"
curl_sync n1 "$T/big.bin"
refused 413 "a body of 16 MiB + 1 byte" unlogged
# The HTTP server answers it by itself, and logs it: the address, the node, the declared length and the cap.
wait_for 10 "the hub's log line for the 413" log_has "$HUB_LOG" \
	'413: 127\.0\.0\.1:[0-9]+ node n1 declared a body of 16777217 bytes, over the cap of 16777216 bytes'

step "garbage and damaged sets: 400 with a reason"
head -c 4096 /dev/urandom >"$T/garbage.bin"
curl_sync n1 "$T/garbage.bin"
refused 400 "random bytes"
printf 'this is not CBOR' >"$T/text.bin"
curl_sync n1 "$T/text.bin"
refused 400 "a line of text"
SIZE=$(stat -c %s "$T/a1-2.cs")
head -c $((SIZE - 7)) "$T/a1-2.cs" >"$T/cut.cs"
curl_sync n1 "$T/cut.cs"
refused 400 "a change-set cut short"
# Changes 3 and 4 are new to the hub; 3 is valid and 4 is not: the set is refused whole.
cs write "$T/a1-2.cs" "$T/badvalue.cs" "media=no-such-medium"
curl_sync n1 "$T/badvalue.cs"
refused 400 "a value the catalogue refuses in the last change of a set"
assert_contains "$BODY" "media" "the reason of the 400"
: >"$T/empty.bin"
curl_sync n1 "$T/empty.bin"
refused 400 "an empty body"
CONTENT_TYPE=text/plain curl_sync n1 "$T/a1-2.cs"
assert_ok
assert_eq 415 "$CODE" "HTTP status of a body that is not application/cbor"
assert_eq "$HUB_STATE" "$(hub dump)" "the hub's records after a wrong content type"

step "another facility: 403"
# n1's change-set (facility f1) sent with m1's certificate (facility f2).
curl_sync m1 "$T/a1-2.cs"
refused 403 "n1's change-set sent by m1"
assert_contains "$BODY" '"n1"' "the reason of the 403"
# m1's own change-set, its changes claiming facility f1.
record b1 "f2の記録" >/dev/null
run agent b1 export-changes "$T/b1-1.cs"
assert_ok
cs facility "$T/b1-1.cs" "$T/b1-f1.cs" f1
curl_sync m1 "$T/b1-f1.cs"
refused 403 "m1's changes for facility f1"
assert_contains "$BODY" "f1" "the reason of the 403"
# m1's change writing to a record of f1 (the record's id taken from n1's file).
cs record-of "$T/b1-1.cs" "$T/b1-steal.cs" "$T/a1-1.cs"
curl_sync m1 "$T/b1-steal.cs"
refused 403 "m1's change to a record of f1"
# An operator-only field written by a node.
cs write "$T/b1-1.cs" "$T/b1-status.cs" "status=triaged"
curl_sync m1 "$T/b1-status.cs"
refused 403 "an operator-only field written by a node"
assert_contains "$BODY" "status" "the reason of the 403"
assert_not_contains "$(hub dump --facility f1)" "f2の記録" "the hub's dump of f1"

step "the hub keeps serving: the real agents sync"
sync_agent b1
assert_ok
assert_contains "$OUT" "sent 1, received 0"
assert_same_state b1 f2
sync_agent a1
assert_ok
assert_contains "$OUT" "sent 4, received 0"
assert_same_state a1 f1
L=$(hub_sync_lines)
assert_contains "$L" "status=200 in=2 skipped=2 " "the hub's log of a1's sync (changes 1 and 2 came by curl)"

step "connections turned away when the hub is busy: counted in /v1/metrics, summarised in the log"
metrics() {
	run curl -sS --max-time 30 --cacert "$T/hub/ca.crt" --cert "$T/certs/n1.crt" --key "$T/certs/n1.key" \
		"$HUB_URL/v1/metrics"
	assert_ok
}
metrics
assert_contains "$OUT" 'kiroku_connections_turned_away_total{reason="queue_wait"} 0' "the metrics before"
# Eight silent TCP connections hold the hub's eight threads in their TLS handshakes; a ninth waits in the
# queue and is closed unanswered after 1 s.
HOLD=()
for i in 1 2 3 4 5 6 7 8 9; do
	exec {fd}<>"/dev/tcp/127.0.0.1/$HUB_PORT"
	HOLD+=("$fd")
done
sleep 2
for fd in "${HOLD[@]}"; do
	exec {fd}>&-
done
metrics
assert_match "$OUT" $'kiroku_connections_turned_away_total\{reason="queue_wait"\} [1-9][0-9]*\n' "the metrics after"
assert_contains "$OUT" '# TYPE kiroku_connections_turned_away_total counter' "the metrics after"
assert_contains "$OUT" "kiroku_requests_refused_too_big_total 1" "the metrics after (the 413 above)"
wait_for 15 "the hub's summary of connections turned away" log_has "$HUB_LOG" \
	'turned away [1-9][0-9]* connections? in the last [0-9]+ s: queue full 0, queued over 1 s [1-9]'

step "a hub restored from an old backup: the agent's sync exits 6 and names the change expected"
new_agent n3 f1 a3
stop_hub
cp -a "$T/hub" "$T/hub.backup"
start_hub
record a3 "バックアップ後" >/dev/null
sync_agent a3
assert_ok
stop_hub
rm -rf "$T/hub"
mv "$T/hub.backup" "$T/hub"
start_hub
record a3 "復元後" >/dev/null
BEFORE=$(snapshot a3 | grep -v '^last exchange:')
HUB_STATE=$(hub dump)
sync_agent a3
assert_rc 6
assert_contains "$ERR" "409"
assert_contains "$ERR" "expected change 1" "the agent's message"
assert_eq "$BEFORE" "$(snapshot a3 | grep -v '^last exchange:')" "a3 after a refused sync"
assert_eq 1 "$(outbox a3)" "a3's outbox"
assert_eq "$HUB_STATE" "$(hub dump)" "the hub's records after a refused sync"
stop_hub

echo "PASS"
