# trust_lib.sh: helpers of the trust end-to-end tests (test_trust_*.sh): enrolment tokens, enrolling agents,
# raw enrolment requests, and a snapshot of everything of the hub's store that a refused request must leave as
# it was. Sourced after lib.sh and sync_lib.sh (whose hub, agents and process tracking these tests use).

# trust.py OP ARGS: what the shell cannot do with tokens and requests (Debian's python3 with cbor2).
cat >"$T/trust.py" <<'PYEOF'
import base64, sys, cbor2
op = sys.argv[1]
if op == 'secret':                       # TOKEN -> the secret, hex
    t = sys.argv[2].strip()
    assert t.startswith('KR1.')
    raw = base64.urlsafe_b64decode(t[4:] + '=' * (-len(t[4:]) % 4))
    print(cbor2.loads(raw)[3].hex())
elif op == 'fields':                     # TOKEN -> version url fingerprint facility expiry
    t = sys.argv[2].strip()
    v = cbor2.loads(base64.urlsafe_b64decode(t[4:] + '=' * (-len(t[4:]) % 4)))
    print(v[0], v[1], v[2].hex(), v[4], v[5])
elif op == 'request':                    # SECRET_HEX NODE CSR_FILE OUT -> a POST /v1/enroll body
    secret, node, csr, out = sys.argv[2:6]
    with open(csr, 'rb') as f:
        body = cbor2.dumps([1, bytes.fromhex(secret), node, f.read()])
    with open(out, 'wb') as f:
        f.write(body)
elif op == 'flip-last':                  # FILE: flips the last byte (inside a DER CSR's signature)
    with open(sys.argv[2], 'r+b') as f:
        data = bytearray(f.read())
        data[-1] ^= 0x01
        f.seek(0)
        f.write(data)
else:
    sys.exit('unknown op ' + op)
PYEOF
trust_py() {
	"$PY3" "$T/trust.py" "$@"
}

# hub_trust_state: the hub's records and its trust tables (nodes without their contact times, certificates,
# tokens and whether they were used, the audit log): what a refused request must leave unchanged.
hub_trust_state() {
	hub dump
	sqlite3 -readonly "$T/hub/hub.db" \
		"SELECT 'node', node, facility, coalesce(cert_serial, ''), revoked, last_seq FROM nodes ORDER BY node;
		 SELECT 'cert', serial, node, facility, coalesce(revoked_ms, 0) FROM certs ORDER BY serial;
		 SELECT 'token', hex(hash), facility, coalesce(used_ms, 0), coalesce(used_by, '') FROM enroll_tokens ORDER BY hash;
		 SELECT 'audit', id, actor, action, detail, hex(hash) FROM audit_log ORDER BY id;"
}

# mark_state: remembers hub_trust_state; assert_state_unchanged WHAT compares with it.
mark_state() {
	STATE=$(hub_trust_state)
}
assert_state_unchanged() {
	assert_eq "$STATE" "$(hub_trust_state)" "the hub's store after $1"
}

# new_token FACILITY [ARGS...]: a token from the running hub in $TOKEN (its URL is $HUB_URL).
new_token() {
	local facility=$1
	shift
	run hub enroll-token --facility "$facility" --hub-url "$HUB_URL" "$@"
	assert_ok
	TOKEN=$OUT
	assert_match "$TOKEN" '^KR1\.[A-Za-z0-9_-]+$' "the token"
}

# enroll DIR NODE TOKEN [ARGS...]: `kiroku-agent enroll` into $T/DIR, through run.
enroll() {
	local dir=$1 node=$2 token=$3
	shift 3
	run agent "$dir" enroll "$token" --node "$node" "$@"
}

# curl_as NODE PATH [CURL ARGS...]: an HTTPS request to the hub with the certificate and key of the agent in
# $T/NODE_DIR given as CERT_DIR (default: a directory named like the node); sets RC, CODE and BODY.
curl_as() {
	local dir=$1 path=$2
	shift 2
	rm -f "$T/.body"
	run curl -sS --max-time 30 --cacert "$T/hub/ca.crt" --cert "$T/$dir/agent.crt" --key "$T/$dir/agent.key" \
		-o "$T/.body" -w '%{http_code}' "$@" "$HUB_URL$path"
	CODE=$OUT
	BODY=$(tr -d '\0' 2>/dev/null <"$T/.body" || true)
}

# curl_anon PATH [CURL ARGS...]: the same without a client certificate.
curl_anon() {
	local path=$1
	shift
	rm -f "$T/.body" "$T/.hdrs"
	run curl -sS --max-time 30 --cacert "$T/hub/ca.crt" -D "$T/.hdrs" -o "$T/.body" -w '%{http_code}' "$@" \
		"$HUB_URL$path"
	CODE=$OUT
	BODY=$(tr -d '\0' 2>/dev/null <"$T/.body" || true)
	HDRS=$(tr -d '\r' 2>/dev/null <"$T/.hdrs" || true)
}

# new_csr NAME: a P-256 key and a certificate request (DER) made by openssl: $T/NAME.key, $T/NAME.csr.
new_csr() {
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/$1.key" -subj "/CN=$1" \
		-outform DER -out "$T/$1.csr" 2>/dev/null || fail "openssl could not make a CSR"
}
