/* report_figures.c: the figures of the review material, computed with SQL over the records' JSON fields.
 *
 * Each kind's records are first copied, with the fields the figures need, into a temporary table of the
 * store's connection (one pass over the JSON per kind), and every table of figures is then one query over
 * those. Bound parameters: ?1 the period's first day, ?2 its last day, ?3 "today" (all "YYYY-MM-DD"; dates
 * compare as text). docs/report.md says what each figure counts; tests/e2e/report_check.py recomputes
 * every one independently.
 */
#include "report_int.h"

#include <stdlib.h>
#include <string.h>

#include "kiroku/day.h"
#include "kiroku/ids.h"
#include "kiroku/lifecycle.h"

/* ---- SQL functions of the report's connection ---- */

/* kr_ulid(blob) -> the id's 26-character text. */
static void fn_ulid(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	char text[KR_ULID_LEN + 1];
	kr_ulid id;

	(void)argc;
	if (sqlite3_value_type(argv[0]) != SQLITE_BLOB || sqlite3_value_bytes(argv[0]) != 16) {
		sqlite3_result_null(ctx);
		return;
	}
	memcpy(id.b, sqlite3_value_blob(argv[0]), 16);
	kr_ulid_format(&id, text);
	sqlite3_result_text(ctx, text, KR_ULID_LEN, SQLITE_TRANSIENT);
}

/* kr_deadline(due, sent, today) -> "pending", "overdue", "met", "late" (kr_deadline_check), or NULL when
 * there is no due day. */
static void fn_deadline(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const char *due = (const char *)sqlite3_value_text(argv[0]);
	const char *sent = (const char *)sqlite3_value_text(argv[1]);
	const char *today = (const char *)sqlite3_value_text(argv[2]);
	kr_day d, s, t;
	bool has_sent;

	(void)argc;
	if (!due || !today || kr_day_parse("due", due, &d, NULL) || kr_day_parse("today", today, &t, NULL)) {
		sqlite3_result_null(ctx);
		return;
	}
	has_sent = sent && kr_day_parse("sent", sent, &s, NULL) == KR_OK;
	sqlite3_result_text(ctx, kr_deadline_name(kr_deadline_check(d, has_sent ? &s : NULL, t)), -1, SQLITE_STATIC);
}

/* ---- Tables ---- */

const char *rpt_rating_name(enum rating r)
{
	return r == RATING_ALERT ? "alert" : r == RATING_WARN ? "warn" : "ok";
}

struct rtable *rpt_table(const struct rpt *r, const char *id)
{
	for (size_t i = 0; i < r->ntables; i++)
		if (strcmp(r->tables[i]->id, id) == 0)
			return r->tables[i];
	return NULL;
}

const struct rcell *rt_cell(const struct rtable *t, size_t row, size_t col)
{
	if (!t || row >= t->nrows || col >= t->ncols)
		return NULL;
	return &t->cells[row * t->ncols + col];
}

size_t rt_col(const struct rtable *t, const char *key)
{
	for (size_t i = 0; t && i < t->ncols; i++)
		if (strcmp(t->cols[i].key, key) == 0)
			return i;
	return (size_t)-1;
}

int64_t rt_int(const struct rtable *t, size_t row, const char *key)
{
	const struct rcell *c = rt_cell(t, row, rt_col(t, key));
	return c && !c->null ? c->i : 0;
}

static kr_status nomem(struct kr_error *err)
{
	return kr_fail(err, KR_ERR_NOMEM, "out of memory computing the review material");
}

static struct rtable *table_new(struct rpt *r, const char *id, int item, const char *ja, const char *en,
                                const char *note_ja, const char *note_en, const struct rcol *cols, size_t ncols)
{
	struct rtable *t;

	if (r->ntables == RPT_MAX_TABLES || !(t = kr_arena_alloc(&r->arena, sizeof *t)))
		return NULL;
	*t = (struct rtable){.id = id,
	                     .item = item,
	                     .ja = ja,
	                     .en = en,
	                     .note_ja = note_ja,
	                     .note_en = note_en,
	                     .ncols = ncols,
	                     .cols = cols};
	r->tables[r->ntables++] = t;
	return t;
}

/* A new row of null cells; NULL when out of memory. */
static struct rcell *row_add(struct rtable *t)
{
	struct rcell *row;

	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		struct rcell *c = realloc(t->cells, cap * t->ncols * sizeof *c);
		if (!c)
			return NULL;
		t->cells = c;
		t->cap = cap;
	}
	row = &t->cells[t->nrows++ * t->ncols];
	for (size_t i = 0; i < t->ncols; i++)
		row[i] = (struct rcell){.null = true};
	return row;
}

static kr_status sql_fail(struct rpt *r, int rc, const char *what, struct kr_error *err)
{
	return kr_fail(err, KR_ERR_STORE, "computing the review material (%s): SQLite %d (%s)", what, rc,
	               sqlite3_errmsg(r->db));
}

static void bind_period(struct rpt *r, sqlite3_stmt *q)
{
	int n = sqlite3_bind_parameter_count(q);
	if (n >= 1)
		sqlite3_bind_text(q, 1, r->from, -1, SQLITE_STATIC);
	if (n >= 2)
		sqlite3_bind_text(q, 2, r->to, -1, SQLITE_STATIC);
	if (n >= 3)
		sqlite3_bind_text(q, 3, r->today, -1, SQLITE_STATIC);
}

/* Stores column i of the current result row into cell c as the column type says. */
static kr_status take_cell(struct rpt *r, sqlite3_stmt *q, int i, const struct rcol *col, struct rcell *c)
{
	if (sqlite3_column_type(q, i) == SQLITE_NULL)
		return KR_OK;
	c->null = false;
	switch (col->type) {
	case RT_INT:
	case RT_BOOL:
		c->i = sqlite3_column_int64(q, i);
		return KR_OK;
	case RT_RATE:
		c->r = sqlite3_column_double(q, i);
		return KR_OK;
	default:
		c->s = kr_arena_strdup(&r->arena, (const char *)sqlite3_column_text(q, i));
		return c->s ? KR_OK : KR_ERR_NOMEM;
	}
}

/* Appends the rows of sql (one result column per table column, in order) to t. */
static kr_status fill(struct rpt *r, struct rtable *t, const char *sql, struct kr_error *err)
{
	sqlite3_stmt *q;
	kr_status s = KR_OK;
	int rc;

	if (!t)
		return nomem(err);
	rc = sqlite3_prepare_v2(r->db, sql, -1, &q, NULL);
	if (rc != SQLITE_OK)
		return sql_fail(r, rc, t->id, err);
	if ((size_t)sqlite3_column_count(q) != t->ncols) {
		sqlite3_finalize(q);
		return kr_fail(err, KR_ERR_INTERNAL, "table %s: the query gives %d columns, not %zu", t->id,
		               sqlite3_column_count(q), t->ncols);
	}
	bind_period(r, q);
	while (!s && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct rcell *row = row_add(t);
		if (!row) {
			s = nomem(err);
			break;
		}
		for (size_t i = 0; i < t->ncols && !s; i++)
			if (take_cell(r, q, (int)i, &t->cols[i], &row[i]))
				s = nomem(err);
	}
	if (!s && rc != SQLITE_DONE)
		s = sql_fail(r, rc, t->id, err);
	sqlite3_finalize(q);
	return s;
}

static kr_status exec(struct rpt *r, const char *sql, const char *what, struct kr_error *err)
{
	sqlite3_stmt *q;
	const char *tail = sql;
	int rc = SQLITE_OK;

	while (tail && *tail) {
		rc = sqlite3_prepare_v2(r->db, tail, -1, &q, &tail);
		if (rc != SQLITE_OK)
			return sql_fail(r, rc, what, err);
		if (!q)
			break;
		bind_period(r, q);
		while ((rc = sqlite3_step(q)) == SQLITE_ROW)
			;
		sqlite3_finalize(q);
		if (rc != SQLITE_DONE)
			return sql_fail(r, rc, what, err);
	}
	return KR_OK;
}

/* ---- The temporary tables: one pass over each kind's JSON ---- */

/* A date field's day: the first ten bytes of a date or a date and time. */
#define DAY(f)  "substr(json_extract(fields, '$." f "'), 1, 10)"
#define J(f)    "json_extract(fields, '$." f "')"
#define LIVE(k) "FROM records WHERE kind = '" k "' AND deleted = 0 "

