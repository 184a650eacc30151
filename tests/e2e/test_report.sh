#!/usr/bin/env bash
# test_report.sh: the hub operator's side end to end: demonstration data, hand-made edge cases (an incident
# spanning the period's start, PPC deadlines on and just before the report day, a facility with no records in
# the period, an empty period, CSV quoting), the review material checked figure by figure against the store
# (report_check.py), pseudonymisation, triage, and a conflict resolution and a review that reach the agents
# through the USB exchange.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
CHECK="$(dirname "$0")/report_check.py"
DB="$T/hub/hub.db"
FY="2026-04-01..2027-03-31"

# check_report DIR FROM TO TODAY MODE: every figure of DIR against the store.
check_report() {
	run "$PY" "$CHECK" "$DB" "$@"
	[[ "$RC" == 0 ]] || fail "report_check.py $*: $OUT"
	assert_match "$OUT" '^[0-9]+ passed, 0 failed$' "report_check.py"
}

# json_get DIR PYTHON-EXPRESSION: a value of DIR/review.json (the expression sees it as j).
json_get() {
	"$PY" -c 'import json, sys; j = json.load(open(sys.argv[1] + "/review.json")); print(eval(sys.argv[2]))' "$@"
}

step "help"
for cmd in report demo-data incidents triage review "conflicts resolve"; do
	run "$KIROKU_HUB" help $cmd
	assert_ok
	assert_contains "$OUT" "Usage: kiroku-hub $cmd" "help $cmd"
done

step "the hub, filled with demonstration data"
run hub init
assert_ok
run hub demo-data --facilities 8 --year 2026 --seed 7
assert_ok
assert_match "$OUT" '^wrote [0-9]+ records for 8 facilities, fiscal year 2026 \(seed 7\): incident [0-9]+, pi_handling' "demo-data"
DEMO_OUT=$OUT
run hub demo-data --facilities 0 --year 2026
assert_rc 1
run hub demo-data --facilities 3
assert_rc 1

step "demo data is deterministic: the same seed gives the same records"
run "$KIROKU_HUB" --data-dir "$T/hub2" init
assert_ok
run "$KIROKU_HUB" --data-dir "$T/hub2" demo-data --facilities 8 --year 2026 --seed 7
assert_ok
assert_eq "$DEMO_OUT" "$OUT" "the second run's summary"
FIELDS="SELECT kind, facility, fields FROM records ORDER BY facility, kind, fields"
assert_eq "$(sqlite3 "$DB" "$FIELDS" | md5sum)" "$(sqlite3 "$T/hub2/hub.db" "$FIELDS" | md5sum)" "the records' fields"
run "$KIROKU_HUB" --data-dir "$T/hub3" init
run "$KIROKU_HUB" --data-dir "$T/hub3" demo-data --facilities 8 --year 2026 --seed 8
[[ "$(sqlite3 "$DB" "$FIELDS" | md5sum)" != "$(sqlite3 "$T/hub3/hub.db" "$FIELDS" | md5sum)" ]] ||
	fail "another seed should give other records"
assert_eq 8 "$(sqlite3 "$DB" "SELECT count(DISTINCT facility) FROM records")" "facilities"
assert_eq 8 "$(sqlite3 "$DB" "SELECT count(DISTINCT kind) FROM records")" "kinds"

step "hand-made edge cases, recorded offline at two facilities and carried to the hub"
run agent e1 init --node e1 --facility f-edge
assert_ok
# Occurred before the period, discovered in it, still open: carried over.
run agent e1 record incident --set occurred_at=2026-03-30T16:00 --set discovered_at=2026-04-02T09:00 \
	--set category=漏えい --set personal_info=yes --set persons_affected=2 --set reporter_name="試験 太郎" \
	--set affected_names="被害 花子" --set description="年度末に名簿を誤って送付した"
assert_ok
R_SPAN=$OUT
# In the period; discovered after it: the preliminary report is due on the report day (2027-04-15).
run agent e1 record incident --set occurred_at=2027-03-27T10:00 --set discovered_at=2027-04-10T10:00 \
	--set category=誤送付・誤送信 --set personal_info=yes --set reporter_name="試験 次郎" --set description="通知の誤送付"
assert_ok
R_TODAY=$OUT
# Due the day before the report day: overdue.
run agent e1 record incident --set occurred_at=2027-03-26T10:00 --set discovered_at=2027-04-09T10:00 \
	--set category=紛失 --set personal_info=yes --set unauthorised_purpose=yes --set description="USBメモリの紛失"
