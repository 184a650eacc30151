/* lifecycle.c: the incident lifecycle and PPC deadlines, the operator's incident list, and the operator's
 * writes at the hub (triage, review, conflict resolution), all through the public store API. */
#include "kiroku/lifecycle.h"

#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiroku/buf.h"
#include "kiroku/catalogue.h"

#define HISTORY_MAX 8000 /* = catalogue max_len of incident.status_history */

static const char *const status_names[] = {"reported", "triaged", "contained", "closed"};

const char *kr_incident_status_name(enum kr_incident_status s)
{
	return (unsigned)s < 4 ? status_names[s] : "reported";
}

kr_status kr_incident_status_parse(const char *text, enum kr_incident_status *out, struct kr_error *err)
{
	if (!text || !*text) {
		*out = KR_INCIDENT_REPORTED;
		return KR_OK;
	}
	for (unsigned i = 0; i < 4; i++) {
		if (strcmp(text, status_names[i]) == 0) {
			*out = (enum kr_incident_status)i;
			return KR_OK;
		}
	}
	return kr_fail(err, KR_ERR_INVALID, "status: \"%.60s\" is not one of reported, triaged, contained, closed",
	               text);
}

enum kr_transition kr_incident_transition(enum kr_incident_status from, enum kr_incident_status to)
{
	if (from == to)
		return KR_TRANSITION_SAME;
	if (from == KR_INCIDENT_CLOSED && to == KR_INCIDENT_TRIAGED)
		return KR_TRANSITION_REOPEN;
	if (from != KR_INCIDENT_CLOSED && to == from + 1)
		return KR_TRANSITION_FORWARD;
	return KR_TRANSITION_REFUSED;
}

kr_status kr_ppc_due(const char *discovered_at, const char *occurred_at, bool unauthorised_purpose,
                     struct kr_ppc_due *out, struct kr_error *err)
{
	kr_day start;
	kr_status s;

	if (discovered_at && *discovered_at)
		s = kr_day_parse("discovered_at", discovered_at, &start, err);
	else
		s = kr_day_parse("occurred_at", occurred_at ? occurred_at : "", &start, err);
	if (s)
		return s;
	out->discovered = start;
	out->preliminary = start + KR_PPC_PRELIMINARY_DAYS;
	out->final = start + (unauthorised_purpose ? KR_PPC_FINAL_DAYS_UNAUTHORISED : KR_PPC_FINAL_DAYS);
	return KR_OK;
}

enum kr_deadline kr_deadline_check(kr_day due, const kr_day *sent, kr_day today)
{
	if (sent)
		return *sent <= due ? KR_DEADLINE_MET : KR_DEADLINE_LATE;
	return today > due ? KR_DEADLINE_OVERDUE : KR_DEADLINE_PENDING;
}

const char *kr_deadline_name(enum kr_deadline d)
{
	switch (d) {
	case KR_DEADLINE_PENDING:
		return "pending";
	case KR_DEADLINE_OVERDUE:
		return "overdue";
	case KR_DEADLINE_MET:
		return "met";
	case KR_DEADLINE_LATE:
		return "late";
	}
	return "pending";
}

/* ---- Listing ---- */

static const char *col_text(sqlite3_stmt *q, int i)
{
	return (const char *)sqlite3_column_text(q, i);
}

/* A date column: true and *out set when it holds a date. */
static bool col_day(sqlite3_stmt *q, int i, kr_day *out)
{
	const char *t = col_text(q, i);
	return t && kr_day_parse("date", t, out, NULL) == KR_OK;
}

kr_status kr_incident_list(struct kr_store *st, const struct kr_incident_filter *f, kr_incident_fn fn, void *ctx,
                           struct kr_error *err)
{
	static const char sql[] =
	    "SELECT id, facility, json_extract(fields, '$.occurred_at'), json_extract(fields, '$.discovered_at'), "
	    "json_extract(fields, '$.category'), json_extract(fields, '$.severity'), "
	    "json_extract(fields, '$.status'), json_extract(fields, '$.ppc_report_required'), "
	    "json_extract(fields, '$.ppc_preliminary_due'), json_extract(fields, '$.ppc_final_due'), "
	    "json_extract(fields, '$.ppc_preliminary_sent'), json_extract(fields, '$.ppc_final_sent') "
	    "FROM records WHERE kind = 'incident' AND deleted = 0 AND (?1 IS NULL OR facility = ?1) "
	    "ORDER BY 3, id";
	sqlite3 *db = kr_store_db(st);
	sqlite3_stmt *q;
	kr_status s = KR_OK;
	int rc;

