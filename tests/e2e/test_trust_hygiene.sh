#!/usr/bin/env bash
# test_trust_hygiene.sh: key and file hygiene, and the enrolment rate limit. The hub and the agent refuse to start
# when a private key is readable by others (mode 0644) or the data directory is open to others, naming the file
# and the chmod to run, and nothing is written; a burst of enrolment attempts with a wrong token is answered 403
# and then 429 (with Retry-After) for the same address, with the hub's store unchanged; after the wait it
# asks for, the address may enrol again.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/sync_lib.sh"
source "$(dirname "$0")/trust_lib.sh"

step "a hub and an enrolled agent"
new_hub
start_hub
new_token f1
enroll a1 n1 "$TOKEN"
assert_ok
record a1 "記録" >/dev/null
sync_agent a1
assert_ok
stop_hub

step "the agent refuses a private key with mode 0644, naming it"
chmod 644 "$T/a1/agent.key"
BEFORE=$(agent a1 status)
run agent a1 --hub-url "$HUB_URL" sync
assert_rc 1
assert_contains "$ERR" "the private key $T/a1/agent.key has mode 0644"
assert_contains "$ERR" "chmod 600 $T/a1/agent.key"
run agent a1 --hub-url "$HUB_URL" --sync-interval 5 run
assert_rc 1
assert_contains "$ERR" "$T/a1/agent.key has mode 0644"
assert_eq "$BEFORE" "$(agent a1 status)" "the agent's store"
chmod 600 "$T/a1/agent.key"

step "the agent refuses a data directory open to others"
chmod 755 "$T/a1"
run agent a1 --hub-url "$HUB_URL" sync
assert_rc 1
assert_contains "$ERR" "the data directory $T/a1 has mode 0755"
assert_contains "$ERR" "chmod 700 $T/a1"
chmod 700 "$T/a1"

step "the hub refuses to serve with a private key of mode 0644, naming it"
mark_state
for key in hub.key ca.key; do
	chmod 644 "$T/hub/$key"
	run "$KIROKU_HUB" --data-dir "$T/hub" serve --listen 127.0.0.1:0
	assert_rc 1
	assert_contains "$ERR" "the private key $T/hub/$key has mode 0644"
	assert_contains "$ERR" "chmod 600 $T/hub/$key"
	assert_not_contains "$OUT" "listening on"
	chmod 600 "$T/hub/$key"
done
chmod 750 "$T/hub"
run "$KIROKU_HUB" --data-dir "$T/hub" serve --listen 127.0.0.1:0
assert_rc 1
assert_contains "$ERR" "chmod 700 $T/hub"
chmod 700 "$T/hub"
assert_state_unchanged "the refused starts"

step "a burst of enrolment attempts: 403, then 429 for the address"
start_hub
new_token f1
GOOD_TOKEN=$TOKEN
new_csr burst
trust_py request "$(printf 'ab%.0s' {1..24})" n7 "$T/burst.csr" "$T/burst.req"
mark_state
declare -A SEEN=()
RETRY=""
for i in $(seq 1 25); do
	curl_anon /v1/enroll -H 'Content-Type: application/cbor' --data-binary @"$T/burst.req"
	assert_ok
	SEEN[$CODE]=$((${SEEN[$CODE]:-0} + 1))
	if [[ $CODE == 429 ]]; then
		RETRY=$(sed -n 's/^Retry-After: *//Ip' <<<"$HDRS")
		assert_contains "$BODY" "too many failed enrolment attempts"
	fi
done
echo "answers: 403 x ${SEEN[403]:-0}, 429 x ${SEEN[429]:-0}"
((${SEEN[403]:-0} >= 10 && ${SEEN[403]:-0} <= 12)) || fail "expected about 10 answers 403 before the limit, got ${SEEN[403]:-0}"
((${SEEN[429]:-0} >= 13)) || fail "expected the rest answered 429, got ${SEEN[429]:-0}"
[[ "$RETRY" =~ ^[0-9]+$ ]] || fail "the 429 should carry Retry-After, got [$RETRY]"
wait_for 10 "the hub's log of the limit" log_has "$HUB_LOG" 'enrol addr=127\.0\.0\.1:[0-9]+ status=429 reason=rate limited'
assert_state_unchanged "a burst of enrolment attempts"
# After the wait the last 429 asked for, the address may try again: the good token works.
sleep "$RETRY"
enroll a2 n2 "$GOOD_TOKEN"
assert_ok
assert_contains "$OUT" "enrolled node n2 of facility f1"
stop_hub
echo "PASS"