assert_ok
R_LATE=$OUT
# Text that CSV must quote.
QUOTED=$'引用 "テスト", カンマと改行\n二行目'
run agent e1 record incident --set occurred_at=2026-05-01T09:00 --set category=その他 --set description="$QUOTED"
assert_ok
R_QUOTE=$OUT
run agent e1 export-changes "$T/e1.krcs"
assert_ok
# A facility whose only record is from before the period.
run agent q1 init --node q1 --facility f-quiet
run agent q1 record training --set course=general --set held_on=2025-06-01 --set attendee="静 かおる" \
	--set completed=yes
assert_ok
run agent q1 export-changes "$T/q1.krcs"
assert_ok
run hub import-changes --facility f-edge "$T/e1.krcs"
assert_ok
run hub import-changes --facility f-quiet "$T/q1.krcs"
assert_ok

step "triage: the lifecycle and the PPC deadlines"
run hub triage "$R_SPAN" --status triaged --severity high --ppc yes --today 2026-04-02
assert_ok
assert_contains "$OUT" "discovered 2026-04-02, preliminary report due 2026-04-07, final report due 2026-05-02"
run hub triage "$R_SPAN" --status closed
assert_rc 4
assert_contains "$ERR" "is triaged and cannot become closed: the next step is contained"
run hub triage "$R_TODAY" --status triaged --ppc yes
assert_ok
assert_contains "$OUT" "preliminary report due 2027-04-15, final report due 2027-05-10"
run hub triage "$R_LATE" --status 判定済み --ppc はい
assert_ok
assert_contains "$OUT" "preliminary report due 2027-04-14, final report due 2027-06-08" # 60 days: unauthorised
run hub triage "$R_QUOTE" --status triaged
assert_ok
run hub triage "$R_QUOTE" --status contained
assert_ok
run hub triage "$R_QUOTE" --status closed --today 2026-05-20
assert_ok
run hub triage "$R_QUOTE" --status triaged --today 2026-06-01
assert_ok
assert_contains "$OUT" "(was closed, reopened)"
run hub show "$R_QUOTE"
assert_contains "$OUT" "2026-05-20 contained -> closed"
assert_contains "$OUT" "2026-06-01 closed -> triaged"
run hub triage "$R_QUOTE" --status contained
run hub triage "$R_QUOTE" --status closed --today 2026-06-10
assert_ok
run hub triage "$R_SPAN" --ppc maybe
assert_rc 1
run hub triage "$R_SPAN"
assert_rc 2
assert_contains "$ERR" "nothing to change"

step "incidents: open and overdue, judged on a given day"
run hub incidents --facility f-edge --format tsv --today 2027-04-15
assert_ok
assert_lines 4 "$OUT" "f-edge's incidents"
LINE=$(grep "^$R_TODAY" <<<"$OUT")
assert_contains "$LINE" $'\t2027-04-15\tpending\t2027-05-10\tpending\t' "a deadline on the day itself"
LINE=$(grep "^$R_LATE" <<<"$OUT")
assert_contains "$LINE" $'\t2027-04-14\toverdue\t2027-06-08\tpending\toverdue' "a deadline the day before"
run hub incidents --facility f-edge --overdue --format tsv --today 2027-04-15
assert_ok
assert_lines 2 "$OUT" "overdue incidents"
assert_contains "$OUT" "$R_SPAN"
assert_contains "$OUT" "$R_LATE"
run hub incidents --facility f-edge --open --format tsv --today 2027-04-15
assert_lines 3 "$OUT" "open incidents"
assert_not_contains "$OUT" "$R_QUOTE"
run hub incidents --facility f-edge --today 2027-04-15
assert_ok
assert_contains "$OUT" "期限超過"

