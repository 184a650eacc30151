#!/usr/bin/env bash
# test_disk_full.sh: a full disk at the hub, then at an agent, on real size-limited file systems: the data
# directories are tmpfs mounts the test makes (as root; otherwise inside a user and mount namespace when the
# system allows one; otherwise the test is skipped, exit 77).
#   - Hub: rounds until FAULT_DISK_ROUNDS full-disk events (3 bounded, 10 long): the agent has 30 new records
#     (~0.6 MB); the hub's WAL file is truncated and its file system filled up to a random slack of 0..192 KiB;
#     the sync is answered 503 with a reason that says the disk is full and a Retry-After header (when the
#     slack left room for the merge, the round has no event); nothing is half-applied (the hub's records,
#     journal and node list are as before, the store passes integrity_check); the hub keeps running; space is
#     freed and the next sync succeeds with the same hub process. Round 2 uses a `run` daemon, which must retry
#     and empty its outbox by itself.
#   - Agent: its file system is filled; `record` fails with exit 3 and says the disk is full; its store is
#     intact (same dump, quick_check); a sync that receives changes fails cleanly too; space is freed and it
#     records and syncs again.
# Afterwards: invariants 1-3.
set -euo pipefail
if [[ $(id -u) != 0 && -z "${FAULT_IN_USERNS:-}" ]]; then
	if unshare --user --map-root-user --mount true 2>/dev/null; then
		FAULT_IN_USERNS=1 exec unshare --user --map-root-user --mount bash "$0" "$@"
	fi
	echo "SKIP: mounting a size-limited tmpfs needs root or user namespaces"
	exit 77
fi
source "$(dirname "$0")/../e2e/lib.sh"
source "$(dirname "$0")/../e2e/sync_lib.sh"
source "$(dirname "$0")/faults_lib.sh"

MOUNTS=()
# mount_small DIR MIB: a tmpfs of MIB MiB, mode 0700, on $T/DIR.
mount_small() {
	mkdir -p "$T/$1"
	if ! mount -t tmpfs -o "size=${2}m,mode=0700" kiroku-fault "$T/$1" 2>"$T/mount.err"; then
		echo "SKIP: cannot mount a tmpfs here: $(cat "$T/mount.err")"
		exit 77
	fi
	MOUNTS+=("$T/$1")
}
unmount_all() {
	local m
	for m in "${MOUNTS[@]}"; do umount -l "$m" 2>/dev/null || true; done
	MOUNTS=()
}
# The processes are killed and $T removed by sync_finish; the mounts go first (lazily: a killed hub may still
# hold files there for a moment).
trap 'rc=$?; set +e; unmount_all; (exit $rc); sync_finish' EXIT

# fill DIR SLACK_KIB: fills the file system of $T/DIR, then frees SLACK_KIB KiB of it again.
fill() {
	dd if=/dev/zero of="$T/$1/filler" bs=64k status=none 2>/dev/null || true
	if (($2 > 0)); then
		truncate -s "-$2K" "$T/$1/filler"
	fi
}
free_space() {
	rm -f "$T/$1/filler"
}

BIG=$(printf '%07000d' 0 | tr 0 d)
# big_records DIR N TAG: N records of ~21 KB (three text fields of 7,000 bytes) on the agent in $T/DIR.
big_records() {
	local i
	for ((i = 0; i < $2; i++)); do
		record_ok "$1" "$3 $i $BIG" --set containment="$BIG" --set recurrence_prevention="$BIG" ||
			fail "record on $1 failed: $(tail -n 2 "$T/$1.record.err")"
	done
}

# hub_state: what must not change when a merge fails: the records of f1, the journal's last position, the
# node list's high-water marks.
hub_state() {
	hub dump --facility f1
	sql "$T/hub/hub.db" 'SELECT max(id) FROM journal; SELECT node, last_seq FROM nodes ORDER BY node'
}

