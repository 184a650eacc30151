/* test_lifecycle.c: days, the incident lifecycle, PPC deadlines and the hub operator's writes (triage,
 * review, conflict resolution) on temporary stores. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kiroku/changeset.h"
#include "kiroku/day.h"
#include "kiroku/lifecycle.h"
#include "kiroku/store.h"

static kr_day D(const char *text)
{
	kr_day d;
	struct kr_error err = {0};
	if (kr_day_parse("test", text, &d, &err))
		fail_msg("%s: %s", text, err.msg);
	return d;
}

static const char *fmt(kr_day d, char buf[KR_DAY_TEXT_LEN + 1])
{
	kr_day_format(d, buf);
	return buf;
}

/* ---- Days ---- */

static void test_days(void **state)
{
	char b[KR_DAY_TEXT_LEN + 1];
	struct kr_error err = {0};
	kr_day d, from, to;
	int y, m, dd;

	(void)state;
	assert_int_equal(kr_day_from_ymd(1970, 1, 1), 0);
	assert_int_equal(D("1970-01-02"), 1);
	assert_int_equal(D("1969-12-31"), -1);
	assert_int_equal(D("2027-03-01") - D("2027-02-28"), 1);
	assert_int_equal(D("2028-03-01") - D("2028-02-28"), 2); /* leap year */
	assert_int_equal(D("2100-03-01") - D("2100-02-28"), 1); /* not a leap year */
	assert_int_equal(D("2000-03-01") - D("2000-02-28"), 2); /* a leap year */
	for (kr_day i = D("1999-12-25"); i < D("2031-01-10"); i++) {
		kr_day_to_ymd(i, &y, &m, &dd);
		assert_int_equal(kr_day_from_ymd(y, m, dd), i);
	}
	assert_string_equal(fmt(D("2026-11-20T15:10"), b), "2026-11-20");
	assert_string_equal(fmt(D("2026-11-20 15:10:59"), b), "2026-11-20");
	assert_int_equal(kr_day_parse("--today", "2026-02-29", &d, &err), KR_ERR_INVALID);
	assert_string_equal(err.msg, "--today: \"2026-02-29\" is not a date (YYYY-MM-DD)");
	assert_int_equal(kr_day_parse("x", "2026-1-01", &d, &err), KR_ERR_INVALID);
	assert_int_equal(kr_day_parse("x", "2026-01-01X", &d, &err), KR_ERR_INVALID);
	assert_int_equal(kr_day_parse("x", NULL, &d, &err), KR_ERR_INVALID);
	assert_int_equal(kr_period_parse("2026-04-01..2027-03-31", &from, &to, &err), KR_OK);
	assert_int_equal(to - from, 364);
	assert_int_equal(kr_period_parse("2026-04-01..2026-04-01", &from, &to, &err), KR_OK);
	assert_int_equal(kr_period_parse("2027-04-01..2026-03-31", &from, &to, &err), KR_ERR_INVALID);
	assert_non_null(strstr(err.msg, "is after"));
	assert_int_equal(kr_period_parse("2026-04-01-2027-03-31", &from, &to, &err), KR_ERR_INVALID);
	assert_int_equal(kr_period_parse("2026-04-01..2027-02-30", &from, &to, &err), KR_ERR_INVALID);
}

/* ---- Status ---- */

static void test_transitions(void **state)
{
	/* want[from][to] */
	static const enum kr_transition want[4][4] = {
	    {KR_TRANSITION_SAME, KR_TRANSITION_FORWARD, KR_TRANSITION_REFUSED, KR_TRANSITION_REFUSED},
	    {KR_TRANSITION_REFUSED, KR_TRANSITION_SAME, KR_TRANSITION_FORWARD, KR_TRANSITION_REFUSED},
	    {KR_TRANSITION_REFUSED, KR_TRANSITION_REFUSED, KR_TRANSITION_SAME, KR_TRANSITION_FORWARD},
	    {KR_TRANSITION_REFUSED, KR_TRANSITION_REOPEN, KR_TRANSITION_REFUSED, KR_TRANSITION_SAME},
	};
	enum kr_incident_status s;
	struct kr_error err = {0};

	(void)state;
	for (int from = 0; from < 4; from++)
		for (int to = 0; to < 4; to++)
			if (kr_incident_transition((enum kr_incident_status)from, (enum kr_incident_status)to) !=
			    want[from][to])
				fail_msg("%s -> %s", kr_incident_status_name((enum kr_incident_status)from),
				         kr_incident_status_name((enum kr_incident_status)to));
	/* No status reads as reported. */
	assert_int_equal(kr_incident_status_parse(NULL, &s, &err), KR_OK);
	assert_int_equal(s, KR_INCIDENT_REPORTED);
	assert_int_equal(kr_incident_status_parse("", &s, &err), KR_OK);
	assert_int_equal(s, KR_INCIDENT_REPORTED);
	assert_int_equal(kr_incident_status_parse("contained", &s, &err), KR_OK);
	assert_int_equal(s, KR_INCIDENT_CONTAINED);
	assert_int_equal(kr_incident_status_parse("判定済み", &s, &err), KR_ERR_INVALID);
	assert_string_equal(kr_incident_status_name(KR_INCIDENT_CLOSED), "closed");
}

