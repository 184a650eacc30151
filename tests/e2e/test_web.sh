#!/usr/bin/env bash
# test_web.sh: the staff's web form (kiroku-agent web, and run serving it) end to end. A hub and two PCs of one
# school make a record the hub reviews, with a conflict it resolves and one it leaves open; the hub goes away;
# then `kiroku-agent web` serves the first PC's store and tests/web/web.test.mjs drives it in headless Chromium
# (playwright-core from npm, Debian's chromium): record an incident in Japanese, an invalid value shown next to
# its field, the record on the page and in `kiroku-agent list`, the review and conflicts, English, tablet width,
# and the refusals (no token, another Origin, another Host). A screenshot of each page is kept in
# $KIROKU_WEB_SCREENSHOTS (default: web-screenshots/ in ctest's directory, build/tests/web-screenshots).
# Needs node (18 or later) and npm (scripts/install-deps.sh); installs playwright-core with npm ci when missing.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/sync_lib.sh"

SRC=${KIROKU_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
WEB_TESTS="$SRC/tests/web"
SHOTS=${KIROKU_WEB_SCREENSHOTS:-$PWD/web-screenshots}
CHROMIUM=${KIROKU_CHROMIUM:-/usr/bin/chromium}

# stopped PID: the process has ended (alive is sync_lib.sh's).
stopped() {
	! alive "$1"
}

step "node, npm, chromium and playwright-core"
command -v node >/dev/null || fail "node is not installed: run scripts/install-deps.sh (Debian's nodejs and npm)"
command -v npm >/dev/null || fail "npm is not installed: run scripts/install-deps.sh (Debian's nodejs and npm)"
[[ -x "$CHROMIUM" ]] || fail "chromium is not installed ($CHROMIUM): run scripts/install-deps.sh"
node_major=$(node -p 'process.versions.node.split(".")[0]')
((node_major >= 18)) || fail "node $(node --version) is too old: the tests need node 18 or later"
# The version package.json pins, and the one installed (none when node_modules is missing).
pinned() {
	node -p "require('$WEB_TESTS/package.json').devDependencies['playwright-core']"
}
installed() {
	node -p "require('$WEB_TESTS/node_modules/playwright-core/package.json').version" 2>/dev/null || echo none
}
if [[ "$(installed)" != "$(pinned)" ]]; then
	echo "installing playwright-core $(pinned) into $WEB_TESTS/node_modules (npm ci; found: $(installed))"
	run npm ci --prefix "$WEB_TESTS" --no-audit --no-fund
	[[ $RC == 0 ]] || fail "npm ci in $WEB_TESTS failed (exit $RC): the web tests cannot run without playwright-core"
fi
[[ "$(installed)" == "$(pinned)" ]] ||
	fail "playwright-core $(pinned) is missing from $WEB_TESTS/node_modules after npm ci (found: $(installed))"

step "the web_port option"
run agent x --web-port 70000 web
assert_rc 1
assert_contains "$ERR" "--web-port"
run "$KIROKU_AGENT" help web
assert_ok
assert_contains "$OUT" "Usage: kiroku-agent web"
run agent none web --web-port 0
assert_rc 3
assert_contains "$ERR" "no store"

step "a hub and two PCs of one school; a record both PCs edit at once"
new_hub
start_hub
new_agent pc1 school-12 a
new_agent pc2 school-12 b
run agent a record incident --set category=紛失 --set media=紙 --set occurred_at=2026-11-18T16:30 \
	--set description="職員室のプリンタに個人票を置き忘れた" --set reporter_name="鈴木 一郎"
assert_ok
R=$OUT
run agent a record training --set course=一般教育 --set held_on=2026-06-01 --set attendee="佐藤 花子" \
	--set completed=yes
assert_ok
sync_agent a
assert_ok
sync_agent b
assert_ok
run agent a edit "$R" --set containment="回収し、本人に謝罪した" --set recurrence_prevention="USBメモリの使用をやめる"
assert_ok
run agent b edit "$R" --set containment="回収済み（校長に報告）" --set recurrence_prevention="持出し前に二人で確認する"
assert_ok
sync_agent a
assert_ok
sync_agent b
assert_ok

step "the hub resolves one conflict, leaves the other open, and reviews the record"
run hub conflicts --format tsv
assert_ok
assert_lines 2 "$OUT" "open conflicts"
C=$(awk -F'\t' '$5 == "value" && $4 == "containment" { print $1 }' <<<"$OUT")
[[ -n "$C" ]] || fail "no conflict on containment: $OUT"
run hub conflicts resolve "$C" --keep current
assert_ok
run hub review "$R" --state has-issues --comment "発見日時を記入してください"
assert_ok
sync_agent a
assert_ok

step "the hub goes away: the next sync fails and says so"
stop_hub
sync_agent a
assert_rc 5

step "kiroku-agent web serves pc1's store on a free port"
: >"$T/web.out"
"$KIROKU_AGENT" --data-dir "$T/a" web --web-port 0 >"$T/web.out" 2>"$T/web.daemon.log" &
WEB_PID=$!
track_pid "$WEB_PID"
wait_for 30 "the web form's listening line" grep -q '^listening on http://127.0.0.1:[0-9]*/$' "$T/web.out"
WEB_PORT=$(sed -n 's|^listening on http://127\.0\.0\.1:\([0-9]*\)/$|\1|p' "$T/web.out")
WEB_URL="http://127.0.0.1:$WEB_PORT"
run curl -sS -o /dev/null -w '%{http_code}' "$WEB_URL/"
assert_eq 200 "$OUT" "GET /"
run curl -sS -o /dev/null -w '%{http_code}' -H 'Host: evil.example' "$WEB_URL/"
assert_eq 403 "$OUT" "GET / with a foreign Host"
run curl -sS -o /dev/null -w '%{http_code}' -H "Origin: $WEB_URL" -d 'occurred_at=2026-11-20T15:10' \
	"$WEB_URL/new/incident"
assert_eq 403 "$OUT" "POST without a session or token"

step "the browser tests (node --test tests/web/web.test.mjs)"
rm -rf "$SHOTS"
mkdir -p "$SHOTS"
set +e
(cd "$WEB_TESTS" && env KIROKU_WEB_URL="$WEB_URL" KIROKU_WEB_SCREENSHOTS="$SHOTS" KIROKU_WEB_DATA_DIR="$T/a" \
	KIROKU_WEB_REVIEWED="$R" KIROKU_CHROMIUM="$CHROMIUM" KIROKU_AGENT="$KIROKU_AGENT" \
	node --test --test-reporter=spec web.test.mjs)
node_rc=$?
set -e
[[ $node_rc == 0 ]] || fail "the browser tests failed (node exit $node_rc); the form's log: $(tail -n 20 "$T/web.daemon.log")"
echo "screenshots: $SHOTS"

step "the record made and corrected in the browser is in kiroku-agent list and show"
ID=$(tr -d '\n' <"$SHOTS/recorded-id.txt")
run agent a list --kind incident --format tsv
assert_ok
assert_contains "$OUT" "$ID	incident	school-12	0	2026-11-20T15:10	"
assert_contains "$OUT" "校外学習の帰りにUSBメモリを紛失した"
run agent a show "$ID"
assert_ok
assert_contains "$OUT" "山田 太郎"
assert_contains "$OUT" "USBメモリ等"
# Corrected in the browser to 33, then changed to 40 while a correction form was open (which kept it), with
# the description the browser saved after it had shown what changed.
assert_match "$OUT" "persons_affected\): 40"
assert_contains "$OUT" "（先生の訂正）"

step "the form logged its refusals, and stops on SIGTERM"
log_has "$T/web.daemon.log" 'refused GET / .*foreign Host "evil.example"' || fail "no log line for the foreign Host"
log_has "$T/web.daemon.log" 'refused POST /new/incident .*token' || fail "no log line for the missing token"
kill -TERM "$WEB_PID"
wait_for 30 "the web form to stop" stopped "$WEB_PID"
rc=0
wait "$WEB_PID" || rc=$?
[[ $rc == 0 ]] || fail "kiroku-agent web exited with $rc after SIGTERM"

step "kiroku-agent run serves the form beside its syncs; its button asks for a sync now"
HUB_LISTEN_PORT=$HUB_PORT start_hub
PORT=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$KIROKU_AGENT" --data-dir "$T/a" --hub-url "$HUB_URL" --sync-interval 3600 --web-port "$PORT" run \
	>"$T/run.out" 2>"$T/run.daemon.log" &
RUN_PID=$!
track_pid "$RUN_PID"
wait_for 30 "run's web form" log_has "$T/run.daemon.log" "web form for staff: http://127.0.0.1:$PORT/"
wait_for 60 "run's first sync" log_has "$T/run.daemon.log" "sync ok"
run curl -sS -c "$T/jar" "http://127.0.0.1:$PORT/"
assert_ok
assert_contains "$OUT" "区役所（ハブ）に接続できました"
assert_contains "$OUT" "自動同期: 3600 秒ごと"
assert_contains "$OUT" 'action="/sync"'
TOKEN=$(sed -n 's/.*name="csrf" value="\([0-9a-f]*\)".*/\1/p' <<<"$OUT" | head -n 1)
[[ ${#TOKEN} == 64 ]] || fail "no token in the page"
run curl -sS -b "$T/jar" -o /dev/null -w '%{http_code} %{redirect_url}' -H "Origin: http://127.0.0.1:$PORT" \
	--data "csrf=$TOKEN" "http://127.0.0.1:$PORT/sync"
assert_match "$OUT" "^303 http://127.0.0.1:$PORT/\\?sync=1$" "POST /sync"
# With an interval of an hour, a second sync within the minute is the one the button asked for.
two_syncs() {
	(($(grep -c 'sync ok' "$T/run.daemon.log") >= 2))
}
wait_for 60 "the sync the button asked for" two_syncs
kill -TERM "$RUN_PID"
rc=0
wait "$RUN_PID" || rc=$?
[[ $rc == 0 ]] || fail "kiroku-agent run exited with $rc after SIGTERM"

step "a port in use is refused with a clear message"
"$KIROKU_AGENT" --data-dir "$T/a" web --web-port 0 >"$T/web2.out" 2>"$T/web2.log" &
P2=$!
track_pid "$P2"
wait_for 30 "the second form" grep -q '^listening on' "$T/web2.out"
BUSY=$(sed -n 's|^listening on http://127\.0\.0\.1:\([0-9]*\)/$|\1|p' "$T/web2.out")
run agent a web --web-port "$BUSY"
assert_rc 1
assert_contains "$ERR" "another program uses it"
kill -TERM "$P2"
wait "$P2" || true
