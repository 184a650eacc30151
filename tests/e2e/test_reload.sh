#!/usr/bin/env bash
# test_reload.sh: SIGHUP (systemctl reload) makes a running hub take a renewed server certificate for new
# connections without a restart: the same process then presents the new certificate (checked with openssl
# s_client) and agents sync against it. Bad files (a key of another certificate, a key others may read) are
# refused with one log line and the hub goes on with the certificate it had. Options that can change at run time
# (timeout) are taken, those that cannot (threads) are named in the log. `kiroku-agent run` lives through a
# SIGHUP and reads its sync_interval again.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/sync_lib.sh"

mark_log() {
	LOG_MARK=$(wc -l <"$HUB_LOG")
}

new_log_has() {
	tail -n +$((LOG_MARK + 1)) "$HUB_LOG" | grep -qE "$1"
}

new_log() {
	tail -n +$((LOG_MARK + 1)) "$HUB_LOG"
}

# served_serial: the serial (upper-case hex, as openssl prints it) of the certificate a new connection gets.
served_serial() {
	openssl s_client -connect "127.0.0.1:$HUB_PORT" -CAfile "$T/hub/ca.crt" -cert "$T/certs/n1.crt" \
		-key "$T/certs/n1.key" -showcerts </dev/null 2>/dev/null | openssl x509 -noout -serial | sed 's/^serial=//'
}

# file_serial FILE: the serial of a certificate file, as served_serial prints it.
file_serial() {
	openssl x509 -in "$1" -noout -serial | sed 's/^serial=//'
}

# server_cert KEY CRT DAYS: a new P-256 key and a server certificate for 127.0.0.1 signed by the hub's CA
# (what an operator renewing the hub's certificate puts in place), written under temporary names and renamed.
server_cert() {
	local key=$1 crt=$2 days=$3
	(umask 077 && openssl ecparam -name prime256v1 -genkey -noout -out "$T/new.key.tmp" 2>/dev/null)
	openssl req -new -key "$T/new.key.tmp" -subj "/CN=hub/O=kiroku" -out "$T/new.csr" 2>/dev/null
	printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n' \
		>"$T/new.ext"
	openssl x509 -req -in "$T/new.csr" -CA "$T/hub/ca.crt" -CAkey "$T/hub/ca.key" -CAcreateserial -sha256 \
		-days "$days" -extfile "$T/new.ext" -out "$T/new.crt.tmp" 2>/dev/null
	mv "$T/new.key.tmp" "$key"
	mv "$T/new.crt.tmp" "$crt"
}

hup_hub() {
	mark_log
	kill -HUP "$HUB_PID"
	wait_for 10 "the hub to log the end of its reload" new_log_has 'reload: (new connections get|certificate NOT)'
	alive "$HUB_PID" || fail "the hub died on SIGHUP"
}

step "a hub and an agent that syncs"
new_hub
new_agent n1 f1 a1
start_hub
FIRST_PID=$HUB_PID
record a1 "一件目" >/dev/null
sync_agent a1
assert_ok
OLD_SERIAL=$(served_serial)
assert_eq "$(file_serial "$T/hub/hub.crt")" "$OLD_SERIAL" "the serial served at start"

step "a renewed certificate is served after SIGHUP, by the same process"
cp "$T/hub/hub.crt" "$T/old-hub.crt"
cp -p "$T/hub/hub.key" "$T/old-hub.key"
server_cert "$T/hub/hub.key" "$T/hub/hub.crt" 400
NEW_SERIAL=$(file_serial "$T/hub/hub.crt")
[[ "$NEW_SERIAL" != "$OLD_SERIAL" ]] || fail "the new certificate has the old serial"
assert_eq "$OLD_SERIAL" "$(served_serial)" "the serial served before SIGHUP (nothing is reloaded by itself)"
hup_hub
assert_eq "$FIRST_PID" "$HUB_PID" "the hub's PID"
assert_eq "$NEW_SERIAL" "$(served_serial)" "the serial served after SIGHUP"
NEW_UNTIL=$(date -u -d "$(openssl x509 -in "$T/hub/hub.crt" -noout -enddate | sed 's/^notAfter=//')" +%Y-%m-%dT%H:%M:%SZ)
LINE=$(new_log | grep 'reload: new connections get')
# The same number, whatever leading zeros either side writes (openssl pads to whole bytes, so does the hub).
LOGGED_SERIAL=$(sed -n 's/.*new connections get certificate CN=hub serial \([0-9a-f]*\) .*/\1/p' <<<"$LINE")
assert_eq "$(tr 'A-F' 'a-f' <<<"$NEW_SERIAL" | sed 's/^0*//')" "$(sed 's/^0*//' <<<"$LOGGED_SERIAL")" \
	"the serial in the reload's log line"