# Room for 30 rounds of 30 records (each in the records and in the journal) and the WAL.
mount_small hub 96
new_hub
new_agent n1 f1 a1
start_hub
HUB_FIRST_PID=$HUB_PID
big_records a1 2 base
sync_agent a1
assert_ok

EVENTS=0
# Rounds until FAULT_DISK_ROUNDS full-disk events (a round whose slack left room for the merge has none), at
# most three times as many rounds.
for ((r = 1; EVENTS < FAULT_DISK_ROUNDS && r <= 3 * FAULT_DISK_ROUNDS; r++)); do
	step "hub disk full, round $r (events so far: $EVENTS of $FAULT_DISK_ROUNDS)"
	big_records a1 30 "round$r"
	SLACK=0
	((r == 1)) || SLACK=$((RANDOM % 192))
	# The hub's WAL file keeps the size of its largest transaction, so a merge of a size seen before needs no
	# new space. A truncating checkpoint (as after a quiet night) makes the next merge grow the file again.
	sqlite3 -batch "$T/hub/hub.db" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
	fill hub "$SLACK"
	BEFORE=$(hub_state)
	DAEMON=0
	((r != 2)) || DAEMON=1
	if ((DAEMON)); then
		"$KIROKU_AGENT" --data-dir "$T/a1" --hub-url "$HUB_URL" --sync-interval 5 --web-port 0 run 2>"$T/a1.daemon.log" &
		DPID=$!
		track_pid "$DPID"
		daemon_tried() { log_has "$T/a1.daemon.log" 'sync (ok|failed)'; }
		wait_for 30 "the daemon's first sync" daemon_tried
		if log_has "$T/a1.daemon.log" 'sync failed'; then
			assert_contains "$(cat "$T/a1.daemon.log")" "disk is full" "the daemon's log"
			# It waits as long as the hub's Retry-After asked (30 s, spread up to x1.4), not its own 5 s.
			log_has "$T/a1.daemon.log" 'sync failed \(attempt 1, next in (3[0-9]|4[0-2])s\).*tried again in 30 s' ||
				fail "the daemon did not wait as the hub's Retry-After asked: $(grep 'sync failed' "$T/a1.daemon.log")"
			RC=1
		else
			RC=0
		fi
	else
		sync_agent a1
	fi
	if [[ $RC != 0 ]]; then
		EVENTS=$((EVENTS + 1))
		((DAEMON)) || assert_contains "$ERR" "HTTP 503" "the agent's message"
		((DAEMON)) || assert_contains "$ERR" "disk is full" "the agent's message"
		((DAEMON)) || assert_contains "$ERR" "tried again in 30 s" "the agent's message"
		log_has "$HUB_LOG" 'status=503 .*disk is full' || fail "the hub did not log a 503 saying the disk is full"
		# The answer, seen with curl: 503, Retry-After, the reason.
		rm -f "$T/batch.krcs"
		run agent a1 export-changes "$T/batch.krcs"
		assert_ok
		curl_sync n1 "$T/batch.krcs"
		assert_eq 503 "$CODE" "HTTP status of a sync on a full disk"
		assert_contains "$HDRS" "Retry-After: " "the 503's headers"
		assert_contains "$BODY" "disk is full" "the 503's reason"
		echo "the hub answered: $BODY"
		assert_eq "$BEFORE" "$(hub_state)" "the hub's records, journal and node list after the failed merge"
		store_ok "$T/hub/hub.db" "the hub's store on a full disk"
		alive "$HUB_PID" || fail "the hub died on a full disk"
		run curl -sS --max-time 10 --cacert "$T/hub/ca.crt" --cert "$T/certs/n1.crt" --key "$T/certs/n1.key" \
			"$HUB_URL/v1/health"
		assert_ok
	else
		echo "round $r: the slack of $SLACK KiB was enough for the merge (no full-disk event)"
		((r != 1)) || fail "the hub merged on a file system filled to the last byte"
	fi
	free_space hub
	if ((DAEMON)); then
		a1_drained() { [[ "$(outbox a1)" == 0 ]]; }
		wait_for 60 "the daemon to empty a1's outbox after space was freed" a1_drained
		kill -TERM "$DPID"
		wait "$DPID" || fail "the daemon did not stop cleanly"
		((RC == 0)) || log_has "$T/a1.daemon.log" 'hub reachable again' || fail "the daemon did not log its recovery"
	fi
	sync_until_done a1 60
	assert_eq "$HUB_FIRST_PID" "$HUB_PID" "the hub process (it recovers without a restart)"
	alive "$HUB_PID" || fail "the hub is not running after the disk was freed"
