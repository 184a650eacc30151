#!/usr/bin/python3
"""report_check.py: checks kiroku-hub's review material against the hub store, independently.

Usage: report_check.py HUB_DB OUT_DIR FROM TO TODAY [--names-absent | --names-present]

Every figure of OUT_DIR/review.json is recomputed here from the records with the sqlite3 command-line
program (SQL written for this test: no temporary tables, no code shared with the hub) and compared. Then
review.html must parse as XML (so as HTML5 that needs no error recovery), hold no script and fetch
nothing; every CSV must start with a BOM, end its lines with CRLF, read back with Python's csv module with
the rows the JSON has; with --names-absent no personal value of the store may appear in any file, with
--names-present they must. Prints "N passed, 0 failed" or the first differences, and exits 1 on any.
"""
import csv
import io
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

DB, OUT, FROM, TO, TODAY = sys.argv[1:6]
MODE = sys.argv[6] if len(sys.argv) > 6 else ""
failures = []
passed = 0


def check(cond, what):
    global passed
    if cond:
        passed += 1
    else:
        failures.append(what)


def q(sql):
    """Rows of sql as dicts, from the sqlite3 CLI."""
    out = subprocess.run(["sqlite3", "-json", "-readonly", DB, sql], capture_output=True, text=True, check=True)
    return json.loads(out.stdout) if out.stdout.strip() else []


def lit(s):
    return "'" + s.replace("'", "''") + "'"


B32 = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def ulid(hexid):
    n = int(hexid, 16)
    return "".join(B32[(n >> (5 * (25 - i))) & 31] for i in range(26))


def day(field):
    return "substr(json_extract(fields, '$.%s'), 1, 10)" % field


def rows_of(kind, fields, where=""):
    """Live records of kind with the given fields (day fields cut to the date) as dicts."""
    cols = ", ".join(
        ("%s AS %s" % (day(f[1:]), f[1:])) if f.startswith("@") else "json_extract(fields, '$.%s') AS %s" % (f, f)
        for f in fields)
    rows = q("SELECT hex(id) AS hid, facility, %s FROM records WHERE kind = %s AND deleted = 0 %s"
             % (cols, lit(kind), where))
    for r in rows:
        r["id"] = ulid(r.pop("hid"))
    return rows


def rate(num, den):
    return None if not den else num / den


def same(a, b):
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and abs(a - b) < 5e-6
    return a == b


def compare(table, want):
    got = report["tables"].get(table)
    check(got is not None, "table %s missing" % table)
    if got is None:
        return
    rows = got["rows"]
    check(len(rows) == len(want), "%s: %d rows, expected %d" % (table, len(rows), len(want)))
    for i, (g, w) in enumerate(zip(rows, want)):
        for k, v in w.items():
            if not same(g.get(k), v):
                failures.append("%s row %d %s: got %r, expected %r" % (table, i, k, g.get(k), v))
                break
        else:
            check(True, "")


report = json.load(open(os.path.join(OUT, "review.json"), encoding="utf-8"))
check(report["period"] == {"from": FROM, "to": TO}, "period")
check(report["today"] == TODAY, "today")

cat = q("SELECT text FROM catalogue ORDER BY version DESC LIMIT 1")[0]["text"]


def enum_values(kind, field):
    """The stored values of an enumeration, from the catalogue text in the store."""
    m = re.search(r"\[field %s\.%s\]\n(.*?)(?:\n\n|\Z)" % (kind, field), cat, re.S)
    return [line.split("=", 1)[1].split("|")[0].strip() for line in m.group(1).splitlines()
            if line.startswith("value =")]


facilities = sorted({r["facility"] for r in q(
    "SELECT facility FROM records WHERE substr(kind, 1, 1) <> '_' UNION SELECT facility FROM nodes")})
check(report["facilities"] == len(facilities), "facilities: %s, expected %d" % (report["facilities"], len(facilities)))


def in_period(d):
    return d is not None and FROM <= d <= TO


# ---- 2: education ----
courses = enum_values("training", "course")
trn = [r for r in rows_of("training", ["course", "@held_on", "completed"]) if in_period(r["held_on"])]
compare("education_by_course", [
    {"course": c, "attendees": len(x), "completed": sum(1 for r in x if r["completed"] == 1),
     "completion_rate": rate(sum(1 for r in x if r["completed"] == 1), len(x)),
     "facilities": len({r["facility"] for r in x})}
    for c in courses for x in [[r for r in trn if r["course"] == c]]])