	rc = sqlite3_prepare_v2(db, sql, -1, &q, NULL);
	if (rc != SQLITE_OK)
		return kr_fail(err, KR_ERR_STORE, "listing incidents: SQLite %d (%s)", rc, sqlite3_errmsg(db));
	sqlite3_bind_text(q, 1, f->facility, -1, SQLITE_STATIC);
	while (!s && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct kr_incident_row row;
		char id[KR_ULID_LEN + 1];
		kr_day psent, fsent;
		bool has_p, has_f;
		kr_ulid u;

		memset(&row, 0, sizeof row);
		if (sqlite3_column_bytes(q, 0) != 16) {
			s = kr_fail(err, KR_ERR_STORE, "a record id in the store is damaged");
			break;
		}
		memcpy(u.b, sqlite3_column_blob(q, 0), 16);
		kr_ulid_format(&u, id);
		row.id = id;
		row.facility = col_text(q, 1);
		row.occurred_at = col_text(q, 2);
		row.discovered_at = col_text(q, 3);
		row.category = col_text(q, 4);
		row.severity = col_text(q, 5);
		if (kr_incident_status_parse(col_text(q, 6), &row.status, NULL))
			row.status = KR_INCIDENT_REPORTED; /* a value of a newer catalogue: shown as not yet triaged */
		row.ppc_required = sqlite3_column_int(q, 7) == 1;
		if (row.ppc_required && col_day(q, 8, &row.preliminary_due) && col_day(q, 9, &row.final_due)) {
			row.has_due = true;
			has_p = col_day(q, 10, &psent);
			has_f = col_day(q, 11, &fsent);
			row.preliminary = kr_deadline_check(row.preliminary_due, has_p ? &psent : NULL, f->today);
			row.final = kr_deadline_check(row.final_due, has_f ? &fsent : NULL, f->today);
			row.overdue = row.preliminary == KR_DEADLINE_OVERDUE || row.final == KR_DEADLINE_OVERDUE;
		}
		if (f->open_only && row.status == KR_INCIDENT_CLOSED)
			continue;
		if (f->overdue_only && !row.overdue)
			continue;
		s = fn(ctx, &row, err);
	}
	if (!s && rc != SQLITE_DONE)
		s = kr_fail(err, KR_ERR_STORE, "listing incidents: SQLite %d (%s)", rc, sqlite3_errmsg(db));
	sqlite3_finalize(q);
	return s;
}

/* ---- The operator's writes ---- */

static kr_status need_hub(struct kr_store *st, const char *what, struct kr_error *err)
{
	if (kr_store_role(st) != KR_ROLE_HUB)
		return kr_fail(err, KR_ERR_FORBIDDEN, "%s is done only at the hub, by its operator", what);
	return KR_OK;
}

static const char *text_of(const struct kr_record *rec, const char *name)
{
	const struct kr_field_state *f = kr_record_field(rec, name);
	return f && f->value.type == KR_VAL_TEXT ? f->value.s : NULL;
}

static bool bool_of(const struct kr_record *rec, const char *name)
{
	const struct kr_field_state *f = kr_record_field(rec, name);
	return f && f->value.type == KR_VAL_BOOL && f->value.i;
}

/* Loads a record of a catalogue kind that is not deleted, inside the caller's transaction. */
static kr_status load_live(struct kr_store *st, const kr_ulid *id, struct kr_record *rec, const struct kr_kind_def **kd,
                           struct kr_error *err)
{
	char text[KR_ULID_LEN + 1];
	kr_status s = kr_record_get(st, id, rec, err);

	if (s)
		return s;
	kr_ulid_format(id, text);
	*kd = kr_catalogue_kind(kr_store_catalogue(st), rec->kind);
	if (!*kd)
		return kr_fail(err, KR_ERR_INVALID, "record %s is a %s entry, not a record of the catalogue", text,
		               rec->kind);
	if (rec->deleted)
		return kr_fail(err, KR_ERR_CONFLICT, "record %s was deleted", text);
	return KR_OK;
}

