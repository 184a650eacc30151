/* cmd_operator.c: kiroku-hub's operator commands: incidents, triage, review and conflicts resolve. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hub.h"
#include "kiroku/audit.h"

kr_status hub_audit(struct hub *h, const char *action, struct kr_error *err, const char *fmt, ...)
{
	char actor[KR_AUDIT_ACTOR_MAX + 1], detail[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	kr_audit_operator(actor, sizeof actor);
	return kr_audit_append(h->st, actor, action, detail, err);
}
#include "kiroku/lifecycle.h"

/* --today DAY, or the hub's local date. */
int hub_today(struct hub *h, kr_day *out)
{
	struct kr_error err;

	if (!h->today) {
		*out = kr_day_today();
		return 0;
	}
	if (kr_day_parse("--today", h->today, out, &err))
		return hub_usage(h, "%s", err.msg);
	return 0;
}

static bool lang_en(struct hub *h)
{
	const char *lang = kr_config_get(&h->cfg, "lang");
	return lang && strcmp(lang, "en") == 0;
}

static const char *deadline_word(enum kr_deadline d, bool en)
{
	switch (d) {
	case KR_DEADLINE_PENDING:
		return en ? "pending" : "期限前";
	case KR_DEADLINE_OVERDUE:
		return en ? "OVERDUE" : "期限超過";
	case KR_DEADLINE_MET:
		return en ? "met" : "期限内に報告";
	case KR_DEADLINE_LATE:
		return en ? "late" : "期限後に報告";
	}
	return "";
}

struct incidents_ctx {
	struct hub *h;
	const struct kr_kind_def *kd;
	const char *lang;
	bool tsv, en;
	size_t count;
	struct kr_buf line;
};

static const char *label(const struct incidents_ctx *ic, const char *field, const char *value)
{
	if (!value)
		return "";
	return kr_field_value_label(kr_catalogue_field(ic->kd, field), value, ic->lang);
}

static kr_status cell(struct kr_buf *b, const char *text, size_t width)
{
	kr_status s = kr_print_cell(b, text ? text : "", width, true);
	return s ? s : kr_buf_append(b, "  ", 2);
}

static kr_status tsv_cell(struct kr_buf *b, const char *text, bool last)
{
	kr_status s = KR_OK;
	for (const char *p = text ? text : ""; *p && !s; p++) {
		if (*p == '\t')
			s = kr_buf_append(b, "\\t", 2);
		else if (*p == '\n')
			s = kr_buf_append(b, "\\n", 2);
		else if (*p == '\\')
			s = kr_buf_append(b, "\\\\", 2);
		else
			s = kr_buf_append(b, p, 1);
	}
	return s ? s : kr_buf_append(b, last ? "\n" : "\t", 1);
}

static kr_status incident_line(void *ctx, const struct kr_incident_row *r, struct kr_error *err)
{
	struct incidents_ctx *ic = ctx;
	struct kr_buf *b = &ic->line;
	char pdue[KR_DAY_TEXT_LEN + 1] = "", fdue[KR_DAY_TEXT_LEN + 1] = "", p[64] = "", f[64] = "";
	const char *status = kr_incident_status_name(r->status);
	kr_status s;

	b->len = 0;
	if (r->has_due) {
		kr_day_format(r->preliminary_due, pdue);
		kr_day_format(r->final_due, fdue);
	}
	if (ic->tsv) {
		const char *cols[] = {r->id,
		                      r->facility,
		                      r->occurred_at,
		                      status,
		                      r->severity,
		                      r->category,
		                      r->ppc_required ? "yes" : "no",
		                      pdue,
		                      r->has_due ? kr_deadline_name(r->preliminary) : "",
		                      fdue,
		                      r->has_due ? kr_deadline_name(r->final) : "",
		                      r->overdue ? "overdue" : ""};
		size_t n = sizeof cols / sizeof cols[0];
		s = KR_OK;
		for (size_t i = 0; i < n && !s; i++)
			s = tsv_cell(b, cols[i], i + 1 == n);
	} else {
		if (r->has_due) {
			snprintf(p, sizeof p, "%s %s", pdue, deadline_word(r->preliminary, ic->en));
			snprintf(f, sizeof f, "%s %s", fdue, deadline_word(r->final, ic->en));
		} else if (r->ppc_required) {
			snprintf(p, sizeof p, "%s", ic->en ? "(no due date)" : "（期限未設定）");
		}
		s = cell(b, r->id, 26);
		if (!s)
			s = cell(b, r->facility, 14);
		if (!s)
			s = cell(b, r->occurred_at, 16);
		if (!s)
			s = cell(b, label(ic, "status", status), 12);
		if (!s)
			s = cell(b, label(ic, "severity", r->severity), 8);
		if (!s)
			s = cell(b, label(ic, "category", r->category), 14);
		if (!s)
			s = cell(b, p, 24);
		if (!s)
			s = kr_buf_printf(b, "%s\n", f);
	}
	if (s)
		return kr_fail(err, s, "printing incidents: %s", kr_status_name(s));
	if (fwrite(b->data, 1, b->len, stdout) != b->len)
		return kr_fail(err, KR_ERR_IO, "writing the output failed");
	ic->count++;
	return KR_OK;
}

