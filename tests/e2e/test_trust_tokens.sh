#!/usr/bin/env bash
# test_trust_tokens.sh: the operator's view of enrolment tokens, end to end. `enroll-token list` shows the open
# tokens by their id (never the secret, nor the whole hash), facility, issuer and expiry; `--all` adds used,
# expired and cancelled ones with their state. `enroll-token cancel` cancels an open token by its id or by the
# token itself: a PC presenting it is then refused (HTTP 403, "cancelled") and the hub's store is left exactly as
# it was (no node, no certificate, no audit entry); cancelling again, an unknown id, a used or an expired token
# fails with the reason and the exit code of the other commands. With no token open any more, clients without a
# certificate are refused at the handshake again. The audit log records each cancellation and still verifies.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/sync_lib.sh"
source "$(dirname "$0")/trust_lib.sh"

DB="$T/hub/hub.db"

# token_id: the id in the message of the last enroll-token ($ERR).
token_id() {
	sed -n 's/^enrolment token \([0-9a-f]\{16\}\) for facility .*/\1/p' <<<"$ERR"
}

# list_row ID [ARGS...]: the TSV row of token ID in `enroll-token list ARGS --format tsv` ("" if absent).
list_row() {
	local id=$1
	shift
	run hub enroll-token list "$@" --format tsv
	assert_ok
	grep "^$id"$'\t' <<<"$OUT" || true
}

step "help: enroll-token list and cancel, beside enroll-token"
for cmd in "enroll-token list" "enroll-token cancel"; do
	# shellcheck disable=SC2086
	run "$KIROKU_HUB" $cmd --help
	assert_ok
	assert_contains "$OUT" "Usage: kiroku-hub $cmd" "$cmd --help"
	assert_contains "$OUT" "Example:" "$cmd --help"
done
run "$KIROKU_HUB" --help
assert_contains "$OUT" "enroll-token cancel" "the list of commands"

new_hub
start_hub

step "enroll-token list: the open tokens, by id, never the secret"
run hub enroll-token list
assert_ok
assert_lines 1 "$OUT" "the list of no tokens (its header)"
assert_contains "$ERR" "no open enrolment tokens"
new_token f1 --name "光が丘小学校"
TOKEN1=$TOKEN ID1=$(token_id)
new_token f2 --name "若葉中学校"
TOKEN2=$TOKEN ID2=$(token_id)
new_token f1
TOKEN3=$TOKEN ID3=$(token_id)
new_token f3 --expires 1s
ID4=$(token_id)
for id in "$ID1" "$ID2" "$ID3" "$ID4"; do assert_match "$id" '^[0-9a-f]{16}$' "a token id"; done
SECRET1=$(trust_py secret "$TOKEN1")
HASH1=$(printf '%s' "$SECRET1" | xxd -r -p | sha256sum | cut -d' ' -f1)
assert_eq "${HASH1:0:16}" "$ID1" "the id: the start of the secret's SHA-256"
sleep 1.2 # token 4 expires
run hub enroll-token list
assert_ok
LIST=$OUT
assert_lines 4 "$LIST" "the open tokens and the header"
assert_match "$(sed -n 1p <<<"$LIST")" '^TOKEN +FACILITY +CREATED +BY +EXPIRES +STATE$' "the header"
assert_match "$(grep "^$ID1" <<<"$LIST")" "^$ID1  f1 \\(光が丘小学校\\) +20[0-9-]{8} [0-9:]{5} UTC  operator:.+ +20[0-9-]{8} [0-9:]{5} UTC  open$" "token 1's row"
assert_contains "$LIST" "$ID2  f2 (若葉中学校)"
assert_contains "$LIST" "$ID3  f1 "
assert_not_contains "$LIST" "$ID4" "the open tokens (token 4 has expired)"
run hub enroll-token list --all --format tsv
assert_ok
ALL=$OUT
for t in "$TOKEN1" "$TOKEN2" "$TOKEN3"; do
	SECRET=$(trust_py secret "$t")
	HASH=$(printf '%s' "$SECRET" | xxd -r -p | sha256sum | cut -d' ' -f1)
	for text in "$LIST" "$ALL"; do
		assert_not_contains "$text" "$SECRET" "the list (the secret)"
		assert_not_contains "$text" "${HASH:16}" "the list (the hash beyond the id)"
		assert_not_contains "$text" "${t:4:40}" "the list (the token)"
	done
done
assert_match "$(grep "^$ID1" <<<"$ALL")" $'^'"$ID1"$'\tf1\t光が丘小学校\t[1-9][0-9]+\toperator:[^\t]+\t[1-9][0-9]+\topen\t0\t\t\t0\t\t$' "token 1's TSV row"
run hub enroll-token list --format json
assert_rc 1
assert_contains "$ERR" "--format is table or tsv"

step "a token used by an enrolment is listed as used, by which node"
enroll a1 n1 "$TOKEN1"
assert_ok
assert_eq "" "$(list_row "$ID1")" "the used token among the open ones"
assert_match "$(list_row "$ID1" --all)" $'\tused\t[1-9][0-9]+\tn1\t[0-9a-f]+\t0\t\t$' "the used token's row"
run hub enroll-token list --all
assert_match "$(grep "^$ID1" <<<"$OUT")" "used by n1 20[0-9-]{8} [0-9:]{5} UTC$" "the used token in the table"

step "enroll-token cancel ID --reason: the token leaves the open list, the audit log has it"
run hub enroll-token cancel "$ID2" --reason "PC not installed"
assert_ok
assert_eq "enrolment token $ID2 for facility f2 cancelled; enrolment with it is refused from now on" "$OUT" \
	"what cancel prints"