static const char temp_tables[] =
    "DROP TABLE IF EXISTS temp.r_fac; DROP TABLE IF EXISTS temp.r_inc; DROP TABLE IF EXISTS temp.r_trn;"
    "DROP TABLE IF EXISTS temp.r_si; DROP TABLE IF EXISTS temp.r_aud; DROP TABLE IF EXISTS temp.r_risk;"
    "DROP TABLE IF EXISTS temp.r_con; DROP TABLE IF EXISTS temp.r_pif; DROP TABLE IF EXISTS temp.r_pih;"
    "DROP TABLE IF EXISTS temp.r_annex;"
    /* Every facility the hub knows: any record of a catalogue kind (deleted ones too) or a node. */
    "CREATE TEMP TABLE r_fac AS SELECT facility FROM records WHERE substr(kind, 1, 1) <> '_' "
    "UNION SELECT facility FROM nodes;"
    /* Incidents that occurred up to the period's end (earlier ones still open are carried over). */
    "CREATE TEMP TABLE r_inc AS SELECT *, kr_deadline(p_due, p_sent, ?3) AS p_state, "
    "kr_deadline(f_due, f_sent, ?3) AS f_state FROM (SELECT id, facility, occ, disc, category, severity, status, "
    "rid, pi, mn, persons, restricted, ppc, has_rp, rp, p_sent, f_sent, "
    "CASE WHEN ppc = 1 THEN coalesce(p_due0, date(disc, '+5 days')) END AS p_due, "
    "CASE WHEN ppc = 1 THEN coalesce(f_due0, date(disc, CASE WHEN unauth = 1 THEN '+60 days' ELSE '+30 days' END)) "
    "END AS f_due FROM (SELECT rowid AS rid, kr_ulid(id) AS id, facility, " DAY("occurred_at") " AS occ, "
                                                                                               "coalesce(" DAY("discove"
                                                                                                               "red_at") ", " DAY("occurred_at") ") AS disc, " J(
                                                                                                   "category") " AS "
                                                                                                               "categor"
                                                                                                               "y, " J("severity") " AS severity, coalesce(" J("status") ", 'reported') AS status, "
                                                                                                                                                                         "coalesce(" J("personal_info") ", 0) AS pi, coalesce(" J("my_number") ", 0) AS mn, "
                                                                                                                                                                                                                                               "coalesce(" J("persons_affected") ", 0) AS persons, coalesce(" J("asset_use_restricted") ", 0) AS restricted, "
                                                                                                                                                                                                                                                                                                                                        "coalesce(" J("ppc_report_required") ", 0) AS ppc, coalesce(" J("unauthorised_purpose") ", 0) AS unauth, " J("recurrence_prevention") " IS NOT NULL AS has_rp, CASE WHEN " J("severity") " IN ('high', 'critical') THEN " J("recurrence_prevention") " END AS rp, " J("ppc_preliminary_due") " AS p_due0, " J("ppc_final_due") " AS f_due0, " J(
                                                                                                                                                                                                                                                                                                                                            "ppc_preliminary_sent") " AS p_sent, " J("ppc_final_sent") " AS f_sent " LIVE("incident") "AND " DAY("occurred_at") " <= ?2));"
                                                                                                                                                                                                                                                                                                                                                                                                                                                                /* Training of the period. */
                                                                                                                                                                                                                                                                                                                                                                                                                                                                "CREATE TEMP TABLE r_trn AS SELECT kr_ulid(id) AS id, facility, " J("course") " AS course, "
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                              "coalesce(" J(
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                  "completed") ", 0) AS completed " LIVE("training") "AND " DAY("held_on") " BETWEEN ?1 AND ?2;"
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                           /* Audit findings up to the period's end. */
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                           "CREATE TEMP TABLE r_aud AS SELECT kr_ulid(id) AS id, facility, " DAY(
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                               "audited_on") " AS aud, " J("severity") " AS severity, coalesce(" J("status") ", 'open') AS status, " DAY("due") " AS due, " J("finding") " AS finding, " J("corrective_action") " AS action " LIVE("audit_finding") "AND " DAY("audited_on") " <= ?2;"
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                             /* Risks identified up to the period's end. */
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                             "CREATE TEMP TABLE r_risk AS SELECT kr_ulid(id) AS id, facility, " DAY("identified_on") " AS ident, " J("risk") " AS risk, " J("likelihood") " AS likelihood, " J("impact") " AS impact, " J("treatment") " AS treatment, " J(
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                 "treatment_plan") " AS plan, " J("owner") " AS owner, " DAY("due") " AS due, "
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                    "coalesce(" J("status") ", 'open') AS status " LIVE("risk") "AND " DAY(
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                        "identified_on") " <= ?2;"
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                         /* Contractor checks up to the period's end. */
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                         "CREATE TEMP TABLE r_con AS SELECT kr_ulid(id) AS id, facility, " J("contractor") " AS contractor, " J("contract") " AS contract, " DAY("checked_on") " AS checked, " J("subcontracting") " AS sub, " J("result") " AS result, " J("special_clauses_compliant") " AS compliant, " DAY("next_check_due") " AS next_due, " J("findings") " AS findings " LIVE("contractor_check") "AND " DAY(
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                             "checked_on") " <= ?2;"
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                           /* The personal-information file register as it stands, and the handling ledger of the period. */
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                           "CREATE TEMP TABLE r_pif AS SELECT kr_ulid(id) AS id, facility, " J("status") " AS status, " J("notified_on") " AS notified, " J("discontinuation_notified_on") " AS disc_notified, "
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                           "coalesce(" J("my_number") ", 0) AS mn " LIVE(
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                               "pi_file") ";"
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                          "CREATE TEMP TABLE r_pih AS SELECT kr_ulid(id) AS id, facility, " J("action") " AS action " LIVE("pi_handling") "AND " DAY(
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                              "handled_at") " BETWEEN ?1 AND ?2;"
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                            /* The annex's order (n), sorted once on small rows: its query then reads the records by row id. */
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                            "CREATE TEMP TABLE r_annex(n INTEGER PRIMARY KEY, rid, id);"
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                            "INSERT INTO r_annex(rid, id) SELECT rid, id FROM r_inc WHERE occ >= ?1 ORDER BY occ, id;";

/* r_enum(kind, field, value, ord): the enumeration values of the catalogue, in its order (1, 2, ...). */
static kr_status enum_table(struct rpt *r, struct kr_error *err)
{
	sqlite3_stmt *q;
	kr_status s;
	int rc;

	if ((s = exec(r, "DROP TABLE IF EXISTS temp.r_enum; CREATE TEMP TABLE r_enum(kind, field, value, ord)",
	              "r_enum", err)))
		return s;
	rc = sqlite3_prepare_v2(r->db, "INSERT INTO r_enum VALUES (?1, ?2, ?3, ?4)", -1, &q, NULL);
	if (rc != SQLITE_OK)
		return sql_fail(r, rc, "r_enum", err);
	for (size_t k = 0; k < r->cat->nkinds; k++) {
		const struct kr_kind_def *kd = &r->cat->kinds[k];
		for (size_t f = 0; f < kd->nfields; f++) {
			for (size_t v = 0; v < kd->fields[f].nvalues; v++) {
				sqlite3_bind_text(q, 1, kd->name, -1, SQLITE_STATIC);
				sqlite3_bind_text(q, 2, kd->fields[f].name, -1, SQLITE_STATIC);
				sqlite3_bind_text(q, 3, kd->fields[f].values[v], -1, SQLITE_STATIC);
				sqlite3_bind_int64(q, 4, (sqlite3_int64)v + 1);
				rc = sqlite3_step(q);
				sqlite3_reset(q);
				if (rc != SQLITE_DONE) {
					sqlite3_finalize(q);
					return sql_fail(r, rc, "r_enum", err);
				}
			}
		}
	}
	sqlite3_finalize(q);
	return KR_OK;
}

#define SI_ITEMS 20

/* r_si: self-inspections of the period with each answer and the counts of yes, no and n.a. */
static kr_status si_table(struct rpt *r, struct kr_error *err)
{
	struct kr_buf sql;
	kr_status s;

	kr_buf_init(&sql, 0);
	s = kr_buf_printf(&sql, "DROP TABLE IF EXISTS temp.r_si; CREATE TEMP TABLE r_si AS SELECT *");
	for (const char *ans[] = {"はい", "いいえ", "該当なし"}, **a = ans; !s && a < ans + 3; a++) {
		s = kr_buf_printf(&sql, ", 0");
		for (int i = 1; i <= SI_ITEMS && !s; i++)
			s = kr_buf_printf(&sql, " + coalesce(q%02d = '%s', 0)", i, *a);
		if (!s)
			s = kr_buf_printf(&sql, " AS %s", a == ans ? "y" : a == ans + 1 ? "n" : "na");
	}
	if (!s)
		s = kr_buf_printf(
		    &sql, " FROM (SELECT kr_ulid(id) AS id, facility, coalesce(" J("completed") ", 0) AS completed");
	for (int i = 1; i <= SI_ITEMS && !s; i++)
		s = kr_buf_printf(&sql, ", json_extract(fields, '$.q%02d') AS q%02d", i, i);
	if (!s)
		s = kr_buf_printf(&sql, " " LIVE("self_inspection") "AND " DAY("inspected_on") " BETWEEN ?1 AND ?2)");
	if (!s)
		s = kr_buf_terminate(&sql);
	if (s)
		s = nomem(err);
	else
		s = exec(r, (const char *)sql.data, "r_si", err);
	kr_buf_release(&sql);
	return s;
}

/* ---- Section 2 (第2号): education ---- */

#define RATE_OF(num, den) "CASE WHEN " den " > 0 THEN 1.0 * " num " / " den " END"

static const struct rcol edu_fac_cols[] = {
    {.key = "facility", .ja = "施設", .en = "Facility", .type = RT_ID},
    {.key = "course", .ja = "研修の区分", .en = "Course", .type = RT_ENUM, .kind = "training", .field = "course"},
    {.key = "attendees", .ja = "受講者数", .en = "Attendees", .type = RT_INT},
    {.key = "completed", .ja = "修了者数", .en = "Completed", .type = RT_INT},
    {.key = "completion_rate", .ja = "修了率", .en = "Completion rate", .type = RT_RATE},
};
static const struct rcol edu_course_cols[] = {
    {.key = "course", .ja = "研修の区分", .en = "Course", .type = RT_ENUM, .kind = "training", .field = "course"},
    {.key = "attendees", .ja = "受講者数", .en = "Attendees", .type = RT_INT},
    {.key = "completed", .ja = "修了者数", .en = "Completed", .type = RT_INT},
    {.key = "completion_rate", .ja = "修了率", .en = "Completion rate", .type = RT_RATE},
    {.key = "facilities", .ja = "実施施設数", .en = "Facilities", .type = RT_INT},
};

static kr_status education(struct rpt *r, struct kr_error *err)
{
	kr_status s;

	s = fill(
	    r,
	    table_new(r, "education_by_course", 2, "研修の区分ごとの受講と修了", "Attendance and completion by course",
	              "期間中に実施された研修の受講記録（1件が受講者1名）",
	              "Training records held in the period (one per attendee)", edu_course_cols, 5),
	    "SELECT e.value, coalesce(g.n, 0), coalesce(g.done, 0), " RATE_OF(
	        "g.done", "g.n") ", coalesce(g.fac, 0) FROM r_enum e LEFT JOIN (SELECT course, count(*) AS n, "
	                         "sum(completed) AS done, "
	                         "count(DISTINCT facility) AS fac FROM r_trn GROUP BY course) g ON g.course = e.value "
	                         "WHERE e.kind = 'training' AND e.field = 'course' ORDER BY e.ord",
	    err);
	if (!s)
		s = fill(
		    r,
		    table_new(r, "education_by_facility_course", 2, "施設・研修の区分ごとの受講と修了",
		              "Attendance and completion by facility and course", NULL, NULL, edu_fac_cols, 5),
		    "SELECT f.facility, e.value, coalesce(g.n, 0), coalesce(g.done, 0), " RATE_OF(
		        "g.done", "g.n") " FROM r_fac f JOIN r_enum e ON e.kind = 'training' AND e.field = 'course' "
		                         "LEFT JOIN (SELECT "
		                         "facility, course, count(*) AS n, sum(completed) AS done FROM r_trn GROUP BY "
		                         "facility, course) g "
		                         "ON g.facility = f.facility AND g.course = e.value ORDER BY f.facility, e.ord",
		    err);
	return s;
}

