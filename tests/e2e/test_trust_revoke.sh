#!/usr/bin/env bash
# test_trust_revoke.sh: what an enrolled node may do and how it is cut off. Nodes enrolled with tokens sync;
# a node writing another facility's record, an operator-only field, or a change-set in another node's name is
# refused (403) with the store unchanged. `node revoke` then takes effect without a restart: the node's open
# keep-alive connection is closed while idle, its next handshake is refused (certificate_revoked), and the hub
# store is unchanged by its attempts; `node list` shows it revoked. Certificates are renewed over mutual TLS
# (`renew`, and `sync` by itself when less than 30 days are left), audited, and a revoked node cannot renew.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/sync_lib.sh"
source "$(dirname "$0")/trust_lib.sh"

# cs.py OP IN OUT [ARG]: rewrites a change-set file (cbor2), as test_sync_refusals.sh does.
cat >"$T/cs.py" <<'PYEOF'
import sys, cbor2
op, src, dst = sys.argv[1:4]
arg = sys.argv[4] if len(sys.argv) > 4 else None
with open(src, 'rb') as f:
    cs = cbor2.loads(f.read())
if op == 'facility':             # every change claims facility ARG
    for c in cs[4]:
        c[4] = arg
    if 3 in cs:
        cs[3] = arg
elif op == 'write':              # the last change also writes field=value ARG
    field, value = arg.split('=', 1)
    cs[4][-1][7].append([field, value, None])
elif op == 'sender':             # the set and its changes claim to be from node ARG
    cs[2] = arg
    for c in cs[4]:
        c[0] = arg
else:
    sys.exit('unknown op ' + op)
with open(dst, 'wb') as f:
    f.write(cbor2.dumps(cs))
PYEOF
cs() {
	"$PY3" "$T/cs.py" "$@"
}

# post_sync DIR FILE: POST /v1/sync with FILE as the body and the certificate of the agent in $T/DIR.
post_sync() {
	curl_as "$1" /v1/sync -H 'Content-Type: application/cbor' --data-binary @"$2"
}

step "two facilities' agents enrol and sync"
new_hub
start_hub
new_token f1 --name "光が丘小学校"
enroll a1 n1 "$TOKEN"
assert_ok
new_token f2 --name "市役所本庁舎"
enroll b1 m1 "$TOKEN"
assert_ok
new_token f1
enroll a2 n2 "$TOKEN"
assert_ok
record a1 "一件目" >/dev/null
record b1 "別施設の一件目" >/dev/null
sync_agent a1
assert_ok
sync_agent b1
assert_ok
record a1 "二件目" >/dev/null
run agent a1 export-changes "$T/a1.cs"
assert_ok

step "a node writing another facility's record: 403, nothing changes"
cs facility "$T/a1.cs" "$T/a1-f2.cs" f2
mark_state
post_sync a1 "$T/a1-f2.cs"
assert_ok
assert_eq 403 "$CODE" "HTTP status"
assert_contains "$BODY" "f2"
assert_state_unchanged "n1 writing facility f2"

step "a node writing an operator-only field: 403, nothing changes"
cs write "$T/a1.cs" "$T/a1-status.cs" "status=closed"
post_sync a1 "$T/a1-status.cs"
assert_ok
assert_eq 403 "$CODE" "HTTP status"
assert_contains "$BODY" "status"
assert_state_unchanged "n1 writing an operator-only field"

step "a node replaying another node's id in its change-set: 403, nothing changes"
cs sender "$T/a1.cs" "$T/a1-as-n2.cs" n2
post_sync a1 "$T/a1-as-n2.cs"
assert_ok
assert_eq 403 "$CODE" "HTTP status"
assert_contains "$BODY" "n2"
assert_state_unchanged "n1 sending as n2"
sync_agent a1
assert_ok
assert_contains "$OUT" "sent 1, received"

step "node list: every node with facility, serial, expiry, last seen, skew, outbox, state"
run hub node list
assert_ok
assert_contains "$OUT" "光が丘小学校"
assert_lines 4 "$OUT" "the node list (header and three nodes)"
run hub node list --format tsv
assert_ok
SERIAL_N1=$(awk -F'\t' '$1 == "n1" { print $4 }' <<<"$OUT")
assert_eq "$(openssl x509 -in "$T/a1/agent.crt" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f' | sed 's/^0*//')" \
	"$SERIAL_N1" "n1's serial in the node list"
assert_eq active "$(awk -F'\t' '$1 == "n1" { print $10 }' <<<"$OUT")" "n1's state"
assert_eq 0 "$(awk -F'\t' '$1 == "n1" { print $9 }' <<<"$OUT")" "n1's outbox"