int hub_cmd_incidents(struct hub *h)
{
	struct incidents_ctx ic = {.h = h, .lang = kr_config_get(&h->cfg, "lang"), .en = lang_en(h)};
	struct kr_incident_filter f = {.facility = h->facility, .open_only = h->open, .overdue_only = h->overdue};
	enum kr_print_format format = KR_PRINT_TABLE;
	struct kr_error err;
	int rc;

	if ((rc = hub_today(h, &f.today)))
		return rc;
	if (h->format && kr_print_format_parse(h->format, &format, &err))
		return hub_usage(h, "%s", err.msg);
	if (format == KR_PRINT_JSON)
		return hub_usage(h, "incidents are printed as table or tsv");
	ic.tsv = format == KR_PRINT_TSV;
	ic.kd = kr_catalogue_kind(kr_store_catalogue(h->st), "incident");
	kr_buf_init(&ic.line, 0);
	if (!ic.tsv) {
		struct kr_buf *b = &ic.line;
		kr_status s = cell(b, ic.en ? "ID" : "ID", 26);
		if (!s)
			s = cell(b, ic.en ? "Facility" : "施設", 14);
		if (!s)
			s = cell(b, ic.en ? "Occurred" : "発生日時", 16);
		if (!s)
			s = cell(b, ic.en ? "Status" : "対応状況", 12);
		if (!s)
			s = cell(b, ic.en ? "Severity" : "重大度", 8);
		if (!s)
			s = cell(b, ic.en ? "Category" : "区分", 14);
		if (!s)
			s = cell(b, ic.en ? "PPC preliminary" : "速報期限", 24);
		if (!s)
			s = kr_buf_printf(b, "%s\n", ic.en ? "PPC final" : "確報期限");
		if (!s)
			fwrite(b->data, 1, b->len, stdout);
	}
	if (kr_incident_list(h->st, &f, incident_line, &ic, &err)) {
		kr_buf_release(&ic.line);
		kr_error_prefix(&err, "incidents");
		return hub_fail(&err);
	}
	kr_buf_release(&ic.line);
	if (!ic.tsv)
		fprintf(stderr, "%zu incident%s\n", ic.count, ic.count == 1 ? "" : "s");
	return 0;
}