/* ---- Section 3 (第3号): self-inspection ---- */

static const struct rcol si_tot_cols[] = {
    {.key = "facilities", .ja = "施設数", .en = "Facilities", .type = RT_INT},
    {.key = "facilities_completed",
     .ja = "点検を完了した施設数",
     .en = "Facilities with a completed inspection",
     .type = RT_INT},
    {.key = "completion_rate", .ja = "完了率", .en = "Completion rate", .type = RT_RATE},
    {.key = "inspections", .ja = "点検の記録数", .en = "Inspections recorded", .type = RT_INT},
    {.key = "inspections_completed", .ja = "完了した点検数", .en = "Inspections completed", .type = RT_INT},
    {.key = "yes_rate", .ja = "「はい」の割合", .en = "Share of yes answers", .type = RT_RATE},
};
static const struct rcol si_fac_cols[] = {
    {.key = "facility", .ja = "施設", .en = "Facility", .type = RT_ID},
    {.key = "inspections", .ja = "点検の記録数", .en = "Inspections", .type = RT_INT},
    {.key = "completed", .ja = "完了", .en = "Completed", .type = RT_INT},
    {.key = "score", .ja = "点数（「はい」）", .en = "Score (yes)", .type = RT_INT},
    {.key = "no", .ja = "「いいえ」", .en = "No", .type = RT_INT},
    {.key = "na", .ja = "「該当なし」", .en = "N/A", .type = RT_INT},
    {.key = "yes_rate", .ja = "「はい」の割合", .en = "Share of yes", .type = RT_RATE},
};
static const struct rcol si_item_cols[] = {
    {.key = "item", .ja = "点検項目", .en = "Checklist item", .type = RT_FIELD, .kind = "self_inspection"},
    {.key = "yes", .ja = "はい", .en = "Yes", .type = RT_INT},
    {.key = "no", .ja = "いいえ", .en = "No", .type = RT_INT},
    {.key = "na", .ja = "該当なし", .en = "N/A", .type = RT_INT},
    {.key = "unanswered", .ja = "未回答", .en = "Unanswered", .type = RT_INT},
    {.key = "no_rate", .ja = "「いいえ」の割合", .en = "Share of no", .type = RT_RATE},
};

static kr_status self_inspection(struct rpt *r, struct kr_error *err)
{
	struct kr_buf sql;
	kr_status s;

	s = fill(
	    r,
	    table_new(r, "self_inspection_totals", 3, "自己点検の実施状況", "Self-inspection: completion",
	              "期間中の点検日の記録。点数は完了した点検の「はい」の数",
	              "Inspections dated in the period; scores count the yes answers of completed ones", si_tot_cols,
	              6),
	    "SELECT (SELECT count(*) FROM r_fac), (SELECT count(DISTINCT facility) FROM r_si WHERE completed = 1), "
	    "CASE WHEN (SELECT count(*) FROM r_fac) > 0 THEN 1.0 * (SELECT count(DISTINCT facility) FROM r_si WHERE "
	    "completed = 1) / (SELECT count(*) FROM r_fac) END, (SELECT count(*) FROM r_si), "
	    "(SELECT count(*) FROM r_si WHERE completed = 1), (SELECT " RATE_OF(
	        "sum(y)", "sum(y + n)") " FROM r_si WHERE completed = 1)",
	    err);
	if (!s)
		s = fill(r,
		         table_new(r, "self_inspection_by_facility", 3, "施設ごとの自己点検の結果",
		                   "Self-inspection by facility",
		                   "点数・「いいえ」・「該当なし」は完了した点検の回答の合計",
		                   "Score, no and N/A sum the answers of completed inspections", si_fac_cols, 7),
		         "SELECT f.facility, count(s.id), coalesce(sum(s.completed), 0), "
		         "coalesce(sum(CASE WHEN s.completed = 1 THEN s.y END), 0), "
		         "coalesce(sum(CASE WHEN s.completed = 1 THEN s.n END), 0), "
		         "coalesce(sum(CASE WHEN s.completed = 1 THEN s.na END), 0), " RATE_OF(
		             "sum(CASE WHEN s.completed = 1 THEN s.y END)",
		             "sum(CASE WHEN s.completed = 1 THEN s.y + s.n END)") " FROM r_fac f LEFT JOIN r_si s ON "
		                                                                  "s.facility = f.facility GROUP BY "
		                                                                  "f.facility ORDER BY f.facility",
		         err);
	if (s)
		return s;
	kr_buf_init(&sql, 0);
	s = kr_buf_printf(&sql, "SELECT item, y, n, na, u, " RATE_OF("n", "(y + n)") " AS no_rate FROM (");
	for (int i = 1; i <= SI_ITEMS && !s; i++)
		s = kr_buf_printf(
		    &sql,
		    "%sSELECT 'q%02d' AS item, coalesce(sum(q%02d = 'はい'), 0) AS y, coalesce(sum(q%02d = 'いいえ'), "
		    "0) "
		    "AS n, coalesce(sum(q%02d = '該当なし'), 0) AS na, coalesce(sum(q%02d IS NULL), 0) AS u FROM "
		    "r_si WHERE completed = 1",
		    i > 1 ? " UNION ALL " : "", i, i, i, i, i);
	if (!s)
		s = kr_buf_printf(&sql, ") ORDER BY no_rate DESC NULLS LAST, item");
	if (!s)
		s = kr_buf_terminate(&sql);
	if (s)
		s = nomem(err);
	else
		s = fill(r,
		         table_new(r, "self_inspection_items", 3, "点検項目ごとの回答（弱い項目から）",
		                   "Answers by checklist item (weakest first)",
		                   "完了した点検の回答。「いいえ」の割合＝いいえ÷（はい＋いいえ）",
		                   "Answers of completed inspections; share of no = no / (yes + no)", si_item_cols, 6),
		         (const char *)sql.data, err);
	kr_buf_release(&sql);
	return s;
}

/* ---- Section 4 (第4号): audit ---- */

static const struct rcol aud_sev_cols[] = {
    {.key = "severity",
     .ja = "重要度",
     .en = "Severity",
     .type = RT_ENUM,
     .kind = "audit_finding",
     .field = "severity"},
    {.key = "open", .ja = "未着手", .en = "Open", .type = RT_INT},
    {.key = "in_progress", .ja = "対応中", .en = "In progress", .type = RT_INT},
    {.key = "closed", .ja = "是正済み", .en = "Closed", .type = RT_INT},
    {.key = "total", .ja = "計", .en = "Total", .type = RT_INT},
};
static const struct rcol aud_tot_cols[] = {
    {.key = "findings", .ja = "指摘事項（期間中）", .en = "Findings (period)", .type = RT_INT},
    {.key = "closed", .ja = "うち是正済み", .en = "of which closed", .type = RT_INT},
    {.key = "open_all", .ja = "未是正（期間末まで）", .en = "Not closed (to the period's end)", .type = RT_INT},
    {.key = "overdue", .ja = "是正期限超過", .en = "Corrective action overdue", .type = RT_INT},
};
static const struct rcol aud_over_cols[] = {
    {.key = "id", .ja = "ID", .en = "ID", .type = RT_ID},
    {.key = "facility", .ja = "施設", .en = "Facility", .type = RT_ID},
    {.key = "audited_on", .ja = "監査日", .en = "Audited on", .type = RT_DATE},
    {.key = "severity",
     .ja = "重要度",
     .en = "Severity",
     .type = RT_ENUM,
     .kind = "audit_finding",
     .field = "severity"},
    {.key = "status", .ja = "是正状況", .en = "Status", .type = RT_ENUM, .kind = "audit_finding", .field = "status"},
    {.key = "due", .ja = "是正期限", .en = "Due", .type = RT_DATE},
    {.key = "days_overdue", .ja = "超過日数", .en = "Days overdue", .type = RT_INT},
    {.key = "finding", .ja = "指摘事項", .en = "Finding", .type = RT_TEXT},
    {.key = "corrective_action", .ja = "是正勧告", .en = "Corrective action requested", .type = RT_TEXT},
};

#define AUD_OVERDUE "status <> 'closed' AND due IS NOT NULL AND due < ?3"

static kr_status audit(struct rpt *r, struct kr_error *err)
{
	kr_status s;

	s = fill(
	    r,
	    table_new(r, "audit_totals", 4, "監査の結果", "Audit results",
	              "指摘事項は監査日が期間中のもの。未是正・期限超過は期間末までの全指摘",
	              "Findings audited in the period; not closed and overdue count every finding to the period's end",
	              aud_tot_cols, 4),
	    "SELECT (SELECT count(*) FROM r_aud WHERE aud >= ?1), (SELECT count(*) FROM r_aud WHERE aud >= ?1 AND "
	    "status = 'closed'), (SELECT count(*) FROM r_aud WHERE status <> 'closed'), (SELECT count(*) FROM r_aud "
	    "WHERE " AUD_OVERDUE ")",
	    err);
	if (!s)
		s = fill(
		    r,
		    table_new(r, "audit_by_severity_status", 4, "重要度・是正状況ごとの指摘事項",
		              "Findings by severity and status", "監査日が期間中の指摘事項",
		              "Findings audited in the period", aud_sev_cols, 5),
		    "SELECT e.value, coalesce(sum(a.status = 'open'), 0), coalesce(sum(a.status = 'in_progress'), 0), "
		    "coalesce(sum(a.status = 'closed'), 0), count(a.id) FROM r_enum e LEFT JOIN r_aud a ON "
		    "a.severity = e.value AND a.aud >= ?1 WHERE e.kind = 'audit_finding' AND e.field = 'severity' "
		    "GROUP BY e.value ORDER BY min(e.ord) DESC",
		    err);
	if (!s)
		s = fill(
		    r,
		    table_new(r, "audit_overdue", 4, "是正期限を過ぎた指摘事項", "Overdue corrective actions",
		              "是正済みでなく、是正期限が基準日より前のもの", "Not closed, due before the report's day",
		              aud_over_cols, 9),
		    "SELECT id, facility, aud, severity, status, due, CAST(julianday(?3) - julianday(due) AS INTEGER), "
		    "finding, action FROM r_aud WHERE " AUD_OVERDUE " ORDER BY due, id",
		    err);
	return s;
}