step "the review material for the fiscal year, pseudonymised"
run hub report --period "$FY" --out "$T/r1" --today 2027-04-15
assert_ok
assert_contains "$OUT" "review.html, review.json and 28 CSV files"
assert_contains "$ERR" "made a new pseudonymisation key"
[[ "$(stat -c %a "$T/hub/pseudonym.key")" == 600 ]] || fail "the pseudonym key should be mode 600"
[[ "$(stat -c %s "$T/hub/pseudonym.key")" == 32 ]] || fail "the pseudonym key should be 32 bytes"
[[ "$(stat -c %a "$T/r1/review.html")" == 600 ]] || fail "review.html should be mode 600"
check_report "$T/r1" 2026-04-01 2027-03-31 2027-04-15 --names-absent
HTML=$(cat "$T/r1/review.html")
assert_not_contains "$HTML" "試験 次郎" "review.html"
assert_not_contains "$HTML" "被害 花子" "review.html"
assert_contains "$HTML" "情報セキュリティ マネジメントレビュー資料" "review.html"
assert_contains "$HTML" "総合評価" "review.html"
# The incident that spans the period's start: open and carried over, but not counted in the period.
assert_eq "True" "$(json_get "$T/r1" "[r['carried_over'] for r in j['tables']['incidents_open']['rows'] if r['id'] == '$R_SPAN'][0]")" "carried over"
assert_eq "0" "$(json_get "$T/r1" "sum(r['incidents'] for r in j['tables']['incidents_by_facility']['rows'] if r['facility'] == 'f-edge' and r['incidents'] != 3)")" "f-edge: three incidents in the period"
assert_eq "pending" "$(json_get "$T/r1" "[r['preliminary_state'] for r in j['tables']['incidents_ppc']['rows'] if r['id'] == '$R_TODAY'][0]")" "a deadline on the report day"
assert_eq "overdue" "$(json_get "$T/r1" "[r['preliminary_state'] for r in j['tables']['incidents_ppc']['rows'] if r['id'] == '$R_LATE'][0]")" "a deadline the day before"
assert_eq "overdue overdue" "$(json_get "$T/r1" "' '.join(r[k] for r in j['tables']['incidents_ppc']['rows'] if r['id'] == '$R_SPAN' for k in ('preliminary_state', 'final_state'))")" "the carried-over incident's deadlines"
# A facility with no records in the period: present, with zeros.
assert_eq "[0, 0]" "$(json_get "$T/r1" "[r['attendees'] for r in j['tables']['education_by_facility_course']['rows'] if r['facility'] == 'f-quiet']")" "f-quiet's training"
assert_eq "0" "$(json_get "$T/r1" "[r['incidents'] for r in j['tables']['incidents_by_facility']['rows'] if r['facility'] == 'f-quiet'][0]")" "f-quiet's incidents"
# CSV: the quoted description reads back as it was stored.
"$PY" - "$T/r1/10-annex_incidents.csv" "$R_QUOTE" "$QUOTED" <<'EOF' || fail "the annex CSV did not give the description back"
import csv, sys
rows = list(csv.reader(open(sys.argv[1], encoding="utf-8-sig", newline="")))
col = rows[0].index("事故等の内容")
row = [r for r in rows if r[0] == sys.argv[2]][0]
assert row[col] == sys.argv[3], (row[col], sys.argv[3])
assert '"引用 ""テスト"", カンマと改行\r\n' not in open(sys.argv[1], encoding="utf-8-sig", newline="").read()
raw = open(sys.argv[1], "rb").read().decode("utf-8")
assert '"引用 ""テスト"", カンマと改行\n二行目"' in raw
EOF

step "pseudonyms are stable: the same key gives the same tokens"
TOKEN=$(json_get "$T/r1" "[r['owner'] for r in j['tables']['risk_open']['rows']][0]")
assert_match "$TOKEN" '^PN-[0-9A-Z]{12}$' "a pseudonym"
run hub report --period "$FY" --out "$T/r2" --today 2027-04-15
assert_ok
assert_not_contains "$ERR" "made a new"
assert_eq "$TOKEN" "$(json_get "$T/r2" "[r['owner'] for r in j['tables']['risk_open']['rows']][0]")" "the pseudonym in the second report"
cmp -s "$T/r1/10-annex_incidents.csv" "$T/r2/10-annex_incidents.csv" || fail "the annex should be the same"

step "in English, not pseudonymised"
run hub report --period "$FY" --out "$T/r3" --today 2027-04-15 --lang en --no-pseudonymise
assert_ok
assert_contains "$OUT" "NOT pseudonymised"
check_report "$T/r3" 2026-04-01 2027-03-31 2027-04-15 --names-present
HTML=$(cat "$T/r3/review.html")
assert_contains "$HTML" "試験 次郎" "review.html, not pseudonymised"
assert_contains "$HTML" "Information security management review" "review.html in English"
assert_contains "$HTML" '<html lang="en">' "review.html in English"

step "an empty period"
run hub report --period 2030-04-01..2031-03-31 --out "$T/r4" --today 2031-04-15
assert_ok
assert_contains "$OUT" "0 incidents in the period"
check_report "$T/r4" 2030-04-01 2031-03-31 2031-04-15 --names-absent
assert_eq "0" "$(json_get "$T/r4" "j['annex_incidents']")" "annex of an empty period"

