/* lifecycle.h: the incident lifecycle, the PPC report deadlines, and the hub operator's writes (triage,
 * review, conflict resolution).
 *
 * Status. An incident goes reported -> triaged -> contained -> closed; a closed incident may be reopened
 * (closed -> triaged), which is counted (reopen_count), dated (reopened_at) and written to status_history
 * like every change of status. A record with no status reads as "reported" (staff can't write the field).
 *
 * PPC deadlines (指針 第23条; the PPC's rules for leaks that must be reported): counted in calendar days from
 * the day the leak was discovered (discovered_at, else occurred_at), that day not counted: the preliminary
 * report (速報) is due 5 days after, the final report (確報) 30 days after, or 60 days after when the leak was
 * for an unauthorised purpose (unauthorised_purpose = yes). A deadline is met when the report was sent on
 * or before the due day, and overdue when it was not sent and today is after the due day: on the due day
 * itself it is still pending. Weekends and holidays do not move a deadline.
 *
 * Operator writes. Triage, review and conflict resolution are hub changes: each is written through the
 * store as one change of the hub's node (journaled, with base = the version the operator saw, under the
 * store's write lock, so nothing written concurrently by a sync is overwritten unseen) and reaches the
 * facility's agents on their next exchange. On error nothing is written. They work only on a hub store
 * (KR_ERR_FORBIDDEN otherwise).
 */
#ifndef KR_LIFECYCLE_H
#define KR_LIFECYCLE_H

#include <stdbool.h>
#include <stddef.h>

#include "kiroku/day.h"
#include "kiroku/error.h"
#include "kiroku/ids.h"
#include "kiroku/store.h"

/* ---- Status ---- */

enum kr_incident_status {
	KR_INCIDENT_REPORTED = 0,
	KR_INCIDENT_TRIAGED,
	KR_INCIDENT_CONTAINED,
	KR_INCIDENT_CLOSED,
};

/* The stored value of a status ("reported", ...). Never NULL. */
const char *kr_incident_status_name(enum kr_incident_status s);

/* A stored status: NULL or "" reads as reported. KR_ERR_INVALID for anything else, naming the values. Only
 * stored values: labels typed by people go through the catalogue first. */
kr_status kr_incident_status_parse(const char *text, enum kr_incident_status *out, struct kr_error *err);

enum kr_transition {
	KR_TRANSITION_REFUSED = 0,
	KR_TRANSITION_SAME,    /* to == from: nothing to change */
	KR_TRANSITION_FORWARD, /* the next step */
	KR_TRANSITION_REOPEN,  /* closed -> triaged */
};

/* Whether an incident may go from one status to another. Can't fail. */
enum kr_transition kr_incident_transition(enum kr_incident_status from, enum kr_incident_status to);

/* ---- PPC deadlines ---- */

#define KR_PPC_PRELIMINARY_DAYS        5
#define KR_PPC_FINAL_DAYS              30
#define KR_PPC_FINAL_DAYS_UNAUTHORISED 60

struct kr_ppc_due {
	kr_day discovered;  /* the day counting starts from */
	kr_day preliminary; /* 速報 */
	kr_day final;       /* 確報 */
};

/* The deadlines of a leak discovered at discovered_at (a date or date and time; NULL or "" when unknown),
 * else occurred_at. KR_ERR_INVALID when neither is a date. */
kr_status kr_ppc_due(const char *discovered_at, const char *occurred_at, bool unauthorised_purpose,
                     struct kr_ppc_due *out, struct kr_error *err);

enum kr_deadline {
	KR_DEADLINE_PENDING = 0, /* not sent, today <= due */
	KR_DEADLINE_OVERDUE,     /* not sent, today > due */
	KR_DEADLINE_MET,         /* sent on or before the due day */
	KR_DEADLINE_LATE,        /* sent after the due day */
};

/* The state of a deadline on day today; sent is NULL when the report has not been sent. Can't fail. */
enum kr_deadline kr_deadline_check(kr_day due, const kr_day *sent, kr_day today);
/* "pending", "overdue", "met", "late". Never NULL. */
const char *kr_deadline_name(enum kr_deadline d);

/* ---- Listing incidents ---- */

struct kr_incident_filter {
	const char *facility; /* NULL: every facility */
	bool open_only;       /* status is not closed */
	bool overdue_only;    /* a PPC report is overdue on `today` */
	kr_day today;
};