compare("education_by_facility_course", [
    {"facility": f, "course": c, "attendees": len(x), "completed": sum(1 for r in x if r["completed"] == 1),
     "completion_rate": rate(sum(1 for r in x if r["completed"] == 1), len(x))}
    for f in facilities for c in courses for x in [[r for r in trn if r["course"] == c and r["facility"] == f]]])

# ---- 3: self-inspection ----
items = ["q%02d" % i for i in range(1, 21)]
si = [r for r in rows_of("self_inspection", ["@inspected_on", "completed"] + items) if in_period(r["inspected_on"])]
done = [r for r in si if r["completed"] == 1]


def answers(rs, a):
    return sum(1 for r in rs for i in items if r[i] == a)


compare("self_inspection_totals", [{
    "facilities": len(facilities), "facilities_completed": len({r["facility"] for r in done}),
    "completion_rate": rate(len({r["facility"] for r in done}), len(facilities)), "inspections": len(si),
    "inspections_completed": len(done),
    "yes_rate": rate(answers(done, "はい"), answers(done, "はい") + answers(done, "いいえ"))}])
compare("self_inspection_by_facility", [
    {"facility": f, "inspections": sum(1 for r in si if r["facility"] == f), "completed": len(d),
     "score": answers(d, "はい"), "no": answers(d, "いいえ"), "na": answers(d, "該当なし"),
     "yes_rate": rate(answers(d, "はい"), answers(d, "はい") + answers(d, "いいえ"))}
    for f in facilities for d in [[r for r in done if r["facility"] == f]]])
item_rows = []
for i in items:
    y = sum(1 for r in done if r[i] == "はい")
    n = sum(1 for r in done if r[i] == "いいえ")
    item_rows.append({"item": i, "yes": y, "no": n, "na": sum(1 for r in done if r[i] == "該当なし"),
                      "unanswered": sum(1 for r in done if r[i] is None), "no_rate": rate(n, y + n)})
item_rows.sort(key=lambda r: (r["no_rate"] is None, -(r["no_rate"] or 0), r["item"]))
compare("self_inspection_items", item_rows)

# ---- 4: audit ----
aud = rows_of("audit_finding", ["@audited_on", "severity", "status", "@due", "finding", "corrective_action"])
aud = [dict(r, status=r["status"] or "open") for r in aud if r["audited_on"] <= TO]
aud_p = [r for r in aud if r["audited_on"] >= FROM]
overdue_aud = sorted([r for r in aud if r["status"] != "closed" and r["due"] and r["due"] < TODAY],
                     key=lambda r: (r["due"], r["id"]))
compare("audit_totals", [{"findings": len(aud_p), "closed": sum(1 for r in aud_p if r["status"] == "closed"),
                          "open_all": sum(1 for r in aud if r["status"] != "closed"), "overdue": len(overdue_aud)}])
compare("audit_by_severity_status", [
    {"severity": s, "open": sum(1 for r in x if r["status"] == "open"),
     "in_progress": sum(1 for r in x if r["status"] == "in_progress"),
     "closed": sum(1 for r in x if r["status"] == "closed"), "total": len(x)}
    for s in reversed(enum_values("audit_finding", "severity")) for x in [[r for r in aud_p if r["severity"] == s]]])
julian = {}


def days_between(a, b):
    key = (a, b)
    if key not in julian:
        julian[key] = q("SELECT CAST(julianday(%s) - julianday(%s) AS INTEGER) AS d" % (lit(a), lit(b)))[0]["d"]
    return julian[key]


compare("audit_overdue", [{"id": r["id"], "facility": r["facility"], "due": r["due"], "severity": r["severity"],
                           "days_overdue": days_between(TODAY, r["due"]), "finding": r["finding"]}
                          for r in overdue_aud])