/* ---- Section 5 (第5号・第6号): risk management ---- */

static const struct rcol risk_matrix_cols[] = {
    {.key = "likelihood",
     .ja = "発生可能性",
     .en = "Likelihood",
     .type = RT_ENUM,
     .kind = "risk",
     .field = "likelihood"},
    {.key = "impact_low", .ja = "影響度：低", .en = "Impact: low", .type = RT_INT},
    {.key = "impact_medium", .ja = "影響度：中", .en = "Impact: medium", .type = RT_INT},
    {.key = "impact_high", .ja = "影響度：高", .en = "Impact: high", .type = RT_INT},
    {.key = "total", .ja = "計", .en = "Total", .type = RT_INT},
};
static const struct rcol risk_treat_cols[] = {
    {.key = "treatment", .ja = "対応方針", .en = "Treatment", .type = RT_ENUM, .kind = "risk", .field = "treatment"},
    {.key = "open", .ja = "未対応", .en = "Open", .type = RT_INT},
    {.key = "in_treatment", .ja = "対応中", .en = "In treatment", .type = RT_INT},
    {.key = "closed", .ja = "完了", .en = "Closed", .type = RT_INT},
    {.key = "total", .ja = "計", .en = "Total", .type = RT_INT},
};
static const struct rcol risk_open_cols[] = {
    {.key = "id", .ja = "ID", .en = "ID", .type = RT_ID},
    {.key = "facility", .ja = "施設", .en = "Facility", .type = RT_ID},
    {.key = "identified_on", .ja = "特定日", .en = "Identified on", .type = RT_DATE},
    {.key = "likelihood",
     .ja = "発生可能性",
     .en = "Likelihood",
     .type = RT_ENUM,
     .kind = "risk",
     .field = "likelihood"},
    {.key = "impact", .ja = "影響度", .en = "Impact", .type = RT_ENUM, .kind = "risk", .field = "impact"},
    {.key = "treatment", .ja = "対応方針", .en = "Treatment", .type = RT_ENUM, .kind = "risk", .field = "treatment"},
    {.key = "status", .ja = "対応状況", .en = "Status", .type = RT_ENUM, .kind = "risk", .field = "status"},
    {.key = "due", .ja = "対応期限", .en = "Due", .type = RT_DATE},
    {.key = "overdue", .ja = "期限超過", .en = "Overdue", .type = RT_BOOL},
    {.key = "owner",
     .ja = "担当者",
     .en = "Owner",
     .type = RT_TEXT,
     .kind = "risk",
     .field = "owner",
     .personal = true},
    {.key = "risk", .ja = "リスク", .en = "Risk", .type = RT_TEXT},
    {.key = "treatment_plan", .ja = "対応策", .en = "Treatment plan", .type = RT_TEXT},
};

static kr_status risk(struct rpt *r, struct kr_error *err)
{
	kr_status s;

	s = fill(r,
	         table_new(r, "risk_matrix", 5, "未完了のリスク（発生可能性×影響度）",
	                   "Open risks by likelihood and impact", "期間末までに特定され、完了していないリスク",
	                   "Identified up to the period's end and not closed", risk_matrix_cols, 5),
	         "SELECT e.value, coalesce(sum(k.impact = 'low'), 0), coalesce(sum(k.impact = 'medium'), 0), "
	         "coalesce(sum(k.impact = 'high'), 0), count(k.id) FROM r_enum e LEFT JOIN r_risk k ON "
	         "k.likelihood = e.value AND k.status <> 'closed' WHERE e.kind = 'risk' AND e.field = 'likelihood' "
	         "GROUP BY e.value ORDER BY min(e.ord) DESC",
	         err);
	if (!s)
		s = fill(
		    r,
		    table_new(r, "risk_by_treatment", 6, "対応方針ごとのリスクと対応状況",
		              "Risks by treatment and status", "期間中に特定されたリスク",
		              "Risks identified in the period", risk_treat_cols, 5),
		    "SELECT e.value, coalesce(sum(k.status = 'open'), 0), coalesce(sum(k.status = 'in_treatment'), 0), "
		    "coalesce(sum(k.status = 'closed'), 0), count(k.id) FROM (SELECT value, ord FROM r_enum WHERE "
		    "kind = 'risk' AND field = 'treatment' UNION ALL SELECT NULL, 1000) e LEFT JOIN r_risk k ON "
		    "k.treatment IS e.value AND k.ident >= ?1 GROUP BY e.ord ORDER BY e.ord",
		    err);
	if (!s)
		s = fill(
		    r,
		    table_new(r, "risk_open", 5, "未完了のリスクと対応策", "Open risks and their treatment",
		              "発生可能性×影響度の高い順", "Highest likelihood x impact first", risk_open_cols, 12),
		    "SELECT k.id, k.facility, k.ident, k.likelihood, k.impact, k.treatment, k.status, k.due, "
		    "CASE WHEN k.due IS NULL THEN 0 ELSE k.due < ?3 END, k.owner, k.risk, k.plan FROM r_risk k "
		    "LEFT JOIN r_enum l ON l.kind = 'risk' AND l.field = 'likelihood' AND l.value = k.likelihood "
		    "LEFT JOIN r_enum i ON i.kind = 'risk' AND i.field = 'impact' AND i.value = k.impact "
		    "WHERE k.status <> 'closed' ORDER BY coalesce(l.ord, 0) * coalesce(i.ord, 0) DESC, k.ident, k.id",
		    err);
	return s;
}

/* ---- Section 7 (第7号): incidents ---- */

static const struct rcol inc_tot_cols[] = {
    {.key = "incidents", .ja = "事故等（期間中）", .en = "Incidents (period)", .type = RT_INT},
    {.key = "personal_info", .ja = "個人情報あり", .en = "With personal information", .type = RT_INT},
    {.key = "my_number", .ja = "特定個人情報あり", .en = "With My Number", .type = RT_INT},
    {.key = "persons_affected", .ja = "影響を受けた本人の数", .en = "Persons affected", .type = RT_INT},
    {.key = "asset_use_restricted", .ja = "情報資産の利用制限", .en = "Asset use restricted", .type = RT_INT},
    {.key = "open", .ja = "未完了（期間末まで）", .en = "Open (to the period's end)", .type = RT_INT},
    {.key = "open_carried_over", .ja = "うち前期間から継続", .en = "of which carried over", .type = RT_INT},
    {.key = "ppc_required", .ja = "PPC報告対象", .en = "PPC report required", .type = RT_INT},
    {.key = "ppc_overdue", .ja = "PPC報告の期限超過", .en = "PPC report overdue", .type = RT_INT},
    {.key = "ppc_late", .ja = "PPC報告の遅延", .en = "PPC report sent late", .type = RT_INT},
    {.key = "closed_without_recurrence_prevention",
     .ja = "再発防止策なしで終結",
     .en = "Closed without recurrence prevention",
     .type = RT_INT},
};
static const struct rcol inc_cat_cols[] = {
    {.key = "category", .ja = "区分", .en = "Category", .type = RT_ENUM, .kind = "incident", .field = "category"},
    {.key = "incidents", .ja = "件数", .en = "Incidents", .type = RT_INT},
    {.key = "personal_info", .ja = "個人情報あり", .en = "Personal information", .type = RT_INT},
    {.key = "my_number", .ja = "特定個人情報あり", .en = "My Number", .type = RT_INT},
    {.key = "persons_affected", .ja = "影響を受けた本人の数", .en = "Persons affected", .type = RT_INT},
    {.key = "asset_use_restricted", .ja = "利用制限", .en = "Asset use restricted", .type = RT_INT},
    {.key = "with_recurrence_prevention", .ja = "再発防止策あり", .en = "With recurrence prevention", .type = RT_INT},
};
static const struct rcol inc_fac_cols[] = {
    {.key = "facility", .ja = "施設", .en = "Facility", .type = RT_ID},
    {.key = "incidents", .ja = "件数", .en = "Incidents", .type = RT_INT},
    {.key = "open", .ja = "未完了", .en = "Open", .type = RT_INT},
    {.key = "high_or_critical", .ja = "重大度：高・重大", .en = "High or critical", .type = RT_INT},
    {.key = "ppc_required", .ja = "PPC報告対象", .en = "PPC report required", .type = RT_INT},
};
static const struct rcol inc_sev_cols[] = {
    {.key = "severity", .ja = "重大度", .en = "Severity", .type = RT_ENUM, .kind = "incident", .field = "severity"},
    {.key = "incidents", .ja = "件数", .en = "Incidents", .type = RT_INT},
};
static const struct rcol inc_status_cols[] = {
    {.key = "status", .ja = "対応状況", .en = "Status", .type = RT_ENUM, .kind = "incident", .field = "status"},
    {.key = "incidents", .ja = "件数", .en = "Incidents", .type = RT_INT},
};
static const struct rcol inc_open_cols[] = {
    {.key = "id", .ja = "ID", .en = "ID", .type = RT_ID},
    {.key = "facility", .ja = "施設", .en = "Facility", .type = RT_ID},
    {.key = "occurred_on", .ja = "発生日", .en = "Occurred on", .type = RT_DATE},
    {.key = "category", .ja = "区分", .en = "Category", .type = RT_ENUM, .kind = "incident", .field = "category"},
    {.key = "severity", .ja = "重大度", .en = "Severity", .type = RT_ENUM, .kind = "incident", .field = "severity"},
    {.key = "status", .ja = "対応状況", .en = "Status", .type = RT_ENUM, .kind = "incident", .field = "status"},
    {.key = "carried_over", .ja = "前期間から継続", .en = "Carried over", .type = RT_BOOL},
    {.key = "days_open", .ja = "経過日数", .en = "Days open", .type = RT_INT},
};
static const struct rcol inc_ppc_cols[] = {
    {.key = "id", .ja = "ID", .en = "ID", .type = RT_ID},
    {.key = "facility", .ja = "施設", .en = "Facility", .type = RT_ID},
    {.key = "occurred_on", .ja = "発生日", .en = "Occurred on", .type = RT_DATE},
    {.key = "discovered_on", .ja = "発見日", .en = "Discovered on", .type = RT_DATE},
    {.key = "preliminary_due", .ja = "速報期限", .en = "Preliminary due", .type = RT_DATE},
    {.key = "preliminary_sent", .ja = "速報日", .en = "Preliminary sent", .type = RT_DATE},
    {.key = "preliminary_state", .ja = "速報", .en = "Preliminary", .type = RT_WORD},
    {.key = "final_due", .ja = "確報期限", .en = "Final due", .type = RT_DATE},
    {.key = "final_sent", .ja = "確報日", .en = "Final sent", .type = RT_DATE},
    {.key = "final_state", .ja = "確報", .en = "Final", .type = RT_WORD},
};
static const struct rcol inc_rp_cols[] = {
    {.key = "id", .ja = "ID", .en = "ID", .type = RT_ID},
    {.key = "facility", .ja = "施設", .en = "Facility", .type = RT_ID},
    {.key = "category", .ja = "区分", .en = "Category", .type = RT_ENUM, .kind = "incident", .field = "category"},
    {.key = "severity", .ja = "重大度", .en = "Severity", .type = RT_ENUM, .kind = "incident", .field = "severity"},
    {.key = "status", .ja = "対応状況", .en = "Status", .type = RT_ENUM, .kind = "incident", .field = "status"},
    {.key = "recurrence_prevention", .ja = "再発防止策", .en = "Recurrence prevention", .type = RT_TEXT},
};