step "revocation closes the node's open keep-alive connection, with no restart"
cat >"$T/keepalive.py" <<'PYEOF'
import select, socket, ssl, sys, time
port, ca, crt, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(ca)
ctx.load_cert_chain(crt, key)
s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', port)), server_hostname='127.0.0.1')
s.sendall(b'GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
answer = s.recv(4096)
print('first answer:', answer.split(b'\r\n')[0].decode(), flush=True)
print('ready', flush=True)
t0 = time.monotonic()
r, _, _ = select.select([s], [], [], 4.0)   # the hub's idle timeout is 5 s
if not r:
    print('still open after 4 s', flush=True)
    sys.exit(2)
try:
    data = s.recv(4096)
except (ssl.SSLError, OSError) as e:
    data = b''
print('closed while idle after %.1f s%s' % (time.monotonic() - t0, ' with data' if data else ''), flush=True)
PYEOF
"$PY3" "$T/keepalive.py" "$HUB_PORT" "$T/hub/ca.crt" "$T/a1/agent.crt" "$T/a1/agent.key" >"$T/ka.out" 2>&1 &
KA=$!
track_pid "$KA"
wait_for 30 "the keep-alive client" grep -q ready "$T/ka.out"
assert_contains "$(cat "$T/ka.out")" "first answer: HTTP/1.1 200"
run hub node revoke n1 --reason "盗難 2026-11-20"
assert_ok
assert_contains "$OUT" "node n1 revoked (1 certificate)"
wait_for 10 "the keep-alive client's end" bash -c "! kill -0 $KA 2>/dev/null"
KA_RC=0
wait "$KA" || KA_RC=$?
KA_OUT=$(cat "$T/ka.out")
assert_eq 0 "$KA_RC" "the keep-alive client's exit code ($KA_OUT)"
SECS=$(sed -n 's/^closed while idle after \([0-9]*\)\..*/\1/p' <<<"$KA_OUT")
[[ -n "$SECS" ]] || fail "the connection was not closed while idle: $KA_OUT"
((SECS < 3)) || fail "the revoked node's connection should close within a second or two, not after $SECS s"
wait_for 10 "the hub's log of the closing" log_has "$HUB_LOG" 'revocation: closing 1 open connection of node n1'
log_has "$HUB_LOG" 'closed the connection of node n1 .*the node was revoked' || fail "the hub did not log the closed connection"

step "the revoked node is refused at the handshake and changes nothing"
mark_state
record a1 "盗まれた端末からの記録" >/dev/null
sync_agent a1
assert_rc 5
assert_contains "$ERR" "alert certificate revoked"
wait_for 10 "the hub's log of the refused handshake" log_has "$HUB_LOG" 'failed: node "n1" \(certificate [0-9a-f]+\) has been revoked'
curl_as a1 /v1/health
((RC == 35 || RC == 56)) || fail "curl with the revoked certificate should fail the handshake, got $RC"
assert_state_unchanged "the revoked node's attempts"
run hub node list --format tsv
assert_eq revoked "$(awk -F'\t' '$1 == "n1" { print $10 }' <<<"$OUT")" "n1's state"
assert_eq "盗難 2026-11-20" "$(awk -F'\t' '$1 == "n1" { print $12 }' <<<"$OUT")" "n1's revocation reason"
run hub audit list
assert_contains "$OUT" $'\tnode.revoke\tnode=n1 facility=f1 certificates=1 reason=盗難 2026-11-20'
# Other nodes go on.
record a2 "同じ施設の別端末" >/dev/null
sync_agent a2
assert_ok

step "renew: a new certificate over mutual TLS, audited"
OLD_SERIAL=$(openssl x509 -in "$T/a2/agent.crt" -noout -serial)
run agent a2 --hub-url "$HUB_URL" renew
assert_ok
NEW_SERIAL=$(openssl x509 -in "$T/a2/agent.crt" -noout -serial)
[[ "$OLD_SERIAL" != "$NEW_SERIAL" ]] || fail "renew kept the serial $OLD_SERIAL"
assert_eq 600 "$(stat -c %a "$T/a2/agent.key")" "mode of the renewed key"
assert_eq "subject=OU=f1,O=kiroku,CN=n2" "$(openssl x509 -in "$T/a2/agent.crt" -noout -subject -nameopt RFC2253)" "the renewed subject"
sync_agent a2
assert_ok
wait_for 10 "the hub's log of the renewal" log_has "$HUB_LOG" 'renew node=n2 facility=f1 .*status=200'
run hub audit list
assert_contains "$OUT" $'node:n2\tnode.renew\t'

step "sync renews a certificate with less than 30 days left by itself"
issue_cert n3 f1 --days 10
run hub audit list
assert_contains "$OUT" $'\tcert.issue\tnode=n3 facility=f1 serial=' "the audit of a certificate issued by hand"
run agent a3 init --node n3 --facility f1
assert_ok
cp "$T/certs/n3.crt" "$T/a3/agent.crt"
cp "$T/certs/n3.key" "$T/a3/agent.key"
cp "$T/hub/ca.crt" "$T/a3/hub-ca.crt"
SHORT=$(openssl x509 -in "$T/a3/agent.crt" -noout -enddate)
sync_agent a3
assert_ok
assert_contains "$ERR" "renewed the certificate"
LONG=$(openssl x509 -in "$T/a3/agent.crt" -noout -enddate)
[[ "$SHORT" != "$LONG" ]] || fail "the certificate was not renewed ($SHORT)"
openssl x509 -in "$T/a3/agent.crt" -noout -checkend $((300 * 86400)) >/dev/null || fail "the renewed certificate should last about a year: $LONG"

step "a revoked node cannot renew"
mark_state
run agent a1 --hub-url "$HUB_URL" renew
assert_rc 5
assert_state_unchanged "a revoked node's renewal"
[[ ! -e "$T/a1/agent.key.new" ]] || fail "a refused renewal left agent.key.new"

run hub audit verify
assert_ok
assert_contains "$OUT" "audit log intact"
stop_hub
echo "PASS"