/* Writes operator fields given as text to rec as one hub change, each with base = the version in rec.
 * Fields whose value would not change are left out; *written says how many were written. */
static kr_status operator_write(struct kr_store *st, const struct kr_record *rec, const struct kr_kind_def *kd,
                                const struct kr_field_text *ft, size_t n, size_t *written, struct kr_error *err)
{
	struct kr_write w[16];
	struct kr_arena arena;
	size_t k = 0;
	kr_status s = KR_OK;

	kr_arena_init(&arena, 0);
	for (size_t i = 0; i < n && !s; i++) {
		const struct kr_field_def *f = kr_catalogue_field(kd, ft[i].name);
		const struct kr_field_state *cur = kr_record_field(rec, ft[i].name);
		static const struct kr_value null_value = {.type = KR_VAL_NULL};

		if (!f || i >= sizeof w / sizeof w[0]) {
			s = kr_fail(err, KR_ERR_INVALID, "%s records have no field %s", kd->name, ft[i].name);
			break;
		}
		if ((s = kr_catalogue_parse_value_arena(f, ft[i].text, &arena, &w[k].value, err)))
			break;
		if (kr_value_eq(&w[k].value, cur ? &cur->value : &null_value))
			continue;
		w[k].field = f->name;
		w[k].base = cur ? cur->version : (struct kr_version){0, NULL};
		k++;
	}
	if (!s && k)
		s = kr_record_write(st, &rec->id, rec->kind, rec->facility, w, k, false, err);
	kr_arena_release(&arena);
	if (written)
		*written = s ? 0 : k;
	return s;
}

static const char *allowed_next(enum kr_incident_status from)
{
	switch (from) {
	case KR_INCIDENT_REPORTED:
		return "triaged";
	case KR_INCIDENT_TRIAGED:
		return "contained";
	case KR_INCIDENT_CONTAINED:
		return "closed";
	case KR_INCIDENT_CLOSED:
		return "triaged (reopening)";
	}
	return "triaged";
}

/* status_history with one more line, the oldest lines dropped to stay within HISTORY_MAX bytes. */
static kr_status history_add(struct kr_buf *out, const char *old, kr_day today, enum kr_incident_status from,
                             enum kr_incident_status to)
{
	char day[KR_DAY_TEXT_LEN + 1], line[80];
	size_t oldlen = old ? strlen(old) : 0, linelen;
	kr_status s = KR_OK;

	kr_day_format(today, day);
	linelen = (size_t)snprintf(line, sizeof line, "%s %s -> %s", day, kr_incident_status_name(from),
	                           kr_incident_status_name(to));
	while (old && oldlen && oldlen + 1 + linelen > HISTORY_MAX) {
		const char *nl = memchr(old, '\n', oldlen);
		if (!nl) {
			oldlen = 0;
			break;
		}
		oldlen -= (size_t)(nl + 1 - old);
		old = nl + 1;
	}
	if (oldlen)
		s = kr_buf_append(out, old, oldlen);
	if (!s && oldlen)
		s = kr_buf_append(out, "\n", 1);
	if (!s)
		s = kr_buf_append(out, line, linelen);
	if (!s)
		s = kr_buf_terminate(out);
	return s;
}

static kr_status triage_fields(struct kr_store *st, const struct kr_record *rec, const struct kr_kind_def *kd,
                               const struct kr_triage *t, struct kr_triage_result *res, struct kr_buf *history,
                               struct kr_error *err)
{
	char id[KR_ULID_LEN + 1], closed_at[KR_DAY_TEXT_LEN + 1], reopened[KR_DAY_TEXT_LEN + 1], count[24];
	char pdue[KR_DAY_TEXT_LEN + 1], fdue[KR_DAY_TEXT_LEN + 1];
	struct kr_field_text ft[12];
	struct kr_value v;
	size_t n = 0;
	kr_status s;