/* Incidents of the period: occurred from ?1 (r_inc holds those up to ?2). */
#define IN_PERIOD "occ >= ?1"
/* The incidents the open and PPC lists look at: of the period, or earlier and still open. */
#define IN_SCOPE "(occ >= ?1 OR status <> 'closed')"

static kr_status incidents_by_month(struct rpt *r, struct kr_error *err)
{
	const struct kr_field_def *cat = kr_catalogue_field(kr_catalogue_kind(r->cat, "incident"), "category");
	size_t ncat = cat ? cat->nvalues : 0, nmonths, ncols = ncat + 2;
	struct rcol *cols = kr_arena_alloc(&r->arena, ncols * sizeof *cols);
	struct rtable *t;
	sqlite3_stmt *q;
	kr_day from = r->o->from, to = r->o->to;
	int y, m, d, y2, m2;
	kr_status s = KR_OK;
	int rc;

	if (!cols)
		return nomem(err);
	cols[0] = (struct rcol){.key = "month", .ja = "月", .en = "Month", .type = RT_MONTH};
	for (size_t i = 0; i < ncat; i++)
		cols[1 + i] = (struct rcol){
		    .key = cat->values[i], .ja = cat->values_ja[i], .en = cat->values_en[i], .type = RT_INT};
	cols[ncols - 1] = (struct rcol){.key = "total", .ja = "計", .en = "Total", .type = RT_INT};
	t = table_new(r, "incidents_by_month", 7, "月別・区分別の事故等", "Incidents by month and category",
	              "発生日で数えた期間中の事故等", "Incidents of the period by the month they occurred", cols,
	              ncols);
	if (!t)
		return nomem(err);
	kr_day_to_ymd(from, &y, &m, &d);
	kr_day_to_ymd(to, &y2, &m2, &d);
	nmonths = (size_t)((y2 - y) * 12 + (m2 - m) + 1);
	for (size_t i = 0; i < nmonths; i++) {
		struct rcell *row = row_add(t);
		char month[16];
		if (!row)
			return nomem(err);
		snprintf(month, sizeof month, "%04d-%02d", y + (int)((m - 1 + (int)i) / 12), (m - 1 + (int)i) % 12 + 1);
		row[0] = (struct rcell){.s = kr_arena_strdup(&r->arena, month)};
		if (!row[0].s)
			return nomem(err);
		for (size_t c = 1; c < ncols; c++)
			row[c] = (struct rcell){.i = 0};
	}
	rc = sqlite3_prepare_v2(
	    r->db, "SELECT substr(occ, 1, 7), category, count(*) FROM r_inc WHERE " IN_PERIOD " GROUP BY 1, 2", -1, &q,
	    NULL);
	if (rc != SQLITE_OK)
		return sql_fail(r, rc, t->id, err);
	bind_period(r, q);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *month = (const char *)sqlite3_column_text(q, 0);
		const char *category = (const char *)sqlite3_column_text(q, 1);
		int64_t n = sqlite3_column_int64(q, 2);
		for (size_t i = 0; month && i < t->nrows; i++) {
			struct rcell *row = &t->cells[i * ncols];
			if (strcmp(row[0].s, month) != 0)
				continue;
			for (size_t c = 0; category && c < ncat; c++)
				if (strcmp(cat->values[c], category) == 0)
					row[1 + c].i += n;
			row[ncols - 1].i += n;
		}
	}
	if (rc != SQLITE_DONE)
		s = sql_fail(r, rc, t->id, err);
	sqlite3_finalize(q);
	return s;
}

static kr_status incidents(struct rpt *r, struct kr_error *err)
{
	kr_status s;

	s = fill(
	    r,
	    table_new(r, "incidents_totals", 7, "セキュリティ事故等の概要", "Security incidents: overview",
	              "期間中＝発生日が期間内。未完了・PPC報告は期間末までに発生し終結していないものを含む",
	              "Period = occurred in the period; open and PPC figures include earlier incidents not yet closed",
	              inc_tot_cols, 11),
	    "SELECT coalesce(sum(" IN_PERIOD "), 0), coalesce(sum(" IN_PERIOD " AND pi = 1), 0), "
	    "coalesce(sum(" IN_PERIOD " AND mn = 1), 0), coalesce(sum(CASE WHEN " IN_PERIOD " THEN persons END), 0), "
	    "coalesce(sum(" IN_PERIOD " AND restricted = 1), 0), coalesce(sum(status <> 'closed'), 0), "
	    "coalesce(sum(status <> 'closed' AND occ < ?1), 0), coalesce(sum(" IN_SCOPE " AND ppc = 1), 0), "
	    "coalesce(sum(" IN_SCOPE " AND ppc = 1 AND (p_state = 'overdue' OR f_state = 'overdue')), 0), "
	    "coalesce(sum(" IN_SCOPE " AND ppc = 1 AND (p_state = 'late' OR f_state = 'late')), 0), "
	    "coalesce(sum(" IN_PERIOD " AND status = 'closed' AND has_rp = 0), 0) FROM r_inc",
	    err);
	if (!s)
		s = incidents_by_month(r, err);
	if (!s)
		s = fill(
		    r,
		    table_new(r, "incidents_by_category", 7, "区分別の事故等", "Incidents by category",
		              "期間中の事故等", "Incidents of the period", inc_cat_cols, 7),
		    "SELECT e.value, coalesce(g.n, 0), coalesce(g.pi, 0), coalesce(g.mn, 0), coalesce(g.persons, 0), "
		    "coalesce(g.restricted, 0), coalesce(g.rp, 0) FROM r_enum e LEFT JOIN (SELECT category, count(*) "
		    "AS n, "
		    "sum(pi = 1) AS pi, sum(mn = 1) AS mn, sum(persons) AS persons, sum(restricted = 1) AS restricted, "
		    "sum(has_rp) AS rp FROM r_inc WHERE " IN_PERIOD " GROUP BY category) g ON g.category = e.value "
		    "WHERE e.kind = 'incident' AND e.field = 'category' ORDER BY e.ord",
		    err);
	if (!s)
		s = fill(
		    r,
		    table_new(r, "incidents_by_facility", 7, "施設別の事故等", "Incidents by facility",
		              "期間中の事故等（未完了は現在の状況）",
		              "Incidents of the period (open: as they stand now)", inc_fac_cols, 5),
		    "SELECT f.facility, coalesce(g.n, 0), coalesce(g.open, 0), coalesce(g.hi, 0), coalesce(g.ppc, 0) "
		    "FROM r_fac f LEFT JOIN (SELECT facility, count(*) AS n, sum(status <> 'closed') AS open, "
		    "sum(severity IN ('high', 'critical')) AS hi, sum(ppc = 1) AS ppc FROM r_inc WHERE " IN_PERIOD
		    " GROUP BY facility) g ON g.facility = f.facility ORDER BY f.facility",
		    err);
	if (!s)
		s = fill(
		    r,
		    table_new(r, "incidents_by_severity", 7, "重大度別の事故等", "Incidents by severity",
		              "期間中の事故等。重大度なし＝未判定",
		              "Incidents of the period; no severity = not yet triaged", inc_sev_cols, 2),
		    "SELECT e.value, coalesce(g.n, 0) FROM (SELECT value, ord FROM r_enum WHERE kind = 'incident' AND "
		    "field = 'severity' UNION ALL SELECT NULL, 0) e LEFT JOIN (SELECT severity, count(*) AS n FROM "
		    "r_inc "
		    "WHERE " IN_PERIOD " GROUP BY severity) g ON g.severity IS e.value ORDER BY e.ord = 0, e.ord DESC",
		    err);
	if (!s)
		s = fill(
		    r,
		    table_new(r, "incidents_by_status", 7, "対応状況別の事故等", "Incidents by status",
		              "期間中の事故等。対応状況なし＝報告済み", "Incidents of the period; no status = reported",
		              inc_status_cols, 2),
		    "SELECT e.value, coalesce(g.n, 0) FROM r_enum e LEFT JOIN (SELECT status, count(*) AS n FROM r_inc "
		    "WHERE " IN_PERIOD " GROUP BY status) g ON g.status = e.value WHERE e.kind = 'incident' AND "
		    "e.field = 'status' ORDER BY e.ord",
		    err);
	if (!s)
		s = fill(r,
		         table_new(r, "incidents_open", 7, "未完了の事故等", "Open incidents",
		                   "期間末までに発生し、終結していないもの（前期間からの継続を含む）",
		                   "Occurred up to the period's end and not closed (earlier ones included)",
		                   inc_open_cols, 8),
		         "SELECT id, facility, occ, category, severity, status, occ < ?1, "
		         "CAST(julianday(?3) - julianday(occ) AS INTEGER) FROM r_inc WHERE status <> 'closed' "
		         "ORDER BY occ, id",
		         err);
	if (!s)
		s = fill(
		    r,
		    table_new(
		        r, "incidents_ppc", 7, "個人情報保護委員会への報告（速報・確報）",
		        "Reports to the Personal Information Protection Commission",
		        "速報は発見日の5日後、確報は30日後（不正の目的によるものは60日後）が期限",
		        "Preliminary due 5 days after discovery, final 30 days after (60 for an unauthorised purpose)",
		        inc_ppc_cols, 10),
		    "SELECT id, facility, occ, disc, p_due, p_sent, p_state, f_due, f_sent, f_state FROM r_inc WHERE "
		    "ppc = 1 AND " IN_SCOPE " ORDER BY occ, id",
		    err);
	if (!s)
		s = fill(
		    r,
		    table_new(r, "incidents_recurrence", 7, "重大な事故等の再発防止策",
		              "Recurrence prevention of serious incidents",
		              "期間中の重大度「高」「重大」の事故等。全件の再発防止策は別表に",
		              "High and critical incidents of the period; every incident's measures are in the annex",
		              inc_rp_cols, 6),
		    "SELECT id, facility, category, severity, status, rp FROM r_inc WHERE " IN_PERIOD
		    " AND severity IN ('high', 'critical') ORDER BY occ, id",
		    err);
	return s;
}