assert_contains "$LINE" "valid until $NEW_UNTIL" "the reload's log line"
assert_contains "$LINE" "CN=hub" "the reload's log line"
record a1 "二件目" >/dev/null
sync_agent a1
assert_ok
assert_same_state a1 f1

step "a key of another certificate: refused, the good certificate stays"
cp -p "$T/hub/hub.key" "$T/good.key"
(umask 077 && openssl ecparam -name prime256v1 -genkey -noout -out "$T/hub/hub.key" 2>/dev/null)
hup_hub
assert_contains "$(new_log | grep 'reload:')" "certificate NOT reloaded, new connections still get serial" \
	"the failed reload's log line"
assert_contains "$(new_log | grep 'reload:')" "does not belong to the certificate" "the failed reload's reason"
assert_eq "$FIRST_PID" "$HUB_PID" "the hub's PID"
assert_eq "$NEW_SERIAL" "$(served_serial)" "the serial served after a failed reload"
record a1 "三件目" >/dev/null
sync_agent a1
assert_ok
assert_same_state a1 f1

step "a key others may read: refused"
cp -p "$T/good.key" "$T/hub/hub.key"
chmod 0644 "$T/hub/hub.key"
hup_hub
assert_contains "$(new_log | grep 'reload:')" "certificate NOT reloaded" "the failed reload's log line"
assert_contains "$(new_log | grep 'reload:')" "$T/hub/hub.key" "the failed reload's reason"
assert_eq "$NEW_SERIAL" "$(served_serial)" "the serial served after a failed reload"
sync_agent a1
assert_ok

step "the configuration file is read again: timeout is taken, threads needs a restart"
chmod 0600 "$T/hub/hub.key"
printf '[hub]\ntimeout = 45\nthreads = 3\n' >"$KIROKU_CONFIG"
hup_hub
assert_contains "$(new_log)" "reload: timeout 30s -> 45s" "the reload's log"
assert_contains "$(new_log)" "taken only at start (restart the hub for them): threads" "the reload's log"
assert_contains "$(new_log)" "reload: new connections get certificate" "the reload's log"
sync_agent a1
assert_ok
: >"$KIROKU_CONFIG"

step "kiroku-agent run lives through SIGHUP and reads sync_interval again"
printf '[agent]\nsync_interval = 600\n' >"$T/agent.conf"
KIROKU_CONFIG="$T/agent.conf" "$KIROKU_AGENT" --data-dir "$T/a1" --hub-url "$HUB_URL" --web-port 0 run \
	2>"$T/a1.daemon.log" &
AGENT_PID=$!
track_pid "$AGENT_PID"
wait_for 30 "the agent's first sync" log_has "$T/a1.daemon.log" 'sync ok'
printf '[agent]\nsync_interval = 5\n' >"$T/agent.conf"
kill -HUP "$AGENT_PID"
wait_for 10 "the agent's reload line" log_has "$T/a1.daemon.log" 'SIGHUP: sync_interval 600s -> 5s'
# The wait under way is now 5 s, not 600: a second sync comes within seconds.
two_syncs() {
	(($(grep -c 'sync ok' "$T/a1.daemon.log") >= 2))
}
wait_for 30 "the agent's second sync" two_syncs
alive "$AGENT_PID" || fail "the agent died on SIGHUP"
kill -TERM "$AGENT_PID"
wait "$AGENT_PID" || fail "the agent exited with $? after SIGTERM"

step "the hub stops normally"
stop_hub