/* ---- PPC deadlines ---- */

static void test_ppc_due(void **state)
{
	char b[KR_DAY_TEXT_LEN + 1];
	struct kr_ppc_due due;
	struct kr_error err = {0};

	(void)state;
	/* Counted from discovery: 5 days, 30 days. */
	assert_int_equal(kr_ppc_due("2026-04-03T09:00", "2026-04-01T10:00", false, &due, &err), KR_OK);
	assert_string_equal(fmt(due.discovered, b), "2026-04-03");
	assert_string_equal(fmt(due.preliminary, b), "2026-04-08");
	assert_string_equal(fmt(due.final, b), "2026-05-03");
	/* No discovery date: from occurrence. */
	assert_int_equal(kr_ppc_due(NULL, "2026-04-01T10:00", false, &due, &err), KR_OK);
	assert_string_equal(fmt(due.preliminary, b), "2026-04-06");
	assert_string_equal(fmt(due.final, b), "2026-05-01");
	assert_int_equal(kr_ppc_due("", "2026-04-01", false, &due, &err), KR_OK);
	assert_string_equal(fmt(due.discovered, b), "2026-04-01");
	/* An unauthorised purpose: 60 days for the final report; the preliminary one is unchanged. */
	assert_int_equal(kr_ppc_due("2026-12-20T17:00", NULL, true, &due, &err), KR_OK);
	assert_string_equal(fmt(due.preliminary, b), "2026-12-25");
	assert_string_equal(fmt(due.final, b), "2027-02-18");
	/* Across the end of February of a leap year. */
	assert_int_equal(kr_ppc_due("2028-02-27", NULL, false, &due, &err), KR_OK);
	assert_string_equal(fmt(due.preliminary, b), "2028-03-03");
	assert_string_equal(fmt(due.final, b), "2028-03-28");
	assert_int_equal(kr_ppc_due(NULL, "not a date", false, &due, &err), KR_ERR_INVALID);
	assert_non_null(strstr(err.msg, "occurred_at"));
}

static void test_deadline_check(void **state)
{
	kr_day due = D("2026-04-08"), sent;

	(void)state;
	/* A deadline falling on the report day is not yet overdue; the day after, it is. */
	assert_int_equal(kr_deadline_check(due, NULL, D("2026-04-08")), KR_DEADLINE_PENDING);
	assert_int_equal(kr_deadline_check(due, NULL, D("2026-04-07")), KR_DEADLINE_PENDING);
	assert_int_equal(kr_deadline_check(due, NULL, D("2026-04-09")), KR_DEADLINE_OVERDUE);
	/* Sent on the due day: met; after: late, whatever today is. */
	sent = due;
	assert_int_equal(kr_deadline_check(due, &sent, D("2027-01-01")), KR_DEADLINE_MET);
	sent = due + 1;
	assert_int_equal(kr_deadline_check(due, &sent, D("2026-04-09")), KR_DEADLINE_LATE);
	sent = due - 3;
	assert_int_equal(kr_deadline_check(due, &sent, D("2026-04-01")), KR_DEADLINE_MET);
	assert_string_equal(kr_deadline_name(KR_DEADLINE_OVERDUE), "overdue");
	assert_string_equal(kr_deadline_name(KR_DEADLINE_LATE), "late");
}

/* ---- The operator's writes on stores ---- */

struct fx {
	char dir[128];
	struct kr_store *hub, *a1, *a2;
};