/* ---- Section 8 (第8号): contractors ---- */

static const struct rcol con_tot_cols[] = {
    {.key = "contractors", .ja = "委託事業者等（施設ごと）", .en = "Contractors (per facility)", .type = RT_INT},
    {.key = "checked_in_period", .ja = "期間中に確認", .en = "Checked in the period", .type = RT_INT},
    {.key = "not_checked_in_period", .ja = "期間中に未確認", .en = "Not checked in the period", .type = RT_INT},
    {.key = "overdue", .ja = "確認期限超過", .en = "Check overdue", .type = RT_INT},
    {.key = "checks", .ja = "確認の記録（期間中）", .en = "Checks (period)", .type = RT_INT},
    {.key = "checks_with_issues", .ja = "問題のある確認", .en = "Checks with issues", .type = RT_INT},
};
static const struct rcol con_cols[] = {
    {.key = "facility", .ja = "施設", .en = "Facility", .type = RT_ID},
    {.key = "contractor", .ja = "委託事業者等", .en = "Contractor", .type = RT_TEXT},
    {.key = "contract", .ja = "契約（最新）", .en = "Contract (latest)", .type = RT_TEXT},
    {.key = "checks_in_period", .ja = "期間中の確認", .en = "Checks in the period", .type = RT_INT},
    {.key = "last_checked_on", .ja = "最終確認日", .en = "Last checked on", .type = RT_DATE},
    {.key = "next_due", .ja = "次回確認期限", .en = "Next check due", .type = RT_DATE},
    {.key = "overdue", .ja = "期限超過", .en = "Overdue", .type = RT_BOOL},
    {.key = "result", .ja = "確認結果", .en = "Result", .type = RT_ENUM, .kind = "contractor_check", .field = "result"},
    {.key = "special_clauses_compliant", .ja = "特記事項の遵守", .en = "Special clauses", .type = RT_BOOL},
    {.key = "subcontracting",
     .ja = "再委託",
     .en = "Sub-contracting",
     .type = RT_ENUM,
     .kind = "contractor_check",
     .field = "subcontracting"},
};
static const struct rcol con_issue_cols[] = {
    {.key = "id", .ja = "ID", .en = "ID", .type = RT_ID},
    {.key = "facility", .ja = "施設", .en = "Facility", .type = RT_ID},
    {.key = "contractor", .ja = "委託事業者等", .en = "Contractor", .type = RT_TEXT},
    {.key = "contract", .ja = "契約", .en = "Contract", .type = RT_TEXT},
    {.key = "checked_on", .ja = "確認日", .en = "Checked on", .type = RT_DATE},
    {.key = "result", .ja = "確認結果", .en = "Result", .type = RT_ENUM, .kind = "contractor_check", .field = "result"},
    {.key = "special_clauses_compliant", .ja = "特記事項の遵守", .en = "Special clauses", .type = RT_BOOL},
    {.key = "subcontracting",
     .ja = "再委託",
     .en = "Sub-contracting",
     .type = RT_ENUM,
     .kind = "contractor_check",
     .field = "subcontracting"},
    {.key = "findings", .ja = "確認内容・指摘事項", .en = "Findings", .type = RT_TEXT},
};

#define CON_ISSUE "(compliant = 0 OR result = '不適合' OR sub = '未承認')"
#define CON_LATEST                                                                                                     \
	"(SELECT *, row_number() OVER (PARTITION BY facility, contractor ORDER BY checked DESC, id DESC) AS rn, "      \
	"sum(checked >= ?1) OVER (PARTITION BY facility, contractor) AS in_period, "                                   \
	"coalesce(next_due, date(checked, '+1 year')) AS due FROM r_con)"

static kr_status contractors(struct rpt *r, struct kr_error *err)
{
	kr_status s;

	s = fill(r,
	         table_new(r, "contractor_totals", 8, "委託事業者等の管理", "Contractor management",
	                   "確認期限は次回確認期限、なければ最終確認日の1年後",
	                   "A check is due on the next check date given, else a year after the last check",
	                   con_tot_cols, 6),
	         "SELECT count(*), coalesce(sum(in_period > 0), 0), coalesce(sum(in_period = 0), 0), "
	         "coalesce(sum(due < ?3), 0), (SELECT count(*) FROM r_con WHERE checked >= ?1), "
	         "(SELECT count(*) FROM r_con WHERE checked >= ?1 AND " CON_ISSUE ") FROM " CON_LATEST " WHERE rn = 1",
	         err);
	if (!s)
		s = fill(r,
		         table_new(r, "contractors", 8, "委託事業者等ごとの確認状況", "Checks by contractor",
		                   "施設・委託事業者等ごとの最新の確認",
		                   "The latest check of each contractor of each facility", con_cols, 10),
		         "SELECT facility, contractor, contract, in_period, checked, due, due < ?3, result, compliant, "
		         "sub FROM " CON_LATEST " WHERE rn = 1 ORDER BY facility, contractor",
		         err);
	if (!s)
		s = fill(
		    r,
		    table_new(r, "contractor_issues", 8, "問題のあった確認", "Checks with issues",
		              "期間中の確認で、特記事項の不遵守・不適合・未承認の再委託があったもの",
		              "Checks of the period finding the special clauses broken, an unsatisfactory result or "
		              "unapproved sub-contracting",
		              con_issue_cols, 9),
		    "SELECT id, facility, contractor, contract, checked, result, compliant, sub, findings FROM r_con "
		    "WHERE checked >= ?1 AND " CON_ISSUE " ORDER BY checked, id",
		    err);
	return s;
}

/* ---- Section 9 (第9号): the overall status ---- */

static const struct rcol pif_cols[] = {
    {.key = "held", .ja = "保有中", .en = "Held", .type = RT_INT},
    {.key = "held_my_number", .ja = "うち特定個人情報ファイル", .en = "of which My Number files", .type = RT_INT},
    {.key = "held_not_notified", .ja = "うち届出日の記録なし", .en = "of which not notified", .type = RT_INT},
    {.key = "discontinued", .ja = "保有終了", .en = "Discontinued", .type = RT_INT},
    {.key = "discontinued_not_notified",
     .ja = "うち終了の届出なし",
     .en = "of which discontinuation not notified",
     .type = RT_INT},
};
static const struct rcol pih_cols[] = {
    {.key = "action", .ja = "取扱いの種別", .en = "Action", .type = RT_ENUM, .kind = "pi_handling", .field = "action"},
    {.key = "entries", .ja = "記録数", .en = "Entries", .type = RT_INT},
};
static const struct rcol overdue_cols[] = {
    {.key = "item", .ja = "項目", .en = "Item", .type = RT_WORD},
    {.key = "count", .ja = "件数", .en = "Count", .type = RT_INT},
};
static const struct rcol overall_cols[] = {
    {.key = "indicator", .ja = "項目", .en = "Indicator", .type = RT_WORD},
    {.key = "count", .ja = "件数", .en = "Count", .type = RT_INT},
    {.key = "of", .ja = "対象", .en = "Of", .type = RT_INT},
    {.key = "rate", .ja = "割合", .en = "Rate", .type = RT_RATE},
    {.key = "rating", .ja = "評価", .en = "Rating", .type = RT_WORD},
};

static kr_status pi_register(struct rpt *r, struct kr_error *err)
{
	kr_status s;

	s = fill(r,
	         table_new(r, "pi_files", 9, "個人情報ファイルの保有状況", "Personal-information files",
	                   "現在の個人情報ファイル簿（指針第10条）", "The register as it stands (Shishin Art. 10)",
	                   pif_cols, 5),
	         "SELECT coalesce(sum(status IS NOT 'discontinued'), 0), coalesce(sum(status IS NOT 'discontinued' AND "
	         "mn = 1), 0), coalesce(sum(status IS NOT 'discontinued' AND notified IS NULL), 0), "
	         "coalesce(sum(status = 'discontinued'), 0), coalesce(sum(status = 'discontinued' AND disc_notified IS "
	         "NULL), 0) FROM r_pif",
	         err);
	if (!s)
		s = fill(
		    r,
		    table_new(r, "pi_handling_by_action", 9, "保有個人情報の取扱状況の記録",
		              "Personal-information handling ledger", "期間中の台帳の記録（指針第12条・第15条）",
		              "Ledger entries of the period (Shishin Art. 12, 15)", pih_cols, 2),
		    "SELECT e.value, coalesce(g.n, 0) FROM r_enum e LEFT JOIN (SELECT action, count(*) AS n FROM r_pih "
		    "GROUP BY action) g ON g.action = e.value WHERE e.kind = 'pi_handling' AND e.field = 'action' "
		    "ORDER BY e.ord",
		    err);
	return s;
}