# ---- 5, 6: risk ----
lv = enum_values("risk", "likelihood")
risks = rows_of("risk", ["@identified_on", "likelihood", "impact", "treatment", "status", "@due", "risk"])
risks = [dict(r, status=r["status"] or "open") for r in risks if r["identified_on"] <= TO]
open_risks = [r for r in risks if r["status"] != "closed"]
compare("risk_matrix", [
    {"likelihood": l, "impact_low": sum(1 for r in x if r["impact"] == "low"),
     "impact_medium": sum(1 for r in x if r["impact"] == "medium"),
     "impact_high": sum(1 for r in x if r["impact"] == "high"), "total": len(x)}
    for l in reversed(lv) for x in [[r for r in open_risks if r["likelihood"] == l]]])
compare("risk_by_treatment", [
    {"treatment": t, "open": sum(1 for r in x if r["status"] == "open"),
     "in_treatment": sum(1 for r in x if r["status"] == "in_treatment"),
     "closed": sum(1 for r in x if r["status"] == "closed"), "total": len(x)}
    for t in enum_values("risk", "treatment") + [None]
    for x in [[r for r in risks if r["treatment"] == t and r["identified_on"] >= FROM]]])


def ordinal(v):
    return lv.index(v) + 1 if v in lv else 0


open_risks.sort(key=lambda r: (-ordinal(r["likelihood"]) * ordinal(r["impact"]), r["identified_on"], r["id"]))
compare("risk_open", [{"id": r["id"], "facility": r["facility"], "likelihood": r["likelihood"],
                       "impact": r["impact"], "status": r["status"], "due": r["due"],
                       "overdue": bool(r["due"] and r["due"] < TODAY), "risk": r["risk"]} for r in open_risks])

# ---- 7: incidents ----
inc = rows_of("incident", ["@occurred_at", "@discovered_at", "category", "severity", "status", "personal_info",
                           "my_number", "persons_affected", "asset_use_restricted", "ppc_report_required",
                           "unauthorised_purpose", "ppc_preliminary_due", "ppc_final_due", "ppc_preliminary_sent",
                           "ppc_final_sent", "recurrence_prevention"])
inc = [dict(r, status=r["status"] or "reported") for r in inc if r["occurred_at"] <= TO]
add_days = {}


def plus_days(d, n):
    if (d, n) not in add_days:
        add_days[(d, n)] = q("SELECT date(%s, '+%d days') AS d" % (lit(d), n))[0]["d"]
    return add_days[(d, n)]


def state(due, sent):
    if due is None:
        return None
    if sent is not None:
        return "met" if sent <= due else "late"
    return "overdue" if TODAY > due else "pending"


for r in inc:
    disc = r["discovered_at"] or r["occurred_at"]
    r["disc"] = disc
    if r["ppc_report_required"] == 1:
        r["p_due"] = r["ppc_preliminary_due"] or plus_days(disc, 5)
        r["f_due"] = r["ppc_final_due"] or plus_days(disc, 60 if r["unauthorised_purpose"] == 1 else 30)
    else:
        r["p_due"] = r["f_due"] = None
    r["p_state"] = state(r["p_due"], r["ppc_preliminary_sent"])
    r["f_state"] = state(r["f_due"], r["ppc_final_sent"])
inc.sort(key=lambda r: (r["occurred_at"], r["id"]))
inc_p = [r for r in inc if r["occurred_at"] >= FROM]
scope = [r for r in inc if r["occurred_at"] >= FROM or r["status"] != "closed"]
categories = enum_values("incident", "category")
compare("incidents_totals", [{
    "incidents": len(inc_p), "personal_info": sum(1 for r in inc_p if r["personal_info"] == 1),
    "my_number": sum(1 for r in inc_p if r["my_number"] == 1),
    "persons_affected": sum(r["persons_affected"] or 0 for r in inc_p),
    "asset_use_restricted": sum(1 for r in inc_p if r["asset_use_restricted"] == 1),
    "open": sum(1 for r in inc if r["status"] != "closed"),
    "open_carried_over": sum(1 for r in inc if r["status"] != "closed" and r["occurred_at"] < FROM),
    "ppc_required": sum(1 for r in scope if r["ppc_report_required"] == 1),
    "ppc_overdue": sum(1 for r in scope if "overdue" in (r["p_state"], r["f_state"])),
    "ppc_late": sum(1 for r in scope if "late" in (r["p_state"], r["f_state"])),
    "closed_without_recurrence_prevention": sum(1 for r in inc_p if r["status"] == "closed"
                                                and r["recurrence_prevention"] is None)}])