/* One incident as the operator's list shows it. Strings live until the callback returns. */
struct kr_incident_row {
	const char *id, *facility, *occurred_at, *discovered_at, *category, *severity; /* severity may be NULL */
	enum kr_incident_status status;
	bool ppc_required;
	/* When ppc_required and the due dates are set: */
	bool has_due;
	kr_day preliminary_due, final_due;
	enum kr_deadline preliminary, final;
	bool overdue; /* either deadline overdue */
};

typedef kr_status (*kr_incident_fn)(void *ctx, const struct kr_incident_row *row, struct kr_error *err);

/* Calls fn for each incident that is not deleted and passes the filter, oldest first (by occurred_at, then
 * id). Stops at the first error fn returns. Reads only. */
kr_status kr_incident_list(struct kr_store *st, const struct kr_incident_filter *f, kr_incident_fn fn, void *ctx,
                           struct kr_error *err);

/* ---- The operator's writes (hub only) ---- */

struct kr_triage {
	const char *status;   /* NULL: unchanged; a stored value or a label ("triaged", "判定済み", ...) */
	const char *severity; /* NULL: unchanged; as typed */
	int ppc;              /* -1 unchanged, 0 no report needed, 1 a PPC report is needed */
	kr_day today;         /* the day written as closed_at / reopened_at and in the history */
};

struct kr_triage_result {
	enum kr_incident_status from, to;
	enum kr_transition transition;
	bool has_due; /* ppc yes: the due dates written */
	struct kr_ppc_due due;
	size_t fields_written;
};

/* Triage of incident id: checks the status transition (a refused one is KR_ERR_CONFLICT naming the
 * allowed next steps), then writes the status, severity and PPC decision as one hub change. ppc = 1 sets
 * ppc_preliminary_due and ppc_final_due from discovered_at / occurred_at and unauthorised_purpose; ppc = 0
 * clears them. Closing sets closed_at; reopening clears it, sets reopened_at and raises reopen_count. Every
 * change of status adds a line "YYYY-MM-DD from -> to" to status_history. KR_ERR_INVALID when nothing would
 * change, for a bad value, or for a record that is not an incident; KR_ERR_NOT_FOUND for no such record;
 * KR_ERR_CONFLICT for a deleted one. */
kr_status kr_incident_triage(struct kr_store *st, const kr_ulid *id, const struct kr_triage *t,
                             struct kr_triage_result *res, struct kr_error *err);

/* The operator's review of any record of a catalogue kind (ledger entries included): review_state (as
 * typed: "has-issues", "承認", ...) and review_comment (NULL: unchanged; "" clears it), as one hub change.
 * KR_ERR_INVALID for a bad state or a kind without review fields. */
kr_status kr_record_review(struct kr_store *st, const kr_ulid *id, const char *state, const char *comment,
                           struct kr_error *err);

enum kr_resolve_keep {
	KR_RESOLVE_CURRENT, /* the value the record holds now */
	KR_RESOLVE_OTHER,   /* the value the conflict entry kept aside */
	KR_RESOLVE_VALUE,   /* a new value typed by the operator */
};

struct kr_resolve_result {
	char record[KR_ULID_LEN + 1];
	char field[KR_NAME_MAX + 1];
	bool restored; /* an edit-and-delete conflict resolved by keeping the edit: the record is back */
};

/* Resolves the open conflict entry conflict_id: writes the chosen value (value is the text for
 * KR_RESOLVE_VALUE, checked against the catalogue; else NULL) to the record's field with base = the
 * current version, so that it supersedes both sides on every replica, and marks the entry status =
 * resolved with resolution (current, other, value), resolved_value and resolved_by, all in one transaction.
 * For an edit that met a delete, "other" or a value restores the record (writes _deleted = false) and
 * "current" leaves it deleted. KR_ERR_NOT_FOUND for no such entry, KR_ERR_CONFLICT for one already resolved,
 * KR_ERR_INVALID for a record that is not a conflict entry or a bad value. */
kr_status kr_conflict_resolve(struct kr_store *st, const kr_ulid *conflict_id, enum kr_resolve_keep keep,
                              const char *value, struct kr_resolve_result *res, struct kr_error *err);

#endif