assert_eq "" "$(list_row "$ID2")" "the cancelled token among the open ones"
assert_match "$(list_row "$ID2" --all)" $'\tcancelled\t0\t\t\t[1-9][0-9]+\toperator:[^\t]+\tPC not installed$' \
	"the cancelled token's row"
run hub enroll-token list --all
assert_match "$(grep "^$ID2" <<<"$OUT")" "CANCELLED 20[0-9-]{8} [0-9:]{5} UTC by operator:[^ ]+: PC not installed$" \
	"the cancelled token in the table"
run hub audit list
assert_match "$(tail -n 1 <<<"$OUT")" $'\toperator:[^\t]+\ttoken.cancel\ttoken='"$ID2"' facility=f2 name=若葉中学校 expires=[0-9T:Z-]+ reason=PC not installed'$'\t''[0-9a-f]{64}$' \
	"the audit entry of the cancellation"

step "a cancelled token is refused at enrolment (another token open, so the hub answers why); nothing is written"
mark_state
CANCEL_ROW=$(sqlite3 -readonly "$DB" "SELECT cancelled_ms, cancelled_by, cancel_reason FROM enroll_tokens WHERE lower(hex(hash)) LIKE '$ID2%'")
enroll a2 n2 "$TOKEN2"
assert_rc 4
assert_contains "$ERR" "HTTP 403"
assert_contains "$ERR" "the enrolment token $ID2 was cancelled by the hub's operator at"
assert_contains "$ERR" "ask the operator for a new one"
assert_not_contains "$ERR" "PC not installed" "the agent's message (the operator's reason stays at the hub)"
wait_for 10 "the hub's log of the cancelled token" log_has "$HUB_LOG" "enrol node=n2 .*status=403 reason=.*$ID2 was cancelled"
assert_state_unchanged "a cancelled token"
assert_eq 0 "$(sqlite3 -readonly "$DB" "SELECT (SELECT count(*) FROM nodes WHERE node = 'n2') + (SELECT count(*) FROM certs WHERE node = 'n2')")" \
	"nodes and certificates of n2"
assert_eq "$CANCEL_ROW" "$(sqlite3 -readonly "$DB" "SELECT cancelled_ms, cancelled_by, cancel_reason FROM enroll_tokens WHERE lower(hex(hash)) LIKE '$ID2%'")" \
	"the cancellation"
[[ ! -e "$T/a2/agent.crt" && ! -e "$T/a2/agent.key" ]] || fail "a refused enrolment left a key or certificate: $(ls "$T/a2")"
# The same request as raw HTTP: 403 with the reason.
new_csr n2
trust_py request "$(trust_py secret "$TOKEN2")" n2 "$T/n2.csr" "$T/n2.req"
curl_anon /v1/enroll -H 'Content-Type: application/cbor' --data-binary @"$T/n2.req"
assert_ok
assert_eq 403 "$CODE" "HTTP status of a cancelled token"
assert_contains "$BODY" "$ID2 was cancelled"
assert_state_unchanged "a cancelled token, sent by hand"

step "cancelling again, an unknown id, a used or an expired token fails and changes nothing"
mark_state
run hub enroll-token cancel "$ID2"
assert_rc 4
assert_contains "$ERR" "kiroku-hub: the enrolment token $ID2 was already cancelled (at "
assert_eq "" "$OUT" "stdout of a refused cancel"
run hub enroll-token cancel 0123456789abcdef
assert_rc 2
assert_contains "$ERR" "no enrolment token 0123456789abcdef at this hub (see 'kiroku-hub enroll-token list --all')"
run hub enroll-token cancel "$ID1"
assert_rc 4
assert_contains "$ERR" "was already used (by node \"n1\""
assert_contains "$ERR" "kiroku-hub node revoke n1"
run hub enroll-token cancel "$ID4"
assert_rc 4
assert_contains "$ERR" "already expired at"
run hub enroll-token cancel not-an-id
assert_rc 2
assert_contains "$ERR" "is not an enrolment token id"
run hub enroll-token cancel
assert_rc 1
assert_state_unchanged "refused cancellations"

step "list --all: every state"
run hub enroll-token list --all --format tsv
assert_ok
assert_eq "$ID1 used
$ID2 cancelled
$ID3 open
$ID4 expired" "$(cut -f1,7 <<<"$OUT" | tr '\t' ' ')" "the tokens and their states, oldest first"

step "cancelling the last open token, given as the token itself, closes enrolment"
run hub enroll-token cancel "$TOKEN3"
assert_ok
assert_contains "$OUT" "enrolment token $ID3 for facility f1 cancelled"
run hub enroll-token list --format tsv
assert_ok
assert_eq "" "$OUT" "the open tokens"
mark_state
curl_anon /v1/ca
((RC == 35 || RC == 56)) || fail "GET /v1/ca without a certificate and no token open: curl should fail the handshake, got $RC"
enroll a3 n3 "$TOKEN3"
assert_rc 5
assert_state_unchanged "a cancelled token when no token is open"

step "the audit log verifies and lists the cancellations"
run hub audit verify
assert_ok
assert_contains "$OUT" "audit log intact: 7 entries"
run hub audit list
assert_ok
assert_eq "token.issue token.issue token.issue token.issue node.enrol token.cancel token.cancel" \
	"$(cut -f4 <<<"$OUT" | tr '\n' ' ' | sed 's/ $//')" "the actions in order"
assert_match "$(tail -n 1 <<<"$OUT")" $'\ttoken.cancel\ttoken='"$ID3"' facility=f1 name= expires=[0-9T:Z-]+ reason='$'\t' \
	"the last cancellation"

stop_hub
echo "PASS"