months = []
y, m = int(FROM[:4]), int(FROM[5:7])
while "%04d-%02d" % (y, m) <= TO[:7]:
    months.append("%04d-%02d" % (y, m))
    y, m = (y + 1, 1) if m == 12 else (y, m + 1)
compare("incidents_by_month", [
    dict({"month": mo, "total": len(x)}, **{c: sum(1 for r in x if r["category"] == c) for c in categories})
    for mo in months for x in [[r for r in inc_p if r["occurred_at"][:7] == mo]]])
compare("incidents_by_category", [
    {"category": c, "incidents": len(x), "personal_info": sum(1 for r in x if r["personal_info"] == 1),
     "my_number": sum(1 for r in x if r["my_number"] == 1),
     "persons_affected": sum(r["persons_affected"] or 0 for r in x),
     "asset_use_restricted": sum(1 for r in x if r["asset_use_restricted"] == 1),
     "with_recurrence_prevention": sum(1 for r in x if r["recurrence_prevention"] is not None)}
    for c in categories for x in [[r for r in inc_p if r["category"] == c]]])
compare("incidents_by_facility", [
    {"facility": f, "incidents": len(x), "open": sum(1 for r in x if r["status"] != "closed"),
     "high_or_critical": sum(1 for r in x if r["severity"] in ("high", "critical")),
     "ppc_required": sum(1 for r in x if r["ppc_report_required"] == 1)}
    for f in facilities for x in [[r for r in inc_p if r["facility"] == f]]])
compare("incidents_by_severity", [{"severity": s, "incidents": sum(1 for r in inc_p if r["severity"] == s)}
                                  for s in list(reversed(enum_values("incident", "severity"))) + [None]])
compare("incidents_by_status", [{"status": s, "incidents": sum(1 for r in inc_p if r["status"] == s)}
                                for s in enum_values("incident", "status")])
compare("incidents_open", [{"id": r["id"], "facility": r["facility"], "occurred_on": r["occurred_at"],
                            "status": r["status"], "carried_over": r["occurred_at"] < FROM,
                            "days_open": days_between(TODAY, r["occurred_at"])}
                           for r in inc if r["status"] != "closed"])
compare("incidents_ppc", [{"id": r["id"], "discovered_on": r["disc"], "preliminary_due": r["p_due"],
                           "preliminary_state": r["p_state"], "final_due": r["f_due"], "final_state": r["f_state"],
                           "preliminary_sent": r["ppc_preliminary_sent"], "final_sent": r["ppc_final_sent"]}
                          for r in scope if r["ppc_report_required"] == 1])
compare("incidents_recurrence", [{"id": r["id"], "severity": r["severity"],
                                  "recurrence_prevention": r["recurrence_prevention"]}
                                 for r in inc_p if r["severity"] in ("high", "critical")])

# ---- 8: contractors ----
con = rows_of("contractor_check", ["contractor", "contract", "@checked_on", "subcontracting", "result",
                                   "special_clauses_compliant", "@next_check_due", "findings"])
con = [r for r in con if r["checked_on"] <= TO]
latest = {}
for r in sorted(con, key=lambda r: (r["checked_on"], r["id"])):
    latest[(r["facility"], r["contractor"])] = r
crow = []
for key in sorted(latest):
    r = latest[key]
    due = r["next_check_due"] or q("SELECT date(%s, '+1 year') AS d" % lit(r["checked_on"]))[0]["d"]
    crow.append({"facility": key[0], "contractor": key[1], "contract": r["contract"],
                 "checks_in_period": sum(1 for c in con if (c["facility"], c["contractor"]) == key
                                         and c["checked_on"] >= FROM),
                 "last_checked_on": r["checked_on"], "next_due": due, "overdue": due < TODAY,
                 "result": r["result"], "special_clauses_compliant": None if r["special_clauses_compliant"] is None
                 else r["special_clauses_compliant"] == 1, "subcontracting": r["subcontracting"]})
issues = sorted([r for r in con if r["checked_on"] >= FROM and (r["special_clauses_compliant"] == 0
                 or r["result"] == "不適合" or r["subcontracting"] == "未承認")],
                key=lambda r: (r["checked_on"], r["id"]))