	kr_ulid_format(&rec->id, id);
	if (strcmp(rec->kind, "incident") != 0)
		return kr_fail(err, KR_ERR_INVALID, "record %s is a %s, not an incident: only incidents are triaged",
		               id, rec->kind);
	if ((s = kr_incident_status_parse(text_of(rec, "status"), &res->from, err)))
		return s;
	res->to = res->from;
	if (t->status) {
		struct kr_arena arena;
		kr_arena_init(&arena, 0);
		s = kr_catalogue_parse_value_arena(kr_catalogue_field(kd, "status"), t->status, &arena, &v, err);
		if (!s && v.type == KR_VAL_NULL)
			s = kr_fail(err, KR_ERR_INVALID,
			            "status: give a status (reported, triaged, contained, closed)");
		if (!s)
			s = kr_incident_status_parse(v.s, &res->to, err);
		kr_arena_release(&arena);
		if (s)
			return s;
	}
	res->transition = kr_incident_transition(res->from, res->to);
	if (res->transition == KR_TRANSITION_REFUSED)
		return kr_fail(err, KR_ERR_CONFLICT, "incident %s is %s and cannot become %s: the next step is %s", id,
		               kr_incident_status_name(res->from), kr_incident_status_name(res->to),
		               allowed_next(res->from));
	if (res->transition != KR_TRANSITION_SAME) {
		uint64_t reopens = 0;
		const struct kr_field_state *rc = kr_record_field(rec, "reopen_count");

		ft[n++] = (struct kr_field_text){"status", kr_incident_status_name(res->to)};
		if ((s = history_add(history, text_of(rec, "status_history"), t->today, res->from, res->to)))
			return kr_fail(err, s, "out of memory writing the status history");
		ft[n++] = (struct kr_field_text){"status_history", (const char *)history->data};
		if (res->to == KR_INCIDENT_CLOSED) {
			kr_day_format(t->today, closed_at);
			ft[n++] = (struct kr_field_text){"closed_at", closed_at};
		}
		if (res->transition == KR_TRANSITION_REOPEN) {
			if (rc && rc->value.type == KR_VAL_INT && rc->value.i > 0)
				reopens = (uint64_t)rc->value.i;
			snprintf(count, sizeof count, "%" PRIu64, reopens + 1);
			kr_day_format(t->today, reopened);
			ft[n++] = (struct kr_field_text){"reopen_count", count};
			ft[n++] = (struct kr_field_text){"reopened_at", reopened};
			ft[n++] = (struct kr_field_text){"closed_at", ""};
		}
	}
	if (t->severity)
		ft[n++] = (struct kr_field_text){"severity", t->severity};
	if (t->ppc == 1) {
		if ((s = kr_ppc_due(text_of(rec, "discovered_at"), text_of(rec, "occurred_at"),
		                    bool_of(rec, "unauthorised_purpose"), &res->due, err)))
			return s;
		res->has_due = true;
		kr_day_format(res->due.preliminary, pdue);
		kr_day_format(res->due.final, fdue);
		ft[n++] = (struct kr_field_text){"ppc_report_required", "yes"};
		ft[n++] = (struct kr_field_text){"ppc_preliminary_due", pdue};
		ft[n++] = (struct kr_field_text){"ppc_final_due", fdue};
	} else if (t->ppc == 0) {
		ft[n++] = (struct kr_field_text){"ppc_report_required", "no"};
		ft[n++] = (struct kr_field_text){"ppc_preliminary_due", ""};
		ft[n++] = (struct kr_field_text){"ppc_final_due", ""};
	}
	if ((s = operator_write(st, rec, kd, ft, n, &res->fields_written, err)))
		return s;
	if (!res->fields_written)
		return kr_fail(err, KR_ERR_INVALID, "incident %s: nothing to change (it is %s%s%s already)", id,
		               kr_incident_status_name(res->from), t->severity ? " with that severity" : "",
		               t->ppc >= 0 ? " with that PPC decision" : "");
	return KR_OK;
}

/* The operator's writes take the write lock before they read the record, so that a sync merging at the same
 * time can't slip a change in between the read and the write. */
static kr_status in_txn_begin(struct kr_store *st, struct kr_error *err)
{
	return kr_store_begin(st, err);
}

/* Commits when s is KR_OK, else rolls back; returns the outcome. */
static kr_status in_txn_end(struct kr_store *st, kr_status s, struct kr_error *err)
{
	if (s) {
		kr_store_rollback(st);
		return s;
	}
	return kr_store_commit(st, err);
}

