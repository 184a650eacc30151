#!/usr/bin/env bash
# test_sync_tls.sh: the hub's mutual TLS refuses, at the handshake, every client it must not talk to: no client
# certificate, a certificate of another CA, an expired certificate, TLS 1.0 and 1.1, plain HTTP; and an agent
# refuses a hub its CA did not sign. Each refusal shows to the client (curl's or openssl's exit code, the
# agent's exit code 5 and its message), is logged by the hub, and changes nothing at the hub. A client that
# sends one byte a second is cut off by the hub's request deadline (10 s) while another agent syncs normally.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/sync_lib.sh"

# mark_log: remembers how long the hub's log is; expect_hub_log looks only at what comes after.
mark_log() {
	LOG_MARK=$(wc -l <"$HUB_LOG")
}

new_log_has() {
	tail -n +$((LOG_MARK + 1)) "$HUB_LOG" | grep -qE "$1"
}

# expect_hub_log WHAT PATTERN: waits for a line matching PATTERN in the hub's log since mark_log.
expect_hub_log() {
	wait_for 10 "the hub to log $1 (/$2/)" new_log_has "$2"
}

# curl_health ARGS...: GET /v1/health with the hub's CA and ARGS (certificate options); RC is curl's code.
curl_health() {
	run curl -sS --max-time 30 --cacert "$T/hub/ca.crt" "$@" "$HUB_URL/v1/health"
}

# curl_refused [CODE...]: curl's exit code says the TLS handshake failed (35: handshake; 56: the refusal
# arrived as a failed receive), or is one of CODE.
curl_refused() {
	local c
	for c in 35 56 "$@"; do
		[[ $RC == "$c" ]] && return 0
	done
	fail "curl should fail the handshake (exit 35 or 56${1:+ or $*}), got $RC"
}

step "a hub and an agent that syncs"
new_hub
new_agent n1 f1 a1
start_hub
record a1 "正規の記録" >/dev/null
sync_agent a1
assert_ok
curl_health --cert "$T/certs/n1.crt" --key "$T/certs/n1.key"
assert_ok
assert_eq "ok" "$OUT" "health with a valid certificate"
HUB_STATE=$(hub dump)
assert_eq 1 "$(records_in "$HUB_STATE")" "records at the hub"

step "no client certificate"
mark_log
curl_health
curl_refused
expect_hub_log "a handshake without a client certificate" 'tls handshake with 127\.0\.0\.1:[0-9]+ failed: mbedTLS'
assert_eq "$HUB_STATE" "$(hub dump)" "the hub's records"

step "a certificate of another CA"
run "$KIROKU_HUB" --data-dir "$T/other" ca init
assert_ok
run "$KIROKU_HUB" --data-dir "$T/other" cert issue --for-node n9 --facility f1 "$T/other-certs"
assert_ok
mark_log
curl_health --cert "$T/other-certs/n9.crt" --key "$T/other-certs/n9.key"
curl_refused
expect_hub_log "a certificate of another CA" 'failed: mbedTLS.*not correctly signed'
# The same through an agent: its sync exits 5 and the message says the TLS handshake failed.
run agent x1 init --node n9 --facility f1
assert_ok
cp "$T/other-certs/n9.crt" "$T/x1/agent.crt"
cp "$T/other-certs/n9.key" "$T/x1/agent.key"
cp "$T/hub/ca.crt" "$T/x1/hub-ca.crt"
record x1 "別のCAの記録" >/dev/null
mark_log
sync_agent x1
assert_rc 5
assert_contains "$ERR" "$HUB_URL" "the agent's message"
assert_contains "$ERR" "$T/x1/agent.crt" "the agent's message names its certificate"
assert_contains "$ERR" "another CA" "the agent's message"
assert_eq 1 "$(outbox x1)" "x1's outbox after a refused sync"
expect_hub_log "the agent with a certificate of another CA" 'failed: mbedTLS.*not correctly signed'
assert_eq "$HUB_STATE" "$(hub dump)" "the hub's records"

step "an expired certificate"
issue_cert n2 f1 --days -1
run agent x2 init --node n2 --facility f1
assert_ok
cp "$T/certs/n2.crt" "$T/x2/agent.crt"
cp "$T/certs/n2.key" "$T/x2/agent.key"
cp "$T/hub/ca.crt" "$T/x2/hub-ca.crt"
record x2 "期限切れ証明書の記録" >/dev/null
mark_log
sync_agent x2
assert_rc 5
assert_contains "$ERR" "$HUB_URL" "the agent's message"
assert_contains "$ERR" "$T/x2/agent.crt" "the agent's message names its certificate"
assert_contains "$ERR" "expired" "the agent's message"
expect_hub_log "an expired client certificate" 'failed: mbedTLS.*expired'
mark_log
curl_health --cert "$T/certs/n2.crt" --key "$T/certs/n2.key"
# The hub's certificate_expired alert makes curl report 60 ("SSL certificate verification failed").
curl_refused 60
expect_hub_log "an expired client certificate (curl)" 'failed: mbedTLS.*expired'
assert_eq 1 "$(outbox x2)" "x2's outbox after a refused sync"
assert_eq "$HUB_STATE" "$(hub dump)" "the hub's records"