static kr_status overdue_items(struct rpt *r, struct kr_error *err)
{
	kr_status s;

	s = fill(
	    r,
	    table_new(r, "overdue_items", 9, "期限を過ぎた事項", "Overdue items",
	              "基準日に期限を過ぎ、済んでいないもの", "Past their due day on the report's day and not done",
	              overdue_cols, 2),
	    "SELECT 'ppc_preliminary', (SELECT count(*) FROM r_inc WHERE " IN_SCOPE " AND p_state = 'overdue') "
	    "UNION ALL SELECT 'ppc_final', (SELECT count(*) FROM r_inc WHERE " IN_SCOPE " AND f_state = 'overdue') "
	    "UNION ALL SELECT 'audit_corrective_action', (SELECT count(*) FROM r_aud WHERE " AUD_OVERDUE ") "
	    "UNION ALL SELECT 'risk_treatment', (SELECT count(*) FROM r_risk WHERE status <> 'closed' AND due < ?3) "
	    "UNION ALL SELECT 'contractor_check', (SELECT count(*) FROM " CON_LATEST " WHERE rn = 1 AND due < ?3)",
	    err);
	return s;
}

/* A row of the overall table: count, and when of >= 0 the count's share of it (null when of is 0). */
static void overall_row(struct rtable *t, const char *indicator, int64_t count, int64_t of, enum rating rating,
                        kr_status *s)
{
	struct rcell *row;

	if (*s)
		return;
	if (!(row = row_add(t))) {
		*s = KR_ERR_NOMEM;
		return;
	}
	row[0] = (struct rcell){.s = indicator};
	row[1] = (struct rcell){.i = count};
	if (of >= 0)
		row[2] = (struct rcell){.i = of};
	if (of > 0)
		row[3] = (struct rcell){.r = (double)count / (double)of};
	row[4] = (struct rcell){.s = rpt_rating_name(rating)};
}

/* How many rows of t hold one of the values in column key. */
static int64_t count_in(const struct rtable *t, const char *key, const char *v1, const char *v2)
{
	size_t c = rt_col(t, key);
	int64_t n = 0;

	for (size_t i = 0; t && c != (size_t)-1 && i < t->nrows; i++) {
		const struct rcell *v = rt_cell(t, i, c);
		n += !v->null && (strcmp(v->s, v1) == 0 || (v2 && strcmp(v->s, v2) == 0));
	}
	return n;
}

/* The indicators of the first page, from the tables above. The thresholds are in docs/report.md. */
static kr_status overall(struct rpt *r, struct kr_error *err)
{
	struct rtable *t = table_new(r, "overall", 9, "総合評価", "Overall status",
	                             "評価：良好・注意・要対応（基準は docs/report.md）",
	                             "Rating: ok, warn, alert (thresholds in docs/report.md)", overall_cols, 5);
	const struct rtable *inc = rpt_table(r, "incidents_totals"), *open = rpt_table(r, "incidents_open");
	const struct rtable *course = rpt_table(r, "education_by_course"), *si = rpt_table(r, "self_inspection_totals");
	const struct rtable *aud = rpt_table(r, "audit_overdue"), *rk = rpt_table(r, "risk_open");
	const struct rtable *con = rpt_table(r, "contractor_totals"), *pif = rpt_table(r, "pi_files");
	int64_t n, of, hi, att = 0, done = 0;
	kr_status s = KR_OK;

	if (!t)
		return nomem(err);
	n = rt_int(inc, 0, "open");
	hi = count_in(open, "severity", "high", "critical");
	overall_row(t, "incidents_open", n, -1, hi ? RATING_ALERT : n ? RATING_WARN : RATING_OK, &s);
	n = rt_int(inc, 0, "ppc_overdue");
	overall_row(t, "ppc_overdue", n, -1,
	            n                            ? RATING_ALERT
	            : rt_int(inc, 0, "ppc_late") ? RATING_WARN
	                                         : RATING_OK,
	            &s);
	for (size_t i = 0; course && i < course->nrows; i++) {
		att += rt_int(course, i, "attendees");
		done += rt_int(course, i, "completed");
	}
	overall_row(t, "training_completion", done, att,
	            !att                     ? RATING_ALERT
	            : done * 100 >= att * 95 ? RATING_OK
	            : done * 100 >= att * 80 ? RATING_WARN
	                                     : RATING_ALERT,
	            &s);
	n = rt_int(si, 0, "facilities_completed");
	of = rt_int(si, 0, "facilities");
	overall_row(t, "self_inspection_completion", n, of,
	            n == of && of            ? RATING_OK
	            : n * 10 >= of * 9 && of ? RATING_WARN
	                                     : RATING_ALERT,
	            &s);
	n = aud ? (int64_t)aud->nrows : 0;
	hi = count_in(aud, "severity", "high", NULL);
	overall_row(t, "audit_overdue", n, -1, hi ? RATING_ALERT : n ? RATING_WARN : RATING_OK, &s);
	hi = 0;
	n = 0;
	for (size_t i = 0; rk && i < rk->nrows; i++) {
		const struct rcell *l = rt_cell(rk, i, rt_col(rk, "likelihood")),
		                   *m = rt_cell(rk, i, rt_col(rk, "impact"));
		hi += !l->null && !m->null && strcmp(l->s, "high") == 0 && strcmp(m->s, "high") == 0;
		n += rt_int(rk, i, "overdue");
	}
	overall_row(t, "risks_high_open", hi, -1, hi ? RATING_ALERT : RATING_OK, &s);
	overall_row(t, "risk_overdue", n, -1, n ? RATING_WARN : RATING_OK, &s);
	n = rt_int(con, 0, "overdue");
	overall_row(t, "contractor_checks_overdue", n, rt_int(con, 0, "contractors"), n ? RATING_WARN : RATING_OK, &s);
	n = rt_int(con, 0, "checks_with_issues");
	overall_row(t, "contractor_issues", n, -1, n ? RATING_ALERT : RATING_OK, &s);
	n = rt_int(pif, 0, "held_not_notified");
	overall_row(t, "pi_files_not_notified", n, rt_int(pif, 0, "held"), n ? RATING_WARN : RATING_OK, &s);
	if (s)
		return nomem(err);
	return KR_OK;
}

/* ---- The annex ---- */

const struct rcol rpt_annex_cols[] = {
    {.key = "id", .ja = "ID", .en = "ID", .type = RT_ID},
    {.key = "facility", .ja = "施設", .en = "Facility", .type = RT_ID},
    {.key = "occurred_at", .ja = NULL, .en = NULL, .type = RT_TEXT, .kind = "incident", .field = "occurred_at"},
    {.key = "discovered_at", .ja = NULL, .en = NULL, .type = RT_TEXT, .kind = "incident", .field = "discovered_at"},
    {.key = "reported_at", .ja = NULL, .en = NULL, .type = RT_TEXT, .kind = "incident", .field = "reported_at"},
    {.key = "category", .ja = NULL, .en = NULL, .type = RT_ENUM, .kind = "incident", .field = "category"},
    {.key = "media", .ja = NULL, .en = NULL, .type = RT_ENUM, .kind = "incident", .field = "media"},
    {.key = "severity", .ja = NULL, .en = NULL, .type = RT_ENUM, .kind = "incident", .field = "severity"},
    {.key = "status", .ja = NULL, .en = NULL, .type = RT_ENUM, .kind = "incident", .field = "status"},
    {.key = "personal_info", .ja = NULL, .en = NULL, .type = RT_BOOL, .kind = "incident", .field = "personal_info"},
    {.key = "my_number", .ja = NULL, .en = NULL, .type = RT_BOOL, .kind = "incident", .field = "my_number"},
    {.key = "persons_affected",
     .ja = NULL,
     .en = NULL,
     .type = RT_INT,
     .kind = "incident",
     .field = "persons_affected"},
    {.key = "asset_use_restricted",
     .ja = NULL,
     .en = NULL,
     .type = RT_BOOL,
     .kind = "incident",
     .field = "asset_use_restricted"},
    {.key = "ppc_report_required",
     .ja = NULL,
     .en = NULL,
     .type = RT_BOOL,
     .kind = "incident",
     .field = "ppc_report_required"},
    {.key = "ppc_preliminary_due",
     .ja = NULL,
     .en = NULL,
     .type = RT_DATE,
     .kind = "incident",
     .field = "ppc_preliminary_due"},
    {.key = "ppc_final_due", .ja = NULL, .en = NULL, .type = RT_DATE, .kind = "incident", .field = "ppc_final_due"},
    {.key = "description",
     .ja = NULL,
     .en = NULL,
     .type = RT_TEXT,
     .kind = "incident",
     .field = "description",
     .block = true},
    {.key = "containment",
     .ja = NULL,
     .en = NULL,
     .type = RT_TEXT,
     .kind = "incident",
     .field = "containment",
     .block = true},
    {.key = "recurrence_prevention",
     .ja = NULL,
     .en = NULL,
     .type = RT_TEXT,
     .kind = "incident",
     .field = "recurrence_prevention",
     .block = true},
    {.key = "reporter_name",
     .ja = NULL,
     .en = NULL,
     .type = RT_TEXT,
     .kind = "incident",
     .field = "reporter_name",
     .personal = true},
    {.key = "reporter_contact",
     .ja = NULL,
     .en = NULL,
     .type = RT_TEXT,
     .kind = "incident",
     .field = "reporter_contact",
     .personal = true},
    {.key = "affected_names",
     .ja = NULL,
     .en = NULL,
     .type = RT_TEXT,
     .kind = "incident",
     .field = "affected_names",
     .personal = true},
    {.key = "review_state", .ja = NULL, .en = NULL, .type = RT_ENUM, .kind = "incident", .field = "review_state"},
};
const size_t rpt_annex_ncols = sizeof rpt_annex_cols / sizeof rpt_annex_cols[0];

/* A flat JSON object as kr_state_json writes it ({"name":value,...}; values are strings, integers, true,
 * false or null), read without SQLite's JSON functions: the annex reads every incident of the period, and
 * one pass here costs a fraction of twenty json_extract calls. The values of the annex's columns go into
 * cells; strings are unescaped into buf, and the cells point into it once the whole object is read. */
struct flat_json {
	const char *p, *end;
	struct kr_buf *buf;
};

static int hexval(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
	                              : -1;
}