static struct kr_store *make(struct fx *f, const char *file, enum kr_role role, const char *node, const char *fac)
{
	char path[256];
	struct kr_error err = {0};
	struct kr_store *st;
	snprintf(path, sizeof path, "%s/%s", f->dir, file);
	assert_int_equal(kr_store_create(path, role, node, fac, &err), KR_OK);
	assert_int_equal(kr_store_open(path, &st, &err), KR_OK);
	return st;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	snprintf(f->dir, sizeof f->dir, "/tmp/kiroku-lifecycle-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->hub = make(f, "hub.db", KR_ROLE_HUB, "hub", NULL);
	f->a1 = make(f, "a1.db", KR_ROLE_AGENT, "pc1", "school-a");
	f->a2 = make(f, "a2.db", KR_ROLE_AGENT, "pc2", "school-a");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[256];
	kr_store_close(f->hub);
	kr_store_close(f->a1);
	kr_store_close(f->a2);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void push(struct fx *f, struct kr_store *agent)
{
	struct kr_merge_opts o = {.peer_node = kr_store_node(agent), .peer_facility = kr_store_facility(agent)};
	struct kr_merge_result res;
	struct kr_error err = {0};
	struct kr_changeset cs;
	struct kr_buf out;
	size_t n;

	kr_buf_init(&out, 0);
	assert_int_equal(kr_outbox_batch(agent, &kr_default_limits, &out, &n, &err), KR_OK);
	assert_int_equal(kr_changeset_decode(out.data, out.len, &kr_default_limits, &cs, &err), KR_OK);
	assert_int_equal(kr_merge(f->hub, &cs, &o, &res, &err), KR_OK);
	assert_int_equal(kr_outbox_ack(agent, res.acked, &err), KR_OK);
	kr_changeset_release(&cs);
	kr_buf_release(&out);
}

static void pull(struct fx *f, struct kr_store *agent)
{
	struct kr_merge_result res;
	struct kr_error err = {0};
	struct kr_changeset cs;
	struct kr_buf out;
	size_t n;
	bool more;

	kr_buf_init(&out, 0);
	assert_int_equal(kr_hub_export(f->hub, kr_store_facility(agent), kr_store_node(agent),
	                               kr_store_meta_u64(agent, "cursor"), &kr_default_limits, &out, &n, &more, &err),
	                 KR_OK);
	assert_int_equal(kr_changeset_decode(out.data, out.len, &kr_default_limits, &cs, &err), KR_OK);
	assert_int_equal(kr_merge(agent, &cs, NULL, &res, &err), KR_OK);
	kr_changeset_release(&cs);
	kr_buf_release(&out);
}

/* The field's text ("(none)" if absent or not text), or its integer as text. */
static const char *field_text(struct kr_store *st, const kr_ulid *id, const char *field, char *buf, size_t size)
{
	struct kr_record rec;
	struct kr_error err = {0};
	const struct kr_field_state *fs;

	assert_int_equal(kr_record_get(st, id, &rec, &err), KR_OK);
	fs = kr_record_field(&rec, field);
	if (fs && fs->value.type == KR_VAL_TEXT)
		snprintf(buf, size, "%s", fs->value.s);
	else if (fs && (fs->value.type == KR_VAL_INT || fs->value.type == KR_VAL_BOOL))
		snprintf(buf, size, "%lld", (long long)fs->value.i);
	else
		snprintf(buf, size, "(none)");
	kr_record_release(&rec);
	return buf;
}

static uint64_t journal_rows(struct kr_store *st)
{
	struct kr_store_status s;
	struct kr_error err = {0};
	assert_int_equal(kr_store_status(st, &s, &err), KR_OK);
	return s.last_seq;
}

static kr_ulid hub_incident(struct kr_store *hub, const char *occurred, const char *discovered, bool unauthorised)
{
	struct kr_field_text fl[5] = {
	    {"occurred_at", occurred}, {"category", "漏えい"}, {"description", "名簿の誤送付"}};
	struct kr_error err = {0};
	size_t n = 3;
	kr_ulid id;

	if (discovered)
		fl[n++] = (struct kr_field_text){"discovered_at", discovered};
	if (unauthorised)
		fl[n++] = (struct kr_field_text){"unauthorised_purpose", "yes"};
	assert_int_equal(kr_record_create(hub, "incident", "school-a", fl, n, 0, &id, &err), KR_OK);
	return id;
}

static void test_triage(void **state)
{
	struct fx *f = *state;
	struct kr_triage_result res;
	struct kr_error err = {0};
	char b[512];
	kr_ulid id = hub_incident(f->hub, "2026-04-01T10:00", "2026-04-03T09:00", false);
	struct kr_triage t = {.status = "triaged", .severity = "高", .ppc = 1, .today = D("2026-04-04")};
	uint64_t seq;

	/* reported (no status) -> triaged, with the PPC deadlines. */
	assert_string_equal(field_text(f->hub, &id, "status", b, sizeof b), "(none)");
	assert_int_equal(kr_incident_triage(f->hub, &id, &t, &res, &err), KR_OK);
	assert_int_equal(res.from, KR_INCIDENT_REPORTED);
	assert_int_equal(res.to, KR_INCIDENT_TRIAGED);
	assert_int_equal(res.transition, KR_TRANSITION_FORWARD);
	assert_true(res.has_due);
	assert_string_equal(field_text(f->hub, &id, "status", b, sizeof b), "triaged");
	assert_string_equal(field_text(f->hub, &id, "severity", b, sizeof b), "high");
	assert_string_equal(field_text(f->hub, &id, "ppc_report_required", b, sizeof b), "1");
	assert_string_equal(field_text(f->hub, &id, "ppc_preliminary_due", b, sizeof b), "2026-04-08");
	assert_string_equal(field_text(f->hub, &id, "ppc_final_due", b, sizeof b), "2026-05-03");
	assert_string_equal(field_text(f->hub, &id, "status_history", b, sizeof b), "2026-04-04 reported -> triaged");

	/* A step skipped is refused and writes nothing. */
	seq = journal_rows(f->hub);
	t = (struct kr_triage){.status = "closed", .ppc = -1, .today = D("2026-04-05")};
	assert_int_equal(kr_incident_triage(f->hub, &id, &t, &res, &err), KR_ERR_CONFLICT);
	assert_non_null(strstr(err.msg, "is triaged and cannot become closed: the next step is contained"));
	assert_int_equal(journal_rows(f->hub), seq);
	/* Nothing to change. */
	t = (struct kr_triage){.status = "triaged", .severity = "high", .ppc = -1, .today = D("2026-04-05")};
	assert_int_equal(kr_incident_triage(f->hub, &id, &t, &res, &err), KR_ERR_INVALID);
	assert_non_null(strstr(err.msg, "nothing to change"));
	t = (struct kr_triage){.ppc = -1};
	assert_int_equal(kr_incident_triage(f->hub, &id, &t, &res, &err), KR_ERR_INVALID);
	/* A bad value. */
	t = (struct kr_triage){.status = "done", .ppc = -1};
	assert_int_equal(kr_incident_triage(f->hub, &id, &t, &res, &err), KR_ERR_INVALID);
	assert_int_equal(journal_rows(f->hub), seq);

	/* triaged -> contained -> closed (closed_at) -> reopened (counted, dated, closed_at cleared). */
	t = (struct kr_triage){.status = "contained", .ppc = -1, .today = D("2026-04-06")};
	assert_int_equal(kr_incident_triage(f->hub, &id, &t, &res, &err), KR_OK);
	t = (struct kr_triage){.status = "終結", .ppc = -1, .today = D("2026-04-20")};
	assert_int_equal(kr_incident_triage(f->hub, &id, &t, &res, &err), KR_OK);
	assert_string_equal(field_text(f->hub, &id, "closed_at", b, sizeof b), "2026-04-20");
	t = (struct kr_triage){.status = "triaged", .ppc = -1, .today = D("2026-05-10")};
	assert_int_equal(kr_incident_triage(f->hub, &id, &t, &res, &err), KR_OK);
	assert_int_equal(res.transition, KR_TRANSITION_REOPEN);
	assert_string_equal(field_text(f->hub, &id, "reopen_count", b, sizeof b), "1");
	assert_string_equal(field_text(f->hub, &id, "reopened_at", b, sizeof b), "2026-05-10");
	assert_string_equal(field_text(f->hub, &id, "closed_at", b, sizeof b), "(none)");
	assert_string_equal(field_text(f->hub, &id, "status_history", b, sizeof b),
	                    "2026-04-04 reported -> triaged\n2026-04-06 triaged -> contained\n2026-04-20 contained -> "
	                    "closed\n2026-05-10 closed -> triaged");
	/* Reopened twice. */
	t = (struct kr_triage){.status = "contained", .ppc = -1, .today = D("2026-05-11")};
	assert_int_equal(kr_incident_triage(f->hub, &id, &t, &res, &err), KR_OK);
	t = (struct kr_triage){.status = "closed", .ppc = -1, .today = D("2026-05-12")};
	assert_int_equal(kr_incident_triage(f->hub, &id, &t, &res, &err), KR_OK);
	t = (struct kr_triage){.status = "triaged", .ppc = -1, .today = D("2026-05-13")};
	assert_int_equal(kr_incident_triage(f->hub, &id, &t, &res, &err), KR_OK);
	assert_string_equal(field_text(f->hub, &id, "reopen_count", b, sizeof b), "2");

	/* ppc no clears the deadlines. */
	t = (struct kr_triage){.ppc = 0, .today = D("2026-05-13")};
	assert_int_equal(kr_incident_triage(f->hub, &id, &t, &res, &err), KR_OK);
	assert_string_equal(field_text(f->hub, &id, "ppc_report_required", b, sizeof b), "0");
	assert_string_equal(field_text(f->hub, &id, "ppc_final_due", b, sizeof b), "(none)");
}

static void test_triage_60_days_and_refusals(void **state)
{
	struct fx *f = *state;
	struct kr_triage_result res;
	struct kr_error err = {0};
	char b[512];
	kr_ulid id = hub_incident(f->hub, "2026-12-20T17:00", NULL, true), other;
	struct kr_triage t = {.status = "triaged", .ppc = 1, .today = D("2026-12-21")};
	struct kr_field_text fl[] = {
	    {"action", "持出し"}, {"medium", "USB"}, {"handled_by", "佐藤 花子"}, {"handled_at", "2026-12-01T10:00"}};

	assert_int_equal(kr_incident_triage(f->hub, &id, &t, &res, &err), KR_OK);
	assert_string_equal(field_text(f->hub, &id, "ppc_preliminary_due", b, sizeof b), "2026-12-25");
	assert_string_equal(field_text(f->hub, &id, "ppc_final_due", b, sizeof b), "2027-02-18");
	/* Only at the hub, only incidents, only existing records. */
	assert_int_equal(kr_incident_triage(f->a1, &id, &t, &res, &err), KR_ERR_FORBIDDEN);
	assert_int_equal(kr_record_create(f->hub, "pi_handling", "school-a", fl, 4, 0, &other, &err), KR_OK);
	t = (struct kr_triage){.status = "triaged", .ppc = -1};
	assert_int_equal(kr_incident_triage(f->hub, &other, &t, &res, &err), KR_ERR_INVALID);
	assert_non_null(strstr(err.msg, "not an incident"));
	memset(&other, 0x11, sizeof other);
	assert_int_equal(kr_incident_triage(f->hub, &other, &t, &res, &err), KR_ERR_NOT_FOUND);
	/* A deleted incident can't be triaged. */
	assert_int_equal(kr_record_delete(f->hub, &id, 0, &err), KR_OK);
	t = (struct kr_triage){.status = "contained", .ppc = -1};
	assert_int_equal(kr_incident_triage(f->hub, &id, &t, &res, &err), KR_ERR_CONFLICT);
}

static void test_review(void **state)
{
	struct fx *f = *state;
	struct kr_error err = {0};
	struct kr_field_text fl[] = {
	    {"action", "持出し"}, {"medium", "USB"}, {"handled_by", "佐藤 花子"}, {"handled_at", "2026-12-01T10:00"}};
	kr_ulid ledger, inc;
	char b[256];

	/* A ledger entry (append-only) can be reviewed: the review is the operator's note, not an edit. */
	assert_int_equal(kr_record_create(f->hub, "pi_handling", "school-a", fl, 4, 0, &ledger, &err), KR_OK);
	assert_int_equal(kr_record_review(f->hub, &ledger, "has-issues", "承認者が未記入です", &err), KR_OK);
	assert_string_equal(field_text(f->hub, &ledger, "review_state", b, sizeof b), "has_issues");
	assert_string_equal(field_text(f->hub, &ledger, "review_comment", b, sizeof b), "承認者が未記入です");
	assert_int_equal(kr_record_review(f->hub, &ledger, "has-issues", "承認者が未記入です", &err), KR_ERR_INVALID);
	assert_non_null(strstr(err.msg, "already has this review"));
	assert_int_equal(kr_record_review(f->hub, &ledger, "承認", NULL, &err), KR_OK);
	assert_string_equal(field_text(f->hub, &ledger, "review_state", b, sizeof b), "approved");
	assert_string_equal(field_text(f->hub, &ledger, "review_comment", b, sizeof b), "承認者が未記入です");
	assert_int_equal(kr_record_review(f->hub, &ledger, "approved", "", &err), KR_OK);
	assert_string_equal(field_text(f->hub, &ledger, "review_comment", b, sizeof b), "(none)");
	assert_int_equal(kr_record_review(f->hub, &ledger, "maybe", NULL, &err), KR_ERR_INVALID);
	assert_non_null(strstr(err.msg, "review_state"));
	assert_int_equal(kr_record_review(f->hub, &ledger, NULL, "x", &err), KR_ERR_INVALID);
	/* Staff can't write a review. */
	inc = hub_incident(f->hub, "2026-06-01T09:00", NULL, false);
	assert_int_equal(kr_record_review(f->a1, &inc, "approved", NULL, &err), KR_ERR_FORBIDDEN);
	/* It reaches the facility's agents. */
	assert_int_equal(kr_record_review(f->hub, &inc, "received", "受け付けました", &err), KR_OK);
	pull(f, f->a1);
	assert_string_equal(field_text(f->a1, &inc, "review_comment", b, sizeof b), "受け付けました");
}

struct list_ctx {
	size_t n, overdue;
	char ids[8][KR_ULID_LEN + 1];
};

static kr_status collect(void *ctx, const struct kr_incident_row *row, struct kr_error *err)
{
	struct list_ctx *lc = ctx;
	(void)err;
	if (lc->n < 8)
		snprintf(lc->ids[lc->n], sizeof lc->ids[0], "%s", row->id);
	lc->n++;
	lc->overdue += row->overdue;
	return KR_OK;
}

static void test_incident_list(void **state)
{
	struct fx *f = *state;
	struct kr_triage_result res;
	struct kr_error err = {0};
	kr_ulid a = hub_incident(f->hub, "2026-04-01T10:00", "2026-04-03T09:00", false);
	kr_ulid b = hub_incident(f->hub, "2026-04-02T10:00", NULL, false);
	struct kr_triage t = {.status = "triaged", .ppc = 1, .today = D("2026-04-04")};
	struct kr_incident_filter fl = {.today = D("2026-04-08")};
	struct list_ctx lc = {0};
	char text[KR_ULID_LEN + 1];

	(void)b;
	assert_int_equal(kr_incident_triage(f->hub, &a, &t, &res, &err), KR_OK); /* preliminary due 04-08 */
	assert_int_equal(kr_incident_list(f->hub, &fl, collect, &lc, &err), KR_OK);
	assert_int_equal(lc.n, 2);
	assert_int_equal(lc.overdue, 0); /* due today: not yet overdue */
	fl.overdue_only = true;
	fl.today = D("2026-04-09");
	memset(&lc, 0, sizeof lc);
	assert_int_equal(kr_incident_list(f->hub, &fl, collect, &lc, &err), KR_OK);
	assert_int_equal(lc.n, 1);
	kr_ulid_format(&a, text);
	assert_string_equal(lc.ids[0], text);
	/* Closed ones leave the open list. */
	t = (struct kr_triage){.status = "contained", .ppc = -1, .today = D("2026-04-09")};
	assert_int_equal(kr_incident_triage(f->hub, &a, &t, &res, &err), KR_OK);
	t.status = "closed";
	assert_int_equal(kr_incident_triage(f->hub, &a, &t, &res, &err), KR_OK);
	fl = (struct kr_incident_filter){.open_only = true, .today = D("2026-04-09")};
	memset(&lc, 0, sizeof lc);
	assert_int_equal(kr_incident_list(f->hub, &fl, collect, &lc, &err), KR_OK);
	assert_int_equal(lc.n, 1);
	fl = (struct kr_incident_filter){.facility = "elsewhere", .today = D("2026-04-09")};
	memset(&lc, 0, sizeof lc);
	assert_int_equal(kr_incident_list(f->hub, &fl, collect, &lc, &err), KR_OK);
	assert_int_equal(lc.n, 0);
}

/* Two agents edit one field without seeing each other: the hub keeps a conflict entry; the operator's
 * resolution supersedes both sides on every replica. */
static void test_conflict_resolve(void **state)
{
	struct fx *f = *state;
	struct kr_field_text fl[] = {
	    {"occurred_at", "2026-11-20T15:10"}, {"category", "紛失"}, {"description", "USB紛失"}};
	struct kr_field_text e1[] = {{"containment", "回収した"}}, e2[] = {{"containment", "警察に届けた"}};
	struct kr_resolve_result res;
	struct kr_error err = {0};
	struct kr_store_status ss;
	kr_ulid id, cid;
	char b[256], cid_text[KR_ULID_LEN + 1], loser[256];
	struct kr_record rec;

	assert_int_equal(kr_record_create(f->a1, "incident", NULL, fl, 3, 0, &id, &err), KR_OK);
	push(f, f->a1);
	pull(f, f->a2);
	assert_int_equal(kr_record_edit(f->a1, &id, e1, 1, 0, &err), KR_OK);
	assert_int_equal(kr_record_edit(f->a2, &id, e2, 1, 0, &err), KR_OK);
	push(f, f->a1);
	push(f, f->a2);
	assert_int_equal(kr_store_status(f->hub, &ss, &err), KR_OK);
	assert_int_equal(ss.conflicts_open, 1);

	pull(f, f->a1);
	pull(f, f->a2);
	/* The conflict entry is the hub's newest record: take it from the dump of the facility. */
	{
		struct kr_buf dump;
		const char *p;
		kr_buf_init(&dump, 0);
		assert_int_equal(kr_store_dump(f->hub, "school-a", &dump, &err), KR_OK);
		assert_int_equal(kr_buf_terminate(&dump), KR_OK);
		p = strstr((const char *)dump.data, " _conflict ");
		assert_non_null(p);
		memcpy(cid_text, p - KR_ULID_LEN, KR_ULID_LEN);
		cid_text[KR_ULID_LEN] = 0;
		kr_buf_release(&dump);
	}
	assert_int_equal(kr_ulid_parse(cid_text, &cid, &err), KR_OK);
	/* Not a conflict entry; no such entry; a bad value. */
	assert_int_equal(kr_conflict_resolve(f->hub, &id, KR_RESOLVE_OTHER, NULL, &res, &err), KR_ERR_INVALID);
	assert_int_equal(kr_conflict_resolve(f->a1, &cid, KR_RESOLVE_OTHER, NULL, &res, &err), KR_ERR_FORBIDDEN);
	/* Resolve with the losing value. */
	field_text(f->hub, &cid, "loser_value", loser, sizeof loser);
	assert_int_equal(kr_conflict_resolve(f->hub, &cid, KR_RESOLVE_OTHER, NULL, &res, &err), KR_OK);
	assert_string_equal(res.field, "containment");
	assert_string_equal(field_text(f->hub, &id, "containment", b, sizeof b), loser);
	assert_string_equal(field_text(f->hub, &cid, "status", b, sizeof b), "resolved");
	assert_string_equal(field_text(f->hub, &cid, "resolution", b, sizeof b), "other");
	assert_string_equal(field_text(f->hub, &cid, "resolved_value", b, sizeof b), loser);
	assert_int_equal(kr_store_status(f->hub, &ss, &err), KR_OK);
	assert_int_equal(ss.conflicts_open, 0);
	/* Twice is refused. */
	assert_int_equal(kr_conflict_resolve(f->hub, &cid, KR_RESOLVE_CURRENT, NULL, &res, &err), KR_ERR_CONFLICT);
	/* Both agents take the resolution: the hub's write supersedes both sides. */
	pull(f, f->a1);
	pull(f, f->a2);
	assert_string_equal(field_text(f->a1, &id, "containment", b, sizeof b), loser);
	assert_string_equal(field_text(f->a2, &id, "containment", b, sizeof b), loser);
	assert_string_equal(field_text(f->a2, &cid, "status", b, sizeof b), "resolved");
	/* The hub's version of the field is newer than both agents' writes. */
	assert_int_equal(kr_record_get(f->hub, &id, &rec, &err), KR_OK);
	assert_string_equal(kr_record_field(&rec, "containment")->version.node, "hub");
	kr_record_release(&rec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_days),
	    cmocka_unit_test(test_transitions),
	    cmocka_unit_test(test_ppc_due),
	    cmocka_unit_test(test_deadline_check),
	    cmocka_unit_test_setup_teardown(test_triage, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_triage_60_days_and_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_review, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_incident_list, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_conflict_resolve, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