step "TLS 1.0 and 1.1 are refused"
for v in tls1 tls1_1; do
	mark_log
	set +e
	# SECLEVEL=0 lets this OpenSSL offer the old protocols at all; the hub must still say no.
	openssl s_client -connect "127.0.0.1:$HUB_PORT" -$v -cipher 'DEFAULT@SECLEVEL=0' -CAfile "$T/hub/ca.crt" \
		-cert "$T/certs/n1.crt" -key "$T/certs/n1.key" </dev/null >"$T/s_client.out" 2>&1
	RC=$?
	set -e
	((RC != 0)) || fail "openssl s_client -$v should fail, it said: $(cat "$T/s_client.out")"
	grep -q 'Cipher is (NONE)' "$T/s_client.out" || fail "a -$v session was established: $(cat "$T/s_client.out")"
	grep -q 'alert protocol version' "$T/s_client.out" ||
		fail "the hub should answer -$v with a protocol_version alert: $(cat "$T/s_client.out")"
	expect_hub_log "the refused -$v handshake" 'failed: mbedTLS .*min/max'
done
assert_eq "$HUB_STATE" "$(hub dump)" "the hub's records"
# TLS 1.2 with the same certificate is fine: the refusals above were about the protocol.
set +e
openssl s_client -connect "127.0.0.1:$HUB_PORT" -tls1_2 -CAfile "$T/hub/ca.crt" -cert "$T/certs/n1.crt" \
	-key "$T/certs/n1.key" </dev/null >"$T/s_client.out" 2>&1
set -e
grep -qE 'Protocol *: *TLSv1\.2' "$T/s_client.out" || fail "a TLS 1.2 session should be established: $(cat "$T/s_client.out")"

step "plain HTTP on the TLS port"
mark_log
run curl -sS --max-time 30 "http://127.0.0.1:$HUB_PORT/v1/health"
((RC != 0)) || fail "plain HTTP should get no answer, got: $OUT"
assert_not_contains "$OUT" "ok" "the answer to plain HTTP"
expect_hub_log "the plain HTTP request" 'tls handshake with 127\.0\.0\.1:[0-9]+ failed'

step "an agent refuses a hub its CA did not sign"
cp "$T/other/ca.crt" "$T/a1/hub-ca.crt"
record a1 "信頼できないハブ" >/dev/null
mark_log
sync_agent a1
assert_rc 5
assert_contains "$ERR" "$HUB_URL" "the agent's message"
assert_contains "$ERR" "the hub's certificate is not trusted by $T/a1/hub-ca.crt" "the agent's message"
assert_eq 1 "$(outbox a1)" "a1's outbox after refusing the hub"
assert_eq "$HUB_STATE" "$(hub dump)" "the hub's records"
cp "$T/hub/ca.crt" "$T/a1/hub-ca.crt"

step "a client that sends one byte a second is cut off by the request deadline"
cat >"$T/slow.py" <<'EOF'
import socket, ssl, sys, time
port, ca, crt, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(ca)
ctx.load_cert_chain(crt, key)
s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', port)), server_hostname='127.0.0.1')
print('connected', flush=True)
t0 = time.monotonic()
req = b'POST /v1/sync HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/cbor\r\nContent-Length: 100000\r\n\r\n'
req += b'\0' * 100000
sent = 0
try:
    for b in req:
        s.sendall(bytes([b]))
        sent += 1
        s.settimeout(1.0)
        try:
            data = s.recv(4096)
            if not data:
                break
            print('answer:', data.split(b'\r\n')[0].decode(errors='replace'), flush=True)
            break
        except socket.timeout:
            pass
        if time.monotonic() - t0 > 60:
            print('still open after 60 s', flush=True)
            sys.exit(2)
except (ConnectionError, ssl.SSLError, OSError) as e:
    print('error:', type(e).__name__, flush=True)
print('closed after %.1f s, %d bytes sent' % (time.monotonic() - t0, sent), flush=True)
EOF
new_agent n3 f1 a3
record a3 "遅いクライアントの間の記録" >/dev/null
mark_log
"$PY3" "$T/slow.py" "$HUB_PORT" "$T/hub/ca.crt" "$T/certs/n3.crt" "$T/certs/n3.key" >"$T/slow.out" 2>&1 &
SLOW=$!
track_pid "$SLOW"
wait_for 30 "the slow client to connect" grep -q connected "$T/slow.out"
sleep 2
alive "$SLOW" || fail "the slow client ended early: $(cat "$T/slow.out")"
# Another agent, meanwhile.
sync_agent a3
assert_ok
assert_contains "$OUT" "sent 1, received"
alive "$SLOW" || fail "the slow client should still be connected while a3 syncs: $(cat "$T/slow.out")"
assert_same_state a3 f1
slow_ended() {
	! alive "$SLOW"
}
wait_for 30 "the slow client's end" slow_ended
SRC=0
wait "$SLOW" || SRC=$?
SLOW_OUT=$(cat "$T/slow.out")
assert_eq 0 "$SRC" "the slow client's exit code ($SLOW_OUT)"
SECS=$(sed -n 's/^closed after \([0-9]*\)\..*/\1/p' <<<"$SLOW_OUT")
[[ -n "$SECS" ]] || fail "the slow client did not say when it was cut off: $SLOW_OUT"
((SECS >= 8 && SECS < 15)) || fail "the slow client should be cut off after about 10 s, it was after $SECS s: $SLOW_OUT"
expect_hub_log "the request deadline" '127\.0\.0\.1:[0-9]+: the request took longer than its deadline'
echo "slow client: $SLOW_OUT"

step "the hub still serves the agents it should"
sync_agent a1
assert_ok
assert_contains "$OUT" "sent 1, received 1"
assert_same_state a1 f1
assert_eq 3 "$(records_in "$(hub dump --facility f1)")" "records of f1 at the hub"
stop_hub

echo "PASS"