kr_status kr_incident_triage(struct kr_store *st, const kr_ulid *id, const struct kr_triage *t,
                             struct kr_triage_result *res, struct kr_error *err)
{
	const struct kr_kind_def *kd;
	struct kr_record rec;
	struct kr_buf history;
	kr_status s;

	memset(res, 0, sizeof *res);
	if ((s = need_hub(st, "triage", err)))
		return s;
	if (!t->status && !t->severity && t->ppc < 0)
		return kr_fail(err, KR_ERR_INVALID, "nothing to change: give --status, --severity or --ppc");
	if ((s = in_txn_begin(st, err)))
		return s;
	kr_buf_init(&history, 0);
	s = load_live(st, id, &rec, &kd, err);
	if (!s)
		s = triage_fields(st, &rec, kd, t, res, &history, err);
	kr_record_release(&rec);
	kr_buf_release(&history);
	return in_txn_end(st, s, err);
}

kr_status kr_record_review(struct kr_store *st, const kr_ulid *id, const char *state, const char *comment,
                           struct kr_error *err)
{
	const struct kr_kind_def *kd;
	struct kr_field_text ft[2];
	struct kr_record rec;
	size_t n = 0, written = 0;
	kr_status s;

	if ((s = need_hub(st, "a review", err)))
		return s;
	if (!state || !*state)
		return kr_fail(err, KR_ERR_INVALID, "review: give --state (received, has-issues, approved, rejected)");
	if ((s = in_txn_begin(st, err)))
		return s;
	s = load_live(st, id, &rec, &kd, err);
	if (!s && (!kr_catalogue_field(kd, "review_state") || !kr_catalogue_field(kd, "review_comment")))
		s = kr_fail(err, KR_ERR_INVALID, "%s records have no review fields in this catalogue", rec.kind);
	if (!s) {
		ft[n++] = (struct kr_field_text){"review_state", state};
		if (comment)
			ft[n++] = (struct kr_field_text){"review_comment", comment};
		s = operator_write(st, &rec, kd, ft, n, &written, err);
		if (!s && !written) {
			char text[KR_ULID_LEN + 1];
			kr_ulid_format(id, text);
			s = kr_fail(err, KR_ERR_INVALID, "record %s already has this review", text);
		}
	}
	if (s)
		kr_error_prefix(err, "review");
	kr_record_release(&rec);
	return in_txn_end(st, s, err);
}

/* ---- Conflict resolution ---- */

static const char *const keep_names[] = {"current", "other", "value"};

static kr_status resolve(struct kr_store *st, const struct kr_record *c, enum kr_resolve_keep keep, const char *value,
                         struct kr_resolve_result *res, struct kr_arena *arena, struct kr_error *err)
{
	const struct kr_field_state *status = kr_record_field(c, "status"), *loser = kr_record_field(c, "loser_value");
	const char *rec_text = text_of(c, "record"), *field = text_of(c, "field"), *type = text_of(c, "type");
	static const struct kr_value null_value = {.type = KR_VAL_NULL};
	const struct kr_field_state *cur, *del;
	const struct kr_kind_def *kd;
	struct kr_write w[2], cw[4];
	struct kr_record rec;
	struct kr_value chosen;
	size_t n = 0, cn = 0;
	kr_ulid rid;
	kr_status s;

