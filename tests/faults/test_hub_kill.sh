#!/usr/bin/env bash
# test_hub_kill.sh: the hub is killed with SIGKILL at FAULT_KILLS random instants (10 bounded, 50 long) while
# three agents of two facilities record and sync without pause, and is restarted at once on the same port.
# The kills rotate over three windows: a plain random instant; a hub that sleeps 50..400 ms inside its
# transaction after the merge and before the commit (KIROKU_TEST_SLEEP_BEFORE_COMMIT_MS: the kill lands in
# the merge); and one that sleeps as long after the commit and before the answer
# (KIROKU_TEST_SLEEP_AFTER_COMMIT_MS: the kill lands between the commit and the answer). Two agents of one
# facility also edit one shared record all the time, so the hub opens conflicts while it is being killed.
# Afterwards: invariants 1-3 (faults_lib.sh check_invariants).
set -euo pipefail
source "$(dirname "$0")/../e2e/lib.sh"
source "$(dirname "$0")/../e2e/sync_lib.sh"
source "$(dirname "$0")/faults_lib.sh"

# Text of about 2 KB per record, so that batches take the hub a moment to merge.
PAD=$(printf '%02000d' 0 | tr 0 y)

# worker DIR INDEX: records 1..4 incidents, sometimes edits the shared record, syncs; again, until $T/stop.
# Counts its syncs in $T/DIR.sync.{ok,fail}. Never fails the test itself (it runs in the background): what
# it did is checked at the end.
worker() {
	local dir=$1 idx=$2 i=0 n k rc
	RANDOM=$((FAULT_SEED + idx))
	while [[ ! -e "$T/stop" ]]; do
		i=$((i + 1))
		n=$((1 + RANDOM % 4))
		for ((k = 1; k <= n; k++)); do
			record_ok "$dir" "w$idx-$i-$k $PAD" || true
		done
		if [[ -n "${SHARED:-}" && $((RANDOM % 2)) == 0 ]]; then
			agent "$dir" edit "$SHARED" --set containment="$dir $i" >/dev/null 2>>"$T/$dir.edit.err" || true
		fi
		rc=0
		"$KIROKU_AGENT" --data-dir "$T/$dir" --hub-url "$HUB_URL" --timeout 5 sync >>"$T/$dir.sync.log" 2>&1 || rc=$?
		if [[ $rc == 0 ]]; then echo >>"$T/$dir.sync.ok"; else echo "$rc" >>"$T/$dir.sync.fail"; fi
		sleep 0.0$((RANDOM % 10))
	done
}

new_hub
new_agent n1 f1 a1
new_agent n2 f1 a2
new_agent n3 f2 a3
start_hub
HUB_LISTEN_PORT=$HUB_PORT

step "a shared record that a1 and a2 both edit"
SHARED=$(record a1 "共有の記録")
echo "$SHARED" >>"$T/a1.ids"
sync_agent a1
assert_ok
sync_agent a2
assert_ok
export SHARED
stop_hub

step "$FAULT_KILLS kills of the hub while three agents record and sync"
WORKERS=()
for i in 1 2 3; do
	worker "a$i" "$i" &
	WORKERS+=($!)
	track_pid $!
done
KILLS=0
KILLS_MERGE=0
KILLS_ANSWER=0
KILLS_PLAIN=0
ANSWERED=0
SKIPPED=0
for ((kill = 1; kill <= FAULT_KILLS; kill++)); do
	case $((kill % 3)) in
	0)
		start_hub
		KILLS_PLAIN=$((KILLS_PLAIN + 1))
		;;
	1)
		start_hub KIROKU_TEST_SLEEP_BEFORE_COMMIT_MS="$(rand_ms 50 400)"
		KILLS_MERGE=$((KILLS_MERGE + 1))
		;;
	2)
		start_hub KIROKU_TEST_SLEEP_AFTER_COMMIT_MS="$(rand_ms 50 400)"
		KILLS_ANSWER=$((KILLS_ANSWER + 1))
		;;
	esac
	sleep_ms "$(rand_ms 150 1500)"
	alive "$HUB_PID" || fail "the hub died by itself: $(tail -n 5 "$HUB_LOG")"
	kill_hub
	KILLS=$((KILLS + 1))
	ANSWERED=$((ANSWERED + $(hub_sync_lines | grep -c 'status=200' || true)))
	SKIPPED=$((SKIPPED + $(sum_field skipped "$(hub_sync_lines)" || true)))
done
touch "$T/stop"
for p in "${WORKERS[@]}"; do
	wait "$p" || fail "a worker failed (exit $?)"
done
echo "injected $KILLS hub kills ($KILLS_MERGE with a sleep in the merge, $KILLS_ANSWER between commit and answer," \
	"$KILLS_PLAIN at plain random instants); the hub answered $ANSWERED sync requests 200 between kills and skipped" \
	"$SKIPPED replayed changes (committed by a hub killed before its answer arrived)"
for d in a1 a2 a3; do
	echo "$d: $(wc -l <"$T/$d.ids") records made, syncs ok $(cat "$T/$d.sync.ok" 2>/dev/null | wc -l)," \
		"failed $(cat "$T/$d.sync.fail" 2>/dev/null | wc -l) (exit codes: $(sort "$T/$d.sync.fail" 2>/dev/null | uniq -c | tr -s ' \n' ' '))"
	# A sync may fail only because the hub went away (5: network). Anything else is a bug.
	if grep -qv '^5$' "$T/$d.sync.fail" 2>/dev/null; then
		grep -B2 -A2 'kiroku-agent:' "$T/$d.sync.log" | grep -v 'cannot be reached\|Could not connect\|Connection refused' | tail -n 20 >&2 || true
		fail "$d had a sync failure other than 'the hub cannot be reached'"
	fi
	if [[ -s "$T/$d.record.err" ]]; then
		fail "$d: a record command failed: $(head -n 3 "$T/$d.record.err")"
	fi
done

step "the hub comes back; every agent completes its sync"
start_hub
for round in 1 2; do
	for d in a1 a2 a3; do sync_until_done "$d" 120; done
done
CONFLICTS=$(hub conflicts --all --format tsv | wc -l)
echo "conflict entries at the hub: $CONFLICTS"
stop_hub
check_invariants f1:a1:n1 f1:a2:n2 f2:a3:n3
store_ok "$T/hub/hub.db" "the hub's store"
echo "PASS: $KILLS hub kills, nothing lost or duplicated"