step "a period that starts and ends mid-month"
run hub report --period 2026-05-15..2026-08-14 --out "$T/r5" --today 2026-08-20
assert_ok
check_report "$T/r5" 2026-05-15 2026-08-14 2026-08-20 --names-absent
assert_eq "['2026-05', '2026-06', '2026-07', '2026-08']" "$(json_get "$T/r5" "[r['month'] for r in j['tables']['incidents_by_month']['rows']]")" "months"

step "report refuses bad options and writes nothing"
run hub report --out "$T/bad"
assert_rc 1
assert_contains "$ERR" "--period"
run hub report --period 2026-04-01 --out "$T/bad"
assert_rc 1
run hub report --period 2027-04-01..2026-04-01 --out "$T/bad"
assert_rc 1
assert_contains "$ERR" "is after"
run hub report --period "$FY" --out "$T/bad" --today 2027-02-30
assert_rc 1
run hub report --period "$FY"
assert_rc 1
[[ ! -e "$T/bad" ]] || fail "a refused report should write nothing"
chmod 644 "$T/hub/pseudonym.key"
run hub report --period "$FY" --out "$T/bad"
assert_rc 1
assert_contains "$ERR" "chmod 600"
chmod 600 "$T/hub/pseudonym.key"

step "a conflict resolved at the hub and a review reach the agents through the USB exchange"
run agent a1 init --node a1 --facility f1
run agent a2 init --node a2 --facility f1
run agent a1 record incident --set occurred_at=2026-09-01T10:00 --set category=紛失 --set description="書類の紛失"
assert_ok
R=$OUT
run agent a1 export-changes "$T/a1-1.krcs"
run hub import-changes --facility f1 "$T/a1-1.krcs"
assert_ok
run hub export-changes --facility f1 "$T/f1-1.krcs"
run agent a1 import-changes "$T/f1-1.krcs"
assert_ok
run agent a2 import-changes "$T/f1-1.krcs"
assert_ok
run agent a1 edit "$R" --set containment="書類を回収した"
assert_ok
run agent a2 edit "$R" --set containment="警察に遺失届を出した"
assert_ok
run agent a1 export-changes "$T/a1-2.krcs"
run agent a2 export-changes "$T/a2-1.krcs"
run hub import-changes "$T/a1-2.krcs"
assert_ok
run hub import-changes --facility f1 "$T/a2-1.krcs"
assert_ok
assert_contains "$OUT" "1 conflicts opened"
run hub conflicts --facility f1 --format tsv
assert_lines 1 "$OUT" "open conflicts"
C=$(cut -f1 <<<"$OUT")
run hub conflicts resolve "$C" --keep other --value x
assert_rc 1
run hub conflicts resolve "$C" --keep neither
assert_rc 1
run hub conflicts resolve "$R" --keep current
assert_rc 2
assert_contains "$ERR" "not a conflict entry"
run hub conflicts resolve "$C" --value "書類を回収し、警察に遺失届を出した"
assert_ok
assert_contains "$OUT" "containment of record $R now holds the given value"
run hub conflicts resolve "$C" --keep current
assert_rc 4
assert_contains "$ERR" "resolved already"
run hub conflicts --facility f1 --format tsv
assert_lines 0 "$OUT" "open conflicts after the resolution"
run hub review "$R" --state has-issues --comment "発見日時を記入してください"
assert_ok
run hub review "$R" --state maybe
assert_rc 2
run hub review "$R"
assert_rc 1
run hub export-changes --facility f1 --since 0 "$T/f1-2.krcs"
assert_ok
for a in a1 a2; do
	run agent $a import-changes "$T/f1-2.krcs"
	assert_ok
	run agent $a show "$R"
	assert_ok
	assert_contains "$OUT" "書類を回収し、警察に遺失届を出した" "$a's record after the resolution"
	assert_contains "$OUT" "要修正" "$a's review state"
	assert_contains "$OUT" "発見日時を記入してください" "$a's review comment"
	assert_contains "$OUT" "解決済み" "$a's conflict entry"
done
assert_eq "$(agent a1 list --all --format tsv)" "$(agent a2 list --all --format tsv)" "a2's records against a1's"
assert_eq "$(agent a1 list --all --format tsv)" "$(hub list --all --facility f1 --format tsv)" "the hub's f1 against a1's"
run agent a1 edit "$R" --set review_state=approved
assert_rc 4
assert_contains "$ERR" "only by the hub operator"