	if (!rec_text || !field || !type || !status || status->value.type != KR_VAL_TEXT)
		return kr_fail(err, KR_ERR_INVALID, "the conflict entry is incomplete (no record, field or status)");
	if (strcmp(status->value.s, "open") != 0)
		return kr_fail(err, KR_ERR_CONFLICT, "the conflict on %s of record %s is %s already (resolution: %s)",
		               field, rec_text, status->value.s,
		               text_of(c, "resolution") ? text_of(c, "resolution") : "-");
	if ((s = kr_ulid_parse(rec_text, &rid, err)))
		return s;
	snprintf(res->record, sizeof res->record, "%s", rec_text);
	snprintf(res->field, sizeof res->field, "%s", field);
	if ((s = kr_record_get(st, &rid, &rec, err)))
		goto out;
	cur = kr_record_field(&rec, field);
	del = kr_record_field(&rec, KR_FIELD_DELETED);
	switch (keep) {
	case KR_RESOLVE_CURRENT:
		chosen = cur ? cur->value : null_value;
		break;
	case KR_RESOLVE_OTHER:
		chosen = loser ? loser->value : null_value;
		break;
	case KR_RESOLVE_VALUE:
		kd = kr_catalogue_kind(kr_store_catalogue(st), rec.kind);
		if (!kd || !kr_catalogue_field(kd, field)) {
			s = kr_fail(err, KR_ERR_INVALID, "%s.%s is not in this hub's catalogue: resolve with --keep",
			            rec.kind, field);
			goto out;
		}
		if ((s = kr_catalogue_parse_value_arena(kr_catalogue_field(kd, field), value ? value : "", arena,
		                                        &chosen, err)))
			goto out;
		break;
	}
	/* The chosen value, written over both sides: unless the record stays deleted. */
	if (!(rec.deleted && keep == KR_RESOLVE_CURRENT)) {
		w[n++] = (struct kr_write){field, chosen, cur ? cur->version : (struct kr_version){0, NULL}};
		if (rec.deleted && strcmp(type, "delete") == 0) {
			w[n++] = (struct kr_write){KR_FIELD_DELETED, {.type = KR_VAL_BOOL, .i = 0}, del->version};
			res->restored = true;
		} else if (rec.deleted) {
			s = kr_fail(err, KR_ERR_CONFLICT, "record %s was deleted since: resolve with --keep current",
			            rec_text);
			goto out;
		}
		if ((s = kr_record_write(st, &rid, rec.kind, rec.facility, w, n, false, err)))
			goto out;
	}
#define BASE(name) (kr_record_field(c, name) ? kr_record_field(c, name)->version : (struct kr_version){0, NULL})
	cw[cn++] = (struct kr_write){"status", {.type = KR_VAL_TEXT, .s = "resolved", .len = 8}, status->version};
	cw[cn++] = (struct kr_write){"resolution",
	                             {.type = KR_VAL_TEXT, .s = keep_names[keep], .len = strlen(keep_names[keep])},
	                             BASE("resolution")};
	cw[cn++] = (struct kr_write){"resolved_value", chosen, BASE("resolved_value")};
	cw[cn++] = (struct kr_write){"resolved_by",
	                             {.type = KR_VAL_TEXT, .s = kr_store_node(st), .len = strlen(kr_store_node(st))},
	                             BASE("resolved_by")};
#undef BASE
	s = kr_record_write(st, &c->id, c->kind, c->facility, cw, cn, false, err);
out:
	kr_record_release(&rec);
	return s;
}

kr_status kr_conflict_resolve(struct kr_store *st, const kr_ulid *conflict_id, enum kr_resolve_keep keep,
                              const char *value, struct kr_resolve_result *res, struct kr_error *err)
{
	struct kr_record c;
	struct kr_arena arena;
	char id[KR_ULID_LEN + 1];
	kr_status s;

	memset(res, 0, sizeof *res);
	if ((s = need_hub(st, "resolving a conflict", err)))
		return s;
	if ((unsigned)keep > KR_RESOLVE_VALUE)
		return kr_fail(err, KR_ERR_INTERNAL, "resolve: unknown choice %d", (int)keep);
	kr_ulid_format(conflict_id, id);
	if ((s = in_txn_begin(st, err)))
		return s;
	kr_arena_init(&arena, 0);
	s = kr_record_get(st, conflict_id, &c, err);
	if (s == KR_ERR_NOT_FOUND)
		s = kr_fail(err, KR_ERR_NOT_FOUND, "no conflict entry %s (see 'kiroku-hub conflicts')", id);
	else if (!s && strcmp(c.kind, "_conflict") != 0)
		s = kr_fail(err, KR_ERR_INVALID, "record %s is a %s, not a conflict entry", id, c.kind);
	if (!s)
		s = resolve(st, &c, keep, value, res, &arena, err);
	if (s)
		kr_error_prefix(err, "resolving conflict %s", id);
	kr_record_release(&c);
	kr_arena_release(&arena);
	return in_txn_end(st, s, err);
}
