#!/usr/bin/env bash
# test_trust_enroll.sh: enrolment with a one-time token, end to end, and every way it must refuse. An agent
# enrols (its key made on its machine, mode 0600; a certificate for the token's facility) and syncs; then an
# expired token, a used token, a token of another hub (its CA fingerprint does not match), a CSR whose
# signature does not match its key, a node id already in use, and a client without a certificate on the other
# routes are refused. Each refusal is checked in what the client sees (exit code and message, or HTTP status
# and reason) and in the hub's store, which must be exactly as before (records, nodes, certificates, tokens,
# audit log).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/sync_lib.sh"
source "$(dirname "$0")/trust_lib.sh"

step "a hub with no enrolment open refuses clients without a certificate at the handshake"
new_hub
start_hub
mark_state
curl_anon /v1/ca
((RC == 35 || RC == 56)) || fail "GET /v1/ca without a certificate and no token open: curl should fail the handshake, got $RC"
wait_for 10 "the hub's log of the refused handshake" log_has "$HUB_LOG" 'tls handshake with 127\.0\.0\.1:[0-9]+ failed: mbedTLS -0x7480'
assert_state_unchanged "a client without a certificate"

step "enroll-token: a token carrying the hub's URL and CA fingerprint"
run hub enroll-token --facility f1 --name "光が丘小学校" --expires 72h --hub-url "$HUB_URL"
assert_ok
TOKEN1=$OUT
assert_lines 1 "$OUT" "stdout of enroll-token"
assert_contains "$ERR" "光が丘小学校" "enroll-token's message"
FP=$(openssl x509 -in "$T/hub/ca.crt" -outform DER | sha256sum | cut -d' ' -f1)
read -r VERSION URL TFP TFAC TEXP <<<"$(trust_py fields "$TOKEN1")"
assert_eq "1 $HUB_URL $FP f1" "$VERSION $URL $TFP $TFAC" "the token's fields"
((TEXP > $(date +%s) + 71 * 3600 && TEXP <= $(date +%s) + 72 * 3600 + 5)) || fail "the token should expire in 72 h, not at $TEXP"
SECRET1=$(trust_py secret "$TOKEN1")
assert_eq 48 "${#SECRET1}" "hex digits of the token's secret (192 bits)"
# Only the secret's hash is stored.
HASH1=$(printf '%s' "$SECRET1" | xxd -r -p | sha256sum | cut -d' ' -f1)
assert_eq 1 "$(sqlite3 -readonly "$T/hub/hub.db" "SELECT count(*) FROM enroll_tokens WHERE lower(hex(hash)) = '$HASH1'")" "the token's hash in the store"
assert_eq 0 "$(sqlite3 -readonly "$T/hub/hub.db" .dump | grep -ci "$SECRET1" || true)" "the secret anywhere in the store"

step "kiroku-agent enroll: a key made here, a certificate for the token's facility, then a sync"
enroll a1 n1 "$TOKEN1"
assert_ok
assert_contains "$OUT" "enrolled node n1 of facility f1"
assert_eq 600 "$(stat -c %a "$T/a1/agent.key")" "mode of the agent's key"
assert_eq 700 "$(stat -c %a "$T/a1")" "mode of the agent's data directory"
cmp -s "$T/a1/hub-ca.crt" "$T/hub/ca.crt" || fail "the agent should keep the hub's CA as hub-ca.crt"
SUBJECT=$(openssl x509 -in "$T/a1/agent.crt" -noout -subject -nameopt RFC2253)
assert_eq "subject=OU=f1,O=kiroku,CN=n1" "$SUBJECT" "the certificate's subject"
openssl x509 -in "$T/a1/agent.crt" -noout -pubkey >"$T/crt.pub"
openssl pkey -in "$T/a1/agent.key" -pubout >"$T/key.pub" 2>/dev/null
cmp -s "$T/crt.pub" "$T/key.pub" || fail "the certificate is not for the agent's own key"
ls "$T/a1" | grep -q '\.new$' && fail "leftover .new files: $(ls "$T/a1")"
record a1 "登録後の記録" >/dev/null
sync_agent a1
assert_ok
assert_contains "$OUT" "sent 1, received"
assert_same_state a1 f1
run hub node list --format tsv
assert_ok
assert_match "$OUT" $'^n1\tf1\t光が丘小学校\t[0-9a-f]+\t[0-9]+\t[1-9][0-9]*\t[1-9][0-9]*\t-?[0-9]+\t0\tactive' "the node list"
run hub audit list
assert_contains "$OUT" $'\ttoken.issue\t'
assert_contains "$OUT" $'node:n1\tnode.enrol\t'