int hub_cmd_triage(struct hub *h)
{
	const struct kr_field_def yesno = {.name = "--ppc", .type = KR_FT_BOOLEAN, .required = true};
	struct kr_triage t = {.status = h->status, .severity = h->severity, .ppc = -1};
	struct kr_triage_result res;
	struct kr_error err;
	struct kr_value v;
	kr_ulid id;
	int rc;

	if ((rc = hub_today(h, &t.today)))
		return rc;
	if (h->ppc) {
		if (kr_catalogue_parse_value(&yesno, h->ppc, &v, &err))
			return hub_usage(h, "%s", err.msg);
		t.ppc = v.i ? 1 : 0;
	}
	if (kr_ulid_parse(h->args[0], &id, &err))
		return hub_fail(&err);
	if (kr_store_begin(h->st, &err))
		return hub_fail(&err);
	if (kr_incident_triage(h->st, &id, &t, &res, &err) ||
	    hub_audit(h, "incident.triage", &err, "%s status=%s severity=%s ppc=%s", h->args[0],
		      h->status ? h->status : "-", h->severity ? h->severity : "-", h->ppc ? h->ppc : "-") ||
	    kr_store_commit(h->st, &err)) {
		kr_store_rollback(h->st);
		kr_error_prefix(&err, "triage");
		return hub_fail(&err);
	}
	printf("incident %s: %s", h->args[0], kr_incident_status_name(res.to));
	if (res.transition == KR_TRANSITION_FORWARD || res.transition == KR_TRANSITION_REOPEN)
		printf(" (was %s%s)", kr_incident_status_name(res.from),
		       res.transition == KR_TRANSITION_REOPEN ? ", reopened" : "");
	if (h->severity)
		printf("; severity %s", h->severity);
	if (res.has_due) {
		char d[3][KR_DAY_TEXT_LEN + 1];
		kr_day_format(res.due.discovered, d[0]);
		kr_day_format(res.due.preliminary, d[1]);
		kr_day_format(res.due.final, d[2]);
		printf("; PPC report required: discovered %s, preliminary report due %s, final report due %s", d[0],
		       d[1], d[2]);
	} else if (t.ppc == 0) {
		printf("; no PPC report");
	}
	printf("\n%zu field%s written as a hub change; the facility's agents receive it on their next exchange\n",
	       res.fields_written, res.fields_written == 1 ? "" : "s");
	return 0;
}

int hub_cmd_review(struct hub *h)
{
	struct kr_error err;
	kr_ulid id;

	if (!h->state)
		return hub_usage(h, "give --state received|has-issues|approved|rejected");
	if (kr_ulid_parse(h->args[0], &id, &err))
		return hub_fail(&err);
	if (kr_store_begin(h->st, &err))
		return hub_fail(&err);
	if (kr_record_review(h->st, &id, h->state, h->comment, &err) ||
	    hub_audit(h, "record.review", &err, "%s state=%s%s", h->args[0], h->state,
		      h->comment ? " with a comment" : "") ||
	    kr_store_commit(h->st, &err)) {
		kr_store_rollback(h->st);
		return hub_fail(&err);
	}
	printf("record %s: review written (%s%s); the facility's agents receive it on their next exchange\n",
	       h->args[0], h->state, h->comment ? ", with a comment" : "");
	return 0;
}

int hub_cmd_conflicts_resolve(struct hub *h)
{
	enum kr_resolve_keep keep;
	struct kr_resolve_result res;
	struct kr_error err;
	kr_ulid id;

	if (!!h->keep == !!h->value)
		return hub_usage(h, "give either --keep current|other or --value VALUE");
	if (h->value)
		keep = KR_RESOLVE_VALUE;
	else if (strcmp(h->keep, "current") == 0)
		keep = KR_RESOLVE_CURRENT;
	else if (strcmp(h->keep, "other") == 0)
		keep = KR_RESOLVE_OTHER;
	else
		return hub_usage(h, "--keep takes current or other, not \"%s\"", h->keep);
	if (kr_ulid_parse(h->args[0], &id, &err))
		return hub_fail(&err);
	if (kr_store_begin(h->st, &err))
		return hub_fail(&err);
	if (kr_conflict_resolve(h->st, &id, keep, h->value, &res, &err) ||
	    hub_audit(h, "conflict.resolve", &err, "%s keep=%s", h->args[0], h->value ? "value" : h->keep) ||
	    kr_store_commit(h->st, &err)) {
		kr_store_rollback(h->st);
		return hub_fail(&err);
	}
	printf("conflict %s resolved: %s of record %s now holds the %s value%s; the facility's agents receive it on "
	       "their next exchange\n",
	       h->args[0], res.field, res.record,
	       keep == KR_RESOLVE_VALUE     ? "given"
	       : keep == KR_RESOLVE_CURRENT ? "current"
	                                    : "other",
	       res.restored ? " and the record is restored" : "");
	return 0;
}