static bool utf8_put(struct kr_buf *b, uint32_t cp)
{
	uint8_t u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (uint8_t)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (uint8_t)(0xc0 | cp >> 6);
		u[1] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (uint8_t)(0xe0 | cp >> 12);
		u[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (uint8_t)(0xf0 | cp >> 18);
		u[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return kr_buf_append(b, u, n) == KR_OK;
}

/* A string at j->p (after its opening quote), unescaped onto the buffer with a NUL; false if malformed. */
static bool flat_string(struct flat_json *j)
{
	const char *run = j->p;

	while (j->p < j->end && *j->p != '"') {
		uint32_t cp;
		if (*j->p != '\\') {
			j->p++;
			continue;
		}
		if (kr_buf_append(j->buf, run, (size_t)(j->p - run)) || ++j->p >= j->end)
			return false;
		switch (*j->p++) {
		case '"':
			cp = '"';
			break;
		case '\\':
			cp = '\\';
			break;
		case '/':
			cp = '/';
			break;
		case 'b':
			cp = '\b';
			break;
		case 'f':
			cp = '\f';
			break;
		case 'n':
			cp = '\n';
			break;
		case 'r':
			cp = '\r';
			break;
		case 't':
			cp = '\t';
			break;
		case 'u':
			cp = 0;
			for (int k = 0; k < 4; k++) {
				int h = j->p < j->end ? hexval(*j->p++) : -1;
				if (h < 0)
					return false;
				cp = cp << 4 | (uint32_t)h;
			}
			if (cp >= 0xd800 && cp < 0xdc00 && j->end - j->p >= 6 && j->p[0] == '\\' && j->p[1] == 'u') {
				uint32_t lo = 0;
				for (int k = 2; k < 6; k++) {
					int h = hexval(j->p[k]);
					if (h < 0)
						return false;
					lo = lo << 4 | (uint32_t)h;
				}
				if (lo >= 0xdc00 && lo < 0xe000) {
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
					j->p += 6;
				}
			}
			break;
		default:
			return false;
		}
		if (!utf8_put(j->buf, cp))
			return false;
		run = j->p;
	}
	if (j->p >= j->end || kr_buf_append(j->buf, run, (size_t)(j->p - run)) || kr_buf_append(j->buf, "", 1))
		return false;
	j->p++;
	return true;
}

static void skip_ws(struct flat_json *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\t' || *j->p == '\r'))
		j->p++;
}

/* Fills cells[2..] from the object; returns false if it is not a flat object of scalars. */
static bool annex_fields(const char *text, size_t len, struct rcell *cells, size_t *offs, struct kr_buf *buf)
{
	struct flat_json j = {text, text + len, buf};

	skip_ws(&j);
	if (j.p >= j.end || *j.p++ != '{')
		return false;
	skip_ws(&j);
	if (j.p < j.end && *j.p == '}')
		return true;
	for (;;) {
		size_t key_at = buf->len, col = 0;
		const char *key;

		skip_ws(&j);
		if (j.p >= j.end || *j.p++ != '"' || !flat_string(&j))
			return false;
		key = (const char *)buf->data + key_at;
		for (col = 2; col < rpt_annex_ncols; col++)
			if (rpt_annex_cols[col].key[0] == key[0] && strcmp(rpt_annex_cols[col].key, key) == 0)
				break;
		buf->len = key_at;
		skip_ws(&j);
		if (j.p >= j.end || *j.p++ != ':')
			return false;
		skip_ws(&j);
		if (j.p >= j.end)
			return false;
		if (*j.p == '"') {
			size_t at = buf->len;
			j.p++;
			if (!flat_string(&j))
				return false;
			if (col < rpt_annex_ncols) {
				cells[col] = (struct rcell){.null = false};
				offs[col] = at + 1; /* 0 means no string */
			} else {
				buf->len = at;
			}
		} else if (j.end - j.p >= 4 && memcmp(j.p, "true", 4) == 0) {
			j.p += 4;
			if (col < rpt_annex_ncols)
				cells[col] = (struct rcell){.i = 1};
		} else if (j.end - j.p >= 5 && memcmp(j.p, "false", 5) == 0) {
			j.p += 5;
			if (col < rpt_annex_ncols)
				cells[col] = (struct rcell){.i = 0};
		} else if (j.end - j.p >= 4 && memcmp(j.p, "null", 4) == 0) {
			j.p += 4;
		} else {
			int64_t v = 0;
			bool neg = *j.p == '-';
			if (neg)
				j.p++;
			if (j.p >= j.end || *j.p < '0' || *j.p > '9')
				return false;
			while (j.p < j.end && *j.p >= '0' && *j.p <= '9')
				v = v * 10 + (*j.p++ - '0');
			if (col < rpt_annex_ncols)
				cells[col] = (struct rcell){.i = neg ? -v : v};
		}
		skip_ws(&j);
		if (j.p < j.end && *j.p == ',') {
			j.p++;
			continue;
		}
		return j.p < j.end && *j.p == '}';
	}
}

kr_status rpt_annex(struct rpt *r, rpt_row_fn fn, void *ctx, struct kr_error *err)
{
	struct rcell cells[sizeof rpt_annex_cols / sizeof rpt_annex_cols[0]];
	size_t offs[sizeof rpt_annex_cols / sizeof rpt_annex_cols[0]];
	size_t status_col = rt_col(&(struct rtable){.ncols = rpt_annex_ncols, .cols = rpt_annex_cols}, "status");
	struct kr_buf buf;
	sqlite3_stmt *q = NULL;
	kr_status s = KR_OK;
	int rc;

	rc = sqlite3_prepare_v2(r->db,
	                        "SELECT a.id, r.facility, r.fields FROM r_annex a JOIN records r ON r.rowid = a.rid "
	                        "ORDER BY a.n",
	                        -1, &q, NULL);
	if (rc != SQLITE_OK)
		return sql_fail(r, rc, "annex", err);
	kr_buf_init(&buf, 0);
	while (!s && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		for (size_t i = 0; i < rpt_annex_ncols; i++) {
			cells[i] = (struct rcell){.null = true};
			offs[i] = 0;
		}
		buf.len = 0;
		cells[0] = (struct rcell){.s = (const char *)sqlite3_column_text(q, 0)};
		cells[1] = (struct rcell){.s = (const char *)sqlite3_column_text(q, 1)};
		if (!annex_fields((const char *)sqlite3_column_text(q, 2), (size_t)sqlite3_column_bytes(q, 2), cells,
		                  offs, &buf)) {
			s = kr_fail(err, KR_ERR_STORE, "incident %s: its fields in the store are damaged", cells[0].s);
			break;
		}
		for (size_t i = 2; i < rpt_annex_ncols; i++) {
			if (offs[i])
				cells[i].s = (const char *)buf.data + offs[i] - 1;
			/* a field that holds a string where the column wants a number: shown as absent */
			else if (!cells[i].null && rpt_annex_cols[i].type != RT_INT &&
			         rpt_annex_cols[i].type != RT_BOOL)
				cells[i] = (struct rcell){.null = true};
		}
		if (cells[status_col].null)
			cells[status_col] = (struct rcell){.s = "reported"};
		s = fn(ctx, cells, err);
	}
	if (!s && rc != SQLITE_DONE)
		s = sql_fail(r, rc, "annex", err);
	sqlite3_finalize(q);
	kr_buf_release(&buf);
	return s;
}

/* ---- The whole ---- */

void rpt_release(struct rpt *r)
{
	for (size_t i = 0; i < r->ntables; i++)
		free(r->tables[i]->cells);
	r->ntables = 0;
	if (r->db && !sqlite3_get_autocommit(r->db))
		sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
	if (r->db)
		sqlite3_exec(r->db, "PRAGMA temp_store = DEFAULT", NULL, NULL, NULL);
	if (r->db)
		sqlite3_exec(
		    r->db,
		    "DROP TABLE IF EXISTS temp.r_fac; DROP TABLE IF EXISTS temp.r_inc; DROP TABLE IF EXISTS temp.r_trn;"
		    "DROP TABLE IF EXISTS temp.r_si; DROP TABLE IF EXISTS temp.r_aud; DROP TABLE IF EXISTS temp.r_risk;"
		    "DROP TABLE IF EXISTS temp.r_con; DROP TABLE IF EXISTS temp.r_pif; DROP TABLE IF EXISTS temp.r_pih;"
		    "DROP TABLE IF EXISTS temp.r_enum; DROP TABLE IF EXISTS temp.r_annex",
		    NULL, NULL, NULL);
	kr_arena_release(&r->arena);
}

kr_status rpt_compute(struct rpt *r, struct kr_error *err)
{
	kr_status s;
	int rc;

	r->db = kr_store_db(r->st);
	r->cat = kr_store_catalogue(r->st);
	kr_day_format(r->o->from, r->from);
	kr_day_format(r->o->to, r->to);
	kr_day_format(r->o->today, r->today);
	rc =
	    sqlite3_create_function(r->db, "kr_ulid", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, fn_ulid, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_create_function(r->db, "kr_deadline", 3, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
		                             fn_deadline, NULL, NULL);
	if (rc != SQLITE_OK)
		return sql_fail(r, rc, "SQL functions", err);
	/* The temporary tables in memory (tens of MB for 100,000 incidents), and one read transaction: every
	 * figure sees the same state of the store. */
	if ((s = exec(r, "PRAGMA temp_store = MEMORY; BEGIN", "begin", err)))
		return s;
	if (!(s = enum_table(r, err)) && !(s = exec(r, temp_tables, "temporary tables", err)) &&
	    !(s = si_table(r, err)) && !(s = education(r, err)) && !(s = self_inspection(r, err)) &&
	    !(s = audit(r, err)) && !(s = risk(r, err)) && !(s = incidents(r, err)) && !(s = contractors(r, err)) &&
	    !(s = pi_register(r, err)) && !(s = overdue_items(r, err)))
		s = overall(r, err);
	if (!s) {
		struct rtable *si = rpt_table(r, "self_inspection_totals");
		r->nfacilities = (size_t)rt_int(si, 0, "facilities");
		r->annex_rows = (uint64_t)rt_int(rpt_table(r, "incidents_totals"), 0, "incidents");
	}
	return s;
}