compare("contractor_totals", [{"contractors": len(crow),
                               "checked_in_period": sum(1 for c in crow if c["checks_in_period"] > 0),
                               "not_checked_in_period": sum(1 for c in crow if c["checks_in_period"] == 0),
                               "overdue": sum(1 for c in crow if c["overdue"]),
                               "checks": sum(1 for r in con if r["checked_on"] >= FROM),
                               "checks_with_issues": len(issues)}])
compare("contractors", crow)
compare("contractor_issues", [{"id": r["id"], "contractor": r["contractor"], "checked_on": r["checked_on"]}
                              for r in issues])

# ---- 9: the overall status ----
pif = rows_of("pi_file", ["status", "notified_on", "discontinuation_notified_on", "my_number"])
held = [r for r in pif if r["status"] != "discontinued"]
gone = [r for r in pif if r["status"] == "discontinued"]
compare("pi_files", [{"held": len(held), "held_my_number": sum(1 for r in held if r["my_number"] == 1),
                      "held_not_notified": sum(1 for r in held if r["notified_on"] is None),
                      "discontinued": len(gone),
                      "discontinued_not_notified": sum(1 for r in gone if r["discontinuation_notified_on"] is None)}])
pih = [r for r in rows_of("pi_handling", ["action", "@handled_at"]) if in_period(r["handled_at"])]
compare("pi_handling_by_action", [{"action": a, "entries": sum(1 for r in pih if r["action"] == a)}
                                  for a in enum_values("pi_handling", "action")])
overdue_counts = {
    "ppc_preliminary": sum(1 for r in scope if r["p_state"] == "overdue"),
    "ppc_final": sum(1 for r in scope if r["f_state"] == "overdue"),
    "audit_corrective_action": len(overdue_aud),
    "risk_treatment": sum(1 for r in open_risks if r["due"] and r["due"] < TODAY),
    "contractor_check": sum(1 for c in crow if c["overdue"]),
}
compare("overdue_items", [{"item": k, "count": v} for k, v in overdue_counts.items()])
att = len(trn)
comp = sum(1 for r in trn if r["completed"] == 1)
n_open = sum(1 for r in inc if r["status"] != "closed")
hi_open = sum(1 for r in inc if r["status"] != "closed" and r["severity"] in ("high", "critical"))
ppc_over = sum(1 for r in scope if "overdue" in (r["p_state"], r["f_state"]))
fac_done = len({r["facility"] for r in done})
high_risks = sum(1 for r in open_risks if r["likelihood"] == "high" and r["impact"] == "high")
risk_over = overdue_counts["risk_treatment"]


def rating(alert, warn):
    return "alert" if alert else "warn" if warn else "ok"


compare("overall", [
    {"indicator": "incidents_open", "count": n_open, "rating": rating(hi_open, n_open)},
    {"indicator": "ppc_overdue", "count": ppc_over,
     "rating": rating(ppc_over, any("late" in (r["p_state"], r["f_state"]) for r in scope))},
    {"indicator": "training_completion", "count": comp, "of": att, "rate": rate(comp, att),
     "rating": rating(att == 0 or comp < 0.80 * att, comp < 0.95 * att)},
    {"indicator": "self_inspection_completion", "count": fac_done, "of": len(facilities),
     "rate": rate(fac_done, len(facilities)),
     "rating": rating(not facilities or fac_done < 0.9 * len(facilities), fac_done < len(facilities))},
    {"indicator": "audit_overdue", "count": len(overdue_aud),
     "rating": rating(any(r["severity"] == "high" for r in overdue_aud), overdue_aud)},
    {"indicator": "risks_high_open", "count": high_risks, "rating": rating(high_risks, False)},
    {"indicator": "risk_overdue", "count": risk_over, "rating": rating(False, risk_over)},
    {"indicator": "contractor_checks_overdue", "count": overdue_counts["contractor_check"], "of": len(crow),
     "rating": rating(False, overdue_counts["contractor_check"])},
    {"indicator": "contractor_issues", "count": len(issues), "rating": rating(issues, False)},
    {"indicator": "pi_files_not_notified", "count": sum(1 for r in held if r["notified_on"] is None),
     "of": len(held), "rating": rating(False, any(r["notified_on"] is None for r in held))},
])
check(report["annex_incidents"] == len(inc_p), "annex_incidents")