step "a used token is refused (with another token open, the hub answers why)"
new_token f1
TOKEN2=$TOKEN
mark_state
enroll a2 n2 "$TOKEN1"
assert_rc 4
assert_contains "$ERR" "HTTP 403"
assert_contains "$ERR" "already used (by node \"n1\""
wait_for 10 "the hub's log of the used token" log_has "$HUB_LOG" 'enrol node=n2 .*status=403 reason=.*already used'
assert_state_unchanged "a used token"
[[ ! -e "$T/a2/agent.crt" && ! -e "$T/a2/agent.key" ]] || fail "a refused enrolment left a key or certificate: $(ls "$T/a2")"

step "a node id already enrolled is refused (a node replaying another node's id)"
mark_state
enroll a2 n1 "$TOKEN2"
assert_rc 4
assert_contains "$ERR" "HTTP 409"
assert_contains "$ERR" "node id \"n1\" is already in use"
assert_state_unchanged "a taken node id"

step "an expired token is refused"
new_token f1 --expires 1s
TOKEN3=$TOKEN
sleep 2
mark_state
enroll a3 n3 "$TOKEN3"
assert_rc 4
assert_contains "$ERR" "HTTP 403"
assert_contains "$ERR" "expired at"
assert_state_unchanged "an expired token"

step "a token of another hub: the CA fingerprint does not match, nothing is sent"
run "$KIROKU_HUB" --data-dir "$T/other" init
assert_ok
run "$KIROKU_HUB" --data-dir "$T/other" ca init
assert_ok
# The other hub's token, but pointing at this hub (as a redirected or intercepted connection would).
run "$KIROKU_HUB" --data-dir "$T/other" enroll-token --facility f1 --hub-url "$HUB_URL"
assert_ok
OTHER_TOKEN=$OUT
OTHER_STATE=$(sqlite3 -readonly "$T/other/hub.db" "SELECT hex(hash), coalesce(used_ms, 0) FROM enroll_tokens")
mark_state
LOG_LINES=$(grep -c 'enrol ' "$HUB_LOG" || true)
enroll a4 n4 "$OTHER_TOKEN"
assert_rc 5
assert_contains "$ERR" "the enrolment token pins"
assert_contains "$ERR" "$FP" "the message shows this hub's CA fingerprint"
assert_contains "$ERR" "nothing was sent"
assert_state_unchanged "a token of another hub"
assert_eq "$LOG_LINES" "$(grep -c 'enrol ' "$HUB_LOG" || true)" "enrolment requests the hub received"
assert_eq "$OTHER_STATE" "$(sqlite3 -readonly "$T/other/hub.db" "SELECT hex(hash), coalesce(used_ms, 0) FROM enroll_tokens")" "the other hub's token"
[[ ! -e "$T/a4/hub-ca.crt" && ! -e "$T/a4/agent.crt" ]] || fail "the agent kept files from a hub it must not trust: $(ls "$T/a4")"

