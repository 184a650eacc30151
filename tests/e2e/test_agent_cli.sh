#!/usr/bin/env bash
# test_agent_cli.sh: kiroku-agent's commands on one store: help, init, record, list, show, edit, delete,
# configuration, and bad input that must change nothing and get a clear answer with the documented exit code.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

step "help and version"
run "$KIROKU_AGENT" --version
assert_ok
assert_match "$OUT" '^kiroku-agent [0-9]+\.[0-9]+\.[0-9]+$' "--version"
run "$KIROKU_AGENT" --help
assert_ok
assert_contains "$OUT" "Exit codes:"
assert_contains "$OUT" "export-changes"
assert_contains "$OUT" "--data-dir DIR"
for cmd in init record edit delete list show export-changes import-changes status; do
	run "$KIROKU_AGENT" "$cmd" --help
	assert_ok
	assert_contains "$OUT" "Usage: kiroku-agent $cmd" "$cmd --help"
	assert_contains "$OUT" "Example:" "$cmd --help"
	run "$KIROKU_AGENT" help "$cmd"
	assert_ok
	assert_contains "$OUT" "Usage: kiroku-agent $cmd" "help $cmd"
done
run "$KIROKU_AGENT"
assert_rc 1
run "$KIROKU_AGENT" frobnicate
assert_rc 1
assert_contains "$ERR" 'no command "frobnicate"'
# The command list is one column of names and one of summaries, in both programs, whatever the longest name.
for prog in "$KIROKU_AGENT" "$KIROKU_HUB"; do
	run "$prog" --help
	assert_ok
	bad=$(awk '/^Commands:/ { on = 1; next } on && /^$/ { exit }
		on && /^  help \[COMMAND\]/ { col = index($0, "Show") }
		on { lines[++n] = $0 }
		END { for (i = 1; i <= n; i++) if (substr(lines[i], col - 1, 1) != " " || substr(lines[i], col, 1) == " ")
			print lines[i] }' <<<"$OUT")
	[[ -z "$bad" ]] || fail "$(basename "$prog") --help: summaries out of their column: $bad"
done
# A wrong option is named as typed, and a flag given a value says so.
run "$KIROKU_AGENT" list --bogus
assert_rc 1
assert_contains "$ERR" "list: unknown option --bogus"
run "$KIROKU_AGENT" list -Z
assert_rc 1
assert_contains "$ERR" "list: unknown option -Z"
run "$KIROKU_AGENT" list --all=1
assert_rc 1
assert_contains "$ERR" "list: --all takes no value"
run "$KIROKU_AGENT" --version=1
assert_rc 1
assert_contains "$ERR" "--version takes no value"
run "$KIROKU_AGENT" list --kind
assert_rc 1
assert_contains "$ERR" "list: --kind needs a value"

step "commands before init say how to start"
run agent a1 status
assert_rc 3
assert_contains "$ERR" "no store at $T/a1/agent.db"
assert_contains "$ERR" "kiroku-agent init"

step "init"
run agent a1 init --node n1
assert_rc 1
assert_contains "$ERR" "--facility"
run agent a1 init --node n1 --facility f1
assert_ok
assert_contains "$OUT" "node n1 of facility f1"
[[ "$(stat -c %a "$T/a1")" == 700 ]] || fail "the data directory should be mode 700, is $(stat -c %a "$T/a1")"
run agent a1 init --node n1 --facility f1
assert_rc 4
assert_contains "$ERR" "already exists"
run agent a1 status
assert_ok
assert_contains "$OUT" "node:            n1"
assert_contains "$OUT" "facility:        f1"
assert_contains "$OUT" "outbox:          0 changes"

step "record an incident in Japanese"
run agent a1 record incident --set category=紛失 --set media=USB --set occurred_at=2026-11-20T15:10 \
	--set description="USBメモリを紛失"
assert_ok
assert_match "$OUT" '^[0-9A-HJKMNP-TV-Z]{26}$' "record prints the id alone"
ID=$OUT
run agent a1 record incident --set category=漏えい --set occurred_at=2026-12-01T09:30 \
	--set description="誤ってメールを送信"
assert_ok
ID2=$OUT

step "list"
run agent a1 list
assert_ok
assert_contains "$OUT" "$ID"
assert_contains "$OUT" "USBメモリを紛失"
assert_contains "$OUT" "紛失"
assert_contains "$OUT" "報告済み"
run agent a1 list --format tsv
assert_ok
assert_lines 2 "$OUT" "list --format tsv"
assert_eq "$ID	incident	f1	0	2026-11-20T15:10	reported	紛失	USBメモリを紛失" "$(head -n 1 <<<"$OUT")" "tsv line"
run agent a1 list --format json
assert_ok
assert_contains "$OUT" "\"id\": \"$ID\""
assert_contains "$OUT" '"media": "USBメモリ等"'
run agent a1 list --kind incident --from 2026-11-21 --format tsv
assert_ok
assert_lines 1 "$OUT" "list --from"
assert_contains "$OUT" "$ID2"
run agent a1 list --kind incident --to 2026-11-20 --format tsv
assert_ok
assert_lines 1 "$OUT" "list --to"
assert_contains "$OUT" "$ID"
run agent a1 list --kind incident --status 報告済み --format tsv
assert_ok
run agent a1 list --format xml
assert_rc 1
assert_contains "$ERR" "table, tsv or json"

step "show with labels"
run agent a1 show "$ID"
assert_ok
assert_contains "$OUT" "セキュリティ事故等 (incident)"
assert_contains "$OUT" "事故等の区分 (category): 紛失"
assert_contains "$OUT" "媒体・経路 (media): USBメモリ等"
assert_contains "$OUT" "事故等の内容 (description): USBメモリを紛失"
assert_match "$OUT" 'occurred_at\): 2026-11-20T15:10  \[[0-9T:.Z+-]+ n1\]' "show: value and version"
run agent a1 show "$ID" --lang en
assert_ok
assert_contains "$OUT" "Category (category): Loss"
run agent a1 show "not-an-id"
assert_rc 2
assert_contains "$ERR" "is not a record id"
run agent a1 show 01M0000000000000000000000Z
assert_rc 2
assert_contains "$ERR" "no record 01M0000000000000000000000Z"

step "edit"
run agent a1 edit "$ID" --set containment="端末の利用を停止" --set persons_affected=3
assert_ok
run agent a1 show "$ID"
assert_contains "$OUT" "被害拡大防止の措置 (containment): 端末の利用を停止"
assert_contains "$OUT" "(persons_affected): 3"
run agent a1 status
assert_contains "$OUT" "outbox:          3 changes"

step "bad input changes nothing"
BEFORE=$(snapshot a1)
check_unchanged() {
	local after
	after=$(snapshot a1)
	assert_eq "$BEFORE" "$after" "the store after a refused command"
}
run agent a1 record accident --set description=x
assert_rc 2
assert_contains "$ERR" 'unknown record kind "accident"'
assert_contains "$ERR" "incident"
check_unchanged
run agent a1 record incident --set colour=red --set category=紛失 --set occurred_at=2026-11-20T15:10 --set description=x
assert_rc 2
assert_contains "$ERR" "colour: no such field in incident records"
check_unchanged
run agent a1 record incident --set category=lost --set occurred_at=2026-11-20T15:10 --set description=x
assert_rc 2
assert_contains "$ERR" 'category: "lost" is not one of'
assert_contains "$ERR" "紛失"
assert_contains "$ERR" "漏えい"
check_unchanged
run agent a1 record incident --set category=紛失 --set occurred_at=2026-11-31T10:00 --set description=x
assert_rc 2
assert_contains "$ERR" 'occurred_at: "2026-11-31T10:00" is not a date and time'
check_unchanged
run agent a1 edit "$ID" --set discovered_at=20261120
assert_rc 2
assert_contains "$ERR" "is not a date and time"
check_unchanged
run agent a1 record incident --set category=紛失 --set occurred_at=2026-11-20T15:10
assert_rc 2
assert_contains "$ERR" "description"
check_unchanged
run agent a1 record incident --set category=紛失 --set occurred_at=2026-11-20T15:10 --set description=$'\xff\xfe'
assert_rc 2
assert_contains "$ERR" "UTF-8"
check_unchanged
run agent a1 edit "$ID" --set status=closed
assert_rc 4
assert_contains "$ERR" "only by the hub operator"
check_unchanged
run agent a1 edit "$ID" --set description
assert_rc 1
assert_contains "$ERR" "expected FIELD=VALUE"
check_unchanged
run agent a1 list --kind incident --from 2026-02-30
assert_rc 2
assert_contains "$ERR" "is not a date"

step "delete, then edit refused"
run agent a1 delete "$ID2"
assert_ok
run agent a1 edit "$ID2" --set description="後から"
assert_rc 4
assert_contains "$ERR" "was deleted and cannot be edited"
run agent a1 list --format tsv
assert_lines 1 "$OUT" "list after delete"
run agent a1 list --all --format tsv
assert_lines 2 "$OUT" "list --all after delete"
assert_contains "$OUT" "$ID2	incident	f1	1	"
run agent a1 show "$ID2"
assert_contains "$OUT" "削除済み"

step "a change-set file cut short changes nothing"
run "$KIROKU_HUB" --data-dir "$T/hub" init
assert_ok
run agent a1 export-changes "$T/a1.krcs"
assert_ok
run "$KIROKU_HUB" --data-dir "$T/hub" import-changes --facility f1 "$T/a1.krcs"
assert_ok
run "$KIROKU_HUB" --data-dir "$T/hub" export-changes --facility f1 "$T/f1.krcs"
assert_ok
size=$(stat -c %s "$T/f1.krcs")
head -c $((size / 2)) "$T/f1.krcs" >"$T/cut.krcs"
BEFORE=$(snapshot a1)
run agent a1 import-changes "$T/cut.krcs"
assert_rc 2
assert_contains "$ERR" "cut.krcs is not a usable change-set file"
assert_contains "$ERR" "nothing was imported"
check_unchanged
: >"$T/empty.krcs"
run agent a1 import-changes "$T/empty.krcs"
assert_rc 2
check_unchanged
truncate -s 9M "$T/huge.krcs"
run agent a1 import-changes "$T/huge.krcs"
assert_rc 2
assert_contains "$ERR" "more than the limit"
check_unchanged
run agent a1 import-changes "$T/no-such-file.krcs"
assert_rc 2
assert_contains "$ERR" "No such file"
run agent a1 import-changes "$T/a1.krcs"
assert_rc 4
assert_contains "$ERR" "not from the hub"
check_unchanged
run agent a1 import-changes "$T/f1.krcs"
assert_ok
assert_contains "$OUT" "outbox: 0 waiting"

step "a data file that is not a store is left untouched"
mkdir -m 700 "$T/g"
head -c 20000 /dev/urandom >"$T/g/agent.db"
sum=$(sha256sum <"$T/g/agent.db")
for cmd in "status" "list" "record incident --set description=x"; do
	# shellcheck disable=SC2086
	run agent g $cmd
	assert_rc 3
	assert_contains "$ERR" "not a kiroku store"
done
assert_eq "$sum" "$(sha256sum <"$T/g/agent.db")" "the garbage file's bytes"
[[ ! -e "$T/g/agent.db-wal" ]] || fail "a -wal file appeared beside the garbage file"
run agent g init --node n9 --facility f9
assert_rc 4
assert_eq "$sum" "$(sha256sum <"$T/g/agent.db")" "the garbage file's bytes after init"
mkdir -m 700 "$T/h2"
cp "$T/hub/hub.db" "$T/h2/agent.db"
run agent h2 status
assert_rc 3
assert_contains "$ERR" "hub's store"

step "configuration file and flags"
cat >"$T/agent.conf" <<EOF
# test configuration
[agent]
data_dir = $T/a1
lang = en
EOF
run "$KIROKU_AGENT" --config "$T/agent.conf" status
assert_ok
assert_contains "$OUT" "store:           $T/a1/agent.db"
KIROKU_CONFIG="$T/agent.conf" run "$KIROKU_AGENT" show "$ID"
assert_ok
assert_contains "$OUT" "Category (category): Loss"
run "$KIROKU_AGENT" --config "$T/agent.conf" show "$ID" --lang ja
assert_ok
assert_contains "$OUT" "事故等の区分 (category): 紛失"
run "$KIROKU_AGENT" --config "$T/agent.conf" --data-dir "$T/elsewhere" status
assert_rc 3
assert_contains "$ERR" "no store at $T/elsewhere/agent.db"
printf '[agent]\ndata_dir = %s\n\nnod = n1\n' "$T/a1" >"$T/bad.conf"
run "$KIROKU_AGENT" --config "$T/bad.conf" status
assert_rc 1
assert_contains "$ERR" "$T/bad.conf line 4: unknown option \"nod\""
printf '[agent]\nsync_interval = often\n' >"$T/bad2.conf"
run "$KIROKU_AGENT" --config "$T/bad2.conf" status
assert_rc 1
assert_contains "$ERR" "bad2.conf line 2: sync_interval:"
printf '[agnet]\n' >"$T/bad3.conf"
run "$KIROKU_AGENT" --config "$T/bad3.conf" status
assert_rc 1
assert_contains "$ERR" "bad3.conf line 1: unknown section [agnet]"
run "$KIROKU_AGENT" --config "$T/missing.conf" status
assert_rc 1
assert_contains "$ERR" "missing.conf"
run "$KIROKU_AGENT" --data-dir "$T/a1" --node n2 status
assert_rc 1
assert_contains "$ERR" "belongs to node \"n1\""
cat >"$T/a4.conf" <<EOF
[agent]
data_dir = $T/a4/sub
node = n4
facility = f4
EOF
run "$KIROKU_AGENT" --config "$T/a4.conf" init
assert_ok
assert_contains "$OUT" "node n4 of facility f4"
[[ "$(stat -c %a "$T/a4/sub")" == 700 ]] || fail "init should make the data directory with mode 700"
run "$KIROKU_AGENT" --config "$T/a4.conf" --facility f5 status
assert_rc 1
assert_contains "$ERR" "belongs to facility \"f4\""
run "$KIROKU_AGENT" --data-dir "$T/a1" --lang fr status
assert_rc 1
assert_contains "$ERR" "--lang"

echo "PASS"
