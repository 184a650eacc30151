#!/usr/bin/env bash
# test_network.sh: agents talk to the hub through a fault proxy on loopback (tests/faults/faultproxy.py, TCP
# level: TLS passes through it) that, per connection, forwards faithfully, delays every chunk, cuts the agent's
# bytes mid-request (mid-body mostly), truncates the hub's answer, or stalls the connection for longer than the
# agent's 3 s timeout.
#   - FAULT_NET_ROUNDS rounds (12 bounded, 80 long) of: two agents record 1..3 records of ~6 KB and run
#     `kiroku-agent sync` through the proxy. A sync may fail only with exit 5 (the network); nothing else.
#   - a `kiroku-agent run` daemon syncs through the proxy while faults go on and records keep coming; then the
#     network heals (the proxy forwards faithfully) and the daemon must empty its outbox by itself.
# Afterwards: invariants 1-3, and the counts of faults that acted. FAULT_PROXY_WEIGHTS (e.g. "cut=1 stall=1",
# see faultproxy.py) narrows the rounds' faults to some kinds.
set -euo pipefail
source "$(dirname "$0")/../e2e/lib.sh"
source "$(dirname "$0")/../e2e/sync_lib.sh"
source "$(dirname "$0")/faults_lib.sh"

PAD=$(printf '%06000d' 0 | tr 0 n)

new_hub
new_agent n1 f1 a1
new_agent n2 f1 a2
start_hub
start_proxy "$HUB_PORT" net
echo "faults ${FAULT_PROXY_WEIGHTS:-}" >"$T/net.control"

# net_sync DIR: one sync through the proxy; counts the outcome; fails the test on an exit other than 0 or 5.
SYNC_OK=0
SYNC_FAILED=0
net_sync() {
	local dir=$1
	local t0=$(now_ms)
	run agent "$dir" --hub-url "$PROXY_URL" --timeout 3 sync
	echo "sync $dir: exit $RC after $(($(now_ms) - t0)) ms${ERR:+: ${ERR:0:160}}"
	case $RC in
	0) SYNC_OK=$((SYNC_OK + 1)) ;;
	5) SYNC_FAILED=$((SYNC_FAILED + 1)) ;;
	*) fail "a sync through the fault proxy failed with exit $RC (only 5, the network, is expected)" ;;
	esac
}

step "$FAULT_NET_ROUNDS rounds of records and syncs through the fault proxy"
for ((r = 1; r <= FAULT_NET_ROUNDS; r++)); do
	for d in a1 a2; do
		n=$((1 + RANDOM % 3))
		for ((i = 0; i < n; i++)); do
			record_ok "$d" "net $r $i $PAD" || fail "record failed: $(tail -n 2 "$T/$d.record.err")"
		done
		net_sync "$d"
	done
done
echo "syncs through the proxy: $SYNC_OK succeeded, $SYNC_FAILED failed on a network fault (exit 5)"

step "a daemon syncs through the faults, and recovers by itself when the network heals"
# Every connection of this phase gets a fault early on (in the handshake or the first request), until the
# network heals.
echo "faults cut=1 truncate=1 stall=1 limit=100-800" >"$T/net.control"
"$KIROKU_AGENT" --data-dir "$T/a1" --hub-url "$PROXY_URL" --timeout 3 --sync-interval 5 --web-port 0 run \
	2>"$T/a1.daemon.log" &
DPID=$!
track_pid "$DPID"
for ((i = 0; i < 12; i++)); do
	record_ok a1 "daemon $i $PAD" || fail "record failed: $(tail -n 2 "$T/a1.record.err")"
	sleep 0.5
done
echo pass >"$T/net.control"
a1_drained() { [[ "$(outbox a1)" == 0 ]]; }
wait_for 90 "the daemon to empty a1's outbox once the network healed" a1_drained
kill -TERM "$DPID"
wait "$DPID" || fail "the daemon did not stop cleanly"
D_FAILED=$(grep -c 'sync failed' "$T/a1.daemon.log" || true)
D_OK=$(grep -c 'sync ok' "$T/a1.daemon.log" || true)
echo "the daemon: $D_OK syncs ok, $D_FAILED failed and retried with back-off"
((D_FAILED > 0)) || fail "the daemon met no fault: $(cat "$T/a1.daemon.log") $(cat "$T/net.stats")"
log_has "$T/a1.daemon.log" 'hub reachable again after' || fail "the daemon did not log its recovery"
if grep 'sync failed' "$T/a1.daemon.log" | grep -vE 'cannot be reached|timed out|Timeout|reset|SSL|TLS|network|recv|send|transfer|closed|Connection|partial|Failure' >&2; then
	fail "the daemon failed a sync for another reason than the network"
fi

step "everyone completes a sync; invariants"
for d in a1 a2 a1; do sync_until_done "$d" 60 "$PROXY_URL"; done
echo stop >"$T/net.control"
stop_hub
check_invariants f1:a1:n1 f1:a2:n2
CONNS=$(proxy_stat net connections)
echo "faults injected by the proxy over $CONNS connections: $(proxy_stat net injected.cut) requests cut," \
	"$(proxy_stat net injected.truncate) answers truncated, $(proxy_stat net injected.stall) stalls," \
	"$(proxy_stat net injected.delay) delayed connections"
(($(proxy_stat net injected.cut) + $(proxy_stat net injected.truncate) + $(proxy_stat net injected.stall) > 0)) ||
	fail "no cut, truncation or stall acted"
echo "PASS: network faults, nothing lost or duplicated, the daemon recovered by itself"