step "a CSR whose signature does not match its key: 400, the token stays unused"
new_csr bad
trust_py flip-last "$T/bad.csr"
trust_py request "$(trust_py secret "$TOKEN2")" n5 "$T/bad.csr" "$T/bad.req"
mark_state
curl_anon /v1/enroll -H 'Content-Type: application/cbor' --data-binary @"$T/bad.req"
assert_ok
assert_eq 400 "$CODE" "HTTP status of a bad CSR"
assert_contains "$BODY" "checking the signature of the certificate request failed"
assert_state_unchanged "a CSR with a bad signature"
# The same key with a good CSR works: the token was not used up.
new_csr good
trust_py request "$(trust_py secret "$TOKEN2")" n5 "$T/good.csr" "$T/good.req"
curl_anon /v1/enroll -H 'Content-Type: application/cbor' --data-binary @"$T/good.req"
assert_ok
assert_eq 200 "$CODE" "HTTP status of a good CSR"
printf '%s\n' "$BODY" >"$T/n5.crt"
assert_eq "subject=OU=f1,O=kiroku,CN=n5" "$(openssl x509 -in "$T/n5.crt" -noout -subject -nameopt RFC2253)" \
	"the subject comes from the token and the request, not from the CSR's CN=good"

step "without a certificate only /v1/ca and /v1/enroll answer, one request a connection"
new_token f1
mark_state
curl_anon /v1/sync -H 'Content-Type: application/cbor' --data-binary @"$T/good.req"
assert_ok
assert_eq 401 "$CODE" "POST /v1/sync without a certificate"
assert_contains "$BODY" "needs a client certificate"
curl_anon /v1/health
assert_eq 401 "$CODE" "GET /v1/health without a certificate"
curl_anon /v1/ca
assert_eq 200 "$CODE" "GET /v1/ca without a certificate"
assert_contains "$HDRS" "Connection: close"
head -c 100000 /dev/zero >"$T/big.bin"
curl_anon /v1/enroll -H 'Content-Type: application/cbor' --data-binary @"$T/big.bin"
assert_eq 413 "$CODE" "a 100 kB body without a certificate"
assert_contains "$BODY" "without a client certificate"
assert_state_unchanged "requests without a certificate"

step "a certificate of another CA is refused at the handshake"
run "$KIROKU_HUB" --data-dir "$T/other" cert issue --for-node n9 --facility f1 "$T/other-certs"
assert_ok
mark_state
run curl -sS --max-time 30 --cacert "$T/hub/ca.crt" --cert "$T/other-certs/n9.crt" --key "$T/other-certs/n9.key" \
	"$HUB_URL/v1/health"
((RC == 35 || RC == 56)) || fail "a certificate of another CA: curl should fail the handshake, got $RC ($ERR)"
wait_for 10 "the hub's log" log_has "$HUB_LOG" 'failed: mbedTLS.*not correctly signed'
assert_state_unchanged "a certificate of another CA"

step "the token as a QR code, on the terminal and as a PNG (when built with libqrencode)"
run hub enroll-token --facility f1 --hub-url "$HUB_URL" --qr --qr-png "$T/token.png"
if [[ $RC == 1 && "$ERR" == *"without libqrencode"* ]]; then
	echo "skipped: this kiroku-hub was built without libqrencode"
else
	assert_ok
	assert_match "$(head -n 1 <<<"$OUT")" '^KR1\.[A-Za-z0-9_-]+$' "the token line"
	assert_contains "$OUT" "▀" "the QR code drawn with half blocks"
	assert_eq 600 "$(stat -c %a "$T/token.png")" "mode of the PNG"
	"$PY3" - "$T/token.png" <<'PYEOF' || fail "the PNG is not a valid image"
import struct, sys, zlib
data = open(sys.argv[1], 'rb').read()
assert data[:8] == b'\x89PNG\r\n\x1a\n'
pos, chunks = 8, {}
while pos < len(data):
    n, kind = struct.unpack('>I4s', data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    assert zlib.crc32(kind + body) == struct.unpack('>I', data[pos + 8 + n:pos + 12 + n])[0], kind
    chunks[kind] = chunks.get(kind, b'') + body
    pos += 12 + n
w, h, depth, colour = struct.unpack('>IIBB', chunks[b'IHDR'][:10])
raw = zlib.decompress(chunks[b'IDAT'])
assert w == h and depth == 8 and colour == 0 and len(raw) == h * (w + 1), (w, h, len(raw))
assert set(raw[1:w + 1]) == {255}, 'the quiet zone is white'
assert 0 in raw, 'there are dark modules'
PYEOF
fi

stop_hub
echo "PASS"