# ---- The files ----
html_text = open(os.path.join(OUT, "review.html"), encoding="utf-8").read()
try:
    root = ET.fromstring(html_text[html_text.index("<html"):])
    check(True, "")
except ET.ParseError as e:
    failures.append("review.html is not well-formed: %s" % e)
    root = None
if root is not None:
    tags = {el.tag for el in root.iter()}
    check("script" not in tags and "{http://www.w3.org/2000/svg}script" not in tags, "no script")
    check(not re.search(r'(src|href)="(?!#)', html_text), "nothing fetched (src/href other than #anchors)")
    check(len(root.findall(".//{http://www.w3.org/2000/svg}svg")) >= 5, "at least 5 SVG charts")
    check(len(root.findall(".//section")) == 9, "9 sections (first page, items 2-9, annex)")
    annex_rows = root.findall(".//section[@id='annex']//tbody/tr")
    check(len(annex_rows) == 2 * len(inc_p), "annex: two rows per incident of the period")
check("@page" in html_text and "break-before:page" in html_text, "print styles")

csv_names = sorted(n for n in os.listdir(OUT) if n.endswith(".csv"))
check(len(csv_names) == len(report["tables"]) + 1, "one CSV per table and the annex")
for name in csv_names:
    raw = open(os.path.join(OUT, name), "rb").read()
    check(raw.startswith(b"\xef\xbb\xbf"), "%s: BOM" % name)
    body = raw[3:].decode("utf-8")
    check(body.endswith("\r\n"), "%s: ends with CRLF" % name)
    rows = list(csv.reader(io.StringIO(body, newline="")))
    check(all(rows[0]), "%s: a header" % name)
    # Outside quoted fields every line ends with CRLF: remove the quoted fields, then look for a lone LF.
    unquoted = re.sub(r'"(?:[^"]|"")*"', "", body)
    check("\n" not in unquoted.replace("\r\n", ""), "%s: CRLF line ends" % name)
    table = re.sub(r"^\d\d-", "", name[:-4])
    if table in report["tables"]:
        check(len(rows) - 1 == len(report["tables"][table]["rows"]), "%s: rows as in the JSON" % name)
    else:
        check(table == "annex_incidents" and len(rows) - 1 == len(inc_p), "%s: one row per incident" % name)

# Personal values of the store.
personal = {(k, f) for k, f in re.findall(r"\[field (\w+)\.(\w+)\]\n(?:[^\[]*?)personal = yes", cat)}
names = set()
for k, f in personal:
    for r in q("SELECT DISTINCT json_extract(fields, '$.%s') AS v FROM records WHERE kind = %s" % (f, lit(k))):
        if r["v"]:
            names.add(r["v"])
everything = html_text + "".join(open(os.path.join(OUT, n), encoding="utf-8-sig").read() for n in csv_names) \
    + open(os.path.join(OUT, "review.json"), encoding="utf-8").read()
if MODE == "--names-absent":
    leaked = sorted(n for n in names if n in everything)
    check(not leaked, "personal values in the output: %s" % leaked[:5])
    check(report["pseudonymised"] is True, "pseudonymised flag")
    check(re.search(r"PN-[0-9A-HJKMNP-TV-Z]{12}", html_text) is not None or not inc_p, "pseudonyms shown")
elif MODE == "--names-present":
    shown = [r["v"] for k, f in [("incident", "reporter_name")]
             for r in q("SELECT json_extract(fields, '$.reporter_name') AS v FROM records WHERE kind = 'incident' "
                        "AND deleted = 0 AND %s BETWEEN %s AND %s AND v IS NOT NULL"
                        % (day("occurred_at"), lit(FROM), lit(TO)))]
    check(all(v in html_text for v in shown), "reporters' names in the HTML with --no-pseudonymise")
    check(report["pseudonymised"] is False, "pseudonymised flag")

for f in failures[:25]:
    print("FAIL:", f)
print("%d passed, %d failed" % (passed, len(failures)))
sys.exit(1 if failures else 0)