done
echo "hub: $EVENTS full-disk events in $((r - 1)) rounds, each answered 503 with nothing applied, each recovered without a restart"
((EVENTS >= FAULT_DISK_ROUNDS)) || fail "only $EVENTS full-disk events at the hub in $((r - 1)) rounds"

step "agent disk full: record fails clearly and the store stays intact"
mount_small a2 96
new_agent n2 f1 a2
big_records a2 2 a2base
sync_agent a2
assert_ok
# Changes that a2 will have to receive while its disk is full.
big_records a1 10 "for-a2"
sync_agent a1
assert_ok
SNAP=$(agent a2 dump)
# Rounds 1-3: another process (the web form, as the daemon would) holds the store open, so SQLite has its
# -shm and -wal files and the record fails where it writes. Rounds 4-5: nobody holds it, and opening it fails
# already (SQLite cannot make its -shm file).
"$KIROKU_AGENT" --data-dir "$T/a2" web --web-port 0 >"$T/a2.web.out" 2>"$T/a2.web.log" &
WEB_PID=$!
track_pid "$WEB_PID"
web_up() { grep -q '^listening on' "$T/a2.web.out"; }
wait_for 30 "a2's web form" web_up
fill a2 0
AGENT_EVENTS=0
RECORDED=0
for i in 1 2 3 4 5; do
	if ((i == 4)); then
		kill -TERM "$WEB_PID"
		wait "$WEB_PID" || true
	fi
	run agent a2 record incident --set category=紛失 --set occurred_at=2026-11-20T15:10 --set description="full $i $BIG" \
		--set containment="$BIG" --set recurrence_prevention="$BIG"
	if [[ $RC == 0 ]]; then
		# SQLite found room in pages it already had: the record is real, keep it.
		echo "$OUT" >>"$T/a2.ids"
		RECORDED=1
		continue
	fi
	AGENT_EVENTS=$((AGENT_EVENTS + 1))
	assert_rc 3
	assert_contains "$ERR" "disk is full" "record's message on a full disk"
	echo "record on a full disk: $ERR"
done
((AGENT_EVENTS > 0)) || fail "record never failed on a full disk"
step "agent disk full: a sync that brings changes fails cleanly"
sync_agent a2
if [[ $RC != 0 ]]; then
	AGENT_EVENTS=$((AGENT_EVENTS + 1))
	assert_rc 3
	assert_contains "$ERR" "disk is full" "sync's message on a full disk"
	echo "sync on a full disk: $ERR"
fi
free_space a2
store_ok "$T/a2/agent.db" "a2's store after the failures on a full disk"
((RECORDED)) || assert_eq "$SNAP" "$(agent a2 dump)" "a2's records after the failures on a full disk"
big_records a2 1 "after"
sync_until_done a2 60
echo "agent: $AGENT_EVENTS full-disk events (record and sync), each a clear failure with the store intact"

step "invariants"
for d in a1 a2 a1; do sync_until_done "$d" 60; done
stop_hub
check_invariants f1:a1:n1 f1:a2:n2
echo "PASS: $EVENTS full-disk events at the hub and $AGENT_EVENTS at the agent, nothing lost or half-applied"
