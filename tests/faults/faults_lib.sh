# faults_lib.sh: helpers of the fault-injection suite (tests/faults/test_*.sh), sourced after tests/e2e/lib.sh and
# tests/e2e/sync_lib.sh.
#
# Bounded or long: the counts of injected faults come from the environment. FAULT_LONG=1 (tests/faults/run.sh
# --long) raises the defaults to the long run's; any FAULT_* variable set explicitly wins over both.
#
# The invariants (docs/design.md, DESIGN.md 1-3) are checked by check_invariants at the end of each test:
#   1. every record whose `record` command succeeded (its id was printed; kept in $T/DIR.ids) is at the hub;
#      the hub journaled every change 1..N of every agent exactly once (no gap, no overlap), N being the agent's
#      last change; every agent's outbox is empty and its acknowledged change is N;
#   2. (replays) the journal check above: a change delivered twice was journaled once;
#   3. every agent holds exactly the hub's records of its facility, field by field with versions;
# and every store passes PRAGMA quick_check (the hub: integrity_check).

if [[ "${FAULT_LONG:-0}" == 1 ]]; then
	: "${FAULT_KILLS:=50}" "${FAULT_AGENT_KILLS:=50}" "${FAULT_NET_ROUNDS:=80}" "${FAULT_DISK_ROUNDS:=10}"
else
	: "${FAULT_KILLS:=10}" "${FAULT_AGENT_KILLS:=12}" "${FAULT_NET_ROUNDS:=12}" "${FAULT_DISK_ROUNDS:=3}"
fi
export FAULT_KILLS FAULT_AGENT_KILLS FAULT_NET_ROUNDS FAULT_DISK_ROUNDS
# The random draws (kill instants, cut points) are reproducible with FAULT_SEED.
: "${FAULT_SEED:=$$}"
RANDOM=$FAULT_SEED
echo "fault suite: seed $FAULT_SEED (FAULT_SEED=$FAULT_SEED reproduces the draws), long=${FAULT_LONG:-0}"

FAULTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# rand_ms LO HI: a random whole number of milliseconds in [LO, HI].
rand_ms() {
	echo $(($1 + RANDOM % ($2 - $1 + 1)))
}

# sleep_ms MS
sleep_ms() {
	sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"
}

# sql DB QUERY: sqlite3 on a store (read-only, with the WAL, while its owner may be running).
sql() {
	sqlite3 -readonly -batch -noheader "$1" "$2"
}

# store_ok DB WHAT: the store passes PRAGMA quick_check.
store_ok() {
	local got
	got=$(sql "$1" 'PRAGMA quick_check' 2>&1) || true
	[[ "$got" == ok ]] || fail "$2: quick_check of $1 says: $got"
}

# record_ok DIR DESCRIPTION [ARGS...]: records an incident on $T/DIR; on success appends its id to $T/DIR.ids.
# Returns the command's exit code (does not fail the test).
record_ok() {
	local dir=$1 desc=$2 id rc=0
	shift 2
	id=$(record "$dir" "$desc" "$@" 2>>"$T/$dir.record.err") || rc=$?
	if [[ $rc == 0 ]]; then
		[[ "$id" =~ ^[0-9A-Z]{26}$ ]] || fail "record on $dir printed [$id] instead of an id"
		echo "$id" >>"$T/$dir.ids"
	fi
	return $rc
}

# sync_until_done DIR [SECONDS] [URL]: runs `kiroku-agent sync` until it succeeds with an empty outbox.
sync_until_done() {
	local dir=$1 secs=${2:-60} url=${3:-$HUB_URL} deadline
	deadline=$(($(now_ms) + secs * 1000))
	while :; do
		run agent "$dir" --hub-url "$url" --timeout 5 sync
		if [[ $RC == 0 && "$OUT" == *"outbox empty"* ]]; then
			return 0
		fi
		(($(now_ms) < deadline)) || fail "$dir did not complete a sync within ${secs}s (last exit $RC)"
		sleep 0.2
	done
}

# meta DIR KEY: a meta value of the agent's store.
meta() {
	sql "$T/$1/agent.db" "SELECT value FROM meta WHERE key = '$2'"
}

# check_journal: the hub journaled each change of each node exactly once: per origin, the journal's ranges
# run 1..last_seq with no gap and no overlap, n matches each range, and the node list's high-water mark is the
# last of them.
check_journal() {
	local bad
	bad=$(sql "$T/hub/hub.db" "
		WITH j AS (SELECT origin, first_seq, last_seq, n,
		                  LAG(last_seq, 1, 0) OVER (PARTITION BY origin ORDER BY first_seq) AS prev
		           FROM journal WHERE origin IN (SELECT node FROM nodes))
		SELECT 'range ' || origin || ' ' || first_seq || '..' || last_seq || ' after ' || prev FROM j
		 WHERE first_seq != prev + 1 OR n != last_seq - first_seq + 1
		UNION ALL
		SELECT 'node ' || n.node || ' last_seq ' || n.last_seq || ' journal up to ' || ifnull(max(j.last_seq), 0)
		  FROM nodes n LEFT JOIN journal j ON j.origin = n.node GROUP BY n.node
		HAVING ifnull(max(j.last_seq), 0) != n.last_seq")
	[[ -z "$bad" ]] || fail "the hub's journal is not each change exactly once:
$bad"
}

# check_agent_done DIR NODE: the agent's outbox is empty, its last change is acknowledged, and the hub's
# high-water mark for NODE is the agent's last change.
check_agent_done() {
	local dir=$1 node=$2 last acked hub_last out
	last=$(meta "$dir" last_seq)
	acked=$(meta "$dir" acked)
	out=$(sql "$T/$dir/agent.db" 'SELECT count(*) FROM outbox')
	hub_last=$(sql "$T/hub/hub.db" "SELECT last_seq FROM nodes WHERE node = '$node'")
	[[ "$out" == 0 ]] || fail "$dir's outbox still holds $out changes"
	[[ "${acked:-0}" == "${last:-0}" ]] || fail "$dir: acknowledged $acked but made $last changes"
	[[ "${hub_last:-0}" == "${last:-0}" ]] || fail "$dir made $last changes, the hub has up to ${hub_last:-none} of $node"
}

# check_ids_at_hub DIR: every id the agent's `record` printed is a record at the hub, and at the agent.
check_ids_at_hub() {
	local dir=$1 f="$T/$1.ids" hub_ids agent_ids missing n
	[[ -s "$f" ]] || return 0
	hub_ids=$(hub dump | grep -oE '^[0-9A-Z]{26}' | sort -u)
	agent_ids=$(agent "$dir" dump | grep -oE '^[0-9A-Z]{26}' | sort -u)
	missing=$(sort -u "$f" | comm -23 - <(echo "$hub_ids"))
	n=$(sort -u "$f" | wc -l)
	[[ -z "$missing" ]] || fail "records of $dir whose record command succeeded are missing at the hub:
$(head -n 5 <<<"$missing")"
	missing=$(sort -u "$f" | comm -23 - <(echo "$agent_ids"))
	[[ -z "$missing" ]] || fail "records of $dir whose record command succeeded are missing on $dir itself"
	echo "$dir: all $n records whose record command succeeded are at the hub"
}

# check_invariants FACILITY:DIR:NODE ...: the checks listed at the top, for these agents.
check_invariants() {
	local spec dir node facility
	local got
	got=$(sql "$T/hub/hub.db" 'PRAGMA integrity_check' 2>&1) || true
	[[ "$got" == ok ]] || fail "the hub's store fails integrity_check: $got"
	check_journal
	for spec in "$@"; do
		IFS=: read -r facility dir node <<<"$spec"
		store_ok "$T/$dir/agent.db" "$dir's store"
		check_agent_done "$dir" "$node"
		check_ids_at_hub "$dir"
		assert_same_state "$dir" "$facility"
	done
	echo "invariants hold: each change at the hub exactly once, nothing acknowledged lost, replicas converge"
}

# start_proxy TARGET_PORT NAME: starts faultproxy.py in front of 127.0.0.1:TARGET_PORT, controlled by
# $T/NAME.control ("pass" at first), counting in $T/NAME.stats. Sets PROXY_PID and PROXY_URL.
start_proxy() {
	local port=$1 name=$2 out="$T/$2.out"
	echo pass >"$T/$name.control"
	: >"$out"
	"$PY3" "$FAULTS_DIR/faultproxy.py" --target "127.0.0.1:$port" --control "$T/$name.control" \
		--stats "$T/$name.stats" --seed "$FAULT_SEED" >"$out" 2>"$T/$name.log" &
	PROXY_PID=$!
	track_pid "$PROXY_PID"
	local deadline=$(($(now_ms) + 15000))
	until grep -q '^listening on ' "$out"; do
		alive "$PROXY_PID" || fail "the fault proxy exited: $(cat "$T/$name.log")"
		(($(now_ms) < deadline)) || fail "the fault proxy did not start within 15 s"
		sleep 0.05
	done
	PROXY_URL="https://127.0.0.1:$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$out")"
}

# proxy_stat NAME KEY: a count from the proxy's stats ("connections", "injected.cut", "drawn.pass", ...).
proxy_stat() {
	"$PY3" -c 'import json,sys
d = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): d = d[k]
print(d)' "$T/$1.stats" "$2"
}
